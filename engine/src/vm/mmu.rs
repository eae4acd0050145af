//! Page tables: walks, map and unmap (`LOS_ArchMmuQuery`, `LOS_ArchMmuMap`,
//! `LOS_ArchMmuUnmap`), the access path with demand paging (`OsVmPageFaultHandler`),
//! the heap break (`LOS_DoBrk`) and `LOS_VMalloc`.

use crate::allocator::Ctx;
use crate::error::AllocError;
use crate::name::Name;
use crate::pages::{pg, PhysMem};
use crate::ram::{Addr, Storage};
use crate::trace::{EventKind, Field};

use super::regions::page_round;
use super::{
    l1, pte, region, rf, space, SpaceId, SpaceInfo, Vm, VmError, VmEvent, VmOp, L2_ENTRIES,
    L2_TABLE_SIZE, SECTION_SHIFT, SECTION_SIZE, VM_PAGE_SHIFT, VM_PAGE_SIZE,
};

/// Where a walk ended.
#[derive(Clone, Copy, Debug)]
pub(super) enum Walk {
    /// The L1 entry is a fault: no L2 table.
    NoTable,
    /// A 1 MiB section maps the address.
    Section { paddr: Addr },
    /// The L2 entry holds `pte` (0 when nothing is mapped).
    Page { pte: u32 },
}

/// The L2 entry bits for a region's flags.
pub(super) fn pte_bits(flags: u32) -> u32 {
    let mut bits = pte::SMALL | pte::AP0;
    if flags & rf::USER != 0 {
        bits |= pte::USER;
    }
    if flags & rf::WRITE == 0 {
        bits |= pte::RO;
    }
    if flags & rf::EXEC == 0 {
        bits |= pte::XN;
    }
    bits
}

impl Vm {
    /// The L1 entry number and address for `vaddr`, which must be inside the space.
    fn l1_slot(&self, sp: &SpaceInfo, vaddr: Addr) -> Result<(u32, Addr), VmError> {
        if !sp.holds(vaddr, 1) {
            return Err(VmError::OutsideSpace {
                start: vaddr,
                size: 1,
            });
        }
        let index = (vaddr - sp.base) >> SECTION_SHIFT;
        if index >= sp.l1_entries {
            return Err(AllocError::Inconsistent {
                at: sp.desc + space::L1_ENTRIES,
                rule: "a space's L1 table has fewer entries than the space has sections",
            }
            .into());
        }
        Ok((index, sp.ttb.wrapping_add(4 * index)))
    }

    /// Walks the tables for `vaddr`; with `emit`, each step is an `l1` / `l2` event.
    pub(super) fn walk<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        sp: &SpaceInfo,
        vaddr: Addr,
        emit: bool,
    ) -> Result<Walk, VmError> {
        let (index, at) = self.l1_slot(sp, vaddr)?;
        let entry = cx.word(at)?;
        if emit {
            cx.emit(
                self.name,
                EventKind::Vm(VmEvent::L1 {
                    vaddr,
                    index,
                    at,
                    entry,
                }),
            );
        }
        match entry & l1::TYPE_MASK {
            l1::FAULT => Ok(Walk::NoTable),
            l1::SECTION => Ok(Walk::Section {
                paddr: (entry & l1::SECTION_BASE) | (vaddr & !l1::SECTION_BASE),
            }),
            l1::COARSE => {
                let table = entry & l1::COARSE_BASE;
                let index = (vaddr >> VM_PAGE_SHIFT) & (L2_ENTRIES - 1);
                let pte_at = table.wrapping_add(4 * index);
                let pte = cx.word(pte_at)?;
                if emit {
                    cx.emit(
                        self.name,
                        EventKind::Vm(VmEvent::L2 {
                            index,
                            at: pte_at,
                            entry: pte,
                        }),
                    );
                }
                Ok(Walk::Page { pte })
            }
            _ => Err(AllocError::Inconsistent {
                at,
                rule: "an L1 entry has the reserved type 0b11",
            }
            .into()),
        }
    }

    /// An L1 entry's table must be an allocated page-table block of the buddy, so that a
    /// corrupted entry cannot make the VM write anywhere else.
    fn expect_table<S: Storage>(
        &self,
        cx: &Ctx<'_, S>,
        pm: &PhysMem,
        table: Addr,
        l1_at: Addr,
    ) -> Result<(), VmError> {
        match pm.block_info(cx.ram, table)? {
            Some(b) if !b.free && b.addr == table && b.flags & pg::TABLE != 0 => Ok(()),
            _ => Err(AllocError::Inconsistent {
                at: l1_at,
                rule: "an L1 entry points at a block that is not a page table",
            }
            .into()),
        }
    }

    /// The space's L1 table must be an allocated table block large enough, so that a
    /// corrupted `TTB` word cannot make the VM write anywhere else.
    pub(super) fn expect_ttb<S: Storage>(
        &self,
        cx: &Ctx<'_, S>,
        pm: &PhysMem,
        sp: &SpaceInfo,
    ) -> Result<(), VmError> {
        let ok = match pm.block_info(cx.ram, sp.ttb)? {
            Some(b) => {
                !b.free
                    && b.addr == sp.ttb
                    && b.flags & pg::TABLE != 0
                    && (pm.page_size() as u64) << b.order >= 4 * sp.l1_entries as u64
            }
            None => false,
        };
        if ok {
            Ok(())
        } else {
            Err(AllocError::Inconsistent {
                at: sp.desc + space::TTB,
                rule: "a space's L1 table is not an allocated table block",
            }
            .into())
        }
    }

    /// Maps the 4 KiB page at `vaddr` to the frame `paddr` in space `id`
    /// (`LOS_ArchMmuMap`), installing an L2 table if the L1 entry has none. A frame in
    /// the buddy's memory must be allocated; a block head must not be mapped yet, and
    /// gains a reference (unless `take_ref` is false: the caller's allocation becomes the
    /// mapping's) and this entry as its reverse mapping. (Pages inside a block are
    /// mapped without either.) Returns the entry's address.
    #[allow(clippy::too_many_arguments)]
    fn map_page<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        pm: &PhysMem,
        id: SpaceId,
        sp: &SpaceInfo,
        vaddr: Addr,
        paddr: Addr,
        flags: u32,
        take_ref: bool,
    ) -> Result<Addr, VmError> {
        if vaddr & (VM_PAGE_SIZE - 1) != 0 {
            return Err(VmError::Misaligned { addr: vaddr });
        }
        if paddr & (VM_PAGE_SIZE - 1) != 0 {
            return Err(VmError::Misaligned { addr: paddr });
        }
        // First everything that can refuse, then the changes.
        self.expect_ttb(cx, pm, sp)?;
        let name = self.name;
        let (index, l1_at) = self.l1_slot(sp, vaddr)?;
        let entry = cx.word(l1_at)?;
        let table = match entry & l1::TYPE_MASK {
            l1::FAULT => None,
            l1::COARSE => {
                let table = entry & l1::COARSE_BASE;
                self.expect_table(cx, pm, table, l1_at)?;
                let old = cx.word(table + 4 * ((vaddr >> VM_PAGE_SHIFT) & (L2_ENTRIES - 1)))?;
                if old & pte::SMALL != 0 {
                    return Err(VmError::AlreadyMapped {
                        vaddr,
                        paddr: old & pte::FRAME,
                    });
                }
                Some(table)
            }
            l1::SECTION => {
                return Err(VmError::AlreadyMapped {
                    vaddr,
                    paddr: (entry & l1::SECTION_BASE) | (vaddr & !l1::SECTION_BASE),
                })
            }
            _ => {
                return Err(AllocError::Inconsistent {
                    at: l1_at,
                    rule: "an L1 entry has the reserved type 0b11",
                }
                .into())
            }
        };
        let block = if pm.in_segments(paddr) {
            match pm.block_info(cx.ram, paddr)? {
                Some(b) if !b.free => Some(b),
                _ => return Err(VmError::FrameNotAllocated { paddr }),
            }
        } else {
            None
        };
        if block.is_some_and(|b| b.flags & pg::TABLE != 0) {
            return Err(VmError::FrameIsTable { paddr });
        }
        if let Some(b) = block.filter(|b| b.addr == paddr && b.mapping != 0) {
            return Err(VmError::FrameMapped {
                paddr,
                pte: b.mapping,
            });
        }
        let table = match table {
            Some(table) => table,
            None => {
                let table = pm.alloc_contiguous(cx, self.table_npages)?;
                pm.mark(cx, table, pg::TABLE)?;
                cx.fill(name, table, L2_TABLE_SIZE, 0, Field::Pte)?;
                cx.set_word(name, l1_at, Field::Pte, table | l1::COARSE)?;
                cx.emit(
                    name,
                    EventKind::Vm(VmEvent::Table {
                        space: id.0 as u32,
                        index,
                        table,
                    }),
                );
                table
            }
        };
        let pte_at = table + 4 * ((vaddr >> VM_PAGE_SHIFT) & (L2_ENTRIES - 1));
        if block.is_some_and(|b| b.addr == paddr) {
            if take_ref {
                pm.get_page(cx, paddr)?;
            }
            pm.set_mapping(cx, paddr, pte_at)?;
        }
        cx.set_word(name, pte_at, Field::Pte, paddr | pte_bits(flags))?;
        cx.emit(
            name,
            EventKind::Vm(VmEvent::Map {
                space: id.0 as u32,
                vaddr,
                paddr,
            }),
        );
        Ok(pte_at)
    }

    /// Clears the L2 entry at `pte_at` (which maps `vaddr` with `entry`) and drops the
    /// frame's reference: a frame only the mapping held goes back to the buddy.
    #[allow(clippy::too_many_arguments)]
    fn unmap_page<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        pm: &PhysMem,
        id: SpaceId,
        vaddr: Addr,
        pte_at: Addr,
        entry: u32,
    ) -> Result<(), VmError> {
        let frame = entry & pte::FRAME;
        cx.set_word(self.name, pte_at, Field::Pte, 0)?;
        if pm.in_segments(frame) {
            if let Some(b) = pm.block_info(cx.ram, frame)? {
                if !b.free && b.addr == frame {
                    if b.mapping == pte_at {
                        pm.set_mapping(cx, frame, 0)?;
                    }
                    pm.put_page(cx, frame)?;
                }
            }
        }
        cx.emit(
            self.name,
            EventKind::Vm(VmEvent::Unmap {
                space: id.0 as u32,
                vaddr,
                paddr: frame,
            }),
        );
        Ok(())
    }

    /// Frees the L2 table of L1 entry `index` (at `l1_at`, holding `entry`).
    pub(super) fn free_table<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        pm: &PhysMem,
        id: SpaceId,
        index: u32,
        l1_at: Addr,
        entry: u32,
    ) -> Result<(), VmError> {
        let table = entry & l1::COARSE_BASE;
        self.expect_table(cx, pm, table, l1_at)?;
        cx.set_word(self.name, l1_at, Field::Pte, 0)?;
        pm.free_contiguous(cx, table, self.table_npages)?;
        cx.emit(
            self.name,
            EventKind::Vm(VmEvent::TableFree {
                space: id.0 as u32,
                index,
                table,
            }),
        );
        Ok(())
    }

    /// Unmaps every mapped page of `[start, start + size)`; L2 tables left empty are
    /// freed, and sections wholly inside the range are cleared.
    pub(super) fn unmap_range<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        pm: &PhysMem,
        sp: &SpaceInfo,
        start: Addr,
        size: u32,
    ) -> Result<(), VmError> {
        self.expect_ttb(cx, pm, sp)?;
        let end = start as u64 + size as u64;
        let mut va = start as u64;
        while va < end {
            let vaddr = va as Addr;
            let section = va & !(SECTION_SIZE as u64 - 1);
            let stop = end.min(section + SECTION_SIZE as u64);
            let (index, l1_at) = self.l1_slot(sp, vaddr)?;
            let entry = cx.word(l1_at)?;
            match entry & l1::TYPE_MASK {
                l1::FAULT => {}
                l1::SECTION => {
                    if va == section && stop == section + SECTION_SIZE as u64 {
                        cx.set_word(self.name, l1_at, Field::Pte, 0)?;
                    }
                }
                l1::COARSE => {
                    let table = entry & l1::COARSE_BASE;
                    self.expect_table(cx, pm, table, l1_at)?;
                    let mut v = va;
                    while v < stop {
                        let i = ((v >> VM_PAGE_SHIFT) as u32) & (L2_ENTRIES - 1);
                        let pte_at = table + 4 * i;
                        let e = cx.word(pte_at)?;
                        if e & pte::SMALL != 0 {
                            self.unmap_page(cx, pm, sp.id, v as Addr, pte_at, e)?;
                        }
                        v += VM_PAGE_SIZE as u64;
                    }
                    let empty = cx.ram.slice(table, L2_TABLE_SIZE)?.iter().all(|&b| b == 0);
                    if empty {
                        self.free_table(cx, pm, sp.id, index, l1_at, entry)?;
                    }
                }
                _ => {
                    return Err(AllocError::Inconsistent {
                        at: l1_at,
                        rule: "an L1 entry has the reserved type 0b11",
                    }
                    .into())
                }
            }
            va = stop;
        }
        Ok(())
    }

    /// Maps `vaddr` to `paddr` in space `id` with the permissions of the region holding
    /// `vaddr`. Emits `map`.
    pub fn map<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        pm: &PhysMem,
        id: SpaceId,
        vaddr: Addr,
        paddr: Addr,
    ) -> Result<(), VmError> {
        let result = self.space(cx.ram, id).and_then(|sp| {
            let r = self
                .find_region(cx.ram, &sp, vaddr)?
                .ok_or(VmError::SegFault { vaddr })?;
            self.map_page(cx, pm, id, &sp, vaddr, paddr, r.flags, true)
                .map(|_| ())
        });
        let op = VmOp::Map {
            space: id.0 as u32,
            vaddr,
            paddr,
        };
        self.report(cx, op, result)
    }

    /// Unmaps the page at `vaddr` in space `id` (`LOS_ArchMmuUnmap`); an L2 table left
    /// empty is freed. Emits `unmap`.
    pub fn unmap<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        pm: &PhysMem,
        id: SpaceId,
        vaddr: Addr,
    ) -> Result<(), VmError> {
        let result = self.unmap_inner(cx, pm, id, vaddr);
        let op = VmOp::Unmap {
            space: id.0 as u32,
            vaddr,
        };
        self.report(cx, op, result)
    }

    fn unmap_inner<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        pm: &PhysMem,
        id: SpaceId,
        vaddr: Addr,
    ) -> Result<(), VmError> {
        let sp = self.space(cx.ram, id)?;
        let page = vaddr & !(VM_PAGE_SIZE - 1);
        match self.walk(cx, &sp, page, false)? {
            Walk::Page { pte, .. } if pte & pte::SMALL != 0 => {
                self.unmap_range(cx, pm, &sp, page, VM_PAGE_SIZE)
            }
            _ => Err(VmError::NotMapped { vaddr }),
        }
    }

    /// Translates `vaddr` in space `id` by walking its tables (`LOS_ArchMmuQuery`).
    /// Emits `l1`, `l2` and `translate`.
    pub fn translate<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        id: SpaceId,
        vaddr: Addr,
    ) -> Result<Addr, VmError> {
        let result = self.space(cx.ram, id).and_then(|sp| {
            let paddr = match self.walk(cx, &sp, vaddr, true)? {
                Walk::Section { paddr } => paddr,
                Walk::Page { pte, .. } if pte & pte::SMALL != 0 => {
                    (pte & pte::FRAME) | (vaddr & (VM_PAGE_SIZE - 1))
                }
                _ => return Err(VmError::NotMapped { vaddr }),
            };
            cx.emit(
                self.name,
                EventKind::Vm(VmEvent::Translate { vaddr, paddr }),
            );
            Ok(paddr)
        });
        let op = VmOp::Translate {
            space: id.0 as u32,
            vaddr,
        };
        self.report(cx, op, result)
    }

    /// One load (`write` false) or store at `vaddr` by the current process or the
    /// kernel: finds the space (`LOS_SpaceGet`) and the region, checks its permission,
    /// walks the tables, and on a miss in a heap region maps a fresh zeroed page (demand
    /// paging) that goes on the LRU list. Touches LRU pages it hits. Returns the
    /// physical address. Emits the walk, any `page_fault`, then `access`; outside every
    /// region the `fault` event carries `SegFault`.
    pub fn access<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        pm: &PhysMem,
        vaddr: Addr,
        write: bool,
    ) -> Result<Addr, VmError> {
        let result = self.access_inner(cx, pm, vaddr, write);
        self.report(cx, VmOp::Access { vaddr, write }, result)
    }

    fn access_inner<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        pm: &PhysMem,
        vaddr: Addr,
        write: bool,
    ) -> Result<Addr, VmError> {
        let id = self
            .space_of(cx.ram, vaddr)?
            .ok_or(VmError::SegFault { vaddr })?;
        let sp = self.space(cx.ram, id)?;
        let r = self
            .find_region(cx.ram, &sp, vaddr)?
            .ok_or(VmError::SegFault { vaddr })?;
        let need = if write { rf::WRITE } else { rf::READ };
        if r.flags & need == 0 {
            return Err(VmError::Protection { vaddr, write });
        }
        let offset = vaddr & (VM_PAGE_SIZE - 1);
        let paddr = match self.walk(cx, &sp, vaddr, true)? {
            Walk::Section { paddr } => paddr,
            Walk::Page { pte, .. } if pte & pte::SMALL != 0 => {
                let frame = pte & pte::FRAME;
                if let Some(b) = pm.block_info(cx.ram, frame)? {
                    if !b.free && b.addr == frame && b.lru.is_some() {
                        pm.touch(cx, frame)?;
                    }
                }
                frame | offset
            }
            _ => {
                if r.flags & rf::HEAP == 0 {
                    return Err(VmError::NotMapped { vaddr });
                }
                cx.emit(
                    self.name,
                    EventKind::Vm(VmEvent::PageFault {
                        vaddr,
                        region: r.start,
                    }),
                );
                let frame = self.fresh_page(cx, pm)?;
                let page = vaddr - offset;
                if let Err(e) = self.map_page(cx, pm, id, &sp, page, frame, r.flags, false) {
                    // Give the page back; the mapping's error is the one to report.
                    let _ = pm.free_contiguous(cx, frame, self.page_npages);
                    return Err(e);
                }
                pm.lru_add(cx, frame)?;
                frame | offset
            }
        };
        cx.emit(
            self.name,
            EventKind::Vm(VmEvent::Access {
                vaddr,
                paddr,
                write,
            }),
        );
        Ok(paddr)
    }

    /// A 4 KiB block from the buddy, zeroed and marked anonymous.
    fn fresh_page<S: Storage>(&self, cx: &mut Ctx<'_, S>, pm: &PhysMem) -> Result<Addr, VmError> {
        let frame = pm.alloc_contiguous(cx, self.page_npages)?;
        pm.mark(cx, frame, pg::ANON)?;
        cx.fill(self.name, frame, VM_PAGE_SIZE, 0, Field::Data)?;
        Ok(frame)
    }

    /// Moves the heap break of user space `id` to `addr` (`LOS_DoBrk`); 0 asks for the
    /// current break. The heap region (`heap`, `rw-uh`) is created by the first growth,
    /// grows and shrinks in whole pages, never reaches the map base, and shrinking
    /// unmaps the pages past its new end. Returns the new break. Emits `brk`.
    pub fn brk<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        pm: &PhysMem,
        id: SpaceId,
        addr: Addr,
    ) -> Result<Addr, VmError> {
        let result = self.brk_inner(cx, pm, id, addr);
        let op = VmOp::Brk {
            space: id.0 as u32,
            addr,
        };
        self.report(cx, op, result)
    }

    /// `sbrk`: moves the break by `increment` bytes and returns the old break.
    pub fn sbrk<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        pm: &PhysMem,
        id: SpaceId,
        increment: i32,
    ) -> Result<Addr, VmError> {
        let old = match self.user_space(cx.ram, id) {
            Ok(sp) => sp.heap_now,
            Err(e) => {
                let op = VmOp::Brk {
                    space: id.0 as u32,
                    addr: 0,
                };
                return self.report(cx, op, Err(e));
            }
        };
        let new = old.wrapping_add_signed(increment);
        let wrapped = old.checked_add_signed(increment).is_none();
        if wrapped || new == 0 {
            let sp = self.user_space(cx.ram, id)?;
            let error = VmError::BrkOutOfRange {
                addr: new,
                base: sp.heap_base,
                limit: sp.map_base,
            };
            let op = VmOp::Brk {
                space: id.0 as u32,
                addr: new,
            };
            return self.report(cx, op, Err(error));
        }
        self.brk(cx, pm, id, new).map(|_| old)
    }

    fn brk_inner<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        pm: &PhysMem,
        id: SpaceId,
        addr: Addr,
    ) -> Result<Addr, VmError> {
        let sp = self.user_space(cx.ram, id)?;
        let name = self.name;
        let old = sp.heap_now;
        let space_no = id.0 as u32;
        if addr == 0 {
            cx.emit(
                name,
                EventKind::Vm(VmEvent::Brk {
                    space: space_no,
                    old,
                    new: old,
                }),
            );
            return Ok(old);
        }
        let out = VmError::BrkOutOfRange {
            addr,
            base: sp.heap_base,
            limit: sp.map_base,
        };
        if addr < sp.heap_base {
            return Err(out);
        }
        let wanted = addr - sp.heap_base;
        let new_size = if wanted == 0 {
            0
        } else {
            page_round(wanted).map_err(|_| out)?
        };
        if sp.heap_base as u64 + new_size as u64 > sp.map_base as u64 {
            return Err(out);
        }
        let heap = if sp.heap == 0 {
            None
        } else if self.is_record(sp.heap) {
            Some(self.read_region(cx.ram, sp.heap)?)
        } else {
            return Err(AllocError::Inconsistent {
                at: sp.desc + space::HEAP,
                rule: "a space's heap does not point at a region record",
            }
            .into());
        };
        let old_size = heap.map_or(0, |h| h.size);
        if new_size > old_size {
            match heap {
                None => {
                    self.region_insert(
                        cx,
                        id,
                        sp.heap_base,
                        new_size,
                        rf::READ | rf::WRITE | rf::USER | rf::HEAP,
                        Name::lit("heap"),
                    )?;
                    let sp = self.space(cx.ram, id)?;
                    let rec = self
                        .find_region(cx.ram, &sp, sp.heap_base)?
                        .map_or(0, |r| r.rec);
                    cx.set_word(name, sp.desc + space::HEAP, Field::Pool, rec)?;
                }
                Some(h) => {
                    let grow_start = h.end();
                    let new_end = h.start as u64 + new_size as u64;
                    let index = self.index(cx.ram, &sp)?;
                    if let Some(o) = index.as_slice().iter().find(|o| {
                        o.rec != h.rec && (o.start as u64) < new_end && grow_start < o.end()
                    }) {
                        return Err(VmError::Overlap {
                            start: grow_start as Addr,
                            size: new_size - old_size,
                            other: o.start,
                        });
                    }
                    self.resize_region(cx, id, h.rec, h.start, new_size)?;
                }
            }
        } else if new_size < old_size {
            if let Some(h) = heap {
                let cut = h
                    .start
                    .checked_add(new_size)
                    .ok_or(AllocError::Inconsistent {
                        at: h.rec,
                        rule: "the heap region runs past the end of the address space",
                    })?;
                self.unmap_range(cx, pm, &sp, cut, old_size - new_size)?;
                if new_size == 0 {
                    self.region_remove(cx, pm, id, h.start)?;
                } else {
                    self.resize_region(cx, id, h.rec, h.start, new_size)?;
                }
            }
        }
        cx.set_word(name, sp.desc + space::HEAP_NOW, Field::Top, addr)?;
        cx.emit(
            name,
            EventKind::Vm(VmEvent::Brk {
                space: space_no,
                old,
                new: addr,
            }),
        );
        Ok(addr)
    }

    fn resize_region<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        id: SpaceId,
        rec: Addr,
        start: Addr,
        size: u32,
    ) -> Result<(), VmError> {
        cx.set_word(self.name, rec + region::LEN, Field::Size, size)?;
        cx.emit(
            self.name,
            EventKind::Vm(VmEvent::Resize {
                space: id.0 as u32,
                start,
                size,
            }),
        );
        Ok(())
    }

    /// `LOS_VMalloc`: a region of the vmalloc space, each 4 KiB page a separate block
    /// from the buddy, mapped at once. Returns the region's start. Emits `region` and a
    /// `map` per page.
    pub fn vmalloc<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        pm: &PhysMem,
        size: u32,
    ) -> Result<Addr, VmError> {
        let result = self.vmalloc_inner(cx, pm, size);
        self.report(cx, VmOp::Vmalloc { size }, result)
    }

    fn vmalloc_inner<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        pm: &PhysMem,
        size: u32,
    ) -> Result<Addr, VmError> {
        let id = SpaceId::VMALLOC;
        let flags = rf::READ | rf::WRITE;
        let start = self.region_alloc_inner(cx, id, 0, size, flags, Name::lit("vmalloc"))?;
        let sp = self.space(cx.ram, id)?;
        let size = page_round(size)?;
        let mut va = start;
        while (va as u64) < start as u64 + size as u64 {
            let mapped = match self.fresh_page(cx, pm) {
                Ok(frame) => match self.map_page(cx, pm, id, &sp, va, frame, flags, false) {
                    Ok(_) => Ok(()),
                    Err(e) => {
                        let _ = pm.free_contiguous(cx, frame, self.page_npages);
                        Err(e)
                    }
                },
                Err(e) => Err(e),
            };
            if let Err(e) = mapped {
                // Undo: the region and every page mapped so far.
                let _ = self.region_remove(cx, pm, id, start);
                return Err(e);
            }
            va += VM_PAGE_SIZE;
        }
        Ok(start)
    }

    /// `LOS_VFree`: unmaps and frees what `vmalloc` gave at `addr`.
    pub fn vfree<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        pm: &PhysMem,
        addr: Addr,
    ) -> Result<(), VmError> {
        let result = self.region_remove(cx, pm, SpaceId::VMALLOC, addr);
        self.report(cx, VmOp::Vfree { addr }, result)
    }
}
