//! The `vm` subsystem in the script language: configuration, spaces, regions and their
//! permissions, map/unmap/translate, demand paging, brk and sbrk, vmalloc, `space_of`,
//! every VM fault kind, `check`, static errors, and random VM workloads that keep the
//! page tables consistent and never panic.

mod script_common;

use memplay_engine::pages::PageError;
use memplay_engine::script::ast::FAULT_KINDS;
use memplay_engine::script::{check, ErrorKind, StepFault};
use memplay_engine::trace::Quiet;
use memplay_engine::vm::{rf, SpaceId, SpaceKind, VmConfig, VmError};
use memplay_engine::{AllocError, ConfigError, Name};
use proptest::prelude::*;
use script_common::{error, last_fault, machine, rendered, run, step_lines, survive};

/// 64 KiB of DDR as 1 KiB pages, virtual memory with LiteOS-A's layout scaled down, and
/// one process (slot 2) that runs.
const VM: &str = "ram ddr 0x80000000 64K\npages 1K on ddr\nvm init\nu = vm.space user\n";

fn kind(body: &str) -> Option<&'static str> {
    last_fault(&format!("{VM}{body}\n")).map(|f| f.kind())
}

// ---- configuration and spaces ----

#[test]
fn vm_init_builds_the_kernel_and_vmalloc_spaces() {
    let (m, trace) = run("ram ddr 0x80000000 64K\npages 1K on ddr\nvm\n");
    let vm = *m.vm().unwrap();
    assert_eq!(vm.config(), VmConfig::default());
    let k = vm.space(m.ram(), SpaceId::KERNEL).unwrap();
    assert_eq!((k.kind, k.base), (SpaceKind::Kernel, 0x4000_0000));
    assert!(
        trace.contains("0003 vm.space space=0 kind=kernel"),
        "{trace}"
    );
    assert!(
        trace.contains("0003 vm.space space=1 kind=vmalloc"),
        "{trace}"
    );
    // `vm` is not among the pools (it is no allocator), but `vm.verb` reaches it.
    assert!(m.pool("vm").is_none());
    assert_eq!(vm.current(m.ram()).unwrap(), None);
}

#[test]
fn vm_layout_settings() {
    let src = "ram ddr 0x80000000 64K\npages 1K on ddr\n\
               vm init user 0x10000000 16M map 0x10800000 8M heap 0x10400000 vmalloc 0x50000000 1M\n";
    let (m, _) = run(src);
    let c = m.vm().unwrap().config();
    assert_eq!(
        (
            c.user_base,
            c.user_map_base,
            c.user_heap_base,
            c.vmalloc_base
        ),
        (0x1000_0000, 0x1080_0000, 0x1040_0000, 0x5000_0000)
    );
    // A layout the engine refuses is a fault; `vm` then does not exist.
    let src = "ram ddr 0x80000000 64K\npages 1K on ddr\nvm init user 0x10000010 16M\nexpect fault Config\n";
    let (m, trace) = run(src);
    assert!(m.vm().is_none());
    assert!(
        trace.contains("0003 vm.fault op=init error=Config"),
        "{trace}"
    );
    let e = error(&format!("{src}vm.space user\n"));
    assert_eq!(
        (e.line, e.kind),
        (5, ErrorKind::UnknownPool(Name::lit("vm")))
    );
    // Pages larger than the 4 KiB VM page cannot back it.
    let src = "ram ddr 0x80000000 64K\npages 8K on ddr\nvm init\nexpect fault Config\n";
    run(src);
}

#[test]
fn user_spaces_the_first_runs_at_once() {
    let src = format!("{VM}w = vm.space user\nk = vm.space kernel\nv = vm.space vmalloc\n");
    let (m, trace) = run(&src);
    assert_eq!(
        (m.var("u"), m.var("w"), m.var("k"), m.var("v")),
        (Some(2), Some(3), Some(0), Some(1))
    );
    let vm = *m.vm().unwrap();
    assert_eq!(vm.current(m.ram()).unwrap(), Some(SpaceId(2)));
    assert_eq!(step_lines(&trace, 4).last().unwrap(), "vm.switch space=2");
    // The second does not switch; `vm.switch` does.
    assert!(!step_lines(&trace, 5).iter().any(|l| l.contains("switch")));
    let (m, _) = run(&format!("{src}vm.switch w\n"));
    assert_eq!(m.vm().unwrap().current(m.ram()).unwrap(), Some(SpaceId(3)));
}

// ---- regions ----

#[test]
fn region_permissions_flags_and_names() {
    let src = format!(
        "{VM}a = vm.region u 0x01000000 8K rw heap\nb = vm.region u 0x01100000 4K rx name text\n\
         c = vm.region u 0 4K rwu\nd = vm.region u 0x01200000 4K rwh user\n"
    );
    let (m, trace) = run(&src);
    let vm = *m.vm().unwrap();
    let mut regions = vec![];
    vm.regions(m.ram(), SpaceId(2), &mut |r| {
        regions.push((r.start, r.flags, r.name.to_string()))
    })
    .unwrap();
    // `vm.region SPACE 0 ...` places the region at the lowest gap of the map range.
    assert_eq!(m.var("c"), Some(0x0180_0000));
    assert_eq!(
        regions,
        [
            (
                0x0100_0000,
                rf::READ | rf::WRITE | rf::HEAP,
                "heap".to_string()
            ),
            (0x0110_0000, rf::READ | rf::EXEC, "text".to_string()),
            (
                0x0120_0000,
                rf::READ | rf::WRITE | rf::HEAP | rf::USER,
                "heap".to_string()
            ),
            (
                0x0180_0000,
                rf::READ | rf::WRITE | rf::USER,
                "map".to_string()
            ),
        ]
    );
    assert!(
        trace.contains("0006 vm.region space=2 start=0x01100000 size=4096 flags=r-x-- name=text")
    );
    let (m, _) = run(&format!("{src}vm.region_free u 0x01100000\n"));
    let mut n = 0;
    m.vm()
        .unwrap()
        .regions(m.ram(), SpaceId(2), &mut |_| n += 1)
        .unwrap();
    assert_eq!(n, 3);
}

// ---- mapping and translation ----

#[test]
fn map_unmap_and_translate_with_or_without_a_space() {
    let src = format!(
        "{VM}vm.region u 0x01000000 8K rw\np = pages.alloc 4096\nvm.map u 0x01000000 p\n\
         q = pages.alloc 4096\nvm.map 0x01001000 q\nx = vm.translate 0x01001008\n\
         y = vm.translate u 0x01000010\nvm.unmap 0x01001000\nvm.unmap u 0x01000000\n\
         k = vm.translate 0x40000400\n"
    );
    let (m, trace) = run(&src);
    let (p, q) = (m.var("p").unwrap(), m.var("q").unwrap());
    assert_eq!(m.var("x"), Some(q + 8));
    assert_eq!(m.var("y"), Some(p + 0x10));
    assert_eq!(m.var("k"), Some(0x8000_0400));
    assert!(trace.contains(&format!("vm.map space=2 vaddr=0x01001000 paddr={q:#010x}")));
    assert!(trace.contains(&format!(
        "vm.unmap space=2 vaddr=0x01000000 paddr={p:#010x}"
    )));
    // Without a space, an address no space holds is a segmentation fault.
    let (_, trace) = run(&format!(
        "{VM}vm.translate 0x30000000\nexpect fault SegFault\n"
    ));
    assert!(trace.contains(
        "vm.fault op=translate space=4294967295 vaddr=0x30000000 error=SegFault vaddr=0x30000000"
    ));
}

#[test]
fn demand_paging_maps_a_zeroed_page_on_first_touch() {
    let src = format!(
        "{VM}vm.region u 0x01000000 64K rw heap\nf = free_pages(pages)\na = vm.access 0x01000010 write\n\
         g = free_pages(pages)\nb = vm.access 0x01000020\nh = free_pages(pages)\n"
    );
    let (m, trace) = run(&src);
    let v = |n: &str| m.var(n).unwrap();
    // A 4 KiB page (4 physical pages) and a 1 KiB L2 table.
    assert_eq!(v("f") - v("g"), 5);
    assert_eq!(v("g"), v("h"));
    assert_eq!(v("b"), v("a") + 0x10);
    let fault = step_lines(&trace, 7);
    assert!(fault
        .iter()
        .any(|l| l == "vm.page_fault vaddr=0x01000010 region=0x01000000"));
    assert!(fault
        .last()
        .unwrap()
        .starts_with("vm.access vaddr=0x01000010"));
    // The page is on the LRU list and touched on the next access.
    assert_eq!(m.phys().unwrap().lru_sizes(m.ram()).unwrap(), (0, 1));
}

#[test]
fn brk_and_sbrk_move_the_heap_break() {
    let src = format!(
        "{VM}z = vm.brk u 0\na = vm.brk u +6K\nb = vm.brk u -2K\nc = vm.sbrk u 1K\nd = vm.sbrk u -1K\n\
         e = vm.brk u 0x01402000\nvm.access 0x01401ffc write\n"
    );
    let (m, trace) = run(&src);
    let v = |n: &str| m.var(n).unwrap();
    assert_eq!(v("z"), 0x0140_0000);
    assert_eq!(v("a"), 0x0140_1800);
    assert_eq!(v("b"), 0x0140_1000);
    // sbrk gives the old break.
    assert_eq!((v("c"), v("d")), (0x0140_1000, 0x0140_1400));
    assert_eq!(v("e"), 0x0140_2000);
    assert!(trace.contains("0006 vm.brk space=2 old=0x01400000 new=0x01401800"));
    assert!(trace.contains("vm.region space=2 start=0x01400000 size=8192 flags=rw-uh name=heap"));
}

#[test]
fn vmalloc_vfree_and_space_of() {
    let src = format!(
        "{VM}v = vm.vmalloc 6K\ns = vm.space_of v\nt = vm.space_of 0x01000000\n\
         k = vm.space_of 0x40000000\nn = vm.space_of 0x30000000\nvm.vfree v\n"
    );
    let (m, trace) = run(&src);
    assert_eq!(m.var("v"), Some(0x4100_0000));
    assert_eq!(
        (m.var("s"), m.var("t"), m.var("k"), m.var("n")),
        (Some(1), Some(2), Some(0), Some(u32::MAX))
    );
    assert!(trace.contains("vm.region space=1 start=0x41000000 size=8192 flags=rw--- name=vmalloc"));
    assert!(step_lines(&trace, 10)
        .last()
        .unwrap()
        .starts_with("vm.region_free space=1"));
}

#[test]
fn destroy_gives_every_page_back() {
    let src = "ram ddr 0x80000000 64K\npages 1K on ddr\nvm init\nf = free_pages(pages)\n\
               u = vm.space user\nvm.region u 0x01000000 64K rw heap\nvm.access 0x01000000 write\n\
               vm.access 0x01008000 write\nvm.brk u +4K\nvm.access 0x01400000 write\nvm.destroy u\n\
               g = free_pages(pages)\ncheck\nexpect fault none\n";
    let (m, _) = run(src);
    assert_eq!(m.var("f"), m.var("g"));
}

// ---- faults ----

#[test]
fn every_vm_fault_is_a_step_fault_with_its_kind() {
    let cases = [
        ("vm.access 0x01000000", "SegFault"),
        ("vm.access 0x30000000 write", "SegFault"),
        ("vm.region u 0x01000000 4K r\nvm.access 0x01000000 write", "Protection"),
        ("vm.region u 0x01000000 4K w\nvm.access 0x01000000", "Protection"),
        ("vm.region u 0x01000000 4K r\nvm.access 0x01000000", "NotMapped"),
        ("vm.region u 0x01000000 4K rw\nvm.translate 0x01000000", "NotMapped"),
        (
            "vm.region u 0x01000000 4K rw\np = pages.alloc 4K\nq = pages.alloc 4K\nvm.map u 0x01000000 p\nvm.map u 0x01000000 q",
            "AlreadyMapped",
        ),
        ("vm.region u 0x01000000 8K rw\nvm.region u 0x01001000 4K rw", "Overlap"),
        ("vm.region u 0x03000000 4K rw", "OutsideSpace"),
        ("vm.region u 0 16M rw", "NoVirtualSpace"),
        ("vm.region u 0x01000010 4K rw", "Misaligned"),
        ("vm.region u 0x01000000 0 rw", "ZeroSize"),
        ("vm.region_free u 0x01000000", "NoSuchRegion"),
        ("vm.switch 5", "NoSuchSpace"),
        ("vm.switch 300", "NoSuchSpace"),
        ("vm.brk 0 +4K", "NotUserSpace"),
        (
            "x = 0x01000000\nrepeat 16 {\nvm.region u x 4K r\nx = x + 4K\n}\nvm.region u x 4K r",
            "TooManyRegions",
        ),
        (
            "vm.space user\nvm.space user\nvm.space user\nvm.space user",
            "TooManySpaces",
        ),
        ("vm.brk u 0x01000000", "BrkOutOfRange"),
        ("vm.sbrk u -4K", "BrkOutOfRange"),
        ("vm.brk u +16M", "BrkOutOfRange"),
        (
            "vm.region u 0x01000000 4K rw\nvm.map u 0x01000000 0x8000f000",
            "FrameNotAllocated",
        ),
        (
            "vm.region u 0x01000000 8K rw\np = pages.alloc 4K\nvm.map u 0x01000000 p\nvm.map u 0x01001000 p",
            "FrameMapped",
        ),
        (
            "vm.region u 0x01000000 4K rw\np = pages.alloc 4K\nvm.map u 0x01000000 p\npages.free p\npages.free p",
            "Mapped",
        ),
        ("vm.vmalloc 0", "ZeroSize"),
        ("vm.vfree 0x41000000", "NoSuchRegion"),
        (
            "repeat 64 {\npages.alloc 1K\n}\nvm.region u 0x01000000 4K rw heap\nvm.access 0x01000000 write",
            "OutOfPages",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(kind(body), Some(want), "{body}");
    }
    // The fault is typed and keeps its fields.
    assert_eq!(
        last_fault(&format!("{VM}vm.access 0x01000004 write\n")),
        Some(StepFault::Vm(VmError::SegFault { vaddr: 0x0100_0004 }))
    );
}

#[test]
fn frame_is_table_needs_a_page_table_address() {
    // The process's L1 table is a page of the buddy, marked as a table (4 KiB pages, so
    // that it is aligned as a VM page).
    let vm4k = VM.replace("pages 1K", "pages 4K");
    let (m, _) = run(&vm4k);
    let ttb = m.vm().unwrap().space(m.ram(), SpaceId(2)).unwrap().ttb;
    let src = format!("{vm4k}vm.region u 0x01000000 4K rw\nvm.map u 0x01000000 {ttb:#x}\n");
    assert_eq!(last_fault(&src).map(|f| f.kind()), Some("FrameIsTable"));
}

#[test]
fn check_finds_corrupt_vm_metadata() {
    let (m, _) = run(VM);
    let root = m.vm().unwrap().root_addr();
    let src = format!("{VM}poke32 {root:#x} 0\ncheck\nexpect fault Corrupted\n");
    let (m, trace) = run(&src);
    assert_eq!(m.last_fault().unwrap().source.as_str(), "vm");
    assert!(
        trace.contains("0006 vm.fault op=check error=Corrupted"),
        "{trace}"
    );
    // The operations that read it fail too.
    let src = format!("{VM}poke32 {root:#x} + 4 77\nvm.access 0x01000000\n");
    let f = last_fault(&src).unwrap();
    assert!(
        matches!(
            f,
            StepFault::Vm(VmError::Meta(AllocError::Inconsistent { .. }))
        ),
        "{f:?}"
    );
}

#[test]
fn every_vm_error_kind_is_a_fault_kind() {
    let errors = [
        VmError::SegFault { vaddr: 0 },
        VmError::Protection {
            vaddr: 0,
            write: true,
        },
        VmError::NotMapped { vaddr: 0 },
        VmError::AlreadyMapped { vaddr: 0, paddr: 0 },
        VmError::Overlap {
            start: 0,
            size: 0,
            other: 0,
        },
        VmError::OutsideSpace { start: 0, size: 0 },
        VmError::NoVirtualSpace { size: 0 },
        VmError::Misaligned { addr: 0 },
        VmError::ZeroSize,
        VmError::NoSuchRegion { addr: 0 },
        VmError::NoSuchSpace { space: 0 },
        VmError::NotUserSpace { space: 0 },
        VmError::TooManyRegions { max: 0 },
        VmError::TooManySpaces { max: 0 },
        VmError::BrkOutOfRange {
            addr: 0,
            base: 0,
            limit: 0,
        },
        VmError::FrameNotAllocated { paddr: 0 },
        VmError::FrameIsTable { paddr: 0 },
        VmError::FrameMapped { paddr: 0, pte: 0 },
        VmError::Page(PageError::ZeroPages),
        VmError::Meta(AllocError::DoubleFree { addr: 0 }),
        VmError::Config(ConfigError::NoBlocks),
    ];
    for e in errors {
        assert!(FAULT_KINDS.contains(&e.kind()), "{}", e.kind());
        assert_eq!(StepFault::from(e).kind(), e.kind());
    }
}

// ---- static errors ----

#[test]
fn vm_lines_are_checked_before_running() {
    assert_eq!(
        rendered("ram ddr 0x80000000 64K\nvm init\n"),
        "2:1: this needs physical pages (`pages`) configured first\n 2 | vm init\n   | ^^\nhint: virtual memory takes its control block and page tables from the buddy: add a `pages` line first\n"
    );
    assert_eq!(
        rendered(&format!("{VM}vm.region u 0x01000000 4K rwz\n")),
        "5:27: unknown setting\n 5 | vm.region u 0x01000000 4K rwz\n   |                           ^^^\nhint: write `vm.region SPACE ADDR SIZE rw [heap] [user] [name NAME]`; permissions are letters of `rwxuh`\n"
    );
    assert_eq!(
        rendered(&format!("{VM}vm.access 0x01000000 wrote\n")),
        "5:22: unknown access\n 5 | vm.access 0x01000000 wrote\n   |                      ^^^^^\nhint: did you mean `write`?\n"
    );
    let e = check(&format!("{VM}vm.space process\n")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnknownWord("space kind"));
    let e = check(&format!("{VM}vm init\n")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Duplicate(Name::lit("vm")));
    let e = check(&format!("{VM}vm.map 0x01000000\n")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Expected("a physical address"));
    let e = check(&format!("{VM}vm.sbrk u 3072M\n")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Expected("an increment of at most 2 GiB"));
    let e = check(&format!("{VM}vm init heap\n")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Duplicate(Name::lit("vm")));
    let e = check("ram ddr 0x80000000 64K\npages\nvm init stack 4K\n").unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnknownSetting);
}

#[test]
fn the_example_scripts_run_with_their_expectations() {
    for name in ["vm", "liteos_a"] {
        let path = format!("{}/tests/scripts/{name}.mem", env!("CARGO_MANIFEST_DIR"));
        let src = std::fs::read_to_string(path).unwrap();
        let (m, _) = run(&src);
        assert_eq!(m.summary().failures, 0, "{name}");
    }
}

#[test]
fn the_liteos_a_preset_is_one_step() {
    let (m, trace) = run("preset liteos_a\n");
    assert_eq!(m.steps(), 1);
    assert!(trace.lines().all(|l| l.starts_with("0001 ")));
    let pm = m.phys().unwrap();
    assert_eq!(pm.page_size(), 4096);
    assert!(m.vm().is_some());
    assert_eq!(m.ram().regions().next().unwrap().name.as_str(), "ddr");
    // What a preset defines cannot be defined again.
    let e = check("preset liteos_a\nram ddr 0 4K\n").unwrap_err();
    assert_eq!(
        (e.line, e.kind),
        (2, ErrorKind::Duplicate(Name::lit("ddr")))
    );
    let e = check("ram ddr 0 4K\npreset liteos_a\n").unwrap_err();
    assert_eq!(
        (e.line, e.col, e.kind),
        (2, 8, ErrorKind::Duplicate(Name::lit("ddr")))
    );
    assert_eq!(
        rendered("preset liteos\n"),
        "1:8: unknown preset\n 1 | preset liteos\n   |        ^^^^^^\nhint: did you mean `liteos_a`?\n"
    );
}

// ---- random workloads ----

/// A process touching, growing and shrinking its heap, mapping and unmapping pages,
/// with a full check (VM and buddy) after every round.
fn workload(seed: u32, rounds: u32) -> String {
    format!(
        "ram ddr 0x80000000 96K\npages 1K on ddr\nvm init\nu = vm.space user\n\
         vm.region u 0x01000000 32K rw heap\nvm.region u 0x01100000 8K rw\nseed {seed}\n\
         repeat {rounds} {{\n\
         vm.access 0x01000000 + rand(0, 32K - 1)\n\
         vm.access 0x01000000 + rand(0, 40K) write\n\
         vm.brk u 0x01400000 + rand(0, 12K)\n\
         vm.access 0x01400000 + rand(0, 8K) write\n\
         p = pages.alloc 4K\n\
         vm.map u 0x01100000 + rand(0, 1) * 4K p\n\
         vm.unmap u 0x01100000 + rand(0, 1) * 4K\n\
         pages.free p\n\
         v = vm.vmalloc rand(0, 9K)\n\
         vm.vfree v\n\
         pages.reclaim rand(0, 1)\n\
         check\n\
         }}\n"
    )
}

#[test]
fn random_workloads_keep_the_tables_consistent() {
    let mut steps = 0;
    for seed in 0..40 {
        let src = workload(seed, 25);
        let mut m = machine(&src);
        let mut sink = memplay_engine::trace::TextSink::new(String::new());
        m.run_traced(&mut sink, 100_000).unwrap();
        assert!(!sink.out.contains("op=check"), "seed {seed}:\n{}", sink.out);
        let vm = *m.vm().unwrap();
        vm.check(m.ram(), m.phys().unwrap()).unwrap();
        steps += m.steps();
    }
    assert!(steps >= 10_000, "{steps}");
}

const WORDS: &[&str] = &[
    "vm",
    "vm.space",
    "vm.region",
    "vm.region_free",
    "vm.map",
    "vm.unmap",
    "vm.translate",
    "vm.access",
    "vm.brk",
    "vm.sbrk",
    "vm.vmalloc",
    "vm.vfree",
    "vm.space_of",
    "vm.switch",
    "vm.destroy",
    "user",
    "kernel",
    "u",
    "rw",
    "r",
    "heap",
    "name",
    "write",
    "read",
    "+",
    "-",
    "0",
    "2",
    "7",
    "4K",
    "64K",
    "16M",
    "0x01000000",
    "0x01400000",
    "0x41000000",
    "0x40000000",
    "4294967295",
    "p",
    "=",
    "pages.alloc",
    "4096",
    "\n",
    " ",
    "check",
    "expect",
    "fault",
    "SegFault",
    "init",
    "map",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_vm_words_never_panic(
        words in prop::collection::vec(prop::sample::select(WORDS), 0..40)
    ) {
        let prelude = format!("{VM}p = pages.alloc 4K\nvm.region u 0x01000000 64K rw heap\n");
        let text = format!("{prelude}{}", words.join(" "));
        survive(&prelude, &text);
    }
}

#[test]
fn steps_after_a_vm_fault_go_on() {
    let mut m = machine(&format!("{VM}vm.access 0\nx = 1\n"));
    let summary = m.run(&mut Quiet, 100).unwrap();
    assert_eq!((summary.faults, m.var("x")), (1, Some(1)));
}
