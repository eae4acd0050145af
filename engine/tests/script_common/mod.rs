//! Helpers for the script tests of the kernel subsystems (pages, vm, tasks, timers): run a
//! script and keep its trace, find the error it ends with, and check that no text panics.

#![allow(dead_code)]

use memplay_engine::machine::{Machine, StepOutcome};
use memplay_engine::script::{check, ScriptError, StepFault};
use memplay_engine::trace::{Quiet, TextSink};

pub type M = Machine<Vec<u8>, String>;

pub fn machine(source: &str) -> M {
    match Machine::owned(source.to_string()) {
        Ok(m) => m,
        Err(e) => panic!("{}", e.render(source)),
    }
}

/// Runs a whole script; panics on any error or failed expectation; returns the machine
/// and its trace.
pub fn run(source: &str) -> (M, String) {
    let mut m = machine(source);
    let mut sink = TextSink::new(String::new());
    match m.run_traced(&mut sink, 1_000_000) {
        Ok(summary) => {
            if let Some(e) = summary.first_failure {
                panic!("{}\n{}", e.render(source), sink.out);
            }
        }
        Err(e) => panic!("{}\n{}", e.render(source), sink.out),
    }
    (m, sink.out)
}

/// The error running `source` ends with (a static or a runtime one).
pub fn error(source: &str) -> ScriptError {
    let mut m = match Machine::owned(source.to_string()) {
        Ok(m) => m,
        Err(e) => return e,
    };
    loop {
        match m.step(&mut Quiet) {
            Ok(StepOutcome::Finished) => panic!("no error in:\n{source}"),
            Ok(_) => {}
            Err(e) => return e,
        }
    }
}

pub fn rendered(source: &str) -> String {
    error(source).render(source).to_string()
}

/// The fault of the script's last step.
pub fn last_fault(source: &str) -> Option<StepFault> {
    let (m, _) = run(source);
    m.last_fault().map(|f| f.error)
}

/// The lines of `trace` whose step number is `step`, without it.
pub fn step_lines(trace: &str, step: u32) -> Vec<String> {
    let prefix = format!("{step:04} ");
    trace
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(str::to_string)
        .collect()
}

/// Checks, builds and runs `text` on a 1 MiB machine, then runs each of its lines on a
/// machine already set up by `prelude`; only a panic (or a hang) fails.
pub fn survive(prelude: &str, text: &str) {
    let _ = check(text);
    if let Ok(mut m) = Machine::new(vec![0u8; 1 << 20], text) {
        let _ = m.run(&mut Quiet, 2_000);
        let _ = m.next_line();
        if let Some(e) = m.halted() {
            let _ = e.render(text).to_string();
        }
    }
    let mut m = Machine::new(vec![0u8; 1 << 20], prelude.to_string()).unwrap();
    m.run(&mut Quiet, 1_000).unwrap();
    for line in text.lines().take(20) {
        if let Err(e) = m.exec(line, 1, &mut Quiet) {
            let _ = e.render(line).to_string();
        }
    }
}
