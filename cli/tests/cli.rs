//! `memplay trace` prints exactly the engine's golden trace; `memplay run` shows steps and
//! reports errors with a caret and a non-zero exit.

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

fn engine_tests() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../engine/tests"))
}

#[test]
fn trace_prints_the_golden_trace() {
    for name in ["ctrl_buffer", "sysmem", "partition", "policy_lab"] {
        let script = engine_tests().join(format!("scripts/{name}.mem"));
        let golden =
            std::fs::read_to_string(engine_tests().join(format!("golden/{name}.trace"))).unwrap();
        let (ok, stdout, stderr) = memplay(&["trace", script.to_str().unwrap()]);
        assert!(ok, "{stderr}");
        assert_eq!(stdout, golden, "{name}");
    }
}

#[test]
fn run_shows_steps_maps_and_errors() {
    let dir = std::env::temp_dir().join(format!("memplay-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.mem");
    std::fs::write(
        &good,
        "ram r 0x1000 4K\nlab h 1K\na = h.alloc 10\nnote \"hello\"\n",
    )
    .unwrap();
    let (ok, stdout, _) = memplay(&["run", good.to_str().unwrap()]);
    assert!(ok);
    assert!(stdout.contains("[   3]   3 | a = h.alloc 10\n"), "{stdout}");
    assert!(stdout.contains("h.alloc addr=0x00001004 size=10 block=16 owner=-"));
    assert!(stdout.contains("note: hello"));
    assert!(stdout.contains("  h        0x00001000 |#"));

    let (ok, stdout, _) = memplay(&["run", "--trace", "--no-map", good.to_str().unwrap()]);
    assert!(ok);
    assert!(stdout.contains("0003 h.alloc addr=0x00001004"));
    assert!(!stdout.contains("0x00001000 |"), "{stdout}");

    let bad = dir.join("bad.mem");
    std::fs::write(&bad, "ram r 0x1000 4K\nlab h 1K\nh.free bb\n").unwrap();
    let (ok, _, stderr) = memplay(&["trace", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.ends_with(
        "bad.mem:3:8: unknown variable `bb`\n 3 | h.free bb\n   |        ^^\nhint: assign it on an earlier line first, e.g. `b = ctrl.alloc 100`\n"
    ), "{stderr}");

    let failing = dir.join("failing.mem");
    std::fs::write(&failing, "a = 1\nexpect a == 2\nb = 2\n").unwrap();
    let (ok, stdout, stderr) = memplay(&["run", failing.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("2:8: expectation failed"));
    assert!(
        stdout.contains("3 steps, 1 expectations (1 failed), 0 faults"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
