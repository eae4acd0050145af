//! Fixed-size block pools: Nucleus partition pools and LiteOS membox.
//!
//! Nucleus PLUS, the RTOS under MTK's KAL, offers *partition pools*
//! (`NU_Create_Partition_Pool`, `NU_Allocate_Partition`, `NU_Deallocate_Partition`): a
//! memory range cut at creation into partitions of one fixed size, the free ones threaded
//! on a list through the partitions themselves. KAL's control buffers are such pools, one
//! per size class, carved from system memory at boot (seed 002). Huawei LiteOS has the same
//! thing as the *membox* (`LOS_MemboxInit`, `LOS_MemboxAlloc`, `LOS_MemboxFree`): each
//! block starts with a node whose first word is the next-free link while the block is free
//! and the magic word `OS_MEMBOX_MAGIC` (0xa55a5aa5) while it is in use, which is how
//! `LOS_MemboxFree` tells a genuine block from a stray pointer (`los_membox.c`; seed 004
//! shows the same magic-number idea in LiteOS's dynamic memory nodes).
//!
//! [`PartitionPool`] does both: allocation pops the head of the free list and freeing pushes
//! the block back on it, each in O(1). Because every block is the same size, the pool has no
//! external fragmentation; what it loses is *internal* fragmentation, the bytes between what
//! was asked for and the block size, which the header records so [`Allocator::walk`] can
//! show payload and padding apart.
//!
//! # RAM layout
//!
//! The pool control block (Nucleus `PM_PCB`) sits at the pool's first 4-aligned address;
//! the blocks follow it back to back (all words little-endian `u32`):
//!
//! ```text
//! control block (PCB_SIZE = 20 bytes)
//! +0   magic        POOL_MAGIC (0x50415254, "PART", Nucleus PM_PARTITION_ID)
//! +4   block size   payload bytes per block, a multiple of 4
//! +8   block count
//! +12  free count   blocks on the free list
//! +16  head         header address of the first free block, 0 when none is free
//!
//! block k, header at pcb + 20 + k * (12 + block size)
//! +0   link/magic   while free: header address of the next free block, 0 at the tail;
//!                   while in use: USED_MAGIC (0xa55a5aa5, LiteOS OS_MEMBOX_MAGIC)
//! +4   size         0 iff free; else the size asked for, 1..=block size
//! +8   owner        the owner's 16-bit id while in use
//! +12  payload      block size bytes, handed out at this address
//! ```
//!
//! Invariants (checked by [`Allocator::check`]):
//! - a block is free iff its size word is 0; then its link is 0 or the header of a block of
//!   this pool; a block in use has `USED_MAGIC` as its first word;
//! - the free list, followed from `head`, visits exactly `free count` distinct blocks and
//!   ends with a 0 link; they are exactly the blocks whose size word is 0.

use crate::allocator::{Allocator, Block, BlockKind, Ctx, Owner};
use crate::error::{AllocError, ConfigError};
use crate::name::Name;
use crate::ram::{Addr, Ram, Storage};
use crate::trace::{EventKind, Field, Op};

/// The pool control block's magic word: Nucleus's `PM_PARTITION_ID`, "PART" in ASCII.
pub const POOL_MAGIC: u32 = 0x5041_5254;
/// The first header word of a block in use: LiteOS's `OS_MEMBOX_MAGIC`.
pub const USED_MAGIC: u32 = 0xa55a_5aa5;
/// Bytes of the pool control block.
pub const PCB_SIZE: u32 = 20;
/// Bytes of each block's header.
pub const HEADER_SIZE: u32 = 12;
/// The largest block size a pool accepts.
pub const MAX_BLOCK_SIZE: u32 = 1 << 24;

const PCB_MAGIC: u32 = 0;
const PCB_BLOCK_SIZE: u32 = 4;
const PCB_COUNT: u32 = 8;
const PCB_FREE: u32 = 12;
const PCB_HEAD: u32 = 16;

const HDR_LINK: u32 = 0;
const HDR_SIZE: u32 = 4;
const HDR_OWNER: u32 = 8;

/// A pool's use, as read from RAM: for a control-buffer class, a line of its usage bar.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolUsage {
    /// Payload bytes per block.
    pub block_size: u32,
    /// Blocks in the pool.
    pub count: u32,
    /// Blocks on the free list.
    pub free: u32,
    /// Blocks handed out.
    pub in_use: u32,
    /// Bytes asked for by the blocks in use.
    pub asked: u32,
    /// Bytes given to the blocks in use: `in_use * block_size`.
    pub given: u32,
}

impl PoolUsage {
    /// Bytes given but not asked for: internal fragmentation.
    pub fn wasted(&self) -> u32 {
        self.given.saturating_sub(self.asked)
    }
}

/// What a header says about its block.
enum State {
    Free { next: Addr },
    Used { size: u32, owner: Owner },
}

/// A partition pool (Nucleus) or membox (LiteOS). See the module documentation.
///
/// The struct holds configuration and the control block's address; the free list, the
/// counts and every block's state are in RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionPool {
    name: Name,
    /// The range as given: `[base, base + size)`.
    base: Addr,
    size: u32,
    /// The control block: `base` rounded up to 4.
    pcb: Addr,
    /// Payload bytes per block, a multiple of 4, at most [`MAX_BLOCK_SIZE`].
    block_size: u32,
    /// Blocks in the pool, at least 1; all of them fit in `[pcb + PCB_SIZE, base + size)`.
    count: u32,
    /// The free-list number `link`/`unlink` events carry (the class index in a control
    /// buffer, 0 for a pool of its own).
    list: u32,
}

fn round4(size: u32) -> Option<u32> {
    size.checked_add(3).map(|s| s & !3)
}

/// Checks a block size and rounds it up to a multiple of 4.
fn payload_size(block_size: u32) -> Result<u32, ConfigError> {
    match round4(block_size) {
        Some(b) if block_size > 0 && b <= MAX_BLOCK_SIZE => Ok(b),
        _ => Err(ConfigError::BadBlockSize { size: block_size }),
    }
}

impl PartitionPool {
    /// Bytes a pool of `count` blocks of `block_size` needs from a 4-aligned base: the
    /// control block plus `count` headers and payloads. The control buffer carves exactly
    /// this from system memory for each class.
    pub fn bytes_needed(block_size: u32, count: u32) -> Result<u32, ConfigError> {
        let stride = payload_size(block_size)? + HEADER_SIZE;
        if count == 0 {
            return Err(ConfigError::NoBlocks);
        }
        let needed = PCB_SIZE as u64 + stride as u64 * count as u64;
        u32::try_from(needed).map_err(|_| ConfigError::TooSmall {
            needed: u32::MAX,
            available: u32::MAX,
        })
    }

    /// `NU_Create_Partition_Pool` / `LOS_MemboxInit`: a pool over `[base, base + size)`
    /// with as many blocks of `block_size` (rounded up to 4) as fit.
    pub fn new<S: Storage>(
        cx: &mut Ctx<'_, S>,
        name: Name,
        base: Addr,
        size: u32,
        block_size: u32,
    ) -> Result<PartitionPool, AllocError> {
        let result = PartitionPool::layout(cx.ram, name, base, size, block_size, None);
        PartitionPool::finish(cx, name, result)
    }

    /// A pool of exactly `count` blocks of `block_size` at `base`; it takes
    /// [`bytes_needed`](PartitionPool::bytes_needed) bytes, plus up to 3 if `base` is not
    /// 4-aligned.
    pub fn with_count<S: Storage>(
        cx: &mut Ctx<'_, S>,
        name: Name,
        base: Addr,
        block_size: u32,
        count: u32,
    ) -> Result<PartitionPool, AllocError> {
        let result = PartitionPool::bytes_needed(block_size, count)
            .map_err(AllocError::from)
            .and_then(|needed| {
                let lead = round4(base).map_or(0, |pcb| pcb.wrapping_sub(base));
                let size = needed.checked_add(lead).ok_or(ConfigError::NotInRam {
                    addr: base,
                    size: needed,
                })?;
                PartitionPool::layout(cx.ram, name, base, size, block_size, Some(count))
            });
        PartitionPool::finish(cx, name, result)
    }

    /// Formats a laid-out pool, or reports why there is none.
    fn finish<S: Storage>(
        cx: &mut Ctx<'_, S>,
        name: Name,
        result: Result<PartitionPool, AllocError>,
    ) -> Result<PartitionPool, AllocError> {
        let result = result.and_then(|pool| pool.format(cx).map(|()| pool));
        if let Err(error) = result {
            cx.emit(
                name,
                EventKind::Fault {
                    op: Op::Init,
                    error,
                },
            );
        }
        result
    }

    /// Validates the configuration and computes the layout, touching no RAM.
    fn layout<S: Storage>(
        ram: &Ram<S>,
        name: Name,
        base: Addr,
        size: u32,
        block_size: u32,
        count: Option<u32>,
    ) -> Result<PartitionPool, AllocError> {
        let block_size = payload_size(block_size)?;
        if size == 0 || !ram.contains(base, size) {
            return Err(ConfigError::NotInRam { addr: base, size }.into());
        }
        let stride = block_size + HEADER_SIZE;
        let needed_one = PCB_SIZE as u64 + stride as u64;
        let pcb = round4(base).ok_or(ConfigError::TooSmall {
            needed: needed_one as u32,
            available: size,
        })?;
        let lead = pcb.wrapping_sub(base) as u64;
        let room = (size as u64).saturating_sub(lead + PCB_SIZE as u64);
        let fits = room / stride as u64;
        let count = count.map_or(fits, |c| c as u64);
        if count == 0 || count > fits {
            let needed = lead + PCB_SIZE as u64 + stride as u64 * count.max(1);
            return Err(ConfigError::TooSmall {
                needed: needed.min(u32::MAX as u64) as u32,
                available: size,
            }
            .into());
        }
        Ok(PartitionPool {
            name,
            base,
            size,
            pcb,
            block_size,
            count: count as u32,
            list: 0,
        })
    }

    /// Zeroes the pool, writes the control block and threads every block on the free list
    /// in address order, then emits `init`.
    fn format<S: Storage>(&self, cx: &mut Ctx<'_, S>) -> Result<(), AllocError> {
        let name = self.name;
        let used_len = PCB_SIZE + self.count * self.stride();
        cx.fill(name, self.pcb, used_len, 0, Field::Data)?;
        cx.set_word(name, self.pcb + PCB_MAGIC, Field::Magic, POOL_MAGIC)?;
        cx.set_word(
            name,
            self.pcb + PCB_BLOCK_SIZE,
            Field::Size,
            self.block_size,
        )?;
        cx.set_word(name, self.pcb + PCB_COUNT, Field::Count, self.count)?;
        cx.set_word(name, self.pcb + PCB_FREE, Field::Count, self.count)?;
        cx.set_word(name, self.pcb + PCB_HEAD, Field::Head, self.header_of(0))?;
        for k in 0..self.count {
            let next = if k + 1 < self.count {
                self.header_of(k + 1)
            } else {
                0
            };
            cx.set_word(name, self.header_of(k) + HDR_LINK, Field::Next, next)?;
        }
        let init = EventKind::Init {
            base: self.base,
            size: self.size,
        };
        cx.emit(name, init);
        Ok(())
    }

    /// The free-list number `link` and `unlink` events of this pool carry.
    pub(crate) fn set_list(&mut self, list: u32) {
        self.list = list;
    }

    /// The first address of the pool as given.
    pub fn base(&self) -> Addr {
        self.base
    }

    /// The bytes the pool manages, control block included.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// The pool control block's address.
    pub fn control_block(&self) -> Addr {
        self.pcb
    }

    /// Payload bytes per block: the largest request the pool serves.
    pub fn block_size(&self) -> u32 {
        self.block_size
    }

    /// Blocks in the pool.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Bytes per block, header included.
    pub fn stride(&self) -> u32 {
        self.block_size + HEADER_SIZE
    }

    /// True iff `addr` lies in the pool's range.
    pub fn holds(&self, addr: Addr) -> bool {
        addr.wrapping_sub(self.base) < self.size
    }

    /// The header address of block `k` (`k < count`).
    fn header_of(&self, k: u32) -> Addr {
        self.pcb + PCB_SIZE + k * self.stride()
    }

    /// The address handed out for block `k`.
    pub fn payload_of(&self, k: u32) -> Option<Addr> {
        (k < self.count).then(|| self.header_of(k) + HEADER_SIZE)
    }

    /// The index of the block whose header is at `header`, if it is one.
    fn block_at(&self, header: Addr) -> Option<u32> {
        let off = header.checked_sub(self.pcb + PCB_SIZE)?;
        let k = off / self.stride();
        (off % self.stride() == 0 && k < self.count).then_some(k)
    }

    /// The index of the block handed out at `addr`, if `addr` is a block boundary.
    fn block_of_payload(&self, addr: Addr) -> Option<u32> {
        self.block_at(addr.checked_sub(HEADER_SIZE)?)
    }

    /// Blocks on the free list, from the control block.
    pub fn free_count<S: Storage>(&self, ram: &Ram<S>) -> Result<u32, AllocError> {
        Ok(self.pcb(ram)?.0)
    }

    /// Reads and validates the control block; returns the free count and the head.
    fn pcb<S: Storage>(&self, ram: &Ram<S>) -> Result<(u32, Addr), AllocError> {
        let word = |off: u32| ram.read_u32(self.pcb + off);
        let magic = word(PCB_MAGIC)?;
        if magic != POOL_MAGIC {
            return Err(AllocError::Corrupted {
                at: self.pcb + PCB_MAGIC,
                field: Field::Magic,
                expected: POOL_MAGIC,
                found: magic,
            });
        }
        let fixed = [
            (PCB_BLOCK_SIZE, Field::Size, self.block_size),
            (PCB_COUNT, Field::Count, self.count),
        ];
        for (off, field, expected) in fixed {
            let found = word(off)?;
            if found != expected {
                return Err(AllocError::Corrupted {
                    at: self.pcb + off,
                    field,
                    expected,
                    found,
                });
            }
        }
        let free = word(PCB_FREE)?;
        let head = word(PCB_HEAD)?;
        if free > self.count {
            return Err(AllocError::Inconsistent {
                at: self.pcb + PCB_FREE,
                rule: "the free count is above the block count",
            });
        }
        let head_ok = if free == 0 {
            head == 0
        } else {
            self.block_at(head).is_some()
        };
        if !head_ok {
            return Err(AllocError::Inconsistent {
                at: self.pcb + PCB_HEAD,
                rule: "the free-list head does not match the free count",
            });
        }
        Ok((free, head))
    }

    /// Reads block `k`'s header and says what state it records.
    fn state<S: Storage>(&self, ram: &Ram<S>, k: u32) -> Result<State, AllocError> {
        let header = self.header_of(k);
        let link = ram.read_u32(header + HDR_LINK)?;
        let size = ram.read_u32(header + HDR_SIZE)?;
        let owner = ram.read_u32(header + HDR_OWNER)?;
        if link == USED_MAGIC {
            if size == 0 || size > self.block_size {
                return Err(AllocError::Inconsistent {
                    at: header + HDR_SIZE,
                    rule: "a block in use records a size of 0 or above the block size",
                });
            }
            if owner > u16::MAX as u32 {
                return Err(AllocError::Inconsistent {
                    at: header + HDR_OWNER,
                    rule: "a block's owner is not a 16-bit id",
                });
            }
            return Ok(State::Used {
                size,
                owner: Owner(owner as u16),
            });
        }
        if size != 0 {
            // A size says "in use", so the first word must be the used magic.
            return Err(AllocError::Corrupted {
                at: header + HDR_LINK,
                field: Field::Magic,
                expected: USED_MAGIC,
                found: link,
            });
        }
        if link != 0 && self.block_at(link).is_none() {
            return Err(AllocError::Inconsistent {
                at: header + HDR_LINK,
                rule: "a free block's link is not a block of this pool",
            });
        }
        Ok(State::Free { next: link })
    }

    /// `NU_Allocate_Partition` / `LOS_MemboxAlloc`: pops the head of the free list.
    /// Emits the `meta` writes of head and free count, `unlink`, then the header writes;
    /// the caller emits the summary.
    pub(crate) fn take<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        owner: Owner,
    ) -> Result<Addr, AllocError> {
        if size == 0 {
            return Err(AllocError::ZeroSize);
        }
        if size > self.block_size {
            return Err(AllocError::TooLarge {
                requested: size,
                max: self.block_size,
            });
        }
        let (free, head) = self.pcb(cx.ram)?;
        let Some(k) = self.block_at(head) else {
            return Err(AllocError::OutOfMemory {
                requested: size,
                largest_free: 0,
            });
        };
        let next = match self.state(cx.ram, k)? {
            State::Free { next } => next,
            State::Used { .. } => {
                return Err(AllocError::Inconsistent {
                    at: head,
                    rule: "the free-list head is a block in use",
                })
            }
        };
        if (next == 0) != (free == 1) {
            return Err(AllocError::Inconsistent {
                at: head + HDR_LINK,
                rule: "the free list ends before or after the free count says",
            });
        }
        let name = self.name;
        cx.set_word(name, self.pcb + PCB_HEAD, Field::Head, next)?;
        cx.set_word(name, self.pcb + PCB_FREE, Field::Count, free - 1)?;
        let unlink = EventKind::Unlink {
            list: self.list,
            addr: head,
        };
        cx.emit(name, unlink);
        cx.set_word(name, head + HDR_LINK, Field::Magic, USED_MAGIC)?;
        cx.set_word(name, head + HDR_SIZE, Field::Size, size)?;
        cx.set_word(name, head + HDR_OWNER, Field::Owner, owner.0 as u32)?;
        Ok(head + HEADER_SIZE)
    }

    /// `NU_Deallocate_Partition` / `LOS_MemboxFree`: checks the block and pushes it on the
    /// free list. Emits the `meta` writes, then `link`; returns the block's owner. The
    /// caller emits the summary.
    pub(crate) fn release<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
    ) -> Result<Owner, AllocError> {
        let Some(k) = self.block_of_payload(addr) else {
            return Err(AllocError::InvalidPointer { addr });
        };
        let (free, head) = self.pcb(cx.ram)?;
        let owner = match self.state(cx.ram, k)? {
            State::Used { owner, .. } => owner,
            State::Free { .. } => return Err(AllocError::DoubleFree { addr }),
        };
        if free >= self.count {
            return Err(AllocError::Inconsistent {
                at: self.pcb + PCB_FREE,
                rule: "a block is in use while the free count says all are free",
            });
        }
        let name = self.name;
        let header = self.header_of(k);
        cx.set_word(name, header + HDR_SIZE, Field::Size, 0)?;
        cx.set_word(name, header + HDR_LINK, Field::Next, head)?;
        cx.set_word(name, self.pcb + PCB_HEAD, Field::Head, header)?;
        cx.set_word(name, self.pcb + PCB_FREE, Field::Count, free + 1)?;
        let link = EventKind::Link {
            list: self.list,
            addr: header,
        };
        cx.emit(name, link);
        Ok(owner)
    }

    /// The pool's use, read from RAM (validated as [`Allocator::check`] does).
    pub fn usage<S: Storage>(&self, ram: &Ram<S>) -> Result<PoolUsage, AllocError> {
        let mut usage = PoolUsage {
            block_size: self.block_size,
            count: self.count,
            ..PoolUsage::default()
        };
        self.check(ram)?;
        usage.free = self.free_count(ram)?;
        for k in 0..self.count {
            if let State::Used { size, .. } = self.state(ram, k)? {
                usage.in_use += 1;
                usage.asked = usage.asked.saturating_add(size);
            }
        }
        usage.given = usage.in_use.saturating_mul(self.block_size);
        Ok(usage)
    }
}

impl Allocator for PartitionPool {
    fn name(&self) -> Name {
        self.name
    }

    /// Emits the `meta` writes of the head and free count, `unlink`, the header's `meta`
    /// writes (magic, size, owner), then `alloc`.
    fn alloc_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        owner: Owner,
    ) -> Result<Addr, AllocError> {
        let addr = self.take(cx, size, owner)?;
        let alloc = EventKind::Alloc {
            addr,
            size,
            block: self.stride(),
            owner,
        };
        cx.emit(self.name, alloc);
        Ok(addr)
    }

    /// Emits the header's `meta` writes (size 0, next), those of the head and free count,
    /// `link`, then `free`.
    fn free_impl<S: Storage>(&mut self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<(), AllocError> {
        let owner = self.release(cx, addr)?;
        let free = EventKind::Free {
            addr,
            block: self.stride(),
            owner,
        };
        cx.emit(self.name, free);
        Ok(())
    }

    fn walk<S: Storage>(
        &self,
        ram: &Ram<S>,
        visit: &mut dyn FnMut(Block),
    ) -> Result<(), AllocError> {
        self.pcb(ram)?;
        let none = Owner::NONE;
        let mut span = |addr: Addr, len: u32, kind: BlockKind, block: Addr, owner: Owner| {
            if len > 0 {
                visit(Block {
                    addr,
                    len,
                    kind,
                    block,
                    owner,
                });
            }
        };
        let lead = self.pcb - self.base;
        span(self.base, lead, BlockKind::Padding, self.base, none);
        span(self.pcb, PCB_SIZE, BlockKind::Header, self.base, none);
        for k in 0..self.count {
            let header = self.header_of(k);
            let payload = header + HEADER_SIZE;
            match self.state(ram, k)? {
                State::Free { .. } => {
                    span(header, HEADER_SIZE, BlockKind::Header, header, none);
                    span(payload, self.block_size, BlockKind::Free, header, none);
                }
                State::Used { size, owner } => {
                    span(header, HEADER_SIZE, BlockKind::Header, payload, owner);
                    span(payload, size, BlockKind::Payload, payload, owner);
                    let padding = self.block_size - size;
                    span(payload + size, padding, BlockKind::Padding, payload, owner);
                }
            }
        }
        let used = lead + PCB_SIZE + self.count * self.stride();
        let tail_at = self.base.wrapping_add(used);
        span(
            tail_at,
            self.size - used,
            BlockKind::Padding,
            self.base,
            none,
        );
        Ok(())
    }

    fn check<S: Storage>(&self, ram: &Ram<S>) -> Result<(), AllocError> {
        let (free, head) = self.pcb(ram)?;
        // Every header first: a damaged magic is reported as such, before any list rule.
        let mut free_blocks = 0u32;
        for k in 0..self.count {
            if let State::Free { .. } = self.state(ram, k)? {
                free_blocks += 1;
            }
        }
        if free_blocks != free {
            return Err(AllocError::Inconsistent {
                at: self.pcb + PCB_FREE,
                rule: "the free count differs from the number of free blocks",
            });
        }
        // Following exactly `free` links and finding the end proves the list has no cycle;
        // its nodes are then `free` distinct free blocks, so all of them.
        let mut node = head;
        for _ in 0..free {
            let Some(k) = self.block_at(node) else {
                return Err(AllocError::Inconsistent {
                    at: node,
                    rule: "the free list ends before the free count says",
                });
            };
            node = match self.state(ram, k)? {
                State::Free { next } => next,
                State::Used { .. } => {
                    return Err(AllocError::Inconsistent {
                        at: node,
                        rule: "a block in use is on the free list",
                    })
                }
            };
        }
        if node != 0 {
            return Err(AllocError::Inconsistent {
                at: node,
                rule: "the free list is longer than the free count, or loops",
            });
        }
        Ok(())
    }
}
