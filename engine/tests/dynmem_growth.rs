//! LiteOS pool growth from buddy pages: when a `DynMem` pool with expansion enabled runs out
//! and has no spare area left, `OsMemPoolExpand` takes contiguous pages from the physical
//! page allocator and links them in as a new area. Both allocators must stay consistent.

mod common;

use common::assert_golden;
use memplay_engine::dynmem::DynMem;
use memplay_engine::pages::{PhysArea, PhysMem};
use memplay_engine::prng::Prng;
use memplay_engine::trace::{Quiet, TextSink};
use memplay_engine::{Addr, AllocError, Allocator, Ctx, Name, Owner, Ram, RegionKind};

const DDR: Addr = 0x2000_0000;

/// 64 KiB of 1 KiB pages, and a 2 KiB LiteOS pool built on two of them.
fn boot(sink: &mut dyn memplay_engine::Sink) -> (Ram<Vec<u8>>, PhysMem, DynMem) {
    let mut ram = Ram::new(vec![0u8; 0x10000]);
    ram.add_region(Name::lit("ddr"), RegionKind::External, DDR, 0x10000)
        .unwrap();
    let mut cx = Ctx::new(&mut ram, sink);
    let area = PhysArea {
        start: DDR,
        size: 0x10000,
    };
    let pm = PhysMem::boot(&mut cx, Name::lit("pages"), 1024, &[area]).unwrap();
    let pool = pm.alloc_contiguous(&mut cx, 2).unwrap();
    let mut dm = DynMem::init(&mut cx, Name::lit("dyn"), pool, 2048, 1).unwrap();
    dm.expand_enable(&mut cx, &[]).unwrap();
    (ram, pm, dm)
}

#[test]
fn a_full_pool_grows_by_buddy_pages() {
    let mut q = Quiet;
    let (mut ram, mut pm, mut dm) = boot(&mut q);
    let free_before = pm.free_pages_count(&ram).unwrap();
    let mut cx = Ctx::new(&mut ram, &mut q);
    // Without a source the pool is simply full.
    let big = 3000;
    assert!(matches!(
        dm.alloc(&mut cx, big, Owner(1)),
        Err(AllocError::OutOfMemory { .. })
    ));
    // With the buddy as the source it grows: 3000 bytes + node and end headers = 3 pages.
    let p = dm.alloc_growing(&mut cx, big, Owner(1), &mut pm).unwrap();
    let mut areas = [(0, 0); 8];
    assert_eq!(dm.areas(&ram, &mut areas).unwrap(), 2, "one area was added");
    // Three pages are asked for; the buddy rounds them up to an order-2 block of four.
    assert_eq!(pm.free_pages_count(&ram).unwrap(), free_before - 4);
    let grown = areas[1];
    assert!(
        grown.0 <= p && p < grown.0 + grown.1,
        "the block is in the new area"
    );
    dm.check(&ram).unwrap();
    pm.check(&ram).unwrap();
    // Freed, the grown area serves later requests without growing again; a request only it
    // can hold (the first area has under 2 KiB) lands there.
    let mut cx = Ctx::new(&mut ram, &mut q);
    dm.free(&mut cx, p).unwrap();
    let q1 = dm.alloc_growing(&mut cx, 2500, Owner(2), &mut pm).unwrap();
    assert_eq!(dm.areas(&ram, &mut areas).unwrap(), 2, "no new area");
    dm.check(&ram).unwrap();
    assert!(grown.0 <= q1 && q1 < grown.0 + grown.1);
}

#[test]
fn growth_stops_when_the_buddy_is_out_of_pages() {
    let mut q = Quiet;
    let (mut ram, mut pm, mut dm) = boot(&mut q);
    let mut cx = Ctx::new(&mut ram, &mut q);
    // Take every page the buddy has left.
    while pm.alloc_contiguous(&mut cx, 1).is_ok() {}
    let e = dm
        .alloc_growing(&mut cx, 3000, Owner(1), &mut pm)
        .unwrap_err();
    assert!(matches!(
        e,
        AllocError::OutOfMemory {
            requested: 3000,
            ..
        }
    ));
    dm.check(&ram).unwrap();
    pm.check(&ram).unwrap();
}

#[test]
fn random_workload_growing_from_pages_keeps_both_allocators_consistent() {
    let mut steps = 0u32;
    for seed in 0..8u64 {
        let mut q = Quiet;
        let (mut ram, mut pm, mut dm) = boot(&mut q);
        let mut prng = Prng::new(seed);
        let mut live: Vec<(Addr, u32, u8)> = Vec::new();
        for step in 0..250u32 {
            let mut cx = Ctx::new(&mut ram, &mut q);
            if !live.is_empty() && prng.below(10) < 4 {
                let (addr, _, _) = live.swap_remove(prng.below(live.len() as u32) as usize);
                dm.free(&mut cx, addr).unwrap();
            } else {
                let size = prng.range(1, 1500);
                match dm.alloc_growing(&mut cx, size, Owner(1), &mut pm) {
                    Ok(addr) => {
                        let fill = (step as u8) | 1;
                        cx.ram.fill(addr, size, fill).unwrap();
                        live.push((addr, size, fill));
                    }
                    Err(AllocError::OutOfMemory { .. }) => {}
                    Err(e) => panic!("seed {seed} step {step}: {e}"),
                }
            }
            dm.check(&ram)
                .unwrap_or_else(|e| panic!("seed {seed} step {step}: dyn {e}"));
            pm.check(&ram)
                .unwrap_or_else(|e| panic!("seed {seed} step {step}: pages {e}"));
            for &(addr, size, fill) in &live {
                let bytes = ram.slice(addr, size).unwrap();
                assert!(
                    bytes.iter().all(|&b| b == fill),
                    "seed {seed}: block {addr:#x} lost"
                );
            }
            steps += 1;
        }
    }
    assert!(steps >= 2000);
}

#[test]
fn golden_trace_of_growth_from_pages() {
    let mut sink = TextSink::new(String::new());
    let (mut ram, mut pm, mut dm) = boot(&mut sink);
    sink.step = 1;
    let mut cx = Ctx::new(&mut ram, &mut sink);
    let p = dm.alloc_growing(&mut cx, 3000, Owner(1), &mut pm).unwrap();
    sink.step = 2;
    let mut cx = Ctx::new(&mut ram, &mut sink);
    dm.free(&mut cx, p).unwrap();
    assert!(sink.out.contains("0001 pages.alloc"));
    assert!(sink.out.lines().any(|l| l.starts_with("0001 dyn.grow")));
    assert_golden("dynmem_grows_from_buddy", &sink.out);
}
