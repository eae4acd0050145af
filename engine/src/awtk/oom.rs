//! `mem_allocator_oom`: on failure, ask the application to release memory and try again
//! (seed 003 §6; AWTK `src/tkc/mem_allocator_oom.h`).
//!
//! # The real mechanism
//!
//! ```c
//! do {
//!   if (size == 0xffffffff) addr = NULL;          /* a safe way to test this path */
//!   else addr = mem_allocator_alloc(impl, size, func, line);
//!   if (addr != NULL) break;
//!   tk_mem_on_out_of_memory(++tried_times, size, func, line);
//! } while (tried_times < TRY_MAX_TIMES);          /* 5 */
//! ```
//!
//! `tk_mem_on_out_of_memory` calls the callback registered with
//! `tk_mem_set_on_out_of_memory`, which typically drops caches (fonts, images, UI assets)
//! with `tk_free`, "to give the application the chance to exit gracefully". realloc loops the
//! same way (without the `0xffffffff` test). Note the count: five tries, each followed by a
//! callback, so the fifth callback runs for nothing.
//!
//! # In the simulator
//!
//! The callback is an [`OnOutOfMemory`] the caller passes to each call; it gets a
//! [`Reenter`] handle whose `free` goes through the *whole* stack from the top, as `tk_free`
//! does (so an outer `lock` sees the re-entry). It may return an error (such as the lock's
//! re-entry refusal), which ends the request at once. Only `OutOfMemory` and `TooLarge`
//! failures are retried; a bad pointer or corrupted metadata is reported as it is.
//!
//! # RAM layout of the decorator object (24 bytes, in the stack's statics)
//!
//! | offset | field      | meaning                                              |
//! |--------|------------|------------------------------------------------------|
//! | +0     | `vt`       | [`VT`] (`"OOM!"`)                                    |
//! | +4     | `impl`     | the wrapped allocator's object                       |
//! | +8     | `calls`    | times the release callback was called                |
//! | +12    | `retries`  | tries after a release                                |
//! | +16    | `rescued`  | requests that succeeded on a retry                   |
//! | +20    | `given_up` | requests that failed all five tries                  |
//!
//! Invariants: `retries <= calls`, `rescued <= retries`, `given_up <= calls`.

use crate::allocator::Ctx;
use crate::awtk::stack::Slot;
use crate::error::AllocError;
use crate::ram::{Addr, Ram, Storage};
use crate::trace::Field;

/// The object's first word: `"OOM!"` in the hex view.
pub const VT: u32 = u32::from_le_bytes(*b"OOM!");
pub const OFF_CALLS: u32 = 8;
pub const OFF_RETRIES: u32 = 12;
pub const OFF_RESCUED: u32 = 16;
pub const OFF_GIVEN_UP: u32 = 20;
/// The decorator object's size.
pub const OBJECT_SIZE: u32 = 24;

/// `TRY_MAX_TIMES`: how many times a request is tried.
pub const TRY_MAX_TIMES: u32 = 5;

const RULE_COUNTS: &str =
    "oom counters: retries <= calls, rescued <= retries and given_up <= calls";

/// A way back into the allocator for the release callback: `tk_free` from inside the
/// failing call, through the whole stack.
pub trait Reenter {
    /// Frees the block at `addr` through the top of the stack.
    fn free(&mut self, addr: Addr) -> Result<(), AllocError>;
}

/// `tk_mem_on_out_of_memory_t`: called after try number `tried_times` for `need_size` bytes
/// failed. It releases what it can through `mem`; an error ends the request.
pub trait OnOutOfMemory {
    fn on_out_of_memory(
        &mut self,
        mem: &mut dyn Reenter,
        tried_times: u32,
        need_size: u32,
    ) -> Result<(), AllocError>;
}

/// Any closure of the same shape is a callback.
impl<F> OnOutOfMemory for F
where
    F: FnMut(&mut dyn Reenter, u32, u32) -> Result<(), AllocError>,
{
    fn on_out_of_memory(
        &mut self,
        mem: &mut dyn Reenter,
        tried_times: u32,
        need_size: u32,
    ) -> Result<(), AllocError> {
        self(mem, tried_times, need_size)
    }
}

/// No callback registered: nothing is released (AWTK returns `RET_NOT_IMPL`).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoRelease;

impl OnOutOfMemory for NoRelease {
    fn on_out_of_memory(
        &mut self,
        _mem: &mut dyn Reenter,
        _tried_times: u32,
        _need_size: u32,
    ) -> Result<(), AllocError> {
        Ok(())
    }
}

/// A deterministic release callback: an application cache of up to `N` blocks (fonts,
/// images) from which each call frees the `per_call` oldest, as `font_manager_unload_all`
/// and friends would.
///
/// The cache is the application's own bookkeeping, not allocator metadata, so it lives here.
#[derive(Clone, Copy, Debug)]
pub struct ReleaseOldest<const N: usize> {
    blocks: [Addr; N],
    len: usize,
    per_call: u32,
}

impl<const N: usize> ReleaseOldest<N> {
    /// An empty cache that frees `per_call` blocks per callback.
    pub fn new(per_call: u32) -> Self {
        ReleaseOldest {
            blocks: [0; N],
            len: 0,
            per_call,
        }
    }

    /// Puts a block in the cache, newest last; false when the cache is full.
    pub fn push(&mut self, addr: Addr) -> bool {
        match self.blocks.get_mut(self.len) {
            Some(slot) => {
                *slot = addr;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// Takes a block out of the cache (the application freed it itself); false if absent.
    pub fn remove(&mut self, addr: Addr) -> bool {
        let Some(i) = self.cached().iter().position(|&a| a == addr) else {
            return false;
        };
        self.blocks.copy_within(i + 1..self.len, i);
        self.len -= 1;
        true
    }

    /// The cached blocks, oldest first.
    pub fn cached(&self) -> &[Addr] {
        self.blocks.get(..self.len).unwrap_or(&[])
    }
}

impl<const N: usize> OnOutOfMemory for ReleaseOldest<N> {
    fn on_out_of_memory(
        &mut self,
        mem: &mut dyn Reenter,
        _tried_times: u32,
        _need_size: u32,
    ) -> Result<(), AllocError> {
        for _ in 0..self.per_call {
            let Some(&oldest) = self.cached().first() else {
                break;
            };
            mem.free(oldest)?;
            self.remove(oldest);
        }
        Ok(())
    }
}

/// The oom decorator's counters for the UI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OomFigures {
    /// Times the release callback was called.
    pub calls: u32,
    /// Tries after a release.
    pub retries: u32,
    /// Requests that succeeded on a retry.
    pub rescued: u32,
    /// Requests that failed all five tries.
    pub given_up: u32,
}

/// Whether a failure is worth a release and another try.
pub(crate) fn retryable(e: &AllocError) -> bool {
    matches!(
        e,
        AllocError::OutOfMemory { .. } | AllocError::TooLarge { .. }
    )
}

/// Adds one to the counter at `off`.
pub(crate) fn bump<S: Storage>(
    cx: &mut Ctx<'_, S>,
    slot: &Slot,
    off: u32,
) -> Result<(), AllocError> {
    let n = cx.word(slot.object + off)?.saturating_add(1);
    cx.set_word(slot.name, slot.object + off, Field::Count, n)
}

pub(crate) fn init<S: Storage>(cx: &mut Ctx<'_, S>, slot: &Slot) -> Result<(), AllocError> {
    for off in [OFF_CALLS, OFF_RETRIES, OFF_RESCUED, OFF_GIVEN_UP] {
        cx.set_word(slot.name, slot.object + off, Field::Count, 0)?;
    }
    Ok(())
}

pub(crate) fn figures<S: Storage>(ram: &Ram<S>, slot: &Slot) -> Result<OomFigures, AllocError> {
    Ok(OomFigures {
        calls: ram.read_u32(slot.object + OFF_CALLS)?,
        retries: ram.read_u32(slot.object + OFF_RETRIES)?,
        rescued: ram.read_u32(slot.object + OFF_RESCUED)?,
        given_up: ram.read_u32(slot.object + OFF_GIVEN_UP)?,
    })
}

pub(crate) fn check<S: Storage>(ram: &Ram<S>, slot: &Slot) -> Result<(), AllocError> {
    let f = figures(ram, slot)?;
    if f.retries > f.calls || f.rescued > f.retries || f.given_up > f.calls {
        return Err(AllocError::Inconsistent {
            at: slot.object + OFF_CALLS,
            rule: RULE_COUNTS,
        });
    }
    Ok(())
}
