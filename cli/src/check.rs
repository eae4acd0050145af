//! `memplay check LESSONS`: every lesson's scripts and exercises, in every language, on the
//! engine (see `memplay_lesson::check` for what is checked). One line per lesson, with its
//! problems under it; a progress bar on a terminal, a drawn one in each line otherwise.
//! Exits non-zero when any lesson has a problem.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use memplay_lesson::check::{check_lesson, LessonReport};
use memplay_lesson::{load_dir, load_lesson, Lang, LessonFiles};

/// Cells of the drawn bar.
const BAR_WIDTH: usize = 20;

/// Reads `path`: a lessons folder, or one lesson's folder (it holds `en.md` or `zh.md`).
fn load(path: &Path) -> std::io::Result<Vec<LessonFiles>> {
    let one = Lang::ALL.iter().any(|l| path.join(l.file_name()).is_file());
    if one {
        load_lesson(path).map(|l| vec![l])
    } else {
        load_dir(path)
    }
}

pub fn check(path: &Path) -> ExitCode {
    let lessons = match load(path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("memplay: cannot read {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    if lessons.is_empty() {
        eprintln!(
            "memplay: no lessons in {} (a lesson is a folder NN-name holding {})",
            path.display(),
            Lang::ALL.map(Lang::file_name).join(" and ")
        );
        return ExitCode::FAILURE;
    }
    let total = lessons.len();
    let terminal = std::io::stderr().is_terminal() && std::io::stdout().is_terminal();
    let bar = if terminal {
        let bar = ProgressBar::new(total as u64);
        if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}") {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };

    let mut totals = LessonReport::default();
    let mut failed = 0;
    for (i, files) in lessons.iter().enumerate() {
        bar.set_message(files.name.clone());
        let report = check_lesson(files);
        let prefix = if terminal {
            String::new()
        } else {
            format!("{} ", drawn_bar(i + 1, total))
        };
        let text = lesson_lines(&report, &prefix);
        bar.suspend(|| print!("{text}"));
        bar.inc(1);
        if !report.passed() {
            failed += 1;
        }
        totals.languages += report.languages;
        totals.scripts += report.scripts;
        totals.exercises += report.exercises;
        totals.steps += report.steps;
        totals.expectations += report.expectations;
    }
    bar.finish_and_clear();
    println!(
        "{total} lessons, {} files, {} scripts, {} exercises, {} steps, {} expectations",
        totals.languages, totals.scripts, totals.exercises, totals.steps, totals.expectations
    );
    println!("lessons: {} passed, {failed} failed", total - failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The lesson's line and its problems, indented.
fn lesson_lines(report: &LessonReport, prefix: &str) -> String {
    let mut out = if report.passed() {
        format!(
            "{prefix}ok    {:<24} {} languages, {} scripts, {} exercises, {} steps, {} expectations\n",
            report.name,
            report.languages,
            report.scripts,
            report.exercises,
            report.steps,
            report.expectations
        )
    } else {
        let n = report.problems.len();
        format!(
            "{prefix}FAIL  {:<24} {n} problem{}\n",
            report.name,
            if n == 1 { "" } else { "s" }
        )
    };
    for problem in &report.problems {
        for line in problem.lines() {
            out.push_str("    ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// `[#####---------------] 1/4`.
fn drawn_bar(done: usize, total: usize) -> String {
    let filled = (done * BAR_WIDTH).checked_div(total).unwrap_or(BAR_WIDTH);
    format!(
        "[{}{}] {done}/{total}",
        "#".repeat(filled),
        "-".repeat(BAR_WIDTH - filled)
    )
}

#[cfg(test)]
mod tests {
    use super::drawn_bar;

    #[test]
    fn the_drawn_bar_fills_up() {
        assert_eq!(drawn_bar(1, 4), "[#####---------------] 1/4");
        assert_eq!(drawn_bar(4, 4), "[####################] 4/4");
    }
}
