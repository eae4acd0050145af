//! The firmware's real heap: the engine's TLSF — LiteOS-M's allocator, the one the lessons
//! teach — serving `alloc::vec::Vec`, `Box` and every other `alloc` type.
//!
//! # How it maps
//!
//! The heap owns a static [`Arena`]. It makes a one-region simulated RAM whose *storage is
//! the arena itself* and whose base address is, on the board, the arena's real address:
//! simulated address `a` is real address `a`. The TLSF control block, the block headers and
//! the free-list links are real bytes in the arena, and the addresses the TLSF hands out
//! are real pointers. (For host tests the base can be any simulated address; pointers are
//! then `arena + (addr - base)`. The arithmetic is the same.)
//!
//! The pool is configured for 8-byte alignment (`TlsfConfig::align = 8`), so every block
//! payload is 8-aligned, enough for every type of the Cortex-M4 (`u64`, `f64`: 8).
//!
//! # Soundness
//!
//! - **Exclusion.** All engine calls happen inside `critical_section::with` (interrupts off
//!   on the single-core Cortex-M) and behind a `RefCell`: an interrupt cannot enter the
//!   allocator while it runs, and a re-entrant call (there is none: the engine never
//!   allocates) would get null, not a second `&mut`.
//! - **Alignment.** A layout whose alignment is at most [`ALIGN`] is served directly. A
//!   larger one (up to any power of two) over-allocates `size + align` bytes, returns the
//!   first `align`-aligned address at least 8 bytes into the block, and keeps the distance
//!   back to the block in the 4 bytes just before the returned pointer; `dealloc` and
//!   `realloc` read it back. It never returns a pointer that is not aligned as asked.
//! - **Sizes.** A size that does not fit the engine's 32-bit sizes, or that overflows when
//!   padded for alignment, gets null. Zero sizes get null (GlobalAlloc callers never ask).
//! - **Bounds.** Every address the engine returns is checked to lie, with its full size,
//!   inside the arena before it becomes a pointer; a failure (an engine bug) gives null.
//!   Pointers are derived from the arena's pointer (`add`), never forged from integers.
//! - **Failure.** On failure `alloc`/`realloc` return null and leave the old block as it
//!   was (the TLSF's realloc changes nothing when it fails); `dealloc` of something the
//!   TLSF rejects (double free, foreign pointer) is counted, never acted on.
//! - **Aliasing (the one caveat).** The engine reaches RAM through `Storage::bytes{,_mut}`,
//!   which return a slice over the *whole* arena; this heap creates that slice afresh,
//!   from the raw arena pointer, inside each call. While a call runs no user code runs, and
//!   the engine only reads and writes headers, links and free bytes (and, in `realloc`,
//!   the block being resized, which the caller hands over). But the transient slice also
//!   *covers* live blocks that user code may hold references into, and under Rust's
//!   operational aliasing models creating a reference over bytes another live `&mut`
//!   owns invalidates that `&mut`: Miri (Stacked and Tree Borrows) reports the test
//!   `a_live_reference_into_one_block_survives_other_calls` as undefined behaviour. The
//!   compiler cannot exploit it here (every call is behind an opaque critical section),
//!   and native tests and the QEMU run pass, but it is not model-sound.
//!   `board/proposals/storage-range.patch` fixes it: `Storage` gains `range`/`range_mut`
//!   (defaulting to slices of `bytes`), `Ram` uses them, and this storage overrides them
//!   to cover only the bytes an access touches; with it every heap test passes under Miri
//!   with both models and every engine test still passes. It changes `ram.rs`, a shared
//!   contract, so it is the lead's call.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::RefCell;
use core::ptr::{self, NonNull};

use critical_section::Mutex;
use memplay_engine::allocator::{Allocator, Ctx, Owner, Stats};
use memplay_engine::error::AllocError;
use memplay_engine::name::Name;
use memplay_engine::ram::{Addr, Ram, RegionKind, Storage};
use memplay_engine::tlsf::{Tlsf, TlsfConfig};
use memplay_engine::trace::{Event, Sink};

use crate::arena::Arena;

/// The alignment every block has; larger alignments are served by over-allocating.
pub const ALIGN: usize = 8;

/// The pool's name in its events.
pub const NAME: Name = Name::lit("heap");

/// The owner recorded in every block header: the firmware's one task.
pub const OWNER: Owner = Owner(0);

/// The heap's TLSF configuration: 16 second-level classes, 8-byte alignment, and
/// LiteOS-M's search of the request's own class before giving up (better memory use than
/// the paper's good fit; the search is bounded by the pool's block count).
pub const CONFIG: TlsfConfig = TlsfConfig {
    sl_log2: 4,
    align: ALIGN as u32,
    search_own_class: true,
};

/// How many of the latest events the heap keeps for [`TlsfHeap::tape`].
pub const TAPE_LEN: usize = 24;

/// The latest events of the heap's TLSF, for a demo to print after the fact (printing
/// from inside the allocator would run the console with interrupts off).
#[derive(Clone, Copy, Debug)]
pub struct Tape {
    events: [Option<Event>; TAPE_LEN],
    /// Events emitted since the heap was created; event `i` is kept at `i % TAPE_LEN`
    /// iff `i + TAPE_LEN >= total`.
    total: u32,
}

impl Tape {
    const fn new() -> Tape {
        Tape {
            events: [None; TAPE_LEN],
            total: 0,
        }
    }

    /// Events emitted so far; pass it to [`since`](Tape::since) later.
    pub fn mark(&self) -> u32 {
        self.total
    }

    /// The events emitted since `mark`, oldest first, and how many were dropped because
    /// the tape is short.
    pub fn since(&self, mark: u32) -> (impl Iterator<Item = &Event> + '_, u32) {
        let first_kept = self.total.saturating_sub(TAPE_LEN as u32);
        let from = mark.max(first_kept);
        let dropped = from.saturating_sub(mark);
        let events =
            (from..self.total).filter_map(move |i| self.events[i as usize % TAPE_LEN].as_ref());
        (events, dropped)
    }
}

impl Sink for Tape {
    fn event(&mut self, event: &Event) {
        self.events[self.total as usize % TAPE_LEN] = Some(*event);
        self.total = self.total.wrapping_add(1);
    }
}

/// The arena's bytes: where they start and how many.
#[derive(Clone, Copy)]
struct ArenaPtr {
    ptr: NonNull<u8>,
    len: usize,
}

// Safety: an `ArenaPtr` is only created by `State::new` from an arena taken once, and only
// used inside the heap's critical section, so moving it between contexts never gives two
// of them access at the same time.
unsafe impl Send for ArenaPtr {}

/// The arena seen as engine storage: a slice over all of it, made afresh at each access.
struct RawStorage(ArenaPtr);

impl Storage for RawStorage {
    fn bytes(&self) -> &[u8] {
        // Safety: `ptr` is valid for reads of `len` initialised bytes for 'static (the
        // arena, taken once). The slice lives only as long as `&self`, inside a heap call
        // in the critical section; see the module's "Aliasing" note for what it overlaps.
        unsafe { core::slice::from_raw_parts(self.0.ptr.as_ptr(), self.0.len) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // Safety: as in `bytes`, and `&mut self` (the heap's one `State`, borrowed mutably
        // under the lock) guarantees no other slice from this storage is alive.
        unsafe { core::slice::from_raw_parts_mut(self.0.ptr.as_ptr(), self.0.len) }
    }

    // With these, each engine access makes a slice over the bytes it touches only, never
    // over a live block's payload: Miri (Stacked and Tree Borrows) then accepts the heap.

    fn byte_len(&self) -> usize {
        self.0.len
    }

    fn range(&self, at: usize, len: usize) -> &[u8] {
        if at > self.0.len || len > self.0.len - at {
            return &[];
        }
        // Safety: `[at, at + len)` lies in the arena (checked above), which is valid for
        // reads for 'static; the slice lives only for this access, under the heap's lock.
        unsafe { core::slice::from_raw_parts(self.0.ptr.as_ptr().add(at), len) }
    }

    fn range_mut(&mut self, at: usize, len: usize) -> &mut [u8] {
        if at > self.0.len || len > self.0.len - at {
            return &mut [];
        }
        // Safety: as in `range`; `&mut self` (the heap's one state, under the lock) means
        // no other slice from this storage is alive.
        unsafe { core::slice::from_raw_parts_mut(self.0.ptr.as_ptr().add(at), len) }
    }
}

/// Everything the heap keeps outside its arena: the simulated RAM's region table, the
/// TLSF's configuration and roots, and the tape. No metadata: that is in the arena.
struct State {
    ram: Ram<RawStorage>,
    tlsf: Tlsf,
    tape: Tape,
    /// The simulated address of the arena's first byte.
    base: Addr,
    /// The arena's bytes (the same the storage covers).
    arena: ArenaPtr,
    /// Frees and reallocs the TLSF refused (double or foreign frees).
    refused: u32,
}

impl State {
    /// Takes the arena and formats a TLSF pool over all of it. `None` when the arena was
    /// already taken or does not fit a 32-bit address space at `base`.
    fn new<const N: usize>(arena: &'static Arena<N>, sim_base: Option<Addr>) -> Option<State> {
        let ptr = arena.take_raw()?;
        let len = u32::try_from(N).ok()?;
        let base = match sim_base {
            Some(base) => base,
            // 1:1: the simulated address is the real one (32-bit on the board).
            None => Addr::try_from(ptr.as_ptr() as usize).ok()?,
        };
        base.checked_add(len)?;
        let arena = ArenaPtr { ptr, len: N };
        let mut ram = Ram::new(RawStorage(arena));
        ram.add_region(NAME, RegionKind::Internal, base, len).ok()?;
        let mut tape = Tape::new();
        let tlsf = Tlsf::new(&mut Ctx::new(&mut ram, &mut tape), NAME, base, len, CONFIG).ok()?;
        Some(State {
            ram,
            tlsf,
            tape,
            base,
            arena,
            refused: 0,
        })
    }

    /// The pointer for the `len` bytes at simulated `addr`, if they lie in the arena and
    /// `addr` is [`ALIGN`]-aligned.
    fn ptr_of(&self, addr: Addr, len: usize) -> Option<NonNull<u8>> {
        let offset = usize::try_from(addr.checked_sub(self.base)?).ok()?;
        if offset.checked_add(len)? > self.arena.len {
            return None;
        }
        // Safety: `offset + len <= self.len`, so the result is inside (or one past) the
        // arena `self.arena.ptr` points to, and `ptr` is not null so neither is the result.
        let p = unsafe { self.arena.ptr.add(offset) };
        (p.as_ptr() as usize).is_multiple_of(ALIGN).then_some(p)
    }

    /// The simulated address of `p`, if `p` points into the arena.
    fn addr_of(&self, p: *mut u8) -> Option<Addr> {
        let offset = (p as usize).wrapping_sub(self.arena.ptr.as_ptr() as usize);
        if offset >= self.arena.len {
            return None;
        }
        self.base.checked_add(u32::try_from(offset).ok()?)
    }

    fn alloc(&mut self, size: u32) -> Option<NonNull<u8>> {
        let mut cx = Ctx::new(&mut self.ram, &mut self.tape);
        let addr = self.tlsf.alloc(&mut cx, size, OWNER).ok()?;
        self.ptr_of(addr, size as usize)
    }

    fn free(&mut self, p: *mut u8) {
        let Some(addr) = self.addr_of(p) else {
            self.refused = self.refused.saturating_add(1);
            return;
        };
        let mut cx = Ctx::new(&mut self.ram, &mut self.tape);
        if self.tlsf.free(&mut cx, addr).is_err() {
            self.refused = self.refused.saturating_add(1);
        }
    }

    fn realloc(&mut self, p: *mut u8, size: u32) -> Option<NonNull<u8>> {
        let Some(addr) = self.addr_of(p) else {
            self.refused = self.refused.saturating_add(1);
            return None;
        };
        let mut cx = Ctx::new(&mut self.ram, &mut self.tape);
        let to = self.tlsf.realloc(&mut cx, addr, size, OWNER).ok()?;
        self.ptr_of(to, size as usize)
    }
}

/// Bytes of the heap's state outside its arena (the `Option<State>` in the lock).
pub const STATE_SIZE: usize = core::mem::size_of::<Option<State>>();

/// Why the heap cannot answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeapError {
    /// The arena was taken by someone else, or does not fit 32-bit addresses.
    Unavailable,
    /// The heap is in use (asked from inside the allocator).
    Busy,
    /// The TLSF reported an error (from `check` or `stats`).
    Engine(AllocError),
}

/// A `#[global_allocator]` over the engine's TLSF in the arena `N` bytes long.
///
/// ```ignore
/// static HEAP_ARENA: Arena<{ 32 * 1024 }> = Arena::new();
/// #[global_allocator]
/// static HEAP: TlsfHeap<{ 32 * 1024 }> = TlsfHeap::new(&HEAP_ARENA);
/// ```
pub struct TlsfHeap<const N: usize> {
    arena: &'static Arena<N>,
    /// `None`: the arena's real address (the board); `Some(base)`: a simulated base.
    sim_base: Option<Addr>,
    /// `None` until the first call formats the pool.
    state: Mutex<RefCell<Option<State>>>,
}

impl<const N: usize> TlsfHeap<N> {
    /// A heap over `arena`, mapped 1:1 (simulated addresses are real addresses). The pool
    /// is formatted at the first call.
    pub const fn new(arena: &'static Arena<N>) -> TlsfHeap<N> {
        TlsfHeap {
            arena,
            sim_base: None,
            state: Mutex::new(RefCell::new(None)),
        }
    }

    /// A heap whose simulated addresses start at `base` (for host tests, where real
    /// addresses do not fit 32 bits).
    pub const fn at(arena: &'static Arena<N>, base: Addr) -> TlsfHeap<N> {
        TlsfHeap {
            arena,
            sim_base: Some(base),
            state: Mutex::new(RefCell::new(None)),
        }
    }

    /// Runs `f` on the state, under the lock, formatting the pool first if needed.
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> Result<R, HeapError> {
        critical_section::with(|cs| {
            let mut slot = self
                .state
                .borrow(cs)
                .try_borrow_mut()
                .map_err(|_| HeapError::Busy)?;
            if slot.is_none() {
                *slot = State::new(self.arena, self.sim_base);
            }
            let state = slot.as_mut().ok_or(HeapError::Unavailable)?;
            Ok(f(state))
        })
    }

    /// The full invariant check of the TLSF's metadata in the arena.
    pub fn check(&self) -> Result<(), HeapError> {
        self.with(|s| s.tlsf.check(&s.ram))?
            .map_err(HeapError::Engine)
    }

    /// The pool's figures (capacity, used, free, overhead, live blocks...).
    pub fn stats(&self) -> Result<Stats, HeapError> {
        self.with(|s| s.tlsf.stats(&s.ram))?
            .map_err(HeapError::Engine)
    }

    /// A copy of the latest events.
    pub fn tape(&self) -> Result<Tape, HeapError> {
        self.with(|s| s.tape)
    }

    /// How many frees or reallocs the TLSF refused (double or foreign frees).
    pub fn refused(&self) -> Result<u32, HeapError> {
        self.with(|s| s.refused)
    }

    /// The simulated address of the arena's first byte (its real address on the board).
    pub fn base(&self) -> Result<Addr, HeapError> {
        self.with(|s| s.base)
    }

    /// The simulated address of `p`, for printing.
    pub fn addr_of(&self, p: *const u8) -> Option<Addr> {
        self.with(|s| s.addr_of(p.cast_mut())).ok().flatten()
    }

    fn allocate(&self, layout: Layout) -> Option<NonNull<u8>> {
        let align = layout.align();
        if align <= ALIGN {
            let size = u32::try_from(layout.size()).ok()?;
            return self.with(|s| s.alloc(size)).ok().flatten();
        }
        // Over-aligned: room for the size plus a full `align` of slack.
        let size = u32::try_from(layout.size().checked_add(align)?).ok()?;
        let block = self.with(|s| s.alloc(size)).ok().flatten()?;
        // `block` is ALIGN-aligned and `align` is a larger power of two, so the distance to
        // the next `align` boundary strictly after `block` is in [ALIGN, align].
        let offset = align - (block.as_ptr() as usize % align);
        // Safety: `offset <= align` and the block has `layout.size() + align` bytes, so
        // `block + offset` and the `layout.size()` bytes after it are inside the block.
        let aligned = unsafe { block.add(offset) };
        // Safety: `offset >= ALIGN >= 4`, so the 4 bytes before `aligned` are inside the
        // block too, which this call now owns; the write is unaligned-safe.
        unsafe {
            aligned
                .as_ptr()
                .sub(4)
                .cast::<u32>()
                .write_unaligned(offset as u32)
        };
        Some(aligned)
    }

    /// The block start of a pointer `allocate` returned for `layout`.
    ///
    /// # Safety
    /// `p` must have come from `allocate` (or `realloc`) with a layout of `layout.align()`.
    unsafe fn block_of(p: *mut u8, layout: Layout) -> Option<*mut u8> {
        if layout.align() <= ALIGN {
            return Some(p);
        }
        // Safety: for over-aligned layouts `allocate` wrote the offset in the 4 bytes before
        // `p`, inside the same block, which the caller still owns.
        let offset = unsafe { p.sub(4).cast::<u32>().read_unaligned() } as usize;
        if offset < ALIGN || offset > layout.align() {
            return None; // Overwritten by the user: leak rather than free a wrong block.
        }
        // Safety: `allocate` put `p` exactly `offset` bytes after the block's start.
        Some(unsafe { p.sub(offset) })
    }
}

// Safety: `alloc` returns null or a pointer to `layout.size()` bytes aligned to
// `layout.align()`, inside the arena, in a TLSF block no other live allocation overlaps
// (the TLSF hands out disjoint blocks: its `check()` and the engine's property tests
// verify it). The block stays allocated until `dealloc` or `realloc` gets it back. All
// state changes happen under the lock (see the module's "Soundness" section).
unsafe impl<const N: usize> GlobalAlloc for TlsfHeap<N> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.allocate(layout)
            .map_or(ptr::null_mut(), NonNull::as_ptr)
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        // Safety: the caller passes a pointer this heap returned for `layout`.
        if let Some(block) = unsafe { Self::block_of(p, layout) } {
            let _ = self.with(|s| s.free(block));
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= ALIGN {
            let Ok(size) = u32::try_from(new_size) else {
                return ptr::null_mut();
            };
            return self
                .with(|s| s.realloc(p, size))
                .ok()
                .flatten()
                .map_or(ptr::null_mut(), NonNull::as_ptr);
        }
        // Over-aligned: a new block, a copy, then the old block back (GlobalAlloc's
        // default, written out).
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return ptr::null_mut();
        };
        let Some(to) = self.allocate(new_layout) else {
            return ptr::null_mut();
        };
        // Safety: `p` holds `layout.size()` bytes the caller hands over, `to` holds
        // `new_size` fresh bytes; distinct live blocks never overlap.
        unsafe { ptr::copy_nonoverlapping(p, to.as_ptr(), layout.size().min(new_size)) };
        // Safety: `p` came from this heap with `layout`, and is not used after.
        unsafe { self.dealloc(p, layout) };
        to.as_ptr()
    }
}

#[cfg(test)]
mod tests {
    extern crate alloc;
    use super::*;
    use alloc::boxed::Box;
    use alloc::vec::Vec;

    const N: usize = 16 * 1024;
    const BASE: Addr = 0x2000_0000;

    fn heap() -> TlsfHeap<N> {
        let arena: &'static Arena<N> = Box::leak(Box::new(Arena::new()));
        TlsfHeap::at(arena, BASE)
    }

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn blocks_are_aligned_disjoint_writable_and_come_back() {
        let h = heap();
        let mut live: Vec<(*mut u8, Layout)> = Vec::new();
        for (i, (size, align)) in [
            (1, 1),
            (24, 8),
            (100, 4),
            (7, 64),
            (300, 16),
            (33, 256),
            (8, 8),
        ]
        .into_iter()
        .enumerate()
        {
            let l = layout(size, align);
            // Safety: (test) a non-zero size.
            let p = unsafe { h.alloc(l) };
            assert!(!p.is_null(), "{size}/{align}");
            assert_eq!(p as usize % align, 0, "{size}/{align} at {p:?}");
            // Safety: (test) `p` holds `size` bytes we own.
            unsafe { p.write_bytes(i as u8 + 1, size) };
            live.push((p, l));
        }
        for (i, &(p, l)) in live.iter().enumerate() {
            // Safety: (test) still live and ours.
            let bytes = unsafe { core::slice::from_raw_parts(p, l.size()) };
            assert!(
                bytes.iter().all(|&b| b == i as u8 + 1),
                "block {i} was overwritten"
            );
        }
        h.check().unwrap();
        assert_eq!(h.stats().unwrap().blocks, live.len() as u32);
        for (p, l) in live {
            // Safety: (test) each block once, with its layout.
            unsafe { h.dealloc(p, l) };
        }
        h.check().unwrap();
        let stats = h.stats().unwrap();
        assert_eq!((stats.blocks, stats.free_blocks), (0, 1));
        assert_eq!(h.refused().unwrap(), 0);
    }

    #[test]
    fn realloc_keeps_the_contents_for_both_kinds_of_alignment() {
        let h = heap();
        for align in [4, 8, 32] {
            let l = layout(40, align);
            // Safety: (test) a non-zero size; then the block is ours until dealloc.
            unsafe {
                let p = h.alloc(l);
                for i in 0..40 {
                    p.add(i).write(i as u8);
                }
                let q = h.realloc(p, l, 2000);
                assert!(!q.is_null());
                assert_eq!(q as usize % align, 0);
                assert!((0..40).all(|i| q.add(i).read() == i as u8));
                let r = h.realloc(q, layout(2000, align), 12);
                assert!((0..12).all(|i| r.add(i).read() == i as u8));
                h.dealloc(r, layout(12, align));
            }
            h.check().unwrap();
        }
        assert_eq!(h.stats().unwrap().blocks, 0);
    }

    #[test]
    fn impossible_requests_get_null_and_change_nothing() {
        let h = heap();
        // Safety: (test) null results are never dereferenced.
        unsafe {
            assert!(h.alloc(layout(N, 8)).is_null()); // bigger than the pool
            assert!(h.alloc(layout(usize::MAX / 4, 8)).is_null()); // beyond 32 bits
            assert!(h.alloc(layout(isize::MAX as usize - 255, 128)).is_null()); // the biggest
            assert!(h.alloc(layout(u32::MAX as usize - 64, 128)).is_null()); // padded: > 32 bits
            assert!(h.alloc(layout(16, 1 << 20)).is_null()); // alignment bigger than the pool
            let p = h.alloc(layout(64, 8));
            assert!(h.realloc(p, layout(64, 8), N).is_null()); // the old block is kept
            assert_eq!(p.read(), 0);
            h.dealloc(p, layout(64, 8));
            h.dealloc(p, layout(64, 8)); // a double free is refused, not acted on
            let mut local = 0u8;
            h.dealloc(&mut local, layout(1, 1)); // so is a foreign pointer
        }
        assert_eq!(h.refused().unwrap(), 2);
        h.check().unwrap();
    }

    #[test]
    fn the_heap_fills_up_and_empties_again() {
        let h = heap();
        let l = layout(200, 8);
        let mut live = Vec::new();
        loop {
            // Safety: (test) a non-zero size.
            let p = unsafe { h.alloc(l) };
            if p.is_null() {
                break;
            }
            live.push(p);
        }
        assert!(
            live.len() > 50,
            "{} blocks of 200 bytes in 16 KiB",
            live.len()
        );
        h.check().unwrap();
        for p in live.into_iter().rev() {
            // Safety: (test) each block once.
            unsafe { h.dealloc(p, l) };
        }
        assert_eq!(h.stats().unwrap().free_blocks, 1);
    }

    #[test]
    fn the_tape_keeps_the_latest_events() {
        let h = heap();
        let mark = h.tape().unwrap().mark();
        assert!(mark > 0, "formatting the pool emits events");
        // Safety: (test) a non-zero size, freed once.
        let p = unsafe { h.alloc(layout(10, 8)) };
        let tape = h.tape().unwrap();
        let (events, dropped) = tape.since(mark);
        let last = events.last().unwrap();
        assert_eq!(dropped, 0);
        assert_eq!(last.kind.word(), "alloc");
        assert_eq!(
            Some(match last.kind {
                memplay_engine::EventKind::Alloc { addr, .. } => addr,
                _ => 0,
            }),
            h.addr_of(p)
        );
        // Safety: (test) freed once.
        unsafe { h.dealloc(p, layout(10, 8)) };
    }

    /// What Vec and Box do all the time: keep a `&mut` into one block while the heap
    /// serves and takes back others, then use it. (Under Miri this checks the aliasing
    /// question of the module's "Soundness" note.)
    #[test]
    fn a_live_reference_into_one_block_survives_other_calls() {
        let h = heap();
        let l = layout(32, 8);
        // Safety: (test) non-zero sizes; each block is used only while live, freed once.
        unsafe {
            let a = h.alloc(l);
            let held: &mut [u8] = core::slice::from_raw_parts_mut(a, 32);
            held.fill(0xa5);
            let b = h.alloc(l);
            b.write_bytes(0x5a, 32);
            h.dealloc(b, l);
            held[31] = 0x11;
            assert!(held[..31].iter().all(|&x| x == 0xa5));
            h.dealloc(a, l);
        }
        h.check().unwrap();
    }

    #[test]
    fn a_second_heap_on_a_taken_arena_is_unavailable() {
        let arena: &'static Arena<N> = Box::leak(Box::new(Arena::new()));
        let a = TlsfHeap::at(arena, BASE);
        let b = TlsfHeap::at(arena, BASE);
        a.check().unwrap();
        assert_eq!(b.check(), Err(HeapError::Unavailable));
        // Safety: (test) null is never dereferenced.
        assert!(unsafe { b.alloc(layout(8, 8)) }.is_null());
    }
}
