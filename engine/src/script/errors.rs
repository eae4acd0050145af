//! Script errors: where (line, column, length), what ([`ErrorKind`]) and a [`Hint`], and
//! their rendering as a `line:col: message` block with the source line and a caret.
//!
//! Columns count characters, not bytes, from 1, so a note in Chinese does not shift the
//! caret; [`ScriptError::render`] also widens the caret's indent for wide (CJK) characters
//! so that it sits under the right text in a terminal.

use core::fmt;

use crate::app_mem::AsmError;
use crate::error::AllocError;
use crate::name::Name;
use crate::ram::{Fault, RamError};

use super::ast::Cmp;
use super::fault::StepFault;

/// A script error: a mistake in the text (found before or while running) or a failed
/// expectation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScriptError {
    /// The line, from 1.
    pub line: u32,
    /// The first character the error is about, from 1.
    pub col: u32,
    /// How many characters the caret underlines, at least 1.
    pub len: u32,
    pub kind: ErrorKind,
    pub hint: Hint,
}

/// What went wrong. `Display` gives the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A character no token starts with.
    BadChar(char),
    /// A `"` with no closing `"` on the line.
    UnclosedString,
    /// Digits followed by letters that are not a size suffix or a `x` pair.
    BadNumber,
    /// A number above 0xFFFF_FFFF (after its K or M suffix).
    NumberTooLarge,
    /// A line with more tokens than [`super::MAX_TOKENS`].
    TooManyTokens,
    /// An identifier longer than [`Name::CAPACITY`].
    NameTooLong,
    /// Something else stood where `what` was needed.
    Expected(&'static str),
    /// A line starts with a word that is no statement.
    UnknownStatement,
    /// `pool.verb` with a verb the pool's kind does not offer.
    UnknownVerb {
        pool: Name,
    },
    /// A setting word a configuration statement does not know.
    UnknownSetting,
    /// A word not in the list of allowed words (a policy, an order, a fault kind...).
    UnknownWord(&'static str),
    UnknownVariable(Name),
    UnknownPool(Name),
    UnknownRegion(Name),
    /// `f(x)` with no such function.
    UnknownFunction,
    /// A second pool or region of that name.
    Duplicate(Name),
    /// A variable name that is a pool or a statement word.
    Reserved(Name),
    /// A fixed capacity is full: `what` (variables, pools, classes...) holds at most `max`.
    TooMany {
        what: &'static str,
        max: u32,
    },
    /// An arithmetic result outside 0..=0xFFFF_FFFF.
    Overflow,
    /// Parentheses nested too deep.
    TooDeep,
    /// The simulated RAM refused a region.
    Ram(RamError),
    /// A `poke`, `peek` or `fill` outside the RAM regions.
    Access(Fault),
    /// A pool placed `on` a region where the bytes left are fewer than it needs.
    RegionFull {
        region: Name,
        needed: u32,
        left: u32,
    },
    /// A statement that needs another subsystem configured first.
    Needs(&'static str),
    /// A `}` with no open `repeat`.
    UnmatchedClose,
    /// A `repeat` whose block is never closed.
    UnclosedBlock,
    /// `repeat` outside a script (in a single executed line).
    NotInScript,
    /// A pool's figures could not be read (its metadata is corrupt).
    Unreadable(AllocError),
    /// `expect left cmp right` was false.
    ExpectFailed {
        left: u32,
        cmp: Cmp,
        right: u32,
    },
    /// `expect fault K` (or `expect fault none`) did not match the last step's fault.
    ExpectFault {
        wanted: Option<&'static str>,
        found: Option<StepFault>,
    },
    /// [`crate::machine::Machine::run`] reached its step limit.
    StepLimit(u32),
    // dyn, tlsf, adm, asm, screen, awtk
    /// The out-of-memory protocol refused a call (wrong state, an app not listed...).
    Asm(AsmError),
    /// A figure the pool does not have (`leaks` of a pool with no debug log).
    NoFigure {
        figure: &'static str,
        pool: Name,
    },
    /// `expect state S` (or `expect prompt open|closed`) did not match the protocol.
    ExpectState {
        wanted: &'static str,
        found: &'static str,
    },
    // pages, vm, tasks, timers
    /// A task name not in the task table.
    UnknownTask(Name),
    /// A behaviour name not declared.
    UnknownBehaviour(Name),
    /// A statement of the task table after `boot`, or a second `boot`.
    AfterBoot,
    /// A task or timer operation before the task table is booted.
    NotBooted,
}

impl ErrorKind {
    /// True for a failed expectation: the script is fine, the machine did not behave as
    /// the script said. Running goes on after one.
    pub fn is_expectation(&self) -> bool {
        matches!(
            self,
            ErrorKind::ExpectFailed { .. }
                | ErrorKind::ExpectFault { .. }
                | ErrorKind::ExpectState { .. }
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ErrorKind::BadChar(c) => write!(f, "unexpected character `{}`", c.escape_debug()),
            ErrorKind::UnclosedString => f.write_str("this string has no closing `\"`"),
            ErrorKind::BadNumber => f.write_str("this is not a number"),
            ErrorKind::NumberTooLarge => f.write_str("this number does not fit in 32 bits"),
            ErrorKind::TooManyTokens => write!(
                f,
                "a line holds at most {} words, numbers and symbols",
                super::MAX_TOKENS
            ),
            ErrorKind::NameTooLong => write!(f, "a name has at most {} characters", Name::CAPACITY),
            ErrorKind::Expected(what) => write!(f, "expected {what}"),
            ErrorKind::UnknownStatement => f.write_str("unknown statement"),
            ErrorKind::UnknownVerb { pool } => write!(f, "`{pool}` has no such operation"),
            ErrorKind::UnknownSetting => f.write_str("unknown setting"),
            ErrorKind::UnknownWord(what) => write!(f, "unknown {what}"),
            ErrorKind::UnknownVariable(name) => write!(f, "unknown variable `{name}`"),
            ErrorKind::UnknownPool(name) => write!(f, "there is no pool named `{name}`"),
            ErrorKind::UnknownRegion(name) => write!(f, "there is no RAM region named `{name}`"),
            ErrorKind::UnknownFunction => f.write_str("unknown function"),
            ErrorKind::Duplicate(name) => write!(f, "`{name}` already exists"),
            ErrorKind::Reserved(name) => write!(
                f,
                "`{name}` is a pool or a statement word and cannot name a variable"
            ),
            ErrorKind::TooMany { what, max } => write!(f, "at most {max} {what} are allowed"),
            ErrorKind::Overflow => f.write_str("the result does not fit in 32 bits"),
            ErrorKind::TooDeep => f.write_str("parentheses are nested too deep"),
            ErrorKind::Ram(e) => write!(f, "{e}"),
            ErrorKind::Access(fault) => write!(f, "{fault}"),
            ErrorKind::RegionFull {
                region,
                needed,
                left,
            } => write!(
                f,
                "region {region} has {left} bytes left, this pool needs {needed}"
            ),
            ErrorKind::Needs(what) => write!(f, "this needs {what} configured first"),
            ErrorKind::UnmatchedClose => f.write_str("`}` without an open `repeat`"),
            ErrorKind::UnclosedBlock => f.write_str("this `repeat` block is never closed"),
            ErrorKind::NotInScript => f.write_str("`repeat` blocks only run inside a script"),
            ErrorKind::Unreadable(e) => write!(f, "the pool's figures cannot be read: {e}"),
            ErrorKind::ExpectFailed { left, cmp, right } => write!(
                f,
                "expectation failed: {left} ({left:#x}) {} {right} ({right:#x}) is false",
                cmp.as_str()
            ),
            ErrorKind::ExpectFault { wanted, found } => {
                f.write_str("expectation failed: ")?;
                match wanted {
                    Some(kind) => write!(f, "expected fault {kind}")?,
                    None => f.write_str("expected no fault")?,
                }
                match found {
                    Some(e) => write!(f, ", the last step gave {}: {e}", e.kind()),
                    None => f.write_str(", the last step gave none"),
                }
            }
            ErrorKind::StepLimit(max) => write!(f, "the script ran {max} steps without ending"),
            // dyn, tlsf, adm, asm, screen, awtk
            ErrorKind::Asm(e) => write!(f, "the out-of-memory prompt refuses: {e}"),
            ErrorKind::NoFigure { figure, pool } => {
                write!(f, "pool `{pool}` has no figure `{figure}`")
            }
            ErrorKind::ExpectState { wanted, found } => write!(
                f,
                "expectation failed: expected `{wanted}`, the out-of-memory prompt is `{found}`"
            ),
            // pages, vm, tasks, timers
            ErrorKind::UnknownTask(name) => write!(f, "there is no task named `{name}`"),
            ErrorKind::UnknownBehaviour(name) => {
                write!(f, "there is no behaviour named `{name}`")
            }
            ErrorKind::AfterBoot => f.write_str("the task table is fixed once it is booted"),
            ErrorKind::NotBooted => f.write_str("the task table is not booted"),
        }
    }
}

/// Advice printed under the caret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hint {
    None,
    Text(&'static str),
    /// A close match among the words allowed here.
    DidYouMean(&'static str),
    /// A close match among the names defined so far.
    DidYouMeanName(Name),
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hint::None => Ok(()),
            Hint::Text(text) => f.write_str(text),
            Hint::DidYouMean(word) => write!(f, "did you mean `{word}`?"),
            Hint::DidYouMeanName(name) => write!(f, "did you mean `{name}`?"),
        }
    }
}

impl ScriptError {
    /// An error about the bytes `start..end` of `text`, which is line `line`.
    pub fn at(text: &str, line: u32, start: usize, end: usize, kind: ErrorKind) -> ScriptError {
        let start = floor_boundary(text, start);
        let end = floor_boundary(text, end.max(start));
        let before = text.get(..start).unwrap_or("").chars().count();
        let len = text.get(start..end).unwrap_or("").chars().count();
        ScriptError {
            line,
            col: (before as u32).saturating_add(1),
            len: (len as u32).max(1),
            kind,
            hint: Hint::None,
        }
    }

    pub fn with_hint(mut self, hint: Hint) -> ScriptError {
        self.hint = hint;
        self
    }

    /// Adds a text hint unless one is already set.
    pub fn or_hint(mut self, text: &'static str) -> ScriptError {
        if self.hint == Hint::None {
            self.hint = Hint::Text(text);
        }
        self
    }

    /// True for a failed expectation (see [`ErrorKind::is_expectation`]).
    pub fn is_expectation(&self) -> bool {
        self.kind.is_expectation()
    }

    /// The error as a block of text, for a terminal or a page:
    ///
    /// ```text
    /// 4:11: unknown variable `bb`
    ///  4 | ctrl.free bb
    ///    |           ^^
    /// hint: did you mean `b`?
    /// ```
    ///
    /// The source line and caret are left out when `source` has no line `self.line`.
    pub fn render<'e, 's>(&'e self, source: &'s str) -> Rendered<'e, 's> {
        Rendered {
            error: self,
            source,
        }
    }
}

impl fmt::Display for ScriptError {
    /// The first line of [`render`](ScriptError::render): `line:col: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.kind)
    }
}

/// A [`ScriptError`] with its source, ready to print.
pub struct Rendered<'e, 's> {
    error: &'e ScriptError,
    source: &'s str,
}

impl fmt::Display for Rendered<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.error;
        writeln!(f, "{e}")?;
        if let Some(text) = source_line(self.source, e.line) {
            let number = Digits(e.line);
            let gutter = number.count();
            writeln!(f, " {e_line} | {text}", e_line = e.line)?;
            write!(f, " {:gutter$} | ", "")?;
            // The indent copies tabs and doubles wide characters so the caret lines up.
            for c in text.chars().take(e.col.saturating_sub(1) as usize) {
                match c {
                    '\t' => f.write_str("\t")?,
                    c if is_wide(c) => f.write_str("  ")?,
                    _ => f.write_str(" ")?,
                }
            }
            let width: usize = text
                .chars()
                .skip(e.col.saturating_sub(1) as usize)
                .take(e.len as usize)
                .map(|c| if is_wide(c) { 2 } else { 1 })
                .sum();
            for _ in 0..width.max(1) {
                f.write_str("^")?;
            }
            writeln!(f)?;
        }
        if e.hint != Hint::None {
            writeln!(f, "hint: {}", e.hint)?;
        }
        Ok(())
    }
}

/// Line `line` (from 1) of `source`, without its line ending.
pub fn source_line(source: &str, line: u32) -> Option<&str> {
    let index = (line as usize).checked_sub(1)?;
    source
        .split('\n')
        .nth(index)
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
}

/// The largest char boundary of `text` at or below `at`.
fn floor_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while at > 0 && !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// True for characters a terminal draws two cells wide (CJK and full-width forms).
fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115f
        | 0x2e80..=0x303e
        | 0x3041..=0x33ff
        | 0x3400..=0x4dbf
        | 0x4e00..=0x9fff
        | 0xa000..=0xa4cf
        | 0xac00..=0xd7a3
        | 0xf900..=0xfaff
        | 0xfe30..=0xfe4f
        | 0xff00..=0xff60
        | 0xffe0..=0xffe6
        | 0x20000..=0x3fffd)
}

/// The decimal digits of a number, for the gutter width.
struct Digits(u32);

impl Digits {
    fn count(&self) -> usize {
        let mut n = self.0;
        let mut digits = 1;
        while n >= 10 {
            n /= 10;
            digits += 1;
        }
        digits
    }
}

/// The closest word to `word` among `candidates` within an edit distance of 2 (1 for
/// words of up to 3 letters), for "did you mean" hints.
pub fn closest<'c, I>(word: &str, candidates: I) -> Option<&'c str>
where
    I: IntoIterator<Item = &'c str>,
{
    let limit = if word.len() <= 3 { 1 } else { 2 };
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        if candidate == word {
            continue;
        }
        if let Some(d) = edit_distance(word, candidate) {
            if d <= limit && best.is_none_or(|(b, _)| d < b) {
                best = Some((d, candidate));
            }
        }
    }
    best.map(|(_, c)| c)
}

/// Levenshtein distance of two short ASCII words; `None` when either is longer than 32
/// bytes (no suggestion is made then).
fn edit_distance(a: &str, b: &str) -> Option<usize> {
    const MAX: usize = 32;
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() > MAX || b.len() > MAX {
        return None;
    }
    let mut row = [0usize; MAX + 1];
    for (j, cell) in row.iter_mut().enumerate().take(b.len() + 1) {
        *cell = j;
    }
    for (i, &ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            let cost = usize::from(!ca.eq_ignore_ascii_case(&cb));
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + cost);
            diagonal = above;
        }
    }
    Some(row[b.len()])
}
