//! Host tests of the view models: a machine from a small script for the subsystems the
//! script language configures, the engine's objects built directly for the others.

use memplay_engine::adm::Adm;
use memplay_engine::allocator::{Allocator, Ctx, Owner};
use memplay_engine::app_mem::{AppMem, AsmConfig, StopPlan};
use memplay_engine::awtk::{
    CallSite, DecoratorStack, Layer, NoRelease, PoolConfig, Simple, StackConfig,
};
use memplay_engine::dynmem::DynMem;
use memplay_engine::machine::{Machine, StepOutcome};
use memplay_engine::name::Name;
use memplay_engine::pages::{PhysArea, PhysMem};
use memplay_engine::ram::{Addr, Ram, RegionKind};
use memplay_engine::sysmem::{Area, SystemMemory};
use memplay_engine::task::{
    Behaviour, Kal, KalConfig, Program, QueueKind, Src, TaskConfig, TimerConfig,
};
use memplay_engine::tlsf::{Tlsf, TlsfConfig};
use memplay_engine::trace::Quiet;
use memplay_engine::vm::{Vm, VmConfig};

use super::*;

fn run(script: &str) -> Machine<Vec<u8>, String> {
    let mut m = Machine::owned(script.to_string()).expect("the script checks");
    loop {
        match m.step(&mut Quiet) {
            Ok(StepOutcome::Ran(_)) => {}
            Ok(StepOutcome::Finished) => break,
            Err(e) if e.is_expectation() => panic!("expectation failed: {e}"),
            Err(e) => panic!("the script halted: {e}"),
        }
    }
    m
}

fn ram(base: Addr, size: u32) -> Ram<Vec<u8>> {
    let mut ram = Ram::new(vec![0u8; size as usize]);
    ram.add_region(Name::lit("ram"), RegionKind::External, base, size)
        .unwrap();
    ram
}

fn body(machine: &Machine<Vec<u8>, String>, name: &str) -> Body {
    let panel = panels(machine)
        .into_iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no panel {name}"));
    panel.body.unwrap()
}

#[test]
fn nothing_configured_gives_no_panel() {
    let m = run("ram r 0x1000 1K\nnote \"nothing yet\"\n");
    assert!(panels(&m).is_empty());
    assert_eq!(crate::panels::view(&m), yew::Html::default());
}

#[test]
fn system_memory_left_per_area_and_records() {
    let m = run("ram isram 0x40000000 1K internal
ram extsram 0x08000000 8K external
sys isram extsram records 8
t = sys.alloc 512 owner 3
q = sys.alloc 600
r = sys.alloc 10 in extsram
");
    let Body::Sys(s) = body(&m, "sys") else {
        panic!("not a sys panel")
    };
    assert_eq!(s.areas.len(), 2);
    assert_eq!(s.areas[0].region, "isram");
    assert_eq!(s.areas[0].kind, "internal");
    assert_eq!(s.areas[1].region, "extsram");
    // External SRAM: 600 then 12 (10 rounded to 4) carved from its 8 KiB.
    assert_eq!(s.areas[1].left, 8192 - 612);
    assert_eq!(s.areas[1].carved(), 612);
    // The control block is in the first area; what is left there is the rest after t.
    assert_eq!(s.areas[0].carved(), 512);
    assert_eq!(s.left, s.areas[0].left + s.areas[1].left);
    assert_eq!(s.carves, 3);
    assert_eq!(s.record_capacity, 8);
    let recs: Vec<(u32, &str, &str)> = s
        .records
        .iter()
        .map(|c| (c.size, c.owner.as_str(), c.region.as_str()))
        .collect();
    assert_eq!(
        recs,
        vec![
            (512, "3", "isram"),
            (600, "-", "extsram"),
            (10, "-", "extsram")
        ]
    );
    assert_eq!(s.records[1].addr, 0x0800_0000);
    assert_eq!(Some(s.records[0].addr), m.var("t"));
}

#[test]
fn control_buffer_classes_asked_versus_given() {
    let m = run("ram isram 0x40000000 16K internal
ram extsram 0x08000000 64K external
sys isram extsram
ctrl table 32x2 64x2 128x1
a = ctrl.alloc 20 owner 1
b = ctrl.alloc 32 owner 1
c = ctrl.alloc 30 owner 2
e = ctrl.alloc 100
");
    let Body::Ctrl(c) = body(&m, "ctrl") else {
        panic!()
    };
    let rows: Vec<(u32, u32, u32, u32, u32, u32)> = c
        .classes
        .iter()
        .map(|k| (k.size, k.count, k.in_use, k.free, k.asked, k.given))
        .collect();
    assert_eq!(
        rows,
        vec![
            (32, 2, 2, 0, 52, 64),
            (64, 2, 1, 1, 30, 64),
            (128, 1, 1, 0, 100, 128)
        ]
    );
    assert_eq!(c.max_size, 128);
    assert_eq!(c.asked(), 182);
    assert_eq!(c.given(), 256);
    assert_eq!(c.classes[1].wasted(), 34);
    // The allocator figures come along.
    let p = panels(&m).into_iter().find(|p| p.name == "ctrl").unwrap();
    assert_eq!(p.stats.unwrap().used, 182);
}

#[test]
fn partition_free_list_runs_through_ram() {
    let m = run("ram sram 0x20000000 4K
part msg 32x4 on sram
a = msg.alloc 10 owner 7
b = msg.alloc 32
msg.free a
");
    let Body::Part(p) = body(&m, "msg") else {
        panic!()
    };
    assert_eq!((p.count, p.in_use, p.free), (4, 1, 3));
    assert_eq!((p.asked, p.given), (32, 32));
    assert_eq!(p.block_size, 32);
    assert_eq!(p.stride, 44);
    assert_eq!(p.control_block, 0x2000_0000);
    // LIFO: the block just freed is at the head, then the two never used, in order.
    let a = m.var("a").unwrap();
    let first = p.control_block + 20;
    assert_eq!(
        p.free_list,
        vec![a - 12, first + 2 * 44, first + 3 * 44],
        "header addresses from the head"
    );
    assert!(!p.cut);
}

#[test]
fn policy_lab_free_list_and_searched_counts() {
    let m = run("ram ram0 0x10000000 16K
lab first 1K policy first order address coalesce off header 8 align 8
a = first.alloc 100
b = first.alloc 100
c = first.alloc 100
first.free a
first.free c
d = first.alloc 50
");
    let Body::Lab(l) = body(&m, "first") else {
        panic!()
    };
    assert_eq!((l.fit, l.order, l.coalesce), ("first", "address", false));
    assert_eq!((l.header, l.align), (8, 8));
    assert_eq!(l.searches, 4);
    // The first three requests find the one big block at once; the fourth finds a's
    // block at the head of the address-ordered list.
    assert_eq!(l.last_search, 1);
    assert_eq!(l.total_searched, 4);
    assert_eq!(l.mean_searched_tenths(), 10);
    assert_eq!(l.live_blocks, 2);
    // a's block was split by d; c's and the tail stay free and apart (no coalescing).
    assert_eq!(l.free_list.len(), 3);
    assert!(l.free_list.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(
        l.largest_free,
        l.free_list.iter().map(|f| f.1).max().unwrap()
    );
}

#[test]
fn dynamic_memory_lists_and_use_per_task() {
    let mut r = ram(0x1000_0000, 8192);
    let mut q = Quiet;
    let mut cx = Ctx::new(&mut r, &mut q);
    let mut d = DynMem::init(&mut cx, Name::lit("dyn"), 0x1000_0000, 4096, 27).unwrap();
    let a = d.alloc(&mut cx, 100, Owner(1)).unwrap();
    let _b = d.alloc(&mut cx, 40, Owner(2)).unwrap();
    let _c = d.alloc(&mut cx, 200, Owner(1)).unwrap();
    d.free(&mut cx, a).unwrap();
    let m = dynmem(&d, &r).unwrap();
    assert_eq!(m.areas, vec![(0x1000_0000, 4096)]);
    // Two free nodes: a's 116 bytes (list 2: 64..127) and the tail (a larger list).
    let nodes: Vec<(u32, u32)> = m
        .lists
        .iter()
        .flat_map(|l| l.nodes.iter().map(move |n| (l.index, n.1)))
        .collect();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0], (2, 116));
    assert_eq!(m.lists[0].min, 64);
    assert_eq!(m.lists[0].max, Some(127));
    assert_eq!(m.lists[0].nodes[0].0, a - 16);
    let tail = nodes[1].1;
    assert_eq!(m.lists[1].index, d.list_for_size(tail));
    // Task 1 holds c (216), task 2 holds b (56).
    assert_eq!(m.usage, vec![("1".to_string(), 216), ("2".to_string(), 56)]);
}

#[test]
fn tlsf_bitmaps_and_lists_agree() {
    let mut r = ram(0x2000_0000, 8192);
    let mut q = Quiet;
    let mut cx = Ctx::new(&mut r, &mut q);
    let mut t = Tlsf::new(
        &mut cx,
        Name::lit("tlsf"),
        0x2000_0000,
        4096,
        TlsfConfig::DEFAULT,
    )
    .unwrap();
    let a = t.alloc(&mut cx, 100, Owner(1)).unwrap();
    let _b = t.alloc(&mut cx, 100, Owner(1)).unwrap();
    t.free(&mut cx, a).unwrap();
    let m = tlsf(&t, &r).unwrap();
    assert_eq!(m.rows.len() as u32, t.fl_count());
    assert_eq!(m.sl_count, 16);
    let mut lit = Vec::new();
    for row in &m.rows {
        assert_eq!(m.fl_bitmap & (1 << row.fl) != 0, row.sl_bitmap != 0);
        for c in &row.cells {
            assert_eq!(c.bit, !c.blocks.is_empty(), "({}, {})", row.fl, c.sl);
            for &(block, size) in &c.blocks {
                assert_eq!(t.mapping_insert(size), (row.fl, c.sl));
                assert!(c.min <= size as u64);
                lit.push((block, size));
            }
        }
    }
    // a's block (116) and the rest after b.
    lit.sort();
    assert_eq!(lit.len(), 2);
    assert_eq!(lit[0], (a - 16, 116));
}

#[test]
fn adm_subpools_and_general_area() {
    let mut r = ram(0x0800_0000, 16384);
    let mut q = Quiet;
    let mut cx = Ctx::new(&mut r, &mut q);
    let mut a = Adm::create(
        &mut cx,
        Name::lit("adm"),
        0x0800_0000,
        8192,
        &[16, 32, 64, 0],
        false,
    )
    .unwrap();
    let x = a.alloc(&mut cx, 10, Owner(1)).unwrap(); // class 0
    let _y = a.alloc(&mut cx, 30, Owner(1)).unwrap(); // class 1
    let _z = a.alloc(&mut cx, 500, Owner(2)).unwrap(); // general
    a.free(&mut cx, x).unwrap(); // cached on class list 0
    let m = adm(&a, &r).unwrap();
    assert!(!m.deleted);
    let classes: Vec<(u32, u32, u32, u32)> = m
        .subpools
        .iter()
        .map(|c| (c.size, c.live, c.asked, c.cached))
        .collect();
    assert_eq!(classes, vec![(16, 0, 0, 1), (32, 1, 30, 0), (64, 0, 0, 0)]);
    assert_eq!((m.general.live, m.general.asked), (1, 500));
    assert_eq!(m.general.free_blocks, 1);
    assert_eq!(m.general.largest_free, m.general.free_bytes);
    assert_eq!(m.block_overhead, 40);
    assert_eq!(m.total_left, a.total_left_size(&r).unwrap());
    assert_eq!(m.max_alloc, a.max_alloc_size(&r).unwrap());
}

const ASM_BASE: Addr = 0x0800_0000;

fn asm_setup(plan: StopPlan) -> (Ram<Vec<u8>>, AppMem) {
    let mut r = ram(ASM_BASE, 16384 + 4096);
    let config = AsmConfig {
        name: Name::lit("asm"),
        base: ASM_BASE,
        size: 16384,
        subpools: &[],
        screen: Some((ASM_BASE + 16384, 4096)),
    };
    let mut q = Quiet;
    let mut cx = Ctx::new(&mut r, &mut q);
    let mut am = AppMem::init(&mut cx, &config).unwrap();
    for (id, name) in [(0, "camera"), (1, "music"), (2, "browser")] {
        am.register(&mut cx, id, Name::lit(name), 100, plan)
            .unwrap();
    }
    (r, am)
}

#[test]
fn asm_use_per_app_and_the_out_of_memory_dialog() {
    let plan = StopPlan {
        frees_per_tick: 1,
        ticks: 2,
        result: true,
    };
    let (mut r, mut am) = asm_setup(plan);
    let mut q = Quiet;
    let mut cx = Ctx::new(&mut r, &mut q);
    am.alloc(&mut cx, 4000, Owner(1)).unwrap();
    am.alloc(&mut cx, 4000, Owner(1)).unwrap();
    am.alloc(&mut cx, 3000, Owner(2)).unwrap();
    let m = asm(&am, cx.ram).unwrap();
    assert_eq!(m.dialog, Dialog::Idle);
    let used: Vec<(&str, bool)> = m
        .apps
        .iter()
        .map(|a| (a.name.as_str(), a.used > 0))
        .collect();
    assert_eq!(
        used,
        vec![("camera", false), ("music", true), ("browser", true)]
    );
    assert!(m.apps[1].used >= 8000 && m.apps[2].used >= 3000);
    assert_eq!(m.alloc_count, 3);
    assert!(m.adm.is_some());
    assert_eq!(m.screen.as_ref().unwrap().layers, 0);

    // Camera asks for more than is left: the prompt lists music and browser.
    am.alloc_or_prompt(&mut cx, 0, 8000).unwrap();
    let m = asm(&am, cx.ram).unwrap();
    let Dialog::Prompt {
        request,
        background,
    } = &m.dialog
    else {
        panic!("{:?}", m.dialog)
    };
    assert_eq!(
        (request.name.as_str(), request.size, request.full_pool),
        ("camera", 8000, false)
    );
    let listed: Vec<u16> = background.iter().map(|a| a.id).collect();
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&1) && listed.contains(&2));

    am.choose(&mut cx, 1).unwrap();
    let m = asm(&am, cx.ram).unwrap();
    assert!(matches!(&m.dialog, Dialog::Confirm { victim, .. } if victim.name == "music"));

    // Yes: music frees one chunk now, one per tick, and reports after two ticks.
    am.confirm(&mut cx).unwrap();
    let m = asm(&am, cx.ram).unwrap();
    let Dialog::Stopping {
        victim,
        elapsed,
        chunks_left,
        ..
    } = &m.dialog
    else {
        panic!("{:?}", m.dialog)
    };
    assert_eq!(
        (victim.name.as_str(), *elapsed, *chunks_left),
        ("music", 0, 1)
    );
    assert!(victim.stopping);
    assert!(m.apps[1].stopping);
    am.tick(&mut cx).unwrap();
    let m = asm(&am, cx.ram).unwrap();
    assert!(matches!(
        m.dialog,
        Dialog::Stopping {
            elapsed: 1,
            chunks_left: 0,
            ..
        }
    ));
    am.tick(&mut cx).unwrap();
    let m = asm(&am, cx.ram).unwrap();
    assert_eq!(
        m.dialog,
        Dialog::Idle,
        "music stopped; the request was retried"
    );
    assert!(m.apps[0].used >= 8000);
    assert_eq!(m.apps[1].used, 0);
}

#[test]
fn asm_full_pool_mode_deletes_the_adm() {
    let (mut r, mut am) = asm_setup(StopPlan::IMMEDIATE);
    let mut q = Quiet;
    let mut cx = Ctx::new(&mut r, &mut q);
    am.alloc_full_pool(&mut cx, 2).unwrap();
    let m = asm(&am, cx.ram).unwrap();
    assert!(m.full_pool);
    assert!(m.adm.is_none());
    assert_eq!(m.apps[2].used, 16384 - memplay_engine::app_mem::CONTEXT_LEN);
    // The pool's ADM read directly says it is deleted.
    assert!(adm(am.pool(), cx.ram).unwrap().deleted);
}

#[test]
fn awtk_stack_figures_and_leaks() {
    let layers = [Layer::Lock, Layer::Debug, Layer::Pool];
    let config = StackConfig {
        pool: PoolConfig {
            blocks: [4; 5],
            min_blocks: 0,
        },
        debug_entries: 16,
    };
    let statics = DecoratorStack::<Simple>::statics_size(&layers, &config);
    let heap = 8192;
    let mut r = ram(0x3000_0000, heap + statics);
    let mut q = Quiet;
    let mut cx = Ctx::new(&mut r, &mut q);
    let simple = Simple::new(&mut cx, Name::lit("simple"), 0x3000_0000, heap).unwrap();
    let mut st = DecoratorStack::new(
        &mut cx,
        Name::lit("awtk"),
        simple,
        &layers,
        0x3000_0000 + heap,
        config,
    )
    .unwrap();
    let site = CallSite::lit("widget_create", 42);
    let a = st.tk_alloc(&mut cx, 20, site, &mut NoRelease).unwrap();
    let _b = st.tk_alloc(&mut cx, 300, site, &mut NoRelease).unwrap();
    let c = st
        .tk_alloc(&mut cx, 24, CallSite::lit("label_set", 7), &mut NoRelease)
        .unwrap();
    st.tk_free(&mut cx, a).unwrap();
    let m = awtk(&st, cx.ram).unwrap();
    let kinds: Vec<&str> = m.layers.iter().map(|l| l.kind).collect();
    assert_eq!(kinds, vec!["lock", "debug", "pool"]);
    let LayerFigures::Lock {
        locks,
        unlocks,
        held,
        ..
    } = m.layers[0].figures
    else {
        panic!()
    };
    assert_eq!((locks, unlocks, held), (4, 4, false));
    let LayerFigures::Debug { blocks, .. } = m.layers[1].figures else {
        panic!()
    };
    assert_eq!(blocks, 2);
    let LayerFigures::Pool {
        hits, misses_large, ..
    } = &m.layers[2].figures
    else {
        panic!()
    };
    assert_eq!((*hits, *misses_large), (2, 1));
    let leaks = m.leaks.unwrap();
    let mut sites: Vec<(String, u32, u32)> = leaks
        .iter()
        .map(|l| (l.func.clone(), l.line, l.size))
        .collect();
    sites.sort();
    assert_eq!(
        sites,
        vec![
            ("label_set".to_string(), 7, 24),
            ("widget_create".to_string(), 42, 300)
        ]
    );
    assert!(leaks.iter().any(|l| l.addr == c));
}

fn vm_setup() -> (Ram<Vec<u8>>, PhysMem, Vm) {
    let base = 0x4010_0000;
    let mut r = ram(base, 0x20000);
    let mut q = Quiet;
    let mut cx = Ctx::new(&mut r, &mut q);
    let pm = PhysMem::boot(
        &mut cx,
        Name::lit("pages"),
        256,
        &[PhysArea {
            start: base,
            size: 0x20000,
        }],
    )
    .unwrap();
    let vm = Vm::init(&mut cx, Name::lit("vm"), &pm, VmConfig::default()).unwrap();
    (r, pm, vm)
}

#[test]
fn buddy_free_blocks_per_order() {
    let (mut r, pm, _vm) = vm_setup();
    let before = pages(&pm, &r).unwrap();
    let mut q = Quiet;
    let mut cx = Ctx::new(&mut r, &mut q);
    let one = pm.alloc_pages(&mut cx, 0).unwrap();
    let m = pages(&pm, &r).unwrap();
    assert_eq!(m.page_size, 256);
    assert_eq!(m.orders.len(), 10);
    assert_eq!(m.free_pages + 1, before.free_pages);
    for o in &m.orders {
        assert_eq!(o.count as usize, o.blocks.len().max(o.count as usize));
        assert!(o.blocks.len() <= o.count as usize);
        for b in &o.blocks {
            assert_eq!(pm.block_info(&r, *b).unwrap().unwrap().order, o.order);
        }
    }
    let counts: u64 = m.orders.iter().map(|o| (o.count as u64) << o.order).sum();
    assert_eq!(counts, m.free_pages);
    assert!(m.used_by_owner.iter().map(|(_, n)| n).sum::<u32>() >= 1);
    assert!(m.array_bytes > 0 && m.entries >= m.managed_pages);
    let _ = one;
}

#[test]
fn page_table_walk_matches_the_engine() {
    let (mut r, pm, vm) = vm_setup();
    let mut q = Quiet;
    let mut cx = Ctx::new(&mut r, &mut q);
    let p = vm.create_user_space(&mut cx, &pm).unwrap();
    vm.switch_to(&mut cx, p).unwrap();
    let cfg = vm.config();
    let heap = cfg.user_heap_base;
    vm.brk(&mut cx, &pm, p, heap + 100).unwrap();
    vm.access(&mut cx, &pm, heap + 8, true).unwrap();
    let model = vm_model(&vm, &r).unwrap();
    let kinds: Vec<&str> = model.spaces.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, vec!["kernel", "vmalloc", "user"]);
    assert_eq!(model.current, Some(p.0));
    let user = &model.spaces[2];
    assert_eq!(user.heap, Some((heap, heap + 100)));
    assert!(user.regions.iter().any(|reg| reg.start == heap));
    assert!(!model.tables.is_empty());

    let probes = [
        heap + 8,                        // demand-paged: coarse, mapped
        heap + 4096 * 3,                 // heap region, no page yet
        cfg.kernel_base + 0x1234,        // the kernel's linear map: a section
        cfg.user_base + 0x0100_0000 + 4, // user space, no table
        0xffff_fff0,                     // nothing
    ];
    for vaddr in probes {
        let from_ram = translate(&vm, &r, vaddr).unwrap();
        let from_copy = model.walk(vaddr);
        assert_eq!(from_ram, from_copy, "{vaddr:#x}");
        let mut ram2 = r.clone();
        let engine = vm
            .translate(&mut Ctx::new(&mut ram2, &mut Quiet), p, vaddr)
            .ok();
        if from_ram.space == Some((p.0, "user")) {
            assert_eq!(from_ram.paddr, engine, "{vaddr:#x}");
        }
    }
    let w = model.walk(heap + 8);
    assert_eq!(w.l1_type, Some("coarse"));
    assert!(w.l2.is_some() && w.paddr.is_some() && w.stop.is_none());
    assert_eq!(w.paddr.unwrap() & 0xfff, (heap + 8) & 0xfff);
    assert_eq!(model.walk(heap + 4096 * 3).stop, Some(WalkStop::NotMapped));
    let k = model.walk(cfg.kernel_base + 0x1234);
    assert_eq!(k.l1_type, Some("section"));
    assert_eq!(k.space, Some((0, "kernel")));
    let mut ram2 = r.clone();
    let engine = vm.translate(
        &mut Ctx::new(&mut ram2, &mut Quiet),
        memplay_engine::vm::SpaceId::KERNEL,
        cfg.kernel_base + 0x1234,
    );
    assert_eq!(k.paddr, engine.ok());
    assert_eq!(model.walk(0xffff_fff0).stop, Some(WalkStop::NoSpace));
}

#[test]
fn addresses_parse_as_typed() {
    assert_eq!(parse_addr("0x4000_0000"), Some(0x4000_0000));
    assert_eq!(parse_addr(" 4096 "), Some(4096));
    assert_eq!(parse_addr("0XfF"), Some(255));
    assert_eq!(parse_addr("0x1_0000_0000"), None);
    assert_eq!(parse_addr("hello"), None);
    assert_eq!(parse_addr(""), None);
}

#[test]
fn task_table_queues_and_timers() {
    let mut r = Ram::new(vec![0u8; 0x1_2000]);
    r.add_region(
        Name::lit("isram"),
        RegionKind::Internal,
        0x4000_0000,
        0x2000,
    )
    .unwrap();
    r.add_region(
        Name::lit("extsram"),
        RegionKind::External,
        0x0800_0000,
        0x1_0000,
    )
    .unwrap();
    let mut q = Quiet;
    let mut cx = Ctx::new(&mut r, &mut q);
    let mut sys = SystemMemory::new(
        &mut cx,
        Name::lit("sys"),
        &[
            Area::new(0x4000_0000, 0x2000),
            Area::new(0x0800_0000, 0x1_0000),
        ],
    )
    .unwrap();
    let mut program = Program::new();
    let cb = program.add(Behaviour::new(32)).unwrap();
    let tasks_table = [
        TaskConfig::new(Name::lit("mmi"), 10, 1024, 4, 2),
        TaskConfig::new(Name::lit("nvram"), 5, 512, 2, 0),
    ];
    let config = KalConfig {
        name: Name::lit("kal"),
        sys_tasks: &tasks_table,
        custom_tasks: &[],
        program: &program,
        mmi: Some(Name::lit("mmi")),
        timers: TimerConfig::default(),
        budget: 0,
    };
    let mut kal = Kal::boot(&mut cx, &mut sys, &config).unwrap();
    kal.run_until_idle(&mut cx).unwrap();
    let nvram = kal.task_named(Name::lit("nvram")).unwrap();
    kal.send(
        &mut cx,
        Src::External,
        nvram,
        QueueKind::External,
        77,
        [1, 2],
    )
    .unwrap();
    kal.start_timer(&mut cx, 5, 10, cb, true).unwrap();
    kal.start_timer(&mut cx, 6, 3, cb, false).unwrap();

    let t = tasks(&kal, cx.ram).unwrap();
    assert_eq!(t.mmi.as_deref(), Some("mmi"));
    let names: Vec<(&str, u8, u16, u16)> = t
        .tasks
        .iter()
        .map(|row| {
            (
                row.name.as_str(),
                row.priority,
                row.ext.capacity,
                row.int.capacity,
            )
        })
        .collect();
    assert_eq!(names, vec![("mmi", 10, 4, 2), ("nvram", 5, 2, 0)]);
    let row = &t.tasks[1];
    assert_eq!(row.ext.messages.len(), 1);
    assert_eq!(row.ext.messages[0].msg, "77");
    assert_eq!(row.ext.messages[0].src, "ext");
    assert_eq!(row.ext.messages[0].payload, [1, 2]);
    assert!(row.footprint > row.stack_size);

    let tm = timers(&kal, cx.ram).unwrap().unwrap();
    assert_eq!(tm.mmi, "mmi");
    assert_eq!(tm.events.len(), 2);
    assert!(tm.events.windows(2).all(|w| w[0].expiry <= w[1].expiry));
    assert!(tm.events.iter().all(|e| e.callback == "L4CallBackTimer"));
    let slots: Vec<(u16, bool)> = tm.timers.iter().map(|s| (s.timer, s.aligned)).collect();
    assert_eq!(slots, vec![(5, true), (6, false)]);
    assert_eq!(tm.hw, "running");
    assert_eq!(tm.hw_expiry, Some(tm.events[0].expiry));
    assert!(tm.mmi_queue.messages.is_empty());

    // The exact timer fires after 3 ticks; the MMI task handles its expiry message and
    // the aligned one stays pending, the hardware timer re-armed for it.
    let now = tm.now;
    let aligned_expiry = tm.events[1].expiry;
    kal.tick(&mut cx, 3).unwrap();
    let tm = timers(&kal, cx.ram).unwrap().unwrap();
    assert_eq!(tm.now, now + 3);
    let slots: Vec<u16> = tm.timers.iter().map(|s| s.timer).collect();
    assert_eq!(slots, vec![5]);
    assert_eq!(tm.events.len(), 1);
    assert_eq!(tm.hw_expiry, Some(aligned_expiry));
    assert!(tm.mmi_queue.messages.is_empty());
    let t = tasks(&kal, cx.ram).unwrap();
    assert!(t.tasks[0].handled >= 1, "the MMI task handled the expiry");
}

// ---- the subsystems the script language added, through a machine ----

/// Every example script of the engine, for the sweep below.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "sysmem",
        include_str!("../../../engine/tests/scripts/sysmem.mem"),
    ),
    (
        "ctrl_buffer",
        include_str!("../../../engine/tests/scripts/ctrl_buffer.mem"),
    ),
    (
        "partition",
        include_str!("../../../engine/tests/scripts/partition.mem"),
    ),
    (
        "policy_lab",
        include_str!("../../../engine/tests/scripts/policy_lab.mem"),
    ),
    (
        "dynmem",
        include_str!("../../../engine/tests/scripts/dynmem.mem"),
    ),
    (
        "tlsf",
        include_str!("../../../engine/tests/scripts/tlsf.mem"),
    ),
    ("adm", include_str!("../../../engine/tests/scripts/adm.mem")),
    ("asm", include_str!("../../../engine/tests/scripts/asm.mem")),
    (
        "awtk",
        include_str!("../../../engine/tests/scripts/awtk.mem"),
    ),
    (
        "awtk_deadlock",
        include_str!("../../../engine/tests/scripts/awtk_deadlock.mem"),
    ),
];

/// Every step of every example gives a panel per pool, readable unless the script has
/// just corrupted that pool's metadata on purpose, and the views render.
#[test]
fn every_example_script_gives_readable_panels_at_every_step() {
    for (name, script) in EXAMPLES {
        let mut m = Machine::owned(script.to_string()).unwrap();
        let mut poked = false;
        let mut readable = 0;
        loop {
            match m.step(&mut Quiet) {
                Ok(StepOutcome::Finished) => break,
                Ok(StepOutcome::Ran(step)) => {
                    let text = m.line_text(step.line).unwrap_or("").trim_start();
                    poked |= text.starts_with("poke") || text.starts_with("fill");
                }
                Err(e) if e.is_expectation() => panic!("{name}: {e}"),
                Err(e) => panic!("{name}: halted: {e}"),
            }
            let ps = panels(&m);
            let beside = m.vm().is_some() as usize
                + m.kal().map_or(0, |k| 1 + k.evshed().is_some() as usize);
            assert_eq!(ps.len(), m.pools().count() + beside, "{name}");
            for p in &ps {
                match &p.body {
                    Ok(_) => readable += 1,
                    Err(why) => assert!(poked, "{name} step {}: {}: {why}", m.steps(), p.name),
                }
            }
            let _ = crate::panels::view_with(&m, super::super::Lang::Zh, yew::Callback::noop());
        }
        assert!(readable > 0, "{name}");
    }
}

#[test]
fn dyn_tlsf_adm_through_the_machine() {
    let m = run("ram ram0 0x10000000 16K
dyn heap 2K on ram0 lists 4
tlsf t 2K on ram0 sl 2
adm media on ram0 4K subpools 16 32 0
a = heap.alloc 64 owner 1
b = heap.alloc 100 owner 2
heap.free a
x = t.alloc 100
y = media.alloc 20
z = media.alloc 300
");
    let Body::Dyn(d) = body(&m, "heap") else {
        panic!()
    };
    assert_eq!(d.usage, vec![("2".to_string(), 116)]);
    assert_eq!(d.list_count, 4);
    let a = m.var("a").unwrap();
    assert!(d
        .lists
        .iter()
        .any(|l| l.nodes.iter().any(|&(n, size)| n == a - 16 && size == 80)));
    let Body::Tlsf(t) = body(&m, "t") else {
        panic!()
    };
    assert_eq!(t.sl_count, 4);
    let free: Vec<_> = t
        .rows
        .iter()
        .flat_map(|r| r.cells.iter().flat_map(|c| c.blocks.iter()))
        .collect();
    assert_eq!(free.len(), 1, "the rest after x");
    let Body::Adm(a) = body(&m, "media") else {
        panic!()
    };
    let live: Vec<u32> = a.subpools.iter().map(|c| c.live).collect();
    assert_eq!(live, vec![0, 1]);
    assert_eq!((a.general.live, a.general.asked), (1, 300));
}

#[test]
fn the_out_of_memory_dialog_through_the_machine() {
    let script = "preset mtk_phone
asm.plan music frees 1 ticks 3 ok
m1 = asm.alloc music 60K
m2 = asm.alloc music 60K
w = asm.alloc browser 50K
c = asm.alloc_or_prompt camera 80K
asm.choose music
asm.confirm
tick 1
tick 2
";
    let mut m = Machine::owned(script.to_string()).unwrap();
    let mut dialogs = Vec::new();
    while let Ok(StepOutcome::Ran(_)) = m.step(&mut Quiet) {
        if let Some(Panel {
            body: Ok(Body::Asm(a)),
            ..
        }) = panels(&m).into_iter().find(|p| p.name == "asm")
        {
            dialogs.push(a.dialog);
        }
    }
    let words: Vec<&str> = dialogs
        .iter()
        .map(|d| match d {
            Dialog::Idle => "idle",
            Dialog::Prompt { .. } => "prompt",
            Dialog::Confirm { .. } => "confirm",
            Dialog::Stopping { .. } => "stopping",
        })
        .collect();
    assert_eq!(
        words,
        vec![
            "idle", "idle", "idle", "idle", "idle", "prompt", "confirm", "stopping", "stopping",
            "idle"
        ]
    );
    let Dialog::Prompt {
        request,
        background,
    } = &dialogs[5]
    else {
        panic!()
    };
    // The registry holds each app's title.
    assert_eq!((request.name.as_str(), request.size), ("Camera", 80 * 1024));
    let names: Vec<&str> = background.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, vec!["Browser", "Music"]);
    let Dialog::Stopping {
        victim,
        elapsed,
        chunks_left,
        ..
    } = &dialogs[8]
    else {
        panic!()
    };
    assert_eq!(
        (victim.name.as_str(), *elapsed, *chunks_left),
        ("Music", 1, 0)
    );
    // The preset's other pools have panels too: sys, ctrl, media's ADM, screen memory.
    let kinds: Vec<&str> = panels(&m)
        .iter()
        .map(|p| match &p.body {
            Ok(Body::Sys(_)) => "sys",
            Ok(Body::Ctrl(_)) => "ctrl",
            Ok(Body::Adm(_)) => "adm",
            Ok(Body::Asm(_)) => "asm",
            Ok(Body::Screen(_)) => "screen",
            _ => "other",
        })
        .collect();
    for k in ["sys", "ctrl", "asm", "screen"] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
}

#[test]
fn awtk_leaks_through_the_machine() {
    let m = run("preset awtk_baremetal
a = awtk.alloc 24 at widget_create:77
b = awtk.alloc 2000 at image_load:12
c = awtk.alloc 100 at label_set_text:31
awtk.free a
");
    let Body::Awtk(a) = body(&m, "awtk") else {
        panic!()
    };
    let kinds: Vec<&str> = a.layers.iter().map(|l| l.kind).collect();
    assert_eq!(kinds, vec!["oom", "debug", "pool", "lock"]);
    let mut leaks: Vec<(String, u32)> = a
        .leaks
        .unwrap()
        .iter()
        .map(|l| (l.func.clone(), l.line))
        .collect();
    leaks.sort();
    assert_eq!(
        leaks,
        vec![
            ("image_load".to_string(), 12),
            ("label_set_text".to_string(), 31)
        ]
    );
}

/// The panel follows the protocol through the script lines the stepper's dialog writes.
#[test]
fn the_panel_follows_the_dialogs_script_lines() {
    let mut script = String::from(
        "preset mtk_phone
asm.plan music frees 1 ticks 1 ok
m1 = asm.alloc music 60K
m2 = asm.alloc music 60K
c = asm.alloc_or_prompt camera 80K
",
    );
    let dialog = |script: &str| {
        let m = run(script);
        match body(&m, "asm") {
            Body::Asm(a) => a.dialog,
            _ => panic!(),
        }
    };
    let Dialog::Prompt { background, .. } = dialog(&script) else {
        panic!()
    };
    // Stop on the only background app, then No, then Stop again and Yes.
    let music = background[0].id;
    for (line, state) in [
        (format!("asm.choose {music}"), "confirm"),
        ("asm.decline".to_string(), "prompt"),
        (format!("asm.choose {music}"), "confirm"),
        ("asm.confirm".to_string(), "stopping"),
    ] {
        script.push_str(&line);
        script.push('\n');
        let now = match dialog(&script) {
            Dialog::Idle => "idle",
            Dialog::Prompt { .. } => "prompt",
            Dialog::Confirm { .. } => "confirm",
            Dialog::Stopping { .. } => "stopping",
        };
        assert_eq!(now, state, "after {line}");
    }
    script.push_str("tick 1\n");
    assert_eq!(dialog(&script), Dialog::Idle);
}

// ---- pages, virtual memory, tasks and timers, through a machine ----

#[test]
fn pages_vm_and_the_walk_through_the_machine() {
    let m = run("ram ddr 0x80000000 64K
pages 1K on ddr
vm init
u = vm.space user
vm.region u 0x01000000 64K rw heap
vm.access 0x01000010 write
a = pages.alloc order 2
");
    let Body::Pages(p) = body(&m, "pages") else {
        panic!()
    };
    assert_eq!(p.page_size, 1024);
    let counted: u64 = p.orders.iter().map(|o| (o.count as u64) << o.order).sum();
    assert_eq!(counted, p.free_pages);
    let vm_panel = panels(&m)
        .into_iter()
        .find(|p| matches!(p.body, Ok(Body::Vm(_))))
        .expect("a vm panel");
    let Ok(Body::Vm(v)) = vm_panel.body else {
        panic!()
    };
    assert_eq!(v.current, Some(m.var("u").unwrap() as u8));
    let user = v.spaces.iter().find(|s| s.kind == "user").unwrap();
    let heap = user
        .regions
        .iter()
        .find(|r| r.start == 0x0100_0000)
        .unwrap();
    assert_eq!(heap.size, 64 * 1024);
    // The page the access demand-paged, walked from the copied tables and from RAM.
    let w = v.walk(0x0100_0010);
    assert_eq!(w.l1_type, Some("coarse"));
    assert_eq!(w.paddr.map(|pa| pa & 0xfff), Some(0x010));
    let from_ram = translate(m.vm().unwrap(), m.ram(), 0x0100_0010).unwrap();
    assert_eq!(w, from_ram);
    // The kernel's linear map: a section.
    let k = v.walk(0x4000_0100);
    assert_eq!((k.l1_type, k.paddr), (Some("section"), Some(0x8000_0100)));
    assert_eq!(v.walk(0x0100_2000).stop, Some(WalkStop::NotMapped));
}

#[test]
fn tasks_and_timers_through_the_machine() {
    let m = run("ram isram 0x40000000 16K internal
sys isram
task MMI prio 20 stack 1K ext 4 int 4
task L4 prio 10 stack 512 ext 8 int 0 sys
timers events 8 slots 4 fuzz 4
behaviour blink stack 32
behaviour start_all timer start 1 delay 10 callback blink, timer start 3 delay 5 nonaligned callback blink
on MMI init run start_all
boot
send L4 0x101
tick 2
");
    let tasks_panel = panels(&m)
        .into_iter()
        .find(|p| matches!(p.body, Ok(Body::Tasks(_))))
        .expect("a task panel");
    let Ok(Body::Tasks(t)) = tasks_panel.body else {
        panic!()
    };
    let rows: Vec<(&str, u8, u16, u16)> = t
        .tasks
        .iter()
        .map(|r| (r.name.as_str(), r.priority, r.ext.capacity, r.int.capacity))
        .collect();
    assert_eq!(rows, vec![("L4", 10, 8, 0), ("MMI", 20, 4, 4)]);
    assert_eq!(t.mmi.as_deref(), Some("MMI"));
    let timers_panel = panels(&m)
        .into_iter()
        .find(|p| matches!(p.body, Ok(Body::Timers(_))))
        .expect("a timers panel");
    let Ok(Body::Timers(tm)) = timers_panel.body else {
        panic!()
    };
    assert_eq!((tm.fuzz, tm.capacity), (4, 8));
    assert_eq!(tm.events.len(), 2);
    assert_eq!(tm.hw, "running");
    assert_eq!(tm.hw_expiry, Some(tm.events[0].expiry));
    assert_eq!(tm.now, t.now);
    let slots: Vec<(u16, bool)> = tm.timers.iter().map(|s| (s.timer, s.aligned)).collect();
    assert_eq!(slots, vec![(1, true), (3, false)]);
    assert_eq!(tm.mmi, "MMI");
}
