//! Tests of the free-list policy lab: each fit policy and list order on hand-worked
//! workloads, the tie rule, low-end carving, coalescing on and off, a 0-byte header with a
//! 1-byte fragment, next fit's rover, the table limit, bad inputs, header corruption, the
//! canonical trace, and a property suite over a matrix of settings.

mod common;

use common::{ram_with, run_suite, Harness};
use memplay_engine::policy_lab::{
    FitPolicy, LabConfig, ListOrder, PolicyLab, MAX_BLOCKS, MAX_HEADER,
};
use memplay_engine::trace::{Quiet, Recorder, TextSink};
use memplay_engine::{
    Addr, AllocError, Allocator, Block, BlockKind, ConfigError, Ctx, EventKind, Field, Name, Owner,
    Ram,
};

const BASE: Addr = 0x2000_0000;

fn config(fit: FitPolicy, order: ListOrder, coalesce: bool, header: u32, align: u32) -> LabConfig {
    LabConfig {
        fit,
        order,
        coalesce,
        header,
        align,
    }
}

/// No header, byte alignment, coalescing on: the figures are the bare sizes.
fn bare(fit: FitPolicy, order: ListOrder) -> LabConfig {
    config(fit, order, true, 0, 1)
}

fn new_lab(config: LabConfig, size: u32) -> (Ram<Vec<u8>>, PolicyLab) {
    let mut ram = ram_with(BASE, size);
    let lab = PolicyLab::new(
        &mut Ctx::new(&mut ram, &mut Quiet),
        Name::lit("lab"),
        BASE,
        size,
        config,
    )
    .expect("valid lab");
    lab.check(&ram).expect("a fresh lab passes check()");
    (ram, lab)
}

fn try_alloc(ram: &mut Ram<Vec<u8>>, lab: &mut PolicyLab, size: u32) -> Result<Addr, AllocError> {
    let result = lab.alloc(&mut Ctx::new(ram, &mut Quiet), size, Owner(1));
    lab.check(ram).expect("check() after alloc");
    result
}

fn alloc(ram: &mut Ram<Vec<u8>>, lab: &mut PolicyLab, size: u32) -> Addr {
    try_alloc(ram, lab, size).expect("alloc")
}

fn try_free(ram: &mut Ram<Vec<u8>>, lab: &mut PolicyLab, addr: Addr) -> Result<(), AllocError> {
    let result = lab.free(&mut Ctx::new(ram, &mut Quiet), addr);
    lab.check(ram).expect("check() after free");
    result
}

fn free(ram: &mut Ram<Vec<u8>>, lab: &mut PolicyLab, addr: Addr) {
    try_free(ram, lab, addr).expect("free")
}

/// The free list as `(offset from BASE, length)`.
fn list(lab: &PolicyLab) -> Vec<(u32, u32)> {
    lab.free_list().map(|(a, l)| (a - BASE, l)).collect()
}

fn spans(ram: &Ram<Vec<u8>>, lab: &PolicyLab) -> Vec<Block> {
    let mut out = Vec::new();
    lab.walk(ram, &mut |b| out.push(b)).expect("walk");
    out
}

/// The classic workload: free blocks of 10, 30 and 20 bytes at offsets 0, 11 and 42, kept
/// apart by 1-byte live blocks, freed in address order, in a pool with nothing else free.
fn classic(fit: FitPolicy, order: ListOrder) -> (Ram<Vec<u8>>, PolicyLab) {
    let (mut ram, mut lab) = new_lab(bare(fit, order), 63);
    let mut blocks = Vec::new();
    for size in [10, 1, 30, 1, 20, 1] {
        blocks.push(alloc(&mut ram, &mut lab, size));
    }
    assert_eq!(blocks, [0, 10, 11, 41, 42, 62].map(|o| BASE + o));
    assert!(lab.free_list().next().is_none(), "the pool is full");
    for i in [0, 2, 4] {
        free(&mut ram, &mut lab, blocks[i]);
    }
    (ram, lab)
}

// ---------------------------------------------------------------------------------------
// The classic workload under every policy and order.
// ---------------------------------------------------------------------------------------

#[test]
fn the_free_list_order_after_freeing_10_30_20() {
    use ListOrder::*;
    let expected: [(ListOrder, [(u32, u32); 3]); 5] = [
        (Address, [(0, 10), (11, 30), (42, 20)]),
        (SizeAscending, [(0, 10), (42, 20), (11, 30)]),
        (SizeDescending, [(11, 30), (42, 20), (0, 10)]),
        (Lifo, [(42, 20), (11, 30), (0, 10)]),
        (Fifo, [(0, 10), (11, 30), (42, 20)]),
    ];
    for (order, want) in expected {
        let (_, lab) = classic(FitPolicy::First, order);
        assert_eq!(list(&lab), want, "{order:?}");
    }
}

/// A request of 15 over free blocks of 10, 30 and 20: the chosen block (as its offset) and
/// the elements visited, for every order and policy, worked out by hand:
///
/// - first fit takes the first block of 15 or more in list order;
/// - best fit scans all, except: it stops at the first fit on a size-ascending list and at
///   the first too-small block on a size-descending list (here the 10 after 30 and 20);
/// - worst fit scans all, except on a size-descending list where the first is the largest;
/// - next fit starts at the rover, which after these frees names the 10-byte block (see
///   `the_rover_after_the_classic_frees`), and wraps.
#[test]
fn a_request_of_15_under_every_policy_and_order() {
    use FitPolicy::*;
    use ListOrder::*;
    // (order, policy, chosen block offset, visited)
    let table: [(ListOrder, FitPolicy, u32, u32); 20] = [
        (Address, First, 11, 2),
        (Address, Best, 42, 3),
        (Address, Worst, 11, 3),
        (Address, Next, 11, 2),
        (SizeAscending, First, 42, 2),
        (SizeAscending, Best, 42, 2),
        (SizeAscending, Worst, 11, 3),
        (SizeAscending, Next, 42, 2),
        (SizeDescending, First, 11, 1),
        (SizeDescending, Best, 42, 3),
        (SizeDescending, Worst, 11, 1),
        (SizeDescending, Next, 11, 2),
        (Lifo, First, 42, 1),
        (Lifo, Best, 42, 3),
        (Lifo, Worst, 11, 3),
        (Lifo, Next, 42, 2),
        (Fifo, First, 11, 2),
        (Fifo, Best, 42, 3),
        (Fifo, Worst, 11, 3),
        (Fifo, Next, 11, 2),
    ];
    for (order, fit, block, visited) in table {
        let (mut ram, mut lab) = classic(fit, order);
        let before = lab.total_searched();
        let mut rec = Recorder::default();
        let addr = lab
            .alloc(&mut Ctx::new(&mut ram, &mut rec), 15, Owner(1))
            .unwrap();
        lab.check(&ram).unwrap();
        assert_eq!(addr, BASE + block, "{order:?} {fit:?}: chosen block");
        assert_eq!(lab.last_search(), visited, "{order:?} {fit:?}: visited");
        assert_eq!(lab.total_searched(), before + visited as u64);
        assert_eq!(
            rec.events[0].kind,
            EventKind::Search { size: 15, visited },
            "{order:?} {fit:?}: the search event comes first"
        );
    }
}

#[test]
fn the_rover_after_the_classic_frees() {
    // The pool was full (empty list, rover 0); the 10-byte block was freed first and the
    // rover names it. Where the 30 and the 20 were linked before it (LIFO, size-descending),
    // the rover followed it to its new position.
    for (order, position) in [
        (ListOrder::Address, 0),
        (ListOrder::SizeAscending, 0),
        (ListOrder::SizeDescending, 2),
        (ListOrder::Lifo, 2),
        (ListOrder::Fifo, 0),
    ] {
        let (_, lab) = classic(FitPolicy::Next, order);
        assert_eq!(lab.rover(), Some(BASE), "{order:?}");
        assert_eq!(list(&lab)[position], (0, 10), "{order:?}");
    }
}

#[test]
fn the_remainder_of_a_split_stays_put_or_moves_by_the_order_rule() {
    // A request of 15 from the 30-byte block at 11 leaves 15 bytes at 26.
    let cases = [
        // Address order: the remainder keeps its block's place.
        (
            ListOrder::Address,
            FitPolicy::First,
            vec![(0, 10), (26, 15), (42, 20)],
        ),
        // Size-ascending: 15 moves between 10 and 20.
        (
            ListOrder::SizeAscending,
            FitPolicy::Worst,
            vec![(0, 10), (26, 15), (42, 20)],
        ),
        // Size-descending: 15 moves after 20.
        (
            ListOrder::SizeDescending,
            FitPolicy::First,
            vec![(42, 20), (26, 15), (0, 10)],
        ),
        // LIFO and FIFO: the remainder keeps its block's place (it was not freed).
        (
            ListOrder::Lifo,
            FitPolicy::Worst,
            vec![(42, 20), (26, 15), (0, 10)],
        ),
        (
            ListOrder::Fifo,
            FitPolicy::First,
            vec![(0, 10), (26, 15), (42, 20)],
        ),
    ];
    for (order, fit, want) in cases {
        let (mut ram, mut lab) = classic(fit, order);
        let mut rec = Recorder::default();
        let addr = lab
            .alloc(&mut Ctx::new(&mut ram, &mut rec), 15, Owner(1))
            .unwrap();
        assert_eq!(addr, BASE + 11, "{order:?}");
        assert_eq!(list(&lab), want, "{order:?}");
        let kinds: Vec<EventKind> = rec.events.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds[1..],
            [
                EventKind::Unlink {
                    list: 0,
                    addr: BASE + 11
                },
                EventKind::Split {
                    addr: BASE + 11,
                    size: 15,
                    rest: BASE + 26,
                    rest_size: 15
                },
                EventKind::Link {
                    list: 0,
                    addr: BASE + 26
                },
                EventKind::Alloc {
                    addr: BASE + 11,
                    size: 15,
                    block: 15,
                    owner: Owner(1)
                },
            ],
            "{order:?}"
        );
        // The rover stays on the remainder.
        assert_eq!(lab.rover(), Some(BASE + 26), "{order:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Single rules.
// ---------------------------------------------------------------------------------------

/// Two free blocks of 10 bytes at offsets 0 and 11, freed in that order.
fn twins(fit: FitPolicy, order: ListOrder) -> (Ram<Vec<u8>>, PolicyLab) {
    let (mut ram, mut lab) = new_lab(bare(fit, order), 22);
    let p = alloc(&mut ram, &mut lab, 10);
    alloc(&mut ram, &mut lab, 1);
    let q = alloc(&mut ram, &mut lab, 10);
    alloc(&mut ram, &mut lab, 1);
    free(&mut ram, &mut lab, p);
    free(&mut ram, &mut lab, q);
    (ram, lab)
}

#[test]
fn ties_go_to_the_first_element_in_list_order() {
    use FitPolicy::*;
    use ListOrder::*;
    // (order, policy, chosen offset, visited); a request of 5 fits both 10-byte blocks.
    for (order, fit, block, visited) in [
        (Address, First, 0, 1),
        (Address, Best, 0, 2),
        (Address, Worst, 0, 2),
        (Lifo, Best, 11, 2),
        (Lifo, Worst, 11, 2),
        (Lifo, First, 11, 1),
        // Equal sizes are ordered by address; best fit stops at the first fit.
        (SizeAscending, Best, 0, 1),
        (SizeDescending, Worst, 0, 1),
        (SizeDescending, Best, 0, 2),
    ] {
        let (mut ram, mut lab) = twins(fit, order);
        let addr = alloc(&mut ram, &mut lab, 5);
        assert_eq!(addr, BASE + block, "{order:?} {fit:?}");
        assert_eq!(lab.last_search(), visited, "{order:?} {fit:?}");
    }
}

#[test]
fn best_fit_stops_at_an_exact_fit() {
    let (mut ram, mut lab) = classic(FitPolicy::Best, ListOrder::Address);
    assert_eq!(alloc(&mut ram, &mut lab, 30), BASE + 11);
    assert_eq!(lab.last_search(), 2);
}

#[test]
fn blocks_are_carved_from_the_low_end() {
    let (mut ram, mut lab) = new_lab(LabConfig::default(), 64);
    // Header 4 and alignment 4: 10 bytes need round_up(4 + 10, 4) = 16.
    let a = alloc(&mut ram, &mut lab, 10);
    assert_eq!(a, BASE + 4);
    assert_eq!(list(&lab), [(16, 48)]);
    // 1 byte needs round_up(4 + 1, 4) = 8, carved at the low end of the remainder.
    let b = alloc(&mut ram, &mut lab, 1);
    assert_eq!(b, BASE + 20);
    assert_eq!(list(&lab), [(24, 40)]);
    // The headers hold the block lengths.
    assert_eq!(ram.read_u32(BASE).unwrap(), 16);
    assert_eq!(ram.read_u32(BASE + 16).unwrap(), 8);
}

#[test]
fn a_remainder_too_short_for_a_block_stays_in_the_block_as_padding() {
    let (mut ram, mut lab) = new_lab(LabConfig::default(), 64);
    // 53 bytes need 60; the 4 left cannot hold a header and a byte (8), so all 64 go.
    let a = alloc(&mut ram, &mut lab, 53);
    assert!(lab.free_list().next().is_none());
    assert_eq!(ram.read_u32(BASE).unwrap(), 64);
    let kinds: Vec<(BlockKind, u32)> = spans(&ram, &lab).iter().map(|b| (b.kind, b.len)).collect();
    assert_eq!(
        kinds,
        [
            (BlockKind::Header, 4),
            (BlockKind::Payload, 53),
            (BlockKind::Padding, 7)
        ]
    );
    free(&mut ram, &mut lab, a);
    // 52 bytes need 56; the 8 left hold a minimal block, so they are split off.
    alloc(&mut ram, &mut lab, 52);
    assert_eq!(list(&lab), [(56, 8)]);
}

#[test]
fn a_header_of_0_shows_a_1_byte_fragment() {
    let (mut ram, mut lab) = new_lab(bare(FitPolicy::First, ListOrder::Address), 10);
    let a = alloc(&mut ram, &mut lab, 9);
    assert_eq!(a, BASE);
    assert_eq!(list(&lab), [(9, 1)]);
    let all: Vec<(u32, u32, BlockKind)> = spans(&ram, &lab)
        .iter()
        .map(|b| (b.addr - BASE, b.len, b.kind))
        .collect();
    assert_eq!(all, [(0, 9, BlockKind::Payload), (9, 1, BlockKind::Free)]);
    let stats = lab.stats(&ram).unwrap();
    assert_eq!((stats.used, stats.free, stats.overhead), (9, 1, 0));
    // A 2-byte request does not fit in the fragment.
    assert_eq!(
        try_alloc(&mut ram, &mut lab, 2),
        Err(AllocError::OutOfMemory {
            requested: 2,
            largest_free: 1
        })
    );
    let b = alloc(&mut ram, &mut lab, 1);
    assert_eq!(b, BASE + 9);
    assert!(lab.free_list().next().is_none());
    free(&mut ram, &mut lab, a);
    free(&mut ram, &mut lab, b);
    assert_eq!(list(&lab), [(0, 10)]);
}

#[test]
fn coalescing_on_merges_neighbours_and_off_leaves_false_fragmentation() {
    for coalesce in [true, false] {
        let cfg = config(FitPolicy::First, ListOrder::Address, coalesce, 0, 1);
        let (mut ram, mut lab) = new_lab(cfg, 30);
        let a = alloc(&mut ram, &mut lab, 10);
        let b = alloc(&mut ram, &mut lab, 10);
        let c = alloc(&mut ram, &mut lab, 10);
        free(&mut ram, &mut lab, a);
        free(&mut ram, &mut lab, c);
        let mut rec = Recorder::default();
        lab.free(&mut Ctx::new(&mut ram, &mut rec), b).unwrap();
        lab.check(&ram).unwrap();
        let kinds: Vec<EventKind> = rec.events.iter().map(|e| e.kind).collect();
        if coalesce {
            assert_eq!(list(&lab), [(0, 30)]);
            assert_eq!(
                kinds,
                [
                    EventKind::Unlink {
                        list: 0,
                        addr: BASE
                    },
                    EventKind::Merge {
                        addr: BASE,
                        size: 20,
                        absorbed: BASE + 10
                    },
                    EventKind::Unlink {
                        list: 0,
                        addr: BASE + 20
                    },
                    EventKind::Merge {
                        addr: BASE,
                        size: 30,
                        absorbed: BASE + 20
                    },
                    EventKind::Link {
                        list: 0,
                        addr: BASE
                    },
                    EventKind::Free {
                        addr: BASE + 10,
                        block: 10,
                        owner: Owner(1)
                    },
                ]
            );
            assert_eq!(alloc(&mut ram, &mut lab, 25), BASE);
        } else {
            assert_eq!(list(&lab), [(0, 10), (10, 10), (20, 10)]);
            assert_eq!(
                kinds,
                [
                    EventKind::Link {
                        list: 0,
                        addr: BASE + 10
                    },
                    EventKind::Free {
                        addr: BASE + 10,
                        block: 10,
                        owner: Owner(1)
                    },
                ]
            );
            // 30 bytes are free side by side, yet 25 cannot be had.
            let stats = lab.stats(&ram).unwrap();
            assert_eq!(
                (stats.free, stats.largest_free, stats.free_blocks),
                (30, 10, 3)
            );
            assert_eq!(stats.fragmentation_permille, 666);
            assert_eq!(
                try_alloc(&mut ram, &mut lab, 25),
                Err(AllocError::OutOfMemory {
                    requested: 25,
                    largest_free: 10
                })
            );
        }
    }
}

#[test]
fn lifo_and_fifo_put_a_freed_or_merged_block_at_the_front_or_back() {
    for (order, want) in [
        (ListOrder::Lifo, [(0, 20), (30, 10)]),
        (ListOrder::Fifo, [(30, 10), (0, 20)]),
    ] {
        let (mut ram, mut lab) = new_lab(bare(FitPolicy::First, order), 40);
        let a = alloc(&mut ram, &mut lab, 10);
        let b = alloc(&mut ram, &mut lab, 10);
        alloc(&mut ram, &mut lab, 10);
        free(&mut ram, &mut lab, a);
        let after_a = if order == ListOrder::Lifo {
            [(0, 10), (30, 10)]
        } else {
            [(30, 10), (0, 10)]
        };
        assert_eq!(list(&lab), after_a, "{order:?}");
        // b merges with a; the merged block is linked at the front (LIFO) or back (FIFO).
        free(&mut ram, &mut lab, b);
        assert_eq!(list(&lab), want, "{order:?}");
    }
}

#[test]
fn next_fit_resumes_at_the_rover_and_wraps_once() {
    let (mut ram, mut lab) = new_lab(bare(FitPolicy::Next, ListOrder::Address), 21);
    // Free blocks of 3, 5 and 10 at offsets 0, 4 and 10.
    let mut blocks = Vec::new();
    for size in [3, 1, 5, 1, 10, 1] {
        blocks.push(alloc(&mut ram, &mut lab, size));
    }
    for i in [0, 2, 4] {
        free(&mut ram, &mut lab, blocks[i]);
    }
    assert_eq!(list(&lab), [(0, 3), (4, 5), (10, 10)]);
    assert_eq!(lab.rover(), Some(BASE));
    // 7: 3 and 5 are too small, 10 fits; the rover stays on the remainder (3 at 17).
    assert_eq!(alloc(&mut ram, &mut lab, 7), BASE + 10);
    assert_eq!(lab.last_search(), 3);
    assert_eq!(lab.rover(), Some(BASE + 17));
    // 4: the remainder of 3 is too small, wrap: 3 too small, 5 fits.
    assert_eq!(alloc(&mut ram, &mut lab, 4), BASE + 4);
    assert_eq!(lab.last_search(), 3);
    assert_eq!(lab.rover(), Some(BASE + 8));
    // 3: from the 1-byte remainder at 8 to the 3 at 17, where first fit would take 0.
    assert_eq!(alloc(&mut ram, &mut lab, 3), BASE + 17);
    assert_eq!(lab.last_search(), 2);
    // The 3 at 17 was used up: the rover wraps to the head.
    assert_eq!(lab.rover(), Some(BASE));
    // A request that fits nowhere visits every element once and leaves the rover alone.
    assert!(try_alloc(&mut ram, &mut lab, 9).is_err());
    assert_eq!(lab.last_search(), 2);
    assert_eq!(lab.rover(), Some(BASE));
    assert_eq!(lab.total_searched(), 6 + 3 + 3 + 2 + 2);
    assert_eq!(lab.searches(), 10);
}

#[test]
fn the_table_limit_refuses_a_split_but_not_an_exact_fit() {
    let (mut ram, mut lab) = new_lab(bare(FitPolicy::First, ListOrder::Address), 1024);
    // Each 1-byte request splits: one more record each time, 255 + the free remainder.
    let mut blocks = Vec::new();
    for _ in 0..MAX_BLOCKS - 1 {
        blocks.push(alloc(&mut ram, &mut lab, 1));
    }
    assert_eq!(lab.live_blocks().len() + lab.free_spans().len(), MAX_BLOCKS);
    let rest = 1024 - (MAX_BLOCKS as u32 - 1);
    assert_eq!(
        try_alloc(&mut ram, &mut lab, 1),
        Err(AllocError::OutOfMemory {
            requested: 1,
            largest_free: rest
        })
    );
    // Taking the whole remainder needs no new record.
    let last = alloc(&mut ram, &mut lab, rest);
    assert_eq!(lab.live_blocks().len(), MAX_BLOCKS);
    // Frees never need a record.
    free(&mut ram, &mut lab, blocks[7]);
    free(&mut ram, &mut lab, last);
    assert_eq!(lab.free_spans().len(), 2);
}

#[test]
fn headers_of_8_hold_size_and_owner_and_walk_shows_header_payload_padding() {
    let cfg = config(FitPolicy::First, ListOrder::Address, true, 8, 8);
    let (mut ram, mut lab) = new_lab(cfg, 64);
    let mut rec = Recorder::default();
    let a = lab
        .alloc(&mut Ctx::new(&mut ram, &mut rec), 5, Owner(7))
        .unwrap();
    assert_eq!(a, BASE + 8);
    let kinds: Vec<EventKind> = rec.events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds[4..],
        [
            EventKind::Meta {
                addr: BASE,
                field: Field::Size,
                value: 16
            },
            EventKind::Meta {
                addr: BASE + 4,
                field: Field::Owner,
                value: 7
            },
            EventKind::Alloc {
                addr: BASE + 8,
                size: 5,
                block: 16,
                owner: Owner(7)
            },
        ]
    );
    let all: Vec<(u32, u32, BlockKind, Addr)> = spans(&ram, &lab)
        .iter()
        .map(|b| (b.addr - BASE, b.len, b.kind, b.block))
        .collect();
    assert_eq!(
        all,
        [
            (0, 8, BlockKind::Header, a),
            (8, 5, BlockKind::Payload, a),
            (13, 3, BlockKind::Padding, a),
            (16, 48, BlockKind::Free, BASE + 16),
        ]
    );
}

#[test]
fn an_unaligned_pool_reports_its_edges_as_padding() {
    let mut ram = ram_with(BASE, 80);
    let base = BASE + 1;
    let lab = PolicyLab::new(
        &mut Ctx::new(&mut ram, &mut Quiet),
        Name::lit("lab"),
        base,
        64,
        LabConfig::default(),
    )
    .unwrap();
    lab.check(&ram).unwrap();
    // area + 4 must be aligned to 4: area = BASE + 4, then 60 bytes, 1 left at the end.
    assert_eq!(lab.area(), (BASE + 4, 60));
    let all: Vec<(u32, u32, BlockKind)> = spans(&ram, &lab)
        .iter()
        .map(|b| (b.addr - BASE, b.len, b.kind))
        .collect();
    assert_eq!(
        all,
        [
            (1, 3, BlockKind::Padding),
            (4, 60, BlockKind::Free),
            (64, 1, BlockKind::Padding)
        ]
    );
    let stats = lab.stats(&ram).unwrap();
    assert_eq!((stats.capacity, stats.free, stats.overhead), (64, 60, 4));
}

// ---------------------------------------------------------------------------------------
// The four policies side by side.
// ---------------------------------------------------------------------------------------

/// One workload under the four policies (address order, coalescing on, no header, byte
/// alignment), all figures worked out by hand.
///
/// A 100-byte pool: 10 @0, 1 @10, 30 @11, 1 @41, 20 @42, 1 @62, 37 free @63; the 10, 30 and
/// 20 are freed, leaving free blocks 10 @0, 30 @11, 20 @42, 37 @63. Then requests of 15, 15,
/// 10 and 30:
///
/// - first:  15→@11 (v2, 15 left @26), 15→@26 (v2, exact), 10→@0 (v1), 30→@63 (v2, 7 left @93);
///   free 20 @42 + 7 @93: 27 bytes, largest 20, (27-20)/27 = 259‰.
/// - best:   15→@42 (v4, 5 left @57), 15→@11 (v4, 15 left @26), 10→@0 (v1, exact),
///   30→@63 (v3); free 15 @26, 5 @57, 7 @93: largest 15, 444‰.
/// - worst:  15→@63 (v4, 22 left @78), 15→@11 (v4, 15 left @26), 10→@78 (v4, 12 left @88),
///   30 fails (v4): free 10, 15, 20, 12: 57 bytes, largest 20, 649‰.
/// - next:   the rover is on 37 @63 (the last allocation's remainder): 15→@63 (v1, 22 left
///   @78), 15→@78 (v1, 7 left @93), 10: 7 too small, wrap to 10 @0 (v2, exact), 30→@11
///   (v1, exact): free 20 @42 and 7 @93, 259‰, in 5 visits instead of first fit's 7.
#[test]
fn the_same_workload_under_the_four_policies() {
    struct Outcome {
        fit: FitPolicy,
        addrs: [Option<u32>; 4],
        visited: [u32; 4],
        free_list: Vec<(u32, u32)>,
        free: u32,
        largest: u32,
        permille: u32,
    }
    let expected = [
        Outcome {
            fit: FitPolicy::First,
            addrs: [Some(11), Some(26), Some(0), Some(63)],
            visited: [2, 2, 1, 2],
            free_list: vec![(42, 20), (93, 7)],
            free: 27,
            largest: 20,
            permille: 259,
        },
        Outcome {
            fit: FitPolicy::Best,
            addrs: [Some(42), Some(11), Some(0), Some(63)],
            visited: [4, 4, 1, 3],
            free_list: vec![(26, 15), (57, 5), (93, 7)],
            free: 27,
            largest: 15,
            permille: 444,
        },
        Outcome {
            fit: FitPolicy::Worst,
            addrs: [Some(63), Some(11), Some(78), None],
            visited: [4, 4, 4, 4],
            free_list: vec![(0, 10), (26, 15), (42, 20), (88, 12)],
            free: 57,
            largest: 20,
            permille: 649,
        },
        Outcome {
            fit: FitPolicy::Next,
            addrs: [Some(63), Some(78), Some(0), Some(11)],
            visited: [1, 1, 2, 1],
            free_list: vec![(42, 20), (93, 7)],
            free: 27,
            largest: 20,
            permille: 259,
        },
    ];
    let mut totals = Vec::new();
    for want in expected {
        let fit = want.fit;
        let (mut ram, mut lab) = new_lab(bare(fit, ListOrder::Address), 100);
        let mut blocks = Vec::new();
        for size in [10, 1, 30, 1, 20, 1] {
            blocks.push(alloc(&mut ram, &mut lab, size));
        }
        for i in [0, 2, 4] {
            free(&mut ram, &mut lab, blocks[i]);
        }
        assert_eq!(list(&lab), [(0, 10), (11, 30), (42, 20), (63, 37)]);
        let searched_before = lab.total_searched();
        for (k, size) in [15, 15, 10, 30].into_iter().enumerate() {
            let got = try_alloc(&mut ram, &mut lab, size).ok().map(|a| a - BASE);
            assert_eq!(got, want.addrs[k], "{fit:?}: request {k} of {size}");
            assert_eq!(lab.last_search(), want.visited[k], "{fit:?}: request {k}");
        }
        assert_eq!(list(&lab), want.free_list, "{fit:?}");
        let stats = lab.stats(&ram).unwrap();
        assert_eq!(
            (stats.free, stats.largest_free, stats.fragmentation_permille),
            (want.free, want.largest, want.permille),
            "{fit:?}"
        );
        totals.push(lab.total_searched() - searched_before);
    }
    assert_eq!(totals, [7, 12, 16, 5]);
}

// ---------------------------------------------------------------------------------------
// Bad input.
// ---------------------------------------------------------------------------------------

#[test]
fn bad_settings_and_pools_are_refused() {
    let mut ram = ram_with(BASE, 64);
    let mut make = |base: Addr, size: u32, cfg: LabConfig| {
        PolicyLab::new(
            &mut Ctx::new(&mut ram, &mut Quiet),
            Name::lit("lab"),
            base,
            size,
            cfg,
        )
        .map(|_| ())
    };
    let with = |header: u32, align: u32| LabConfig {
        header,
        align,
        ..LabConfig::default()
    };
    assert_eq!(
        make(BASE, 64, with(MAX_HEADER + 1, 4)),
        Err(AllocError::Config(ConfigError::BadBlockSize { size: 17 }))
    );
    for align in [0, 3, 32] {
        assert_eq!(
            make(BASE, 64, with(4, align)),
            Err(AllocError::Config(ConfigError::BadAlignment { align }))
        );
    }
    assert_eq!(
        make(BASE + 1, 64, with(4, 4)),
        Err(AllocError::Config(ConfigError::NotInRam {
            addr: BASE + 1,
            size: 64
        }))
    );
    assert_eq!(
        make(0xffff_fff0, 64, with(4, 4)),
        Err(AllocError::Config(ConfigError::NotInRam {
            addr: 0xffff_fff0,
            size: 64
        }))
    );
    // A header of 16 and alignment 16 need 32 bytes for the smallest block.
    assert_eq!(
        make(BASE, 31, with(16, 16)),
        Err(AllocError::Config(ConfigError::TooSmall {
            needed: 32,
            available: 31
        }))
    );
    assert_eq!(
        make(BASE, 0, with(0, 1)),
        Err(AllocError::Config(ConfigError::TooSmall {
            needed: 1,
            available: 0
        }))
    );
    assert!(make(BASE, 1, with(0, 1)).is_ok());
    assert!(make(BASE, 32, with(16, 16)).is_ok());
}

/// Everything a bad call could change: the tables, the figures and the bytes.
fn snapshot(ram: &Ram<Vec<u8>>, lab: &PolicyLab) -> String {
    format!(
        "{:?} {:?} {:?} {:?}",
        lab,
        lab.last_search(),
        lab.total_searched(),
        ram.slice(BASE, 128).unwrap()
    )
}

#[test]
fn bad_requests_and_bad_frees_change_nothing() {
    let (mut ram, mut lab) = new_lab(LabConfig::default(), 128);
    let a = alloc(&mut ram, &mut lab, 10);
    let b = alloc(&mut ram, &mut lab, 20);
    free(&mut ram, &mut lab, a);
    // a is free again, b is live; free memory now holds [0, 16) and [40, 128).
    let before = snapshot(&ram, &lab);

    assert_eq!(try_alloc(&mut ram, &mut lab, 0), Err(AllocError::ZeroSize));
    assert_eq!(snapshot(&ram, &lab), before, "alloc(0) does not search");

    for huge in [u32::MAX, u32::MAX - 3, 1 << 31, 125] {
        assert_eq!(
            try_alloc(&mut ram, &mut lab, huge),
            Err(AllocError::OutOfMemory {
                requested: huge,
                largest_free: 88
            })
        );
        assert_eq!(lab.last_search(), 2);
    }
    let before = snapshot(&ram, &lab);

    let cases = [
        (a, AllocError::DoubleFree { addr: a }),
        // An aligned address in free memory reads as a freed block.
        (BASE + 60, AllocError::DoubleFree { addr: BASE + 60 }),
        // Interior, header and unaligned addresses.
        (b + 4, AllocError::InvalidPointer { addr: b + 4 }),
        (b - 4, AllocError::InvalidPointer { addr: b - 4 }),
        (b + 1, AllocError::InvalidPointer { addr: b + 1 }),
        (BASE + 61, AllocError::InvalidPointer { addr: BASE + 61 }),
        // The pool's first bytes: a header position, not a payload.
        (BASE, AllocError::InvalidPointer { addr: BASE }),
        // Outside the pool, outside RAM, at the ends of the address space.
        (BASE + 128, AllocError::InvalidPointer { addr: BASE + 128 }),
        (
            0x0800_0000,
            AllocError::InvalidPointer { addr: 0x0800_0000 },
        ),
        (0, AllocError::InvalidPointer { addr: 0 }),
        (3, AllocError::InvalidPointer { addr: 3 }),
        (u32::MAX, AllocError::InvalidPointer { addr: u32::MAX }),
    ];
    for (addr, error) in cases {
        let mut rec = Recorder::default();
        assert_eq!(
            lab.free(&mut Ctx::new(&mut ram, &mut rec), addr),
            Err(error),
            "free({addr:#x})"
        );
        assert!(matches!(
            rec.events.as_slice(),
            [e] if matches!(e.kind, EventKind::Fault { .. })
        ));
        assert_eq!(
            snapshot(&ram, &lab),
            before,
            "free({addr:#x}) changed something"
        );
        lab.check(&ram).unwrap();
    }
    free(&mut ram, &mut lab, b);
    assert_eq!(list(&lab), [(0, 128)]);
}

#[test]
fn a_changed_header_byte_is_caught_by_check_and_free() {
    let (mut ram, mut lab) = new_lab(LabConfig::default(), 64);
    let a = alloc(&mut ram, &mut lab, 10);
    let b = alloc(&mut ram, &mut lab, 10);
    // One byte of b's header (at BASE + 16, holding 16) is overwritten.
    ram.write_u8(BASE + 17, 0x5a).unwrap();
    let error = AllocError::Corrupted {
        at: BASE + 16,
        field: Field::Size,
        expected: 16,
        found: 0x5a10,
    };
    assert_eq!(lab.check(&ram), Err(error));
    let before = format!("{lab:?}");
    let mut sink = TextSink::new(String::new());
    sink.step = 3;
    assert_eq!(lab.free(&mut Ctx::new(&mut ram, &mut sink), b), Err(error));
    assert_eq!(
        sink.out,
        "0003 lab.fault op=free addr=0x20000014 error=Corrupted at=0x20000010 field=size \
         expected=0x00000010 found=0x00005a10\n"
    );
    assert_eq!(format!("{lab:?}"), before, "a refused free changes nothing");
    // The other block is still fine; restoring the byte repairs the pool.
    assert_eq!(lab.free(&mut Ctx::new(&mut ram, &mut Quiet), a), Ok(()));
    ram.write_u8(BASE + 17, 0).unwrap();
    lab.check(&ram).unwrap();
    free(&mut ram, &mut lab, b);
    assert_eq!(list(&lab), [(0, 64)]);
}

#[test]
fn a_changed_owner_word_is_caught_with_a_header_of_8() {
    let cfg = config(FitPolicy::Best, ListOrder::SizeAscending, true, 8, 4);
    let (mut ram, mut lab) = new_lab(cfg, 64);
    let a = lab
        .alloc(&mut Ctx::new(&mut ram, &mut Quiet), 4, Owner(2))
        .unwrap();
    ram.write_u8(a - 4, 9).unwrap();
    let error = AllocError::Corrupted {
        at: a - 4,
        field: Field::Owner,
        expected: 2,
        found: 9,
    };
    assert_eq!(lab.check(&ram), Err(error));
    assert_eq!(lab.free(&mut Ctx::new(&mut ram, &mut Quiet), a), Err(error));
}

// ---------------------------------------------------------------------------------------
// The canonical trace.
// ---------------------------------------------------------------------------------------

#[test]
fn a_short_sequence_renders_as_canonical_lines() {
    let mut ram = ram_with(BASE, 64);
    let mut sink = TextSink::new(String::new());
    let mut lab = PolicyLab::new(
        &mut Ctx::new(&mut ram, &mut sink),
        Name::lit("lab"),
        BASE,
        64,
        LabConfig::default(),
    )
    .unwrap();
    sink.step = 1;
    let a = lab
        .alloc(&mut Ctx::new(&mut ram, &mut sink), 10, Owner(1))
        .unwrap();
    sink.step = 2;
    let _ = lab.alloc(&mut Ctx::new(&mut ram, &mut sink), 100, Owner(1));
    sink.step = 3;
    lab.free(&mut Ctx::new(&mut ram, &mut sink), a).unwrap();
    sink.step = 4;
    let _ = lab.free(&mut Ctx::new(&mut ram, &mut sink), a);
    let lines: Vec<&str> = sink.out.lines().collect();
    assert_eq!(
        lines,
        [
            "0000 lab.link list=0 addr=0x20000000",
            "0000 lab.init base=0x20000000 size=64",
            "0001 lab.search size=10 visited=1",
            "0001 lab.unlink list=0 addr=0x20000000",
            "0001 lab.split addr=0x20000000 size=16 rest=0x20000010 rest_size=48",
            "0001 lab.link list=0 addr=0x20000010",
            "0001 lab.meta addr=0x20000000 field=size value=0x00000010",
            "0001 lab.alloc addr=0x20000004 size=10 block=16 owner=1",
            "0002 lab.search size=100 visited=1",
            "0002 lab.fault op=alloc size=100 error=OutOfMemory requested=100 largest_free=48",
            "0003 lab.unlink list=0 addr=0x20000010",
            "0003 lab.merge addr=0x20000000 size=64 absorbed=0x20000010",
            "0003 lab.link list=0 addr=0x20000000",
            "0003 lab.free addr=0x20000004 block=16 owner=1",
            "0004 lab.fault op=free addr=0x20000004 error=DoubleFree addr=0x20000004",
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Property suite.
// ---------------------------------------------------------------------------------------

/// Random workloads with `check()` after every step, over every policy x every order x
/// coalescing on and off x headers of 0, 4 and 8 (with alignments 1, 4 and 8, and a base
/// that is not aligned, so the pool's edges are padding).
#[test]
fn random_workloads_over_the_settings_matrix() {
    const POOL: u32 = 1024;
    let base: Addr = 0x2000_0002;
    let mut total = 0u64;
    let mut configs = 0;
    for fit in FitPolicy::ALL {
        for order in ListOrder::ALL {
            for coalesce in [true, false] {
                for (header, align) in [(0, 1), (4, 4), (8, 8)] {
                    let cfg = config(fit, order, coalesce, header, align);
                    let make = || {
                        let mut ram = ram_with(base, POOL);
                        let lab = PolicyLab::new(
                            &mut Ctx::new(&mut ram, &mut Quiet),
                            Name::lit("lab"),
                            base,
                            POOL,
                            cfg,
                        )
                        .expect("valid lab");
                        Harness::new(ram, lab, (base, POOL), false)
                    };
                    total += run_suite(make, 160, 2, 45);
                    configs += 1;
                }
            }
        }
    }
    assert_eq!(configs, 120);
    assert!(total >= 10_000, "only {total} random steps ran");
}

/// Small pools with odd headers and alignments: every request near the pool's size, many
/// 1-byte fragments, and the table limit in reach.
#[test]
fn random_workloads_on_small_pools_with_odd_headers() {
    let mut total = 0u64;
    for (header, align, pool) in [
        (0, 1, 300),
        (1, 2, 97),
        (3, 1, 64),
        (5, 8, 200),
        (16, 16, 256),
    ] {
        for fit in FitPolicy::ALL {
            let cfg = config(fit, ListOrder::Lifo, header % 2 == 0, header, align);
            let make = || {
                let mut ram = ram_with(BASE, pool);
                let lab = PolicyLab::new(
                    &mut Ctx::new(&mut ram, &mut Quiet),
                    Name::lit("lab"),
                    BASE,
                    pool,
                    cfg,
                )
                .expect("valid lab");
                Harness::new(ram, lab, (BASE, pool), false)
            };
            total += run_suite(make, 24, 2, 60);
        }
    }
    assert!(total >= 2_000, "only {total} random steps ran");
}
