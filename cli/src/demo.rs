//! `memplay demo`: a seeded random workload on one allocator, shown as its canonical trace,
//! its figures and a map of its memory.

use std::fmt::Write as _;

use clap::ValueEnum;
use memplay_engine::ctrl_buffer::CtrlBuffer;
use memplay_engine::dynmem::DynMem;
use memplay_engine::partition::PartitionPool;
use memplay_engine::policy_lab::{FitPolicy, LabConfig, PolicyLab};
use memplay_engine::prng::Prng;
use memplay_engine::sysmem::{Area, SystemMemory};
use memplay_engine::tlsf::{Tlsf, TlsfConfig};
use memplay_engine::trace::TextSink;
use memplay_engine::{Addr, AllocError, Allocator, Ctx, Name, Owner, Ram, RegionKind};

use crate::map;

/// The allocators the demo can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// MTK KAL system memory: bump carving, internal SRAM first, never freed.
    Sysmem,
    /// A Nucleus partition pool / LiteOS membox of 64-byte blocks.
    Partition,
    /// MTK control buffers with a small class table, carved from system memory.
    Ctrl,
    /// LiteOS best-fit dynamic memory (`LOS_MemAlloc`), one list sorted small to large.
    Dyn,
    /// Two-level segregated fit, LiteOS's O(1) algorithm.
    Tlsf,
    /// The free-list policy lab, best fit on an address-ordered list.
    Lab,
}

/// What the demo prints.
pub struct Options {
    pub kind: Kind,
    pub seed: u64,
    pub ops: u32,
    pub color: bool,
}

const ISRAM: Addr = 0x4000_0000;
const EXTSRAM: Addr = 0x0800_0000;
const POOL_SIZE: u32 = 4096;

/// The MTK-like RAM every demo runs in: 16 KiB internal and 64 KiB external SRAM.
fn ram() -> Ram<Vec<u8>> {
    let mut ram = Ram::new(vec![0u8; 80 * 1024]);
    // The layout is fixed and fits its store, so these cannot fail.
    ram.add_region(Name::lit("isram"), RegionKind::Internal, ISRAM, 16 * 1024)
        .expect("fixed layout");
    ram.add_region(
        Name::lit("extsram"),
        RegionKind::External,
        EXTSRAM,
        64 * 1024,
    )
    .expect("fixed layout");
    ram
}

/// Runs the demo and returns everything it prints.
pub fn run(opts: &Options) -> Result<String, AllocError> {
    let mut demo = Demo {
        ram: ram(),
        sink: TextSink::new(String::new()),
        opts,
    };
    match opts.kind {
        Kind::Sysmem => {
            let areas = [Area::new(ISRAM, 1024), Area::new(EXTSRAM, POOL_SIZE)];
            let a = SystemMemory::new(&mut demo.cx(), Name::lit("sys"), &areas)?;
            demo.workload(a, EXTSRAM, POOL_SIZE, false)
        }
        Kind::Partition => {
            let a = PartitionPool::new(&mut demo.cx(), Name::lit("part"), EXTSRAM, 1024, 64)?;
            demo.workload(a, EXTSRAM, 1024, true)
        }
        Kind::Ctrl => {
            let mut cx = demo.cx();
            let areas = [Area::new(EXTSRAM, POOL_SIZE)];
            let mut sys = SystemMemory::new(&mut cx, Name::lit("sys"), &areas)?;
            let table = [(32, 8), (64, 8), (128, 4), (256, 2)];
            let a = CtrlBuffer::new(&mut cx, Name::lit("ctrl"), &mut sys, &table)?;
            demo.workload(a, EXTSRAM, POOL_SIZE, true)
        }
        Kind::Dyn => {
            let a = DynMem::init(&mut demo.cx(), Name::lit("dyn"), EXTSRAM, 1024, 1)?;
            demo.workload(a, EXTSRAM, 1024, true)
        }
        Kind::Tlsf => {
            let config = TlsfConfig::default();
            let a = Tlsf::new(&mut demo.cx(), Name::lit("tlsf"), EXTSRAM, 1024, config)?;
            demo.workload(a, EXTSRAM, 1024, true)
        }
        Kind::Lab => {
            let config = LabConfig {
                fit: FitPolicy::Best,
                ..LabConfig::default()
            };
            let a = PolicyLab::new(&mut demo.cx(), Name::lit("lab"), EXTSRAM, 1024, config)?;
            demo.workload(a, EXTSRAM, 1024, true)
        }
    }
}

struct Demo<'o> {
    ram: Ram<Vec<u8>>,
    sink: TextSink<String>,
    opts: &'o Options,
}

impl Demo<'_> {
    fn cx(&mut self) -> Ctx<'_, Vec<u8>> {
        Ctx::new(&mut self.ram, &mut self.sink)
    }

    /// Allocates and frees at random (sizes 1 to 200 bytes, owners 0 to 3) for
    /// `opts.ops` steps, then reports. Step 0 is the pool's creation.
    fn workload<A: Allocator>(
        mut self,
        mut a: A,
        base: Addr,
        size: u32,
        frees: bool,
    ) -> Result<String, AllocError> {
        let mut prng = Prng::new(self.opts.seed);
        let mut live: Vec<Addr> = Vec::new();
        for step in 1..=self.opts.ops {
            self.sink.step = step;
            let mut cx = Ctx::new(&mut self.ram, &mut self.sink);
            if frees && !live.is_empty() && prng.below(10) < 4 {
                let addr = live.swap_remove(prng.below(live.len() as u32) as usize);
                // A failed free is already in the trace as a fault line.
                let _ = a.free(&mut cx, addr);
            } else {
                let want = prng.range(1, 200);
                let owner = Owner(prng.below(4) as u16);
                if let Ok(addr) = a.alloc(&mut cx, want, owner) {
                    live.push(addr);
                }
            }
        }

        let mut out = std::mem::take(&mut self.sink.out);
        let stats = a.stats(&self.ram)?;
        let _ = writeln!(
            out,
            "\n{}: capacity {} B, used {} B in {} blocks, free {} B in {} spans (largest {} B), \
             overhead {} B, fragmentation {}.{}%",
            a.name(),
            stats.capacity,
            stats.used,
            stats.blocks,
            stats.free,
            stats.free_blocks,
            stats.largest_free,
            stats.overhead,
            stats.fragmentation_permille / 10,
            stats.fragmentation_permille % 10,
        );
        match a.check(&self.ram) {
            Ok(()) => out.push_str("check: every invariant holds\n\n"),
            Err(e) => {
                let _ = writeln!(out, "check: {e}\n");
            }
        }
        let mut spans = Vec::new();
        a.walk(&self.ram, &mut |b| spans.push(b))?;
        out.push_str(&map::render(&spans, base, size, 64, 8, self.opts.color));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_demo_runs_and_passes_check() {
        for kind in Kind::value_variants() {
            let out = run(&Options {
                kind: *kind,
                seed: 3,
                ops: 40,
                color: false,
            })
            .unwrap();
            assert!(
                out.contains("check: every invariant holds"),
                "{kind:?}:\n{out}"
            );
            assert!(out.contains("0040 "), "{kind:?} has 40 steps:\n{out}");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_output() {
        let opts = Options {
            kind: Kind::Lab,
            seed: 9,
            ops: 30,
            color: false,
        };
        assert_eq!(run(&opts).unwrap(), run(&opts).unwrap());
    }
}
