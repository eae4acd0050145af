//! The `pages` subsystem in the script language: configuration (page size, areas),
//! every operation and figure, its faults and their kinds, static errors, the preset, and
//! random page workloads that never break the buddy's invariants or panic.

mod script_common;

use memplay_engine::machine::{Machine, Pool};
use memplay_engine::pages::PageError;
use memplay_engine::script::ast::FAULT_KINDS;
use memplay_engine::script::{check, ErrorKind, StepFault};
use memplay_engine::{AllocError, ConfigError, Name};
use proptest::prelude::*;
use script_common::{error, last_fault, machine, rendered, run, step_lines, survive};

/// 32 KiB of DDR as 1 KiB pages: boot memory takes 2, 30 are free in blocks of orders
/// 1 (at 0x80000800), 2 (0x80001000), 3 (0x80002000) and 4 (0x80004000).
const DDR: &str = "ram ddr 0x80000000 32K\npages 1K on ddr\n";

fn kind(source: &str) -> Option<&'static str> {
    last_fault(source).map(|f| f.kind())
}

// ---- configuration ----

#[test]
fn pages_boots_over_the_rest_of_a_region() {
    let (m, trace) = run(DDR);
    let pm = m.phys().unwrap();
    assert_eq!(pm.page_size(), 1024);
    assert_eq!(pm.segments().len(), 1);
    assert_eq!(pm.managed_pages(), 30);
    assert!(matches!(m.pool("pages"), Some(Pool::Pages(_))));
    assert!(trace.contains("0002 pages.init base=0x80000000 size=32768"));
    assert!(trace.contains("0002 pages.segment seg=0 start=0x80000800 npages=30"));
}

#[test]
fn pages_default_size_areas_and_placement() {
    // No page size: LiteOS's 4 KiB. No area: what is left of every region, in address
    // order, each start rounded up to a page.
    let src = "ram hi 0x90000000 16K\nram lo 0x80000000 20K\npart p 16x2 on lo\npages\n";
    let (m, _) = run(src);
    let pm = m.phys().unwrap();
    assert_eq!(pm.page_size(), 4096);
    let starts: Vec<_> = pm.segments().iter().map(|s| s.start).collect();
    // The partition pool took the start of lo, so lo's pages start at its second page;
    // boot memory then takes the first page of the lowest area.
    assert_eq!(starts, [0x8000_2000, 0x9000_0000]);
    assert_eq!(pm.managed_pages(), 3 + 4);

    // `on REGION SIZE` takes the next bytes; a later pool is placed after them.
    let src = "ram ddr 0x80000000 64K\npages 1K on ddr 16K\nlab h 1K on ddr\n";
    let (m, _) = run(src);
    assert_eq!(m.phys().unwrap().managed_pages(), 15);
    let Some(Pool::Lab(h)) = m.pool("h") else {
        panic!()
    };
    assert_eq!(h.pool().0, 0x8000_4000);

    // `at BASE SIZE` is explicit; areas may come in any order.
    let src = "ram ddr 0x80000000 64K\npages 1K at 0x80008000 8K at 0x80000000 8K\n";
    let (m, _) = run(src);
    let starts: Vec<_> = m
        .phys()
        .unwrap()
        .segments()
        .iter()
        .map(|s| s.start)
        .collect();
    assert_eq!(starts, [0x8000_0400, 0x8000_8000]);
}

#[test]
fn a_page_configuration_the_engine_refuses_is_a_fault() {
    let src = "ram ddr 0x80000000 32K\npages 3000 on ddr\nexpect fault Config\n";
    let (m, trace) = run(src);
    assert!(m.phys().is_none());
    assert!(
        trace.contains("0002 pages.fault op=boot error=Config"),
        "{trace}"
    );
    // Using the pages that do not exist is then a hard error.
    let e = error(&format!("{src}pages.alloc order 0\n"));
    assert_eq!(
        (e.line, e.kind),
        (4, ErrorKind::UnknownPool(Name::lit("pages")))
    );
    // An area smaller than one page.
    assert_eq!(
        kind("ram ddr 0x80000000 1K\npages 256 at 0x80000000 100\n"),
        Some("Config")
    );
    // More room asked of a region than it has left is a script error.
    let e = error("ram ddr 0x80000000 8K\npages 1K on ddr 16K\n");
    assert!(matches!(e.kind, ErrorKind::RegionFull { .. }), "{e:?}");
}

// ---- operations ----

#[test]
fn alloc_by_order_by_pages_and_by_bytes() {
    let src = format!(
        "{DDR}a = pages.alloc order 2\nb = pages.alloc 3 pages\nc = pages.alloc 1000 owner 7\nn = pages.alloc order 10\n"
    );
    let (m, trace) = run(&src);
    assert_eq!(m.var("a"), Some(0x8000_1000));
    // Three pages take an order-2 block, split from the order-3 one.
    assert_eq!(m.var("b"), Some(0x8000_2000));
    assert_eq!(m.var("c"), Some(0x8000_0800));
    // A failed allocation assigns 0.
    assert_eq!(m.var("n"), Some(0));
    let pm = *m.phys().unwrap();
    let c = pm.block_info(m.ram(), 0x8000_0800).unwrap().unwrap();
    assert_eq!((c.order, c.owner.0, c.refs), (0, 7, 1));
    assert!(trace.contains("0004 pages.alloc addr=0x80002000 size=3072 block=4096 owner=-"));
    assert_eq!(
        step_lines(&trace, 6),
        ["pages.fault op=alloc_pages order=10 error=BadOrder order=10"]
    );
}

#[test]
fn the_three_ways_to_free() {
    let src = format!(
        "{DDR}a = pages.alloc order 2\nb = pages.alloc 3 pages\nc = pages.alloc order 0\n\
         pages.free a\npages.free b 3 pages\npages.free c order 0\nexpect free_pages(pages) == 30\n"
    );
    let (_, trace) = run(&src);
    assert!(trace.contains("0006 pages.free addr=0x80001000 block=4096"));
    assert!(trace.contains("0007 pages.free addr=0x80002000 block=4096"));
    assert!(trace.contains("0008 pages.free addr=0x80000800 block=1024"));
    // `free any` picks a live block with the PRNG, through the allocator interface.
    let src = format!("{DDR}a = pages.alloc order 1\nx = pages.free any\nexpect x == a\n");
    run(&src);
}

#[test]
fn references_lru_and_reclaim() {
    let src = format!(
        "{DDR}a = pages.alloc order 2\nc = pages.alloc order 0\nn = pages.get a\npages.put a\n\
         pages.lru a\npages.lru c\npages.touch c\ni = inactive(pages)\nv = active(pages)\n\
         r = pages.reclaim 5\n"
    );
    let (m, trace) = run(&src);
    assert_eq!(m.var("n"), Some(2));
    assert_eq!(
        step_lines(&trace, 6).last().unwrap(),
        "pages.put page=0x80001000 refs=1"
    );
    assert_eq!((m.var("i"), m.var("v")), (Some(1), Some(1)));
    // Reclaim takes the inactive tail, then refills from the active list.
    assert_eq!(m.var("r"), Some(2));
    let pm = *m.phys().unwrap();
    assert_eq!(pm.lru_sizes(m.ram()).unwrap(), (0, 0));
    assert!(trace.contains("0012 pages.writeback page=0x80001000 order=2 pte=0x00000000"));
    assert!(trace.contains("0012 pages.writeback page=0x80000800 order=0 pte=0x00000000"));
    let touched = step_lines(&trace, 9);
    assert_eq!(
        touched.last().unwrap(),
        "pages.touch page=0x80000800 from=inactive"
    );
    assert!(pm.block_info(m.ram(), 0x8000_1000).unwrap().unwrap().free);
}

#[test]
fn figures_read_the_buddy() {
    let src = format!(
        "{DDR}p = free_pages(pages)\nq = free_order(pages, 4)\na = pages.alloc order 4\n\
         r = free_order(pages, 4)\nu = used(pages)\nb = blocks(pages)\nl = largest(pages)\n"
    );
    let (m, _) = run(&src);
    let v = |n: &str| m.var(n).unwrap();
    assert_eq!((v("p"), v("q"), v("r")), (30, 1, 0));
    // The pool figures come from the buddy's walk.
    assert_eq!((v("u"), v("b"), v("l")), (16 * 1024, 1, 8 * 1024));
    let e = error(&format!("{DDR}x = free_order(pages, 10)\n"));
    assert_eq!(e.kind, ErrorKind::Expected("an order from 0 to 9"));
}

// ---- faults ----

#[test]
fn every_page_fault_is_a_step_fault_with_its_kind() {
    let cases = [
        ("pages.alloc 0 pages", "ZeroPages"),
        ("pages.alloc order 12", "BadOrder"),
        ("pages.alloc 600 pages", "TooLarge"),
        ("pages.alloc 16 pages\npages.alloc 16 pages", "OutOfPages"),
        ("pages.free 0x12345", "NotPage"),
        ("a = pages.alloc order 2\npages.free a + 1K", "NotBlockHead"),
        (
            "a = pages.alloc order 2\npages.free a\npages.free a",
            "DoubleFree",
        ),
        (
            "a = pages.alloc order 2\npages.free a order 1",
            "WrongOrder",
        ),
        ("a = pages.alloc order 2\npages.touch a", "NotOnLru"),
        (
            "a = pages.alloc order 2\npages.lru a\npages.lru a",
            "AlreadyOnLru",
        ),
        ("pages.free 0x80001000", "DoubleFree"),
        ("a = pages.alloc 0", "ZeroSize"),
    ];
    for (body, want) in cases {
        let src = format!("{DDR}{body}\nexpect fault {want}\n");
        let (m, trace) = run(&src);
        let fault = m.last_fault().unwrap();
        assert_eq!(fault.source.as_str(), "pages", "{body}");
        assert!(trace.contains(&format!("error={want}")), "{body}:\n{trace}");
    }
    // The fault is typed: a page error keeps its fields.
    let f = last_fault(&format!("{DDR}pages.free 0x80001000 order 1\n")).unwrap();
    assert_eq!(
        f,
        StepFault::Page(PageError::DoubleFree { addr: 0x8000_1000 })
    );
}

#[test]
fn check_finds_a_corrupted_page_entry() {
    // Entries are 36 bytes from the array at 0x80000000 + 176; a's entry (page 4 of the
    // area, index 2 of the segment) holds its reference count at +20.
    let src = format!(
        "{DDR}a = pages.alloc order 2\npoke32 0x80000000 + 176 + 2 * 36 + 20 0\ncheck\npages.free a\n"
    );
    let mut m = machine(&src);
    m.run(&mut memplay_engine::trace::Quiet, 100).unwrap();
    let fault = m.last_fault().unwrap();
    assert!(
        matches!(
            fault.error,
            StepFault::Page(PageError::Meta(AllocError::Corrupted { .. }))
        ),
        "{fault:?}"
    );
    let (_, trace) = run(&format!("{src}expect fault Corrupted\n"));
    assert!(
        trace.contains("0005 pages.fault op=check error=Corrupted"),
        "{trace}"
    );
}

#[test]
fn every_page_error_kind_is_a_fault_kind() {
    let errors = [
        PageError::ZeroPages,
        PageError::BadOrder { order: 10 },
        PageError::TooLarge { npages: 1, max: 1 },
        PageError::OutOfPages {
            order: 1,
            largest: None,
        },
        PageError::NotPage { addr: 0 },
        PageError::NotBlockHead { addr: 0 },
        PageError::DoubleFree { addr: 0 },
        PageError::WrongOrder {
            addr: 0,
            given: 0,
            actual: 1,
        },
        PageError::Mapped { addr: 0, pte: 0 },
        PageError::NotOnLru { addr: 0 },
        PageError::AlreadyOnLru { addr: 0 },
        PageError::Meta(AllocError::InvalidPointer { addr: 0 }),
        PageError::Config(ConfigError::NoBlocks),
    ];
    for e in errors {
        assert!(FAULT_KINDS.contains(&e.kind()), "{}", e.kind());
        assert_eq!(StepFault::from(e).kind(), e.kind());
    }
}

// ---- static errors ----

#[test]
fn page_lines_are_checked_before_running() {
    assert_eq!(
        rendered(&format!("{DDR}a = pages.alloc 3 page\n")),
        "3:19: expected the end of the statement\n 3 | a = pages.alloc 3 page\n   |                   ^^^^\nhint: write one statement per line; comments start with `#`\n"
    );
    assert_eq!(
        rendered(&format!("{DDR}pages.free 0x80001000 2\n")),
        "3:24: expected `pages`\n 3 | pages.free 0x80001000 2\n   |                        ^\nhint: free a block as `pages.free P`, `pages.free P order K` or `pages.free P N pages`\n"
    );
    assert_eq!(
        rendered(&format!("{DDR}pages.tuch 0\n")),
        "3:7: `pages` has no such operation\n 3 | pages.tuch 0\n   |       ^^^^\nhint: did you mean `touch`?\n"
    );
    let e = check("ram r 0 4K\nlab h 1K\nx = free_pages(h)\n").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Expected("the `pages` pool"));
    let e = check(&format!("{DDR}pages 1K on ddr\n")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Duplicate(Name::lit("pages")));
    let e = check("ram ddr 0 4K\npages 1K sideways\n").unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Expected("`on REGION [SIZE]` or `at BASE SIZE`")
    );
    let e = check("ram ddr 0 4K\npages 1K on dram\n").unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnknownRegion(Name::lit("dram")));
    let e = check(&format!("{DDR}pages = 3\n")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Reserved(Name::lit("pages")));
}

// ---- a `dyn` pool that grows from the pages ----

/// 64 KiB of DDR: 32 KiB of 1 KiB pages (30 free, as in [`DDR`]), then room for a heap.
const DDR_AND_HEAP: &str = "ram ddr 0x80000000 64K\npages 1K on ddr 32K\n";

/// The step's lines that are `source`'s `word` lines, as (index in the step, line).
fn lines_of(lines: &[String], source_word: &str) -> Vec<(usize, String)> {
    let prefix = format!("{source_word} ");
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with(&prefix))
        .map(|(i, l)| (i, l.clone()))
        .collect()
}

/// The value of `key=` in a trace line.
fn field(line: &str, key: &str) -> String {
    let prefix = format!("{key}=");
    line.split(' ')
        .find_map(|w| w.strip_prefix(&prefix))
        .unwrap()
        .to_string()
}

#[test]
fn a_dyn_pool_grows_by_pages_from_the_buddy() {
    // 4 KiB of heap; the next request does not fit, so the pool takes contiguous pages
    // from the buddy (`OsMemPoolExpand`): the buddy's `alloc`, then the pool's `grow` over
    // that very block, then the pool's own `alloc` in it.
    let src = format!(
        "{DDR_AND_HEAP}dyn h 4K on ddr grow from pages
a = h.alloc 3000
f = free_pages(pages)
b = h.alloc 2000
check
"
    );
    assert!(check(&src).is_ok());
    let (m, trace) = run(&src);
    let Some(Pool::Dyn(h)) = m.pool("h") else {
        panic!()
    };
    assert_eq!(h.grow, Some(Name::lit("pages")));
    let step = step_lines(&trace, 6);
    let pages = lines_of(&step, "pages.alloc");
    let grow = lines_of(&step, "h.grow");
    let alloc = lines_of(&step, "h.alloc");
    assert_eq!(
        (pages.len(), grow.len(), alloc.len()),
        (1, 1, 1),
        "{step:#?}"
    );
    assert!(
        pages[0].0 < grow[0].0 && grow[0].0 < alloc[0].0,
        "{step:#?}"
    );
    assert_eq!(field(&pages[0].1, "addr"), field(&grow[0].1, "addr"));
    // 2000 bytes and a node header need two 1 KiB pages: an order-1 block.
    assert_eq!(field(&grow[0].1, "size"), "2048");
    let b = m.var("b").unwrap();
    let grown =
        u32::from_str_radix(field(&grow[0].1, "addr").trim_start_matches("0x"), 16).unwrap();
    assert!(b > grown && b < grown + 2048);
    let free_after = m.phys().unwrap().free_pages_count(m.ram()).unwrap();
    assert_eq!(free_after, m.var("f").unwrap() as u64 - 2);
    assert_eq!(m.summary().faults, 0);
}

#[test]
fn a_dyn_pool_out_of_pages_is_out_of_memory() {
    // Once the buddy has nothing left to give, the pool's request fails as LiteOS's does.
    let src = format!(
        "{DDR_AND_HEAP}dyn h 2K on ddr grow from pages
a = h.alloc 64K
"
    );
    let (m, trace) = run(&src);
    assert_eq!(m.var("a"), Some(0));
    assert!(!trace.contains("h.grow"));
    assert!(matches!(
        m.last_fault().map(|f| f.error),
        Some(StepFault::Alloc(
            AllocError::OutOfMemory { .. } | AllocError::TooLarge { .. }
        ))
    ));
}

#[test]
fn the_liteos_a_kernel_heap_grows_from_pages() {
    // The preset's kernel heap (256 KiB of DDR) grows by the preset's pages once full.
    let src = "preset liteos_a
a = heap.alloc 200K
f = free_pages(pages)
b = heap.alloc 100K
expect free_pages(pages) < f
check
";
    assert!(check(src).is_ok());
    let (m, trace) = run(src);
    let step = step_lines(&trace, 4);
    let pages = lines_of(&step, "pages.alloc");
    let grow = lines_of(&step, "heap.grow");
    assert_eq!((pages.len(), grow.len()), (1, 1), "{step:#?}");
    assert!(pages[0].0 < grow[0].0);
    assert_eq!(field(&pages[0].1, "addr"), field(&grow[0].1, "addr"));
    assert_ne!(m.var("b"), Some(0));
    assert_eq!(m.summary().faults, 0);
}

// ---- the example script ----

#[test]
fn the_example_script_runs_with_its_expectations() {
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/scripts/pages.mem"
    ))
    .unwrap();
    let (m, _) = run(&src);
    assert_eq!(m.summary().failures, 0);
    assert_eq!(m.summary().faults, 3);
}

// ---- random workloads ----

/// A page workload: random orders and counts, LRU moves, frees, reclaim, and a full
/// check after every round.
fn workload(seed: u32, rounds: u32) -> String {
    format!(
        "ram ddr 0x80000000 64K\npages 256 on ddr\nseed {seed}\nrepeat {rounds} {{\n\
         a = pages.alloc order rand(0, 4)\n\
         b = pages.alloc rand(1, 9) pages\n\
         pages.lru b\n\
         pages.touch a\n\
         pages.free any\n\
         r = pages.reclaim rand(0, 2)\n\
         c = pages.alloc rand(1, 3000)\n\
         pages.free any\n\
         check\n\
         }}\n"
    )
}

#[test]
fn random_workloads_keep_the_buddy_consistent() {
    let mut steps = 0;
    for seed in 0..40 {
        let src = workload(seed, 30);
        let (m, trace) = run(&src);
        assert!(!trace.contains("op=check"), "seed {seed}:\n{trace}");
        let pm = *m.phys().unwrap();
        pm.check(m.ram()).unwrap();
        steps += m.steps();
    }
    assert!(steps >= 10_000, "{steps}");
}

const WORDS: &[&str] = &[
    "pages",
    "pages.alloc",
    "pages.free",
    "pages.get",
    "pages.put",
    "pages.lru",
    "pages.touch",
    "pages.reclaim",
    "order",
    "any",
    "free_pages(pages)",
    "free_order(pages,",
    ")",
    "1K",
    "256",
    "0x80000000",
    "0x80001000",
    "0",
    "3",
    "10",
    "4294967295",
    "a",
    "=",
    "on",
    "ddr",
    "at",
    "+",
    "-",
    "\n",
    " ",
    "check",
    "expect",
    "fault",
    "OutOfPages",
    "repeat",
    "{",
    "}",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_page_words_never_panic(
        words in prop::collection::vec(prop::sample::select(WORDS), 0..40)
    ) {
        let text = format!("ram ddr 0x80000000 64K\npages 1K on ddr\n{}", words.join(" "));
        survive("ram ddr 0x80000000 64K\npages 1K on ddr\na = pages.alloc order 1\n", &text);
    }
}

#[test]
fn a_machine_with_pages_is_a_snapshot() {
    let src = workload(7, 10);
    let mut m = machine(&src);
    for _ in 0..25 {
        m.step(&mut memplay_engine::trace::Quiet).unwrap();
    }
    let snapshot = m.clone();
    let mut a = String::new();
    let mut b = String::new();
    let mut sa = memplay_engine::trace::TextSink::new(&mut a);
    m.run_traced(&mut sa, 10_000).unwrap();
    let mut copy: Machine<Vec<u8>, String> = snapshot;
    let mut sb = memplay_engine::trace::TextSink::new(&mut b);
    copy.run_traced(&mut sb, 10_000).unwrap();
    assert_eq!(a, b);
}
