//! The MTK control buffer: unit tests of each rule (class choice, fallback, TooLarge → ADM,
//! carving from system memory), bad input, corruption, a pinned canonical trace, and the
//! shared property suite.

mod common;

use common::{run_suite, Harness};
use memplay_engine::ctrl_buffer::CtrlBuffer;
use memplay_engine::partition::{PartitionPool, HEADER_SIZE, USED_MAGIC};
use memplay_engine::sysmem::{Area, SystemMemory};
use memplay_engine::trace::{Recorder, TextSink};
use memplay_engine::{
    Addr, AllocError, Allocator, BlockKind, ConfigError, Ctx, EventKind, Field, Name, Owner, Ram,
    RegionKind,
};

const ISRAM: Addr = 0x4000_0000;
const ISRAM_SIZE: u32 = 0x2000;
const EXT: Addr = 0x0800_0000;
const EXT_SIZE: u32 = 0x1_0000;

fn ctrl_name() -> Name {
    Name::lit("ctrl")
}

fn machine() -> Ram<Vec<u8>> {
    let mut ram = Ram::new(vec![0u8; (ISRAM_SIZE + EXT_SIZE) as usize]);
    ram.add_region(Name::lit("isram"), RegionKind::Internal, ISRAM, ISRAM_SIZE)
        .unwrap();
    ram.add_region(Name::lit("extsram"), RegionKind::External, EXT, EXT_SIZE)
        .unwrap();
    ram
}

/// System memory over all of internal and external SRAM, and a control buffer on it.
fn boot(table: &[(u32, u32)]) -> (Ram<Vec<u8>>, SystemMemory, CtrlBuffer, Recorder) {
    let mut ram = machine();
    let mut rec = Recorder::default();
    let mut cx = Ctx::new(&mut ram, &mut rec);
    let areas = [Area::new(ISRAM, ISRAM_SIZE), Area::new(EXT, EXT_SIZE)];
    let mut sys = SystemMemory::new(&mut cx, Name::lit("sys"), &areas).unwrap();
    let ctrl = CtrlBuffer::new(&mut cx, ctrl_name(), &mut sys, table).unwrap();
    (ram, sys, ctrl, rec)
}

fn alloc(ram: &mut Ram<Vec<u8>>, c: &mut CtrlBuffer, size: u32) -> Result<Addr, AllocError> {
    let mut rec = Recorder::default();
    c.alloc(&mut Ctx::new(ram, &mut rec), size, Owner(1))
}

fn alloc_traced(
    ram: &mut Ram<Vec<u8>>,
    c: &mut CtrlBuffer,
    size: u32,
) -> (Result<Addr, AllocError>, Vec<EventKind>) {
    let mut rec = Recorder::default();
    let r = c.alloc(&mut Ctx::new(ram, &mut rec), size, Owner(1));
    (r, rec.events.iter().map(|e| e.kind).collect())
}

fn free(ram: &mut Ram<Vec<u8>>, c: &mut CtrlBuffer, addr: Addr) -> Result<(), AllocError> {
    let mut rec = Recorder::default();
    c.free(&mut Ctx::new(ram, &mut rec), addr)
}

/// The class a buffer came from.
fn class_of(c: &CtrlBuffer, addr: Addr) -> Option<usize> {
    c.pools().position(|p| p.holds(addr))
}

#[test]
fn the_mtk_default_table_has_classes_32_to_2048_doubling() {
    let sizes: Vec<u32> = CtrlBuffer::MTK_DEFAULT.iter().map(|c| c.0).collect();
    assert_eq!(sizes, [32, 64, 128, 256, 512, 1024, 2048]);
    let (ram, _, c, _) = boot(CtrlBuffer::MTK_DEFAULT);
    assert_eq!(c.class_count(), 7);
    assert_eq!(c.max_size(), 2048);
    for (pool, &(size, count)) in c.pools().zip(CtrlBuffer::MTK_DEFAULT) {
        assert_eq!((pool.block_size(), pool.count()), (size, count));
        assert_eq!(pool.free_count(&ram), Ok(count));
    }
    c.check(&ram).unwrap();
}

#[test]
fn a_request_takes_the_smallest_class_that_fits() {
    let (mut ram, _, mut c, _) = boot(CtrlBuffer::MTK_DEFAULT);
    for (size, class) in [
        (1, 0),
        (32, 0),
        (33, 1),
        (100, 2),
        (128, 2),
        (129, 3),
        (2047, 6),
        (2048, 6),
    ] {
        assert_eq!(c.class_for(size), Some(class), "class_for({size})");
        let (addr, events) = alloc_traced(&mut ram, &mut c, size);
        let addr = addr.unwrap();
        assert_eq!(class_of(&c, addr), Some(class), "request of {size}");
        assert!(!events
            .iter()
            .any(|e| matches!(e, EventKind::Fallback { .. })));
        assert!(matches!(events.last(), Some(EventKind::Alloc { size: s, .. }) if *s == size));
    }
    c.check(&ram).unwrap();
}

#[test]
fn an_exhausted_class_falls_through_to_the_next_larger_one() {
    let (mut ram, _, mut c, _) = boot(&[(32, 2), (64, 1), (128, 1)]);
    let a = alloc(&mut ram, &mut c, 20).unwrap();
    let b = alloc(&mut ram, &mut c, 20).unwrap();
    assert_eq!((class_of(&c, a), class_of(&c, b)), (Some(0), Some(0)));

    let (r, events) = alloc_traced(&mut ram, &mut c, 20);
    assert_eq!(class_of(&c, r.unwrap()), Some(1));
    assert_eq!(events[0], EventKind::Fallback { from: 32, to: 64 });
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, EventKind::Fallback { .. }))
            .count(),
        1
    );

    let (r, events) = alloc_traced(&mut ram, &mut c, 20);
    assert_eq!(class_of(&c, r.unwrap()), Some(2));
    assert_eq!(events[0], EventKind::Fallback { from: 32, to: 64 });
    assert_eq!(events[1], EventKind::Fallback { from: 64, to: 128 });
    assert!(matches!(
        events[2],
        EventKind::Meta {
            field: Field::Head,
            ..
        }
    ));
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, EventKind::Unlink { list: 2, .. }))
            .count(),
        1
    );

    // Freeing a 32-byte buffer makes the 32-byte class serve again, without fallback.
    free(&mut ram, &mut c, a).unwrap();
    let (r, events) = alloc_traced(&mut ram, &mut c, 20);
    assert_eq!(r, Ok(a));
    assert!(!events
        .iter()
        .any(|e| matches!(e, EventKind::Fallback { .. })));
    c.check(&ram).unwrap();
}

#[test]
fn all_suitable_classes_empty_is_out_of_memory() {
    let (mut ram, _, mut c, _) = boot(&[(32, 2), (64, 1)]);
    alloc(&mut ram, &mut c, 64).unwrap();
    let (r, events) = alloc_traced(&mut ram, &mut c, 64);
    // The smaller class still has buffers, too small for this request.
    assert_eq!(
        r,
        Err(AllocError::OutOfMemory {
            requested: 64,
            largest_free: 32
        })
    );
    assert!(matches!(events.last(), Some(EventKind::Fault { .. })));
    alloc(&mut ram, &mut c, 1).unwrap();
    alloc(&mut ram, &mut c, 1).unwrap();
    let (r, events) = alloc_traced(&mut ram, &mut c, 1);
    assert_eq!(
        r,
        Err(AllocError::OutOfMemory {
            requested: 1,
            largest_free: 0
        })
    );
    assert_eq!(events[0], EventKind::Fallback { from: 32, to: 64 });
    c.check(&ram).unwrap();
}

#[test]
fn above_the_largest_class_is_too_large_and_the_message_says_use_adm() {
    let (mut ram, _, mut c, _) = boot(CtrlBuffer::MTK_DEFAULT);
    for size in [2049, 4096, u32::MAX] {
        let r = alloc(&mut ram, &mut c, size);
        assert_eq!(
            r,
            Err(AllocError::TooLarge {
                requested: size,
                max: 2048
            })
        );
        let message = r.unwrap_err().to_string();
        assert!(message.contains("ADM"), "{message}");
    }
    assert_eq!(alloc(&mut ram, &mut c, 0), Err(AllocError::ZeroSize));
}

#[test]
fn pools_are_carved_from_system_memory_in_table_order_internal_first() {
    let (ram, sys, c, rec) = boot(CtrlBuffer::MTK_DEFAULT);
    let needed: Vec<u32> = CtrlBuffer::MTK_DEFAULT
        .iter()
        .map(|&(s, n)| PartitionPool::bytes_needed(s, n).unwrap())
        .collect();
    // Internal SRAM (after the control block) holds the 32- and 64-byte classes; the
    // 128-byte class no longer fits there, and it and every later class go external.
    let int_start = ISRAM + sys.cb_size();
    let bases: Vec<Addr> = c.pools().map(|p| p.base()).collect();
    assert_eq!(bases[0], int_start);
    assert_eq!(bases[1], int_start + needed[0]);
    assert!(ISRAM_SIZE - sys.cb_size() - needed[0] - needed[1] < needed[2]);
    assert_eq!(bases[2], EXT);
    for i in 3..7 {
        assert_eq!(bases[i], bases[i - 1] + needed[i - 1]);
    }
    for (pool, n) in c.pools().zip(&needed) {
        assert_eq!(pool.size(), *n);
    }
    // The trace: each class is a carve followed by its pool's creation.
    let carves: Vec<(Addr, u32, Name)> = rec
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Carve { addr, size, region } => Some((addr, size, region)),
            _ => None,
        })
        .collect();
    let regions: Vec<&str> = carves.iter().map(|c| c.2.as_str()).collect();
    assert_eq!(
        regions,
        ["isram", "isram", "extsram", "extsram", "extsram", "extsram", "extsram"]
    );
    let inits: Vec<(Addr, u32)> = rec
        .events
        .iter()
        .filter(|e| e.source == ctrl_name())
        .filter_map(|e| match e.kind {
            EventKind::Init { base, size } => Some((base, size)),
            _ => None,
        })
        .collect();
    let carved: Vec<(Addr, u32)> = carves.iter().map(|c| (c.0, c.1)).collect();
    assert_eq!(inits, carved);
    sys.check(&ram).unwrap();
    // The record table says what each carve was for: no owner, the exact bytes needed.
    for (j, n) in needed.iter().enumerate() {
        let r = sys.record(&ram, j as u32).unwrap().unwrap();
        assert_eq!((r.size, r.owner), (*n, Owner::NONE));
    }
}

#[test]
fn system_memory_left_size_decreases_by_exactly_the_pools() {
    let mut ram = machine();
    let mut rec = Recorder::default();
    let mut cx = Ctx::new(&mut ram, &mut rec);
    let areas = [Area::new(ISRAM, ISRAM_SIZE), Area::new(EXT, EXT_SIZE)];
    let mut sys = SystemMemory::new(&mut cx, Name::lit("sys"), &areas).unwrap();
    let before = sys.left_size(cx.ram).unwrap().total;
    let table = [(32, 10), (64, 5), (96, 3), (2048, 2)];
    CtrlBuffer::new(&mut cx, ctrl_name(), &mut sys, &table).unwrap();
    let after = sys.left_size(cx.ram).unwrap().total;
    let needed: u32 = table.iter().map(|&(s, n)| 20 + n * (12 + s)).sum();
    assert_eq!(before - after, needed);
}

#[test]
fn free_finds_the_class_by_address_and_refuses_bad_pointers() {
    let (mut ram, _, mut c, _) = boot(&[(32, 2), (64, 2), (128, 1)]);
    let a = alloc(&mut ram, &mut c, 10).unwrap();
    let b = alloc(&mut ram, &mut c, 50).unwrap();
    let d = alloc(&mut ram, &mut c, 100).unwrap();
    let mut rec = Recorder::default();
    c.free(&mut Ctx::new(&mut ram, &mut rec), b).unwrap();
    let kinds: Vec<_> = rec.events.iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&EventKind::Link {
        list: 1,
        addr: b - HEADER_SIZE
    }));
    assert_eq!(
        *kinds.last().unwrap(),
        EventKind::Free {
            addr: b,
            block: 64 + HEADER_SIZE,
            owner: Owner(1)
        }
    );
    assert_eq!(
        free(&mut ram, &mut c, b),
        Err(AllocError::DoubleFree { addr: b })
    );
    let pool0 = c.pool(0).unwrap().base();
    for bad in [
        a + 4,
        a - HEADER_SIZE,
        d + 1,
        pool0,
        ISRAM,
        EXT + EXT_SIZE - 4,
        0,
        u32::MAX,
    ] {
        assert_eq!(
            free(&mut ram, &mut c, bad),
            Err(AllocError::InvalidPointer { addr: bad }),
            "free of {bad:#x}"
        );
    }
    free(&mut ram, &mut c, a).unwrap();
    free(&mut ram, &mut c, d).unwrap();
    c.check(&ram).unwrap();
}

#[test]
fn class_stats_show_bytes_asked_against_bytes_given() {
    let (mut ram, _, mut c, _) = boot(&[(32, 4), (64, 2), (128, 2)]);
    for size in [10, 32, 33, 100, 20] {
        alloc(&mut ram, &mut c, size).unwrap();
    }
    let stats = c.class_stats(&ram).unwrap();
    let rows: Vec<_> = stats
        .as_slice()
        .iter()
        .map(|s| {
            (
                s.block_size,
                s.count,
                s.free,
                s.in_use,
                s.asked,
                s.given,
                s.wasted(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (32, 4, 1, 3, 62, 96, 34),
            (64, 2, 1, 1, 33, 64, 31),
            (128, 2, 1, 1, 100, 128, 28),
        ]
    );
    let s = c.stats(&ram).unwrap();
    assert_eq!(s.used, 62 + 33 + 100);
    assert_eq!(s.blocks, 5);
    assert_eq!(s.capacity, s.used + s.free + s.overhead);
    let padding: u32 = {
        let mut total = 0;
        c.walk(&ram, &mut |b| {
            if b.kind == BlockKind::Padding {
                total += b.len
            }
        })
        .unwrap();
        total
    };
    assert_eq!(padding, 34 + 31 + 28);
}

#[test]
fn bad_tables_are_refused_before_anything_is_carved() {
    let mut ram = machine();
    let mut rec = Recorder::default();
    let mut cx = Ctx::new(&mut ram, &mut rec);
    let areas = [Area::new(ISRAM, ISRAM_SIZE)];
    let mut sys = SystemMemory::new(&mut cx, Name::lit("sys"), &areas).unwrap();
    let left = sys.left_size(cx.ram).unwrap();
    let seventeen: Vec<(u32, u32)> = (1..=17).map(|i| (i * 4, 1)).collect();
    let cases: [(&[(u32, u32)], ConfigError); 7] = [
        (&[], ConfigError::NoBlocks),
        (
            &[(32, 1), (32, 1)],
            ConfigError::ClassesNotAscending { size: 32 },
        ),
        (
            &[(64, 1), (32, 1)],
            ConfigError::ClassesNotAscending { size: 32 },
        ),
        (&[(0, 1)], ConfigError::BadBlockSize { size: 0 }),
        (&[(30, 1)], ConfigError::BadBlockSize { size: 30 }),
        (&[(32, 0)], ConfigError::NoBlocks),
        (&seventeen, ConfigError::TooMany { max: 16 }),
    ];
    for (table, want) in cases {
        let r = CtrlBuffer::new(&mut cx, ctrl_name(), &mut sys, table);
        assert_eq!(r.map(|_| ()), Err(AllocError::Config(want)), "{table:?}");
    }
    assert_eq!(sys.left_size(cx.ram).unwrap(), left);
}

#[test]
fn running_out_of_system_memory_at_boot_is_reported() {
    let mut ram = machine();
    let mut rec = Recorder::default();
    let mut cx = Ctx::new(&mut ram, &mut rec);
    let areas = [Area::new(ISRAM, 0x400)];
    let mut sys = SystemMemory::new(&mut cx, Name::lit("sys"), &areas).unwrap();
    let r = CtrlBuffer::new(&mut cx, ctrl_name(), &mut sys, &[(32, 4), (2048, 1)]);
    assert!(matches!(r, Err(AllocError::OutOfMemory { .. })));
    // The 32-byte class was carved before memory ran out; system memory keeps it.
    assert_eq!(sys.carve_count(cx.ram), Ok(1));
    let last: Vec<String> = rec
        .events
        .iter()
        .rev()
        .take(2)
        .map(|e| e.to_string())
        .collect();
    assert!(
        last[0].starts_with("ctrl.fault op=init error=OutOfMemory"),
        "{last:?}"
    );
    assert!(last[1].starts_with("sys.fault op=alloc"), "{last:?}");
}

#[test]
fn one_changed_header_byte_is_reported_by_check_and_free() {
    let (mut ram, _, mut c, _) = boot(CtrlBuffer::MTK_DEFAULT);
    let a = alloc(&mut ram, &mut c, 100).unwrap();
    let header = a - HEADER_SIZE;
    ram.write_u8(header, 0x00).unwrap();
    let want = AllocError::Corrupted {
        at: header,
        field: Field::Magic,
        expected: USED_MAGIC,
        found: 0xa55a_5a00,
    };
    assert_eq!(c.check(&ram), Err(want));
    let mut rec = Recorder::default();
    assert_eq!(c.free(&mut Ctx::new(&mut ram, &mut rec), a), Err(want));
    let line = rec.events.last().unwrap().to_string();
    assert_eq!(
        line,
        format!(
            "ctrl.fault op=free addr={a:#010x} error=Corrupted at={header:#010x} field=magic expected=0xa55a5aa5 found=0xa55a5a00"
        )
    );
    assert!(c.class_stats(&ram).is_err());
}

#[test]
fn any_corrupted_byte_gives_typed_errors_never_a_panic() {
    let (mut ram0, _, mut c0, _) = boot(&[(8, 2), (16, 2)]);
    let a = alloc(&mut ram0, &mut c0, 8).unwrap();
    let b = alloc(&mut ram0, &mut c0, 12).unwrap();
    let pools: Vec<(Addr, u32)> = c0.pools().map(|p| (p.base(), p.size())).collect();
    for (base, size) in pools {
        for off in 0..size {
            for value in [0x00u8, 0xff, 0x5a, 0x14] {
                let mut ram = ram0.clone();
                let mut c = c0;
                ram.write_u8(base + off, value).unwrap();
                let _ = c.check(&ram);
                let _ = c.walk(&ram, &mut |_| {});
                let _ = c.stats(&ram);
                let _ = c.class_stats(&ram);
                for size in [4, 8, 16, 4] {
                    let _ = alloc(&mut ram, &mut c, size);
                }
                let _ = free(&mut ram, &mut c, a);
                let _ = free(&mut ram, &mut c, b);
            }
        }
    }
}

#[test]
fn canonical_trace_of_boot_fallback_and_faults() {
    let mut ram = machine();
    let mut sink = TextSink::new(String::new());
    let mut c = {
        let mut cx = Ctx::new(&mut ram, &mut sink);
        let areas = [Area::new(ISRAM, 0x200)];
        let mut sys = SystemMemory::with_records(&mut cx, Name::lit("sys"), &areas, 2).unwrap();
        CtrlBuffer::new(&mut cx, ctrl_name(), &mut sys, &[(32, 1), (64, 1)]).unwrap()
    };
    let boot: Vec<&str> = sink
        .out
        .lines()
        .filter(|l| l.contains(".carve") || l.contains(".init"))
        .collect();
    assert_eq!(
        boot,
        [
            "0000 sys.init base=0x40000000 size=512",
            "0000 sys.carve addr=0x40000034 size=64 region=isram",
            "0000 ctrl.init base=0x40000034 size=64",
            "0000 sys.carve addr=0x40000074 size=96 region=isram",
            "0000 ctrl.init base=0x40000074 size=96",
        ]
    );
    sink.out.clear();
    for (step, size) in [(1, 20), (2, 20), (3, 20), (4, 100)] {
        sink.step = step;
        let _ = c.alloc(&mut Ctx::new(&mut ram, &mut sink), size, Owner(5));
    }
    let expected = "\
0001 ctrl.meta addr=0x40000044 field=head value=0x00000000
0001 ctrl.meta addr=0x40000040 field=count value=0x00000000
0001 ctrl.unlink list=0 addr=0x40000048
0001 ctrl.meta addr=0x40000048 field=magic value=0xa55a5aa5
0001 ctrl.meta addr=0x4000004c field=size value=0x00000014
0001 ctrl.meta addr=0x40000050 field=owner value=0x00000005
0001 ctrl.alloc addr=0x40000054 size=20 block=44 owner=5
0002 ctrl.fallback from=32 to=64
0002 ctrl.meta addr=0x40000084 field=head value=0x00000000
0002 ctrl.meta addr=0x40000080 field=count value=0x00000000
0002 ctrl.unlink list=1 addr=0x40000088
0002 ctrl.meta addr=0x40000088 field=magic value=0xa55a5aa5
0002 ctrl.meta addr=0x4000008c field=size value=0x00000014
0002 ctrl.meta addr=0x40000090 field=owner value=0x00000005
0002 ctrl.alloc addr=0x40000094 size=20 block=76 owner=5
0003 ctrl.fallback from=32 to=64
0003 ctrl.fault op=alloc size=20 error=OutOfMemory requested=20 largest_free=0
0004 ctrl.fault op=alloc size=100 error=TooLarge requested=100 max=64
";
    assert_eq!(sink.out, expected);
}

#[test]
fn property_suite_small_tables_run_dry_and_fall_back() {
    let table = [
        (32, 8),
        (64, 6),
        (128, 4),
        (256, 4),
        (512, 2),
        (1024, 2),
        (2048, 1),
    ];
    let steps = run_suite(
        || {
            let (ram, _, c, _) = boot(&table);
            Harness::new(ram, c, (EXT, EXT_SIZE), false)
        },
        2048,
        40,
        260,
    );
    assert!(steps >= 10_000, "only {steps} steps ran");
}

#[test]
fn property_suite_mtk_default_table() {
    let steps = run_suite(
        || {
            let (ram, _, c, _) = boot(CtrlBuffer::MTK_DEFAULT);
            Harness::new(ram, c, (ISRAM, ISRAM_SIZE), false)
        },
        2048,
        20,
        260,
    );
    assert!(steps >= 5_000, "only {steps} steps ran");
}
