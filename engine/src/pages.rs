//! Physical pages as LiteOS-A manages them: boot memory, the page array, segments, the
//! buddy allocator and LRU reclaim (`kernel/base/vm/los_vm_page.c`, `los_vm_phys.c`;
//! seed 004).
//!
//! # Boot (`OsVmPageStartup`)
//!
//! The board's physical areas (`g_physArea`, here [`PhysArea`]s) are cut into pages of
//! `page_size` bytes (4 KiB on LiteOS; 256 B to 64 KiB here, so that small lessons stay
//! readable). Boot memory (`OsVmBootMemAlloc`) is carved from the start of the first area:
//! first the control block — what LiteOS keeps in `.bss`: the segment table
//! `g_vmPhysSeg` with each segment's free lists and LRU lists — then the page array
//! `g_vmPageArray`, one [`entry`] (`LosVmPage`) per page. As in LiteOS the page count is
//! taken *before* the carve, so the array has an entry for every page of every area and
//! the entries of the pages the carve ate are never used
//! ([`PageFigures::unused_entries`]). The first area then shrinks past the boot memory
//! (`OsVmPhysAreaSizeAdjust`), each area becomes a segment (`OsVmPhysSegAdd`), every entry
//! is initialised (`OsVmPageInit`: no links, reference count 0, its physical address and
//! segment id, no order) and each segment's pages go to the free lists in the largest
//! blocks that are aligned and fit (`OsVmPageOrderListInit` →
//! `OsVmPhysPagesFreeContiguous`). The array's cost is the point: [`PhysMem::figures`].
//!
//! # The buddy allocator
//!
//! Each segment has ten free lists, orders 0 to 9; a block of order `k` is `2^k` pages
//! whose physical frame number is a multiple of `2^k`. Only a block's first page (its
//! *head*) carries the block's state; the other pages' entries stay blank. A request for
//! `n` pages takes order `ceil(log2 n)` (`OsVmPagesToOrder`); LiteOS then gives back the
//! pages past `n` (`OsVmRecycleExtraPages`), here the block is kept whole and the unused
//! pages show as padding. The allocator looks in each segment in turn, from the wanted
//! order up, and takes the lowest-addressed block of the first non-empty list (lists are
//! kept in address order, so results are deterministic); a larger block is split in
//! halves down to the wanted order, each upper half going onto the list below
//! (`OsVmPhysPagesSpiltUnsafe`). Freeing merges the block with its buddy (frame number
//! `pfn ^ 2^k`) for as long as the buddy is a free block of the same order
//! (`OsVmPhysPagesFree`).
//!
//! A block's head also has a reference count (`refCounts`): 1 when allocated; a page-table
//! mapping takes another. Freeing drops one reference and returns the block to the buddy
//! only when none is left, as `LOS_PhysPageFree` does.
//!
//! # LRU reclaim
//!
//! Pages in use that may be taken back (the anonymous pages of demand paging, or any
//! block given to [`PhysMem::lru_add`]) sit on two lists per segment, inactive and active
//! (`lruList`). New pages enter the inactive list at its head; touching a page moves it to
//! the head of the active list. When the buddy cannot satisfy a request, the page at the
//! inactive tail is written back (a `writeback` event; the simulation has no swap device,
//! so the bytes are dropped), unmapped through its reverse mapping (the page-table entry
//! recorded in the page's entry) and freed, and the request is retried. An empty inactive
//! list is refilled from the active tail; a page with more than one reference is in use
//! elsewhere and is moved to the active list instead of being taken.
//!
//! # RAM layout
//!
//! Everything above lives in the simulated RAM: the control block ([`ctrl`]) with one
//! segment descriptor per area ([`segdesc`]), then the page array ([`entry`]). Lists are
//! LiteOS's circular doubly linked `LOS_DL_LIST`s: a head `{prev, next}` in the segment
//! descriptor and a node `{prev, next}` inside each entry; links hold the address of the
//! node they point at. The [`PhysMem`] struct holds only the configuration and the
//! addresses derived from it at boot.

use crate::allocator::{Allocator, Block, BlockKind, Ctx, Owner};
use crate::error::{AllocError, ConfigError};
use crate::name::Name;
use crate::ram::{Addr, Ram, Storage};
use crate::trace::{EventKind, Field};

mod buddy;
mod check;
mod event;
mod list;
mod lru;

pub use event::{LruList, PageError, PageEvent, PageOp};

/// LiteOS's page size, the default.
pub const DEFAULT_PAGE_SIZE: u32 = 4096;
/// The smallest page size a lesson may choose.
pub const MIN_PAGE_SIZE: u32 = 256;
/// The largest page size a lesson may choose.
pub const MAX_PAGE_SIZE: u32 = 65536;
/// Number of buddy orders (`VM_LIST_ORDER_MAX`): blocks of 1 to 512 pages.
pub const ORDERS: u32 = 10;
/// The largest order.
pub const MAX_ORDER: u32 = ORDERS - 1;
/// The order of a page that heads no block (LiteOS writes `VM_LIST_ORDER_MAX`).
pub const NO_ORDER: u32 = ORDERS;
/// At most this many physical areas, hence segments (`VM_PHYS_SEG_MAX` is 32 on LiteOS).
pub const MAX_SEGMENTS: usize = 4;

/// One page array entry (`LosVmPage`), [`entry::SIZE`] bytes, all words little-endian.
///
/// Invariants: `PHYS` is the page's address and `ORDER`'s byte 1 its segment id, always.
/// A page is the head of a block iff exactly one of [`pg::FREE`] and [`pg::HEAD`] is set;
/// then `ORDER`'s byte 0 is the block's order. Every other page of a block is blank:
/// flags 0, order [`NO_ORDER`], reference count 0, links and mapping 0.
pub mod entry {
    /// Free-list predecessor (`node.pstPrev`): an entry's node or the list head; 0 iff
    /// the page is not on a free list.
    pub const PREV: u32 = 0;
    /// Free-list successor (`node.pstNext`); 0 iff the page is not on a free list.
    pub const NEXT: u32 = 4;
    /// LRU predecessor: another entry's LRU node (`entry + 8`) or the LRU head; 0 iff
    /// the page is not on an LRU list.
    pub const LRU_PREV: u32 = 8;
    /// LRU successor; 0 iff the page is not on an LRU list.
    pub const LRU_NEXT: u32 = 12;
    /// The page's physical address (`physAddr`).
    pub const PHYS: u32 = 16;
    /// Reference count (`refCounts`): 0 iff the page heads no allocated block.
    pub const REFS: u32 = 20;
    /// `pg::*` flags in bits 0..16; the owner's id in bits 16..32 (allocated heads).
    pub const FLAGS: u32 = 24;
    /// Byte 0 the order, byte 1 the segment id (`segID`), bytes 2..4 the pages asked for
    /// (`nPages`, allocated heads only) — the same packing as LiteOS.
    pub const ORDER: u32 = 28;
    /// Reverse mapping: the address of the L2 page-table entry that maps this block, 0
    /// if none. Reclaim clears that entry before it frees the block.
    pub const MAPPING: u32 = 32;
    /// Bytes per entry.
    pub const SIZE: u32 = 36;
}

/// Page flag bits (`entry::FLAGS`).
pub mod pg {
    /// Head of a free block, on the free list of its order.
    pub const FREE: u32 = 1 << 0;
    /// Head of an allocated block.
    pub const HEAD: u32 = 1 << 1;
    /// On an LRU list (allocated heads only).
    pub const LRU: u32 = 1 << 2;
    /// On the active LRU list; set only together with [`LRU`].
    pub const ACTIVE: u32 = 1 << 3;
    /// Holds a page table (set by the VM).
    pub const TABLE: u32 = 1 << 4;
    /// An anonymous page mapped by demand paging (set by the VM).
    pub const ANON: u32 = 1 << 5;
    /// The flag bits; the owner's id is above them.
    pub const MASK: u32 = 0xffff;
    /// Where the owner's id starts.
    pub const OWNER_SHIFT: u32 = 16;
}

/// The control block at the start of boot memory: a header, then one segment
/// descriptor ([`segdesc`]) per area.
pub mod ctrl {
    /// [`MAGIC_VALUE`].
    pub const MAGIC: u32 = 0;
    /// The page size in bytes.
    pub const PAGE_SIZE: u32 = 4;
    /// The number of segments (`g_vmPhysSegNum`).
    pub const SEG_COUNT: u32 = 8;
    /// The page array's address (`g_vmPageArray`).
    pub const ARRAY: u32 = 12;
    /// The page array's entries (pages of all areas before the carve).
    pub const ENTRIES: u32 = 16;
    /// The first segment descriptor.
    pub const SEGS: u32 = 20;
    /// "PAGE" in ASCII, read as a big-endian word.
    pub const MAGIC_VALUE: u32 = 0x5041_4745;
}

/// A segment descriptor (`struct VmPhysSeg`), [`segdesc::SIZE`] bytes.
pub mod segdesc {
    /// First page's physical address (`start`).
    pub const START: u32 = 0;
    /// Pages in the segment (`size >> PAGE_SHIFT`).
    pub const NPAGES: u32 = 4;
    /// The segment's first page array entry (`pageBase`).
    pub const PAGE_BASE: u32 = 8;
    /// `freeList[10]`: per order a list head `{prev, next}` and a block count
    /// (`listCnt`), [`FREE_STRIDE`] bytes each. The list holds iff the count says.
    pub const FREE: u32 = 12;
    pub const FREE_STRIDE: u32 = 12;
    /// Offset of the count inside one `freeList` element.
    pub const FREE_COUNT: u32 = 8;
    /// `lruList[2]`: list heads `{prev, next}`, inactive then active.
    pub const LRU: u32 = FREE + super::ORDERS * FREE_STRIDE;
    /// `lruSize[2]`: their lengths.
    pub const LRU_SIZE: u32 = LRU + 16;
    pub const SIZE: u32 = LRU_SIZE + 8;
}

/// A physical memory area (`struct VmPhysArea`). Its start must be page-aligned; bytes
/// past its last whole page are not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhysArea {
    pub start: Addr,
    pub size: u32,
}

/// A segment as configured at boot; the same values are in its descriptor in RAM.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    /// Physical address of its first page.
    pub start: Addr,
    /// Its pages; 0 when boot memory took the whole area.
    pub npages: u32,
    /// Address of its first page array entry.
    pub page_base: Addr,
    /// Address of its descriptor in the control block.
    pub desc: Addr,
}

/// What the page array and the control block cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageFigures {
    pub page_size: u32,
    /// Bytes of all areas, counted in whole pages.
    pub ram_bytes: u64,
    /// Pages left to the buddy allocator.
    pub managed_pages: u32,
    pub entry_size: u32,
    /// Entries in the page array (pages of all areas before the carve).
    pub entries: u32,
    /// Entries never used: those of the pages boot memory took.
    pub unused_entries: u32,
    pub array_bytes: u32,
    pub ctrl_bytes: u32,
    /// Boot memory, control block and array, rounded up to whole pages.
    pub boot_bytes: u32,
    /// `boot_bytes` per thousand bytes of RAM.
    pub cost_permille: u32,
}

/// What a page's entry says about the block it heads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// Physical address of the block's first page.
    pub addr: Addr,
    pub order: u32,
    /// Free (on a free list) or allocated.
    pub free: bool,
    /// `pg::*` flags.
    pub flags: u32,
    pub refs: u32,
    /// Pages asked for (allocated blocks).
    pub npages: u32,
    pub owner: Owner,
    /// The L2 entry that maps the block, 0 if none.
    pub mapping: Addr,
    /// Which LRU list holds it, if any.
    pub lru: Option<LruList>,
    /// Address of the head's page array entry.
    pub entry: Addr,
}

/// The physical memory of one machine: page size, segments and root addresses. All
/// state is in the RAM (see the module documentation).
#[derive(Clone, Copy, Debug)]
pub struct PhysMem {
    name: Name,
    page_size: u32,
    shift: u32,
    ctrl: Addr,
    ctrl_bytes: u32,
    array: Addr,
    entries: u32,
    boot_base: Addr,
    /// Boot memory rounded up to whole pages.
    boot_bytes: u32,
    ram_bytes: u64,
    segs: [Segment; MAX_SEGMENTS],
    seg_count: usize,
}

/// The order that holds `npages` pages: `ceil(log2(npages))` (`OsVmPagesToOrder`).
pub fn order_for(npages: u32) -> u32 {
    if npages <= 1 {
        0
    } else {
        32 - (npages - 1).leading_zeros()
    }
}

/// The `ORDER` word: order, segment id and pages asked for.
fn order_word(order: u32, seg: usize, npages: u32) -> u32 {
    (order & 0xff) | ((seg as u32 & 0xff) << 8) | ((npages & 0xffff) << 16)
}

impl PhysMem {
    /// Boots the physical memory over `areas` (ascending, non-overlapping, page-aligned,
    /// each inside one RAM region): carves the control block and the page array from the
    /// first area, makes a segment of each area and puts every page on the free lists.
    /// Emits `carve` events, the segments' `meta` writes, `segment`, `array`, the initial
    /// `link`s and finally `init`.
    pub fn boot<S: Storage>(
        cx: &mut Ctx<'_, S>,
        name: Name,
        page_size: u32,
        areas: &[PhysArea],
    ) -> Result<PhysMem, PageError> {
        let result = Self::boot_inner(cx, name, page_size, areas);
        if let Err(error) = result {
            let op = PageOp::Boot;
            cx.emit(name, EventKind::Page(PageEvent::Fault { op, error }));
        }
        result
    }

    fn boot_inner<S: Storage>(
        cx: &mut Ctx<'_, S>,
        name: Name,
        page_size: u32,
        areas: &[PhysArea],
    ) -> Result<PhysMem, PageError> {
        if !page_size.is_power_of_two() || !(MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(ConfigError::BadBlockSize { size: page_size }.into());
        }
        let shift = page_size.trailing_zeros();
        let first = match areas.first() {
            Some(a) => *a,
            None => return Err(ConfigError::NoBlocks.into()),
        };
        if areas.len() > MAX_SEGMENTS {
            return Err(ConfigError::TooMany {
                max: MAX_SEGMENTS as u32,
            }
            .into());
        }
        let mut prev_end = 0u64;
        let mut total_pages = 0u64;
        for a in areas {
            if a.start & (page_size - 1) != 0 {
                return Err(ConfigError::Misaligned {
                    addr: a.start,
                    align: page_size,
                }
                .into());
            }
            let pages = a.size >> shift;
            if pages == 0 {
                return Err(ConfigError::TooSmall {
                    needed: page_size,
                    available: a.size,
                }
                .into());
            }
            let bytes = pages << shift;
            if !cx.ram.contains(a.start, bytes) {
                return Err(ConfigError::NotInRam {
                    addr: a.start,
                    size: a.size,
                }
                .into());
            }
            if (a.start as u64) < prev_end {
                return Err(ConfigError::Overlaps {
                    addr: a.start,
                    size: a.size,
                }
                .into());
            }
            prev_end = a.start as u64 + bytes as u64;
            total_pages += pages as u64;
        }

        // Boot memory: the control block, then the array, from the first area's start.
        let seg_count = areas.len();
        let ctrl_bytes = ctrl::SEGS + seg_count as u32 * segdesc::SIZE;
        let array_bytes = total_pages * entry::SIZE as u64;
        let boot = ctrl_bytes as u64 + array_bytes;
        let boot_pages = boot.div_ceil(page_size as u64);
        let first_pages = (first.size >> shift) as u64;
        if boot_pages > first_pages {
            return Err(ConfigError::TooSmall {
                needed: (boot_pages << shift).min(u32::MAX as u64) as u32,
                available: first.size,
            }
            .into());
        }
        // Both fit in the first area now, hence in u32.
        let boot_pages = boot_pages as u32;
        let array_bytes = array_bytes as u32;
        let entries = total_pages as u32;
        let ctrl_addr = first.start;
        let array = ctrl_addr + ctrl_bytes;

        let mut pm = PhysMem {
            name,
            page_size,
            shift,
            ctrl: ctrl_addr,
            ctrl_bytes,
            array,
            entries,
            boot_base: first.start,
            boot_bytes: boot_pages << shift,
            ram_bytes: total_pages << shift,
            segs: [Segment::default(); MAX_SEGMENTS],
            seg_count,
        };
        let mut entry_index = 0u32;
        for (i, a) in areas.iter().enumerate() {
            let skip = if i == 0 { boot_pages } else { 0 };
            let npages = (a.size >> shift) - skip;
            pm.segs[i] = Segment {
                start: a.start + (skip << shift),
                npages,
                page_base: array + entry_index * entry::SIZE,
                desc: ctrl_addr + ctrl::SEGS + i as u32 * segdesc::SIZE,
            };
            entry_index += npages;
        }

        let region = cx.ram.region_of(ctrl_addr).map_or(name, |r| r.name);
        cx.emit(
            name,
            EventKind::Carve {
                addr: ctrl_addr,
                size: ctrl_bytes,
                region,
            },
        );
        cx.emit(
            name,
            EventKind::Carve {
                addr: array,
                size: array_bytes,
                region,
            },
        );
        cx.set_word(
            name,
            ctrl_addr + ctrl::MAGIC,
            Field::Magic,
            ctrl::MAGIC_VALUE,
        )?;
        cx.set_word(name, ctrl_addr + ctrl::PAGE_SIZE, Field::Size, page_size)?;
        cx.set_word(
            name,
            ctrl_addr + ctrl::SEG_COUNT,
            Field::Count,
            seg_count as u32,
        )?;
        cx.set_word(name, ctrl_addr + ctrl::ARRAY, Field::Base, array)?;
        cx.set_word(name, ctrl_addr + ctrl::ENTRIES, Field::Count, entries)?;
        for s in 0..seg_count {
            pm.init_segment(cx, s)?;
        }
        pm.init_array(cx, entry_index)?;
        for s in 0..seg_count {
            pm.free_segment_pages(cx, s)?;
        }
        cx.emit(
            name,
            EventKind::Init {
                base: first.start,
                size: (prev_end - first.start as u64).min(u32::MAX as u64) as u32,
            },
        );
        Ok(pm)
    }

    /// `OsVmPhysSegCreate` + `OsVmPhysInit`: the descriptor with empty lists.
    fn init_segment<S: Storage>(&self, cx: &mut Ctx<'_, S>, s: usize) -> Result<(), PageError> {
        let seg = self.segs[s];
        let name = self.name;
        cx.emit(
            name,
            EventKind::Page(PageEvent::Segment {
                seg: s as u32,
                start: seg.start,
                npages: seg.npages,
                desc: seg.desc,
            }),
        );
        cx.set_word(name, seg.desc + segdesc::START, Field::Base, seg.start)?;
        cx.set_word(name, seg.desc + segdesc::NPAGES, Field::Count, seg.npages)?;
        cx.set_word(
            name,
            seg.desc + segdesc::PAGE_BASE,
            Field::Base,
            seg.page_base,
        )?;
        for order in 0..ORDERS {
            let head = self.free_head(s, order);
            cx.set_word(name, head, Field::Tail, head)?;
            cx.set_word(name, head + 4, Field::Head, head)?;
            cx.set_word(name, head + segdesc::FREE_COUNT, Field::Count, 0)?;
        }
        for list in [LruList::Inactive, LruList::Active] {
            let head = self.lru_head(s, list);
            cx.set_word(name, head, Field::Tail, head)?;
            cx.set_word(name, head + 4, Field::Head, head)?;
        }
        for list in [LruList::Inactive, LruList::Active] {
            cx.set_word(name, self.lru_size_at(s, list), Field::Count, 0)?;
        }
        Ok(())
    }

    /// `OsVmPageInit` for every page, as one `array` event: blank entries with their
    /// physical address and segment id; the unused tail of the array is zeroed.
    fn init_array<S: Storage>(&self, cx: &mut Ctx<'_, S>, used: u32) -> Result<(), PageError> {
        for s in 0..self.seg_count {
            let seg = self.segs[s];
            for idx in 0..seg.npages {
                let e = self.entry_addr(s, idx);
                cx.ram.fill(e, entry::SIZE, 0)?;
                cx.ram.write_u32(e + entry::PHYS, self.page_pa(s, idx))?;
                cx.ram
                    .write_u32(e + entry::ORDER, order_word(NO_ORDER, s, 0))?;
            }
        }
        let unused = self.entries - used;
        cx.ram
            .fill(self.array + used * entry::SIZE, unused * entry::SIZE, 0)?;
        cx.emit(
            self.name,
            EventKind::Page(PageEvent::Array {
                addr: self.array,
                entries: self.entries,
                used,
                entry_size: entry::SIZE,
            }),
        );
        Ok(())
    }

    /// `OsVmPageOrderListInit`: the segment's pages in the largest aligned blocks that fit.
    fn free_segment_pages<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        s: usize,
    ) -> Result<(), PageError> {
        let seg = self.segs[s];
        let base_pfn = seg.start >> self.shift;
        let mut idx = 0u32;
        while idx < seg.npages {
            let pfn = base_pfn + idx;
            let rest = seg.npages - idx;
            let order = pfn
                .trailing_zeros()
                .min(MAX_ORDER)
                .min(31 - rest.leading_zeros());
            self.free_list_add(cx, s, idx, order)?;
            idx += 1 << order;
        }
        Ok(())
    }

    // ---- configuration and addresses ----

    pub fn name(&self) -> Name {
        self.name
    }

    pub fn page_size(&self) -> u32 {
        self.page_size
    }

    /// `log2(page_size)`.
    pub fn page_shift(&self) -> u32 {
        self.shift
    }

    /// The control block's address.
    pub fn ctrl_addr(&self) -> Addr {
        self.ctrl
    }

    /// The page array's address.
    pub fn array_addr(&self) -> Addr {
        self.array
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segs[..self.seg_count]
    }

    /// Pages the buddy allocator manages.
    pub fn managed_pages(&self) -> u32 {
        self.segments().iter().map(|s| s.npages).sum()
    }

    /// The lowest physical address the areas cover (boot memory included) and one past
    /// the highest.
    pub fn phys_span(&self) -> (Addr, u64) {
        let end = self
            .segments()
            .iter()
            .map(|s| s.start as u64 + ((s.npages as u64) << self.shift))
            .max()
            .unwrap_or(self.boot_base as u64);
        (
            self.boot_base,
            end.max(self.boot_base as u64 + self.boot_bytes as u64),
        )
    }

    /// The page array's cost.
    pub fn figures(&self) -> PageFigures {
        let managed = self.managed_pages();
        let boot = self.boot_bytes;
        PageFigures {
            page_size: self.page_size,
            ram_bytes: self.ram_bytes,
            managed_pages: managed,
            entry_size: entry::SIZE,
            entries: self.entries,
            unused_entries: self.entries - managed,
            array_bytes: self.entries * entry::SIZE,
            ctrl_bytes: self.ctrl_bytes,
            boot_bytes: boot,
            cost_permille: (boot as u64 * 1000)
                .checked_div(self.ram_bytes)
                .unwrap_or(0) as u32,
        }
    }

    fn entry_addr(&self, s: usize, idx: u32) -> Addr {
        self.segs[s]
            .page_base
            .wrapping_add(idx.wrapping_mul(entry::SIZE))
    }

    fn page_pa(&self, s: usize, idx: u32) -> Addr {
        self.segs[s].start.wrapping_add(idx << self.shift)
    }

    /// The bytes of a block of `order`.
    fn block_bytes(&self, order: u32) -> u32 {
        self.page_size << order.min(MAX_ORDER)
    }

    fn free_head(&self, s: usize, order: u32) -> Addr {
        self.segs[s].desc + segdesc::FREE + order * segdesc::FREE_STRIDE
    }

    fn lru_head(&self, s: usize, list: LruList) -> Addr {
        self.segs[s].desc + segdesc::LRU + 8 * list.index()
    }

    fn lru_size_at(&self, s: usize, list: LruList) -> Addr {
        self.segs[s].desc + segdesc::LRU_SIZE + 4 * list.index()
    }

    /// The free list number events carry: `order + 10 * segment`.
    fn list_no(s: usize, order: u32) -> u32 {
        order + ORDERS * s as u32
    }

    /// The segment and page index of the page at physical address `pa`.
    pub fn page_of(&self, pa: Addr) -> Option<(usize, u32)> {
        self.segments().iter().enumerate().find_map(|(s, seg)| {
            let off = pa.wrapping_sub(seg.start);
            let inside = (off as u64) < ((seg.npages as u64) << self.shift);
            (inside && off & (self.page_size - 1) == 0).then_some((s, off >> self.shift))
        })
    }

    /// True iff `pa` is inside some segment (aligned or not).
    pub fn in_segments(&self, pa: Addr) -> bool {
        self.segments()
            .iter()
            .any(|seg| (pa.wrapping_sub(seg.start) as u64) < ((seg.npages as u64) << self.shift))
    }

    // ---- reading state ----

    /// The block holding the page at `pa` (any address inside it), read from RAM.
    pub fn block_info<S: Storage>(
        &self,
        ram: &Ram<S>,
        pa: Addr,
    ) -> Result<Option<BlockInfo>, AllocError> {
        let aligned = pa & !(self.page_size - 1);
        let Some((s, idx)) = self.page_of(aligned) else {
            return Ok(None);
        };
        match self.block_of(ram, s, idx)? {
            Some((head, order, _)) => self.info_at(ram, s, head, order).map(Some),
            None => Ok(None),
        }
    }

    fn info_at<S: Storage>(
        &self,
        ram: &Ram<S>,
        s: usize,
        idx: u32,
        order: u32,
    ) -> Result<BlockInfo, AllocError> {
        let e = self.entry_addr(s, idx);
        let flags = ram.read_u32(e + entry::FLAGS)?;
        let ow = ram.read_u32(e + entry::ORDER)?;
        let lru = if flags & pg::LRU == 0 {
            None
        } else if flags & pg::ACTIVE != 0 {
            Some(LruList::Active)
        } else {
            Some(LruList::Inactive)
        };
        Ok(BlockInfo {
            addr: self.page_pa(s, idx),
            order,
            free: flags & pg::FREE != 0,
            flags: flags & pg::MASK,
            refs: ram.read_u32(e + entry::REFS)?,
            npages: ow >> 16,
            owner: Owner((flags >> pg::OWNER_SHIFT) as u16),
            mapping: ram.read_u32(e + entry::MAPPING)?,
            lru,
            entry: e,
        })
    }

    /// Free blocks per order, all segments together, from the counts in RAM.
    pub fn free_counts<S: Storage>(
        &self,
        ram: &Ram<S>,
    ) -> Result<[u32; ORDERS as usize], AllocError> {
        let mut counts = [0u32; ORDERS as usize];
        for s in 0..self.seg_count {
            for (order, c) in counts.iter_mut().enumerate() {
                let at = self.free_head(s, order as u32) + segdesc::FREE_COUNT;
                *c = c.saturating_add(ram.read_u32(at)?);
            }
        }
        Ok(counts)
    }

    /// Free pages, all segments together, from the counts in RAM.
    pub fn free_pages_count<S: Storage>(&self, ram: &Ram<S>) -> Result<u64, AllocError> {
        let counts = self.free_counts(ram)?;
        Ok(counts
            .iter()
            .enumerate()
            .map(|(order, &c)| (c as u64) << order)
            .sum())
    }

    /// The largest order with a free block, if any.
    pub fn largest_free_order<S: Storage>(&self, ram: &Ram<S>) -> Result<Option<u32>, AllocError> {
        let counts = self.free_counts(ram)?;
        Ok((0..ORDERS).rev().find(|&o| counts[o as usize] > 0))
    }

    /// The lengths of the inactive and active LRU lists, all segments together.
    pub fn lru_sizes<S: Storage>(&self, ram: &Ram<S>) -> Result<(u32, u32), AllocError> {
        let mut sizes = (0u32, 0u32);
        for s in 0..self.seg_count {
            let i = ram.read_u32(self.lru_size_at(s, LruList::Inactive))?;
            let a = ram.read_u32(self.lru_size_at(s, LruList::Active))?;
            sizes = (sizes.0.saturating_add(i), sizes.1.saturating_add(a));
        }
        Ok(sizes)
    }

    /// Visits every block of every segment in address order.
    pub fn for_each_block<S: Storage>(
        &self,
        ram: &Ram<S>,
        visit: &mut dyn FnMut(BlockInfo),
    ) -> Result<(), AllocError> {
        for s in 0..self.seg_count {
            let npages = self.segs[s].npages;
            let mut idx = 0;
            while idx < npages {
                let e = self.entry_addr(s, idx);
                let (order, _) = self
                    .head_state(ram, s, idx)?
                    .ok_or(AllocError::Inconsistent {
                        at: e,
                        rule: "a page that no block covers is not the head of a block",
                    })?;
                visit(self.info_at(ram, s, idx, order)?);
                idx += 1 << order;
            }
        }
        Ok(())
    }

    /// If page `idx` heads a block: its order and whether it is free. Fails on an order
    /// out of range or a block past the segment's end.
    fn head_state<S: Storage>(
        &self,
        ram: &Ram<S>,
        s: usize,
        idx: u32,
    ) -> Result<Option<(u32, bool)>, AllocError> {
        let e = self.entry_addr(s, idx);
        let flags = ram.read_u32(e + entry::FLAGS)?;
        let free = flags & pg::FREE != 0;
        if free == (flags & pg::HEAD != 0) {
            return Ok(None);
        }
        let ow = ram.read_u32(e + entry::ORDER)?;
        let order = ow & 0xff;
        if order > MAX_ORDER {
            return Err(AllocError::Inconsistent {
                at: e + entry::ORDER,
                rule: "a block head's order is above 9",
            });
        }
        let pfn = (self.segs[s].start >> self.shift).wrapping_add(idx);
        if pfn & ((1 << order) - 1) != 0 {
            return Err(AllocError::Inconsistent {
                at: e + entry::ORDER,
                rule: "a block is not aligned to its order",
            });
        }
        if idx as u64 + (1u64 << order) > self.segs[s].npages as u64 {
            return Err(AllocError::Inconsistent {
                at: e + entry::ORDER,
                rule: "a block runs past the end of its segment",
            });
        }
        Ok(Some((order, free)))
    }

    /// The head of the block holding page `idx` — `(head, order, free)` — found by
    /// trying each order's aligned head (at most ten reads), or `None` if no entry
    /// claims the page.
    fn block_of<S: Storage>(
        &self,
        ram: &Ram<S>,
        s: usize,
        idx: u32,
    ) -> Result<Option<(u32, u32, bool)>, AllocError> {
        let base_pfn = self.segs[s].start >> self.shift;
        let pfn = base_pfn.wrapping_add(idx);
        for k in 0..ORDERS {
            let head_pfn = pfn & !((1u32 << k) - 1);
            if head_pfn < base_pfn {
                break;
            }
            let head = head_pfn - base_pfn;
            let e = self.entry_addr(s, head);
            let flags = ram.read_u32(e + entry::FLAGS)?;
            if flags & (pg::FREE | pg::HEAD) == 0 {
                continue;
            }
            let ow = ram.read_u32(e + entry::ORDER)?;
            if ow & 0xff == k {
                return match self.head_state(ram, s, head)? {
                    Some((order, free)) => Ok(Some((head, order, free))),
                    None => Err(AllocError::Inconsistent {
                        at: e + entry::FLAGS,
                        rule: "a page is marked both free and allocated",
                    }),
                };
            }
        }
        Ok(None)
    }

    // ---- operations ----

    /// Allocates a block of `2^order` pages (`LOS_PhysPagesAlloc`-style); returns its
    /// physical address. Reclaims LRU pages when the buddy has no block large enough.
    pub fn alloc_pages<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        order: u32,
    ) -> Result<Addr, PageError> {
        let result = if order > MAX_ORDER {
            Err(PageError::BadOrder { order })
        } else {
            self.alloc_inner(cx, order, 1 << order, Owner::NONE)
        };
        self.report(cx, PageOp::AllocPages { order }, result)
    }

    /// Allocates `npages` physically contiguous pages (`LOS_PhysPagesAllocContiguous`):
    /// a block of the order that holds them, kept whole. For allocators that grow from
    /// pages (the LiteOS heap's `OsMemPoolExpand`); free with [`free_contiguous`].
    ///
    /// [`free_contiguous`]: PhysMem::free_contiguous
    pub fn alloc_contiguous<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        npages: u32,
    ) -> Result<Addr, PageError> {
        let result = self
            .check_npages(npages)
            .and_then(|order| self.alloc_inner(cx, order, npages, Owner::NONE));
        self.report(cx, PageOp::AllocContiguous { npages }, result)
    }

    /// Drops the caller's reference to the block at `addr` allocated with `order`
    /// (`LOS_PhysPagesFree`); the block returns to the buddy, merging with its buddies,
    /// when no reference is left. Emits `free`, or `put` if references remain.
    pub fn free_pages<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
        order: u32,
    ) -> Result<(), PageError> {
        let result = if order > MAX_ORDER {
            Err(PageError::BadOrder { order })
        } else {
            self.free_inner(cx, addr, Some(order))
        };
        self.report(cx, PageOp::FreePages { addr, order }, result)
    }

    /// Frees what [`alloc_contiguous`](PhysMem::alloc_contiguous) gave for `npages`
    /// (`LOS_PhysPagesFreeContiguous`), as [`free_pages`](PhysMem::free_pages) does.
    pub fn free_contiguous<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
        npages: u32,
    ) -> Result<(), PageError> {
        let result = self
            .check_npages(npages)
            .and_then(|order| self.free_inner(cx, addr, Some(order)));
        self.report(cx, PageOp::FreeContiguous { addr, npages }, result)
    }

    /// Drops one reference to the allocated block at `addr` whatever its order (the
    /// VM's unmap does this); frees it at 0.
    pub fn put_page<S: Storage>(&self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<(), PageError> {
        let result = self.free_inner(cx, addr, None);
        self.report(cx, PageOp::Put { addr }, result)
    }

    /// Takes another reference to the allocated block at `addr` (a mapping does this);
    /// returns the new count. Emits `get`.
    pub fn get_page<S: Storage>(&self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<u32, PageError> {
        let result = self.get_inner(cx, addr);
        self.report(cx, PageOp::Get { addr }, result)
    }

    fn get_inner<S: Storage>(&self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<u32, PageError> {
        let (s, head, _) = self.allocated_head(cx.ram, addr)?;
        let e = self.entry_addr(s, head);
        let refs = cx.word(e + entry::REFS)?.saturating_add(1);
        cx.set_word(self.name, e + entry::REFS, Field::RefCount, refs)?;
        cx.emit(
            self.name,
            EventKind::Page(PageEvent::Get { page: addr, refs }),
        );
        Ok(refs)
    }

    /// Sets `flags` (`pg::TABLE`, `pg::ANON`) on the allocated block at `addr`.
    pub fn mark<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
        flags: u32,
    ) -> Result<(), PageError> {
        let (s, head, _) = self.allocated_head(cx.ram, addr)?;
        let at = self.entry_addr(s, head) + entry::FLAGS;
        let old = cx.word(at)?;
        cx.set_word(
            self.name,
            at,
            Field::Flags,
            old | (flags & (pg::TABLE | pg::ANON)),
        )?;
        Ok(())
    }

    /// Records `pte` as the entry that maps the allocated block at `addr` (0 to forget).
    pub fn set_mapping<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
        pte: Addr,
    ) -> Result<(), PageError> {
        let (s, head, _) = self.allocated_head(cx.ram, addr)?;
        let at = self.entry_addr(s, head) + entry::MAPPING;
        cx.set_word(self.name, at, Field::Pte, pte)?;
        Ok(())
    }

    /// Emits the `fault` event for a failed operation.
    fn report<S: Storage, T>(
        &self,
        cx: &mut Ctx<'_, S>,
        op: PageOp,
        result: Result<T, PageError>,
    ) -> Result<T, PageError> {
        if let Err(error) = result {
            cx.emit(self.name, EventKind::Page(PageEvent::Fault { op, error }));
        }
        result
    }

    fn check_npages(&self, npages: u32) -> Result<u32, PageError> {
        if npages == 0 {
            return Err(PageError::ZeroPages);
        }
        let max = 1u32 << MAX_ORDER;
        if npages > max {
            return Err(PageError::TooLarge { npages, max });
        }
        Ok(order_for(npages))
    }

    /// The allocated block whose head is the page at `addr`: `(segment, head, order)`.
    fn allocated_head<S: Storage>(
        &self,
        ram: &Ram<S>,
        addr: Addr,
    ) -> Result<(usize, u32, u32), PageError> {
        let (s, idx) = self.page_of(addr).ok_or(PageError::NotPage { addr })?;
        match self.block_of(ram, s, idx)? {
            Some((_, _, true)) => Err(PageError::DoubleFree { addr }),
            Some((head, order, false)) if head == idx => Ok((s, head, order)),
            Some(_) => Err(PageError::NotBlockHead { addr }),
            None => Err(AllocError::Inconsistent {
                at: self.entry_addr(s, idx),
                rule: "no block covers this page",
            }
            .into()),
        }
    }
}

impl Allocator for PhysMem {
    fn name(&self) -> Name {
        self.name
    }

    /// Allocates the block of pages that holds `size` bytes.
    fn alloc_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        owner: Owner,
    ) -> Result<Addr, AllocError> {
        if size == 0 {
            return Err(AllocError::ZeroSize);
        }
        let npages = size.div_ceil(self.page_size);
        let max = 1u32 << MAX_ORDER;
        if npages > max {
            return Err(AllocError::TooLarge {
                requested: size,
                max: self.block_bytes(MAX_ORDER),
            });
        }
        self.alloc_inner(cx, order_for(npages), npages, owner)
            .map_err(|e| e.to_alloc(size, self.page_size))
    }

    /// Frees the block handed out at `addr` (drops its only reference).
    fn free_impl<S: Storage>(&mut self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<(), AllocError> {
        self.free_inner(cx, addr, None)
            .map_err(|e| e.to_alloc(0, self.page_size))
    }

    /// Boot memory as one header span, then every block: free blocks as free spans,
    /// allocated ones as the pages asked for (payload) and the rest of the block
    /// (padding).
    fn walk<S: Storage>(
        &self,
        ram: &Ram<S>,
        visit: &mut dyn FnMut(Block),
    ) -> Result<(), AllocError> {
        visit(Block {
            addr: self.boot_base,
            len: self.boot_bytes,
            kind: BlockKind::Header,
            block: self.ctrl,
            owner: Owner::NONE,
        });
        let shift = self.shift;
        let mut result = Ok(());
        self.for_each_block(ram, &mut |b| {
            let len = self.block_bytes(b.order);
            if b.free {
                visit(Block {
                    addr: b.addr,
                    len,
                    kind: BlockKind::Free,
                    block: b.addr,
                    owner: Owner::NONE,
                });
                return;
            }
            let asked = if b.npages == 0 || b.npages > 1 << b.order {
                result = Err(AllocError::Inconsistent {
                    at: b.entry + entry::ORDER,
                    rule: "an allocated block's page count does not fit its order",
                });
                1 << b.order
            } else {
                b.npages
            };
            let payload = asked << shift;
            visit(Block {
                addr: b.addr,
                len: payload,
                kind: BlockKind::Payload,
                block: b.addr,
                owner: b.owner,
            });
            if payload < len {
                visit(Block {
                    addr: b.addr + payload,
                    len: len - payload,
                    kind: BlockKind::Padding,
                    block: b.addr,
                    owner: b.owner,
                });
            }
        })?;
        result
    }

    fn check<S: Storage>(&self, ram: &Ram<S>) -> Result<(), AllocError> {
        PhysMem::check(self, ram)
    }
}
