//! ASM (`applib_mem_ap_*`, AppMemMgr.c): registry, chunks with guards, full-pool mode,
//! usage, the out-of-memory protocol, screen memory, and random suites.

mod common;

use common::{ram_with, run_suite, Harness};
use memplay_engine::adm::{DELETED_MAGIC, POOL_MAGIC};
use memplay_engine::app_mem::chunk::{
    FOOTER_PATTERN1, FOOTER_PATTERN2, HEADER_PATTERN1, HEADER_PATTERN2,
};
use memplay_engine::app_mem::{
    AppMem, AppUsage, AsmConfig, AsmError, AsmEvent, OomState, Outcome, PopupMsg, Request,
    ScreenMem, StopPlan, ASM_MAGIC, CONTEXT_LEN, MAX_APPS, NO_APP,
};
use memplay_engine::prng::Prng;
use memplay_engine::trace::{Quiet, Recorder, TextSink};
use memplay_engine::{Addr, AllocError, Allocator, Ctx, Event, EventKind, Field, Name, Owner, Ram};

const BASE: Addr = 0x0800_0000;
const ASM: Name = Name::lit("asm");
const SCREEN_SIZE: u32 = 8192;

const CAMERA: u16 = 0;
const MUSIC: u16 = 1;
const BROWSER: u16 = 2;
const GAME: u16 = 3;

fn setup(pool: u32, subpools: &[u32]) -> (Ram<Vec<u8>>, AppMem) {
    let mut ram = ram_with(BASE, pool + SCREEN_SIZE);
    let config = AsmConfig {
        name: ASM,
        base: BASE,
        size: pool,
        subpools,
        screen: Some((BASE + pool, SCREEN_SIZE)),
    };
    let mut am = AppMem::init(&mut Ctx::new(&mut ram, &mut Quiet), &config).unwrap();
    for (app, name) in [
        (CAMERA, "camera"),
        (MUSIC, "music"),
        (BROWSER, "browser"),
        (GAME, "game"),
    ] {
        am.register(
            &mut Ctx::new(&mut ram, &mut Quiet),
            app,
            Name::lit(name),
            100 + app as u32,
            StopPlan::IMMEDIATE,
        )
        .unwrap();
    }
    am.check(&ram).unwrap();
    (ram, am)
}

fn word(ram: &Ram<Vec<u8>>, addr: Addr) -> u32 {
    ram.read_u32(addr).unwrap()
}

fn alloc(ram: &mut Ram<Vec<u8>>, am: &mut AppMem, app: u16, size: u32) -> Addr {
    am.alloc(&mut Ctx::new(ram, &mut Quiet), size, Owner(app))
        .unwrap_or_else(|e| panic!("alloc {size} for {app}: {e}"))
}

fn free(ram: &mut Ram<Vec<u8>>, am: &mut AppMem, addr: Addr) -> Result<(), AllocError> {
    am.free(&mut Ctx::new(ram, &mut Quiet), addr)
}

fn asm_events(rec: &Recorder) -> Vec<AsmEvent> {
    rec.events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Asm(a) if e.source == ASM => Some(a),
            _ => None,
        })
        .collect()
}

fn usage(ram: &Ram<Vec<u8>>, am: &AppMem) -> Vec<AppUsage> {
    let blank = AppUsage {
        app: 0,
        name: ASM,
        icon: 0,
        size: 0,
        stopping: false,
    };
    let mut rows = [blank; MAX_APPS as usize];
    let n = am.current_usage(ram, &mut rows).unwrap();
    rows[..n].to_vec()
}

#[test]
fn init_lays_out_the_context_and_the_registry() {
    let (ram, am) = setup(4096, &[32, 64]);
    assert_eq!(&ram.slice(BASE, 4).unwrap(), b"ASM!");
    assert_eq!(word(&ram, BASE), ASM_MAGIC);
    let pool = BASE + CONTEXT_LEN;
    assert_eq!(am.pool_range(), (pool, 4096 - CONTEXT_LEN));
    assert_eq!(word(&ram, BASE + 4), pool, "pool_id is the ADM");
    assert_eq!(word(&ram, BASE + 8), 0, "empty list");
    assert_eq!(word(&ram, BASE + 12), 0, "alloc count");
    assert_eq!(word(&ram, BASE + 16), NO_APP);
    assert_eq!(word(&ram, BASE + 20), 4096 - CONTEXT_LEN);
    assert_eq!(word(&ram, pool), POOL_MAGIC);
    // Entry 2 (browser): flags, id, name, icon, handler.
    let e = BASE + 24 + 2 * 32;
    assert_eq!(word(&ram, e), 1);
    assert_eq!(word(&ram, e + 4), 2);
    assert_eq!(&ram.slice(e + 8, 8).unwrap(), b"browser\0");
    assert_eq!(word(&ram, e + 24), 102);
    assert_eq!(word(&ram, e + 28), 2);
    let info = am.app_info(&ram, BROWSER).unwrap().unwrap();
    assert_eq!(info.name.as_str(), "browser");
    assert_eq!(am.app_info(&ram, 5).unwrap(), None);
    assert!(!am.is_registered(&ram, 200).unwrap());
}

#[test]
fn register_emits_its_event_and_refuses_unknown_ids() {
    let (mut ram, mut am) = setup(4096, &[]);
    let mut out = TextSink::new(String::new());
    am.register(
        &mut Ctx::new(&mut ram, &mut out),
        5,
        Name::lit("mms_viewer"),
        77,
        StopPlan::IMMEDIATE,
    )
    .unwrap();
    assert!(out
        .out
        .ends_with("0000 asm.register app=5 name=mms_viewer icon=77 handler=5\n"));
    assert_eq!(
        am.register(
            &mut Ctx::new(&mut ram, &mut Quiet),
            MAX_APPS,
            Name::lit("x"),
            0,
            StopPlan::IMMEDIATE
        ),
        Err(AsmError::NoSuchApp { app: MAX_APPS })
    );
    // An unregistered app cannot allocate.
    assert!(matches!(
        am.alloc(&mut Ctx::new(&mut ram, &mut Quiet), 8, Owner(6)),
        Err(AllocError::Inconsistent { .. })
    ));
    am.check(&ram).unwrap();
}

#[test]
fn alloc_rounds_to_4_wraps_with_guards_and_pushes_on_the_list_head() {
    let (mut ram, mut am) = setup(8192, &[64]);
    let mut rec = Recorder::default();
    let p = am
        .alloc(&mut Ctx::new(&mut ram, &mut rec), 30, Owner(MUSIC))
        .unwrap();
    let c = p - 16;
    assert_eq!(word(&ram, c), MUSIC as u32, "owner_id");
    assert_eq!(word(&ram, c + 4), 32, "chunk_size rounded to 4");
    assert_eq!(word(&ram, c + 8), HEADER_PATTERN1);
    assert_eq!(word(&ram, c + 12), 0, "next: the list was empty");
    assert_eq!(word(&ram, p + 32), FOOTER_PATTERN1);
    assert_eq!(word(&ram, BASE + 8), c, "list head");
    assert_eq!(word(&ram, BASE + 12), 1);
    // ADM's block under the chunk carries the chunk plus 20 bytes.
    let info = am.pool().block_info(&ram, c).unwrap();
    assert_eq!(info.requested, 32 + 20);
    assert_eq!(info.owner, Owner(MUSIC));
    assert_eq!(
        rec.events.last().unwrap(),
        &Event {
            source: ASM,
            kind: EventKind::Alloc {
                addr: p,
                size: 30,
                block: 52,
                owner: Owner(MUSIC)
            }
        }
    );
    let q = alloc(&mut ram, &mut am, CAMERA, 100);
    assert_eq!(word(&ram, BASE + 8), q - 16, "the newest chunk is the head");
    assert_eq!(word(&ram, q - 16 + 12), c, "and links to the older one");
    assert_eq!(am.alloc_count(&ram).unwrap(), 2);
    am.check(&ram).unwrap();
}

#[test]
fn free_checks_unlinks_rewrites_both_guards_and_frees_to_adm() {
    let (mut ram, mut am) = setup(8192, &[]);
    let a = alloc(&mut ram, &mut am, MUSIC, 40);
    let b = alloc(&mut ram, &mut am, MUSIC, 60);
    let c = alloc(&mut ram, &mut am, CAMERA, 80);
    // The list is c -> b -> a; free the middle one.
    let mut rec = Recorder::default();
    am.free(&mut Ctx::new(&mut ram, &mut rec), b).unwrap();
    assert_eq!(word(&ram, c - 16 + 12), a - 16, "c now links past b");
    assert_eq!(word(&ram, b - 16 + 8), HEADER_PATTERN2);
    assert_eq!(word(&ram, b + 60), FOOTER_PATTERN2);
    assert_eq!(am.alloc_count(&ram).unwrap(), 2);
    let words: Vec<(&str, &str)> = rec
        .events
        .iter()
        .map(|e| (e.source.as_str(), e.kind.word()))
        .collect();
    assert_eq!(
        words[..3],
        [("asm", "meta"), ("asm", "meta"), ("asm", "meta")],
        "unlink, header guard, footer guard: {words:?}"
    );
    assert!(words.contains(&("asm_adm", "free")), "{words:?}");
    assert_eq!(*words.last().unwrap(), ("asm", "free"));
    assert_eq!(
        rec.events.last().unwrap().kind,
        EventKind::Free {
            addr: b,
            block: 80,
            owner: Owner(MUSIC)
        }
    );
    // A second free of b is named as such.
    assert_eq!(
        free(&mut ram, &mut am, b),
        Err(AllocError::DoubleFree { addr: b })
    );
    free(&mut ram, &mut am, c).unwrap();
    free(&mut ram, &mut am, a).unwrap();
    assert_eq!(word(&ram, BASE + 8), 0);
    am.check(&ram).unwrap();
}

/// Must show: one byte past an ASM block is caught on free with the guard's address,
/// the expected and the found pattern.
#[test]
fn one_byte_past_an_asm_block_is_caught_on_free() {
    let (mut ram, mut am) = setup(16384, &[]);
    let p = alloc(&mut ram, &mut am, CAMERA, 3000);
    ram.write_u8(p + 3000, 0xff).unwrap();
    let error = AllocError::Corrupted {
        at: p + 3000,
        field: Field::Guard,
        expected: FOOTER_PATTERN1,
        found: 0xcccc_ccff,
    };
    let before = ram.slice(BASE, 16384).unwrap().to_vec();
    let mut out = TextSink::new(String::new());
    out.step = 7;
    assert_eq!(am.free(&mut Ctx::new(&mut ram, &mut out), p), Err(error));
    assert_eq!(
        out.out,
        format!(
            "0007 asm.fault op=free addr={p:#010x} error=Corrupted at={:#010x} field=guard \
             expected=0xcccccccc found=0xccccccff\n",
            p + 3000
        )
    );
    assert_eq!(
        ram.slice(BASE, 16384).unwrap(),
        &before[..],
        "nothing changed"
    );
    assert_eq!(am.check(&ram), Err(error));
    // Repair the byte: the free goes through.
    ram.write_u8(p + 3000, 0xcc).unwrap();
    free(&mut ram, &mut am, p).unwrap();
    am.check(&ram).unwrap();
}

#[test]
fn a_damaged_header_guard_or_chunk_size_is_caught() {
    let (mut ram, mut am) = setup(8192, &[]);
    let p = alloc(&mut ram, &mut am, GAME, 64);
    let _q = alloc(&mut ram, &mut am, GAME, 64);
    ram.write_u8(p - 16 + 8, 0x00).unwrap();
    let error = AllocError::Corrupted {
        at: p - 8,
        field: Field::Guard,
        expected: HEADER_PATTERN1,
        found: 0xaaaa_aa00,
    };
    assert_eq!(free(&mut ram, &mut am, p), Err(error));
    assert_eq!(am.check(&ram), Err(error));
    ram.write_u8(p - 16 + 8, 0xaa).unwrap();
    // A chunk size that no longer matches the ADM block.
    ram.write_u8(p - 16 + 4, 68).unwrap();
    let error = AllocError::Corrupted {
        at: p - 12,
        field: Field::Size,
        expected: 64,
        found: 68,
    };
    assert_eq!(free(&mut ram, &mut am, p), Err(error));
    assert_eq!(am.check(&ram), Err(error));
    ram.write_u8(p - 16 + 4, 64).unwrap();
    am.check(&ram).unwrap();
    // Two bytes past the chunk: the footer, then ADM's own rear gap behind it.
    ram.write_u32(p + 64, 0).unwrap();
    ram.write_u8(p + 68, 0).unwrap();
    assert!(matches!(
        free(&mut ram, &mut am, p),
        Err(AllocError::Corrupted { at, field: Field::Guard, .. }) if at == p + 64
    ));
}

#[test]
fn bad_frees_and_bad_requests_get_typed_errors() {
    let (mut ram, mut am) = setup(8192, &[32]);
    let p = alloc(&mut ram, &mut am, MUSIC, 20);
    for bad in [p + 4, p - 16, p + 1, BASE, 0, 12, 0xffff_fff0, BASE + 8190] {
        assert_eq!(
            free(&mut ram, &mut am, bad),
            Err(AllocError::InvalidPointer { addr: bad }),
            "{bad:#x}"
        );
    }
    let mut ctx_ram = ram.clone();
    let mut quiet = Quiet;
    let cx = &mut Ctx::new(&mut ctx_ram, &mut quiet);
    assert_eq!(
        am.clone().alloc(cx, 0, Owner(MUSIC)),
        Err(AllocError::ZeroSize)
    );
    assert!(matches!(
        am.clone().alloc(cx, u32::MAX, Owner(MUSIC)),
        Err(AllocError::TooLarge { .. })
    ));
    assert!(matches!(
        am.clone().alloc(cx, 9000, Owner(MUSIC)),
        Err(AllocError::TooLarge { .. } | AllocError::OutOfMemory { .. })
    ));
    free(&mut ram, &mut am, p).unwrap();
    am.check(&ram).unwrap();
}

#[test]
fn full_pool_mode_deletes_and_recreates_the_adm() {
    let (mut ram, mut am) = setup(4096, &[32, 128]);
    let p = alloc(&mut ram, &mut am, MUSIC, 10);
    // Not while any chunk is live.
    assert!(matches!(
        am.alloc_full_pool(&mut Ctx::new(&mut ram, &mut Quiet), CAMERA),
        Err(AllocError::OutOfMemory { .. })
    ));
    free(&mut ram, &mut am, p).unwrap();
    let (pool, pool_size) = am.pool_range();
    let mut out = TextSink::new(String::new());
    let whole = am
        .alloc_full_pool(&mut Ctx::new(&mut ram, &mut out), CAMERA)
        .unwrap();
    assert_eq!(whole, pool);
    assert_eq!(
        out.out,
        format!(
            "0000 asm_adm.meta addr={pool:#010x} field=magic value=0x00000000\n\
             0000 asm_adm.delete base={pool:#010x} size={pool_size}\n\
             0000 asm.meta addr=0x08000004 field=pool value=0x00000000\n\
             0000 asm.meta addr=0x08000010 field=owner value=0x00000000\n\
             0000 asm.meta addr=0x0800000c field=count value=0x00000001\n\
             0000 asm.full_pool app=0 addr={pool:#010x} size={pool_size}\n"
        )
    );
    assert_eq!(word(&ram, pool), DELETED_MAGIC);
    assert!(am.is_full_pool(&ram).unwrap());
    am.check(&ram).unwrap();
    assert_eq!(
        usage(&ram, &am),
        [AppUsage {
            app: CAMERA,
            name: Name::lit("camera"),
            icon: 100,
            size: pool_size,
            stopping: false
        }]
    );
    let stats = am.stats(&ram).unwrap();
    assert_eq!((stats.blocks, stats.used), (1, pool_size));
    // The app may scribble over all of it.
    ram.fill(pool, pool_size, 0xee).unwrap();
    am.check(&ram).unwrap();
    // Others get nothing meanwhile.
    assert!(matches!(
        am.alloc(&mut Ctx::new(&mut ram, &mut Quiet), 8, Owner(MUSIC)),
        Err(AllocError::OutOfMemory {
            largest_free: 0,
            ..
        })
    ));
    assert_eq!(
        free(&mut ram, &mut am, pool + 4),
        Err(AllocError::InvalidPointer { addr: pool + 4 })
    );
    // Freeing the pool creates the ADM again.
    let mut rec = Recorder::default();
    am.free(&mut Ctx::new(&mut ram, &mut rec), pool).unwrap();
    assert!(rec.events.iter().any(|e| e.kind
        == EventKind::Init {
            base: pool,
            size: pool_size
        }));
    assert_eq!(
        rec.events.last().unwrap().kind,
        EventKind::Free {
            addr: pool,
            block: pool_size,
            owner: Owner(CAMERA)
        }
    );
    assert!(!am.is_full_pool(&ram).unwrap());
    assert_eq!(word(&ram, pool), POOL_MAGIC);
    am.check(&ram).unwrap();
    let q = alloc(&mut ram, &mut am, MUSIC, 100);
    free(&mut ram, &mut am, q).unwrap();
    assert_eq!(
        free(&mut ram, &mut am, pool),
        Err(AllocError::InvalidPointer { addr: pool })
    );
}

#[test]
fn current_usage_sums_chunk_and_overhead_per_app_newest_first() {
    let (mut ram, mut am) = setup(16384, &[]);
    let extra = am.chunk_extra();
    assert_eq!(extra, 24 + 8 + 8 + 16 + 4);
    alloc(&mut ram, &mut am, MUSIC, 100);
    alloc(&mut ram, &mut am, BROWSER, 10);
    alloc(&mut ram, &mut am, MUSIC, 1);
    let rows = usage(&ram, &am);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].app, MUSIC, "the newest chunk's owner comes first");
    assert_eq!(rows[0].size, 100 + extra + 4 + extra);
    assert_eq!(rows[1].app, BROWSER);
    assert_eq!(rows[1].size, 12 + extra);
    assert_eq!(rows[1].name.as_str(), "browser");
    assert!(!rows[0].stopping);
    let blank = rows[0];
    let mut one = [blank; 1];
    assert_eq!(am.current_usage(&ram, &mut one).unwrap(), 1);
}

/// A 4096-byte ASM: music holds three 600-byte chunks at the bottom, browser two of 800
/// above them, and little is left.
fn crowded() -> (Ram<Vec<u8>>, AppMem, [Addr; 5]) {
    let (mut ram, mut am) = setup(4096, &[]);
    let m: Vec<Addr> = (0..3)
        .map(|_| alloc(&mut ram, &mut am, MUSIC, 600))
        .collect();
    let b: Vec<Addr> = (0..2)
        .map(|_| alloc(&mut ram, &mut am, BROWSER, 800))
        .collect();
    assert!(am.max_alloc_size(&ram).unwrap() < 200);
    (ram, am, [m[0], m[1], m[2], b[0], b[1]])
}

#[test]
fn oom_a_failed_alloc_prompts_a_stop_frees_memory_and_the_request_is_retried() {
    let (mut ram, mut am, _) = crowded();
    let extra = am.chunk_extra();
    let mut rec = Recorder::default();
    let cx = &mut Ctx::new(&mut ram, &mut rec);
    assert_eq!(am.alloc_or_prompt(cx, CAMERA, 1500), Ok(Outcome::Prompted));
    let request = Request {
        app: CAMERA,
        size: 1500,
        full_pool: false,
    };
    assert_eq!(am.oom_state(), OomState::Prompt { request });
    let fault = rec.events.iter().find(|e| e.source == ASM).unwrap();
    assert!(matches!(
        fault.kind,
        EventKind::Fault {
            error: AllocError::OutOfMemory { .. },
            ..
        }
    ));
    assert_eq!(
        asm_events(&rec),
        [
            AsmEvent::Usage {
                app: BROWSER,
                name: Name::lit("browser"),
                icon: 102,
                size: 2 * (800 + extra),
                stopping: false
            },
            AsmEvent::Usage {
                app: MUSIC,
                name: Name::lit("music"),
                icon: 101,
                size: 3 * (600 + extra),
                stopping: false
            },
            AsmEvent::Prompt {
                app: CAMERA,
                name: Name::lit("camera"),
                required: 1500,
                listed: 2
            },
        ]
    );
    let mut rec = Recorder::default();
    let cx = &mut Ctx::new(&mut ram, &mut rec);
    assert_eq!(am.choose(cx, MUSIC), Ok(Outcome::Confirming));
    assert_eq!(
        am.oom_state(),
        OomState::Confirm {
            request,
            victim: MUSIC
        }
    );
    let Ok(Outcome::Granted(addr)) = am.confirm(cx) else {
        panic!("{:?}", am.oom_state())
    };
    assert_eq!(am.oom_state(), OomState::Idle);
    let stages = asm_events(&rec);
    assert_eq!(
        stages,
        [
            AsmEvent::Choose { app: MUSIC },
            AsmEvent::Confirm { app: MUSIC },
            AsmEvent::Stop {
                app: MUSIC,
                ticks: 0
            },
            AsmEvent::StopFinished {
                app: MUSIC,
                result: true
            },
            AsmEvent::Popup {
                msg: PopupMsg::StartingNew
            },
            AsmEvent::Retry {
                app: CAMERA,
                size: 1500,
                addr
            },
        ]
    );
    // Music's three chunks were freed by its stop handler.
    let frees = rec
        .events
        .iter()
        .filter(|e| e.source == ASM && matches!(e.kind, EventKind::Free { .. }))
        .count();
    assert_eq!(frees, 3);
    assert_eq!(am.blocks_of(&ram, MUSIC, &mut []).unwrap(), 0);
    assert_eq!(am.blocks_of(&ram, CAMERA, &mut [0; 2]).unwrap(), 1);
    assert!(!am.app_info(&ram, MUSIC).unwrap().unwrap().stopping);
    am.check(&ram).unwrap();
}

#[test]
fn oom_a_stop_that_finishes_late_takes_several_ticks() {
    let (mut ram, mut am, _) = crowded();
    am.set_stop_plan(
        MUSIC,
        StopPlan {
            frees_per_tick: 1,
            ticks: 3,
            result: true,
        },
    )
    .unwrap();
    let mut quiet = Quiet;
    let cx = &mut Ctx::new(&mut ram, &mut quiet);
    am.alloc_or_prompt(cx, CAMERA, 1500).unwrap();
    am.choose(cx, MUSIC).unwrap();
    let mut rec = Recorder::default();
    assert_eq!(
        am.confirm(&mut Ctx::new(&mut ram, &mut rec)),
        Ok(Outcome::Waiting)
    );
    assert_eq!(
        asm_events(&rec),
        [
            AsmEvent::Confirm { app: MUSIC },
            AsmEvent::Stop {
                app: MUSIC,
                ticks: 3
            },
            AsmEvent::Waiting { app: MUSIC }
        ]
    );
    assert_eq!(am.blocks_of(&ram, MUSIC, &mut []).unwrap(), 2);
    // While it stops, usage says so and check() agrees with the flag.
    let rows = usage(&ram, &am);
    assert!(rows.iter().any(|r| r.app == MUSIC && r.stopping));
    am.check(&ram).unwrap();
    for tick in 1..=2u16 {
        let mut rec = Recorder::default();
        assert_eq!(
            am.tick(&mut Ctx::new(&mut ram, &mut rec)),
            Ok(Outcome::Waiting)
        );
        assert_eq!(
            asm_events(&rec),
            [AsmEvent::StopTick {
                app: MUSIC,
                tick,
                freed: 1
            }]
        );
        assert!(matches!(am.oom_state(), OomState::Stopping { elapsed, .. } if elapsed == tick));
        am.check(&ram).unwrap();
    }
    let mut rec = Recorder::default();
    let outcome = am.tick(&mut Ctx::new(&mut ram, &mut rec)).unwrap();
    let Outcome::Granted(addr) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        asm_events(&rec),
        [
            AsmEvent::StopTick {
                app: MUSIC,
                tick: 3,
                freed: 0
            },
            AsmEvent::StopFinished {
                app: MUSIC,
                result: true
            },
            AsmEvent::Popup {
                msg: PopupMsg::StartingNew
            },
            AsmEvent::Retry {
                app: CAMERA,
                size: 1500,
                addr
            },
        ]
    );
    assert_eq!(am.oom_state(), OomState::Idle);
    assert_eq!(
        am.tick(&mut Ctx::new(&mut ram, &mut Quiet)),
        Ok(Outcome::Idle)
    );
    am.check(&ram).unwrap();
}

#[test]
fn oom_a_stop_that_fails_is_reported_and_the_prompt_returns() {
    let (mut ram, mut am, _) = crowded();
    am.set_stop_plan(
        MUSIC,
        StopPlan {
            frees_per_tick: 0,
            ticks: 2,
            result: false,
        },
    )
    .unwrap();
    let mut quiet = Quiet;
    let cx = &mut Ctx::new(&mut ram, &mut quiet);
    am.alloc_or_prompt(cx, CAMERA, 1500).unwrap();
    am.choose(cx, MUSIC).unwrap();
    assert_eq!(am.confirm(cx), Ok(Outcome::Waiting));
    assert_eq!(am.tick(cx), Ok(Outcome::Waiting));
    let mut rec = Recorder::default();
    assert_eq!(
        am.tick(&mut Ctx::new(&mut ram, &mut rec)),
        Ok(Outcome::Prompted)
    );
    let stages = asm_events(&rec);
    assert_eq!(
        stages[..3],
        [
            AsmEvent::StopTick {
                app: MUSIC,
                tick: 2,
                freed: 0
            },
            AsmEvent::StopFinished {
                app: MUSIC,
                result: false
            },
            AsmEvent::Popup {
                msg: PopupMsg::StopFailed
            },
        ]
    );
    assert!(matches!(
        stages.last(),
        Some(AsmEvent::Prompt {
            app: CAMERA,
            listed: 2,
            ..
        })
    ));
    assert!(matches!(am.oom_state(), OomState::Prompt { .. }));
    assert_eq!(
        am.blocks_of(&ram, MUSIC, &mut []).unwrap(),
        3,
        "music kept all"
    );
    am.check(&ram).unwrap();
    // The user tries another app, which stops at once.
    let mut quiet = Quiet;
    let cx = &mut Ctx::new(&mut ram, &mut quiet);
    am.choose(cx, BROWSER).unwrap();
    assert!(matches!(am.confirm(cx), Ok(Outcome::Granted(_))));
    am.check(&ram).unwrap();
}

#[test]
fn oom_a_stop_that_frees_too_little_says_stopped_and_prompts_again() {
    let (mut ram, mut am, _) = crowded();
    // Free one music chunk so that the game fits, then give it to the game.
    let mut m = [0; 3];
    am.blocks_of(&ram, MUSIC, &mut m).unwrap();
    free(&mut ram, &mut am, m[0]).unwrap();
    alloc(&mut ram, &mut am, GAME, 500);
    let mut quiet = Quiet;
    let cx = &mut Ctx::new(&mut ram, &mut quiet);
    am.alloc_or_prompt(cx, CAMERA, 1500).unwrap();
    let mut rec = Recorder::default();
    let cx = &mut Ctx::new(&mut ram, &mut rec);
    am.choose(cx, GAME).unwrap();
    assert_eq!(am.confirm(cx), Ok(Outcome::Prompted));
    let stages = asm_events(&rec);
    assert!(stages.contains(&AsmEvent::Popup {
        msg: PopupMsg::Stopped
    }));
    // Listed again, without the game that has nothing left.
    assert!(matches!(
        stages.last(),
        Some(AsmEvent::Prompt { listed: 2, .. })
    ));
    assert!(!stages
        .iter()
        .any(|s| matches!(s, AsmEvent::Usage { app: GAME, .. })));
    assert_eq!(
        am.choose(&mut Ctx::new(&mut ram, &mut Quiet), GAME),
        Err(AsmError::NotListed { app: GAME })
    );
    am.check(&ram).unwrap();
}

#[test]
fn oom_asking_for_a_prompt_while_one_is_open_shows_the_popup() {
    let (mut ram, mut am, _) = crowded();
    am.set_stop_plan(
        MUSIC,
        StopPlan {
            frees_per_tick: 1,
            ticks: 5,
            result: true,
        },
    )
    .unwrap();
    let mut quiet = Quiet;
    let cx = &mut Ctx::new(&mut ram, &mut quiet);
    am.alloc_or_prompt(cx, CAMERA, 1500).unwrap();
    let state = am.oom_state();
    let mut out = TextSink::new(String::new());
    let cx = &mut Ctx::new(&mut ram, &mut out);
    assert_eq!(am.alloc_or_prompt(cx, GAME, 900), Ok(Outcome::Popup));
    assert_eq!(am.prompt_to_release_mem(cx, GAME, 10), Ok(Outcome::Popup));
    assert_eq!(am.oom_state(), state, "the open prompt is untouched");
    assert!(out.out.ends_with("0000 asm.popup msg=\"out of memory\"\n"));
    // Also while a stop is under way.
    let mut quiet = Quiet;
    let cx = &mut Ctx::new(&mut ram, &mut quiet);
    am.choose(cx, MUSIC).unwrap();
    am.confirm(cx).unwrap();
    let mut rec = Recorder::default();
    let cx = &mut Ctx::new(&mut ram, &mut rec);
    assert_eq!(am.prompt_to_release_full_pool(cx, GAME), Ok(Outcome::Popup));
    assert_eq!(
        asm_events(&rec),
        [AsmEvent::Popup {
            msg: PopupMsg::OutOfMemory
        }]
    );
    assert!(matches!(am.oom_state(), OomState::Stopping { .. }));
    am.check(&ram).unwrap();
}

#[test]
fn oom_decline_dismiss_and_calls_out_of_turn() {
    let (mut ram, mut am, _) = crowded();
    let mut quiet = Quiet;
    let cx = &mut Ctx::new(&mut ram, &mut quiet);
    assert_eq!(
        am.confirm(cx),
        Err(AsmError::WrongState {
            call: "confirm",
            state: "idle"
        })
    );
    assert!(matches!(
        am.choose(cx, MUSIC),
        Err(AsmError::WrongState { .. })
    ));
    assert!(matches!(am.dismiss(cx), Err(AsmError::WrongState { .. })));
    assert_eq!(
        am.notify_stop_finished(cx, MUSIC, true),
        Err(AsmError::NotStopping { app: MUSIC })
    );
    assert_eq!(
        am.prompt_to_release_mem(cx, 6, 10),
        Err(AsmError::NoSuchApp { app: 6 })
    );
    am.alloc_or_prompt(cx, CAMERA, 1500).unwrap();
    assert_eq!(
        am.choose(cx, CAMERA),
        Err(AsmError::NotListed { app: CAMERA })
    );
    assert_eq!(am.choose(cx, GAME), Err(AsmError::NotListed { app: GAME }));
    assert!(matches!(am.decline(cx), Err(AsmError::WrongState { .. })));
    am.choose(cx, MUSIC).unwrap();
    let mut rec = Recorder::default();
    assert_eq!(
        am.decline(&mut Ctx::new(&mut ram, &mut rec)),
        Ok(Outcome::Prompted)
    );
    let stages = asm_events(&rec);
    assert_eq!(stages[0], AsmEvent::Decline { app: MUSIC });
    assert!(matches!(stages.last(), Some(AsmEvent::Prompt { .. })));
    let mut rec = Recorder::default();
    assert_eq!(
        am.dismiss(&mut Ctx::new(&mut ram, &mut rec)),
        Ok(Outcome::Idle)
    );
    assert_eq!(asm_events(&rec), [AsmEvent::Dismiss { app: CAMERA }]);
    assert_eq!(am.oom_state(), OomState::Idle);
    assert_eq!(
        am.blocks_of(&ram, MUSIC, &mut []).unwrap(),
        3,
        "declining stopped nothing"
    );
    am.check(&ram).unwrap();
}

#[test]
fn oom_prompt_with_enough_memory_retries_at_once() {
    let (mut ram, mut am, _) = crowded();
    let mut rec = Recorder::default();
    let outcome = am
        .prompt_to_release_mem(&mut Ctx::new(&mut ram, &mut rec), GAME, 12)
        .unwrap();
    let Outcome::Granted(addr) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        asm_events(&rec),
        [
            AsmEvent::Popup {
                msg: PopupMsg::StartingNew
            },
            AsmEvent::Retry {
                app: GAME,
                size: 12,
                addr
            }
        ]
    );
    assert_eq!(am.oom_state(), OomState::Idle);
    am.check(&ram).unwrap();
}

#[test]
fn oom_a_full_pool_request_waits_until_every_app_has_stopped() {
    let (mut ram, mut am, _) = crowded();
    let mut quiet = Quiet;
    let cx = &mut Ctx::new(&mut ram, &mut quiet);
    assert_eq!(
        am.alloc_full_pool_or_prompt(cx, CAMERA),
        Ok(Outcome::Prompted)
    );
    am.choose(cx, MUSIC).unwrap();
    assert_eq!(
        am.confirm(cx),
        Ok(Outcome::Prompted),
        "browser still holds memory"
    );
    am.choose(cx, BROWSER).unwrap();
    let mut rec = Recorder::default();
    let outcome = am.confirm(&mut Ctx::new(&mut ram, &mut rec)).unwrap();
    let (pool, pool_size) = am.pool_range();
    assert_eq!(outcome, Outcome::Granted(pool));
    assert!(asm_events(&rec).contains(&AsmEvent::FullPool {
        app: CAMERA,
        addr: pool,
        size: pool_size
    }));
    assert_eq!(
        asm_events(&rec).last(),
        Some(&AsmEvent::Retry {
            app: CAMERA,
            size: pool_size,
            addr: pool
        })
    );
    assert!(am.is_full_pool(&ram).unwrap());
    am.check(&ram).unwrap();
    // Now a normal request prompts, and stopping the camera frees the whole pool.
    let mut quiet = Quiet;
    let cx = &mut Ctx::new(&mut ram, &mut quiet);
    assert_eq!(am.alloc_or_prompt(cx, MUSIC, 100), Ok(Outcome::Prompted));
    let rows = usage(&ram, &am);
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].app, rows[0].size), (CAMERA, pool_size));
    let mut quiet = Quiet;
    let cx = &mut Ctx::new(&mut ram, &mut quiet);
    am.choose(cx, CAMERA).unwrap();
    assert!(matches!(am.confirm(cx), Ok(Outcome::Granted(_))));
    assert!(!am.is_full_pool(&ram).unwrap());
    am.check(&ram).unwrap();
}

#[test]
fn oom_an_app_may_report_before_its_plan_says() {
    let (mut ram, mut am, _) = crowded();
    am.set_stop_plan(
        BROWSER,
        StopPlan {
            frees_per_tick: 1,
            ticks: 100,
            result: true,
        },
    )
    .unwrap();
    let mut quiet = Quiet;
    let cx = &mut Ctx::new(&mut ram, &mut quiet);
    am.alloc_or_prompt(cx, CAMERA, 1000).unwrap();
    am.choose(cx, BROWSER).unwrap();
    assert_eq!(am.confirm(cx), Ok(Outcome::Waiting));
    am.tick(cx).unwrap();
    // Both browser chunks are gone after one tick; the app reports at once.
    assert_eq!(am.blocks_of(cx.ram, BROWSER, &mut []).unwrap(), 0);
    let outcome = am.notify_stop_finished(cx, BROWSER, true).unwrap();
    assert!(matches!(outcome, Outcome::Granted(_)), "{outcome:?}");
    assert_eq!(am.tick(cx), Ok(Outcome::Idle), "the stop is over");
    am.check(&ram).unwrap();
}

/// The canonical trace of the whole protocol, line for line.
#[test]
fn oom_protocol_renders_exact_trace_lines() {
    let (mut ram, mut am) = setup(1024, &[]);
    am.set_stop_plan(
        MUSIC,
        StopPlan {
            frees_per_tick: 0,
            ticks: 1,
            result: true,
        },
    )
    .unwrap();
    let m = alloc(&mut ram, &mut am, MUSIC, 500);
    let mut out = TextSink::new(String::new());
    out.step = 1;
    assert_eq!(
        am.alloc_or_prompt(&mut Ctx::new(&mut ram, &mut out), CAMERA, 400),
        Ok(Outcome::Prompted)
    );
    out.step = 2;
    am.choose(&mut Ctx::new(&mut ram, &mut out), MUSIC).unwrap();
    out.step = 3;
    am.confirm(&mut Ctx::new(&mut ram, &mut out)).unwrap();
    out.step = 4;
    let outcome = am.tick(&mut Ctx::new(&mut ram, &mut out)).unwrap();
    assert_eq!(outcome, Outcome::Granted(m));
    // The protocol's stages and the summaries; the `meta`/`fill` writes and the ADM's
    // own lines are left out here.
    let protocol: Vec<&str> = out
        .out
        .lines()
        .filter(|l| !l.contains(".meta ") && !l.contains(".fill ") && !l.contains("asm_adm."))
        .collect();
    let expected = [
        "0001 asm.fault op=alloc size=400 error=OutOfMemory requested=400 largest_free=88",
        "0001 asm.usage app=1 name=music icon=101 size=560 stopping=false",
        "0001 asm.prompt app=0 name=camera required=400 listed=1",
        "0002 asm.choose app=1",
        "0003 asm.confirm app=1",
        "0003 asm.stop app=1 ticks=1",
        "0003 asm.waiting app=1",
        "0004 asm.stop_tick app=1 tick=1 freed=0",
        "0004 asm.free addr=0x0800016c block=520 owner=1",
        "0004 asm.stop_finished app=1 result=true",
        "0004 asm.popup msg=\"starting new\"",
        "0004 asm.alloc addr=0x0800016c size=400 block=420 owner=0",
        "0004 asm.retry app=0 size=400 addr=0x0800016c",
    ];
    assert_eq!(protocol, expected, "\n{}", protocol.join("\n"));
}

#[test]
fn screen_memory_serves_layers_with_the_same_guards() {
    let (mut ram, mut am) = setup(4096, &[]);
    let screen = am.screen().copied().unwrap();
    let mut rec = Recorder::default();
    let layer = am
        .screen_alloc(&mut Ctx::new(&mut ram, &mut rec), 1000, 0x0a01)
        .unwrap();
    assert!(layer > screen.base() && layer < screen.base() + SCREEN_SIZE);
    assert_eq!(
        rec.events.last().unwrap(),
        &Event {
            source: Name::lit("scr"),
            kind: EventKind::Alloc {
                addr: layer,
                size: 1000,
                block: 1020,
                owner: Owner(0x0a01)
            }
        }
    );
    assert_eq!(word(&ram, layer - 16), 0x0a01);
    assert_eq!(word(&ram, layer + 1000), FOOTER_PATTERN1);
    assert_eq!(screen.alloc_count(&ram).unwrap(), 1);
    let other = am
        .screen_alloc(&mut Ctx::new(&mut ram, &mut Quiet), 200, 0x0a02)
        .unwrap();
    ram.write_u8(layer + 1000, 0).unwrap();
    assert_eq!(
        am.screen_free(&mut Ctx::new(&mut ram, &mut Quiet), layer),
        Err(AllocError::Corrupted {
            at: layer + 1000,
            field: Field::Guard,
            expected: FOOTER_PATTERN1,
            found: 0xcccc_cc00
        })
    );
    ram.write_u8(layer + 1000, 0xcc).unwrap();
    am.screen_free(&mut Ctx::new(&mut ram, &mut Quiet), layer)
        .unwrap();
    am.screen_free(&mut Ctx::new(&mut ram, &mut Quiet), other)
        .unwrap();
    assert_eq!(
        am.screen_free(&mut Ctx::new(&mut ram, &mut Quiet), other),
        Err(AllocError::DoubleFree { addr: other })
    );
    am.screen().unwrap().check(&ram).unwrap();
    // The app pool never saw any of it.
    assert_eq!(am.alloc_count(&ram).unwrap(), 0);
    // No screen pool configured: unsupported.
    let mut ram2 = ram_with(BASE, 4096);
    let config = AsmConfig {
        name: ASM,
        base: BASE,
        size: 4096,
        subpools: &[],
        screen: None,
    };
    let mut bare = AppMem::init(&mut Ctx::new(&mut ram2, &mut Quiet), &config).unwrap();
    assert_eq!(
        bare.screen_alloc(&mut Ctx::new(&mut ram2, &mut Quiet), 10, 1),
        Err(AllocError::Unsupported)
    );
}

/// One live block in the random suite's model.
#[derive(Clone, Copy, Debug)]
struct Live {
    addr: Addr,
    size: u32,
    app: u16,
    fill: u8,
}

/// Random apps allocate and free, take the whole pool, run into the prompt and stop
/// each other; after every step `check()` passes, every live block still holds its
/// bytes, and usage matches the model.
#[test]
fn random_apps_suite() {
    let mut steps = 0u64;
    // How often each path ran, so the suite is known to reach them.
    let (mut prompts, mut retries, mut full_pools, mut stops, mut popups) = (0, 0, 0, 0, 0);
    for seed in 0..40u64 {
        let mut prng = Prng::new(seed);
        let (mut ram, mut am) = setup(12 * 1024, &[32, 64, 128, 512]);
        for app in 4..6u16 {
            am.register(
                &mut Ctx::new(&mut ram, &mut Quiet),
                app,
                Name::lit("extra"),
                0,
                StopPlan::IMMEDIATE,
            )
            .unwrap();
        }
        for app in 0..6u16 {
            let plan = StopPlan {
                frees_per_tick: prng.below(3) as u16,
                ticks: prng.below(4) as u16,
                result: prng.below(4) != 0,
            };
            am.set_stop_plan(app, plan).unwrap();
        }
        let mut live: Vec<Live> = Vec::new();
        let mut fill = 1u8;
        let mut pending: Option<Request> = None;
        for _ in 0..260 {
            steps += 1;
            let mut rec = Recorder::default();
            let cx = &mut Ctx::new(&mut ram, &mut rec);
            let app = prng.below(6) as u16;
            let mut granted = None;
            match prng.below(20) {
                0..=6 => {
                    let size = if prng.below(4) == 0 {
                        prng.range(1, 3000)
                    } else {
                        prng.range(1, 300)
                    };
                    match am.alloc(cx, size, Owner(app)) {
                        Ok(addr) => granted = Some((addr, size, app)),
                        Err(AllocError::OutOfMemory { .. } | AllocError::TooLarge { .. }) => {}
                        Err(e) => panic!("alloc {size}: {e}"),
                    }
                }
                7..=10 if !live.is_empty() => {
                    let i = prng.below(live.len() as u32) as usize;
                    let block = live[i];
                    am.free(cx, block.addr)
                        .unwrap_or_else(|e| panic!("free {block:?}: {e}"));
                }
                11 => {
                    let addr = match live.first() {
                        Some(l) => l.addr.wrapping_add(prng.range(1, 40)),
                        None => BASE + prng.below(12 * 1024),
                    };
                    if !live.iter().any(|l| l.addr == addr) {
                        let e = am.free(cx, addr).unwrap_err();
                        assert!(
                            matches!(
                                e,
                                AllocError::InvalidPointer { .. } | AllocError::DoubleFree { .. }
                            ),
                            "{e:?}"
                        );
                    }
                }
                12 if am.oom_state() == OomState::Idle => {
                    let size = prng.range(200, 4000);
                    match am.alloc_or_prompt(cx, app, size) {
                        Ok(Outcome::Granted(addr)) => granted = Some((addr, size, app)),
                        Ok(_) => {
                            pending = Some(Request {
                                app,
                                size,
                                full_pool: false,
                            })
                        }
                        Err(AsmError::Alloc(AllocError::TooLarge { .. })) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
                13 => match am.alloc_full_pool(cx, app) {
                    Ok(addr) => {
                        assert!(live.is_empty());
                        granted = Some((addr, am.pool_range().1, app));
                    }
                    Err(AllocError::OutOfMemory { .. }) => assert!(!live.is_empty()),
                    Err(e) => panic!("{e}"),
                },
                14 => {
                    let _ = am.choose(cx, app);
                }
                15 => {
                    let _ = am.confirm(cx).map(|o| {
                        if let Outcome::Granted(addr) = o {
                            let r = pending.take().unwrap();
                            granted = Some((addr, r.size, r.app));
                        }
                    });
                }
                16 => {
                    if let Ok(Outcome::Granted(addr)) = am.decline(cx) {
                        let r = pending.take().unwrap();
                        granted = Some((addr, r.size, r.app));
                    }
                }
                17 if prng.below(3) == 0 => {
                    let _ = am.dismiss(cx);
                }
                _ => {
                    if let Ok(Outcome::Granted(addr)) = am.tick(cx) {
                        let r = pending.take().unwrap();
                        granted = Some((addr, r.size, r.app));
                    }
                }
            }
            for e in asm_events(&rec) {
                match e {
                    AsmEvent::Prompt { .. } => prompts += 1,
                    AsmEvent::Retry { .. } => retries += 1,
                    AsmEvent::FullPool { .. } => full_pools += 1,
                    AsmEvent::StopFinished { .. } => stops += 1,
                    AsmEvent::Popup { .. } => popups += 1,
                    _ => {}
                }
            }
            if am.oom_state() == OomState::Idle && granted.is_none() {
                pending = None;
            }
            // Every failure left its fault event.
            for e in &rec.events {
                if let EventKind::Fault { error, .. } = e.kind {
                    assert!(
                        !matches!(error, AllocError::Corrupted { .. } | AllocError::Bus(_)),
                        "{e}"
                    );
                }
            }
            // Blocks the stop handlers freed leave the model.
            live.retain(|l| {
                let mut found = [0; 64];
                let n = am.blocks_of(&ram, l.app, &mut found).unwrap();
                found[..n.min(64)].contains(&l.addr)
            });
            if let Some((addr, size, app)) = granted {
                fill = fill.wrapping_add(37) | 1;
                ram.fill(addr, size, fill).unwrap();
                live.push(Live {
                    addr,
                    size,
                    app,
                    fill,
                });
            }
            am.check(&ram)
                .unwrap_or_else(|e| panic!("seed {seed}: check: {e}"));
            for l in &live {
                let bytes = ram.slice(l.addr, l.size).unwrap();
                assert!(bytes.iter().all(|&b| b == l.fill), "{l:?} overwritten");
            }
            let expected_count = live.len() as u32;
            assert_eq!(am.alloc_count(&ram).unwrap(), expected_count);
            if !am.is_full_pool(&ram).unwrap() {
                let extra = am.chunk_extra();
                for row in usage(&ram, &am) {
                    let sum: u32 = live
                        .iter()
                        .filter(|l| l.app == row.app)
                        .map(|l| l.size.div_ceil(4) * 4 + extra)
                        .sum();
                    assert_eq!(row.size, sum, "usage of app {}", row.app);
                }
            }
            let stats = am.stats(&ram).unwrap();
            assert_eq!(stats.blocks as usize, live.len());
            assert_eq!(stats.capacity, stats.used + stats.free + stats.overhead);
        }
    }
    assert!(steps >= 10_000, "{steps}");
    let reached = [prompts, retries, full_pools, stops, popups];
    assert!(reached.iter().all(|&n| n >= 10), "{reached:?}");
}

#[test]
fn any_corrupted_byte_gives_typed_errors_never_a_panic() {
    let mut prng = Prng::new(3);
    for _ in 0..150 {
        let (mut ram, mut am) = setup(2048, &[32, 128]);
        let mut quiet = Quiet;
        let cx = &mut Ctx::new(&mut ram, &mut quiet);
        let mut live = Vec::new();
        for _ in 0..6 {
            if let Ok(p) = am.alloc(cx, prng.range(1, 300), Owner(prng.below(4) as u16)) {
                live.push(p);
            }
        }
        let _ = am.alloc_or_prompt(cx, CAMERA, 1500);
        let at = BASE + prng.below(2048);
        cx.ram.write_u8(at, prng.next_u32() as u8).unwrap();
        let _ = am.check(cx.ram);
        let _ = am.stats(cx.ram);
        let _ = am.max_alloc_size(cx.ram);
        let _ = usage_or_error(cx.ram, &am);
        let _ = am.choose(cx, prng.below(4) as u16);
        let _ = am.confirm(cx);
        for _ in 0..4 {
            let _ = am.tick(cx);
        }
        for p in live {
            let _ = am.free(cx, p);
        }
        let _ = am.alloc_full_pool(cx, GAME);
        let _ = am.free(cx, am.pool_range().0);
        let _ = am.alloc(cx, 100, Owner(MUSIC));
    }
}

fn usage_or_error(ram: &Ram<Vec<u8>>, am: &AppMem) -> Result<usize, AllocError> {
    let blank = AppUsage {
        app: 0,
        name: ASM,
        icon: 0,
        size: 0,
        stopping: false,
    };
    am.current_usage(ram, &mut [blank; 8])
}

#[test]
fn harness_suite_on_the_app_pool() {
    let steps = run_suite(
        || {
            let (ram, am) = setup(8192, &[16, 48, 160]);
            Harness::new(ram, am, (BASE, 8192), false)
        },
        600,
        20,
        260,
    );
    assert!(steps >= 5_000, "{steps}");
}

#[test]
fn harness_suite_on_the_screen_pool() {
    let steps = run_suite(
        || {
            let mut ram = ram_with(BASE, 6000);
            let screen = ScreenMem::init(
                &mut Ctx::new(&mut ram, &mut Quiet),
                Name::lit("scr"),
                BASE,
                6000,
            )
            .unwrap();
            Harness::new(ram, screen, (BASE, 6000), false)
        },
        900,
        10,
        260,
    );
    assert!(steps >= 2_500, "{steps}");
}
