//! The allocators under measurement, behind one small interface.
//!
//! memplay's allocators run over a simulated [`Ram`] with the [`Quiet`] sink: every header
//! read and write goes through the engine's bounds-checked RAM and every event through a
//! `&mut dyn Sink`, exactly as in the playground, only nobody listens. The peers run on
//! real memory: an arena from the global allocator that they manage with raw pointers.
//!
//! Every peer arena is aligned to its size rounded up to a power of two, which the buddy
//! heap needs to build its largest blocks (its buddies are found by address bits) and
//! which costs the others nothing.

use std::alloc::Layout;
use std::ptr::NonNull;

use memplay_engine::ctrl_buffer::CtrlBuffer;
use memplay_engine::dynmem::{self, DynMem};
use memplay_engine::pages::{PhysArea, PhysMem};
use memplay_engine::partition::PartitionPool;
use memplay_engine::policy_lab::{LabConfig, PolicyLab};
use memplay_engine::sysmem::{Area, SystemMemory};
use memplay_engine::tlsf::{Tlsf, TlsfConfig};
use memplay_engine::trace::{Quiet, Sink};
use memplay_engine::{Addr, Allocator, Ctx, Name, Owner, Ram, RegionKind};

use crate::fixed::{ClassPools, FixedPool};
use crate::workload::PAGE;

/// An allocator as the replay sees it.
pub trait Subject {
    /// Units (bytes, or pages for a page allocator) given to the allocator: the pool.
    fn capacity(&self) -> u64;
    /// Allocates `size` units; `None` when the allocator cannot.
    fn alloc(&mut self, size: u32) -> Option<usize>;
    /// Frees what [`alloc`](Subject::alloc) returned for `size` units; `false` when the
    /// allocator reported an error (which a correct replay never provokes).
    fn free(&mut self, handle: usize, size: u32) -> bool;
}

/// Where the simulated pools start.
pub const BASE: Addr = 0x2000_0000;

/// The owner every engine allocation is made for.
const OWNER: Owner = Owner(1);

/// An engine allocator with its simulated RAM and its trace sink ([`Quiet`] unless a
/// test wants the events).
pub struct Engine<A, K = Quiet> {
    pub ram: Ram<Vec<u8>>,
    pub allocator: A,
    pub sink: K,
    capacity: u64,
    /// Bytes per unit of a trace's sizes: 1, or the page size for the page allocator.
    unit: u32,
}

fn ram_of(size: u32) -> Ram<Vec<u8>> {
    let mut ram = Ram::new(vec![0u8; size as usize]);
    ram.add_region(Name::lit("ram"), RegionKind::External, BASE, size)
        .expect("a fresh RAM takes one region");
    ram
}

impl<A: Allocator, K: Sink> Engine<A, K> {
    /// Builds the allocator over a fresh RAM of `ram_size` bytes with `make`, whose
    /// events go to `sink`.
    fn build(
        ram_size: u32,
        capacity: u64,
        mut sink: K,
        make: impl FnOnce(&mut Ctx<'_, Vec<u8>>) -> A,
    ) -> Engine<A, K> {
        let mut ram = ram_of(ram_size);
        let allocator = make(&mut Ctx::new(&mut ram, &mut sink));
        Engine {
            ram,
            allocator,
            sink,
            capacity,
            unit: 1,
        }
    }
}

impl Engine<Tlsf> {
    /// TLSF (LiteOS-M `los_memory.c`) with its default classes over `pool` bytes.
    pub fn tlsf(pool: u32) -> Self {
        Engine::tlsf_with(pool, Quiet)
    }
}

impl<K: Sink> Engine<Tlsf, K> {
    pub fn tlsf_with(pool: u32, sink: K) -> Self {
        Engine::build(pool, pool as u64, sink, |cx| {
            Tlsf::new(cx, Name::lit("tlsf"), BASE, pool, TlsfConfig::DEFAULT).expect("tlsf pool")
        })
    }
}

impl Engine<DynMem> {
    /// LiteOS best fit with LiteOS's 27 size-class lists over `pool` bytes.
    pub fn best_fit(pool: u32) -> Self {
        Engine::best_fit_with(pool, Quiet)
    }
}

impl<K: Sink> Engine<DynMem, K> {
    pub fn best_fit_with(pool: u32, sink: K) -> Self {
        Engine::build(pool, pool as u64, sink, |cx| {
            DynMem::init(cx, Name::lit("dyn"), BASE, pool, dynmem::MAX_LISTS).expect("dyn pool")
        })
    }
}

impl Engine<PolicyLab> {
    /// The policy lab's textbook default: first fit, address-ordered list, coalescing,
    /// a 4-byte header, 4-byte alignment.
    pub fn lab(pool: u32) -> Self {
        Engine::lab_with(pool, Quiet)
    }
}

impl<K: Sink> Engine<PolicyLab, K> {
    pub fn lab_with(pool: u32, sink: K) -> Self {
        Engine::build(pool, pool as u64, sink, |cx| {
            PolicyLab::new(cx, Name::lit("lab"), BASE, pool, LabConfig::default())
                .expect("lab pool")
        })
    }
}

impl Engine<PartitionPool> {
    /// A partition pool of `block`-byte blocks filling `pool` bytes.
    pub fn partition(pool: u32, block: u32) -> Self {
        Engine::partition_with(pool, block, Quiet)
    }
}

impl<K: Sink> Engine<PartitionPool, K> {
    pub fn partition_with(pool: u32, block: u32, sink: K) -> Self {
        Engine::build(pool, pool as u64, sink, |cx| {
            PartitionPool::new(cx, Name::lit("part"), BASE, pool, block).expect("partition")
        })
    }
}

impl Engine<CtrlBuffer> {
    /// The control buffer with MTK's default class table, carved from system memory.
    /// Its capacity is the bytes the class pools take (control blocks and headers
    /// included), not the system memory around them.
    pub fn ctrl() -> Self {
        Engine::ctrl_with(Quiet)
    }
}

impl<K: Sink> Engine<CtrlBuffer, K> {
    pub fn ctrl_with(sink: K) -> Self {
        let ram_size = 64 * 1024;
        let mut engine = Engine::build(ram_size, 0, sink, |cx| {
            let areas = [Area::new(BASE, ram_size)];
            let mut sys = SystemMemory::new(cx, Name::lit("sys"), &areas).expect("sysmem");
            CtrlBuffer::new(cx, Name::lit("ctrl"), &mut sys, CtrlBuffer::MTK_DEFAULT)
                .expect("ctrl buffer")
        });
        engine.capacity = engine.allocator.pools().map(|p| p.size() as u64).sum();
        engine
    }
}

impl Engine<PhysMem> {
    /// LiteOS-A's physical pages with the buddy allocator: one area of `pages` 4 KiB
    /// pages, whose first pages boot memory takes for the control block and the page
    /// array. Sizes are in pages; the capacity is the whole area, boot memory included.
    pub fn buddy(pages: u32) -> Self {
        Engine::buddy_with(pages, Quiet)
    }
}

impl<K: Sink> Engine<PhysMem, K> {
    pub fn buddy_with(pages: u32, sink: K) -> Self {
        let bytes = pages * PAGE;
        let mut engine = Engine::build(bytes, pages as u64, sink, |cx| {
            let area = PhysArea {
                start: BASE,
                size: bytes,
            };
            PhysMem::boot(cx, Name::lit("phys"), PAGE, &[area]).expect("physical pages")
        });
        engine.unit = PAGE;
        engine
    }
}

impl<A: Allocator, K: Sink> Subject for Engine<A, K> {
    fn capacity(&self) -> u64 {
        self.capacity
    }

    #[inline]
    fn alloc(&mut self, size: u32) -> Option<usize> {
        let mut cx = Ctx::new(&mut self.ram, &mut self.sink);
        self.allocator
            .alloc(&mut cx, size.saturating_mul(self.unit), OWNER)
            .ok()
            .map(|a| a as usize)
    }

    #[inline]
    fn free(&mut self, handle: usize, _size: u32) -> bool {
        let mut cx = Ctx::new(&mut self.ram, &mut self.sink);
        self.allocator.free(&mut cx, handle as Addr).is_ok()
    }
}

/// Peers ask for the engine's alignment, 4 bytes.
const ALIGN: usize = 4;

fn layout(size: u32) -> Layout {
    Layout::from_size_align(size as usize, ALIGN).expect("a u32 size is a valid layout")
}

/// A block of real memory a peer manages, zeroed, aligned to its size rounded up to a
/// power of two; freed on drop.
pub struct Arena {
    ptr: NonNull<u8>,
    layout: Layout,
}

impl Arena {
    pub fn new(size: usize) -> Arena {
        let layout = Layout::from_size_align(size, size.next_power_of_two()).expect("arena");
        // Safety: `layout` has a non-zero size (every pool is larger than 0 bytes).
        let raw = unsafe { std::alloc::alloc_zeroed(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            std::alloc::handle_alloc_error(layout)
        };
        Arena { ptr, layout }
    }

    pub fn ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    pub fn len(&self) -> usize {
        self.layout.size()
    }

    pub fn is_empty(&self) -> bool {
        self.layout.size() == 0
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // Safety: `ptr` came from `alloc_zeroed` with this very layout and is freed once.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

/// rlsf's TLSF: 16 second-level classes (as the engine's TLSF), first levels enough for
/// a 512 KiB block on a 64-bit host.
pub type RlsfTlsf = rlsf::Tlsf<'static, u16, u16, 14, 16>;

/// rlsf 0.2 (TLSF) on real memory.
pub struct Rlsf {
    // Declared before the arena, so it is dropped first.
    tlsf: RlsfTlsf,
    arena: Arena,
}

impl Rlsf {
    pub fn new(pool: u32) -> Rlsf {
        let arena = Arena::new(pool as usize);
        let mut tlsf = RlsfTlsf::new();
        let block = NonNull::slice_from_raw_parts(arena.ptr, arena.len());
        // Safety: the arena is valid, writable, owned by this struct alone and outlives
        // `tlsf` (dropped after it); nothing else touches it.
        unsafe { tlsf.insert_free_block_ptr(block) }.expect("rlsf takes the arena");
        Rlsf { tlsf, arena }
    }
}

impl Subject for Rlsf {
    fn capacity(&self) -> u64 {
        self.arena.len() as u64
    }

    #[inline]
    fn alloc(&mut self, size: u32) -> Option<usize> {
        self.tlsf
            .allocate(layout(size))
            .map(|p| p.as_ptr() as usize)
    }

    #[inline]
    fn free(&mut self, handle: usize, _size: u32) -> bool {
        let ptr = NonNull::new(handle as *mut u8).expect("a handle is never null");
        // Safety: `handle` was returned by `allocate` on this pool with alignment `ALIGN`
        // and the replay frees it exactly once.
        unsafe { self.tlsf.deallocate(ptr, ALIGN) };
        true
    }
}

type TalcHeap = talc::base::Talc<talc::source::Manual, talc::DefaultBinning>;

/// talc 5 (binned, dlmalloc-style boundary tags) on real memory.
pub struct Talc {
    talc: TalcHeap,
    arena: Arena,
}

impl Talc {
    pub fn new(pool: u32) -> Talc {
        let arena = Arena::new(pool as usize);
        let mut talc = TalcHeap::new(talc::source::Manual);
        // Safety: the arena is valid, writable, owned by this struct alone and outlives
        // `talc` (dropped after it); the `Manual` source allows manual claims.
        unsafe { talc.claim(arena.ptr(), arena.len()) }.expect("talc claims the arena");
        Talc { talc, arena }
    }
}

impl Subject for Talc {
    fn capacity(&self) -> u64 {
        self.arena.len() as u64
    }

    #[inline]
    fn alloc(&mut self, size: u32) -> Option<usize> {
        // Safety: every recorded size is at least 1.
        unsafe { self.talc.allocate(layout(size)) }.map(|p| p.as_ptr() as usize)
    }

    #[inline]
    fn free(&mut self, handle: usize, size: u32) -> bool {
        // Safety: `handle` was returned by `allocate` with `layout(size)` on this heap and
        // the replay frees it exactly once.
        unsafe { self.talc.deallocate(handle as *mut u8, layout(size)) };
        true
    }
}

/// linked_list_allocator 0.10 (first fit over an address-ordered hole list) on real
/// memory.
pub struct LinkedList {
    heap: linked_list_allocator::Heap,
    arena: Arena,
}

impl LinkedList {
    pub fn new(pool: u32) -> LinkedList {
        let arena = Arena::new(pool as usize);
        let mut heap = linked_list_allocator::Heap::empty();
        // Safety: the arena is valid, writable, owned by this struct alone and outlives
        // `heap` (dropped after it).
        unsafe { heap.init(arena.ptr(), arena.len()) };
        LinkedList { heap, arena }
    }
}

impl Subject for LinkedList {
    fn capacity(&self) -> u64 {
        self.arena.len() as u64
    }

    #[inline]
    fn alloc(&mut self, size: u32) -> Option<usize> {
        self.heap
            .allocate_first_fit(layout(size))
            .ok()
            .map(|p| p.as_ptr() as usize)
    }

    #[inline]
    fn free(&mut self, handle: usize, size: u32) -> bool {
        let ptr = NonNull::new(handle as *mut u8).expect("a handle is never null");
        // Safety: `handle` was returned by `allocate_first_fit` with `layout(size)` on this
        // heap and the replay frees it exactly once.
        unsafe { self.heap.deallocate(ptr, layout(size)) };
        true
    }
}

/// buddy_system_allocator's heap: power-of-two blocks up to 2^23 bytes.
pub type BuddyHeapInner = buddy_system_allocator::Heap<24>;

/// buddy_system_allocator 0.13's `Heap` (binary buddy over real memory).
pub struct BuddyHeap {
    heap: BuddyHeapInner,
    arena: Arena,
}

impl BuddyHeap {
    pub fn new(pool: u32) -> BuddyHeap {
        let arena = Arena::new(pool as usize);
        let mut heap = BuddyHeapInner::new();
        // Safety: the arena is valid, writable, owned by this struct alone and outlives
        // `heap` (dropped after it); it is added once.
        unsafe { heap.init(arena.ptr() as usize, arena.len()) };
        BuddyHeap { heap, arena }
    }
}

impl Subject for BuddyHeap {
    fn capacity(&self) -> u64 {
        self.arena.len() as u64
    }

    #[inline]
    fn alloc(&mut self, size: u32) -> Option<usize> {
        self.heap
            .alloc(layout(size))
            .ok()
            .map(|p| p.as_ptr() as usize)
    }

    #[inline]
    fn free(&mut self, handle: usize, size: u32) -> bool {
        let ptr = NonNull::new(handle as *mut u8).expect("a handle is never null");
        // Safety: `handle` was returned by `alloc` with `layout(size)` on this heap and the
        // replay frees it exactly once.
        unsafe { self.heap.dealloc(ptr, layout(size)) };
        true
    }
}

/// buddy_system_allocator 0.13's `FrameAllocator`: page numbers in per-order sets.
pub struct Frames {
    frames: buddy_system_allocator::FrameAllocator<16>,
    pages: u32,
}

impl Frames {
    pub fn new(pages: u32) -> Frames {
        let mut frames = buddy_system_allocator::FrameAllocator::new();
        frames.add_frame(0, pages as usize);
        Frames { frames, pages }
    }
}

impl Subject for Frames {
    fn capacity(&self) -> u64 {
        self.pages as u64
    }

    #[inline]
    fn alloc(&mut self, size: u32) -> Option<usize> {
        self.frames.alloc(size as usize)
    }

    #[inline]
    fn free(&mut self, handle: usize, size: u32) -> bool {
        self.frames.dealloc(handle, size as usize);
        true
    }
}

impl Subject for FixedPool {
    fn capacity(&self) -> u64 {
        self.bytes() as u64
    }

    #[inline]
    fn alloc(&mut self, size: u32) -> Option<usize> {
        if size as usize > self.block_size() {
            return None;
        }
        self.alloc().map(|p| p.as_ptr() as usize)
    }

    #[inline]
    fn free(&mut self, handle: usize, _size: u32) -> bool {
        match NonNull::new(handle as *mut u8) {
            Some(ptr) => self.free(ptr),
            None => false,
        }
    }
}

impl Subject for ClassPools {
    fn capacity(&self) -> u64 {
        self.bytes() as u64
    }

    #[inline]
    fn alloc(&mut self, size: u32) -> Option<usize> {
        self.alloc(size as usize).map(|p| p.as_ptr() as usize)
    }

    #[inline]
    fn free(&mut self, handle: usize, _size: u32) -> bool {
        match NonNull::new(handle as *mut u8) {
            Some(ptr) => self.free(ptr),
            None => false,
        }
    }
}
