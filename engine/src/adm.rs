//! ADM, KAL's application dynamic memory: a dynamic allocator over an array the caller
//! owns.
//!
//! On MTK phones an application that needs more than the control buffer's largest class
//! (2 KiB) hands a static array to ADM (seeds 000 and 002):
//!
//! ```c
//! KAL_ADM_ID kal_adm_create(void *mem_addr, kal_uint32 size, kal_uint32 *subpool_size, kal_bool islogging);
//! void *kal_adm_internal_alloc(KAL_ADM_ID adm_id, kal_uint32 size, char *filename, kal_uint32 line);
//! #define kal_adm_alloc(adm_id, size) kal_adm_internal_alloc(adm_id, size, __FILE__, __LINE__)
//! void kal_adm_free(KAL_ADM_ID adm_id, void *mem_addr);
//! kal_status kal_adm_delete(KAL_ADM_ID adm_id);
//! ```
//!
//! ADM's source is closed; the seeds tell what it does and this module is a faithful
//! model of that, with every word in the simulated RAM:
//!
//! - **Control block.** `kal_adm_create` puts its control block at the start of the array
//!   (app_mem.h budgets 256 bytes of "internal structures used by KAL ADM" inside the
//!   pool). It holds the pool's magic, the live-block count, the zero-terminated
//!   `subpool_size` list exactly as given (rounded to 4) and one free-list head per
//!   subpool plus one for the general area. See [`Adm`] for the layout.
//! - **Subpools (segregated size classes).** A request of at most the last subpool size
//!   gets a block of the smallest class that holds it. Free blocks of class *k* wait on
//!   class list *k* (LIFO, not coalesced) so the next request of that class is served at
//!   once. When list *k* is empty a new class block is carved from the general area
//!   (`fallback from=k to=n`).
//! - **General area.** Requests above the last class (or every request when the list is
//!   empty, as `kal_adm_create(pool, size, NULL, KAL_FALSE)` makes it) come from one
//!   general free list: **address-ordered first fit**, doubly linked, with **split** (when
//!   the rest can hold a minimal block) and **coalescing** of physical neighbours on free
//!   (boundary tags: each header records the physically previous block). If no general
//!   block fits but the free blocks cached in the class lists would make a large enough
//!   run, they are all **reclaimed**: moved to the general list and coalesced, and the
//!   search runs again. A failed request therefore changes nothing.
//! - **Guard gaps.** As seed 002 observed ("ADM在每一个alloc node前后都加了GAP调试区"),
//!   every block has a gap before and after its payload filled with [`GUARD_BYTE`]. The
//!   rear gap starts at the exact end of the request, so a write one byte past it is
//!   caught on free (and by `check()`) as `Corrupted { field: guard }` naming the word
//!   that holds the first bad byte.
//! - **Logging.** With `islogging`, each header grows by two words that record the call
//!   site: an id of the file name ([`file_id`]) and the line.
//! - **Delete.** `kal_adm_delete` of a pool that still has live blocks is refused with
//!   the live blocks ([`DeleteError::LiveBlocks`]); an empty pool is deleted and its magic
//!   cleared.
//!
//! Trace: `alloc` emits `unlink` (class hit) or `fallback` / `search` / `unlink` /
//! `split` / `link` (general area, with `unlink` / `link` / `merge` of a reclaim first),
//! the header `meta` writes, two guard `fill`s, the live count `meta`, then `alloc`.
//! `free` emits the header `meta` writes, `link` (class) or `unlink` / `merge` / `link`
//! (general), the live count `meta`, then `free`.

use core::fmt;

use crate::allocator::{Allocator, Block, BlockKind, Ctx, Owner};
use crate::app_mem::AsmEvent;
use crate::error::{AllocError, ConfigError};
use crate::name::Name;
use crate::ram::{Addr, Ram, Storage};
use crate::trace::{EventKind, Field, Op};

/// The most subpool sizes one ADM takes.
pub const MAX_SUBPOOLS: u32 = 16;

/// Marks a live ADM control block; reads "ADMC" in a hex view.
pub const POOL_MAGIC: u32 = u32::from_le_bytes(*b"ADMC");
/// Marks a block handed out; reads "ADM+".
pub const LIVE_MAGIC: u32 = u32::from_le_bytes(*b"ADM+");
/// Marks a free block (in a class list or the general list); reads "ADM-".
pub const FREE_MAGIC: u32 = u32::from_le_bytes(*b"ADM-");
/// What `delete` leaves in the control block's magic word.
pub const DELETED_MAGIC: u32 = 0;
/// The byte the guard gaps are filled with.
pub const GUARD_BYTE: u8 = 0x5a;
/// The `pool` word of a block that belongs to the general area.
pub const GENERAL: u32 = 0xffff_ffff;

/// Bytes of a block header without logging.
pub const HEADER_LEN: u32 = 24;
/// Extra header bytes when logging is on: file id and line.
pub const LOG_LEN: u32 = 8;
/// Bytes of the guard gap before each payload.
pub const FRONT_GAP: u32 = 8;
/// The least bytes of the guard gap after each payload (it also covers the rounding).
pub const REAR_GAP: u32 = 8;

// Control block words, as offsets from the pool base.
const CB_MAGIC: u32 = 0;
const CB_SIZE: u32 = 4;
const CB_FLAGS: u32 = 8;
const CB_LIVE: u32 = 12;
const CB_AREA_START: u32 = 16;
const CB_AREA_END: u32 = 20;
const CB_SUBPOOLS: u32 = 24;
const CB_GENERAL_HEAD: u32 = 28;
/// The zero-terminated size list starts here; the class heads follow it.
const CB_SIZES: u32 = 32;

/// `flags` bit: call sites are logged.
const FLAG_LOGGING: u32 = 1;

// Block header words, as offsets from the block.
const H_SIZE: u32 = 0;
const H_PREV_PHYS: u32 = 4;
const H_POOL: u32 = 8;
const H_MAGIC: u32 = 12;
/// Live: the requested size. Free: the next block on its list.
const H_REQ_NEXT: u32 = 16;
/// Live: the owner. Free: the previous block on the general list (0 on class lists).
const H_OWNER_PREV: u32 = 20;
const H_FILE: u32 = 24;
const H_LINE: u32 = 28;

/// Where an allocation was asked for, as `kal_adm_alloc`'s `__FILE__` and `__LINE__`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallSite {
    pub file: &'static str,
    pub line: u32,
}

/// The id a logging ADM stores for a file name: FNV-1a over its bytes. A front end maps
/// ids back to the names it knows.
pub const fn file_id(file: &str) -> u32 {
    let bytes = file.as_bytes();
    let mut hash: u32 = 0x811c_9dc5;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u32;
        hash = hash.wrapping_mul(0x0100_0193);
        i += 1;
    }
    hash
}

/// Why `delete` did not delete the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteError {
    /// `count` blocks are still live; the first of them (up to four, in address order)
    /// are in `first[..shown]`.
    LiveBlocks {
        count: u32,
        first: [Addr; 4],
        shown: u8,
    },
    /// The pool's metadata is unreadable or corrupt.
    Alloc(AllocError),
}

impl DeleteError {
    /// The live blocks listed, in address order.
    pub fn first_live(&self) -> &[Addr] {
        match self {
            DeleteError::LiveBlocks { first, shown, .. } => {
                &first[..(*shown as usize).min(first.len())]
            }
            DeleteError::Alloc(_) => &[],
        }
    }
}

impl From<AllocError> for DeleteError {
    fn from(error: AllocError) -> DeleteError {
        DeleteError::Alloc(error)
    }
}

impl fmt::Display for DeleteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeleteError::LiveBlocks { count, .. } => {
                write!(f, "the ADM still has {count} live blocks:")?;
                for addr in self.first_live() {
                    write!(f, " {addr:#010x}")?;
                }
                if *count as usize > self.first_live().len() {
                    f.write_str(" ...")?;
                }
                Ok(())
            }
            DeleteError::Alloc(error) => write!(f, "{error}"),
        }
    }
}

/// What a live block's header says, for the inspector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// The address handed out.
    pub addr: Addr,
    /// The block's first byte (its header).
    pub block: Addr,
    /// The whole block: header, gaps and payload.
    pub block_size: u32,
    pub requested: u32,
    pub owner: Owner,
    /// The subpool index, or `None` for the general area.
    pub subpool: Option<u32>,
    /// `(file id, line)` when the pool logs call sites.
    pub site: Option<(u32, u32)>,
}

/// One ADM pool over `[base, base + size)`.
///
/// RAM layout, all words little-endian:
///
/// ```text
/// control block at base
///   +0   magic        POOL_MAGIC ("ADMC") while the pool exists, 0 once deleted
///   +4   size         the size given to create
///   +8   flags        bit 0: logging
///   +12  live         number of live blocks
///   +16  area_start   first block (4-aligned), right after the control block
///   +20  area_end     one past the last block (4-aligned)
///   +24  subpools     n, the number of subpool sizes
///   +28  general_head first block of the general free list (lowest address), 0 if empty
///   +32  size[0..n]   the subpool sizes, ascending, each a multiple of 4
///        0            the list's terminator, as kal_adm_create was given it
///        head[0..n]   first block of class list k, 0 if empty
///
/// block header at h (every block, area_start <= h < area_end, blocks tile the area)
///   +0   size         whole block in bytes (header, gaps, payload), a multiple of 4
///   +4   prev_phys    the physically previous block, 0 for the first
///   +8   pool         subpool index k, or GENERAL (0xffffffff)
///   +12  magic        LIVE_MAGIC ("ADM+") or FREE_MAGIC ("ADM-")
///   +16  live: requested size       free: next block on its list (0 = end)
///   +20  live: owner                free: previous block on the general list
///   +24  file id      (logging pools only) file_id(__FILE__) of the call site
///   +28  line         (logging pools only)
/// front gap   FRONT_GAP bytes of GUARD_BYTE
/// payload     the address handed out; `requested` bytes
/// rear gap    GUARD_BYTE from payload + requested to the block's end (>= REAR_GAP bytes)
/// ```
///
/// Invariants: a block is on class list k iff its magic is FREE and its pool is k; on
/// the general list iff its magic is FREE and its pool is GENERAL; the general list is
/// sorted by address and no two general free blocks are physical neighbours; a class-k
/// block is at least `header + gaps + size[k]` bytes; `live` counts the LIVE blocks.
/// The struct holds only the configuration and root addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Adm {
    name: Name,
    base: Addr,
    size: u32,
    /// Number of subpool sizes in the control block.
    subpools: u32,
    logging: bool,
    area_start: Addr,
    area_end: Addr,
}

/// A block header as read from RAM, checked for shape but not yet for role.
#[derive(Clone, Copy, Debug)]
struct Hdr {
    addr: Addr,
    size: u32,
    prev_phys: Addr,
    pool: u32,
    magic: u32,
}

impl Hdr {
    fn end(&self) -> Addr {
        // Checked against area_end when the header was read.
        self.addr.wrapping_add(self.size)
    }
    fn is_live(&self) -> bool {
        self.magic == LIVE_MAGIC
    }
    fn is_general_free(&self) -> bool {
        self.magic == FREE_MAGIC && self.pool == GENERAL
    }
    fn is_class_free(&self) -> bool {
        self.magic == FREE_MAGIC && self.pool != GENERAL
    }
}

/// What `free` found before writing anything.
#[derive(Clone, Copy, Debug)]
struct FreePlan {
    block: Hdr,
    owner: Owner,
    /// The physically previous block, when it is a general free block to merge with.
    prev: Option<Hdr>,
    /// The physically next block, when it is a general free block to merge with.
    next: Option<Hdr>,
}

/// The size class a request falls in.
#[derive(Clone, Copy, Debug)]
enum Class {
    /// Subpool `k`, whose blocks hold `cap` bytes.
    Sub {
        k: u32,
        cap: u32,
    },
    General,
}

fn align4(n: u64) -> u64 {
    (n + 3) & !3
}

fn rd<S: Storage>(ram: &Ram<S>, addr: Addr) -> Result<u32, AllocError> {
    Ok(ram.read_u32(addr)?)
}

impl Adm {
    /// `kal_adm_create`: builds an ADM over `[mem_addr, mem_addr + size)`.
    ///
    /// `subpool_size` is read up to its first 0 (or its end): ascending sizes, each
    /// rounded up to 4. An empty list makes every request use the general area. Emits the
    /// control block's `meta` writes, then `init`; a refused configuration emits `fault`.
    pub fn create<S: Storage>(
        cx: &mut Ctx<'_, S>,
        name: Name,
        mem_addr: Addr,
        size: u32,
        subpool_size: &[u32],
        logging: bool,
    ) -> Result<Adm, AllocError> {
        let result = Adm::create_inner(cx, name, mem_addr, size, subpool_size, logging);
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

    fn create_inner<S: Storage>(
        cx: &mut Ctx<'_, S>,
        name: Name,
        mem_addr: Addr,
        size: u32,
        subpool_size: &[u32],
        logging: bool,
    ) -> Result<Adm, AllocError> {
        if !cx.ram.contains(mem_addr, size) {
            return Err(ConfigError::NotInRam {
                addr: mem_addr,
                size,
            }
            .into());
        }
        let n = subpool_size.iter().take_while(|&&s| s != 0).count() as u32;
        if n > MAX_SUBPOOLS {
            return Err(ConfigError::TooMany { max: MAX_SUBPOOLS }.into());
        }
        let ctl_len = CB_SIZES as u64 + 4 * (2 * n as u64 + 1);
        let start = align4(mem_addr as u64 + ctl_len);
        // One past the end must stay a 32-bit address, so a pool that ends at 4 GiB
        // leaves its last word as padding.
        let end = ((mem_addr as u64 + size as u64) & !3).min(0xffff_fffc);
        let header_len = HEADER_LEN + if logging { LOG_LEN } else { 0 };
        let min_block = header_len as u64 + FRONT_GAP as u64 + 4 + REAR_GAP as u64;
        if end < start + min_block {
            let needed = (start + min_block - mem_addr as u64).min(u32::MAX as u64) as u32;
            return Err(ConfigError::TooSmall {
                needed,
                available: size,
            }
            .into());
        }
        let area_len = end - start;
        let mut last = 0u64;
        for &given in &subpool_size[..n as usize] {
            let rounded = align4(given as u64);
            if rounded <= last {
                return Err(ConfigError::ClassesNotAscending { size: given }.into());
            }
            if header_len as u64 + FRONT_GAP as u64 + rounded + REAR_GAP as u64 > area_len {
                return Err(ConfigError::BadBlockSize { size: given }.into());
            }
            last = rounded;
        }
        let adm = Adm {
            name,
            base: mem_addr,
            size,
            subpools: n,
            logging,
            area_start: start as Addr,
            area_end: end as Addr,
        };
        let b = mem_addr;
        cx.set_word(name, b + CB_MAGIC, Field::Magic, POOL_MAGIC)?;
        cx.set_word(name, b + CB_SIZE, Field::Size, size)?;
        let flags = if logging { FLAG_LOGGING } else { 0 };
        cx.set_word(name, b + CB_FLAGS, Field::Flags, flags)?;
        cx.set_word(name, b + CB_LIVE, Field::Count, 0)?;
        cx.set_word(name, b + CB_AREA_START, Field::Data, adm.area_start)?;
        cx.set_word(name, b + CB_AREA_END, Field::Data, adm.area_end)?;
        cx.set_word(name, b + CB_SUBPOOLS, Field::Count, n)?;
        for (k, &given) in subpool_size[..n as usize].iter().enumerate() {
            let rounded = align4(given as u64) as u32;
            cx.set_word(name, adm.size_addr(k as u32), Field::Size, rounded)?;
        }
        cx.set_word(name, adm.size_addr(n), Field::Size, 0)?;
        for k in 0..n {
            cx.set_word(name, adm.head_addr(k), Field::Head, 0)?;
        }
        // The whole area starts as one general free block.
        let h = adm.area_start;
        let whole = adm.area_end - adm.area_start;
        cx.set_word(name, h.wrapping_add(H_SIZE), Field::Size, whole)?;
        cx.set_word(name, h.wrapping_add(H_PREV_PHYS), Field::PhysPrev, 0)?;
        cx.set_word(name, h.wrapping_add(H_POOL), Field::Pool, GENERAL)?;
        cx.set_word(name, h.wrapping_add(H_MAGIC), Field::Magic, FREE_MAGIC)?;
        cx.set_word(name, h.wrapping_add(H_REQ_NEXT), Field::Next, 0)?;
        cx.set_word(name, h.wrapping_add(H_OWNER_PREV), Field::Prev, 0)?;
        cx.set_word(name, b + CB_GENERAL_HEAD, Field::Head, h)?;
        cx.emit(name, EventKind::Link { list: n, addr: h });
        cx.emit(
            name,
            EventKind::Init {
                base: mem_addr,
                size,
            },
        );
        Ok(adm)
    }

    pub fn base(&self) -> Addr {
        self.base
    }

    pub fn size(&self) -> u32 {
        self.size
    }

    pub fn logging(&self) -> bool {
        self.logging
    }

    /// Number of subpool sizes; the general list is list number `subpools()`.
    pub fn subpools(&self) -> u32 {
        self.subpools
    }

    /// Bytes of each block header (24, or 32 with logging).
    pub fn header_len(&self) -> u32 {
        HEADER_LEN + if self.logging { LOG_LEN } else { 0 }
    }

    /// Bytes every block costs besides its payload capacity: header and both gaps.
    pub fn block_overhead(&self) -> u32 {
        self.header_len() + FRONT_GAP + REAR_GAP
    }

    /// The first block's address; blocks tile `[area_start, area_end)`.
    pub fn area(&self) -> (Addr, Addr) {
        (self.area_start, self.area_end)
    }

    fn size_addr(&self, k: u32) -> Addr {
        self.base + CB_SIZES + 4 * k
    }

    fn head_addr(&self, k: u32) -> Addr {
        self.base + CB_SIZES + 4 * (self.subpools + 1) + 4 * k
    }

    fn general_head_addr(&self) -> Addr {
        self.base + CB_GENERAL_HEAD
    }

    /// The most blocks the area can hold; bounds every walk.
    fn max_blocks(&self) -> u32 {
        (self.area_end - self.area_start) / HEADER_LEN + 1
    }

    /// Bytes of a block whose payload holds `cap` bytes.
    fn block_need(&self, cap: u64) -> u64 {
        self.block_overhead() as u64 + cap
    }

    /// The smallest free block worth splitting off: one that can serve a 1-byte request.
    fn min_free(&self) -> u32 {
        self.block_overhead() + 4
    }

    /// Fails unless the control block still says "ADMC".
    fn ensure_pool<S: Storage>(&self, ram: &Ram<S>) -> Result<(), AllocError> {
        let magic = rd(ram, self.base + CB_MAGIC)?;
        if magic != POOL_MAGIC {
            return Err(AllocError::Corrupted {
                at: self.base + CB_MAGIC,
                field: Field::Magic,
                expected: POOL_MAGIC,
                found: magic,
            });
        }
        Ok(())
    }

    /// Subpool size `k` as stored in the control block.
    fn class_size<S: Storage>(&self, ram: &Ram<S>, k: u32) -> Result<u32, AllocError> {
        rd(ram, self.size_addr(k))
    }

    /// The class of a request: the smallest subpool that holds it, else general.
    fn class_for<S: Storage>(&self, ram: &Ram<S>, size: u32) -> Result<Class, AllocError> {
        for k in 0..self.subpools {
            let cap = self.class_size(ram, k)?;
            if size <= cap {
                return Ok(Class::Sub { k, cap });
            }
        }
        Ok(Class::General)
    }

    /// Reads and shape-checks the header at `h`: inside the area, aligned, with a size
    /// that keeps the block inside the area and a known magic. An unknown magic is
    /// reported with `expected: LIVE_MAGIC`: the damaged word cannot say which it was.
    fn read_hdr<S: Storage>(&self, ram: &Ram<S>, h: Addr) -> Result<Hdr, AllocError> {
        let header_fits = h as u64 + HEADER_LEN as u64 <= self.area_end as u64;
        if !h.is_multiple_of(4) || h < self.area_start || !header_fits {
            return Err(AllocError::Inconsistent {
                at: h,
                rule: "a block address lies outside the ADM area or is not 4-aligned",
            });
        }
        let size = rd(ram, h.wrapping_add(H_SIZE))?;
        let magic = rd(ram, h.wrapping_add(H_MAGIC))?;
        if magic != LIVE_MAGIC && magic != FREE_MAGIC {
            return Err(AllocError::Corrupted {
                at: h.wrapping_add(H_MAGIC),
                field: Field::Magic,
                expected: LIVE_MAGIC,
                found: magic,
            });
        }
        let min = if magic == LIVE_MAGIC {
            self.block_overhead()
        } else {
            self.header_len()
        };
        if !size.is_multiple_of(4) || size < min || h as u64 + size as u64 > self.area_end as u64 {
            return Err(AllocError::Inconsistent {
                at: h.wrapping_add(H_SIZE),
                rule: "a block size is not a multiple of 4, too small, or runs past the area",
            });
        }
        let prev_phys = rd(ram, h.wrapping_add(H_PREV_PHYS))?;
        let pool = rd(ram, h.wrapping_add(H_POOL))?;
        if pool != GENERAL && pool >= self.subpools {
            return Err(AllocError::Corrupted {
                at: h.wrapping_add(H_POOL),
                field: Field::Pool,
                expected: GENERAL,
                found: pool,
            });
        }
        Ok(Hdr {
            addr: h,
            size,
            prev_phys,
            pool,
            magic,
        })
    }

    /// Visits every block in address order, checking that they tile the area and that
    /// each `prev_phys` names the block before. `visit` returns false to stop early.
    fn each_block<S: Storage>(
        &self,
        ram: &Ram<S>,
        mut visit: impl FnMut(Hdr) -> Result<bool, AllocError>,
    ) -> Result<(), AllocError> {
        let mut at = self.area_start;
        let mut prev = 0;
        let mut budget = self.max_blocks();
        while at != self.area_end {
            if budget == 0 {
                return Err(AllocError::Inconsistent {
                    at,
                    rule: "more blocks than the ADM area can hold",
                });
            }
            budget -= 1;
            let b = self.read_hdr(ram, at)?;
            if b.prev_phys != prev {
                return Err(AllocError::Corrupted {
                    at: at.wrapping_add(H_PREV_PHYS),
                    field: Field::PhysPrev,
                    expected: prev,
                    found: b.prev_phys,
                });
            }
            if !visit(b)? {
                return Ok(());
            }
            prev = at;
            at = b.end();
        }
        Ok(())
    }

    /// The payload address of the block at `h`.
    fn payload_of(&self, h: Addr) -> Addr {
        h.wrapping_add(self.header_len() + FRONT_GAP)
    }

    /// Finds the block whose payload is `addr` by walking the blocks, so any address
    /// that is not a block's payload is refused whatever the RAM holds.
    fn find<S: Storage>(&self, ram: &Ram<S>, addr: Addr) -> Result<Hdr, AllocError> {
        let lead = self.header_len() + FRONT_GAP;
        if !addr.is_multiple_of(4)
            || (addr as u64) < self.area_start as u64 + lead as u64
            || addr >= self.area_end
        {
            return Err(AllocError::InvalidPointer { addr });
        }
        let target = addr - lead;
        let mut found = None;
        self.each_block(ram, |b| {
            if b.addr == target {
                found = Some(b);
            }
            Ok(b.addr < target)
        })?;
        found.ok_or(AllocError::InvalidPointer { addr })
    }

    /// Checks that `len` bytes from `start` all hold [`GUARD_BYTE`]. A bad byte is
    /// reported at the 4-aligned word that holds it: `found` is that word,
    /// `expected` the same word with its guard bytes restored.
    fn check_gap<S: Storage>(ram: &Ram<S>, start: Addr, len: u32) -> Result<(), AllocError> {
        let bytes = ram.slice(start, len)?;
        let Some(i) = bytes.iter().position(|&b| b != GUARD_BYTE) else {
            return Ok(());
        };
        let bad = start.wrapping_add(i as u32);
        let word = bad & !3;
        let found = rd(ram, word)?;
        let mut expected = found.to_le_bytes();
        for (j, byte) in expected.iter_mut().enumerate() {
            let a = word as u64 + j as u64;
            if a >= start as u64 && a < start as u64 + len as u64 {
                *byte = GUARD_BYTE;
            }
        }
        Err(AllocError::Corrupted {
            at: word,
            field: Field::Guard,
            expected: u32::from_le_bytes(expected),
            found,
        })
    }

    /// Checks a live block's size word against its class and both guard gaps; returns
    /// the requested size.
    fn check_live<S: Storage>(&self, ram: &Ram<S>, b: &Hdr) -> Result<u32, AllocError> {
        let req = rd(ram, b.addr.wrapping_add(H_REQ_NEXT))?;
        let lead = self.header_len() + FRONT_GAP;
        if lead as u64 + req as u64 + REAR_GAP as u64 > b.size as u64 {
            return Err(AllocError::Inconsistent {
                at: b.addr.wrapping_add(H_REQ_NEXT),
                rule: "a live block's requested size does not fit its block",
            });
        }
        if b.pool != GENERAL {
            let cap = self.class_size(ram, b.pool)?;
            if req > cap || (b.size as u64) < self.block_need(cap as u64) {
                return Err(AllocError::Inconsistent {
                    at: b.addr,
                    rule: "a subpool block is smaller than its class or holds more than it",
                });
            }
        }
        let owner = rd(ram, b.addr.wrapping_add(H_OWNER_PREV))?;
        if owner > u16::MAX as u32 {
            return Err(AllocError::Inconsistent {
                at: b.addr.wrapping_add(H_OWNER_PREV),
                rule: "an owner word is above 0xffff",
            });
        }
        Adm::check_gap(ram, b.addr + self.header_len(), FRONT_GAP)?;
        let payload = self.payload_of(b.addr);
        Adm::check_gap(ram, payload + req, b.size - lead - req)?;
        Ok(req)
    }

    /// `kal_adm_internal_alloc(adm, size, file, line)`: like [`Allocator::alloc`], with
    /// the call site recorded in the header when the pool logs.
    pub fn alloc_at<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        owner: Owner,
        site: CallSite,
    ) -> Result<Addr, AllocError> {
        self.alloc_logged(cx, size, owner, file_id(site.file), site.line)
    }

    /// [`alloc_at`](Adm::alloc_at) with the file already as its id ([`file_id`]), for a
    /// caller whose file name is not `'static` (a script's `at "camera.c":120`).
    pub fn alloc_logged<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        owner: Owner,
        file: u32,
        line: u32,
    ) -> Result<Addr, AllocError> {
        let result = self.alloc_inner(cx, size, owner, Some((file, line)));
        if let Err(error) = result {
            let op = Op::Alloc { size };
            cx.emit(self.name, EventKind::Fault { op, error });
        }
        result
    }

    fn alloc_inner<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        owner: Owner,
        site: Option<(u32, u32)>,
    ) -> Result<Addr, AllocError> {
        if size == 0 {
            return Err(AllocError::ZeroSize);
        }
        self.ensure_pool(cx.ram)?;
        let class = self.class_for(cx.ram, size)?;
        let cap = match class {
            Class::Sub { cap, .. } => cap as u64,
            Class::General => align4(size as u64),
        };
        let need = self.block_need(cap);
        let area_len = (self.area_end - self.area_start) as u64;
        if need > area_len {
            let max = area_len.saturating_sub(self.block_overhead() as u64) as u32;
            return Err(AllocError::TooLarge {
                requested: size,
                max,
            });
        }
        // `need` fits the area, so it fits a u32.
        let need = need as u32;
        let popped = match class {
            Class::Sub { k, .. } => self.pop_class(cx, k, need)?,
            Class::General => None,
        };
        let (h, block_size, pool) = match (popped, class) {
            (Some((h, block_size)), Class::Sub { k, .. }) => (h, block_size, k),
            _ => {
                if let Class::Sub { k, .. } = class {
                    let to = self.subpools;
                    cx.emit(self.name, EventKind::Fallback { from: k, to });
                }
                let (h, block_size) = self.take_general(cx, size, need)?;
                let pool = match class {
                    Class::Sub { k, .. } => k,
                    Class::General => GENERAL,
                };
                (h, block_size, pool)
            }
        };
        let name = self.name;
        cx.set_word(name, h.wrapping_add(H_POOL), Field::Pool, pool)?;
        cx.set_word(name, h.wrapping_add(H_MAGIC), Field::Magic, LIVE_MAGIC)?;
        cx.set_word(name, h.wrapping_add(H_REQ_NEXT), Field::Size, size)?;
        cx.set_word(
            name,
            h.wrapping_add(H_OWNER_PREV),
            Field::Owner,
            owner.0 as u32,
        )?;
        if self.logging {
            let (file, line) = site.unwrap_or((0, 0));
            cx.set_word(name, h.wrapping_add(H_FILE), Field::File, file)?;
            cx.set_word(name, h.wrapping_add(H_LINE), Field::Line, line)?;
        }
        let payload = self.payload_of(h);
        cx.fill(
            name,
            h + self.header_len(),
            FRONT_GAP,
            GUARD_BYTE,
            Field::Guard,
        )?;
        let rear = block_size - (self.header_len() + FRONT_GAP) - size;
        cx.fill(name, payload + size, rear, GUARD_BYTE, Field::Guard)?;
        let live = rd(cx.ram, self.base + CB_LIVE)?;
        cx.set_word(
            name,
            self.base + CB_LIVE,
            Field::Count,
            live.wrapping_add(1),
        )?;
        cx.emit(
            name,
            EventKind::Alloc {
                addr: payload,
                size,
                block: block_size,
                owner,
            },
        );
        Ok(payload)
    }

    /// Takes the first block of class list `k`, if any; returns it and its size.
    fn pop_class<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        k: u32,
        need: u32,
    ) -> Result<Option<(Addr, u32)>, AllocError> {
        let head = self.head_addr(k);
        let h = rd(cx.ram, head)?;
        if h == 0 {
            return Ok(None);
        }
        let b = self.read_hdr(cx.ram, h)?;
        if !b.is_class_free() || b.pool != k || b.size < need {
            return Err(AllocError::Inconsistent {
                at: head,
                rule: "a class list holds a block that is not a free block of its class",
            });
        }
        let next = rd(cx.ram, h.wrapping_add(H_REQ_NEXT))?;
        cx.set_word(self.name, head, Field::Head, next)?;
        cx.emit(self.name, EventKind::Unlink { list: k, addr: h });
        Ok(Some((h, b.size)))
    }

    /// Serves `need` bytes from the general area, reclaiming the class lists first when
    /// that is the only way; returns the block and its size.
    fn take_general<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        need: u32,
    ) -> Result<(Addr, u32), AllocError> {
        if let Some(h) = self.first_fit(cx, need)? {
            return Ok((h, self.carve(cx, h, need)?));
        }
        if self.largest_run(cx.ram)? >= need {
            self.reclaim(cx)?;
            if let Some(h) = self.first_fit(cx, need)? {
                return Ok((h, self.carve(cx, h, need)?));
            }
        }
        Err(AllocError::OutOfMemory {
            requested: size,
            largest_free: self.max_alloc_size(cx.ram)?,
        })
    }

    /// Address-ordered first fit over the general list; emits `search`.
    fn first_fit<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        need: u32,
    ) -> Result<Option<Addr>, AllocError> {
        let mut cur = rd(cx.ram, self.general_head_addr())?;
        let mut visited = 0;
        let mut found = None;
        while cur != 0 {
            if visited >= self.max_blocks() {
                return Err(AllocError::Inconsistent {
                    at: self.general_head_addr(),
                    rule: "the general free list is longer than the area allows (a cycle?)",
                });
            }
            visited += 1;
            let b = self.read_hdr(cx.ram, cur)?;
            if !b.is_general_free() {
                return Err(AllocError::Inconsistent {
                    at: cur,
                    rule: "the general free list holds a block that is not general and free",
                });
            }
            if b.size >= need {
                found = Some(cur);
                break;
            }
            cur = rd(cx.ram, cur.wrapping_add(H_REQ_NEXT))?;
        }
        cx.emit(
            self.name,
            EventKind::Search {
                size: need,
                visited,
            },
        );
        Ok(found)
    }

    /// Takes the general free block `h` off its list and cuts `need` bytes from its
    /// front when the rest can hold a minimal block; returns the size handed out.
    fn carve<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        h: Addr,
        need: u32,
    ) -> Result<u32, AllocError> {
        self.unlink_general(cx, h)?;
        let size = rd(cx.ram, h.wrapping_add(H_SIZE))?;
        let rest_size = size.saturating_sub(need);
        if rest_size < self.min_free() {
            return Ok(size);
        }
        let name = self.name;
        let rest = h + need;
        cx.set_word(name, h.wrapping_add(H_SIZE), Field::Size, need)?;
        cx.set_word(name, rest.wrapping_add(H_SIZE), Field::Size, rest_size)?;
        cx.set_word(name, rest.wrapping_add(H_PREV_PHYS), Field::PhysPrev, h)?;
        cx.set_word(name, rest.wrapping_add(H_POOL), Field::Pool, GENERAL)?;
        cx.set_word(name, rest.wrapping_add(H_MAGIC), Field::Magic, FREE_MAGIC)?;
        let after = rest + rest_size;
        if after != self.area_end {
            cx.set_word(name, after.wrapping_add(H_PREV_PHYS), Field::PhysPrev, rest)?;
        }
        cx.emit(
            name,
            EventKind::Split {
                addr: h,
                size: need,
                rest,
                rest_size,
            },
        );
        self.insert_general(cx, rest)?;
        Ok(need)
    }

    /// Takes `h` off the (doubly linked) general list.
    fn unlink_general<S: Storage>(&self, cx: &mut Ctx<'_, S>, h: Addr) -> Result<(), AllocError> {
        let next = rd(cx.ram, h.wrapping_add(H_REQ_NEXT))?;
        let prev = rd(cx.ram, h.wrapping_add(H_OWNER_PREV))?;
        if prev == 0 {
            cx.set_word(self.name, self.general_head_addr(), Field::Head, next)?;
        } else {
            cx.set_word(self.name, prev.wrapping_add(H_REQ_NEXT), Field::Next, next)?;
        }
        if next != 0 {
            cx.set_word(
                self.name,
                next.wrapping_add(H_OWNER_PREV),
                Field::Prev,
                prev,
            )?;
        }
        cx.emit(
            self.name,
            EventKind::Unlink {
                list: self.subpools,
                addr: h,
            },
        );
        Ok(())
    }

    /// Puts `h` on the general list at its address-ordered place.
    fn insert_general<S: Storage>(&self, cx: &mut Ctx<'_, S>, h: Addr) -> Result<(), AllocError> {
        let mut prev = 0;
        let mut cur = rd(cx.ram, self.general_head_addr())?;
        let mut budget = self.max_blocks();
        while cur != 0 && cur < h {
            if budget == 0 {
                return Err(AllocError::Inconsistent {
                    at: self.general_head_addr(),
                    rule: "the general free list is longer than the area allows (a cycle?)",
                });
            }
            budget -= 1;
            prev = cur;
            cur = rd(cx.ram, cur.wrapping_add(H_REQ_NEXT))?;
        }
        let name = self.name;
        cx.set_word(name, h.wrapping_add(H_REQ_NEXT), Field::Next, cur)?;
        cx.set_word(name, h.wrapping_add(H_OWNER_PREV), Field::Prev, prev)?;
        if prev == 0 {
            cx.set_word(name, self.general_head_addr(), Field::Head, h)?;
        } else {
            cx.set_word(name, prev.wrapping_add(H_REQ_NEXT), Field::Next, h)?;
        }
        if cur != 0 {
            cx.set_word(name, cur.wrapping_add(H_OWNER_PREV), Field::Prev, h)?;
        }
        cx.emit(
            name,
            EventKind::Link {
                list: self.subpools,
                addr: h,
            },
        );
        Ok(())
    }

    /// The largest run of physically adjacent free blocks (of any list): the biggest
    /// block a reclaim could make.
    fn largest_run<S: Storage>(&self, ram: &Ram<S>) -> Result<u32, AllocError> {
        let mut best = 0u32;
        let mut run = 0u32;
        self.each_block(ram, |b| {
            if b.magic == FREE_MAGIC {
                run = run.saturating_add(b.size);
                best = best.max(run);
            } else {
                run = 0;
            }
            Ok(true)
        })?;
        Ok(best)
    }

    /// Moves every cached class block to the general list, then coalesces all
    /// neighbouring general free blocks.
    fn reclaim<S: Storage>(&mut self, cx: &mut Ctx<'_, S>) -> Result<(), AllocError> {
        let name = self.name;
        for k in 0..self.subpools {
            let mut budget = self.max_blocks();
            loop {
                let head = self.head_addr(k);
                let h = rd(cx.ram, head)?;
                if h == 0 {
                    break;
                }
                if budget == 0 {
                    return Err(AllocError::Inconsistent {
                        at: head,
                        rule: "a class list is longer than the area allows (a cycle?)",
                    });
                }
                budget -= 1;
                let b = self.read_hdr(cx.ram, h)?;
                if !b.is_class_free() || b.pool != k {
                    return Err(AllocError::Inconsistent {
                        at: head,
                        rule: "a class list holds a block that is not a free block of its class",
                    });
                }
                let next = rd(cx.ram, h.wrapping_add(H_REQ_NEXT))?;
                cx.set_word(name, head, Field::Head, next)?;
                cx.emit(name, EventKind::Unlink { list: k, addr: h });
                cx.set_word(name, h.wrapping_add(H_POOL), Field::Pool, GENERAL)?;
                self.insert_general(cx, h)?;
            }
        }
        let mut at = self.area_start;
        let mut budget = self.max_blocks();
        while at != self.area_end {
            if budget == 0 {
                return Err(AllocError::Inconsistent {
                    at,
                    rule: "more blocks than the ADM area can hold",
                });
            }
            budget -= 1;
            let b = self.read_hdr(cx.ram, at)?;
            let size = if b.is_general_free() {
                self.absorb_following(cx, b)?
            } else {
                b.size
            };
            // Merged blocks were read and checked one by one, so the sum stays inside
            // the area.
            at = b.addr.wrapping_add(size);
            if at <= b.addr || at > self.area_end {
                return Err(AllocError::Inconsistent {
                    at: b.addr,
                    rule: "a block size runs past the area",
                });
            }
        }
        Ok(())
    }

    /// Merges every general free block that follows `b` physically into it and fixes
    /// the next block's `prev_phys`; returns the merged size.
    fn absorb_following<S: Storage>(&self, cx: &mut Ctx<'_, S>, b: Hdr) -> Result<u32, AllocError> {
        let name = self.name;
        let mut size = b.size;
        let mut budget = self.max_blocks();
        loop {
            let next = b.addr.wrapping_add(size);
            if next == self.area_end || budget == 0 {
                break;
            }
            budget -= 1;
            let nb = self.read_hdr(cx.ram, next)?;
            if !nb.is_general_free() {
                break;
            }
            self.unlink_general(cx, next)?;
            size = size.wrapping_add(nb.size);
            cx.set_word(name, b.addr.wrapping_add(H_SIZE), Field::Size, size)?;
            cx.emit(
                name,
                EventKind::Merge {
                    addr: b.addr,
                    size,
                    absorbed: next,
                },
            );
        }
        let after = b.addr.wrapping_add(size);
        if size != b.size && after != self.area_end {
            cx.set_word(
                name,
                after.wrapping_add(H_PREV_PHYS),
                Field::PhysPrev,
                b.addr,
            )?;
        }
        Ok(size)
    }

    /// Reads and checks everything `free` of `addr` will touch, so that a refused free
    /// writes nothing: the block (found by walking, both gaps), its physical neighbours
    /// and the general list it may join.
    fn plan_free<S: Storage>(&self, ram: &Ram<S>, addr: Addr) -> Result<FreePlan, AllocError> {
        self.ensure_pool(ram)?;
        let b = self.find(ram, addr)?;
        if !b.is_live() {
            return Err(AllocError::DoubleFree { addr });
        }
        self.check_live(ram, &b)?;
        let owner = Owner(rd(ram, b.addr.wrapping_add(H_OWNER_PREV))? as u16);
        let mut plan = FreePlan {
            block: b,
            owner,
            prev: None,
            next: None,
        };
        if b.pool != GENERAL {
            return Ok(plan);
        }
        if b.prev_phys != 0 {
            let p = self.read_hdr(ram, b.prev_phys)?;
            plan.prev = p.is_general_free().then_some(p);
        }
        if b.end() != self.area_end {
            let n = self.read_hdr(ram, b.end())?;
            if n.prev_phys != b.addr {
                return Err(AllocError::Corrupted {
                    at: n.addr.wrapping_add(H_PREV_PHYS),
                    field: Field::PhysPrev,
                    expected: b.addr,
                    found: n.prev_phys,
                });
            }
            plan.next = n.is_general_free().then_some(n);
        }
        self.check_general_list(ram)?;
        Ok(plan)
    }

    /// Walks the general list: each node a general free block, each `prev` the node
    /// before, no longer than the area allows.
    fn check_general_list<S: Storage>(&self, ram: &Ram<S>) -> Result<(), AllocError> {
        let mut cur = rd(ram, self.general_head_addr())?;
        let mut prev = 0;
        let mut budget = self.max_blocks();
        while cur != 0 {
            if budget == 0 {
                return Err(AllocError::Inconsistent {
                    at: self.general_head_addr(),
                    rule: "the general free list is longer than the area allows (a cycle?)",
                });
            }
            budget -= 1;
            let b = self.read_hdr(ram, cur)?;
            if !b.is_general_free() {
                return Err(AllocError::Inconsistent {
                    at: cur,
                    rule: "the general free list holds a block that is not general and free",
                });
            }
            let back = rd(ram, cur.wrapping_add(H_OWNER_PREV))?;
            if back != prev {
                return Err(AllocError::Corrupted {
                    at: cur.wrapping_add(H_OWNER_PREV),
                    field: Field::Prev,
                    expected: prev,
                    found: back,
                });
            }
            prev = cur;
            cur = rd(ram, cur.wrapping_add(H_REQ_NEXT))?;
        }
        Ok(())
    }

    fn free_inner<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
    ) -> Result<(), AllocError> {
        let FreePlan {
            block: b,
            owner,
            prev,
            next,
        } = self.plan_free(cx.ram, addr)?;
        let name = self.name;
        let h = b.addr;
        cx.set_word(name, h.wrapping_add(H_MAGIC), Field::Magic, FREE_MAGIC)?;
        if b.pool != GENERAL {
            // A subpool block waits on its class list for the next request of its class.
            let head = self.head_addr(b.pool);
            let first = rd(cx.ram, head)?;
            cx.set_word(name, h.wrapping_add(H_REQ_NEXT), Field::Next, first)?;
            cx.set_word(name, h.wrapping_add(H_OWNER_PREV), Field::Prev, 0)?;
            cx.set_word(name, head, Field::Head, h)?;
            cx.emit(
                name,
                EventKind::Link {
                    list: b.pool,
                    addr: h,
                },
            );
        } else {
            // A general block merges with its free general neighbours; by the
            // coalescing invariant there is at most one on each side.
            let mut start = h;
            let mut size = b.size;
            if let Some(p) = prev {
                self.unlink_general(cx, p.addr)?;
                start = p.addr;
                size = size.wrapping_add(p.size);
                cx.set_word(name, start.wrapping_add(H_SIZE), Field::Size, size)?;
                let absorbed = h;
                cx.emit(
                    name,
                    EventKind::Merge {
                        addr: start,
                        size,
                        absorbed,
                    },
                );
            }
            if let Some(n) = next {
                self.unlink_general(cx, n.addr)?;
                size = size.wrapping_add(n.size);
                cx.set_word(name, start.wrapping_add(H_SIZE), Field::Size, size)?;
                let absorbed = n.addr;
                cx.emit(
                    name,
                    EventKind::Merge {
                        addr: start,
                        size,
                        absorbed,
                    },
                );
            }
            let after = start.wrapping_add(size);
            if (prev.is_some() || next.is_some()) && after != self.area_end {
                cx.set_word(
                    name,
                    after.wrapping_add(H_PREV_PHYS),
                    Field::PhysPrev,
                    start,
                )?;
            }
            self.insert_general(cx, start)?;
        }
        let live = rd(cx.ram, self.base + CB_LIVE)?;
        cx.set_word(
            name,
            self.base + CB_LIVE,
            Field::Count,
            live.wrapping_sub(1),
        )?;
        cx.emit(
            name,
            EventKind::Free {
                addr,
                block: b.size,
                owner,
            },
        );
        Ok(())
    }

    /// True iff a request of `size` bytes would succeed now.
    pub fn can_alloc<S: Storage>(&self, ram: &Ram<S>, size: u32) -> Result<bool, AllocError> {
        if size == 0 {
            return Ok(false);
        }
        self.ensure_pool(ram)?;
        let run = self.largest_run(ram)? as u64;
        Ok(match self.class_for(ram, size)? {
            Class::Sub { k, cap } => {
                rd(ram, self.head_addr(k))? != 0 || self.block_need(cap as u64) <= run
            }
            Class::General => self.block_need(align4(size as u64)) <= run,
        })
    }

    /// The largest single request that would succeed now
    /// (`kal_adm_get_max_alloc_size`): a subpool size whose list has a block, or what
    /// the largest run of free blocks holds.
    pub fn max_alloc_size<S: Storage>(&self, ram: &Ram<S>) -> Result<u32, AllocError> {
        self.ensure_pool(ram)?;
        let run = self.largest_run(ram)?;
        let general = run.saturating_sub(self.block_overhead());
        let mut best = 0;
        let mut last = 0;
        for k in 0..self.subpools {
            let cap = self.class_size(ram, k)?;
            let listed = rd(ram, self.head_addr(k))? != 0;
            if listed || self.block_need(cap as u64) <= run as u64 {
                best = best.max(cap);
            }
            last = cap;
        }
        if general > last {
            best = best.max(general);
        }
        Ok(best)
    }

    /// Free bytes in all free blocks, headers included (`kal_adm_get_total_left_size`).
    pub fn total_left_size<S: Storage>(&self, ram: &Ram<S>) -> Result<u32, AllocError> {
        let mut left = 0u32;
        self.each_block(ram, |b| {
            if b.magic == FREE_MAGIC {
                left = left.saturating_add(b.size);
            }
            Ok(true)
        })?;
        Ok(left)
    }

    /// What the header of the live block handed out at `addr` says. Reads the header
    /// directly, without walking the pool.
    pub fn block_info<S: Storage>(
        &self,
        ram: &Ram<S>,
        addr: Addr,
    ) -> Result<BlockInfo, AllocError> {
        let lead = self.header_len() + FRONT_GAP;
        let h = addr.wrapping_sub(lead);
        if !addr.is_multiple_of(4) || (addr as u64) < self.area_start as u64 + lead as u64 {
            return Err(AllocError::InvalidPointer { addr });
        }
        let b = self
            .read_hdr(ram, h)
            .map_err(|_| AllocError::InvalidPointer { addr })?;
        if !b.is_live() {
            return Err(AllocError::InvalidPointer { addr });
        }
        let requested = rd(ram, h.wrapping_add(H_REQ_NEXT))?;
        let owner = Owner(rd(ram, h.wrapping_add(H_OWNER_PREV))? as u16);
        let site = if self.logging {
            Some((
                rd(ram, h.wrapping_add(H_FILE))?,
                rd(ram, h.wrapping_add(H_LINE))?,
            ))
        } else {
            None
        };
        Ok(BlockInfo {
            addr,
            block: h,
            block_size: b.size,
            requested,
            owner,
            subpool: (b.pool != GENERAL).then_some(b.pool),
            site,
        })
    }

    /// Checks the live block handed out at `addr` as `free` would (found by a walk, its
    /// header and both guard gaps, its neighbours, the general list) without changing
    /// anything; returns its header. A block that passes is one `free` will take.
    pub fn verify_live<S: Storage>(
        &self,
        ram: &Ram<S>,
        addr: Addr,
    ) -> Result<BlockInfo, AllocError> {
        self.plan_free(ram, addr)?;
        self.block_info(ram, addr)
    }

    /// Visits the payload address of every live block, in address order.
    pub fn live_blocks<S: Storage>(
        &self,
        ram: &Ram<S>,
        visit: &mut dyn FnMut(Addr),
    ) -> Result<(), AllocError> {
        self.ensure_pool(ram)?;
        self.each_block(ram, |b| {
            if b.is_live() {
                visit(self.payload_of(b.addr));
            }
            Ok(true)
        })
    }

    /// `kal_adm_delete`: refuses while blocks are live (listing them in a
    /// `delete_refused` event and the error); otherwise clears the control block's magic
    /// and emits `delete`. The struct is left as a handle to a deleted pool: every later
    /// operation on it reports the cleared magic.
    pub fn delete<S: Storage>(&mut self, cx: &mut Ctx<'_, S>) -> Result<(), DeleteError> {
        self.ensure_pool(cx.ram)?;
        let mut count = 0u32;
        let mut first = [0; 4];
        self.each_block(cx.ram, |b| {
            if b.is_live() {
                if let Some(slot) = first.get_mut(count as usize) {
                    *slot = self.payload_of(b.addr);
                }
                count += 1;
            }
            Ok(true)
        })?;
        if count > 0 {
            cx.emit(
                self.name,
                EventKind::Asm(AsmEvent::DeleteRefused {
                    live: count,
                    first: first[0],
                }),
            );
            return Err(DeleteError::LiveBlocks {
                count,
                first,
                shown: count.min(4) as u8,
            });
        }
        cx.set_word(self.name, self.base + CB_MAGIC, Field::Magic, DELETED_MAGIC)?;
        cx.emit(
            self.name,
            EventKind::Asm(AsmEvent::Delete {
                base: self.base,
                size: self.size,
            }),
        );
        Ok(())
    }

    /// A block is a real one iff its `prev_phys` block ends where it starts and the
    /// block after it names it as `prev_phys`.
    fn check_neighbours<S: Storage>(&self, ram: &Ram<S>, b: &Hdr) -> Result<(), AllocError> {
        let before_ok = if b.prev_phys == 0 {
            b.addr == self.area_start
        } else {
            let p = self.read_hdr(ram, b.prev_phys)?;
            p.end() == b.addr
        };
        let after_ok =
            b.end() == self.area_end || rd(ram, b.end().wrapping_add(H_PREV_PHYS))? == b.addr;
        if before_ok && after_ok {
            Ok(())
        } else {
            Err(AllocError::Inconsistent {
                at: b.addr,
                rule: "a listed block does not sit between its physical neighbours",
            })
        }
    }

    /// Checks the control block against the configuration.
    fn check_control<S: Storage>(&self, ram: &Ram<S>) -> Result<(), AllocError> {
        self.ensure_pool(ram)?;
        let expect = |at: Addr, field: Field, expected: u32| -> Result<(), AllocError> {
            let found = rd(ram, at)?;
            if found != expected {
                return Err(AllocError::Corrupted {
                    at,
                    field,
                    expected,
                    found,
                });
            }
            Ok(())
        };
        let b = self.base;
        expect(b + CB_SIZE, Field::Size, self.size)?;
        let flags = if self.logging { FLAG_LOGGING } else { 0 };
        expect(b + CB_FLAGS, Field::Flags, flags)?;
        expect(b + CB_AREA_START, Field::Data, self.area_start)?;
        expect(b + CB_AREA_END, Field::Data, self.area_end)?;
        expect(b + CB_SUBPOOLS, Field::Count, self.subpools)?;
        let mut last = 0;
        for k in 0..self.subpools {
            let at = self.size_addr(k);
            let size = rd(ram, at)?;
            if size <= last || !size.is_multiple_of(4) {
                return Err(AllocError::Inconsistent {
                    at,
                    rule: "subpool sizes must be multiples of 4 in ascending order",
                });
            }
            last = size;
        }
        expect(self.size_addr(self.subpools), Field::Size, 0)
    }
}

impl Allocator for Adm {
    fn name(&self) -> Name {
        self.name
    }

    fn alloc_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        owner: Owner,
    ) -> Result<Addr, AllocError> {
        self.alloc_inner(cx, size, owner, None)
    }

    fn free_impl<S: Storage>(&mut self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<(), AllocError> {
        self.free_inner(cx, addr)
    }

    fn walk<S: Storage>(
        &self,
        ram: &Ram<S>,
        visit: &mut dyn FnMut(Block),
    ) -> Result<(), AllocError> {
        self.ensure_pool(ram)?;
        let span = |addr, len, kind, block, owner| Block {
            addr,
            len,
            kind,
            block,
            owner,
        };
        let base = self.base;
        visit(span(
            base,
            self.area_start - base,
            BlockKind::Header,
            base,
            Owner::NONE,
        ));
        let header_len = self.header_len();
        self.each_block(ram, |b| {
            if b.is_live() {
                let req = rd(ram, b.addr.wrapping_add(H_REQ_NEXT))?;
                let lead = header_len + FRONT_GAP;
                if lead as u64 + req as u64 > b.size as u64 {
                    return Err(AllocError::Inconsistent {
                        at: b.addr.wrapping_add(H_REQ_NEXT),
                        rule: "a live block's requested size does not fit its block",
                    });
                }
                let owner = Owner(rd(ram, b.addr.wrapping_add(H_OWNER_PREV))? as u16);
                let p = self.payload_of(b.addr);
                visit(span(b.addr, header_len, BlockKind::Header, p, owner));
                visit(span(
                    b.addr + header_len,
                    FRONT_GAP,
                    BlockKind::Guard,
                    p,
                    owner,
                ));
                visit(span(p, req, BlockKind::Payload, p, owner));
                visit(span(
                    p + req,
                    b.size - lead - req,
                    BlockKind::Guard,
                    p,
                    owner,
                ));
            } else {
                visit(span(b.addr, b.size, BlockKind::Free, b.addr, Owner::NONE));
            }
            Ok(true)
        })?;
        let end = base as u64 + self.size as u64;
        let tail = end - self.area_end as u64;
        if tail > 0 {
            visit(span(
                self.area_end,
                tail as u32,
                BlockKind::Padding,
                base,
                Owner::NONE,
            ));
        }
        Ok(())
    }

    /// The control block; every block (tiling, `prev_phys`, magic, pool, sizes, both
    /// guard gaps of live blocks, no two neighbouring general free blocks); the live
    /// count; the general list (sorted, doubly linked, exactly the general free blocks);
    /// each class list (exactly the free blocks of its class: same count, same sum and
    /// xor of addresses, each node consistent with its physical neighbours).
    fn check<S: Storage>(&self, ram: &Ram<S>) -> Result<(), AllocError> {
        self.check_control(ram)?;
        let n = self.subpools as usize;
        let mut live = 0u32;
        let mut class_count = [0u32; MAX_SUBPOOLS as usize];
        let mut class_sum = [0u64; MAX_SUBPOOLS as usize];
        let mut class_xor = [0u32; MAX_SUBPOOLS as usize];
        let mut prev_general_free = false;
        self.each_block(ram, |b| {
            if b.is_live() {
                self.check_live(ram, &b)?;
                live += 1;
            } else if b.is_general_free() {
                if prev_general_free {
                    return Err(AllocError::Inconsistent {
                        at: b.addr,
                        rule: "two neighbouring general free blocks were not coalesced",
                    });
                }
            } else {
                let k = b.pool as usize;
                let cap = self.class_size(ram, b.pool)?;
                if (b.size as u64) < self.block_need(cap as u64) {
                    return Err(AllocError::Inconsistent {
                        at: b.addr,
                        rule: "a free subpool block is smaller than its class",
                    });
                }
                if let (Some(c), Some(s), Some(x)) = (
                    class_count.get_mut(k),
                    class_sum.get_mut(k),
                    class_xor.get_mut(k),
                ) {
                    *c += 1;
                    *s += b.addr as u64;
                    *x ^= b.addr;
                }
            }
            prev_general_free = b.is_general_free();
            Ok(true)
        })?;
        let live_word = rd(ram, self.base + CB_LIVE)?;
        if live_word != live {
            return Err(AllocError::Corrupted {
                at: self.base + CB_LIVE,
                field: Field::Count,
                expected: live,
                found: live_word,
            });
        }

        // The general list, in step with the general free blocks in address order.
        let head_at = self.general_head_addr();
        let mut cur = rd(ram, head_at)?;
        let mut link_at = head_at;
        let mut prev_node = 0;
        self.each_block(ram, |b| {
            if !b.is_general_free() {
                return Ok(true);
            }
            let field = if link_at == head_at {
                Field::Head
            } else {
                Field::Next
            };
            if cur != b.addr {
                return Err(AllocError::Corrupted {
                    at: link_at,
                    field,
                    expected: b.addr,
                    found: cur,
                });
            }
            let prev = rd(ram, b.addr.wrapping_add(H_OWNER_PREV))?;
            if prev != prev_node {
                return Err(AllocError::Corrupted {
                    at: b.addr.wrapping_add(H_OWNER_PREV),
                    field: Field::Prev,
                    expected: prev_node,
                    found: prev,
                });
            }
            prev_node = b.addr;
            link_at = b.addr.wrapping_add(H_REQ_NEXT);
            cur = rd(ram, link_at)?;
            Ok(true)
        })?;
        if cur != 0 {
            let field = if link_at == head_at {
                Field::Head
            } else {
                Field::Next
            };
            return Err(AllocError::Corrupted {
                at: link_at,
                field,
                expected: 0,
                found: cur,
            });
        }

        // Each class list.
        for k in 0..n {
            let head_at = self.head_addr(k as u32);
            let want = class_count.get(k).copied().unwrap_or(0);
            let mut cur = rd(ram, head_at)?;
            let (mut count, mut sum, mut xor) = (0u32, 0u64, 0u32);
            while cur != 0 {
                if count >= want {
                    return Err(AllocError::Inconsistent {
                        at: head_at,
                        rule:
                            "a class list is longer than its free blocks (a cycle or a stray block)",
                    });
                }
                let b = self.read_hdr(ram, cur)?;
                if !b.is_class_free() || b.pool != k as u32 {
                    return Err(AllocError::Inconsistent {
                        at: cur,
                        rule: "a class list holds a block that is not a free block of its class",
                    });
                }
                self.check_neighbours(ram, &b)?;
                count += 1;
                sum += cur as u64;
                xor ^= cur;
                cur = rd(ram, cur.wrapping_add(H_REQ_NEXT))?;
            }
            let same =
                Some(sum) == class_sum.get(k).copied() && Some(xor) == class_xor.get(k).copied();
            if count != want || !same {
                return Err(AllocError::Inconsistent {
                    at: head_at,
                    rule: "a class list does not hold exactly the free blocks of its class",
                });
            }
        }
        Ok(())
    }
}
