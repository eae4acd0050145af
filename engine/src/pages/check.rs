//! `check()`: every invariant of the control block, the page array, the free lists and
//! the LRU lists, read from RAM; the first violation is returned.

use crate::error::AllocError;
use crate::ram::{Ram, Storage};
use crate::trace::Field;

use super::list::{Links, List};
use super::{ctrl, entry, order_word, pg, segdesc, LruList, PhysMem, MAX_ORDER, NO_ORDER, ORDERS};

fn expect<S: Storage>(
    ram: &Ram<S>,
    at: u32,
    field: Field,
    expected: u32,
) -> Result<(), AllocError> {
    let found = ram.read_u32(at)?;
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

/// A segment's page array entries as one slice read from RAM.
struct Entries<'a> {
    bytes: &'a [u8],
    base: u32,
}

impl Entries<'_> {
    fn word(&self, idx: u32, off: u32) -> u32 {
        let at = idx as usize * entry::SIZE as usize + off as usize;
        self.bytes
            .get(at..at + 4)
            .and_then(|w| w.try_into().ok())
            .map_or(0, u32::from_le_bytes)
    }

    fn expect(&self, idx: u32, off: u32, field: Field, expected: u32) -> Result<(), AllocError> {
        let found = self.word(idx, off);
        if found == expected {
            Ok(())
        } else {
            Err(AllocError::Corrupted {
                at: self.base + idx * entry::SIZE + off,
                field,
                expected,
                found,
            })
        }
    }
}

impl PhysMem {
    /// Checks, from RAM:
    /// - the control block and each segment descriptor hold the boot configuration;
    /// - every entry has its page's physical address and segment id;
    /// - the blocks tile each segment: each page is either the head of exactly one block
    ///   (free or allocated, its order ≤ 9, aligned to its order, inside the segment) or
    ///   a blank page inside one, so every page is accounted for exactly once;
    /// - free heads have no references, LRU links or mapping; allocated heads have at
    ///   least one reference, no free-list links and a page count that fits their order;
    /// - no two free buddies of the same order are left unmerged;
    /// - each free list is well linked both ways, in address order, holds exactly the
    ///   free heads of its order, and its count says how many;
    /// - each LRU list is well linked, holds exactly the allocated heads whose flags name
    ///   it, and its size says how many.
    pub fn check<S: Storage>(&self, ram: &Ram<S>) -> Result<(), AllocError> {
        let c = self.ctrl;
        expect(ram, c + ctrl::MAGIC, Field::Magic, ctrl::MAGIC_VALUE)?;
        expect(ram, c + ctrl::PAGE_SIZE, Field::Size, self.page_size)?;
        expect(
            ram,
            c + ctrl::SEG_COUNT,
            Field::Count,
            self.seg_count as u32,
        )?;
        expect(ram, c + ctrl::ARRAY, Field::Base, self.array)?;
        expect(ram, c + ctrl::ENTRIES, Field::Count, self.entries)?;
        for s in 0..self.seg_count {
            self.check_segment(ram, s)?;
        }
        Ok(())
    }

    fn check_segment<S: Storage>(&self, ram: &Ram<S>, s: usize) -> Result<(), AllocError> {
        let seg = self.segs[s];
        expect(ram, seg.desc + segdesc::START, Field::Base, seg.start)?;
        expect(ram, seg.desc + segdesc::NPAGES, Field::Count, seg.npages)?;
        expect(
            ram,
            seg.desc + segdesc::PAGE_BASE,
            Field::Base,
            seg.page_base,
        )?;

        // The segment's entries are read once; the scan decodes them locally.
        let arr = Entries {
            bytes: ram.slice(seg.page_base, seg.npages * entry::SIZE)?,
            base: seg.page_base,
        };
        let base_pfn = seg.start >> self.shift;
        let mut free_heads = [0u32; ORDERS as usize];
        let mut lru_heads = [0u32; 2];
        let mut idx = 0u32;
        while idx < seg.npages {
            let e = self.entry_addr(s, idx);
            arr.expect(idx, entry::PHYS, Field::PhysAddr, self.page_pa(s, idx))?;
            let ow = arr.word(idx, entry::ORDER);
            if (ow >> 8) & 0xff != s as u32 {
                return Err(AllocError::Corrupted {
                    at: e + entry::ORDER,
                    field: Field::Order,
                    expected: (ow & !0xff00) | ((s as u32) << 8),
                    found: ow,
                });
            }
            let flags = arr.word(idx, entry::FLAGS);
            let free = flags & pg::FREE != 0;
            if free == (flags & pg::HEAD != 0) {
                return Err(AllocError::Inconsistent {
                    at: e + entry::FLAGS,
                    rule: "a page that no block covers is not the head of a block",
                });
            }
            let order = ow & 0xff;
            if order > MAX_ORDER {
                return Err(AllocError::Inconsistent {
                    at: e + entry::ORDER,
                    rule: "a block head's order is above 9",
                });
            }
            if (base_pfn + idx) & ((1 << order) - 1) != 0 {
                return Err(AllocError::Inconsistent {
                    at: e + entry::ORDER,
                    rule: "a block is not aligned to its order",
                });
            }
            if idx as u64 + (1u64 << order) > seg.npages as u64 {
                return Err(AllocError::Inconsistent {
                    at: e + entry::ORDER,
                    rule: "a block runs past the end of its segment",
                });
            }
            let refs = arr.word(idx, entry::REFS);
            if free {
                arr.expect(idx, entry::FLAGS, Field::Flags, pg::FREE)?;
                arr.expect(idx, entry::ORDER, Field::Order, order_word(order, s, 0))?;
                arr.expect(idx, entry::REFS, Field::RefCount, 0)?;
                arr.expect(idx, entry::LRU_PREV, Field::Prev, 0)?;
                arr.expect(idx, entry::LRU_NEXT, Field::Next, 0)?;
                arr.expect(idx, entry::MAPPING, Field::Pte, 0)?;
                if order < MAX_ORDER {
                    let buddy = (base_pfn + idx) ^ (1 << order);
                    if let Some(bi) = buddy.checked_sub(base_pfn).filter(|&b| b < seg.npages) {
                        let bflags = arr.word(bi, entry::FLAGS);
                        let bow = arr.word(bi, entry::ORDER);
                        if bflags == pg::FREE && bow == order_word(order, s, 0) {
                            return Err(AllocError::Inconsistent {
                                at: e,
                                rule: "two free buddies of the same order were left unmerged",
                            });
                        }
                    }
                }
                free_heads[order as usize] += 1;
            } else {
                if refs == 0 {
                    return Err(AllocError::Corrupted {
                        at: e + entry::REFS,
                        field: Field::RefCount,
                        expected: 1,
                        found: 0,
                    });
                }
                let npages = ow >> 16;
                let fits = npages >= 1
                    && npages <= 1 << order
                    && (order == 0 || npages > 1 << (order - 1));
                if !fits {
                    return Err(AllocError::Inconsistent {
                        at: e + entry::ORDER,
                        rule: "an allocated block's page count does not fit its order",
                    });
                }
                arr.expect(idx, entry::PREV, Field::Prev, 0)?;
                arr.expect(idx, entry::NEXT, Field::Next, 0)?;
                let known = pg::HEAD | pg::LRU | pg::ACTIVE | pg::TABLE | pg::ANON;
                if flags & pg::MASK & !known != 0
                    || (flags & pg::ACTIVE != 0 && flags & pg::LRU == 0)
                {
                    return Err(AllocError::Inconsistent {
                        at: e + entry::FLAGS,
                        rule: "an allocated head has flags that do not go together",
                    });
                }
                if flags & pg::LRU != 0 {
                    let list = if flags & pg::ACTIVE != 0 {
                        LruList::Active
                    } else {
                        LruList::Inactive
                    };
                    lru_heads[list.index() as usize] += 1;
                } else {
                    arr.expect(idx, entry::LRU_PREV, Field::Prev, 0)?;
                    arr.expect(idx, entry::LRU_NEXT, Field::Next, 0)?;
                }
            }
            // Every other page of the block is blank: compared as bytes, field by field
            // only to report a difference.
            let mut blank = [0u8; entry::SIZE as usize];
            let no_order = order_word(NO_ORDER, s, 0).to_le_bytes();
            blank[entry::ORDER as usize..entry::ORDER as usize + 4].copy_from_slice(&no_order);
            for i in idx + 1..idx + (1u32 << order) {
                let pa = self.page_pa(s, i).to_le_bytes();
                blank[entry::PHYS as usize..entry::PHYS as usize + 4].copy_from_slice(&pa);
                let at = i as usize * entry::SIZE as usize;
                if arr.bytes.get(at..at + entry::SIZE as usize) == Some(&blank[..]) {
                    continue;
                }
                let fields = [
                    (entry::PREV, Field::Prev, 0),
                    (entry::NEXT, Field::Next, 0),
                    (entry::LRU_PREV, Field::Prev, 0),
                    (entry::LRU_NEXT, Field::Next, 0),
                    (entry::PHYS, Field::PhysAddr, self.page_pa(s, i)),
                    (entry::REFS, Field::RefCount, 0),
                    (entry::FLAGS, Field::Flags, 0),
                    (entry::ORDER, Field::Order, order_word(NO_ORDER, s, 0)),
                    (entry::MAPPING, Field::Pte, 0),
                ];
                for (off, field, expected) in fields {
                    arr.expect(i, off, field, expected)?;
                }
            }
            idx += 1 << order;
        }

        for order in 0..ORDERS {
            let list = self.free_list(s, order);
            let mut last: Option<u32> = None;
            let n = self.walk_list(ram, list, &mut |i| {
                let e = self.entry_addr(s, i);
                expect(ram, e + entry::FLAGS, Field::Flags, pg::FREE)?;
                expect(ram, e + entry::ORDER, Field::Order, order_word(order, s, 0))?;
                if last.is_some_and(|l| l >= i) {
                    return Err(AllocError::Inconsistent {
                        at: e,
                        rule: "a free list is not in address order",
                    });
                }
                last = Some(i);
                Ok(())
            })?;
            expect(ram, list.head + segdesc::FREE_COUNT, Field::Count, n)?;
            if n != free_heads[order as usize] {
                return Err(AllocError::Inconsistent {
                    at: list.head,
                    rule: "a free block is missing from the list of its order",
                });
            }
        }

        for which in [LruList::Inactive, LruList::Active] {
            let list = List {
                s,
                links: Links::Lru,
                head: self.lru_head(s, which),
            };
            let want = pg::LRU
                | if which == LruList::Active {
                    pg::ACTIVE
                } else {
                    0
                };
            let n = self.walk_list(ram, list, &mut |i| {
                let e = self.entry_addr(s, i);
                let flags = ram.read_u32(e + entry::FLAGS)?;
                if flags & (pg::HEAD | pg::FREE | pg::LRU | pg::ACTIVE) != pg::HEAD | want {
                    return Err(AllocError::Inconsistent {
                        at: e + entry::FLAGS,
                        rule: "an LRU list holds a page whose flags name another list",
                    });
                }
                Ok(())
            })?;
            expect(ram, self.lru_size_at(s, which), Field::Count, n)?;
            if n != lru_heads[which.index() as usize] {
                return Err(AllocError::Inconsistent {
                    at: list.head,
                    rule: "a page flagged for an LRU list is not on it",
                });
            }
        }
        Ok(())
    }
}
