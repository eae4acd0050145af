//! LRU lists and reclaim: inactive and active lists of pages in use per segment
//! (`lruList`, `OsLruCacheAdd`, `OsTryShrinkMemory`).

use crate::allocator::Ctx;
use crate::error::AllocError;
use crate::ram::{Addr, Storage};
use crate::trace::{EventKind, Field};

use super::list::{Links, List};
use super::{entry, pg, LruList, PageError, PageEvent, PageOp, PhysMem};

impl PhysMem {
    fn lru_list(&self, s: usize, which: LruList) -> List {
        List {
            s,
            links: Links::Lru,
            head: self.lru_head(s, which),
        }
    }

    /// Puts the allocated block at `addr` at the head of the inactive list: it may now
    /// be reclaimed when memory runs out. Emits `lru_add`.
    pub fn lru_add<S: Storage>(&self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<(), PageError> {
        let result = self.lru_add_inner(cx, addr);
        self.report(cx, PageOp::LruAdd { addr }, result)
    }

    fn lru_add_inner<S: Storage>(&self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<(), PageError> {
        let (s, idx, _) = self.allocated_head(cx.ram, addr)?;
        let flags = cx.word(self.entry_addr(s, idx) + entry::FLAGS)?;
        if flags & pg::LRU != 0 {
            return Err(PageError::AlreadyOnLru { addr });
        }
        self.lru_insert(cx, s, idx, flags, LruList::Inactive)?;
        cx.emit(
            self.name,
            EventKind::Page(PageEvent::LruAdd {
                page: addr,
                list: LruList::Inactive,
            }),
        );
        Ok(())
    }

    /// Touches the block at `addr` (an access): it moves to the head of the active list.
    /// Emits `touch`.
    pub fn touch<S: Storage>(&self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<(), PageError> {
        let result = self.touch_inner(cx, addr);
        self.report(cx, PageOp::Touch { addr }, result)
    }

    fn touch_inner<S: Storage>(&self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<(), PageError> {
        let (s, idx, _) = self.allocated_head(cx.ram, addr)?;
        let flags = cx.word(self.entry_addr(s, idx) + entry::FLAGS)?;
        if flags & pg::LRU == 0 {
            return Err(PageError::NotOnLru { addr });
        }
        let from = self.lru_remove(cx, s, idx, flags)?;
        let flags = cx.word(self.entry_addr(s, idx) + entry::FLAGS)?;
        self.lru_insert(cx, s, idx, flags, LruList::Active)?;
        cx.emit(
            self.name,
            EventKind::Page(PageEvent::Touch { page: addr, from }),
        );
        Ok(())
    }

    /// Links page `idx` (flags `flags`, not on any LRU list) at the head of `to`.
    fn lru_insert<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        s: usize,
        idx: u32,
        flags: u32,
        to: LruList,
    ) -> Result<(), AllocError> {
        let name = self.name;
        let e = self.entry_addr(s, idx);
        let list = self.lru_list(s, to);
        let first = self.read_link(cx.ram, list, list.head + 4)?;
        self.insert_before(cx, list, first, e + entry::LRU_PREV)?;
        let active = if to == LruList::Active { pg::ACTIVE } else { 0 };
        let flags = (flags & !pg::ACTIVE) | pg::LRU | active;
        cx.set_word(name, e + entry::FLAGS, Field::Flags, flags)?;
        let size_at = self.lru_size_at(s, to);
        let size = cx.word(size_at)?;
        cx.set_word(name, size_at, Field::Count, size.wrapping_add(1))?;
        Ok(())
    }

    /// Unlinks page `idx` from the LRU list its flags name and clears those flags;
    /// returns the list it was on.
    fn lru_remove<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        s: usize,
        idx: u32,
        flags: u32,
    ) -> Result<LruList, AllocError> {
        let name = self.name;
        let e = self.entry_addr(s, idx);
        let from = if flags & pg::ACTIVE != 0 {
            LruList::Active
        } else {
            LruList::Inactive
        };
        let list = self.lru_list(s, from);
        self.unlink(cx, list, e + entry::LRU_PREV)?;
        cx.set_word(
            name,
            e + entry::FLAGS,
            Field::Flags,
            flags & !(pg::LRU | pg::ACTIVE),
        )?;
        let size_at = self.lru_size_at(s, from);
        let size = cx.word(size_at)?;
        let less = size.checked_sub(1).ok_or(AllocError::Inconsistent {
            at: size_at,
            rule: "an LRU list's size is 0 but it holds a page",
        })?;
        cx.set_word(name, size_at, Field::Count, less)?;
        Ok(from)
    }

    /// Takes page `idx` off its LRU list because it is being freed; emits `lru_del`.
    pub(super) fn lru_del<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        s: usize,
        idx: u32,
        flags: u32,
    ) -> Result<(), AllocError> {
        let list = if flags & pg::ACTIVE != 0 {
            LruList::Active
        } else {
            LruList::Inactive
        };
        cx.emit(
            self.name,
            EventKind::Page(PageEvent::LruDel {
                page: self.page_pa(s, idx),
                list,
            }),
        );
        self.lru_remove(cx, s, idx, flags)?;
        Ok(())
    }

    /// Moves page `idx` from the list its flags name to the head of `to`; emits
    /// `lru_move`.
    fn lru_move<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        s: usize,
        idx: u32,
        to: LruList,
    ) -> Result<(), AllocError> {
        let e = self.entry_addr(s, idx);
        let flags = cx.word(e + entry::FLAGS)?;
        let from = if flags & pg::ACTIVE != 0 {
            LruList::Active
        } else {
            LruList::Inactive
        };
        cx.emit(
            self.name,
            EventKind::Page(PageEvent::LruMove {
                page: self.page_pa(s, idx),
                from,
                to,
            }),
        );
        self.lru_remove(cx, s, idx, flags)?;
        let flags = cx.word(e + entry::FLAGS)?;
        self.lru_insert(cx, s, idx, flags, to)
    }

    /// Reclaims one block from the LRU lists, the segments in order: the inactive tail
    /// is written back, unmapped and freed. An empty inactive list is refilled from the
    /// active tail; a block with more than one reference is still used elsewhere and
    /// goes to the active head instead. Returns whether a block was freed.
    pub(super) fn reclaim_one<S: Storage>(&self, cx: &mut Ctx<'_, S>) -> Result<bool, AllocError> {
        for s in 0..self.seg_count {
            // Each block can be aged once and rotated once, so this bounds the search.
            let mut rounds = 2 * self.segs[s].npages as u64 + 2;
            while rounds > 0 {
                rounds -= 1;
                let inactive = self.lru_list(s, LruList::Inactive);
                let tail = self.read_link(cx.ram, inactive, inactive.head)?;
                if tail == inactive.head {
                    let active = self.lru_list(s, LruList::Active);
                    let atail = self.read_link(cx.ram, active, active.head)?;
                    if atail == active.head {
                        break;
                    }
                    let idx = self.lru_index(active, atail)?;
                    self.lru_move(cx, s, idx, LruList::Inactive)?;
                    continue;
                }
                let idx = self.lru_index(inactive, tail)?;
                let e = self.entry_addr(s, idx);
                if cx.word(e + entry::REFS)? > 1 {
                    self.lru_move(cx, s, idx, LruList::Active)?;
                    continue;
                }
                self.evict(cx, s, idx)?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn lru_index(&self, list: List, node: Addr) -> Result<u32, AllocError> {
        self.node_index(list.s, Links::Lru, node)
            .ok_or(AllocError::Inconsistent {
                at: list.head,
                rule: "a list link points neither at its list head nor at a page entry",
            })
    }

    /// Writes back, unmaps and frees the block headed by page `idx`.
    fn evict<S: Storage>(&self, cx: &mut Ctx<'_, S>, s: usize, idx: u32) -> Result<(), AllocError> {
        let name = self.name;
        let e = self.entry_addr(s, idx);
        let (order, free) = self
            .head_state(cx.ram, s, idx)?
            .ok_or(AllocError::Inconsistent {
                at: e + entry::FLAGS,
                rule: "a page on an LRU list does not head a block",
            })?;
        if free {
            return Err(AllocError::Inconsistent {
                at: e + entry::FLAGS,
                rule: "a free block is on an LRU list",
            });
        }
        let pte = cx.word(e + entry::MAPPING)?;
        let page = self.page_pa(s, idx);
        cx.emit(
            name,
            EventKind::Page(PageEvent::Writeback { page, order, pte }),
        );
        if pte != 0 {
            // The reverse mapping: the page table loses the page before the buddy gets
            // it. The entry must map this very page, or the mapping word is corrupt.
            let mapped = cx.word(pte)?;
            if mapped & !0xfff != page {
                return Err(AllocError::Inconsistent {
                    at: e + entry::MAPPING,
                    rule: "a page's reverse mapping names an entry that does not map it",
                });
            }
            cx.set_word(name, pte, Field::Pte, 0)?;
            cx.set_word(name, e + entry::MAPPING, Field::Pte, 0)?;
        }
        self.release(cx, s, idx, order)
    }

    /// Reclaims up to `count` blocks now, as a low-memory daemon would; returns how many
    /// were freed.
    pub fn reclaim<S: Storage>(&self, cx: &mut Ctx<'_, S>, count: u32) -> Result<u32, PageError> {
        let mut freed = 0;
        while freed < count {
            match self.reclaim_one(cx) {
                Ok(true) => freed += 1,
                Ok(false) => break,
                Err(e) => return self.report(cx, PageOp::Reclaim, Err(e.into())),
            }
        }
        Ok(freed)
    }
}
