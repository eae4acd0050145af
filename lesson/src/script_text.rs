//! Reading script text the way the lessons need: the answer markers of exercises (a
//! comment that starts with `?`), the learner's starter, and the statements of a script
//! with comments and narration taken out, to compare the language versions step for step.

use memplay_engine::script::lexer::{lex, Sym, Tok};

/// The byte offset of the `#` that starts the line's comment, if it has one (a `#` inside a
/// `"..."` string does not).
pub fn comment_start(line: &str) -> Option<usize> {
    let mut in_string = false;
    for (i, b) in line.bytes().enumerate() {
        match b {
            b'"' => in_string = !in_string,
            b'#' if !in_string => return Some(i),
            _ => {}
        }
    }
    None
}

/// Whether the line is an answer: a statement with a comment that starts with `?`
/// (`# ?` or `#?`).
pub fn is_answer(line: &str) -> bool {
    match comment_start(line) {
        Some(i) => !line[..i].trim().is_empty() && line[i + 1..].trim_start().starts_with('?'),
        None => false,
    }
}

/// The lines (from 1) of `source` that are answers.
pub fn answer_lines(source: &str) -> Vec<u32> {
    source
        .lines()
        .enumerate()
        .filter(|(_, l)| is_answer(l))
        .map(|(i, _)| i as u32 + 1)
        .collect()
}

/// Whether the line's statement is an `expect`.
pub fn is_expect(line: &str) -> bool {
    let code = comment_start(line).map_or(line, |i| &line[..i]);
    code.split_whitespace().next() == Some("expect")
}

/// The learner's starting text: see [`crate::Exercise::starter`].
pub fn starter(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    for line in source.lines() {
        if is_answer(line) {
            out.push_str(&blank(line));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// An answer line as the learner sees it.
fn blank(line: &str) -> String {
    let Some(hash) = comment_start(line) else {
        return line.to_string();
    };
    let indent = &line[..line.len() - line.trim_start().len()];
    let code = line[..hash].trim_end();
    let comment = &line[hash..];
    if is_expect(line) {
        if let Some(keep) = expect_prefix(code) {
            return format!("{} ?  {comment}", code[..keep].trim_end());
        }
    }
    format!("{indent}{comment}")
}

/// For `expect fault KIND`, the bytes up to `fault`; for `expect A CMP B`, the bytes up to
/// and including the comparison.
fn expect_prefix(code: &str) -> Option<usize> {
    let tokens = lex(code, 1).ok()?;
    let tokens = tokens.as_slice();
    if let Some(t) = tokens.get(1) {
        if t.tok == Tok::Ident("fault") {
            return Some(t.end);
        }
    }
    tokens
        .iter()
        .find(|t| {
            matches!(
                t.tok,
                Tok::Sym(Sym::Eq | Sym::Ne | Sym::Lt | Sym::Le | Sym::Gt | Sym::Ge)
            )
        })
        .map(|t| t.end)
}

/// The starter with every line that is still blank taken out: what "doing nothing" runs.
/// Blanked statements are comments already; blanked expectations (`expect x == ?`) are
/// dropped, as the learner has not written them yet.
pub fn untouched(source: &str) -> String {
    let mut out = String::new();
    for line in source.lines() {
        if !is_answer(line) {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// One token, with string contents left out (narration is translated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Word {
    Ident(String),
    Num(u32),
    Pair(u32, u32),
    Text,
    Sym(String),
}

/// A statement: the script line it is on and its tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub line: u32,
    pub words: Vec<Word>,
    pub answer: bool,
}

/// The statements of `source`, one per line that holds one (blank and comment lines and a
/// lone `}` count too: `}` closes a block). A line that does not lex gives its raw text as
/// one identifier, so the comparison still points at it (running reports the error).
pub fn statements(source: &str) -> Vec<Statement> {
    let mut out = Vec::new();
    for (i, line) in source.lines().enumerate() {
        let number = i as u32 + 1;
        let words: Vec<Word> = match lex(line, number) {
            Ok(tokens) => tokens
                .as_slice()
                .iter()
                .map(|t| match t.tok {
                    Tok::Ident(s) => Word::Ident(s.to_string()),
                    Tok::Num(n) => Word::Num(n),
                    Tok::Pair(a, b) => Word::Pair(a, b),
                    Tok::Str(_) => Word::Text,
                    Tok::Sym(_) => Word::Sym(line[t.start..t.end].to_string()),
                })
                .collect(),
            Err(_) => vec![Word::Ident(line.trim().to_string())],
        };
        if !words.is_empty() {
            out.push(Statement {
                line: number,
                words,
                answer: is_answer(line),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOLUTION: &str = "\
ram r 0x1000 4K
lab h 1K   # a pool # of 1K
a = h.alloc 10        # ? allocate 10 bytes from h
expect a == 0x1004    #? where?
expect fault none # ?
note \"a # in a note ? is text\"
";

    #[test]
    fn finds_answers_and_blanks_them() {
        assert_eq!(answer_lines(SOLUTION), [3, 4, 5]);
        assert_eq!(
            starter(SOLUTION),
            "ram r 0x1000 4K\nlab h 1K   # a pool # of 1K\n# ? allocate 10 bytes from h\n\
             expect a == ?  #? where?\nexpect fault ?  # ?\nnote \"a # in a note ? is text\"\n"
        );
        assert_eq!(
            untouched(SOLUTION),
            "ram r 0x1000 4K\nlab h 1K   # a pool # of 1K\n\n\n\nnote \"a # in a note ? is text\"\n"
        );
    }

    #[test]
    fn statements_ignore_comments_and_narration() {
        let en = "x = 1 + 2  # three\n\nnote \"hello\"\n";
        let zh = "# 中文注释\nx = 1+2\nnote \"你好\"\n";
        let a: Vec<_> = statements(en).into_iter().map(|s| s.words).collect();
        let b: Vec<_> = statements(zh).into_iter().map(|s| s.words).collect();
        assert_eq!(a, b);
        assert_ne!(
            statements("x = 1\n")[0].words,
            statements("x = 2\n")[0].words
        );
    }
}
