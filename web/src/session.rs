//! The playground's engine side, in plain Rust and tested on the host: a script run once to
//! its end ([`Timeline`]), with snapshots of the machine every `interval` steps, and the
//! machine at any step ([`Frame`]) rebuilt from the nearest snapshot by replay. The engine
//! is deterministic, so a replayed machine is the machine a straight run gives.
//!
//! What a frame carries besides the machine:
//! - the log of the last [`LOG_STEPS`] steps, each with its events;
//! - [`Labels`]: for every metadata word the trace's `meta` and `fill` events wrote, which
//!   field it is. The inspector names header words with it, for every allocator alike.

use std::collections::BTreeMap;

use memplay_engine::allocator::{Block, BlockKind};

use crate::charts::History;
use memplay_engine::error::AllocError;
use memplay_engine::machine::{Machine, StepOutcome};
use memplay_engine::ram::Addr;
use memplay_engine::script::{ScriptError, StepFault};
use memplay_engine::trace::{Event, EventKind, Field};

/// The machine the playground runs: owned RAM, owned source text.
pub type Mach = Machine<Vec<u8>, String>;

/// Steps a script may run before the playground stops it (the CLI's limit).
pub const MAX_STEPS: u32 = 1_000_000;
/// Steps the event log shows, up to and including the current one.
pub const LOG_STEPS: u32 = 40;
/// Events kept per step in the log; a `check` over many pools can print more.
pub const LOG_EVENTS_PER_STEP: usize = 200;
/// The first snapshot interval; it doubles whenever the snapshots outgrow their budget.
pub const FIRST_INTERVAL: u32 = 64;
/// The most snapshots kept, whatever their size.
pub const MAX_SNAPSHOTS: usize = 256;
/// Bytes the snapshots may take together (RAM copies and labels).
pub const SNAPSHOT_BUDGET: usize = 48 << 20;
/// Chart records taken at one stride before the stride doubles.
pub const HISTORY_PER_STRIDE: u32 = 1024;
/// Failed expectations and fault steps remembered for marks in the editor and scrubber.
pub const MAX_MARKS: usize = 10_000;

/// What a word or a byte range of RAM is, learned from the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label {
    pub field: Field,
    /// Bytes covered from the label's address.
    pub len: u16,
}

/// Every metadata write seen so far, by address: the inspector's field names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Labels {
    map: BTreeMap<Addr, Label>,
}

impl Labels {
    /// Learns from one event: `meta` names a word, `fill` of metadata (a guard gap, a
    /// poison pattern) names a short range. Payload writes (`field=data`) are not labels:
    /// a poke over a header must not rename it.
    pub fn observe(&mut self, event: &Event) {
        match event.kind {
            EventKind::Meta { addr, field, .. } if field != Field::Data => {
                self.map.insert(addr, Label { field, len: 4 });
            }
            EventKind::Fill {
                addr, len, field, ..
            } if field != Field::Data && len > 0 && len <= 4096 => {
                self.map.insert(
                    addr,
                    Label {
                        field,
                        len: len as u16,
                    },
                );
            }
            _ => {}
        }
    }

    /// The label covering `addr`, with its start address.
    pub fn at(&self, addr: Addr) -> Option<(Addr, Label)> {
        self.map
            .range(..=addr)
            .rev()
            .take(4)
            .find(|(start, label)| (addr as u64) < **start as u64 + label.len as u64)
            .map(|(a, l)| (*a, *l))
    }

    /// Labels starting inside `start..end`, in address order.
    pub fn within(&self, start: Addr, end: u64) -> impl Iterator<Item = (Addr, Label)> + '_ {
        self.map
            .range(start..)
            .take_while(move |(a, _)| (**a as u64) < end)
            .map(|(a, l)| (*a, *l))
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// A machine at a step, with its labels.
#[derive(Clone)]
struct Snapshot {
    machine: Mach,
    labels: Labels,
}

impl Snapshot {
    fn bytes(&self) -> usize {
        self.machine
            .ram()
            .regions()
            .map(|r| r.size as usize)
            .sum::<usize>()
            + self.labels.len() * 24
            + 4096
    }
}

/// A step's record in the log.
#[derive(Clone, Debug, PartialEq)]
pub struct LogStep {
    /// The step, from 1.
    pub step: u32,
    /// The line it ran, from 1.
    pub line: u32,
    pub events: Vec<Event>,
    /// Events past [`LOG_EVENTS_PER_STEP`] that are not kept.
    pub dropped: usize,
    /// The error the step returned: a failed expectation, or the error that halted.
    pub error: Option<ScriptError>,
    /// The step's runtime fault (the simulated system said no).
    pub fault: Option<StepFault>,
}

/// A script run to its end, with snapshots to rebuild any step.
pub struct Timeline {
    source: String,
    /// `snapshots[i]` is the machine after `i * interval` steps.
    snapshots: Vec<Snapshot>,
    interval: u32,
    /// Steps the script runs in all.
    pub total: u32,
    /// The error that stopped the run early, and the step that gave it.
    pub halt: Option<(u32, ScriptError)>,
    /// Failed expectations, by step.
    pub failures: Vec<(u32, ScriptError)>,
    /// Steps that had a runtime fault.
    pub faults: Vec<u32>,
    /// True when the run stopped at [`MAX_STEPS`].
    pub limited: bool,
    /// Every pool's figures over the steps, for the charts: every step at first, then
    /// every 2nd, 4th... step as the run grows (1,024 records per stride).
    pub history: History,
}

impl PartialEq for Timeline {
    /// Timelines are compared by identity of content: the same source gives the same run.
    fn eq(&self, other: &Timeline) -> bool {
        self.source == other.source && self.total == other.total
    }
}

impl std::fmt::Debug for Timeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timeline")
            .field("total", &self.total)
            .field("interval", &self.interval)
            .field("snapshots", &self.snapshots.len())
            .field("halt", &self.halt)
            .finish()
    }
}

impl Timeline {
    /// Checks `source` and runs it to its end (at most `max_steps` steps), keeping
    /// snapshots. A static error (a mistake found before the first step) is returned;
    /// errors found while running end the timeline and are kept in it.
    pub fn build(source: &str, max_steps: u32) -> Result<Timeline, ScriptError> {
        let machine = Mach::owned(source.to_string())?;
        let mut snap = Snapshot {
            machine,
            labels: Labels::default(),
        };
        let mut timeline = Timeline {
            source: source.to_string(),
            snapshots: vec![snap.clone()],
            interval: FIRST_INTERVAL,
            total: 0,
            halt: None,
            failures: Vec::new(),
            faults: Vec::new(),
            limited: false,
            history: History::default(),
        };
        timeline.history.push(&snap.machine);
        let mut stride = 1u32;
        let mut recorded = 0u32;
        loop {
            if snap.machine.steps() >= max_steps {
                timeline.limited = snap.machine.next_line().is_some();
                break;
            }
            let labels = &mut snap.labels;
            let mut sink = |e: &Event| labels.observe(e);
            let result = snap.machine.step(&mut sink);
            let step = snap.machine.steps();
            match result {
                Ok(StepOutcome::Finished) => break,
                Ok(StepOutcome::Ran(ran)) => {
                    if ran.fault.is_some() && timeline.faults.len() < MAX_MARKS {
                        timeline.faults.push(step);
                    }
                }
                Err(error) if error.is_expectation() => {
                    if timeline.failures.len() < MAX_MARKS {
                        timeline.failures.push((step, error));
                    }
                }
                Err(error) => {
                    timeline.halt = Some((step, error));
                    break;
                }
            }
            if step.is_multiple_of(stride) {
                timeline.history.push(&snap.machine);
                recorded += 1;
                if recorded >= HISTORY_PER_STRIDE {
                    recorded = 0;
                    stride = stride.saturating_mul(2);
                }
            }
            if step.is_multiple_of(timeline.interval) && step > 0 {
                timeline.keep(&snap);
            }
        }
        timeline.total = snap.machine.steps();
        if timeline.history.steps().last() != Some(&timeline.total) {
            timeline.history.push(&snap.machine);
        }
        Ok(timeline)
    }

    /// Adds a snapshot taken at a multiple of the interval, thinning the list (every other
    /// one kept, the interval doubled) when it outgrows its budget.
    fn keep(&mut self, snap: &Snapshot) {
        let step = snap.machine.steps();
        if step / self.interval != self.snapshots.len() as u32 {
            return; // not the next one expected (after thinning)
        }
        self.snapshots.push(snap.clone());
        let cost = snap.bytes();
        while self.snapshots.len() > MAX_SNAPSHOTS
            || (self.snapshots.len().saturating_mul(cost) > SNAPSHOT_BUDGET
                && self.snapshots.len() > 2)
        {
            let mut i = 0;
            self.snapshots.retain(|_| {
                let keep = i % 2 == 0;
                i += 1;
                keep
            });
            self.interval = self.interval.saturating_mul(2);
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Steps between snapshots.
    pub fn interval(&self) -> u32 {
        self.interval
    }

    pub fn snapshot_count(&self) -> usize {
        self.snapshots.len()
    }

    /// The machine after `step` steps (clamped to the run), with the log of the steps
    /// before it: the nearest snapshot at or before the log's first step, replayed.
    pub fn frame_at(&self, step: u32) -> Frame {
        let step = step.min(self.total);
        let log_from = step.saturating_sub(LOG_STEPS) + 1; // first step logged
        let index = ((log_from.saturating_sub(1)) / self.interval) as usize;
        let index = index.min(self.snapshots.len().saturating_sub(1));
        let snap = &self.snapshots[index];
        let mut frame = Frame {
            machine: snap.machine.clone(),
            labels: snap.labels.clone(),
            log: Vec::new(),
        };
        while frame.step() < step {
            let logged = frame.step() + 1 >= log_from;
            if !frame.run_one(logged) {
                break;
            }
        }
        frame
    }
}

/// The machine at one step, what the page draws.
#[derive(Clone)]
pub struct Frame {
    pub machine: Mach,
    pub labels: Labels,
    /// The last steps, oldest first, the current one last.
    pub log: Vec<LogStep>,
}

impl PartialEq for Frame {
    /// Frames of one script at one step are equal (the engine is deterministic).
    fn eq(&self, other: &Frame) -> bool {
        self.step() == other.step() && self.machine.source() == other.machine.source()
    }
}

impl Frame {
    /// Steps run.
    pub fn step(&self) -> u32 {
        self.machine.steps()
    }

    /// The frame one step on (itself when the script is over).
    pub fn next(&self) -> Frame {
        let mut frame = self.clone();
        frame.run_one(true);
        let keep_from = frame.step().saturating_sub(LOG_STEPS);
        frame.log.retain(|l| l.step > keep_from);
        frame
    }

    /// Runs one step, recording it in the log when `logged`; false when nothing ran.
    fn run_one(&mut self, logged: bool) -> bool {
        let before = self.machine.steps();
        let mut events = Vec::new();
        let mut dropped = 0usize;
        let labels = &mut self.labels;
        let mut sink = |e: &Event| {
            labels.observe(e);
            if logged {
                if events.len() < LOG_EVENTS_PER_STEP {
                    events.push(*e);
                } else {
                    dropped += 1;
                }
            }
        };
        let result = self.machine.step(&mut sink);
        let step = self.machine.steps();
        if step == before {
            return false;
        }
        if logged {
            let (error, fault) = match result {
                Ok(StepOutcome::Ran(ran)) => (None, ran.fault),
                Ok(StepOutcome::Finished) => (None, None),
                Err(e) => (Some(e), None),
            };
            self.log.push(LogStep {
                step,
                line: self.machine.current_line(),
                events,
                dropped,
                error,
                fault,
            });
        }
        true
    }

    /// The log entry of the current step.
    pub fn current(&self) -> Option<&LogStep> {
        self.log.last().filter(|l| l.step == self.step())
    }

    /// Every span of every pool, in configuration order (later pools are drawn over the
    /// earlier ones they are carved from). A pool whose metadata cannot be walked shows
    /// the spans read before the failure.
    pub fn spans(&self) -> Vec<PoolSpans> {
        self.machine
            .pools()
            .map(|pool| {
                let mut spans = Vec::new();
                let walk = pool.walk(self.machine.ram(), &mut |b| spans.push(b));
                PoolSpans {
                    pool: pool.name().to_string(),
                    spans,
                    error: walk.err(),
                }
            })
            .collect()
    }

    /// Bytes reported as corrupted: by every pool's `check()` and by the current step's
    /// fault, as `(address, expected byte)`.
    pub fn corrupted(&self) -> Vec<(Addr, u8)> {
        let mut out = Vec::new();
        let mut add = |e: AllocError| {
            if let AllocError::Corrupted {
                at,
                expected,
                found,
                ..
            } = e
            {
                for (i, (x, f)) in expected
                    .to_le_bytes()
                    .iter()
                    .zip(found.to_le_bytes())
                    .enumerate()
                {
                    if *x != f {
                        out.push((at.wrapping_add(i as u32), *x));
                    }
                }
            }
        };
        for pool in self.machine.pools() {
            if let Err(e) = pool.check(self.machine.ram()) {
                add(e);
            }
        }
        if let Some(fault) = self.current().and_then(|l| l.fault.and_then(|f| f.alloc())) {
            add(fault);
        }
        out.sort_unstable();
        out.dedup_by_key(|(a, _)| *a);
        out
    }
}

/// One pool's walk.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolSpans {
    pub pool: String,
    pub spans: Vec<Block>,
    pub error: Option<AllocError>,
}

/// The innermost block at `addr`: the span of the last pool (in configuration order) that
/// has one there, widened to every neighbouring span of the same block. Returns the pool,
/// the block's range and its spans.
pub fn block_at(pools: &[PoolSpans], addr: Addr) -> Option<(String, Addr, u32, Vec<Block>)> {
    for pool in pools.iter().rev() {
        let Some(i) = pool.spans.iter().position(|s| contains(s, addr)) else {
            continue;
        };
        let hit = pool.spans[i];
        if hit.kind == BlockKind::Free || hit.block == 0 {
            return Some((pool.pool.clone(), hit.addr, hit.len, vec![hit]));
        }
        let mut lo = i;
        while lo > 0 && same_block(&pool.spans[lo - 1], &hit) {
            lo -= 1;
        }
        let mut hi = i;
        while hi + 1 < pool.spans.len() && same_block(&pool.spans[hi + 1], &hit) {
            hi += 1;
        }
        let spans: Vec<Block> = pool.spans[lo..=hi].to_vec();
        let start = spans[0].addr;
        let end = spans
            .iter()
            .map(|s| s.addr as u64 + s.len as u64)
            .max()
            .unwrap_or(start as u64);
        let len = (end - start as u64).min(u32::MAX as u64) as u32;
        return Some((pool.pool.clone(), start, len, spans));
    }
    None
}

fn contains(span: &Block, addr: Addr) -> bool {
    addr >= span.addr && (addr as u64) < span.addr as u64 + span.len as u64
}

fn same_block(span: &Block, hit: &Block) -> bool {
    span.block == hit.block && span.kind != BlockKind::Free
}

#[cfg(test)]
mod tests {
    use super::*;
    use memplay_engine::trace::TextSink;

    const SCRIPT: &str = "\
ram isram 0x40000000 16K internal
lab heap 8K policy best order size_asc
seed 7
repeat 300 {
  x = heap.alloc rand(16, 200)
  heap.free any
}
a = heap.alloc 100
poke a+100 0xff
check
";

    /// The canonical trace of a straight run, one string per step.
    fn straight(source: &str) -> Vec<String> {
        let mut m = Mach::owned(source.to_string()).unwrap();
        let mut out = Vec::new();
        loop {
            let mut sink = TextSink::new(String::new());
            sink.step = m.next_index();
            let before = m.steps();
            let _ = m.step(&mut sink);
            if m.steps() == before {
                break;
            }
            out.push(sink.out);
        }
        out
    }

    fn text(log: &LogStep) -> String {
        log.events
            .iter()
            .map(|e| format!("{:04} {e}\n", log.step))
            .collect()
    }

    #[test]
    fn every_frame_matches_a_straight_run() {
        let expected = straight(SCRIPT);
        let timeline = Timeline::build(SCRIPT, MAX_STEPS).unwrap();
        assert_eq!(timeline.total as usize, expected.len());
        assert!(timeline.snapshot_count() > 3);
        // Seek to every step, and walk forward with `next`: both give the straight trace.
        let mut walked = timeline.frame_at(0);
        for n in 1..=timeline.total {
            let frame = timeline.frame_at(n);
            assert_eq!(text(frame.current().unwrap()), expected[n as usize - 1]);
            walked = walked.next();
            assert_eq!(walked.step(), n);
            assert_eq!(walked.machine.ram().regions().count(), 1);
            assert!(walked.labels == frame.labels, "labels differ at step {n}");
            assert_eq!(
                walked.machine.ram().slice(0x4000_0000, 16384).unwrap(),
                frame.machine.ram().slice(0x4000_0000, 16384).unwrap()
            );
            assert_eq!(walked.log, frame.log, "log differs at step {n}");
        }
    }

    #[test]
    fn back_steps_equal_forward_steps() {
        let timeline = Timeline::build(SCRIPT, MAX_STEPS).unwrap();
        let end = timeline.frame_at(timeline.total);
        for n in (0..timeline.total).rev().step_by(37) {
            assert_eq!(timeline.frame_at(n).step(), n);
        }
        let frame = timeline.frame_at(0);
        assert_eq!(frame.step(), 0);
        assert!(frame.log.is_empty());
        assert_eq!(end.step(), timeline.total);
    }

    #[test]
    fn corrupted_bytes_are_found() {
        let script = "ram r 0x20000000 2K\npart msgs 32x8\na = msgs.alloc 32\nb = msgs.alloc 32\npoke a+32 0x00\ncheck\n";
        let t = Timeline::build(script, MAX_STEPS).unwrap();
        let end = t.frame_at(t.total);
        assert!(end.current().unwrap().fault.is_some());
        let bad = end.corrupted();
        let a = end.machine.var("a").unwrap();
        assert_eq!(bad.len(), 1, "{bad:x?}");
        assert_eq!(bad[0].0, a + 32);
        assert!(t.frame_at(4).corrupted().is_empty());
    }

    #[test]
    fn snapshots_thin_out_on_long_runs() {
        let script = "ram r 0x10000000 4K\nlab heap 2K\nrepeat 20000 {\n  x = heap.alloc 8\n  heap.free x\n}\n";
        let timeline = Timeline::build(script, MAX_STEPS).unwrap();
        assert_eq!(timeline.total, 2 + 1 + 40_000);
        assert!(timeline.snapshot_count() <= MAX_SNAPSHOTS);
        assert!(timeline.interval() >= 128);
        let frame = timeline.frame_at(30_001);
        assert_eq!(frame.step(), 30_001);
        assert_eq!(frame.log.len(), LOG_STEPS as usize);
    }

    #[test]
    fn errors_are_kept() {
        assert!(Timeline::build("ram r 0x0 1K\nlab h 512\nh.free bb\n", MAX_STEPS).is_err());
        let t = Timeline::build(
            "ram r 0x0 1K\nlab h 512\nexpect used(h) == 1\nnote \"on\"\n",
            99,
        )
        .unwrap();
        assert_eq!(t.total, 4);
        assert_eq!(t.failures.len(), 1);
        assert_eq!(t.failures[0].0, 3);
        let limited = Timeline::build("ram r 0x0 1K\nrepeat 100 {\n  tick 1\n}\n", 50).unwrap();
        assert!(limited.limited);
        assert_eq!(limited.total, 50);
    }

    #[test]
    fn labels_name_metadata_and_blocks_are_found() {
        let t = Timeline::build(SCRIPT, MAX_STEPS).unwrap();
        let frame = t.frame_at(t.total);
        assert!(!frame.labels.is_empty());
        let pools = frame.spans();
        let a = frame.machine.var("a").unwrap();
        let (pool, start, len, spans) = block_at(&pools, a).unwrap();
        assert_eq!(pool, "heap");
        assert!(start <= a && a < start + len);
        assert!(spans.iter().any(|s| s.kind == BlockKind::Payload));
    }
}
