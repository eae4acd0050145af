//! `mem_allocator_debug`: a log of every live block with who asked for it (seed 003 §5;
//! AWTK `src/tkc/mem_allocator_debug.h`).
//!
//! # The real mechanism
//!
//! After the wrapped allocator hands out a block, `mem_entry_add` stores
//! `{ addr, func, line, size }` in the first empty entry of the static array `s_mem_log`
//! (10240 entries); `mem_allocator_debug_free` clears the block's entry (`mem_entry_remove`)
//! and frees it; realloc removes the old entry and adds the new one. `tk_mem_dump` (bound to
//! F9 in the demos) prints every live entry as `[i] addr size func:line` and a `mem_info:`
//! line with a size histogram. Whatever is still in the log when it should not be is a leak,
//! with the code that made it. The log costs memory itself, so the seed uses it on the PC.
//! When the log is full `mem_entry_add` fails silently and the block goes unrecorded.
//!
//! # In the simulator
//!
//! The log is part of the decorator object in the stack's statics, with a configured number
//! of entries. The function name is stored inline (32 bytes, NUL-padded) where C stores a
//! pointer to the string. A block goes into the log after the wrapped allocator succeeds and
//! out of it after the wrapped allocator freed it, so a refused free changes nothing. A
//! block the full log could not take is counted in `dropped` and reported by a `dropped`
//! event. An entry's address 0 means empty, as in C.
//!
//! # RAM layout of the decorator object (16 + 44 × capacity bytes)
//!
//! | offset | field      | meaning                                         |
//! |--------|------------|-------------------------------------------------|
//! | +0     | `vt`       | [`VT`] (`"DBUG"`)                               |
//! | +4     | `impl`     | the wrapped allocator's object                  |
//! | +8     | `capacity` | how many entries follow                         |
//! | +12    | `dropped`  | blocks the full log could not record            |
//! | +16    | entries    | `mem_entry_t`, 44 bytes each:                   |
//!
//! | entry offset | field  | meaning                                               |
//! |--------------|--------|-------------------------------------------------------|
//! | +0           | `addr` | the block's address; 0 iff the entry is empty         |
//! | +4           | `func` | the caller's function name, NUL-padded to 32 bytes    |
//! | +36          | `line` | the caller's line                                     |
//! | +40          | `size` | the size asked for                                    |
//!
//! Invariants: an empty entry is all zero; no two entries record the same address.

use crate::allocator::Ctx;
use crate::awtk::stack::Slot;
use crate::awtk::{AwtkEvent, CallSite, FuncName, FUNC_BYTES};
use crate::error::AllocError;
use crate::ram::{Addr, Ram, Storage};
use crate::trace::{EventKind, Field};

/// The object's first word: `"DBUG"` in the hex view.
pub const VT: u32 = u32::from_le_bytes(*b"DBUG");
pub const OFF_CAPACITY: u32 = 8;
pub const OFF_DROPPED: u32 = 12;
pub const OFF_ENTRIES: u32 = 16;
/// Offsets in an entry.
pub const ENTRY_ADDR: u32 = 0;
pub const ENTRY_FUNC: u32 = 4;
pub const ENTRY_LINE: u32 = 36;
pub const ENTRY_SIZE: u32 = 40;
/// `sizeof(mem_entry_t)` here.
pub const ENTRY_BYTES: u32 = 44;
/// The most entries a log may have.
pub const MAX_ENTRIES: u32 = 4096;

const RULE_EMPTY: &str = "an empty debug log entry is all zero";
const RULE_FUNC: &str = "a debug log entry's function name is an identifier padded with zeros";
const RULE_TWICE: &str = "no two debug log entries record the same block";

/// The decorator object's size for a log of `capacity` entries.
pub fn object_size(capacity: u32) -> u32 {
    OFF_ENTRIES + ENTRY_BYTES * capacity.min(MAX_ENTRIES)
}

/// A block still in the log, with who asked for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leak {
    /// The entry's index in the log (AWTK's `[%d]`).
    pub index: u32,
    pub addr: Addr,
    pub size: u32,
    pub site: CallSite,
}

/// The debug decorator's figures for the UI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DebugFigures {
    pub capacity: u32,
    /// Blocks in the log.
    pub used_blocks: u32,
    /// Their sizes, summed (saturating).
    pub used_size: u32,
    /// Blocks the full log could not record.
    pub dropped: u32,
}

fn entry(slot: &Slot, index: u32) -> Addr {
    slot.object
        .wrapping_add(OFF_ENTRIES)
        .wrapping_add(index.wrapping_mul(ENTRY_BYTES))
}

/// Writes the capacity and clears the log.
pub(crate) fn init<S: Storage>(
    cx: &mut Ctx<'_, S>,
    slot: &Slot,
    capacity: u32,
) -> Result<(), AllocError> {
    cx.set_word(slot.name, slot.object + OFF_CAPACITY, Field::Size, capacity)?;
    cx.set_word(slot.name, slot.object + OFF_DROPPED, Field::Count, 0)?;
    cx.fill(
        slot.name,
        entry(slot, 0),
        ENTRY_BYTES * capacity,
        0,
        Field::Block,
    )
}

/// `mem_entry_add`: the first empty entry records the block.
pub(crate) fn record<S: Storage>(
    cx: &mut Ctx<'_, S>,
    slot: &Slot,
    capacity: u32,
    addr: Addr,
    size: u32,
    site: CallSite,
) -> Result<(), AllocError> {
    for index in 0..capacity {
        let at = entry(slot, index);
        if cx.word(at + ENTRY_ADDR)? == 0 {
            let name = slot.name;
            cx.set_word(name, at + ENTRY_ADDR, Field::Block, addr)?;
            cx.ram.write(at + ENTRY_FUNC, &site.func.to_bytes())?;
            cx.set_word(name, at + ENTRY_LINE, Field::Site, site.line)?;
            cx.set_word(name, at + ENTRY_SIZE, Field::Size, size)?;
            cx.emit(
                name,
                EventKind::Awtk(AwtkEvent::Record {
                    entry: at,
                    addr,
                    size,
                    site,
                }),
            );
            return Ok(());
        }
    }
    let dropped = cx.word(slot.object + OFF_DROPPED)?.saturating_add(1);
    cx.set_word(slot.name, slot.object + OFF_DROPPED, Field::Count, dropped)?;
    cx.emit(
        slot.name,
        EventKind::Awtk(AwtkEvent::Dropped { addr, size, site }),
    );
    Ok(())
}

/// `mem_entry_remove`: clears the entry that records `addr`, if any.
pub(crate) fn unrecord<S: Storage>(
    cx: &mut Ctx<'_, S>,
    slot: &Slot,
    capacity: u32,
    addr: Addr,
) -> Result<(), AllocError> {
    if addr == 0 {
        return Ok(());
    }
    for index in 0..capacity {
        let at = entry(slot, index);
        if cx.word(at + ENTRY_ADDR)? == addr {
            let name = slot.name;
            cx.set_word(name, at + ENTRY_ADDR, Field::Block, 0)?;
            cx.fill(name, at + ENTRY_FUNC, FUNC_BYTES, 0, Field::Site)?;
            cx.set_word(name, at + ENTRY_LINE, Field::Site, 0)?;
            cx.set_word(name, at + ENTRY_SIZE, Field::Size, 0)?;
            cx.emit(
                name,
                EventKind::Awtk(AwtkEvent::Unrecord { entry: at, addr }),
            );
            return Ok(());
        }
    }
    Ok(())
}

/// Reads entry `index`; `None` when it is empty.
fn read_entry<S: Storage>(
    ram: &Ram<S>,
    slot: &Slot,
    index: u32,
) -> Result<Option<Leak>, AllocError> {
    let at = entry(slot, index);
    let addr = ram.read_u32(at + ENTRY_ADDR)?;
    let raw = ram.slice(at + ENTRY_FUNC, FUNC_BYTES)?;
    let line = ram.read_u32(at + ENTRY_LINE)?;
    let size = ram.read_u32(at + ENTRY_SIZE)?;
    if addr == 0 {
        if line != 0 || size != 0 || raw.iter().any(|&b| b != 0) {
            return Err(AllocError::Inconsistent {
                at,
                rule: RULE_EMPTY,
            });
        }
        return Ok(None);
    }
    let Some(func) = FuncName::from_bytes(raw) else {
        return Err(AllocError::Inconsistent {
            at: at + ENTRY_FUNC,
            rule: RULE_FUNC,
        });
    };
    Ok(Some(Leak {
        index,
        addr,
        size,
        site: CallSite { func, line },
    }))
}

/// Every block in the log, in entry order.
pub(crate) fn leaks<S: Storage>(
    ram: &Ram<S>,
    slot: &Slot,
    capacity: u32,
    visit: &mut dyn FnMut(Leak),
) -> Result<(), AllocError> {
    for index in 0..capacity {
        if let Some(leak) = read_entry(ram, slot, index)? {
            visit(leak);
        }
    }
    Ok(())
}

/// `mem_entry_dump`: one `dump_entry` per live block, then the `mem_info` line. Its histogram
/// has AWTK's buckets; AWTK's `>=10240` and `>=102400` buckets come after `>=1024` in an
/// else-if chain and never count anything, so they are left out.
pub(crate) fn dump<S: Storage>(
    cx: &mut Ctx<'_, S>,
    slot: &Slot,
    capacity: u32,
) -> Result<(), AllocError> {
    let mut info = [0u32; 8];
    for index in 0..capacity {
        let Some(e) = read_entry(cx.ram, slot, index)? else {
            continue;
        };
        info[0] = info[0].saturating_add(1);
        info[1] = info[1].saturating_add(e.size);
        let bucket = match e.size {
            0..=8 => Some(2),
            9..=16 => Some(3),
            17..=32 => Some(4),
            33..=48 => Some(5),
            49..=64 => Some(6),
            1024.. => Some(7),
            _ => None,
        };
        if let Some(b) = bucket {
            info[b] = info[b].saturating_add(1);
        }
        cx.emit(
            slot.name,
            EventKind::Awtk(AwtkEvent::DumpEntry {
                index,
                addr: e.addr,
                size: e.size,
                site: e.site,
            }),
        );
    }
    let [used_block, used_size, le8, le16, le32, le48, le64, ge1024] = info;
    cx.emit(
        slot.name,
        EventKind::Awtk(AwtkEvent::DumpInfo {
            used_block,
            used_size,
            le8,
            le16,
            le32,
            le48,
            le64,
            ge1024,
        }),
    );
    Ok(())
}

pub(crate) fn figures<S: Storage>(
    ram: &Ram<S>,
    slot: &Slot,
    capacity: u32,
) -> Result<DebugFigures, AllocError> {
    let mut f = DebugFigures {
        capacity,
        dropped: ram.read_u32(slot.object + OFF_DROPPED)?,
        ..DebugFigures::default()
    };
    leaks(ram, slot, capacity, &mut |leak| {
        f.used_blocks = f.used_blocks.saturating_add(1);
        f.used_size = f.used_size.saturating_add(leak.size);
    })?;
    Ok(f)
}

/// The capacity word, every entry's form, and that no block is recorded twice.
pub(crate) fn check<S: Storage>(
    ram: &Ram<S>,
    slot: &Slot,
    capacity: u32,
) -> Result<(), AllocError> {
    let at = slot.object + OFF_CAPACITY;
    let found = ram.read_u32(at)?;
    if found != capacity {
        return Err(AllocError::Corrupted {
            at,
            field: Field::Size,
            expected: capacity,
            found,
        });
    }
    for index in 0..capacity {
        let Some(e) = read_entry(ram, slot, index)? else {
            continue;
        };
        for later in index + 1..capacity {
            let at = entry(slot, later);
            if ram.read_u32(at + ENTRY_ADDR)? == e.addr {
                return Err(AllocError::Inconsistent {
                    at,
                    rule: RULE_TWICE,
                });
            }
        }
    }
    Ok(())
}
