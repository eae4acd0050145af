//! LiteOS bestfit dynamic memory: unit tests of each rule, the shared property suite (with
//! and without growth), corruption and bad-input tests, and a canonical trace.

mod common;

use common::{ram_with, run_suite, Harness, Step};
use memplay_engine::dynmem::{
    magic, node_size_for, DynMem, HEAD_SIZE, MAX_LISTS, MAX_REQUEST, MIN_NODE,
};
use memplay_engine::trace::{Quiet, Recorder, TextSink};
use memplay_engine::{
    Addr, AllocError, Allocator, BlockKind, ConfigError, Ctx, EventKind, Field, Name, Owner, Ram,
};

const BASE: Addr = 0x2000_0000;
const USED: u32 = 0x8000_0000;

/// A pool over a fresh RAM, with the events of the last operation.
struct T {
    ram: Ram<Vec<u8>>,
    pool: DynMem,
    rec: Recorder,
}

impl T {
    /// A pool of `size` bytes at `BASE` in a RAM of `ram_size` bytes.
    fn new(ram_size: u32, size: u32, lists: u32) -> T {
        let mut ram = ram_with(BASE, ram_size);
        let mut rec = Recorder::default();
        let pool = {
            let mut cx = Ctx::new(&mut ram, &mut rec);
            DynMem::init(&mut cx, Name::lit("dyn"), BASE, size, lists).expect("pool")
        };
        let t = T { ram, pool, rec };
        t.pool.check(&t.ram).expect("fresh pool passes check()");
        t
    }

    fn alloc(&mut self, size: u32, owner: u16) -> Result<Addr, AllocError> {
        self.rec.events.clear();
        let mut cx = Ctx::new(&mut self.ram, &mut self.rec);
        self.pool.alloc(&mut cx, size, Owner(owner))
    }

    fn free(&mut self, addr: Addr) -> Result<(), AllocError> {
        self.rec.events.clear();
        let mut cx = Ctx::new(&mut self.ram, &mut self.rec);
        self.pool.free(&mut cx, addr)
    }

    fn realloc(&mut self, addr: Addr, size: u32, owner: u16) -> Result<Addr, AllocError> {
        self.rec.events.clear();
        let mut cx = Ctx::new(&mut self.ram, &mut self.rec);
        self.pool.realloc(&mut cx, addr, size, Owner(owner))
    }

    fn ok(&self) {
        self.pool.check(&self.ram).expect("check() passes");
    }

    fn word(&self, addr: Addr) -> u32 {
        self.ram.read_u32(addr).unwrap()
    }

    fn kinds(&self) -> Vec<EventKind> {
        self.rec.events.iter().map(|e| e.kind).collect()
    }

    fn words(&self) -> Vec<&'static str> {
        self.rec.events.iter().map(|e| e.kind.word()).collect()
    }

    /// The free nodes as (node, size) in physical order, from `walk()`.
    fn free_nodes(&self) -> Vec<(Addr, u32)> {
        let mut out = Vec::new();
        self.pool
            .walk(&self.ram, &mut |b| {
                if b.kind == BlockKind::Free {
                    out.push((b.block, b.len + HEAD_SIZE));
                }
            })
            .unwrap();
        out
    }

    /// The nodes on list `list`, head to tail, read straight from RAM.
    fn list(&self, list: u32) -> Vec<Addr> {
        let head = self.pool.head(list);
        let mut out = Vec::new();
        let mut cur = self.word(head + 4);
        while cur != head {
            out.push(cur);
            cur = self.word(cur + 4);
            assert!(out.len() < 1000, "list {list} does not end");
        }
        out
    }

    fn size_word(&self, addr: Addr) -> u32 {
        self.word(addr - HEAD_SIZE + 12)
    }
}

/// Payload address of the node at `node`.
fn payload(node: Addr) -> Addr {
    node + HEAD_SIZE
}

// ---------------------------------------------------------------------------------------
// Layout and init

#[test]
fn init_writes_the_control_block_one_free_node_and_the_end_node() {
    let t = T::new(1024, 1024, 27);
    let ctrl = 12 + 8 * 27;
    assert_eq!(t.pool.ctrl_size(), ctrl);
    assert_eq!(t.word(BASE), BASE, "LosMemPoolInfo.pool");
    assert_eq!(t.word(BASE + 4), 1024, "poolSize");
    assert_eq!(t.word(BASE + 8), 0, "expansion disabled");
    let first = BASE + ctrl;
    let end = BASE + 1024 - 16;
    assert_eq!(t.pool.first_node(), first);
    assert_eq!(t.pool.end_node(), end);
    let first_size = end - first;
    assert_eq!(t.word(first + 12), first_size, "free, size incl. header");
    assert_eq!(
        t.word(first + 8),
        end,
        "first node's preNode is the end node"
    );
    // The end node: magic, no next area, preNode = first node, used with size 0.
    assert_eq!(t.word(end), !end);
    assert_eq!(t.word(end + 4), 0);
    assert_eq!(t.word(end + 8), first);
    assert_eq!(t.word(end + 12), USED);
    // The free node sits on the list of its class (772 bytes: 512..1023, list 5).
    let list = t.pool.list_for_size(first_size);
    assert_eq!(list, 5);
    assert_eq!(t.list(list), vec![first]);
    assert_eq!(t.word(first), t.pool.head(list), "pstPrev is the head");
    // Every other list is empty: its head points at itself.
    for l in (0..27).filter(|&l| l != list) {
        assert!(t.list(l).is_empty());
        assert_eq!(t.word(t.pool.head(l)), t.pool.head(l));
    }
    assert!(matches!(
        t.rec.events.last().map(|e| e.kind),
        Some(EventKind::Init {
            base: BASE,
            size: 1024
        })
    ));
    let stats = t.pool.stats(&t.ram).unwrap();
    assert_eq!(stats.capacity, 1024);
    assert_eq!(stats.free, first_size - 16);
    assert_eq!(stats.overhead, ctrl + 16 + 16);
    assert_eq!(stats.blocks, 0);
}

#[test]
fn init_refuses_bad_configurations() {
    let mut ram = ram_with(BASE, 1024);
    let mut q = Quiet;
    let mut cx = Ctx::new(&mut ram, &mut q);
    let n = Name::lit("dyn");
    assert_eq!(
        DynMem::init(&mut cx, n, BASE, 1024, 0).unwrap_err(),
        AllocError::Config(ConfigError::NoBlocks)
    );
    assert_eq!(
        DynMem::init(&mut cx, n, BASE, 1024, MAX_LISTS + 1).unwrap_err(),
        AllocError::Config(ConfigError::TooMany { max: 27 })
    );
    assert!(matches!(
        DynMem::init(&mut cx, n, BASE, 40, 1),
        Err(AllocError::Config(ConfigError::TooSmall { needed: 56, .. }))
    ));
    assert!(matches!(
        DynMem::init(&mut cx, n, BASE + 512, 1024, 1),
        Err(AllocError::Config(ConfigError::NotInRam { .. }))
    ));
    assert!(matches!(
        DynMem::init(&mut cx, n, 0xffff_fff0, 0xffff_ffff, 1),
        Err(AllocError::Config(_))
    ));
    // A misaligned base is rounded up, the size down.
    let p = DynMem::init(&mut cx, n, BASE + 2, 1000, 1).unwrap();
    assert_eq!((p.base(), p.size()), (BASE + 4, 996));
    p.check(cx.ram).unwrap();
}

#[test]
fn size_classes_follow_los_multipledlinkhead() {
    let t = T::new(1024, 1024, 27);
    let p = &t.pool;
    assert_eq!(p.list_for_size(20), 0);
    assert_eq!(p.list_for_size(31), 0);
    assert_eq!(p.list_for_size(32), 1);
    assert_eq!(p.list_for_size(100), 2);
    assert_eq!(p.list_for_size(0x3fff_ffff), 25);
    let one = T::new(1024, 1024, 3);
    assert_eq!(one.pool.list_for_size(64), 2);
    assert_eq!(
        one.pool.list_for_size(5000),
        2,
        "the last list takes the rest"
    );
    assert_eq!(node_size_for(1), Some(20));
    assert_eq!(node_size_for(10), Some(28));
    assert_eq!(node_size_for(12), Some(28));
    assert_eq!(node_size_for(0), None);
    assert_eq!(node_size_for(MAX_REQUEST), Some(0x3fff_fffc));
    assert_eq!(node_size_for(MAX_REQUEST + 1), None);
}

// ---------------------------------------------------------------------------------------
// Alloc: split threshold, best fit, tiny fragments

#[test]
fn alloc_splits_iff_the_rest_can_hold_a_node() {
    // One list, 256-byte pool: first node 0x..14, 220 bytes.
    let mut t = T::new(256, 256, 1);
    let first = t.pool.first_node();
    assert_eq!(t.pool.end_node() - first, 220);
    // allocSize 200 leaves 20 = header + 4: split.
    let a = t.alloc(200 - 16, 1).unwrap();
    assert_eq!(a, payload(first));
    assert_eq!(t.size_word(a), USED | 200);
    assert_eq!(t.free_nodes(), vec![(first + 200, 20)]);
    assert!(t.kinds().iter().any(|k| matches!(
        k,
        EventKind::Split { addr, size: 200, rest, rest_size: 20 } if *addr == first && *rest == first + 200
    )));
    t.ok();

    // allocSize 204 leaves 16, not enough for a node: the whole node is handed out.
    let mut t = T::new(256, 256, 1);
    let a = t.alloc(204 - 16, 1).unwrap();
    assert_eq!(t.size_word(a), USED | 220);
    assert!(t.free_nodes().is_empty());
    assert!(!t.words().contains(&"split"));
    match t.rec.events.last().unwrap().kind {
        EventKind::Alloc {
            size, block, owner, ..
        } => {
            assert_eq!((size, block, owner), (188, 220, Owner(1)));
        }
        other => panic!("last event {other:?}"),
    }
    // The payload is the whole usable area: 204 bytes, not the 188 asked for.
    let mut payload_len = 0;
    t.pool
        .walk(&t.ram, &mut |b| {
            if b.kind == BlockKind::Payload {
                assert_eq!(b.addr, a);
                payload_len = b.len;
            }
        })
        .unwrap();
    assert_eq!(payload_len, 204);
    t.ok();
}

#[test]
fn alloc_sets_magic_owner_and_used_flag() {
    let mut t = T::new(1024, 1024, 27);
    let a = t.alloc(10, 7).unwrap();
    let node = a - 16;
    assert_eq!(t.word(node), magic(node));
    assert_eq!(t.word(node + 4), 7, "task id 7, module 0");
    assert_eq!(t.word(node + 12), USED | 28);
    assert_eq!(t.pool.owner_of(&t.ram, a).unwrap(), Owner(7));
    // Outside a task the owner word is all ones, as LiteOS's OS_NULL_INT.
    let b = t.alloc(10, Owner::NONE.0).unwrap();
    assert_eq!(t.word(b - 16 + 4), 0xffff_ffff);
    assert_eq!(t.pool.owner_of(&t.ram, b).unwrap(), Owner::NONE);
    let words = t.words();
    assert_eq!(words.first(), Some(&"search"));
    assert_eq!(words.last(), Some(&"alloc"));
    t.ok();
}

/// Builds free nodes of the given payload sizes separated by used 4-byte blocks, in
/// address order; returns their node addresses.
fn holes(t: &mut T, sizes: &[u32]) -> Vec<Addr> {
    let mut holes = Vec::new();
    for &s in sizes {
        let a = t.alloc(s, 1).unwrap();
        t.alloc(4, 1).unwrap();
        holes.push(a);
    }
    for &a in &holes {
        t.free(a).unwrap();
    }
    t.ok();
    holes.iter().map(|a| a - 16).collect()
}

#[test]
fn best_fit_takes_the_snug_node_where_first_fit_would_take_the_first() {
    let mut t = T::new(4096, 4096, 1);
    // A big hole first, then a snug one, then a medium one.
    let h = holes(&mut t, &[400, 64, 120]);
    // With one sorted list the order is by size: 80, 136, 416 (node sizes), then the rest.
    let listed = t.list(0);
    assert_eq!(&listed[..3], &[h[1], h[2], h[0]]);
    let a = t.alloc(60, 2).unwrap();
    assert_eq!(a, payload(h[1]), "best fit, not the first (lower) hole");
    assert!(matches!(
        t.kinds()[0],
        EventKind::Search {
            size: 76,
            visited: 1
        }
    ));
    let b = t.alloc(100, 2).unwrap();
    assert_eq!(b, payload(h[2]));
    t.ok();
}

#[test]
fn best_fit_leaves_a_tiny_fragment() {
    let mut t = T::new(4096, 4096, 27);
    let h = holes(&mut t, &[44, 84]); // nodes of 60 and 100 bytes
                                      // allocSize 40: the 60-byte node is the best fit and leaves a 20-byte fragment with
                                      // 4 usable bytes.
    let a = t.alloc(24, 3).unwrap();
    assert_eq!(a, payload(h[0]));
    let frees = t.free_nodes();
    assert!(frees.contains(&(h[0] + 40, 20)), "{frees:x?}");
    assert_eq!(t.pool.list_for_size(20), 0);
    assert_eq!(t.list(0), vec![h[0] + 40]);
    t.ok();
}

#[test]
fn equal_sizes_go_to_the_lowest_address_and_search_crosses_classes() {
    let mut t = T::new(4096, 4096, 27);
    let h = holes(&mut t, &[48, 48, 48]); // three 64-byte nodes, list 2
    assert_eq!(t.list(2)[..3], h[..]);
    let a = t.alloc(48, 1).unwrap();
    assert_eq!(a, payload(h[0]));
    // A request of class 1 (allocSize 36) finds list 1 empty and takes the smallest node of
    // list 2: 64 bytes, splitting off 28.
    let b = t.alloc(20, 1).unwrap();
    assert_eq!(b, payload(h[1]));
    assert!(matches!(
        t.kinds()[0],
        EventKind::Search {
            size: 36,
            visited: 1
        }
    ));
    assert_eq!(t.list(0), vec![h[1] + 36]);
    t.ok();
}

// ---------------------------------------------------------------------------------------
// Free: coalescing

#[test]
fn free_without_free_neighbours_links_the_node() {
    let mut t = T::new(2048, 2048, 27);
    let a = t.alloc(40, 1).unwrap();
    let b = t.alloc(40, 1).unwrap();
    let _c = t.alloc(40, 1).unwrap();
    t.free(b).unwrap();
    assert_eq!(
        t.words(),
        ["meta", "link", "meta", "meta", "meta", "meta", "free"]
    );
    let node = b - 16;
    assert_eq!(t.word(node + 12), 56, "used flag cleared");
    assert_ne!(
        t.word(node),
        magic(node),
        "magic overwritten by the list link"
    );
    assert_eq!(t.free(b), Err(AllocError::DoubleFree { addr: b }));
    assert_eq!(t.free(a).map(|_| ()), Ok(()));
    t.ok();
}

#[test]
fn free_merges_with_the_left_neighbour_and_clears_the_absorbed_header() {
    let mut t = T::new(2048, 2048, 27);
    let a = t.alloc(40, 1).unwrap();
    let b = t.alloc(40, 1).unwrap();
    let _c = t.alloc(40, 1).unwrap();
    t.free(a).unwrap();
    t.free(b).unwrap();
    let (na, nb) = (a - 16, b - 16);
    assert!(t.kinds().contains(&EventKind::Merge {
        addr: na,
        size: 112,
        absorbed: nb
    }));
    assert_eq!(
        t.ram.slice(nb, 16).unwrap(),
        &[0u8; 16],
        "absorbed header wiped"
    );
    assert_eq!(t.word(na + 12), 112);
    assert_eq!(t.word(b + 40 + 8 - 16 + 16), na, "next node's preNode");
    // The stale address is no node any more; the merged one is a free node.
    assert_eq!(t.free(b), Err(AllocError::InvalidPointer { addr: b }));
    assert_eq!(t.free(a), Err(AllocError::DoubleFree { addr: a }));
    t.ok();
}

#[test]
fn free_merges_with_the_right_neighbour() {
    let mut t = T::new(2048, 2048, 27);
    let a = t.alloc(40, 1).unwrap();
    let b = t.alloc(40, 1).unwrap();
    let _c = t.alloc(40, 1).unwrap();
    t.free(b).unwrap();
    t.free(a).unwrap();
    let (na, nb) = (a - 16, b - 16);
    assert!(t.kinds().contains(&EventKind::Merge {
        addr: na,
        size: 112,
        absorbed: nb
    }));
    assert_eq!(
        t.words(),
        [
            "unlink", "meta", "meta", "merge", "fill", "meta", "meta", "link", "meta", "meta",
            "meta", "meta", "free"
        ]
    );
    assert_eq!(t.free(b), Err(AllocError::InvalidPointer { addr: b }));
    t.ok();
}

#[test]
fn free_merges_with_both_neighbours_back_into_one_node() {
    let mut t = T::new(2048, 2048, 27);
    let whole = t.free_nodes();
    let a = t.alloc(40, 1).unwrap();
    let b = t.alloc(40, 1).unwrap();
    let c = t.alloc(40, 1).unwrap();
    t.free(a).unwrap();
    t.free(c).unwrap(); // merges with the rest of the pool on its right
    t.free(b).unwrap();
    let merges: Vec<_> = t
        .kinds()
        .into_iter()
        .filter(|k| matches!(k, EventKind::Merge { .. }))
        .collect();
    assert_eq!(merges.len(), 2, "{merges:?}");
    assert_eq!(t.free_nodes(), whole, "one free node again");
    t.ok();
}

#[test]
fn free_lists_stay_sorted_small_to_large() {
    let mut t = T::new(8192, 8192, 1);
    let h = holes(&mut t, &[100, 20, 60, 20, 300]);
    let listed = t.list(0);
    let sizes: Vec<u32> = listed.iter().map(|&n| t.word(n + 12)).collect();
    let mut sorted = sizes.clone();
    sorted.sort();
    assert_eq!(sizes, sorted);
    // Equal sizes: lower address first.
    assert_eq!(&listed[..2], &[h[1], h[3]]);
}

// ---------------------------------------------------------------------------------------
// Bad input

#[test]
fn bad_sizes_fail_with_typed_errors() {
    let mut t = T::new(1024, 1024, 27);
    assert_eq!(t.alloc(0, 1), Err(AllocError::ZeroSize));
    let largest = t.pool.end_node() - t.pool.first_node() - 16;
    for size in [
        u32::MAX,
        u32::MAX - 3,
        MAX_REQUEST,
        MAX_REQUEST + 1,
        0x8000_0000,
        2000,
    ] {
        assert_eq!(
            t.alloc(size, 1),
            Err(AllocError::OutOfMemory {
                requested: size,
                largest_free: largest
            })
        );
        assert!(matches!(
            t.rec.events.last().unwrap().kind,
            EventKind::Fault { .. }
        ));
    }
    // The largest request that fits takes the whole node.
    let a = t.alloc(largest, 1).unwrap();
    assert_eq!(
        t.alloc(1, 1),
        Err(AllocError::OutOfMemory {
            requested: 1,
            largest_free: 0
        })
    );
    t.free(a).unwrap();
    t.ok();
}

#[test]
fn bad_pointers_are_refused_and_change_nothing() {
    let mut t = T::new(2048, 1024, 27);
    let a = t.alloc(40, 1).unwrap();
    let b = t.alloc(40, 1).unwrap();
    let before = t.ram.slice(BASE, 2048).unwrap().to_vec();
    let end = t.pool.end_node();
    let cases = [
        0,
        4,
        a + 1,
        a + 4,
        a - 4,
        a - 16,
        a + 40,
        b + 8,
        BASE,
        BASE + 12,
        t.pool.first_node(),
        end,
        end + 16,
        BASE + 1500,
        0xffff_fffc,
        u32::MAX,
    ];
    for addr in cases {
        let e = t.free(addr).unwrap_err();
        assert!(
            matches!(
                e,
                AllocError::InvalidPointer { .. } | AllocError::DoubleFree { .. }
            ),
            "free({addr:#x}) gave {e:?}"
        );
        let e = t.realloc(addr, 8, 1).unwrap_err();
        assert!(
            matches!(
                e,
                AllocError::InvalidPointer { .. } | AllocError::DoubleFree { .. }
            ),
            "realloc({addr:#x}) gave {e:?}"
        );
    }
    assert_eq!(
        t.free(a + 4),
        Err(AllocError::InvalidPointer { addr: a + 4 })
    );
    assert_eq!(t.ram.slice(BASE, 2048).unwrap(), &before[..]);
    t.free(a).unwrap();
    assert_eq!(t.free(a), Err(AllocError::DoubleFree { addr: a }));
    assert_eq!(t.realloc(a, 8, 1), Err(AllocError::DoubleFree { addr: a }));
    t.ok();
}

// ---------------------------------------------------------------------------------------
// Per-task usage

#[test]
fn usage_by_owner_sums_node_sizes_per_task() {
    let mut t = T::new(4096, 4096, 27);
    let a = t.alloc(100, 2).unwrap(); // 116
    t.alloc(10, 1).unwrap(); // 28
    t.alloc(20, 2).unwrap(); // 36
    t.alloc(1, Owner::NONE.0).unwrap(); // 20
    let mut out = [(Owner(0), 0u32); 8];
    let n = t.pool.usage_by_owner(&t.ram, &mut out).unwrap();
    assert_eq!(
        &out[..n],
        &[(Owner(1), 28), (Owner(2), 152), (Owner::NONE, 20)]
    );
    t.free(a).unwrap();
    let n = t.pool.usage_by_owner(&t.ram, &mut out).unwrap();
    assert_eq!(
        &out[..n],
        &[(Owner(1), 28), (Owner(2), 36), (Owner::NONE, 20)]
    );
    let mut short = [(Owner(0), 0u32); 2];
    assert_eq!(
        t.pool.usage_by_owner(&t.ram, &mut short),
        Err(AllocError::Config(ConfigError::TooMany { max: 2 }))
    );
}

// ---------------------------------------------------------------------------------------
// Growth

fn growing(spares: &[(Addr, u32)]) -> T {
    let mut t = T::new(8192, 1024, 27);
    let mut cx = Ctx::new(&mut t.ram, &mut t.rec);
    t.pool.expand_enable(&mut cx, spares).unwrap();
    t.ok();
    t
}

#[test]
fn without_growth_a_full_pool_fails_with_out_of_memory() {
    let mut t = T::new(8192, 1024, 27);
    let largest = t.pool.end_node() - t.pool.first_node() - 16;
    assert_eq!(
        t.alloc(900, 1),
        Err(AllocError::OutOfMemory {
            requested: 900,
            largest_free: largest
        })
    );
    assert!(!t.words().contains(&"grow"));
}

#[test]
fn growth_links_a_spare_area_behind_the_end_node_and_retries() {
    let spare = (BASE + 2048, 1024);
    let mut t = growing(&[(BASE + 4096, 512), spare]);
    assert_eq!(t.word(BASE + 8), 1, "MEM_POOL_EXPAND_ENABLE");
    let a = t.alloc(900, 4).unwrap();
    // The 512-byte spare cannot hold 900 bytes: the 1 KiB one is taken.
    assert_eq!(a, payload(spare.0));
    let kinds = t.kinds();
    assert!(kinds.contains(&EventKind::Grow {
        addr: spare.0,
        size: spare.1
    }));
    let searches = kinds
        .iter()
        .filter(|k| matches!(k, EventKind::Search { .. }))
        .count();
    assert_eq!(searches, 2, "searched, grew, searched again");
    // The old end node is now a sentinel pointing at the new area.
    let old_end = t.pool.end_node();
    assert_eq!(t.word(old_end + 4), spare.0);
    assert_eq!(t.word(old_end + 12), USED | spare.1);
    let new_end = spare.0 + spare.1 - 16;
    assert_eq!(t.word(new_end), magic(new_end));
    assert_eq!(t.word(new_end + 12), USED);
    assert_eq!(t.word(spare.0 + 8), new_end, "first node's preNode");
    let mut areas = [(0, 0); 8];
    let n = t.pool.areas(&t.ram, &mut areas).unwrap();
    assert_eq!(&areas[..n], &[(BASE, 1024), spare]);
    assert_eq!(t.pool.stats(&t.ram).unwrap().capacity, 2048);
    t.ok();
    // The new area coalesces within itself but never with the first area.
    t.free(a).unwrap();
    assert_eq!(t.free_nodes().len(), 2);
    t.ok();
    // Until the spares run out: fill both areas, then the small spare is taken.
    t.alloc(900, 4).unwrap();
    assert!(t.alloc(700, 4).unwrap() < BASE + 1024);
    assert_eq!(t.alloc(480, 4).map(|a| a >= BASE + 4096), Ok(true));
    assert!(matches!(
        t.alloc(900, 4),
        Err(AllocError::OutOfMemory { requested: 900, .. })
    ));
    t.ok();
}

#[test]
fn add_region_links_any_area_and_refuses_overlaps() {
    let mut t = T::new(8192, 1024, 27);
    let mut cx = Ctx::new(&mut t.ram, &mut t.rec);
    t.pool.add_region(&mut cx, BASE + 3000, 1000).unwrap();
    assert_eq!(
        t.pool.add_region(&mut cx, BASE + 3500, 1000),
        Err(AllocError::Config(ConfigError::Overlaps {
            addr: BASE + 3500,
            size: 1000
        }))
    );
    assert!(matches!(
        t.pool.add_region(&mut cx, BASE + 512, 1000),
        Err(AllocError::Config(ConfigError::Overlaps { .. }))
    ));
    assert!(matches!(
        t.pool.add_region(&mut cx, BASE + 8000, 1000),
        Err(AllocError::Config(ConfigError::NotInRam { .. }))
    ));
    assert!(matches!(
        t.pool.add_region(&mut cx, BASE + 6000, 20),
        Err(AllocError::Config(ConfigError::TooSmall { .. }))
    ));
    t.ok();
    // A request too large for the first area lands in the added one, expansion disabled.
    let a = t.alloc(900, 1).unwrap();
    assert_eq!(a, BASE + 3000 + 16);
    assert!(!t.words().contains(&"grow"));
    t.ok();
}

#[test]
fn expand_enable_refuses_bad_spares() {
    let mut t = T::new(8192, 1024, 27);
    let mut cx = Ctx::new(&mut t.ram, &mut t.rec);
    assert!(matches!(
        t.pool.expand_enable(&mut cx, &[(BASE + 512, 1024)]),
        Err(AllocError::Config(ConfigError::Overlaps { .. }))
    ));
    assert!(matches!(
        t.pool
            .expand_enable(&mut cx, &[(BASE + 2048, 1024), (BASE + 2560, 1024)]),
        Err(AllocError::Config(ConfigError::Overlaps { .. }))
    ));
    assert!(matches!(
        t.pool.expand_enable(&mut cx, &[(BASE + 2048, 64); 5]),
        Err(AllocError::Config(ConfigError::TooMany { max: 4 }))
    ));
    assert_eq!(t.word(BASE + 8), 0, "nothing enabled");
    t.ok();
}

// ---------------------------------------------------------------------------------------
// Realloc

#[test]
fn realloc_shrinks_in_place_and_merges_the_tail_with_a_free_neighbour() {
    let mut t = T::new(4096, 4096, 27);
    let a = t.alloc(200, 1).unwrap();
    t.ram.fill(a, 200, 0x5a).unwrap();
    // Shrinking by less than a node keeps the node as it is.
    assert_eq!(t.realloc(a, 190, 1), Ok(a));
    assert_eq!(t.words(), ["realloc"]);
    // Shrinking by more splits; the tail merges with the free rest of the pool.
    assert_eq!(t.realloc(a, 50, 1), Ok(a));
    assert_eq!(t.size_word(a), USED | 68);
    let words = t.words();
    assert!(
        words.contains(&"split") && words.contains(&"merge"),
        "{words:?}"
    );
    assert_eq!(t.ram.slice(a, 50).unwrap(), &[0x5a; 50][..]);
    assert_eq!(t.free_nodes().len(), 1);
    assert_eq!(t.pool.owner_of(&t.ram, a), Ok(Owner(1)));
    t.ok();
}

#[test]
fn realloc_grows_in_place_into_a_free_next_node() {
    let mut t = T::new(4096, 4096, 27);
    let a = t.alloc(40, 1).unwrap();
    let b = t.alloc(100, 1).unwrap();
    let _c = t.alloc(40, 1).unwrap();
    t.ram.fill(a, 40, 0x11).unwrap();
    t.free(b).unwrap();
    // 56 + 116 = 172 bytes together; 120 needs a node of 136: grow in place, split 36 off.
    assert_eq!(t.realloc(a, 120, 9), Ok(a));
    assert!(t.kinds().contains(&EventKind::Merge {
        addr: a - 16,
        size: 172,
        absorbed: b - 16
    }));
    assert!(t.words().contains(&"split"));
    assert_eq!(t.size_word(a), USED | 136);
    assert_eq!(t.ram.slice(a, 40).unwrap(), &[0x11; 40][..]);
    assert_eq!(
        t.pool.owner_of(&t.ram, a),
        Ok(Owner(1)),
        "in place keeps its task"
    );
    t.ok();
}

#[test]
fn realloc_moves_copies_and_frees_when_it_cannot_grow_in_place() {
    let mut t = T::new(4096, 4096, 27);
    let a = t.alloc(40, 1).unwrap();
    let _b = t.alloc(40, 1).unwrap();
    t.ram.fill(a, 40, 0x33).unwrap();
    let to = t.realloc(a, 300, 5).unwrap();
    assert_ne!(to, a);
    assert_eq!(t.ram.slice(to, 40).unwrap(), &[0x33; 40][..]);
    assert_eq!(
        t.rec.events.last().unwrap().kind,
        EventKind::Realloc {
            from: a,
            to,
            size: 300
        }
    );
    let summaries = t.kinds().iter().filter(|k| k.is_summary()).count();
    assert_eq!(summaries, 1, "one summary, last");
    assert_eq!(t.pool.owner_of(&t.ram, to), Ok(Owner(5)));
    assert_eq!(t.free(a), Err(AllocError::DoubleFree { addr: a }));
    t.ok();
}

#[test]
fn realloc_edge_cases() {
    let mut t = T::new(2048, 2048, 27);
    let a = t.alloc(40, 1).unwrap();
    t.ram.fill(a, 40, 0x77).unwrap();
    // Size 0 is refused and the block stays (LiteOS would free it).
    assert_eq!(t.realloc(a, 0, 1), Err(AllocError::ZeroSize));
    assert_eq!(t.pool.owner_of(&t.ram, a), Ok(Owner(1)));
    assert!(matches!(
        t.realloc(a, u32::MAX, 1),
        Err(AllocError::OutOfMemory { .. })
    ));
    assert!(matches!(
        t.realloc(a, 4000, 1),
        Err(AllocError::OutOfMemory { .. })
    ));
    assert_eq!(t.ram.slice(a, 40).unwrap(), &[0x77; 40][..]);
    t.ok();
}

// ---------------------------------------------------------------------------------------
// Corruption

/// A pool with a free node between two used ones; returns (pool, a, b) where `a`, `b`
/// are live.
fn corrupt_setup() -> (T, Addr, Addr) {
    let mut t = T::new(2048, 2048, 27);
    let a = t.alloc(40, 1).unwrap();
    let hole = t.alloc(40, 1).unwrap();
    let b = t.alloc(40, 1).unwrap();
    t.free(hole).unwrap();
    t.ok();
    (t, a, b)
}

#[test]
fn a_smashed_magic_byte_is_reported_by_check_and_free() {
    let (mut t, a, _) = corrupt_setup();
    let node = a - 16;
    t.ram.write_u8(node + 1, 0x00).unwrap();
    let expected = AllocError::Corrupted {
        at: node,
        field: Field::Magic,
        expected: !node,
        found: !node & 0xffff_00ff,
    };
    assert_eq!(t.pool.check(&t.ram), Err(expected));
    assert_eq!(t.free(a), Err(expected));
    assert_eq!(t.realloc(a, 8, 1), Err(expected));
    assert_eq!(
        expected.to_string(),
        format!(
            "corrupted magic at {node:#010x}: expected {:#010x}, found {:#010x}",
            !node,
            !node & 0xffff_00ff
        )
    );
}

#[test]
fn a_smashed_size_byte_is_reported_by_check_and_free() {
    let (mut t, a, _) = corrupt_setup();
    let node = a - 16;
    assert_eq!(t.word(node + 12), USED | 56);
    t.ram.write_u8(node + 12, 0x5d).unwrap();
    let expected = AllocError::Corrupted {
        at: node + 12,
        field: Field::Size,
        expected: USED | 56,
        found: USED | 0x5d,
    };
    assert_eq!(t.pool.check(&t.ram), Err(expected));
    assert_eq!(t.free(a), Err(expected));
    // A size that stays aligned but leads into the payload.
    t.ram.write_u8(node + 12, 0x30).unwrap();
    let expected = AllocError::Corrupted {
        at: node + 12,
        field: Field::Size,
        expected: USED | 56,
        found: USED | 0x30,
    };
    assert_eq!(t.pool.check(&t.ram), Err(expected));
    assert_eq!(t.free(a), Err(expected));
    // The used flag cleared: the magic says the node is used.
    t.ram.write_u32(node + 12, 56).unwrap();
    let expected = AllocError::Corrupted {
        at: node + 12,
        field: Field::Size,
        expected: USED | 56,
        found: 56,
    };
    assert_eq!(t.pool.check(&t.ram), Err(expected));
    assert_eq!(t.free(a), Err(expected));
    assert!(t.walk_ok());
}

impl T {
    fn walk_ok(&self) -> bool {
        self.pool.walk(&self.ram, &mut |_| {}).is_ok()
    }
}

#[test]
fn smashed_links_are_reported() {
    // The free node's size.
    let (mut t, a, _) = corrupt_setup();
    let hole = a - 16 + 56;
    t.ram.write_u8(hole + 12, 0x39).unwrap();
    assert_eq!(
        t.pool.check(&t.ram),
        Err(AllocError::Corrupted {
            at: hole + 12,
            field: Field::Size,
            expected: 56,
            found: 0x39
        })
    );
    // A used node's preNode (the physical link back to the free node before it).
    let (mut t, a, b) = corrupt_setup();
    let hole = a - 16 + 56;
    let node = b - 16;
    assert_eq!(t.word(node + 8), hole);
    t.ram.write_u8(node + 8, 0x00).unwrap();
    let expected = AllocError::Corrupted {
        at: node + 8,
        field: Field::PhysPrev,
        expected: hole,
        found: hole & 0xffff_ff00,
    };
    assert_eq!(t.pool.check(&t.ram), Err(expected));
    assert_eq!(t.free(b), Err(expected));
    // A free node's list link.
    let (mut t, a, _) = corrupt_setup();
    let hole = a - 16 + 56;
    t.ram.write_u8(hole, 0x00).unwrap();
    let e = t.pool.check(&t.ram).unwrap_err();
    assert!(
        matches!(
            e,
            AllocError::Corrupted { .. } | AllocError::Inconsistent { .. }
        ),
        "{e:?}"
    );
    // The control block and an end node.
    let (mut t, _, _) = corrupt_setup();
    t.ram.write_u8(BASE + 4, 0xff).unwrap();
    assert!(matches!(
        t.pool.check(&t.ram),
        Err(AllocError::Corrupted {
            at: 0x2000_0004,
            field: Field::Size,
            ..
        })
    ));
    let (mut t, _, _) = corrupt_setup();
    let end = t.pool.end_node();
    t.ram.write_u8(end + 2, 0x00).unwrap();
    assert!(matches!(
        t.pool.check(&t.ram),
        Err(AllocError::Corrupted {
            field: Field::Magic,
            ..
        })
    ));
}

/// Flips every byte of the metadata of a small pool in turn and runs every operation:
/// all must return (typed errors or success) without panicking or looping.
#[test]
fn no_single_byte_corruption_panics_or_hangs() {
    let (t0, a, b) = corrupt_setup();
    let mut spans = Vec::new();
    t0.pool.walk(&t0.ram, &mut |s| spans.push(s)).unwrap();
    let meta: Vec<Addr> = spans
        .iter()
        .filter(|s| s.kind == BlockKind::Header)
        .flat_map(|s| s.addr..s.addr + s.len)
        .collect();
    // The task-id half of a used node's owner word may hold any task: the only bytes whose
    // corruption check() cannot see.
    let task_id_bytes: Vec<Addr> = [a, b]
        .iter()
        .flat_map(|p| [p - 16 + 4, p - 16 + 5])
        .collect();
    let mut undetected = Vec::new();
    for &at in &meta {
        for flip in [0xffu8, 0x01, 0x80, 0x10] {
            let mut t = T {
                ram: t0.ram.clone(),
                pool: t0.pool.clone(),
                rec: Recorder::default(),
            };
            let byte = t.ram.read_u8(at).unwrap();
            t.ram.write_u8(at, byte ^ flip).unwrap();
            if t.pool.check(&t.ram).is_ok() {
                undetected.push(at);
            }
            let _ = t.pool.walk(&t.ram, &mut |_| {});
            let _ = t.pool.stats(&t.ram);
            let mut out = [(Owner(0), 0); 4];
            let _ = t.pool.usage_by_owner(&t.ram, &mut out);
            let _ = t.alloc(30, 1);
            let _ = t.realloc(a, 100, 1);
            let _ = t.free(b);
            let _ = t.free(a);
            let _ = t.alloc(1, 1);
            let _ = t.pool.check(&t.ram);
        }
    }
    eprintln!(
        "corruption detected by check(): {} of {}",
        meta.len() * 4 - undetected.len(),
        meta.len() * 4
    );
    assert!(
        undetected.iter().all(|at| task_id_bytes.contains(at)),
        "undetected flips at {undetected:x?}"
    );
}

/// Writes random words at random places of a used pool (several at a time) and runs
/// every operation: none may panic or hang, whatever the RAM holds.
#[test]
fn random_word_corruption_never_panics() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..400 {
        let mut t = T::new(4096, 2048, 1 + (next() % 27) as u32);
        let mut live = Vec::new();
        for _ in 0..12 {
            if let Ok(a) = t.alloc(1 + (next() % 200) as u32, (next() % 3) as u16) {
                live.push(a);
            }
        }
        for i in (0..live.len()).step_by(3) {
            t.free(live[i]).unwrap();
        }
        for _ in 0..1 + next() % 3 {
            let at = (BASE + (next() % 2048) as u32) & !3;
            let value = match next() % 4 {
                0 => next() as u32,
                1 => BASE + (next() % 2048) as u32,
                2 => 0,
                _ => t.word(at) ^ (1 << (next() % 32)),
            };
            t.ram.write_u32(at, value).unwrap();
        }
        let _ = t.pool.check(&t.ram);
        let _ = t.pool.walk(&t.ram, &mut |_| {});
        let _ = t.pool.stats(&t.ram);
        let mut out = [(Owner(0), 0); 8];
        let _ = t.pool.usage_by_owner(&t.ram, &mut out);
        for &a in &live {
            let _ = t.realloc(a, 1 + (next() % 300) as u32, 1);
            let _ = t.free(a);
            let _ = t.alloc(1 + (next() % 300) as u32, 1);
        }
        let _ = t.pool.check(&t.ram);
    }
}

#[test]
fn the_harness_drives_growth_until_the_spares_run_out() {
    let mut ram = ram_with(BASE, RAM_SIZE);
    let mut q = Quiet;
    let pool = {
        let mut cx = Ctx::new(&mut ram, &mut q);
        let mut pool = DynMem::init(&mut cx, Name::lit("dyn"), BASE, 1536, MAX_LISTS).unwrap();
        pool.expand_enable(&mut cx, &[(BASE + 2048, 1024), (BASE + 3072, 2048)])
            .unwrap();
        pool
    };
    let mut h = Harness::new(ram, pool, (BASE, RAM_SIZE), true);
    for _ in 0..12 {
        h.step(&Step::Alloc {
            size: 500,
            owner: 1,
        })
        .unwrap();
    }
    h.step(&Step::Realloc { pick: 0, size: 900 }).unwrap();
    let mut areas = [(0, 0); 8];
    let n = h.allocator.areas(&h.ram, &mut areas).unwrap();
    assert_eq!(
        &areas[..n],
        &[(BASE, 1536), (BASE + 2048, 1024), (BASE + 3072, 2048)]
    );
    for pick in 0..12 {
        h.step(&Step::Free { pick }).unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// The canonical trace

#[test]
fn a_short_sequence_renders_canonical_lines() {
    let mut ram = ram_with(BASE, 256);
    let mut sink = TextSink::new(String::new());
    let mut pool = {
        let mut cx = Ctx::new(&mut ram, &mut sink);
        DynMem::init(&mut cx, Name::lit("dyn"), BASE, 256, 1).unwrap()
    };
    assert!(sink
        .out
        .ends_with("0000 dyn.init base=0x20000000 size=256\n"));
    sink.out.clear();
    sink.step = 1;
    let a = {
        let mut cx = Ctx::new(&mut ram, &mut sink);
        pool.alloc(&mut cx, 10, Owner(3)).unwrap()
    };
    sink.step = 2;
    {
        let mut cx = Ctx::new(&mut ram, &mut sink);
        pool.free(&mut cx, a).unwrap();
    }
    sink.step = 3;
    {
        let mut cx = Ctx::new(&mut ram, &mut sink);
        assert!(pool.free(&mut cx, a).is_err());
        assert!(pool.free(&mut cx, a + 0x1c).is_err());
    }
    let text = sink.out;
    let expected = "\
0001 dyn.search size=28 visited=1
0001 dyn.unlink list=0 addr=0x20000014
0001 dyn.meta addr=0x20000010 field=head value=0x2000000c
0001 dyn.meta addr=0x2000000c field=tail value=0x2000000c
0001 dyn.split addr=0x20000014 size=28 rest=0x20000030 rest_size=192
0001 dyn.meta addr=0x20000038 field=phys_prev value=0x20000014
0001 dyn.meta addr=0x2000003c field=size value=0x000000c0
0001 dyn.meta addr=0x200000f8 field=phys_prev value=0x20000030
0001 dyn.link list=0 addr=0x20000030
0001 dyn.meta addr=0x20000030 field=prev value=0x2000000c
0001 dyn.meta addr=0x20000034 field=next value=0x2000000c
0001 dyn.meta addr=0x20000010 field=head value=0x20000030
0001 dyn.meta addr=0x2000000c field=tail value=0x20000030
0001 dyn.meta addr=0x20000014 field=magic value=0xdfffffeb
0001 dyn.meta addr=0x20000018 field=owner value=0x00000003
0001 dyn.meta addr=0x20000020 field=size value=0x8000001c
0001 dyn.alloc addr=0x20000024 size=10 block=28 owner=3
0002 dyn.unlink list=0 addr=0x20000030
0002 dyn.meta addr=0x20000010 field=head value=0x2000000c
0002 dyn.meta addr=0x2000000c field=tail value=0x2000000c
0002 dyn.merge addr=0x20000014 size=220 absorbed=0x20000030
0002 dyn.fill addr=0x20000030 len=16 byte=0x00 field=magic
0002 dyn.meta addr=0x20000020 field=size value=0x000000dc
0002 dyn.meta addr=0x200000f8 field=phys_prev value=0x20000014
0002 dyn.link list=0 addr=0x20000014
0002 dyn.meta addr=0x20000014 field=prev value=0x2000000c
0002 dyn.meta addr=0x20000018 field=next value=0x2000000c
0002 dyn.meta addr=0x20000010 field=head value=0x20000014
0002 dyn.meta addr=0x2000000c field=tail value=0x20000014
0002 dyn.free addr=0x20000024 block=28 owner=3
0003 dyn.fault op=free addr=0x20000024 error=DoubleFree addr=0x20000024
0003 dyn.fault op=free addr=0x20000040 error=InvalidPointer addr=0x20000040
";
    assert_eq!(text, expected);
}

// ---------------------------------------------------------------------------------------
// Property suites

const RAM_SIZE: u32 = 8192;

#[test]
fn property_suite_with_realloc() {
    let steps = run_suite(
        || {
            let mut ram = ram_with(BASE, RAM_SIZE);
            let mut q = Quiet;
            let pool = {
                let mut cx = Ctx::new(&mut ram, &mut q);
                DynMem::init(&mut cx, Name::lit("dyn"), BASE, 6144, MAX_LISTS).unwrap()
            };
            Harness::new(ram, pool, (BASE, 6144), true)
        },
        400,
        40,
        260,
    );
    eprintln!("dynmem property suite: {steps} steps");
    assert!(steps >= 10_000, "only {steps} steps ran");
}

#[test]
fn property_suite_one_sorted_list() {
    let steps = run_suite(
        || {
            let mut ram = ram_with(BASE, RAM_SIZE);
            let mut q = Quiet;
            let pool = {
                let mut cx = Ctx::new(&mut ram, &mut q);
                DynMem::init(&mut cx, Name::lit("dyn"), BASE, 3000, 1).unwrap()
            };
            Harness::new(ram, pool, (BASE, 3000), true)
        },
        200,
        20,
        260,
    );
    eprintln!("dynmem property suite (one list): {steps} steps");
    assert!(steps >= 5_000, "only {steps} steps ran");
}

#[test]
fn property_suite_with_growth() {
    let steps = run_suite(
        || {
            let mut ram = ram_with(BASE, RAM_SIZE);
            let mut q = Quiet;
            let pool = {
                let mut cx = Ctx::new(&mut ram, &mut q);
                let mut pool =
                    DynMem::init(&mut cx, Name::lit("dyn"), BASE, 1536, MAX_LISTS).unwrap();
                pool.expand_enable(
                    &mut cx,
                    &[
                        (BASE + 2048, 1024),
                        (BASE + 3072, 2048),
                        (BASE + 5120, 1024),
                        (BASE + 6144, 2048),
                    ],
                )
                .unwrap();
                pool
            };
            Harness::new(ram, pool, (BASE, RAM_SIZE), true)
        },
        600,
        40,
        260,
    );
    eprintln!("dynmem property suite: {steps} steps");
    assert!(steps >= 10_000, "only {steps} steps ran");
}

#[test]
fn min_node_is_header_plus_one_word() {
    assert_eq!(MIN_NODE, 20);
    assert_eq!(HEAD_SIZE, 16);
}
