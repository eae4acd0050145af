//! Operation traces: sequences of allocations and frees recorded once from a seeded
//! generator and replayed, identically, against every allocator.
//!
//! A workload is a *pattern* (which live block a free takes) and a *size distribution*
//! (what an allocation asks for). It is recorded in one of two modes:
//!
//! - [`Mode::Steady`], for timing: the number of live blocks wanders around a target and
//!   never exceeds a cap, so a pool of [`Workload::pool_size`] bytes serves every request
//!   of a good allocator and the replay measures the steady state;
//! - [`Mode::Fill`], for heap efficiency: allocations outnumber frees two to one, so the
//!   live set grows (with holes left by the frees) until the pool is full; the trace goes
//!   on until the live bytes it asks for reach twice the pool size, so every allocator
//!   fails somewhere on it.
//!
//! Decisions are made in *bursts*: a direction (allocate or free) and a length. Random and
//! FIFO workloads use bursts of one; the LIFO workload uses bursts of 1 to 8, so it pushes
//! and pops runs of blocks like a call stack of buffers.
//!
//! All randomness comes from the engine's [`Prng`] with a fixed seed per workload, so the
//! traces are the same on every machine and in every run.

use std::collections::VecDeque;

use memplay_engine::prng::Prng;

/// One recorded operation. `slot` names a block for the length of its life; a slot is
/// reused only after its block was freed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Alloc { slot: u32, size: u32 },
    Free { slot: u32, size: u32 },
}

/// Which live block a free takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// Any live block, chosen uniformly.
    Random,
    /// The most recently allocated live block (a stack), in bursts of 1 to 8.
    Lifo,
    /// The oldest live block (a queue).
    Fifo,
}

/// What an allocation asks for, in bytes (pages for [`Sizes::Pages`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sizes {
    /// Uniform in `lo..=hi`.
    Uniform(u32, u32),
    /// A power law (Pareto, alpha 1): `scale * 4096 / u` for `u` uniform in `1..=4096`,
    /// capped at `max`. Half the requests are below `2 * scale`, a few are huge.
    PowerLaw { scale: u32, max: u32 },
    /// Many small and a few large: `large_permille` of the requests uniform in
    /// `large.0..=large.1`, the rest uniform in `small.0..=small.1`.
    SmallLarge {
        small: (u32, u32),
        large: (u32, u32),
        large_permille: u32,
    },
    /// Always the same size.
    Fixed(u32),
    /// Runs of pages: 1, 2, 4 or 8 pages, each half as likely as the one before.
    Pages,
}

impl Sizes {
    fn draw(&self, rng: &mut Prng) -> u32 {
        match *self {
            Sizes::Uniform(lo, hi) => rng.range(lo, hi),
            Sizes::PowerLaw { scale, max } => {
                let u = 1 + rng.below(4096) as u64;
                ((scale as u64 * 4096 / u).min(max as u64) as u32).max(1)
            }
            Sizes::SmallLarge {
                small,
                large,
                large_permille,
            } => {
                if rng.below(1000) < large_permille {
                    rng.range(large.0, large.1)
                } else {
                    rng.range(small.0, small.1)
                }
            }
            Sizes::Fixed(size) => size,
            Sizes::Pages => 1 << (rng.next_u32() | 0x8).trailing_zeros(),
        }
    }
}

/// How a trace is recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Around `target` live blocks, never more than `cap`, `ops` operations.
    Steady { target: u32, cap: u32, ops: u32 },
    /// Two allocations per free, until the live bytes asked for reach `bytes`.
    Fill { bytes: u64 },
}

/// A named workload: a pattern, a size distribution, a seed and the pool it is sized for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Workload {
    pub name: &'static str,
    pub pattern: Pattern,
    pub sizes: Sizes,
    pub seed: u64,
    /// Bytes of the pool every allocator gets for this workload (for [`Sizes::Pages`],
    /// bytes of 4 KiB pages).
    pub pool_size: u32,
    /// Steady state: live blocks around this target...
    pub target: u32,
    /// ... and never more than this (the policy lab holds 256 records, live plus free).
    pub cap: u32,
    /// Operations in a steady trace.
    pub ops: u32,
}

/// Bytes of a page in [`Sizes::Pages`] workloads.
pub const PAGE: u32 = 4096;

/// Operations in each steady (timed) trace.
pub const STEADY_OPS: u32 = 10_000;

const GENERAL_POOL: u32 = 128 * 1024;

/// The general-purpose workloads, replayed against every variable-size allocator.
pub const GENERAL: [Workload; 5] = [
    Workload {
        name: "churn",
        pattern: Pattern::Random,
        sizes: Sizes::Uniform(8, 512),
        seed: 0x6368_7572,
        pool_size: GENERAL_POOL,
        target: 64,
        cap: 120,
        ops: STEADY_OPS,
    },
    Workload {
        name: "lifo",
        pattern: Pattern::Lifo,
        sizes: Sizes::Uniform(16, 256),
        seed: 0x6c69_666f,
        pool_size: GENERAL_POOL,
        target: 64,
        cap: 120,
        ops: STEADY_OPS,
    },
    Workload {
        name: "fifo",
        pattern: Pattern::Fifo,
        sizes: Sizes::Uniform(16, 256),
        seed: 0x6669_666f,
        pool_size: GENERAL_POOL,
        target: 64,
        cap: 120,
        ops: STEADY_OPS,
    },
    Workload {
        name: "power-law",
        pattern: Pattern::Random,
        sizes: Sizes::PowerLaw {
            scale: 8,
            max: 4096,
        },
        seed: 0x706f_7765,
        pool_size: GENERAL_POOL,
        target: 64,
        cap: 120,
        ops: STEADY_OPS,
    },
    Workload {
        name: "small-large",
        pattern: Pattern::Random,
        sizes: Sizes::SmallLarge {
            small: (8, 48),
            large: (2048, 8192),
            large_permille: 30,
        },
        seed: 0x736d_6c67,
        pool_size: GENERAL_POOL,
        target: 64,
        cap: 120,
        ops: STEADY_OPS,
    },
];

/// Fixed-size blocks, for the partition pool and the fixed-block peer.
pub const FIXED: Workload = Workload {
    name: "fixed-64",
    pattern: Pattern::Random,
    sizes: Sizes::Fixed(64),
    seed: 0x6669_7864,
    pool_size: 64 * 1024,
    target: 256,
    cap: 600,
    ops: STEADY_OPS,
};

/// Power-law sizes up to 2048 bytes, for the control buffer's size classes and the
/// class-pool peer. Its "pool size" is what the classes take (see the catalog).
pub const CLASSES: Workload = Workload {
    name: "ctrl-classes",
    pattern: Pattern::Random,
    sizes: Sizes::PowerLaw {
        scale: 24,
        max: 2048,
    },
    seed: 0x6374_726c,
    pool_size: 0,
    target: 40,
    cap: 80,
    ops: STEADY_OPS,
};

/// Runs of 4 KiB pages, for a buddy page allocator.
pub const PAGES: Workload = Workload {
    name: "pages",
    pattern: Pattern::Random,
    sizes: Sizes::Pages,
    seed: 0x7061_6765,
    pool_size: 512 * PAGE,
    target: 48,
    cap: 100,
    ops: STEADY_OPS,
};

/// A recorded trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    pub ops: Vec<Op>,
    /// Slots used: every `slot` is below it.
    pub slots: u32,
}

impl Trace {
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

impl Workload {
    /// The steady trace that is timed.
    pub fn steady(&self) -> Trace {
        record(
            self,
            Mode::Steady {
                target: self.target,
                cap: self.cap,
                ops: self.ops,
            },
        )
    }

    /// The growing trace heap efficiency is measured on, for a pool that holds `capacity`
    /// units of the workload's sizes (bytes, or pages for [`Sizes::Pages`]).
    pub fn fill(&self, capacity: u64) -> Trace {
        record(
            self,
            Mode::Fill {
                bytes: 2 * capacity,
            },
        )
    }
}

/// Records a trace of `workload` in `mode`.
pub fn record(workload: &Workload, mode: Mode) -> Trace {
    let mut rng = Prng::new(workload.seed);
    let mut ops = Vec::new();
    // Live blocks as (slot, size), oldest first; free slots to reuse.
    let mut live: VecDeque<(u32, u32)> = VecDeque::new();
    let mut free_slots: Vec<u32> = Vec::new();
    let mut slots = 0u32;
    let mut live_bytes = 0u64;
    loop {
        let done = match mode {
            Mode::Steady { ops: n, .. } => ops.len() >= n as usize,
            Mode::Fill { bytes } => live_bytes >= bytes,
        };
        if done {
            break;
        }
        let n = live.len() as u32;
        let allocate = match mode {
            Mode::Steady { target, cap, .. } => {
                if n == 0 {
                    true
                } else if n >= cap {
                    false
                } else if n < target {
                    rng.below(4) != 0
                } else {
                    rng.below(4) == 0
                }
            }
            Mode::Fill { .. } => n == 0 || rng.below(3) != 0,
        };
        let burst = match workload.pattern {
            Pattern::Lifo => 1 + rng.below(8),
            Pattern::Random | Pattern::Fifo => 1,
        };
        for _ in 0..burst {
            let n = live.len() as u32;
            if let Mode::Steady {
                cap, ops: total, ..
            } = mode
            {
                if ops.len() >= total as usize || (allocate && n >= cap) {
                    break;
                }
            }
            if allocate {
                let size = workload.sizes.draw(&mut rng);
                let slot = free_slots.pop().unwrap_or_else(|| {
                    slots += 1;
                    slots - 1
                });
                ops.push(Op::Alloc { slot, size });
                live.push_back((slot, size));
                live_bytes += size as u64;
            } else {
                let taken = match workload.pattern {
                    Pattern::Random => {
                        let i = rng.below(n) as usize;
                        live.swap_remove_back(i)
                    }
                    Pattern::Lifo => live.pop_back(),
                    Pattern::Fifo => live.pop_front(),
                };
                let Some((slot, size)) = taken else { break };
                ops.push(Op::Free { slot, size });
                free_slots.push(slot);
                live_bytes -= size as u64;
            }
        }
    }
    Trace { ops, slots }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A capacity that keeps fill traces short in a debug build.
    fn small_capacity(w: &Workload) -> u64 {
        if w.sizes == Sizes::Pages {
            500
        } else {
            20_000
        }
    }

    fn check_well_formed(trace: &Trace) {
        let mut live = vec![None; trace.slots as usize];
        for op in &trace.ops {
            match *op {
                Op::Alloc { slot, size } => {
                    assert!(size > 0);
                    assert!(live[slot as usize].replace(size).is_none());
                }
                Op::Free { slot, size } => {
                    assert_eq!(live[slot as usize].take(), Some(size));
                }
            }
        }
    }

    #[test]
    fn traces_are_deterministic_and_well_formed() {
        for w in GENERAL.iter().chain([&FIXED, &CLASSES, &PAGES]) {
            let a = w.steady();
            assert_eq!(a, w.steady(), "{}", w.name);
            assert_eq!(a.len(), w.ops as usize, "{}", w.name);
            check_well_formed(&a);
            check_well_formed(&w.fill(small_capacity(w)));
        }
    }

    #[test]
    fn steady_traces_respect_the_cap_and_fill_traces_grow() {
        for w in GENERAL.iter().chain([&FIXED, &CLASSES, &PAGES]) {
            let mut n = 0u32;
            let mut max = 0;
            for op in &w.steady().ops {
                match op {
                    Op::Alloc { .. } => n += 1,
                    Op::Free { .. } => n -= 1,
                }
                max = max.max(n);
            }
            assert!(max <= w.cap && max >= w.target / 2, "{}: {max}", w.name);
            let pool = small_capacity(w);
            let mut bytes = 0u64;
            for op in &w.fill(pool).ops {
                match *op {
                    Op::Alloc { size, .. } => bytes += size as u64,
                    Op::Free { size, .. } => bytes -= size as u64,
                }
            }
            assert!(bytes >= 2 * pool, "{}", w.name);
        }
    }

    #[test]
    fn lifo_frees_the_newest_and_fifo_the_oldest() {
        for (w, newest) in [(&GENERAL[1], true), (&GENERAL[2], false)] {
            let mut order: VecDeque<u32> = VecDeque::new();
            for op in &w.steady().ops {
                match *op {
                    Op::Alloc { slot, .. } => order.push_back(slot),
                    Op::Free { slot, .. } => {
                        let expected = if newest {
                            order.pop_back()
                        } else {
                            order.pop_front()
                        };
                        assert_eq!(expected, Some(slot));
                    }
                }
            }
        }
    }
}
