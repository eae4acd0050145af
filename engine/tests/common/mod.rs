//! The shared property-test harness: random operation sequences against any allocator,
//! with `check()` after every operation and a shadow model of the live blocks.
//!
//! After each operation the harness verifies that:
//! - `check()` passes;
//! - live blocks do not overlap and each still holds the byte pattern written into it;
//! - `walk()` reports each live block as a payload span that covers it, and spans do not
//!   overlap;
//! - `stats()` adds up (`capacity == used + free + overhead`) and counts the live blocks;
//! - every failed operation left a `fault` event, and every error is one the operation
//!   may give (a free of a live block never fails; a bad free never succeeds).

#![allow(dead_code)]

use std::cell::Cell;

use memplay_engine::trace::Recorder;
use memplay_engine::{
    Addr, AllocError, Allocator, BlockKind, Ctx, EventKind, Owner, Ram, RegionKind,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// One step of a random workload. Indices pick among live or freed blocks modulo their
/// count, so every sequence is meaningful whatever happened before.
#[derive(Clone, Debug)]
pub enum Step {
    Alloc { size: u32, owner: u16 },
    Free { pick: usize },
    Realloc { pick: usize, size: u32 },
    /// Free a block that was freed before and is not live now.
    FreeAgain { pick: usize },
    /// Free an address near a live block (`delta` away from its start).
    FreeNear { pick: usize, delta: i32 },
    /// Free an address anywhere: `offset` into the pool, or anywhere at all.
    FreeWild { offset: u32, anywhere: bool },
}

/// Sizes weighted toward the small requests real workloads make, with the edge cases in.
pub fn size_strategy(max: u32) -> impl Strategy<Value = u32> {
    prop_oneof![
        6 => 1..=64u32,
        3 => 1..=max.max(2),
        1 => Just(0u32),
        1 => (0..8u32).prop_map(|k| u32::MAX - k),
        1 => (1..=4u32).prop_map(move |k| max.saturating_mul(k)),
    ]
}

pub fn step_strategy(max_size: u32) -> impl Strategy<Value = Step> {
    prop_oneof![
        10 => (size_strategy(max_size), 0..4u16).prop_map(|(size, owner)| Step::Alloc { size, owner }),
        7 => any::<usize>().prop_map(|pick| Step::Free { pick }),
        2 => (any::<usize>(), size_strategy(max_size)).prop_map(|(pick, size)| Step::Realloc { pick, size }),
        1 => any::<usize>().prop_map(|pick| Step::FreeAgain { pick }),
        1 => (any::<usize>(), -24..24i32).prop_map(|(pick, delta)| Step::FreeNear { pick, delta }),
        1 => (any::<u32>(), any::<bool>()).prop_map(|(offset, anywhere)| Step::FreeWild { offset, anywhere }),
    ]
}

#[derive(Clone, Copy, Debug)]
struct Live {
    addr: Addr,
    size: u32,
    fill: u8,
}

/// An allocator under test with its RAM and the shadow model.
pub struct Harness<A> {
    pub ram: Ram<Vec<u8>>,
    pub allocator: A,
    /// The address range the pool manages, for wild frees.
    pub pool: (Addr, u32),
    /// Whether the real API has realloc.
    pub realloc: bool,
    shadow: Shadow,
    pub steps: u64,
}

/// What the harness knows of the blocks, independently of the allocator.
#[derive(Default)]
struct Shadow {
    live: Vec<Live>,
    freed: Vec<Addr>,
    next_fill: u8,
}

impl<A: Allocator> Harness<A> {
    pub fn new(ram: Ram<Vec<u8>>, allocator: A, pool: (Addr, u32), realloc: bool) -> Self {
        let harness = Harness {
            ram,
            allocator,
            pool,
            realloc,
            shadow: Shadow {
                next_fill: 1,
                ..Shadow::default()
            },
            steps: 0,
        };
        harness.verify().expect("a fresh pool passes check()");
        harness
    }

    /// Runs one step, then verifies everything.
    pub fn step(&mut self, step: &Step) -> Result<(), TestCaseError> {
        self.steps += 1;
        let mut rec = Recorder::default();
        let outcome = {
            let mut cx = Ctx::new(&mut self.ram, &mut rec);
            let pool = self.pool;
            self.shadow
                .apply(&mut self.allocator, &mut cx, step, pool, self.realloc)
        };
        let failed = outcome?;
        if failed {
            let last = rec.events.last().map(|e| e.kind);
            prop_assert!(
                matches!(last, Some(EventKind::Fault { .. })),
                "a failed {step:?} must end its trace with a fault event, got {last:?}"
            );
        }
        self.verify()
    }

    /// Every invariant the harness can see from outside, plus the allocator's own check.
    pub fn verify(&self) -> Result<(), TestCaseError> {
        let a = &self.allocator;
        a.check(&self.ram)
            .map_err(|e| TestCaseError::fail(format!("check() failed: {e}")))?;

        let mut live = self.shadow.live.clone();
        live.sort_by_key(|l| l.addr);
        for pair in live.windows(2) {
            prop_assert!(
                pair[0].addr as u64 + pair[0].size as u64 <= pair[1].addr as u64,
                "live blocks overlap: {:x?} and {:x?}",
                pair[0],
                pair[1]
            );
        }
        for l in &live {
            let bytes = self
                .ram
                .slice(l.addr, l.size)
                .map_err(|f| TestCaseError::fail(f.to_string()))?;
            prop_assert!(
                bytes.iter().all(|&b| b == l.fill),
                "live block {:#x}+{} was overwritten",
                l.addr,
                l.size
            );
        }

        let mut spans = Vec::new();
        a.walk(&self.ram, &mut |b| spans.push(b))
            .map_err(|e| TestCaseError::fail(format!("walk() failed: {e}")))?;
        let mut sorted = spans.clone();
        sorted.sort_by_key(|b| b.addr);
        for pair in sorted.windows(2) {
            prop_assert!(
                pair[0].addr as u64 + pair[0].len as u64 <= pair[1].addr as u64,
                "walk spans overlap: {:x?} and {:x?}",
                pair[0],
                pair[1]
            );
        }
        for l in &live {
            let covered = spans.iter().any(|b| {
                b.kind == BlockKind::Payload
                    && b.block == l.addr
                    && b.addr <= l.addr
                    && l.addr as u64 + l.size as u64 <= b.addr as u64 + b.len as u64
            });
            prop_assert!(covered, "walk() has no payload span covering live block {:x?}", l);
        }

        let stats = a
            .stats(&self.ram)
            .map_err(|e| TestCaseError::fail(format!("stats() failed: {e}")))?;
        prop_assert_eq!(
            stats.capacity as u64,
            stats.used as u64 + stats.free as u64 + stats.overhead as u64,
            "capacity must equal used + free + overhead: {:?}",
            stats
        );
        prop_assert_eq!(stats.blocks as usize, live.len(), "live block count: {:?}", stats);
        prop_assert!(stats.largest_free <= stats.free);
        prop_assert!(stats.fragmentation_permille <= 1000);
        Ok(())
    }
}

impl Shadow {
    fn fill_byte(&mut self) -> u8 {
        // Never 0, so a block that got zeroed by mistake is caught.
        self.next_fill = self.next_fill.wrapping_add(37) | 1;
        self.next_fill
    }

    /// Applies a step; returns whether the allocator reported an error.
    fn apply<A: Allocator>(
        &mut self,
        allocator: &mut A,
        cx: &mut Ctx<'_, Vec<u8>>,
        step: &Step,
        pool: (Addr, u32),
        realloc: bool,
    ) -> Result<bool, TestCaseError> {
        match *step {
            Step::Alloc { size, owner } => match allocator.alloc(cx, size, Owner(owner)) {
                Ok(addr) => {
                    prop_assert!(size > 0, "alloc(0) must fail, got {addr:#x}");
                    let fill = self.fill_byte();
                    cx.ram
                        .fill(addr, size, fill)
                        .map_err(|f| TestCaseError::fail(format!("block {addr:#x}+{size} not in RAM: {f}")))?;
                    self.freed.retain(|&a| a != addr);
                    self.live.push(Live { addr, size, fill });
                    Ok(false)
                }
                Err(e) => {
                    expect_alloc_error(e, size)?;
                    Ok(true)
                }
            },
            Step::Free { pick } => {
                if self.live.is_empty() {
                    return Ok(false);
                }
                let block = self.live.swap_remove(pick % self.live.len());
                allocator
                    .free(cx, block.addr)
                    .map_err(|e| TestCaseError::fail(format!("free of live {:#x} failed: {e}", block.addr)))?;
                self.freed.push(block.addr);
                Ok(false)
            }
            Step::Realloc { pick, size } => {
                if !realloc || self.live.is_empty() {
                    return Ok(false);
                }
                let i = pick % self.live.len();
                let old = self.live[i];
                match allocator.realloc(cx, old.addr, size, Owner(0)) {
                    Ok(addr) => {
                        let kept = old.size.min(size);
                        let bytes = cx.ram.slice(addr, kept).map_err(|f| TestCaseError::fail(f.to_string()))?;
                        prop_assert!(
                            bytes.iter().all(|&b| b == old.fill),
                            "realloc {:#x}->{addr:#x} lost the first {kept} bytes",
                            old.addr
                        );
                        let fill = self.fill_byte();
                        cx.ram.fill(addr, size, fill).map_err(|f| TestCaseError::fail(f.to_string()))?;
                        if addr != old.addr {
                            self.freed.push(old.addr);
                        }
                        self.freed.retain(|&a| a != addr);
                        self.live[i] = Live { addr, size, fill };
                        Ok(false)
                    }
                    Err(e) => {
                        expect_alloc_error(e, size)?;
                        Ok(true)
                    }
                }
            }
            Step::FreeAgain { pick } => {
                let candidates: Vec<Addr> = self
                    .freed
                    .iter()
                    .copied()
                    .filter(|a| !self.live.iter().any(|l| l.addr == *a))
                    .collect();
                if candidates.is_empty() {
                    return Ok(false);
                }
                let addr = candidates[pick % candidates.len()];
                self.expect_bad_free(allocator, cx, addr)
            }
            Step::FreeNear { pick, delta } => {
                if self.live.is_empty() {
                    return Ok(false);
                }
                let addr = self.live[pick % self.live.len()].addr.wrapping_add(delta as u32);
                self.free_unknown(allocator, cx, addr)
            }
            Step::FreeWild { offset, anywhere } => {
                let addr = if anywhere {
                    offset
                } else {
                    pool.0.wrapping_add(offset % pool.1.max(1))
                };
                self.free_unknown(allocator, cx, addr)
            }
        }
    }

    /// Frees an address that may or may not be a live block.
    fn free_unknown<A: Allocator>(&mut self, allocator: &mut A, cx: &mut Ctx<'_, Vec<u8>>, addr: Addr) -> Result<bool, TestCaseError> {
        if let Some(i) = self.live.iter().position(|l| l.addr == addr) {
            self.live.swap_remove(i);
            allocator
                .free(cx, addr)
                .map_err(|e| TestCaseError::fail(format!("free of live {addr:#x} failed: {e}")))?;
            self.freed.push(addr);
            Ok(false)
        } else {
            self.expect_bad_free(allocator, cx, addr)
        }
    }

    fn expect_bad_free<A: Allocator>(&mut self, allocator: &mut A, cx: &mut Ctx<'_, Vec<u8>>, addr: Addr) -> Result<bool, TestCaseError> {
        match allocator.free(cx, addr) {
            Ok(()) => Err(TestCaseError::fail(format!(
                "free of {addr:#x}, which is not a live block, succeeded"
            ))),
            Err(AllocError::DoubleFree { .. } | AllocError::InvalidPointer { .. }) => Ok(true),
            Err(e) => Err(TestCaseError::fail(format!(
                "free of non-block {addr:#x} gave {e:?}; expected DoubleFree or InvalidPointer"
            ))),
        }
    }

}

/// The errors an alloc or realloc may give for a request of `size`.
fn expect_alloc_error(e: AllocError, size: u32) -> Result<(), TestCaseError> {
    match e {
        AllocError::ZeroSize if size == 0 => Ok(()),
        AllocError::OutOfMemory { .. } | AllocError::TooLarge { .. } => Ok(()),
        other => Err(TestCaseError::fail(format!(
            "alloc/realloc of {size} gave {other:?}; expected OutOfMemory, TooLarge or ZeroSize"
        ))),
    }
}

/// A RAM with one external region of `size` bytes at `base`.
pub fn ram_with(base: Addr, size: u32) -> Ram<Vec<u8>> {
    let mut ram = Ram::new(vec![0u8; size as usize]);
    ram.add_region(memplay_engine::Name::lit("ram"), RegionKind::External, base, size)
        .expect("region fits");
    ram
}

/// Runs `cases` random sequences of `steps_per_case` steps on fresh harnesses from `make`
/// and returns how many steps ran. Fails the test with the shrunk sequence on a violation.
pub fn run_suite<A: Allocator>(
    make: impl Fn() -> Harness<A>,
    max_size: u32,
    cases: u32,
    steps_per_case: usize,
) -> u64 {
    let total = Cell::new(0u64);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = proptest::collection::vec(step_strategy(max_size), steps_per_case);
    let result = runner.run(&strategy, |steps| {
        let mut h = make();
        for s in &steps {
            h.step(s)?;
        }
        total.set(total.get() + h.steps);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    total.get()
}
