//! memplay lessons: Markdown files with front matter, prose that points at steps, runnable
//! scripts and exercises, in English and Simplified Chinese. `lessons/README.md` is the
//! format's reference; this crate is its one implementation, shared by the CLI
//! (`memplay check lessons/`) and the web front end.
//!
//! - [`parse`] reads one lesson file (no I/O, so it runs in the browser too);
//! - [`LessonFiles`] groups the language versions of one lesson; [`load_dir`] reads a
//!   lessons folder from disk (feature `fs`, on by default);
//! - [`html`] renders a lesson's [page](html::page), its text as safe HTML, which the web
//!   front end fetches when the lesson is opened (feature `html`, on by default);
//! - [`check::check_lesson`] runs every script of every version on the engine's
//!   [`Machine`](memplay_engine::machine::Machine), checks every expectation and exercise,
//!   and verifies that the versions run the same steps.

pub mod check;
mod files;
mod front_matter;
#[cfg(feature = "html")]
pub mod html;
mod markdown;
pub mod script_text;

pub use files::{is_lesson_dir_name, LessonFile, LessonFiles};
#[cfg(feature = "fs")]
pub use files::{load_dir, load_lesson};

use std::fmt;

/// A language a lesson is written in. Every lesson exists in each of [`Lang::ALL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lang {
    /// English, `en.md`.
    En,
    /// Simplified Chinese, `zh.md`.
    Zh,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Zh];

    /// The code that names the file: `en`, `zh`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.code() == code)
    }

    /// The lesson file's name: `en.md`, `zh.md`.
    pub fn file_name(self) -> String {
        format!("{}.md", self.code())
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One lesson in one language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lesson {
    /// The lesson's id (front matter `id`): lowercase letters, digits and `-`; the same in
    /// every language, and the folder is `<NN>-<id>` with `NN` the two-digit `order`.
    pub id: String,
    pub lang: Lang,
    pub title: String,
    /// The lesson's place in the course, from 1.
    pub order: u32,
    /// One or two sentences for the lesson list.
    pub summary: String,
    /// The script subsystems the lesson uses (`ram`, `sys`, `ctrl`, `part`, `lab`, ...).
    pub subsystems: Vec<String>,
    /// The first ```` ```mem ```` block: the script the lesson steps through.
    pub main_script: Script,
    /// Further ```` ```mem ```` blocks that are not exercises, in order.
    pub scripts: Vec<Script>,
    /// The ```` ```mem exercise ```` blocks, in order.
    pub exercises: Vec<Exercise>,
    /// Links `[text](#step-N)` in the prose: pointers at step N of the main script.
    pub step_refs: Vec<StepRef>,
    /// Everything after the front matter, as written.
    pub body_markdown: String,
    /// The file line (from 1) of the body's first line.
    pub body_line: usize,
}

/// A script from a fenced block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// The block's text (each line ends with `\n`).
    pub source: String,
    /// The line of the lesson file (from 1) that holds the script's first line, so that
    /// script line `n` is file line `line + n - 1`.
    pub line: usize,
}

impl Script {
    /// The lesson-file line of script line `script_line` (from 1).
    pub fn file_line(&self, script_line: u32) -> usize {
        self.line + (script_line as usize).saturating_sub(1)
    }
}

/// An exercise: a heading (its title), prose (its prompt) and a ```` ```mem exercise ````
/// block. The block is the solution; lines whose comment starts with `?` are the answers
/// the learner supplies (see [`Exercise::starter`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exercise {
    /// The text of the heading that opens the exercise.
    pub title: String,
    /// The Markdown between that heading and the block, trimmed.
    pub prompt: String,
    /// The solution script.
    pub script: Script,
}

impl Exercise {
    /// The script lines (from 1) marked as answers (`# ?` comments).
    pub fn answer_lines(&self) -> Vec<u32> {
        script_text::answer_lines(&self.script.source)
    }

    /// What the learner starts from: the solution with each answer blanked. An answered
    /// `expect` keeps its left side and comparison and shows `?` for the rest
    /// (`expect c - a == ?`); any other answered statement is replaced by its `# ?`
    /// comment, which says what to write there.
    pub fn starter(&self) -> String {
        script_text::starter(&self.script.source)
    }
}

/// A pointer from the prose at a step of the main script: a link whose destination is
/// `#step-N`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepRef {
    /// The step, from 1 (the number the canonical trace prints).
    pub step: u32,
    /// The lesson-file line of the link.
    pub line: usize,
}

/// A lesson file that does not follow the format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The lesson-file line (from 1) the problem is on, 0 when it is about the whole file.
    pub line: usize,
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(line: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}: {}", self.line, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for ParseError {}

/// Parses one lesson file written in `lang`.
pub fn parse(text: &str, lang: Lang) -> Result<Lesson, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (front, body_start) = front_matter::parse(text)?;
    let body = &text[body_start..];
    let body_line = 1 + text[..body_start].matches('\n').count();
    let parts = markdown::parse(body, body_line)?;
    let mut scripts = parts.scripts.into_iter();
    let Some(main_script) = scripts.next() else {
        return Err(ParseError::new(
            0,
            "the lesson has no ```mem block: its first one is the main script",
        ));
    };
    Ok(Lesson {
        id: front.id,
        lang,
        title: front.title,
        order: front.order,
        summary: front.summary,
        subsystems: front.subsystems,
        main_script,
        scripts: scripts.collect(),
        exercises: parts.exercises,
        step_refs: parts.step_refs,
        body_markdown: body.to_string(),
        body_line,
    })
}
