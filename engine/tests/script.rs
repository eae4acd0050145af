//! The script language and the machine: every statement, the static check, error
//! rendering (exact text), snapshots, the run semantics, golden traces of the example
//! scripts, and property tests that no text panics the parser or the machine.

use std::path::Path;

use memplay_engine::machine::{Machine, Pool, StepKind, StepOutcome};
use memplay_engine::script::{check, ErrorKind, ScriptError};
use memplay_engine::trace::{Quiet, TextSink};
use memplay_engine::AllocError;
use proptest::prelude::*;

type M = Machine<Vec<u8>, String>;

fn machine(source: &str) -> M {
    match Machine::owned(source.to_string()) {
        Ok(m) => m,
        Err(e) => panic!("{}", e.render(source)),
    }
}

/// Runs a whole script; panics on any error; returns the machine and its trace.
fn run(source: &str) -> (M, String) {
    let mut m = machine(source);
    let mut sink = TextSink::new(String::new());
    match m.run_traced(&mut sink, 100_000) {
        Ok(summary) => assert_eq!(summary.failures, 0, "{:?}", summary.first_failure),
        Err(e) => panic!("{}", e.render(source)),
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

const BOOT: &str =
    "ram isram 0x40000000 16K internal\nram extsram 0x08000000 64K\nsys isram extsram\n";

// ---- statements ----

#[test]
fn ram_declares_regions_with_suffixes_and_kinds() {
    let (m, trace) = run("ram a 0x1000 4K internal\nram b 0x2_0000 1K\n");
    let regions: Vec<_> = m
        .ram()
        .regions()
        .map(|r| (r.name.to_string(), r.base, r.size))
        .collect();
    assert_eq!(
        regions,
        [("a".into(), 0x1000, 4096), ("b".into(), 0x20000, 1024)]
    );
    assert_eq!(m.ram().regions().next().unwrap().kind.as_str(), "internal");
    assert_eq!(m.ram().regions().nth(1).unwrap().kind.as_str(), "external");
    assert_eq!(
        trace,
        "0001 a.init base=0x00001000 size=4096\n0002 b.init base=0x00020000 size=1024\n"
    );
}

#[test]
fn sys_takes_whole_regions_sizes_or_ranges() {
    let (m, _) =
        run("ram i 0x40000000 1K internal\nram e 0x08000000 4K\nsys e 1K i\nx = sys.alloc 8\n");
    let Some(Pool::Sys(sys)) = m.pool("sys") else {
        panic!()
    };
    let areas: Vec<_> = sys.areas().map(|(_, a)| (a.base, a.size)).collect();
    assert_eq!(areas, [(0x0800_0000, 1024), (0x4000_0000, 1024)]);
    // Internal SRAM is carved first even though it was listed second.
    assert_eq!(m.var("x").unwrap() >> 28, 4);

    let (m, _) = run("ram i 0x40000000 1K internal\nsys 0x40000100 512\n");
    let Some(Pool::Sys(sys)) = m.pool("sys") else {
        panic!()
    };
    assert_eq!(
        sys.area(0).map(|a| (a.base, a.size)),
        Some((0x4000_0100, 512))
    );

    // No areas: the rest of every region.
    let (m, _) = run("ram i 0x40000000 1K internal\nsysmem records 2\n");
    let Some(Pool::Sys(sys)) = m.pool("sys") else {
        panic!()
    };
    assert_eq!(sys.record_capacity(), 2);
    assert_eq!(sys.area(0).map(|a| a.size), Some(1024));
}

#[test]
fn sys_alloc_in_a_region_and_left() {
    let src = format!("{BOOT}a = sys.alloc 100 in extsram owner 2\nn = left(sys)\n");
    let (m, trace) = run(&src);
    assert_eq!(m.var("a"), Some(0x0800_0000));
    assert!(trace.contains("0004 sys.carve addr=0x08000000 size=100 region=extsram"));
    let Some(Pool::Sys(sys)) = m.pool("sys") else {
        panic!()
    };
    assert_eq!(m.var("n"), Some(sys.left_size(m.ram()).unwrap().total));
}

#[test]
fn ctrl_table_and_preset() {
    let (m, _) = run(&format!("{BOOT}ctrl table 32x2 64x1\n"));
    let Some(Pool::Ctrl(c)) = m.pool("ctrl") else {
        panic!()
    };
    assert_eq!(c.class_count(), 2);
    assert_eq!(c.max_size(), 64);

    let src = "ram isram 0x40000000 64K internal\nram ext 0x08000000 1M\nsys isram ext\nctrl preset mtk\n";
    let (m, _) = run(src);
    let Some(Pool::Ctrl(c)) = m.pool("ctrl") else {
        panic!()
    };
    assert_eq!(c.class_count(), 7);
    assert_eq!(c.max_size(), 2048);
}

#[test]
fn a_configuration_the_engine_refuses_is_a_fault_not_an_error() {
    let src = format!("{BOOT}ctrl table 64x2 32x2\nexpect fault Config\n");
    let (m, trace) = run(&src);
    assert!(m.pool("ctrl").is_none());
    assert!(trace.contains("ctrl.fault op=init error=Config"), "{trace}");
    // Using the pool that was not created is then a hard error.
    let e = error(&format!("{src}ctrl.alloc 10\n"));
    assert_eq!(
        e.kind,
        ErrorKind::UnknownPool(memplay_engine::Name::lit("ctrl"))
    );
    assert_eq!(e.line, 6);
}

#[test]
fn part_shapes_and_placements() {
    let src = "ram r 0x20000000 4K\nram s 0x30000000 4K\n\
               part a 16x2 on r\npart b 16x2 on r\npart c 1K block 64 at 0x30000400\n\
               sys s 2K\npart d 32x1\npart e 32x1 from sys\npart f 8x1 on r\n";
    let (m, _) = run(src);
    let pool = |n: &str| match m.pool(n) {
        Some(Pool::Part(p)) => *p,
        _ => panic!("{n}"),
    };
    assert_eq!(pool("a").base(), 0x2000_0000);
    // `on` places pools one after the other, 4-aligned.
    assert_eq!(pool("b").base(), 0x2000_0000 + 20 + 2 * 28);
    assert_eq!(
        (pool("c").base(), pool("c").count()),
        (0x3000_0400, (1024 - 20) / 76)
    );
    // With system memory configured, the default is a carve from it.
    assert_eq!(pool("d").base() >> 28, 3);
    assert!(pool("e").base() > pool("d").base());
    assert_eq!(pool("f").base(), pool("b").base() + 76);
}

#[test]
fn lab_settings() {
    let src = "ram r 0x10000000 8K\nlab h 2K policy worst order lifo coalesce off header 0 align 1\nlab g 1K at 0x10001000\n";
    let (m, _) = run(src);
    let Some(Pool::Lab(h)) = m.pool("h") else {
        panic!()
    };
    let c = h.config();
    assert_eq!(
        (
            c.fit.as_str(),
            c.order.as_str(),
            c.coalesce,
            c.header,
            c.align
        ),
        ("worst", "lifo", false, 0, 1)
    );
    assert_eq!(h.pool(), (0x1000_0000, 2048));
    let Some(Pool::Lab(g)) = m.pool("g") else {
        panic!()
    };
    assert_eq!(g.pool(), (0x1000_1000, 1024));
    assert_eq!(g.config().fit.as_str(), "first");
    // A lab the engine refuses (alignment 3) is a fault with its event.
    let (_, trace) = run("ram r 0x10000000 8K\nlab h 1K align 3\nexpect fault Config\n");
    assert!(trace.contains("h.fault op=init error=Config"));
}

#[test]
fn calls_assign_results_and_faults() {
    let src = format!(
        "{BOOT}ctrl table 32x1\na = ctrl.alloc 10 owner 5\nb = ctrl.alloc 10\nctrl.free a\n"
    );
    let mut m = machine(&src);
    let mut kinds = vec![];
    while let Ok(StepOutcome::Ran(step)) = m.step(&mut Quiet) {
        kinds.push((step.kind, step.fault.map(|e| e.kind()), step.value));
    }
    let a = m.var("a").unwrap();
    assert_eq!(
        kinds[4..],
        [
            (StepKind::Call, None, Some(a)),
            (StepKind::Call, Some("OutOfMemory"), Some(0)),
            (StepKind::Call, None, None),
        ]
    );
    // A failed allocation assigns 0, as the real APIs return NULL.
    assert_eq!(m.var("b"), Some(0));
    assert_eq!(m.last_fault(), None);
}

#[test]
fn free_any_picks_a_live_block_with_the_prng() {
    let src = "ram r 0x10000000 4K\nlab h 2K\nseed 3\na = h.alloc 10\nb = h.alloc 10\nc = h.alloc 10\nx = h.free any\n";
    let (m, _) = run(src);
    let x = m.var("x").unwrap();
    assert!([m.var("a"), m.var("b"), m.var("c")].contains(&Some(x)));
    let (m2, _) = run(src);
    assert_eq!(m2.var("x"), Some(x), "the same seed frees the same block");
    // Nothing live: nothing happens.
    let (_, trace) = run("ram r 0x10000000 4K\nlab h 2K\nh.free any\nexpect fault none\n");
    assert!(!trace.contains("0003"));
}

#[test]
fn let_and_expressions() {
    let (m, _) = run("a = 0x10 + 2 * 3\nb = (a - 6) * 4K\nc = a + b + 1M - 2\n");
    assert_eq!(m.var("a"), Some(22));
    assert_eq!(m.var("b"), Some(16 * 4096));
    assert_eq!(m.var("c"), Some(22 + 16 * 4096 + (1 << 20) - 2));
    let e = error("a = 1\nb = a - 2\n");
    assert_eq!(
        (e.line, e.col, e.len, e.kind),
        (2, 5, 5, ErrorKind::Overflow)
    );
}

#[test]
fn poke_peek_and_fill() {
    let src = "ram r 0x1000 64\npoke 0x1000 0xab\npoke32 0x1004 0x11223344\nfill 0x1010 4 0x5a\n\
               a = peek 0x1000\nb = peek32 0x1004\nc = peek32 0x1010\npeek 0x1005\n";
    let (m, trace) = run(src);
    assert_eq!(
        (m.var("a"), m.var("b"), m.var("c")),
        (Some(0xab), Some(0x1122_3344), Some(0x5a5a_5a5a))
    );
    assert_eq!(
        trace,
        "0001 r.init base=0x00001000 size=64\n\
         0002 r.fill addr=0x00001000 len=1 byte=0xab field=data\n\
         0003 r.meta addr=0x00001004 field=data value=0x11223344\n\
         0004 r.fill addr=0x00001010 len=4 byte=0x5a field=data\n"
    );
    let e = error("ram r 0x1000 64\npoke32 0x103e 1\n");
    assert_eq!((e.line, e.col, e.len), (2, 8, 6));
    assert!(matches!(e.kind, ErrorKind::Access(_)));
}

#[test]
fn note_check_tick_and_seed() {
    let src =
        "ram r 0x1000 4K\npart p 16x2\nnote \"内存 fragments\"\ncheck\ntick 5\ntick 7\nseed 9\n";
    let mut m = machine(src);
    let mut sink = TextSink::new(String::new());
    let mut notes = vec![];
    while let Ok(StepOutcome::Ran(step)) = m.step_traced(&mut sink) {
        if let Some(text) = m.note_text(&step) {
            notes.push(text.to_string());
        }
    }
    assert_eq!(notes, ["内存 fragments"]);
    assert_eq!(m.clock(), 12);
    assert!(sink.out.ends_with(
        "0005 clock.tick by=5 now=5\n0006 clock.tick by=7 now=12\n0007 prng.seed seed=9\n"
    ));
    assert_eq!(m.prng(), memplay_engine::prng::Prng::new(9));
}

#[test]
fn check_reports_every_corrupt_pool_as_a_fault() {
    let src = "ram r 0x1000 4K\npart p 16x2\npart q 16x2\npoke 0x1000 0\npoke 0x1000 + 76 0\ncheck\nexpect fault Corrupted\n";
    let (m, trace) = run(src);
    assert_eq!(trace.matches(".fault op=check").count(), 2);
    assert_eq!(
        m.last_fault().map(|f| f.source.to_string()),
        Some("p".into())
    );
}

#[test]
fn expectations_compare_and_match_faults() {
    run("a = 5\nexpect a == 5\nexpect a != 4\nexpect a < 6\nexpect a <= 5\nexpect a > 4\nexpect a >= 5\nexpect fault none\n");
    // A note or an expect between the fault and `expect fault` does not hide it.
    run(&format!("{BOOT}ctrl table 32x1\nctrl.free 0\nnote \"x\"\nexpect fault InvalidPointer\nexpect fault InvalidPointer\n"));
    let e = error("a = 5\nexpect a == 6\n");
    assert_eq!(
        e.kind,
        ErrorKind::ExpectFailed {
            left: 5,
            cmp: memplay_engine::script::ast::Cmp::Eq,
            right: 6
        }
    );
    assert_eq!((e.line, e.col, e.len), (2, 8, 6));
    let e = error("a = 5\nexpect fault DoubleFree\n");
    assert_eq!(
        e.kind,
        ErrorKind::ExpectFault {
            wanted: Some("DoubleFree"),
            found: None
        }
    );
}

#[test]
fn queries_read_pool_figures() {
    let src = "ram r 0x1000 4K\nlab h 1K header 4 align 4\na = h.alloc 100\nb = h.alloc 20\nh.free a\n\
               u = used(h)\nf = free(h)\nl = largest(h)\nn = blocks(h)\nq = frag(h)\nc = capacity(h)\no = overhead(h)\nm = left(h)\n";
    let (m, _) = run(src);
    let Some(pool) = m.pool("h") else { panic!() };
    let s = pool.stats(m.ram()).unwrap();
    let v = |n: &str| m.var(n).unwrap();
    assert_eq!(
        (
            v("u"),
            v("f"),
            v("l"),
            v("n"),
            v("q"),
            v("c"),
            v("o"),
            v("m")
        ),
        (
            s.used,
            s.free,
            s.largest_free,
            s.blocks,
            s.fragmentation_permille,
            s.capacity,
            s.overhead,
            s.free
        )
    );
    assert_eq!(v("n"), 1);
}

#[test]
fn searched_adds_up_the_labs_visits() {
    // The sum of the `visited` counts of the lab's searches; pools that count none give 0.
    let src = "ram r 0x1000 4K\nlab h 1K header 0\n\
               part p 32x2\nx = h.alloc 100\ny = h.alloc 100\nh.free x\nz = h.alloc 200\n\
               s = searched(h)\nt = searched(p)\n";
    let (m, trace) = run(src);
    let visited: u32 = trace
        .lines()
        .filter_map(|l| l.split("visited=").nth(1))
        .map(|n| n.parse::<u32>().unwrap())
        .sum();
    assert_eq!(m.var("s"), Some(visited));
    assert_eq!(m.var("s"), Some(4));
    assert_eq!(m.var("t"), Some(0));
}

#[test]
fn repeat_runs_its_body_n_times_and_nests() {
    let src = "ram r 0x1000 4K\nlab h 2K\nn = 0\nrepeat 3 {\n  # a comment\n  repeat 2 {\n    n = n + 1\n  }\n\n  m = n\n}\nrepeat 0 {\n  n = 100\n}\nrepeat 5 {\n}\nz = n\n";
    let mut m = machine(src);
    let mut lines = vec![];
    while let Ok(StepOutcome::Ran(step)) = m.step(&mut Quiet) {
        assert_eq!(step.index as usize, lines.len() + 1);
        lines.push(step.line);
    }
    assert_eq!(m.var("n"), Some(6));
    assert_eq!(m.var("z"), Some(6));
    assert_eq!(
        lines,
        [1, 2, 3, 4, 6, 7, 7, 10, 6, 7, 7, 10, 6, 7, 7, 10, 12, 15, 17]
    );
}

#[test]
fn random_sizes_replay_with_the_seed() {
    let src = "ram r 0x1000 64K\nlab h 32K\nseed 1\nrepeat 50 {\n x = h.alloc rand(1, 300)\n h.free any\n y = h.alloc rand(1, 30)\n}\n";
    let (_, a) = run(src);
    let (_, b) = run(src);
    assert_eq!(a, b);
    let (_, c) = run(&src.replace("seed 1", "seed 2"));
    assert_ne!(a, c);
}

#[test]
fn next_line_and_current_line_follow_the_program_counter() {
    let src = "a = 1\n\nrepeat 2 {\n  b = 2\n}\nc = 3\n";
    let mut m = machine(src);
    let mut seen = vec![(m.current_line(), m.next_line())];
    while let Ok(StepOutcome::Ran(_)) = m.step(&mut Quiet) {
        seen.push((m.current_line(), m.next_line()));
    }
    assert_eq!(
        seen,
        [
            (0, Some(1)),
            (1, Some(3)),
            (3, Some(4)),
            (4, Some(4)),
            (4, Some(6)),
            (6, None)
        ]
    );
}

// ---- run semantics and snapshots ----

#[test]
fn a_failed_expectation_goes_on_and_a_hard_error_halts() {
    let src = "a = 1\nexpect a == 2\nb = 2\nexpect b == 3\nc = 3\n";
    let mut m = machine(src);
    let summary = m.run(&mut Quiet, 100).unwrap();
    assert_eq!(
        (summary.steps, summary.expectations, summary.failures),
        (5, 2, 2)
    );
    assert_eq!(summary.first_failure.map(|e| e.line), Some(2));
    assert_eq!(m.var("c"), Some(3));

    let src = "ram r 0x1000 16\na = 1\npoke 0x2000 1\nb = 2\n";
    let mut m = machine(src);
    let e = m.run(&mut Quiet, 100).unwrap_err();
    assert_eq!(e.line, 3);
    assert_eq!(m.halted(), Some(e));
    assert_eq!(m.step(&mut Quiet), Err(e));
    assert_eq!(m.var("b"), None);
}

#[test]
fn run_stops_at_the_step_limit() {
    let mut m = machine("repeat 1000 {\n a = 1\n}\n");
    let e = m.run(&mut Quiet, 50).unwrap_err();
    assert_eq!(e.kind, ErrorKind::StepLimit(50));
    assert_eq!(m.steps(), 50);
}

#[test]
fn a_cloned_machine_is_a_snapshot() {
    let src = std::fs::read_to_string(scripts_dir().join("policy_lab.mem")).unwrap();
    let mut m = machine(&src);
    for _ in 0..40 {
        m.step(&mut Quiet).unwrap();
    }
    let snapshot = m.clone();
    let mut rest_a = TextSink::new(String::new());
    m.run_traced(&mut rest_a, 10_000).unwrap();
    let mut again = snapshot.clone();
    let mut rest_b = TextSink::new(String::new());
    again.run_traced(&mut rest_b, 10_000).unwrap();
    assert_eq!(rest_a.out, rest_b.out);
    assert_eq!(snapshot.steps(), 40);
    assert_eq!(
        m.vars().collect::<Vec<_>>(),
        again.vars().collect::<Vec<_>>()
    );
}

#[test]
fn exec_runs_a_single_line() {
    let mut m = machine("ram r 0x1000 4K\nlab h 1K\n");
    m.run(&mut Quiet, 10).unwrap();
    let step = m.exec("a = h.alloc 10", 1, &mut Quiet).unwrap();
    assert_eq!(step.index, 3);
    assert_eq!(m.var("a"), step.value);
    let e = m.exec("repeat 2 {", 1, &mut Quiet).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotInScript);
}

#[test]
fn a_borrowed_machine_runs_without_a_heap() {
    let mut storage = [0u8; 4096];
    let mut m: Machine<&mut [u8], &str> = Machine::new(
        &mut storage[..],
        "ram r 0x1000 4K\npart p 32x8\na = p.alloc 3\n",
    )
    .unwrap();
    m.run(&mut Quiet, 10).unwrap();
    assert_eq!(m.var("a"), Some(0x1000 + 20 + 12));
}

#[test]
fn runtime_faults_are_counted_and_remembered() {
    let src = format!("{BOOT}ctrl table 32x1\nctrl.alloc 100\n");
    let mut m = machine(&src);
    let summary = m.run(&mut Quiet, 100).unwrap();
    assert_eq!(summary.faults, 1);
    let fault = m.last_fault().unwrap();
    assert_eq!(fault.source.as_str(), "ctrl");
    assert!(matches!(
        fault.error.alloc(),
        Some(AllocError::TooLarge { .. })
    ));
}

// ---- the static check ----

#[test]
fn the_static_check_reads_the_whole_script_first() {
    let info = check("ram r 0 4K\n# c\n\nlab h 1K\nrepeat 3 {\n a = h.alloc 1\n}\n").unwrap();
    assert_eq!((info.lines, info.statements, info.ram_bytes), (7, 4, 4096));
    // A typo on the last line is found before anything runs.
    let e = Machine::owned("ram r 0 4K\nlab h 1K\nh.alloc 1\nh.free bb\n".to_string())
        .err()
        .unwrap();
    assert_eq!(
        (e.line, e.kind),
        (
            4,
            ErrorKind::UnknownVariable(memplay_engine::Name::lit("bb"))
        )
    );
    for (src, line, kind) in [
        ("}\n", 1, ErrorKind::UnmatchedClose),
        ("a = 1\nrepeat 2 {\n a = 2\n", 2, ErrorKind::UnclosedBlock),
        (
            "repeat 1 {\nrepeat 1 {\nrepeat 1 {\nrepeat 1 {\nrepeat 1 {\n}\n}\n}\n}\n}\n",
            5,
            ErrorKind::TooMany {
                what: "nested repeat blocks",
                max: 4,
            },
        ),
        (
            "ctrl table 32x1\n",
            1,
            ErrorKind::Needs("system memory (`sys`)"),
        ),
        (
            "ram r 0 4K\nlab h 1K\nlab h 1K\n",
            3,
            ErrorKind::Duplicate(memplay_engine::Name::lit("h")),
        ),
        (
            "ram r 0 4K\nram r 8K 4K\n",
            2,
            ErrorKind::Duplicate(memplay_engine::Name::lit("r")),
        ),
        (
            "ram r 0 4K\nlab ctrl 1K\n",
            2,
            ErrorKind::Reserved(memplay_engine::Name::lit("ctrl")),
        ),
        (
            "ram r 0 4K\nlab h 1K\nh = 4\n",
            3,
            ErrorKind::Reserved(memplay_engine::Name::lit("h")),
        ),
    ] {
        let e = check(src).unwrap_err();
        assert_eq!((e.line, e.kind), (line, kind), "{src}");
    }
    let many: String = (0..65).map(|i| format!("v{i} = {i}\n")).collect();
    assert_eq!(
        check(&many).unwrap_err().kind,
        ErrorKind::TooMany {
            what: "variables",
            max: 64
        }
    );
    let pools: String = std::iter::once("ram r 0 64K\n".to_string())
        .chain((0..9).map(|i| format!("lab p{i} 1K\n")))
        .collect();
    assert_eq!(
        check(&pools).unwrap_err().kind,
        ErrorKind::TooMany {
            what: "pools",
            max: 8
        }
    );
}

// ---- error rendering ----

#[test]
fn errors_render_with_line_column_caret_and_hint() {
    assert_eq!(
        rendered("ram r 0 4K\nlab heap 1K\nb = heap.alloc 10\nheap.free bb\n"),
        "4:11: unknown variable `bb`\n 4 | heap.free bb\n   |           ^^\nhint: did you mean `b`?\n"
    );
    assert_eq!(
        rendered("ram r 0 4K\nlab heap 1K\nb = heap.aloc 10\n"),
        "3:10: `heap` has no such operation\n 3 | b = heap.aloc 10\n   |          ^^^^\nhint: did you mean `alloc`?\n"
    );
    assert_eq!(
        rendered("ram r 0 64KB\n"),
        "1:9: this is not a number\n 1 | ram r 0 64KB\n   |         ^^^^\nhint: numbers are decimal (4096), hex (0x1000) or take a K or M suffix (4K, 1M); pairs are 32x16\n"
    );
    assert_eq!(
        rendered("nte \"x\"\n"),
        "1:1: unknown statement\n 1 | nte \"x\"\n   | ^^^\nhint: did you mean `note`?\n"
    );
    assert_eq!(
        rendered("a = 1\nexpect a = 1\n"),
        "2:10: expected a comparison\n 2 | expect a = 1\n   |          ^\nhint: did you mean `==`?\n"
    );
    assert_eq!(
        rendered("a = 3\n\n\n\n\n\n\n\n\nexpect a + 1 == 5\n"),
        "10:8: expectation failed: 4 (0x4) == 5 (0x5) is false\n 10 | expect a + 1 == 5\n    |        ^^^^^^^^^^\n"
    );
    assert_eq!(
        rendered("ram r 0x1000 16\npoke 0x1010 1\n"),
        "2:6: address 0x00001010 is in no RAM region\n 2 | poke 0x1010 1\n   |      ^^^^^^\nhint: poke, peek and fill only inside the RAM regions of the `ram` lines\n"
    );
    assert_eq!(
        rendered("repeat 2 {\n  a = 1\n"),
        "1:1: this `repeat` block is never closed\n 1 | repeat 2 {\n   | ^^^^^^^^^^\nhint: close it with `}` alone on a line\n"
    );
    assert_eq!(
        rendered("ram r 0 4K\nlab h 1K\nexpect fault OutOfMemroy\n"),
        "3:14: unknown fault kind\n 3 | expect fault OutOfMemroy\n   |              ^^^^^^^^^^^\nhint: did you mean `OutOfMemory`?\n"
    );
    assert_eq!(
        rendered("ram r 0 4K\nlab h 1K\nh.alloc 1\nexpect fault OutOfMemory\n"),
        "4:8: expectation failed: expected fault OutOfMemory, the last step gave none\n 4 | expect fault OutOfMemory\n   |        ^^^^^^^^^^^^^^^^^\n"
    );
}

#[test]
fn the_caret_counts_characters_and_wide_ones_twice() {
    let src = "note \"内存\" x\n";
    let e = error(src);
    assert_eq!((e.line, e.col, e.len), (1, 11, 1));
    assert_eq!(
        e.render(src).to_string(),
        "1:11: expected the end of the statement\n 1 | note \"内存\" x\n   |             ^\nhint: write one statement per line; comments start with `#`\n"
    );
    // An error at the end of a line points just past it.
    let e = error("ram r 0\n");
    assert_eq!(
        (e.col, e.kind),
        (8, ErrorKind::Expected("a number or a name"))
    );
    assert_eq!(
        e.render("ram r 0\n").to_string(),
        "1:8: expected a number or a name\n 1 | ram r 0\n   |        ^\n"
    );
}

// ---- golden traces ----

fn scripts_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scripts"))
}

#[test]
fn golden_traces() {
    let golden = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden"));
    let bless = std::env::var_os("MEMPLAY_BLESS").is_some_and(|v| v == "1");
    let mut scripts: Vec<_> = std::fs::read_dir(scripts_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mem"))
        .collect();
    scripts.sort();
    assert!(scripts.len() >= 4);
    let mut stale = vec![];
    for script in scripts {
        let source = std::fs::read_to_string(&script).unwrap();
        let (_, trace) = run(&source);
        let name = script.file_stem().unwrap().to_string_lossy().to_string();
        let path = golden.join(format!("{name}.trace"));
        if bless {
            std::fs::write(&path, &trace).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(trace.as_str()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "traces differ from tests/golden for {stale:?}; rerun with MEMPLAY_BLESS=1 to accept"
    );
}

// ---- no input panics ----

/// Words and symbols of the language, so random text often gets past the lexer.
const VOCABULARY: &[&str] = &[
    "ram",
    "sys",
    "ctrl",
    "part",
    "lab",
    "seed",
    "poke",
    "poke32",
    "peek",
    "fill",
    "note",
    "check",
    "expect",
    "tick",
    "repeat",
    "table",
    "preset",
    "mtk",
    "on",
    "at",
    "from",
    "block",
    "policy",
    "order",
    "best",
    "size_asc",
    "coalesce",
    "off",
    "header",
    "align",
    "alloc",
    "free",
    "realloc",
    "any",
    "owner",
    "in",
    "fault",
    "none",
    "OutOfMemory",
    "rand",
    "used",
    "left",
    "frag",
    "searched",
    "a",
    "b",
    "r",
    "h",
    "0",
    "1",
    "4K",
    "0x1000",
    "0xffffffff",
    "32x4",
    "4294967295",
    "=",
    "==",
    "<=",
    ".",
    "+",
    "-",
    "*",
    "(",
    ")",
    ",",
    "{",
    "}",
    "\"x\"",
    "#",
    "\n",
    " ",
    "\t",
    "内",
    // dyn, tlsf, adm, asm, screen, awtk
    "dyn",
    "tlsf",
    "adm",
    "asm",
    "screen",
    "awtk",
    "preset",
    "mtk_phone",
    "awtk_baremetal",
    "pool",
    "apps",
    "subpools",
    "logging",
    "lists",
    "spare",
    "grow",
    "sl",
    "own_class",
    "stack",
    "lock",
    "oom",
    "debug",
    "simple",
    "release",
    "oldest",
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
    "dump",
    "cache",
    ":",
    "state",
    "prompt",
    "open",
    "GuardCorrupted",
    "Deadlock",
    "usage",
    "leaks",
    "granted",
    "victim",
    // pages, vm, tasks, timers
    "pages",
    "vm",
    "task",
    "behaviour",
    "on",
    "timers",
    "boot",
    "send",
    "run",
    "timer",
    "liteos_a",
    "order",
    "get",
    "put",
    "lru",
    "touch",
    "reclaim",
    "init",
    "space",
    "user",
    "region",
    "rw",
    "heap",
    "access",
    "write",
    "translate",
    "brk",
    "sbrk",
    "vmalloc",
    "map",
    "prio",
    "ext",
    "int",
    "mmi",
    "MMI",
    "L4",
    "msg",
    "entry",
    "reply",
    "post",
    "start",
    "stop",
    "cancel",
    "delay",
    "callback",
    "aligned",
    "->",
    "queue",
    "free_pages",
    "free_order",
    "pending",
    "running",
    "SegFault",
    "QueueFull",
];

fn vocabulary_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(VOCABULARY), 0..60).prop_map(|w| w.join(" "))
}

/// Checks, builds and runs `text` on a 1 MiB machine; only a panic fails.
fn survive(text: &str) {
    let _ = check(text);
    if let Ok(mut m) = Machine::new(vec![0u8; 1 << 20], text) {
        let _ = m.run(&mut Quiet, 2_000);
        let _ = m.next_line();
        if let Some(e) = m.halted() {
            let _ = e.render(text).to_string();
        }
    }
    let mut m = Machine::new(vec![0u8; 4096], "ram r 0 4K\nlab h 2K\n").unwrap();
    let _ = m.run(&mut Quiet, 10);
    for line in text.lines().take(20) {
        if let Err(e) = m.exec(line, 1, &mut Quiet) {
            let _ = e.render(line).to_string();
        }
    }
}

fn valid_scripts() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(scripts_dir())
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    out.push(format!(
        "{BOOT}ctrl preset mtk\nrepeat 3 {{\n a = ctrl.alloc rand(1, 3000)\n ctrl.free any\n}}\n"
    ));
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        survive(&text);
    }

    #[test]
    fn random_words_never_panic(text in vocabulary_text()) {
        survive(&text);
    }

    #[test]
    fn mutated_scripts_never_panic(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..4, prop::sample::select(VOCABULARY)), 1..6),
    ) {
        let scripts = valid_scripts();
        let mut text = pick.get(&scripts).clone();
        for (at, op, word) in edits {
            let boundaries: Vec<usize> = (0..=text.len()).filter(|&i| text.is_char_boundary(i)).collect();
            let i = *at.get(&boundaries);
            let next = boundaries.iter().copied().find(|&j| j > i).unwrap_or(i);
            match op {
                0 => text.replace_range(i..next, ""),
                1 => text.insert_str(i, word),
                2 => text.replace_range(i..next, word),
                _ => {
                    // Swap this line with the next one.
                    let mut lines: Vec<&str> = text.lines().collect();
                    let k = i % lines.len().max(1);
                    if k + 1 < lines.len() {
                        lines.swap(k, k + 1);
                    }
                    text = lines.join("\n");
                }
            }
        }
        survive(&text);
    }
}

#[test]
fn the_reference_page_examples_run() {
    let page =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/script.md")).unwrap();
    let mut examples = 0;
    let mut rest = page.as_str();
    while let Some(start) = rest.find("```mem\n") {
        let body = &rest[start + 7..];
        let end = body.find("```").unwrap();
        run(&body[..end]);
        examples += 1;
        rest = &body[end + 3..];
    }
    assert!(examples >= 2);
}

#[test]
fn a_destination_is_always_assigned() {
    let (m, _) = run(
        "ram r 0x1000 4K\nlab h 1K\nx = h.free any\ny = h.free 0x1004\nexpect fault DoubleFree\n",
    );
    assert_eq!((m.var("x"), m.var("y")), (Some(0), Some(0)));
}
