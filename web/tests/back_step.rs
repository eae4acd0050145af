//! The back-step figure: the machine one step back from step 100,000 of a generated
//! script, rebuilt from the nearest snapshot by replay. Prints the figures (run with
//! `--release --nocapture` for the ones in docs/performance.md); asserts only that each
//! back step lands where it must, never a time.

use std::time::{Duration, Instant};

use memplay_web::session::Timeline;

/// A churn of random allocations and frees: 4 + 2 × 50,000 steps.
pub const CHURN: &str = "\
ram r 0x10000000 64K
lab heap 32K policy best order size_asc
seed 1
repeat 50000 {
  x = heap.alloc rand(16, 256)
  heap.free any
}
";

#[test]
fn back_step_at_step_100000() {
    let started = Instant::now();
    let timeline = Timeline::build(CHURN, 1_000_000).unwrap();
    let build = started.elapsed();
    assert_eq!(timeline.total, 100_004);
    let mut frame = timeline.frame_at(100_000);
    let mut times: Vec<Duration> = Vec::new();
    // A whole snapshot interval of back steps, so the worst case (a replay of a full
    // interval plus the log's steps) is among them.
    for _ in 0..timeline.interval() + 1 {
        let target = frame.step() - 1;
        let t = Instant::now();
        frame = timeline.frame_at(target);
        times.push(t.elapsed());
        assert_eq!(frame.step(), target);
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "web back-step from step 100,000 ({} back steps): median {:.3} ms, 99th percentile {:.3} ms, max {:.3} ms (interval {} steps, {} snapshots); \
         running the 100,004-step script with snapshots took {:.0} ms",
        times.len(),
        ms(times[times.len() / 2]),
        ms(times[times.len() * 99 / 100]),
        ms(times[times.len() - 1]),
        timeline.interval(),
        timeline.snapshot_count(),
        ms(build),
    );
}
