//! `cargo xtask board`: the firmware under QEMU, its traces compared byte for byte with
//! the host's and the wasm build's.
//!
//! 1. Installs what is missing: the thumbv7em and wasm32 targets (`rustup target add`),
//!    and `qemu-system-arm` (`apt-get`, non-interactive) when it is not on `PATH`.
//! 2. Host traces: the golden scenarios' traces are `engine/tests/golden/<name>.trace`,
//!    which `cargo test -p memplay-engine --test golden` (run here first) proves are what
//!    the same scenario code (`memplay_engine::scenarios`) produces on the host; every
//!    script (`engine/tests/scripts/*.mem`, the lessons' code blocks, see
//!    `board/collect.rs`) is traced by the CLI, `memplay trace FILE`.
//! 3. Builds the firmware (`board/`, release) and runs it under
//!    `qemu-system-arm -machine mps2-an386` with a timeout; the firmware prints every case
//!    between `=== scenario NAME ===` and `=== end NAME ===` and exits through
//!    semihosting with status 0 iff every expectation held (and its heap demo passed).
//! 4. Builds the same suite for wasm32 (`board/wasm`) and runs it under node.
//! 5. Compares every case's trace, host against board and host against wasm, byte for
//!    byte, and prints the first differing line of each side on a mismatch. As a live
//!    test of the test it then changes one byte of a host trace and checks the comparison
//!    catches it.
//!
//! Outputs are kept in `target/board/` (`board.txt`, `wasm.txt`, `scripts/`).
//! Options: `--no-wasm` skips step 4; `--timeout SECS` (default 300) bounds QEMU and node.
//!
//! No dependency on the engine: xtask stays dependency-free (see Cargo.toml); the shared
//! script list comes in by `#[path]` from `board/collect.rs`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::sh::{bail, Error, Result, Sh};

#[path = "../../board/collect.rs"]
mod collect;

const THUMB: &str = "thumbv7em-none-eabihf";
const WASM: &str = "wasm32-unknown-unknown";

/// The golden scenarios the firmware runs (`memplay_engine::scenarios::Scenario::ALL`,
/// by name). A scenario missing here shows up as a board case without a host trace, one
/// listed here but not run as a missing case: either way the check fails.
pub const SCENARIOS: [&str; 6] = [
    "sysmem_boot",
    "partition_membox",
    "ctrl_buffer_fallback",
    "dynmem_split_coalesce",
    "tlsf_split_merge",
    "policy_lab_four_fits",
];

/// The QEMU command line for the firmware ELF (as in `board/.cargo/config.toml`).
pub const QEMU: &[&str] = &[
    "qemu-system-arm",
    "-machine",
    "mps2-an386",
    "-cpu",
    "cortex-m4",
    "-nographic",
    "-semihosting-config",
    "enable=on,target=native",
    "-kernel",
];

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// QEMU for the REPL: the console is semihosting's `:tt`, which reads QEMU's stdin, so no
/// serial port or monitor may read it too (`-nographic` would multiplex stdin onto them).
pub const QEMU_REPL: &[&str] = &[
    "qemu-system-arm",
    "-machine",
    "mps2-an386",
    "-cpu",
    "cortex-m4",
    "-display",
    "none",
    "-serial",
    "none",
    "-monitor",
    "none",
    "-semihosting-config",
    "enable=on,target=native",
    "-kernel",
];

/// `cargo xtask board [--no-wasm] [--timeout SECS] | --repl`.
pub fn command(rest: &[String]) -> Result<()> {
    if rest.first().map(String::as_str) == Some("--repl") {
        return interactive(&Sh::new()?);
    }
    let mut wasm = true;
    let mut timeout = DEFAULT_TIMEOUT;
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--no-wasm" => wasm = false,
            "--timeout" => match it.next().and_then(|s| s.parse().ok()) {
                Some(secs) => timeout = Duration::from_secs(secs),
                None => bail!("--timeout needs a number of seconds"),
            },
            other => bail!("unknown option `{other}` for `board`"),
        }
    }
    run(&Sh::new()?, wasm, timeout)
}

/// The `board` stage of `cargo xtask test`: everything, wasm included.
pub fn stage(sh: &Sh) -> Result<()> {
    run(sh, true, DEFAULT_TIMEOUT)
}

/// `cargo xtask board --repl`: the firmware's REPL on this terminal.
fn interactive(sh: &Sh) -> Result<()> {
    ensure_tools(sh)?;
    let board_dir = sh.root.join("board");
    sh.run(
        sh.cargo()
            .current_dir(&board_dir)
            .args(["build", "--release"]),
    )?;
    let elf = board_dir.join(format!("target/{THUMB}/release/memplay-board"));
    let mut qemu = sh.cmd(QEMU_REPL[0]);
    qemu.args(&QEMU_REPL[1..])
        .arg(&elf)
        .args(["-append", "repl"])
        .stdin(Stdio::inherit());
    sh.run(&mut qemu)
}

fn run(sh: &Sh, wasm: bool, timeout: Duration) -> Result<()> {
    let out_dir = sh.root.join("target/board");
    std::fs::create_dir_all(&out_dir)?;
    let board_dir = sh.root.join("board");

    step("tools");
    ensure_tools(sh)?;

    step("host traces");
    let mut failures = Vec::new();
    let host = host_traces(sh)?;
    println!("{} cases traced on the host", host.len());
    for (name, (_, ok)) in &host {
        if !ok {
            failures.push(format!("host: case {name} failed (see the messages above)"));
        }
    }

    step("firmware (release) under qemu-system-arm -machine mps2-an386");
    sh.run(
        sh.cargo()
            .current_dir(&board_dir)
            .args(["build", "--release"]),
    )?;
    let elf = board_dir.join(format!("target/{THUMB}/release/memplay-board"));
    let mut qemu = sh.cmd(QEMU[0]);
    qemu.args(&QEMU[1..]).arg(&elf);
    let started = Instant::now();
    let (status, board_out) = run_with_timeout(qemu, timeout)?;
    std::fs::write(out_dir.join("board.txt"), &board_out)?;
    println!(
        "QEMU exited with {status:?} after {:.1} s, {} bytes of output (target/board/board.txt)",
        started.elapsed().as_secs_f64(),
        board_out.len()
    );

    match std::fs::read(&elf).map_err(|e| e.to_string()).and_then(|b| elf_sizes(&b)) {
        Ok(size) => println!(
            "firmware: flash {} bytes (text+rodata {}, data {}), static RAM {} bytes (data {}, bss {})",
            size.text + size.data,
            size.text,
            size.data,
            size.data + size.bss,
            size.data,
            size.bss
        ),
        Err(e) => failures.push(format!("cannot read the firmware's sizes: {e}")),
    }

    let mut sides = vec![("board", board_out, status)];

    step("the REPL: each script typed line by line on the board's console");
    let scripts = collect::collect(&sh.root).map_err(Error)?;
    let mut repl_rows = Vec::new();
    for script in scripts.iter().filter(|s| typeable(&s.text)) {
        let Some((expected, host_ok)) = host.get(&script.name) else {
            continue;
        };
        let mut qemu = sh.cmd(QEMU_REPL[0]);
        qemu.args(&QEMU_REPL[1..])
            .arg(&elf)
            .args(["-append", "repl"]);
        let (status, out) = run_with_input(qemu, Some(script.text.clone()), timeout)?;
        let trace = repl_trace(&out);
        let cell = match compare(expected, &trace) {
            Ok(lines) if (status == Some(0)) == *host_ok => format!("{lines} lines identical"),
            Ok(_) => {
                failures.push(format!(
                    "repl: {}: exit status {status:?}, but the host's verdict is {}",
                    script.name,
                    if *host_ok { "pass" } else { "fail" }
                ));
                "identical, verdict differs".into()
            }
            Err(m) => {
                failures.push(format!("repl: {}: {m}", script.name));
                "DIFFERENT".into()
            }
        };
        repl_rows.push((script.name.clone(), cell));
    }
    for (name, cell) in &repl_rows {
        println!("repl {name:<35} {cell}");
    }
    if repl_rows.is_empty() {
        println!("no script can be typed line by line (all use `repeat`)");
    }
    if wasm {
        step("the same suite built for wasm32, under node");
        sh.run(sh.cargo().current_dir(&board_dir).args([
            "build",
            "--release",
            "-p",
            "memplay-board-wasm",
            "--target",
            WASM,
        ]))?;
        let module = board_dir.join(format!("target/{WASM}/release/memplay_board_wasm.wasm"));
        let mut node = sh.cmd("node");
        node.arg(board_dir.join("wasm/run.mjs")).arg(&module);
        let (status, wasm_out) = run_with_timeout(node, timeout)?;
        std::fs::write(out_dir.join("wasm.txt"), &wasm_out)?;
        println!("node exited with {status:?} (target/board/wasm.txt)");
        sides.push(("wasm", wasm_out, status));
    }

    step("comparison, byte for byte, with the host");
    let mut table: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (side, output, status) in &sides {
        let report = match parse(output) {
            Ok(report) => report,
            Err(e) => {
                failures.push(format!("{side}: cannot read the output: {e}"));
                continue;
            }
        };
        if *status != Some(0) {
            failures.push(format!("{side}: exit status {status:?}, expected 0"));
        }
        if !report.exit_ok {
            failures.push(format!("{side}: the run did not end with `=== exit 0 ===`"));
        }
        for (name, (expected, _)) in &host {
            let cell = match report.frames.get(name.as_str()) {
                None => {
                    failures.push(format!("{side}: case {name} is missing"));
                    "missing".to_string()
                }
                Some(frame) if frame.verdict.starts_with("skip") => {
                    // Under QEMU the board has room for everything: a skip is a failure.
                    failures.push(format!(
                        "{side}: case {name} was skipped ({})",
                        frame.verdict
                    ));
                    "skipped".to_string()
                }
                Some(frame) => match compare(expected, &frame.trace) {
                    Ok(lines) if frame.passed => format!("{lines} lines identical"),
                    Ok(_) => {
                        failures.push(format!("{side}: case {name} failed: {}", frame.verdict));
                        "identical, FAILED".to_string()
                    }
                    Err(m) => {
                        failures.push(format!("{side}: case {name}: {m}"));
                        "DIFFERENT".to_string()
                    }
                },
            };
            table.entry(name.as_str()).or_default().push(cell);
        }
        for name in report.frames.keys() {
            if !host.contains_key(*name) {
                failures.push(format!("{side}: case {name} has no host trace"));
            }
        }
        if *side == "board" && !report.heap_ok {
            failures.push("board: the heap demo did not pass".to_string());
        }
    }
    let header: Vec<&str> = sides.iter().map(|(side, ..)| *side).collect();
    println!("{:<40} {}", "case", header.join(" | "));
    for (name, cells) in &table {
        println!("{name:<40} {}", cells.join(" | "));
    }

    // The test of the test, live: one byte changed in a trace must be caught.
    if let Some((name, (expected, _))) = host.iter().find(|(_, (t, _))| !t.is_empty()) {
        let mut tampered = expected.clone().into_bytes();
        let at = tampered.len() / 2;
        tampered[at] = if tampered[at] == b'0' { b'1' } else { b'0' };
        let tampered = String::from_utf8_lossy(&tampered).into_owned();
        match compare(expected, &tampered) {
            Err(m) => println!("test of the test: one byte changed in {name} is caught, {m}"),
            Ok(_) => failures.push(format!("the comparison missed a changed byte in {name}")),
        }
    }

    if failures.is_empty() {
        println!(
            "\nboard: {} cases, traces identical on the host and in {}",
            host.len(),
            header.join(" and ")
        );
        Ok(())
    } else {
        for f in &failures {
            eprintln!("FAIL {f}");
        }
        bail!("{} board check(s) failed", failures.len())
    }
}

fn step(what: &str) {
    println!("\n== board: {what}");
}

/// `rustup target add` (idempotent) and QEMU from apt when it is missing.
fn ensure_tools(sh: &Sh) -> Result<()> {
    sh.run(sh.cmd("rustup").args(["target", "add", THUMB, WASM]))?;
    if sh
        .probe(sh.cmd("qemu-system-arm").arg("--version"))
        .is_none()
    {
        println!("qemu-system-arm is missing: installing it with apt-get");
        let sudo = !is_root(sh) && sh.probe(sh.cmd("sudo").arg("--version")).is_some();
        for args in [
            &["update"][..],
            &[
                "install",
                "-y",
                "--no-install-recommends",
                "qemu-system-arm",
            ][..],
        ] {
            let mut cmd = if sudo {
                let mut c = sh.cmd("sudo");
                c.args(["-n", "apt-get"]);
                c
            } else {
                sh.cmd("apt-get")
            };
            sh.run(cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive"))?;
        }
    }
    if sh.probe(sh.cmd("node").arg("--version")).is_none() {
        bail!("node is missing (needed for the wasm comparison; --no-wasm skips it)");
    }
    Ok(())
}

fn is_root(sh: &Sh) -> bool {
    sh.probe(sh.cmd("id").arg("-u"))
        .is_some_and(|uid| uid.trim() == "0")
}

/// Runs `cmd`, capturing stdout (stderr passes through), killing it after `timeout`.
fn run_with_timeout(cmd: Command, timeout: Duration) -> Result<(Option<i32>, String)> {
    run_with_input(cmd, None, timeout)
}

/// As [`run_with_timeout`], writing `input` (if any) to the command's stdin.
fn run_with_input(
    mut cmd: Command,
    input: Option<String>,
    timeout: Duration,
) -> Result<(Option<i32>, String)> {
    let name = format!("{:?}", cmd.get_program());
    println!("$ {name} {:?}", cmd.get_args().collect::<Vec<_>>());
    let stdin = if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    };
    let mut child = cmd
        .stdin(stdin)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| Error(format!("cannot start {name}: {e}")))?;
    if let (Some(input), Some(mut pipe)) = (input, child.stdin.take()) {
        std::thread::spawn(move || {
            use std::io::Write;
            // A closed pipe (the child quit early) shows in its output and status.
            let _ = pipe.write_all(input.as_bytes());
        });
    }
    let Some(mut stdout) = child.stdout.take() else {
        bail!("{name}: no stdout");
    };
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            let partial = reader.join().unwrap_or_default();
            bail!(
                "{name} did not finish within {} s; its output so far:\n{}",
                timeout.as_secs(),
                String::from_utf8_lossy(&partial)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let Ok(bytes) = reader.join() else {
        bail!("{name}: the output reader failed");
    };
    match String::from_utf8(bytes) {
        Ok(text) => Ok((status.code(), text)),
        Err(e) => bail!("{name}: the output is not UTF-8: {e}"),
    }
}

/// Every case's trace on the host, by the name the firmware prints, and whether it passed
/// there (the golden test passed; `memplay trace` exited with 0).
fn host_traces(sh: &Sh) -> Result<BTreeMap<String, (String, bool)>> {
    let mut traces = BTreeMap::new();
    // The golden files are the host's traces of the scenarios: this test checks it.
    sh.run(
        sh.cargo()
            .args(["test", "-p", "memplay-engine", "--test", "golden"]),
    )?;
    for name in SCENARIOS {
        let file = sh.root.join(format!("engine/tests/golden/{name}.trace"));
        let trace = std::fs::read_to_string(&file)
            .map_err(|e| Error(format!("{}: {e}", file.display())))?;
        traces.insert(format!("golden/{name}"), (trace, true));
    }
    let scripts = collect::collect(&sh.root).map_err(Error)?;
    if !scripts.is_empty() {
        sh.run(sh.cargo().args(["build", "--release", "-p", "memplay-cli"]))?;
        let memplay = sh.root.join("target/release/memplay");
        let dir = sh.root.join("target/board/scripts");
        std::fs::create_dir_all(&dir)?;
        for script in scripts {
            // The lessons' code blocks are not files of their own: trace a copy.
            let file = dir.join(format!("{}.mem", script.name.replace(['/', '#'], "_")));
            std::fs::write(&file, &script.text)?;
            let out = sh
                .cmd(&memplay)
                .arg("trace")
                .arg(&file)
                .stderr(Stdio::inherit())
                .output()
                .map_err(|e| Error(format!("memplay trace: {e}")))?;
            // A script whose expectations fail still has a trace to compare; the failure
            // is reported with the verdicts.
            let Ok(trace) = String::from_utf8(out.stdout) else {
                bail!("memplay trace {}: the output is not UTF-8", script.name);
            };
            traces.insert(script.name, (trace, out.status.success()));
        }
    }
    Ok(traces)
}

/// What `size` (Berkeley format) reports for an ELF: `text` is what stays in flash (code,
/// read-only data, the vector table), `data` is initialised RAM (whose initial image is in
/// flash too), `bss` is zeroed RAM.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sizes {
    pub text: u64,
    pub data: u64,
    pub bss: u64,
}

/// Sums the allocated sections of a 32-bit little-endian ELF file by their flags.
pub fn elf_sizes(elf: &[u8]) -> std::result::Result<Sizes, String> {
    const SHF_WRITE: u32 = 1;
    const SHF_ALLOC: u32 = 2;
    const SHT_NOBITS: u32 = 8;
    let u16_at = |at: usize| -> std::result::Result<u16, String> {
        elf.get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .ok_or_else(|| format!("the ELF file ends before byte {at}"))
    };
    let u32_at = |at: usize| -> std::result::Result<u32, String> {
        elf.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| format!("the ELF file ends before byte {at}"))
    };
    if elf.get(..6) != Some(b"\x7fELF\x01\x01") {
        return Err("not a 32-bit little-endian ELF file".into());
    }
    let shoff = u32_at(0x20)? as usize;
    let shentsize = u16_at(0x2e)? as usize;
    let shnum = u16_at(0x30)? as usize;
    let mut sizes = Sizes::default();
    for i in 0..shnum {
        let sh = shoff + i * shentsize;
        let (kind, flags, size) = (u32_at(sh + 4)?, u32_at(sh + 8)?, u32_at(sh + 20)? as u64);
        if flags & SHF_ALLOC == 0 {
            continue;
        }
        if flags & SHF_WRITE == 0 {
            sizes.text += size;
        } else if kind == SHT_NOBITS {
            sizes.bss += size;
        } else {
            sizes.data += size;
        }
    }
    Ok(sizes)
}

/// True iff the script can be typed into the REPL one line at a time: no `repeat` block
/// (a block runs its body again, which a console line cannot).
pub fn typeable(script: &str) -> bool {
    !script.lines().any(|line| {
        let line = line.trim_start();
        line.starts_with("repeat") || line.starts_with('}')
    })
}

/// The trace lines of a REPL session's output: lines (after any prompts) that start with
/// a step number.
pub fn repl_trace(output: &str) -> String {
    let mut trace = String::new();
    for line in output.lines() {
        let mut line = line;
        while let Some(rest) = line.strip_prefix("memplay> ") {
            line = rest;
        }
        let digits = line.bytes().take_while(u8::is_ascii_digit).count();
        if digits >= 4 && line.as_bytes().get(digits) == Some(&b' ') {
            trace.push_str(line);
            trace.push('\n');
        }
    }
    trace
}

/// One case as a side printed it.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    /// The lines between the markers, each with its newline.
    pub trace: String,
    /// True iff the verdict line was `=== pass NAME ===`.
    pub passed: bool,
    /// The verdict line's text (`pass`, `FAIL: why` or `skip: why`).
    pub verdict: String,
}

/// A side's whole output, cut at the markers.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report<'a> {
    pub frames: BTreeMap<&'a str, Frame>,
    /// `=== exit 0 ===` was printed.
    pub exit_ok: bool,
    /// `=== heap pass ===` was printed.
    pub heap_ok: bool,
}

/// Cuts an output at the markers of `board/src/suite.rs`. Lines outside frames (the
/// banner, the heap demo) are ignored, except the heap and exit verdicts.
pub fn parse(output: &str) -> Result<Report<'_>, String> {
    let mut report = Report::default();
    let mut open: Option<(&str, usize)> = None; // (name, byte offset of the trace)
    let mut pending: Option<(&str, String)> = None; // a closed frame waiting for its verdict
    let mut offset = 0;
    for line in output.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let text = line.trim_end_matches('\n');
        if let Some((name, from)) = open {
            if text == format!("=== end {name} ===") {
                pending = Some((name, output[from..start].to_string()));
                open = None;
            }
            continue;
        }
        let marker = |word: &str| {
            text.strip_prefix(&format!("=== {word} "))
                .and_then(|rest| rest.strip_suffix(" ==="))
        };
        if let Some(name) = marker("scenario") {
            if let Some((before, _)) = pending {
                return Err(format!("case {before} has no verdict line"));
            }
            open = Some((name, offset));
        } else if let Some(name) = marker("pass") {
            let (frame_name, trace) = pending.take().ok_or("a verdict outside a case")?;
            if name != frame_name {
                return Err(format!("verdict for {name} after case {frame_name}"));
            }
            let frame = Frame {
                trace,
                passed: true,
                verdict: "pass".into(),
            };
            if report.frames.insert(frame_name, frame).is_some() {
                return Err(format!("case {frame_name} printed twice"));
            }
        } else if let Some((word, rest)) = marker("FAIL")
            .map(|rest| ("FAIL", rest))
            .or_else(|| marker("skip").map(|rest| ("skip", rest)))
        {
            let (frame_name, trace) = pending.take().ok_or("a verdict outside a case")?;
            let why = rest
                .strip_prefix(frame_name)
                .ok_or_else(|| format!("verdict {rest} after case {frame_name}"))?;
            let frame = Frame {
                trace,
                passed: false,
                verdict: format!("{word}{why}"),
            };
            if report.frames.insert(frame_name, frame).is_some() {
                return Err(format!("case {frame_name} printed twice"));
            }
        } else if text == "=== exit 0 ===" {
            report.exit_ok = true;
        } else if text == "=== heap pass ===" {
            report.heap_ok = true;
        }
    }
    if let Some((name, _)) = open {
        return Err(format!(
            "case {name} never ended (the run stopped inside it)"
        ));
    }
    if let Some((name, _)) = pending {
        return Err(format!("case {name} has no verdict line"));
    }
    Ok(report)
}

/// Where two traces first differ.
#[derive(Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// 1-based line number.
    pub line: usize,
    /// The expected side's line there (`<end>` past its last line).
    pub expected: String,
    pub actual: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "first difference at line {}:\n    host: {}\n    here: {}",
            self.line, self.expected, self.actual
        )
    }
}

/// Compares two traces byte for byte; on success, how many lines they have.
pub fn compare(expected: &str, actual: &str) -> Result<usize, Mismatch> {
    if expected == actual {
        return Ok(expected.lines().count());
    }
    // Compare line by line with the newline kept, so that a missing final newline or a
    // changed line ending is a difference too.
    let mut e = expected.split_inclusive('\n');
    let mut a = actual.split_inclusive('\n');
    let mut line = 1;
    loop {
        match (e.next(), a.next()) {
            (Some(x), Some(y)) if x == y => line += 1,
            (x, y) => {
                let show = |s: Option<&str>| {
                    s.map_or("<end>".to_string(), |s| {
                        let mut out = String::new();
                        for c in s.chars() {
                            match c {
                                '\n' => out.push_str("\\n"),
                                '\r' => out.push_str("\\r"),
                                c if c.is_control() => {
                                    let _ = write!(out, "\\u{{{:x}}}", c as u32);
                                }
                                c => out.push(c),
                            }
                        }
                        out
                    })
                };
                return Err(Mismatch {
                    line,
                    expected: show(x),
                    actual: show(y),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// A host trace: a golden file.
    fn host(name: &str) -> String {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        std::fs::read_to_string(root.join(format!("engine/tests/golden/{name}.trace"))).unwrap()
    }

    #[test]
    fn every_board_scenario_has_a_golden_file() {
        for name in SCENARIOS {
            assert!(!host(name).is_empty(), "{name}");
        }
    }

    /// The test of the test: every single changed byte of a real trace is caught, at the
    /// right line.
    #[test]
    fn one_changed_byte_anywhere_fails_the_comparison() {
        let trace = host("tlsf_split_merge");
        assert_eq!(compare(&trace, &trace), Ok(trace.lines().count()));
        let bytes = trace.as_bytes();
        for at in 0..bytes.len() {
            let mut changed = bytes.to_vec();
            changed[at] = if bytes[at] == b'x' { b'y' } else { b'x' };
            let changed = String::from_utf8(changed).unwrap();
            let m = compare(&trace, &changed).expect_err("a changed byte must be caught");
            let line = trace[..at].matches('\n').count() + 1;
            assert_eq!(m.line, line, "byte {at}");
        }
    }

    #[test]
    fn a_missing_or_extra_line_or_newline_fails() {
        let trace = host("partition_membox");
        let last_line = trace.lines().count();
        let shorter = &trace[..trace.len() - 1];
        assert_eq!(compare(&trace, shorter).unwrap_err().line, last_line);
        let longer = format!("{trace}0099 part.extra\n");
        let m = compare(&trace, &longer).unwrap_err();
        assert_eq!((m.line, m.expected.as_str()), (last_line + 1, "<end>"));
        let crlf = trace.replace('\n', "\r\n");
        assert_eq!(compare(&trace, &crlf).unwrap_err().line, 1);
    }

    #[test]
    fn a_repl_session_is_cut_down_to_its_trace() {
        let out = "banner\nmemplay> 0001 r.init base=0x00001000 size=1024\n\
                   memplay> 0002 sys.fill addr=0x00001000 len=4 byte=0x00 field=data\n\
                   0002 sys.init base=0x00001000 size=1024\n=> 0x00001010\n\
                   memplay> error: 3:1: unknown statement\nmemplay> \n";
        assert_eq!(
            repl_trace(out),
            "0001 r.init base=0x00001000 size=1024\n\
             0002 sys.fill addr=0x00001000 len=4 byte=0x00 field=data\n\
             0002 sys.init base=0x00001000 size=1024\n"
        );
        assert!(typeable("ram r 0 1K\na = 1\n"));
        assert!(!typeable("repeat 3 {\n  tick 1\n}\n"));
    }

    #[test]
    fn elf_sizes_sum_sections_by_their_flags() {
        // A header, then 4 section headers (type, flags, size): null, code, data, bss,
        // debug info (not allocated).
        let mut elf = vec![0u8; 52];
        elf[..6].copy_from_slice(b"\x7fELF\x01\x01");
        elf[0x20..0x24].copy_from_slice(&52u32.to_le_bytes());
        elf[0x2e..0x30].copy_from_slice(&40u16.to_le_bytes());
        elf[0x30..0x32].copy_from_slice(&5u16.to_le_bytes());
        for (kind, flags, size) in [
            (0u32, 0u32, 0u32),
            (1, 6, 1000),
            (1, 3, 24),
            (8, 3, 4096),
            (1, 0, 7),
        ] {
            let mut sh = [0u8; 40];
            sh[4..8].copy_from_slice(&kind.to_le_bytes());
            sh[8..12].copy_from_slice(&flags.to_le_bytes());
            sh[20..24].copy_from_slice(&size.to_le_bytes());
            elf.extend_from_slice(&sh);
        }
        let sizes = elf_sizes(&elf).unwrap();
        assert_eq!((sizes.text, sizes.data, sizes.bss), (1000, 24, 4096));
        assert!(elf_sizes(&elf[..60]).is_err());
        assert!(elf_sizes(b"not an elf").is_err());
    }

    #[test]
    fn frames_are_cut_at_the_markers() {
        let out = "banner\n=== scenario a/b ===\n0000 x.init\n0001 x.alloc\n=== end a/b ===\n\
                   === pass a/b ===\n=== scenario c#1 ===\n=== end c#1 ===\n\
                   === FAIL c#1: expected a failure ===\n=== scenario d ===\n=== end d ===\n\
                   === skip d: too big ===\nheap: ok\n=== heap pass ===\n=== exit 0 ===\n";
        let r = parse(out).unwrap();
        assert_eq!(r.frames["a/b"].trace, "0000 x.init\n0001 x.alloc\n");
        assert!(r.frames["a/b"].passed);
        assert_eq!(r.frames["c#1"].trace, "");
        assert_eq!(r.frames["c#1"].verdict, "FAIL: expected a failure");
        assert!(!r.frames["c#1"].passed);
        assert_eq!(r.frames["d"].verdict, "skip: too big");
        assert!(r.exit_ok && r.heap_ok);
    }

    #[test]
    fn a_cut_off_run_is_an_error() {
        assert!(parse("=== scenario a ===\n0000 x\n").is_err());
        assert!(parse("=== scenario a ===\n=== end a ===\n").is_err());
        assert!(parse("=== scenario a ===\n=== end a ===\n=== pass b ===\n").is_err());
        let twice = "=== scenario a ===\n=== end a ===\n=== pass a ===\n";
        assert!(parse(&format!("{twice}{twice}")).is_err());
    }
}
