//! KAL system memory: unit tests of each rule, bad input, corruption, a pinned canonical
//! trace, and a dedicated property test (the shared harness frees live blocks, which system
//! memory never does).

use std::cell::Cell;

use memplay_engine::sysmem::{Area, SystemMemory, SYSMEM_MAGIC};
use memplay_engine::trace::{Recorder, TextSink};
use memplay_engine::{
    Addr, AllocError, Allocator, Block, BlockKind, ConfigError, Ctx, EventKind, Field, Name, Owner,
    Ram, RegionKind,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const ISRAM: Addr = 0x4000_0000;
const ISRAM_SIZE: u32 = 0x1000;
const EXT: Addr = 0x0800_0000;
const EXT_SIZE: u32 = 0x4000;
/// An external region system memory has no area in.
const SPARE: Addr = 0x0900_0000;
const SPARE_SIZE: u32 = 0x100;

fn isram() -> Name {
    Name::lit("isram")
}
fn extsram() -> Name {
    Name::lit("extsram")
}
fn spare() -> Name {
    Name::lit("spare")
}
fn sys() -> Name {
    Name::lit("sys")
}

fn machine() -> Ram<Vec<u8>> {
    let mut ram = Ram::new(vec![0u8; (ISRAM_SIZE + EXT_SIZE + SPARE_SIZE) as usize]);
    ram.add_region(isram(), RegionKind::Internal, ISRAM, ISRAM_SIZE)
        .unwrap();
    ram.add_region(extsram(), RegionKind::External, EXT, EXT_SIZE)
        .unwrap();
    ram.add_region(spare(), RegionKind::External, SPARE, SPARE_SIZE)
        .unwrap();
    ram
}

/// System memory over `areas` with `records` record slots.
fn sysmem(areas: &[Area], records: u32) -> (Ram<Vec<u8>>, SystemMemory) {
    let mut ram = machine();
    let mut rec = Recorder::default();
    let s = SystemMemory::with_records(&mut Ctx::new(&mut ram, &mut rec), sys(), areas, records)
        .unwrap();
    (ram, s)
}

fn carve(ram: &mut Ram<Vec<u8>>, s: &mut SystemMemory, size: u32) -> Result<Addr, AllocError> {
    let mut rec = Recorder::default();
    s.alloc(&mut Ctx::new(ram, &mut rec), size, Owner(7))
}

fn spans(ram: &Ram<Vec<u8>>, s: &SystemMemory) -> Vec<Block> {
    let mut v = Vec::new();
    s.walk(ram, &mut |b| v.push(b)).unwrap();
    v
}

/// The external area first (so it holds the control block), then the internal one.
fn ext_then_int() -> [Area; 2] {
    [Area::new(EXT, 0x1000), Area::new(ISRAM, 0x200)]
}

#[test]
fn the_control_block_opens_the_first_area() {
    let (ram, s) = sysmem(&ext_then_int(), 8);
    let word = |a: Addr| ram.read_u32(a).unwrap();
    assert_eq!(s.control_block(), EXT);
    assert_eq!(word(EXT), SYSMEM_MAGIC);
    assert_eq!(word(EXT + 4), 2);
    assert_eq!(word(EXT + 8), 8);
    assert_eq!(word(EXT + 12), 0);
    assert_eq!(word(EXT + 16), 0);
    let cb_size = 20 + 2 * 8 + 8 * 12;
    assert_eq!(s.cb_size(), cb_size);
    assert_eq!(word(EXT + 20), EXT + cb_size);
    assert_eq!(word(EXT + 24), 0x1000 - cb_size);
    assert_eq!(word(EXT + 28), ISRAM);
    assert_eq!(word(EXT + 32), 0x200);
    s.check(&ram).unwrap();
    let left = s.left_size(&ram).unwrap();
    assert_eq!(left.as_slice(), [0x1000 - cb_size, 0x200]);
    assert_eq!(left.total, 0x1000 - cb_size + 0x200);
}

#[test]
fn carves_take_internal_memory_first_then_fall_back_to_external() {
    let (mut ram, mut s) = sysmem(&ext_then_int(), 8);
    let a = carve(&mut ram, &mut s, 0x100).unwrap();
    assert_eq!(a, ISRAM);
    let b = carve(&mut ram, &mut s, 0x100).unwrap();
    assert_eq!(b, ISRAM + 0x100);
    // Internal memory is full: the next carve searches on into external memory.
    let mut rec = Recorder::default();
    let c = s
        .alloc(&mut Ctx::new(&mut ram, &mut rec), 4, Owner(2))
        .unwrap();
    assert_eq!(c, EXT + s.cb_size());
    let kinds: Vec<_> = rec.events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds[0],
        EventKind::Search {
            size: 4,
            visited: 2
        }
    );
    assert_eq!(
        *kinds.last().unwrap(),
        EventKind::Carve {
            addr: c,
            size: 4,
            region: extsram()
        }
    );
    assert!(!kinds.iter().any(|k| matches!(k, EventKind::Alloc { .. })));
    s.check(&ram).unwrap();
}

#[test]
fn carves_are_aligned_and_rounded_up_to_four_bytes() {
    let (mut ram, mut s) = sysmem(&[Area::new(ISRAM + 2, 0x102)], 8);
    // The control block starts at the first 4-aligned address.
    assert_eq!(s.control_block(), ISRAM + 4);
    let start = ISRAM + 4 + s.cb_size();
    let before = s.left_size(&ram).unwrap().total;
    let a = carve(&mut ram, &mut s, 1).unwrap();
    let b = carve(&mut ram, &mut s, 5).unwrap();
    let c = carve(&mut ram, &mut s, 8).unwrap();
    assert_eq!((a, b, c), (start, start + 4, start + 12));
    assert_eq!(s.left_size(&ram).unwrap().total, before - 4 - 8 - 8);
    let v = spans(&ram, &s);
    let of_b: Vec<_> = v
        .iter()
        .filter(|x| x.block == b)
        .map(|x| (x.kind, x.len))
        .collect();
    assert_eq!(of_b, [(BlockKind::Payload, 5), (BlockKind::Padding, 3)]);
    assert!(v
        .iter()
        .filter(|x| x.block == b)
        .all(|x| x.owner == Owner(7)));
    // Lead padding, control block, carves, free space, and no tail (0x102 + 2 is aligned).
    assert_eq!(v[0].kind, BlockKind::Padding);
    assert_eq!(v[0].len, 2);
    assert_eq!(v[1].kind, BlockKind::Header);
    assert_eq!(v.iter().map(|x| x.len).sum::<u32>(), 0x102);
}

#[test]
fn left_size_decreases_by_exactly_each_carve() {
    let (mut ram, mut s) = sysmem(&ext_then_int(), 4);
    let mut left = s.left_size(&ram).unwrap().total;
    for size in [1, 4, 7, 100, 0x180, 3, 64, 33] {
        carve(&mut ram, &mut s, size).unwrap();
        let now = s.left_size(&ram).unwrap().total;
        assert_eq!(now, left - size.div_ceil(4) * 4, "after carving {size}");
        left = now;
    }
}

#[test]
fn by_request_carves_come_from_the_named_region_only() {
    let (mut ram, mut s) = sysmem(&ext_then_int(), 8);
    let mut rec = Recorder::default();
    let mut cx = Ctx::new(&mut ram, &mut rec);
    let a = s.alloc_in(&mut cx, extsram(), 16, Owner(1)).unwrap();
    assert_eq!(a, EXT + s.cb_size());
    let b = s.alloc_in(&mut cx, isram(), 16, Owner(1)).unwrap();
    assert_eq!(b, ISRAM);
    assert_eq!(
        s.alloc_in(&mut cx, isram(), 0x200, Owner(1)),
        Err(AllocError::OutOfMemory {
            requested: 0x200,
            largest_free: 0x1f0
        })
    );
    assert_eq!(
        s.alloc_in(&mut cx, spare(), 4, Owner(1)),
        Err(AllocError::OutOfMemory {
            requested: 4,
            largest_free: 0
        })
    );
    let nowhere = Name::lit("nowhere");
    assert_eq!(
        s.alloc_in(&mut cx, nowhere, 4, Owner(1)),
        Err(AllocError::Config(ConfigError::NoSuchRegion {
            name: nowhere
        }))
    );
    assert_eq!(
        s.alloc_in(&mut cx, isram(), 0, Owner(1)),
        Err(AllocError::ZeroSize)
    );
    let faults = rec
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Fault { .. }))
        .count();
    assert_eq!(faults, 4);
    s.check(&ram).unwrap();
}

#[test]
fn system_memory_is_never_freed() {
    let (mut ram, mut s) = sysmem(&ext_then_int(), 8);
    let a = carve(&mut ram, &mut s, 12).unwrap();
    let before = ram.clone();
    for addr in [a, a + 4, EXT, 0, u32::MAX] {
        let mut rec = Recorder::default();
        let r = s.free(&mut Ctx::new(&mut ram, &mut rec), addr);
        assert_eq!(r, Err(AllocError::NotFreeable { addr }));
        assert!(matches!(
            rec.events.last().unwrap().kind,
            EventKind::Fault { .. }
        ));
    }
    assert!(ram.slice(EXT, EXT_SIZE).unwrap() == before.slice(EXT, EXT_SIZE).unwrap());
    assert!(AllocError::NotFreeable { addr: a }
        .to_string()
        .contains("never freed"));
}

#[test]
fn zero_huge_and_exact_sizes() {
    let (mut ram, mut s) = sysmem(&[Area::new(ISRAM, 0x100)], 2);
    assert_eq!(carve(&mut ram, &mut s, 0), Err(AllocError::ZeroSize));
    let left = s.left_size(&ram).unwrap().total;
    for huge in [u32::MAX, u32::MAX - 2, left + 1] {
        assert_eq!(
            carve(&mut ram, &mut s, huge),
            Err(AllocError::OutOfMemory {
                requested: huge,
                largest_free: left
            })
        );
    }
    carve(&mut ram, &mut s, left).unwrap();
    assert_eq!(s.left_size(&ram).unwrap().total, 0);
    assert!(matches!(
        carve(&mut ram, &mut s, 1),
        Err(AllocError::OutOfMemory { .. })
    ));
    s.check(&ram).unwrap();
}

#[test]
fn a_full_record_table_still_carves_and_walk_shows_one_unrecorded_span() {
    let (mut ram, mut s) = sysmem(&[Area::new(ISRAM, 0x400)], 2);
    let a = carve(&mut ram, &mut s, 10).unwrap();
    let b = carve(&mut ram, &mut s, 20).unwrap();
    let c = carve(&mut ram, &mut s, 30).unwrap();
    let d = carve(&mut ram, &mut s, 4).unwrap();
    assert_eq!(s.carve_count(&ram), Ok(4));
    assert_eq!(
        s.record(&ram, 1)
            .unwrap()
            .map(|r| (r.addr, r.size, r.owner)),
        Some((b, 20, Owner(7)))
    );
    assert_eq!(s.record(&ram, 2).unwrap(), None);
    let v = spans(&ram, &s);
    let payloads: Vec<_> = v
        .iter()
        .filter(|x| x.kind == BlockKind::Payload)
        .map(|x| (x.addr, x.len, x.owner))
        .collect();
    assert_eq!(
        payloads,
        [
            (a, 10, Owner(7)),
            (b, 20, Owner(7)),
            (c, 32 + 4, Owner::NONE)
        ]
    );
    assert_eq!(d, c + 32);
    let stats = s.stats(&ram).unwrap();
    assert_eq!(stats.blocks, 4);
    assert_eq!(stats.capacity, stats.used + stats.free + stats.overhead);
    s.check(&ram).unwrap();
}

#[test]
fn bad_configurations_are_refused() {
    let mut ram = machine();
    let mut rec = Recorder::default();
    let mut cx = Ctx::new(&mut ram, &mut rec);
    let n = sys();
    let mk = |cx: &mut Ctx<'_, Vec<u8>>, areas: &[Area], records| {
        SystemMemory::with_records(cx, n, areas, records).map(|_| ())
    };
    assert_eq!(
        mk(&mut cx, &[], 4),
        Err(AllocError::Config(ConfigError::NoBlocks))
    );
    let five = [Area::new(EXT, 16); 5];
    assert_eq!(
        mk(&mut cx, &five, 4),
        Err(AllocError::Config(ConfigError::TooMany { max: 4 }))
    );
    assert_eq!(
        mk(&mut cx, &[Area::new(EXT, 0x100)], 5000),
        Err(AllocError::Config(ConfigError::TooMany { max: 4096 }))
    );
    for bad in [
        Area::new(0x1000, 16),
        Area::new(EXT + EXT_SIZE - 8, 16),
        Area::new(EXT, 0),
        Area::new(u32::MAX, u32::MAX),
    ] {
        assert_eq!(
            mk(&mut cx, &[bad], 4),
            Err(AllocError::Config(ConfigError::NotInRam {
                addr: bad.base,
                size: bad.size
            }))
        );
    }
    assert!(matches!(
        mk(
            &mut cx,
            &[Area::new(EXT, 0x100), Area::new(EXT + 0xff, 4)],
            4
        ),
        Err(AllocError::Inconsistent { .. })
    ));
    assert_eq!(
        mk(&mut cx, &[Area::new(EXT, 40)], 4),
        Err(AllocError::Config(ConfigError::TooSmall {
            needed: 20 + 8 + 48,
            available: 40
        }))
    );
    let faults = rec
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Fault { .. }))
        .count();
    assert_eq!(faults, 9);
}

#[test]
fn one_changed_control_block_byte_is_reported_by_check_and_carve() {
    let (mut ram0, mut s0) = sysmem(&ext_then_int(), 8);
    carve(&mut ram0, &mut s0, 16).unwrap();
    // The internal area's `left` word (area 1: top at +28, left at +32).
    let mut ram = ram0.clone();
    let mut s = s0;
    ram.write_u8(EXT + 32, 0x13).unwrap();
    let want = AllocError::Corrupted {
        at: EXT + 32,
        field: Field::Size,
        expected: 0x1f0,
        found: 0x113,
    };
    assert_eq!(s.check(&ram), Err(want));
    assert_eq!(carve(&mut ram, &mut s, 4), Err(want));
    assert_eq!(s.left_size(&ram), Err(want));
    // The magic word.
    let mut ram = ram0.clone();
    let mut s = s0;
    ram.write_u8(EXT + 3, 0).unwrap();
    let want = AllocError::Corrupted {
        at: EXT,
        field: Field::Magic,
        expected: SYSMEM_MAGIC,
        found: 0x0059_534d,
    };
    assert_eq!(s.check(&ram), Err(want));
    assert_eq!(carve(&mut ram, &mut s, 4), Err(want));
    // Freeing is refused whatever RAM says: system memory is never freed.
    let mut rec = Recorder::default();
    let r = s.free(&mut Ctx::new(&mut ram, &mut rec), ISRAM);
    assert_eq!(r, Err(AllocError::NotFreeable { addr: ISRAM }));
}

#[test]
fn any_corrupted_control_block_byte_gives_typed_errors_never_a_panic() {
    let (mut ram0, mut s0) = sysmem(&ext_then_int(), 3);
    for size in [16, 8, 300, 40, 0x300] {
        carve(&mut ram0, &mut s0, size).unwrap();
    }
    for off in 0..s0.cb_size() {
        for value in [0x00u8, 0xff, 0x04, 0x40, 0x08] {
            let mut ram = ram0.clone();
            let mut s = s0;
            ram.write_u8(EXT + off, value).unwrap();
            let _ = s.check(&ram);
            let _ = s.walk(&ram, &mut |_| {});
            let _ = s.stats(&ram);
            let _ = s.left_size(&ram);
            for size in [4, 0x100, 0x1000] {
                let _ = carve(&mut ram, &mut s, size);
            }
        }
    }
}

#[test]
fn canonical_trace_of_boot_and_carves() {
    let mut ram = machine();
    let mut sink = TextSink::new(String::new());
    let areas = [Area::new(ISRAM, 0x40), Area::new(EXT, 0x100)];
    let mut s =
        SystemMemory::with_records(&mut Ctx::new(&mut ram, &mut sink), sys(), &areas, 1).unwrap();
    sink.step = 1;
    s.alloc(&mut Ctx::new(&mut ram, &mut sink), 6, Owner(2))
        .unwrap();
    sink.step = 2;
    s.alloc(&mut Ctx::new(&mut ram, &mut sink), 16, Owner(3))
        .unwrap();
    sink.step = 3;
    let _ = s.free(&mut Ctx::new(&mut ram, &mut sink), 0x0800_0000);
    let expected = "\
0000 sys.fill addr=0x40000000 len=48 byte=0x00 field=data
0000 sys.meta addr=0x40000000 field=magic value=0x5359534d
0000 sys.meta addr=0x40000004 field=count value=0x00000002
0000 sys.meta addr=0x40000008 field=count value=0x00000001
0000 sys.meta addr=0x4000000c field=count value=0x00000000
0000 sys.meta addr=0x40000010 field=count value=0x00000000
0000 sys.meta addr=0x40000014 field=top value=0x40000030
0000 sys.meta addr=0x40000018 field=size value=0x00000010
0000 sys.meta addr=0x4000001c field=top value=0x08000000
0000 sys.meta addr=0x40000020 field=size value=0x00000100
0000 sys.grow addr=0x08000000 size=256
0000 sys.init base=0x40000000 size=64
0001 sys.meta addr=0x40000014 field=top value=0x40000038
0001 sys.meta addr=0x40000018 field=size value=0x00000008
0001 sys.meta addr=0x40000024 field=data value=0x40000030
0001 sys.meta addr=0x40000028 field=size value=0x00000006
0001 sys.meta addr=0x4000002c field=owner value=0x00000002
0001 sys.meta addr=0x4000000c field=count value=0x00000001
0001 sys.meta addr=0x40000010 field=count value=0x00000001
0001 sys.carve addr=0x40000030 size=8 region=isram
0002 sys.search size=16 visited=2
0002 sys.meta addr=0x4000001c field=top value=0x08000010
0002 sys.meta addr=0x40000020 field=size value=0x000000f0
0002 sys.meta addr=0x40000010 field=count value=0x00000002
0002 sys.carve addr=0x08000000 size=16 region=extsram
0003 sys.fault op=free addr=0x08000000 error=NotFreeable addr=0x08000000
";
    assert_eq!(sink.out, expected);
}

// ---- property test -------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Step {
    Carve {
        size: u32,
        owner: u16,
    },
    /// Carve by request from region 0 isram, 1 extsram, 2 spare (no area), 3 unknown.
    CarveIn {
        region: u8,
        size: u32,
    },
    /// Free a carve (`pick` among them) or, when `wild`, any address.
    Free {
        pick: usize,
        wild: Option<u32>,
    },
}

fn size_strategy() -> impl Strategy<Value = u32> {
    prop_oneof![
        6 => 1..=64u32,
        3 => 1..=1024u32,
        1 => Just(0u32),
        1 => (0..8u32).prop_map(|k| u32::MAX - k),
        1 => 2000..6000u32,
    ]
}

fn step_strategy() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (size_strategy(), 0..4u16).prop_map(|(size, owner)| Step::Carve { size, owner }),
        4 => (0..4u8, size_strategy()).prop_map(|(region, size)| Step::CarveIn { region, size }),
        2 => (any::<usize>(), proptest::option::of(any::<u32>()))
            .prop_map(|(pick, wild)| Step::Free { pick, wild }),
    ]
}

/// The property machine: two external areas (one unaligned at both ends) and one internal
/// area, given external first so the control block is in external memory.
fn prop_areas() -> [Area; 3] {
    [
        Area::new(EXT, 0xc00),
        Area::new(ISRAM + 0x100, 0x3f0),
        Area::new(EXT + 0x1001, 0x801),
    ]
}

struct Model {
    ram: Ram<Vec<u8>>,
    s: SystemMemory,
    /// (addr, size asked, rounded, fill byte)
    carves: Vec<(Addr, u32, u32, u8)>,
    initial_left: Vec<u32>,
    fill: u8,
}

impl Model {
    fn area_of(&self, addr: Addr) -> Option<usize> {
        self.s
            .areas()
            .find(|(_, a)| a.start <= addr && addr < a.end)
            .map(|(i, _)| i)
    }

    fn step(&mut self, step: &Step) -> Result<(), TestCaseError> {
        let mut rec = Recorder::default();
        let (result, size, region) = {
            let mut cx = Ctx::new(&mut self.ram, &mut rec);
            match *step {
                Step::Carve { size, owner } => {
                    (self.s.alloc(&mut cx, size, Owner(owner)), size, None)
                }
                Step::CarveIn { region, size } => {
                    let name =
                        [isram(), extsram(), spare(), Name::lit("nowhere")][region as usize % 4];
                    (
                        self.s.alloc_in(&mut cx, name, size, Owner(9)),
                        size,
                        Some(name),
                    )
                }
                Step::Free { pick, wild } => {
                    let addr = match wild {
                        Some(a) => a,
                        None if self.carves.is_empty() => EXT,
                        None => self.carves[pick % self.carves.len()].0,
                    };
                    let before = self.s.left_size(cx.ram).unwrap();
                    let r = self.s.free(&mut cx, addr);
                    prop_assert_eq!(r, Err(AllocError::NotFreeable { addr }));
                    prop_assert_eq!(self.s.left_size(cx.ram).unwrap(), before);
                    prop_assert!(
                        matches!(
                            rec.events.last().map(|e| e.kind),
                            Some(EventKind::Fault { .. })
                        ),
                        "a failed step must end with a fault event"
                    );
                    return self.verify();
                }
            }
        };
        match result {
            Ok(addr) => {
                prop_assert!(size > 0);
                prop_assert_eq!(addr % 4, 0);
                let area = self.area_of(addr);
                prop_assert!(area.is_some(), "carve {:#x} outside every area", addr);
                let info = self.s.area(area.unwrap()).unwrap();
                if let Some(r) = region {
                    prop_assert_eq!(info.region, r);
                } else if info.kind == RegionKind::External {
                    // Internal first: an external carve means the internal area had no room.
                    let int = self
                        .s
                        .areas()
                        .find(|(_, a)| a.kind == RegionKind::Internal)
                        .unwrap()
                        .0;
                    let left = self.s.left_size(&self.ram).unwrap().per_area[int] as u64;
                    let rounded = (size as u64).div_ceil(4) * 4;
                    prop_assert!(
                        left < rounded,
                        "external carve while internal had {} left",
                        left
                    );
                }
                let last = rec.events.last().map(|e| e.kind);
                prop_assert!(
                    matches!(last, Some(EventKind::Carve { addr: a, region: r, .. }) if a == addr && r == info.region),
                    "last event {:?}",
                    last
                );
                self.fill = self.fill.wrapping_add(29) | 1;
                self.ram.fill(addr, size, self.fill).unwrap();
                self.carves
                    .push((addr, size, size.div_ceil(4) * 4, self.fill));
            }
            Err(e) => {
                let ok = match e {
                    AllocError::ZeroSize => size == 0,
                    AllocError::OutOfMemory { .. } => true,
                    AllocError::Config(ConfigError::NoSuchRegion { name }) => Some(name) == region,
                    _ => false,
                };
                prop_assert!(ok, "carve of {} gave {:?}", size, e);
                prop_assert!(
                    matches!(
                        rec.events.last().map(|e| e.kind),
                        Some(EventKind::Fault { .. })
                    ),
                    "a failed step must end with a fault event"
                );
            }
        }
        self.verify()
    }

    fn verify(&self) -> Result<(), TestCaseError> {
        self.s
            .check(&self.ram)
            .map_err(|e| TestCaseError::fail(format!("check() failed: {e}")))?;
        // left_size conservation, per area.
        let left = self.s.left_size(&self.ram).unwrap();
        for (i, _) in self.s.areas() {
            let carved: u32 = self
                .carves
                .iter()
                .filter(|c| self.area_of(c.0) == Some(i))
                .map(|c| c.2)
                .sum();
            prop_assert_eq!(
                left.per_area[i] + carved,
                self.initial_left[i],
                "area {}",
                i
            );
        }
        prop_assert_eq!(left.total, left.as_slice().iter().sum::<u32>());
        // No overlap; every carve keeps its pattern.
        let mut sorted = self.carves.clone();
        sorted.sort_by_key(|c| c.0);
        for w in sorted.windows(2) {
            prop_assert!(w[0].0 + w[0].2 <= w[1].0, "carves overlap: {:x?}", w);
        }
        for &(addr, size, _, fill) in &self.carves {
            let bytes = self.ram.slice(addr, size).unwrap();
            prop_assert!(
                bytes.iter().all(|&b| b == fill),
                "carve {:#x} was overwritten",
                addr
            );
        }
        // Walk: disjoint spans covering every area exactly once; every carve in a payload.
        let mut spans = Vec::new();
        self.s
            .walk(&self.ram, &mut |b| spans.push(b))
            .map_err(|e| TestCaseError::fail(format!("walk() failed: {e}")))?;
        spans.sort_by_key(|b| b.addr);
        for w in spans.windows(2) {
            prop_assert!(w[0].addr as u64 + w[0].len as u64 <= w[1].addr as u64);
        }
        let covered: u64 = spans.iter().map(|b| b.len as u64).sum();
        let areas: u64 = self.s.areas().map(|(_, a)| a.size as u64).sum();
        prop_assert_eq!(covered, areas);
        for &(addr, size, _, _) in &self.carves {
            let inside = spans.iter().any(|b| {
                b.kind == BlockKind::Payload
                    && b.addr <= addr
                    && addr as u64 + size as u64 <= b.addr as u64 + b.len as u64
            });
            prop_assert!(inside, "no payload span holds carve {:#x}", addr);
        }
        let stats = self.s.stats(&self.ram).unwrap();
        prop_assert_eq!(stats.capacity as u64, areas);
        prop_assert_eq!(stats.capacity, stats.used + stats.free + stats.overhead);
        prop_assert_eq!(stats.blocks as usize, self.carves.len());
        prop_assert_eq!(stats.free, left.total);
        prop_assert_eq!(
            self.s.carve_count(&self.ram).unwrap() as usize,
            self.carves.len()
        );
        Ok(())
    }
}

#[test]
fn property_random_carves_conserve_memory_and_never_free() {
    let total = Cell::new(0u64);
    let mut runner = TestRunner::new(Config {
        cases: 40,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (0..24u32, proptest::collection::vec(step_strategy(), 260));
    let result = runner.run(&strategy, |(records, steps)| {
        let (ram, s) = sysmem(&prop_areas(), records);
        let initial_left = s.left_size(&ram).unwrap().as_slice().to_vec();
        let mut m = Model {
            ram,
            s,
            carves: Vec::new(),
            initial_left,
            fill: 1,
        };
        m.verify()?;
        for st in &steps {
            m.step(st)?;
            total.set(total.get() + 1);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(total.get() >= 10_000, "only {} steps ran", total.get());
}
