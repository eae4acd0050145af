//! AWTK's mem_allocator: the simple base, the Std adapter and the decorator stack.

mod common;

use common::{ram_with, run_suite, Harness};
use memplay_engine::awtk::simple::{self, real_size};
use memplay_engine::awtk::{
    debug, lock, oom, pool, CallSite, DecoratorStack, Figures, FuncName, Layer, Leak, MemAllocator,
    NoRelease, PoolConfig, Reenter, ReleaseOldest, Simple, StackConfig, Std,
};
use memplay_engine::prng::Prng;
use memplay_engine::trace::{Quiet, Recorder, TextSink};
use memplay_engine::{
    Addr, AllocError, Allocator, BlockKind, ConfigError, Ctx, Event, EventKind, Field, Name, Owner,
    Ram,
};

const BASE: Addr = 0x2000_0000;

fn site(func: &str, line: u32) -> CallSite {
    CallSite::new(func, line).unwrap()
}

fn lines(events: &[Event]) -> Vec<String> {
    events.iter().map(|e| e.to_string()).collect()
}

/// A RAM with a heap of `heap` bytes at `BASE` and room for statics right after it.
fn machine(heap: u32, statics: u32) -> Ram<Vec<u8>> {
    ram_with(BASE, heap + statics.max(4))
}

fn simple_over(ram: &mut Ram<Vec<u8>>, size: u32) -> Simple {
    let mut q = Quiet;
    let mut cx = Ctx::new(ram, &mut q);
    Simple::new(&mut cx, Name::lit("simple"), BASE, size).unwrap()
}

fn small_pools(nr: u32) -> PoolConfig {
    PoolConfig {
        blocks: [nr; 5],
        min_blocks: 0,
    }
}

/// A stack of `layers` over a `heap`-byte simple heap, statics right after the heap.
fn stack(
    layers: &[Layer],
    config: StackConfig,
    heap: u32,
) -> (Ram<Vec<u8>>, DecoratorStack<Simple>) {
    let statics = DecoratorStack::<Simple>::statics_size(layers, &config);
    let mut ram = machine(heap, statics);
    let simple = simple_over(&mut ram, heap);
    let mut q = Quiet;
    let mut cx = Ctx::new(&mut ram, &mut q);
    let st = DecoratorStack::new(
        &mut cx,
        Name::lit("awtk"),
        simple,
        layers,
        BASE + heap,
        config,
    )
    .unwrap();
    st.check(&ram).unwrap();
    (ram, st)
}

fn words(layers: &str) -> Vec<Layer> {
    layers
        .split_whitespace()
        .filter(|&w| w != "simple")
        .map(|w| Layer::from_word(w).unwrap())
        .collect()
}

fn figures(st: &DecoratorStack<Simple>, ram: &Ram<Vec<u8>>, kind: Layer) -> Figures {
    let i = st.find(kind).unwrap();
    st.figures(ram, i).unwrap().unwrap()
}

fn lock_figures(st: &DecoratorStack<Simple>, ram: &Ram<Vec<u8>>) -> lock::LockFigures {
    match figures(st, ram, Layer::Lock) {
        Figures::Lock(f) => f,
        other => panic!("{other:?}"),
    }
}

fn pool_figures(st: &DecoratorStack<Simple>, ram: &Ram<Vec<u8>>) -> pool::PoolFigures {
    match figures(st, ram, Layer::Pool) {
        Figures::Pool(f) => f,
        other => panic!("{other:?}"),
    }
}

fn oom_figures(st: &DecoratorStack<Simple>, ram: &Ram<Vec<u8>>) -> oom::OomFigures {
    match figures(st, ram, Layer::Oom) {
        Figures::Oom(f) => f,
        other => panic!("{other:?}"),
    }
}

fn leaks<B: MemAllocator>(st: &DecoratorStack<B>, ram: &Ram<Vec<u8>>) -> Vec<Leak> {
    let mut out = Vec::new();
    st.leaks(ram, &mut |l| out.push(l)).unwrap();
    out
}

// ---------------------------------------------------------------------------------------
// Call sites

#[test]
fn call_sites_hold_awtk_function_names() {
    let s = site("image_manager_get_bitmap_impl", 120);
    assert_eq!(s.to_string(), "func=image_manager_get_bitmap_impl line=120");
    assert_eq!(CallSite::NONE.to_string(), "func=- line=0");
    assert!(CallSite::new("a_name_that_is_far_too_long_for_awtk", 1).is_err());
    assert!(CallSite::new("bad-name", 1).is_err());
    let raw = FuncName::lit("font_manager_load").to_bytes();
    assert_eq!(raw.len(), 32);
    assert_eq!(
        FuncName::from_bytes(&raw),
        Some(FuncName::lit("font_manager_load"))
    );
    let mut bad = raw;
    bad[30] = b'x';
    assert_eq!(FuncName::from_bytes(&bad), None);
    assert_eq!(Layer::from_word("pool"), Some(Layer::Pool));
    assert_eq!(Layer::from_word("simple"), None);
}

// ---------------------------------------------------------------------------------------
// mem_allocator_simple

#[test]
fn simple_real_size_is_awtks_round_to_8() {
    // REAL_SIZE(s) = ROUND8((s > 12 ? s : 16) + 4)
    assert_eq!(real_size(1), 24);
    assert_eq!(real_size(12), 24);
    assert_eq!(real_size(13), 24);
    assert_eq!(real_size(20), 24);
    assert_eq!(real_size(21), 32);
    assert_eq!(real_size(100), 104);
    assert_eq!(real_size(u32::MAX), 0x1_0000_0008);
}

#[test]
fn simple_lays_out_its_control_block_and_one_free_node() {
    let mut ram = machine(1024, 0);
    let mut rec = Recorder::default();
    let mut cx = Ctx::new(&mut ram, &mut rec);
    let s = Simple::new(&mut cx, Name::lit("simple"), BASE, 1000).unwrap();
    let buffer = BASE + 24;
    let w = |a| ram.read_u32(a).unwrap();
    assert_eq!(w(BASE), simple::VT);
    assert_eq!(ram.slice(BASE, 4).unwrap(), b"SMPL");
    assert_eq!(w(BASE + simple::OFF_BUFFER), buffer);
    assert_eq!(w(BASE + simple::OFF_SIZE), 976);
    assert_eq!(w(BASE + simple::OFF_USED_BYTES), 0);
    assert_eq!(w(BASE + simple::OFF_USED_BLOCK_NR), 0);
    assert_eq!(w(BASE + simple::OFF_FREE_LIST), buffer);
    assert_eq!(w(buffer), 976);
    assert_eq!(w(buffer + 4), 0);
    assert_eq!(w(buffer + 8), 0);
    assert_eq!(
        rec.events.last().unwrap().to_string(),
        "simple.init base=0x20000000 size=1000"
    );
    assert_eq!(s.buffer(), (buffer, 976));
    s.check(&ram).unwrap();
    let stats = s.stats(&ram).unwrap();
    assert_eq!(stats.capacity, 1000);
    assert_eq!(stats.free, 976 - 12);
    assert_eq!(stats.blocks, 0);
}

#[test]
fn simple_is_first_fit_and_splits_or_takes_the_whole_node() {
    let mut ram = machine(1024, 0);
    let mut s = simple_over(&mut ram, 1024);
    let buffer = BASE + 24;
    let mut rec = Recorder::default();
    let mut cx = Ctx::new(&mut ram, &mut rec);
    let a = s.alloc(&mut cx, 10, Owner(1)).unwrap();
    assert_eq!(a, buffer + 4);
    assert_eq!(
        lines(&rec.events)[..2],
        [
            "simple.search size=24 visited=1",
            "simple.split addr=0x20000018 size=24 rest=0x20000030 rest_size=976"
        ]
    );
    assert_eq!(
        rec.events.last().unwrap().to_string(),
        "simple.alloc addr=0x2000001c size=10 block=24 owner=-"
    );
    let mut cx = Ctx::new(&mut ram, &mut rec);
    // Take almost everything: 976 - 944 = 32 is left.
    let b = s.alloc(&mut cx, 940, Owner::NONE).unwrap();
    assert_eq!(b, buffer + 28);
    // 28 bytes need a 32-byte block; the free node is 32, not bigger: the strict `>` of
    // AWTK's first fit passes it over.
    assert!(matches!(
        s.alloc(&mut cx, 28, Owner::NONE),
        Err(AllocError::OutOfMemory {
            requested: 28,
            largest_free: 28
        })
    ));
    // 20 bytes need 24 < 32, and 32 - 24 cannot hold a node: the whole 32 is handed out.
    let c = s.alloc(&mut cx, 20, Owner::NONE).unwrap();
    assert_eq!(c, buffer + 24 + 944 + 4);
    let info = s.info(cx.ram).unwrap();
    assert_eq!(info.free_list, 0);
    assert_eq!(info.used_block_nr, 3);
    assert_eq!(info.used_bytes, 1000);
    s.check(cx.ram).unwrap();
}

#[test]
fn simple_passes_over_a_free_node_of_exactly_the_size() {
    let mut ram = machine(1024, 0);
    let mut s = simple_over(&mut ram, 1024);
    let mut q = Quiet;
    let mut cx = Ctx::new(&mut ram, &mut q);
    let a = s.alloc(&mut cx, 10, Owner::NONE).unwrap();
    let b = s.alloc(&mut cx, 10, Owner::NONE).unwrap();
    let c = s.alloc(&mut cx, 10, Owner::NONE).unwrap();
    s.free(&mut cx, b).unwrap();
    // The hole at b is 24 bytes, exactly REAL_SIZE(10): skipped.
    let d = s.alloc(&mut cx, 10, Owner::NONE).unwrap();
    assert!(
        d > c,
        "{d:#x} must come from the tail, not the 24-byte hole at {b:#x}"
    );
    let _ = a;
    s.check(cx.ram).unwrap();
}

#[test]
fn simple_free_links_in_address_order_and_merges_both_sides() {
    let mut ram = machine(1024, 0);
    let mut s = simple_over(&mut ram, 1024);
    let mut q = Quiet;
    let mut cx = Ctx::new(&mut ram, &mut q);
    let blocks: Vec<Addr> = (0..5)
        .map(|_| s.alloc(&mut cx, 20, Owner::NONE).unwrap())
        .collect();
    s.free(&mut cx, blocks[3]).unwrap();
    s.free(&mut cx, blocks[1]).unwrap();
    let free_nodes = |s: &Simple, ram: &Ram<Vec<u8>>| {
        let mut v = Vec::new();
        s.walk(ram, &mut |b| {
            if b.kind == BlockKind::Free {
                v.push(b.block);
            }
        })
        .unwrap();
        v
    };
    // Address order: blocks[1], blocks[3], the tail.
    let nodes = free_nodes(&s, cx.ram);
    assert_eq!(nodes, vec![blocks[1] - 4, blocks[3] - 4, blocks[4] + 20]);
    assert_eq!(s.info(cx.ram).unwrap().free_list, blocks[1] - 4);
    let mut rec = Recorder::default();
    let mut cx = Ctx::new(&mut ram, &mut rec);
    s.free(&mut cx, blocks[2]).unwrap();
    let merges: Vec<String> = lines(&rec.events)
        .into_iter()
        .filter(|l| l.contains(".merge"))
        .collect();
    assert_eq!(
        merges,
        [
            format!(
                "simple.merge addr={:#010x} size=48 absorbed={:#010x}",
                blocks[1] - 4,
                blocks[2] - 4
            ),
            format!(
                "simple.merge addr={:#010x} size=72 absorbed={:#010x}",
                blocks[1] - 4,
                blocks[3] - 4
            ),
        ]
    );
    let mut cx = Ctx::new(&mut ram, &mut q);
    assert_eq!(free_nodes(&s, cx.ram).len(), 2);
    for b in [blocks[0], blocks[4]] {
        s.free(&mut cx, b).unwrap();
    }
    assert_eq!(free_nodes(&s, cx.ram), vec![BASE + 24]);
    s.check(cx.ram).unwrap();
}

#[test]
fn simple_realloc_keeps_a_close_fit_and_moves_otherwise() {
    let mut ram = machine(1024, 0);
    let mut s = simple_over(&mut ram, 1024);
    let mut q = Quiet;
    let mut cx = Ctx::new(&mut ram, &mut q);
    let a = s.alloc(&mut cx, 40, Owner::NONE).unwrap(); // block 48, 44 usable
    cx.ram.fill(a, 40, 0x5a).unwrap();
    // 44 >= 30 and 44 <= 30 + 16: stays.
    assert_eq!(s.realloc(&mut cx, a, 30, Owner::NONE).unwrap(), a);
    // 44 > 20 + 16: moves to a smaller block.
    let b = s.realloc(&mut cx, a, 20, Owner::NONE).unwrap();
    assert_ne!(b, a);
    assert!(cx.ram.slice(b, 20).unwrap().iter().all(|&x| x == 0x5a));
    let c = s.realloc(&mut cx, b, 300, Owner::NONE).unwrap();
    assert!(cx.ram.slice(c, 20).unwrap().iter().all(|&x| x == 0x5a));
    assert_eq!(s.info(cx.ram).unwrap().used_block_nr, 1);
    assert_eq!(
        s.realloc(&mut cx, c, 0, Owner::NONE),
        Err(AllocError::ZeroSize)
    );
    assert!(matches!(
        s.realloc(&mut cx, c, 5000, Owner::NONE),
        Err(AllocError::OutOfMemory { .. })
    ));
    assert_eq!(
        s.realloc(&mut cx, a, 10, Owner::NONE),
        Err(AllocError::DoubleFree { addr: a })
    );
    s.check(cx.ram).unwrap();
}

#[test]
fn simple_refuses_bad_input_with_typed_errors() {
    let mut ram = machine(1024, 64);
    let mut s = simple_over(&mut ram, 1024);
    let mut rec = Recorder::default();
    let mut cx = Ctx::new(&mut ram, &mut rec);
    assert_eq!(s.alloc(&mut cx, 0, Owner::NONE), Err(AllocError::ZeroSize));
    for size in [u32::MAX, u32::MAX - 3, 1001, 2000] {
        assert!(matches!(
            s.alloc(&mut cx, size, Owner::NONE),
            Err(AllocError::OutOfMemory { .. })
        ));
    }
    let a = s.alloc(&mut cx, 16, Owner::NONE).unwrap();
    let bad = [
        0,
        BASE,
        BASE + 4,
        BASE + 24,
        a + 4,
        a - 1,
        a + 1,
        BASE + 1024 + 8,
        0xffff_fff0,
        u32::MAX,
    ];
    for addr in bad {
        let before = ram.slice(BASE, 1024).unwrap().to_vec();
        let mut cx = Ctx::new(&mut ram, &mut rec);
        assert_eq!(
            s.free(&mut cx, addr),
            Err(AllocError::InvalidPointer { addr }),
            "{addr:#x}"
        );
        assert_eq!(ram.slice(BASE, 1024).unwrap(), &before[..]);
        assert!(matches!(
            rec.events.last().map(|e| e.kind),
            Some(EventKind::Fault { .. })
        ));
    }
    let mut cx = Ctx::new(&mut ram, &mut rec);
    // The tail free node's +4 looks like the address of a free block.
    let tail = a + 24;
    assert_eq!(
        s.free(&mut cx, tail),
        Err(AllocError::DoubleFree { addr: tail })
    );
    s.free(&mut cx, a).unwrap();
    assert_eq!(s.free(&mut cx, a), Err(AllocError::DoubleFree { addr: a }));
    s.check(&ram).unwrap();
}

#[test]
fn simple_config_errors() {
    let mut ram = machine(1024, 0);
    let mut q = Quiet;
    let mut cx = Ctx::new(&mut ram, &mut q);
    let n = Name::lit("simple");
    assert!(matches!(
        Simple::new(&mut cx, n, BASE, 40),
        Err(AllocError::Config(ConfigError::TooSmall {
            needed: 56,
            available: 40
        }))
    ));
    assert!(matches!(
        Simple::new(&mut cx, n, BASE + 1000, 100),
        Err(AllocError::Config(ConfigError::NotInRam { .. }))
    ));
    // An odd base: the buffer is aligned to 8 and the gap shows as padding.
    let s = Simple::new(&mut cx, n, BASE + 3, 200).unwrap();
    assert_eq!(s.buffer().0, BASE + 32);
    let stats = s.stats(cx.ram).unwrap();
    assert_eq!(stats.capacity, 200);
    s.check(cx.ram).unwrap();
}

#[test]
fn simple_corruption_is_reported_by_check_and_by_free() {
    let fresh = || {
        let mut ram = machine(1024, 0);
        let mut s = simple_over(&mut ram, 1024);
        let mut q = Quiet;
        let mut cx = Ctx::new(&mut ram, &mut q);
        let v: Vec<Addr> = (0..4)
            .map(|_| s.alloc(&mut cx, 20, Owner::NONE).unwrap())
            .collect();
        s.free(&mut cx, v[1]).unwrap();
        (ram, s, v)
    };

    // One byte of a free node's prev link.
    let (mut ram, mut s, v) = fresh();
    let tail = v[3] + 20; // the tail free node, whose prev is the hole at v[1]
    let prev_at = tail + simple::NODE_PREV;
    ram.write_u8(prev_at, 0x77).unwrap();
    let found = ram.read_u32(prev_at).unwrap();
    let expected = AllocError::Corrupted {
        at: prev_at,
        field: Field::Prev,
        expected: v[1] - 4,
        found,
    };
    assert_eq!(s.check(&ram), Err(expected));
    let mut q = Quiet;
    let mut cx = Ctx::new(&mut ram, &mut q);
    assert_eq!(s.free(&mut cx, v[0]), Err(expected));
    assert_eq!(s.alloc(&mut cx, 50, Owner::NONE), Err(expected));

    // One byte of a live block's size header.
    let (mut ram, mut s, v) = fresh();
    let header = v[2] - 4;
    ram.write_u8(header, 0x19).unwrap();
    let err = AllocError::Inconsistent {
        at: header,
        rule: "a block's size is a multiple of 8, at least 16, and ends inside the heap",
    };
    assert_eq!(s.check(&ram), Err(err));
    let mut cx = Ctx::new(&mut ram, &mut q);
    assert_eq!(s.free(&mut cx, v[0]), Err(err));
    assert_eq!(s.free(&mut cx, v[2]), Err(err));

    // A size that still looks right (24 -> 0x58) makes the tiling overrun the free list.
    let (mut ram, s, v) = fresh();
    ram.write_u8(v[0] - 4, 0x58).unwrap();
    assert!(matches!(
        s.check(&ram),
        Err(AllocError::Inconsistent { .. } | AllocError::Corrupted { .. })
    ));

    // The used-bytes counter.
    let (mut ram, mut s, v) = fresh();
    let at = BASE + simple::OFF_USED_BYTES;
    ram.write_u8(at, 0xff).unwrap();
    let found = ram.read_u32(at).unwrap();
    let err = AllocError::Corrupted {
        at,
        field: Field::Count,
        expected: 72,
        found,
    };
    assert_eq!(s.check(&ram), Err(err));
    let mut cx = Ctx::new(&mut ram, &mut q);
    assert_eq!(s.free(&mut cx, v[0]), Err(err));

    // The vtable word.
    let (mut ram, s, _) = fresh();
    ram.write_u8(BASE, b'X').unwrap();
    assert!(matches!(
        s.check(&ram),
        Err(AllocError::Corrupted {
            at: BASE,
            field: Field::Magic,
            expected: simple::VT,
            ..
        })
    ));

    // Every byte of the control block and the first blocks, each set to 0xa5 in turn:
    // a typed error or a consistent heap, never a panic.
    let (ram0, s, v) = fresh();
    for off in 0..120 {
        let mut ram = ram0.clone();
        ram.write_u8(BASE + off, 0xa5).unwrap();
        let _ = s.check(&ram);
        let mut s2 = s.clone();
        let mut cx = Ctx::new(&mut ram, &mut q);
        let _ = s2.free(&mut cx, v[0]);
        let _ = s2.alloc(&mut cx, 30, Owner::NONE);
        let _ = s2.realloc(&mut cx, v[2], 60, Owner::NONE);
    }
}

#[test]
fn simple_under_the_common_harness() {
    let make = || {
        let mut ram = ram_with(BASE, 16 * 1024);
        let s = simple_over(&mut ram, 16 * 1024);
        Harness::new(ram, s, (BASE, 16 * 1024), true)
    };
    let steps = run_suite(make, 900, 40, 260);
    assert!(steps >= 10_000, "only {steps} steps ran");
}

// ---------------------------------------------------------------------------------------
// The decorator stack

/// The stack: oom(debug(pool(lock(simple)))). A leak is found by debug, and a
/// request succeeds on a retry after the release callback freed cached memory.
#[test]
fn oom_debug_pool_lock_simple_finds_a_leak_and_retries_after_release() {
    let config = StackConfig {
        pool: small_pools(2),
        debug_entries: 16,
    };
    let (mut ram, mut st) = stack(&words("oom debug pool lock simple"), config, 2048);
    // The pools took 48 + 64 + 96 + 128 + 160 = 496 bytes of the 2024-byte buffer.
    assert_eq!(st.base().info(&ram).unwrap().used_bytes, 496);
    assert_eq!(lock_figures(&st, &ram).lock_count, 5);

    let mut rec = Recorder::default();
    let mut cx = Ctx::new(&mut ram, &mut rec);
    let mut cache = ReleaseOldest::<8>::new(1);
    let font = site("font_manager_load", 42);
    for _ in 0..3 {
        let c = st.tk_alloc(&mut cx, 400, font, &mut cache).unwrap();
        assert!(cache.push(c));
        st.check(cx.ram).unwrap();
    }
    let (c1, c2, c3) = (cache.cached()[0], cache.cached()[1], cache.cached()[2]);
    // A small block from the 32-byte pool, never freed: the leak.
    let leaky = st
        .tk_alloc(&mut cx, 24, site("widget_create", 77), &mut cache)
        .unwrap();

    // 304 bytes are left; 500 needs a 504-byte block. Try 1 fails, c1 is released (408, no
    // free neighbour), try 2 fails, c2 is released and merges with it, try 3 succeeds.
    let start = rec.events.len();
    let mut cx = Ctx::new(&mut ram, &mut rec);
    let big = st
        .tk_alloc(&mut cx, 500, site("image_manager_load", 9), &mut cache)
        .unwrap();
    st.check(cx.ram).unwrap();
    assert_eq!(big, c1);
    assert_eq!(cache.cached(), &[c3]);
    let oom_lines: Vec<String> = lines(&rec.events[start..])
        .into_iter()
        .filter(|l| l.starts_with("oom.") && !l.starts_with("oom.meta"))
        .collect();
    assert_eq!(
        oom_lines,
        [
            "oom.release tried=1 size=500 func=image_manager_load line=9",
            "oom.retry tried=1 size=500",
            "oom.release tried=2 size=500 func=image_manager_load line=9",
            "oom.retry tried=2 size=500",
        ]
    );
    let tail = lines(&rec.events[start..]);
    assert!(tail.contains(&format!("awtk.free addr={c1:#010x} block=408 owner=-")));
    assert!(tail.contains(&format!(
        "debug.unrecord entry=0x{:08x} addr={c2:#010x}",
        debug_entry(&st, 1)
    )));
    assert_eq!(
        tail.last().unwrap(),
        &format!("awtk.alloc addr={big:#010x} size=500 block=504 owner=-")
    );
    assert_eq!(
        oom_figures(&st, &ram),
        oom::OomFigures {
            calls: 2,
            retries: 2,
            rescued: 1,
            given_up: 0
        }
    );

    let mut q = Quiet;
    let mut cx = Ctx::new(&mut ram, &mut q);
    st.tk_free(&mut cx, big).unwrap();
    st.tk_free(&mut cx, c3).unwrap();
    st.check(cx.ram).unwrap();
    assert_eq!(
        leaks(&st, &ram),
        [Leak {
            index: 3,
            addr: leaky,
            size: 24,
            site: site("widget_create", 77)
        }]
    );
    // The pool hit never reached the lock: 5 carves + 3 + 3 tries + 2 releases + 2 frees.
    let l = lock_figures(&st, &ram);
    assert_eq!(
        (l.lock_count, l.unlock_count, l.held, l.reentries),
        (15, 15, false, 0)
    );
    let p = pool_figures(&st, &ram);
    assert_eq!((p.hits, p.misses_full, p.misses_large), (1, 0, 6));
    assert_eq!(p.hit_rate_permille, 142);
    assert_eq!(p.pools[2].used, 1);
    assert_eq!(st.base().info(&ram).unwrap().used_block_nr, 5);
}

/// The address of debug log entry `index` in the outermost debug layer.
fn debug_entry(st: &DecoratorStack<Simple>, index: u32) -> Addr {
    let (_, _, object) = st.layer(st.find(Layer::Debug).unwrap()).unwrap();
    object + debug::OFF_ENTRIES + index * debug::ENTRY_BYTES
}

#[test]
fn a_request_of_0xffffffff_forces_five_tries_and_five_callbacks() {
    let (mut ram, mut st) = stack(&words("oom simple"), StackConfig::default(), 1024);
    let mut calls = Vec::new();
    let mut on_oom = |_: &mut dyn Reenter, tried: u32, size: u32| {
        calls.push((tried, size));
        Ok(())
    };
    let mut rec = Recorder::default();
    let mut cx = Ctx::new(&mut ram, &mut rec);
    let err = st
        .tk_alloc(&mut cx, 0xffff_ffff, site("oom_test", 1), &mut on_oom)
        .unwrap_err();
    assert_eq!(
        err,
        AllocError::OutOfMemory {
            requested: u32::MAX,
            largest_free: 0
        }
    );
    assert_eq!(calls, (1..=5).map(|t| (t, u32::MAX)).collect::<Vec<_>>());
    let words_seen: Vec<&str> = rec
        .events
        .iter()
        .filter(|e| e.source.as_str() == "oom" && e.kind.word() != "meta")
        .map(|e| e.kind.word())
        .collect();
    assert_eq!(
        words_seen,
        [
            "forced", "release", "retry", "forced", "release", "retry", "forced", "release",
            "retry", "forced", "release", "retry", "forced", "release", "give_up"
        ]
    );
    // The base was never asked.
    assert!(!rec.events.iter().any(|e| e.source.as_str() == "simple"));
    assert_eq!(
        rec.events.last().unwrap().to_string(),
        "awtk.fault op=alloc size=4294967295 error=OutOfMemory requested=4294967295 largest_free=0"
    );
    assert_eq!(
        oom_figures(&st, &ram),
        oom::OomFigures {
            calls: 5,
            retries: 4,
            rescued: 0,
            given_up: 1
        }
    );
    st.check(&ram).unwrap();
}

/// `lock` outside `oom`: the release callback's free comes back to a held lock. AWTK would
/// deadlock; the simulator refuses the re-entrant call with a typed error.
#[test]
fn lock_outside_oom_reports_reentry_instead_of_deadlocking() {
    let (mut ram, mut st) = stack(&words("lock oom simple"), StackConfig::default(), 1024);
    let mut rec = Recorder::default();
    let mut cx = Ctx::new(&mut ram, &mut rec);
    let mut cache = ReleaseOldest::<4>::new(1);
    let cached = st
        .tk_alloc(&mut cx, 300, site("image_cache", 5), &mut cache)
        .unwrap();
    cache.push(cached);
    let err = st
        .tk_alloc(&mut cx, 800, site("window_open", 8), &mut cache)
        .unwrap_err();
    let (_, _, lock_object) = st.layer(0).unwrap();
    let mutex = lock_object + lock::OFF_HELD;
    assert_eq!(err, AllocError::Deadlock { at: mutex });
    let text = lines(&rec.events);
    let reentry = text
        .iter()
        .position(|l| l.starts_with("lock.reentry"))
        .unwrap();
    assert_eq!(
        text[reentry],
        format!("lock.reentry mutex={mutex:#010x} count=1")
    );
    assert!(text[reentry + 1].starts_with(&format!(
        "awtk.fault op=free addr={cached:#010x} error=Deadlock at={mutex:#010x}"
    )));
    assert!(text
        .last()
        .unwrap()
        .starts_with("awtk.fault op=alloc size=800 error=Deadlock"));
    // The mutex was given back; nothing was freed; the heap is whole.
    let l = lock_figures(&st, &ram);
    assert_eq!(
        (l.lock_count, l.unlock_count, l.held, l.reentries),
        (2, 2, false, 1)
    );
    assert_eq!(cache.cached(), &[cached]);
    assert_eq!(st.base().info(&ram).unwrap().used_block_nr, 1);
    st.check(&ram).unwrap();

    // The order AWTK's tk_mem_init uses, oom outside lock, works.
    let (mut ram, mut st) = stack(&words("oom lock simple"), StackConfig::default(), 1024);
    let mut q = Quiet;
    let mut cx = Ctx::new(&mut ram, &mut q);
    let mut cache = ReleaseOldest::<4>::new(1);
    let cached = st
        .tk_alloc(&mut cx, 300, site("image_cache", 5), &mut cache)
        .unwrap();
    cache.push(cached);
    let big = st
        .tk_alloc(&mut cx, 800, site("window_open", 8), &mut cache)
        .unwrap();
    assert!(cache.cached().is_empty());
    assert_eq!(lock_figures(&st, &ram).reentries, 0);
    assert_eq!(oom_figures(&st, &ram).rescued, 1);
    let _ = big;
    st.check(&ram).unwrap();
}

#[test]
fn lock_counts_every_call_and_dump() {
    let (mut ram, mut st) = stack(&words("lock simple"), StackConfig::default(), 1024);
    let mut rec = Recorder::default();
    let mut cx = Ctx::new(&mut ram, &mut rec);
    let a = st
        .tk_alloc(&mut cx, 10, site("f", 1), &mut NoRelease)
        .unwrap();
    let a = st
        .tk_realloc(&mut cx, a, 100, site("f", 2), &mut NoRelease)
        .unwrap();
    st.tk_free(&mut cx, a).unwrap();
    let _ = st.tk_free(&mut cx, a);
    st.tk_mem_dump(&mut cx).unwrap();
    let l = lock_figures(&st, &ram);
    assert_eq!((l.lock_count, l.unlock_count, l.held), (5, 5, false));
    let locks: Vec<String> = lines(&rec.events)
        .into_iter()
        .filter(|l| l.starts_with("lock.lock") || l.starts_with("lock.unlock"))
        .collect();
    assert_eq!(locks.len(), 10);
    assert_eq!(locks[9], "lock.unlock count=5");
    st.check(&ram).unwrap();
}

#[test]
fn pool_serves_small_requests_and_counts_its_hit_rate() {
    let config = StackConfig {
        pool: small_pools(2),
        debug_entries: 8,
    };
    let (mut ram, mut st) = stack(&words("pool simple"), config, 2048);
    let mut rec = Recorder::default();
    let mut cx = Ctx::new(&mut ram, &mut rec);
    let s = site("f", 1);
    let a = st.tk_alloc(&mut cx, 5, s, &mut NoRelease).unwrap();
    let b = st.tk_alloc(&mut cx, 8, s, &mut NoRelease).unwrap();
    assert_eq!(b, a + 8);
    // The 8-byte pool is full: the request goes below, not to the 16-byte pool.
    let c = st.tk_alloc(&mut cx, 8, s, &mut NoRelease).unwrap();
    let d = st.tk_alloc(&mut cx, 100, s, &mut NoRelease).unwrap();
    let e = st.tk_alloc(&mut cx, 33, s, &mut NoRelease).unwrap();
    let text = lines(&rec.events);
    assert!(text.contains(&format!("pool.hit size=5 pool=8 addr={a:#010x} used=1")));
    assert!(text.contains(&"pool.miss size=8 pool=8".to_string()));
    assert!(text.contains(&"pool.miss size=100 pool=0".to_string()));
    assert!(text.contains(&format!("pool.hit size=33 pool=48 addr={e:#010x} used=1")));
    let mut cx = Ctx::new(&mut ram, &mut rec);
    let f = pool_figures(&st, cx.ram);
    assert_eq!(
        (f.hits, f.misses_full, f.misses_large, f.hit_rate_permille),
        (3, 1, 1, 600)
    );
    assert_eq!(
        f.pools.map(|p| (p.block_size, p.block_nr, p.used)),
        [(8, 2, 2), (16, 2, 0), (32, 2, 0), (48, 2, 1), (64, 2, 0)]
    );
    // Bad frees into a pool.
    assert_eq!(
        st.tk_free(&mut cx, a + 1),
        Err(AllocError::InvalidPointer { addr: a + 1 })
    );
    let arena = st
        .layer(0)
        .map(|(_, _, o)| cx.ram.read_u32(o + pool::OFF_POOLS))
        .unwrap()
        .unwrap();
    for addr in [arena, arena + 4, arena + 16] {
        assert_eq!(
            st.tk_free(&mut cx, addr),
            Err(AllocError::InvalidPointer { addr })
        );
    }
    st.tk_free(&mut cx, a).unwrap();
    assert_eq!(
        st.tk_free(&mut cx, a),
        Err(AllocError::DoubleFree { addr: a })
    );
    // realloc: stays while it fits its pool, then moves up, keeping the bytes.
    cx.ram.fill(b, 8, 0x3c).unwrap();
    assert_eq!(st.tk_realloc(&mut cx, b, 2, s, &mut NoRelease), Ok(b));
    let b2 = st.tk_realloc(&mut cx, b, 12, s, &mut NoRelease).unwrap();
    assert_ne!(b2, b);
    assert!(cx.ram.slice(b2, 8).unwrap().iter().all(|&x| x == 0x3c));
    assert_eq!(
        st.tk_free(&mut cx, b),
        Err(AllocError::DoubleFree { addr: b })
    );
    // A block from below stays below on realloc.
    let d2 = st.tk_realloc(&mut cx, d, 4, s, &mut NoRelease).unwrap();
    let used = pool_figures(&st, cx.ram).pools.map(|p| p.used);
    assert_eq!(
        used,
        [0, 1, 0, 1, 0],
        "b2 in the 16-byte pool, e in the 48-byte one"
    );
    for x in [b2, c, d2, e] {
        st.tk_free(&mut cx, x).unwrap();
    }
    assert_eq!(
        st.tk_alloc(&mut cx, 0, s, &mut NoRelease),
        Err(AllocError::ZeroSize)
    );
    let stats = st.stats(cx.ram).unwrap();
    assert_eq!(stats.blocks, 0);
    assert_eq!(stats.capacity, 2048 + pool::OBJECT_SIZE);
    st.check(cx.ram).unwrap();
}

#[test]
fn debug_dump_lists_live_blocks_with_their_call_sites() {
    let config = StackConfig {
        pool: small_pools(2),
        debug_entries: 4,
    };
    let (mut ram, mut st) = stack(&words("debug simple"), config, 2048);
    let mut q = Quiet;
    let mut cx = Ctx::new(&mut ram, &mut q);
    let a = st
        .tk_alloc(&mut cx, 8, site("label_create", 10), &mut NoRelease)
        .unwrap();
    let b = st.tk_alloc(&mut cx, 2000, site("image_load", 20), &mut NoRelease);
    assert!(b.is_err());
    let c = st
        .tk_alloc(&mut cx, 40, site("button_create", 30), &mut NoRelease)
        .unwrap();
    let c = st
        .tk_realloc(&mut cx, c, 1500, site("button_grow", 31), &mut NoRelease)
        .unwrap();
    let mut rec = Recorder::default();
    let mut cx = Ctx::new(&mut ram, &mut rec);
    st.tk_mem_dump(&mut cx).unwrap();
    assert_eq!(
        lines(&rec.events),
        [
            format!("debug.dump_entry index=0 addr={a:#010x} size=8 func=label_create line=10"),
            format!("debug.dump_entry index=1 addr={c:#010x} size=1500 func=button_grow line=31"),
            "debug.mem_info used_block=2 used_size=1508 le8=1 le16=0 le32=0 le48=0 le64=0 ge1024=1"
                .to_string(),
            "simple.dump_heap used=1528 blocks=2".to_string(),
            "awtk.dump layers=1".to_string(),
        ]
    );
    // A full log drops records but the blocks still work.
    let mut q = Quiet;
    let mut cx = Ctx::new(&mut ram, &mut q);
    let more: Vec<Addr> = (0..3)
        .map(|i| {
            st.tk_alloc(&mut cx, 16, site("f", i), &mut NoRelease)
                .unwrap()
        })
        .collect();
    match st.figures(cx.ram, 0).unwrap().unwrap() {
        Figures::Debug(f) => assert_eq!((f.used_blocks, f.dropped, f.capacity), (4, 1, 4)),
        other => panic!("{other:?}"),
    }
    for x in more {
        st.tk_free(&mut cx, x).unwrap();
    }
    st.tk_free(&mut cx, a).unwrap();
    assert_eq!(leaks(&st, cx.ram).len(), 1);
    st.check(cx.ram).unwrap();
}

/// The issue asks for exact canonical lines: a short sequence through a TextSink.
#[test]
fn a_short_sequence_renders_exact_lines() {
    let config = StackConfig {
        pool: small_pools(2),
        debug_entries: 4,
    };
    let (mut ram, mut st) = stack(&words("oom debug pool lock simple"), config, 2048);
    let mut sink = TextSink::new(String::new());
    sink.step = 1;
    let a = st
        .tk_alloc(
            &mut Ctx::new(&mut ram, &mut sink),
            10,
            site("label_create", 12),
            &mut NoRelease,
        )
        .unwrap();
    sink.step = 2;
    st.tk_free(&mut Ctx::new(&mut ram, &mut sink), a).unwrap();
    sink.step = 3;
    let _ = st.tk_free(&mut Ctx::new(&mut ram, &mut sink), a);
    let expected = "\
0001 pool.meta addr=0x2000005c field=bitmap value=0x00000001
0001 pool.meta addr=0x20000050 field=count value=0x00010000
0001 pool.meta addr=0x200008f8 field=count value=0x00000001
0001 pool.hit size=10 pool=16 addr=0x20000064 used=1
0001 debug.meta addr=0x20000828 field=block value=0x20000064
0001 debug.meta addr=0x2000084c field=site value=0x0000000c
0001 debug.meta addr=0x20000850 field=size value=0x0000000a
0001 debug.record entry=0x20000828 addr=0x20000064 size=10 func=label_create line=12
0001 awtk.alloc addr=0x20000064 size=10 block=16 owner=-
0002 pool.meta addr=0x2000005c field=bitmap value=0x00000000
0002 pool.meta addr=0x20000050 field=count value=0x00000000
0002 pool.put addr=0x20000064 pool=16 used=0
0002 debug.meta addr=0x20000828 field=block value=0x00000000
0002 debug.fill addr=0x2000082c len=32 byte=0x00 field=site
0002 debug.meta addr=0x2000084c field=site value=0x00000000
0002 debug.meta addr=0x20000850 field=size value=0x00000000
0002 debug.unrecord entry=0x20000828 addr=0x20000064
0002 awtk.free addr=0x20000064 block=16 owner=-
0003 awtk.fault op=free addr=0x20000064 error=DoubleFree addr=0x20000064
";
    assert_eq!(sink.out, expected);
}

// ---------------------------------------------------------------------------------------
// Every order, random workloads

const FUNCS: [&str; 6] = [
    "widget_create",
    "label_set_text",
    "image_manager_load",
    "font_manager_load",
    "darray_push",
    "str_set",
];

fn permutations(items: &[Layer]) -> Vec<Vec<Layer>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut p in permutations(&rest) {
            p.insert(0, first);
            out.push(p);
        }
    }
    out
}

#[derive(Clone, Copy, Debug)]
struct Live {
    addr: Addr,
    size: u32,
    fill: u8,
    cached: bool,
}

/// Drops from the shadow the cached blocks the release callback freed.
fn released<const N: usize>(live: &mut Vec<Live>, cache: &ReleaseOldest<N>) {
    live.retain(|l| !l.cached || cache.cached().contains(&l.addr));
}

fn random_size(prng: &mut Prng) -> u32 {
    match prng.below(100) {
        0..=69 => prng.range(1, 64),
        70..=94 => prng.range(65, 600),
        95 => 0,
        96 => u32::MAX,
        97 => u32::MAX - 1,
        _ => prng.range(1000, 3000),
    }
}

/// A random workload on a stack of `layers` over `base`, with `check()` and the content of
/// every live block verified after each operation.
fn workload<B: MemAllocator + Clone>(
    layers: &[Layer],
    heap: u32,
    make_base: impl FnOnce(&mut Ram<Vec<u8>>) -> B,
    seed: u64,
    ops: u32,
) -> Outcome {
    let config = StackConfig {
        pool: small_pools(4),
        debug_entries: 160,
    };
    let statics = DecoratorStack::<B>::statics_size(layers, &config);
    let mut ram = machine(heap, statics);
    let base = make_base(&mut ram);
    let mut st = {
        let mut q = Quiet;
        let mut cx = Ctx::new(&mut ram, &mut q);
        DecoratorStack::new(
            &mut cx,
            Name::lit("awtk"),
            base,
            layers,
            BASE + heap,
            config,
        )
        .unwrap()
    };
    let pos = |k: Layer| layers.iter().position(|&l| l == k);
    let lock_above_oom = matches!((pos(Layer::Lock), pos(Layer::Oom)), (Some(l), Some(o)) if l < o);
    let mut prng = Prng::new(seed);
    let mut live: Vec<Live> = Vec::new();
    let mut freed: Vec<Addr> = Vec::new();
    let mut cache = ReleaseOldest::<16>::new(2);
    let mut reentries = 0u32;
    let mut next_fill = 1u8;
    let mut allowed = |e: AllocError, what: &str| match e {
        AllocError::ZeroSize | AllocError::OutOfMemory { .. } | AllocError::TooLarge { .. } => {}
        AllocError::Deadlock { .. } if lock_above_oom => reentries += 1,
        other => panic!("{layers:?}: {what} gave {other:?}"),
    };
    let mut ran = 0;
    for step in 0..ops {
        let mut q = Quiet;
        let mut cx = Ctx::new(&mut ram, &mut q);
        let func = FUNCS[prng.below(FUNCS.len() as u32) as usize];
        let at = site(func, prng.range(1, 2000));
        let roll = prng.below(100);
        if roll < 50 || live.is_empty() {
            let size = random_size(&mut prng);
            let result = st.tk_alloc(&mut cx, size, at, &mut cache);
            released(&mut live, &cache);
            match result {
                Ok(addr) => {
                    assert!(size > 0);
                    next_fill = next_fill.wrapping_add(37) | 1;
                    cx.ram.fill(addr, size, next_fill).unwrap();
                    let cached = prng.below(3) == 0 && cache.push(addr);
                    freed.retain(|&f| f != addr);
                    live.push(Live {
                        addr,
                        size,
                        fill: next_fill,
                        cached,
                    });
                }
                Err(e) => allowed(e, "alloc"),
            }
        } else if roll < 80 {
            let l = live.swap_remove(prng.below(live.len() as u32) as usize);
            if l.cached {
                cache.remove(l.addr);
            }
            st.tk_free(&mut cx, l.addr)
                .unwrap_or_else(|e| panic!("{layers:?} step {step}: free {:#x}: {e}", l.addr));
            freed.push(l.addr);
        } else if roll < 95 {
            let l = live[prng.below(live.len() as u32) as usize];
            if !l.cached {
                let size = random_size(&mut prng);
                let result = st.tk_realloc(&mut cx, l.addr, size, at, &mut cache);
                released(&mut live, &cache);
                let i = live.iter().position(|x| x.addr == l.addr).unwrap();
                match result {
                    Ok(to) => {
                        let kept = size.min(l.size);
                        assert!(
                            cx.ram.slice(to, kept).unwrap().iter().all(|&b| b == l.fill),
                            "{layers:?} step {step}: realloc lost bytes"
                        );
                        next_fill = next_fill.wrapping_add(37) | 1;
                        cx.ram.fill(to, size, next_fill).unwrap();
                        if to != l.addr {
                            freed.push(l.addr);
                        }
                        freed.retain(|&f| f != to);
                        live[i] = Live {
                            addr: to,
                            size,
                            fill: next_fill,
                            cached: false,
                        };
                    }
                    Err(e) => allowed(e, "realloc"),
                }
            }
        } else {
            let addr = match (prng.below(2), freed.is_empty()) {
                (0, false) => freed[prng.below(freed.len() as u32) as usize],
                _ => live[prng.below(live.len() as u32) as usize].addr + prng.range(1, 7),
            };
            if !live.iter().any(|l| l.addr == addr) {
                match st.tk_free(&mut cx, addr) {
                    Err(AllocError::DoubleFree { .. } | AllocError::InvalidPointer { .. }) => {}
                    other => panic!("{layers:?} step {step}: bad free {addr:#x} gave {other:?}"),
                }
            }
        }
        released(&mut live, &cache);
        st.check(&ram)
            .unwrap_or_else(|e| panic!("{layers:?} step {step}: check: {e}"));
        for l in &live {
            assert!(
                ram.slice(l.addr, l.size)
                    .unwrap()
                    .iter()
                    .all(|&b| b == l.fill),
                "{layers:?} step {step}: block {:#x}+{} overwritten",
                l.addr,
                l.size
            );
        }
        ran += 1;
    }
    // The figures agree with what happened. Re-entries are refused by the outermost lock.
    let mut outcome = Outcome {
        ops: 0,
        reentries,
        rescued: 0,
    };
    let mut refused = 0;
    for i in 0..st.layer_count() {
        match st.figures(&ram, i).unwrap().unwrap() {
            Figures::Lock(f) => {
                assert_eq!(f.lock_count, f.unlock_count);
                assert!(!f.held);
                refused += f.reentries;
            }
            Figures::Pool(f) => assert!(f.hit_rate_permille <= 1000),
            Figures::Oom(f) => outcome.rescued += f.rescued,
            Figures::Debug(f) => {
                // The outermost log holds live blocks that passed through it, and (below a
                // pool) the pools' own memory; above every pool, exactly the live blocks.
                if i == pos(Layer::Debug).unwrap_or(usize::MAX) {
                    let logged = leaks(&st, &ram);
                    let pools_above = layers[..i].contains(&Layer::Pool);
                    for l in &logged {
                        let carved = l.site.func.as_str() == "mem_pool_create";
                        assert!(
                            (carved && pools_above) || live.iter().any(|x| x.addr == l.addr),
                            "{layers:?}: the log holds {l:?}, which is not live"
                        );
                    }
                    if f.dropped == 0 && !pools_above {
                        assert_eq!(logged.len(), live.len(), "{layers:?}");
                    }
                }
            }
        }
    }
    assert_eq!(refused, reentries, "{layers:?}");
    let stats = st.stats(&ram).unwrap();
    assert_eq!(stats.blocks as usize, live.len(), "{layers:?}");
    assert_eq!(stats.capacity, heap + st.statics().1);
    outcome.ops = ran;
    outcome
}

/// What a workload did.
#[derive(Clone, Copy, Debug, Default)]
struct Outcome {
    ops: u64,
    /// Re-entrant frees the lock refused.
    reentries: u32,
    /// Requests the oom layer rescued after a release.
    rescued: u32,
}

#[test]
fn every_order_of_the_four_decorators_works() {
    let orders = permutations(&Layer::ALL);
    assert_eq!(orders.len(), 24);
    let (mut ops, mut rescued) = (0, 0);
    for (n, order) in orders.iter().enumerate() {
        // Half over the simple heap, half over the simple heap seen as any engine allocator.
        let outcome = if n % 2 == 0 {
            workload(
                order,
                8 * 1024,
                |ram| simple_over(ram, 8 * 1024),
                n as u64,
                300,
            )
        } else {
            workload(
                order,
                8 * 1024,
                |ram| Std::new(simple_over(ram, 8 * 1024)),
                n as u64,
                300,
            )
        };
        let lock_above_oom = order.iter().position(|&l| l == Layer::Lock)
            < order.iter().position(|&l| l == Layer::Oom);
        // Releases happen in every order; with the lock outside, each one is refused.
        assert_eq!(lock_above_oom, outcome.reentries > 0, "{order:?}");
        ops += outcome.ops;
        rescued += outcome.rescued;
    }
    assert_eq!(ops, 24 * 300);
    assert!(rescued > 0, "no request was ever rescued by a release");
}

#[test]
fn repeated_decorators_and_pools_inside_pools_work() {
    // The outer pool's small pools fit in the inner pool's blocks: pools nested in pools.
    let layers = words("pool lock pool lock debug oom");
    let config = StackConfig {
        pool: small_pools(1),
        debug_entries: 8,
    };
    let (ram, st) = stack(&layers, config, 4096);
    let names: Vec<String> = (0..st.layer_count())
        .map(|i| st.layer(i).unwrap().1.to_string())
        .collect();
    assert_eq!(names, ["pool", "lock", "pool2", "lock2", "debug", "oom"]);
    // The outer 8-byte pool (32 bytes) sits in the inner 32-byte pool's only block.
    let outer_pool8 = ram
        .read_u32(st.layer(0).unwrap().2 + pool::OFF_POOLS)
        .unwrap();
    let inner_pool32 = ram
        .read_u32(st.layer(2).unwrap().2 + pool::OFF_POOLS + 8)
        .unwrap();
    assert_eq!(outer_pool8, inner_pool32 + pool::MP_HEADER + 8);
    let outcome = workload(&layers, 6 * 1024, |ram| simple_over(ram, 6 * 1024), 99, 400);
    assert_eq!(outcome.ops, 400);
}

#[test]
fn the_stack_under_the_common_harness() {
    let layers = words("oom debug pool lock simple");
    let config = StackConfig {
        pool: PoolConfig {
            blocks: [8, 8, 6, 6, 4],
            min_blocks: 0,
        },
        debug_entries: 128,
    };
    let heap = 16 * 1024;
    let make = || {
        let (ram, st) = stack(&layers, config, heap);
        Harness::new(ram, st, (BASE, heap), true)
    };
    let steps = run_suite(make, 900, 40, 260);
    assert!(steps >= 10_000, "only {steps} steps ran");
}

#[test]
fn the_std_adapter_puts_any_engine_allocator_under_awtk() {
    let layers = words("debug pool");
    let config = StackConfig {
        pool: small_pools(2),
        debug_entries: 8,
    };
    let statics = DecoratorStack::<Std<Simple>>::statics_size(&layers, &config);
    let mut ram = machine(2048, statics);
    let base = Std::new(simple_over(&mut ram, 2048));
    assert_eq!(base.object(), 0);
    let mut rec = Recorder::default();
    let mut cx = Ctx::new(&mut ram, &mut rec);
    let mut st = DecoratorStack::new(
        &mut cx,
        Name::lit("awtk"),
        base,
        &layers,
        BASE + 2048,
        config,
    )
    .unwrap();
    // The bottom layer's impl is 0: the C library's allocator is not in the heap.
    let (_, _, pool_object) = st.layer(1).unwrap();
    assert_eq!(cx.ram.read_u32(pool_object + 4).unwrap(), 0);
    let a = st
        .tk_alloc(&mut cx, 100, site("f", 1), &mut NoRelease)
        .unwrap();
    let a = st
        .tk_realloc(&mut cx, a, 300, site("f", 2), &mut NoRelease)
        .unwrap();
    st.tk_mem_dump(&mut cx).unwrap();
    let text = lines(&rec.events);
    let mut cx = Ctx::new(&mut ram, &mut rec);
    // The block size comes from the wrapped allocator's own `alloc` event.
    assert!(text.contains(&"awtk.alloc addr=0x2000020c size=100 block=104 owner=-".to_string()));
    // The dump is what the wrapped allocator's stats say: payload bytes, headers excluded
    // (the five pools and the block: 800 bytes of blocks, 776 of payload).
    assert!(text.contains(&"simple.dump_heap used=776 blocks=6".to_string()));
    st.tk_free(&mut cx, a).unwrap();
    st.check(cx.ram).unwrap();
}

// ---------------------------------------------------------------------------------------
// Corruption, bad input, configuration

#[test]
fn stack_corruption_is_reported_by_check_and_by_the_next_call() {
    let layers = words("oom debug pool lock simple");
    let config = StackConfig {
        pool: small_pools(2),
        debug_entries: 4,
    };
    let (ram0, st0) = stack(&layers, config, 2048);
    let object = |i: usize| st0.layer(i).unwrap().2;
    let (oom_o, debug_o, pool_o, lock_o) = (object(0), object(1), object(2), object(3));
    let arena8 = ram0.read_u32(pool_o + pool::OFF_POOLS).unwrap();
    let s = site("f", 1);

    // The held word of the mutex: check() reports it, and the next call is refused as a
    // re-entry (the mutex looks taken).
    let (mut ram, mut st) = (ram0.clone(), st0.clone());
    ram.write_u8(lock_o + lock::OFF_HELD, 1).unwrap();
    assert_eq!(
        st.check(&ram),
        Err(AllocError::Corrupted {
            at: lock_o + lock::OFF_HELD,
            field: Field::Flags,
            expected: 0,
            found: 1
        })
    );
    let mut q = Quiet;
    let e = st.tk_alloc(&mut Ctx::new(&mut ram, &mut q), 100, s, &mut NoRelease);
    assert!(matches!(e, Err(AllocError::Deadlock { .. })));

    // A pool pointer in the decorator object.
    let (mut ram, mut st) = (ram0.clone(), st0.clone());
    let a = st
        .tk_alloc(&mut Ctx::new(&mut ram, &mut q), 4, s, &mut NoRelease)
        .unwrap();
    ram.write_u8(pool_o + pool::OFF_POOLS, 0x99).unwrap();
    let found = ram.read_u32(pool_o + pool::OFF_POOLS).unwrap();
    let err = AllocError::Corrupted {
        at: pool_o + pool::OFF_POOLS,
        field: Field::Pool,
        expected: arena8,
        found,
    };
    assert_eq!(st.check(&ram), Err(err));
    assert_eq!(st.tk_free(&mut Ctx::new(&mut ram, &mut q), a), Err(err));

    // The used count of a pool.
    let (mut ram, st) = (ram0.clone(), st0.clone());
    ram.write_u8(arena8 + pool::MP_USED + 2, 3).unwrap();
    assert_eq!(
        st.check(&ram),
        Err(AllocError::Corrupted {
            at: arena8 + pool::MP_USED,
            field: Field::Count,
            expected: 0,
            found: 0x0003_0000
        })
    );

    // A bit past the pool's last block.
    let (mut ram, st) = (ram0.clone(), st0.clone());
    ram.write_u8(arena8 + pool::MP_HEADER, 0b100).unwrap();
    assert!(matches!(
        st.check(&ram),
        Err(AllocError::Inconsistent { .. })
    ));

    // A debug log entry's function name.
    let (mut ram, mut st) = (ram0.clone(), st0.clone());
    st.tk_alloc(&mut Ctx::new(&mut ram, &mut q), 100, s, &mut NoRelease)
        .unwrap();
    let entry = debug_o + debug::OFF_ENTRIES;
    ram.write_u8(entry + debug::ENTRY_FUNC + 1, b'-').unwrap();
    assert_eq!(
        st.check(&ram),
        Err(AllocError::Inconsistent {
            at: entry + debug::ENTRY_FUNC,
            rule: "a debug log entry's function name is an identifier padded with zeros"
        })
    );

    // A vtable word and an impl pointer.
    let (mut ram, st) = (ram0.clone(), st0.clone());
    ram.write_u8(oom_o, b'X').unwrap();
    assert!(matches!(
        st.check(&ram),
        Err(AllocError::Corrupted {
            field: Field::Magic,
            expected: oom::VT,
            ..
        })
    ));
    let (mut ram, st) = (ram0.clone(), st0.clone());
    ram.write_u8(debug_o + 4, 0).unwrap();
    assert!(matches!(
        st.check(&ram),
        Err(AllocError::Corrupted {
            field: Field::Next,
            ..
        })
    ));

    // Every byte of the statics and of the pools, in turn: typed errors, never a panic.
    let (statics, size) = st0.statics();
    let mut ram1 = ram0.clone();
    let mut st1 = st0.clone();
    let live = st1
        .tk_alloc(&mut Ctx::new(&mut ram1, &mut q), 6, s, &mut NoRelease)
        .unwrap();
    for at in (statics..statics + size).chain(BASE..BASE + 700) {
        let mut ram = ram1.clone();
        let mut st = st1.clone();
        ram.write_u8(at, ram.read_u8(at).unwrap() ^ 0x5a).unwrap();
        let _ = st.check(&ram);
        let mut cx = Ctx::new(&mut ram, &mut q);
        let _ = st.tk_free(&mut cx, live);
        let _ = st.tk_alloc(&mut cx, 40, s, &mut NoRelease);
        let _ = st.tk_alloc(&mut cx, u32::MAX, s, &mut NoRelease);
        let _ = st.tk_mem_dump(&mut cx);
        let _ = st.leaks(&ram, &mut |_| {});
    }
}

#[test]
fn stack_bad_input_gets_typed_errors() {
    let (mut ram, mut st) = stack(
        &words("oom debug pool lock simple"),
        StackConfig::default(),
        16 * 1024,
    );
    let mut rec = Recorder::default();
    let s = site("f", 1);
    type Expect = fn(&AllocError) -> bool;
    let cases: [(u32, Expect); 4] = [
        (0, |e| *e == AllocError::ZeroSize),
        (u32::MAX, |e| matches!(e, AllocError::OutOfMemory { .. })),
        (u32::MAX - 1, |e| {
            matches!(e, AllocError::OutOfMemory { .. })
        }),
        (20_000, |e| matches!(e, AllocError::OutOfMemory { .. })),
    ];
    for (size, ok) in cases {
        let e = st.tk_alloc(&mut Ctx::new(&mut ram, &mut rec), size, s, &mut NoRelease);
        assert!(ok(&e.unwrap_err()), "{size}");
        assert!(matches!(
            rec.events.last().unwrap().kind,
            EventKind::Fault { .. }
        ));
    }
    let mut cx = Ctx::new(&mut ram, &mut rec);
    let a = st.tk_alloc(&mut cx, 200, s, &mut NoRelease).unwrap();
    let (statics, _) = st.statics();
    for addr in [
        0,
        a + 1,
        a - 4,
        statics,
        statics + 8,
        0xffff_fff0,
        BASE,
        BASE + 24,
    ] {
        assert!(
            matches!(
                st.tk_free(&mut cx, addr),
                Err(AllocError::InvalidPointer { .. })
            ),
            "{addr:#x}"
        );
    }
    st.tk_free(&mut cx, a).unwrap();
    assert_eq!(
        st.tk_free(&mut cx, a),
        Err(AllocError::DoubleFree { addr: a })
    );
    st.check(&ram).unwrap();
}

#[test]
fn stack_configuration_errors() {
    let mut ram = machine(4096, 4096);
    let mut q = Quiet;
    let simple = {
        let mut cx = Ctx::new(&mut ram, &mut q);
        Simple::new(&mut cx, Name::lit("simple"), BASE, 1024).unwrap()
    };
    let n = Name::lit("awtk");
    let build = |ram: &mut Ram<Vec<u8>>, layers: &[Layer], statics: Addr, config: StackConfig| {
        let mut q = Quiet;
        let mut cx = Ctx::new(ram, &mut q);
        DecoratorStack::new(&mut cx, n, simple.clone(), layers, statics, config).map(|_| ())
    };
    let ok = StackConfig::default();
    assert_eq!(
        build(&mut ram, &[Layer::Lock; 9], BASE + 2048, ok),
        Err(AllocError::Config(ConfigError::TooMany { max: 8 }))
    );
    assert_eq!(
        build(&mut ram, &[Layer::Lock], BASE + 8190, ok),
        Err(AllocError::Config(ConfigError::NotInRam {
            addr: BASE + 8190,
            size: 24
        }))
    );
    assert_eq!(
        build(&mut ram, &[Layer::Lock, Layer::Oom], BASE + 1000, ok),
        Err(AllocError::Config(ConfigError::Overlaps {
            addr: BASE + 1000,
            size: 48
        }))
    );
    let no_pools = StackConfig {
        pool: small_pools(0),
        ..ok
    };
    assert_eq!(
        build(&mut ram, &[Layer::Pool], BASE + 2048, no_pools),
        Err(AllocError::Config(ConfigError::NoBlocks))
    );
    let huge = StackConfig {
        pool: small_pools(5000),
        ..ok
    };
    assert_eq!(
        build(&mut ram, &[Layer::Pool], BASE + 2048, huge),
        Err(AllocError::Config(ConfigError::TooMany { max: 4096 }))
    );
    let no_log = StackConfig {
        debug_entries: 0,
        ..ok
    };
    assert_eq!(
        build(&mut ram, &[Layer::Debug], BASE + 2048, no_log),
        Err(AllocError::Config(ConfigError::NoBlocks))
    );
    // AWTK's default pools need about 11 KB: a 1 KB heap cannot hold them.
    assert!(matches!(
        build(&mut ram, &[Layer::Pool], BASE + 2048, ok),
        Err(AllocError::OutOfMemory { .. })
    ));
    // An empty stack is just the base.
    assert_eq!(build(&mut ram, &[], BASE + 2048, ok), Ok(()));
}

#[test]
fn the_stack_walk_covers_heap_and_statics_exactly_once() {
    let config = StackConfig {
        pool: small_pools(3),
        debug_entries: 8,
    };
    let layers = words("oom pool debug lock simple");
    let (mut ram, mut st) = stack(&layers, config, 4096);
    let mut q = Quiet;
    let mut cx = Ctx::new(&mut ram, &mut q);
    let small = st
        .tk_alloc(&mut cx, 30, site("f", 1), &mut NoRelease)
        .unwrap();
    let big = st
        .tk_alloc(&mut cx, 300, site("f", 2), &mut NoRelease)
        .unwrap();
    let mut spans = Vec::new();
    st.walk(&ram, &mut |b| spans.push(b)).unwrap();
    spans.sort_by_key(|b| b.addr);
    let mut at = BASE;
    for b in &spans {
        assert_eq!(b.addr, at, "{b:x?}");
        at += b.len;
    }
    assert_eq!(at, BASE + 4096 + st.statics().1);
    let payload = |addr| {
        spans
            .iter()
            .find(|b| b.kind == BlockKind::Payload && b.block == addr)
            .map(|b| (b.addr, b.len))
    };
    assert_eq!(payload(small), Some((small, 32)));
    assert_eq!(payload(big), Some((big, 300)));
    let stats = st.stats(&ram).unwrap();
    assert_eq!(stats.blocks, 2);
    // debug sits below pool here, so it logged the five pools as well as the big block.
    assert_eq!(leaks(&st, &ram).len(), 6);
    assert!(
        leaks(&st, &ram)
            .iter()
            .filter(|l| l.site.func.as_str() == "mem_pool_create")
            .count()
            == 5
    );
}
