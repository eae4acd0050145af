//! `mem_allocator_std`: any engine allocator as the base of an AWTK stack (seed 003 §2).
//!
//! AWTK's `mem_allocator_std` forwards to the C library's `malloc`, `realloc` and `free`
//! when the system has them (`HAS_STD_MALLOC`). Here the "C library" is any engine
//! [`Allocator`]: LiteOS's best fit, TLSF, or AWTK's own [`Simple`](super::Simple). The call
//! site is not passed on: `malloc` has no such parameter.
//!
//! [`Std`] keeps no metadata of its own; everything is the wrapped allocator's. Its events
//! carry the wrapped allocator's name. When the wrapped allocator has no realloc, realloc is
//! done as the C library would: allocate, copy the old payload, free.

use crate::allocator::{Allocator, Block, BlockKind, Ctx, Owner, Stats};
use crate::awtk::{fault, AwtkEvent, CallSite, Grant, MemAllocator};
use crate::error::AllocError;
use crate::name::Name;
use crate::ram::{Addr, Ram, Storage};
use crate::trace::{Event, EventKind, Op, Sink};

/// An engine allocator behind AWTK's interface.
#[derive(Clone, Debug)]
pub struct Std<A> {
    pub inner: A,
}

impl<A: Allocator> Std<A> {
    pub fn new(inner: A) -> Std<A> {
        Std { inner }
    }
}

/// Passes every event on and remembers the block size of the wrapped allocator's last
/// `alloc` or `free` summary, so the stack can report it.
struct Tap<'a> {
    inner: &'a mut dyn Sink,
    source: Name,
    block: Option<u32>,
}

impl Sink for Tap<'_> {
    fn event(&mut self, event: &Event) {
        if event.source == self.source {
            if let EventKind::Alloc { block, .. } | EventKind::Free { block, .. } = event.kind {
                self.block = Some(block);
            }
        }
        self.inner.event(event);
    }
}

impl<A: Allocator> Std<A> {
    /// The payload bytes the wrapped allocator reports for the live block at `addr`.
    fn payload_len<S: Storage>(&self, ram: &Ram<S>, addr: Addr) -> Result<u32, AllocError> {
        let mut len = None;
        self.inner.walk(ram, &mut |span| {
            if span.kind == BlockKind::Payload && span.block == addr {
                len = Some(len.unwrap_or(0u32).saturating_add(span.len));
            }
        })?;
        len.ok_or(AllocError::InvalidPointer { addr })
    }

    /// realloc for an allocator whose real API has none: allocate, copy, free.
    fn realloc_by_copy<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
        size: u32,
    ) -> Result<Addr, AllocError> {
        let name = self.inner.name();
        let old = self
            .payload_len(cx.ram, addr)
            .map_err(|e| fault(cx, name, Op::Realloc { addr, size }, e))?;
        let to = self.inner.alloc(cx, size, Owner::NONE)?;
        cx.ram.copy_within(addr, to, old.min(size))?;
        self.inner.free(cx, addr)?;
        cx.emit(
            name,
            EventKind::Realloc {
                from: addr,
                to,
                size,
            },
        );
        Ok(to)
    }
}

impl<A: Allocator> Allocator for Std<A> {
    fn name(&self) -> Name {
        self.inner.name()
    }

    fn alloc_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        owner: Owner,
    ) -> Result<Addr, AllocError> {
        self.inner.alloc_impl(cx, size, owner)
    }

    fn free_impl<S: Storage>(&mut self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<(), AllocError> {
        self.inner.free_impl(cx, addr)
    }

    fn realloc_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
        size: u32,
        owner: Owner,
    ) -> Result<Addr, AllocError> {
        self.inner.realloc_impl(cx, addr, size, owner)
    }

    fn walk<S: Storage>(
        &self,
        ram: &Ram<S>,
        visit: &mut dyn FnMut(Block),
    ) -> Result<(), AllocError> {
        self.inner.walk(ram, visit)
    }

    fn check<S: Storage>(&self, ram: &Ram<S>) -> Result<(), AllocError> {
        self.inner.check(ram)
    }

    fn stats<S: Storage>(&self, ram: &Ram<S>) -> Result<Stats, AllocError> {
        self.inner.stats(ram)
    }
}

impl<A: Allocator> MemAllocator for Std<A> {
    fn mem_alloc<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        _site: CallSite,
    ) -> Result<Grant, AllocError> {
        let mut tap = Tap {
            inner: &mut *cx.sink,
            source: self.inner.name(),
            block: None,
        };
        let mut inner_cx = Ctx::new(&mut *cx.ram, &mut tap);
        let addr = self.inner.alloc(&mut inner_cx, size, Owner::NONE)?;
        let block = tap.block.unwrap_or(size);
        Ok(Grant { addr, block })
    }

    fn mem_realloc<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
        size: u32,
        _site: CallSite,
    ) -> Result<Addr, AllocError> {
        match self.inner.realloc_impl(cx, addr, size, Owner::NONE) {
            Err(AllocError::Unsupported) => self.realloc_by_copy(cx, addr, size),
            Err(e) => Err(fault(cx, self.inner.name(), Op::Realloc { addr, size }, e)),
            Ok(to) => Ok(to),
        }
    }

    fn mem_free<S: Storage>(&mut self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<u32, AllocError> {
        let mut tap = Tap {
            inner: &mut *cx.sink,
            source: self.inner.name(),
            block: None,
        };
        let mut inner_cx = Ctx::new(&mut *cx.ram, &mut tap);
        self.inner.free(&mut inner_cx, addr)?;
        Ok(tap.block.unwrap_or(0))
    }

    /// What `mem_allocator_std_dump` would say if `malloc` could tell: bytes and blocks in use.
    fn mem_dump<S: Storage>(&mut self, cx: &mut Ctx<'_, S>) -> Result<(), AllocError> {
        let stats = self.inner.stats(cx.ram)?;
        cx.emit(
            self.inner.name(),
            EventKind::Awtk(AwtkEvent::DumpHeap {
                used: stats.used,
                blocks: stats.blocks,
            }),
        );
        Ok(())
    }
}
