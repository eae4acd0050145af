//! `memplay check`: the lessons in `lessons/` pass; a lesson with a failing exercise is
//! reported at its place in the Markdown, with a caret, and the exit code is non-zero.

use std::path::Path;
use std::process::Command;

fn memplay(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_memplay"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn the_lessons_pass() {
    let lessons = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../lessons"));
    let (ok, stdout, stderr) = memplay(&["check", lessons.to_str().unwrap()]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("ok    01-system-memory"), "{stdout}");
    // Not a terminal: each line carries a drawn bar, and the last line counts.
    assert!(stdout.contains("[####################] "), "{stdout}");
    let last = stdout.lines().last().unwrap_or("");
    assert!(
        last.starts_with("lessons: ") && last.ends_with(" passed, 0 failed"),
        "{last}"
    );
}

const LESSON: &str = "---
id: tiny
title: A tiny lesson
order: 7
summary: One pool.
subsystems: [ram, lab]
---

# A tiny lesson

See [step 3](#step-3).

```mem
ram r 0x1000 4K
lab h 1K
a = h.alloc 10
```

## Exercises

### One

Where is `a`?

```mem exercise
ram r 0x1000 4K
lab h 1K
a = h.alloc 10
expect a == 0x1004   # ? the address
```

### Two

How many blocks?

```mem exercise
ram r 0x1000 4K
lab h 1K
a = h.alloc 10
expect blocks(h) == 1   # ? live blocks
```
";

#[test]
fn a_failing_exercise_is_reported_where_it_is() {
    let dir = std::env::temp_dir().join(format!("memplay-check-{}", std::process::id()));
    let lesson = dir.join("07-tiny");
    std::fs::create_dir_all(&lesson).unwrap();
    std::fs::write(lesson.join("en.md"), LESSON).unwrap();
    std::fs::write(
        lesson.join("zh.md"),
        LESSON.replace("blocks(h) == 1", "blocks(h) == 2"),
    )
    .unwrap();

    let (ok, stdout, _) = memplay(&["check", dir.to_str().unwrap()]);
    assert!(!ok, "{stdout}");
    assert!(stdout.contains("FAIL  07-tiny"), "{stdout}");
    // The failed expectation, at its line and column in zh.md, with the line and a caret.
    assert!(
        stdout.contains("07-tiny/zh.md:40:8: expectation failed: 1 (0x1) == 2 (0x2) is false"),
        "{stdout}"
    );
    assert!(
        stdout.contains("| expect blocks(h) == 2   # ? live blocks"),
        "{stdout}"
    );
    assert!(stdout.contains("|        ^^^^^^^^^^^^^^\n"), "{stdout}");
    // The versions no longer run the same statements.
    assert!(stdout.contains("exercise 2 (Two) differs from"), "{stdout}");
    assert!(
        stdout.ends_with("lessons: 0 passed, 1 failed\n"),
        "{stdout}"
    );

    // One lesson's folder can be checked on its own.
    std::fs::write(lesson.join("zh.md"), LESSON).unwrap();
    let (ok, stdout, _) = memplay(&["check", lesson.to_str().unwrap()]);
    assert!(ok, "{stdout}");
    assert!(stdout.contains("ok    07-tiny"), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}
