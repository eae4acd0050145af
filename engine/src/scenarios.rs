//! The golden scenarios: one short workload per allocator, each showing the mechanism a
//! lesson teaches. The same code runs on every target — the host's golden test
//! (`engine/tests/golden.rs`) compares its trace with `tests/golden/<name>.trace`, and the
//! board firmware (`board/`) prints it over semihosting for `cargo xtask board` to compare
//! with the host's, byte for byte.
//!
//! A scenario builds its own machine, two regions like an MTK phone's
//! ([`ISRAM`] of 4 KiB internal SRAM, [`EXTSRAM`] of 8 KiB external SRAM), over any
//! [`Storage`] of at least [`RAM_BYTES`] bytes: a `Vec<u8>` on the host, a borrowed static
//! array on the board. Set-up is step 0; each operation after it is one step, advanced
//! through [`Stepped::advance`] before the operation runs.
//!
//! The scenarios need no heap and never panic: an operation that fails when the scenario
//! expects success, or succeeds when it expects a failure, ends the scenario with a
//! [`ScenarioError`] (its trace up to that point is still in the sink).

use core::fmt;

use crate::allocator::{Allocator, Ctx, Owner};
use crate::ctrl_buffer::CtrlBuffer;
use crate::dynmem::DynMem;
use crate::error::AllocError;
use crate::name::Name;
use crate::partition::PartitionPool;
use crate::policy_lab::{FitPolicy, LabConfig, ListOrder, PolicyLab};
use crate::ram::{Addr, Ram, RamError, RegionKind, Storage};
use crate::sysmem::{Area, SystemMemory};
use crate::tlsf::{Tlsf, TlsfConfig};
use crate::trace::{Sink, TextSink};

/// Base of the 4 KiB internal SRAM region.
pub const ISRAM: Addr = 0x4000_0000;
/// Base of the 8 KiB external SRAM region.
pub const EXTSRAM: Addr = 0x0800_0000;
const ISRAM_SIZE: u32 = 0x1000;
const EXTSRAM_SIZE: u32 = 0x2000;
/// Bytes of storage a scenario's machine needs: both regions.
pub const RAM_BYTES: usize = (ISRAM_SIZE + EXTSRAM_SIZE) as usize;

/// The owner (task id) every scenario allocates for unless it shows per-task accounting.
const T: Owner = Owner(1);

/// A sink whose lines carry a step number the scenario advances.
pub trait Stepped: Sink {
    /// Moves to the next step; events after it carry the new number.
    fn advance(&mut self);
}

impl<W: fmt::Write> Stepped for TextSink<W> {
    fn advance(&mut self) {
        self.step = self.step.saturating_add(1);
    }
}

/// Why a scenario stopped before its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScenarioError {
    /// The machine's RAM could not be laid out (the storage is too small).
    Ram(RamError),
    /// An operation the scenario expects to succeed failed, or `check()` found a violation.
    Alloc(AllocError),
    /// An operation the scenario expects to fail succeeded.
    UnexpectedSuccess { what: &'static str },
}

impl From<RamError> for ScenarioError {
    fn from(e: RamError) -> ScenarioError {
        ScenarioError::Ram(e)
    }
}

impl From<AllocError> for ScenarioError {
    fn from(e: AllocError) -> ScenarioError {
        ScenarioError::Alloc(e)
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioError::Ram(e) => write!(f, "the machine's RAM: {e}"),
            ScenarioError::Alloc(e) => write!(f, "an operation failed: {e}"),
            ScenarioError::UnexpectedSuccess { what } => {
                write!(f, "expected a failure, but it succeeded: {what}")
            }
        }
    }
}

/// Fails unless `result` is an error: the scenario shows a refused operation.
fn expect_err<T>(result: Result<T, AllocError>, what: &'static str) -> Result<(), ScenarioError> {
    match result {
        Ok(_) => Err(ScenarioError::UnexpectedSuccess { what }),
        Err(_) => Ok(()),
    }
}

/// The scenarios, in the order the golden test and the board run them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    SysmemBoot,
    PartitionMembox,
    CtrlBufferFallback,
    DynmemSplitCoalesce,
    TlsfSplitMerge,
    PolicyLabFourFits,
}

impl Scenario {
    /// Every scenario.
    pub const ALL: [Scenario; 6] = [
        Scenario::SysmemBoot,
        Scenario::PartitionMembox,
        Scenario::CtrlBufferFallback,
        Scenario::DynmemSplitCoalesce,
        Scenario::TlsfSplitMerge,
        Scenario::PolicyLabFourFits,
    ];

    /// Its name: the golden file is `tests/golden/<name>.trace`.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::SysmemBoot => "sysmem_boot",
            Scenario::PartitionMembox => "partition_membox",
            Scenario::CtrlBufferFallback => "ctrl_buffer_fallback",
            Scenario::DynmemSplitCoalesce => "dynmem_split_coalesce",
            Scenario::TlsfSplitMerge => "tlsf_split_merge",
            Scenario::PolicyLabFourFits => "policy_lab_four_fits",
        }
    }

    /// Runs the scenario on a fresh machine over `storage` (at least [`RAM_BYTES`] bytes),
    /// writing its events to `sink`, and returns the machine's RAM as the scenario left it.
    pub fn run<S: Storage>(
        self,
        storage: S,
        sink: &mut dyn Stepped,
    ) -> Result<Ram<S>, ScenarioError> {
        let mut ram = Ram::new(storage);
        ram.add_region(Name::lit("isram"), RegionKind::Internal, ISRAM, ISRAM_SIZE)?;
        ram.add_region(
            Name::lit("extsram"),
            RegionKind::External,
            EXTSRAM,
            EXTSRAM_SIZE,
        )?;
        let mut rig = Rig { ram, sink };
        match self {
            Scenario::SysmemBoot => sysmem_boot(&mut rig),
            Scenario::PartitionMembox => partition_membox(&mut rig),
            Scenario::CtrlBufferFallback => ctrl_buffer_fallback(&mut rig),
            Scenario::DynmemSplitCoalesce => dynmem_split_coalesce(&mut rig),
            Scenario::TlsfSplitMerge => tlsf_split_merge(&mut rig),
            Scenario::PolicyLabFourFits => policy_lab_four_fits(&mut rig),
        }?;
        Ok(rig.ram)
    }
}

/// A machine and its numbered trace.
struct Rig<'a, S> {
    ram: Ram<S>,
    sink: &'a mut dyn Stepped,
}

impl<S: Storage> Rig<'_, S> {
    /// The context for the next step.
    fn step(&mut self) -> Ctx<'_, S> {
        self.sink.advance();
        Ctx::new(&mut self.ram, self.sink)
    }

    /// The context for set-up, numbered step 0.
    fn boot(&mut self) -> Ctx<'_, S> {
        Ctx::new(&mut self.ram, self.sink)
    }
}

/// KAL system memory: the control block (with its table of 4 carve records) opens the
/// internal area; carves take internal SRAM first, fall to external, and are never freed.
fn sysmem_boot<S: Storage>(r: &mut Rig<'_, S>) -> Result<(), ScenarioError> {
    let areas = [Area::new(ISRAM, 160), Area::new(EXTSRAM, 1024)];
    let mut sys = SystemMemory::with_records(&mut r.boot(), Name::lit("sys"), &areas, 4)?;
    let stack = sys.alloc(&mut r.step(), 64, T)?; // fits in internal SRAM
    sys.alloc(&mut r.step(), 200, T)?; // too big for what is left: external
    sys.alloc_in(&mut r.step(), Name::lit("extsram"), 30, T)?; // rounded to 32
    expect_err(sys.free(&mut r.step(), stack), "sys.free")?;
    sys.check(&r.ram)?;
    Ok(())
}

/// A Nucleus partition / LiteOS membox pool: the free list threaded through the blocks,
/// the magic word, and the frees it refuses.
fn partition_membox<S: Storage>(r: &mut Rig<'_, S>) -> Result<(), ScenarioError> {
    let mut pool = PartitionPool::with_count(&mut r.boot(), Name::lit("part"), EXTSRAM, 32, 4)?;
    let a = pool.alloc(&mut r.step(), 20, T)?;
    let b = pool.alloc(&mut r.step(), 32, T)?;
    pool.free(&mut r.step(), a)?;
    expect_err(pool.free(&mut r.step(), a), "double free")?;
    expect_err(
        pool.free(&mut r.step(), b.wrapping_add(4)),
        "interior pointer",
    )?;
    expect_err(pool.alloc(&mut r.step(), 33, T), "larger than a block")?;
    pool.check(&r.ram)?;
    Ok(())
}

/// KAL control buffers: the smallest class that fits, falling through to the next when a
/// class is empty, nothing above the largest class.
fn ctrl_buffer_fallback<S: Storage>(r: &mut Rig<'_, S>) -> Result<(), ScenarioError> {
    let mut sys = SystemMemory::new(&mut r.boot(), Name::lit("sys"), &[Area::new(EXTSRAM, 2048)])?;
    let table = [(32, 2), (64, 1), (128, 1)];
    let mut ctrl = CtrlBuffer::new(&mut r.boot(), Name::lit("ctrl"), &mut sys, &table)?;
    ctrl.alloc(&mut r.step(), 20, T)?; // 32-byte class
    ctrl.alloc(&mut r.step(), 30, T)?; // 32-byte class, now empty
    ctrl.alloc(&mut r.step(), 24, T)?; // falls through to 64
    ctrl.alloc(&mut r.step(), 100, T)?; // 128
    expect_err(
        ctrl.alloc(&mut r.step(), 10, T),
        "every class that fits is empty",
    )?;
    expect_err(
        ctrl.alloc(&mut r.step(), 3000, T),
        "above the largest class",
    )?;
    ctrl.check(&r.ram)?;
    Ok(())
}

/// LiteOS best-fit dynamic memory: a hole found by best fit, split, and coalesced again
/// with both neighbours.
fn dynmem_split_coalesce<S: Storage>(r: &mut Rig<'_, S>) -> Result<(), ScenarioError> {
    let mut dm = DynMem::init(&mut r.boot(), Name::lit("dyn"), EXTSRAM, 512, 1)?;
    let a = dm.alloc(&mut r.step(), 64, Owner(1))?;
    let b = dm.alloc(&mut r.step(), 100, Owner(2))?;
    let c = dm.alloc(&mut r.step(), 64, Owner(3))?;
    dm.free(&mut r.step(), b)?; // a 116-byte hole between a and c
    let d = dm.alloc(&mut r.step(), 24, Owner(2))?; // best fit: the hole, split
    dm.free(&mut r.step(), d)?; // merges with the hole's remainder
    expect_err(dm.free(&mut r.step(), d), "double free")?;
    dm.free(&mut r.step(), a)?; // merges right
    dm.free(&mut r.step(), c)?; // merges both ways: one free node again
    dm.check(&r.ram)?;
    Ok(())
}

/// LiteOS-M TLSF: size classes, split and merge, realloc shrinking and growing in place.
fn tlsf_split_merge<S: Storage>(r: &mut Rig<'_, S>) -> Result<(), ScenarioError> {
    let config = TlsfConfig {
        sl_log2: 2,
        ..TlsfConfig::default()
    };
    let mut t = Tlsf::new(&mut r.boot(), Name::lit("tlsf"), EXTSRAM, 1024, config)?;
    let a = t.alloc(&mut r.step(), 100, T)?;
    let b = t.alloc(&mut r.step(), 40, T)?;
    let a = t.realloc(&mut r.step(), a, 60, T)?; // shrinks in place
    t.free(&mut r.step(), b)?; // merges with the free rest
    let a = t.realloc(&mut r.step(), a, 300, T)?; // grows in place
    t.free(&mut r.step(), a)?;
    t.check(&r.ram)?;
    Ok(())
}

/// The free-list policy lab: one workload under first, best, worst and next fit, each in
/// its own 512-byte pool side by side.
fn policy_lab_four_fits<S: Storage>(r: &mut Rig<'_, S>) -> Result<(), ScenarioError> {
    let labs = [
        (FitPolicy::First, Name::lit("lab_first"), EXTSRAM),
        (FitPolicy::Best, Name::lit("lab_best"), EXTSRAM + 0x200),
        (FitPolicy::Worst, Name::lit("lab_worst"), EXTSRAM + 0x400),
        (FitPolicy::Next, Name::lit("lab_next"), EXTSRAM + 0x600),
    ];
    for (fit, name, base) in labs {
        let config = LabConfig {
            fit,
            order: ListOrder::Address,
            coalesce: true,
            header: 4,
            align: 4,
        };
        let mut lab = PolicyLab::new(&mut r.boot(), name, base, 0x200, config)?;
        // Free blocks of 16, 48 and 32 bytes separated by live ones, then ask for 20 and 28.
        let mut holes = [0; 3];
        let mut next_hole = holes.iter_mut();
        for size in [12, 4, 44, 4, 28, 4] {
            let p = lab.alloc(&mut r.step(), size, T)?;
            if size != 4 {
                if let Some(slot) = next_hole.next() {
                    *slot = p;
                }
            }
        }
        for p in holes {
            lab.free(&mut r.step(), p)?;
        }
        lab.alloc(&mut r.step(), 20, T)?;
        lab.alloc(&mut r.step(), 28, T)?;
        lab.check(&r.ram)?;
    }
    Ok(())
}
