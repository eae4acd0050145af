//! Which allocator runs which workload, and which peer it is compared with.
//!
//! | memplay allocator | peer | why that peer |
//! |---|---|---|
//! | TLSF (`tlsf`) | rlsf (TLSF) | the same algorithm, 16 second-level classes in both |
//! | best fit (`dynmem`) | talc | both keep segregated free lists by size class and take the first fit of a class (sorted in memplay, so the best fit) |
//! | policy lab, first fit | linked_list_allocator | both first fit over an address-ordered list with coalescing |
//! | partition pool | textbook fixed-block pool | the same free list, without memplay's header |
//! | control buffer | textbook pools per class | the same classes (MTK's default table) and fall-through |
//! | physical pages, buddy (`pages`) | buddy_system_allocator's `FrameAllocator` | binary buddy over page frames |
//!
//! The buddy heap of buddy_system_allocator also runs the general workloads, as a peer
//! without a memplay counterpart (it is shown on its own lines).

use memplay_engine::ctrl_buffer::CtrlBuffer;

use crate::fixed::{ClassPools, FixedPool};
use crate::subject::{BuddyHeap, Engine, Frames, LinkedList, Rlsf, Subject, Talc};
use crate::workload::{Sizes, Workload, CLASSES, FIXED, GENERAL, PAGE, PAGES};

/// Every allocator the suite measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Tlsf,
    BestFit,
    Lab,
    Partition,
    Ctrl,
    Buddy,
    Rlsf,
    Talc,
    LinkedList,
    BuddyHeap,
    Frames,
    FixedPool,
    ClassPools,
}

impl Kind {
    pub const ALL: [Kind; 13] = [
        Kind::Tlsf,
        Kind::BestFit,
        Kind::Lab,
        Kind::Partition,
        Kind::Ctrl,
        Kind::Buddy,
        Kind::Rlsf,
        Kind::Talc,
        Kind::LinkedList,
        Kind::BuddyHeap,
        Kind::Frames,
        Kind::FixedPool,
        Kind::ClassPools,
    ];

    /// The name in the table and in criterion's benchmark ids (no spaces, no slashes).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Tlsf => "memplay-tlsf",
            Kind::BestFit => "memplay-bestfit",
            Kind::Lab => "memplay-lab-first",
            Kind::Partition => "memplay-partition",
            Kind::Ctrl => "memplay-ctrl",
            Kind::Buddy => "memplay-buddy",
            Kind::Rlsf => "rlsf",
            Kind::Talc => "talc",
            Kind::LinkedList => "linked_list",
            Kind::BuddyHeap => "buddy-heap",
            Kind::Frames => "buddy-frames",
            Kind::FixedPool => "fixed-pool",
            Kind::ClassPools => "class-pools",
        }
    }

    /// True for the engine's allocators.
    pub fn is_memplay(self) -> bool {
        matches!(
            self,
            Kind::Tlsf | Kind::BestFit | Kind::Lab | Kind::Partition | Kind::Ctrl | Kind::Buddy
        )
    }

    /// The peer an engine allocator is compared with.
    pub fn peer(self) -> Option<Kind> {
        match self {
            Kind::Tlsf => Some(Kind::Rlsf),
            Kind::BestFit => Some(Kind::Talc),
            Kind::Lab => Some(Kind::LinkedList),
            Kind::Partition => Some(Kind::FixedPool),
            Kind::Ctrl => Some(Kind::ClassPools),
            Kind::Buddy => Some(Kind::Frames),
            _ => None,
        }
    }

    /// The workloads this allocator runs.
    pub fn workloads(self) -> Vec<Workload> {
        match self {
            Kind::Tlsf
            | Kind::BestFit
            | Kind::Lab
            | Kind::Rlsf
            | Kind::Talc
            | Kind::LinkedList
            | Kind::BuddyHeap => GENERAL.to_vec(),
            Kind::Partition | Kind::FixedPool => vec![FIXED],
            Kind::Ctrl | Kind::ClassPools => vec![CLASSES],
            Kind::Buddy | Kind::Frames => vec![PAGES],
        }
    }
}

/// One measured pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    pub kind: Kind,
    pub workload: Workload,
}

impl Row {
    /// criterion's benchmark id inside the `alloc` group: `<allocator>/<workload>`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind.name(), self.workload.name)
    }
}

/// Every measured pair, engine allocators first.
pub fn rows() -> Vec<Row> {
    Kind::ALL
        .iter()
        .flat_map(|&kind| {
            kind.workloads()
                .into_iter()
                .map(move |workload| Row { kind, workload })
        })
        .collect()
}

/// The block size of a fixed-block pool for `workload`: its fixed size, else 64 bytes.
pub fn fixed_block(workload: &Workload) -> u32 {
    match workload.sizes {
        Sizes::Fixed(size) => size,
        _ => 64,
    }
}

/// What [`dispatch`] hands a row's allocator to.
pub trait Visitor {
    /// `make` builds a fresh allocator for the row, ready for a replay.
    fn visit<S: Subject>(&mut self, row: &Row, make: &dyn Fn() -> S);
}

/// Calls `visitor` with a constructor of `row`'s allocator, statically typed.
pub fn dispatch<V: Visitor>(row: &Row, visitor: &mut V) {
    let pool = row.workload.pool_size;
    let block = fixed_block(&row.workload);
    match row.kind {
        Kind::Tlsf => visitor.visit(row, &|| Engine::tlsf(pool)),
        Kind::BestFit => visitor.visit(row, &|| Engine::best_fit(pool)),
        Kind::Lab => visitor.visit(row, &|| Engine::lab(pool)),
        Kind::Partition => visitor.visit(row, &|| Engine::partition(pool, block)),
        Kind::Ctrl => visitor.visit(row, &Engine::ctrl),
        Kind::Buddy => visitor.visit(row, &|| Engine::buddy(pool / PAGE)),
        Kind::Rlsf => visitor.visit(row, &|| Rlsf::new(pool)),
        Kind::Talc => visitor.visit(row, &|| Talc::new(pool)),
        Kind::LinkedList => visitor.visit(row, &|| LinkedList::new(pool)),
        Kind::BuddyHeap => visitor.visit(row, &|| BuddyHeap::new(pool)),
        Kind::Frames => visitor.visit(row, &|| Frames::new(pool / PAGE)),
        Kind::FixedPool => visitor.visit(row, &|| {
            FixedPool::with_bytes(block as usize, pool as usize)
        }),
        Kind::ClassPools => visitor.visit(row, &|| ClassPools::new(CtrlBuffer::MTK_DEFAULT)),
    }
}

/// Heap efficiency of `row` (see the crate documentation): builds the allocator, records
/// the fill trace for its capacity and replays it to the first failure.
pub fn efficiency_of(row: &Row) -> crate::Efficiency {
    struct Measure(Option<crate::Efficiency>);
    impl Visitor for Measure {
        fn visit<S: Subject>(&mut self, row: &Row, make: &dyn Fn() -> S) {
            let mut subject = make();
            let fill = row.workload.fill(subject.capacity());
            self.0 = Some(crate::efficiency(&mut subject, &fill));
        }
    }
    let mut m = Measure(None);
    dispatch(row, &mut m);
    m.0.expect("dispatch visits once")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{replay, Outcome};

    /// Every allocator replays every one of its steady traces without a failed free, and
    /// the general-purpose ones without a failed allocation; every fill trace ends in a
    /// failure. (Correctness only: timing is the criterion suite's business.)
    #[test]
    fn every_row_replays_cleanly_and_fills_up() {
        struct Check;
        impl Visitor for Check {
            fn visit<S: Subject>(&mut self, row: &Row, make: &dyn Fn() -> S) {
                let mut subject = make();
                let trace = row.workload.steady();
                let outcome = replay(&mut subject, &trace);
                assert_eq!(outcome.failed_frees, 0, "{}", row.id());
                if row.workload.sizes != CLASSES.sizes {
                    assert_eq!(outcome, Outcome::default(), "{}", row.id());
                }
                let e = efficiency_of(row);
                assert!(e.failed, "{}", row.id());
                assert!(e.percent() > 5.0 && e.percent() <= 100.0, "{}", row.id());
            }
        }
        for row in rows() {
            dispatch(&row, &mut Check);
        }
    }

    #[test]
    fn ids_are_unique_and_every_engine_allocator_has_its_peer_on_the_same_workloads() {
        let rows = rows();
        let mut ids: Vec<_> = rows.iter().map(Row::id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), rows.len());
        for kind in Kind::ALL.iter().filter(|k| k.is_memplay()) {
            let peer = kind.peer().unwrap();
            assert!(!peer.is_memplay());
            assert_eq!(kind.workloads(), peer.workloads());
        }
    }
}
