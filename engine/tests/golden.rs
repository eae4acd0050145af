//! Golden traces: one short scenario per allocator, each showing the mechanism a lesson
//! teaches, rendered as canonical lines and compared byte for byte with
//! `tests/golden/<name>.trace`. Regenerate with `MEMPLAY_BLESS=1 cargo test --test golden`
//! and review the diff: a changed golden file is a changed trace format or behaviour.

mod common;

use common::assert_golden;
use memplay_engine::ctrl_buffer::CtrlBuffer;
use memplay_engine::dynmem::DynMem;
use memplay_engine::partition::PartitionPool;
use memplay_engine::policy_lab::{FitPolicy, LabConfig, ListOrder, PolicyLab};
use memplay_engine::sysmem::{Area, SystemMemory};
use memplay_engine::tlsf::{Tlsf, TlsfConfig};
use memplay_engine::trace::TextSink;
use memplay_engine::{Addr, Allocator, Ctx, Name, Owner, Ram, RegionKind};

const ISRAM: Addr = 0x4000_0000;
const EXTSRAM: Addr = 0x0800_0000;

/// A machine of two regions and a numbered text trace.
struct Rig {
    ram: Ram<Vec<u8>>,
    sink: TextSink<String>,
}

impl Rig {
    fn new() -> Rig {
        let mut ram = Ram::new(vec![0u8; 0x3000]);
        ram.add_region(Name::lit("isram"), RegionKind::Internal, ISRAM, 0x1000)
            .unwrap();
        ram.add_region(Name::lit("extsram"), RegionKind::External, EXTSRAM, 0x2000)
            .unwrap();
        Rig {
            ram,
            sink: TextSink::new(String::new()),
        }
    }

    /// The context for the next step.
    fn step(&mut self) -> Ctx<'_, Vec<u8>> {
        self.sink.step += 1;
        Ctx::new(&mut self.ram, &mut self.sink)
    }

    /// The context for set-up, numbered step 0.
    fn boot(&mut self) -> Ctx<'_, Vec<u8>> {
        Ctx::new(&mut self.ram, &mut self.sink)
    }
}

const T: Owner = Owner(1);

#[test]
fn sysmem_boot_carves_internal_first_and_never_frees() {
    let mut r = Rig::new();
    // The control block (with its table of 4 carve records) opens the internal area.
    let areas = [Area::new(ISRAM, 160), Area::new(EXTSRAM, 1024)];
    let mut sys = SystemMemory::with_records(&mut r.boot(), Name::lit("sys"), &areas, 4).unwrap();
    let stack = sys.alloc(&mut r.step(), 64, T).unwrap(); // fits in internal SRAM
    sys.alloc(&mut r.step(), 200, T).unwrap(); // too big for what is left: external
    sys.alloc_in(&mut r.step(), Name::lit("extsram"), 30, T)
        .unwrap(); // rounded to 32
    assert!(sys.free(&mut r.step(), stack).is_err());
    sys.check(&r.ram).unwrap();
    assert_golden("sysmem_boot", &r.sink.out);
}

#[test]
fn partition_pool_free_list_magic_and_bad_frees() {
    let mut r = Rig::new();
    let mut pool =
        PartitionPool::with_count(&mut r.boot(), Name::lit("part"), EXTSRAM, 32, 4).unwrap();
    let a = pool.alloc(&mut r.step(), 20, T).unwrap();
    let b = pool.alloc(&mut r.step(), 32, T).unwrap();
    pool.free(&mut r.step(), a).unwrap();
    assert!(pool.free(&mut r.step(), a).is_err()); // double free
    assert!(pool.free(&mut r.step(), b + 4).is_err()); // interior pointer
    assert!(pool.alloc(&mut r.step(), 33, T).is_err()); // larger than a block
    pool.check(&r.ram).unwrap();
    assert_golden("partition_membox", &r.sink.out);
}

#[test]
fn ctrl_buffer_takes_the_smallest_class_and_falls_through() {
    let mut r = Rig::new();
    let mut sys =
        SystemMemory::new(&mut r.boot(), Name::lit("sys"), &[Area::new(EXTSRAM, 2048)]).unwrap();
    let table = [(32, 2), (64, 1), (128, 1)];
    let mut ctrl = CtrlBuffer::new(&mut r.boot(), Name::lit("ctrl"), &mut sys, &table).unwrap();
    ctrl.alloc(&mut r.step(), 20, T).unwrap(); // 32-byte class
    ctrl.alloc(&mut r.step(), 30, T).unwrap(); // 32-byte class, now empty
    ctrl.alloc(&mut r.step(), 24, T).unwrap(); // falls through to 64
    ctrl.alloc(&mut r.step(), 100, T).unwrap(); // 128
    assert!(ctrl.alloc(&mut r.step(), 10, T).is_err()); // every class that fits is empty
    assert!(ctrl.alloc(&mut r.step(), 3000, T).is_err()); // above 128: use ADM
    ctrl.check(&r.ram).unwrap();
    assert_golden("ctrl_buffer_fallback", &r.sink.out);
}

#[test]
fn dynmem_best_fit_split_and_coalesce() {
    let mut r = Rig::new();
    let mut dm = DynMem::init(&mut r.boot(), Name::lit("dyn"), EXTSRAM, 512, 1).unwrap();
    let a = dm.alloc(&mut r.step(), 64, Owner(1)).unwrap();
    let b = dm.alloc(&mut r.step(), 100, Owner(2)).unwrap();
    let c = dm.alloc(&mut r.step(), 64, Owner(3)).unwrap();
    dm.free(&mut r.step(), b).unwrap(); // a 116-byte hole between a and c
    let d = dm.alloc(&mut r.step(), 24, Owner(2)).unwrap(); // best fit: the hole, split
    dm.free(&mut r.step(), d).unwrap(); // merges with the hole's remainder
    assert!(dm.free(&mut r.step(), d).is_err()); // double free
    dm.free(&mut r.step(), a).unwrap(); // merges right
    dm.free(&mut r.step(), c).unwrap(); // merges both ways: one free node again
    dm.check(&r.ram).unwrap();
    assert_golden("dynmem_split_coalesce", &r.sink.out);
}

#[test]
fn tlsf_classes_split_merge_and_realloc() {
    let mut r = Rig::new();
    let config = TlsfConfig {
        sl_log2: 2,
        ..TlsfConfig::default()
    };
    let mut t = Tlsf::new(&mut r.boot(), Name::lit("tlsf"), EXTSRAM, 1024, config).unwrap();
    let a = t.alloc(&mut r.step(), 100, T).unwrap();
    let b = t.alloc(&mut r.step(), 40, T).unwrap();
    let a = t.realloc(&mut r.step(), a, 60, T).unwrap(); // shrinks in place
    t.free(&mut r.step(), b).unwrap(); // merges with the free rest
    let a = t.realloc(&mut r.step(), a, 300, T).unwrap(); // grows in place
    t.free(&mut r.step(), a).unwrap();
    t.check(&r.ram).unwrap();
    assert_golden("tlsf_split_merge", &r.sink.out);
}

#[test]
fn policy_lab_one_workload_four_fits() {
    let mut r = Rig::new();
    for (i, fit) in [
        FitPolicy::First,
        FitPolicy::Best,
        FitPolicy::Worst,
        FitPolicy::Next,
    ]
    .into_iter()
    .enumerate()
    {
        let config = LabConfig {
            fit,
            order: ListOrder::Address,
            coalesce: true,
            header: 4,
            align: 4,
        };
        let name = Name::new(&format!("lab_{}", fit.as_str())).unwrap();
        let base = EXTSRAM + i as u32 * 0x200;
        let mut lab = PolicyLab::new(&mut r.boot(), name, base, 0x200, config).unwrap();
        // Free blocks of 16, 48 and 32 bytes separated by live ones, then ask for 20 and 28.
        let mut keep = Vec::new();
        let mut holes = Vec::new();
        for size in [12, 4, 44, 4, 28, 4] {
            let p = lab.alloc(&mut r.step(), size, T).unwrap();
            if size == 4 {
                keep.push(p);
            } else {
                holes.push(p);
            }
        }
        for p in holes {
            lab.free(&mut r.step(), p).unwrap();
        }
        lab.alloc(&mut r.step(), 20, T).unwrap();
        lab.alloc(&mut r.step(), 28, T).unwrap();
        lab.check(&r.ram).unwrap();
        assert_eq!(keep.len(), 3);
    }
    assert_golden("policy_lab_four_fits", &r.sink.out);
}
