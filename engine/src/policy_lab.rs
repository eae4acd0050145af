//! The free-list policy lab: the textbook allocator that every real one in this engine is a
//! variation of, with each of its choices turned into a setting.
//!
//! A pool is one run of memory cut into blocks. A free block sits on a *free list*; a request
//! searches that list for a block that fits, carves what it needs from the block's low end
//! and leaves the rest on the list; a free puts the block back and, with coalescing on,
//! merges it with its free neighbours. Knuth (TAOCP vol. 1, §2.5) and Wilson et al.'s survey
//! *Dynamic Storage Allocation* (1995) describe the choices this lab exposes:
//!
//! - **fit policy** ([`FitPolicy`]): *first fit* takes the first block that fits; *best fit*
//!   the smallest that fits (LiteOS's `OsMemFindSuitableFreeBlock`, seed 004, which the seed
//!   warns leaves "many tiny fragments"); *worst fit* the largest; *next fit* is first fit that
//!   resumes where the last search stopped (Knuth's "roving pointer"), wrapping once;
//! - **list order** ([`ListOrder`]): address-sorted, size-ascending (LiteOS keeps its list
//!   "from small to large", so best fit is simply first fit), size-descending, insert-at-front
//!   (LIFO) or insert-at-back (FIFO);
//! - **coalescing** on or off: off leaves adjacent free blocks apart, so a request can fail
//!   while enough free bytes lie side by side ("false fragmentation");
//! - **header size** (0 to 16 bytes) and **alignment** (1 to 16, a power of two).
//!
//! # Layout
//!
//! The pool `[base, base + size)` holds a *tiled area* `[area, area + area_len)`: `area` is the
//! first address at or after `base` whose `area + header` is aligned, and `area_len` is the
//! rest rounded down to a multiple of the alignment. The bytes before and after the area are
//! reported by [`walk`](Allocator::walk) as padding. The area is tiled exactly by blocks:
//!
//! ```text
//! live block:  [ header (h bytes) | payload (size bytes) | padding ]   len = round_up(h + size, align)
//! free block:  [ free bytes ........................................ ]   len = a multiple of align
//! ```
//!
//! The address handed out is `start + h`, always aligned, because every block length is a
//! multiple of the alignment and the area starts where `start + h` is aligned. A block is
//! split iff the remainder can hold a block of its own (`round_up(h + 1, align)` bytes, so
//! with a header of 0 and alignment 1 a 1-byte fragment is split off and shown); otherwise
//! the whole free block is handed out and the extra bytes are padding.
//!
//! With a header of 4 bytes or more the block length is also written into the header in RAM
//! (offset 0, field `size`), and with 8 bytes or more the owner too (offset 4, field
//! `owner`); the rest of a header is left as it was. [`free`](Allocator::free) and
//! [`check`](Allocator::check) compare them with the table and report `Corrupted` when a
//! byte changed. Free blocks carry nothing in RAM.
//!
//! # Bookkeeping outside RAM
//!
//! Unlike the engine's other allocators, the lab keeps its free list and its table of live
//! blocks in this struct, in fixed arrays, not in the simulated RAM: the lesson is the policy,
//! and keeping links out of RAM is what lets a header be 0 bytes and a free fragment be
//! 1 byte. Both tables share a budget of [`MAX_BLOCKS`] records (live + free). Only a split
//! adds a record (a free never does), so when the budget is spent a request that would split
//! fails with `OutOfMemory` (whose `largest_free` may then be larger than the request: the
//! table, not the pool, is full), while a request that takes a whole free block still works.
//!
//! # Searching
//!
//! Every request that searches emits `search size=.. visited=..`: the number of free-list
//! elements it looked at, the cost a textbook compares policies by; [`PolicyLab::last_search`]
//! and [`PolicyLab::total_searched`] keep the figures for the front end. A search stops as
//! soon as its answer is certain from what it has seen and from the list order:
//!
//! | policy | stops at |
//! |---|---|
//! | first, next | the first block that fits |
//! | best | an exact fit; on a size-ascending list the first fit; on a size-descending list the first block too small (nothing after it fits) |
//! | worst | on a size-descending list the first element; otherwise the end of the list |
//!
//! Ties go to the element met first in list order: best and worst fit replace their choice
//! only with a strictly smaller or larger block.
//!
//! # Where the remainder and a freed block go
//!
//! - *Address order*: by address. The remainder of a split starts inside the block it came
//!   from, so it keeps that block's position in the list.
//! - *Size orders*: by size, equal sizes by address; the remainder is smaller than its block,
//!   so it moves to its own place.
//! - *LIFO / FIFO*: a freed (or merged) block goes to the front / the back. The remainder of a
//!   split keeps its block's position: it is the same free block, shrunk, not a block that was
//!   just freed, so it does not jump to an end. This is the in-place split of an explicit
//!   free list: no list walk, and the next-fit rover stays on it.
//!
//! Every change of list membership is an `unlink` or a `link` event on list 0, so a split reads
//! `unlink` (the block), `split`, `link` (the remainder, at its place).
//!
//! # Next fit's roving pointer
//!
//! The rover names a list element (a position, [`PolicyLab::rover`] gives its address). After
//! an allocation it names where the search stopped: the remainder if the block was split
//! (wherever the order put it), else the element that followed the used-up block. It follows
//! its element when others are linked or unlinked before it; when its element is unlinked it
//! moves to the follower, wrapping to the list head past the end. A failed search leaves it
//! where it was. The rover is kept under every policy but only next fit starts from it.
//!
//! # Events
//!
//! - creation: `link` of the one free block (the whole area), then `init`;
//! - alloc: `search`, then on success `unlink`, `split` + `link` when the block is split,
//!   `meta` for each header word, and `alloc` last;
//! - free: with coalescing on, `unlink` + `merge` for the lower and then the upper free
//!   neighbour, then `link` of the (merged) block, and `free` last.
//!
//! A free of an address that is not a live block changes nothing and gives `DoubleFree` when
//! the address lies in free memory where a payload could start (as a real allocator reading a
//! "free" header would say), `InvalidPointer` otherwise.

use core::fmt;

use crate::allocator::{Allocator, Block, BlockKind, Ctx, Owner};
use crate::error::{AllocError, ConfigError};
use crate::name::Name;
use crate::ram::{Addr, Ram, Storage};
use crate::trace::{EventKind, Field};

/// The records the lab's tables hold in all: live blocks plus free blocks.
pub const MAX_BLOCKS: usize = 256;
/// The largest header the lab allows, in bytes.
pub const MAX_HEADER: u32 = 16;
/// The largest alignment the lab allows, in bytes.
pub const MAX_ALIGN: u32 = 16;
/// The lab has one free list; its `link`/`unlink` events carry this number.
const LIST: u32 = 0;

/// How a request chooses among the free blocks that fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FitPolicy {
    /// The first block in list order that fits.
    First,
    /// The smallest block that fits.
    Best,
    /// The largest block.
    Worst,
    /// First fit from where the last search stopped, wrapping once.
    Next,
}

impl FitPolicy {
    pub const ALL: [FitPolicy; 4] = [
        FitPolicy::First,
        FitPolicy::Best,
        FitPolicy::Worst,
        FitPolicy::Next,
    ];

    /// The word scripts and the front end use.
    pub fn as_str(self) -> &'static str {
        match self {
            FitPolicy::First => "first",
            FitPolicy::Best => "best",
            FitPolicy::Worst => "worst",
            FitPolicy::Next => "next",
        }
    }

    /// The policy named by [`as_str`](FitPolicy::as_str)'s word.
    pub fn from_word(word: &str) -> Option<FitPolicy> {
        FitPolicy::ALL.into_iter().find(|p| p.as_str() == word)
    }
}

/// Where the free list puts a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ListOrder {
    /// Sorted by address, lowest first.
    Address,
    /// Sorted by size, smallest first; equal sizes by address.
    SizeAscending,
    /// Sorted by size, largest first; equal sizes by address.
    SizeDescending,
    /// A freed block goes to the front.
    Lifo,
    /// A freed block goes to the back.
    Fifo,
}

impl ListOrder {
    pub const ALL: [ListOrder; 5] = [
        ListOrder::Address,
        ListOrder::SizeAscending,
        ListOrder::SizeDescending,
        ListOrder::Lifo,
        ListOrder::Fifo,
    ];

    /// The word scripts and the front end use.
    pub fn as_str(self) -> &'static str {
        match self {
            ListOrder::Address => "address",
            ListOrder::SizeAscending => "size_asc",
            ListOrder::SizeDescending => "size_desc",
            ListOrder::Lifo => "lifo",
            ListOrder::Fifo => "fifo",
        }
    }

    /// The order named by [`as_str`](ListOrder::as_str)'s word.
    pub fn from_word(word: &str) -> Option<ListOrder> {
        ListOrder::ALL.into_iter().find(|o| o.as_str() == word)
    }

    /// True for the orders that sort the list, which `check()` can verify.
    fn is_sorted(self) -> bool {
        matches!(
            self,
            ListOrder::Address | ListOrder::SizeAscending | ListOrder::SizeDescending
        )
    }
}

/// The lab's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LabConfig {
    pub fit: FitPolicy,
    pub order: ListOrder,
    /// Merge a freed block with its physically adjacent free blocks.
    pub coalesce: bool,
    /// Header bytes before each payload, 0 to [`MAX_HEADER`].
    pub header: u32,
    /// Payload alignment, a power of two from 1 to [`MAX_ALIGN`].
    pub align: u32,
}

impl Default for LabConfig {
    /// First fit on an address-ordered list, coalescing on, a 4-byte header, 4-byte
    /// alignment: the allocator of most textbooks.
    fn default() -> LabConfig {
        LabConfig {
            fit: FitPolicy::First,
            order: ListOrder::Address,
            coalesce: true,
            header: 4,
            align: 4,
        }
    }
}

impl LabConfig {
    /// Refuses a header above [`MAX_HEADER`] (`BadBlockSize` with the header size) and an
    /// alignment that is not a power of two up to [`MAX_ALIGN`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.header > MAX_HEADER {
            return Err(ConfigError::BadBlockSize { size: self.header });
        }
        if !self.align.is_power_of_two() || self.align > MAX_ALIGN {
            return Err(ConfigError::BadAlignment { align: self.align });
        }
        Ok(())
    }

    /// The block length a request of `size` bytes needs: header plus payload, rounded up to
    /// the alignment. In `u64`, so that any `size` is fine.
    pub fn block_len(&self, size: u32) -> u64 {
        round_up(self.header as u64 + size as u64, self.align as u64)
    }

    /// The smallest block: one that holds a 1-byte payload. A remainder is split off iff
    /// it is at least this long.
    pub fn min_block(&self) -> u32 {
        // header <= 16 and align <= 16, so this is at most 32.
        self.block_len(1) as u32
    }
}

/// `value` rounded up to a multiple of `align` (a power of two, at least 1).
fn round_up(value: u64, align: u64) -> u64 {
    let mask = align.saturating_sub(1);
    value.saturating_add(mask) & !mask
}

/// One element of the free list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FreeSpan {
    pub addr: Addr,
    pub len: u32,
}

impl FreeSpan {
    fn end(&self) -> u64 {
        self.addr as u64 + self.len as u64
    }
}

/// One record of the table of live blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveBlock {
    /// Where the block (its header) starts.
    pub start: Addr,
    /// The whole block: header, payload and padding.
    pub len: u32,
    /// The bytes requested.
    pub size: u32,
    pub owner: Owner,
}

impl LiveBlock {
    const EMPTY: LiveBlock = LiveBlock {
        start: 0,
        len: 0,
        size: 0,
        owner: Owner::NONE,
    };
}

/// A block of the tiled area, as the tiling walk meets it.
#[derive(Clone, Copy, Debug)]
enum Piece {
    Live(LiveBlock),
    Free(FreeSpan),
}

/// The free-list policy lab. See the [module documentation](self).
#[derive(Clone)]
pub struct PolicyLab {
    name: Name,
    config: LabConfig,
    /// The pool as given.
    base: Addr,
    size: u32,
    /// The tiled area: `area + header` is aligned, `area_len` is a multiple of the alignment
    /// and at least one minimal block.
    area: Addr,
    area_len: u32,
    /// The free list in list order, `free[..free_len]`. Every element is at least
    /// `min_block` long, a multiple of the alignment, and starts where a block may start;
    /// with a sorted order the elements are strictly increasing by the order's key.
    free: [FreeSpan; MAX_BLOCKS],
    free_len: usize,
    /// The live blocks by address, `live[..live_len]`, strictly increasing by `start`.
    /// `live_len + free_len <= MAX_BLOCKS`, and live plus free blocks tile the area.
    live: [LiveBlock; MAX_BLOCKS],
    live_len: usize,
    /// Next fit's roving pointer: `rover < free_len`, or 0 iff the list is empty.
    rover: usize,
    /// Elements the last searching request visited.
    last_search: u32,
    /// Elements all requests visited.
    total_searched: u64,
    /// Requests that searched.
    searches: u32,
}

impl fmt::Debug for PolicyLab {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyLab")
            .field("name", &self.name)
            .field("config", &self.config)
            .field("area", &(self.area, self.area_len))
            .field("free", &self.free_spans())
            .field("live", &self.live_blocks())
            .field("rover", &self.rover)
            .finish()
    }
}

impl PolicyLab {
    /// Creates a lab pool over `[base, base + size)`, which must lie in one RAM region.
    /// Emits `link` of the one free block, then `init`.
    pub fn new<S: Storage>(
        cx: &mut Ctx<'_, S>,
        name: Name,
        base: Addr,
        size: u32,
        config: LabConfig,
    ) -> Result<PolicyLab, AllocError> {
        config.validate()?;
        if !cx.ram.contains(base, size) {
            return Err(ConfigError::NotInRam { addr: base, size }.into());
        }
        let header = config.header as u64;
        let align = config.align as u64;
        let area = round_up(base as u64 + header, align) - header;
        let end = base as u64 + size as u64;
        let area_len = end.saturating_sub(area) / align * align;
        let min_block = config.min_block();
        if area_len < min_block as u64 {
            let needed = (area - base as u64).saturating_add(min_block as u64);
            return Err(ConfigError::TooSmall {
                needed: u32::try_from(needed).unwrap_or(u32::MAX),
                available: size,
            }
            .into());
        }
        // The area lies inside the pool, which lies inside RAM, so both fit in 32 bits.
        let (Ok(area), Ok(area_len)) = (u32::try_from(area), u32::try_from(area_len)) else {
            return Err(ConfigError::NotInRam { addr: base, size }.into());
        };
        let mut lab = PolicyLab {
            name,
            config,
            base,
            size,
            area,
            area_len,
            free: [FreeSpan::default(); MAX_BLOCKS],
            free_len: 0,
            live: [LiveBlock::EMPTY; MAX_BLOCKS],
            live_len: 0,
            rover: 0,
            last_search: 0,
            total_searched: 0,
            searches: 0,
        };
        let whole = FreeSpan {
            addr: area,
            len: area_len,
        };
        lab.list_insert(0, whole)?;
        cx.emit(
            name,
            EventKind::Link {
                list: LIST,
                addr: area,
            },
        );
        cx.emit(name, EventKind::Init { base, size });
        Ok(lab)
    }

    pub fn config(&self) -> LabConfig {
        self.config
    }

    /// The pool as given: `(base, size)`.
    pub fn pool(&self) -> (Addr, u32) {
        (self.base, self.size)
    }

    /// The tiled area inside the pool: `(area, area_len)`.
    pub fn area(&self) -> (Addr, u32) {
        (self.area, self.area_len)
    }

    /// The free list in list order, as `(address, length)`, for drawing.
    pub fn free_list(&self) -> impl Iterator<Item = (Addr, u32)> + '_ {
        self.free_spans().iter().map(|s| (s.addr, s.len))
    }

    /// The free list in list order.
    pub fn free_spans(&self) -> &[FreeSpan] {
        self.free.get(..self.free_len).unwrap_or(&[])
    }

    /// The live blocks by address.
    pub fn live_blocks(&self) -> &[LiveBlock] {
        self.live.get(..self.live_len).unwrap_or(&[])
    }

    /// The free-list element next fit's next search starts from, `None` when the list is
    /// empty.
    pub fn rover(&self) -> Option<Addr> {
        self.free_spans().get(self.rover).map(|s| s.addr)
    }

    /// Free-list elements the last searching request visited (0 before any).
    pub fn last_search(&self) -> u32 {
        self.last_search
    }

    /// Free-list elements all requests so far visited.
    pub fn total_searched(&self) -> u64 {
        self.total_searched
    }

    /// Requests that searched the free list (every alloc of 1 byte or more).
    pub fn searches(&self) -> u32 {
        self.searches
    }

    /// The longest free block (0 when none).
    pub fn largest_free(&self) -> u32 {
        self.free_spans().iter().map(|s| s.len).max().unwrap_or(0)
    }

    /// Searches the free list for a block of `need` bytes under the fit policy; returns
    /// the chosen position and how many elements were visited. See the module doc for
    /// where each policy stops.
    fn search(&self, need: u64) -> (Option<usize>, u32) {
        let list = self.free_spans();
        let start = match self.config.fit {
            FitPolicy::Next if self.rover < list.len() => self.rover,
            _ => 0,
        };
        let order = self.config.order;
        let mut visited = 0u32;
        let mut chosen: Option<(usize, u32)> = None;
        for k in 0..list.len() {
            let i = (start + k) % list.len();
            let Some(span) = list.get(i) else { break };
            visited += 1;
            let fits = span.len as u64 >= need;
            match self.config.fit {
                FitPolicy::First | FitPolicy::Next => {
                    if fits {
                        return (Some(i), visited);
                    }
                }
                FitPolicy::Best => {
                    if fits {
                        if chosen.is_none_or(|(_, len)| span.len < len) {
                            chosen = Some((i, span.len));
                        }
                        // Nothing beats an exact fit, and on a size-ascending list
                        // everything after the first fit is at least as large.
                        if span.len as u64 == need || order == ListOrder::SizeAscending {
                            break;
                        }
                    } else if order == ListOrder::SizeDescending {
                        // Everything after a block too small is smaller still.
                        break;
                    }
                }
                FitPolicy::Worst => {
                    if fits && chosen.is_none_or(|(_, len)| span.len > len) {
                        chosen = Some((i, span.len));
                    }
                    // On a size-descending list the first element is the largest.
                    if order == ListOrder::SizeDescending {
                        break;
                    }
                }
            }
        }
        (chosen.map(|(i, _)| i), visited)
    }

    /// Where `span` goes in the list. `keep` is the position of the block a split
    /// remainder came from: LIFO and FIFO keep a remainder there.
    fn insert_position(&self, span: FreeSpan, keep: Option<usize>) -> usize {
        let list = self.free_spans();
        match self.config.order {
            ListOrder::Address => list.partition_point(|s| s.addr < span.addr),
            ListOrder::SizeAscending => {
                list.partition_point(|s| (s.len, s.addr) < (span.len, span.addr))
            }
            ListOrder::SizeDescending => list.partition_point(|s| {
                (core::cmp::Reverse(s.len), s.addr) < (core::cmp::Reverse(span.len), span.addr)
            }),
            ListOrder::Lifo => keep.unwrap_or(0),
            ListOrder::Fifo => keep.unwrap_or(list.len()),
        }
    }

    /// Puts `span` at position `at` of the list; the rover keeps naming its element.
    fn list_insert(&mut self, at: usize, span: FreeSpan) -> Result<(), AllocError> {
        let len = self.free_len;
        if at > len || len >= MAX_BLOCKS {
            return Err(AllocError::Inconsistent {
                at: span.addr,
                rule: "the free list is full",
            });
        }
        self.free.copy_within(at..len, at + 1);
        self.free[at] = span;
        self.free_len = len + 1;
        if len > 0 && at <= self.rover {
            self.rover += 1;
        }
        Ok(())
    }

    /// Takes position `at` off the list; the rover keeps naming its element, or moves to
    /// the follower (wrapping) when its element goes.
    fn list_remove(&mut self, at: usize) {
        let len = self.free_len;
        if at >= len {
            return;
        }
        self.free.copy_within(at + 1..len, at);
        self.free_len = len - 1;
        if at < self.rover {
            self.rover -= 1;
        }
        if self.rover >= self.free_len {
            self.rover = 0;
        }
    }

    /// The position in the live table of the block handed out at `addr`.
    fn live_index(&self, addr: Addr) -> Option<usize> {
        let start = addr.checked_sub(self.config.header)?;
        self.live_blocks()
            .binary_search_by_key(&start, |b| b.start)
            .ok()
    }

    fn live_insert(&mut self, block: LiveBlock) -> Result<(), AllocError> {
        let len = self.live_len;
        if len >= MAX_BLOCKS {
            return Err(AllocError::Inconsistent {
                at: block.start,
                rule: "the live table is full",
            });
        }
        let at = self
            .live_blocks()
            .partition_point(|b| b.start < block.start);
        self.live.copy_within(at..len, at + 1);
        self.live[at] = block;
        self.live_len = len + 1;
        Ok(())
    }

    fn live_remove(&mut self, at: usize) {
        let len = self.live_len;
        if at < len {
            self.live.copy_within(at + 1..len, at);
            self.live_len = len - 1;
        }
    }

    /// Why a free of `addr`, which is no live block, is refused.
    fn bad_free(&self, addr: Addr) -> AllocError {
        let header = self.config.header as u64;
        let at = addr as u64;
        let payload_position = addr.is_multiple_of(self.config.align);
        let in_free_memory = self
            .free_spans()
            .iter()
            .any(|s| s.addr as u64 + header <= at && at < s.end());
        if payload_position && in_free_memory {
            AllocError::DoubleFree { addr }
        } else {
            AllocError::InvalidPointer { addr }
        }
    }

    /// Compares the header words in RAM with the table.
    fn check_header<S: Storage>(&self, ram: &Ram<S>, block: &LiveBlock) -> Result<(), AllocError> {
        if self.config.header >= 4 {
            let found = ram.read_u32(block.start)?;
            if found != block.len {
                return Err(AllocError::Corrupted {
                    at: block.start,
                    field: Field::Size,
                    expected: block.len,
                    found,
                });
            }
        }
        if self.config.header >= 8 {
            let at = block.start.wrapping_add(4);
            let found = ram.read_u32(at)?;
            let expected = block.owner.0 as u32;
            if found != expected {
                return Err(AllocError::Corrupted {
                    at,
                    field: Field::Owner,
                    expected,
                    found,
                });
            }
        }
        Ok(())
    }

    /// Visits the blocks of the area in address order, checking that live and free blocks
    /// tile it exactly (and, with coalescing on, that no two free blocks touch).
    fn tile(&self, visit: &mut dyn FnMut(Piece)) -> Result<(), AllocError> {
        let end = self.area as u64 + self.area_len as u64;
        let total = self.live_len + self.free_len;
        let live = self.live_blocks();
        let free = self.free_spans();
        let mut cursor = self.area as u64;
        let mut next_live = 0usize;
        let mut pieces = 0usize;
        let mut previous_free = false;
        // Each turn consumes one record, so this ends after at most `total` turns.
        while cursor < end {
            let at = cursor as Addr;
            if pieces >= total {
                return Err(AllocError::Inconsistent {
                    at,
                    rule: "bytes of the pool belong to no block",
                });
            }
            let live_here = live.get(next_live).filter(|b| b.start as u64 == cursor);
            let mut free_here = free.iter().filter(|s| s.addr as u64 == cursor);
            let piece = match (live_here, free_here.next(), free_here.next()) {
                (Some(block), None, None) => Piece::Live(*block),
                (None, Some(span), None) => Piece::Free(*span),
                (None, None, _) => {
                    return Err(AllocError::Inconsistent {
                        at,
                        rule: "bytes of the pool belong to no block",
                    })
                }
                _ => {
                    return Err(AllocError::Inconsistent {
                        at,
                        rule: "two blocks start at the same address",
                    })
                }
            };
            let len = match piece {
                Piece::Live(b) => b.len,
                Piece::Free(s) => s.len,
            };
            if len == 0 {
                return Err(AllocError::Inconsistent {
                    at,
                    rule: "a block has length 0",
                });
            }
            let is_free = matches!(piece, Piece::Free(_));
            if self.config.coalesce && is_free && previous_free {
                return Err(AllocError::Inconsistent {
                    at,
                    rule: "two free blocks touch while coalescing is on",
                });
            }
            visit(piece);
            if !is_free {
                next_live += 1;
            }
            previous_free = is_free;
            pieces += 1;
            cursor += len as u64;
        }
        if cursor != end {
            return Err(AllocError::Inconsistent {
                at: self.area,
                rule: "a block runs past the end of the pool",
            });
        }
        if pieces != total {
            return Err(AllocError::Inconsistent {
                at: self.area,
                rule: "a block lies outside the pool or overlaps another",
            });
        }
        Ok(())
    }

    /// Checks the records themselves: sizes, alignment, order, the shared budget, the rover.
    fn check_records(&self) -> Result<(), AllocError> {
        let config = self.config;
        let header = config.header as u64;
        let align = config.align as u64;
        let min_block = config.min_block();
        if self.live_len + self.free_len > MAX_BLOCKS {
            return Err(AllocError::Inconsistent {
                at: self.area,
                rule: "more records than the tables hold",
            });
        }
        if self.rover >= self.free_len.max(1) {
            return Err(AllocError::Inconsistent {
                at: self.area,
                rule: "the rover is past the end of the free list",
            });
        }
        let misplaced = |start: Addr, len: u32| {
            !(start as u64 + header).is_multiple_of(align)
                || !(len as u64).is_multiple_of(align)
                || len < min_block
        };
        let free = self.free_spans();
        for span in free {
            if misplaced(span.addr, span.len) {
                return Err(AllocError::Inconsistent {
                    at: span.addr,
                    rule: "a free block is misaligned or too short",
                });
            }
        }
        for pair in free.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let (ordered, rule) = match config.order {
                ListOrder::Address => (a.addr < b.addr, "the free list is out of address order"),
                ListOrder::SizeAscending => (
                    (a.len, a.addr) < (b.len, b.addr),
                    "the free list is out of size-ascending order",
                ),
                ListOrder::SizeDescending => (
                    a.len > b.len || (a.len == b.len && a.addr < b.addr),
                    "the free list is out of size-descending order",
                ),
                ListOrder::Lifo | ListOrder::Fifo => (true, ""),
            };
            if config.order.is_sorted() && !ordered {
                return Err(AllocError::Inconsistent { at: b.addr, rule });
            }
        }
        let live = self.live_blocks();
        for block in live {
            if misplaced(block.start, block.len)
                || block.size == 0
                || (block.len as u64) < config.block_len(block.size)
            {
                return Err(AllocError::Inconsistent {
                    at: block.start,
                    rule: "a live block is misaligned or shorter than its request",
                });
            }
        }
        for pair in live.windows(2) {
            if pair[0].start >= pair[1].start {
                return Err(AllocError::Inconsistent {
                    at: pair[1].start,
                    rule: "the live table is out of address order",
                });
            }
        }
        Ok(())
    }
}

impl Allocator for PolicyLab {
    fn name(&self) -> Name {
        self.name
    }

    fn alloc_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        owner: Owner,
    ) -> Result<Addr, AllocError> {
        if size == 0 {
            return Err(AllocError::ZeroSize);
        }
        let need = self.config.block_len(size);
        let (choice, visited) = self.search(need);
        self.last_search = visited;
        self.total_searched = self.total_searched.saturating_add(visited as u64);
        self.searches = self.searches.saturating_add(1);
        cx.emit(self.name, EventKind::Search { size, visited });
        let out_of_memory = AllocError::OutOfMemory {
            requested: size,
            largest_free: self.largest_free(),
        };
        let Some((i, span)) = choice.and_then(|i| Some((i, *self.free_spans().get(i)?))) else {
            return Err(out_of_memory);
        };
        // `need <= span.len`, so it fits in 32 bits.
        let need = need as u32;
        let rest_len = span.len - need;
        let split = rest_len >= self.config.min_block();
        if split && self.live_len + self.free_len >= MAX_BLOCKS {
            // The remainder would need a record and the tables are full.
            return Err(out_of_memory);
        }
        let header = self.config.header;
        if header >= 4 {
            // The header words lie in the pool, which lies in RAM; checked before any change.
            cx.ram.slice(span.addr, header.min(8))?;
        }

        self.list_remove(i);
        cx.emit(
            self.name,
            EventKind::Unlink {
                list: LIST,
                addr: span.addr,
            },
        );
        let block_len = if split {
            let rest = FreeSpan {
                addr: span.addr + need,
                len: rest_len,
            };
            cx.emit(
                self.name,
                EventKind::Split {
                    addr: span.addr,
                    size: need,
                    rest: rest.addr,
                    rest_size: rest.len,
                },
            );
            let at = self.insert_position(rest, Some(i));
            self.list_insert(at, rest)?;
            cx.emit(
                self.name,
                EventKind::Link {
                    list: LIST,
                    addr: rest.addr,
                },
            );
            self.rover = at;
            need
        } else {
            // `list_remove` left the rover on the element that followed.
            self.rover = if i < self.free_len { i } else { 0 };
            span.len
        };
        self.live_insert(LiveBlock {
            start: span.addr,
            len: block_len,
            size,
            owner,
        })?;
        if header >= 4 {
            cx.set_word(self.name, span.addr, Field::Size, block_len)?;
        }
        if header >= 8 {
            cx.set_word(self.name, span.addr + 4, Field::Owner, owner.0 as u32)?;
        }
        let addr = span.addr + header;
        cx.emit(
            self.name,
            EventKind::Alloc {
                addr,
                size,
                block: block_len,
                owner,
            },
        );
        Ok(addr)
    }

    fn free_impl<S: Storage>(&mut self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<(), AllocError> {
        let Some(k) = self.live_index(addr) else {
            return Err(self.bad_free(addr));
        };
        let Some(block) = self.live_blocks().get(k).copied() else {
            return Err(AllocError::InvalidPointer { addr });
        };
        self.check_header(cx.ram, &block)?;

        self.live_remove(k);
        let mut merged = FreeSpan {
            addr: block.start,
            len: block.len,
        };
        if self.config.coalesce {
            let below = self
                .free_spans()
                .iter()
                .position(|s| s.end() == block.start as u64);
            if let Some(j) = below {
                let lower = self.free[j];
                self.list_remove(j);
                cx.emit(
                    self.name,
                    EventKind::Unlink {
                        list: LIST,
                        addr: lower.addr,
                    },
                );
                merged = FreeSpan {
                    addr: lower.addr,
                    len: lower.len.saturating_add(merged.len),
                };
                cx.emit(
                    self.name,
                    EventKind::Merge {
                        addr: merged.addr,
                        size: merged.len,
                        absorbed: block.start,
                    },
                );
            }
            let above = self
                .free_spans()
                .iter()
                .position(|s| s.addr as u64 == merged.end());
            if let Some(j) = above {
                let upper = self.free[j];
                self.list_remove(j);
                cx.emit(
                    self.name,
                    EventKind::Unlink {
                        list: LIST,
                        addr: upper.addr,
                    },
                );
                merged.len = merged.len.saturating_add(upper.len);
                cx.emit(
                    self.name,
                    EventKind::Merge {
                        addr: merged.addr,
                        size: merged.len,
                        absorbed: upper.addr,
                    },
                );
            }
        }
        let at = self.insert_position(merged, None);
        self.list_insert(at, merged)?;
        cx.emit(
            self.name,
            EventKind::Link {
                list: LIST,
                addr: merged.addr,
            },
        );
        cx.emit(
            self.name,
            EventKind::Free {
                addr,
                block: block.len,
                owner: block.owner,
            },
        );
        Ok(())
    }

    fn walk<S: Storage>(
        &self,
        _ram: &Ram<S>,
        visit: &mut dyn FnMut(Block),
    ) -> Result<(), AllocError> {
        let header = self.config.header;
        let pad = |addr: Addr, len: u32| Block {
            addr,
            len,
            kind: BlockKind::Padding,
            block: self.base,
            owner: Owner::NONE,
        };
        let lead = self.area.saturating_sub(self.base);
        if lead > 0 {
            visit(pad(self.base, lead));
        }
        self.tile(&mut |piece| match piece {
            Piece::Live(b) => {
                let addr = b.start + header;
                let span = |at: Addr, len: u32, kind: BlockKind| Block {
                    addr: at,
                    len,
                    kind,
                    block: addr,
                    owner: b.owner,
                };
                if header > 0 {
                    visit(span(b.start, header, BlockKind::Header));
                }
                visit(span(addr, b.size, BlockKind::Payload));
                let padding = b.len.saturating_sub(header).saturating_sub(b.size);
                if padding > 0 {
                    visit(span(addr + b.size, padding, BlockKind::Padding));
                }
            }
            Piece::Free(s) => visit(Block {
                addr: s.addr,
                len: s.len,
                kind: BlockKind::Free,
                block: s.addr,
                owner: Owner::NONE,
            }),
        })?;
        let tail = (self.base as u64 + self.size as u64)
            .saturating_sub(self.area as u64 + self.area_len as u64);
        if tail > 0 {
            visit(pad(self.area + self.area_len, tail as u32));
        }
        Ok(())
    }

    /// Checks, in order: the settings; the records (lengths, alignment, list order, the
    /// shared budget, the rover); that live and free blocks tile the area exactly, with no
    /// two free blocks touching when coalescing is on; every header in RAM against the
    /// table.
    fn check<S: Storage>(&self, ram: &Ram<S>) -> Result<(), AllocError> {
        self.config.validate()?;
        self.check_records()?;
        self.tile(&mut |_| {})?;
        for block in self.live_blocks() {
            self.check_header(ram, block)?;
        }
        Ok(())
    }
}
