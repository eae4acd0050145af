//! The lexer: one line of text into at most [`MAX_TOKENS`] tokens, each with its byte span
//! in the line. Nothing is copied: identifiers and strings borrow the line.
//!
//! - Numbers are decimal (`4096`, `1_000`) or hex (`0x1000`), with an optional size suffix
//!   `K` (×1024) or `M` (×1024×1024), either case. `32x16` is one *pair* token (a class of
//!   16 blocks of 32 bytes); `1Kx4` is (1024, 4).
//! - Identifiers are `[A-Za-z_][A-Za-z0-9_]*`; `ctrl.alloc` is three tokens.
//! - Strings are `"..."` with no escapes; they may hold any Unicode.
//! - `#` starts a comment that runs to the end of the line (outside strings).
//! - Symbols: `= == != < <= > >= + - * ( ) , . { } :`.

use super::errors::{ErrorKind, Hint, ScriptError};

/// The most tokens one line may hold.
pub const MAX_TOKENS: usize = 64;

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tok<'a> {
    Ident(&'a str),
    Num(u32),
    /// `AxB`: a size and a count.
    Pair(u32, u32),
    /// The text between the quotes.
    Str(&'a str),
    Sym(Sym),
}

/// Punctuation and operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sym {
    Assign,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    Star,
    LParen,
    RParen,
    Comma,
    Dot,
    LBrace,
    RBrace,
    Colon,
}

/// A token and the bytes `start..end` of the line it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token<'a> {
    pub tok: Tok<'a>,
    pub start: usize,
    pub end: usize,
}

/// The tokens of one line.
#[derive(Clone, Copy, Debug)]
pub struct Tokens<'a> {
    items: [Token<'a>; MAX_TOKENS],
    len: usize,
}

impl<'a> Tokens<'a> {
    pub fn as_slice(&self) -> &[Token<'a>] {
        self.items.get(..self.len).unwrap_or(&[])
    }

    fn push(&mut self, token: Token<'a>) -> bool {
        match self.items.get_mut(self.len) {
            Some(slot) => {
                *slot = token;
                self.len += 1;
                true
            }
            None => false,
        }
    }
}

const PLACEHOLDER: Token<'static> = Token {
    tok: Tok::Sym(Sym::Comma),
    start: 0,
    end: 0,
};

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Splits line `line_no`'s `text` into tokens.
pub fn lex(text: &str, line_no: u32) -> Result<Tokens<'_>, ScriptError> {
    let bytes = text.as_bytes();
    let mut tokens = Tokens {
        items: [PLACEHOLDER; MAX_TOKENS],
        len: 0,
    };
    let err = |start: usize, end: usize, kind| ScriptError::at(text, line_no, start, end, kind);
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let start = i;
        let tok = match b {
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            b'#' => break,
            b'"' => {
                let rest = bytes.get(i + 1..).unwrap_or(&[]);
                let Some(close) = rest.iter().position(|&c| c == b'"') else {
                    return Err(err(start, text.len(), ErrorKind::UnclosedString)
                        .with_hint(Hint::Text("end the text with `\"` on the same line")));
                };
                i += close + 2;
                Tok::Str(text.get(start + 1..i - 1).unwrap_or(""))
            }
            b'0'..=b'9' => {
                let (tok, end) = number(text, line_no, i)?;
                i = end;
                tok
            }
            b if is_ident_start(b) => {
                while bytes.get(i).is_some_and(|&c| is_ident_char(c)) {
                    i += 1;
                }
                Tok::Ident(text.get(start..i).unwrap_or(""))
            }
            _ => {
                let next = bytes.get(i + 1).copied();
                let (sym, len) = match (b, next) {
                    (b'=', Some(b'=')) => (Sym::Eq, 2),
                    (b'!', Some(b'=')) => (Sym::Ne, 2),
                    (b'<', Some(b'=')) => (Sym::Le, 2),
                    (b'>', Some(b'=')) => (Sym::Ge, 2),
                    (b'=', _) => (Sym::Assign, 1),
                    (b'<', _) => (Sym::Lt, 1),
                    (b'>', _) => (Sym::Gt, 1),
                    (b'+', _) => (Sym::Plus, 1),
                    (b'-', _) => (Sym::Minus, 1),
                    (b'*', _) => (Sym::Star, 1),
                    (b'(', _) => (Sym::LParen, 1),
                    (b')', _) => (Sym::RParen, 1),
                    (b',', _) => (Sym::Comma, 1),
                    (b'.', _) => (Sym::Dot, 1),
                    (b'{', _) => (Sym::LBrace, 1),
                    (b'}', _) => (Sym::RBrace, 1),
                    (b':', _) => (Sym::Colon, 1),
                    _ => {
                        let c = text.get(i..).and_then(|s| s.chars().next()).unwrap_or('?');
                        let end = i + c.len_utf8();
                        let hint = if c == '\u{201c}' || c == '\u{201d}' {
                            Hint::Text("use plain double quotes `\"` around text")
                        } else if c == ';' {
                            Hint::Text("write one statement per line")
                        } else {
                            Hint::Text("start a comment with `#`")
                        };
                        return Err(err(start, end, ErrorKind::BadChar(c)).with_hint(hint));
                    }
                };
                i += len;
                Tok::Sym(sym)
            }
        };
        if !tokens.push(Token { tok, start, end: i }) {
            return Err(err(start, text.len(), ErrorKind::TooManyTokens)
                .with_hint(Hint::Text("split the statement over several lines")));
        }
    }
    Ok(tokens)
}

const NUMBER_HINT: &str =
    "numbers are decimal (4096), hex (0x1000) or take a K or M suffix (4K, 1M); pairs are 32x16";

/// Lexes a number (or a pair) starting at byte `i`; returns it and the byte after it.
fn number(text: &str, line_no: u32, i: usize) -> Result<(Tok<'static>, usize), ScriptError> {
    let bytes = text.as_bytes();
    let (first, mut at) = scalar(text, line_no, i)?;
    let mut tok = Tok::Num(first);
    let is_x = |b: Option<&u8>| matches!(b, Some(b'x' | b'X'));
    if is_x(bytes.get(at)) && bytes.get(at + 1).is_some_and(u8::is_ascii_digit) {
        let (second, end) = scalar(text, line_no, at + 1)?;
        tok = Tok::Pair(first, second);
        at = end;
    }
    if bytes.get(at).is_some_and(|&b| is_ident_char(b)) {
        let mut end = at;
        while bytes.get(end).is_some_and(|&b| is_ident_char(b)) {
            end += 1;
        }
        return Err(ScriptError::at(text, line_no, i, end, ErrorKind::BadNumber)
            .with_hint(Hint::Text(NUMBER_HINT)));
    }
    Ok((tok, at))
}

/// One number with its suffix: decimal or `0x` hex, then `K` or `M`.
fn scalar(text: &str, line_no: u32, i: usize) -> Result<(u32, usize), ScriptError> {
    let bytes = text.as_bytes();
    let hex = bytes.get(i) == Some(&b'0') && matches!(bytes.get(i + 1), Some(b'x' | b'X'));
    let (radix, mut at) = if hex { (16u64, i + 2) } else { (10, i) };
    let mut value: u64 = 0;
    let mut digits = 0;
    let mut too_large = false;
    while let Some(&b) = bytes.get(at) {
        let digit = match b {
            b'_' => {
                at += 1;
                continue;
            }
            b'0'..=b'9' => (b - b'0') as u64,
            b'a'..=b'f' if hex => (b - b'a' + 10) as u64,
            b'A'..=b'F' if hex => (b - b'A' + 10) as u64,
            _ => break,
        };
        value = value.saturating_mul(radix).saturating_add(digit);
        too_large |= value > u32::MAX as u64;
        digits += 1;
        at += 1;
    }
    if digits == 0 {
        let end = at.max(i + 1);
        return Err(ScriptError::at(text, line_no, i, end, ErrorKind::BadNumber)
            .with_hint(Hint::Text(NUMBER_HINT)));
    }
    let scale = match bytes.get(at) {
        Some(b'k' | b'K') => 1024,
        Some(b'm' | b'M') => 1024 * 1024,
        _ => 1,
    };
    if scale > 1 {
        at += 1;
    }
    let value = value.saturating_mul(scale);
    if too_large || value > u32::MAX as u64 {
        return Err(
            ScriptError::at(text, line_no, i, at, ErrorKind::NumberTooLarge).with_hint(Hint::Text(
                "addresses and sizes are 32-bit: at most 0xffffffff",
            )),
        );
    }
    Ok((value as u32, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> [Tok<'_>; 8] {
        let t = lex(text, 1).unwrap();
        let mut out = [Tok::Sym(Sym::Comma); 8];
        for (o, t) in out.iter_mut().zip(t.as_slice()) {
            *o = t.tok;
        }
        out
    }

    #[test]
    fn numbers_pairs_names_and_strings() {
        let t = lex("b = ctrl.alloc 64K 0x10 32x16 1Kx4 \"说明\" # comment", 1).unwrap();
        let kinds: [Tok; 10] = core::array::from_fn(|i| t.as_slice()[i].tok);
        assert_eq!(
            kinds,
            [
                Tok::Ident("b"),
                Tok::Sym(Sym::Assign),
                Tok::Ident("ctrl"),
                Tok::Sym(Sym::Dot),
                Tok::Ident("alloc"),
                Tok::Num(65536),
                Tok::Num(16),
                Tok::Pair(32, 16),
                Tok::Pair(1024, 4),
                Tok::Str("说明"),
            ]
        );
        assert_eq!(t.as_slice().len(), 10);
        assert_eq!(toks("a<=b")[1], Tok::Sym(Sym::Le));
        assert_eq!(toks("0xffffffff")[0], Tok::Num(u32::MAX));
    }

    #[test]
    fn bad_numbers_and_characters() {
        assert_eq!(lex("64KB", 1).unwrap_err().kind, ErrorKind::BadNumber);
        assert_eq!(lex("x 0x", 1).unwrap_err().col, 3);
        assert_eq!(lex("4096M", 1).unwrap_err().kind, ErrorKind::NumberTooLarge);
        assert_eq!(
            lex("0x100000000", 1).unwrap_err().kind,
            ErrorKind::NumberTooLarge
        );
        let e = lex("note “x”", 1).unwrap_err();
        assert_eq!((e.col, e.kind), (6, ErrorKind::BadChar('“')));
        assert_eq!(lex("\"abc", 1).unwrap_err().kind, ErrorKind::UnclosedString);
    }
}
