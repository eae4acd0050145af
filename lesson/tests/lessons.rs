//! The lessons in `lessons/`: every one passes the checker (what `memplay check lessons/`
//! runs), and the canonical trace of each main script matches `lessons/golden/<id>.trace`.
//! Regenerate the golden files with `MEMPLAY_BLESS=1 cargo test -p memplay-lesson --test
//! lessons` and review the diff: a changed file is a changed lesson or engine behaviour.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use memplay_lesson::check::{check_lesson, LessonReport};
use memplay_lesson::{load_dir, Lang};

fn lessons_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../lessons")
}

fn reports() -> Vec<LessonReport> {
    let lessons = load_dir(&lessons_dir()).expect("read lessons/");
    assert!(
        !lessons.is_empty(),
        "no lessons in {}",
        lessons_dir().display()
    );
    lessons.iter().map(check_lesson).collect()
}

#[test]
fn every_lesson_passes_the_checker() {
    let mut failures = String::new();
    for report in reports() {
        for problem in &report.problems {
            failures.push_str(problem);
            failures.push('\n');
        }
        assert!(report.exercises >= 2 * Lang::ALL.len() as u32);
    }
    assert!(failures.is_empty(), "lesson problems:\n{failures}");
}

#[test]
fn main_traces_match_the_golden_files() {
    let golden = lessons_dir().join("golden");
    let bless = std::env::var_os("MEMPLAY_BLESS").is_some_and(|v| v == "1");
    let mut ids = BTreeSet::new();
    for report in reports() {
        let id = report.id.clone().expect("the lesson parses");
        let trace = report
            .main_trace
            .clone()
            .unwrap_or_else(|| panic!("{}: the main script did not run to its end", id));
        let path = golden.join(format!("{id}.trace"));
        ids.insert(format!("{id}.trace"));
        if bless {
            std::fs::create_dir_all(&golden).expect("create lessons/golden");
            std::fs::write(&path, &trace).expect("write golden file");
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!(
                "no golden trace at {}; run with MEMPLAY_BLESS=1 to create it",
                path.display()
            )
        });
        if expected != trace {
            let line = expected
                .lines()
                .zip(trace.lines())
                .position(|(e, a)| e != a)
                .unwrap_or(expected.lines().count().min(trace.lines().count()));
            panic!(
                "lesson {id}'s trace differs from {} at line {}:\n  expected: {}\n  actual:   {}\n\
                 (if the change is intended, rerun with MEMPLAY_BLESS=1 and review the diff)",
                path.display(),
                line + 1,
                expected.lines().nth(line).unwrap_or("<end>"),
                trace.lines().nth(line).unwrap_or("<end>"),
            );
        }
    }
    // A golden file whose lesson is gone (or renamed) is stale.
    let on_disk: BTreeSet<String> = std::fs::read_dir(&golden)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".trace"))
                .collect()
        })
        .unwrap_or_default();
    let stale: Vec<_> = on_disk.difference(&ids).collect();
    assert!(
        stale.is_empty(),
        "golden traces with no lesson: {stale:?} (delete them)"
    );
}
