//! Script replay speed: how many steps per second the engine's [`Machine`] runs, with the
//! quiet sink (bulk replay, as when the playground jumps to a step) and with every event
//! rendered as its canonical line (as when a trace is shown).
//!
//! Timed with [`Instant`], best of a few runs (a one-shot figure, not a criterion
//! estimate): each run parses the script, builds a fresh machine and runs it to the end.

use std::time::Instant;

use memplay_engine::machine::{Machine, StepOutcome};
use memplay_engine::trace::{Quiet, Sink, TextSink};

/// The scripts timed: a name and the source. Each runs 200,000 and some steps.
pub const SCRIPTS: [(&str, &str); 2] = [
    (
        "lab-first-fit",
        "ram ram0 0x10000000 64K
lab heap 32K
seed 42
repeat 50000 {
  a = heap.alloc rand(16, 256)
  b = heap.alloc rand(16, 256)
  heap.free any
  heap.free any
}
",
    ),
    (
        "ctrl-buffer",
        "ram isram 0x40000000 64K internal
ram extsram 0x08000000 1M external
sys isram extsram
ctrl table 32x16 64x16 128x8 256x8 512x4 1024x4 2048x2
seed 7
repeat 50000 {
  a = ctrl.alloc rand(1, 600)
  b = ctrl.alloc rand(1, 2048)
  ctrl.free a
  ctrl.free b
}
",
    ),
];

/// Steps a script runs at most (far more than the scripts above take).
const MAX_STEPS: u32 = 10_000_000;

/// One timed run of `source`: the steps run and the seconds they took. `text` renders
/// every event into a canonical line (into a reused `String`, cleared after each step).
pub fn time_script(source: &str, text: bool) -> Result<(u32, f64), String> {
    let mut machine = Machine::owned(source).map_err(|e| format!("{e:?}"))?;
    let start = Instant::now();
    if text {
        let mut sink = TextSink::new(String::new());
        for _ in 0..MAX_STEPS {
            sink.step = machine.next_index();
            let outcome = machine.step(&mut sink).map_err(|e| format!("{e:?}"))?;
            sink.out.clear();
            if outcome == StepOutcome::Finished {
                break;
            }
        }
    } else {
        let sink: &mut dyn Sink = &mut Quiet;
        machine.run(sink, MAX_STEPS).map_err(|e| format!("{e:?}"))?;
    }
    Ok((machine.steps(), start.elapsed().as_secs_f64()))
}

/// Steps per second of `source`, best of `runs` runs.
pub fn steps_per_second(source: &str, text: bool, runs: u32) -> Result<(u32, f64), String> {
    let mut best = (0, 0.0f64);
    for _ in 0..runs.max(1) {
        let (steps, secs) = time_script(source, text)?;
        let rate = steps as f64 / secs.max(1e-9);
        if rate > best.1 {
            best = (steps, rate);
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scripts parse and run to the end without an error (a quick check: the repeat
    /// counts are cut down so that the debug build stays fast).
    #[test]
    fn the_scripts_run() {
        for (name, source) in SCRIPTS {
            let short = source.replace("repeat 50000", "repeat 20");
            let (steps, _) = time_script(&short, false).expect(name);
            assert!(steps > 80, "{name}: {steps}");
            let (text_steps, _) = time_script(&short, true).expect(name);
            assert_eq!(steps, text_steps, "{name}");
        }
    }
}
