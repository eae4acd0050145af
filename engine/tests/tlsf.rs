//! Tests of the TLSF allocator: the class mapping, O(1) search, split and merge, good fit,
//! realloc, bad input, corrupted headers, the canonical trace, and the property suite.

mod common;

use common::{ram_with, run_suite, Harness};
use memplay_engine::tlsf::{Tlsf, TlsfConfig, HEADER_SIZE, MAGIC};
use memplay_engine::trace::{Quiet, Recorder, TextSink};
use memplay_engine::{
    Addr, AllocError, Allocator, BlockKind, Ctx, EventKind, Field, Name, Owner, Ram,
};

const BASE: Addr = 0x2000_0000;

fn cfg(sl_log2: u32, align: u32, search_own_class: bool) -> TlsfConfig {
    TlsfConfig {
        sl_log2,
        align,
        search_own_class,
    }
}

/// A RAM of `size` bytes at [`BASE`] and a pool over all of it.
fn pool(size: u32, config: TlsfConfig) -> (Ram<Vec<u8>>, Tlsf) {
    let mut ram = ram_with(BASE, size);
    let tlsf = Tlsf::new(
        &mut Ctx::new(&mut ram, &mut Quiet),
        Name::lit("tlsf"),
        BASE,
        size,
        config,
    )
    .expect("pool fits");
    tlsf.check(&ram).expect("a fresh pool is sound");
    (ram, tlsf)
}

fn alloc(ram: &mut Ram<Vec<u8>>, t: &mut Tlsf, size: u32) -> Result<Addr, AllocError> {
    t.alloc(&mut Ctx::new(ram, &mut Quiet), size, Owner(1))
}

fn free(ram: &mut Ram<Vec<u8>>, t: &mut Tlsf, addr: Addr) -> Result<(), AllocError> {
    t.free(&mut Ctx::new(ram, &mut Quiet), addr)
}

/// Runs `op` and returns its events.
fn events<T>(
    ram: &mut Ram<Vec<u8>>,
    op: impl FnOnce(&mut Ctx<'_, Vec<u8>>) -> T,
) -> (T, Vec<EventKind>) {
    let mut rec = Recorder::default();
    let out = op(&mut Ctx::new(ram, &mut rec));
    (out, rec.events.iter().map(|e| e.kind).collect())
}

fn search_visits(evs: &[EventKind]) -> u32 {
    evs.iter()
        .find_map(|e| match e {
            EventKind::Search { visited, .. } => Some(*visited),
            _ => None,
        })
        .expect("a search event")
}

fn snapshot(ram: &Ram<Vec<u8>>) -> Vec<u8> {
    ram.slice(BASE, ram.region_of(BASE).unwrap().size)
        .unwrap()
        .to_vec()
}

// ----- the class mapping --------------------------------------------------------------

#[test]
fn mapping_insert_matches_hand_computed_classes() {
    // align 4, SL = 16: SMALL = 64; below it one class per 4 bytes in row 0.
    let c = TlsfConfig::DEFAULT;
    assert_eq!(c.small_block_size(), 64);
    assert_eq!(c.mapping_insert(20), (0, 5));
    assert_eq!(c.mapping_insert(60), (0, 15));
    // 64 = 2^6: fl = 6 - 5 = 1, sl = (64 >> 2) - 16 = 0.
    assert_eq!(c.mapping_insert(64), (1, 0));
    // 100: fls 6, (100 >> 2) = 25, 25 - 16 = 9.
    assert_eq!(c.mapping_insert(100), (1, 9));
    // 1000: fls 9, fl = 4, (1000 >> 5) = 31, sl = 15.
    assert_eq!(c.mapping_insert(1000), (4, 15));
    assert_eq!(c.mapping_insert(1024), (5, 0));
    assert_eq!(c.mapping_insert(u32::MAX), (26, 15));

    // align 8, SL = 4: SMALL = 32. 100: fls 6, fl = 6 - 4 = 2, (100 >> 4) = 6, sl = 2.
    let c = cfg(2, 8, false);
    assert_eq!(c.small_block_size(), 32);
    assert_eq!(c.mapping_insert(24), (0, 3));
    assert_eq!(c.mapping_insert(100), (2, 2));
    // SL = 1: plain power-of-two classes.
    let c = cfg(0, 4, false);
    assert_eq!(c.mapping_insert(100), (5, 0));
    assert_eq!(c.mapping_insert(127), (5, 0));
    assert_eq!(c.mapping_insert(128), (6, 0));
}

#[test]
fn mapping_search_rounds_up_to_the_next_class_boundary() {
    let c = TlsfConfig::DEFAULT;
    // Small sizes are exact: every class in row 0 holds one size.
    assert_eq!(c.mapping_search(20), (0, 5));
    // 64 starts a class: no change. 65 rounds up by 3 to 68, the next class.
    assert_eq!(c.mapping_search(64), (1, 0));
    assert_eq!(c.mapping_insert(65), (1, 0));
    assert_eq!(c.mapping_search(65), (1, 1));
    // 130 lives in (2, 0) = [128, 136) but a search rounds 130 + 7 = 137 to (2, 1).
    assert_eq!(c.mapping_insert(130), (2, 0));
    assert_eq!(c.mapping_search(130), (2, 1));
    assert_eq!(c.class_min_size(2, 1), 136);
    // 1000 + 31 = 1031: the next row.
    assert_eq!(c.mapping_search(1000), (5, 0));
    // Every block of the searched class and above is big enough.
    for size in (16..5000u32).step_by(4) {
        let (fl, sl) = c.mapping_search(size);
        assert!(c.class_min_size(fl, sl) >= size as u64, "size {size}");
        let (ifl, isl) = c.mapping_insert(size);
        assert!(c.class_min_size(ifl, isl) <= size as u64, "size {size}");
    }
    // The top of the u32 range rounds beyond any pool's rows without overflowing.
    assert_eq!(c.mapping_search(u32::MAX), (27, 0));
}

#[test]
fn control_block_cost_depends_on_the_configuration() {
    let size = 64 * 1024;
    let figures: Vec<u32> = (2..=5)
        .map(|sl| Tlsf::control_block_size(size, &cfg(sl, 4, false)).unwrap())
        .collect();
    assert_eq!(figures, [264, 436, 752, 1324]);
    assert_eq!(TlsfConfig::DEFAULT.fl_count(size), 11);
    assert_eq!(
        Tlsf::control_block_size(size, &cfg(4, 8, false)).unwrap(),
        4 + 4 * 10 + 4 * 10 * 16 + 4 // FL = 10 with align 8, rounded up to 8
    );
    assert!(Tlsf::control_block_size(size, &cfg(6, 4, false)).is_err());
    assert!(Tlsf::control_block_size(size, &cfg(4, 16, false)).is_err());

    let (_, t) = pool(size, TlsfConfig::DEFAULT);
    assert_eq!(t.control_block_len(), 752);
    assert_eq!(t.first_block(), BASE + 752);
    assert_eq!(t.sentinel(), BASE + size - 8);
}

#[test]
fn bad_configurations_are_refused_with_a_fault() {
    let mut ram = ram_with(BASE, 4096);
    let mut rec = Recorder::default();
    let mut cx = Ctx::new(&mut ram, &mut rec);
    let name = Name::lit("tlsf");
    let e = Tlsf::new(&mut cx, name, BASE, 200, TlsfConfig::DEFAULT).unwrap_err();
    assert!(matches!(e, AllocError::Config(_)), "{e:?}");
    let e = Tlsf::new(&mut cx, name, BASE, 8192, TlsfConfig::DEFAULT).unwrap_err();
    assert!(matches!(e, AllocError::Config(_)), "{e:?}");
    let e = Tlsf::new(&mut cx, name, BASE, 4096, cfg(4, 3, false)).unwrap_err();
    assert!(matches!(e, AllocError::Config(_)), "{e:?}");
    assert!(rec
        .events
        .iter()
        .all(|e| matches!(e.kind, EventKind::Fault { .. })));
}

// ----- the pool -------------------------------------------------------------------------

#[test]
fn a_fresh_pool_is_one_free_block_on_its_list() {
    let (ram, t) = pool(4096, TlsfConfig::DEFAULT);
    let block = t.sentinel() - t.first_block();
    let (fl, sl) = t.mapping_insert(block);
    assert_eq!(t.fl_bitmap(&ram).unwrap(), 1 << fl);
    assert_eq!(t.sl_bitmap(&ram, fl).unwrap(), 1 << sl);
    assert_eq!(t.free_list_head(&ram, fl, sl).unwrap(), t.first_block());
    assert_eq!(t.sl_bitmap(&ram, 99).unwrap(), 0);

    let mut spans = Vec::new();
    t.walk(&ram, &mut |b| spans.push((b.addr, b.len, b.kind)))
        .unwrap();
    assert_eq!(
        spans,
        [
            (BASE, t.control_block_len(), BlockKind::Header),
            (t.first_block(), HEADER_SIZE, BlockKind::Header),
            (
                t.first_block() + HEADER_SIZE,
                block - HEADER_SIZE,
                BlockKind::Free
            ),
            (t.sentinel(), 8, BlockKind::Header),
        ]
    );
    let stats = t.stats(&ram).unwrap();
    assert_eq!(stats.capacity, 4096);
    assert_eq!(stats.free, block - HEADER_SIZE);
}

#[test]
fn an_unaligned_base_and_size_are_padded() {
    let mut ram = ram_with(BASE + 2, 4001);
    let t = Tlsf::new(
        &mut Ctx::new(&mut ram, &mut Quiet),
        Name::lit("tlsf"),
        BASE + 2,
        4001,
        cfg(3, 8, false),
    )
    .unwrap();
    assert_eq!(t.first_block() % 8, 0);
    assert_eq!(t.sentinel() % 8, 0);
    t.check(&ram).unwrap();
    let stats = t.stats(&ram).unwrap();
    assert_eq!(stats.capacity, 4001);
}

#[test]
fn search_reads_a_constant_number_of_words_whatever_the_list_length() {
    for holes in [1u32, 10, 40] {
        let (mut ram, mut t) = pool(16 * 1024, TlsfConfig::DEFAULT);
        // Holes of 100 bytes (116-byte blocks) separated by used blocks: one long list.
        let mut holes_at = Vec::new();
        for _ in 0..holes {
            holes_at.push(alloc(&mut ram, &mut t, 100).unwrap());
            alloc(&mut ram, &mut t, 8).unwrap();
        }
        for &a in &holes_at {
            free(&mut ram, &mut t, a).unwrap();
        }
        // A request whose rounded class is the holes' class reads its row's bitmap word
        // and the list head: 2 words.
        let (got, evs) = events(&mut ram, |cx| t.alloc(cx, 97, Owner(1)));
        assert_eq!(search_visits(&evs), 2, "{holes} holes");
        assert_eq!(got.unwrap(), *holes_at.last().unwrap(), "the list's head");
        // One that must move up a row reads the row word, the top word, the new row's
        // word and the head: 4.
        let (_, evs) = events(&mut ram, |cx| t.alloc(cx, 300, Owner(1)));
        assert_eq!(search_visits(&evs), 4, "{holes} holes");
        t.check(&ram).unwrap();
    }
}

#[test]
fn alloc_splits_and_free_merges_with_both_neighbours() {
    let (mut ram, mut t) = pool(4096, TlsfConfig::DEFAULT);
    let fresh = snapshot(&ram);
    let first = t.first_block();

    let (a, evs) = events(&mut ram, |cx| t.alloc(cx, 100, Owner(7)));
    let a = a.unwrap();
    assert_eq!(a, first + HEADER_SIZE);
    assert!(evs.contains(&EventKind::Split {
        addr: first,
        size: 116,
        rest: first + 116,
        rest_size: t.sentinel() - first - 116,
    }));
    assert!(matches!(
        evs.last(),
        Some(EventKind::Alloc { block: 116, .. })
    ));
    assert_eq!(ram.read_u32(first + 8).unwrap(), MAGIC);
    assert_eq!(ram.read_u32(first + 12).unwrap() & 0xffff, 7);

    let b = alloc(&mut ram, &mut t, 100).unwrap();
    let c = alloc(&mut ram, &mut t, 100).unwrap();
    free(&mut ram, &mut t, a).unwrap();
    free(&mut ram, &mut t, c).unwrap();
    t.check(&ram).unwrap();
    // b sits between two free blocks: freeing it merges both into a's block.
    let (r, evs) = events(&mut ram, |cx| t.free(cx, b));
    r.unwrap();
    let merges: Vec<_> = evs
        .iter()
        .filter(|e| matches!(e, EventKind::Merge { .. }))
        .collect();
    assert_eq!(merges.len(), 2, "{evs:?}");
    assert!(matches!(merges[0], EventKind::Merge { addr, absorbed, .. }
        if *addr == first && *absorbed == b - HEADER_SIZE));
    assert!(
        matches!(merges[1], EventKind::Merge { addr, absorbed, size }
        if *addr == first && *absorbed == c - HEADER_SIZE && *size == t.sentinel() - first)
    );
    assert!(matches!(
        evs.last(),
        Some(EventKind::Free {
            block: 116,
            owner: Owner(1),
            ..
        })
    ));
    t.check(&ram).unwrap();
    // One free block again, on the same list as at the start.
    let block = t.sentinel() - first;
    let (fl, sl) = t.mapping_insert(block);
    assert_eq!(t.free_list_head(&ram, fl, sl).unwrap(), first);
    assert_eq!(t.fl_bitmap(&ram).unwrap(), 1 << fl);
    assert_eq!(ram.read_u32(first + 4).unwrap(), block | 1);
    assert_eq!(fresh.len(), snapshot(&ram).len());
}

#[test]
fn a_rest_too_small_for_a_block_stays_in_the_block_as_padding() {
    let (mut ram, mut t) = pool(4096, TlsfConfig::DEFAULT);
    let a = alloc(&mut ram, &mut t, 40).unwrap(); // block 56
    let _sep = alloc(&mut ram, &mut t, 4).unwrap();
    free(&mut ram, &mut t, a).unwrap();
    // 37 bytes need a 56-byte block as well (40 + 16); 33 need 52, leaving 4: no split.
    let (got, evs) = events(&mut ram, |cx| t.alloc(cx, 33, Owner(2)));
    assert_eq!(got.unwrap(), a);
    assert!(!evs.iter().any(|e| matches!(e, EventKind::Split { .. })));
    assert!(matches!(
        evs.last(),
        Some(EventKind::Alloc {
            size: 33,
            block: 56,
            ..
        })
    ));
    let mut spans = Vec::new();
    t.walk(&ram, &mut |b| {
        if b.block == a {
            spans.push((b.addr, b.len, b.kind))
        }
    })
    .unwrap();
    assert_eq!(
        spans,
        [
            (a - 16, 16, BlockKind::Header),
            (a, 33, BlockKind::Payload),
            (a + 33, 7, BlockKind::Padding),
        ]
    );
}

#[test]
fn good_fit_skips_a_block_of_the_requests_own_class() {
    for own_class in [false, true] {
        let (mut ram, mut t) = pool(4096, cfg(4, 4, own_class));
        // A 132-byte block (class (2, 0) = [128, 136)) and then fill the pool.
        let x = alloc(&mut ram, &mut t, 116).unwrap();
        let _sep = alloc(&mut ram, &mut t, 4).unwrap();
        let mut fill = Vec::new();
        while let Ok(a) = alloc(&mut ram, &mut t, 16) {
            fill.push(a);
        }
        free(&mut ram, &mut t, x).unwrap();
        // Only the 132-byte block is free. A request needing exactly 132 bytes searches
        // from class (2, 1): the paper's TLSF finds nothing.
        let (got, evs) = events(&mut ram, |cx| t.alloc(cx, 116, Owner(1)));
        if own_class {
            assert_eq!(got.unwrap(), x);
            assert!(evs.iter().any(|e| matches!(e, EventKind::Fallback { .. })));
            free(&mut ram, &mut t, x).unwrap();
        } else {
            assert_eq!(
                got,
                Err(AllocError::OutOfMemory {
                    requested: 116,
                    largest_free: 116
                })
            );
        }
        // With a larger block elsewhere, that one is used and the exact fit skipped.
        for &a in &fill[20..30] {
            free(&mut ram, &mut t, a).unwrap();
        }
        let got = alloc(&mut ram, &mut t, 116).unwrap();
        assert_ne!(got, x);
        assert!(got > fill[19] && got < fill[30]);
        t.check(&ram).unwrap();
    }
}

// ----- realloc ------------------------------------------------------------------------

#[test]
fn realloc_shrinks_and_grows_in_place_and_moves_when_it_must() {
    let (mut ram, mut t) = pool(4096, TlsfConfig::DEFAULT);
    let a = alloc(&mut ram, &mut t, 200).unwrap();
    ram.fill(a, 200, 0xa5).unwrap();
    let b = alloc(&mut ram, &mut t, 50).unwrap();

    // Shrink: the tail becomes a free block.
    let (r, evs) = events(&mut ram, |cx| t.realloc(cx, a, 60, Owner(1)));
    assert_eq!(r.unwrap(), a);
    assert!(evs.iter().any(|e| matches!(e, EventKind::Split { .. })));
    assert!(evs.iter().any(|e| matches!(e, EventKind::Link { .. })));
    assert!(
        matches!(evs.last(), Some(EventKind::Realloc { from, to, size: 60 }) if *from == a && *to == a)
    );
    t.check(&ram).unwrap();

    // Grow back into the free tail.
    let (r, evs) = events(&mut ram, |cx| t.realloc(cx, a, 180, Owner(1)));
    assert_eq!(r.unwrap(), a);
    assert!(evs
        .iter()
        .any(|e| matches!(e, EventKind::Merge { addr, .. } if *addr == a - 16)));
    t.check(&ram).unwrap();
    assert!(ram.slice(a, 60).unwrap().iter().all(|&x| x == 0xa5));

    // Grow beyond the free tail: b is in the way, so the block moves.
    let (r, _) = events(&mut ram, |cx| t.realloc(cx, a, 400, Owner(1)));
    let moved = r.unwrap();
    assert_ne!(moved, a);
    assert!(moved > b);
    assert!(ram.slice(moved, 60).unwrap().iter().all(|&x| x == 0xa5));
    assert!(matches!(
        free(&mut ram, &mut t, a),
        Err(AllocError::DoubleFree { .. })
    ));
    t.check(&ram).unwrap();

    // Size 0 is refused and frees nothing.
    assert_eq!(
        t.realloc(&mut Ctx::new(&mut ram, &mut Quiet), moved, 0, Owner(1)),
        Err(AllocError::ZeroSize)
    );
    free(&mut ram, &mut t, moved).unwrap();
    // Too large is refused, the block stays.
    assert!(matches!(
        t.realloc(&mut Ctx::new(&mut ram, &mut Quiet), b, u32::MAX, Owner(1)),
        Err(AllocError::TooLarge { .. })
    ));
    assert!(matches!(
        t.realloc(&mut Ctx::new(&mut ram, &mut Quiet), b, 3400, Owner(1)),
        Err(AllocError::OutOfMemory { .. })
    ));
    free(&mut ram, &mut t, b).unwrap();
    t.check(&ram).unwrap();
}

// ----- bad input ---------------------------------------------------------------------

#[test]
fn bad_requests_and_bad_frees_give_typed_errors_and_change_nothing() {
    let (mut ram, mut t) = pool(4096, TlsfConfig::DEFAULT);
    let a = alloc(&mut ram, &mut t, 64).unwrap();
    let b = alloc(&mut ram, &mut t, 64).unwrap();
    let c = alloc(&mut ram, &mut t, 64).unwrap();
    free(&mut ram, &mut t, b).unwrap();
    let before = snapshot(&ram);

    assert_eq!(alloc(&mut ram, &mut t, 0), Err(AllocError::ZeroSize));
    for size in [u32::MAX, u32::MAX - 3, 4096, 5000] {
        assert!(
            matches!(
                alloc(&mut ram, &mut t, size),
                Err(AllocError::TooLarge { .. })
            ),
            "{size}"
        );
    }
    assert!(matches!(
        alloc(&mut ram, &mut t, 3500),
        Err(AllocError::OutOfMemory { .. })
    ));
    assert_eq!(
        free(&mut ram, &mut t, b),
        Err(AllocError::DoubleFree { addr: b })
    );
    for addr in [
        0,
        u32::MAX,
        0x1000_0000,
        BASE,
        BASE + 4,
        a + 4,
        a - 4,
        a + 1,
        c + 16,
        t.first_block(),
        t.sentinel(),
        t.sentinel() + 8,
        BASE + 4095,
    ] {
        let e = free(&mut ram, &mut t, addr).unwrap_err();
        assert!(
            matches!(
                e,
                AllocError::InvalidPointer { .. } | AllocError::DoubleFree { .. }
            ),
            "free({addr:#x}) gave {e:?}"
        );
    }
    assert!(snapshot(&ram) == before, "a failed call changed RAM");
    t.check(&ram).unwrap();
    free(&mut ram, &mut t, a).unwrap();
    free(&mut ram, &mut t, c).unwrap();
}

#[test]
fn a_stale_header_inside_a_merged_block_cannot_be_freed() {
    let (mut ram, mut t) = pool(4096, TlsfConfig::DEFAULT);
    let a = alloc(&mut ram, &mut t, 64).unwrap();
    let b = alloc(&mut ram, &mut t, 64).unwrap();
    let c = alloc(&mut ram, &mut t, 64).unwrap();
    let _d = alloc(&mut ram, &mut t, 64).unwrap();
    free(&mut ram, &mut t, a).unwrap();
    free(&mut ram, &mut t, c).unwrap();
    free(&mut ram, &mut t, b).unwrap(); // b and c are now stale headers inside a's block
    let before = snapshot(&ram);
    for stale in [b, c] {
        let e = free(&mut ram, &mut t, stale).unwrap_err();
        assert!(
            matches!(
                e,
                AllocError::InvalidPointer { .. } | AllocError::DoubleFree { .. }
            ),
            "{e:?}"
        );
    }
    // A new block over the stale headers; the user even writes a perfect used header
    // copy where b's was, except that the chain does not point to it.
    let big = alloc(&mut ram, &mut t, 200).unwrap();
    assert_eq!(big, a);
    ram.write_u32(b - 8, MAGIC).unwrap();
    let word = ram.read_u32(b - 12).unwrap();
    ram.write_u32(b - 12, word & !3).unwrap();
    let before_big = snapshot(&ram);
    assert_eq!(
        free(&mut ram, &mut t, b),
        Err(AllocError::InvalidPointer { addr: b })
    );
    assert!(snapshot(&ram) == before_big);
    assert!(before != before_big);
    t.check(&ram).unwrap();
}

// ----- corruption -----------------------------------------------------------------------

/// A pool with three used blocks a, b, c and a free rest; returns the pool and b.
fn three_blocks(config: TlsfConfig) -> (Ram<Vec<u8>>, Tlsf, [Addr; 3]) {
    let (mut ram, mut t) = pool(4096, config);
    let a = alloc(&mut ram, &mut t, 40).unwrap();
    let b = alloc(&mut ram, &mut t, 40).unwrap();
    let c = alloc(&mut ram, &mut t, 40).unwrap();
    (ram, t, [a, b, c])
}

#[test]
fn one_corrupted_header_byte_is_reported_by_check_and_by_free() {
    let (ram0, t0, [a, b, _]) = three_blocks(TlsfConfig::DEFAULT);
    let hb = b - HEADER_SIZE;
    let ha = a - HEADER_SIZE;
    // The magic word, a size bit, the prev pointer: exact at/expected/found.
    let cases = [
        (hb + 9, 0x01u8, Field::Magic, hb + 8, MAGIC, MAGIC ^ 0x0100),
        (hb + 4, 0x10, Field::Size, hb + 4, 56, 56 ^ 0x10),
        (hb + 5, 0x01, Field::Size, hb + 4, 56, 56 ^ 0x100),
        (hb + 4, 0x02, Field::Size, hb + 4, 56, 56 | 2),
        (hb, 0x04, Field::PhysPrev, hb, ha, ha ^ 0x04),
    ];
    for (at, bit, field, err_at, expected, found) in cases {
        let (mut ram, mut t) = (ram0.clone(), t0);
        let byte = ram.read_u8(at).unwrap();
        ram.write_u8(at, byte ^ bit).unwrap();
        let want = AllocError::Corrupted {
            at: err_at,
            field,
            expected,
            found,
        };
        assert_eq!(t.check(&ram), Err(want), "byte {at:#x} ^ {bit:#x}");
        let before = snapshot(&ram);
        assert_eq!(
            free(&mut ram, &mut t, b),
            Err(want),
            "free after {at:#x} ^ {bit:#x}"
        );
        assert!(snapshot(&ram) == before, "a failed free changed RAM");
    }
    // The free bit flipped on a used block: its magic says it is used.
    let (mut ram, mut t) = (ram0.clone(), t0);
    ram.write_u8(hb + 4, 56 | 1).unwrap();
    let want = AllocError::Corrupted {
        at: hb + 4,
        field: Field::Size,
        expected: 56,
        found: 57,
    };
    assert_eq!(t.check(&ram), Err(want));
    assert_eq!(free(&mut ram, &mut t, b), Err(want));
}

#[test]
fn every_single_header_byte_change_is_caught() {
    // Every bit of the phys_prev, size and magic words of the middle block, and every
    // bit of the free rest's header (links included).
    let (ram0, t0, [_, b, c]) = three_blocks(cfg(3, 8, false));
    let rest = c - HEADER_SIZE + (ram0.read_u32(c - 12).unwrap() & !3);
    let targets = (0..12)
        .map(|i| (b - HEADER_SIZE + i, b))
        .chain((0..16).map(|i| (rest + i, c)));
    for (at, victim) in targets {
        for bit in 0..8 {
            let (mut ram, mut t) = (ram0.clone(), t0);
            let byte = ram.read_u8(at).unwrap();
            ram.write_u8(at, byte ^ (1 << bit)).unwrap();
            let e = t.check(&ram);
            assert!(
                matches!(
                    e,
                    Err(AllocError::Corrupted { .. } | AllocError::Inconsistent { .. })
                ),
                "byte {at:#x} (block {victim:#x}) bit {bit}: {e:?}"
            );
            let before = snapshot(&ram);
            let r = free(&mut ram, &mut t, victim);
            if at < rest {
                // The corrupted block itself: free refuses with a typed error.
                let e = r.unwrap_err();
                assert!(
                    matches!(
                        e,
                        AllocError::Corrupted { .. } | AllocError::Inconsistent { .. }
                    ),
                    "free after byte {at:#x} bit {bit}: {e:?}"
                );
                assert!(snapshot(&ram) == before);
            } else {
                // c's free neighbour is corrupted: free must not merge with it blindly.
                assert!(
                    r.is_err(),
                    "free next to corrupted rest byte {at:#x} bit {bit}"
                );
                assert!(snapshot(&ram) == before);
            }
            // And nothing else panics or loops.
            let _ = alloc(&mut ram, &mut t, 24);
            let _ = t.walk(&ram, &mut |_| {});
            let _ = t.stats(&ram);
        }
    }
}

#[test]
fn corrupted_control_block_words_are_caught() {
    let (ram0, t0, _) = three_blocks(TlsfConfig::DEFAULT);
    let control = t0.control_block_len();
    for off in 0..control {
        for bit in [0u8, 3, 7] {
            let (mut ram, mut t) = (ram0.clone(), t0);
            let byte = ram.read_u8(BASE + off).unwrap();
            ram.write_u8(BASE + off, byte ^ (1 << bit)).unwrap();
            let e = t.check(&ram).unwrap_err();
            assert!(
                matches!(
                    e,
                    AllocError::Corrupted { .. } | AllocError::Inconsistent { .. }
                ),
                "control byte {off} bit {bit}: {e:?}"
            );
            let _ = alloc(&mut ram, &mut t, 24);
            let _ = alloc(&mut ram, &mut t, 2000);
        }
    }
}

#[test]
fn random_corruption_never_panics_or_hangs() {
    // A populated pool, then many random byte writes anywhere in it, each followed by
    // every operation. Errors are fine; panics and endless loops are not.
    let (mut ram0, mut t0) = pool(2048, cfg(2, 4, true));
    let mut live = Vec::new();
    for i in 0..30u32 {
        if let Ok(a) = alloc(&mut ram0, &mut t0, 8 + (i * 37) % 90) {
            live.push(a);
        }
    }
    for a in live.iter().step_by(3) {
        free(&mut ram0, &mut t0, *a).unwrap();
    }
    let mut seed = 0x1234_5678u32;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    for _ in 0..3000 {
        let (mut ram, mut t) = (ram0.clone(), t0);
        let at = BASE + next() % 2048;
        ram.write_u8(at, next() as u8).unwrap();
        let _ = t.check(&ram);
        let mut quiet = Quiet;
        let mut cx = Ctx::new(&mut ram, &mut quiet);
        let pick = live[next() as usize % live.len()];
        let _ = t.free(&mut cx, pick);
        let _ = t.realloc(
            &mut cx,
            live[next() as usize % live.len()],
            next() % 300,
            Owner(1),
        );
        let _ = t.alloc(&mut cx, next() % 400, Owner(1));
        let _ = t.walk(&ram, &mut |_| {});
        let _ = t.stats(&ram);
    }
}

// ----- the trace ----------------------------------------------------------------------

#[test]
fn a_short_sequence_renders_as_canonical_lines() {
    let mut ram = ram_with(BASE, 1024);
    let mut sink = TextSink::new(String::new());
    let mut t = Tlsf::new(
        &mut Ctx::new(&mut ram, &mut sink),
        Name::lit("tlsf"),
        BASE,
        1024,
        TlsfConfig::DEFAULT,
    )
    .unwrap();
    sink.step = 1;
    let a = t
        .alloc(&mut Ctx::new(&mut ram, &mut sink), 100, Owner(3))
        .unwrap();
    sink.step = 2;
    t.free(&mut Ctx::new(&mut ram, &mut sink), a).unwrap();
    sink.step = 3;
    let _ = t.free(&mut Ctx::new(&mut ram, &mut sink), a);
    let out = sink.out;
    // Each step ends with its summary line.
    let last_of_step = |step: &str| out.lines().rfind(|l| l.starts_with(step)).unwrap();
    assert!(last_of_step("0000").contains(".init "));
    assert!(last_of_step("0001").contains(".alloc "));
    assert!(last_of_step("0002").contains(".free "));
    for line in EXPECTED_LINES {
        assert!(
            out.lines().any(|l| l == *line),
            "missing line {line:?} in\n{out}"
        );
    }
}

/// Lines the sequence above must produce (a 1 KiB pool: FL = 5, control block 344 bytes,
/// the first block at 0x20000158 of 672 bytes, class (4, 5) = list 69).
const EXPECTED_LINES: &[&str] = &[
    "0000 tlsf.fill addr=0x20000000 len=344 byte=0x00 field=head",
    "0000 tlsf.link list=69 addr=0x20000158",
    "0000 tlsf.meta addr=0x20000014 field=sub_bitmap value=0x00000020",
    "0000 tlsf.meta addr=0x20000000 field=bitmap value=0x00000010",
    "0000 tlsf.init base=0x20000000 size=1024",
    // 116 bytes round up to class (1, 13); row 1 is empty, the top bitmap leads to row 4.
    "0001 tlsf.search size=100 visited=4",
    "0001 tlsf.unlink list=69 addr=0x20000158",
    "0001 tlsf.split addr=0x20000158 size=116 rest=0x200001cc rest_size=556",
    "0001 tlsf.link list=65 addr=0x200001cc",
    "0001 tlsf.meta addr=0x20000160 field=magic value=0xabcddcba",
    "0001 tlsf.meta addr=0x20000164 field=owner value=0x00000003",
    "0001 tlsf.alloc addr=0x20000168 size=100 block=116 owner=3",
    "0002 tlsf.meta addr=0x2000015c field=size value=0x00000075",
    "0002 tlsf.merge addr=0x20000158 size=672 absorbed=0x200001cc",
    "0002 tlsf.link list=69 addr=0x20000158",
    "0002 tlsf.free addr=0x20000168 block=116 owner=3",
    "0003 tlsf.fault op=free addr=0x20000168 error=DoubleFree addr=0x20000168",
];

// ----- the property suite --------------------------------------------------------------

#[test]
fn random_workloads_keep_every_invariant() {
    let configs = [
        (BASE, 8192, TlsfConfig::DEFAULT),
        (BASE + 2, 6001, cfg(2, 8, false)),
        (BASE, 8192, cfg(5, 4, true)),
        (BASE, 4096, cfg(0, 4, false)),
    ];
    let mut steps = 0;
    for (base, size, config) in configs {
        steps += run_suite(
            || {
                let mut ram = ram_with(base, size);
                let t = Tlsf::new(
                    &mut Ctx::new(&mut ram, &mut Quiet),
                    Name::lit("tlsf"),
                    base,
                    size,
                    config,
                )
                .unwrap();
                Harness::new(ram, t, (base, size), true)
            },
            1024,
            10,
            260,
        );
    }
    assert!(steps >= 10_000, "only {steps} steps ran");
}
