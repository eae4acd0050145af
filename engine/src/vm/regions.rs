//! Regions: records in the control block, each space's region list and its ordered
//! index (`LOS_RegionAlloc`, `LOS_RegionFree`, `LOS_RegionFind`).

use crate::allocator::Ctx;
use crate::error::AllocError;
use crate::name::Name;
use crate::pages::PhysMem;
use crate::ram::{Addr, Ram, Storage};
use crate::trace::{EventKind, Field};

use super::{
    region, rf, root, space, Perm, RegionInfo, SpaceId, SpaceInfo, Vm, VmError, VmEvent, VmOp,
    MAX_REGIONS, MAX_SPACE_REGIONS, VM_PAGE_SIZE,
};

/// A space's regions in address order, read from its index.
pub(super) struct Index {
    pub n: usize,
    pub regions: [RegionInfo; MAX_SPACE_REGIONS as usize],
}

impl Index {
    pub fn as_slice(&self) -> &[RegionInfo] {
        &self.regions[..self.n]
    }
}

const EMPTY: RegionInfo = RegionInfo {
    rec: 0,
    start: 0,
    size: 0,
    flags: 0,
    name: Name::lit("none"),
};

impl Vm {
    /// Reads the region record at `rec`, which must be in use.
    pub(super) fn read_region<S: Storage>(
        &self,
        ram: &Ram<S>,
        rec: Addr,
    ) -> Result<RegionInfo, AllocError> {
        let flags = ram.read_u32(rec + region::FLAGS)?;
        if flags & rf::IN_USE == 0 {
            return Err(AllocError::Inconsistent {
                at: rec + region::FLAGS,
                rule: "a space's region index names a free region record",
            });
        }
        let bytes = ram.slice(rec + region::NAME, 16)?;
        let len = (bytes[0] as usize).min(15);
        let name = core::str::from_utf8(&bytes[1..1 + len])
            .ok()
            .and_then(|s| Name::new(s).ok())
            .ok_or(AllocError::Inconsistent {
                at: rec + region::NAME,
                rule: "a region's name is not a valid name",
            })?;
        Ok(RegionInfo {
            rec,
            start: ram.read_u32(rec + region::START)?,
            size: ram.read_u32(rec + region::LEN)?,
            flags: flags & rf::MASK,
            name,
        })
    }

    /// The space's regions in address order, from its index.
    pub(super) fn index<S: Storage>(
        &self,
        ram: &Ram<S>,
        sp: &SpaceInfo,
    ) -> Result<Index, AllocError> {
        let n = sp.region_count;
        if n > MAX_SPACE_REGIONS {
            return Err(AllocError::Inconsistent {
                at: sp.desc + space::REGION_COUNT,
                rule: "a space has more regions than its index holds",
            });
        }
        let mut index = Index {
            n: n as usize,
            regions: [EMPTY; MAX_SPACE_REGIONS as usize],
        };
        for i in 0..n {
            let at = sp.desc + space::INDEX + 4 * i;
            let rec = ram.read_u32(at)?;
            if !self.is_record(rec) {
                return Err(AllocError::Inconsistent {
                    at,
                    rule: "a region index slot does not point at a region record",
                });
            }
            index.regions[i as usize] = self.read_region(ram, rec)?;
        }
        Ok(index)
    }

    /// The region of space `id` holding `vaddr` (`LOS_RegionFind`), by binary search of
    /// the ordered index.
    pub fn region_at<S: Storage>(
        &self,
        ram: &Ram<S>,
        id: SpaceId,
        vaddr: Addr,
    ) -> Result<Option<RegionInfo>, VmError> {
        let sp = self.space(ram, id)?;
        Ok(self.find_region(ram, &sp, vaddr)?)
    }

    pub(super) fn find_region<S: Storage>(
        &self,
        ram: &Ram<S>,
        sp: &SpaceInfo,
        vaddr: Addr,
    ) -> Result<Option<RegionInfo>, AllocError> {
        let index = self.index(ram, sp)?;
        let regions = index.as_slice();
        // The last region starting at or below vaddr is the only candidate.
        let after = regions.partition_point(|r| r.start <= vaddr);
        Ok(after
            .checked_sub(1)
            .and_then(|i| regions.get(i))
            .filter(|r| r.contains(vaddr))
            .copied())
    }

    /// The lowest region of the space.
    pub(super) fn first_region<S: Storage>(
        &self,
        ram: &Ram<S>,
        sp: &SpaceInfo,
    ) -> Result<Option<RegionInfo>, AllocError> {
        Ok(self.index(ram, sp)?.as_slice().first().copied())
    }

    /// Visits the regions of space `id` in address order.
    pub fn regions<S: Storage>(
        &self,
        ram: &Ram<S>,
        id: SpaceId,
        visit: &mut dyn FnMut(RegionInfo),
    ) -> Result<(), VmError> {
        let sp = self.space(ram, id)?;
        for r in self.index(ram, &sp)?.as_slice() {
            visit(*r);
        }
        Ok(())
    }

    /// Adds a region to space `id` (`LOS_RegionAlloc`): at `vaddr` if it is not 0 (it
    /// must be page-aligned, inside the space and overlap no region), otherwise at the
    /// lowest gap of the space's map range. `size` is rounded up to whole 4 KiB pages.
    /// Returns the start. Emits `region`.
    pub fn region_alloc<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        id: SpaceId,
        vaddr: Addr,
        size: u32,
        flags: u32,
        name: Name,
    ) -> Result<Addr, VmError> {
        let result = self.region_alloc_inner(cx, id, vaddr, size, flags, name);
        let op = VmOp::RegionAlloc {
            space: id.0 as u32,
            addr: vaddr,
            size,
        };
        self.report(cx, op, result)
    }

    pub(super) fn region_alloc_inner<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        id: SpaceId,
        vaddr: Addr,
        size: u32,
        flags: u32,
        name: Name,
    ) -> Result<Addr, VmError> {
        if vaddr != 0 {
            return self.region_insert(cx, id, vaddr, size, flags, name);
        }
        let size = page_round(size)?;
        let sp = self.space(cx.ram, id)?;
        let index = self.index(cx.ram, &sp)?;
        let map_end = sp.map_base as u64 + sp.map_size as u64;
        let mut candidate = sp.map_base as u64;
        let mut visited = 0u32;
        for r in index.as_slice() {
            if r.end() <= candidate {
                continue;
            }
            visited += 1;
            if r.start as u64 >= candidate + size as u64 {
                break;
            }
            candidate = r.end();
        }
        cx.emit(self.name, EventKind::Search { size, visited });
        if candidate + size as u64 > map_end {
            return Err(VmError::NoVirtualSpace { size });
        }
        self.region_insert(cx, id, candidate as Addr, size, flags, name)
    }

    /// Adds the region `[start, start + size)` after checking it; see `region_alloc`.
    pub(super) fn region_insert<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        id: SpaceId,
        start: Addr,
        size: u32,
        flags: u32,
        region_name: Name,
    ) -> Result<Addr, VmError> {
        let size = page_round(size)?;
        if start & (VM_PAGE_SIZE - 1) != 0 {
            return Err(VmError::Misaligned { addr: start });
        }
        let sp = self.space(cx.ram, id)?;
        if !sp.holds(start, size) {
            return Err(VmError::OutsideSpace { start, size });
        }
        let index = self.index(cx.ram, &sp)?;
        let end = start as u64 + size as u64;
        if let Some(r) = index
            .as_slice()
            .iter()
            .find(|r| (r.start as u64) < end && (start as u64) < r.end())
        {
            return Err(VmError::Overlap {
                start,
                size,
                other: r.start,
            });
        }
        if index.n >= MAX_SPACE_REGIONS as usize {
            return Err(VmError::TooManyRegions {
                max: MAX_SPACE_REGIONS,
            });
        }
        let mut free = None;
        for i in 0..MAX_REGIONS {
            let rec = self.record(i);
            if cx.word(rec + region::FLAGS)? & rf::IN_USE == 0 {
                free = Some(rec);
                break;
            }
        }
        let rec = free.ok_or(VmError::TooManyRegions { max: MAX_REGIONS })?;

        let name = self.name;
        let flags = flags & rf::MASK;
        cx.set_word(name, rec + region::START, Field::Base, start)?;
        cx.set_word(name, rec + region::LEN, Field::Size, size)?;
        cx.set_word(name, rec + region::FLAGS, Field::Flags, flags | rf::IN_USE)?;
        cx.set_word(name, rec + region::SPACE, Field::Owner, sp.desc)?;
        let mut text = [0u8; 16];
        let s = region_name.as_str().as_bytes();
        text[0] = s.len() as u8;
        for (dst, src) in text[1..].iter_mut().zip(s) {
            *dst = *src;
        }
        for (i, w) in text.chunks_exact(4).enumerate() {
            let word = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
            cx.set_word(name, rec + region::NAME + 4 * i as u32, Field::Data, word)?;
        }

        // Append to the space's region list (`LOS_ListTailInsert`).
        let head = sp.desc + space::REGIONS;
        let last = self.region_link(cx.ram, head, head)?;
        cx.set_word(name, rec + region::PREV, Field::Prev, last)?;
        cx.set_word(name, rec + region::NEXT, Field::Next, head)?;
        let f = if last == head {
            Field::Head
        } else {
            Field::Next
        };
        cx.set_word(name, last + 4, f, rec)?;
        cx.set_word(name, head, Field::Tail, rec)?;

        // Insert into the ordered index, shifting the later slots up.
        let pos = index.as_slice().partition_point(|r| r.start < start);
        for i in (pos..index.n).rev() {
            let at = sp.desc + space::INDEX + 4 * (i as u32 + 1);
            cx.set_word(name, at, Field::Index, index.regions[i].rec)?;
        }
        cx.set_word(
            name,
            sp.desc + space::INDEX + 4 * pos as u32,
            Field::Index,
            rec,
        )?;
        cx.set_word(
            name,
            sp.desc + space::REGION_COUNT,
            Field::Count,
            index.n as u32 + 1,
        )?;
        let used_at = self.root + root::REGIONS_USED;
        let used = cx.word(used_at)?;
        cx.set_word(name, used_at, Field::Count, used.wrapping_add(1))?;
        cx.emit(
            name,
            EventKind::Vm(VmEvent::Region {
                space: id.0 as u32,
                start,
                size,
                flags: Perm(flags),
                name: region_name,
            }),
        );
        Ok(start)
    }

    /// Reads a region-list link at `at`: the list head `head` or a region record.
    pub(super) fn region_link<S: Storage>(
        &self,
        ram: &Ram<S>,
        head: Addr,
        at: Addr,
    ) -> Result<Addr, AllocError> {
        let v = ram.read_u32(at)?;
        if v == head || self.is_record(v) {
            Ok(v)
        } else {
            Err(AllocError::Inconsistent {
                at,
                rule: "a region-list link points neither at the list head nor at a record",
            })
        }
    }

    /// Removes the region starting at `start` from space `id` (`LOS_RegionFree`): its
    /// pages are unmapped (and freed when nothing else holds them). Emits
    /// `region_free`.
    pub fn region_free<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        pm: &PhysMem,
        id: SpaceId,
        start: Addr,
    ) -> Result<(), VmError> {
        let result = self.region_remove(cx, pm, id, start);
        let op = VmOp::RegionFree {
            space: id.0 as u32,
            addr: start,
        };
        self.report(cx, op, result)
    }

    pub(super) fn region_remove<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        pm: &PhysMem,
        id: SpaceId,
        start: Addr,
    ) -> Result<(), VmError> {
        let sp = self.space(cx.ram, id)?;
        let index = self.index(cx.ram, &sp)?;
        let pos = index
            .as_slice()
            .iter()
            .position(|r| r.start == start)
            .ok_or(VmError::NoSuchRegion { addr: start })?;
        let r = index.regions[pos];
        self.unmap_range(cx, pm, &sp, r.start, r.size)?;

        let name = self.name;
        for i in pos + 1..index.n {
            let at = sp.desc + space::INDEX + 4 * (i as u32 - 1);
            cx.set_word(name, at, Field::Index, index.regions[i].rec)?;
        }
        let last = sp.desc + space::INDEX + 4 * (index.n as u32 - 1);
        cx.set_word(name, last, Field::Index, 0)?;
        cx.set_word(
            name,
            sp.desc + space::REGION_COUNT,
            Field::Count,
            index.n as u32 - 1,
        )?;

        let head = sp.desc + space::REGIONS;
        let prev = self.region_link(cx.ram, head, r.rec + region::PREV)?;
        let next = self.region_link(cx.ram, head, r.rec + region::NEXT)?;
        let f = if prev == head {
            Field::Head
        } else {
            Field::Next
        };
        cx.set_word(name, prev + 4, f, next)?;
        let f = if next == head {
            Field::Tail
        } else {
            Field::Prev
        };
        cx.set_word(name, next, f, prev)?;
        cx.set_word(name, r.rec + region::PREV, Field::Prev, 0)?;
        cx.set_word(name, r.rec + region::NEXT, Field::Next, 0)?;
        cx.set_word(name, r.rec + region::FLAGS, Field::Flags, 0)?;
        let used_at = self.root + root::REGIONS_USED;
        let used = cx.word(used_at)?;
        cx.set_word(name, used_at, Field::Count, used.saturating_sub(1))?;
        if sp.heap == r.rec {
            cx.set_word(name, sp.desc + space::HEAP, Field::Pool, 0)?;
            cx.set_word(name, sp.desc + space::HEAP_NOW, Field::Top, sp.heap_base)?;
        }
        cx.emit(
            name,
            EventKind::Vm(VmEvent::RegionFree {
                space: id.0 as u32,
                start: r.start,
                size: r.size,
            }),
        );
        Ok(())
    }
}

/// `size` rounded up to whole VM pages; 0 is refused.
pub(super) fn page_round(size: u32) -> Result<u32, VmError> {
    if size == 0 {
        return Err(VmError::ZeroSize);
    }
    size.checked_next_multiple_of(VM_PAGE_SIZE)
        .ok_or(VmError::OutsideSpace { start: 0, size })
}
