//! Virtual memory: spaces, regions, page-table walks, demand paging, brk, reclaim.

use std::cell::RefCell;
use std::rc::Rc;

use memplay_engine::pages::{pg, PageError, PageEvent, PhysArea, PhysMem};
use memplay_engine::prng::Prng;
use memplay_engine::trace::{Quiet, TextSink};
use memplay_engine::vm::{
    l1, pte, rf, space, Perm, SpaceId, SpaceKind, Vm, VmConfig, VmError, VmEvent,
};
use memplay_engine::{
    Addr, AllocError, ConfigError, Ctx, Event, EventKind, Name, Ram, RegionKind, Sink,
};

/// A sink whose events stay readable while a `Ctx` borrows it.
#[derive(Clone, Default)]
struct Log(Rc<RefCell<Vec<Event>>>);

impl Sink for Log {
    fn event(&mut self, e: &Event) {
        self.0.borrow_mut().push(*e);
    }
}

impl Log {
    fn last(&self) -> Option<EventKind> {
        self.0.borrow().last().map(|e| e.kind)
    }
    fn clear(&self) {
        self.0.borrow_mut().clear();
    }
    fn vm_events(&self) -> Vec<VmEvent> {
        self.0
            .borrow()
            .iter()
            .filter_map(|e| match e.kind {
                EventKind::Vm(v) => Some(v),
                _ => None,
            })
            .collect()
    }
    fn text(&self) -> String {
        self.0.borrow().iter().map(|e| format!("{e}\n")).collect()
    }
}

const BASE: Addr = 0x4000_0000;
const HEAP: Addr = 0x0140_0000;
const MAP: Addr = 0x0180_0000;

/// A machine of `size` bytes of 256-byte pages with the default VM layout.
struct Machine {
    ram: Ram<Vec<u8>>,
    pm: PhysMem,
    vm: Vm,
    log: Log,
    /// The same log, lent to each context.
    sink: Log,
}

impl Machine {
    fn new(size: u32) -> Machine {
        let mut ram = Ram::new(vec![0u8; size as usize]);
        ram.add_region(Name::lit("ddr"), RegionKind::External, BASE, size)
            .unwrap();
        let log = Log::default();
        let mut sink = log.clone();
        let mut cx = Ctx::new(&mut ram, &mut sink);
        let pm = PhysMem::boot(
            &mut cx,
            Name::lit("pages"),
            256,
            &[PhysArea { start: BASE, size }],
        )
        .unwrap();
        let vm = Vm::init(&mut cx, Name::lit("vm"), &pm, VmConfig::default()).unwrap();
        let m = Machine {
            ram,
            pm,
            vm,
            sink: log.clone(),
            log,
        };
        m.check();
        m
    }

    fn cx(&mut self) -> (Ctx<'_, Vec<u8>>, &PhysMem, &Vm) {
        (Ctx::new(&mut self.ram, &mut self.sink), &self.pm, &self.vm)
    }

    fn check(&self) {
        self.pm.check(&self.ram).unwrap();
        self.vm.check(&self.ram, &self.pm).unwrap();
    }

    fn free_pages(&self) -> u64 {
        self.pm.free_pages_count(&self.ram).unwrap()
    }

    /// A user process made current.
    fn process(&mut self) -> SpaceId {
        let (mut cx, pm, vm) = self.cx();
        let p = vm.create_user_space(&mut cx, pm).unwrap();
        vm.switch_to(&mut cx, p).unwrap();
        p
    }
}

macro_rules! with {
    ($m:expr, |$cx:ident, $pm:ident, $vm:ident| $body:expr) => {{
        let (mut $cx, $pm, $vm) = $m.cx();
        let _ = (&$pm, &$vm);
        let cx = &mut $cx;
        let r = (|$cx: &mut Ctx<'_, Vec<u8>>| $body)(cx);
        r
    }};
}

fn last_vm_fault(log: &Log) -> Option<VmError> {
    match log.last() {
        Some(EventKind::Vm(VmEvent::Fault { error, .. })) => Some(error),
        _ => None,
    }
}

// ---- spaces ----

#[test]
fn init_creates_the_kernel_and_vmalloc_spaces() {
    let mut m = Machine::new(0x20000);
    let k = m.vm.space(&m.ram, SpaceId::KERNEL).unwrap();
    assert_eq!(
        (k.kind, k.base, k.size, k.l1_entries),
        (SpaceKind::Kernel, 0x4000_0000, 1 << 24, 16)
    );
    let v = m.vm.space(&m.ram, SpaceId::VMALLOC).unwrap();
    assert_eq!((v.kind, v.base), (SpaceKind::Vmalloc, 0x4100_0000));
    // The kernel's linear map is one section: physical RAM at the kernel base.
    assert_eq!(
        m.ram.read_u32(k.ttb).unwrap(),
        0x4000_0000 | l1::SECTION | l1::AP0
    );
    let mut regions = Vec::new();
    m.vm.regions(&m.ram, SpaceId::KERNEL, &mut |r| regions.push(r))
        .unwrap();
    assert_eq!(regions.len(), 1);
    assert_eq!(
        (regions[0].start, regions[0].size, regions[0].name.as_str()),
        (0x4000_0000, 1 << 20, "kernel")
    );
    m.log.clear();
    let pa = with!(m, |cx, pm, vm| vm.translate(
        cx,
        SpaceId::KERNEL,
        0x4000_1234
    ))
    .unwrap();
    assert_eq!(pa, 0x4000_1234);
    assert_eq!(
        m.log.text(),
        format!(
            "vm.l1 vaddr=0x40001234 index=0 at={:#010x} entry=0x40000402\nvm.translate vaddr=0x40001234 paddr=0x40001234\n",
            k.ttb
        )
    );
    // LOS_SpaceGet.
    assert_eq!(
        m.vm.space_of(&m.ram, 0x40ff_ffff).unwrap(),
        Some(SpaceId::KERNEL)
    );
    assert_eq!(
        m.vm.space_of(&m.ram, 0x4100_0000).unwrap(),
        Some(SpaceId::VMALLOC)
    );
    assert_eq!(
        m.vm.space_of(&m.ram, 0x0100_0000).unwrap(),
        None,
        "no process runs yet"
    );
    assert_eq!(m.vm.space_of(&m.ram, 0xf000_0000).unwrap(), None);
    let p = m.process();
    assert_eq!(p, SpaceId(2));
    assert_eq!(m.vm.space_of(&m.ram, 0x0100_0000).unwrap(), Some(p));
    let q = with!(m, |cx, pm, vm| vm.create_user_space(cx, pm)).unwrap();
    with!(m, |cx, pm, vm| vm.switch_to(cx, q)).unwrap();
    assert_eq!(m.vm.space_of(&m.ram, 0x01ff_ffff).unwrap(), Some(q));
    assert_eq!(
        with!(m, |cx, pm, vm| vm.switch_to(cx, SpaceId::KERNEL)),
        Err(VmError::NotUserSpace { space: 0 })
    );
    assert_eq!(
        with!(m, |cx, pm, vm| vm.switch_to(cx, SpaceId(5))),
        Err(VmError::NoSuchSpace { space: 5 })
    );
    assert_eq!(
        with!(m, |cx, pm, vm| vm.switch_to(cx, SpaceId(200))),
        Err(VmError::NoSuchSpace { space: 200 })
    );
    m.check();
}

#[test]
fn every_space_slot_can_be_used_and_reused() {
    let mut m = Machine::new(0x40000);
    let baseline = m.free_pages();
    let ids: Vec<_> = (0..4)
        .map(|_| with!(m, |cx, pm, vm| vm.create_user_space(cx, pm)).unwrap())
        .collect();
    assert_eq!(ids, vec![SpaceId(2), SpaceId(3), SpaceId(4), SpaceId(5)]);
    assert_eq!(
        with!(m, |cx, pm, vm| vm.create_user_space(cx, pm)),
        Err(VmError::TooManySpaces { max: 6 })
    );
    m.check();
    for id in ids {
        with!(m, |cx, pm, vm| vm.destroy_space(cx, pm, id)).unwrap();
        m.check();
    }
    assert_eq!(m.free_pages(), baseline);
    assert_eq!(
        with!(m, |cx, pm, vm| vm.destroy_space(cx, pm, SpaceId::VMALLOC)),
        Err(VmError::NotUserSpace { space: 1 })
    );
}

#[test]
fn init_refuses_bad_layouts() {
    let try_init = |page: u32, area: PhysArea, cfg: VmConfig| {
        let mut ram = Ram::new(vec![0u8; 0x40000]);
        ram.add_region(Name::lit("ddr"), RegionKind::External, 0x400e_0000, 0x40000)
            .unwrap();
        let log = Log::default();
        let mut sink = log.clone();
        let mut cx = Ctx::new(&mut ram, &mut sink);
        let pm = PhysMem::boot(&mut cx, Name::lit("pages"), page, &[area]).unwrap();
        let got = Vm::init(&mut cx, Name::lit("vm"), &pm, cfg).err();
        assert_eq!(got, last_vm_fault(&log));
        got
    };
    let area = PhysArea {
        start: 0x4010_0000,
        size: 0x10000,
    };
    let d = VmConfig::default();
    let cases = [
        (8192, area, d, ConfigError::BadBlockSize { size: 8192 }),
        (
            256,
            area,
            VmConfig {
                kernel_base: 0x4000_1000,
                ..d
            },
            ConfigError::Misaligned {
                addr: 0x4000_1000,
                align: 1 << 20,
            },
        ),
        (
            256,
            area,
            VmConfig {
                vmalloc_size: 0,
                ..d
            },
            ConfigError::TooSmall {
                needed: 1 << 20,
                available: 0,
            },
        ),
        (
            256,
            area,
            VmConfig {
                vmalloc_base: 0x4080_0000,
                ..d
            },
            ConfigError::Overlaps {
                addr: 0x4080_0000,
                size: 1 << 24,
            },
        ),
        (
            256,
            area,
            VmConfig {
                user_base: 0x4000_0000,
                ..d
            },
            ConfigError::Overlaps {
                addr: 0x4000_0000,
                size: 1 << 24,
            },
        ),
        (
            256,
            area,
            VmConfig {
                user_heap_base: MAP,
                ..d
            },
            ConfigError::Overlaps { addr: MAP, size: 0 },
        ),
        (
            256,
            area,
            VmConfig {
                user_map_size: 0x0100_0000,
                ..d
            },
            ConfigError::Overlaps {
                addr: MAP,
                size: 0x0100_0000,
            },
        ),
        (
            256,
            area,
            VmConfig {
                user_heap_base: HEAP + 4,
                ..d
            },
            ConfigError::Misaligned {
                addr: HEAP + 4,
                align: 4096,
            },
        ),
        (
            256,
            area,
            VmConfig {
                kernel_base: 0xfff0_0000,
                kernel_size: 0x0020_0000,
                ..d
            },
            ConfigError::Overlaps {
                addr: 0xfff0_0000,
                size: 0x0020_0000,
            },
        ),
        // Physical memory 0x400e0000..0x40120000 spans two sections; the kernel space one.
        (
            256,
            PhysArea {
                start: 0x400e_0000,
                size: 0x40000,
            },
            VmConfig {
                kernel_base: 0x8000_0000,
                kernel_size: 1 << 20,
                ..d
            },
            ConfigError::TooSmall {
                needed: 2 << 20,
                available: 1 << 20,
            },
        ),
    ];
    for (page, area, cfg, want) in cases {
        assert_eq!(
            try_init(page, area, cfg),
            Some(VmError::Config(want)),
            "{cfg:x?}"
        );
    }
}

// ---- regions ----

#[test]
fn regions_stay_ordered_and_overlaps_are_refused() {
    let mut m = Machine::new(0x20000);
    let p = m.process();
    let rw = rf::READ | rf::WRITE | rf::USER;
    for (start, size, name) in [
        (0x0120_0000, 8192, "data"),
        (0x0100_0000, 4096, "text"),
        (0x0110_0000, 100, "rodata"),
    ] {
        let got = with!(m, |cx, pm, vm| vm.region_alloc(
            cx,
            p,
            start,
            size,
            rw,
            Name::lit(name)
        ));
        assert_eq!(got, Ok(start));
    }
    // Anywhere: the lowest gap of the map range.
    let a = with!(m, |cx, pm, vm| vm.region_alloc(
        cx,
        p,
        0,
        5000,
        rw,
        Name::lit("mmap1")
    ))
    .unwrap();
    let b = with!(m, |cx, pm, vm| vm.region_alloc(
        cx,
        p,
        0,
        4096,
        rw,
        Name::lit("mmap2")
    ))
    .unwrap();
    assert_eq!((a, b), (MAP, MAP + 8192));
    let mut starts = Vec::new();
    m.vm.regions(&m.ram, p, &mut |r| {
        starts.push((r.start, r.size, r.name.as_str().to_string()))
    })
    .unwrap();
    assert_eq!(
        starts,
        vec![
            (0x0100_0000, 4096, "text".to_string()),
            (0x0110_0000, 4096, "rodata".to_string()),
            (0x0120_0000, 8192, "data".to_string()),
            (MAP, 8192, "mmap1".to_string()),
            (MAP + 8192, 4096, "mmap2".to_string()),
        ]
    );
    // The index in RAM is ordered by start; the list keeps the order of creation.
    let sp = m.vm.space(&m.ram, p).unwrap();
    let first = m.ram.read_u32(sp.desc + space::INDEX).unwrap();
    assert_eq!(m.ram.read_u32(first + 8).unwrap(), 0x0100_0000);
    let head_next = m.ram.read_u32(sp.desc + space::REGIONS + 4).unwrap();
    assert_eq!(m.ram.read_u32(head_next + 8).unwrap(), 0x0120_0000);
    assert_eq!(
        m.vm.region_at(&m.ram, p, 0x0120_1fff)
            .unwrap()
            .unwrap()
            .name
            .as_str(),
        "data"
    );
    assert_eq!(m.vm.region_at(&m.ram, p, 0x0120_2000).unwrap(), None);
    m.check();

    let bad: Vec<(Addr, u32, VmError)> = vec![
        (
            0x0120_1000,
            4096,
            VmError::Overlap {
                start: 0x0120_1000,
                size: 4096,
                other: 0x0120_0000,
            },
        ),
        (
            0x011f_f000,
            8192,
            VmError::Overlap {
                start: 0x011f_f000,
                size: 8192,
                other: 0x0120_0000,
            },
        ),
        (0x0100_0800, 4096, VmError::Misaligned { addr: 0x0100_0800 }),
        (
            0x01ff_f000,
            8192,
            VmError::OutsideSpace {
                start: 0x01ff_f000,
                size: 8192,
            },
        ),
        (
            0x4000_0000,
            4096,
            VmError::OutsideSpace {
                start: 0x4000_0000,
                size: 4096,
            },
        ),
        (0x0130_0000, 0, VmError::ZeroSize),
        (
            0x0130_0000,
            u32::MAX,
            VmError::OutsideSpace {
                start: 0,
                size: u32::MAX,
            },
        ),
        (
            0,
            0x0100_0000,
            VmError::NoVirtualSpace { size: 0x0100_0000 },
        ),
    ];
    let before = m.ram.slice(BASE, 0x20000).unwrap().to_vec();
    for (start, size, want) in bad {
        let got = with!(m, |cx, pm, vm| vm.region_alloc(
            cx,
            p,
            start,
            size,
            rw,
            Name::lit("x")
        ));
        assert_eq!(got, Err(want));
        assert_eq!(last_vm_fault(&m.log), Some(want));
        assert_eq!(
            m.ram.slice(BASE, 0x20000).unwrap(),
            &before[..],
            "{want:?} changed RAM"
        );
    }
    m.log.clear();
    let _ = with!(m, |cx, pm, vm| vm.region_alloc(
        cx,
        p,
        0x0120_1000,
        4096,
        rw,
        Name::lit("x")
    ));
    assert_eq!(
        m.log.text(),
        "vm.fault op=region_alloc space=2 addr=0x01201000 size=4096 error=Overlap start=0x01201000 size=4096 other=0x01200000\n"
    );
    assert_eq!(
        with!(m, |cx, pm, vm| vm.region_free(cx, pm, p, 0x0120_1000)),
        Err(VmError::NoSuchRegion { addr: 0x0120_1000 })
    );
    // A space holds 16 regions.
    for i in 5..16 {
        with!(m, |cx, pm, vm| vm.region_alloc(
            cx,
            p,
            0x0130_0000 + i * 0x1000,
            4096,
            rw,
            Name::lit("r")
        ))
        .unwrap();
    }
    assert_eq!(
        with!(m, |cx, pm, vm| vm.region_alloc(
            cx,
            p,
            0,
            4096,
            rw,
            Name::lit("r")
        )),
        Err(VmError::TooManyRegions { max: 16 })
    );
    m.check();
    with!(m, |cx, pm, vm| vm.region_free(cx, pm, p, 0x0110_0000)).unwrap();
    m.check();
    let mut n = 0;
    m.vm.regions(&m.ram, p, &mut |_| n += 1).unwrap();
    assert_eq!(n, 15);
}

// ---- page tables ----

#[test]
fn map_translate_and_unmap_walk_two_levels() {
    let mut m = Machine::new(0x20000);
    let p = m.process();
    let rw = rf::READ | rf::WRITE | rf::USER;
    with!(m, |cx, pm, vm| vm.region_alloc(
        cx,
        p,
        0x0120_0000,
        8192,
        rw,
        Name::lit("data")
    ))
    .unwrap();
    let frame = with!(m, |cx, pm, vm| pm.alloc_contiguous(cx, 16)).unwrap();
    assert_eq!(frame % 4096, 0, "a 4 KiB block is 4 KiB-aligned");
    let baseline = m.free_pages();
    m.log.clear();
    with!(m, |cx, pm, vm| vm.map(cx, pm, p, 0x0120_1000, frame)).unwrap();
    let table = match m.log.vm_events()[..] {
        [VmEvent::Table {
            space: 2,
            index: 2,
            table,
        }, VmEvent::Map {
            space: 2,
            vaddr: 0x0120_1000,
            paddr,
        }] => {
            assert_eq!(paddr, frame);
            table
        }
        ref other => panic!("{other:?}"),
    };
    let info = m.pm.block_info(&m.ram, frame).unwrap().unwrap();
    assert_eq!((info.refs, info.mapping), (2, table + 4));
    let sp = m.vm.space(&m.ram, p).unwrap();
    m.log.clear();
    let pa = with!(m, |cx, pm, vm| vm.translate(cx, p, 0x0120_1abc)).unwrap();
    assert_eq!(pa, frame + 0xabc);
    let entry = frame | pte::SMALL | pte::AP0 | pte::USER | pte::XN;
    assert_eq!(
        m.log.vm_events(),
        vec![
            VmEvent::L1 {
                vaddr: 0x0120_1abc,
                index: 2,
                at: sp.ttb + 8,
                entry: table | l1::COARSE
            },
            VmEvent::L2 {
                index: 1,
                at: table + 4,
                entry
            },
            VmEvent::Translate {
                vaddr: 0x0120_1abc,
                paddr: frame + 0xabc
            },
        ]
    );
    m.check();
    // Errors. A block holding page tables cannot be mapped.
    let fake_table = with!(m, |cx, pm, vm| pm.alloc_contiguous(cx, 16)).unwrap();
    with!(m, |cx, pm, vm| pm.mark(cx, fake_table, pg::TABLE)).unwrap();
    let errors = [
        (
            0x0120_1000,
            frame,
            VmError::AlreadyMapped {
                vaddr: 0x0120_1000,
                paddr: frame,
            },
        ),
        (
            0x0120_0800,
            frame,
            VmError::Misaligned { addr: 0x0120_0800 },
        ),
        (
            0x0120_0000,
            frame + 256,
            VmError::Misaligned { addr: frame + 256 },
        ),
        (0x0130_0000, frame, VmError::SegFault { vaddr: 0x0130_0000 }),
        (
            0x0120_0000,
            BASE + 0x1_f000,
            VmError::FrameNotAllocated {
                paddr: BASE + 0x1_f000,
            },
        ),
        (
            0x0120_0000,
            frame,
            VmError::FrameMapped {
                paddr: frame,
                pte: table + 4,
            },
        ),
        (
            0x0120_0000,
            fake_table,
            VmError::FrameIsTable { paddr: fake_table },
        ),
    ];
    for (vaddr, paddr, want) in errors {
        assert_eq!(
            with!(m, |cx, pm, vm| vm.map(cx, pm, p, vaddr, paddr)),
            Err(want)
        );
    }
    // Tidy the fake table away (as a plain block) before checking.
    let flags_at = m.pm.block_info(&m.ram, fake_table).unwrap().unwrap().entry + 24;
    m.ram
        .write_u32(flags_at, m.ram.read_u32(flags_at).unwrap() & !pg::TABLE)
        .unwrap();
    with!(m, |cx, pm, vm| pm.free_contiguous(cx, fake_table, 16)).unwrap();
    assert_eq!(
        with!(m, |cx, pm, vm| vm.translate(cx, p, 0x0120_0000)),
        Err(VmError::NotMapped { vaddr: 0x0120_0000 })
    );
    assert_eq!(
        with!(m, |cx, pm, vm| vm.unmap(cx, pm, p, 0x0120_0000)),
        Err(VmError::NotMapped { vaddr: 0x0120_0000 })
    );
    assert_eq!(
        with!(m, |cx, pm, vm| vm.translate(cx, p, 0x4000_0000)),
        Err(VmError::OutsideSpace {
            start: 0x4000_0000,
            size: 1
        })
    );
    // Device memory outside the buddy can be mapped too.
    with!(m, |cx, pm, vm| vm.map(cx, pm, p, 0x0120_0000, 0x1000_0000)).unwrap();
    m.check();
    // The owner drops its reference: the mapping keeps the frame alive.
    with!(m, |cx, pm, vm| pm.free_contiguous(cx, frame, 16)).unwrap();
    assert_eq!(m.pm.block_info(&m.ram, frame).unwrap().unwrap().refs, 1);
    assert_eq!(
        with!(m, |cx, pm, vm| pm.free_contiguous(cx, frame, 16)),
        Err(PageError::Mapped {
            addr: frame,
            pte: table + 4
        })
    );
    m.log.clear();
    with!(m, |cx, pm, vm| vm.unmap(cx, pm, p, 0x0120_1000)).unwrap();
    assert!(
        m.pm.block_info(&m.ram, frame).unwrap().unwrap().free,
        "the last reference went with the mapping"
    );
    with!(m, |cx, pm, vm| vm.unmap(cx, pm, p, 0x0120_0000)).unwrap();
    assert!(m.log.vm_events().contains(&VmEvent::TableFree {
        space: 2,
        index: 2,
        table
    }));
    assert_eq!(
        m.free_pages(),
        baseline + 16,
        "the frame and the L2 table are back"
    );
    m.check();
}

#[test]
fn demand_paging_maps_a_fresh_zeroed_page_on_first_touch() {
    let mut m = Machine::new(0x20000);
    let p = m.process();
    assert_eq!(with!(m, |cx, pm, vm| vm.brk(cx, pm, p, 0)), Ok(HEAP));
    assert_eq!(with!(m, |cx, pm, vm| vm.sbrk(cx, pm, p, 10_000)), Ok(HEAP));
    assert_eq!(m.vm.space(&m.ram, p).unwrap().heap_now, HEAP + 10_000);
    // Dirty the memory the page will come from: demand paging must zero it.
    let (lo, hi) = (BASE + 0x8000, BASE + 0x20000);
    m.ram.fill(lo, hi - lo, 0xee).unwrap();
    // Restore the page array bits we just overwrote? No: only free pages live up there.
    m.pm.check(&m.ram).unwrap();
    m.log.clear();
    let pa = with!(m, |cx, pm, vm| vm.access(cx, pm, HEAP + 0x1004, true)).unwrap();
    let frame = pa & !0xfff;
    let ev = m.log.vm_events();
    assert!(ev.contains(&VmEvent::PageFault {
        vaddr: HEAP + 0x1004,
        region: HEAP
    }));
    assert_eq!(
        *ev.last().unwrap(),
        VmEvent::Access {
            vaddr: HEAP + 0x1004,
            paddr: pa,
            write: true
        }
    );
    assert!(
        m.ram.slice(frame, 4096).unwrap().iter().all(|&b| b == 0),
        "zeroed"
    );
    let info = m.pm.block_info(&m.ram, frame).unwrap().unwrap();
    assert_eq!(info.refs, 1, "the mapping holds the only reference");
    assert!(info.flags & pg::ANON != 0);
    assert_eq!(info.lru, Some(memplay_engine::pages::LruList::Inactive));
    assert_ne!(info.mapping, 0);
    m.check();
    // The second access finds the page and touches it.
    m.log.clear();
    let pa2 = with!(m, |cx, pm, vm| vm.access(cx, pm, HEAP + 0x1ff0, false)).unwrap();
    assert_eq!(pa2, frame + 0xff0);
    assert!(!m
        .log
        .vm_events()
        .iter()
        .any(|e| matches!(e, VmEvent::PageFault { .. })));
    assert_eq!(
        m.pm.block_info(&m.ram, frame).unwrap().unwrap().lru,
        Some(memplay_engine::pages::LruList::Active)
    );
    // Past the heap's last page: a segmentation fault.
    m.log.clear();
    assert_eq!(
        with!(m, |cx, pm, vm| vm.access(cx, pm, HEAP + 0x3000, false)),
        Err(VmError::SegFault {
            vaddr: HEAP + 0x3000
        })
    );
    assert_eq!(
        m.log.text(),
        "vm.fault op=access vaddr=0x01403000 write=0 error=SegFault vaddr=0x01403000\n"
    );
    m.check();
}

#[test]
fn segmentation_and_protection_faults() {
    let mut m = Machine::new(0x20000);
    let cases = [
        (0x0100_0000, false, VmError::SegFault { vaddr: 0x0100_0000 }), // no process runs
        (0xf000_0000, true, VmError::SegFault { vaddr: 0xf000_0000 }),  // in no space
        (0x4010_0000, false, VmError::SegFault { vaddr: 0x4010_0000 }), // past the linear map
        (0x4100_0000, false, VmError::SegFault { vaddr: 0x4100_0000 }), // empty vmalloc space
    ];
    for (vaddr, write, want) in cases {
        assert_eq!(
            with!(m, |cx, pm, vm| vm.access(cx, pm, vaddr, write)),
            Err(want)
        );
        assert_eq!(last_vm_fault(&m.log), Some(want));
    }
    let p = m.process();
    with!(m, |cx, pm, vm| vm.region_alloc(
        cx,
        p,
        0x0100_0000,
        4096,
        rf::READ | rf::USER,
        Name::lit("text")
    ))
    .unwrap();
    with!(m, |cx, pm, vm| vm.region_alloc(
        cx,
        p,
        0x0110_0000,
        4096,
        rf::WRITE | rf::USER,
        Name::lit("wo")
    ))
    .unwrap();
    assert_eq!(
        with!(m, |cx, pm, vm| vm.access(cx, pm, 0x0100_0010, true)),
        Err(VmError::Protection {
            vaddr: 0x0100_0010,
            write: true
        })
    );
    assert_eq!(
        with!(m, |cx, pm, vm| vm.access(cx, pm, 0x0110_0010, false)),
        Err(VmError::Protection {
            vaddr: 0x0110_0010,
            write: false
        })
    );
    // A region that is not the heap is not demand-paged.
    assert_eq!(
        with!(m, |cx, pm, vm| vm.access(cx, pm, 0x0100_0010, false)),
        Err(VmError::NotMapped { vaddr: 0x0100_0010 })
    );
    // The kernel's linear map is always there.
    assert_eq!(
        with!(m, |cx, pm, vm| vm.access(cx, pm, 0x4000_0010, true)),
        Ok(0x4000_0010)
    );
    m.check();
}

#[test]
fn brk_grows_and_shrinks_the_heap_region() {
    let mut m = Machine::new(0x20000);
    let p = m.process();
    let baseline = m.free_pages();
    assert_eq!(
        with!(m, |cx, pm, vm| vm.brk(cx, pm, p, HEAP + 1)),
        Ok(HEAP + 1)
    );
    let heap = m.vm.region_at(&m.ram, p, HEAP).unwrap().unwrap();
    assert_eq!(
        (heap.size, heap.flags, heap.name.as_str()),
        (4096, rf::READ | rf::WRITE | rf::USER | rf::HEAP, "heap")
    );
    assert_eq!(format!("{}", Perm(heap.flags)), "rw-uh");
    assert_eq!(
        with!(m, |cx, pm, vm| vm.brk(cx, pm, p, HEAP + 0x3000)),
        Ok(HEAP + 0x3000)
    );
    assert_eq!(
        m.vm.region_at(&m.ram, p, HEAP).unwrap().unwrap().size,
        0x3000
    );
    for page in 0..3 {
        with!(m, |cx, pm, vm| vm.access(
            cx,
            pm,
            HEAP + page * 0x1000,
            true
        ))
        .unwrap();
    }
    m.check();
    // Shrinking unmaps and frees the pages past the new end.
    assert_eq!(
        with!(m, |cx, pm, vm| vm.sbrk(cx, pm, p, -0x2000)),
        Ok(HEAP + 0x3000)
    );
    assert_eq!(
        m.vm.region_at(&m.ram, p, HEAP).unwrap().unwrap().size,
        0x1000
    );
    assert_eq!(
        with!(m, |cx, pm, vm| vm.translate(cx, p, HEAP + 0x1000)),
        Err(VmError::NotMapped {
            vaddr: HEAP + 0x1000
        })
    );
    m.check();
    // Back to the base: the region goes, and with it every page and table.
    assert_eq!(with!(m, |cx, pm, vm| vm.brk(cx, pm, p, HEAP)), Ok(HEAP));
    assert_eq!(m.vm.region_at(&m.ram, p, HEAP).unwrap(), None);
    assert_eq!(m.free_pages(), baseline);
    m.check();
    // Limits.
    let out = |addr| VmError::BrkOutOfRange {
        addr,
        base: HEAP,
        limit: MAP,
    };
    assert_eq!(
        with!(m, |cx, pm, vm| vm.brk(cx, pm, p, HEAP - 1)),
        Err(out(HEAP - 1))
    );
    assert_eq!(
        with!(m, |cx, pm, vm| vm.brk(cx, pm, p, MAP + 1)),
        Err(out(MAP + 1))
    );
    assert_eq!(
        with!(m, |cx, pm, vm| vm.brk(cx, pm, p, u32::MAX)),
        Err(out(u32::MAX))
    );
    assert_eq!(
        with!(m, |cx, pm, vm| vm.sbrk(cx, pm, p, i32::MIN)),
        Err(out(HEAP.wrapping_add_signed(i32::MIN)))
    );
    assert_eq!(
        with!(m, |cx, pm, vm| vm.brk(cx, pm, p, MAP)),
        Ok(MAP),
        "up to the map base"
    );
    with!(m, |cx, pm, vm| vm.brk(cx, pm, p, HEAP + 0x1000)).unwrap();
    // Another region right after the heap stops its growth.
    with!(m, |cx, pm, vm| vm.region_alloc(
        cx,
        p,
        HEAP + 0x2000,
        4096,
        rf::READ,
        Name::lit("guard")
    ))
    .unwrap();
    assert_eq!(
        with!(m, |cx, pm, vm| vm.brk(cx, pm, p, HEAP + 0x2001)),
        Err(VmError::Overlap {
            start: HEAP + 0x1000,
            size: 0x2000,
            other: HEAP + 0x2000
        })
    );
    assert_eq!(
        with!(m, |cx, pm, vm| vm.brk(cx, pm, SpaceId::KERNEL, HEAP)),
        Err(VmError::NotUserSpace { space: 0 })
    );
    m.check();
}

#[test]
fn reclaim_takes_heap_pages_back_through_their_mappings() {
    // 64 KiB of RAM: room for about ten 4 KiB pages after the tables.
    let mut m = Machine::new(0x10000);
    let p = m.process();
    with!(m, |cx, pm, vm| vm.brk(cx, pm, p, HEAP + 0x20000)).unwrap();
    m.log.clear();
    for page in 0..32u32 {
        with!(m, |cx, pm, vm| vm.access(
            cx,
            pm,
            HEAP + page * 0x1000,
            true
        ))
        .unwrap_or_else(|e| panic!("page {page}: {e}"));
        m.check();
    }
    let writebacks: Vec<_> = m
        .log
        .0
        .borrow()
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Page(PageEvent::Writeback { page, pte, .. }) => Some((page, pte)),
            _ => None,
        })
        .collect();
    assert!(writebacks.len() >= 20, "{} write-backs", writebacks.len());
    assert!(
        writebacks.iter().all(|&(_, pte)| pte != 0),
        "heap pages are written back through their mapping"
    );
    // The first page was taken back: touching it faults a fresh page in again.
    assert_eq!(
        with!(m, |cx, pm, vm| vm.translate(cx, p, HEAP)),
        Err(VmError::NotMapped { vaddr: HEAP })
    );
    m.log.clear();
    with!(m, |cx, pm, vm| vm.access(cx, pm, HEAP, false)).unwrap();
    assert!(m.log.vm_events().contains(&VmEvent::PageFault {
        vaddr: HEAP,
        region: HEAP
    }));
    m.check();
    // Destroying the process gives everything back, empty tables included.
    let before = {
        with!(m, |cx, pm, vm| vm.destroy_space(cx, pm, p)).unwrap();
        m.free_pages()
    };
    m.check();
    let again = m.process();
    with!(m, |cx, pm, vm| vm.destroy_space(cx, pm, again)).unwrap();
    assert_eq!(m.free_pages(), before);
    assert_eq!(m.vm.current(&m.ram).unwrap(), None);
}

#[test]
fn vmalloc_maps_separate_pages_and_vfree_returns_them() {
    let mut m = Machine::new(0x20000);
    let baseline = m.free_pages();
    let v = with!(m, |cx, pm, vm| vm.vmalloc(cx, pm, 3 * 4096 + 1)).unwrap();
    assert_eq!(v, 0x4100_0000);
    let mut frames = Vec::new();
    for i in 0..4 {
        frames.push(with!(m, |cx, pm, vm| vm.access(cx, pm, v + i * 4096, true)).unwrap());
    }
    assert!(frames.iter().all(|f| f % 4096 == 0));
    m.check();
    assert_eq!(
        with!(m, |cx, pm, vm| vm.vfree(cx, pm, v + 4096)),
        Err(VmError::NoSuchRegion { addr: v + 4096 })
    );
    with!(m, |cx, pm, vm| vm.vfree(cx, pm, v)).unwrap();
    assert_eq!(m.free_pages(), baseline);
    m.check();
    // Too large for the memory: everything is rolled back.
    let err = with!(m, |cx, pm, vm| vm.vmalloc(cx, pm, 0x40000)).unwrap_err();
    assert!(
        matches!(err, VmError::Page(PageError::OutOfPages { .. })),
        "{err:?}"
    );
    assert_eq!(m.free_pages(), baseline);
    m.check();
}

// ---- corruption ----

#[test]
fn corrupted_tables_and_regions_give_typed_errors() {
    let mut m = Machine::new(0x20000);
    let p = m.process();
    with!(m, |cx, pm, vm| vm.brk(cx, pm, p, HEAP + 0x2000)).unwrap();
    with!(m, |cx, pm, vm| vm.access(cx, pm, HEAP, true)).unwrap();
    m.check();
    let sp = m.vm.space(&m.ram, p).unwrap();
    let l1_at = sp.ttb + 4 * ((HEAP - sp.base) >> 20);
    let good = m.ram.read_u32(l1_at).unwrap();
    // The reserved descriptor type.
    m.ram.write_u32(l1_at, good | 0b11).unwrap();
    assert!(matches!(
        m.vm.check(&m.ram, &m.pm),
        Err(AllocError::Inconsistent { .. })
    ));
    assert!(matches!(
        with!(m, |cx, pm, vm| vm.access(cx, pm, HEAP, false)),
        Err(VmError::Meta(AllocError::Inconsistent { .. }))
    ));
    // A coarse entry pointing at a block that is not a table: the VM refuses to write
    // through it.
    m.ram
        .write_u32(l1_at, (BASE + 0x1_0000) | l1::COARSE)
        .unwrap();
    assert!(m.vm.check(&m.ram, &m.pm).is_err());
    assert!(matches!(
        with!(m, |cx, pm, vm| vm.access(cx, pm, HEAP + 0x1000, true)),
        Err(VmError::Meta(AllocError::Inconsistent { .. }))
    ));
    m.ram.write_u32(l1_at, good).unwrap();
    m.check();
    // One byte of the region count.
    let count_at = sp.desc + space::REGION_COUNT;
    m.ram.write_u8(count_at, 200).unwrap();
    assert!(m.vm.check(&m.ram, &m.pm).is_err());
    assert!(matches!(
        with!(m, |cx, pm, vm| vm.access(cx, pm, HEAP, false)),
        Err(VmError::Meta(_))
    ));
    m.ram.write_u8(count_at, 1).unwrap();
    m.check();
    // The current-process word.
    m.ram.write_u32(m.vm.root_addr() + 4, 77).unwrap();
    assert!(m.vm.check(&m.ram, &m.pm).is_err());
    assert!(with!(m, |cx, pm, vm| vm.access(cx, pm, HEAP, false)).is_err());
}

#[test]
fn random_corruption_of_vm_metadata_never_panics_or_hangs() {
    let mut prng = Prng::new(11);
    for _ in 0..150 {
        let mut m = Machine::new(0x20000);
        let p = m.process();
        with!(m, |cx, pm, vm| vm.brk(cx, pm, p, HEAP + 0x4000)).unwrap();
        with!(m, |cx, pm, vm| vm.access(cx, pm, HEAP, true)).unwrap();
        // The VM control block, or anywhere in the first 32 KiB: the page array, the
        // page tables, the pages.
        let at = if prng.below(2) == 0 {
            m.vm.root_addr() + prng.below(2048)
        } else {
            BASE + prng.below(0x8000)
        };
        m.ram.write_u8(at, prng.next_u32() as u8).unwrap();
        let _ = m.vm.check(&m.ram, &m.pm);
        for _ in 0..30 {
            let vaddr = HEAP + prng.below(0x6000);
            let _ = match prng.below(5) {
                0 => with!(m, |cx, pm, vm| vm.access(cx, pm, vaddr, true)).map(|_| ()),
                1 => with!(m, |cx, pm, vm| vm.brk(cx, pm, p, vaddr)).map(|_| ()),
                2 => with!(m, |cx, pm, vm| vm.unmap(cx, pm, p, vaddr)),
                3 => with!(m, |cx, pm, vm| vm.region_alloc(
                    cx,
                    p,
                    0,
                    4096,
                    rf::READ,
                    Name::lit("r")
                ))
                .map(|_| ()),
                _ => with!(m, |cx, pm, vm| vm.destroy_space(cx, pm, p)),
            };
            let _ = m.vm.check(&m.ram, &m.pm);
        }
    }
}

// ---- random operations ----

#[test]
fn random_vm_operations_keep_every_invariant() {
    let mut total = 0u32;
    for seed in 0..10u64 {
        let mut prng = Prng::new(seed);
        let mut m = Machine::new(0x18000);
        let baseline = m.free_pages();
        let mut procs: Vec<SpaceId> = Vec::new();
        let mut vmallocs: Vec<Addr> = Vec::new();
        let mut frames: Vec<Addr> = Vec::new();
        for _ in 0..500 {
            total += 1;
            let op = prng.below(12);
            let pick = |prng: &mut Prng, v: &[SpaceId]| {
                v.get(prng.below(v.len() as u32) as usize).copied()
            };
            let result: Result<(), VmError> = match op {
                0 if procs.len() < 3 => with!(m, |cx, pm, vm| vm
                    .create_user_space(cx, pm)
                    .and_then(|id| vm.switch_to(cx, id).map(|_| id)))
                .map(|id| procs.push(id)),
                1 => match pick(&mut prng, &procs) {
                    Some(id) if prng.below(4) == 0 => {
                        procs.retain(|&q| q != id);
                        with!(m, |cx, pm, vm| vm.destroy_space(cx, pm, id))
                    }
                    Some(id) => with!(m, |cx, pm, vm| vm.switch_to(cx, id)),
                    None => Ok(()),
                },
                2..=4 => {
                    // Mostly inside a region of the running process, where pages fault in.
                    let mut regions = Vec::new();
                    if let Some(cur) = m.vm.current(&m.ram).unwrap() {
                        m.vm.regions(&m.ram, cur, &mut |r| regions.push(r)).unwrap();
                    }
                    let vaddr = match (prng.below(4), regions.is_empty()) {
                        (0..=2, false) => {
                            let r = regions[prng.below(regions.len() as u32) as usize];
                            r.start + prng.below(r.size)
                        }
                        (0, true) => 0x0100_0000 + prng.below(0x0100_0000),
                        _ => prng.next_u32(),
                    };
                    with!(m, |cx, pm, vm| vm.access(cx, pm, vaddr, prng.below(2) == 0)).map(|_| ())
                }
                5 => match pick(&mut prng, &procs) {
                    Some(id) => with!(m, |cx, pm, vm| vm.brk(
                        cx,
                        pm,
                        id,
                        HEAP + prng.below(0x1_2000)
                    ))
                    .map(|_| ()),
                    None => Ok(()),
                },
                6 => match pick(&mut prng, &procs) {
                    Some(id) => {
                        let at = if prng.below(2) == 0 {
                            0
                        } else {
                            0x0100_0000 + (prng.below(0x1000) << 12)
                        };
                        let flags = prng.below(32);
                        with!(m, |cx, pm, vm| vm.region_alloc(
                            cx,
                            id,
                            at,
                            1 + prng.below(0x3000),
                            flags,
                            Name::lit("r")
                        ))
                        .map(|_| ())
                    }
                    None => Ok(()),
                },
                7 => match pick(&mut prng, &procs) {
                    Some(id) => {
                        let mut starts = Vec::new();
                        m.vm.regions(&m.ram, id, &mut |r| starts.push(r.start))
                            .unwrap();
                        match starts.get(prng.below(starts.len().max(1) as u32) as usize) {
                            Some(&s) => with!(m, |cx, pm, vm| vm.region_free(cx, pm, id, s)),
                            None => Ok(()),
                        }
                    }
                    None => Ok(()),
                },
                8 => match pick(&mut prng, &procs) {
                    Some(id) => {
                        let mut regions = Vec::new();
                        m.vm.regions(&m.ram, id, &mut |r| regions.push(r)).unwrap();
                        let frame = if !frames.is_empty() && prng.below(3) > 0 {
                            frames[prng.below(frames.len() as u32) as usize]
                        } else {
                            (BASE + prng.below(0x18000)) & !0xfff
                        };
                        match regions.get(prng.below(regions.len().max(1) as u32) as usize) {
                            Some(r) => {
                                let va = r.start + (prng.below(r.size / 4096) << 12);
                                if prng.below(2) == 0 {
                                    with!(m, |cx, pm, vm| vm.map(cx, pm, id, va, frame))
                                } else {
                                    with!(m, |cx, pm, vm| vm.unmap(cx, pm, id, va))
                                }
                            }
                            None => Ok(()),
                        }
                    }
                    None => Ok(()),
                },
                9 => {
                    if vmallocs.is_empty() || prng.below(2) == 0 {
                        with!(m, |cx, pm, vm| vm.vmalloc(cx, pm, 1 + prng.below(0x3000)))
                            .map(|v| vmallocs.push(v))
                    } else {
                        let v = vmallocs.swap_remove(prng.below(vmallocs.len() as u32) as usize);
                        with!(m, |cx, pm, vm| vm.vfree(cx, pm, v))
                    }
                }
                10 => {
                    if frames.is_empty() || prng.below(2) == 0 {
                        with!(m, |cx, pm, vm| pm.alloc_contiguous(cx, 16))
                            .map(|f| frames.push(f))
                            .map_err(VmError::from)
                    } else {
                        let f = frames.swap_remove(prng.below(frames.len() as u32) as usize);
                        // Still mapped somewhere: the frame stays until its mappings go.
                        match with!(m, |cx, pm, vm| pm.free_contiguous(cx, f, 16)) {
                            Err(PageError::Mapped { .. }) => {
                                frames.push(f);
                                Ok(())
                            }
                            other => other.map_err(VmError::from),
                        }
                    }
                }
                _ => match pick(&mut prng, &procs) {
                    Some(id) => with!(m, |cx, pm, vm| vm.translate(
                        cx,
                        id,
                        0x0100_0000 + prng.below(0x0100_0000)
                    ))
                    .map(|_| ()),
                    None => Ok(()),
                },
            };
            if let Err(e) = result {
                assert!(
                    !matches!(e, VmError::Meta(_)),
                    "seed {seed}: op {op} broke metadata: {e}"
                );
                assert_eq!(
                    last_vm_fault(&m.log)
                        .map(|_| ())
                        .or_else(|| match m.log.last() {
                            Some(EventKind::Page(PageEvent::Fault { .. })) => Some(()),
                            _ => None,
                        }),
                    Some(()),
                    "seed {seed}: a failed op ends with a fault event"
                );
            }
            m.log.clear();
            m.pm.check(&m.ram)
                .unwrap_or_else(|e| panic!("seed {seed} op {op}: pages: {e}"));
            m.vm.check(&m.ram, &m.pm)
                .unwrap_or_else(|e| panic!("seed {seed} op {op}: vm: {e}"));
        }
        // Everything given back: the memory is as after init.
        for id in procs {
            with!(m, |cx, pm, vm| vm.destroy_space(cx, pm, id)).unwrap();
        }
        for v in vmallocs {
            with!(m, |cx, pm, vm| vm.vfree(cx, pm, v)).unwrap();
        }
        for f in frames {
            with!(m, |cx, pm, vm| pm.free_contiguous(cx, f, 16)).unwrap();
        }
        m.check();
        assert_eq!(m.free_pages(), baseline, "seed {seed}: pages leaked");
    }
    assert!(total >= 5000);
}

#[test]
fn a_traced_session_reads_well() {
    let mut ram = Ram::new(vec![0u8; 0x20000]);
    ram.add_region(Name::lit("ddr"), RegionKind::External, BASE, 0x20000)
        .unwrap();
    let mut q = Quiet;
    let mut cx = Ctx::new(&mut ram, &mut q);
    let pm = PhysMem::boot(
        &mut cx,
        Name::lit("pages"),
        256,
        &[PhysArea {
            start: BASE,
            size: 0x20000,
        }],
    )
    .unwrap();
    let vm = Vm::init(&mut cx, Name::lit("vm"), &pm, VmConfig::default()).unwrap();
    let p = vm.create_user_space(&mut cx, &pm).unwrap();
    vm.switch_to(&mut cx, p).unwrap();
    vm.brk(&mut cx, &pm, p, HEAP + 100).unwrap();
    let mut sink = TextSink::new(String::new());
    let mut cx = Ctx::new(&mut ram, &mut sink);
    vm.access(&mut cx, &pm, HEAP + 8, true).unwrap();
    let lines: Vec<&str> = sink
        .out
        .lines()
        .filter(|l| !l.contains(".meta ") && !l.contains(".fill "))
        .collect();
    assert_eq!(
        lines[0],
        "0000 vm.l1 vaddr=0x01400008 index=4 at=0x40004b10 entry=0x00000000"
    );
    assert_eq!(
        lines[1],
        "0000 vm.page_fault vaddr=0x01400008 region=0x01400000"
    );
    assert!(lines.contains(&"0000 vm.table space=2 index=4 table=0x40004c00"));
    assert_eq!(
        *lines.last().unwrap(),
        "0000 vm.access vaddr=0x01400008 paddr=0x40006008 write=1"
    );
}
