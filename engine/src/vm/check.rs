//! `check()`: every invariant of the VM control block, the spaces, their regions and
//! page tables, and the reverse mappings in the page array, read from RAM.

use crate::error::AllocError;
use crate::pages::{pg, PhysMem};
use crate::ram::{Addr, Ram, Storage};
use crate::trace::Field;

use super::mmu::pte_bits;
use super::{
    l1, pte, region, rf, root, space, SpaceId, SpaceInfo, SpaceKind, Vm, L2_ENTRIES, MAX_REGIONS,
    MAX_SPACES, MAX_SPACE_REGIONS, SECTION_SHIFT, VM_PAGE_SHIFT, VM_PAGE_SIZE,
};

fn expect<S: Storage>(
    ram: &Ram<S>,
    at: Addr,
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

fn broken(at: Addr, rule: &'static str) -> AllocError {
    AllocError::Inconsistent { at, rule }
}

impl Vm {
    /// Checks, from RAM:
    /// - the control block's magic, and that it and every page table are allocated
    ///   blocks of the buddy (tables marked `TABLE`), and no table block is unaccounted;
    /// - each used space slot holds the configured layout for its kind (slot 0 kernel,
    ///   slot 1 vmalloc, the others user), unused slots are blank, the space list links
    ///   exactly the used slots, and the current space is a user space;
    /// - the heap: `heapBase <= heapNow <= mapBase`, and the heap region exists iff the
    ///   break is above the base, starts at the base and spans the break in whole pages;
    /// - each space's regions: page-aligned, non-empty, inside the space, owned by it,
    ///   strictly ordered and disjoint in the index, and the region list holds exactly
    ///   the same records; the in-use records are exactly those of all spaces;
    /// - page tables: L1 entries are faults, coarse entries to table blocks, or (kernel
    ///   only) the sections of the linear map; every valid L2 entry lies in a region, has
    ///   that region's permission bits and maps a frame the buddy has not freed; a block
    ///   head mapped by an entry has that entry as its reverse mapping (so it is mapped
    ///   once);
    /// - every reverse mapping in the page array names an entry that maps its page.
    pub fn check<S: Storage>(&self, ram: &Ram<S>, pm: &PhysMem) -> Result<(), AllocError> {
        let r = self.root;
        expect(ram, r + root::MAGIC, Field::Magic, root::MAGIC_VALUE)?;
        match pm.block_info(ram, r)? {
            Some(b) if !b.free && b.addr == r => {}
            _ => return Err(broken(r, "the VM control block is not an allocated block")),
        }
        if let Some(id) = self.current(ram)? {
            let kind = ram.read_u32(self.desc(id) + space::KIND)?;
            if kind != SpaceKind::User.code() {
                return Err(broken(
                    r + root::CURRENT,
                    "the current space is not a user space",
                ));
            }
        }

        let mut used = 0u32;
        let mut regions = 0u32;
        let mut tables = 0u32;
        for i in 0..MAX_SPACES {
            let id = SpaceId(i as u8);
            let d = self.desc(id);
            let kind = ram.read_u32(d + space::KIND)?;
            if kind == 0 {
                if ram.slice(d, space::SIZE)?.iter().any(|&b| b != 0) {
                    return Err(broken(d, "an unused space slot is not blank"));
                }
                continue;
            }
            let want = match i {
                0 => SpaceKind::Kernel,
                1 => SpaceKind::Vmalloc,
                _ => SpaceKind::User,
            };
            expect(ram, d + space::KIND, Field::Flags, want.code())?;
            let sp = self
                .space(ram, id)
                .map_err(|_| broken(d, "a space descriptor cannot be read"))?;
            tables += self.check_space(ram, pm, &sp)?;
            used += 1;
            regions += sp.region_count;
        }

        // g_vmSpaceList links exactly the used slots.
        let head = r + root::SPACES;
        let mut prev = head;
        let mut node = self.space_link(ram, head + 4)?;
        let mut n = 0u32;
        while node != head {
            if n >= MAX_SPACES {
                return Err(broken(head, "the space list has a cycle"));
            }
            expect(ram, node + space::PREV, Field::Prev, prev)?;
            if ram.read_u32(node + space::KIND)? == 0 {
                return Err(broken(node, "the space list holds an unused slot"));
            }
            n += 1;
            prev = node;
            node = self.space_link(ram, node + space::NEXT)?;
        }
        expect(ram, head, Field::Tail, prev)?;
        expect(ram, r + root::SPACE_COUNT, Field::Count, used)?;
        if n != used {
            return Err(broken(head, "a used space slot is not on the space list"));
        }

        expect(ram, r + root::REGIONS_USED, Field::Count, regions)?;
        let mut in_use = 0u32;
        for i in 0..MAX_REGIONS {
            if ram.read_u32(self.record(i) + region::FLAGS)? & rf::IN_USE != 0 {
                in_use += 1;
            }
        }
        if in_use != regions {
            return Err(broken(
                r + root::REGIONS_USED,
                "a region record is in use but belongs to no space",
            ));
        }

        // Reverse mappings, anonymous pages and table blocks, from the page array.
        let mut result = Ok(());
        let mut table_blocks = 0u32;
        pm.for_each_block(ram, &mut |b| {
            if b.free || result.is_err() {
                return;
            }
            if b.flags & pg::TABLE != 0 && b.addr != r {
                table_blocks += 1;
            }
            if b.flags & pg::ANON != 0 && b.mapping == 0 {
                result = Err(broken(b.entry, "an anonymous page is not mapped"));
                return;
            }
            if b.mapping != 0 {
                let ok = ram
                    .read_u32(b.mapping)
                    .is_ok_and(|e| e & pte::SMALL != 0 && e & pte::FRAME == b.addr);
                if !ok {
                    result = Err(broken(
                        b.entry,
                        "a page's reverse mapping names an entry that does not map it",
                    ));
                }
            }
        })?;
        result?;
        if table_blocks != tables {
            return Err(broken(r, "a page-table block belongs to no space"));
        }
        Ok(())
    }

    /// Checks one used space; returns how many table blocks it owns.
    fn check_space<S: Storage>(
        &self,
        ram: &Ram<S>,
        pm: &PhysMem,
        sp: &SpaceInfo,
    ) -> Result<u32, AllocError> {
        let d = sp.desc;
        let (base, size, map_base, map_size, heap_base) = self.layout(sp.kind);
        expect(ram, d + space::BASE, Field::Base, base)?;
        expect(ram, d + space::LEN, Field::Size, size)?;
        expect(ram, d + space::MAP_BASE, Field::Base, map_base)?;
        expect(ram, d + space::MAP_SIZE, Field::Size, map_size)?;
        expect(ram, d + space::HEAP_BASE, Field::Base, heap_base)?;
        let entries = size >> SECTION_SHIFT;
        expect(ram, d + space::L1_ENTRIES, Field::Count, entries)?;
        self.expect_table_block(ram, pm, sp.ttb, 4 * entries, d + space::TTB)?;
        let mut tables = 1u32;

        // Regions: index and list.
        let index = self.index(ram, sp)?;
        let list = index.as_slice();
        for (i, reg) in list.iter().enumerate() {
            let rec = reg.rec;
            let aligned = reg.start % VM_PAGE_SIZE == 0 && reg.size % VM_PAGE_SIZE == 0;
            if !aligned || reg.size == 0 || !sp.holds(reg.start, reg.size) {
                return Err(broken(
                    rec,
                    "a region is empty, unaligned or outside its space",
                ));
            }
            expect(ram, rec + region::SPACE, Field::Owner, d)?;
            if let Some(next) = list.get(i + 1) {
                if reg.end() > next.start as u64 {
                    return Err(broken(
                        d + space::INDEX + 4 * (i as u32 + 1),
                        "the region index is out of order or two regions overlap",
                    ));
                }
            }
        }
        for i in sp.region_count..MAX_SPACE_REGIONS {
            expect(ram, d + space::INDEX + 4 * i, Field::Index, 0)?;
        }
        let head = d + space::REGIONS;
        let mut prev = head;
        let mut node = self.region_link(ram, head, head + 4)?;
        let mut n = 0u32;
        while node != head {
            if n >= MAX_REGIONS {
                return Err(broken(head, "a region list has a cycle"));
            }
            expect(ram, node + region::PREV, Field::Prev, prev)?;
            if !list.iter().any(|reg| reg.rec == node) {
                return Err(broken(
                    node,
                    "a region on the list is missing from the index",
                ));
            }
            n += 1;
            prev = node;
            node = self.region_link(ram, head, node + region::NEXT)?;
        }
        expect(ram, head, Field::Tail, prev)?;
        if n != sp.region_count {
            return Err(broken(
                head,
                "a region in the index is missing from the list",
            ));
        }

        // The heap.
        let heap_ok = if sp.kind == SpaceKind::User {
            let in_range = sp.heap_base <= sp.heap_now && sp.heap_now <= sp.map_base;
            let span = (sp.heap_now - sp.heap_base.min(sp.heap_now))
                .checked_next_multiple_of(VM_PAGE_SIZE);
            in_range
                && if sp.heap == 0 {
                    sp.heap_now == sp.heap_base
                } else {
                    list.iter().any(|reg| {
                        reg.rec == sp.heap
                            && reg.start == sp.heap_base
                            && Some(reg.size) == span
                            && reg.flags & rf::HEAP != 0
                    })
                }
        } else {
            sp.heap == 0 && sp.heap_now == sp.heap_base
        };
        if !heap_ok {
            return Err(broken(
                d + space::HEAP_NOW,
                "the heap region does not match the break",
            ));
        }

        // Page tables.
        for i in 0..entries {
            let at = sp.ttb + 4 * i;
            let e = ram.read_u32(at)?;
            match e & l1::TYPE_MASK {
                l1::FAULT => {
                    if e != 0 {
                        return Err(broken(at, "a fault L1 entry has bits set"));
                    }
                }
                l1::SECTION => {
                    let want =
                        (self.phys_base.wrapping_add(i << SECTION_SHIFT)) | l1::SECTION | l1::AP0;
                    if sp.kind != SpaceKind::Kernel || i >= self.sections || e != want {
                        return Err(broken(at, "a section entry is not the kernel's linear map"));
                    }
                }
                l1::COARSE => {
                    let table = e & l1::COARSE_BASE;
                    self.expect_table_block(ram, pm, table, super::L2_TABLE_SIZE, at)?;
                    tables += 1;
                    for j in 0..L2_ENTRIES {
                        let pte_at = table + 4 * j;
                        let p = ram.read_u32(pte_at)?;
                        if p == 0 {
                            continue;
                        }
                        if p & pte::SMALL == 0 {
                            return Err(broken(
                                pte_at,
                                "an L2 entry is neither 0 nor a small page",
                            ));
                        }
                        let vaddr = sp.base + (i << SECTION_SHIFT) + (j << VM_PAGE_SHIFT);
                        let Some(reg) = list.iter().find(|reg| reg.contains(vaddr)) else {
                            return Err(broken(pte_at, "a page is mapped outside every region"));
                        };
                        let frame = p & pte::FRAME;
                        expect(ram, pte_at, Field::Pte, frame | pte_bits(reg.flags))?;
                        if pm.in_segments(frame) {
                            match pm.block_info(ram, frame)? {
                                Some(b) if !b.free => {
                                    if b.addr == frame && b.mapping != pte_at {
                                        return Err(broken(
                                            b.entry,
                                            "a mapped block's reverse mapping is not its entry",
                                        ));
                                    }
                                }
                                _ => {
                                    return Err(broken(
                                        pte_at,
                                        "a page table maps a frame the buddy has free",
                                    ))
                                }
                            }
                        }
                    }
                }
                _ => return Err(broken(at, "an L1 entry has the reserved type 0b11")),
            }
        }
        Ok(tables)
    }

    /// `table` must be an allocated block head marked `TABLE` of at least `bytes`.
    fn expect_table_block<S: Storage>(
        &self,
        ram: &Ram<S>,
        pm: &PhysMem,
        table: Addr,
        bytes: u32,
        at: Addr,
    ) -> Result<(), AllocError> {
        match pm.block_info(ram, table)? {
            Some(b)
                if !b.free
                    && b.addr == table
                    && b.flags & pg::TABLE != 0
                    && (pm.page_size() as u64) << b.order >= bytes as u64 =>
            {
                Ok(())
            }
            _ => Err(broken(at, "a page table is not an allocated table block")),
        }
    }
}
