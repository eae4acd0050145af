//! The buddy allocator: free lists per order, split on allocation, merge on free
//! (`OsVmPhysPagesAlloc`, `OsVmPhysPagesSpiltUnsafe`, `OsVmPhysPagesFree`).

use crate::allocator::{Ctx, Owner};
use crate::error::AllocError;
use crate::ram::{Addr, Storage};
use crate::trace::{EventKind, Field};

use super::list::{Links, List};
use super::{
    entry, order_word, pg, segdesc, PageError, PageEvent, PhysMem, MAX_ORDER, NO_ORDER, ORDERS,
};

impl PhysMem {
    pub(super) fn free_list(&self, s: usize, order: u32) -> List {
        List {
            s,
            links: Links::Free,
            head: self.free_head(s, order),
        }
    }

    /// Makes page `idx` the head of a free block of `order` and links it into that
    /// order's list at its address-ordered place (`OsVmPhysFreeListAdd`).
    pub(super) fn free_list_add<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        s: usize,
        idx: u32,
        order: u32,
    ) -> Result<(), AllocError> {
        let name = self.name;
        let e = self.entry_addr(s, idx);
        let list = self.free_list(s, order);
        cx.emit(
            name,
            EventKind::Link {
                list: Self::list_no(s, order),
                addr: self.page_pa(s, idx),
            },
        );
        cx.set_word(name, e + entry::FLAGS, Field::Flags, pg::FREE)?;
        cx.set_word(
            name,
            e + entry::ORDER,
            Field::Order,
            order_word(order, s, 0),
        )?;
        // The first node above `idx`, or the head to append.
        let mut next = self.read_link(cx.ram, list, list.head + 4)?;
        let mut steps = 0u32;
        while next != list.head {
            let at = self.node_index(s, Links::Free, next).unwrap_or(u32::MAX);
            if at > idx {
                break;
            }
            steps += 1;
            if steps > self.segs[s].npages {
                return Err(AllocError::Inconsistent {
                    at: list.head,
                    rule: "a list is longer than its segment has pages (a cycle)",
                });
            }
            next = self.read_link(cx.ram, list, next + 4)?;
        }
        self.insert_before(cx, list, next, e + entry::PREV)?;
        let count_at = list.head + segdesc::FREE_COUNT;
        let count = cx.word(count_at)?;
        cx.set_word(name, count_at, Field::Count, count.wrapping_add(1))?;
        Ok(())
    }

    /// Takes the free block headed by page `idx` off the list of `order`
    /// (`OsVmPhysFreeListDel`); its head's flags and order are left for the caller.
    pub(super) fn free_list_del<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        s: usize,
        idx: u32,
        order: u32,
    ) -> Result<(), AllocError> {
        let list = self.free_list(s, order);
        cx.emit(
            self.name,
            EventKind::Unlink {
                list: Self::list_no(s, order),
                addr: self.page_pa(s, idx),
            },
        );
        self.unlink(cx, list, self.entry_addr(s, idx) + entry::PREV)?;
        let count_at = list.head + segdesc::FREE_COUNT;
        let count = cx.word(count_at)?;
        let less = count.checked_sub(1).ok_or(AllocError::Inconsistent {
            at: count_at,
            rule: "a free list's count is 0 but it holds a block",
        })?;
        cx.set_word(self.name, count_at, Field::Count, less)?;
        Ok(())
    }

    /// Allocation with reclaim: try the buddy; when it has nothing, reclaim one LRU
    /// block and try again.
    pub(super) fn alloc_inner<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        order: u32,
        npages: u32,
        owner: Owner,
    ) -> Result<Addr, PageError> {
        // Every reclaim frees at least one page, so this many rounds always suffice.
        let mut rounds = self.managed_pages() as u64 + 1;
        loop {
            if let Some(addr) = self.try_alloc(cx, order, npages, owner)? {
                return Ok(addr);
            }
            if rounds == 0 || !self.reclaim_one(cx)? {
                let largest = self.largest_free_order(cx.ram)?;
                return Err(PageError::OutOfPages { order, largest });
            }
            rounds -= 1;
        }
    }

    /// `OsVmPhysPagesGet`: each segment in turn, the first non-empty list from `order`
    /// up, its lowest block; split down to `order`.
    fn try_alloc<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        order: u32,
        npages: u32,
        owner: Owner,
    ) -> Result<Option<Addr>, PageError> {
        let name = self.name;
        let size = npages << self.shift;
        let mut visited = 0u32;
        for s in 0..self.seg_count {
            for k in order..ORDERS {
                visited += 1;
                let list = self.free_list(s, k);
                let first = self.read_link(cx.ram, list, list.head + 4)?;
                if first == list.head {
                    continue;
                }
                cx.emit(name, EventKind::Search { size, visited });
                if k != order {
                    cx.emit(name, EventKind::Fallback { from: order, to: k });
                }
                let idx =
                    self.node_index(s, Links::Free, first)
                        .ok_or(AllocError::Inconsistent {
                            at: list.head + 4,
                            rule: "a list link points neither at its list head nor at a page entry",
                        })?;
                self.expect_free_head(cx, s, idx, k)?;
                self.free_list_del(cx, s, idx, k)?;
                let mut kk = k;
                while kk > order {
                    kk -= 1;
                    let rest = idx + (1 << kk);
                    let half = self.block_bytes(kk);
                    cx.emit(
                        name,
                        EventKind::Split {
                            addr: self.page_pa(s, idx),
                            size: half,
                            rest: self.page_pa(s, rest),
                            rest_size: half,
                        },
                    );
                    self.free_list_add(cx, s, rest, kk)?;
                }
                let e = self.entry_addr(s, idx);
                let flags = pg::HEAD | ((owner.0 as u32) << pg::OWNER_SHIFT);
                cx.set_word(name, e + entry::FLAGS, Field::Flags, flags)?;
                cx.set_word(name, e + entry::REFS, Field::RefCount, 1)?;
                cx.set_word(
                    name,
                    e + entry::ORDER,
                    Field::Order,
                    order_word(order, s, npages),
                )?;
                let addr = self.page_pa(s, idx);
                cx.emit(
                    name,
                    EventKind::Alloc {
                        addr,
                        size,
                        block: self.block_bytes(order),
                        owner,
                    },
                );
                return Ok(Some(addr));
            }
        }
        cx.emit(name, EventKind::Search { size, visited });
        Ok(None)
    }

    /// The first block of a free list must be a free head of that list's order.
    fn expect_free_head<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        s: usize,
        idx: u32,
        order: u32,
    ) -> Result<(), AllocError> {
        let e = self.entry_addr(s, idx);
        let flags = cx.word(e + entry::FLAGS)?;
        if flags != pg::FREE {
            return Err(AllocError::Corrupted {
                at: e + entry::FLAGS,
                field: Field::Flags,
                expected: pg::FREE,
                found: flags,
            });
        }
        let ow = cx.word(e + entry::ORDER)?;
        let expected = order_word(order, s, 0);
        if ow != expected {
            return Err(AllocError::Corrupted {
                at: e + entry::ORDER,
                field: Field::Order,
                expected,
                found: ow,
            });
        }
        Ok(())
    }

    /// Drops one reference to the block at `addr`; at 0 the block leaves its LRU list
    /// and goes back to the buddy. `order`, when given, must be the block's.
    pub(super) fn free_inner<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
        order: Option<u32>,
    ) -> Result<(), PageError> {
        let (s, head, actual) = self.allocated_head(cx.ram, addr)?;
        if let Some(given) = order {
            if given != actual {
                return Err(PageError::WrongOrder {
                    addr,
                    given,
                    actual,
                });
            }
        }
        let name = self.name;
        let e = self.entry_addr(s, head);
        let refs = cx.word(e + entry::REFS)?;
        if refs == 0 {
            return Err(AllocError::Corrupted {
                at: e + entry::REFS,
                field: Field::RefCount,
                expected: 1,
                found: 0,
            }
            .into());
        }
        let mapping = cx.word(e + entry::MAPPING)?;
        if refs == 1 && mapping != 0 {
            return Err(PageError::Mapped { addr, pte: mapping });
        }
        if refs > 1 {
            cx.set_word(name, e + entry::REFS, Field::RefCount, refs - 1)?;
            cx.emit(
                name,
                EventKind::Page(PageEvent::Put {
                    page: addr,
                    refs: refs - 1,
                }),
            );
            return Ok(());
        }
        let flags = cx.word(e + entry::FLAGS)?;
        self.release(cx, s, head, actual)?;
        cx.emit(
            name,
            EventKind::Free {
                addr,
                block: self.block_bytes(actual),
                owner: Owner((flags >> pg::OWNER_SHIFT) as u16),
            },
        );
        Ok(())
    }

    /// Returns the allocated block headed by page `idx` (reference count 1 or 0, no
    /// mapping) to the buddy: off its LRU list, head cleared, merged with free buddies
    /// as long as there are any, linked on the list of the order it ends with.
    pub(super) fn release<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        s: usize,
        idx: u32,
        order: u32,
    ) -> Result<(), AllocError> {
        let name = self.name;
        let e = self.entry_addr(s, idx);
        let flags = cx.word(e + entry::FLAGS)?;
        if flags & pg::LRU != 0 {
            self.lru_del(cx, s, idx, flags)?;
        }
        cx.set_word(name, e + entry::FLAGS, Field::Flags, 0)?;
        cx.set_word(name, e + entry::REFS, Field::RefCount, 0)?;
        cx.set_word(
            name,
            e + entry::ORDER,
            Field::Order,
            order_word(NO_ORDER, s, 0),
        )?;

        let seg = self.segs[s];
        let base_pfn = seg.start >> self.shift;
        let mut pfn = base_pfn + idx;
        // Whether the entry of `pfn` is already blank (no stale free-head words).
        let mut blank = true;
        let mut k = order;
        while k < MAX_ORDER {
            let buddy = pfn ^ (1 << k);
            let Some(bi) = buddy.checked_sub(base_pfn).filter(|&b| b < seg.npages) else {
                break;
            };
            let be = self.entry_addr(s, bi);
            let bflags = cx.word(be + entry::FLAGS)?;
            let bow = cx.word(be + entry::ORDER)?;
            if bflags != pg::FREE || bow != order_word(k, s, 0) {
                break;
            }
            self.free_list_del(cx, s, bi, k)?;
            let (low, high) = if buddy < pfn {
                (buddy, pfn)
            } else {
                (pfn, buddy)
            };
            // The upper half stops being a head.
            let (high_blank, low_blank) = if high == buddy {
                (false, blank)
            } else {
                (blank, false)
            };
            if !high_blank {
                let he = self.entry_addr(s, high - base_pfn);
                cx.set_word(name, he + entry::FLAGS, Field::Flags, 0)?;
                cx.set_word(
                    name,
                    he + entry::ORDER,
                    Field::Order,
                    order_word(NO_ORDER, s, 0),
                )?;
            }
            k += 1;
            cx.emit(
                name,
                EventKind::Merge {
                    addr: self.page_pa(s, low - base_pfn),
                    size: self.block_bytes(k),
                    absorbed: self.page_pa(s, high - base_pfn),
                },
            );
            pfn = low;
            blank = low_blank;
        }
        self.free_list_add(cx, s, pfn - base_pfn, k)
    }
}
