//! ADM (`kal_adm_*`): subpools, the general area, guard gaps, logging, delete, and the
//! shared property suite.

mod common;

use common::{ram_with, run_suite, Harness};
use memplay_engine::adm::{
    file_id, Adm, CallSite, DeleteError, FREE_MAGIC, FRONT_GAP, GENERAL, GUARD_BYTE, HEADER_LEN,
    LIVE_MAGIC, LOG_LEN, POOL_MAGIC,
};
use memplay_engine::app_mem::AsmEvent;
use memplay_engine::prng::Prng;
use memplay_engine::trace::{Quiet, Recorder, TextSink};
use memplay_engine::{
    Addr, AllocError, Allocator, BlockKind, ConfigError, Ctx, EventKind, Field, Name, Owner, Ram,
};

const BASE: Addr = 0x0800_0000;
const NAME: Name = Name::lit("adm");

fn setup(size: u32, subpools: &[u32], logging: bool) -> (Ram<Vec<u8>>, Adm) {
    let mut ram = ram_with(BASE, size);
    let adm = Adm::create(
        &mut Ctx::new(&mut ram, &mut Quiet),
        NAME,
        BASE,
        size,
        subpools,
        logging,
    )
    .expect("valid ADM");
    (ram, adm)
}

fn word(ram: &Ram<Vec<u8>>, addr: Addr) -> u32 {
    ram.read_u32(addr).unwrap()
}

fn alloc(ram: &mut Ram<Vec<u8>>, adm: &mut Adm, size: u32) -> Result<Addr, AllocError> {
    adm.alloc(&mut Ctx::new(ram, &mut Quiet), size, Owner(1))
}

fn free(ram: &mut Ram<Vec<u8>>, adm: &mut Adm, addr: Addr) -> Result<(), AllocError> {
    adm.free(&mut Ctx::new(ram, &mut Quiet), addr)
}

fn kinds(rec: &Recorder) -> Vec<&'static str> {
    rec.events.iter().map(|e| e.kind.word()).collect()
}

/// The control block is 32 bytes plus the zero-terminated sizes plus one head per class.
fn area_start(n: u32) -> Addr {
    BASE + 32 + 4 * (2 * n + 1)
}

#[test]
fn create_writes_the_control_block_and_one_general_block() {
    let mut ram = ram_with(BASE, 4096);
    let mut rec = Recorder::default();
    let adm = Adm::create(
        &mut Ctx::new(&mut ram, &mut rec),
        NAME,
        BASE,
        4096,
        &[16, 30, 64, 0, 999],
        false,
    )
    .unwrap();
    assert_eq!(adm.subpools(), 3);
    assert_eq!(word(&ram, BASE), POOL_MAGIC);
    assert_eq!(&ram.slice(BASE, 4).unwrap(), b"ADMC");
    assert_eq!(word(&ram, BASE + 4), 4096);
    assert_eq!(word(&ram, BASE + 24), 3);
    // The sizes as given, rounded to 4, then the terminator; what follows the 0 is
    // never read.
    assert_eq!(word(&ram, BASE + 32), 16);
    assert_eq!(word(&ram, BASE + 36), 32);
    assert_eq!(word(&ram, BASE + 40), 64);
    assert_eq!(word(&ram, BASE + 44), 0);
    let h = area_start(3);
    assert_eq!(adm.area(), (h, BASE + 4096));
    assert_eq!(word(&ram, BASE + 28), h, "general head");
    assert_eq!(word(&ram, h), 4096 - (h - BASE));
    assert_eq!(word(&ram, h + 8), GENERAL);
    assert_eq!(word(&ram, h + 12), FREE_MAGIC);
    let last = rec.events.last().unwrap().kind;
    assert_eq!(
        last,
        EventKind::Init {
            base: BASE,
            size: 4096
        }
    );
    adm.check(&ram).unwrap();
}

#[test]
fn bad_configurations_are_refused_with_a_fault() {
    let mut ram = ram_with(BASE, 4096);
    let mut rec = Recorder::default();
    let mut create = |base, size, subpools: &[u32]| {
        Adm::create(
            &mut Ctx::new(&mut ram, &mut rec),
            NAME,
            base,
            size,
            subpools,
            false,
        )
    };
    let config = |e: AllocError| match e {
        AllocError::Config(c) => c,
        other => panic!("expected a config error, got {other:?}"),
    };
    assert!(matches!(
        config(create(BASE + 4000, 200, &[]).unwrap_err()),
        ConfigError::NotInRam { .. }
    ));
    assert!(matches!(
        config(create(BASE, 40, &[]).unwrap_err()),
        ConfigError::TooSmall { .. }
    ));
    assert_eq!(
        config(create(BASE, 4096, &[32, 30]).unwrap_err()),
        ConfigError::ClassesNotAscending { size: 30 }
    );
    assert_eq!(
        config(create(BASE, 4096, &[32, 8192]).unwrap_err()),
        ConfigError::BadBlockSize { size: 8192 }
    );
    assert_eq!(
        config(create(BASE, 4096, &[8, 6]).unwrap_err()),
        ConfigError::ClassesNotAscending { size: 6 }
    );
    let many: Vec<u32> = (1..=17).map(|i| i * 8).collect();
    assert_eq!(
        config(create(BASE, 4096, &many).unwrap_err()),
        ConfigError::TooMany { max: 16 }
    );
    assert!(rec
        .events
        .iter()
        .all(|e| matches!(e.kind, EventKind::Fault { .. })));
}

#[test]
fn a_small_request_takes_the_smallest_class_and_its_block_is_reused() {
    let (mut ram, mut adm) = setup(4096, &[16, 32, 64], false);
    let mut rec = Recorder::default();
    let p = adm
        .alloc(&mut Ctx::new(&mut ram, &mut rec), 20, Owner(7))
        .unwrap();
    // An empty class list falls back to the general area (list 3) and carves a block
    // of header + gaps + 32.
    assert_eq!(
        kinds(&rec)[..4],
        ["fallback", "search", "meta", "unlink"],
        "{:?}",
        kinds(&rec)
    );
    assert_eq!(rec.events[0].kind, EventKind::Fallback { from: 1, to: 3 });
    let h = area_start(3);
    assert_eq!(p, h + HEADER_LEN + FRONT_GAP);
    let info = adm.block_info(&ram, p).unwrap();
    assert_eq!(info.subpool, Some(1));
    assert_eq!(info.block_size, HEADER_LEN + FRONT_GAP + 32 + 8);
    assert_eq!(info.requested, 20);
    assert_eq!(info.owner, Owner(7));
    assert_eq!(info.site, None);
    assert_eq!(word(&ram, h + 12), LIVE_MAGIC);
    assert_eq!(
        rec.events.last().unwrap().kind,
        EventKind::Alloc {
            addr: p,
            size: 20,
            block: 72,
            owner: Owner(7)
        }
    );
    // Free puts it on class list 1; the next request of that class pops it.
    let mut rec = Recorder::default();
    adm.free(&mut Ctx::new(&mut ram, &mut rec), p).unwrap();
    assert!(rec.events.contains(&memplay_engine::Event {
        source: NAME,
        kind: EventKind::Link { list: 1, addr: h }
    }));
    assert_eq!(word(&ram, BASE + 32 + 16 + 4), h, "class 1 head");
    adm.check(&ram).unwrap();
    let mut rec = Recorder::default();
    let q = adm
        .alloc(&mut Ctx::new(&mut ram, &mut rec), 17, Owner(7))
        .unwrap();
    assert_eq!(q, p);
    assert_eq!(rec.events[1].kind, EventKind::Unlink { list: 1, addr: h });
    adm.check(&ram).unwrap();
}

#[test]
fn general_blocks_split_on_alloc_and_coalesce_on_free() {
    let (mut ram, mut adm) = setup(4096, &[], false);
    let a = alloc(&mut ram, &mut adm, 100).unwrap();
    let b = alloc(&mut ram, &mut adm, 200).unwrap();
    let c = alloc(&mut ram, &mut adm, 300).unwrap();
    assert!(a < b && b < c);
    let stats = adm.stats(&ram).unwrap();
    assert_eq!(stats.blocks, 3);
    assert_eq!(stats.free_blocks, 1);
    free(&mut ram, &mut adm, a).unwrap();
    free(&mut ram, &mut adm, c).unwrap();
    assert_eq!(
        adm.stats(&ram).unwrap().free_blocks,
        2,
        "c merged with the tail"
    );
    let mut rec = Recorder::default();
    adm.free(&mut Ctx::new(&mut ram, &mut rec), b).unwrap();
    let merges = rec
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Merge { .. }))
        .count();
    assert_eq!(
        merges,
        2,
        "b merges with both neighbours: {:?}",
        kinds(&rec)
    );
    let stats = adm.stats(&ram).unwrap();
    assert_eq!((stats.blocks, stats.free_blocks), (0, 1));
    assert_eq!(stats.largest_free, 4096 - (area_start(0) - BASE));
    adm.check(&ram).unwrap();
    // Address-ordered first fit: the lowest hole that fits wins.
    let x = alloc(&mut ram, &mut adm, 64).unwrap();
    assert_eq!(x, a);
}

#[test]
fn cached_class_blocks_are_reclaimed_when_the_general_area_runs_dry() {
    let (mut ram, mut adm) = setup(2048, &[16], false);
    let mut small = Vec::new();
    while let Ok(p) = alloc(&mut ram, &mut adm, 16) {
        small.push(p);
    }
    assert!(small.len() > 20);
    for p in &small {
        free(&mut ram, &mut adm, *p).unwrap();
    }
    adm.check(&ram).unwrap();
    // Every block sits on class list 0 now; a big request needs them back.
    assert!(adm.can_alloc(&ram, 1000).unwrap());
    let mut rec = Recorder::default();
    let big = adm
        .alloc(&mut Ctx::new(&mut ram, &mut rec), 1000, Owner(1))
        .unwrap();
    let unlinked_from_class = rec
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Unlink { list: 0, .. }))
        .count();
    assert_eq!(unlinked_from_class, small.len());
    assert!(rec
        .events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Merge { .. })));
    assert_eq!(big, small[0]);
    adm.check(&ram).unwrap();
}

#[test]
fn a_failed_request_changes_nothing() {
    let (mut ram, mut adm) = setup(1024, &[16, 64], false);
    let p = alloc(&mut ram, &mut adm, 600).unwrap();
    let before = ram.slice(BASE, 1024).unwrap().to_vec();
    let mut rec = Recorder::default();
    let e = adm
        .alloc(&mut Ctx::new(&mut ram, &mut rec), 600, Owner(1))
        .unwrap_err();
    let AllocError::OutOfMemory {
        requested,
        largest_free,
    } = e
    else {
        panic!("{e:?}")
    };
    assert_eq!(requested, 600);
    assert_eq!(largest_free, adm.max_alloc_size(&ram).unwrap());
    assert_eq!(ram.slice(BASE, 1024).unwrap(), &before[..]);
    assert!(matches!(
        rec.events.last().unwrap().kind,
        EventKind::Fault { .. }
    ));
    free(&mut ram, &mut adm, p).unwrap();
}

#[test]
fn logging_records_the_call_site_in_the_header() {
    let (mut ram, mut adm) = setup(4096, &[32], true);
    let mut rec = Recorder::default();
    let site = CallSite {
        file: "app_mem.c",
        line: 1234,
    };
    let p = adm
        .alloc_at(&mut Ctx::new(&mut ram, &mut rec), 24, Owner(2), site)
        .unwrap();
    let h = p - HEADER_LEN - LOG_LEN - FRONT_GAP;
    assert_eq!(word(&ram, h + 24), file_id("app_mem.c"));
    assert_eq!(word(&ram, h + 28), 1234);
    let info = adm.block_info(&ram, p).unwrap();
    assert_eq!(info.site, Some((file_id("app_mem.c"), 1234)));
    let fields: Vec<Field> = rec
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Meta { field, .. } => Some(field),
            _ => None,
        })
        .collect();
    assert!(fields.contains(&Field::File) && fields.contains(&Field::Line));
    // The trait's alloc on a logging pool records no site.
    let q = alloc(&mut ram, &mut adm, 8).unwrap();
    assert_eq!(adm.block_info(&ram, q).unwrap().site, Some((0, 0)));
    assert_eq!(file_id("app_mem.c"), file_id("app_mem.c"));
    assert_ne!(file_id("app_mem.c"), file_id("AppMemMgr.c"));
    adm.check(&ram).unwrap();
}

/// Must show: one byte past an ADM block is caught on free, at the guard word, with
/// the expected and the found pattern.
#[test]
fn one_byte_past_an_adm_block_is_caught_on_free() {
    let (mut ram, mut adm) = setup(4096, &[16, 64], false);
    let p = alloc(&mut ram, &mut adm, 100).unwrap();
    ram.write_u8(p + 100, 0xff).unwrap();
    let expected_error = AllocError::Corrupted {
        at: p + 100,
        field: Field::Guard,
        expected: 0x5a5a_5a5a,
        found: 0x5a5a_5aff,
    };
    let before = ram.slice(BASE, 4096).unwrap().to_vec();
    let mut out = TextSink::new(String::new());
    out.step = 3;
    assert_eq!(
        adm.free(&mut Ctx::new(&mut ram, &mut out), p),
        Err(expected_error)
    );
    assert_eq!(
        out.out,
        format!(
            "0003 adm.fault op=free addr={p:#010x} error=Corrupted at={:#010x} field=guard \
             expected=0x5a5a5a5a found=0x5a5a5aff\n",
            p + 100
        )
    );
    assert_eq!(
        ram.slice(BASE, 4096).unwrap(),
        &before[..],
        "a refused free changes nothing"
    );
    assert_eq!(adm.check(&ram), Err(expected_error));

    // A request that is not a multiple of 4: the guard starts mid-word, and the report
    // names that word with its payload byte kept.
    let (mut ram, mut adm) = setup(4096, &[], false);
    let p = alloc(&mut ram, &mut adm, 5).unwrap();
    ram.write_u8(p + 4, 0x11).unwrap();
    ram.write_u8(p + 5, 0xee).unwrap();
    assert_eq!(
        free(&mut ram, &mut adm, p),
        Err(AllocError::Corrupted {
            at: p + 4,
            field: Field::Guard,
            expected: 0x5a5a_5a11,
            found: 0x5a5a_ee11,
        })
    );

    // An underflow into the front gap.
    let (mut ram, mut adm) = setup(4096, &[], false);
    let p = alloc(&mut ram, &mut adm, 40).unwrap();
    ram.write_u8(p - 1, 0).unwrap();
    assert_eq!(
        free(&mut ram, &mut adm, p),
        Err(AllocError::Corrupted {
            at: p - 4,
            field: Field::Guard,
            expected: 0x5a5a_5a5a,
            found: 0x005a_5a5a,
        })
    );
    assert_eq!(GUARD_BYTE, 0x5a);
}

#[test]
fn delete_is_refused_while_blocks_are_live() {
    let (mut ram, mut adm) = setup(4096, &[32], false);
    let blocks: Vec<Addr> = (0..5)
        .map(|i| alloc(&mut ram, &mut adm, 10 + 50 * i).unwrap())
        .collect();
    let mut rec = Recorder::default();
    let err = adm.delete(&mut Ctx::new(&mut ram, &mut rec)).unwrap_err();
    let mut sorted = blocks.clone();
    sorted.sort();
    assert_eq!(
        err,
        DeleteError::LiveBlocks {
            count: 5,
            first: [sorted[0], sorted[1], sorted[2], sorted[3]],
            shown: 4
        }
    );
    assert_eq!(err.first_live(), &sorted[..4]);
    assert!(err
        .to_string()
        .starts_with("the ADM still has 5 live blocks:"));
    assert_eq!(
        rec.events,
        vec![memplay_engine::Event {
            source: NAME,
            kind: EventKind::Asm(AsmEvent::DeleteRefused {
                live: 5,
                first: sorted[0]
            })
        }]
    );
    adm.check(&ram).unwrap();
    for p in blocks {
        free(&mut ram, &mut adm, p).unwrap();
    }
    let mut out = TextSink::new(String::new());
    adm.delete(&mut Ctx::new(&mut ram, &mut out)).unwrap();
    assert_eq!(
        out.out,
        "0000 adm.meta addr=0x08000000 field=magic value=0x00000000\n\
         0000 adm.delete base=0x08000000 size=4096\n"
    );
    // The handle now names a deleted pool.
    assert!(matches!(
        alloc(&mut ram, &mut adm, 8),
        Err(AllocError::Corrupted {
            field: Field::Magic,
            ..
        })
    ));
    assert!(adm.check(&ram).is_err());
}

#[test]
fn one_changed_header_byte_is_reported_by_check_and_free() {
    let (mut ram, mut adm) = setup(4096, &[16], false);
    let a = alloc(&mut ram, &mut adm, 100).unwrap();
    let b = alloc(&mut ram, &mut adm, 10).unwrap();
    let hb = b - HEADER_LEN - FRONT_GAP;
    // The low byte of b's magic word.
    ram.write_u8(hb + 12, 0x00).unwrap();
    let e = AllocError::Corrupted {
        at: hb + 12,
        field: Field::Magic,
        expected: LIVE_MAGIC,
        found: LIVE_MAGIC & 0xffff_ff00,
    };
    assert_eq!(adm.check(&ram), Err(e));
    assert_eq!(free(&mut ram, &mut adm, b), Err(e));
    // Freeing a reads its neighbour b to decide on merging: refused, and nothing written.
    let before = ram.slice(BASE, 4096).unwrap().to_vec();
    assert_eq!(free(&mut ram, &mut adm, a), Err(e));
    assert_eq!(ram.slice(BASE, 4096).unwrap(), &before[..]);

    // A changed size byte.
    let (mut ram, mut adm) = setup(4096, &[], false);
    let a = alloc(&mut ram, &mut adm, 100).unwrap();
    let _b = alloc(&mut ram, &mut adm, 100).unwrap();
    let ha = a - HEADER_LEN - FRONT_GAP;
    ram.write_u8(ha, 0x20).unwrap();
    assert!(matches!(
        adm.check(&ram),
        Err(AllocError::Inconsistent { .. } | AllocError::Corrupted { .. })
    ));
    assert!(matches!(
        free(&mut ram, &mut adm, a),
        Err(AllocError::Inconsistent { .. } | AllocError::Corrupted { .. })
    ));

    // A changed live count.
    let (mut ram, mut adm) = setup(4096, &[], false);
    alloc(&mut ram, &mut adm, 100).unwrap();
    ram.write_u8(BASE + 12, 9).unwrap();
    assert_eq!(
        adm.check(&ram),
        Err(AllocError::Corrupted {
            at: BASE + 12,
            field: Field::Count,
            expected: 1,
            found: 9
        })
    );
}

#[test]
fn every_byte_of_any_corruption_gives_a_typed_error_never_a_panic() {
    let mut prng = Prng::new(11);
    for round in 0..400 {
        let (mut ram, mut adm) = setup(1024, &[16, 48], round % 2 == 0);
        let mut live = Vec::new();
        for _ in 0..8 {
            if let Ok(p) = alloc(&mut ram, &mut adm, prng.range(1, 120)) {
                live.push(p);
            }
        }
        if let Some(p) = live.pop() {
            free(&mut ram, &mut adm, p).unwrap();
        }
        let at = BASE + prng.below(1024);
        ram.write_u8(at, prng.next_u32() as u8).unwrap();
        let _ = adm.check(&ram);
        let _ = adm.stats(&ram);
        let _ = adm.max_alloc_size(&ram);
        let _ = adm.can_alloc(&ram, 40);
        for p in live {
            let _ = free(&mut ram, &mut adm, p);
        }
        for size in [1, 16, 40, 200, 900] {
            let _ = alloc(&mut ram, &mut adm, size);
        }
        let _ = adm.delete(&mut Ctx::new(&mut ram, &mut Quiet));
    }
}

#[test]
fn bad_inputs_get_typed_errors() {
    let (mut ram, mut adm) = setup(4096, &[16], false);
    assert_eq!(alloc(&mut ram, &mut adm, 0), Err(AllocError::ZeroSize));
    assert!(matches!(
        alloc(&mut ram, &mut adm, u32::MAX),
        Err(AllocError::TooLarge {
            requested: u32::MAX,
            ..
        })
    ));
    assert!(matches!(
        alloc(&mut ram, &mut adm, 5000),
        Err(AllocError::TooLarge { .. })
    ));
    let p = alloc(&mut ram, &mut adm, 64).unwrap();
    let q = alloc(&mut ram, &mut adm, 8).unwrap();
    for bad in [
        p + 4,
        p - 4,
        p + 1,
        BASE,
        BASE + 4095,
        0,
        0xffff_fffc,
        0x1000_0000,
    ] {
        assert_eq!(
            free(&mut ram, &mut adm, bad),
            Err(AllocError::InvalidPointer { addr: bad }),
            "{bad:#x}"
        );
    }
    free(&mut ram, &mut adm, p).unwrap();
    // p was a general block merged into the free tail: no longer a block at all.
    assert!(matches!(
        free(&mut ram, &mut adm, p),
        Err(AllocError::DoubleFree { .. } | AllocError::InvalidPointer { .. })
    ));
    free(&mut ram, &mut adm, q).unwrap();
    // q waits on its class list: a double free is named.
    assert_eq!(
        free(&mut ram, &mut adm, q),
        Err(AllocError::DoubleFree { addr: q })
    );
    adm.check(&ram).unwrap();
}

#[test]
fn can_alloc_and_max_alloc_size_predict_alloc_exactly() {
    let mut prng = Prng::new(5);
    for case in 0..30 {
        let subpools: &[u32] = match case % 3 {
            0 => &[],
            1 => &[16, 32, 64, 128],
            _ => &[24, 200],
        };
        let (mut ram, mut adm) = setup(3000, subpools, case % 2 == 1);
        let mut live = Vec::new();
        for _ in 0..120 {
            if live.is_empty() || prng.below(3) != 0 {
                let size = prng.range(1, 400);
                let predicted = adm.can_alloc(&ram, size).unwrap();
                match alloc(&mut ram, &mut adm, size) {
                    Ok(p) => {
                        assert!(predicted, "can_alloc({size}) said no");
                        live.push(p);
                    }
                    Err(_) => assert!(!predicted, "can_alloc({size}) said yes"),
                }
            } else {
                let p = live.swap_remove(prng.below(live.len() as u32) as usize);
                free(&mut ram, &mut adm, p).unwrap();
            }
            let max = adm.max_alloc_size(&ram).unwrap();
            if max > 0 {
                let mut copy = ram.clone();
                let mut probe = adm;
                assert!(alloc(&mut copy, &mut probe, max).is_ok(), "max {max}");
            }
            adm.check(&ram).unwrap();
        }
    }
}

#[test]
fn walk_covers_the_pool_and_shows_gaps_around_each_payload() {
    let (mut ram, mut adm) = setup(2000, &[16], false);
    let p = alloc(&mut ram, &mut adm, 10).unwrap();
    let mut spans = Vec::new();
    adm.walk(&ram, &mut |b| spans.push(b)).unwrap();
    let total: u32 = spans.iter().map(|b| b.len).sum();
    assert_eq!(total, 2000);
    let kinds: Vec<BlockKind> = spans.iter().map(|b| b.kind).collect();
    assert_eq!(
        kinds,
        [
            BlockKind::Header,
            BlockKind::Header,
            BlockKind::Guard,
            BlockKind::Payload,
            BlockKind::Guard,
            BlockKind::Free
        ]
    );
    assert_eq!((spans[3].addr, spans[3].len, spans[3].block), (p, 10, p));
    assert_eq!(
        spans[4].len,
        16 - 10 + 8,
        "rounding slack plus the rear gap"
    );
    let stats = adm.stats(&ram).unwrap();
    assert_eq!(stats.capacity, 2000);
    assert_eq!(stats.used, 10);
}

/// The canonical trace of a short session, line for line.
#[test]
fn a_short_session_renders_exact_trace_lines() {
    let mut ram = ram_with(BASE, 256);
    let mut out = TextSink::new(String::new());
    let mut adm = Adm::create(
        &mut Ctx::new(&mut ram, &mut out),
        NAME,
        BASE,
        256,
        &[16, 0],
        false,
    )
    .unwrap();
    out.step = 1;
    let p = adm
        .alloc(&mut Ctx::new(&mut ram, &mut out), 12, Owner(3))
        .unwrap();
    out.step = 2;
    adm.free(&mut Ctx::new(&mut ram, &mut out), p).unwrap();
    out.step = 3;
    let q = adm
        .alloc(&mut Ctx::new(&mut ram, &mut out), 9, Owner(4))
        .unwrap();
    assert_eq!(q, p);
    let expected = "\
0000 adm.meta addr=0x08000000 field=magic value=0x434d4441
0000 adm.meta addr=0x08000004 field=size value=0x00000100
0000 adm.meta addr=0x08000008 field=flags value=0x00000000
0000 adm.meta addr=0x0800000c field=count value=0x00000000
0000 adm.meta addr=0x08000010 field=data value=0x0800002c
0000 adm.meta addr=0x08000014 field=data value=0x08000100
0000 adm.meta addr=0x08000018 field=count value=0x00000001
0000 adm.meta addr=0x08000020 field=size value=0x00000010
0000 adm.meta addr=0x08000024 field=size value=0x00000000
0000 adm.meta addr=0x08000028 field=head value=0x00000000
0000 adm.meta addr=0x0800002c field=size value=0x000000d4
0000 adm.meta addr=0x08000030 field=phys_prev value=0x00000000
0000 adm.meta addr=0x08000034 field=pool value=0xffffffff
0000 adm.meta addr=0x08000038 field=magic value=0x2d4d4441
0000 adm.meta addr=0x0800003c field=next value=0x00000000
0000 adm.meta addr=0x08000040 field=prev value=0x00000000
0000 adm.meta addr=0x0800001c field=head value=0x0800002c
0000 adm.link list=1 addr=0x0800002c
0000 adm.init base=0x08000000 size=256
0001 adm.fallback from=0 to=1
0001 adm.search size=56 visited=1
0001 adm.meta addr=0x0800001c field=head value=0x00000000
0001 adm.unlink list=1 addr=0x0800002c
0001 adm.meta addr=0x0800002c field=size value=0x00000038
0001 adm.meta addr=0x08000064 field=size value=0x0000009c
0001 adm.meta addr=0x08000068 field=phys_prev value=0x0800002c
0001 adm.meta addr=0x0800006c field=pool value=0xffffffff
0001 adm.meta addr=0x08000070 field=magic value=0x2d4d4441
0001 adm.split addr=0x0800002c size=56 rest=0x08000064 rest_size=156
0001 adm.meta addr=0x08000074 field=next value=0x00000000
0001 adm.meta addr=0x08000078 field=prev value=0x00000000
0001 adm.meta addr=0x0800001c field=head value=0x08000064
0001 adm.link list=1 addr=0x08000064
0001 adm.meta addr=0x08000034 field=pool value=0x00000000
0001 adm.meta addr=0x08000038 field=magic value=0x2b4d4441
0001 adm.meta addr=0x0800003c field=size value=0x0000000c
0001 adm.meta addr=0x08000040 field=owner value=0x00000003
0001 adm.fill addr=0x08000044 len=8 byte=0x5a field=guard
0001 adm.fill addr=0x08000058 len=12 byte=0x5a field=guard
0001 adm.meta addr=0x0800000c field=count value=0x00000001
0001 adm.alloc addr=0x0800004c size=12 block=56 owner=3
0002 adm.meta addr=0x08000038 field=magic value=0x2d4d4441
0002 adm.meta addr=0x0800003c field=next value=0x00000000
0002 adm.meta addr=0x08000040 field=prev value=0x00000000
0002 adm.meta addr=0x08000028 field=head value=0x0800002c
0002 adm.link list=0 addr=0x0800002c
0002 adm.meta addr=0x0800000c field=count value=0x00000000
0002 adm.free addr=0x0800004c block=56 owner=3
0003 adm.meta addr=0x08000028 field=head value=0x00000000
0003 adm.unlink list=0 addr=0x0800002c
0003 adm.meta addr=0x08000034 field=pool value=0x00000000
0003 adm.meta addr=0x08000038 field=magic value=0x2b4d4441
0003 adm.meta addr=0x0800003c field=size value=0x00000009
0003 adm.meta addr=0x08000040 field=owner value=0x00000004
0003 adm.fill addr=0x08000044 len=8 byte=0x5a field=guard
0003 adm.fill addr=0x08000055 len=15 byte=0x5a field=guard
0003 adm.meta addr=0x0800000c field=count value=0x00000001
0003 adm.alloc addr=0x0800004c size=9 block=56 owner=4
";
    assert_eq!(out.out, expected, "\n{}", out.out);
}

fn adm_harness(subpools: &'static [u32], logging: bool) -> impl Fn() -> Harness<Adm> {
    move || {
        let size = 6000;
        let (ram, adm) = setup(size, subpools, logging);
        Harness::new(ram, adm, (BASE, size), false)
    }
}

#[test]
fn property_suite_with_subpools() {
    let steps = run_suite(adm_harness(&[16, 32, 64, 128, 256], false), 700, 40, 260);
    assert!(steps >= 10_000, "{steps}");
}

#[test]
fn property_suite_general_area_only_with_logging() {
    let steps = run_suite(adm_harness(&[], true), 900, 20, 260);
    assert!(steps >= 5_000, "{steps}");
}
