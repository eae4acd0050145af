//! Partition pools (Nucleus) / membox (LiteOS): unit tests of each rule, bad input,
//! corruption, a pinned canonical trace, and the shared property suite.

mod common;

use common::{ram_with, run_suite, Harness};
use memplay_engine::partition::{PartitionPool, HEADER_SIZE, PCB_SIZE, POOL_MAGIC, USED_MAGIC};
use memplay_engine::trace::{Recorder, TextSink};
use memplay_engine::{
    AllocError, Allocator, BlockKind, ConfigError, Ctx, EventKind, Field, Name, Owner, Ram,
};

const BASE: u32 = 0x2000_0000;
const RAM_SIZE: u32 = 0x2000;
/// Where the pool under test starts; RAM below it is foreign memory.
const POOL: u32 = BASE + 0x100;

fn name() -> Name {
    Name::lit("part")
}

/// A pool of `count` blocks of `block_size` at `POOL`.
fn pool(block_size: u32, count: u32) -> (Ram<Vec<u8>>, PartitionPool) {
    let mut ram = ram_with(BASE, RAM_SIZE);
    let mut rec = Recorder::default();
    let mut cx = Ctx::new(&mut ram, &mut rec);
    let pool = PartitionPool::with_count(&mut cx, name(), POOL, block_size, count).unwrap();
    (ram, pool)
}

fn alloc(ram: &mut Ram<Vec<u8>>, p: &mut PartitionPool, size: u32) -> Result<u32, AllocError> {
    let mut rec = Recorder::default();
    p.alloc(&mut Ctx::new(ram, &mut rec), size, Owner(1))
}

fn free(ram: &mut Ram<Vec<u8>>, p: &mut PartitionPool, addr: u32) -> Result<(), AllocError> {
    let mut rec = Recorder::default();
    p.free(&mut Ctx::new(ram, &mut rec), addr)
}

#[test]
fn bytes_needed_is_control_block_plus_headers_and_payloads() {
    assert_eq!(PartitionPool::bytes_needed(32, 5), Ok(20 + 5 * (12 + 32)));
    // Block sizes round up to 4.
    assert_eq!(PartitionPool::bytes_needed(30, 1), Ok(20 + 12 + 32));
    assert_eq!(
        PartitionPool::bytes_needed(0, 1),
        Err(ConfigError::BadBlockSize { size: 0 })
    );
    assert_eq!(
        PartitionPool::bytes_needed(u32::MAX, 1),
        Err(ConfigError::BadBlockSize { size: u32::MAX })
    );
    assert_eq!(
        PartitionPool::bytes_needed(32, 0),
        Err(ConfigError::NoBlocks)
    );
    assert!(PartitionPool::bytes_needed(1 << 24, u32::MAX).is_err());
    let (_, p) = pool(32, 5);
    assert_eq!(p.size(), PartitionPool::bytes_needed(32, 5).unwrap());
}

#[test]
fn creation_threads_every_block_on_the_free_list_in_address_order() {
    let (ram, p) = pool(24, 4);
    let word = |a: u32| ram.read_u32(a).unwrap();
    assert_eq!(word(POOL), POOL_MAGIC);
    assert_eq!(word(POOL + 4), 24);
    assert_eq!(word(POOL + 8), 4);
    assert_eq!(word(POOL + 12), 4);
    let first = POOL + PCB_SIZE;
    assert_eq!(word(POOL + 16), first);
    let stride = HEADER_SIZE + 24;
    for k in 0..4 {
        let next = if k < 3 { first + (k + 1) * stride } else { 0 };
        assert_eq!(word(first + k * stride), next, "link of block {k}");
        assert_eq!(
            word(first + k * stride + 4),
            0,
            "size word of free block {k}"
        );
    }
    assert_eq!(p.free_count(&ram), Ok(4));
    p.check(&ram).unwrap();
}

#[test]
fn new_fits_as_many_blocks_as_the_range_holds() {
    let mut ram = ram_with(BASE, RAM_SIZE);
    let mut rec = Recorder::default();
    let mut cx = Ctx::new(&mut ram, &mut rec);
    // 2 bytes of lead padding to reach 4-alignment, 20 of control block, 44 per block.
    let p = PartitionPool::new(&mut cx, name(), POOL + 2, 2 + 20 + 3 * 44 + 40, 32).unwrap();
    assert_eq!(p.count(), 3);
    assert_eq!(p.control_block(), POOL + 4);
    let mut spans = Vec::new();
    p.walk(&ram, &mut |b| spans.push(b)).unwrap();
    assert_eq!(spans.first().unwrap().kind, BlockKind::Padding);
    assert_eq!(spans.first().unwrap().len, 2);
    assert_eq!(spans.last().unwrap().kind, BlockKind::Padding);
    assert_eq!(spans.last().unwrap().len, 40);
    let total: u32 = spans.iter().map(|b| b.len).sum();
    assert_eq!(total, p.size());
}

#[test]
fn alloc_pops_the_head_and_free_pushes_it_back() {
    let (mut ram, mut p) = pool(32, 3);
    let a = alloc(&mut ram, &mut p, 10).unwrap();
    let b = alloc(&mut ram, &mut p, 32).unwrap();
    assert_eq!(a, POOL + PCB_SIZE + HEADER_SIZE);
    assert_eq!(b, a + 44);
    // The header of a block in use: used magic, size asked for, owner.
    assert_eq!(ram.read_u32(a - 12).unwrap(), USED_MAGIC);
    assert_eq!(ram.read_u32(a - 8).unwrap(), 10);
    assert_eq!(ram.read_u32(a - 4).unwrap(), 1);
    assert_eq!(p.free_count(&ram), Ok(1));
    free(&mut ram, &mut p, a).unwrap();
    // LIFO: the block freed last is the head and is handed out next.
    assert_eq!(ram.read_u32(POOL + 16).unwrap(), a - 12);
    assert_eq!(alloc(&mut ram, &mut p, 5), Ok(a));
    p.check(&ram).unwrap();
}

#[test]
fn requests_above_the_block_size_are_too_large_and_zero_is_refused() {
    let (mut ram, mut p) = pool(32, 2);
    assert_eq!(
        alloc(&mut ram, &mut p, 33),
        Err(AllocError::TooLarge {
            requested: 33,
            max: 32
        })
    );
    assert_eq!(
        alloc(&mut ram, &mut p, u32::MAX),
        Err(AllocError::TooLarge {
            requested: u32::MAX,
            max: 32
        })
    );
    assert_eq!(alloc(&mut ram, &mut p, 0), Err(AllocError::ZeroSize));
    assert_eq!(p.free_count(&ram), Ok(2));
}

#[test]
fn an_exhausted_pool_gives_out_of_memory() {
    let (mut ram, mut p) = pool(16, 2);
    alloc(&mut ram, &mut p, 16).unwrap();
    alloc(&mut ram, &mut p, 16).unwrap();
    assert_eq!(
        alloc(&mut ram, &mut p, 1),
        Err(AllocError::OutOfMemory {
            requested: 1,
            largest_free: 0
        })
    );
    p.check(&ram).unwrap();
}

#[test]
fn double_free_foreign_interior_and_outside_pointers_are_refused() {
    let (mut ram, mut p) = pool(32, 3);
    let a = alloc(&mut ram, &mut p, 8).unwrap();
    free(&mut ram, &mut p, a).unwrap();
    let before = ram.clone();
    assert_eq!(
        free(&mut ram, &mut p, a),
        Err(AllocError::DoubleFree { addr: a })
    );
    // A never-allocated block boundary is free too.
    assert_eq!(
        free(&mut ram, &mut p, a + 44),
        Err(AllocError::DoubleFree { addr: a + 44 })
    );
    for bad in [
        a + 1,
        a + 4,
        a - 12,
        POOL,
        BASE + 8,
        0,
        u32::MAX,
        0xdead_beef,
    ] {
        assert_eq!(
            free(&mut ram, &mut p, bad),
            Err(AllocError::InvalidPointer { addr: bad }),
            "free of {bad:#x}"
        );
    }
    assert!(ram.slice(BASE, RAM_SIZE).unwrap() == before.slice(BASE, RAM_SIZE).unwrap());
    p.check(&ram).unwrap();
}

#[test]
fn walk_shows_payload_and_padding_and_usage_counts_them() {
    let (mut ram, mut p) = pool(32, 3);
    let a = alloc(&mut ram, &mut p, 20).unwrap();
    let mut spans = Vec::new();
    p.walk(&ram, &mut |b| spans.push(b)).unwrap();
    let of_a: Vec<_> = spans.iter().filter(|b| b.block == a).collect();
    let kinds: Vec<_> = of_a.iter().map(|b| (b.kind, b.len)).collect();
    assert_eq!(
        kinds,
        [
            (BlockKind::Header, 12),
            (BlockKind::Payload, 20),
            (BlockKind::Padding, 12)
        ]
    );
    assert!(of_a.iter().all(|b| b.owner == Owner(1)));
    let u = p.usage(&ram).unwrap();
    assert_eq!((u.count, u.free, u.in_use), (3, 2, 1));
    assert_eq!((u.asked, u.given, u.wasted()), (20, 32, 12));
    let s = p.stats(&ram).unwrap();
    assert_eq!(s.capacity, p.size());
    assert_eq!((s.used, s.free, s.blocks), (20, 64, 1));
}

#[test]
fn realloc_is_not_offered() {
    let (mut ram, mut p) = pool(32, 1);
    let a = alloc(&mut ram, &mut p, 8).unwrap();
    let mut rec = Recorder::default();
    let r = p.realloc(&mut Ctx::new(&mut ram, &mut rec), a, 16, Owner(1));
    assert_eq!(r, Err(AllocError::Unsupported));
}

#[test]
fn bad_configurations_are_refused_with_a_fault_event() {
    let mut ram = ram_with(BASE, RAM_SIZE);
    let mut rec = Recorder::default();
    let mut cx = Ctx::new(&mut ram, &mut rec);
    let n = name();
    let cases = [
        (
            PartitionPool::new(&mut cx, n, POOL, 512, 0),
            AllocError::Config(ConfigError::BadBlockSize { size: 0 }),
        ),
        (
            PartitionPool::new(&mut cx, n, BASE + RAM_SIZE - 8, 64, 4),
            AllocError::Config(ConfigError::NotInRam {
                addr: BASE + RAM_SIZE - 8,
                size: 64,
            }),
        ),
        (
            PartitionPool::new(&mut cx, n, 0x1000, 64, 4),
            AllocError::Config(ConfigError::NotInRam {
                addr: 0x1000,
                size: 64,
            }),
        ),
        (
            PartitionPool::new(&mut cx, n, POOL, 40, 32),
            AllocError::Config(ConfigError::TooSmall {
                needed: 64,
                available: 40,
            }),
        ),
        (
            PartitionPool::with_count(&mut cx, n, POOL, 32, 0),
            AllocError::Config(ConfigError::NoBlocks),
        ),
        (
            PartitionPool::with_count(&mut cx, n, POOL, 1024, 1000),
            AllocError::Config(ConfigError::NotInRam {
                addr: POOL,
                size: 20 + 1000 * 1036,
            }),
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got, Err(want));
    }
    let faults = rec
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Fault { .. }))
        .count();
    assert_eq!(faults, 6);
}

#[test]
fn one_changed_magic_byte_is_reported_by_check_and_free() {
    let (mut ram, mut p) = pool(32, 3);
    let a = alloc(&mut ram, &mut p, 8).unwrap();
    let header = a - HEADER_SIZE;
    ram.write_u8(header + 1, 0x00).unwrap();
    let want = AllocError::Corrupted {
        at: header,
        field: Field::Magic,
        expected: USED_MAGIC,
        found: 0xa55a_00a5,
    };
    assert_eq!(p.check(&ram), Err(want));
    let mut rec = Recorder::default();
    let got = p.free(&mut Ctx::new(&mut ram, &mut rec), a);
    assert_eq!(got, Err(want));
    let last = rec.events.last().unwrap();
    assert!(matches!(last.kind, EventKind::Fault { error, .. } if error == want));
    assert_eq!(
        want.to_string(),
        format!("corrupted magic at {header:#010x}: expected 0xa55a5aa5, found 0xa55a00a5")
    );
}

#[test]
fn one_changed_control_block_byte_is_reported() {
    let (mut ram, mut p) = pool(32, 3);
    let a = alloc(&mut ram, &mut p, 8).unwrap();
    ram.write_u8(POOL + 4, 0x21).unwrap();
    let want = AllocError::Corrupted {
        at: POOL + 4,
        field: Field::Size,
        expected: 32,
        found: 0x21,
    };
    assert_eq!(p.check(&ram), Err(want));
    assert_eq!(free(&mut ram, &mut p, a), Err(want));
    assert_eq!(alloc(&mut ram, &mut p, 4), Err(want));
}

#[test]
fn a_broken_free_list_is_found_by_check_and_alloc() {
    let (mut ram, mut p) = pool(32, 3);
    let first = POOL + PCB_SIZE;
    // The first free block links to itself: a cycle.
    ram.write_u32(first, first).unwrap();
    assert!(matches!(
        p.check(&ram),
        Err(AllocError::Inconsistent { .. })
    ));
    // The head's link points into the middle of a block.
    ram.write_u32(first, first + 4).unwrap();
    assert!(matches!(
        p.check(&ram),
        Err(AllocError::Inconsistent { .. })
    ));
    assert!(matches!(
        alloc(&mut ram, &mut p, 4),
        Err(AllocError::Inconsistent { .. })
    ));
    // The free count says more than the list holds.
    let (mut ram, mut p) = pool(32, 3);
    alloc(&mut ram, &mut p, 4).unwrap();
    ram.write_u32(POOL + 12, 3).unwrap();
    assert!(matches!(
        p.check(&ram),
        Err(AllocError::Inconsistent { .. })
    ));
}

#[test]
fn any_corrupted_byte_gives_typed_errors_never_a_panic() {
    let (ram0, p0) = pool(16, 3);
    let mut ram0 = ram0;
    let mut p1 = p0;
    let a = alloc(&mut ram0, &mut p1, 5).unwrap();
    for off in 0..p0.size() {
        for value in [0x00u8, 0xff, 0x5a, 0x14] {
            let mut ram = ram0.clone();
            let mut p = p0;
            ram.write_u8(POOL + off, value).unwrap();
            let _ = p.check(&ram);
            let _ = p.walk(&ram, &mut |_| {});
            let _ = p.stats(&ram);
            let _ = p.usage(&ram);
            for _ in 0..4 {
                let _ = alloc(&mut ram, &mut p, 4);
            }
            let _ = free(&mut ram, &mut p, a);
            let _ = free(&mut ram, &mut p, a + 28);
        }
    }
}

#[test]
fn canonical_trace_of_create_alloc_free_and_double_free() {
    let mut ram = ram_with(BASE, RAM_SIZE);
    let mut sink = TextSink::new(String::new());
    let mut p = {
        let mut cx = Ctx::new(&mut ram, &mut sink);
        PartitionPool::with_count(&mut cx, name(), BASE, 32, 2).unwrap()
    };
    sink.step = 1;
    let a = p
        .alloc(&mut Ctx::new(&mut ram, &mut sink), 20, Owner(3))
        .unwrap();
    sink.step = 2;
    p.free(&mut Ctx::new(&mut ram, &mut sink), a).unwrap();
    sink.step = 3;
    let _ = p.free(&mut Ctx::new(&mut ram, &mut sink), a);
    let expected = "\
0000 part.fill addr=0x20000000 len=108 byte=0x00 field=data
0000 part.meta addr=0x20000000 field=magic value=0x50415254
0000 part.meta addr=0x20000004 field=size value=0x00000020
0000 part.meta addr=0x20000008 field=count value=0x00000002
0000 part.meta addr=0x2000000c field=count value=0x00000002
0000 part.meta addr=0x20000010 field=head value=0x20000014
0000 part.meta addr=0x20000014 field=next value=0x20000040
0000 part.meta addr=0x20000040 field=next value=0x00000000
0000 part.init base=0x20000000 size=108
0001 part.meta addr=0x20000010 field=head value=0x20000040
0001 part.meta addr=0x2000000c field=count value=0x00000001
0001 part.unlink list=0 addr=0x20000014
0001 part.meta addr=0x20000014 field=magic value=0xa55a5aa5
0001 part.meta addr=0x20000018 field=size value=0x00000014
0001 part.meta addr=0x2000001c field=owner value=0x00000003
0001 part.alloc addr=0x20000020 size=20 block=44 owner=3
0002 part.meta addr=0x20000018 field=size value=0x00000000
0002 part.meta addr=0x20000014 field=next value=0x20000040
0002 part.meta addr=0x20000010 field=head value=0x20000014
0002 part.meta addr=0x2000000c field=count value=0x00000002
0002 part.link list=0 addr=0x20000014
0002 part.free addr=0x20000020 block=44 owner=3
0003 part.fault op=free addr=0x20000020 error=DoubleFree addr=0x20000020
";
    assert_eq!(sink.out, expected);
}

#[test]
fn property_suite_aligned_pool() {
    let steps = run_suite(
        || {
            let (ram, p) = pool(60, 40);
            let range = (p.base(), p.size());
            Harness::new(ram, p, range, false)
        },
        60,
        40,
        260,
    );
    assert!(steps >= 10_000, "only {steps} steps ran");
}

#[test]
fn property_suite_unaligned_pool_with_odd_block_size() {
    let steps = run_suite(
        || {
            let mut ram = ram_with(BASE, RAM_SIZE);
            let mut rec = Recorder::default();
            let mut cx = Ctx::new(&mut ram, &mut rec);
            let p = PartitionPool::new(&mut cx, name(), POOL + 3, 700, 13).unwrap();
            let range = (p.base(), p.size());
            Harness::new(ram, p, range, false)
        },
        13,
        40,
        260,
    );
    assert!(steps >= 10_000, "only {steps} steps ran");
}
