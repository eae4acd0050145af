//! TLSF, Two-Level Segregated Fit: the O(1) dynamic memory allocator of LiteOS-M.
//!
//! Seed 004 says LiteOS's dynamic memory offers two algorithms; the free list kept sorted
//! small to large (best fit, [`crate::dynmem`]) is one, and LiteOS-M's `los_memory.c` is the
//! other: a TLSF allocator (Masmano, Ripoll, Crespo and Real, "TLSF: a New Dynamic Memory
//! Allocator for Real-Time Systems", ECRTS 2004). Its pool starts with a control block
//! (`OsMemPoolHead` with `freeListBitmap[]` and `freeList[]`), every block starts with a
//! node header (`OsMemNodeHead`: the physically previous node, the size with flag bits, the
//! magic word `OS_MEM_NODE_MAGIC` and the owning task id), and a sentinel node ends the pool.
//! `LOS_MemAlloc`, `LOS_MemFree` and `LOS_MemRealloc` are [`Allocator::alloc`],
//! [`Allocator::free`] and [`Allocator::realloc`] here.
//!
//! # The mechanism
//!
//! Free blocks are kept on many doubly linked lists, one per *size class*. Classes are
//! picked by two levels: the first level `fl` is the power of two of the size (its highest
//! set bit), the second level `sl` cuts each power-of-two range into `SL = 2^sl_log2` equal
//! slices. Sizes below `SMALL = SL * align` all have `fl = 0` and are sliced linearly, one
//! class per `align` bytes (the paper's small-block case). A bitmap says which classes are
//! non-empty: one first-level word (bit `fl` set iff some list of row `fl` is non-empty) and
//! one second-level word per row (bit `sl` set iff list `(fl, sl)` is non-empty).
//!
//! - [`TlsfConfig::mapping_insert`] gives the class a free block of `size` bytes lives in:
//!   `fl = fls(size) - (fls(SMALL) - 1)`, `sl = (size >> (fls(size) - sl_log2)) - SL`.
//! - [`TlsfConfig::mapping_search`] first rounds the size up to the next class boundary
//!   (`size + 2^(fls(size) - sl_log2) - 1`), so that *every* block in the class it names,
//!   and in every class above, is big enough. The search then takes the head of the first
//!   non-empty list at or above that class with two find-first-set operations on the
//!   bitmaps: a constant number of reads whatever the number of free blocks. That is the
//!   point of TLSF against best fit, whose search walks a list ([`EventKind::Search`]'s
//!   `visited` shows it: at most 4 words, plus the list walk below when it is on).
//! - The price is *good fit*, not best fit: a block in the request's own class may be big
//!   enough and still be skipped, because the class also holds blocks that are too small.
//!   When no class above has a block the paper's TLSF fails even if such a block exists.
//!   LiteOS-M then searches the request's own list (`OsMemFindCurSuitableBlock`);
//!   [`TlsfConfig::search_own_class`] turns that on.
//! - Alloc removes the block from its list, splits off the rest when the rest can hold a
//!   block of its own ([`Tlsf::min_block_size`]), and puts the rest on its list.
//! - Free checks the header, marks the block free, merges it with a free physical
//!   neighbour on either side (found in O(1) through the previous-block pointer and the
//!   size), and puts the result on its list. No two free blocks are ever neighbours.
//!
//! # RAM layout
//!
//! The pool `[base, base + size)`:
//!
//! ```text
//! base        control block: fl bitmap, sl bitmaps, list heads (see below)
//! first       block 0 header | payload or free bytes
//!             block 1 header | ...
//! sentinel    sentinel header (8 bytes: phys_prev, size word 0 | USED)
//!             padding up to base + size (when size is not a multiple of align)
//! ```
//!
//! Control block (all words little-endian u32; 0 means "no block"):
//!
//! | offset | field | meaning |
//! |---|---|---|
//! | `0` | `bitmap` | bit `fl` set iff `sub_bitmap[fl] != 0` |
//! | `4 + 4*fl` | `sub_bitmap[fl]` | bit `sl` set iff `head[fl*SL + sl] != 0` |
//! | `4 + 4*FL + 4*(fl*SL + sl)` | `head[fl][sl]` | first free block of class `(fl, sl)` |
//!
//! so it takes `4 + 4*FL + 4*FL*SL` bytes, rounded up to the alignment. `FL` is chosen
//! to fit the pool: `FL = fl(pool size - 1) + 1`. The bitmaps are what make the search O(1),
//! and the head matrix is what they cost. For a 64 KiB pool with 4-byte alignment:
//!
//! | `sl_log2` | `SL` | `FL` | control block |
//! |---|---|---|---|
//! | 2 | 4 | 13 | 264 bytes |
//! | 3 | 8 | 12 | 436 bytes |
//! | 4 (default) | 16 | 11 | 752 bytes |
//! | 5 | 32 | 10 | 1324 bytes |
//!
//! ([`Tlsf::control_block_size`] computes it for any pool.)
//!
//! Block header, [`HEADER_SIZE`] = 16 bytes at the block's address `h`; the payload starts
//! at `h + 16`, so every handed-out address is aligned when `first` is:
//!
//! | offset | used block | free block |
//! |---|---|---|
//! | `0` | `phys_prev`: the physically previous block, 0 for the first | same |
//! | `4` | `size`: block bytes (header included) \| flags | same |
//! | `8` | `magic` = [`MAGIC`] (`OS_MEM_NODE_MAGIC`) | `next`: next block on its free list |
//! | `12` | `owner`: task id in bits 0..16, slack in bits 16..24 | `prev`: previous block on its free list |
//!
//! Flags in the size word's low bits (sizes are multiples of 4): [`FREE`] (bit 0) is set
//! iff the block is free; [`PREV_FREE`] (bit 1) is set iff the physically previous block is
//! free. The slack is the block's payload bytes beyond the size asked for (alignment and an
//! unsplittable rest): the real LiteOS-M does not record it; the simulation does, so that a
//! learner sees internal fragmentation as padding. A used header's magic and owner words
//! are where a free block keeps its list links, as in `OsMemFreeNodeHead`.
//!
//! Differences from the real allocators, on purpose: the previous-block pointer is a full
//! word of every header (the original TLSF stores it in the last word of the previous
//! block's payload, valid only while that block is free); the magic and the owner are
//! always present (LiteOS-M has them behind `LOSCFG_BASE_MEM_NODE_INTEGRITY_CHECK` and
//! `LOSCFG_TASK_MEM_USED`); LiteOS-M keeps its small classes linear up to 128 bytes with
//! one flat bitmap, where this module follows the paper's two levels exactly.
//!
//! # Invariants (what [`Allocator::check`] verifies)
//!
//! - The blocks tile `[first, sentinel)` exactly; each block's `phys_prev` is the block
//!   before it (0 for the first), the sentinel's is the last block.
//! - Every size is at least [`Tlsf::min_block_size`] and a multiple of the alignment.
//! - `PREV_FREE` is set iff the previous block is free; no two free blocks are neighbours.
//! - A used block holds [`MAGIC`], an owner word with bits 24..32 clear and a slack
//!   smaller than the minimum block and than its payload.
//! - A free block is on exactly the list its size maps to (`mapping_insert`), and the
//!   lists' links agree both ways; the lists hold exactly the free blocks.
//! - Bitmap bits are set iff their lists are non-empty; no bit is set beyond `FL` or `SL`.

use crate::allocator::{Allocator, Block, BlockKind, Ctx, Owner};
use crate::error::{AllocError, ConfigError};
use crate::name::Name;
use crate::ram::{Addr, Ram, Storage};
use crate::trace::{EventKind, Field, Op};

/// Bytes of a block header; the payload starts this far after the block.
pub const HEADER_SIZE: u32 = 16;
/// Bytes of the sentinel header that ends the pool (`phys_prev` and a size word of 0).
pub const SENTINEL_SIZE: u32 = 8;
/// The word at offset 8 of every used header: LiteOS-M's `OS_MEM_NODE_MAGIC`.
pub const MAGIC: u32 = 0xABCD_DCBA;
/// Size-word flag: this block is free.
pub const FREE: u32 = 1;
/// Size-word flag: the physically previous block is free.
pub const PREV_FREE: u32 = 2;
/// The largest `sl_log2`: a second-level bitmap is one 32-bit word.
pub const MAX_SL_LOG2: u32 = 5;

const FLAGS: u32 = FREE | PREV_FREE;

/// Header word offsets.
const PHYS_PREV: u32 = 0;
const SIZE: u32 = 4;
/// The magic word of a used block, the `next` link of a free one.
const NEXT_OR_MAGIC: u32 = 8;
/// The owner word of a used block, the `prev` link of a free one.
const PREV_OR_OWNER: u32 = 12;

/// Owner word: the task id is in the low 16 bits, the slack in the next 8.
const OWNER_MASK: u32 = 0xffff;
const SLACK_SHIFT: u32 = 16;

/// How a TLSF pool slices sizes into classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsfConfig {
    /// `SL_INDEX_COUNT_LOG2`: each power-of-two range is cut into `2^sl_log2` classes.
    /// 0 to [`MAX_SL_LOG2`]; the default 4 gives 16, as in the reference TLSF.
    pub sl_log2: u32,
    /// Alignment of block sizes and handed-out addresses: 4 or 8.
    pub align: u32,
    /// When no class at or above the rounded-up class has a block, walk the request's own
    /// class for a block that fits, as LiteOS-M's `OsMemFindCurSuitableBlock` does. Off
    /// by default: the paper's TLSF then fails.
    pub search_own_class: bool,
}

impl TlsfConfig {
    /// 16 second-level classes, 4-byte alignment, the paper's search.
    pub const DEFAULT: TlsfConfig = TlsfConfig {
        sl_log2: 4,
        align: 4,
        search_own_class: false,
    };

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.align != 4 && self.align != 8 {
            return Err(ConfigError::BadAlignment { align: self.align });
        }
        if self.sl_log2 > MAX_SL_LOG2 {
            return Err(ConfigError::TooMany { max: MAX_SL_LOG2 });
        }
        Ok(())
    }

    /// `SL_INDEX_COUNT`: second-level classes per first level.
    pub fn sl_count(&self) -> u32 {
        1 << self.sl_log2.min(MAX_SL_LOG2)
    }

    fn align_log2(&self) -> u32 {
        self.align.max(1).trailing_zeros()
    }

    /// `FL_INDEX_SHIFT`: `log2(SMALL)`.
    fn fl_shift(&self) -> u32 {
        self.sl_log2.min(MAX_SL_LOG2) + self.align_log2()
    }

    /// `SMALL_BLOCK_SIZE`: sizes below it have `fl = 0` and classes `align` bytes wide.
    pub fn small_block_size(&self) -> u32 {
        1 << self.fl_shift()
    }

    /// The class `(fl, sl)` a free block of `size` bytes is kept in (the paper's
    /// `mapping_insert`).
    pub fn mapping_insert(&self, size: u32) -> (u32, u32) {
        self.insert_u64(size as u64)
    }

    /// The first class whose every block holds `size` bytes (the paper's
    /// `mapping_search`): `size` rounded up to the next class boundary, then mapped. The
    /// result may lie beyond the pool's first-level count; then no block can serve it.
    pub fn mapping_search(&self, size: u32) -> (u32, u32) {
        let mut size = size as u64;
        if size >= self.small_block_size() as u64 {
            let round = (1u64 << (fls(size) - self.sl_log2.min(MAX_SL_LOG2))) - 1;
            size += round;
        }
        self.insert_u64(size)
    }

    fn insert_u64(&self, size: u64) -> (u32, u32) {
        let sl_log2 = self.sl_log2.min(MAX_SL_LOG2);
        if size < self.small_block_size() as u64 {
            // Small blocks: one class per `align` bytes, all in the first row.
            (0, (size >> self.align_log2()) as u32)
        } else {
            let f = fls(size);
            let sl = ((size >> (f - sl_log2)) as u32) ^ (1 << sl_log2);
            (f - (self.fl_shift() - 1), sl)
        }
    }

    /// The smallest size class `(fl, sl)` holds (its lower bound; the next class starts
    /// where it ends).
    /// Saturates at `u64::MAX` for rows far beyond any 32-bit pool.
    pub fn class_min_size(&self, fl: u32, sl: u32) -> u64 {
        let sl = (sl as u64).min(self.sl_count() as u64 - 1);
        if fl == 0 {
            return sl << self.align_log2();
        }
        let f = (fl as u64 + self.fl_shift() as u64 - 1).min(63) as u32;
        let step = f - self.sl_log2.min(MAX_SL_LOG2);
        (1u64 << f).saturating_add(sl << step)
    }

    /// First-level rows a pool of `pool_size` bytes needs: one more than the row of
    /// `pool_size - 1`, an upper bound of any block in it.
    pub fn fl_count(&self, pool_size: u32) -> u32 {
        self.mapping_insert(pool_size.saturating_sub(1)).0 + 1
    }

    /// Bytes of the control words alone: the first-level bitmap, `FL` second-level
    /// bitmaps and the `FL * SL` list heads.
    fn control_words_len(&self, pool_size: u32) -> u64 {
        let fl = self.fl_count(pool_size) as u64;
        4 + 4 * fl + 4 * fl * self.sl_count() as u64
    }

    /// The smallest block: a header and one aligned unit of payload.
    pub fn min_block_size(&self) -> u32 {
        HEADER_SIZE + self.align
    }

    /// The block size a request of `request` bytes needs (payload rounded up to the
    /// alignment, plus the header); `None` when it cannot be represented.
    pub fn block_size_for(&self, request: u32) -> Option<u32> {
        let align = self.align as u64;
        let payload = (request as u64).div_ceil(align) * align;
        u32::try_from(payload + HEADER_SIZE as u64)
            .ok()
            .map(|b| b.max(self.min_block_size()))
    }
}

impl Default for TlsfConfig {
    fn default() -> TlsfConfig {
        TlsfConfig::DEFAULT
    }
}

/// The index of the highest set bit ("find last set"); `x` must not be 0.
fn fls(x: u64) -> u32 {
    63 - x.leading_zeros()
}

/// A TLSF pool in the simulated RAM.
///
/// The struct holds only the configuration and the root addresses the configuration
/// determines; every bitmap, list head, header and link is in RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tlsf {
    name: Name,
    config: TlsfConfig,
    /// The pool's first byte: the control block starts here.
    base: Addr,
    size: u32,
    /// First-level rows (`FL`); every block size maps to a row below it.
    fl_count: u32,
    /// The first block; `first - base` is the control block with its alignment padding.
    first: Addr,
    /// The sentinel header; blocks tile `[first, sentinel)`.
    sentinel: Addr,
}

/// A used block, checked.
#[derive(Clone, Copy, Debug)]
struct Used {
    /// Header address.
    h: Addr,
    /// Size word (size and flags).
    word: u32,
    /// Owner word.
    owner: u32,
}

impl Used {
    fn size(&self) -> u32 {
        self.word & !FLAGS
    }
}

impl Tlsf {
    /// Builds a pool over `[base, base + size)`: zeroes the control block, makes the whole
    /// pool one free block ended by the sentinel, and emits `init`. Fails (with a `fault`
    /// event) when the range is not in RAM, the configuration is bad or the pool cannot
    /// hold its control block, one block and the sentinel.
    pub fn new<S: Storage>(
        cx: &mut Ctx<'_, S>,
        name: Name,
        base: Addr,
        size: u32,
        config: TlsfConfig,
    ) -> Result<Tlsf, AllocError> {
        let result = Tlsf::layout(cx.ram, name, base, size, config)
            .map_err(AllocError::Config)
            .and_then(|pool| pool.format(cx).map(|()| pool));
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

    /// Where everything goes, without touching RAM.
    fn layout<S: Storage>(
        ram: &Ram<S>,
        name: Name,
        base: Addr,
        size: u32,
        config: TlsfConfig,
    ) -> Result<Tlsf, ConfigError> {
        config.validate()?;
        if size == 0 || !ram.contains(base, size) {
            return Err(ConfigError::NotInRam { addr: base, size });
        }
        let align = config.align as u64;
        let end = (base as u64 + size as u64) / align * align;
        let first = (base as u64 + config.control_words_len(size)).div_ceil(align) * align;
        let needed = first - base as u64 + config.min_block_size() as u64 + SENTINEL_SIZE as u64;
        if first + config.min_block_size() as u64 + SENTINEL_SIZE as u64 > end {
            return Err(ConfigError::TooSmall {
                needed: u32::try_from(needed).unwrap_or(u32::MAX),
                available: size,
            });
        }
        // Both fit in u32: they are below `end`, which is at most 2^32.
        Ok(Tlsf {
            name,
            config,
            base,
            size,
            fl_count: config.fl_count(size),
            first: first as Addr,
            sentinel: (end - SENTINEL_SIZE as u64) as Addr,
        })
    }

    /// Writes the empty pool: a zeroed control block, one free block, the sentinel.
    fn format<S: Storage>(&self, cx: &mut Ctx<'_, S>) -> Result<(), AllocError> {
        let name = self.name;
        cx.fill(name, self.base, self.first - self.base, 0, Field::Head)?;
        let block = self.sentinel - self.first;
        cx.set_word(name, self.first + PHYS_PREV, Field::PhysPrev, 0)?;
        cx.set_word(name, self.first + SIZE, Field::Size, block | FREE)?;
        cx.set_word(name, self.sentinel + PHYS_PREV, Field::PhysPrev, self.first)?;
        cx.set_word(name, self.sentinel + SIZE, Field::Size, PREV_FREE)?;
        self.link(cx, self.first, block)?;
        cx.emit(
            name,
            EventKind::Init {
                base: self.base,
                size: self.size,
            },
        );
        Ok(())
    }

    /// Bytes the control block of a pool of `pool_size` bytes takes with `config`
    /// (`4 + 4*FL + 4*FL*SL`, rounded up to the alignment; a pool whose base is not
    /// aligned pads a little more).
    pub fn control_block_size(pool_size: u32, config: &TlsfConfig) -> Result<u32, ConfigError> {
        config.validate()?;
        let align = config.align as u64;
        let len = config.control_words_len(pool_size).div_ceil(align) * align;
        u32::try_from(len).map_err(|_| ConfigError::TooSmall {
            needed: u32::MAX,
            available: pool_size,
        })
    }

    pub fn config(&self) -> &TlsfConfig {
        &self.config
    }

    pub fn base(&self) -> Addr {
        self.base
    }

    pub fn size(&self) -> u32 {
        self.size
    }

    /// `FL`: first-level rows of this pool.
    pub fn fl_count(&self) -> u32 {
        self.fl_count
    }

    /// `SL`: second-level classes per row.
    pub fn sl_count(&self) -> u32 {
        self.config.sl_count()
    }

    /// The first block's header address; the control block is `[base, first_block)`.
    pub fn first_block(&self) -> Addr {
        self.first
    }

    /// The sentinel header's address.
    pub fn sentinel(&self) -> Addr {
        self.sentinel
    }

    /// Bytes from the pool base to the first block: the control block and its padding.
    pub fn control_block_len(&self) -> u32 {
        self.first - self.base
    }

    /// The smallest block ([`HEADER_SIZE`] plus one alignment unit); a split happens only
    /// when the rest is at least this big.
    pub fn min_block_size(&self) -> u32 {
        self.config.min_block_size()
    }

    /// The class `(fl, sl)` a free block of `size` bytes is kept in.
    pub fn mapping_insert(&self, size: u32) -> (u32, u32) {
        self.config.mapping_insert(size)
    }

    /// The class a search for a block of `size` bytes starts at.
    pub fn mapping_search(&self, size: u32) -> (u32, u32) {
        self.config.mapping_search(size)
    }

    /// The list number `fl * SL + sl` that `link`/`unlink` events carry.
    pub fn list_index(&self, fl: u32, sl: u32) -> u32 {
        fl.saturating_mul(self.sl_count()).saturating_add(sl)
    }

    /// The first-level bitmap word.
    pub fn fl_bitmap<S: Storage>(&self, ram: &Ram<S>) -> Result<u32, AllocError> {
        rd(ram, self.base)
    }

    /// The second-level bitmap word of row `fl`; 0 for a row the pool does not have.
    pub fn sl_bitmap<S: Storage>(&self, ram: &Ram<S>, fl: u32) -> Result<u32, AllocError> {
        if fl >= self.fl_count {
            return Ok(0);
        }
        rd(ram, self.sl_addr(fl))
    }

    /// The head of list `(fl, sl)`: a block header address, 0 when the list is empty or
    /// does not exist.
    pub fn free_list_head<S: Storage>(
        &self,
        ram: &Ram<S>,
        fl: u32,
        sl: u32,
    ) -> Result<Addr, AllocError> {
        if fl >= self.fl_count || sl >= self.sl_count() {
            return Ok(0);
        }
        rd(ram, self.head_addr(self.list_index(fl, sl)))
    }

    // ----- addresses of the control words -------------------------------------------

    fn sl_addr(&self, fl: u32) -> Addr {
        self.base.wrapping_add(4).wrapping_add(fl.wrapping_mul(4))
    }

    fn head_addr(&self, list: u32) -> Addr {
        self.sl_addr(self.fl_count)
            .wrapping_add(list.wrapping_mul(4))
    }

    /// The list a free block of `size` bytes belongs on, or `None` beyond the pool's rows.
    fn list_of(&self, size: u32) -> Option<(u32, u32, u32)> {
        let (fl, sl) = self.config.mapping_insert(size);
        (fl < self.fl_count).then(|| (fl, sl, self.list_index(fl, sl)))
    }

    // ----- free-list operations ----------------------------------------------------

    /// Puts the free block `h` of `size` bytes at the front of its list and sets its
    /// bitmap bits (the paper's `insert_block`).
    fn link<S: Storage>(&self, cx: &mut Ctx<'_, S>, h: Addr, size: u32) -> Result<(), AllocError> {
        let (fl, sl, list) = self.list_of(size).ok_or(AllocError::Inconsistent {
            at: h.wrapping_add(SIZE),
            rule: "a free block's size maps beyond the pool's first-level rows",
        })?;
        let name = self.name;
        cx.emit(name, EventKind::Link { list, addr: h });
        let head = cx.word(self.head_addr(list))?;
        cx.set_word(name, h.wrapping_add(NEXT_OR_MAGIC), Field::Next, head)?;
        cx.set_word(name, h.wrapping_add(PREV_OR_OWNER), Field::Prev, 0)?;
        if head != 0 {
            cx.set_word(name, head.wrapping_add(PREV_OR_OWNER), Field::Prev, h)?;
        }
        cx.set_word(name, self.head_addr(list), Field::Head, h)?;
        let sub = cx.word(self.sl_addr(fl))?;
        if sub & (1 << sl) == 0 {
            cx.set_word(name, self.sl_addr(fl), Field::SubBitmap, sub | (1 << sl))?;
        }
        let top = cx.word(self.base)?;
        if top & (1 << fl) == 0 {
            cx.set_word(name, self.base, Field::Bitmap, top | (1 << fl))?;
        }
        Ok(())
    }

    /// Takes the free block `h` of `size` bytes off its list, clearing bitmap bits when
    /// the list empties (the paper's `remove_block`).
    fn unlink<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        h: Addr,
        size: u32,
    ) -> Result<(), AllocError> {
        let (fl, sl, list) = self.list_of(size).ok_or(AllocError::Inconsistent {
            at: h.wrapping_add(SIZE),
            rule: "a free block's size maps beyond the pool's first-level rows",
        })?;
        let name = self.name;
        cx.emit(name, EventKind::Unlink { list, addr: h });
        let next = cx.word(h.wrapping_add(NEXT_OR_MAGIC))?;
        let prev = cx.word(h.wrapping_add(PREV_OR_OWNER))?;
        if next != 0 {
            cx.set_word(name, next.wrapping_add(PREV_OR_OWNER), Field::Prev, prev)?;
        }
        if prev != 0 {
            cx.set_word(name, prev.wrapping_add(NEXT_OR_MAGIC), Field::Next, next)?;
            return Ok(());
        }
        cx.set_word(name, self.head_addr(list), Field::Head, next)?;
        if next == 0 {
            let sub = cx.word(self.sl_addr(fl))? & !(1 << sl);
            cx.set_word(name, self.sl_addr(fl), Field::SubBitmap, sub)?;
            if sub == 0 {
                let top = cx.word(self.base)? & !(1 << fl);
                cx.set_word(name, self.base, Field::Bitmap, top)?;
            }
        }
        Ok(())
    }

    /// Finds a free block of at least `needed` bytes: two find-first-set operations on
    /// the bitmaps from the rounded-up class (the paper's `find_suitable_block`), then,
    /// when configured, a walk of the request's own class. Emits `search` with the words
    /// it read. Returns the block's list and address.
    fn search<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        request: u32,
        needed: u32,
    ) -> Result<Option<(u32, Addr)>, AllocError> {
        let sl_count = self.sl_count();
        let mut visited = 0u32;
        let (fl, sl) = self.config.mapping_search(needed);
        let mut found = None;
        if fl < self.fl_count {
            visited += 1;
            let mut row = fl;
            let mut sub = cx.word(self.sl_addr(fl))? & u32::MAX.checked_shl(sl).unwrap_or(0);
            if sub == 0 {
                // Nothing left in this row: the first non-empty row above it.
                visited += 1;
                let top = cx.word(self.base)? & u32::MAX.checked_shl(fl + 1).unwrap_or(0);
                if top != 0 {
                    row = top.trailing_zeros();
                    if row >= self.fl_count {
                        return Err(self.diagnose(cx.ram, bitmap_error(self.base)));
                    }
                    visited += 1;
                    sub = cx.word(self.sl_addr(row))?;
                }
            }
            if sub != 0 {
                let col = sub.trailing_zeros();
                if col >= sl_count {
                    return Err(self.diagnose(cx.ram, bitmap_error(self.sl_addr(row))));
                }
                visited += 1;
                let list = self.list_index(row, col);
                found = Some((list, cx.word(self.head_addr(list))?));
            }
        }
        if found.is_none() && self.config.search_own_class {
            let (own_fl, own_sl) = self.config.mapping_insert(needed);
            if (own_fl, own_sl) != (fl, sl) && own_fl < self.fl_count {
                let from = self.list_index(fl, sl);
                let list = self.list_index(own_fl, own_sl);
                cx.emit(self.name, EventKind::Fallback { from, to: list });
                let mut h = cx.word(self.head_addr(list))?;
                visited += 1;
                for _ in 0..self.max_blocks() {
                    if h == 0 {
                        break;
                    }
                    if !self.is_block_addr(h) {
                        return Err(self.diagnose(cx.ram, link_error(h)));
                    }
                    if size_of(cx.word(h.wrapping_add(SIZE))?) >= needed {
                        found = Some((list, h));
                        break;
                    }
                    h = cx.word(h.wrapping_add(NEXT_OR_MAGIC))?;
                    visited += 1;
                }
            }
        }
        cx.emit(
            self.name,
            EventKind::Search {
                size: request,
                visited,
            },
        );
        Ok(found)
    }

    // ----- the operations, without their summary events ---------------------------

    /// Hands out a block for `request` bytes; returns its header and size.
    fn alloc_block<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        request: u32,
        owner: Owner,
    ) -> Result<(Addr, u32), AllocError> {
        if request == 0 {
            return Err(AllocError::ZeroSize);
        }
        let biggest = self.sentinel - self.first;
        let needed = match self.config.block_size_for(request) {
            Some(needed) if needed <= biggest => needed,
            _ => {
                return Err(AllocError::TooLarge {
                    requested: request,
                    max: biggest - HEADER_SIZE,
                })
            }
        };
        let Some((list, h)) = self.search(cx, request, needed)? else {
            return Err(AllocError::OutOfMemory {
                requested: request,
                largest_free: self.largest_free(cx.ram),
            });
        };
        // Check the block and every list this operation touches before the first write.
        let ram = &*cx.ram;
        let block = self.free_size(ram, h);
        let ok = match block {
            Some(size) => {
                size >= needed
                    && self.list_of(size).map(|l| l.2) == Some(list)
                    && self.is_linked(ram, h, size)
                    && (size - needed < self.min_block_size() || self.list_ok(ram, size - needed))
            }
            None => false,
        };
        let Some(block) = block.filter(|_| ok) else {
            return Err(self.diagnose(
                ram,
                AllocError::Inconsistent {
                    at: self.head_addr(list),
                    rule: "the free list's first block is not a free block of that class",
                },
            ));
        };

        let name = self.name;
        self.unlink(cx, h, block)?;
        let next = h.wrapping_add(block);
        let used = if block - needed >= self.min_block_size() {
            let rest = h + needed;
            let rest_size = block - needed;
            cx.emit(
                name,
                EventKind::Split {
                    addr: h,
                    size: needed,
                    rest,
                    rest_size,
                },
            );
            cx.set_word(name, rest + PHYS_PREV, Field::PhysPrev, h)?;
            cx.set_word(name, rest + SIZE, Field::Size, rest_size | FREE)?;
            // The next block still follows a free block: its PREV_FREE bit stays set.
            cx.set_word(name, next + PHYS_PREV, Field::PhysPrev, rest)?;
            self.link(cx, rest, rest_size)?;
            needed
        } else {
            let word = cx.word(next + SIZE)?;
            cx.set_word(name, next + SIZE, Field::Size, word & !PREV_FREE)?;
            block
        };
        // A free block never follows a free block, so PREV_FREE is clear.
        cx.set_word(name, h + SIZE, Field::Size, used)?;
        cx.set_word(name, h + NEXT_OR_MAGIC, Field::Magic, MAGIC)?;
        let word = owner_word(owner.0 as u32, used, request);
        cx.set_word(name, h + PREV_OR_OWNER, Field::Owner, word)?;
        Ok((h, used))
    }

    /// Takes back the block handed out at `addr`: marks it free, merges it with its free
    /// neighbours and links the result. Returns the checked block as it was.
    fn free_block<S: Storage>(&self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<Used, AllocError> {
        let ram = &*cx.ram;
        let used = self.used_block(ram, addr)?;
        let Used { h, word, .. } = used;
        let size = used.size();
        // The neighbours were checked structurally by `used_block`; check their links
        // and the target list before the first write.
        let prev = if word & PREV_FREE != 0 {
            let p = rd(ram, h)?;
            Some((p, h - p))
        } else {
            None
        };
        let next = h + size;
        let next_size = self.free_size(ram, next).filter(|_| next != self.sentinel);
        let merged = size + prev.map_or(0, |p| p.1) + next_size.unwrap_or(0);
        let links_ok = prev.is_none_or(|(p, s)| self.is_linked(ram, p, s))
            && next_size.is_none_or(|s| self.is_linked(ram, next, s))
            && self.list_ok(ram, merged);
        if !links_ok {
            return Err(self.diagnose(
                ram,
                AllocError::Inconsistent {
                    at: h,
                    rule: "a free neighbour of the block is not properly on its free list",
                },
            ));
        }

        let name = self.name;
        // Marking the header free first means a stale copy of it, left inside a merged
        // block, can never pass for a used block.
        cx.set_word(
            name,
            h + SIZE,
            Field::Size,
            size | FREE | (word & PREV_FREE),
        )?;
        let mut block = h;
        let mut block_size = size;
        if let Some((p, p_size)) = prev {
            self.unlink(cx, p, p_size)?;
            block = p;
            block_size += p_size;
            self.merge(cx, p, block_size, h)?;
        }
        if let Some(n_size) = next_size {
            self.unlink(cx, next, n_size)?;
            block_size += n_size;
            self.merge(cx, block, block_size, next)?;
        }
        let after = block + block_size;
        if rd(cx.ram, after + PHYS_PREV)? != block {
            cx.set_word(name, after + PHYS_PREV, Field::PhysPrev, block)?;
        }
        let after_word = rd(cx.ram, after + SIZE)?;
        if after_word & PREV_FREE == 0 {
            cx.set_word(name, after + SIZE, Field::Size, after_word | PREV_FREE)?;
        }
        self.link(cx, block, block_size)?;
        Ok(used)
    }

    /// Records that `absorbed` became part of the free block at `block`, now `size`
    /// bytes (the paper's `block_absorb`). The block before it is used, so the new size
    /// word carries only `FREE`.
    fn merge<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        block: Addr,
        size: u32,
        absorbed: Addr,
    ) -> Result<(), AllocError> {
        cx.emit(
            self.name,
            EventKind::Merge {
                addr: block,
                size,
                absorbed,
            },
        );
        cx.set_word(self.name, block + SIZE, Field::Size, size | FREE)
    }

    /// Resizes the used block at `addr` in place when it can: shrinking splits off the
    /// tail (merged with a free next block), growing absorbs a free next block that is
    /// big enough. Returns `false`, having changed nothing, when it cannot.
    fn resize_in_place<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        used: Used,
        request: u32,
        needed: u32,
    ) -> Result<bool, AllocError> {
        let ram = &*cx.ram;
        let Used { h, word, owner } = used;
        let size = used.size();
        let next = h + size;
        let next_size = self.free_size(ram, next).filter(|_| next != self.sentinel);
        let total = if needed <= size {
            size
        } else {
            match next_size {
                Some(n) if size + n >= needed => size + n,
                _ => return Ok(false),
            }
        };
        let shrink = needed <= size;
        // The size the block keeps, and the free rest cut from its end (merged with a
        // free next block when the block shrinks).
        let keep = if total - needed >= self.min_block_size() {
            needed
        } else {
            total
        };
        let cut = total - keep;
        let rest = match next_size {
            Some(n) if shrink && cut > 0 => cut + n,
            _ => cut,
        };
        let ok = next_size.is_none_or(|s| self.is_linked(ram, next, s))
            && (rest == 0 || self.list_ok(ram, rest));
        if !ok {
            return Err(self.diagnose(
                ram,
                AllocError::Inconsistent {
                    at: next,
                    rule: "the free block after the block is not properly on its free list",
                },
            ));
        }

        let name = self.name;
        if let Some(n) = next_size.filter(|_| !shrink) {
            self.unlink(cx, next, n)?;
            cx.emit(
                name,
                EventKind::Merge {
                    addr: h,
                    size: total,
                    absorbed: next,
                },
            );
        }
        let r = h + keep;
        if cut > 0 {
            cx.emit(
                name,
                EventKind::Split {
                    addr: h,
                    size: keep,
                    rest: r,
                    rest_size: cut,
                },
            );
            if let Some(n) = next_size.filter(|_| shrink) {
                self.unlink(cx, next, n)?;
                cx.emit(
                    name,
                    EventKind::Merge {
                        addr: r,
                        size: rest,
                        absorbed: next,
                    },
                );
            }
        }
        if keep != size {
            cx.set_word(name, h + SIZE, Field::Size, keep | (word & PREV_FREE))?;
        }
        if cut > 0 {
            cx.set_word(name, r + PHYS_PREV, Field::PhysPrev, h)?;
            cx.set_word(name, r + SIZE, Field::Size, rest | FREE)?;
            let after = r + rest;
            cx.set_word(name, after + PHYS_PREV, Field::PhysPrev, r)?;
            let after_word = rd(cx.ram, after + SIZE)?;
            if after_word & PREV_FREE == 0 {
                cx.set_word(name, after + SIZE, Field::Size, after_word | PREV_FREE)?;
            }
            self.link(cx, r, rest)?;
        } else if total > size {
            // The whole next block was absorbed: what follows now follows a used block.
            let after = h + total;
            cx.set_word(name, after + PHYS_PREV, Field::PhysPrev, h)?;
            let after_word = rd(cx.ram, after + SIZE)?;
            cx.set_word(name, after + SIZE, Field::Size, after_word & !PREV_FREE)?;
        }
        let new_owner = owner_word(owner & OWNER_MASK, keep, request);
        if new_owner != owner {
            cx.set_word(name, h + PREV_OR_OWNER, Field::Owner, new_owner)?;
        }
        Ok(true)
    }

    // ----- checks --------------------------------------------------------------------

    /// At most this many blocks fit between the first block and the sentinel; every
    /// walk is bounded by it.
    fn max_blocks(&self) -> u32 {
        (self.sentinel - self.first) / self.min_block_size() + 1
    }

    /// True iff `h` can be a block header address: aligned, in `[first, sentinel)`.
    fn is_block_addr(&self, h: Addr) -> bool {
        h >= self.first && h < self.sentinel && (h - self.first).is_multiple_of(self.config.align)
    }

    /// True iff `size` is a valid size for a block at `h`.
    fn size_fits(&self, h: Addr, size: u32) -> bool {
        size >= self.min_block_size()
            && size.is_multiple_of(self.config.align)
            && size <= self.sentinel - h
    }

    /// True iff the header at `h` is woven into the physical chain: its size leads to a
    /// header that points back to it, its `phys_prev` leads to a block whose size leads
    /// to it, and the flags on both sides agree. O(1); a stale header left inside a
    /// merged block fails it (the merge rewrote its neighbours' words).
    fn is_block<S: Storage>(&self, ram: &Ram<S>, h: Addr) -> bool {
        self.block_check(ram, h).unwrap_or(false)
    }

    fn block_check<S: Storage>(&self, ram: &Ram<S>, h: Addr) -> Result<bool, AllocError> {
        if !self.is_block_addr(h) {
            return Ok(false);
        }
        let word = rd(ram, h + SIZE)?;
        let size = size_of(word);
        if !self.size_fits(h, size) {
            return Ok(false);
        }
        let next = h + size;
        let next_word = rd(ram, next + SIZE)?;
        if rd(ram, next + PHYS_PREV)? != h || (word & FREE != 0) != (next_word & PREV_FREE != 0) {
            return Ok(false);
        }
        let prev = rd(ram, h + PHYS_PREV)?;
        if h == self.first {
            return Ok(prev == 0 && word & PREV_FREE == 0);
        }
        if !self.is_block_addr(prev) || prev >= h {
            return Ok(false);
        }
        let prev_word = rd(ram, prev + SIZE)?;
        Ok(size_of(prev_word) == h - prev && (prev_word & FREE != 0) == (word & PREV_FREE != 0))
    }

    /// The size of the block at `h` if it is a genuine free block.
    fn free_size<S: Storage>(&self, ram: &Ram<S>, h: Addr) -> Option<u32> {
        let word = ram.read_u32(h.wrapping_add(SIZE)).ok()?;
        (word & FREE != 0 && self.is_block(ram, h)).then_some(size_of(word))
    }

    /// True iff the free block `h` of `size` bytes is properly on its list: its `prev` is
    /// a free block whose `next` is `h` (or the list head is `h`), its `next` is 0 or a
    /// free block whose `prev` is `h`.
    fn is_linked<S: Storage>(&self, ram: &Ram<S>, h: Addr, size: u32) -> bool {
        let Some((_, _, list)) = self.list_of(size) else {
            return false;
        };
        let read = |a: Addr| ram.read_u32(a).ok();
        let (Some(next), Some(prev)) = (
            read(h.wrapping_add(NEXT_OR_MAGIC)),
            read(h.wrapping_add(PREV_OR_OWNER)),
        ) else {
            return false;
        };
        let prev_ok = if prev == 0 {
            read(self.head_addr(list)) == Some(h)
        } else {
            self.free_size(ram, prev).is_some() && read(prev.wrapping_add(NEXT_OR_MAGIC)) == Some(h)
        };
        let next_ok = next == 0
            || (self.free_size(ram, next).is_some()
                && read(next.wrapping_add(PREV_OR_OWNER)) == Some(h));
        prev_ok && next_ok
    }

    /// True iff the list a free block of `size` bytes goes on can take one: it is empty,
    /// or its head is a free block of that class, first on its list.
    fn list_ok<S: Storage>(&self, ram: &Ram<S>, size: u32) -> bool {
        let Some((_, _, list)) = self.list_of(size) else {
            return false;
        };
        match ram.read_u32(self.head_addr(list)) {
            Ok(0) => true,
            Ok(head) => match self.free_size(ram, head) {
                Some(s) => {
                    self.list_of(s).map(|l| l.2) == Some(list)
                        && ram.read_u32(head.wrapping_add(PREV_OR_OWNER)) == Ok(0)
                        && self.is_linked(ram, head, s)
                }
                None => false,
            },
            Err(_) => false,
        }
    }

    /// Finds the used block handed out at `addr`, checking it in O(1): in the pool,
    /// aligned, woven into the physical chain, [`MAGIC`] in place, the next header sound
    /// (a free or a realloc writes it). A free block gives
    /// `DoubleFree`; anything else that fails is diagnosed by a full [`check`] (a
    /// corruption it finds is the error) and is otherwise `InvalidPointer`.
    ///
    /// [`check`]: Allocator::check
    fn used_block<S: Storage>(&self, ram: &Ram<S>, addr: Addr) -> Result<Used, AllocError> {
        let invalid = AllocError::InvalidPointer { addr };
        let Some(h) = addr
            .checked_sub(HEADER_SIZE)
            .filter(|&h| self.is_block_addr(h))
        else {
            return Err(invalid);
        };
        let word = rd(ram, h + SIZE)?;
        if word & FREE != 0 {
            return match self.free_size(ram, h) {
                Some(size) if self.is_linked(ram, h, size) => Err(AllocError::DoubleFree { addr }),
                _ => Err(self.diagnose(ram, invalid)),
            };
        }
        let owner = rd(ram, h + PREV_OR_OWNER)?;
        let ok = self.is_block(ram, h)
            && rd(ram, h + NEXT_OR_MAGIC)? == MAGIC
            && self.owner_ok(owner, size_of(word))
            && self.neighbour_ok(ram, h + size_of(word));
        if !ok {
            return Err(self.diagnose(ram, invalid));
        }
        Ok(Used { h, word, owner })
    }

    /// True iff the block after a used block, whose header a free or a realloc writes,
    /// looks sound: the sentinel with no size, or a block woven into the chain that holds
    /// [`MAGIC`] when used (LiteOS-M's `OsMemCheckUsedNode` checks the next node too).
    fn neighbour_ok<S: Storage>(&self, ram: &Ram<S>, next: Addr) -> bool {
        if next == self.sentinel {
            return ram.read_u32(next + SIZE).is_ok_and(|w| w & !PREV_FREE == 0);
        }
        let used = ram
            .read_u32(next.wrapping_add(SIZE))
            .is_ok_and(|w| w & FREE == 0);
        self.is_block(ram, next)
            && (!used || ram.read_u32(next.wrapping_add(NEXT_OR_MAGIC)) == Ok(MAGIC))
    }

    /// True iff a used block of `size` bytes may carry `owner`: bits 24..32 clear, and a
    /// slack below the minimum block and below the payload.
    fn owner_ok(&self, owner: u32, size: u32) -> bool {
        let slack = owner >> SLACK_SHIFT;
        slack < self.min_block_size() && slack < size.saturating_sub(HEADER_SIZE)
    }

    /// The error for a failed fast check: the first corruption a full check finds, or
    /// `fallback` when the pool is sound (then only the input was wrong).
    fn diagnose<S: Storage>(&self, ram: &Ram<S>, fallback: AllocError) -> AllocError {
        match self.check(ram) {
            Err(e) => e,
            Ok(()) => fallback,
        }
    }

    /// The largest payload a free block offers, for `OutOfMemory`: the biggest block on
    /// the highest non-empty list. Best effort on a corrupted pool (0).
    fn largest_free<S: Storage>(&self, ram: &Ram<S>) -> u32 {
        let top = self.fl_bitmap(ram).unwrap_or(0) & mask(self.fl_count);
        if top == 0 {
            return 0;
        }
        let fl = 31 - top.leading_zeros();
        let sub = self.sl_bitmap(ram, fl).unwrap_or(0) & mask(self.sl_count());
        if sub == 0 {
            return 0;
        }
        let sl = 31 - sub.leading_zeros();
        let mut h = self.free_list_head(ram, fl, sl).unwrap_or(0);
        let mut largest = 0;
        for _ in 0..self.max_blocks() {
            if !self.is_block_addr(h) {
                break;
            }
            let size = ram.read_u32(h + SIZE).map(size_of).unwrap_or(0);
            largest = largest.max(size.saturating_sub(HEADER_SIZE));
            h = ram.read_u32(h + NEXT_OR_MAGIC).unwrap_or(0);
        }
        largest
    }

    /// Checks the control block: no bit beyond `FL`/`SL`, each second-level bit set iff
    /// its list head is non-zero, each first-level bit set iff its row's word is non-zero.
    fn check_control<S: Storage>(&self, ram: &Ram<S>) -> Result<(), AllocError> {
        let top = rd(ram, self.base)?;
        let fl_mask = mask(self.fl_count);
        if top & !fl_mask != 0 {
            return Err(corrupted(self.base, Field::Bitmap, top & fl_mask, top));
        }
        let sl_mask = mask(self.sl_count());
        for fl in 0..self.fl_count {
            let at = self.sl_addr(fl);
            let sub = rd(ram, at)?;
            if sub & !sl_mask != 0 {
                return Err(corrupted(at, Field::SubBitmap, sub & sl_mask, sub));
            }
            for sl in 0..self.sl_count() {
                let list = self.list_index(fl, sl);
                let head_at = self.head_addr(list);
                let head = rd(ram, head_at)?;
                let bit = 1 << sl;
                if (head != 0) == (sub & bit != 0) {
                    continue;
                }
                // A non-zero head that is a genuine free block of this class means the
                // bit is wrong; otherwise the head is.
                let genuine = head != 0
                    && self
                        .free_size(ram, head)
                        .and_then(|s| self.list_of(s))
                        .map(|l| l.2)
                        == Some(list);
                return Err(if head != 0 && !genuine {
                    corrupted(head_at, Field::Head, 0, head)
                } else {
                    corrupted(at, Field::SubBitmap, sub ^ bit, sub)
                });
            }
            let bit = 1 << fl;
            if (sub != 0) != (top & bit != 0) {
                return Err(corrupted(self.base, Field::Bitmap, top ^ bit, top));
            }
        }
        Ok(())
    }

    /// Walks the physical chain and checks every block; returns the number of free
    /// blocks and a fingerprint of their addresses.
    fn check_chain<S: Storage>(&self, ram: &Ram<S>) -> Result<(u32, u64), AllocError> {
        let mut h = self.first;
        let mut prev = 0;
        let mut prev_free = false;
        let mut free_count = 0;
        let mut fingerprint = 0u64;
        for _ in 0..self.max_blocks() {
            if h == self.sentinel {
                let word = rd(ram, h + SIZE)?;
                if word & !PREV_FREE != 0 {
                    return Err(corrupted(h + SIZE, Field::Size, word & PREV_FREE, word));
                }
                return Ok((free_count, fingerprint));
            }
            let found = rd(ram, h + PHYS_PREV)?;
            if found != prev {
                return Err(corrupted(h + PHYS_PREV, Field::PhysPrev, prev, found));
            }
            let word = rd(ram, h + SIZE)?;
            if (word & PREV_FREE != 0) != prev_free {
                return Err(corrupted(h + SIZE, Field::Size, word ^ PREV_FREE, word));
            }
            let size = size_of(word);
            let next = h.wrapping_add(size);
            if !self.size_fits(h, size) || rd(ram, next + PHYS_PREV)? != h {
                return Err(self.bad_size(ram, h, word));
            }
            let next_word = rd(ram, next + SIZE)?;
            let magic = rd(ram, h + NEXT_OR_MAGIC)?;
            let free = self.check_free_bit(h, word, next, next_word, magic)?;
            if free {
                if prev_free {
                    return Err(AllocError::Inconsistent {
                        at: h,
                        rule: "two free blocks are physical neighbours and were not merged",
                    });
                }
                self.check_links(ram, h, size)?;
                free_count += 1;
                fingerprint = fingerprint.wrapping_add(mix(h));
            } else {
                let owner = rd(ram, h + PREV_OR_OWNER)?;
                if owner >> 24 != 0 {
                    let at = h + PREV_OR_OWNER;
                    return Err(corrupted(at, Field::Owner, owner & 0x00ff_ffff, owner));
                }
                if !self.owner_ok(owner, size) {
                    return Err(AllocError::Inconsistent {
                        at: h + PREV_OR_OWNER,
                        rule: "the owner word's slack is larger than the block can have",
                    });
                }
            }
            prev = h;
            prev_free = free;
            h = next;
        }
        Err(AllocError::Inconsistent {
            at: h,
            rule: "the physical chain does not reach the sentinel",
        })
    }

    /// Decides whether the block at `h` is free from three witnesses, its `FREE` bit,
    /// the next block's `PREV_FREE` bit and its magic word, and blames the one that
    /// disagrees.
    fn check_free_bit(
        &self,
        h: Addr,
        word: u32,
        next: Addr,
        next_word: u32,
        magic: u32,
    ) -> Result<bool, AllocError> {
        let free_bit = word & FREE != 0;
        let next_says_free = next_word & PREV_FREE != 0;
        let has_magic = magic == MAGIC;
        if free_bit == next_says_free {
            if !free_bit && !has_magic {
                return Err(corrupted(h + NEXT_OR_MAGIC, Field::Magic, MAGIC, magic));
            }
            return Ok(free_bit);
        }
        let free = !has_magic;
        Err(if free_bit != free {
            corrupted(h + SIZE, Field::Size, word ^ FREE, word)
        } else {
            corrupted(next + SIZE, Field::Size, next_word ^ PREV_FREE, next_word)
        })
    }

    /// The block at `h` has a size word that does not lead to a header pointing back.
    /// Looks for the true next block (the first genuine-looking header after `h` whose
    /// `phys_prev` is `h`) to tell a bad size from a bad `phys_prev` in the next header.
    fn bad_size<S: Storage>(&self, ram: &Ram<S>, h: Addr, word: u32) -> AllocError {
        let size = size_of(word);
        let claimed = h.wrapping_add(size);
        let align = self.config.align;
        let mut x = h + self.min_block_size();
        while x <= self.sentinel {
            let points_back = ram.read_u32(x + PHYS_PREV) == Ok(h);
            let genuine = x == self.sentinel
                || ram.read_u32(x + SIZE).is_ok_and(|w| {
                    let s = size_of(w);
                    self.size_fits(x, s) && ram.read_u32(x + s + PHYS_PREV) == Ok(x)
                });
            if points_back && genuine {
                if x == claimed {
                    break;
                }
                return corrupted(h + SIZE, Field::Size, (x - h) | (word & FLAGS), word);
            }
            x += align;
        }
        if self.size_fits(h, size) {
            let found = ram.read_u32(claimed + PHYS_PREV).unwrap_or(0);
            return corrupted(claimed + PHYS_PREV, Field::PhysPrev, h, found);
        }
        AllocError::Inconsistent {
            at: h + SIZE,
            rule: "the block's size does not lead to the next block",
        }
    }

    /// Checks the list links of the free block `h` both ways; on a mismatch works out
    /// which word is wrong.
    fn check_links<S: Storage>(&self, ram: &Ram<S>, h: Addr, size: u32) -> Result<(), AllocError> {
        let Some((_, _, list)) = self.list_of(size) else {
            return Err(AllocError::Inconsistent {
                at: h + SIZE,
                rule: "a free block's size maps beyond the pool's first-level rows",
            });
        };
        let next = rd(ram, h + NEXT_OR_MAGIC)?;
        let prev = rd(ram, h + PREV_OR_OWNER)?;
        if prev == 0 {
            let head_at = self.head_addr(list);
            let head = rd(ram, head_at)?;
            if head != h {
                return Err(corrupted(head_at, Field::Head, h, head));
            }
        } else if self.free_size(ram, prev).is_some() {
            let found = rd(ram, prev + NEXT_OR_MAGIC)?;
            if found != h {
                // If `prev`'s next link is itself answered by its target, `h`'s prev
                // link is the wrong one.
                let answered = self.free_size(ram, found).is_some()
                    && ram.read_u32(found + PREV_OR_OWNER) == Ok(prev);
                return Err(if answered {
                    self.bad_prev_link(ram, h, list, prev)
                } else {
                    corrupted(prev + NEXT_OR_MAGIC, Field::Next, h, found)
                });
            }
        } else {
            return Err(self.bad_prev_link(ram, h, list, prev));
        }
        if next != 0 {
            if self.free_size(ram, next).is_some() {
                let found = rd(ram, next + PREV_OR_OWNER)?;
                if found != h {
                    let answered = found != 0
                        && self.free_size(ram, found).is_some()
                        && ram.read_u32(found + NEXT_OR_MAGIC) == Ok(next);
                    return Err(if answered {
                        self.bad_next_link(ram, h, next)
                    } else {
                        corrupted(next + PREV_OR_OWNER, Field::Prev, h, found)
                    });
                }
            } else {
                return Err(self.bad_next_link(ram, h, next));
            }
        }
        Ok(())
    }

    /// `h`'s prev link is wrong: the right value is the block on list `list` whose next
    /// link is `h`.
    fn bad_prev_link<S: Storage>(
        &self,
        ram: &Ram<S>,
        h: Addr,
        list: u32,
        found: u32,
    ) -> AllocError {
        let mut e = ram.read_u32(self.head_addr(list)).unwrap_or(0);
        for _ in 0..self.max_blocks() {
            if !self.is_block_addr(e) {
                break;
            }
            let next = ram.read_u32(e + NEXT_OR_MAGIC).unwrap_or(0);
            if next == h {
                return corrupted(h + PREV_OR_OWNER, Field::Prev, e, found);
            }
            e = next;
        }
        AllocError::Inconsistent {
            at: h + PREV_OR_OWNER,
            rule: "a free block's prev link does not lead to the block before it on its list",
        }
    }

    /// `h`'s next link is wrong: the right value is the free block whose prev link is `h`.
    fn bad_next_link<S: Storage>(&self, ram: &Ram<S>, h: Addr, found: u32) -> AllocError {
        let mut x = self.first;
        for _ in 0..self.max_blocks() {
            let Ok(word) = ram.read_u32(x.wrapping_add(SIZE)) else {
                break;
            };
            if x != h && word & FREE != 0 && ram.read_u32(x.wrapping_add(PREV_OR_OWNER)) == Ok(h) {
                return corrupted(h + NEXT_OR_MAGIC, Field::Next, x, found);
            }
            if !self.size_fits(x, size_of(word)) {
                break;
            }
            x += size_of(word);
        }
        AllocError::Inconsistent {
            at: h + NEXT_OR_MAGIC,
            rule: "a free block's next link does not lead to a free block",
        }
    }

    /// Walks every list from its head: each element a free block of the list's class
    /// whose prev link is the element before; together exactly the chain's free blocks
    /// (same count and same sum of [`mix`]ed addresses: a set comparison that needs no
    /// storage, exact for the count, a 64-bit fingerprint for the addresses).
    fn check_lists<S: Storage>(
        &self,
        ram: &Ram<S>,
        free_count: u32,
        fingerprint: u64,
    ) -> Result<(), AllocError> {
        let mut count = 0u32;
        let mut sum = 0u64;
        for list in 0..self.fl_count * self.sl_count() {
            let mut link_at = self.head_addr(list);
            let mut prev = 0;
            let mut h = rd(ram, link_at)?;
            while h != 0 {
                if count >= free_count {
                    return Err(AllocError::Inconsistent {
                        at: link_at,
                        rule: "the free lists hold more blocks than the pool has free blocks",
                    });
                }
                let Some(size) = self.free_size(ram, h) else {
                    return Err(AllocError::Inconsistent {
                        at: link_at,
                        rule: "a free-list link does not lead to a free block",
                    });
                };
                if self.list_of(size).map(|l| l.2) != Some(list) {
                    return Err(AllocError::Inconsistent {
                        at: h,
                        rule: "a free block is on the wrong list for its size",
                    });
                }
                let found = rd(ram, h + PREV_OR_OWNER)?;
                if found != prev {
                    return Err(corrupted(h + PREV_OR_OWNER, Field::Prev, prev, found));
                }
                count += 1;
                sum = sum.wrapping_add(mix(h));
                prev = h;
                link_at = h + NEXT_OR_MAGIC;
                h = rd(ram, link_at)?;
            }
        }
        if count != free_count || sum != fingerprint {
            return Err(AllocError::Inconsistent {
                at: self.base,
                rule: "the free lists do not hold exactly the pool's free blocks",
            });
        }
        Ok(())
    }
}

impl Allocator for Tlsf {
    fn name(&self) -> Name {
        self.name
    }

    /// `LOS_MemAlloc`: search, unlink, split, mark used; then `alloc`.
    fn alloc_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        owner: Owner,
    ) -> Result<Addr, AllocError> {
        let (h, block) = self.alloc_block(cx, size, owner)?;
        let addr = h + HEADER_SIZE;
        cx.emit(
            self.name,
            EventKind::Alloc {
                addr,
                size,
                block,
                owner,
            },
        );
        Ok(addr)
    }

    /// `LOS_MemFree`: check, mark free, merge with free neighbours, link; then `free`.
    fn free_impl<S: Storage>(&mut self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<(), AllocError> {
        let used = self.free_block(cx, addr)?;
        cx.emit(
            self.name,
            EventKind::Free {
                addr,
                block: used.size(),
                owner: Owner((used.owner & OWNER_MASK) as u16),
            },
        );
        Ok(())
    }

    /// `LOS_MemRealloc`: in place when the block shrinks or the free block after it can
    /// absorb the growth (the block keeps its owner); otherwise a new block for `owner`,
    /// a copy of the old payload (`min(old payload, size)` bytes) and a free of the old
    /// block. A size of 0 is refused with `ZeroSize` and frees nothing (C's `realloc(p,
    /// 0)` may free `p`; here a learner must free explicitly). On error nothing changed.
    fn realloc_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
        size: u32,
        owner: Owner,
    ) -> Result<Addr, AllocError> {
        if size == 0 {
            return Err(AllocError::ZeroSize);
        }
        let used = self.used_block(cx.ram, addr)?;
        let biggest = self.sentinel - self.first;
        let needed = match self.config.block_size_for(size) {
            Some(needed) if needed <= biggest => needed,
            _ => {
                return Err(AllocError::TooLarge {
                    requested: size,
                    max: biggest - HEADER_SIZE,
                })
            }
        };
        let to = if self.resize_in_place(cx, used, size, needed)? {
            addr
        } else {
            let (h, _) = self.alloc_block(cx, size, owner)?;
            let to = h + HEADER_SIZE;
            let keep = size.min(used.size() - HEADER_SIZE);
            cx.ram.copy_within(addr, to, keep)?;
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

    /// The control block as a header span; each used block as header, payload (the size
    /// asked for) and padding (the slack); each free block as header and free bytes; the
    /// sentinel as a header; any bytes after it as padding.
    fn walk<S: Storage>(
        &self,
        ram: &Ram<S>,
        visit: &mut dyn FnMut(Block),
    ) -> Result<(), AllocError> {
        let pool = |addr, len, kind| Block {
            addr,
            len,
            kind,
            block: self.base,
            owner: Owner::NONE,
        };
        visit(pool(self.base, self.first - self.base, BlockKind::Header));
        let mut h = self.first;
        for _ in 0..self.max_blocks() {
            if h == self.sentinel {
                break;
            }
            let word = rd(ram, h + SIZE)?;
            let size = size_of(word);
            if !self.size_fits(h, size) {
                return Err(AllocError::Inconsistent {
                    at: h + SIZE,
                    rule: "the block's size does not lead to the next block",
                });
            }
            let span = |addr, len, kind, block, owner| Block {
                addr,
                len,
                kind,
                block,
                owner,
            };
            let payload = h + HEADER_SIZE;
            let usable = size - HEADER_SIZE;
            if word & FREE != 0 {
                visit(span(h, HEADER_SIZE, BlockKind::Header, h, Owner::NONE));
                visit(span(payload, usable, BlockKind::Free, h, Owner::NONE));
            } else {
                let word = rd(ram, h + PREV_OR_OWNER)?;
                let owner = Owner((word & OWNER_MASK) as u16);
                let slack = word >> SLACK_SHIFT;
                if slack >= usable {
                    return Err(AllocError::Inconsistent {
                        at: h + PREV_OR_OWNER,
                        rule: "the owner word's slack is larger than the block can have",
                    });
                }
                let asked = usable - slack;
                visit(span(h, HEADER_SIZE, BlockKind::Header, payload, owner));
                visit(span(payload, asked, BlockKind::Payload, payload, owner));
                if slack > 0 {
                    let at = payload + asked;
                    visit(span(at, slack, BlockKind::Padding, payload, owner));
                }
            }
            h += size;
        }
        if h != self.sentinel {
            return Err(AllocError::Inconsistent {
                at: h,
                rule: "the physical chain does not reach the sentinel",
            });
        }
        visit(pool(self.sentinel, SENTINEL_SIZE, BlockKind::Header));
        let end = self.base as u64 + self.size as u64;
        let tail = end - (self.sentinel as u64 + SENTINEL_SIZE as u64);
        if tail > 0 {
            visit(pool(
                self.sentinel + SENTINEL_SIZE,
                tail as u32,
                BlockKind::Padding,
            ));
        }
        Ok(())
    }

    /// The full invariant check (see the module documentation): control block, then the
    /// physical chain block by block, then every free list.
    fn check<S: Storage>(&self, ram: &Ram<S>) -> Result<(), AllocError> {
        self.check_control(ram)?;
        let (free_count, fingerprint) = self.check_chain(ram)?;
        self.check_lists(ram, free_count, fingerprint)
    }
}

// ----- small helpers ------------------------------------------------------------------

fn rd<S: Storage>(ram: &Ram<S>, addr: Addr) -> Result<u32, AllocError> {
    Ok(ram.read_u32(addr)?)
}

fn size_of(word: u32) -> u32 {
    word & !FLAGS
}

/// The low `bits` bits set.
fn mask(bits: u32) -> u32 {
    1u32.checked_shl(bits).map_or(u32::MAX, |b| b - 1)
}

/// The owner word of a used block of `block` bytes holding `request` bytes for `owner`.
fn owner_word(owner: u32, block: u32, request: u32) -> u32 {
    let slack = (block - HEADER_SIZE).saturating_sub(request);
    (owner & OWNER_MASK) | (slack << SLACK_SHIFT)
}

fn corrupted(at: Addr, field: Field, expected: u32, found: u32) -> AllocError {
    AllocError::Corrupted {
        at,
        field,
        expected,
        found,
    }
}

fn bitmap_error(at: Addr) -> AllocError {
    AllocError::Inconsistent {
        at,
        rule: "a bitmap bit names a list the pool does not have",
    }
}

fn link_error(at: Addr) -> AllocError {
    AllocError::Inconsistent {
        at,
        rule: "a free-list link does not lead to a block",
    }
}

/// A 64-bit mix of an address (the SplitMix64 finaliser), summed over a set of free
/// blocks so that the chain's set and the lists' set can be compared without storage.
fn mix(addr: Addr) -> u64 {
    let mut z = (addr as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
