//! Checking a lesson: every script of every language version runs on the engine's
//! [`Machine`] with every expectation holding, every exercise has something to check and
//! something for the learner to do, and the versions run the same steps.
//!
//! What [`check_lesson`] verifies, for each lesson folder:
//!
//! - there is a file for each language of [`Lang::ALL`], and each parses;
//! - the folder is named `<NN>-<id>` after the front matter's `order` and `id`;
//! - the lesson has at least [`MIN_EXERCISES`] exercises;
//! - every script (the main one, the others, each exercise's solution) runs to its end
//!   without a script error and every expectation holds;
//! - every exercise checks something (at least one `expect` runs), marks at least one
//!   answer (`# ?`), and is not passed by doing nothing: unless an `expect` is itself an
//!   answer (the learner must write its value), the starter with the answers left out must
//!   not pass;
//! - every `#step-N` link points at a step the main script has;
//! - all language versions agree: the same `id`, `order` and `subsystems`, the same number
//!   of scripts and exercises, each script with the same statements line for line once
//!   comments and the text of `note`s are set aside, the same answers, byte-identical
//!   canonical traces, and links to the same steps.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use memplay_engine::machine::{Machine, StepOutcome};
use memplay_engine::script::ScriptError;
use memplay_engine::trace::TextSink;

use crate::files::LessonFiles;
use crate::script_text::{self, statements, Statement, Word};
use crate::{Lang, Lesson, LessonFile, Script};

/// The step limit for one script.
pub const MAX_STEPS: u32 = 1_000_000;
/// The fewest exercises a lesson may have.
pub const MIN_EXERCISES: usize = 2;

/// What running one script gave.
#[derive(Clone, Debug, Default)]
pub struct ScriptRun {
    /// The canonical trace.
    pub trace: String,
    pub steps: u32,
    /// Expectations checked (held or not).
    pub expectations: u32,
    /// The expectations that failed, in order.
    pub failures: Vec<ScriptError>,
    /// The error that stopped the script, if one did (a mistake in the text, an access
    /// outside RAM, the step limit).
    pub error: Option<ScriptError>,
}

impl ScriptRun {
    /// Ran to its end and every expectation held.
    pub fn clean(&self) -> bool {
        self.error.is_none() && self.failures.is_empty()
    }

    /// Clean, and checked at least one expectation: what an exercise attempt must be.
    pub fn passed(&self) -> bool {
        self.clean() && self.expectations > 0
    }
}

/// Runs `source` on a fresh machine to its end (or to [`MAX_STEPS`]).
pub fn run_script(source: &str) -> ScriptRun {
    let mut run = ScriptRun::default();
    let mut machine = match Machine::owned(source) {
        Ok(m) => m,
        Err(e) => {
            run.error = Some(e);
            return run;
        }
    };
    let mut sink = TextSink::new(String::new());
    loop {
        if machine.steps() >= MAX_STEPS && machine.next_line().is_some() {
            let line = machine.next_line().unwrap_or(0);
            let text = machine.line_text(line).unwrap_or("");
            run.error = Some(ScriptError::at(
                text,
                line,
                0,
                text.len(),
                memplay_engine::script::ErrorKind::StepLimit(MAX_STEPS),
            ));
            break;
        }
        match machine.step_traced(&mut sink) {
            Ok(StepOutcome::Finished) => break,
            Ok(StepOutcome::Ran(_)) => {}
            Err(e) if e.is_expectation() => run.failures.push(e),
            Err(e) => {
                run.error = Some(e);
                break;
            }
        }
    }
    let summary = machine.summary();
    run.steps = summary.steps;
    run.expectations = summary.expectations;
    run.trace = sink.out;
    run
}

/// The outcome of checking one lesson folder.
#[derive(Clone, Debug, Default)]
pub struct LessonReport {
    /// The folder's name.
    pub name: String,
    /// The lesson's id, when a version parsed.
    pub id: Option<String>,
    /// Language versions checked.
    pub languages: u32,
    /// Scripts run (main, others and exercises, in every language).
    pub scripts: u32,
    /// Exercises, in every language.
    pub exercises: u32,
    pub steps: u64,
    pub expectations: u64,
    /// Each problem as printable text: `path:line:col: message`, often followed by the
    /// line and a caret.
    pub problems: Vec<String>,
    /// The canonical trace of the main script (identical in every language when the
    /// lesson passed), when it ran to its end.
    pub main_trace: Option<String>,
}

impl LessonReport {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One language version, run.
struct Version<'a> {
    file: &'a LessonFile,
    lesson: &'a Lesson,
    /// Runs of every script, in [`scripts_of`] order.
    runs: Vec<ScriptRun>,
}

/// A lesson's scripts in one order: the main script, the others, the exercises.
fn scripts_of(lesson: &Lesson) -> Vec<(String, &Script)> {
    let mut out = vec![("the main script".to_string(), &lesson.main_script)];
    for (i, s) in lesson.scripts.iter().enumerate() {
        out.push((format!("script {}", i + 2), s));
    }
    for (i, e) in lesson.exercises.iter().enumerate() {
        out.push((format!("exercise {} ({})", i + 1, e.title), &e.script));
    }
    out
}

/// Checks one lesson folder. See the [module documentation](self).
pub fn check_lesson(files: &LessonFiles) -> LessonReport {
    let mut report = LessonReport {
        name: files.name.clone(),
        ..LessonReport::default()
    };
    for stray in &files.strays {
        report.problems.push(format!(
            "{}/{stray}: not a lesson file: the files are {}",
            files.name,
            Lang::ALL.map(Lang::file_name).join(", ")
        ));
    }
    let mut versions = Vec::new();
    for lang in Lang::ALL {
        let Some(file) = files.file(lang) else {
            report.problems.push(format!(
                "{}: no {} (every lesson is written in {})",
                files.name,
                lang.file_name(),
                Lang::ALL.map(Lang::code).join(" and ")
            ));
            continue;
        };
        match &file.lesson {
            Ok(lesson) => versions.push(check_version(file, lesson, &mut report)),
            Err(e) => report.problems.push(format!("{}:{e}", file.path)),
        }
    }
    report.languages = versions.len() as u32;
    if let Some(first) = versions.first() {
        report.id = Some(first.lesson.id.clone());
        if first.runs.first().is_some_and(|r| r.error.is_none()) {
            report.main_trace = first.runs.first().map(|r| r.trace.clone());
        }
        for other in &versions[1..] {
            compare(first, other, &mut report);
        }
    }
    report
}

/// Runs and checks one language version on its own.
fn check_version<'a>(
    file: &'a LessonFile,
    lesson: &'a Lesson,
    report: &mut LessonReport,
) -> Version<'a> {
    let path = &file.path;
    let problems = &mut report.problems;
    let expected_dir = format!("{:02}-{}", lesson.order, lesson.id);
    let dir = std::path::Path::new(path)
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned());
    if dir.as_deref().is_some_and(|d| d != expected_dir) {
        problems.push(format!(
            "{path}: the front matter says order {} and id `{}`, so the folder is `{expected_dir}`",
            lesson.order, lesson.id
        ));
    }
    if lesson.exercises.len() < MIN_EXERCISES {
        problems.push(format!(
            "{path}: {} exercise(s); a lesson has at least {MIN_EXERCISES}",
            lesson.exercises.len()
        ));
    }

    let mut runs = Vec::new();
    for (label, script) in scripts_of(lesson) {
        let run = run_script(&script.source);
        report.scripts += 1;
        report.steps += u64::from(run.steps);
        report.expectations += u64::from(run.expectations);
        for failure in &run.failures {
            problems.push(render(file, script, failure, &label));
        }
        if let Some(error) = &run.error {
            problems.push(render(file, script, error, &label));
        }
        runs.push(run);
    }

    if let Some(main) = runs.first() {
        for r in &lesson.step_refs {
            if r.step > main.steps {
                problems.push(format!(
                    "{path}:{}: a link to step {}, but the main script has {} steps",
                    r.line, r.step, main.steps
                ));
            }
        }
    }

    let first_exercise = 1 + lesson.scripts.len();
    for (i, exercise) in lesson.exercises.iter().enumerate() {
        report.exercises += 1;
        let at = format!("{path}:{}", exercise.script.line.saturating_sub(1));
        let name = format!("exercise {} ({})", i + 1, exercise.title);
        let run = &runs[first_exercise + i];
        if run.error.is_none() && run.expectations == 0 {
            problems.push(format!(
                "{at}: {name} checks nothing: its script needs at least one `expect`"
            ));
        }
        let answers = exercise.answer_lines();
        if answers.is_empty() {
            problems.push(format!(
                "{at}: {name} leaves the learner nothing to do: mark the answer lines with a `# ?` comment"
            ));
            continue;
        }
        let answered_expect = exercise
            .script
            .source
            .lines()
            .enumerate()
            .any(|(n, l)| answers.contains(&(n as u32 + 1)) && script_text::is_expect(l));
        if !answered_expect && run.passed() {
            let idle = run_script(&script_text::untouched(&exercise.script.source));
            if idle.passed() {
                problems.push(format!(
                    "{at}: {name} passes with its answers left out: its expectations must depend on them"
                ));
            }
        }
    }
    Version { file, lesson, runs }
}

/// Compares a version with the reference version.
fn compare(a: &Version, b: &Version, report: &mut LessonReport) {
    let problems = &mut report.problems;
    let (la, lb) = (a.lesson, b.lesson);
    let path = &b.file.path;
    let same = |what: &str, x: String, y: String, problems: &mut Vec<String>| {
        if x != y {
            problems.push(format!(
                "{path}: `{what}` is {y} here but {x} in {}",
                a.file.path
            ));
        }
    };
    same("id", la.id.clone(), lb.id.clone(), problems);
    same(
        "order",
        la.order.to_string(),
        lb.order.to_string(),
        problems,
    );
    same(
        "subsystems",
        la.subsystems.join(", "),
        lb.subsystems.join(", "),
        problems,
    );
    let (sa, sb) = (scripts_of(la), scripts_of(lb));
    if la.scripts.len() != lb.scripts.len() || la.exercises.len() != lb.exercises.len() {
        problems.push(format!(
            "{path}: {} script(s) and {} exercise(s) here, {} and {} in {}",
            1 + lb.scripts.len(),
            lb.exercises.len(),
            1 + la.scripts.len(),
            la.exercises.len(),
            a.file.path
        ));
        return;
    }
    for (i, ((_, xa), (label, xb))) in sa.iter().zip(&sb).enumerate() {
        let before = problems.len();
        if let Some(diff) = statement_diff(&statements(&xa.source), &statements(&xb.source)) {
            let (pa, pb) = diff;
            let line_b = pb.map_or(xb.line + xb.source.lines().count(), |s| {
                xb.file_line(s.line)
            });
            let text_a = pa.map_or("(the end of the script)".to_string(), |s| {
                describe(xa, s.line)
            });
            let text_b = pb.map_or("(the end of the script)".to_string(), |s| {
                describe(xb, s.line)
            });
            let only_marks = pa.zip(pb).is_some_and(|(x, y)| x.words == y.words);
            let what = if only_marks {
                "marks a different answer"
            } else {
                "differs"
            };
            problems.push(format!(
                "{path}:{line_b}: {label} {what} from {}: `{text_b}` here, `{text_a}` there",
                a.file.path
            ));
        }
        if problems.len() == before && a.runs[i].trace != b.runs[i].trace {
            let n = first_difference(&a.runs[i].trace, &b.runs[i].trace);
            problems.push(format!(
                "{path}:{}: {label} gives a different trace from {} (first at trace line {n})",
                xb.line.saturating_sub(1),
                a.file.path
            ));
        }
    }
    let refs = |l: &Lesson| -> BTreeSet<u32> { l.step_refs.iter().map(|r| r.step).collect() };
    let (ra, rb) = (refs(la), refs(lb));
    if ra != rb {
        let list = |s: &BTreeSet<u32>| {
            s.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        problems.push(format!(
            "{path}: links to steps {{{}}} here but {{{}}} in {}",
            list(&rb),
            list(&ra),
            a.file.path
        ));
    }
}

/// The first statement where the two lists differ (in words or in being an answer):
/// `None` when they agree; a side is `None` where its list ended.
fn statement_diff<'s>(
    a: &'s [Statement],
    b: &'s [Statement],
) -> Option<(Option<&'s Statement>, Option<&'s Statement>)> {
    let key = |s: &Statement| -> (Vec<Word>, bool) { (s.words.clone(), s.answer) };
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i), b.get(i));
        if x.map(key) != y.map(key) {
            return Some((x, y));
        }
    }
    None
}

/// A script line's text, trimmed, for a message.
fn describe(script: &Script, line: u32) -> String {
    script
        .source
        .lines()
        .nth(line.saturating_sub(1) as usize)
        .unwrap_or("")
        .trim()
        .to_string()
}

/// The first line (from 1) where two texts differ.
fn first_difference(a: &str, b: &str) -> usize {
    a.lines()
        .zip(b.lines())
        .position(|(x, y)| x != y)
        .unwrap_or(a.lines().count().min(b.lines().count()))
        + 1
}

/// A script error at its place in the lesson file, with the line and a caret.
fn render(file: &LessonFile, script: &Script, error: &ScriptError, label: &str) -> String {
    let at_file = ScriptError {
        line: script.file_line(error.line) as u32,
        ..*error
    };
    let mut out = format!("{}:{}", file.path, at_file.render(&file.text));
    while out.ends_with('\n') {
        out.pop();
    }
    let _ = write!(out, "\n  (in {label})");
    out
}
