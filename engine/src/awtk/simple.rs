//! `mem_allocator_simple`: AWTK's own allocator, for systems without `malloc` (seed 003 §2;
//! AWTK `src/tkc/mem_allocator_simple.h`).
//!
//! # The real mechanism
//!
//! One buffer, cut into blocks that tile it. A block in use starts with a 4-byte header, its
//! size (header included); the caller gets the address right after it. A free block is a
//! `free_node_t { uint32_t size; free_node_t* next; free_node_t* prev; }` on a doubly linked
//! free list kept in address order.
//!
//! - `REAL_SIZE(s) = TK_ROUND_TO8(max(s, MIN_SIZE if s <= 12) + 4)`, `MIN_SIZE = 16`
//!   (`sizeof(free_node_t)` rounded to 8): every block is a multiple of 8 and can hold a free
//!   node once it is freed.
//! - `tk_alloc_impl` is first fit: it takes the first free node with `size > REAL_SIZE` (a
//!   strict `>`, so a node of exactly the right size is passed over). If what would remain is
//!   smaller than `MIN_SIZE` it unlinks the whole node, otherwise it splits: the tail stays on
//!   the list in the node's place and the head is handed out.
//! - `tk_free_impl` links the block back in address order and `node_merge` merges it with a
//!   free neighbour on either side, so no two free blocks ever touch.
//! - `tk_realloc_impl` keeps the block if it is big enough and at most `MIN_SIZE` bytes too
//!   big; otherwise it allocates, copies and frees.
//!
//! # In the simulator
//!
//! `mem_allocator_simple_t` (a vtable word, then `mem_info_t`) is the control block at the
//! start of the pool; the buffer follows, aligned to 8. Differences from AWTK, all so that
//! no input can corrupt the heap or panic the engine:
//! - `simple` validates what it is given: a free or realloc of an address that is not a live
//!   block is refused ([`AllocError::InvalidPointer`] or [`AllocError::DoubleFree`]) after a
//!   walk over the heap, where AWTK would trust the header and corrupt its list;
//! - a request of 0 bytes gets [`AllocError::ZeroSize`] (AWTK hands out a minimum block), and
//!   sizes near `u32::MAX` are out of memory (in C, `REAL_SIZE` wraps to a tiny block);
//! - the buffer's size is rounded down to 8, so every block size stays a multiple of 8;
//! - AWTK's `tk_free_impl` returns early when the free list is empty and forgets to update
//!   `used_bytes` and `used_block_nr`; the simulator updates them.
//!
//! # RAM layout
//!
//! Control block at `base` (24 bytes):
//!
//! | offset | field           | meaning                                                  |
//! |--------|-----------------|----------------------------------------------------------|
//! | +0     | `vt`            | [`VT`] (`"SMPL"`): marks the object, like a vtable pointer |
//! | +4     | `buffer`        | the first block's address (`base + 24` rounded up to 8)  |
//! | +8     | `size`          | the buffer's size, a multiple of 8                       |
//! | +12    | `used_bytes`    | the sum of the sizes of the blocks in use                |
//! | +16    | `used_block_nr` | how many blocks are in use                               |
//! | +20    | `free_list`     | the lowest free node, 0 iff none                         |
//!
//! A block in use: `+0 size`, then the caller's bytes. A free node: `+0 size`, `+4 next`,
//! `+8 prev` (0 at the ends), then free bytes.
//!
//! Invariants (checked by [`Allocator::check`]): blocks tile `[buffer, buffer + size)`; each
//! size is a multiple of 8 and at least `MIN_SIZE`; a block is free iff the free list reaches
//! it; the list is in address order with `prev` links mirroring `next`; no two free blocks are
//! neighbours; `used_bytes` and `used_block_nr` sum the blocks in use.

use crate::allocator::{Allocator, Block, BlockKind, Ctx, Owner};
use crate::awtk::{fault, AwtkEvent, CallSite, Grant, MemAllocator};
use crate::error::{AllocError, ConfigError};
use crate::name::Name;
use crate::ram::{Addr, Ram, Storage};
use crate::trace::{EventKind, Field, Op};

/// The control block's first word: `"SMPL"` in the hex view.
pub const VT: u32 = u32::from_le_bytes(*b"SMPL");
/// Offsets in the control block.
pub const OFF_VT: u32 = 0;
pub const OFF_BUFFER: u32 = 4;
pub const OFF_SIZE: u32 = 8;
pub const OFF_USED_BYTES: u32 = 12;
pub const OFF_USED_BLOCK_NR: u32 = 16;
pub const OFF_FREE_LIST: u32 = 20;
/// `sizeof(mem_allocator_simple_t)` on a 32-bit target.
pub const CONTROL_SIZE: u32 = 24;

/// Offsets in a block: the size header, then (free nodes only) the links.
pub const NODE_SIZE: u32 = 0;
pub const NODE_NEXT: u32 = 4;
pub const NODE_PREV: u32 = 8;
/// `sizeof(free_node_t)`.
pub const FREE_NODE: u32 = 12;
/// The header of a block in use: its size.
pub const HEADER: u32 = 4;
/// `MIN_SIZE`: `sizeof(free_node_t)` rounded to 8; the smallest block.
pub const MIN_SIZE: u32 = 16;

const RULE_SIZE: &str = "a block's size is a multiple of 8, at least 16, and ends inside the heap";
const RULE_LINK: &str = "a free-list link points at the start of a block inside the heap";
const RULE_SORTED: &str = "the free list runs in address order";
const RULE_MERGED: &str = "no two free blocks are neighbours (free merges them)";
const RULE_CYCLE: &str = "the free list ends";

/// `REAL_SIZE(size)`: the block a request of `size` bytes takes, header included. In `u64`,
/// so no size wraps as it does in C.
pub fn real_size(size: u32) -> u64 {
    let body = if size > FREE_NODE {
        size as u64
    } else {
        MIN_SIZE as u64
    };
    (body + HEADER as u64 + 7) & !7
}

/// AWTK's simple allocator over `[base, base + size)`.
///
/// Invariant: `buffer` is `base + CONTROL_SIZE` rounded up to 8; `buffer + buffer_size <=
/// base + size`; `buffer_size` is a multiple of 8 and at least 32.
#[derive(Clone, Debug)]
pub struct Simple {
    name: Name,
    base: Addr,
    size: u32,
    buffer: Addr,
    buffer_size: u32,
}

/// The control block's figures, as `mem_allocator_simple_dump` reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimpleInfo {
    pub buffer: Addr,
    pub size: u32,
    pub used_bytes: u32,
    pub used_block_nr: u32,
    pub free_list: Addr,
}

/// One block met by the walk over the heap.
#[derive(Clone, Copy, Debug)]
struct Seen {
    addr: Addr,
    size: u32,
    free: bool,
}

/// Where a live block sits among the free nodes.
#[derive(Clone, Copy, Debug)]
struct Located {
    size: u32,
    /// The free node just below it, 0 iff none.
    prev_free: Addr,
    /// The free node just above it, 0 iff none.
    next_free: Addr,
}

impl Simple {
    /// `mem_allocator_simple_init`: lays out the control block at `base` and makes the whole
    /// buffer one free node.
    pub fn new<S: Storage>(
        cx: &mut Ctx<'_, S>,
        name: Name,
        base: Addr,
        size: u32,
    ) -> Result<Simple, AllocError> {
        if !cx.ram.contains(base, size) {
            return Err(ConfigError::NotInRam { addr: base, size }.into());
        }
        let end = base as u64 + size as u64;
        let buffer = (base as u64 + CONTROL_SIZE as u64 + 7) & !7;
        let needed = buffer - base as u64 + 2 * MIN_SIZE as u64;
        if needed > size as u64 {
            return Err(ConfigError::TooSmall {
                needed: needed.min(u32::MAX as u64) as u32,
                available: size,
            }
            .into());
        }
        // `buffer < end <= 2^32`, so both fit in u32.
        let buffer_size = ((end - buffer) & !7) as u32;
        let buffer = buffer as u32;
        let simple = Simple {
            name,
            base,
            size,
            buffer,
            buffer_size,
        };
        cx.fill(name, buffer, buffer_size, 0, Field::Data)?;
        cx.set_word(name, base + OFF_VT, Field::Magic, VT)?;
        cx.set_word(name, base + OFF_BUFFER, Field::Pool, buffer)?;
        cx.set_word(name, base + OFF_SIZE, Field::Size, buffer_size)?;
        cx.set_word(name, base + OFF_USED_BYTES, Field::Count, 0)?;
        cx.set_word(name, base + OFF_USED_BLOCK_NR, Field::Count, 0)?;
        cx.set_word(name, base + OFF_FREE_LIST, Field::Head, buffer)?;
        cx.set_word(name, buffer + NODE_SIZE, Field::Size, buffer_size)?;
        cx.set_word(name, buffer + NODE_NEXT, Field::Next, 0)?;
        cx.set_word(name, buffer + NODE_PREV, Field::Prev, 0)?;
        cx.emit(name, EventKind::Init { base, size });
        Ok(simple)
    }

    /// The pool's range, control block included.
    pub fn range(&self) -> (Addr, u32) {
        (self.base, self.size)
    }

    /// The first block's address and the buffer's size.
    pub fn buffer(&self) -> (Addr, u32) {
        (self.buffer, self.buffer_size)
    }

    /// The control block as it is in RAM (not checked).
    pub fn info<S: Storage>(&self, ram: &Ram<S>) -> Result<SimpleInfo, AllocError> {
        Ok(SimpleInfo {
            buffer: ram.read_u32(self.base + OFF_BUFFER)?,
            size: ram.read_u32(self.base + OFF_SIZE)?,
            used_bytes: ram.read_u32(self.base + OFF_USED_BYTES)?,
            used_block_nr: ram.read_u32(self.base + OFF_USED_BLOCK_NR)?,
            free_list: ram.read_u32(self.base + OFF_FREE_LIST)?,
        })
    }

    /// One past the buffer's last byte.
    fn end(&self) -> u64 {
        self.buffer as u64 + self.buffer_size as u64
    }

    /// True iff a free node could start at `at`: inside the buffer, on the 8-byte grid.
    fn is_node_addr(&self, at: Addr) -> bool {
        at >= self.buffer
            && at as u64 + MIN_SIZE as u64 <= self.end()
            && (at - self.buffer).is_multiple_of(8)
    }

    fn size_ok(&self, at: Addr, size: u32) -> bool {
        size >= MIN_SIZE && size.is_multiple_of(8) && at as u64 + size as u64 <= self.end()
    }

    /// Checks the words of the control block that never change.
    fn check_control<S: Storage>(&self, ram: &Ram<S>) -> Result<(), AllocError> {
        let fixed = [
            (OFF_VT, Field::Magic, VT),
            (OFF_BUFFER, Field::Pool, self.buffer),
            (OFF_SIZE, Field::Size, self.buffer_size),
        ];
        for (off, field, expected) in fixed {
            let at = self.base + off;
            let found = ram.read_u32(at)?;
            if found != expected {
                return Err(AllocError::Corrupted {
                    at,
                    field,
                    expected,
                    found,
                });
            }
        }
        Ok(())
    }

    /// Walks every block in address order, checking the whole heap on the way: the control
    /// block, the tiling, the free list against the blocks it must reach, the merge rule and
    /// the two counters. Every step moves on by at least `MIN_SIZE` bytes, so the walk ends.
    fn scan<S: Storage>(
        &self,
        ram: &Ram<S>,
        visit: &mut dyn FnMut(Seen) -> Result<(), AllocError>,
    ) -> Result<(), AllocError> {
        self.check_control(ram)?;
        let end = self.end();
        let mut link_at = self.base + OFF_FREE_LIST;
        let mut expect = ram.read_u32(link_at)?;
        let mut prev_free = 0;
        let mut last_free = false;
        let mut used_bytes = 0u64;
        let mut used_blocks = 0u64;
        let mut pos = self.buffer as u64;
        while pos < end {
            let at = pos as u32;
            if expect != 0 && expect < at {
                return Err(AllocError::Inconsistent {
                    at: link_at,
                    rule: RULE_LINK,
                });
            }
            let size = ram.read_u32(at + NODE_SIZE)?;
            if !self.size_ok(at, size) {
                return Err(AllocError::Inconsistent {
                    at,
                    rule: RULE_SIZE,
                });
            }
            let free = expect == at;
            if free {
                if last_free {
                    return Err(AllocError::Inconsistent {
                        at,
                        rule: RULE_MERGED,
                    });
                }
                let prev = ram.read_u32(at + NODE_PREV)?;
                if prev != prev_free {
                    return Err(AllocError::Corrupted {
                        at: at + NODE_PREV,
                        field: Field::Prev,
                        expected: prev_free,
                        found: prev,
                    });
                }
                let next = ram.read_u32(at + NODE_NEXT)?;
                if next != 0 && next <= at {
                    return Err(AllocError::Inconsistent {
                        at: at + NODE_NEXT,
                        rule: RULE_SORTED,
                    });
                }
                expect = next;
                link_at = at + NODE_NEXT;
                prev_free = at;
            } else {
                used_bytes += size as u64;
                used_blocks += 1;
            }
            visit(Seen {
                addr: at,
                size,
                free,
            })?;
            last_free = free;
            pos += size as u64;
        }
        if expect != 0 {
            return Err(AllocError::Inconsistent {
                at: link_at,
                rule: RULE_LINK,
            });
        }
        let counters = [
            (OFF_USED_BYTES, used_bytes),
            (OFF_USED_BLOCK_NR, used_blocks),
        ];
        for (off, expected) in counters {
            let at = self.base + off;
            let found = ram.read_u32(at)?;
            if found as u64 != expected {
                return Err(AllocError::Corrupted {
                    at,
                    field: Field::Count,
                    expected: expected as u32,
                    found,
                });
            }
        }
        Ok(())
    }

    /// Finds the live block handed out at `addr`, checking the whole heap on the way.
    fn locate<S: Storage>(&self, ram: &Ram<S>, addr: Addr) -> Result<Located, AllocError> {
        let inside =
            addr as u64 >= self.buffer as u64 + HEADER as u64 && (addr as u64) < self.end();
        if !inside {
            return Err(AllocError::InvalidPointer { addr });
        }
        let node = addr - HEADER;
        let mut found: Option<Seen> = None;
        let mut prev_free = 0;
        let mut next_free = 0;
        self.scan(ram, &mut |seen| {
            match found {
                None if seen.addr == node => found = Some(seen),
                None if seen.free => prev_free = seen.addr,
                Some(_) if seen.free && next_free == 0 => next_free = seen.addr,
                _ => {}
            }
            Ok(())
        })?;
        match found {
            None => Err(AllocError::InvalidPointer { addr }),
            Some(seen) if seen.free => Err(AllocError::DoubleFree { addr }),
            Some(seen) => Ok(Located {
                size: seen.size,
                prev_free,
                next_free,
            }),
        }
    }

    /// `tk_alloc_impl` without the summary: first fit, then unlink or split. Returns the
    /// block's node address and size.
    fn alloc_block<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        size: u32,
    ) -> Result<(Addr, u32), AllocError> {
        if size == 0 {
            return Err(AllocError::ZeroSize);
        }
        self.check_control(cx.ram)?;
        let name = self.name;
        let real = real_size(size);
        let head = cx.word(self.base + OFF_FREE_LIST)?;

        // Find the first free node bigger than the request, checking each node and link.
        let max_nodes = self.buffer_size / MIN_SIZE;
        let mut iter = head;
        let mut link_at = self.base + OFF_FREE_LIST;
        let mut prev = 0;
        let mut visited = 0u32;
        let mut largest = 0u32;
        let mut found = None;
        while iter != 0 {
            if visited >= max_nodes {
                return Err(AllocError::Inconsistent {
                    at: iter,
                    rule: RULE_CYCLE,
                });
            }
            if !self.is_node_addr(iter) {
                return Err(AllocError::Inconsistent {
                    at: link_at,
                    rule: RULE_LINK,
                });
            }
            visited += 1;
            let isz = cx.word(iter + NODE_SIZE)?;
            if !self.size_ok(iter, isz) {
                return Err(AllocError::Inconsistent {
                    at: iter,
                    rule: RULE_SIZE,
                });
            }
            let iprev = cx.word(iter + NODE_PREV)?;
            if iprev != prev {
                return Err(AllocError::Corrupted {
                    at: iter + NODE_PREV,
                    field: Field::Prev,
                    expected: prev,
                    found: iprev,
                });
            }
            let next = cx.word(iter + NODE_NEXT)?;
            if next != 0 && (next <= iter || !self.is_node_addr(next)) {
                return Err(AllocError::Inconsistent {
                    at: iter + NODE_NEXT,
                    rule: RULE_SORTED,
                });
            }
            largest = largest.max(isz);
            if isz as u64 > real {
                found = Some((iter, isz, next));
                break;
            }
            prev = iter;
            link_at = iter + NODE_NEXT;
            iter = next;
        }
        cx.emit(
            name,
            EventKind::Search {
                size: real.min(u32::MAX as u64) as u32,
                visited,
            },
        );
        let Some((iter, isz, next)) = found else {
            return Err(AllocError::OutOfMemory {
                requested: size,
                largest_free: largest.saturating_sub(HEADER),
            });
        };
        // `real < isz`, so it fits in u32, and `iter + isz` is inside the heap.
        let real = real as u32;
        let block = if (isz as u64) < real as u64 + MIN_SIZE as u64 {
            // What would remain cannot hold a node: hand out the whole node.
            cx.emit(
                name,
                EventKind::Unlink {
                    list: 0,
                    addr: iter,
                },
            );
            if head == iter {
                cx.set_word(name, self.base + OFF_FREE_LIST, Field::Head, next)?;
            }
            if prev != 0 {
                cx.set_word(name, prev + NODE_NEXT, Field::Next, next)?;
            }
            if next != 0 {
                cx.set_word(name, next + NODE_PREV, Field::Prev, prev)?;
            }
            isz
        } else {
            // Split: the tail takes the node's place on the list.
            let rest = iter + real;
            let rest_size = isz - real;
            cx.emit(
                name,
                EventKind::Split {
                    addr: iter,
                    size: real,
                    rest,
                    rest_size,
                },
            );
            cx.set_word(name, rest + NODE_SIZE, Field::Size, rest_size)?;
            cx.set_word(name, rest + NODE_NEXT, Field::Next, next)?;
            cx.set_word(name, rest + NODE_PREV, Field::Prev, prev)?;
            if prev != 0 {
                cx.set_word(name, prev + NODE_NEXT, Field::Next, rest)?;
            }
            if next != 0 {
                cx.set_word(name, next + NODE_PREV, Field::Prev, rest)?;
            }
            if head == iter {
                cx.set_word(name, self.base + OFF_FREE_LIST, Field::Head, rest)?;
            }
            cx.set_word(name, iter + NODE_SIZE, Field::Size, real)?;
            real
        };
        let nr = cx.word(self.base + OFF_USED_BLOCK_NR)?;
        cx.set_word(
            name,
            self.base + OFF_USED_BLOCK_NR,
            Field::Count,
            nr.wrapping_add(1),
        )?;
        let used = cx.word(self.base + OFF_USED_BYTES)?;
        cx.set_word(
            name,
            self.base + OFF_USED_BYTES,
            Field::Count,
            used.wrapping_add(block),
        )?;
        Ok((iter, block))
    }

    /// `tk_free_impl` without the summary: link the block back in address order, then
    /// `node_merge`. Returns the block's size.
    fn free_block<S: Storage>(&self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<u32, AllocError> {
        let located = self.locate(cx.ram, addr)?;
        let name = self.name;
        let node = addr - HEADER;
        let size = located.size;
        let (p, n) = (located.prev_free, located.next_free);
        let head_at = self.base + OFF_FREE_LIST;
        let head = cx.word(head_at)?;

        cx.emit(
            name,
            EventKind::Link {
                list: 0,
                addr: node,
            },
        );
        cx.set_word(name, node + NODE_PREV, Field::Prev, 0)?;
        cx.set_word(name, node + NODE_NEXT, Field::Next, 0)?;
        if head == 0 {
            cx.set_word(name, head_at, Field::Head, node)?;
        } else if n != 0 {
            // Insert before the first node above it.
            cx.set_word(name, node + NODE_NEXT, Field::Next, n)?;
            cx.set_word(name, node + NODE_PREV, Field::Prev, p)?;
            if p != 0 {
                cx.set_word(name, p + NODE_NEXT, Field::Next, node)?;
            }
            cx.set_word(name, n + NODE_PREV, Field::Prev, node)?;
            if head == n {
                cx.set_word(name, head_at, Field::Head, node)?;
            }
        } else if p != 0 {
            // Every free node is below it: append.
            cx.set_word(name, p + NODE_NEXT, Field::Next, node)?;
            cx.set_word(name, node + NODE_PREV, Field::Prev, p)?;
        } else {
            return Err(AllocError::Inconsistent {
                at: head_at,
                rule: RULE_LINK,
            });
        }

        // node_merge: with the node below if it touches, then (from there) with the one above.
        let mut cur = node;
        let mut cur_size = size;
        if p != 0 {
            let p_size = cx.word(p + NODE_SIZE)?;
            if p as u64 + p_size as u64 == node as u64 {
                cur_size = self.merge2(cx, p, p_size, node, size)?;
                cur = p;
            }
        }
        if n != 0 && cur as u64 + cur_size as u64 == n as u64 {
            let n_size = cx.word(n + NODE_SIZE)?;
            self.merge2(cx, cur, cur_size, n, n_size)?;
        }

        let nr = cx.word(self.base + OFF_USED_BLOCK_NR)?;
        cx.set_word(
            name,
            self.base + OFF_USED_BLOCK_NR,
            Field::Count,
            nr.wrapping_sub(1),
        )?;
        let used = cx.word(self.base + OFF_USED_BYTES)?;
        cx.set_word(
            name,
            self.base + OFF_USED_BYTES,
            Field::Count,
            used.wrapping_sub(size),
        )?;
        Ok(size)
    }

    /// `node_merge2`: the node `next` (right after `prev` in memory and on the list) joins
    /// `prev`. Returns the merged size.
    fn merge2<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        prev: Addr,
        prev_size: u32,
        next: Addr,
        next_size: u32,
    ) -> Result<u32, AllocError> {
        let name = self.name;
        let merged = prev_size.wrapping_add(next_size);
        cx.emit(
            name,
            EventKind::Merge {
                addr: prev,
                size: merged,
                absorbed: next,
            },
        );
        let after = cx.word(next + NODE_NEXT)?;
        cx.set_word(name, prev + NODE_NEXT, Field::Next, after)?;
        if after != 0 {
            cx.set_word(name, after + NODE_PREV, Field::Prev, prev)?;
        }
        cx.set_word(name, prev + NODE_SIZE, Field::Size, merged)?;
        let head_at = self.base + OFF_FREE_LIST;
        if cx.word(head_at)? == next {
            cx.set_word(name, head_at, Field::Head, prev)?;
        }
        Ok(merged)
    }

    /// `tk_realloc_impl`: keep the block if it fits closely enough, else allocate, copy, free.
    fn realloc_block<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
        size: u32,
    ) -> Result<Addr, AllocError> {
        if size == 0 {
            return Err(AllocError::ZeroSize);
        }
        let located = self.locate(cx.ram, addr)?;
        let old_size = located.size - HEADER;
        let to = if old_size >= size && old_size as u64 <= size as u64 + MIN_SIZE as u64 {
            addr
        } else {
            let (node, _) = self.alloc_block(cx, size)?;
            let to = node + HEADER;
            cx.ram.copy_within(addr, to, size.min(old_size))?;
            self.free_block(cx, addr)?;
            to
        };
        cx.emit(
            self.name,
            EventKind::Realloc {
                from: addr,
                to,
                size,
            },
        );
        Ok(to)
    }
}

impl Allocator for Simple {
    fn name(&self) -> Name {
        self.name
    }

    fn alloc_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        _owner: Owner,
    ) -> Result<Addr, AllocError> {
        let (node, block) = self.alloc_block(cx, size)?;
        let addr = node + HEADER;
        cx.emit(
            self.name,
            EventKind::Alloc {
                addr,
                size,
                block,
                owner: Owner::NONE,
            },
        );
        Ok(addr)
    }

    fn free_impl<S: Storage>(&mut self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<(), AllocError> {
        let block = self.free_block(cx, addr)?;
        cx.emit(
            self.name,
            EventKind::Free {
                addr,
                block,
                owner: Owner::NONE,
            },
        );
        Ok(())
    }

    fn realloc_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
        size: u32,
        _owner: Owner,
    ) -> Result<Addr, AllocError> {
        self.realloc_block(cx, addr, size)
    }

    fn walk<S: Storage>(
        &self,
        ram: &Ram<S>,
        visit: &mut dyn FnMut(Block),
    ) -> Result<(), AllocError> {
        let base = self.base;
        let span = |addr, len, kind, block| Block {
            addr,
            len,
            kind,
            block,
            owner: Owner::NONE,
        };
        visit(span(base, CONTROL_SIZE, BlockKind::Header, base));
        let gap = self.buffer - base - CONTROL_SIZE;
        if gap > 0 {
            visit(span(base + CONTROL_SIZE, gap, BlockKind::Padding, base));
        }
        self.scan(ram, &mut |seen| {
            if seen.free {
                visit(span(seen.addr, FREE_NODE, BlockKind::Header, seen.addr));
                let rest = seen.size - FREE_NODE;
                visit(span(
                    seen.addr + FREE_NODE,
                    rest,
                    BlockKind::Free,
                    seen.addr,
                ));
            } else {
                let addr = seen.addr + HEADER;
                visit(span(seen.addr, HEADER, BlockKind::Header, addr));
                visit(span(addr, seen.size - HEADER, BlockKind::Payload, addr));
            }
            Ok(())
        })?;
        let tail = (base as u64 + self.size as u64 - self.end()) as u32;
        if tail > 0 {
            visit(span(self.end() as u32, tail, BlockKind::Padding, base));
        }
        Ok(())
    }

    fn check<S: Storage>(&self, ram: &Ram<S>) -> Result<(), AllocError> {
        self.scan(ram, &mut |_| Ok(()))
    }
}

impl MemAllocator for Simple {
    fn object(&self) -> Addr {
        self.base
    }

    fn mem_alloc<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        _site: CallSite,
    ) -> Result<Grant, AllocError> {
        match self.alloc_block(cx, size) {
            Ok((node, block)) => {
                let addr = node + HEADER;
                cx.emit(
                    self.name,
                    EventKind::Alloc {
                        addr,
                        size,
                        block,
                        owner: Owner::NONE,
                    },
                );
                Ok(Grant { addr, block })
            }
            Err(e) => Err(fault(cx, self.name, Op::Alloc { size }, e)),
        }
    }

    fn mem_realloc<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
        size: u32,
        _site: CallSite,
    ) -> Result<Addr, AllocError> {
        self.realloc(cx, addr, size, Owner::NONE)
    }

    fn mem_free<S: Storage>(&mut self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<u32, AllocError> {
        match self.free_block(cx, addr) {
            Ok(block) => {
                cx.emit(
                    self.name,
                    EventKind::Free {
                        addr,
                        block,
                        owner: Owner::NONE,
                    },
                );
                Ok(block)
            }
            Err(e) => Err(fault(cx, self.name, Op::Free { addr }, e)),
        }
    }

    /// `mem_allocator_simple_dump`: `used: %d bytes %d blocks`.
    fn mem_dump<S: Storage>(&mut self, cx: &mut Ctx<'_, S>) -> Result<(), AllocError> {
        let info = self.info(cx.ram)?;
        cx.emit(
            self.name,
            EventKind::Awtk(AwtkEvent::DumpHeap {
                used: info.used_bytes,
                blocks: info.used_block_nr,
            }),
        );
        Ok(())
    }
}
