//! The script statements of the heap subsystems: LiteOS dynamic memory (`dyn`), TLSF,
//! KAL's ADM, MTK's app-shared memory and its out-of-memory prompt (`asm`), screen memory,
//! the AWTK decorator stack, the presets, the new expectations and fault kinds, and a
//! property test that random statements of theirs never panic. The example scripts
//! (`tests/scripts/*.mem`) and their golden traces are checked by `tests/script.rs`.

use memplay_engine::adm::file_id;
use memplay_engine::app_mem::{AsmError, OomState};
use memplay_engine::awtk::Layer;
use memplay_engine::machine::{Machine, Pool, StepOutcome};
use memplay_engine::script::ast::{FAULT_KINDS, PRESETS};
use memplay_engine::script::{check, ErrorKind, ScriptError, StepFault};
use memplay_engine::trace::{Quiet, TextSink};
use memplay_engine::{AllocError, Allocator, Field, Name};
use proptest::prelude::*;

type M = Machine<Vec<u8>, String>;

fn machine(source: &str) -> M {
    match Machine::owned(source.to_string()) {
        Ok(m) => m,
        Err(e) => panic!("{}", e.render(source)),
    }
}

/// Runs a whole script; panics on any error or failed expectation; returns the machine
/// and its trace.
fn run(source: &str) -> (M, String) {
    let mut m = machine(source);
    let mut sink = TextSink::new(String::new());
    match m.run_traced(&mut sink, 100_000) {
        Ok(summary) => assert_eq!(
            summary.failures,
            0,
            "{}",
            summary
                .first_failure
                .map(|e| e.render(source).to_string())
                .unwrap_or_default()
        ),
        Err(e) => panic!("{}\n{}", e.render(source), sink.out),
    }
    (m, sink.out)
}

/// The error running `source` ends with (a static or a runtime one).
fn error(source: &str) -> ScriptError {
    let mut m = match Machine::owned(source.to_string()) {
        Ok(m) => m,
        Err(e) => return e,
    };
    loop {
        match m.step(&mut Quiet) {
            Ok(StepOutcome::Finished) => panic!("no error in:\n{source}"),
            Ok(_) => {}
            Err(e) => return e,
        }
    }
}

fn rendered(source: &str) -> String {
    error(source).render(source).to_string()
}

fn asm(m: &M) -> &memplay_engine::machine::AsmPool {
    match m.pool("asm") {
        Some(Pool::Asm(a)) => a,
        _ => panic!("no asm pool"),
    }
}

const EXT: &str = "ram extsram 0x08000000 256K\n";

// ---- dyn ----

#[test]
fn dyn_settings_place_the_pool_then_its_spares() {
    let src = "ram r 0x10000000 16K\ndyn h 1K on r lists 3 spare 1K spare 2K at 0x10002000\ndyn g 2K at 0x10003000\n";
    let (m, trace) = run(src);
    let Some(Pool::Dyn(h)) = m.pool("h") else {
        panic!()
    };
    assert_eq!(
        (h.mem.base(), h.mem.size(), h.mem.lists()),
        (0x1000_0000, 1024, 3)
    );
    assert_eq!(h.mem.spares(), &[(0x1000_0400, 1024), (0x1000_2000, 2048)]);
    assert_eq!(h.grow, None);
    // The expand flag is written into the pool's flag word.
    assert!(trace.contains("0002 h.meta addr=0x10000008 field=flags value=0x00000001"));
    let Some(Pool::Dyn(g)) = m.pool("g") else {
        panic!()
    };
    // No settings: LiteOS's 27 lists, no expansion.
    assert_eq!((g.mem.lists(), g.mem.spares().len()), (27, 0));
    assert!(!trace.contains("0003 g.meta addr=0x10003008 field=flags value=0x00000001"));
}

#[test]
fn dyn_counts_use_per_task_and_grows_by_a_spare() {
    let src = "ram r 0x10000000 16K\ndyn h 1K on r lists 1 expand spare 2K\n\
               a = h.alloc 100 owner 1\nb = h.alloc 200 owner 1\nc = h.alloc 50 owner 2\nd = h.alloc 60\n\
               u1 = usage(h, 1)\nu2 = usage(h, 2)\nu9 = usage(h, 9)\nun = usage(h, 0xffff)\n\
               big = h.alloc 1500 owner 3\nx = h.realloc c 20 owner 2\n";
    let (m, trace) = run(src);
    let v = |n: &str| m.var(n).unwrap();
    assert_eq!((v("u1"), v("u2"), v("u9"), v("un")), (116 + 216, 68, 0, 76));
    assert!(
        v("big") >= 0x1000_0400,
        "the spare after the pool served it"
    );
    assert!(trace.contains("h.grow addr=0x10000400 size=2048"));
    let Some(Pool::Dyn(h)) = m.pool("h") else {
        panic!()
    };
    assert_eq!(
        h.mem.owner_of(m.ram(), v("big")).unwrap(),
        memplay_engine::Owner(3)
    );
    assert_eq!(v("x"), v("c"), "a shrink stays in place");
}

#[test]
fn dyn_grow_from_needs_a_pool_of_pages() {
    let e = error("ram r 0x10000000 16K\nsys r 4K\ndyn h 1K grow from sys\n");
    assert_eq!(
        (e.line, e.col, e.kind),
        (3, 20, ErrorKind::Needs("a pool of pages to grow from"))
    );
    let e = error("ram r 0x10000000 16K\ndyn h 1K grow sys\n");
    assert_eq!(e.kind, ErrorKind::Expected("`from POOL`"));
    let e = error("ram r 0x10000000 16K\ndyn h 1K spare 1K spare 1K spare 1K spare 1K spare 1K\n");
    assert_eq!(
        e.kind,
        ErrorKind::TooMany {
            what: "spare areas",
            max: 4
        }
    );
    assert_eq!(
        rendered("ram r 0x10000000 16K\ndyn h 1K list 4\n"),
        "2:10: unknown setting\n 2 | dyn h 1K list 4\n   |          ^^^^\nhint: did you mean `lists`?\n"
    );
}

#[test]
fn dyn_refusals_are_faults() {
    let (m, trace) = run("ram r 0x10000000 16K\ndyn h 1K lists 28\nexpect fault Config\ndyn g 16\nexpect fault Config\n");
    assert!(m.pool("h").is_none() && m.pool("g").is_none());
    assert!(
        trace.contains("0002 h.fault op=init error=Config"),
        "{trace}"
    );
    // A spare overlapping the pool is refused by LOS_MemExpandEnable.
    let (_, trace) = run("ram r 0x10000000 16K\ndyn h 1K at 0x10000000 spare 1K at 0x10000200\nexpect fault Config\n");
    assert!(trace.contains("h.fault op=init error=Config"));
}

// ---- tlsf ----

#[test]
fn tlsf_settings_and_refusals() {
    let (m, _) = run("ram r 0x10000000 16K\ntlsf t 2K sl 3 align 8 own_class on\ntlsf u 1K\n");
    let Some(Pool::Tlsf(t)) = m.pool("t") else {
        panic!()
    };
    let c = t.config();
    assert_eq!((c.sl_log2, c.align, c.search_own_class), (3, 8, true));
    assert_eq!((t.base(), t.size()), (0x1000_0000, 2048));
    let Some(Pool::Tlsf(u)) = m.pool("u") else {
        panic!()
    };
    assert_eq!(*u.config(), memplay_engine::tlsf::TlsfConfig::DEFAULT);
    assert_eq!(u.base(), 0x1000_0800);
    let (m, trace) = run("ram r 0x10000000 16K\ntlsf t 2K align 3\nexpect fault Config\n");
    assert!(m.pool("t").is_none());
    // TLSF emits its own fault event, once.
    assert_eq!(trace.matches("t.fault op=init").count(), 1);
}

#[test]
fn tlsf_allocates_frees_and_reallocs() {
    let src = "ram r 0x10000000 16K\ntlsf t 2K sl 2\na = t.alloc 100 owner 4\nb = t.realloc a 300\nt.free b\nt.free b\nexpect fault DoubleFree\nexpect blocks(t) == 0\n";
    let (m, trace) = run(src);
    assert_eq!(m.var("a"), m.var("b"), "grows in place");
    assert!(trace.contains("t.realloc from="));
}

// ---- adm ----

#[test]
fn adm_subpools_logging_and_call_sites() {
    let src = format!(
        "{EXT}adm media on extsram 8K subpools 16 32 0 logging\n\
         a = media.alloc 20 owner 4 at \"camera.c\":120\nb = media.alloc 100 at mdi_c:7\nc = media.alloc 10\n"
    );
    let (m, trace) = run(&src);
    let Some(Pool::Adm(adm)) = m.pool("media") else {
        panic!()
    };
    assert_eq!(
        (adm.base(), adm.size(), adm.subpools()),
        (0x0800_0000, 8192, 2)
    );
    assert!(adm.logging());
    let info = adm.block_info(m.ram(), m.var("a").unwrap()).unwrap();
    assert_eq!(info.site, Some((file_id("camera.c"), 120)));
    assert_eq!(
        (info.subpool, info.owner, info.requested),
        (Some(1), memplay_engine::Owner(4), 20)
    );
    let info = adm.block_info(m.ram(), m.var("b").unwrap()).unwrap();
    assert_eq!(
        (info.subpool, info.site),
        (None, Some((file_id("mdi_c"), 7)))
    );
    // Without `at`, a logging pool records no site (0, 0).
    let info = adm.block_info(m.ram(), m.var("c").unwrap()).unwrap();
    assert_eq!(info.site, Some((0, 0)));
    assert!(trace.contains(&format!("field=file value={:#010x}", file_id("camera.c"))));

    // `subpools 0` is the empty list; the place may come after the size.
    let (m, _) = run(&format!("{EXT}adm g 4K on extsram subpools 0\n"));
    let Some(Pool::Adm(g)) = m.pool("g") else {
        panic!()
    };
    assert_eq!((g.subpools(), g.logging()), (0, false));
}

#[test]
fn adm_delete_is_refused_while_blocks_live() {
    let src = format!(
        "{EXT}adm a 4K on extsram\nx = a.alloc 10\ny = a.alloc 20\nn = a.delete\nexpect fault none\na.free x\na.free y\nz = a.delete\nw = a.alloc 4\nexpect fault Corrupted\n"
    );
    let (m, trace) = run(&src);
    assert_eq!(
        (m.var("n"), m.var("z"), m.var("w")),
        (Some(2), Some(0), Some(0))
    );
    assert!(trace.contains("0005 a.delete_refused live=2 first="));
    assert!(trace.contains("0009 a.delete base=0x08000000 size=4096"));
    assert!(trace.contains("0010 a.fault op=alloc size=4 error=Corrupted"));
}

#[test]
fn adm_guard_overflow_is_guard_corrupted() {
    let src = format!(
        "{EXT}adm a 4K on extsram\np = a.alloc 30\npoke p + 30 0xff\ncheck\nexpect fault GuardCorrupted\nexpect fault Corrupted\na.free p\nexpect fault GuardCorrupted\n"
    );
    let (m, _) = run(&src);
    let fault = m.last_fault().unwrap();
    assert!(matches!(
        fault.error,
        StepFault::Alloc(AllocError::Corrupted {
            field: Field::Guard,
            ..
        })
    ));
    // Any other corruption is not a guard's.
    let e = error(&format!(
        "{EXT}adm a 4K on extsram\np = a.alloc 30\npoke32 0x08000000 0\ncheck\nexpect fault GuardCorrupted\n"
    ));
    assert!(matches!(
        e.kind,
        ErrorKind::ExpectFault {
            wanted: Some("GuardCorrupted"),
            found: Some(StepFault::Alloc(AllocError::Corrupted {
                field: Field::Magic,
                ..
            }))
        }
    ));
}

#[test]
fn adm_parse_errors() {
    assert_eq!(
        rendered(&format!("{EXT}adm a on extsram logging\n")),
        "2:25: expected the pool's size\n 2 | adm a on extsram logging\n   |                         ^\nhint: write `adm NAME SIZE`, e.g. `adm media on extsram 96K subpools 16 32 64 0`\n"
    );
    let e = error(&format!("{EXT}adm a 4K subpools\n"));
    assert_eq!(
        e.kind,
        ErrorKind::Expected("subpool sizes, e.g. `subpools 16 32 64 0`")
    );
    let e = error(&format!("{EXT}adm a 4K\nx = a.alloc 4 at \"a.c\" 3\n"));
    assert_eq!(e.kind, ErrorKind::Expected("`:` and a line number"));
    let e = error(&format!("{EXT}adm a 4K\nx = a.alloc 4 at 3\n"));
    assert_eq!(e.kind, ErrorKind::Expected("a call site `\"FILE\":LINE`"));
    let sizes: String = (1..=17).map(|i| format!(" {}", i * 4)).collect();
    let e = error(&format!("{EXT}adm a 4K subpools{sizes}\n"));
    assert_eq!(
        e.kind,
        ErrorKind::TooMany {
            what: "subpool sizes",
            max: 16
        }
    );
    // A configuration ADM refuses is a fault.
    let (m, trace) = run(&format!(
        "{EXT}adm a 4K subpools 64 32\nexpect fault Config\n"
    ));
    assert!(m.pool("a").is_none());
    assert_eq!(trace.matches("a.fault op=init").count(), 1);
}

// ---- asm ----

#[test]
fn asm_apps_are_variables_and_registered() {
    let src = format!(
        "{EXT}asm pool 64K on extsram subpools 32 64 0 apps camera:\"Camera\" music browser:\"Web_2\"\n\
         p = asm.alloc camera 3000\nq = asm.alloc browser + 0 100\nn = music\n"
    );
    let (m, trace) = run(&src);
    assert_eq!(
        (
            m.var("camera"),
            m.var("music"),
            m.var("browser"),
            m.var("n")
        ),
        (Some(0), Some(1), Some(2), Some(1))
    );
    assert!(trace.contains("asm.register app=0 name=Camera icon=0 handler=0"));
    assert!(trace.contains("asm.register app=1 name=music icon=0 handler=1"));
    assert!(trace.contains("asm.register app=2 name=Web_2 icon=0 handler=2"));
    let a = asm(&m);
    let info = a.mem.app_info(m.ram(), 2).unwrap().unwrap();
    assert_eq!(info.name, Name::lit("Web_2"));
    let mut out = [0; 4];
    assert_eq!(a.mem.blocks_of(m.ram(), 0, &mut out).unwrap(), 1);
    assert_eq!(out[0], m.var("p").unwrap());
    // An app with no registration faults as the real call refuses it.
    let (_, trace) = run(&format!(
        "{EXT}asm pool 8K apps a\nx = asm.alloc 5 10\nexpect fault Inconsistent\n"
    ));
    assert!(trace.contains("asm.fault op=alloc size=10 error=Inconsistent"));
}

#[test]
fn asm_usage_counts_chunks_and_their_overhead() {
    let src = format!(
        "{EXT}asm pool 64K apps a b\nx = asm.alloc a 1000\ny = asm.alloc a 2\nz = asm.alloc b 10\n\
         ua = usage(asm, a)\nub = usage(asm, b)\nasm.free x\nua2 = usage(asm, a)\n"
    );
    let (m, _) = run(&src);
    let extra = asm(&m).mem.chunk_extra();
    let v = |n: &str| m.var(n).unwrap();
    assert_eq!(v("ua"), 1000 + 4 + 2 * extra);
    assert_eq!(v("ub"), 12 + extra);
    assert_eq!(v("ua2"), 4 + extra);
}

/// The whole protocol with an asynchronous stop, checked state by state.
#[test]
fn asm_prompt_stop_over_ticks_and_retry() {
    let src = format!(
        "{EXT}asm pool 100K on extsram apps camera:\"Camera\" music:\"Music\" browser:\"Browser\"\n\
         asm.plan music frees 1 ticks 3 ok\n\
         m1 = asm.alloc music 30K\nm2 = asm.alloc music 30K\nw = asm.alloc browser 20K\n\
         c = asm.alloc_or_prompt camera 40K\n\
         expect fault OutOfMemory\nexpect prompt open\nexpect state Prompt\nexpect victim(asm) == 0xffffffff\n\
         asm.choose music\nexpect state confirm\nexpect victim(asm) == music\n\
         r = asm.confirm\nexpect state stopping\nexpect r == 0\n\
         tick 1\nexpect state stopping\n\
         tick 10\nexpect prompt closed\nexpect state idle\n"
    );
    let (m, trace) = run(&src);
    assert_eq!(m.var("c"), Some(0));
    let a = asm(&m);
    assert_eq!(a.mem.oom_state(), OomState::Idle);
    assert_ne!(a.granted, 0);
    let mut out = [0; 2];
    assert_eq!(a.mem.blocks_of(m.ram(), 0, &mut out).unwrap(), 1);
    assert_eq!(out[0], a.granted);
    // The prompt lists the background apps, newest chunk first, not the one asking; the
    // music player frees its newest chunk at once, the other on the first tick.
    let lines: Vec<&str> = trace
        .lines()
        .filter(|l| l.contains(" asm.") && !l.contains(".meta") && !l.contains(".fill"))
        .map(|l| &l[5..])
        .filter(|l| !l.starts_with("asm.alloc") && !l.starts_with("asm.register"))
        .collect();
    assert_eq!(
        lines,
        [
            "asm.init base=0x08000000 size=102400",
            "asm.fault op=alloc size=40960 error=OutOfMemory requested=40960 largest_free=19924",
            "asm.usage app=2 name=Browser icon=0 size=20540 stopping=false",
            "asm.usage app=1 name=Music icon=0 size=61560 stopping=false",
            "asm.prompt app=0 name=Camera required=40960 listed=2",
            "asm.choose app=1",
            "asm.confirm app=1",
            "asm.stop app=1 ticks=3",
            "asm.free addr=0x080079a8 block=30740 owner=1",
            "asm.waiting app=1",
            "asm.free addr=0x0800016c block=30740 owner=1",
            "asm.stop_tick app=1 tick=1 freed=1",
            "asm.stop_tick app=1 tick=2 freed=0",
            "asm.stop_tick app=1 tick=3 freed=0",
            "asm.stop_finished app=1 result=true",
            "asm.popup msg=\"starting new\"",
            "asm.retry app=0 size=40960 addr=0x0800016c",
        ]
    );
    // The tick that finished the stop ran one tick of the ten: the rest found nothing to do.
    assert!(trace.contains("clock.tick by=10 now=11"));
}

#[test]
fn asm_decline_dismiss_and_the_value_of_a_granting_step() {
    let src = format!(
        "{EXT}asm pool 40K on extsram apps cam mus\n\
         m = asm.alloc mus 30K\nc = asm.alloc_or_prompt cam 20K\n\
         asm.choose mus\nasm.decline\nexpect state prompt\n\
         asm.choose mus\nasm.dismiss\nexpect state idle\n\
         c = asm.alloc_or_prompt cam 20K\nasm.choose mus\ng = asm.confirm\nexpect state idle\n\
         expect g == granted(asm)\nexpect g != 0\n"
    );
    let (m, trace) = run(&src);
    assert!(trace.contains("asm.decline app=1"));
    assert!(trace.contains("asm.dismiss app=0"));
    assert_eq!(m.var("g"), Some(asm(&m).granted));
}

#[test]
fn asm_a_stop_that_fails_or_is_reported_by_the_script() {
    // The app fails to stop: a popup says so and the prompt lists the apps again.
    let src = format!(
        "{EXT}asm pool 40K on extsram apps cam mus\nasm.plan mus fail\n\
         m = asm.alloc mus 30K\nc = asm.alloc_or_prompt cam 20K\nasm.choose mus\nasm.confirm\nexpect state prompt\n"
    );
    let (_, trace) = run(&src);
    assert!(trace.contains("asm.stop_finished app=1 result=false"));
    assert!(trace.contains("asm.popup msg=\"stop failed\""));
    // The script reports for the app before its ticks are over.
    let src = format!(
        "{EXT}asm pool 40K on extsram apps cam mus\nasm.plan mus frees 1 ticks 100 ok\n\
         m = asm.alloc mus 30K\nc = asm.alloc_or_prompt cam 20K\nasm.choose mus\nasm.confirm\n\
         g = asm.notify_stop_finished mus ok\nexpect state idle\nexpect g != 0\n"
    );
    run(&src);
}

#[test]
fn asm_protocol_refusals_are_script_errors() {
    let base = format!("{EXT}asm pool 40K on extsram apps cam mus\n");
    let e = error(&format!("{base}asm.confirm\n"));
    assert_eq!(
        e.kind,
        ErrorKind::Asm(AsmError::WrongState {
            call: "confirm",
            state: "idle"
        })
    );
    assert_eq!(
        rendered(&format!("{base}asm.confirm\n")),
        "3:1: the out-of-memory prompt refuses: confirm does not fit the out-of-memory protocol's idle state\n 3 | asm.confirm\n   | ^^^\nhint: answer the prompt in order: `asm.alloc_or_prompt APP SIZE`, `asm.choose APP`, `asm.confirm` (or `asm.decline`), then `tick` until the stop finishes\n"
    );
    let e = error(&format!(
        "{base}m = asm.alloc mus 30K\nc = asm.alloc_or_prompt cam 20K\nasm.choose cam\n"
    ));
    assert_eq!(e.kind, ErrorKind::Asm(AsmError::NotListed { app: 0 }));
    assert_eq!(e.line, 5);
    let e = error(&format!("{base}asm.notify_stop_finished mus ok\n"));
    assert_eq!(e.kind, ErrorKind::Asm(AsmError::NotStopping { app: 1 }));
    let e = error(&format!("{base}c = asm.alloc_or_prompt 5 10\n"));
    assert_eq!(e.kind, ErrorKind::Asm(AsmError::NoSuchApp { app: 5 }));
    let e = error(&format!("{base}c = asm.alloc 8 10\n"));
    assert_eq!(e.kind, ErrorKind::Expected("an app id from 0 to 7"));
}

#[test]
fn asm_full_pool_mode() {
    let src = format!(
        "{EXT}asm pool 16K on extsram apps cam mus\n\
         f = asm.alloc_full cam\nx = asm.alloc mus 10\nexpect fault OutOfMemory\n\
         expect usage(asm, cam) == 16K - 280\n\
         asm.free f\ny = asm.alloc mus 10\nexpect fault none\n\
         g = asm.alloc_full cam\nexpect fault OutOfMemory\n\
         h = asm.alloc_full_or_prompt cam\nexpect state prompt\n"
    );
    let (m, trace) = run(&src);
    let a = asm(&m);
    let (pool, size) = a.mem.pool_range();
    assert_eq!(m.var("f"), Some(pool));
    assert_eq!(size, 16 * 1024 - 280);
    assert!(trace.contains("asm.full_pool app=0"));
    assert!(trace.contains("asm_adm.delete base="));
    assert_eq!(m.var("g"), Some(0));
}

#[test]
fn asm_plan_and_config_errors() {
    let e = error(&format!("{EXT}asm 4K\n"));
    assert_eq!(e.kind, ErrorKind::Expected("`pool SIZE`"));
    let e = error(&format!("{EXT}asm pool 4K apps a:\"two words\"\n"));
    assert_eq!(
        e.kind,
        ErrorKind::Expected("a title of 1 to 15 letters, digits or `_`")
    );
    let e = error(&format!("{EXT}asm pool 4K apps a b a\n"));
    assert_eq!(e.kind, ErrorKind::Duplicate(Name::lit("a")));
    let e = error(&format!("{EXT}asm pool 4K apps a b c d e f g h i\n"));
    assert_eq!(
        e.kind,
        ErrorKind::TooMany {
            what: "apps",
            max: 8
        }
    );
    let e = error(&format!("{EXT}asm pool 4K apps tick\n"));
    assert_eq!(e.kind, ErrorKind::Reserved(Name::lit("tick")));
    let e = error(&format!("{EXT}asm pool 4K apps\n"));
    assert_eq!(
        e.kind,
        ErrorKind::Expected("an app, as in `camera:\"Camera\"`")
    );
    let e = error(&format!(
        "{EXT}asm pool 4K apps a\nasm.plan a frees 1 tick 3\n"
    ));
    assert_eq!(e.kind, ErrorKind::UnknownSetting);
    let e = error(&format!(
        "{EXT}asm pool 4K apps a\nasm.plan a frees 70000\n"
    ));
    assert_eq!(e.kind, ErrorKind::Expected("a number from 0 to 65535"));
    // A second `asm` is a duplicate.
    let e = error(&format!("{EXT}asm pool 4K\nasm pool 4K\n"));
    assert_eq!(e.kind, ErrorKind::Duplicate(Name::lit("asm")));
    // The plan is what the app's stop callback does: here it frees both chunks at once
    // and still takes five ticks to report.
    let (m, trace) = run(&format!(
        "{EXT}asm pool 8K apps a b\nasm.plan a frees 2 ticks 5 fail\nx = asm.alloc a 3K\ny = asm.alloc a 3K\n\
         c = asm.alloc_or_prompt b 4K\nasm.choose a\nasm.confirm\nexpect usage(asm, a) == 0\n"
    ));
    assert!(trace.contains("asm.stop app=0 ticks=5"));
    assert!(trace.contains("asm.waiting app=0"));
    assert!(matches!(
        asm(&m).mem.oom_state(),
        OomState::Stopping { victim: 0, .. }
    ));
}

#[test]
fn asm_expectations_need_the_pool_and_report_the_state() {
    let e = error("ram r 0 4K\nexpect state idle\n");
    assert_eq!(
        e.kind,
        ErrorKind::Needs("app-shared memory (`asm pool ...`)")
    );
    let base = format!("{EXT}asm pool 8K apps a\n");
    assert_eq!(
        rendered(&format!("{base}expect state stopping\n")),
        "3:8: expectation failed: expected `stopping`, the out-of-memory prompt is `idle`\n 3 | expect state stopping\n   |        ^^^^^^^^^^^^^^\n"
    );
    let e = error(&format!("{base}expect prompt open\n"));
    assert_eq!(
        e.kind,
        ErrorKind::ExpectState {
            wanted: "open",
            found: "idle"
        }
    );
    assert!(e.is_expectation());
    assert_eq!(
        rendered(&format!("{base}expect state stoping\n")),
        "3:14: unknown prompt state\n 3 | expect state stoping\n   |              ^^^^^^^\nhint: did you mean `stopping`?\n"
    );
    // `state` and `prompt` remain usable as variables.
    run(&format!(
        "{base}state = 3\nexpect state == 3\nprompt = 1\nexpect prompt + 1 == 2\n"
    ));
}

// ---- screen ----

#[test]
fn screen_memory_serves_layers() {
    let src = format!(
        "{EXT}screen 64K on extsram\na = screen.alloc 20K owner 3\nb = screen.alloc 50K owner 4\nexpect fault OutOfMemory\nu = usage(screen, 3)\nscreen.free a\nexpect blocks(screen) == 0\n"
    );
    let (m, trace) = run(&src);
    let Some(Pool::Screen(s)) = m.pool("screen") else {
        panic!()
    };
    assert_eq!((s.base(), s.size()), (0x0800_0000, 65536));
    assert_eq!(m.var("u"), Some(20 * 1024));
    assert!(trace.contains("screen.alloc addr="));
    assert!(trace.contains("scr_adm.init"));
}

// ---- awtk ----

#[test]
fn awtk_stacks_in_the_order_written() {
    let (m, _) = run("ram r 0x20000000 64K\nawtk stack debug lock pool oom pool simple 16K entries 8 blocks 4 4 4 4 4 min_blocks 1\n");
    let Some(Pool::Awtk(a)) = m.pool("awtk") else {
        panic!()
    };
    let kinds: Vec<_> = (0..a.stack.layer_count())
        .map(|i| {
            let (kind, name, _) = a.stack.layer(i).unwrap();
            (kind, name.to_string())
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (Layer::Debug, "debug".into()),
            (Layer::Lock, "lock".into()),
            (Layer::Pool, "pool".into()),
            (Layer::Oom, "oom".into()),
            (Layer::Pool, "pool2".into()),
        ]
    );
    let config = a.stack.config();
    assert_eq!(
        (
            config.debug_entries,
            config.pool.blocks,
            config.pool.min_blocks
        ),
        (8, [4; 5], 1)
    );
    // The statics follow the heap.
    assert_eq!(a.stack.statics().0, 0x2000_0000 + 16 * 1024);
    assert_eq!(a.stack.base().range(), (0x2000_0000, 16 * 1024));
    // No decorators: the heap alone.
    let (m, _) = run("ram r 0x20000000 4K\nawtk stack simple 2K\nx = awtk.alloc 10\n");
    let Some(Pool::Awtk(a)) = m.pool("awtk") else {
        panic!()
    };
    assert_eq!(a.stack.layer_count(), 0);
}

#[test]
fn awtk_sites_leaks_dump_and_realloc() {
    let src = "ram r 0x20000000 64K\nawtk stack debug pool simple 16K\n\
               a = awtk.alloc 24 at widget_create:77\nb = awtk.alloc 200 at image_load:12\n\
               b = awtk.realloc b 400 at image_load:20\nexpect leaks(awtk) == 2\n\
               awtk.free a\nexpect leaks(awtk) == 1\nawtk.dump\nn = awtk.free any\nexpect n == b\nexpect leaks(awtk) == 0\n";
    let (m, trace) = run(src);
    assert!(trace.contains("debug.record entry="));
    assert!(trace.contains("size=24 func=widget_create line=77"));
    assert!(trace.contains("pool.hit size=24 pool=32"));
    assert!(trace.contains("debug.dump_entry index=1 addr="));
    assert!(trace.contains("func=image_load line=20"));
    assert!(trace.contains("awtk.dump layers=2"));
    let Some(Pool::Awtk(a)) = m.pool("awtk") else {
        panic!()
    };
    let mut leaks = vec![];
    a.stack.leaks(m.ram(), &mut |l| leaks.push(l)).unwrap();
    assert!(leaks.is_empty());
    // No debug layer, no leak figure.
    let e = error("ram r 0x20000000 64K\nawtk stack lock simple 4K\nn = leaks(awtk)\n");
    assert_eq!(
        e.kind,
        ErrorKind::NoFigure {
            figure: "leaks",
            pool: Name::lit("awtk")
        }
    );
    let e = error("ram r 0x20000000 64K\nlab h 1K\nn = granted(h)\n");
    assert_eq!(
        e.kind,
        ErrorKind::NoFigure {
            figure: "granted",
            pool: Name::lit("h")
        }
    );
}

#[test]
fn awtk_lock_outside_oom_deadlocks_and_oom_outside_lock_rescues() {
    let script = |order: &str| {
        format!(
            "ram r 0x20000000 8K\nawtk stack {order} simple 1K\nawtk release oldest 1\n\
             img = awtk.alloc 300 at image_cache:5\nawtk.cache img\nw = awtk.alloc 800 at window_open:8\n"
        )
    };
    let (m, trace) = run(&format!("{}expect fault Deadlock\n", script("lock oom")));
    assert_eq!(m.var("w"), Some(0));
    assert!(trace.contains("lock.reentry mutex="));
    let Some(Pool::Awtk(a)) = m.pool("awtk") else {
        panic!()
    };
    assert_eq!(a.release.cached(), &[m.var("img").unwrap()]);

    let (m, trace) = run(&format!("{}expect fault none\n", script("oom lock")));
    assert_ne!(m.var("w"), Some(0));
    assert!(trace.contains("oom.release tried=1 size=800 func=window_open line=8"));
    assert!(trace.contains("oom.retry tried=1 size=800"));
    let Some(Pool::Awtk(a)) = m.pool("awtk") else {
        panic!()
    };
    assert!(a.release.cached().is_empty());

    // Without a release policy nothing is freed and the request gives up after 5 tries.
    let (_, trace) = run(
        "ram r 0x20000000 8K\nawtk stack oom lock simple 1K\nimg = awtk.alloc 300\nawtk.cache img\nw = awtk.alloc 800\nexpect fault OutOfMemory\n",
    );
    assert!(trace.contains("oom.give_up tried=5 size=800"));
    // `awtk release none` after `oldest` keeps the cache but frees nothing.
    let (_, trace) = run(&format!(
        "{}awtk release none\nv = awtk.alloc 800\nexpect fault OutOfMemory\n",
        script("oom lock").replace("w = awtk.alloc 800 at window_open:8\n", "")
    ));
    assert!(trace.contains("oom.give_up"));
    // A block freed by the script leaves the cache.
    let (m, _) = run(&format!(
        "{}awtk.free img\n",
        script("oom lock").replace("w = awtk.alloc 800 at window_open:8\n", "")
    ));
    let Some(Pool::Awtk(a)) = m.pool("awtk") else {
        panic!()
    };
    assert!(a.release.cached().is_empty());
}

#[test]
fn awtk_parse_errors_and_refusals() {
    assert_eq!(
        rendered("ram r 0 64K\nawtk stack oom debgu simple 4K\n"),
        "2:16: expected a decorator or `simple SIZE`\n 2 | awtk stack oom debgu simple 4K\n   |                ^^^^^\nhint: did you mean `debug`?\n"
    );
    let e = error("ram r 0 64K\nawtk oom simple 4K\n");
    assert_eq!(e.kind, ErrorKind::Expected("`stack`"));
    let e = error("ram r 0 64K\nawtk release oldest 1\n");
    assert_eq!(e.kind, ErrorKind::Needs("an AWTK stack (`awtk stack ...`)"));
    let e =
        error("ram r 0 64K\nawtk stack lock lock lock lock lock lock lock lock lock simple 4K\n");
    assert_eq!(
        e.kind,
        ErrorKind::TooMany {
            what: "decorators",
            max: 8
        }
    );
    let e = error("ram r 0 64K\nawtk stack simple 4K\nx = awtk.alloc 4 at \"a.c\":3\n");
    assert_eq!(
        e.kind,
        ErrorKind::Expected("a C function name of at most 31 letters, digits or `_`")
    );
    let e = error("ram r 0 64K\nawtk stack simple 4K\nx = awtk.alloc 4 owner 3\n");
    assert_eq!(e.kind, ErrorKind::Expected("the end of the statement"));
    let src = "ram r 0 64K\nawtk stack simple 4K\nawtk release oldest 0\n";
    let cache: String = (0..17).map(|i| format!("awtk.cache {i}\n")).collect();
    let e = error(&format!("{src}{cache}"));
    assert_eq!(
        e.kind,
        ErrorKind::TooMany {
            what: "cached blocks",
            max: 16
        }
    );
    // The engine refuses a debug log of no entries: a fault.
    let (m, trace) =
        run("ram r 0 64K\nawtk stack debug simple 4K entries 0\nexpect fault Config\n");
    assert!(m.pool("awtk").is_none());
    assert!(trace.contains("awtk.fault op=init error=Config"));
    let (_, trace) = run("ram r 0 64K\nawtk stack simple 8\nexpect fault Config\n");
    assert!(trace.contains("awtk.fault op=init error=Config"));
}

// ---- presets ----

#[test]
fn preset_mtk_phone_builds_the_phone_in_one_step() {
    let src = "preset mtk_phone\nb = ctrl.alloc 100\np = asm.alloc camera 3000\nq = media.alloc 300 at \"camera.c\":120\ns = screen.alloc 1K owner 1\n";
    let info = check(src).unwrap();
    assert_eq!(info.ram_bytes, (64 << 10) + (2 << 20));
    let (m, trace) = run(src);
    let kinds: Vec<_> = m.pools().map(|p| p.name().to_string()).collect();
    assert_eq!(kinds, ["sys", "ctrl", "media", "asm", "screen"]);
    let regions: Vec<_> = m.ram().regions().map(|r| r.name.to_string()).collect();
    assert_eq!(regions, ["isram", "extsram"]);
    assert_eq!(
        (m.var("camera"), m.var("music"), m.var("browser")),
        (Some(0), Some(1), Some(2))
    );
    // The whole preset is step 1.
    assert!(trace.lines().take_while(|l| l.starts_with("0001")).count() > 100);
    assert!(trace.contains("0001 screen.init"));
    assert!(trace.contains("0002 ctrl.alloc"));
    assert_eq!(m.steps(), 5);
    let Some(Pool::Ctrl(c)) = m.pool("ctrl") else {
        panic!()
    };
    assert_eq!(c.class_count(), 7);
}

#[test]
fn preset_awtk_baremetal_and_preset_errors() {
    let (m, _) =
        run("preset awtk_baremetal\na = awtk.alloc 10 at main:1\nexpect leaks(awtk) == 1\n");
    let Some(Pool::Awtk(a)) = m.pool("awtk") else {
        panic!()
    };
    let layers: Vec<_> = (0..a.stack.layer_count())
        .map(|i| a.stack.layer(i).unwrap().0)
        .collect();
    assert_eq!(layers, [Layer::Oom, Layer::Debug, Layer::Pool, Layer::Lock]);
    assert_eq!(
        rendered("preset mtk_phon\n"),
        "1:8: unknown preset\n 1 | preset mtk_phon\n   |        ^^^^^^^^\nhint: did you mean `mtk_phone`?\n"
    );
    // A preset's line that cannot run is reported at the preset's name.
    assert_eq!(
        rendered("ram sram 0 4K\npreset awtk_baremetal\n"),
        "2:8: `sram` already exists\n 2 | preset awtk_baremetal\n   |        ^^^^^^^^^^^^^^\n"
    );
    // Two presets that both build an `asm` are refused the same way.
    let e = error("preset mtk_phone\npreset awtk_baremetal\npreset mtk_phone\n");
    assert_eq!(e.line, 3);
    // A preset runs from the console too.
    let mut m = Machine::new(vec![0u8; 1 << 22], "").unwrap();
    let step = m.exec("preset mtk_phone", 1, &mut Quiet).unwrap();
    assert_eq!(step.fault, None);
    assert!(m.pool("asm").is_some());
    for (name, _) in PRESETS {
        check(&format!("preset {name}\n")).unwrap();
    }
}

// ---- the language tables ----

#[test]
fn every_fault_kind_can_be_expected() {
    let errors = [
        AllocError::ZeroSize,
        AllocError::OutOfMemory {
            requested: 1,
            largest_free: 0,
        },
        AllocError::TooLarge {
            requested: 1,
            max: 0,
        },
        AllocError::InvalidPointer { addr: 0 },
        AllocError::DoubleFree { addr: 0 },
        AllocError::Corrupted {
            at: 0,
            field: Field::Guard,
            expected: 0,
            found: 1,
        },
        AllocError::Inconsistent { at: 0, rule: "" },
        AllocError::NotFreeable { addr: 0 },
        AllocError::Unsupported,
        AllocError::Bus(memplay_engine::Fault::Unmapped { addr: 0 }),
        AllocError::Config(memplay_engine::ConfigError::NoBlocks),
        AllocError::Deadlock { at: 0 },
    ];
    for e in errors {
        assert!(FAULT_KINDS.contains(&e.kind()), "{}", e.kind());
    }
    assert!(FAULT_KINDS.contains(&"GuardCorrupted"));
}

#[test]
fn the_machine_stays_small_enough_for_a_static() {
    let size = core::mem::size_of::<Machine<Vec<u8>, String>>();
    let board = core::mem::size_of::<Machine<&'static mut [u8], &'static str>>();
    println!("size_of::<Machine<Vec<u8>, String>>() = {size}, board = {board}");
    assert!(size < 64 * 1024, "{size}");
    assert!(board < 64 * 1024, "{board}");
}

#[test]
fn a_cloned_machine_keeps_the_prompt_state() {
    let src = format!(
        "{EXT}asm pool 40K on extsram apps cam mus\nasm.plan mus frees 1 ticks 2 ok\nm = asm.alloc mus 30K\nc = asm.alloc_or_prompt cam 20K\nasm.choose mus\nasm.confirm\ntick 2\n"
    );
    let mut m = machine(&src);
    for _ in 0..7 {
        m.step(&mut Quiet).unwrap();
    }
    let snapshot = m.clone();
    let mut a = TextSink::new(String::new());
    m.run_traced(&mut a, 10).unwrap();
    let mut again = snapshot.clone();
    let mut b = TextSink::new(String::new());
    again.run_traced(&mut b, 10).unwrap();
    assert_eq!(a.out, b.out);
    assert!(matches!(
        asm(&snapshot).mem.oom_state(),
        OomState::Stopping { .. }
    ));
    assert_eq!(asm(&again).mem.oom_state(), OomState::Idle);
    assert!(asm(&again).mem.check(again.ram()).is_ok());
}

// ---- no input panics ----

/// The words of these statements, so random text often reaches them.
const VOCABULARY: &[&str] = &[
    "ram r 0x20000000 64K\n",
    "preset mtk_phone\n",
    "preset awtk_baremetal\n",
    "dyn",
    "tlsf",
    "adm",
    "asm",
    "screen",
    "awtk",
    "pool",
    "apps",
    "a:\"A\"",
    "b",
    "subpools",
    "logging",
    "lists",
    "expand",
    "spare",
    "grow",
    "from",
    "sl",
    "own_class",
    "on",
    "stack",
    "lock",
    "oom",
    "debug",
    "simple",
    "entries",
    "blocks",
    "release",
    "oldest",
    "none",
    "alloc",
    "free",
    "realloc",
    "delete",
    "alloc_or_prompt",
    "alloc_full",
    "choose",
    "confirm",
    "decline",
    "dismiss",
    "notify_stop_finished",
    "plan",
    "frees",
    "ticks",
    "ok",
    "fail",
    "dump",
    "cache",
    "at",
    "\"f.c\"",
    "f",
    ":",
    "7",
    "expect",
    "state",
    "prompt",
    "open",
    "stopping",
    "fault",
    "GuardCorrupted",
    "Deadlock",
    "usage",
    "leaks",
    "granted",
    "victim",
    "(",
    ")",
    ",",
    ".",
    "=",
    "==",
    "tick",
    "check",
    "0",
    "1",
    "300",
    "4K",
    "0xffffffff",
    "\n",
    " ",
];

/// Statements that run, so random edits start from valid text.
const SCRIPTS: &[&str] = &[
    "preset mtk_phone\nasm.plan music frees 1 ticks 2 ok\nm = asm.alloc music 100K\nc = asm.alloc_or_prompt camera 150K\nasm.choose music\nasm.confirm\ntick 3\nx = media.alloc 100 at \"a.c\":1\nmedia.free x\nn = media.delete\n",
    "preset awtk_baremetal\nawtk release oldest 2\na = awtk.alloc 100 at f:1\nawtk.cache a\nb = awtk.realloc a 200\nawtk.dump\nawtk.free b\n",
    "ram r 0x20000000 64K\ndyn h 2K lists 2 spare 1K\ntlsf t 2K sl 2\na = h.alloc 900 owner 1\nb = h.alloc 1500 owner 2\nc = t.alloc 10\nt.free c\nexpect usage(h, 1) == 916\n",
    "ram r 0x20000000 64K\nawtk stack lock oom simple 1K\nawtk release oldest 1\ni = awtk.alloc 300\nawtk.cache i\nw = awtk.alloc 800\n",
];

/// Checks and runs `text` on a 4 MiB machine; only a panic fails.
fn survive(text: &str) {
    let _ = check(text);
    if let Ok(mut m) = Machine::new(vec![0u8; 4 << 20], text) {
        let _ = m.run(&mut Quiet, 2_000);
        if let Some(e) = m.halted() {
            let _ = e.render(text).to_string();
        }
    }
    let mut m = Machine::new(vec![0u8; 4 << 20], SCRIPTS[0]).unwrap();
    let _ = m.run(&mut Quiet, 100);
    for line in text.lines().take(20) {
        if let Err(e) = m.exec(line, 1, &mut Quiet) {
            let _ = e.render(line).to_string();
        }
    }
}

fn vocabulary_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(VOCABULARY), 0..50).prop_map(|w| w.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_heap_statements_never_panic(text in vocabulary_text()) {
        survive(&text);
    }

    #[test]
    fn mutated_heap_scripts_never_panic(
        pick in 0..SCRIPTS.len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, prop::sample::select(VOCABULARY)), 1..5),
    ) {
        let mut text = SCRIPTS[pick].to_string();
        for (at, op, word) in edits {
            let boundaries: Vec<usize> = (0..=text.len()).filter(|&i| text.is_char_boundary(i)).collect();
            let i = *at.get(&boundaries);
            let next = boundaries.iter().copied().find(|&j| j > i).unwrap_or(i);
            match op {
                0 => text.replace_range(i..next, ""),
                1 => text.insert_str(i, word),
                _ => text.replace_range(i..next, word),
            }
        }
        survive(&text);
    }
}

#[test]
fn the_example_scripts_run() {
    for (_, text) in PRESETS {
        // Every preset line is a statement of the language.
        check(text).unwrap();
    }
    for script in SCRIPTS {
        run(script);
    }
}
