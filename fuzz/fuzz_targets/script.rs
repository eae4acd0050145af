//! Arbitrary bytes as script text: the static check, then a machine run for a bounded
//! number of steps, rendering every error. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use memplay_engine::machine::{Machine, StepOutcome};
use memplay_engine::trace::TextSink;

/// Steps per input: enough to reach deep into a script, few enough to keep runs fast.
const MAX_STEPS: u32 = 2_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = memplay_engine::script::check(text) {
        let _ = e.render(text).to_string();
        return;
    }
    let Ok(mut machine) = Machine::owned(text) else {
        return;
    };
    let mut sink = TextSink::new(String::new());
    for _ in 0..MAX_STEPS {
        match machine.step_traced(&mut sink) {
            Ok(StepOutcome::Finished) => break,
            Ok(StepOutcome::Ran(_)) => {}
            Err(e) => {
                let _ = e.render(text).to_string();
                if !e.is_expectation() {
                    break;
                }
            }
        }
        sink.out.clear();
    }
    // Walk and check every pool the script built, as the front ends draw them.
    for pool in machine.pools() {
        let _ = pool.walk(machine.ram(), &mut |_| {});
        let _ = pool.check(machine.ram());
        let _ = pool.stats(machine.ram());
    }
});
