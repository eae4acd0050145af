//! The one allocator trait every memory system implements, and what it works with: the
//! context of RAM plus trace sink, owners, block spans for drawing, and statistics.

use core::fmt;

use crate::error::AllocError;
use crate::name::Name;
use crate::ram::{Addr, Ram, Storage};
use crate::trace::{Event, EventKind, Field, Op, Sink};

/// Who a block belongs to: a task id on LiteOS and KAL, an app id in ASM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner(pub u16);

impl Owner {
    /// No owner recorded.
    pub const NONE: Owner = Owner(u16::MAX);
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Owner::NONE {
            f.write_str("-")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// What an operation works on: the simulated RAM and the trace.
pub struct Ctx<'a, S> {
    pub ram: &'a mut Ram<S>,
    pub sink: &'a mut dyn Sink,
}

impl<'a, S: Storage> Ctx<'a, S> {
    pub fn new(ram: &'a mut Ram<S>, sink: &'a mut dyn Sink) -> Ctx<'a, S> {
        Ctx { ram, sink }
    }

    #[inline]
    pub fn emit(&mut self, source: Name, kind: EventKind) {
        self.sink.event(&Event { source, kind });
    }

    /// Reads a metadata word.
    #[inline]
    pub fn word(&self, addr: Addr) -> Result<u32, AllocError> {
        Ok(self.ram.read_u32(addr)?)
    }

    /// Writes a metadata word and records the write as a `meta` event.
    #[inline]
    pub fn set_word(
        &mut self,
        source: Name,
        addr: Addr,
        field: Field,
        value: u32,
    ) -> Result<(), AllocError> {
        self.ram.write_u32(addr, value)?;
        self.emit(source, EventKind::Meta { addr, field, value });
        Ok(())
    }

    /// Fills `len` bytes and records it as a `fill` event.
    pub fn fill(
        &mut self,
        source: Name,
        addr: Addr,
        len: u32,
        byte: u8,
        field: Field,
    ) -> Result<(), AllocError> {
        self.ram.fill(addr, len, byte)?;
        self.emit(
            source,
            EventKind::Fill {
                addr,
                len,
                byte,
                field,
            },
        );
        Ok(())
    }
}

/// What a span of a pool's memory is, for drawing and for statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlockKind {
    /// Allocator metadata: a block header, a pool control block, a bitmap.
    Header,
    /// Bytes handed to a user.
    Payload,
    /// A guard gap or guard word.
    Guard,
    /// Free bytes a request can use.
    Free,
    /// Bytes lost to rounding or alignment inside a block (internal fragmentation).
    Padding,
}

impl BlockKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BlockKind::Header => "header",
            BlockKind::Payload => "payload",
            BlockKind::Guard => "guard",
            BlockKind::Free => "free",
            BlockKind::Padding => "padding",
        }
    }
}

/// One span reported by [`Allocator::walk`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub addr: Addr,
    pub len: u32,
    pub kind: BlockKind,
    /// The block this span belongs to: the address handed out for a live block, the node
    /// address for a free one, the pool base for pool-wide metadata.
    pub block: Addr,
    pub owner: Owner,
}

/// A pool's figures. `capacity == used + free + overhead`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes the pool manages, metadata included.
    pub capacity: u32,
    /// Payload bytes of live blocks.
    pub used: u32,
    /// Bytes a request could still use.
    pub free: u32,
    /// Headers, guards, padding and control data.
    pub overhead: u32,
    /// The largest single free span.
    pub largest_free: u32,
    /// Live blocks.
    pub blocks: u32,
    /// Free spans.
    pub free_blocks: u32,
    /// External fragmentation: `1000 * (free - largest_free) / free`, 0 when nothing is free.
    pub fragmentation_permille: u32,
}

impl Stats {
    /// Sums the spans an allocator's walk reports. Allocators whose figures need more
    /// than the spans (a class table, say) override [`Allocator::stats`].
    pub fn from_walk<A: Allocator + ?Sized, S: Storage>(
        allocator: &A,
        ram: &Ram<S>,
    ) -> Result<Stats, AllocError> {
        let mut stats = Stats::default();
        let mut last_payload_block = None;
        allocator.walk(ram, &mut |span| {
            stats.capacity = stats.capacity.saturating_add(span.len);
            match span.kind {
                BlockKind::Payload => {
                    stats.used += span.len;
                    if last_payload_block != Some(span.block) {
                        stats.blocks += 1;
                        last_payload_block = Some(span.block);
                    }
                }
                BlockKind::Free => {
                    stats.free += span.len;
                    stats.free_blocks += 1;
                    stats.largest_free = stats.largest_free.max(span.len);
                }
                BlockKind::Header | BlockKind::Guard | BlockKind::Padding => {
                    stats.overhead += span.len
                }
            }
        })?;
        stats.fragmentation_permille = fragmentation_permille(stats.free, stats.largest_free);
        Ok(stats)
    }
}

/// External fragmentation in per-mille: how much of the free memory is outside the
/// largest free span.
pub fn fragmentation_permille(free: u32, largest_free: u32) -> u32 {
    if free == 0 {
        0
    } else {
        ((free as u64 - largest_free.min(free) as u64) * 1000 / free as u64) as u32
    }
}

/// A memory system over the simulated RAM.
///
/// Implementors write the `*_impl` methods; callers use [`alloc`](Allocator::alloc),
/// [`free`](Allocator::free) and [`realloc`](Allocator::realloc), which add the `fault`
/// event for every error so that no failure goes unseen in the trace.
///
/// Every method must return a typed error for any input (size, address, corrupted
/// metadata in RAM) and never panic.
pub trait Allocator {
    /// The name its events carry.
    fn name(&self) -> Name;

    /// Hands out `size` bytes for `owner`; emits detail events, then `alloc`.
    fn alloc_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        owner: Owner,
    ) -> Result<Addr, AllocError>;

    /// Takes back the block handed out at `addr`; emits detail events, then `free`.
    fn free_impl<S: Storage>(&mut self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<(), AllocError>;

    /// Resizes the block at `addr`, moving it if it must; emits detail events, then
    /// `realloc`. Only allocators whose real API has realloc implement it.
    fn realloc_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
        size: u32,
        owner: Owner,
    ) -> Result<Addr, AllocError> {
        let _ = (cx, addr, size, owner);
        Err(AllocError::Unsupported)
    }

    /// Reports every span of the pool, in address order within each area, covering the
    /// pool exactly once. Fails with a typed error when the metadata is unreadable.
    fn walk<S: Storage>(
        &self,
        ram: &Ram<S>,
        visit: &mut dyn FnMut(Block),
    ) -> Result<(), AllocError>;

    /// A full invariant check of the metadata in RAM.
    fn check<S: Storage>(&self, ram: &Ram<S>) -> Result<(), AllocError>;

    /// The pool's figures.
    fn stats<S: Storage>(&self, ram: &Ram<S>) -> Result<Stats, AllocError> {
        Stats::from_walk(self, ram)
    }

    fn alloc<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        owner: Owner,
    ) -> Result<Addr, AllocError> {
        let result = self.alloc_impl(cx, size, owner);
        if let Err(error) = result {
            let op = Op::Alloc { size };
            cx.emit(self.name(), EventKind::Fault { op, error });
        }
        result
    }

    fn free<S: Storage>(&mut self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<(), AllocError> {
        let result = self.free_impl(cx, addr);
        if let Err(error) = result {
            let op = Op::Free { addr };
            cx.emit(self.name(), EventKind::Fault { op, error });
        }
        result
    }

    fn realloc<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
        size: u32,
        owner: Owner,
    ) -> Result<Addr, AllocError> {
        let result = self.realloc_impl(cx, addr, size, owner);
        if let Err(error) = result {
            let op = Op::Realloc { addr, size };
            cx.emit(self.name(), EventKind::Fault { op, error });
        }
        result
    }
}
