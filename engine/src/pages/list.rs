//! `LOS_DL_LIST` in the simulated RAM: circular doubly linked lists whose head lives in
//! a segment descriptor and whose nodes are embedded in page array entries. Every link
//! word is the address of the node (or head) it points at; `prev` is at `+0`, `next` at
//! `+4` for heads and nodes alike.

use crate::allocator::Ctx;
use crate::error::AllocError;
use crate::ram::{Addr, Ram, Storage};
use crate::trace::Field;

use super::{entry, PhysMem};

/// Which node of an entry a list threads through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Links {
    /// The free-list node (`entry::PREV`).
    Free,
    /// The LRU node (`entry::LRU_PREV`).
    Lru,
}

impl Links {
    pub(super) fn offset(self) -> u32 {
        match self {
            Links::Free => entry::PREV,
            Links::Lru => entry::LRU_PREV,
        }
    }
}

/// One list: its head and which node it threads through, in segment `s`.
#[derive(Clone, Copy, Debug)]
pub(super) struct List {
    pub s: usize,
    pub links: Links,
    pub head: Addr,
}

impl PhysMem {
    /// The index of the entry whose `links` node is at `node`, if it is one of segment
    /// `s`'s entries.
    pub(super) fn node_index(&self, s: usize, links: Links, node: Addr) -> Option<u32> {
        let seg = self.segs.get(s)?;
        let off = node
            .checked_sub(seg.page_base)?
            .checked_sub(links.offset())?;
        let idx = off / entry::SIZE;
        (off % entry::SIZE == 0 && idx < seg.npages).then_some(idx)
    }

    /// Reads the link word at `at` and checks that it points at the list's head or at a
    /// node of its segment.
    pub(super) fn read_link<S: Storage>(
        &self,
        ram: &Ram<S>,
        list: List,
        at: Addr,
    ) -> Result<Addr, AllocError> {
        let v = ram.read_u32(at)?;
        if v == list.head || self.node_index(list.s, list.links, v).is_some() {
            Ok(v)
        } else {
            Err(AllocError::Inconsistent {
                at,
                rule: "a list link points neither at its list head nor at a page entry",
            })
        }
    }

    /// The field name of a link word: the head's `next` is the list's first element
    /// (`head`), its `prev` the last (`tail`).
    fn link_field(list: List, node: Addr, next: bool) -> Field {
        match (node == list.head, next) {
            (true, true) => Field::Head,
            (true, false) => Field::Tail,
            (false, true) => Field::Next,
            (false, false) => Field::Prev,
        }
    }

    /// Links `new` in front of `next` (a node of the list, or its head to append).
    pub(super) fn insert_before<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        list: List,
        next: Addr,
        new: Addr,
    ) -> Result<(), AllocError> {
        let prev = self.read_link(cx.ram, list, next)?;
        let name = self.name;
        cx.set_word(name, new, Field::Prev, prev)?;
        cx.set_word(name, new + 4, Field::Next, next)?;
        cx.set_word(name, prev + 4, Self::link_field(list, prev, true), new)?;
        cx.set_word(name, next, Self::link_field(list, next, false), new)?;
        Ok(())
    }

    /// Takes `node` off the list after checking that its neighbours point back at it;
    /// its own links become 0 (`LOS_ListDelete`).
    pub(super) fn unlink<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        list: List,
        node: Addr,
    ) -> Result<(), AllocError> {
        let prev = self.read_link(cx.ram, list, node)?;
        let next = self.read_link(cx.ram, list, node + 4)?;
        let back = cx.word(prev + 4)?;
        if back != node {
            return Err(AllocError::Corrupted {
                at: prev + 4,
                field: Self::link_field(list, prev, true),
                expected: node,
                found: back,
            });
        }
        let back = cx.word(next)?;
        if back != node {
            return Err(AllocError::Corrupted {
                at: next,
                field: Self::link_field(list, next, false),
                expected: node,
                found: back,
            });
        }
        let name = self.name;
        cx.set_word(name, prev + 4, Self::link_field(list, prev, true), next)?;
        cx.set_word(name, next, Self::link_field(list, next, false), prev)?;
        cx.set_word(name, node, Field::Prev, 0)?;
        cx.set_word(name, node + 4, Field::Next, 0)?;
        Ok(())
    }

    /// Walks the list from the head, checking every link both ways, and calls `visit`
    /// with each node's entry index in order. At most `npages` nodes, so a corrupted
    /// cycle ends in an error rather than a hang.
    pub(super) fn walk_list<S: Storage>(
        &self,
        ram: &Ram<S>,
        list: List,
        visit: &mut dyn FnMut(u32) -> Result<(), AllocError>,
    ) -> Result<u32, AllocError> {
        let npages = self.segs.get(list.s).map_or(0, |s| s.npages);
        let mut prev = list.head;
        let mut node = self.read_link(ram, list, list.head + 4)?;
        let mut n = 0u32;
        while node != list.head {
            if n >= npages {
                return Err(AllocError::Inconsistent {
                    at: list.head,
                    rule: "a list is longer than its segment has pages (a cycle)",
                });
            }
            let back = ram.read_u32(node)?;
            if back != prev {
                return Err(AllocError::Corrupted {
                    at: node,
                    field: Field::Prev,
                    expected: prev,
                    found: back,
                });
            }
            let idx =
                self.node_index(list.s, list.links, node)
                    .ok_or(AllocError::Inconsistent {
                        at: prev,
                        rule: "a list link points neither at its list head nor at a page entry",
                    })?;
            visit(idx)?;
            n += 1;
            prev = node;
            node = self.read_link(ram, list, node + 4)?;
        }
        let tail = ram.read_u32(list.head)?;
        if tail != prev {
            return Err(AllocError::Corrupted {
                at: list.head,
                field: Field::Tail,
                expected: prev,
                found: tail,
            });
        }
        Ok(n)
    }
}
