//! Physical pages: boot, the page array, the buddy allocator, LRU reclaim.

mod common;

use memplay_engine::pages::{PhysArea, PhysMem};
use memplay_engine::trace::TextSink;
use memplay_engine::{Ctx, Name, Ram, RegionKind};

/// The golden machine: 256-byte pages; the first area is exactly eaten by boot memory,
/// the second is one aligned order-9 block.
fn golden_ram() -> Ram<Vec<u8>> {
    let mut ram = Ram::new(vec![0u8; 0x40000]);
    ram.add_region(Name::lit("ddr"), RegionKind::External, 0x4000_0000, 0x40000)
        .unwrap();
    ram
}

const GOLDEN_AREAS: [PhysArea; 2] = [
    PhysArea {
        start: 0x4000_0000,
        size: 86 * 256,
    },
    PhysArea {
        start: 0x4002_0000,
        size: 0x20000,
    },
];

#[test]
fn golden_buddy_boot_split_and_merge() {
    let mut ram = golden_ram();
    let mut sink = TextSink::new(String::new());
    let pm = {
        let mut cx = Ctx::new(&mut ram, &mut sink);
        PhysMem::boot(&mut cx, Name::lit("pages"), 256, &GOLDEN_AREAS).unwrap()
    };
    sink.step = 1;
    let page = {
        let mut cx = Ctx::new(&mut ram, &mut sink);
        pm.alloc_pages(&mut cx, 0).unwrap()
    };
    pm.check(&ram).unwrap();
    sink.step = 2;
    {
        let mut cx = Ctx::new(&mut ram, &mut sink);
        pm.free_pages(&mut cx, page, 0).unwrap();
    }
    pm.check(&ram).unwrap();
    assert!(!sink.overflowed);
    common::assert_golden("buddy_boot", &sink.out);
}

// ---- helpers ----

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use common::{run_suite, Harness};
use memplay_engine::pages::{
    entry, order_for, pg, segdesc, LruList, PageError, PageEvent, MAX_ORDER, ORDERS,
};
use memplay_engine::trace::{Quiet, Recorder};
use memplay_engine::{Addr, AllocError, Allocator, ConfigError, EventKind, Owner};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// A sink whose events stay readable while a `Ctx` borrows it.
#[derive(Clone, Default)]
struct Log(std::rc::Rc<std::cell::RefCell<Vec<memplay_engine::Event>>>);

impl memplay_engine::Sink for Log {
    fn event(&mut self, e: &memplay_engine::Event) {
        self.0.borrow_mut().push(*e);
    }
}

impl Log {
    fn last(&self) -> Option<EventKind> {
        self.0.borrow().last().map(|e| e.kind)
    }
    fn clear(&self) {
        self.0.borrow_mut().clear();
    }
    fn kinds(&self) -> Vec<EventKind> {
        self.0.borrow().iter().map(|e| e.kind).collect()
    }
}

fn ram_at(base: Addr, size: u32) -> Ram<Vec<u8>> {
    let mut ram = Ram::new(vec![0u8; size as usize]);
    ram.add_region(Name::lit("ddr"), RegionKind::External, base, size)
        .unwrap();
    ram
}

fn boot(ram: &mut Ram<Vec<u8>>, page_size: u32, areas: &[PhysArea]) -> PhysMem {
    let mut q = Quiet;
    let mut cx = Ctx::new(ram, &mut q);
    PhysMem::boot(&mut cx, Name::lit("pages"), page_size, areas).unwrap()
}

/// One 64 KiB area of 256-byte pages at 0x20000000.
fn small() -> (Ram<Vec<u8>>, PhysMem) {
    let mut ram = ram_at(0x2000_0000, 0x10000);
    let pm = boot(
        &mut ram,
        256,
        &[PhysArea {
            start: 0x2000_0000,
            size: 0x10000,
        }],
    );
    (ram, pm)
}

fn last_fault(rec: &Recorder) -> Option<PageError> {
    match rec.events.last().map(|e| e.kind) {
        Some(EventKind::Page(PageEvent::Fault { error, .. })) => Some(error),
        _ => None,
    }
}

// ---- boot and the page array ----

#[test]
fn boot_carves_the_page_array_from_the_first_area() {
    let (ram, pm) = small();
    // 256 pages of 36-byte entries after a 176-byte control block: 9392 bytes, 37 pages.
    let f = pm.figures();
    assert_eq!(f.entries, 256);
    assert_eq!(f.entry_size, 36);
    assert_eq!(f.array_bytes, 9216);
    assert_eq!(f.ctrl_bytes, 20 + segdesc::SIZE);
    assert_eq!(f.boot_bytes, 37 * 256);
    assert_eq!(f.managed_pages, 256 - 37);
    assert_eq!(f.unused_entries, 37);
    assert_eq!(f.cost_permille, 144);
    let seg = pm.segments()[0];
    assert_eq!(seg.start, 0x2000_0000 + 37 * 256);
    assert_eq!(pm.array_addr(), 0x2000_0000 + f.ctrl_bytes);
    // Every page is free in the largest aligned blocks that fit: frame 37 (order 0),
    // 38 (1), 40 (3), 48 (4), 64 (6), 128 (7).
    let counts = pm.free_counts(&ram).unwrap();
    assert_eq!(counts, [1, 1, 0, 1, 1, 0, 1, 1, 0, 0]);
    assert_eq!(pm.free_pages_count(&ram).unwrap(), 219);
    pm.check(&ram).unwrap();
    // An entry holds its page's physical address.
    let e = seg.page_base + 5 * entry::SIZE;
    assert_eq!(ram.read_u32(e + entry::PHYS).unwrap(), seg.start + 5 * 256);
}

#[test]
fn page_array_cost_for_each_page_size() {
    let mut lines = Vec::new();
    for (page_size, ram_size) in [
        (256u32, 0x10_0000u32),
        (1024, 0x10_0000),
        (4096, 0x10_0000),
        (65536, 0x10_0000),
        (4096, 0x100_0000),
    ] {
        let mut ram = ram_at(0x4000_0000, ram_size);
        let pm = boot(
            &mut ram,
            page_size,
            &[PhysArea {
                start: 0x4000_0000,
                size: ram_size,
            }],
        );
        pm.check(&ram).unwrap();
        let f = pm.figures();
        assert_eq!(f.array_bytes, f.entries * 36);
        assert_eq!(f.entries as u64 * page_size as u64, ram_size as u64);
        assert_eq!(
            f.boot_bytes,
            (f.ctrl_bytes + f.array_bytes).next_multiple_of(page_size)
        );
        lines.push(format!(
            "page {page_size:>5} B, RAM {:>5} KiB: {:>5} entries x 36 B = {:>6} B array + {} B ctrl -> {:>6} B boot memory ({}.{}%), {} pages managed, {} entries unused",
            ram_size / 1024,
            f.entries,
            f.array_bytes,
            f.ctrl_bytes,
            f.boot_bytes,
            f.cost_permille / 10,
            f.cost_permille % 10,
            f.managed_pages,
            f.unused_entries
        ));
    }
    for l in &lines {
        eprintln!("{l}");
    }
}

#[test]
fn boot_refuses_bad_configurations() {
    let area = |start, size| PhysArea { start, size };
    let cases: Vec<(u32, Vec<PhysArea>, ConfigError)> = vec![
        (
            0,
            vec![area(0x2000_0000, 0x10000)],
            ConfigError::BadBlockSize { size: 0 },
        ),
        (
            100,
            vec![area(0x2000_0000, 0x10000)],
            ConfigError::BadBlockSize { size: 100 },
        ),
        (
            128,
            vec![area(0x2000_0000, 0x10000)],
            ConfigError::BadBlockSize { size: 128 },
        ),
        (
            1 << 17,
            vec![area(0x2000_0000, 0x10000)],
            ConfigError::BadBlockSize { size: 1 << 17 },
        ),
        (
            u32::MAX,
            vec![area(0x2000_0000, 0x10000)],
            ConfigError::BadBlockSize { size: u32::MAX },
        ),
        (256, vec![], ConfigError::NoBlocks),
        (
            256,
            vec![area(0x2000_0000, 0x1000); 5],
            ConfigError::TooMany { max: 4 },
        ),
        (
            256,
            vec![area(0x2000_0080, 0x1000)],
            ConfigError::Misaligned {
                addr: 0x2000_0080,
                align: 256,
            },
        ),
        (
            256,
            vec![area(0x2000_0000, 0x20000)],
            ConfigError::NotInRam {
                addr: 0x2000_0000,
                size: 0x20000,
            },
        ),
        (
            256,
            vec![area(0x1000_0000, 0x1000)],
            ConfigError::NotInRam {
                addr: 0x1000_0000,
                size: 0x1000,
            },
        ),
        (
            256,
            vec![area(0x2000_0000, 0xff)],
            ConfigError::TooSmall {
                needed: 256,
                available: 0xff,
            },
        ),
        (
            256,
            vec![area(0x2000_8000, 0x8000), area(0x2000_0000, 0x1000)],
            ConfigError::Overlaps {
                addr: 0x2000_0000,
                size: 0x1000,
            },
        ),
        (
            256,
            vec![area(0x2000_0000, 0x9000), area(0x2000_8000, 0x1000)],
            ConfigError::Overlaps {
                addr: 0x2000_8000,
                size: 0x1000,
            },
        ),
        // Boot memory for 17 pages (4 pages of it) does not fit in the first area.
        (
            256,
            vec![area(0x2000_0000, 0x100), area(0x2000_1000, 0x1000)],
            ConfigError::TooSmall {
                needed: 1024,
                available: 0x100,
            },
        ),
    ];
    for (page_size, areas, want) in cases {
        let mut ram = ram_at(0x2000_0000, 0x10000);
        let mut rec = Recorder::default();
        let mut cx = Ctx::new(&mut ram, &mut rec);
        let got = PhysMem::boot(&mut cx, Name::lit("pages"), page_size, &areas);
        assert_eq!(
            got.err(),
            Some(PageError::Config(want)),
            "{page_size} {areas:?}"
        );
        assert_eq!(last_fault(&rec), Some(PageError::Config(want)));
    }
}

// ---- the buddy ----

#[test]
fn allocation_splits_the_lowest_block_and_free_merges_it_back() {
    let (mut ram, pm) = small();
    let before = ram.slice(0x2000_0000, 0x10000).unwrap().to_vec();
    let mut rec = Recorder::default();
    let mut cx = Ctx::new(&mut ram, &mut rec);
    // Free blocks: frame 37 (order 0), 38 (1), 40 (3), 48 (4), 64 (6), 128 (7).
    let a = pm.alloc_pages(&mut cx, 2).unwrap(); // no order 2: split the order-3 block
    assert_eq!(a, 0x2000_0000 + 40 * 256);
    let b = pm.alloc_pages(&mut cx, 2).unwrap(); // its other half
    assert_eq!(b, 0x2000_0000 + 44 * 256);
    let c = pm.alloc_pages(&mut cx, 0).unwrap(); // the lone page at frame 37
    assert_eq!(c, 0x2000_0000 + 37 * 256);
    let d = pm.alloc_pages(&mut cx, 0).unwrap(); // split the order-1 block at 38
    assert_eq!(d, 0x2000_0000 + 38 * 256);
    pm.check(&ram).unwrap();
    let splits = rec
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Split { .. }))
        .count();
    assert_eq!(splits, 2);
    let mut cx = Ctx::new(&mut ram, &mut rec);
    for (addr, order) in [(b, 2), (d, 0), (a, 2), (c, 0)] {
        pm.free_pages(&mut cx, addr, order).unwrap();
    }
    pm.check(&ram).unwrap();
    assert_eq!(
        pm.free_counts(&ram).unwrap(),
        [1, 1, 0, 1, 1, 0, 1, 1, 0, 0]
    );
    // Freeing everything restores the boot state byte for byte.
    assert_eq!(ram.slice(0x2000_0000, 0x10000).unwrap(), &before[..]);
}

#[test]
fn contiguous_requests_round_up_to_an_order() {
    let (mut ram, pm) = small();
    let mut rec = Recorder::default();
    let mut cx = Ctx::new(&mut ram, &mut rec);
    let a = pm.alloc_contiguous(&mut cx, 5).unwrap();
    let info = pm.block_info(cx.ram, a).unwrap().unwrap();
    assert_eq!(
        (info.order, info.npages, info.refs, info.free),
        (3, 5, 1, false)
    );
    // The walk shows the 5 pages asked for and 3 pages of padding.
    let mut spans = Vec::new();
    pm.walk(&ram, &mut |b| spans.push(b)).unwrap();
    let payload = spans.iter().find(|s| s.addr == a).unwrap();
    assert_eq!((payload.len, payload.kind.as_str()), (5 * 256, "payload"));
    let pad = spans.iter().find(|s| s.addr == a + 5 * 256).unwrap();
    assert_eq!((pad.len, pad.kind.as_str()), (3 * 256, "padding"));
    let stats = pm.stats(&ram).unwrap();
    assert_eq!(stats.capacity, 0x10000);
    assert_eq!(stats.used, 5 * 256);
    let mut cx = Ctx::new(&mut ram, &mut rec);
    assert_eq!(
        pm.free_contiguous(&mut cx, a, 9),
        Err(PageError::WrongOrder {
            addr: a,
            given: 4,
            actual: 3
        })
    );
    pm.free_contiguous(&mut cx, a, 8).unwrap();
    pm.check(&ram).unwrap();
    assert_eq!(order_for(1), 0);
    assert_eq!(order_for(2), 1);
    assert_eq!(order_for(3), 2);
    assert_eq!(order_for(512), 9);
    assert_eq!(order_for(513), 10);
}

#[test]
fn bad_requests_and_frees_are_typed_and_change_nothing() {
    let (mut ram, pm) = small();
    let mut q = Quiet;
    let (a, b) = {
        let mut cx = Ctx::new(&mut ram, &mut q);
        let a = pm.alloc_pages(&mut cx, 2).unwrap();
        let b = pm.alloc_pages(&mut cx, 0).unwrap();
        pm.free_pages(&mut cx, b, 0).unwrap();
        (a, b)
    };
    let snapshot = ram.slice(0x2000_0000, 0x10000).unwrap().to_vec();
    let seg = pm.segments()[0];
    let free_block = seg.start + 128 * 256; // the order-7 block
    let cases: Vec<(&str, PageError)> = vec![
        ("order 10", PageError::BadOrder { order: 10 }),
        ("0 pages", PageError::ZeroPages),
        (
            "513 pages",
            PageError::TooLarge {
                npages: 513,
                max: 512,
            },
        ),
        (
            "u32::MAX pages",
            PageError::TooLarge {
                npages: u32::MAX,
                max: 512,
            },
        ),
        ("free outside RAM", PageError::NotPage { addr: 0x1000 }),
        ("free u32::MAX", PageError::NotPage { addr: u32::MAX }),
        ("free boot memory", PageError::NotPage { addr: 0x2000_0000 }),
        ("free misaligned", PageError::NotPage { addr: a + 4 }),
        ("free interior", PageError::NotBlockHead { addr: a + 256 }),
        ("double free", PageError::DoubleFree { addr: b }),
        (
            "free in a free block",
            PageError::DoubleFree {
                addr: free_block + 512,
            },
        ),
        (
            "free head of a free block",
            PageError::DoubleFree { addr: free_block },
        ),
        (
            "wrong order",
            PageError::WrongOrder {
                addr: a,
                given: 1,
                actual: 2,
            },
        ),
        ("bad order", PageError::BadOrder { order: 12 }),
        ("touch off the LRU", PageError::NotOnLru { addr: a }),
        ("touch a free page", PageError::DoubleFree { addr: b }),
    ];
    for (what, want) in cases {
        let mut rec = Recorder::default();
        let mut cx = Ctx::new(&mut ram, &mut rec);
        let got = match what {
            "order 10" => pm.alloc_pages(&mut cx, 10).map(|_| ()),
            "0 pages" => pm.alloc_contiguous(&mut cx, 0).map(|_| ()),
            "513 pages" => pm.alloc_contiguous(&mut cx, 513).map(|_| ()),
            "u32::MAX pages" => pm.alloc_contiguous(&mut cx, u32::MAX).map(|_| ()),
            "free outside RAM" => pm.free_pages(&mut cx, 0x1000, 0),
            "free u32::MAX" => pm.free_contiguous(&mut cx, u32::MAX, 1),
            "free boot memory" => pm.free_pages(&mut cx, 0x2000_0000, 0),
            "free misaligned" => pm.free_pages(&mut cx, a + 4, 2),
            "free interior" => pm.free_pages(&mut cx, a + 256, 2),
            "double free" => pm.free_pages(&mut cx, b, 0),
            "free in a free block" => pm.free_pages(&mut cx, free_block + 512, 0),
            "free head of a free block" => pm.free_pages(&mut cx, free_block, 7),
            "wrong order" => pm.free_pages(&mut cx, a, 1),
            "bad order" => pm.free_pages(&mut cx, a, 12),
            "touch off the LRU" => pm.touch(&mut cx, a),
            "touch a free page" => pm.touch(&mut cx, b),
            _ => unreachable!(),
        };
        assert_eq!(got, Err(want), "{what}");
        assert_eq!(last_fault(&rec), Some(want), "{what}: fault event");
        assert_eq!(rec.events.len(), 1, "{what}: only the fault event");
        assert_eq!(
            ram.slice(0x2000_0000, 0x10000).unwrap(),
            &snapshot[..],
            "{what}: RAM changed"
        );
    }
    // Through the allocator trait the same frees give the harness's error kinds.
    let mut pm2 = pm;
    let mut cx = Ctx::new(&mut ram, &mut q);
    assert_eq!(
        pm2.free(&mut cx, a + 256),
        Err(AllocError::InvalidPointer { addr: a + 256 })
    );
    assert_eq!(
        pm2.free(&mut cx, b),
        Err(AllocError::DoubleFree { addr: b })
    );
    assert_eq!(pm2.alloc(&mut cx, 0, Owner(1)), Err(AllocError::ZeroSize));
    assert_eq!(
        pm2.alloc(&mut cx, u32::MAX, Owner(1)),
        Err(AllocError::TooLarge {
            requested: u32::MAX,
            max: 512 * 256
        })
    );
}

#[test]
fn out_of_pages_names_the_largest_free_order() {
    let (mut ram, pm) = small();
    let mut rec = Recorder::default();
    let mut cx = Ctx::new(&mut ram, &mut rec);
    // The largest block is order 7; order 8 cannot be served.
    assert_eq!(
        pm.alloc_pages(&mut cx, 8),
        Err(PageError::OutOfPages {
            order: 8,
            largest: Some(7)
        })
    );
    // Take everything, then even order 0 fails with no free page at all.
    while pm.alloc_pages(&mut cx, 0).is_ok() {}
    let err = pm.alloc_pages(&mut cx, 0).unwrap_err();
    assert_eq!(
        err,
        PageError::OutOfPages {
            order: 0,
            largest: None
        }
    );
    let mut text = String::new();
    err.write_canonical(&mut text).unwrap();
    assert_eq!(text, "error=OutOfPages order=0 largest_free_order=none");
    pm.check(&ram).unwrap();
    assert_eq!(pm.free_pages_count(&ram).unwrap(), 0);
}

#[test]
fn references_keep_a_block_until_the_last_is_dropped() {
    let (mut ram, pm) = small();
    let log = Log::default();
    let mut sink = log.clone();
    let mut cx = Ctx::new(&mut ram, &mut sink);
    let a = pm.alloc_pages(&mut cx, 1).unwrap();
    assert_eq!(pm.get_page(&mut cx, a), Ok(2));
    pm.free_pages(&mut cx, a, 1).unwrap();
    assert_eq!(
        log.last(),
        Some(EventKind::Page(PageEvent::Put { page: a, refs: 1 }))
    );
    assert!(!pm.block_info(cx.ram, a).unwrap().unwrap().free);
    pm.put_page(&mut cx, a).unwrap();
    assert!(pm.block_info(cx.ram, a).unwrap().unwrap().free);
    // A block whose only reference is a page-table mapping refuses a plain free.
    let b = pm.alloc_pages(&mut cx, 0).unwrap();
    pm.set_mapping(&mut cx, b, 0x2000_0010).unwrap();
    assert_eq!(
        pm.free_pages(&mut cx, b, 0),
        Err(PageError::Mapped {
            addr: b,
            pte: 0x2000_0010
        })
    );
    pm.set_mapping(&mut cx, b, 0).unwrap();
    pm.free_pages(&mut cx, b, 0).unwrap();
    pm.check(&ram).unwrap();
}

// ---- LRU ----

#[test]
fn touching_moves_a_page_to_the_active_head() {
    let (mut ram, pm) = small();
    let log = Log::default();
    let mut sink = log.clone();
    let mut cx = Ctx::new(&mut ram, &mut sink);
    let a = pm.alloc_pages(&mut cx, 0).unwrap();
    let b = pm.alloc_pages(&mut cx, 0).unwrap();
    pm.lru_add(&mut cx, a).unwrap();
    pm.lru_add(&mut cx, b).unwrap();
    assert_eq!(
        pm.lru_add(&mut cx, b),
        Err(PageError::AlreadyOnLru { addr: b })
    );
    assert_eq!(pm.lru_sizes(cx.ram).unwrap(), (2, 0));
    pm.touch(&mut cx, a).unwrap();
    assert_eq!(
        log.last(),
        Some(EventKind::Page(PageEvent::Touch {
            page: a,
            from: LruList::Inactive
        }))
    );
    assert_eq!(pm.lru_sizes(cx.ram).unwrap(), (1, 1));
    assert_eq!(
        pm.block_info(cx.ram, a).unwrap().unwrap().lru,
        Some(LruList::Active)
    );
    pm.touch(&mut cx, a).unwrap();
    assert_eq!(pm.lru_sizes(cx.ram).unwrap(), (1, 1));
    // Freeing takes a page off its LRU list.
    pm.free_pages(&mut cx, a, 0).unwrap();
    assert_eq!(pm.lru_sizes(cx.ram).unwrap(), (1, 0));
    pm.check(&ram).unwrap();
}

#[test]
fn reclaim_writes_back_the_inactive_tail_and_retries() {
    let (mut ram, pm) = small();
    let log = Log::default();
    let mut sink = log.clone();
    let mut cx = Ctx::new(&mut ram, &mut sink);
    // Fill memory with order-0 pages; the first three go on the LRU, oldest first.
    let mut pages = Vec::new();
    while let Ok(p) = pm.alloc_pages(&mut cx, 0) {
        pages.push(p);
    }
    let (p0, p1, p2) = (pages[0], pages[1], pages[2]);
    for p in [p0, p1, p2] {
        pm.lru_add(&mut cx, p).unwrap();
    }
    pm.touch(&mut cx, p0).unwrap(); // p0 is now active: p1 is the inactive tail
    log.clear();
    let got = pm.alloc_pages(&mut cx, 0).unwrap();
    assert_eq!(
        got, p1,
        "the inactive tail was reclaimed and handed out again"
    );
    let writebacks: Vec<_> = log
        .kinds()
        .into_iter()
        .filter_map(|k| match k {
            EventKind::Page(PageEvent::Writeback { page, order, pte }) => Some((page, order, pte)),
            _ => None,
        })
        .collect();
    assert_eq!(writebacks, vec![(p1, 0, 0)]);
    // Next the other inactive page, then the active one once the inactive list is empty.
    assert_eq!(pm.alloc_pages(&mut cx, 0).unwrap(), p2);
    log.clear();
    assert_eq!(pm.alloc_pages(&mut cx, 0).unwrap(), p0);
    assert!(log.kinds().contains(&EventKind::Page(PageEvent::LruMove {
        page: p0,
        from: LruList::Active,
        to: LruList::Inactive
    })));
    // Nothing reclaimable is left.
    assert_eq!(
        pm.alloc_pages(&mut cx, 0),
        Err(PageError::OutOfPages {
            order: 0,
            largest: None
        })
    );
    pm.check(&ram).unwrap();
}

#[test]
fn reclaim_skips_pages_with_other_references_and_clears_the_mapping() {
    let (mut ram, pm) = small();
    let mut q = Quiet;
    let mut cx = Ctx::new(&mut ram, &mut q);
    let mut pages = Vec::new();
    while let Ok(p) = pm.alloc_pages(&mut cx, 0) {
        pages.push(p);
    }
    // The VM maps 4 KiB frames: take a page at a 4 KiB boundary as the mapped one.
    let pinned = pages[0];
    let mapped = *pages.iter().find(|&&p| p % 4096 == 0).unwrap();
    pm.lru_add(&mut cx, pinned).unwrap();
    pm.get_page(&mut cx, pinned).unwrap();
    pm.lru_add(&mut cx, mapped).unwrap();
    // A fake page-table entry for `mapped` in a page we own.
    let pte_at = pages[1];
    cx.ram.write_u32(pte_at, mapped | 0x33).unwrap();
    pm.set_mapping(&mut cx, mapped, pte_at).unwrap();
    assert_eq!(pm.alloc_pages(&mut cx, 0).unwrap(), mapped);
    assert_eq!(
        cx.ram.read_u32(pte_at).unwrap(),
        0,
        "reclaim unmapped the page"
    );
    let info = pm.block_info(cx.ram, pinned).unwrap().unwrap();
    assert_eq!(
        info.lru,
        Some(LruList::Active),
        "a pinned page is rotated, not taken"
    );
    assert!(pm.alloc_pages(&mut cx, 0).is_err());
    pm.check(&ram).unwrap();
}

// ---- property tests ----

/// A model of the buddy and LRU lists, in plain Rust collections.
#[derive(Clone, Debug)]
struct Model {
    shift: u32,
    segs: Vec<SegModel>,
}

#[derive(Clone, Debug)]
struct SegModel {
    start: Addr,
    base_pfn: u32,
    npages: u32,
    free: Vec<BTreeSet<u32>>,
    /// Allocated blocks: head index -> (order, pages asked for).
    live: BTreeMap<u32, (u32, u32)>,
    inactive: VecDeque<u32>,
    active: VecDeque<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Where {
    NotPage,
    InFree,
    Head(usize, u32, u32),
    Interior,
}

impl Model {
    fn new(pm: &PhysMem) -> Model {
        let shift = pm.page_shift();
        let segs = pm
            .segments()
            .iter()
            .map(|s| {
                let base_pfn = s.start >> shift;
                let mut free = vec![BTreeSet::new(); ORDERS as usize];
                let mut idx = 0;
                while idx < s.npages {
                    let rest = s.npages - idx;
                    let order = (base_pfn + idx)
                        .trailing_zeros()
                        .min(MAX_ORDER)
                        .min(31 - rest.leading_zeros());
                    free[order as usize].insert(idx);
                    idx += 1 << order;
                }
                SegModel {
                    start: s.start,
                    base_pfn,
                    npages: s.npages,
                    free,
                    live: BTreeMap::new(),
                    inactive: VecDeque::new(),
                    active: VecDeque::new(),
                }
            })
            .collect();
        Model { shift, segs }
    }

    fn addr(&self, s: usize, idx: u32) -> Addr {
        self.segs[s].start + (idx << self.shift)
    }

    fn alloc(&mut self, order: u32, npages: u32) -> Result<Addr, PageError> {
        loop {
            for s in 0..self.segs.len() {
                for k in order..ORDERS {
                    let seg = &mut self.segs[s];
                    if let Some(&idx) = seg.free[k as usize].iter().next() {
                        seg.free[k as usize].remove(&idx);
                        let mut kk = k;
                        while kk > order {
                            kk -= 1;
                            seg.free[kk as usize].insert(idx + (1 << kk));
                        }
                        seg.live.insert(idx, (order, npages));
                        return Ok(self.addr(s, idx));
                    }
                }
            }
            if !self.reclaim_one() {
                let largest = (0..ORDERS)
                    .rev()
                    .find(|&o| self.segs.iter().any(|s| !s.free[o as usize].is_empty()));
                return Err(PageError::OutOfPages { order, largest });
            }
        }
    }

    fn reclaim_one(&mut self) -> bool {
        for s in 0..self.segs.len() {
            let seg = &mut self.segs[s];
            if seg.inactive.is_empty() {
                if let Some(p) = seg.active.pop_back() {
                    seg.inactive.push_front(p);
                }
            }
            if let Some(victim) = seg.inactive.pop_back() {
                self.release(s, victim);
                return true;
            }
        }
        false
    }

    fn release(&mut self, s: usize, idx: u32) {
        let seg = &mut self.segs[s];
        let (order, _) = seg.live.remove(&idx).unwrap();
        seg.inactive.retain(|&p| p != idx);
        seg.active.retain(|&p| p != idx);
        let mut pfn = seg.base_pfn + idx;
        let mut k = order;
        while k < MAX_ORDER {
            let buddy = pfn ^ (1 << k);
            let Some(bi) = buddy.checked_sub(seg.base_pfn).filter(|&b| b < seg.npages) else {
                break;
            };
            if !seg.free[k as usize].remove(&bi) {
                break;
            }
            pfn = pfn.min(buddy);
            k += 1;
        }
        seg.free[k as usize].insert(pfn - seg.base_pfn);
    }

    fn locate(&self, addr: Addr) -> Where {
        for (s, seg) in self.segs.iter().enumerate() {
            let off = addr.wrapping_sub(seg.start);
            if (off as u64) < (seg.npages as u64) << self.shift {
                if off & ((1 << self.shift) - 1) != 0 {
                    return Where::NotPage;
                }
                let idx = off >> self.shift;
                for (&h, &(order, _)) in &seg.live {
                    if idx >= h && idx < h + (1 << order) {
                        return if idx == h {
                            Where::Head(s, h, order)
                        } else {
                            Where::Interior
                        };
                    }
                }
                return Where::InFree;
            }
        }
        Where::NotPage
    }

    /// What freeing `addr` with `order` must give.
    fn free(&mut self, addr: Addr, order: Option<u32>) -> Result<(), PageError> {
        match self.locate(addr) {
            Where::NotPage => Err(PageError::NotPage { addr }),
            Where::InFree => Err(PageError::DoubleFree { addr }),
            Where::Interior => Err(PageError::NotBlockHead { addr }),
            Where::Head(s, idx, actual) => {
                if let Some(given) = order.filter(|&g| g != actual) {
                    return Err(PageError::WrongOrder {
                        addr,
                        given,
                        actual,
                    });
                }
                self.release(s, idx);
                Ok(())
            }
        }
    }

    fn lru_op(&mut self, addr: Addr, touch: bool) -> Result<(), PageError> {
        match self.locate(addr) {
            Where::NotPage => Err(PageError::NotPage { addr }),
            Where::InFree => Err(PageError::DoubleFree { addr }),
            Where::Interior => Err(PageError::NotBlockHead { addr }),
            Where::Head(s, idx, _) => {
                let seg = &mut self.segs[s];
                let on = seg.inactive.contains(&idx) || seg.active.contains(&idx);
                if touch {
                    if !on {
                        return Err(PageError::NotOnLru { addr });
                    }
                    seg.inactive.retain(|&p| p != idx);
                    seg.active.retain(|&p| p != idx);
                    seg.active.push_front(idx);
                } else {
                    if on {
                        return Err(PageError::AlreadyOnLru { addr });
                    }
                    seg.inactive.push_front(idx);
                }
                Ok(())
            }
        }
    }

    fn counts(&self) -> [u32; ORDERS as usize] {
        let mut c = [0u32; ORDERS as usize];
        for seg in &self.segs {
            for (o, set) in seg.free.iter().enumerate() {
                c[o] += set.len() as u32;
            }
        }
        c
    }

    fn live_addrs(&self) -> Vec<(Addr, u32)> {
        let mut v = Vec::new();
        for (s, seg) in self.segs.iter().enumerate() {
            for (&idx, &(order, _)) in &seg.live {
                v.push((self.addr(s, idx), order));
            }
        }
        v
    }
}

#[derive(Clone, Debug)]
enum Op {
    Alloc { order: u32 },
    Contig { npages: u32 },
    Free { pick: usize },
    FreeWrongOrder { pick: usize, order: u32 },
    FreeAny { pick: usize, delta: i32 },
    FreeWild { addr: u32 },
    LruAdd { pick: usize },
    Touch { pick: usize },
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => prop_oneof![4 => 0..3u32, 2 => 0..=MAX_ORDER, 1 => Just(MAX_ORDER + 1)]
            .prop_map(|order| Op::Alloc { order }),
        3 => prop_oneof![6 => 1..40u32, 1 => 0..=600u32].prop_map(|npages| Op::Contig { npages }),
        8 => any::<usize>().prop_map(|pick| Op::Free { pick }),
        1 => (any::<usize>(), 0..=MAX_ORDER).prop_map(|(pick, order)| Op::FreeWrongOrder { pick, order }),
        2 => (any::<usize>(), -1024..1024i32).prop_map(|(pick, delta)| Op::FreeAny { pick, delta }),
        1 => any::<u32>().prop_map(|addr| Op::FreeWild { addr }),
        3 => any::<usize>().prop_map(|pick| Op::LruAdd { pick }),
        3 => any::<usize>().prop_map(|pick| Op::Touch { pick }),
    ]
}

/// Two areas of 256-byte pages; the second one is not a power of two in size.
fn two_areas() -> (Ram<Vec<u8>>, PhysMem) {
    let mut ram = ram_at(0x2000_0000, 0x38000);
    let pm = boot(
        &mut ram,
        256,
        &[
            PhysArea {
                start: 0x2000_0000,
                size: 0xa000,
            },
            PhysArea {
                start: 0x2002_0000,
                size: 0x18000,
            },
        ],
    );
    (ram, pm)
}

fn run_op(
    pm: &PhysMem,
    ram: &mut Ram<Vec<u8>>,
    model: &mut Model,
    op: &Op,
) -> Result<(), TestCaseError> {
    let live = model.live_addrs();
    let pick = |p: usize| live.get(p % live.len().max(1)).copied();
    let mut rec = Recorder::default();
    let mut cx = Ctx::new(ram, &mut rec);
    let (got, want) = match *op {
        Op::Alloc { order } => {
            let want = if order > MAX_ORDER {
                Err(PageError::BadOrder { order })
            } else {
                model.alloc(order, 1 << order)
            };
            (pm.alloc_pages(&mut cx, order), want)
        }
        Op::Contig { npages } => {
            let want = match npages {
                0 => Err(PageError::ZeroPages),
                n if n > 512 => Err(PageError::TooLarge {
                    npages: n,
                    max: 512,
                }),
                n => model.alloc(order_for(n), n),
            };
            (pm.alloc_contiguous(&mut cx, npages), want)
        }
        Op::Free { pick: p } => {
            let Some((addr, order)) = pick(p) else {
                return Ok(());
            };
            let want = model.free(addr, Some(order)).map(|_| addr);
            (pm.free_pages(&mut cx, addr, order).map(|_| addr), want)
        }
        Op::FreeWrongOrder { pick: p, order } => {
            let Some((addr, _)) = pick(p) else {
                return Ok(());
            };
            let want = model.free(addr, Some(order)).map(|_| addr);
            (pm.free_pages(&mut cx, addr, order).map(|_| addr), want)
        }
        Op::FreeAny { pick: p, delta } => {
            let Some((addr, _)) = pick(p) else {
                return Ok(());
            };
            let addr = addr.wrapping_add(delta as u32 & !0xff);
            let want = model.free(addr, None).map(|_| addr);
            (pm.put_page(&mut cx, addr).map(|_| addr), want)
        }
        Op::FreeWild { addr } => {
            let want = model.free(addr, None).map(|_| addr);
            (pm.put_page(&mut cx, addr).map(|_| addr), want)
        }
        Op::LruAdd { pick: p } => {
            let Some((addr, _)) = pick(p) else {
                return Ok(());
            };
            let want = model.lru_op(addr, false).map(|_| addr);
            (pm.lru_add(&mut cx, addr).map(|_| addr), want)
        }
        Op::Touch { pick: p } => {
            let Some((addr, _)) = pick(p) else {
                return Ok(());
            };
            let want = model.lru_op(addr, true).map(|_| addr);
            (pm.touch(&mut cx, addr).map(|_| addr), want)
        }
    };
    prop_assert_eq!(got, want, "{:?}", op);
    if got.is_err() {
        let is_fault = matches!(
            rec.events.last().map(|e| e.kind),
            Some(EventKind::Page(PageEvent::Fault { .. }))
        );
        prop_assert!(is_fault, "a failed operation ends with a fault event");
    } else {
        prop_assert!(rec.events.last().is_some_and(|e| e.kind.is_summary()));
    }
    pm.check(ram)
        .map_err(|e| TestCaseError::fail(format!("check() after {op:?}: {e}")))?;
    prop_assert_eq!(pm.free_counts(ram).unwrap(), model.counts());
    let lru = model.segs.iter().fold((0, 0), |(i, a), s| {
        (i + s.inactive.len() as u32, a + s.active.len() as u32)
    });
    prop_assert_eq!(pm.lru_sizes(ram).unwrap(), lru);
    Ok(())
}

#[test]
fn buddy_matches_a_model_over_random_operations() {
    let steps = std::cell::Cell::new(0u64);
    let mut runner = TestRunner::new(Config {
        cases: 40,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&proptest::collection::vec(op_strategy(), 260), |ops| {
        let (mut ram, pm) = two_areas();
        let mut model = Model::new(&pm);
        for op in &ops {
            run_op(&pm, &mut ram, &mut model, op)?;
            steps.set(steps.get() + 1);
        }
        // Free what is left: everything merges back to the boot state.
        for (addr, order) in model.live_addrs() {
            let mut q = Quiet;
            let mut cx = Ctx::new(&mut ram, &mut q);
            pm.free_pages(&mut cx, addr, order).unwrap();
        }
        let fresh = Model::new(&pm);
        prop_assert_eq!(pm.free_counts(&ram).unwrap(), fresh.counts());
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(steps.get() >= 10_000, "{} steps", steps.get());
}

#[test]
fn the_allocator_trait_passes_the_shared_harness() {
    let make = || {
        let (ram, pm) = two_areas();
        Harness::new(ram, pm, (0x2000_0000, 0x38000), false)
    };
    let steps = run_suite(make, 16 * 256, 40, 260);
    assert!(steps >= 10_000, "{steps} steps");
}

// ---- corruption ----

#[test]
fn a_corrupted_head_is_caught_by_check_and_free() {
    let (mut ram, pm) = small();
    let mut q = Quiet;
    let a = {
        let mut cx = Ctx::new(&mut ram, &mut q);
        pm.alloc_pages(&mut cx, 2).unwrap()
    };
    let (s, idx) = pm.page_of(a).unwrap();
    let e = pm.segments()[s].page_base + idx * entry::SIZE;
    // One byte of the reference count.
    ram.write_u8(e + entry::REFS, 0).unwrap();
    assert_eq!(
        pm.check(&ram),
        Err(AllocError::Corrupted {
            at: e + entry::REFS,
            field: memplay_engine::Field::RefCount,
            expected: 1,
            found: 0
        })
    );
    let mut cx = Ctx::new(&mut ram, &mut q);
    assert_eq!(
        pm.free_pages(&mut cx, a, 2),
        Err(PageError::Meta(AllocError::Corrupted {
            at: e + entry::REFS,
            field: memplay_engine::Field::RefCount,
            expected: 1,
            found: 0
        }))
    );
    ram.write_u8(e + entry::REFS, 1).unwrap();
    pm.check(&ram).unwrap();
    // One byte of the flags: the head claims to be free and allocated at once.
    ram.write_u8(e + entry::FLAGS, (pg::HEAD | pg::FREE) as u8)
        .unwrap();
    assert!(matches!(
        pm.check(&ram),
        Err(AllocError::Inconsistent { .. })
    ));
    let mut cx = Ctx::new(&mut ram, &mut q);
    assert!(matches!(
        pm.free_pages(&mut cx, a, 2),
        Err(PageError::Meta(AllocError::Inconsistent { .. }))
    ));
    // One byte of a free-list head link.
    ram.write_u8(e + entry::FLAGS, pg::HEAD as u8).unwrap();
    pm.check(&ram).unwrap();
    let head = pm.segments()[0].desc + segdesc::FREE + 4; // order 0's first element
    let old = ram.read_u8(head).unwrap();
    ram.write_u8(head, old ^ 0x40).unwrap();
    assert!(pm.check(&ram).is_err());
    let mut cx = Ctx::new(&mut ram, &mut q);
    assert!(matches!(
        pm.alloc_pages(&mut cx, 0),
        Err(PageError::Meta(_))
    ));
    // A free-list count.
    ram.write_u8(head, old).unwrap();
    pm.check(&ram).unwrap();
    let count = pm.segments()[0].desc + segdesc::FREE + segdesc::FREE_COUNT;
    ram.write_u8(count, 9).unwrap();
    assert_eq!(
        pm.check(&ram),
        Err(AllocError::Corrupted {
            at: count,
            field: memplay_engine::Field::Count,
            expected: 1,
            found: 9
        })
    );
}

#[test]
fn random_corruption_never_panics_or_hangs() {
    let mut prng = memplay_engine::prng::Prng::new(4);
    for _ in 0..300 {
        let (mut ram, pm) = small();
        let mut q = Quiet;
        let mut live = Vec::new();
        for _ in 0..20 {
            let mut cx = Ctx::new(&mut ram, &mut q);
            if let Ok(a) = pm.alloc_pages(&mut cx, prng.below(4)) {
                live.push(a);
                if prng.below(2) == 0 {
                    let _ = pm.lru_add(&mut cx, a);
                }
            }
        }
        // Any byte of boot memory.
        let at = 0x2000_0000 + prng.below(37 * 256);
        let byte = prng.next_u32() as u8;
        ram.write_u8(at, byte).unwrap();
        let _ = pm.check(&ram);
        for _ in 0..60 {
            let mut cx = Ctx::new(&mut ram, &mut q);
            let _ = match prng.below(5) {
                0 => pm.alloc_pages(&mut cx, prng.below(10)).map(|_| ()),
                1 if !live.is_empty() => {
                    let a = live[prng.below(live.len() as u32) as usize];
                    pm.put_page(&mut cx, a)
                }
                2 if !live.is_empty() => {
                    let a = live[prng.below(live.len() as u32) as usize];
                    pm.touch(&mut cx, a)
                }
                3 => pm.put_page(&mut cx, 0x2000_0000 + prng.below(0x10000)),
                _ => pm.reclaim(&mut cx, 2).map(|_| ()),
            };
            let _ = pm.check(&ram);
            let _ = pm.stats(&ram);
        }
    }
}
