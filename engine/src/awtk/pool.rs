//! `mem_allocator_pool`: pools of small fixed-size blocks in front of an allocator (seed 003
//! §4; AWTK `src/tkc/mem_allocator_pool.h` and `src/tkc/mem_pool.h`).
//!
//! # The real mechanism
//!
//! `mem_allocator_pool_init(pool, impl, pool8_nr, pool16_nr, pool32_nr, pool48_nr, pool64_nr)`
//! creates five `mem_pool_t`s of 8, 16, 32, 48 and 64-byte blocks with
//! `tk_max(32, nr)` blocks each. `mem_pool_create` takes each pool's memory from the wrapped
//! allocator with one `mem_allocator_alloc`: a 16-byte `mem_pool_t` header, a bitmap of
//! `bits_size = (block_nr / 32 + 2) & ~1` words, then the blocks.
//!
//! - alloc: the first pool whose `block_size >= size` is asked (`mem_pool_match_size`); its
//!   bitmap is scanned for a clear bit (`mem_pool_get_free_index`), which is set. If that
//!   pool is full the request goes to the wrapped allocator; larger pools are not tried.
//!   Requests above 64 bytes go straight to the wrapped allocator.
//! - free: a block inside a pool's block range has its bit cleared (`mem_pool_put`); any
//!   other address goes to the wrapped allocator.
//! - realloc: a pool block that still fits its pool stays; otherwise a new block is taken
//!   (from a pool or below), `block_size` bytes are copied and the pool block is put back.
//!   A block from below is resized below.
//!
//! The seed: about 80% of requests are small, so they never reach (and never fragment) the
//! heap; watch the pools' use and tune the block counts.
//!
//! # In the simulator
//!
//! The pools are carved exactly so, from the allocator below, when the stack is built. The
//! decorator object adds counters AWTK does not keep, for the hit rate. A request of 0 bytes
//! is refused ([`AllocError::ZeroSize`]) where AWTK's 8-byte pool would serve it. A free of
//! an address inside a pool that is not a block start is refused, as is a free of the pool's
//! own header (AWTK asserts, or passes it on and frees the pool).
//!
//! # RAM layout
//!
//! Decorator object (56 bytes, in the stack's statics):
//!
//! | offset | field          | meaning                                               |
//! |--------|----------------|-------------------------------------------------------|
//! | +0     | `vt`           | [`VT`] (`"POOL"`)                                     |
//! | +4     | `impl`         | the wrapped allocator's object                        |
//! | +8     | `pools[5]`     | each pool's `mem_pool_t`, 8-byte pool first           |
//! | +28    | `hits[5]`      | requests each pool served                             |
//! | +48    | `misses_full`  | requests whose pool was full                          |
//! | +52    | `misses_large` | requests above 64 bytes                               |
//!
//! Each pool (`mem_pool_t`, in a block of the wrapped allocator):
//!
//! | offset | field | meaning                                                        |
//! |--------|-------|----------------------------------------------------------------|
//! | +0     | bits 0-7 `block_size`, 8-15 `bits_size`, 16-31 `block_nr` (C bit-fields)   |
//! | +4     | bits 0-15 `min_block_size` (always 0), 16-31 `used`                        |
//! | +8     | `bits`: the bitmap's address, `+16`                                        |
//! | +12    | `start`: the first block's address, `bits + 4 * bits_size`                 |
//! | +16    | the bitmap: bit `i % 32` of word `i / 32` is set iff block `i` is out      |
//! | start  | `block_nr` blocks of `block_size` bytes                                    |
//!
//! Invariants: `used` is the number of set bits; bits at or past `block_nr` are clear.

use crate::allocator::{Block, BlockKind, Ctx, Owner};
use crate::awtk::stack::Slot;
use crate::awtk::AwtkEvent;
use crate::error::{AllocError, ConfigError};
use crate::ram::{Addr, Ram, Storage};
use crate::trace::{EventKind, Field};

/// How many pools (`TK_MEM_POOLS_NR`).
pub const POOLS: usize = 5;
/// Their block sizes, smallest first.
pub const BLOCK_SIZES: [u32; POOLS] = [8, 16, 32, 48, 64];

/// The object's first word: `"POOL"` in the hex view.
pub const VT: u32 = u32::from_le_bytes(*b"POOL");
pub const OFF_POOLS: u32 = 8;
pub const OFF_HITS: u32 = 28;
pub const OFF_MISSES_FULL: u32 = 48;
pub const OFF_MISSES_LARGE: u32 = 52;
/// The decorator object's size.
pub const OBJECT_SIZE: u32 = 56;

/// Offsets in a `mem_pool_t`.
pub const MP_SIZES: u32 = 0;
pub const MP_USED: u32 = 4;
pub const MP_BITS: u32 = 8;
pub const MP_START: u32 = 12;
/// `sizeof(mem_pool_t)` on a 32-bit target.
pub const MP_HEADER: u32 = 16;

const RULE_BITS_PAST_END: &str = "a pool's bitmap has no bits set past its last block";

/// How many blocks each pool gets: AWTK takes `tk_max(min_blocks, blocks[i])` with
/// `min_blocks = 32`; a lesson may lower `min_blocks` to watch a pool run dry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    /// The block counts asked for the 8, 16, 32, 48 and 64-byte pools.
    pub blocks: [u32; POOLS],
    /// The least a pool gets (AWTK: 32).
    pub min_blocks: u32,
}

impl PoolConfig {
    /// What `tk_mem_init` asks for on a heap under 100 KiB: `100, 100, 80, 80, 32`.
    pub const AWTK_SMALL: PoolConfig = PoolConfig {
        blocks: [100, 100, 80, 80, 32],
        min_blocks: 32,
    };

    /// The most blocks a pool may have here (`block_nr` is a 16-bit field and `bits_size`
    /// an 8-bit one).
    pub const MAX_BLOCKS: u32 = 4096;

    /// Pool `k`'s block count.
    pub fn block_nr(&self, k: usize) -> u32 {
        self.blocks
            .get(k)
            .copied()
            .unwrap_or(0)
            .max(self.min_blocks)
    }

    /// Refuses pools with no blocks or too many.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for k in 0..POOLS {
            let nr = self.block_nr(k);
            if nr == 0 {
                return Err(ConfigError::NoBlocks);
            }
            if nr > PoolConfig::MAX_BLOCKS {
                return Err(ConfigError::TooMany {
                    max: PoolConfig::MAX_BLOCKS,
                });
            }
        }
        Ok(())
    }

    /// `mem_pool_get_min_size`: the bytes pool `k` takes from the allocator below.
    pub fn arena_size(&self, k: usize) -> u32 {
        let nr = self.block_nr(k).min(PoolConfig::MAX_BLOCKS);
        MP_HEADER + 4 * bits_size(nr) + nr * block_size(k)
    }
}

impl Default for PoolConfig {
    fn default() -> PoolConfig {
        PoolConfig::AWTK_SMALL
    }
}

fn block_size(k: usize) -> u32 {
    BLOCK_SIZES.get(k).copied().unwrap_or(0)
}

/// `mem_pool_get_bits_size`.
pub fn bits_size(block_nr: u32) -> u32 {
    (block_nr / 32 + 2) & !1
}

/// `mem_pool_match_size` over the pools in order: the first pool the size fits.
pub fn match_size(size: u32) -> Option<usize> {
    BLOCK_SIZES.iter().position(|&bs| size <= bs)
}

/// One pool as its configuration says it must be.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Arena {
    pub addr: Addr,
    pub block_size: u32,
    pub block_nr: u32,
    pub bits_size: u32,
    pub bits: Addr,
    pub start: Addr,
}

impl Arena {
    fn expected(addr: Addr, config: &PoolConfig, k: usize) -> Arena {
        let block_nr = config.block_nr(k).min(PoolConfig::MAX_BLOCKS);
        let bits_size = bits_size(block_nr);
        let bits = addr.wrapping_add(MP_HEADER);
        Arena {
            addr,
            block_size: block_size(k),
            block_nr,
            bits_size,
            bits,
            start: bits.wrapping_add(4 * bits_size),
        }
    }

    /// The packed first word: `block_size | bits_size << 8 | block_nr << 16`.
    fn sizes_word(&self) -> u32 {
        self.block_size | self.bits_size << 8 | self.block_nr << 16
    }

    /// One past the last block.
    fn end(&self) -> u64 {
        self.start as u64 + self.block_nr as u64 * self.block_size as u64
    }

    fn block(&self, index: u32) -> Addr {
        self.start.wrapping_add(index.wrapping_mul(self.block_size))
    }
}

/// Pool `k`'s header, after checking its pointer in the decorator object and the words that
/// never change.
pub(crate) fn arena<S: Storage>(
    ram: &Ram<S>,
    slot: &Slot,
    config: &PoolConfig,
    k: usize,
) -> Result<Arena, AllocError> {
    let root = slot.arenas.get(k).copied().unwrap_or(0);
    let ptr_at = slot.object + OFF_POOLS + 4 * k as u32;
    let found = ram.read_u32(ptr_at)?;
    if found != root {
        return Err(AllocError::Corrupted {
            at: ptr_at,
            field: Field::Pool,
            expected: root,
            found,
        });
    }
    let a = Arena::expected(root, config, k);
    let fixed = [
        (MP_SIZES, Field::Size, a.sizes_word()),
        (MP_BITS, Field::Bitmap, a.bits),
        (MP_START, Field::Pool, a.start),
    ];
    for (off, field, expected) in fixed {
        let at = a.addr.wrapping_add(off);
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
    Ok(a)
}

fn used<S: Storage>(ram: &Ram<S>, a: &Arena) -> Result<u32, AllocError> {
    Ok(ram.read_u32(a.addr.wrapping_add(MP_USED))? >> 16)
}

fn set_used<S: Storage>(
    cx: &mut Ctx<'_, S>,
    slot: &Slot,
    a: &Arena,
    used: u32,
) -> Result<(), AllocError> {
    let at = a.addr.wrapping_add(MP_USED);
    let word = cx.word(at)?;
    cx.set_word(
        slot.name,
        at,
        Field::Count,
        (word & 0xffff) | (used & 0xffff) << 16,
    )
}

/// Zeroes the decorator object's pointers and counters.
pub(crate) fn init_object<S: Storage>(cx: &mut Ctx<'_, S>, slot: &Slot) -> Result<(), AllocError> {
    for k in 0..POOLS as u32 {
        cx.set_word(slot.name, slot.object + OFF_POOLS + 4 * k, Field::Pool, 0)?;
    }
    for k in 0..POOLS as u32 {
        cx.set_word(slot.name, slot.object + OFF_HITS + 4 * k, Field::Count, 0)?;
    }
    cx.set_word(slot.name, slot.object + OFF_MISSES_FULL, Field::Count, 0)?;
    cx.set_word(slot.name, slot.object + OFF_MISSES_LARGE, Field::Count, 0)
}

/// `mem_pool_init` over the block at `addr`, then records it in `pools[k]`.
pub(crate) fn init_arena<S: Storage>(
    cx: &mut Ctx<'_, S>,
    slot: &Slot,
    config: &PoolConfig,
    k: usize,
    addr: Addr,
) -> Result<(), AllocError> {
    let a = Arena::expected(addr, config, k);
    let name = slot.name;
    cx.fill(name, addr, config.arena_size(k), 0, Field::Data)?;
    cx.set_word(name, addr + MP_SIZES, Field::Size, a.sizes_word())?;
    cx.set_word(name, addr + MP_USED, Field::Count, 0)?;
    cx.set_word(name, addr + MP_BITS, Field::Bitmap, a.bits)?;
    cx.set_word(name, addr + MP_START, Field::Pool, a.start)?;
    cx.set_word(
        name,
        slot.object + OFF_POOLS + 4 * k as u32,
        Field::Pool,
        addr,
    )?;
    cx.emit(
        name,
        EventKind::Init {
            base: addr,
            size: config.arena_size(k),
        },
    );
    Ok(())
}

/// `mem_pool_get`: the first clear bit, set; `None` when the pool is full.
pub(crate) fn get<S: Storage>(
    cx: &mut Ctx<'_, S>,
    slot: &Slot,
    config: &PoolConfig,
    k: usize,
) -> Result<Option<(Addr, u32)>, AllocError> {
    let a = arena(cx.ram, slot, config, k)?;
    let mut index = 0u32;
    for i in 0..a.bits_size {
        if index >= a.block_nr {
            break;
        }
        let at = a.bits.wrapping_add(4 * i);
        let v = cx.word(at)?;
        if v == u32::MAX {
            index += 32;
            continue;
        }
        for bit in 0..32 {
            if v & (1 << bit) == 0 {
                cx.set_word(slot.name, at, Field::Bitmap, v | 1 << bit)?;
                let used = used(cx.ram, &a)?.saturating_add(1);
                set_used(cx, slot, &a, used)?;
                return Ok(Some((a.block(i * 32 + bit), used)));
            }
            index += 1;
            if index >= a.block_nr {
                break;
            }
        }
    }
    Ok(None)
}

/// Where an address stands with respect to this decorator's pools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// Block `index` of pool `k`, which is out.
    Block { k: usize, index: u32 },
    /// Not in any pool: it belongs to the allocator below.
    Elsewhere,
}

/// Finds the pool block at `addr`: a clear bit is a double free; an address inside a pool
/// that is not a block start, or in a pool's header, is not a block.
pub(crate) fn find<S: Storage>(
    ram: &Ram<S>,
    slot: &Slot,
    config: &PoolConfig,
    addr: Addr,
) -> Result<Found, AllocError> {
    for k in 0..POOLS {
        let a = arena(ram, slot, config, k)?;
        if addr >= a.start && (addr as u64) < a.end() {
            let offset = addr - a.start;
            if !offset.is_multiple_of(a.block_size) {
                return Err(AllocError::InvalidPointer { addr });
            }
            let index = offset / a.block_size;
            let word = ram.read_u32(a.bits.wrapping_add(4 * (index / 32)))?;
            return if word & (1 << (index % 32)) != 0 {
                Ok(Found::Block { k, index })
            } else {
                Err(AllocError::DoubleFree { addr })
            };
        }
        if addr >= a.addr && addr < a.start {
            return Err(AllocError::InvalidPointer { addr });
        }
    }
    Ok(Found::Elsewhere)
}

/// `mem_pool_put`: clears block `index`'s bit. Returns the pool's block size.
pub(crate) fn put<S: Storage>(
    cx: &mut Ctx<'_, S>,
    slot: &Slot,
    config: &PoolConfig,
    k: usize,
    index: u32,
) -> Result<u32, AllocError> {
    let a = arena(cx.ram, slot, config, k)?;
    let at = a.bits.wrapping_add(4 * (index / 32));
    let v = cx.word(at)?;
    let addr = a.block(index);
    if v & (1 << (index % 32)) == 0 {
        return Err(AllocError::DoubleFree { addr });
    }
    cx.set_word(slot.name, at, Field::Bitmap, v & !(1 << (index % 32)))?;
    let used = used(cx.ram, &a)?.saturating_sub(1);
    set_used(cx, slot, &a, used)?;
    cx.emit(
        slot.name,
        EventKind::Awtk(AwtkEvent::PoolPut {
            addr,
            pool: a.block_size,
            used,
        }),
    );
    Ok(a.block_size)
}

/// Counts a request pool `k` served.
pub(crate) fn count_hit<S: Storage>(
    cx: &mut Ctx<'_, S>,
    slot: &Slot,
    k: usize,
) -> Result<(), AllocError> {
    let at = slot.object + OFF_HITS + 4 * k as u32;
    let n = cx.word(at)?.saturating_add(1);
    cx.set_word(slot.name, at, Field::Count, n)
}

/// Counts a request that went below: its pool was full, or it was too large for any.
pub(crate) fn count_miss<S: Storage>(
    cx: &mut Ctx<'_, S>,
    slot: &Slot,
    full: bool,
) -> Result<(), AllocError> {
    let at = slot.object
        + if full {
            OFF_MISSES_FULL
        } else {
            OFF_MISSES_LARGE
        };
    let n = cx.word(at)?.saturating_add(1);
    cx.set_word(slot.name, at, Field::Count, n)
}

/// Reports pool `k`'s header and bitmap, then each block as payload (out) or free.
pub(crate) fn walk_arena<S: Storage>(
    ram: &Ram<S>,
    slot: &Slot,
    config: &PoolConfig,
    k: usize,
    visit: &mut dyn FnMut(Block) -> Result<(), AllocError>,
) -> Result<(), AllocError> {
    let a = arena(ram, slot, config, k)?;
    visit(Block {
        addr: a.addr,
        len: MP_HEADER + 4 * a.bits_size,
        kind: BlockKind::Header,
        block: a.addr,
        owner: Owner::NONE,
    })?;
    let mut word = 0;
    for index in 0..a.block_nr {
        if index % 32 == 0 {
            word = ram.read_u32(a.bits.wrapping_add(4 * (index / 32)))?;
        }
        let out = word & (1 << (index % 32)) != 0;
        let addr = a.block(index);
        visit(Block {
            addr,
            len: a.block_size,
            kind: if out {
                BlockKind::Payload
            } else {
                BlockKind::Free
            },
            block: addr,
            owner: Owner::NONE,
        })?;
    }
    Ok(())
}

/// Every pool's header, bitmap and `used` count.
pub(crate) fn check<S: Storage>(
    ram: &Ram<S>,
    slot: &Slot,
    config: &PoolConfig,
) -> Result<(), AllocError> {
    for k in 0..POOLS {
        let a = arena(ram, slot, config, k)?;
        let mut set = 0u32;
        for i in 0..a.bits_size {
            let at = a.bits.wrapping_add(4 * i);
            let v = ram.read_u32(at)?;
            let first = i * 32;
            let valid = if first >= a.block_nr {
                0
            } else if a.block_nr - first >= 32 {
                u32::MAX
            } else {
                (1u32 << (a.block_nr - first)) - 1
            };
            if v & !valid != 0 {
                return Err(AllocError::Inconsistent {
                    at,
                    rule: RULE_BITS_PAST_END,
                });
            }
            set += v.count_ones();
        }
        let at = a.addr.wrapping_add(MP_USED);
        let found = ram.read_u32(at)?;
        let expected = set << 16;
        if found != expected {
            return Err(AllocError::Corrupted {
                at,
                field: Field::Count,
                expected,
                found,
            });
        }
    }
    Ok(())
}

/// One pool's figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolUse {
    pub block_size: u32,
    pub block_nr: u32,
    /// Blocks out now.
    pub used: u32,
    /// Requests it served.
    pub hits: u32,
}

/// The pool decorator's figures for the UI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolFigures {
    pub pools: [PoolUse; POOLS],
    /// Requests the pools served.
    pub hits: u32,
    /// Requests whose pool was full.
    pub misses_full: u32,
    /// Requests above 64 bytes.
    pub misses_large: u32,
    /// `1000 * hits / (hits + misses)`, 0 before the first request.
    pub hit_rate_permille: u32,
}

pub(crate) fn figures<S: Storage>(
    ram: &Ram<S>,
    slot: &Slot,
    config: &PoolConfig,
) -> Result<PoolFigures, AllocError> {
    let mut f = PoolFigures::default();
    for (k, pool) in f.pools.iter_mut().enumerate() {
        let a = arena(ram, slot, config, k)?;
        *pool = PoolUse {
            block_size: a.block_size,
            block_nr: a.block_nr,
            used: used(ram, &a)?,
            hits: ram.read_u32(slot.object + OFF_HITS + 4 * k as u32)?,
        };
        f.hits = f.hits.saturating_add(pool.hits);
    }
    f.misses_full = ram.read_u32(slot.object + OFF_MISSES_FULL)?;
    f.misses_large = ram.read_u32(slot.object + OFF_MISSES_LARGE)?;
    let total = f.hits as u64 + f.misses_full as u64 + f.misses_large as u64;
    f.hit_rate_permille = (f.hits as u64 * 1000).checked_div(total).unwrap_or(0) as u32;
    Ok(f)
}
