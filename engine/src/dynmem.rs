//! Huawei LiteOS dynamic memory: the "bestfit" (also called dlink) algorithm of
//! `kernel/base/mem/bestfit/los_memory.c` that seed 004 walks through — `LOS_MemInit`,
//! `LOS_MemAlloc` (`OsMemAllocWithCheck`), `LOS_MemFree` (`OsMemFreeNode`),
//! `LOS_MemRealloc` and pool expansion (`OsMemPoolExpand`).
//!
//! # The mechanism
//!
//! A pool is one contiguous area. It starts with a control block: `LosMemPoolInfo` (the
//! pool's own address, its size and a flag word whose bit 0 is `MEM_POOL_EXPAND_ENABLE`),
//! then `LosMultipleDlinkHead`, an array of doubly linked list heads, one per power-of-two
//! size class (`OsDLnkMultiHead`: list `i` holds the free nodes of `2^(i+4)` up to
//! `2^(i+5) - 1` bytes, the last list everything larger). The rest of the area is cut into
//! nodes that tile it exactly. Each node starts with a 16-byte `LosMemDynNode` header; the
//! payload follows it. The last 16 bytes of the area are the end node, a permanently used
//! sentinel that stops coalescing and, when the pool has grown, points to the next area.
//!
//! `LOS_MemAlloc(size)` rounds `size + 16` up to a multiple of 4 (`allocSize`), then
//! `OsMemFindSuitableFreeBlock` looks for a free node of at least `allocSize` bytes,
//! starting with the list of `allocSize`'s class and moving on to larger classes. When the
//! node is larger than needed by at least a header plus 4 bytes
//! (`allocSize + 16 + 4 <= node size`), `OsMemSplitNode` cuts it and the rest becomes a new
//! free node; best fit therefore leaves tiny free fragments behind, down to 20 bytes with
//! 4 usable. A smaller rest (4 to 16 bytes) stays inside the block, unused.
//! `OsMemSetMagicNumAndTaskID` stamps the magic word and the running task's id into the
//! list links (a used node is on no list, so LiteOS reuses them) and the used flag is set.
//! When nothing fits and expansion is enabled, `OsMemPoolExpand` links a new area behind
//! the last end node and the search is retried.
//!
//! `LOS_MemFree` validates the node (`OsMemCheckUsedNode`: inside the pool, used flag,
//! magic, and the neighbours' physical links pointing back at it), then `OsMemFreeNode`
//! merges it with a free physical predecessor and a free successor (`OsMemMergeNode`, which
//! also clears the absorbed header) and puts the result on the list of its class.
//! `LOS_MemRealloc` shrinks in place (splitting off the tail), grows in place when the
//! next node is free and large enough, and otherwise allocates, copies and frees.
//!
//! # RAM layout
//!
//! All sizes are in bytes, words are 32-bit little endian. `lists` is 1 to
//! [`MAX_LISTS`] (27 in LiteOS, `OS_MULTI_DLNK_NUM`).
//!
//! Control block at `base` (`12 + 8 * lists` bytes):
//!
//! | offset | LiteOS name | field in the trace | meaning |
//! |---|---|---|---|
//! | +0 | `pool` | `pool` | the pool's own address, `base` |
//! | +4 | `poolSize` | `size` | the bytes of the first area, control block included |
//! | +8 | `flag` | `flags` | bit 0 set iff the pool may grow (`MEM_POOL_EXPAND_ENABLE`) |
//! | +12 + 8i | `listHead[i].pstPrev` | `tail` | the last node of list `i`, or the head itself when empty |
//! | +16 + 8i | `listHead[i].pstNext` | `head` | the first node of list `i`, or the head itself when empty |
//!
//! Node header (`LosMemDynNode`, [`HEAD_SIZE`] = 16 bytes; the payload starts at +16):
//!
//! | offset | LiteOS name | free node | used node |
//! |---|---|---|---|
//! | +0 | `freeNodeInfo.pstPrev` | previous entry on its list (`prev`) | magic: `!(node address)` (`OS_MEM_SET_MAGIC`; `magic`) |
//! | +4 | `freeNodeInfo.pstNext` | next entry on its list (`next`) | task id in bits 0-15, module id (always 0) in bits 16-31; `0xffffffff` when no task (`owner`) |
//! | +8 | `preNode` | the physically preceding node; for an area's first node, the area's end node (`phys_prev`) | same |
//! | +12 | `sizeAndFlag` | node size, header included, in bits 0-29; bit 31 set iff used; bit 30 (aligned) never set (`size`) | same |
//!
//! End node (the last 16 bytes of every area): magic at +0, used flag at +12, and, iff a
//! further area follows, that area's address at +4 and its size in bits 0-29 of +12
//! (`OsMemSentinelNodeSet`); both are 0 in the last area's end node.
//!
//! Because nodes are 4-aligned, a magic word always has its two low bits set and a list
//! link never does: a free node can never be mistaken for a used one.
//!
//! # Invariants (checked by [`Allocator::check`])
//!
//! - In every area the nodes tile `[first node, end node)` exactly; each node is at least
//!   [`MIN_NODE`] bytes and a multiple of [`ALIGN`]; each node's `preNode` is the node
//!   before it (the end node for the first node) and the end node's is the last node.
//! - A node is used iff bit 31 of its size word is set iff its +0 word is its magic.
//! - No two free nodes are physically adjacent (coalescing is complete).
//! - Every free node is on exactly one list, the one of its size class; each list is a
//!   consistent circular doubly linked list through its head, sorted by size, then by
//!   address, strictly ascending.
//!
//! # Where the engine differs from LiteOS
//!
//! - LiteOS inserts a freed node at the head of its class list, so within a class the search
//!   is first fit. Here each list is kept sorted by size, then address (DESIGN §1: "best fit
//!   over a free list kept sorted small→large"), so the first node that fits is the best
//!   fit over the whole pool; ties go to the lowest address. With `lists == 1` there is a
//!   single sorted list.
//! - A node taken off a list keeps its old links until they are overwritten (LiteOS's
//!   `LOS_ListDelete` clears them first), which saves two writes in every trace.
//! - Expansion takes a new area from the spare areas given to [`DynMem::expand_enable`]
//!   (the first unused one that can hold the request), where LiteOS takes pages from the
//!   buddy allocator; [`DynMem::add_region`] links any area explicitly (a later subsystem
//!   can hand it pages). The pool never shrinks back (`TryShrinkPool` is not modelled).
//! - `realloc(ptr, 0)` fails with `ZeroSize` and leaves the block alone (LiteOS frees it
//!   and returns NULL), because the trait must return an address. A block that grows in
//!   place keeps its task id, as in LiteOS; a block that moves belongs to the caller.
//! - LiteOS counts each task's use in a table outside the pool (`OS_MEM_ADD_USED`).
//!   [`DynMem::usage_by_owner`] derives the same figures (whole node sizes per task id)
//!   from the used headers, so they cannot disagree with the pool.
//! - LiteOS reports a bad pointer with `LOS_NOK`; here every failure is a typed error.
//! - LiteOS does not store the requested size, so [`Allocator::walk`] reports a used
//!   node's whole usable area (node size - 16) as its payload, and `stats().used` counts
//!   those bytes.
//!
//! # Events
//!
//! - alloc: `search` (per attempt; `size` is `allocSize`), [`grow` and its writes, `link`,
//!   `search` again], `unlink`, [`split` with the rest's writes and `link`], the magic,
//!   owner and size writes (`meta`), then `alloc`.
//! - free: [`unlink` of each free neighbour], [`merge` and a `fill` of 16 zero bytes
//!   (field `magic`) clearing the absorbed header, per neighbour], the size write (which
//!   also clears the used flag), [the next node's `phys_prev`], `link`, `free`.
//! - growth (automatic or [`DynMem::add_region`]): `grow`, the new node's size and
//!   `phys_prev`, the old end node's `next` and `size`, the new end node's four words,
//!   `link`.
//! - realloc: the detail events of a split, an in-place merge or an alloc plus a free,
//!   then `realloc`.

use crate::allocator::{Allocator, Block, BlockKind, Ctx, Owner};
use crate::error::{AllocError, ConfigError};
use crate::name::Name;
use crate::ram::{Addr, Ram, Storage};
use crate::trace::{EventKind, Field};

/// Bytes of a node header (`OS_MEM_NODE_HEAD_SIZE`).
pub const HEAD_SIZE: u32 = 16;
/// Node sizes and addresses are multiples of this (`OS_MEM_ALIGN_SIZE` on 32-bit ARM).
pub const ALIGN: u32 = 4;
/// The smallest node: a header and one aligned word of payload. A split leaves a rest
/// iff the rest is at least this large.
pub const MIN_NODE: u32 = HEAD_SIZE + ALIGN;
/// The most size-class lists a pool can have (`OS_MULTI_DLNK_NUM`).
pub const MAX_LISTS: u32 = 27;
/// The most areas a pool can span: the first one and those it grew by.
pub const MAX_AREAS: usize = 8;
/// The most spare areas [`DynMem::expand_enable`] accepts.
pub const MAX_SPARES: usize = 4;
/// The largest request: its node size must fit in the 30 size bits.
pub const MAX_REQUEST: u32 = SIZE_MASK - HEAD_SIZE - (ALIGN - 1);

/// `OS_MEM_NODE_USED_FLAG`.
const USED_FLAG: u32 = 0x8000_0000;
/// `OS_MEM_NODE_ALIGNED_FLAG`: `LOS_MemAllocAlign` is not modelled, so never set.
const ALIGNED_FLAG: u32 = 0x4000_0000;
const SIZE_MASK: u32 = 0x3fff_ffff;
/// `MEM_POOL_EXPAND_ENABLE` in the pool's flag word.
const EXPAND_ENABLE: u32 = 1;
/// The owner word of a node allocated outside any task (`OS_NULL_INT`).
const NO_TASK: u32 = 0xffff_ffff;
/// `OS_MIN_MULTI_DLNK_LOG2`: list 0 holds nodes below 32 bytes.
const MIN_LOG2: u32 = 4;

// Control block offsets.
const POOL_ADDR: u32 = 0;
const POOL_SIZE: u32 = 4;
const POOL_FLAG: u32 = 8;
const LIST_HEADS: u32 = 12;
/// Bytes of one list head (`LOS_DL_LIST`).
const LIST_HEAD_SIZE: u32 = 8;

// Node header offsets. A list head has the same two links at the same offsets.
const PREV: u32 = 0;
const NEXT: u32 = 4;
const PHYS_PREV: u32 = 8;
const SIZE_AND_FLAG: u32 = 12;

/// The smallest area: one minimal node and the end node.
const MIN_AREA: u32 = MIN_NODE + HEAD_SIZE;

/// The magic word of a used node at `node` (`OS_MEM_SET_MAGIC`: the complement of the
/// address of the word that holds it).
#[inline]
pub const fn magic(node: Addr) -> u32 {
    !node
}

/// The node size LiteOS computes for a request (`OS_MEM_ALIGN(size + OS_MEM_NODE_HEAD_SIZE,
/// OS_MEM_ALIGN_SIZE)`), or `None` for 0 and for requests above [`MAX_REQUEST`].
pub const fn node_size_for(size: u32) -> Option<u32> {
    if size == 0 || size > MAX_REQUEST {
        None
    } else {
        Some((size + HEAD_SIZE + ALIGN - 1) & !(ALIGN - 1))
    }
}

/// A LiteOS dynamic memory pool (bestfit). Holds only configuration; every header, link
/// and list head is in the simulated RAM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DynMem {
    name: Name,
    /// Where the control block starts; 4-aligned.
    base: Addr,
    /// Bytes of the first area, control block and end node included; a multiple of 4.
    size: u32,
    /// Size-class lists, 1 to [`MAX_LISTS`].
    lists: u32,
    /// True iff [`DynMem::expand_enable`] was called (the flag word must say so too).
    expand: bool,
    /// Spare areas for growth, `spares[..spare_count]`, each 4-aligned, in RAM, disjoint
    /// from each other and from the first area.
    spares: [(Addr, u32); MAX_SPARES],
    spare_count: usize,
}

/// Where a pool with `MEM_POOL_EXPAND_ENABLE` gets a new region once its spare areas are
/// used up. On LiteOS, `OsMemPoolExpand` asks the physical page allocator for contiguous
/// pages (`LOS_PhysPagesAllocContiguous`); [`PhysMem`](crate::pages::PhysMem) is that source
/// here. Generic over the storage so that `&mut dyn GrowthSource<S>` can be passed.
pub trait GrowthSource<S: Storage> {
    /// Takes a region of at least `min_size` bytes for the pool; `Ok(None)` when there is
    /// none to give (the pool then reports out of memory).
    fn take_region(
        &mut self,
        cx: &mut Ctx<'_, S>,
        min_size: u32,
    ) -> Result<Option<(Addr, u32)>, AllocError>;
}

/// The buddy allocator hands a growing pool whole pages, as `OsMemPoolExpand` does.
impl<S: Storage> GrowthSource<S> for crate::pages::PhysMem {
    fn take_region(
        &mut self,
        cx: &mut Ctx<'_, S>,
        min_size: u32,
    ) -> Result<Option<(Addr, u32)>, AllocError> {
        let page = self.page_size();
        let npages = min_size.div_ceil(page);
        let Some(bytes) = npages.checked_mul(page) else {
            return Ok(None);
        };
        match self.alloc_contiguous(cx, npages) {
            Ok(addr) => Ok(Some((addr, bytes))),
            Err(
                crate::pages::PageError::OutOfPages { .. }
                | crate::pages::PageError::TooLarge { .. },
            ) => Ok(None),
            Err(error) => Err(error.to_alloc(min_size, page)),
        }
    }
}

impl DynMem {
    /// `LOS_MemInit`: makes a pool of `size` bytes at `base` with `lists` size-class lists,
    /// writing the control block, one free node over the whole area and the end node.
    ///
    /// `base` is rounded up and `size` down to multiples of 4. Emits the writes, a `link`
    /// and `init`.
    pub fn init<S: Storage>(
        cx: &mut Ctx<'_, S>,
        name: Name,
        base: Addr,
        size: u32,
        lists: u32,
    ) -> Result<DynMem, AllocError> {
        if lists == 0 {
            return Err(ConfigError::NoBlocks.into());
        }
        if lists > MAX_LISTS {
            return Err(ConfigError::TooMany { max: MAX_LISTS }.into());
        }
        let needed = ctrl_size(lists) + MIN_AREA;
        let (base, size) = align_range(base, size).ok_or(ConfigError::TooSmall {
            needed,
            available: size,
        })?;
        if size < needed {
            return Err(ConfigError::TooSmall {
                needed,
                available: size,
            }
            .into());
        }
        if size > SIZE_MASK {
            return Err(ConfigError::BadBlockSize { size }.into());
        }
        if !cx.ram.contains(base, size) {
            return Err(ConfigError::NotInRam { addr: base, size }.into());
        }
        let pool = DynMem {
            name,
            base,
            size,
            lists,
            expand: false,
            spares: [(0, 0); MAX_SPARES],
            spare_count: 0,
        };
        pool.put(cx, base + POOL_ADDR, Field::Pool, base)?;
        pool.put(cx, base + POOL_SIZE, Field::Size, size)?;
        pool.put(cx, base + POOL_FLAG, Field::Flags, 0)?;
        // OsDLnkInitMultiHead: every list is empty, its head pointing at itself.
        for list in 0..lists {
            let head = pool.head(list);
            pool.put(cx, head + PREV, Field::Tail, head)?;
            pool.put(cx, head + NEXT, Field::Head, head)?;
        }
        let area = pool.first_area();
        let first_size = area.end - area.first;
        pool.put(cx, area.first + SIZE_AND_FLAG, Field::Size, first_size)?;
        pool.put(cx, area.first + PHYS_PREV, Field::PhysPrev, area.end)?;
        let areas = Areas::new(area);
        pool.link(cx, &areas, area.first, first_size)?;
        pool.write_end_node(cx, area.end, area.first)?;
        cx.emit(name, EventKind::Init { base, size });
        Ok(pool)
    }

    /// `LOS_MemExpandEnable`: lets the pool grow, sets the flag word and records up to
    /// [`MAX_SPARES`] spare areas. When no free node fits a request, the first spare area
    /// not yet in the pool that can hold it is linked in (as `OsMemPoolExpand` links new
    /// pages) and the search is retried. Each spare is rounded to multiples of 4 and must
    /// lie in RAM, outside the pool and the other spares.
    pub fn expand_enable<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        spares: &[(Addr, u32)],
    ) -> Result<(), AllocError> {
        if spares.len() > MAX_SPARES {
            return Err(ConfigError::TooMany {
                max: MAX_SPARES as u32,
            }
            .into());
        }
        let areas = self.read_areas(cx.ram)?;
        let mut checked = [(0, 0); MAX_SPARES];
        for (i, &(addr, size)) in spares.iter().enumerate() {
            let (addr, size) = valid_area(cx.ram, addr, size)?;
            let clash = areas.overlaps(addr, size)
                || checked[..i]
                    .iter()
                    .any(|&(a, s)| ranges_overlap(a, s, addr, size));
            if clash {
                return Err(ConfigError::Overlaps { addr, size }.into());
            }
            checked[i] = (addr, size);
        }
        self.put(cx, self.base + POOL_FLAG, Field::Flags, EXPAND_ENABLE)?;
        self.expand = true;
        self.spares = checked;
        self.spare_count = spares.len();
        Ok(())
    }

    /// `LOS_MemAlloc` on a pool that, when nothing fits and no spare area is left, grows by
    /// a region taken from `source` (the buddy allocator's pages), as `OsMemPoolExpand`
    /// does. Growth needs expansion enabled ([`expand_enable`](DynMem::expand_enable), spares
    /// optional). Emits `fault` on error, like [`Allocator::alloc`].
    pub fn alloc_growing<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        owner: Owner,
        source: &mut dyn GrowthSource<S>,
    ) -> Result<Addr, AllocError> {
        let result = self.alloc_from(cx, size, owner, Some(source));
        if let Err(error) = result {
            let op = crate::trace::Op::Alloc { size };
            cx.emit(self.name, EventKind::Fault { op, error });
        }
        result
    }

    /// The allocation itself, growing from the spare areas and then from `source`.
    fn alloc_from<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        owner: Owner,
        source: Option<&mut dyn GrowthSource<S>>,
    ) -> Result<Addr, AllocError> {
        if size == 0 {
            return Err(AllocError::ZeroSize);
        }
        let mut areas = self.read_areas(cx.ram)?;
        let (node, block) = self.alloc_node(cx, &mut areas, size, owner, source)?;
        let addr = node + HEAD_SIZE;
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

    /// Links the area `[addr, addr + size)` into the pool as `OsMemPoolExpand` does: one
    /// free node over it, its own end node, and the previous last end node turned into a
    /// sentinel pointing at it. Works whether or not expansion is enabled; this is how
    /// another subsystem (the buddy allocator) can hand the pool pages. Emits `grow`, the
    /// writes and a `link`.
    pub fn add_region<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
        size: u32,
    ) -> Result<(), AllocError> {
        let (addr, size) = valid_area(cx.ram, addr, size)?;
        let mut areas = self.read_areas(cx.ram)?;
        if areas.overlaps(addr, size) {
            return Err(ConfigError::Overlaps { addr, size }.into());
        }
        if areas.count == MAX_AREAS {
            return Err(ConfigError::TooMany {
                max: MAX_AREAS as u32,
            }
            .into());
        }
        self.link_area(cx, &mut areas, addr, size)
    }

    /// Per-task use, as LiteOS's `OS_MEM_ADD_USED` counts it: for each task that holds
    /// used nodes, the sum of their node sizes (headers included). Writes the entries to
    /// `out` sorted by owner ([`Owner::NONE`] for nodes allocated outside a task) and
    /// returns how many there are; fails with `Config(TooMany)` when `out` is too short.
    pub fn usage_by_owner<S: Storage>(
        &self,
        ram: &Ram<S>,
        out: &mut [(Owner, u32)],
    ) -> Result<usize, AllocError> {
        let areas = self.read_areas(ram)?;
        let mut count = 0usize;
        for area in areas.iter() {
            self.each_node(ram, &areas, area, &mut |_, hdr| {
                if !hdr.used() {
                    return Ok(());
                }
                let owner = hdr.owner();
                let at = out[..count].partition_point(|&(o, _)| o < owner);
                if at < count && out[at].0 == owner {
                    out[at].1 = out[at].1.saturating_add(hdr.size());
                } else if count == out.len() {
                    return Err(ConfigError::TooMany {
                        max: out.len() as u32,
                    }
                    .into());
                } else {
                    // Keep the entries sorted: shift the larger owners up by one.
                    out[at..=count].rotate_right(1);
                    out[at] = (owner, hdr.size());
                    count += 1;
                }
                Ok(())
            })?;
        }
        Ok(count)
    }

    /// `LOS_MemTaskIdGet`: the task that holds the block handed out at `addr`.
    pub fn owner_of<S: Storage>(&self, ram: &Ram<S>, addr: Addr) -> Result<Owner, AllocError> {
        let areas = self.read_areas(ram)?;
        let (_, hdr) = self.used_node(ram, &areas, addr)?;
        Ok(hdr.owner())
    }

    /// The areas the pool spans, first the one given to [`DynMem::init`], then those it grew
    /// by, as `(address, size)`; returns how many were written to `out`.
    pub fn areas<S: Storage>(
        &self,
        ram: &Ram<S>,
        out: &mut [(Addr, u32)],
    ) -> Result<usize, AllocError> {
        let areas = self.read_areas(ram)?;
        if out.len() < areas.count {
            return Err(ConfigError::TooMany {
                max: out.len() as u32,
            }
            .into());
        }
        for (slot, area) in out.iter_mut().zip(areas.iter()) {
            *slot = (area.start, area.bytes());
        }
        Ok(areas.count)
    }

    /// The list a free node of `node_size` bytes belongs on (`OsDLnkMultiHead`).
    pub fn list_for_size(&self, node_size: u32) -> u32 {
        let log2 = 31 - node_size.max(1).leading_zeros();
        (log2.max(MIN_LOG2) - MIN_LOG2).min(self.lists - 1)
    }

    /// The address of list `list`'s head in the control block.
    pub fn head(&self, list: u32) -> Addr {
        self.base
            .wrapping_add(LIST_HEADS)
            .wrapping_add(list.min(MAX_LISTS) * LIST_HEAD_SIZE)
    }

    /// Where the control block starts (after rounding up to 4).
    pub fn base(&self) -> Addr {
        self.base
    }

    /// Bytes of the first area.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// How many size-class lists the control block holds.
    pub fn lists(&self) -> u32 {
        self.lists
    }

    /// Bytes of the control block (`LosMemPoolInfo` and the list heads).
    pub fn ctrl_size(&self) -> u32 {
        ctrl_size(self.lists)
    }

    /// The first node of the first area (`OS_MEM_FIRST_NODE`).
    pub fn first_node(&self) -> Addr {
        self.base + self.ctrl_size()
    }

    /// The end node of the first area (`OS_MEM_END_NODE`).
    pub fn end_node(&self) -> Addr {
        self.base + (self.size - HEAD_SIZE)
    }

    /// The spare areas recorded by [`DynMem::expand_enable`].
    pub fn spares(&self) -> &[(Addr, u32)] {
        &self.spares[..self.spare_count]
    }
}

impl Allocator for DynMem {
    fn name(&self) -> Name {
        self.name
    }

    /// `LOS_MemAlloc` / `OsMemAllocWithCheck`.
    fn alloc_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        owner: Owner,
    ) -> Result<Addr, AllocError> {
        self.alloc_from(cx, size, owner, None)
    }

    /// `LOS_MemFree` / `OsDoMemFree`.
    fn free_impl<S: Storage>(&mut self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<(), AllocError> {
        let areas = self.read_areas(cx.ram)?;
        let (area, hdr) = self.used_node(cx.ram, &areas, addr)?;
        let node = addr - HEAD_SIZE;
        self.release(cx, &areas, area, node, hdr)?;
        cx.emit(
            self.name,
            EventKind::Free {
                addr,
                block: hdr.size(),
                owner: hdr.owner(),
            },
        );
        Ok(())
    }

    /// `LOS_MemRealloc` / `OsMemRealloc`.
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
        let mut areas = self.read_areas(cx.ram)?;
        let (area, hdr) = self.used_node(cx.ram, &areas, addr)?;
        let node = addr - HEAD_SIZE;
        let node_size = hdr.size();
        let Some(alloc_size) = node_size_for(size) else {
            return Err(self.out_of_memory(cx.ram, &areas, size));
        };
        let to = if node_size >= alloc_size {
            // OsMemReAllocSmaller: split off the tail when it can hold a node.
            if splits(node_size, alloc_size) {
                self.split(cx, &areas, area, node, node_size, alloc_size)?;
                self.put(
                    cx,
                    node + SIZE_AND_FLAG,
                    Field::Size,
                    alloc_size | USED_FLAG,
                )?;
            }
            addr
        } else if let Some(grown) = self.grow_in_place(cx, &areas, area, node, hdr, alloc_size)? {
            grown
        } else {
            // Neither: allocate elsewhere, copy the old payload, free the old node.
            let (new_node, _) = self.alloc_node(cx, &mut areas, size, owner, None)?;
            let to = new_node + HEAD_SIZE;
            cx.ram.copy_within(addr, to, node_size - HEAD_SIZE)?;
            // The allocation may have split the node before this one: read it again.
            let hdr = read_hdr(cx.ram, node)?;
            self.release(cx, &areas, area, node, hdr)?;
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

    fn walk<S: Storage>(
        &self,
        ram: &Ram<S>,
        visit: &mut dyn FnMut(Block),
    ) -> Result<(), AllocError> {
        let areas = self.read_areas(ram)?;
        let pool_meta = |addr, len| Block {
            addr,
            len,
            kind: BlockKind::Header,
            block: self.base,
            owner: Owner::NONE,
        };
        visit(pool_meta(self.base, self.ctrl_size()));
        for area in areas.iter() {
            self.each_node(ram, &areas, area, &mut |node, hdr| {
                let (block, owner, kind) = if hdr.used() {
                    (node + HEAD_SIZE, hdr.owner(), BlockKind::Payload)
                } else {
                    (node, Owner::NONE, BlockKind::Free)
                };
                visit(Block {
                    addr: node,
                    len: HEAD_SIZE,
                    kind: BlockKind::Header,
                    block,
                    owner,
                });
                visit(Block {
                    addr: node + HEAD_SIZE,
                    len: hdr.size() - HEAD_SIZE,
                    kind,
                    block,
                    owner,
                });
                Ok(())
            })?;
            visit(pool_meta(area.end, HEAD_SIZE));
        }
        Ok(())
    }

    fn check<S: Storage>(&self, ram: &Ram<S>) -> Result<(), AllocError> {
        expect_word(ram, self.base + POOL_ADDR, Field::Pool, self.base)?;
        expect_word(ram, self.base + POOL_SIZE, Field::Size, self.size)?;
        let flag = if self.expand { EXPAND_ENABLE } else { 0 };
        expect_word(ram, self.base + POOL_FLAG, Field::Flags, flag)?;
        let areas = self.read_areas(ram)?;

        // The physical chain of every area.
        let mut free_nodes = 0u32;
        for area in areas.iter() {
            let mut prev_free = false;
            self.each_node(ram, &areas, area, &mut |node, hdr| {
                let has_magic = hdr.link_prev == magic(node);
                if hdr.used() {
                    if !has_magic {
                        return Err(self.bad_magic(ram, &areas, node, hdr));
                    }
                    if !owner_word_ok(hdr.link_next) {
                        return Err(bad_owner(node, hdr));
                    }
                    prev_free = false;
                } else {
                    if has_magic {
                        return Err(used_flag_lost(node, hdr));
                    }
                    if prev_free {
                        return Err(AllocError::Inconsistent {
                            at: node,
                            rule: "two free nodes lie side by side (a missed merge)",
                        });
                    }
                    prev_free = true;
                    free_nodes += 1;
                }
                Ok(())
            })?;
        }

        // The free lists.
        let mut listed = 0u32;
        for list in 0..self.lists {
            listed += self.check_list(ram, &areas, list)?;
        }
        if listed != free_nodes {
            return Err(AllocError::Inconsistent {
                at: self.head(0),
                rule: "the free lists do not hold every free node exactly once",
            });
        }
        Ok(())
    }
}

/// A node header as read from RAM.
#[derive(Clone, Copy, Debug)]
struct Hdr {
    /// +0: the previous list entry (free) or the magic word (used).
    link_prev: u32,
    /// +4: the next list entry (free) or the owner word (used).
    link_next: u32,
    /// +8: the physically preceding node.
    phys_prev: Addr,
    /// +12: size and flags.
    size_and_flag: u32,
}

impl Hdr {
    fn size(self) -> u32 {
        self.size_and_flag & SIZE_MASK
    }

    fn used(self) -> bool {
        self.size_and_flag & USED_FLAG != 0
    }

    fn owner(self) -> Owner {
        if self.link_next == NO_TASK {
            Owner::NONE
        } else {
            Owner(self.link_next as u16)
        }
    }
}

/// One area of the pool. `start <= first < end`; nodes tile `[first, end)`; the end node
/// is at `end`.
#[derive(Clone, Copy, Debug, Default)]
struct Area {
    /// Where the area's bytes start: the control block for the first area.
    start: Addr,
    first: Addr,
    end: Addr,
}

impl Area {
    fn bytes(&self) -> u32 {
        self.end - self.start + HEAD_SIZE
    }

    /// True iff a node of at least [`MIN_NODE`] bytes could start at `node`.
    fn holds_node(&self, node: Addr) -> bool {
        node.is_multiple_of(ALIGN)
            && node >= self.first
            && node <= self.end
            && self.end - node >= MIN_NODE
    }
}

/// The areas of a pool, read from the end-node chain: `list[..count]`.
#[derive(Clone, Copy, Debug)]
struct Areas {
    list: [Area; MAX_AREAS],
    count: usize,
}

impl Areas {
    fn new(first: Area) -> Areas {
        let mut list = [Area::default(); MAX_AREAS];
        list[0] = first;
        Areas { list, count: 1 }
    }

    fn iter(&self) -> impl Iterator<Item = Area> + '_ {
        self.list[..self.count].iter().copied()
    }

    fn last(&self) -> Area {
        self.list[self.count.saturating_sub(1)]
    }

    fn push(&mut self, area: Area) {
        if let Some(slot) = self.list.get_mut(self.count) {
            *slot = area;
            self.count += 1;
        }
    }

    /// The area in which a node could start at `node`.
    fn holding(&self, node: Addr) -> Option<Area> {
        self.iter().find(|a| a.holds_node(node))
    }

    fn overlaps(&self, addr: Addr, size: u32) -> bool {
        self.iter()
            .any(|a| ranges_overlap(a.start, a.bytes(), addr, size))
    }

    /// More than the number of nodes the pool can hold: the bound of every walk.
    fn max_nodes(&self) -> u32 {
        let total: u64 = self.iter().map(|a| a.bytes() as u64).sum();
        (total / MIN_NODE as u64 + 2).min(u32::MAX as u64) as u32
    }
}

impl DynMem {
    fn put<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
        field: Field,
        value: u32,
    ) -> Result<(), AllocError> {
        cx.set_word(self.name, addr, field, value)
    }

    fn first_area(&self) -> Area {
        Area {
            start: self.base,
            first: self.first_node(),
            end: self.end_node(),
        }
    }

    /// True iff `addr` is one of the list heads.
    fn is_head(&self, addr: Addr) -> bool {
        let Some(off) = addr.checked_sub(self.base + LIST_HEADS) else {
            return false;
        };
        off.is_multiple_of(LIST_HEAD_SIZE) && off / LIST_HEAD_SIZE < self.lists
    }

    /// Follows the end-node chain from the first area, validating each end node and each
    /// area it points to.
    fn read_areas<S: Storage>(&self, ram: &Ram<S>) -> Result<Areas, AllocError> {
        let mut areas = Areas::new(self.first_area());
        loop {
            let end = areas.last().end;
            let hdr = read_hdr(ram, end)?;
            if hdr.link_prev != magic(end) {
                return Err(AllocError::Corrupted {
                    at: end + PREV,
                    field: Field::Magic,
                    expected: magic(end),
                    found: hdr.link_prev,
                });
            }
            if !hdr.used() || hdr.size_and_flag & ALIGNED_FLAG != 0 {
                return Err(AllocError::Corrupted {
                    at: end + SIZE_AND_FLAG,
                    field: Field::Size,
                    expected: (hdr.size_and_flag | USED_FLAG) & !ALIGNED_FLAG,
                    found: hdr.size_and_flag,
                });
            }
            let (next, next_size) = (hdr.link_next, hdr.size());
            if next == 0 && next_size == 0 {
                return Ok(areas);
            }
            let plausible = next != 0
                && areas.count < MAX_AREAS
                && next.is_multiple_of(ALIGN)
                && next_size.is_multiple_of(ALIGN)
                && next_size >= MIN_AREA
                && ram.contains(next, next_size)
                && !areas.overlaps(next, next_size);
            if !plausible {
                return Err(AllocError::Inconsistent {
                    at: end + NEXT,
                    rule: "an end node points to an impossible next area",
                });
            }
            areas.push(Area {
                start: next,
                first: next,
                end: next + (next_size - HEAD_SIZE),
            });
        }
    }

    /// Visits every node of `area` in address order, after checking that its size leads
    /// to a node whose `preNode` points back at it (and, for the first node, that its
    /// `preNode` is the end node). Bounded by the number of nodes the pool can hold.
    fn each_node<S: Storage>(
        &self,
        ram: &Ram<S>,
        areas: &Areas,
        area: Area,
        visit: &mut dyn FnMut(Addr, Hdr) -> Result<(), AllocError>,
    ) -> Result<(), AllocError> {
        let bound = areas.max_nodes();
        let mut node = area.first;
        let mut prev = area.end;
        let mut steps = 0u32;
        while node != area.end {
            steps += 1;
            if steps > bound {
                return Err(AllocError::Inconsistent {
                    at: node,
                    rule: "the physical chain of nodes does not end",
                });
            }
            let hdr = read_hdr(ram, node)?;
            self.node_links(ram, areas, area, node, hdr, Some(prev))?;
            visit(node, hdr)?;
            prev = node;
            node += hdr.size();
        }
        Ok(())
    }

    /// Checks the physical links around `node`: its size (aligned, at least a minimal
    /// node, inside the area, no aligned flag), the next node's `preNode`, and its own
    /// `preNode` (`known_prev` when the caller walked here, else checked against the node
    /// it names). Returns the corrupted field with what it should hold where that can be
    /// worked out from the intact links around it.
    fn node_links<S: Storage>(
        &self,
        ram: &Ram<S>,
        areas: &Areas,
        area: Area,
        node: Addr,
        hdr: Hdr,
        known_prev: Option<Addr>,
    ) -> Result<(), AllocError> {
        match next_of(area, node, hdr) {
            None => return Err(self.bad_size(ram, areas, area, node, hdr, None)),
            Some(next) => {
                let back = read(ram, next + PHYS_PREV)?;
                if back != node {
                    return Err(self.bad_size(ram, areas, area, node, hdr, Some((next, back))));
                }
            }
        }
        let expected = if node == area.first {
            Some(area.end)
        } else {
            known_prev
        };
        match expected {
            Some(expected) if hdr.phys_prev != expected => Err(AllocError::Corrupted {
                at: node + PHYS_PREV,
                field: Field::PhysPrev,
                expected,
                found: hdr.phys_prev,
            }),
            Some(_) => Ok(()),
            None if self.prev_leads_here(ram, area, node, hdr)? => Ok(()),
            None => match self.true_prev(ram, areas, area, node)? {
                Some(expected) => Err(AllocError::Corrupted {
                    at: node + PHYS_PREV,
                    field: Field::PhysPrev,
                    expected,
                    found: hdr.phys_prev,
                }),
                None => Err(AllocError::Inconsistent {
                    at: node + PHYS_PREV,
                    rule: "no node ends where this node starts",
                }),
            },
        }
    }

    /// True iff `node` is a node of the chain by its local links: a sane size leading to a
    /// node that points back, and a `preNode` whose size leads here (or the end node for
    /// the first node). Cheap; no diagnosis.
    fn is_node<S: Storage>(
        &self,
        ram: &Ram<S>,
        area: Area,
        node: Addr,
        hdr: Hdr,
    ) -> Result<bool, AllocError> {
        let Some(next) = next_of(area, node, hdr) else {
            return Ok(false);
        };
        if read(ram, next + PHYS_PREV)? != node {
            return Ok(false);
        }
        if node == area.first {
            return Ok(hdr.phys_prev == area.end);
        }
        self.prev_leads_here(ram, area, node, hdr)
    }

    /// True iff the node `hdr.phys_prev` names lies before `node` in its area and its size
    /// leads exactly to `node`.
    fn prev_leads_here<S: Storage>(
        &self,
        ram: &Ram<S>,
        area: Area,
        node: Addr,
        hdr: Hdr,
    ) -> Result<bool, AllocError> {
        let prev = hdr.phys_prev;
        if !area.holds_node(prev) || prev >= node {
            return Ok(false);
        }
        let prev_size = read(ram, prev + SIZE_AND_FLAG)? & SIZE_MASK;
        Ok(node - prev == prev_size)
    }

    /// The error for a size word that does not lead to a node pointing back (`next` and
    /// its `preNode` when the size at least stays inside the area). Walking the `preNode`
    /// links back from the end node finds the node that really follows `node`; if it is
    /// not where the size leads, the size is corrupt, otherwise the next node's `preNode`.
    fn bad_size<S: Storage>(
        &self,
        ram: &Ram<S>,
        areas: &Areas,
        area: Area,
        node: Addr,
        hdr: Hdr,
        next: Option<(Addr, Addr)>,
    ) -> AllocError {
        let true_next = self.true_next(ram, areas, area, node);
        match (true_next, next) {
            (Some(real), Some((next, _))) if real == next => AllocError::Inconsistent {
                at: node + SIZE_AND_FLAG,
                rule: "a node's size and its neighbour's links disagree",
            },
            (Some(real), _) => AllocError::Corrupted {
                at: node + SIZE_AND_FLAG,
                field: Field::Size,
                expected: (real - node) | (hdr.size_and_flag & USED_FLAG),
                found: hdr.size_and_flag,
            },
            (None, Some((next, back))) => AllocError::Corrupted {
                at: next + PHYS_PREV,
                field: Field::PhysPrev,
                expected: node,
                found: back,
            },
            (None, None) => AllocError::Inconsistent {
                at: node + SIZE_AND_FLAG,
                rule: "a node's size runs outside its area",
            },
        }
    }

    /// The node whose `preNode` is `node`, found by walking `preNode` links back from the
    /// end node of `area`; `None` when the walk cannot get there.
    fn true_next<S: Storage>(
        &self,
        ram: &Ram<S>,
        areas: &Areas,
        area: Area,
        node: Addr,
    ) -> Option<Addr> {
        let mut cur = area.end;
        for _ in 0..areas.max_nodes() {
            let prev = read(ram, cur + PHYS_PREV).ok()?;
            if prev == node {
                return Some(cur);
            }
            if !area.holds_node(prev) || prev >= cur || prev < node {
                return None;
            }
            cur = prev;
        }
        None
    }

    /// The node whose size leads to `node`, found by walking sizes forward from the first
    /// node of `area`.
    fn true_prev<S: Storage>(
        &self,
        ram: &Ram<S>,
        areas: &Areas,
        area: Area,
        node: Addr,
    ) -> Result<Option<Addr>, AllocError> {
        let mut cur = area.first;
        for _ in 0..areas.max_nodes() {
            let hdr = read_hdr(ram, cur)?;
            let Some(next) = next_of(area, cur, hdr) else {
                return Ok(None);
            };
            if next == node {
                return Ok(Some(cur));
            }
            if next > node {
                return Ok(None);
            }
            cur = next;
        }
        Ok(None)
    }

    /// The error for a used node whose +0 word is not its magic. When that word is a list
    /// link whose target points back here, the node is really free and it is the used
    /// flag that was set by mistake.
    fn bad_magic<S: Storage>(
        &self,
        ram: &Ram<S>,
        areas: &Areas,
        node: Addr,
        hdr: Hdr,
    ) -> AllocError {
        let link = hdr.link_prev;
        let is_link = (self.is_head(link) || areas.holding(link).is_some())
            && read(ram, link + NEXT).ok() == Some(node);
        if is_link {
            AllocError::Corrupted {
                at: node + SIZE_AND_FLAG,
                field: Field::Size,
                expected: hdr.size_and_flag & !USED_FLAG,
                found: hdr.size_and_flag,
            }
        } else {
            AllocError::Corrupted {
                at: node + PREV,
                field: Field::Magic,
                expected: magic(node),
                found: link,
            }
        }
    }

    /// `OsMemCheckUsedNode`: the node behind a pointer handed to free or realloc, which
    /// must be a used node of the pool. A header with its magic is genuine (magic words are
    /// unique to their address and absorbed headers are cleared), so any broken link
    /// around it is corruption. Without the magic, a header whose physical links hold is a
    /// real node: a free one means a double free, a used one a smashed magic. Anything
    /// else is not a node: a foreign, interior or stale pointer.
    fn used_node<S: Storage>(
        &self,
        ram: &Ram<S>,
        areas: &Areas,
        addr: Addr,
    ) -> Result<(Area, Hdr), AllocError> {
        let invalid = AllocError::InvalidPointer { addr };
        if !addr.is_multiple_of(ALIGN) {
            return Err(invalid);
        }
        let Some(node) = addr.checked_sub(HEAD_SIZE) else {
            return Err(invalid);
        };
        let Some(area) = areas.holding(node) else {
            return Err(invalid);
        };
        let hdr = read_hdr(ram, node)?;
        if hdr.link_prev == magic(node) {
            if !hdr.used() {
                return Err(used_flag_lost(node, hdr));
            }
            self.node_links(ram, areas, area, node, hdr, None)?;
            if !owner_word_ok(hdr.link_next) {
                return Err(bad_owner(node, hdr));
            }
            return Ok((area, hdr));
        }
        if !self.is_node(ram, area, node, hdr)? {
            return Err(invalid);
        }
        if hdr.used() {
            Err(AllocError::Corrupted {
                at: node + PREV,
                field: Field::Magic,
                expected: magic(node),
                found: hdr.link_prev,
            })
        } else {
            Err(AllocError::DoubleFree { addr })
        }
    }

    /// Finds a free node for `size` bytes, growing the pool when allowed, and takes it for
    /// `owner`. Returns the node and its size. Emits no summary.
    fn alloc_node<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        areas: &mut Areas,
        size: u32,
        owner: Owner,
        mut source: Option<&mut dyn GrowthSource<S>>,
    ) -> Result<(Addr, u32), AllocError> {
        let Some(alloc_size) = node_size_for(size) else {
            return Err(self.out_of_memory(cx.ram, areas, size));
        };
        // One search, then one more per area linked in (a spare, or a region from the
        // source); the pool holds at most MAX_AREAS areas.
        for _ in 0..=MAX_AREAS {
            let (found, visited) = self.find_free(cx.ram, areas, alloc_size)?;
            cx.emit(
                self.name,
                EventKind::Search {
                    size: alloc_size,
                    visited,
                },
            );
            if let Some((node, hdr)) = found {
                let block = self.take(cx, areas, node, hdr, alloc_size, owner)?;
                return Ok((node, block));
            }
            let expand = read(cx.ram, self.base + POOL_FLAG)? & EXPAND_ENABLE != 0;
            if !expand || areas.count == MAX_AREAS {
                break;
            }
            if let Some((addr, area_size)) = self.spare_for(areas, alloc_size) {
                self.link_area(cx, areas, addr, area_size)?;
                continue;
            }
            // The new area holds one free node of `alloc_size` and its own end node.
            let Some(source) = source.as_deref_mut() else {
                break;
            };
            let Some(min_size) = alloc_size.checked_add(HEAD_SIZE) else {
                break;
            };
            let Some((addr, area_size)) = source.take_region(cx, min_size)? else {
                break;
            };
            let (addr, area_size) = valid_area(cx.ram, addr, area_size)?;
            if areas.overlaps(addr, area_size) {
                return Err(ConfigError::Overlaps {
                    addr,
                    size: area_size,
                }
                .into());
            }
            self.link_area(cx, areas, addr, area_size)?;
        }
        Err(self.out_of_memory(cx.ram, areas, size))
    }

    fn out_of_memory<S: Storage>(&self, ram: &Ram<S>, areas: &Areas, size: u32) -> AllocError {
        match self.largest_free(ram, areas) {
            Ok(largest_free) => AllocError::OutOfMemory {
                requested: size,
                largest_free,
            },
            Err(e) => e,
        }
    }

    /// The payload bytes of the largest free node: the tail of the highest non-empty list,
    /// since each list is sorted.
    fn largest_free<S: Storage>(&self, ram: &Ram<S>, areas: &Areas) -> Result<u32, AllocError> {
        for list in (0..self.lists).rev() {
            let head = self.head(list);
            let tail = read(ram, head + PREV)?;
            if tail == head {
                continue;
            }
            if areas.holding(tail).is_none() {
                return Err(AllocError::Inconsistent {
                    at: head + PREV,
                    rule: "a free-list link points outside the pool",
                });
            }
            let size = read(ram, tail + SIZE_AND_FLAG)? & SIZE_MASK;
            return Ok(size.saturating_sub(HEAD_SIZE));
        }
        Ok(0)
    }

    /// The first spare area not yet in the pool whose free node can hold `alloc_size`.
    fn spare_for(&self, areas: &Areas, alloc_size: u32) -> Option<(Addr, u32)> {
        if areas.count == MAX_AREAS {
            return None;
        }
        self.spares()
            .iter()
            .copied()
            .find(|&(addr, size)| !areas.overlaps(addr, size) && size - HEAD_SIZE >= alloc_size)
    }

    /// `OsMemFindSuitableFreeBlock`: the smallest free node of at least `alloc_size` bytes
    /// (lowest address among equals), and how many list entries the search looked at.
    fn find_free<S: Storage>(
        &self,
        ram: &Ram<S>,
        areas: &Areas,
        alloc_size: u32,
    ) -> Result<(Option<(Addr, Hdr)>, u32), AllocError> {
        let mut visited = 0u32;
        for list in self.list_for_size(alloc_size)..self.lists {
            let head = self.head(list);
            let mut prev = head;
            let mut cur = read(ram, head + NEXT)?;
            let mut steps = 0u32;
            while cur != head {
                steps += 1;
                if steps > areas.max_nodes() {
                    return Err(endless_list(head));
                }
                let hdr = self.entry(ram, areas, prev, cur)?;
                visited += 1;
                // Sorted small to large: the first node that fits is the best fit.
                if hdr.size() >= alloc_size {
                    return Ok((Some((cur, hdr)), visited));
                }
                prev = cur;
                cur = hdr.link_next;
            }
        }
        Ok((None, visited))
    }

    /// Reads the list entry `at` reached from `from`, checking that it is a free node of
    /// the pool whose `pstPrev` points back at `from`.
    fn entry<S: Storage>(
        &self,
        ram: &Ram<S>,
        areas: &Areas,
        from: Addr,
        at: Addr,
    ) -> Result<Hdr, AllocError> {
        if areas.holding(at).is_none() {
            return Err(AllocError::Inconsistent {
                at: from + NEXT,
                rule: "a free-list link points outside the pool",
            });
        }
        let hdr = read_hdr(ram, at)?;
        if hdr.link_prev != from {
            return Err(AllocError::Corrupted {
                at: at + PREV,
                field: Field::Prev,
                expected: from,
                found: hdr.link_prev,
            });
        }
        if hdr.used() {
            return Err(AllocError::Inconsistent {
                at,
                rule: "a used node is on a free list",
            });
        }
        Ok(hdr)
    }

    /// Takes the free node `node` for a request of `alloc_size` bytes: off its list, split
    /// when the rest can hold a node, then magic, owner and used flag
    /// (`OsMemSetMagicNumAndTaskID`, `OS_MEM_NODE_SET_USED_FLAG`). Returns the node size.
    fn take<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        areas: &Areas,
        node: Addr,
        hdr: Hdr,
        alloc_size: u32,
        owner: Owner,
    ) -> Result<u32, AllocError> {
        let Some(area) = areas.holding(node) else {
            return Err(AllocError::InvalidPointer { addr: node });
        };
        self.node_links(cx.ram, areas, area, node, hdr, None)?;
        self.unlink(cx, areas, node)?;
        let block = if splits(hdr.size(), alloc_size) {
            self.split(cx, areas, area, node, hdr.size(), alloc_size)?;
            alloc_size
        } else {
            hdr.size()
        };
        self.put(cx, node + PREV, Field::Magic, magic(node))?;
        self.put(cx, node + NEXT, Field::Owner, owner_word(owner))?;
        self.put(cx, node + SIZE_AND_FLAG, Field::Size, block | USED_FLAG)?;
        Ok(block)
    }

    /// `OsMemSplitNode`: cuts `node` (`node_size` bytes, off any list) after `keep` bytes.
    /// The rest becomes a free node, merged with the next node when that one is free (only
    /// possible when a used node shrinks), and goes on its list. The caller writes `node`'s
    /// own size word.
    fn split<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        areas: &Areas,
        area: Area,
        node: Addr,
        node_size: u32,
        keep: u32,
    ) -> Result<(), AllocError> {
        let rest = node + keep;
        let rest_size = node_size - keep;
        let next = node + node_size;
        let absorbed = self.free_neighbour(cx.ram, areas, area, next)?;
        cx.emit(
            self.name,
            EventKind::Split {
                addr: node,
                size: keep,
                rest,
                rest_size,
            },
        );
        let mut total = rest_size;
        if let Some(next_hdr) = absorbed {
            self.unlink(cx, areas, next)?;
            total += next_hdr.size();
            self.absorb(cx, rest, total, next)?;
        }
        self.put(cx, rest + PHYS_PREV, Field::PhysPrev, node)?;
        self.put(cx, rest + SIZE_AND_FLAG, Field::Size, total)?;
        self.put(cx, rest + total + PHYS_PREV, Field::PhysPrev, rest)?;
        self.link(cx, areas, rest, total)
    }

    /// Grows the used node in place when the next node is free and the two together hold
    /// `alloc_size` bytes (`OsMemMergeNodeForReAllocBigger`); returns the payload address,
    /// or `None` when it cannot.
    fn grow_in_place<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        areas: &Areas,
        area: Area,
        node: Addr,
        hdr: Hdr,
        alloc_size: u32,
    ) -> Result<Option<Addr>, AllocError> {
        let next = node + hdr.size();
        let Some(next_hdr) = self.free_neighbour(cx.ram, areas, area, next)? else {
            return Ok(None);
        };
        let total = hdr.size() + next_hdr.size();
        if total < alloc_size {
            return Ok(None);
        }
        self.unlink(cx, areas, next)?;
        self.absorb(cx, node, total, next)?;
        let block = if splits(total, alloc_size) {
            self.split(cx, areas, area, node, total, alloc_size)?;
            alloc_size
        } else {
            self.put(cx, node + total + PHYS_PREV, Field::PhysPrev, node)?;
            total
        };
        self.put(cx, node + SIZE_AND_FLAG, Field::Size, block | USED_FLAG)?;
        Ok(Some(node + HEAD_SIZE))
    }

    /// `OsMemFreeNode`: frees the used node `node`, merging it with a free node before and
    /// a free node after it, and puts the result on its list.
    fn release<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        areas: &Areas,
        area: Area,
        node: Addr,
        hdr: Hdr,
    ) -> Result<(), AllocError> {
        let size = hdr.size();
        // The first node's preNode is the end node, which is always used.
        let left = if node == area.first {
            None
        } else {
            self.free_neighbour(cx.ram, areas, area, hdr.phys_prev)?
                .map(|h| (hdr.phys_prev, h))
        };
        let right_addr = node + size;
        let right = self.free_neighbour(cx.ram, areas, area, right_addr)?;

        if let Some((prev, _)) = left {
            self.unlink(cx, areas, prev)?;
        }
        if right.is_some() {
            self.unlink(cx, areas, right_addr)?;
        }
        let mut start = node;
        let mut total = size;
        if let Some((prev, prev_hdr)) = left {
            start = prev;
            total += prev_hdr.size();
            self.absorb(cx, start, total, node)?;
        }
        if let Some(right_hdr) = right {
            total += right_hdr.size();
            self.absorb(cx, start, total, right_addr)?;
        }
        // One write both clears the used flag and records the merged size.
        self.put(cx, start + SIZE_AND_FLAG, Field::Size, total)?;
        if left.is_some() || right.is_some() {
            self.put(cx, start + total + PHYS_PREV, Field::PhysPrev, start)?;
        }
        self.link(cx, areas, start, total)
    }

    /// The header of `node` if it is a free node (not the end node), after checking that
    /// its size leads to a node pointing back, so that merging it is safe.
    fn free_neighbour<S: Storage>(
        &self,
        ram: &Ram<S>,
        areas: &Areas,
        area: Area,
        node: Addr,
    ) -> Result<Option<Hdr>, AllocError> {
        if node == area.end {
            return Ok(None);
        }
        let hdr = read_hdr(ram, node)?;
        if hdr.used() {
            return Ok(None);
        }
        self.node_links(ram, areas, area, node, hdr, None)?;
        Ok(Some(hdr))
    }

    /// `OsMemMergeNode`: records that `absorbed` became part of the node at `into`, now
    /// `size` bytes, and clears the absorbed header so that no stale magic or size can be
    /// mistaken for a node later. The caller writes the sizes and links.
    fn absorb<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        into: Addr,
        size: u32,
        absorbed: Addr,
    ) -> Result<(), AllocError> {
        cx.emit(
            self.name,
            EventKind::Merge {
                addr: into,
                size,
                absorbed,
            },
        );
        cx.fill(self.name, absorbed, HEAD_SIZE, 0, Field::Magic)
    }

    /// Puts the free node `node` of `size` bytes on its list, before the first entry that
    /// is larger (or as large and at a higher address).
    fn link<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        areas: &Areas,
        node: Addr,
        size: u32,
    ) -> Result<(), AllocError> {
        let list = self.list_for_size(size);
        let head = self.head(list);
        let mut prev = head;
        let mut cur = read(cx.ram, head + NEXT)?;
        let mut steps = 0u32;
        while cur != head {
            steps += 1;
            if steps > areas.max_nodes() {
                return Err(endless_list(head));
            }
            let hdr = self.entry(cx.ram, areas, prev, cur)?;
            if (hdr.size(), cur) > (size, node) {
                break;
            }
            prev = cur;
            cur = hdr.link_next;
        }
        cx.emit(self.name, EventKind::Link { list, addr: node });
        self.put(cx, node + PREV, Field::Prev, prev)?;
        self.put(cx, node + NEXT, Field::Next, cur)?;
        let field = if prev == head {
            Field::Head
        } else {
            Field::Next
        };
        self.put(cx, prev + NEXT, field, node)?;
        let field = if cur == head {
            Field::Tail
        } else {
            Field::Prev
        };
        self.put(cx, cur + PREV, field, node)
    }

    /// `OsMemListDelete`: takes the free node `node` off its list, after checking that its
    /// neighbours on the list point at it. Reads the links afresh: an earlier unlink in the
    /// same operation may have changed them.
    fn unlink<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        areas: &Areas,
        node: Addr,
    ) -> Result<(), AllocError> {
        let hdr = read_hdr(cx.ram, node)?;
        let list = self.list_for_size(hdr.size());
        let head = self.head(list);
        let (prev, next) = (hdr.link_prev, hdr.link_next);
        for (link, at, back) in [(prev, node + PREV, NEXT), (next, node + NEXT, PREV)] {
            if link != head && areas.holding(link).is_none() {
                return Err(AllocError::Inconsistent {
                    at,
                    rule: "a free-list link points outside the pool",
                });
            }
            let found = read(cx.ram, link + back)?;
            if found != node {
                let field = match (link == head, back == NEXT) {
                    (true, true) => Field::Head,
                    (true, false) => Field::Tail,
                    (false, true) => Field::Next,
                    (false, false) => Field::Prev,
                };
                return Err(AllocError::Corrupted {
                    at: link + back,
                    field,
                    expected: node,
                    found,
                });
            }
        }
        cx.emit(self.name, EventKind::Unlink { list, addr: node });
        let field = if prev == head {
            Field::Head
        } else {
            Field::Next
        };
        self.put(cx, prev + NEXT, field, next)?;
        let field = if next == head {
            Field::Tail
        } else {
            Field::Prev
        };
        self.put(cx, next + PREV, field, prev)
    }

    /// `OsMemPoolExpand` without the page allocation: links the validated area
    /// `[addr, addr + size)` behind the last end node.
    fn link_area<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        areas: &mut Areas,
        addr: Addr,
        size: u32,
    ) -> Result<(), AllocError> {
        let last_end = areas.last().end;
        let area = Area {
            start: addr,
            first: addr,
            end: addr + (size - HEAD_SIZE),
        };
        let first_size = area.end - area.first;
        cx.emit(self.name, EventKind::Grow { addr, size });
        self.put(cx, area.first + SIZE_AND_FLAG, Field::Size, first_size)?;
        self.put(cx, area.first + PHYS_PREV, Field::PhysPrev, area.end)?;
        // OsMemSentinelNodeSet: the old last end node now leads to the new area.
        self.put(cx, last_end + NEXT, Field::Next, addr)?;
        self.put(cx, last_end + SIZE_AND_FLAG, Field::Size, size | USED_FLAG)?;
        self.write_end_node(cx, area.end, area.first)?;
        areas.push(area);
        self.link(cx, areas, area.first, first_size)
    }

    /// Writes an end node at `end` whose area's last node is `last`: magic, no next area,
    /// used.
    fn write_end_node<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        end: Addr,
        last: Addr,
    ) -> Result<(), AllocError> {
        self.put(cx, end + PREV, Field::Magic, magic(end))?;
        self.put(cx, end + NEXT, Field::Next, 0)?;
        self.put(cx, end + PHYS_PREV, Field::PhysPrev, last)?;
        self.put(cx, end + SIZE_AND_FLAG, Field::Size, USED_FLAG)
    }

    /// Checks list `list` (see the module invariants) and returns how many nodes it holds.
    fn check_list<S: Storage>(
        &self,
        ram: &Ram<S>,
        areas: &Areas,
        list: u32,
    ) -> Result<u32, AllocError> {
        let head = self.head(list);
        let tail = read(ram, head + PREV)?;
        let mut prev = head;
        let mut cur = read(ram, head + NEXT)?;
        let mut last: Option<(u32, Addr)> = None;
        let mut count = 0u32;
        while cur != head {
            count += 1;
            if count > areas.max_nodes() {
                return Err(endless_list(head));
            }
            let hdr = self.entry(ram, areas, prev, cur)?;
            let is_node = match areas.holding(cur) {
                Some(area) => self.is_node(ram, area, cur, hdr)?,
                None => false,
            };
            if !is_node {
                return Err(AllocError::Inconsistent {
                    at: cur,
                    rule: "a free-list entry is not a node of the pool",
                });
            }
            if self.list_for_size(hdr.size()) != list {
                return Err(AllocError::Inconsistent {
                    at: cur,
                    rule: "a free node is on the list of another size class",
                });
            }
            let key = (hdr.size(), cur);
            if last.is_some_and(|last| last >= key) {
                return Err(AllocError::Inconsistent {
                    at: cur,
                    rule: "a free list is not sorted by size, then address",
                });
            }
            last = Some(key);
            prev = cur;
            cur = hdr.link_next;
        }
        if tail != prev {
            return Err(AllocError::Corrupted {
                at: head + PREV,
                field: Field::Tail,
                expected: prev,
                found: tail,
            });
        }
        Ok(count)
    }
}

/// Bytes of a control block with `lists` list heads.
const fn ctrl_size(lists: u32) -> u32 {
    LIST_HEADS + lists * LIST_HEAD_SIZE
}

/// True iff a node of `node_size` bytes is cut when `keep` bytes of it are needed: the
/// rest can hold a header and an aligned word.
fn splits(node_size: u32, keep: u32) -> bool {
    keep as u64 + MIN_NODE as u64 <= node_size as u64
}

/// Where the size of the node at `node` leads, if the size is sane: no aligned flag, at
/// least a minimal node, a multiple of [`ALIGN`], inside the area.
fn next_of(area: Area, node: Addr, hdr: Hdr) -> Option<Addr> {
    let size = hdr.size();
    let sane = hdr.size_and_flag & ALIGNED_FLAG == 0
        && size >= MIN_NODE
        && size.is_multiple_of(ALIGN)
        && node <= area.end
        && size <= area.end - node;
    sane.then(|| node + size)
}

fn read<S: Storage>(ram: &Ram<S>, addr: Addr) -> Result<u32, AllocError> {
    Ok(ram.read_u32(addr)?)
}

fn read_hdr<S: Storage>(ram: &Ram<S>, node: Addr) -> Result<Hdr, AllocError> {
    Ok(Hdr {
        link_prev: read(ram, node.wrapping_add(PREV))?,
        link_next: read(ram, node.wrapping_add(NEXT))?,
        phys_prev: read(ram, node.wrapping_add(PHYS_PREV))?,
        size_and_flag: read(ram, node.wrapping_add(SIZE_AND_FLAG))?,
    })
}

fn expect_word<S: Storage>(
    ram: &Ram<S>,
    at: Addr,
    field: Field,
    expected: u32,
) -> Result<(), AllocError> {
    let found = read(ram, at)?;
    if found == expected {
        Ok(())
    } else {
        Err(AllocError::Corrupted {
            at,
            field,
            expected,
            found,
        })
    }
}

/// The owner word LiteOS stores: the task id, module id 0; all ones outside a task.
fn owner_word(owner: Owner) -> u32 {
    if owner == Owner::NONE {
        NO_TASK
    } else {
        owner.0 as u32
    }
}

fn owner_word_ok(word: u32) -> bool {
    word == NO_TASK || word >> 16 == 0
}

fn bad_owner(node: Addr, hdr: Hdr) -> AllocError {
    AllocError::Corrupted {
        at: node + NEXT,
        field: Field::Owner,
        expected: hdr.link_next & 0xffff,
        found: hdr.link_next,
    }
}

/// A node with its magic but no used flag: the flag bit was cleared.
fn used_flag_lost(node: Addr, hdr: Hdr) -> AllocError {
    AllocError::Corrupted {
        at: node + SIZE_AND_FLAG,
        field: Field::Size,
        expected: hdr.size_and_flag | USED_FLAG,
        found: hdr.size_and_flag,
    }
}

fn endless_list(head: Addr) -> AllocError {
    AllocError::Inconsistent {
        at: head,
        rule: "a free list does not return to its head",
    }
}

fn ranges_overlap(a: Addr, a_len: u32, b: Addr, b_len: u32) -> bool {
    (a as u64) < b as u64 + b_len as u64 && (b as u64) < a as u64 + a_len as u64
}

/// `[addr, addr + size)` shrunk to 4-aligned bounds.
fn align_range(addr: Addr, size: u32) -> Option<(Addr, u32)> {
    let start = addr.checked_add(ALIGN - 1)? & !(ALIGN - 1);
    let size = size.checked_sub(start - addr)? & !(ALIGN - 1);
    Some((start, size))
}

/// An area to add to the pool: aligned, large enough, in RAM.
fn valid_area<S: Storage>(ram: &Ram<S>, addr: Addr, size: u32) -> Result<(Addr, u32), AllocError> {
    let too_small = ConfigError::TooSmall {
        needed: MIN_AREA,
        available: size,
    };
    let (addr, size) = align_range(addr, size).ok_or(too_small)?;
    if size < MIN_AREA {
        return Err(too_small.into());
    }
    if size > SIZE_MASK {
        return Err(ConfigError::BadBlockSize { size }.into());
    }
    if !ram.contains(addr, size) {
        return Err(ConfigError::NotInRam { addr, size }.into());
    }
    Ok((addr, size))
}
