//! Prints the benchmark table from criterion's estimates and measured heap efficiency.
//!
//! ```text
//! cargo run --release -p memplay-bench --bin report [-- --markdown | --digest]
//! ```
//!
//! - ns/op: criterion's median time of one replay (`alloc/<allocator>/<workload>` in
//!   `target/criterion`, or `$CRITERION_HOME`) divided by the operations in the trace;
//!   `n/a` when that benchmark has not been run.
//! - ratio: memplay's ns/op over its peer's (below 1 means memplay is faster).
//! - efficiency: computed here, in a few milliseconds (see the crate documentation).
//! - `--instructions` adds instruction counts per operation, measured by running this
//!   binary under `valgrind --tool=callgrind` (one child per row, counting only inside
//!   `memplay_bench::replay`): unlike times they do not move when the machine is busy.
//!   Needs valgrind; without it the columns say `n/a`.
//! - After the table: script replay speed in steps per second (`memplay_bench::scripts`).
//! - `--markdown` prints the table as Markdown; `--digest` prints trace digests of the
//!   engine allocators instead (see `memplay_bench::digest`).

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use memplay_bench::catalog::{dispatch, efficiency_of, rows, Kind, Row, Visitor};
use memplay_bench::digest::trace_digest;
use memplay_bench::replay;
use memplay_bench::scripts::{steps_per_second, SCRIPTS};
use memplay_bench::subject::Subject;

/// Replays per row under callgrind.
const REPLAYS: u32 = 2;

/// Where criterion keeps its results: `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`,
/// else the workspace's `target/criterion`.
fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("criterion")
}

/// The `point_estimate` of `statistic` in an `estimates.json` text, in ns.
fn point_estimate(json: &str, statistic: &str) -> Option<f64> {
    let from = json.find(&format!("\"{statistic}\""))?;
    let rest = &json[from..];
    let key = "\"point_estimate\":";
    let at = rest.find(key)? + key.len();
    let number: String = rest[at..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        .collect();
    number.parse().ok()
}

/// ns per operation of `row`, from criterion's median time of one replay.
fn ns_per_op(row: &Row) -> Option<f64> {
    let path = criterion_home()
        .join("alloc")
        .join(row.kind.name())
        .join(row.workload.name)
        .join("new")
        .join("estimates.json");
    let json = std::fs::read_to_string(path).ok()?;
    let ns = point_estimate(&json, "median")?;
    Some(ns / row.workload.steady().len() as f64)
}

/// Replays `row`'s steady trace `times` times on fresh pools (the child side of
/// `--instructions`).
fn replay_row(row: &Row, times: u32) {
    struct Replay(u32);
    impl Visitor for Replay {
        fn visit<S: Subject>(&mut self, row: &Row, make: &dyn Fn() -> S) {
            let trace = row.workload.steady();
            for _ in 0..self.0 {
                let mut subject = make();
                std::hint::black_box(replay(&mut subject, &trace));
            }
        }
    }
    dispatch(row, &mut Replay(times));
}

/// Instructions per operation of `row`, counted by callgrind inside `replay` only (pool
/// construction excluded); `None` when valgrind cannot be run.
fn instructions_per_op(row: &Row) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    let out = Command::new("valgrind")
        .args([
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            "--toggle-collect=memplay_bench::replay*",
        ])
        .arg(exe)
        .args(["--replay", row.kind.name(), row.workload.name])
        .arg(REPLAYS.to_string())
        .output()
        .ok()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let collected: f64 = stderr
        .lines()
        .find_map(|l| l.split_once("Collected :"))
        .and_then(|(_, n)| n.trim().parse().ok())?;
    Some(collected / (REPLAYS as f64 * row.workload.steady().len() as f64))
}

struct Line {
    allocator: String,
    workload: String,
    ns: String,
    peer: String,
    peer_ns: String,
    ratio: String,
    efficiency: String,
    peer_efficiency: String,
    ir: String,
    peer_ir: String,
    ir_ratio: String,
}

fn ns_text(ns: Option<f64>) -> String {
    ns.map_or("n/a".into(), |ns| format!("{ns:.1}"))
}

fn efficiency_text(row: &Row) -> String {
    let e = efficiency_of(row);
    let sign = if e.failed { "" } else { ">" };
    format!("{sign}{:.1}%", e.percent())
}

fn ratio_text(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "n/a".into(),
    }
}

fn ir_text(ir: Option<f64>) -> String {
    ir.map_or("n/a".into(), |ir| format!("{ir:.0}"))
}

fn lines(instructions: bool) -> Vec<Line> {
    let ir_of = |row: &Row| instructions.then(|| instructions_per_op(row)).flatten();
    let rows = rows();
    let mut lines = Vec::new();
    let find = |kind: Kind, workload: &str| {
        rows.iter()
            .find(|r| r.kind == kind && r.workload.name == workload)
            .copied()
    };
    let paired: Vec<Kind> = Kind::ALL.iter().filter_map(|k| k.peer()).collect();
    for row in &rows {
        if paired.contains(&row.kind) {
            continue;
        }
        let ns = ns_per_op(row);
        let ir = ir_of(row);
        let mut line = Line {
            allocator: row.kind.name().into(),
            workload: row.workload.name.into(),
            ns: ns_text(ns),
            peer: "-".into(),
            peer_ns: "-".into(),
            ratio: "-".into(),
            efficiency: efficiency_text(row),
            peer_efficiency: "-".into(),
            ir: ir_text(ir),
            peer_ir: "-".into(),
            ir_ratio: "-".into(),
        };
        if let Some(peer) = row.kind.peer().and_then(|p| find(p, row.workload.name)) {
            let peer_ns = ns_per_op(&peer);
            line.peer = peer.kind.name().into();
            line.peer_ns = ns_text(peer_ns);
            line.ratio = ratio_text(ns, peer_ns);
            line.peer_efficiency = efficiency_text(&peer);
            let peer_ir = ir_of(&peer);
            line.peer_ir = ir_text(peer_ir);
            line.ir_ratio = ratio_text(ir, peer_ir);
        }
        lines.push(line);
    }
    lines
}

const HEADERS: [&str; 11] = [
    "allocator",
    "workload",
    "ns/op",
    "peer",
    "peer ns/op",
    "ratio",
    "efficiency",
    "peer eff.",
    "Ir/op",
    "peer Ir/op",
    "Ir ratio",
];

/// The cells of a line; the instruction columns only when they were measured.
fn cells(line: &Line, instructions: bool) -> Vec<&str> {
    let mut cells = vec![
        line.allocator.as_str(),
        &line.workload,
        &line.ns,
        &line.peer,
        &line.peer_ns,
        &line.ratio,
        &line.efficiency,
        &line.peer_efficiency,
    ];
    if instructions {
        cells.extend([line.ir.as_str(), &line.peer_ir, &line.ir_ratio]);
    }
    cells
}

fn headers(instructions: bool) -> Vec<&'static str> {
    HEADERS[..if instructions { 11 } else { 8 }].to_vec()
}

fn print_text(lines: &[Line], instructions: bool) {
    let headers = headers(instructions);
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for line in lines {
        for (w, cell) in widths.iter_mut().zip(cells(line, instructions)) {
            *w = (*w).max(cell.len());
        }
    }
    let print = |row: &[&str]| {
        let text: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, &w))| {
                // Names left-aligned, figures right-aligned.
                if matches!(i, 0 | 1 | 3) {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
                }
            })
            .collect();
        println!("{}", text.join("  ").trim_end());
    };
    print(&headers);
    for line in lines {
        print(&cells(line, instructions));
    }
}

fn print_markdown(lines: &[Line], instructions: bool) {
    let headers = headers(instructions);
    println!("| {} |", headers.join(" | "));
    let align: Vec<&str> = (0..headers.len())
        .map(|i| {
            if matches!(i, 0 | 1 | 3) {
                "---"
            } else {
                "---:"
            }
        })
        .collect();
    println!("|{}|", align.join("|"));
    for line in lines {
        println!("| {} |", cells(line, instructions).join(" | "));
    }
}

/// Script replay speed (see `memplay_bench::scripts`), best of 3 runs.
fn print_scripts(markdown: bool) {
    println!();
    if markdown {
        println!("| script | steps | steps/s, quiet sink | steps/s, canonical text |");
        println!("|---|---:|---:|---:|");
    } else {
        println!("script replay (best of 3 runs, Instant-timed):");
    }
    for (name, source) in SCRIPTS {
        let quiet = steps_per_second(source, false, 3);
        let text = steps_per_second(source, true, 3);
        match (quiet, text) {
            (Ok((steps, quiet)), Ok((_, text))) => {
                if markdown {
                    println!("| {name} | {steps} | {quiet:.0} | {text:.0} |");
                } else {
                    println!(
                        "  {name:<14} {steps:>7} steps  {quiet:>10.0} steps/s quiet  {text:>10.0} steps/s as text"
                    );
                }
            }
            (Err(e), _) | (_, Err(e)) => println!("  {name}: {e}"),
        }
    }
}

fn print_digests() {
    for row in rows() {
        if let Some((events, hash)) = trace_digest(&row) {
            println!(
                "{:<20} {:<14} {events:>9} events  {hash:016x}",
                row.kind.name(),
                row.workload.name
            );
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, kind, workload, times] = args.as_slice() {
        if flag == "--replay" {
            let row = rows()
                .into_iter()
                .find(|r| r.kind.name() == kind && r.workload.name == workload);
            let Some(row) = row else {
                eprintln!("report: no row {kind}/{workload}");
                return ExitCode::FAILURE;
            };
            replay_row(&row, times.parse().unwrap_or(REPLAYS));
            return ExitCode::SUCCESS;
        }
    }
    let mut markdown = false;
    let mut instructions = false;
    for arg in &args {
        match arg.as_str() {
            "--markdown" => markdown = true,
            "--instructions" => instructions = true,
            "--digest" => {
                print_digests();
                return ExitCode::SUCCESS;
            }
            _ => {
                eprintln!("usage: report [--markdown] [--instructions] | --digest");
                return ExitCode::FAILURE;
            }
        }
    }
    let lines = lines(instructions);
    if markdown {
        print_markdown(&lines, instructions);
    } else {
        print_text(&lines, instructions);
    }
    print_scripts(markdown);
    ExitCode::SUCCESS
}
