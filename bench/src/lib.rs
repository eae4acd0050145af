//! memplay's benchmarks: the engine's simulated allocators against real allocators.
//!
//! The pieces:
//!
//! - [`workload`]: operation traces recorded once from a seeded generator (random churn,
//!   LIFO, FIFO, power-law sizes, many small and a few large, fixed-size blocks, size
//!   classes, page runs);
//! - [`subject`]: every allocator behind one interface: the engine's over a simulated RAM
//!   with the quiet trace sink, the peers (rlsf, talc, linked_list_allocator,
//!   buddy_system_allocator, a textbook fixed-block pool) on real memory;
//! - [`replay`] and [`efficiency`]: the two measurements;
//! - [`catalog`]: which allocator runs which workload against which peer, shared by the
//!   criterion suite (`benches/allocators.rs`) and the `report` binary that prints the
//!   table.
//!
//! # What is measured
//!
//! **ns/op** is the time of one replay of a workload's steady trace divided by the number
//! of operations in it (allocations, failed ones included, plus frees). The pool is
//! built fresh for every replay, outside the timed part (criterion's `iter_batched_ref`).
//!
//! **Heap efficiency** is measured on the workload's fill trace (allocations outnumber
//! frees two to one, so the live set grows with holes in it): the trace is replayed on a
//! fresh pool until the first allocation fails; the efficiency is the largest number of
//! live *requested* bytes reached before that failure, divided by the pool size. The pool
//! size is the bytes handed to the allocator, its own control block included when it
//! keeps one there (memplay's allocators and talc do; rlsf, the buddy heap and the
//! linked-list heap keep their list heads in the Rust struct, outside the pool, a small
//! advantage to them). What is lost is headers, alignment and rounding (internal
//! fragmentation) and free memory in pieces too small for the request that failed
//! (external fragmentation); with the policy lab, also its table of 256 block records.
//! For the page workload the units are pages instead of bytes.

pub mod catalog;
pub mod digest;
pub mod fixed;
pub mod scripts;
pub mod subject;
pub mod workload;

use subject::Subject;
use workload::{Op, Trace};

/// What a replay did besides taking time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Allocations the allocator refused; their frees are skipped.
    pub failed_allocs: u32,
    /// Frees the allocator reported as errors (a correct allocator has none).
    pub failed_frees: u32,
}

/// Replays `trace` on `subject`. Never inlined, so that a profiler can single it out
/// (`valgrind --tool=callgrind --toggle-collect='memplay_bench::replay*'`); one call per
/// trace costs nothing measurable.
#[inline(never)]
pub fn replay<S: Subject>(subject: &mut S, trace: &Trace) -> Outcome {
    let mut handles: Vec<Option<usize>> = vec![None; trace.slots as usize];
    let mut outcome = Outcome::default();
    for op in &trace.ops {
        match *op {
            Op::Alloc { slot, size } => {
                let handle = subject.alloc(size);
                if handle.is_none() {
                    outcome.failed_allocs += 1;
                }
                handles[slot as usize] = handle;
            }
            Op::Free { slot, size } => {
                if let Some(handle) = handles[slot as usize].take() {
                    if !subject.free(handle, size) {
                        outcome.failed_frees += 1;
                    }
                }
            }
        }
    }
    outcome
}

/// Heap efficiency on a fill trace.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Efficiency {
    /// The most live requested units (bytes or pages) reached before the first failure.
    pub peak_live: u64,
    /// The pool size in the same units.
    pub capacity: u64,
    /// Operations replayed before the first failure.
    pub ops: usize,
    /// False iff the trace ended without a failure: then the figure is a lower bound.
    pub failed: bool,
}

impl Efficiency {
    /// `peak_live / capacity`, in percent.
    pub fn percent(&self) -> f64 {
        if self.capacity == 0 {
            0.0
        } else {
            100.0 * self.peak_live as f64 / self.capacity as f64
        }
    }
}

/// Replays `fill` on `subject` until an allocation fails. See the crate documentation.
pub fn efficiency<S: Subject>(subject: &mut S, fill: &Trace) -> Efficiency {
    let mut handles: Vec<Option<usize>> = vec![None; fill.slots as usize];
    let mut live = 0u64;
    let mut peak = 0u64;
    for (i, op) in fill.ops.iter().enumerate() {
        match *op {
            Op::Alloc { slot, size } => match subject.alloc(size) {
                Some(handle) => {
                    handles[slot as usize] = Some(handle);
                    live += size as u64;
                    peak = peak.max(live);
                }
                None => {
                    return Efficiency {
                        peak_live: peak,
                        capacity: subject.capacity(),
                        ops: i,
                        failed: true,
                    }
                }
            },
            Op::Free { slot, size } => {
                if let Some(handle) = handles[slot as usize].take() {
                    subject.free(handle, size);
                    live -= size as u64;
                }
            }
        }
    }
    Efficiency {
        peak_live: peak,
        capacity: subject.capacity(),
        ops: fill.len(),
        failed: false,
    }
}
