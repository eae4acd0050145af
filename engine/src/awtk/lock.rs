//! `mem_allocator_lock`: a mutex around every call (seed 003 §3; AWTK
//! `src/tkc/mem_allocator_lock.h`).
//!
//! # The real mechanism
//!
//! `mem_allocator_lock_alloc` does `tk_mutex_lock(mutex)`, calls the wrapped allocator, then
//! `tk_mutex_unlock(mutex)`; so do realloc, free and dump. The standard allocator's
//! `malloc` locks by itself, so this decorator is mainly for `mem_allocator_simple`.
//!
//! AWTK's mutex is not recursive. If anything called *inside* the lock comes back into the
//! same allocator, it waits for a mutex its own thread holds: a deadlock. The classic case is
//! a lock outside the oom decorator (`lock(oom(...))`): the oom release callback frees cached
//! memory with `tk_free`, which reaches the lock again.
//!
//! # In the simulator
//!
//! The mutex is three words in the decorator object; taking it while it is held is refused
//! with [`AllocError::Deadlock`] (at the mutex word), after a `reentry` event, instead of
//! hanging. Every lock and unlock is counted.
//!
//! # RAM layout of the decorator object (24 bytes, in the stack's statics)
//!
//! | offset | field        | meaning                                             |
//! |--------|--------------|-----------------------------------------------------|
//! | +0     | `vt`         | [`VT`] (`"LOCK"`)                                   |
//! | +4     | `impl`       | the wrapped allocator's object                      |
//! | +8     | `held`       | 1 iff the mutex is taken (only during a call)       |
//! | +12    | `locks`      | times the mutex was taken                           |
//! | +16    | `unlocks`    | times it was given back; equals `locks` between calls |
//! | +20    | `reentries`  | re-entrant calls refused                            |

use crate::allocator::Ctx;
use crate::awtk::stack::Slot;
use crate::awtk::AwtkEvent;
use crate::error::AllocError;
use crate::ram::{Ram, Storage};
use crate::trace::{EventKind, Field};

/// The object's first word: `"LOCK"` in the hex view.
pub const VT: u32 = u32::from_le_bytes(*b"LOCK");
pub const OFF_HELD: u32 = 8;
pub const OFF_LOCKS: u32 = 12;
pub const OFF_UNLOCKS: u32 = 16;
pub const OFF_REENTRIES: u32 = 20;
/// The decorator object's size.
pub const OBJECT_SIZE: u32 = 24;

/// The lock's counters for the UI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LockFigures {
    pub lock_count: u32,
    pub unlock_count: u32,
    pub held: bool,
    pub reentries: u32,
}

/// `tk_mutex_lock`: takes the mutex, or refuses a re-entrant call.
pub(crate) fn acquire<S: Storage>(cx: &mut Ctx<'_, S>, slot: &Slot) -> Result<(), AllocError> {
    let held_at = slot.object + OFF_HELD;
    if cx.word(held_at)? != 0 {
        let count = cx.word(slot.object + OFF_REENTRIES)?.saturating_add(1);
        cx.set_word(slot.name, slot.object + OFF_REENTRIES, Field::Count, count)?;
        cx.emit(
            slot.name,
            EventKind::Awtk(AwtkEvent::Reentry {
                mutex: held_at,
                count,
            }),
        );
        return Err(AllocError::Deadlock { at: held_at });
    }
    cx.set_word(slot.name, held_at, Field::Flags, 1)?;
    let count = cx.word(slot.object + OFF_LOCKS)?.saturating_add(1);
    cx.set_word(slot.name, slot.object + OFF_LOCKS, Field::Count, count)?;
    cx.emit(slot.name, EventKind::Awtk(AwtkEvent::Lock { count }));
    Ok(())
}

/// `tk_mutex_unlock`.
pub(crate) fn release<S: Storage>(cx: &mut Ctx<'_, S>, slot: &Slot) -> Result<(), AllocError> {
    cx.set_word(slot.name, slot.object + OFF_HELD, Field::Flags, 0)?;
    let count = cx.word(slot.object + OFF_UNLOCKS)?.saturating_add(1);
    cx.set_word(slot.name, slot.object + OFF_UNLOCKS, Field::Count, count)?;
    cx.emit(slot.name, EventKind::Awtk(AwtkEvent::Unlock { count }));
    Ok(())
}

/// Lays out a fresh object after its `vt` and `impl` words.
pub(crate) fn init<S: Storage>(cx: &mut Ctx<'_, S>, slot: &Slot) -> Result<(), AllocError> {
    cx.set_word(slot.name, slot.object + OFF_HELD, Field::Flags, 0)?;
    for off in [OFF_LOCKS, OFF_UNLOCKS, OFF_REENTRIES] {
        cx.set_word(slot.name, slot.object + off, Field::Count, 0)?;
    }
    Ok(())
}

pub(crate) fn figures<S: Storage>(ram: &Ram<S>, slot: &Slot) -> Result<LockFigures, AllocError> {
    Ok(LockFigures {
        lock_count: ram.read_u32(slot.object + OFF_LOCKS)?,
        unlock_count: ram.read_u32(slot.object + OFF_UNLOCKS)?,
        held: ram.read_u32(slot.object + OFF_HELD)? != 0,
        reentries: ram.read_u32(slot.object + OFF_REENTRIES)?,
    })
}

/// Between calls the mutex is free and every lock was matched by an unlock.
pub(crate) fn check<S: Storage>(ram: &Ram<S>, slot: &Slot) -> Result<(), AllocError> {
    let held_at = slot.object + OFF_HELD;
    let held = ram.read_u32(held_at)?;
    if held != 0 {
        return Err(AllocError::Corrupted {
            at: held_at,
            field: Field::Flags,
            expected: 0,
            found: held,
        });
    }
    let locks = ram.read_u32(slot.object + OFF_LOCKS)?;
    let unlocks = ram.read_u32(slot.object + OFF_UNLOCKS)?;
    if locks != unlocks {
        return Err(AllocError::Corrupted {
            at: slot.object + OFF_UNLOCKS,
            field: Field::Count,
            expected: locks,
            found: unlocks,
        });
    }
    Ok(())
}
