//! What the board runs, and the frames it prints.
//!
//! Every case prints
//!
//! ```text
//! === scenario <name> ===
//! <the canonical trace, one numbered line per event>
//! === end <name> ===
//! === pass <name> ===            (or: === FAIL <name>: <why> ===, or: === skip <name>: <why> ===)
//! ```
//!
//! A case is *skipped*, not failed, when the board is too small for it (simulated RAM or
//! stack): that says nothing about the engine, and a small real board still runs the rest.
//! Under QEMU nothing may be skipped (`cargo xtask board` fails on a skip).
//!
//! The run ends with `=== summary passed=<n> failed=<m> skipped=<k> ===`. `cargo xtask board`
//! cuts the output at these markers and compares each trace, byte for byte, with the
//! host's and the wasm build's. Names never contain spaces.

use core::fmt::{self, Write};

use memplay_engine::machine::Machine;
use memplay_engine::scenarios::{Scenario, ScenarioError, RAM_BYTES};
use memplay_engine::script::{self, ScriptError};
use memplay_engine::trace::TextSink;

/// The most steps one script may run, as `memplay trace`'s default.
pub const MAX_STEPS: u32 = 1_000_000;

/// Stack a script needs on thumbv7em, with a margin: under QEMU the whole run peaks at
/// 126 KiB, of which creating the machine takes about 114 KiB (the engine's `Machine` is
/// 51.6 KiB and `Machine::new` builds it in a temporary before moving it into its result).
/// A board with less room left fails scripts cleanly instead of overflowing its stack into
/// the statics (see docs/performance.md).
pub const SCRIPT_STACK: usize = 140 * 1024;

mod generated {
    include!(concat!(env!("OUT_DIR"), "/scripts.rs"));
}

/// Every embedded script: `(name, text)`, from `engine/tests/scripts/*.mem` and the lessons'
/// code blocks (see `collect.rs`).
pub use generated::SCRIPTS;

/// One thing to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    /// A golden scenario of the engine (`memplay_engine::scenarios`).
    Scenario(Scenario),
    /// An embedded script.
    Script {
        name: &'static str,
        text: &'static str,
    },
}

impl Case {
    /// The name in the frames: `golden/<scenario>`, `script/<stem>` or `lesson/<path>#<n>`.
    pub fn name(&self) -> CaseName {
        CaseName(*self)
    }
}

/// A case's name, displayed without allocating.
pub struct CaseName(Case);

impl fmt::Display for CaseName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Case::Scenario(s) => write!(f, "golden/{}", s.name()),
            Case::Script { name, .. } => f.write_str(name),
        }
    }
}

/// Every case, scenarios first, in a fixed order.
pub fn cases() -> impl Iterator<Item = Case> {
    Scenario::ALL.into_iter().map(Case::Scenario).chain(
        SCRIPTS
            .iter()
            .map(|&(name, text)| Case::Script { name, text }),
    )
}

/// Why a case failed, or was skipped ([`Failure::is_capacity`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// A scenario stopped early.
    Scenario(ScenarioError),
    /// The simulated RAM is smaller than the case needs.
    RamTooSmall { needed: u64, available: usize },
    /// The script does not check, or halted on a hard error.
    Script(ScriptError),
    /// `failed` of the script's expectations did not hold; `first` is the first.
    Expectations {
        failed: u32,
        first: Option<ScriptError>,
    },
    /// The output refused a line, so the printed trace is incomplete.
    OutputRefused,
    /// The board's stack is too small for the script interpreter.
    StackTooSmall { needed: usize, available: usize },
}

impl Failure {
    /// True iff the board is too small for the case (it is skipped, not failed).
    pub fn is_capacity(&self) -> bool {
        matches!(
            self,
            Failure::RamTooSmall { .. } | Failure::StackTooSmall { .. }
        )
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Scenario(e) => write!(f, "{e}"),
            Failure::RamTooSmall { needed, available } => write!(
                f,
                "the case needs {needed} bytes of simulated RAM, the board has {available}"
            ),
            Failure::Script(e) => write!(f, "{e}"),
            Failure::Expectations { failed, first } => {
                write!(f, "{failed} expectation(s) failed")?;
                match first {
                    Some(e) => write!(f, ", the first at {e}"),
                    None => Ok(()),
                }
            }
            Failure::OutputRefused => f.write_str("the output refused a trace line"),
            Failure::StackTooSmall { needed, available } => write!(
                f,
                "scripts need {needed} bytes of stack, the board has {available}"
            ),
        }
    }
}

/// Runs `case` on a fresh machine over `ram`, printing its frame to `out`.
pub fn run_case<W: Write>(case: &Case, ram: &mut [u8], out: &mut W) -> Result<(), Failure> {
    run_case_within(case, ram, usize::MAX, out)
}

/// [`run_case`] on a board whose stack has `stack` bytes of room.
pub fn run_case_within<W: Write>(
    case: &Case,
    ram: &mut [u8],
    stack: usize,
    out: &mut W,
) -> Result<(), Failure> {
    let name = case.name();
    // Output errors are counted by the sink below; a marker that cannot be written
    // shows up as a missing or garbled frame on the host.
    let _ = writeln!(out, "=== scenario {name} ===");
    let mut sink = TextSink::new(&mut *out);
    let result = match *case {
        Case::Scenario(scenario) => {
            if ram.len() < RAM_BYTES {
                Err(Failure::RamTooSmall {
                    needed: RAM_BYTES as u64,
                    available: ram.len(),
                })
            } else {
                scenario
                    .run(&mut ram[..], &mut sink)
                    .map(|_| ())
                    .map_err(Failure::Scenario)
            }
        }
        Case::Script { .. } if stack < SCRIPT_STACK => Err(Failure::StackTooSmall {
            needed: SCRIPT_STACK,
            available: stack,
        }),
        Case::Script { text, .. } => run_script(text, ram, &mut sink),
    };
    let result = match (result, sink.overflowed) {
        (Ok(()), true) => Err(Failure::OutputRefused),
        (result, _) => result,
    };
    let _ = writeln!(out, "=== end {name} ===");
    let _ = match &result {
        Ok(()) => writeln!(out, "=== pass {name} ==="),
        Err(why) if why.is_capacity() => writeln!(out, "=== skip {name}: {why} ==="),
        Err(why) => writeln!(out, "=== FAIL {name}: {why} ==="),
    };
    result
}

/// Runs a script to its end on a machine over `ram`, as `memplay trace` does on the host:
/// every step's events numbered with the step; failed expectations are counted and the
/// script goes on; a hard error stops it.
///
/// Not inlined: the machine is a large local (see docs/performance.md), which should take
/// stack only while a script runs.
#[inline(never)]
fn run_script<W: Write>(
    text: &'static str,
    ram: &mut [u8],
    sink: &mut TextSink<W>,
) -> Result<(), Failure> {
    let info = script::check(text).map_err(Failure::Script)?;
    if info.ram_bytes > ram.len() as u64 {
        return Err(Failure::RamTooSmall {
            needed: info.ram_bytes,
            available: ram.len(),
        });
    }
    // Used in place, not moved out of the `Result`: a move copies the machine.
    let mut made = Machine::new(ram, text);
    let machine = match &mut made {
        Ok(machine) => machine,
        Err(e) => return Err(Failure::Script(*e)),
    };
    let summary = machine
        .run_traced(sink, MAX_STEPS)
        .map_err(Failure::Script)?;
    if summary.failures > 0 {
        return Err(Failure::Expectations {
            failed: summary.failures,
            first: summary.first_failure,
        });
    }
    Ok(())
}

/// How many cases passed, failed and were skipped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub passed: u32,
    pub failed: u32,
    /// Cases the board is too small for.
    pub skipped: u32,
}

/// Runs every case over `ram` (each on a fresh machine) and prints the summary line.
pub fn run_all<W: Write>(ram: &mut [u8], out: &mut W) -> Tally {
    run_all_within(ram, usize::MAX, out)
}

/// [`run_all`] on a board whose stack has `stack` bytes of room.
pub fn run_all_within<W: Write>(ram: &mut [u8], stack: usize, out: &mut W) -> Tally {
    let mut tally = Tally::default();
    for case in cases() {
        match run_case_within(&case, ram, stack, out) {
            Ok(()) => tally.passed += 1,
            Err(why) if why.is_capacity() => tally.skipped += 1,
            Err(_) => tally.failed += 1,
        }
    }
    let _ = writeln!(
        out,
        "=== summary passed={} failed={} skipped={} ===",
        tally.passed, tally.failed, tally.skipped
    );
    tally
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec;

    #[test]
    fn every_scenario_passes_and_is_framed() {
        let mut ram = vec![0u8; RAM_BYTES];
        let mut out = String::new();
        for scenario in Scenario::ALL {
            run_case(&Case::Scenario(scenario), &mut ram, &mut out).unwrap();
        }
        assert!(out.starts_with("=== scenario golden/sysmem_boot ===\n0000 sys."));
        assert!(out.contains(
            "=== end golden/policy_lab_four_fits ===\n=== pass golden/policy_lab_four_fits ===\n"
        ));
    }

    #[test]
    fn every_embedded_script_passes() {
        let mut ram = vec![0u8; 3 * 1024 * 1024];
        for (name, text) in SCRIPTS {
            let mut out = String::new();
            let case = Case::Script { name, text };
            if let Err(e) = run_case(&case, &mut ram, &mut out) {
                panic!("{name}: {e}\n{out}");
            }
        }
    }

    #[test]
    fn a_failed_expectation_fails_the_case_and_the_trace_goes_on() {
        let text = "ram r 0x1000 1K\nsys r\na = sys.alloc 16\nexpect a == 0\nb = sys.alloc 16\n";
        let mut ram = vec![0u8; 4096];
        let mut out = String::new();
        let r = run_case(&Case::Script { name: "t", text }, &mut ram, &mut out);
        assert!(
            matches!(r, Err(Failure::Expectations { failed: 1, .. })),
            "{r:?}\n{out}"
        );
        assert!(out.contains("\n0005 sys.carve "), "{out}");
    }

    #[test]
    fn a_small_stack_skips_scripts_and_runs_scenarios() {
        let mut ram = vec![0u8; 3 * 1024 * 1024];
        let mut out = String::new();
        let tally = run_all_within(&mut ram, 60 * 1024, &mut out);
        assert_eq!(tally.passed, Scenario::ALL.len() as u32);
        assert_eq!((tally.failed, tally.skipped), (0, SCRIPTS.len() as u32));
        assert!(out.contains("scripts need 143360 bytes of stack, the board has 61440"));
    }

    #[test]
    fn a_small_ram_skips_the_case_without_panicking() {
        let mut ram = vec![0u8; 100];
        let mut out = String::new();
        let r = run_case(&Case::Scenario(Scenario::SysmemBoot), &mut ram, &mut out);
        assert!(matches!(r, Err(Failure::RamTooSmall { .. })));
        assert!(out.contains("=== skip golden/sysmem_boot: the case needs"));
    }
}
