//! `cargo xtask bench`: runs the criterion suite of `memplay-bench` and prints one table.
//!
//! ```text
//! cargo xtask bench [--markdown] [criterion options and filters...]
//! ```
//!
//! Two steps, both plain cargo commands:
//!
//! 1. `cargo bench -p memplay-bench --features criterion --bench allocators -- <args>`:
//!    replays every recorded trace against every allocator (short measurement times: the
//!    whole suite takes a few minutes); criterion writes its estimates to
//!    `target/criterion`.
//! 2. `cargo run --release -p memplay-bench --bin report -- [--markdown] [--instructions]`:
//!    reads those estimates, measures heap efficiency and prints the table (allocator,
//!    workload, ns/op, peer, peer ns/op, ratio, efficiency, peer efficiency), then the
//!    machine. When valgrind is installed it adds `--instructions`: instructions per
//!    operation counted by callgrind (about 20 s more), figures that a busy machine does
//!    not move, unlike the times.
//!
//! Arguments other than `--markdown` go to criterion, for example a filter
//! (`cargo xtask bench tlsf`) or `--measurement-time 5`. Rows that were filtered out
//! show `n/a`, or the figures of an earlier run when there was one.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root: xtask's own manifest directory's parent.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

fn run_checked(mut command: Command) -> Result<(), Box<dyn Error>> {
    let status = command.status()?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed with {status}").into())
    }
}

/// True iff `valgrind --version` runs.
fn valgrind_available() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success())
}

/// One line of `/proc/cpuinfo`'s `model name`, when there is one.
fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, model)| model.trim().to_string())
}

fn rustc_version() -> Option<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc).arg("--version").output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs the suite and prints the table. See the module documentation.
pub fn run(args: &[String]) -> Result<(), Box<dyn Error>> {
    let markdown = args.iter().any(|a| a == "--markdown");
    let criterion_args: Vec<&String> = args.iter().filter(|a| *a != "--markdown").collect();

    let mut bench = cargo();
    bench.args([
        "bench",
        "-p",
        "memplay-bench",
        "--features",
        "criterion",
        "--bench",
        "allocators",
        "--",
    ]);
    bench.args(criterion_args);
    run_checked(bench)?;

    let mut report = cargo();
    report.args([
        "run",
        "--quiet",
        "--release",
        "-p",
        "memplay-bench",
        "--bin",
        "report",
    ]);
    report.arg("--");
    if markdown {
        report.arg("--markdown");
    }
    if valgrind_available() {
        report.arg("--instructions");
    }
    println!();
    run_checked(report)?;

    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!();
    println!(
        "machine: {} CPU(s), {}; {}",
        cpus,
        cpu_model().unwrap_or_else(|| "unknown CPU".into()),
        rustc_version().unwrap_or_else(|| "unknown rustc".into())
    );
    Ok(())
}
