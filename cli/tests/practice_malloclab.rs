//! `memplay practice` is deterministic per seed and its answers are the engine's;
//! `memplay import-malloclab` replays traces and reports malformed ones by line.

use std::path::Path;
use std::process::Command;

use memplay_engine::machine::Machine;
use memplay_engine::trace::Quiet;

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

fn data(name: &str) -> String {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data"))
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

const TOPICS: [&str; 6] = ["first-fit", "best-fit", "policy", "ctrl", "buddy", "timers"];

#[test]
fn practice_is_deterministic_per_seed() {
    for topic in TOPICS {
        let (ok, a, err) = memplay(&["practice", "--topic", topic, "--seed", "7", "--reveal"]);
        assert!(ok, "{topic}: {err}");
        let (_, b, _) = memplay(&["practice", "--topic", topic, "--seed", "7", "--reveal"]);
        assert_eq!(a, b, "{topic}");
        assert!(a.contains("Answers (computed by the engine):"), "{a}");
        let (_, q, _) = memplay(&["practice", "--topic", topic, "--seed", "7"]);
        assert!(!q.contains("Answers"), "{q}");
        assert!(a.starts_with(q.split("(run again").next().unwrap()));
        // Some seed gives a different problem.
        let differs = (8..16).any(|s| {
            let (_, c, _) = memplay(&["practice", "--topic", topic, "--seed", &s.to_string()]);
            c.split_once('\n').map(|x| x.1) != q.split_once('\n').map(|x| x.1)
        });
        assert!(differs, "{topic}");
    }
    let (ok, list, _) = memplay(&["practice", "--topic", "list"]);
    assert!(ok);
    for topic in TOPICS {
        assert!(list.contains(topic));
    }
    let (ok, _, err) = memplay(&["practice", "--topic", "nope"]);
    assert!(!ok);
    assert!(err.contains("unknown topic"), "{err}");
}

/// The printed script, run on the engine, gives the revealed address.
#[test]
fn practice_answers_match_the_engine() {
    for seed in 1..6 {
        let (ok, out, err) = memplay(&[
            "practice",
            "--topic",
            "first-fit",
            "--seed",
            &seed.to_string(),
            "--reveal",
        ]);
        assert!(ok, "{err}");
        let script: String = out
            .lines()
            .filter_map(|l| l.strip_prefix("    ").filter(|r| !r.starts_with(" ")))
            .map(|l| format!("{l}\n"))
            .collect();
        let mut machine = Machine::owned(script.clone()).unwrap();
        machine.run(&mut Quiet, 100).unwrap();
        let q = machine.var("q").unwrap();
        assert!(
            out.contains(&format!("first fit  q = {q:#010x}")),
            "{script}\n{out}"
        );

        let (_, out, _) = memplay(&[
            "practice",
            "--topic",
            "ctrl",
            "--seed",
            &seed.to_string(),
            "--reveal",
        ]);
        let script: String = out
            .lines()
            .filter_map(|l| l.strip_prefix("    ").filter(|r| !r.starts_with(" ")))
            .map(|l| format!("{l}\n"))
            .collect();
        let mut machine = Machine::owned(script.clone()).unwrap();
        machine.run(&mut Quiet, 100).unwrap();
        for i in 1..=6 {
            let r = machine.var(&format!("r{i}")).unwrap();
            let expected = if r == 0 {
                format!("r{i} = 0: fails")
            } else {
                format!("r{i} = {r:#010x}:")
            };
            assert!(out.contains(&expected), "{expected}\n{out}");
        }
    }
}

#[test]
fn malloclab_replays_sample_traces() {
    for allocator in [
        "dyn",
        "tlsf",
        "lab-first",
        "lab-best",
        "lab-next",
        "lab-worst",
        "awtk-simple",
        "adm",
    ] {
        let (ok, out, err) = memplay(&[
            "import-malloclab",
            &data("tiny.rep"),
            "--allocator",
            allocator,
            "--check-each",
        ]);
        assert!(ok, "{allocator}: {err}");
        assert!(out.contains("failures            0"), "{out}");
        assert!(out.contains("peak payload        412 bytes"), "{out}");
        assert!(out.contains("pool utilization    10.0%"), "{out}");
        assert!(out.contains("check               ok"), "{out}");
    }
    // A pool too small: failures counted, the first one named; check still passes.
    let (ok, out, err) = memplay(&[
        "import-malloclab",
        &data("too-big.rep"),
        "--allocator",
        "lab-first",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("failures            1"), "{out}");
    assert!(out.contains("first failure       line 7: a 2 900"), "{out}");
    // --pool overrides the header.
    let (ok, out, _) = memplay(&[
        "import-malloclab",
        &data("too-big.rep"),
        "--allocator",
        "lab-first",
        "--pool",
        "8192",
    ]);
    assert!(ok);
    assert!(out.contains("failures            0"), "{out}");
}

#[test]
fn malloclab_reports_malformed_lines() {
    let (ok, _, err) = memplay(&[
        "import-malloclab",
        &data("malformed.rep"),
        "--allocator",
        "tlsf",
    ]);
    assert!(!ok);
    assert!(err.contains("line 6: unknown operation `x`"), "{err}");
    let (ok, _, err) = memplay(&["import-malloclab", &data("tiny.rep"), "--allocator", "nope"]);
    assert!(!ok);
    assert!(err.contains("unknown allocator `nope`"), "{err}");
    let dir = std::env::temp_dir().join(format!("memplay-mlab-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (text, expected) in [
        ("4096\n2\n", "the header needs 4 numbers"),
        ("4096\n2\n1\n1\na 5 10\n", "line 5: id 5 is not below"),
        ("4096\n2\n1\n1\na 0 -3\n", "line 5: the size `-3`"),
        (
            "4096\n2\n2\n1\na 0 10\n",
            "declares 2 operations but the trace has 1",
        ),
        ("4096\n2\n1\n1\nf\n", "line 5: missing the id"),
        ("\u{0}\u{ff}", "line 1: the heap size"),
    ] {
        let file = dir.join("bad.rep");
        std::fs::write(&file, text).unwrap();
        let (ok, _, err) = memplay(&[
            "import-malloclab",
            file.to_str().unwrap(),
            "--allocator",
            "dyn",
        ]);
        assert!(!ok, "{text}");
        assert!(err.contains(expected), "{text}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
