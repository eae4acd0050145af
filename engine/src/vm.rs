//! Virtual memory as LiteOS-A lays it out: address spaces, regions, two-level page
//! tables, demand paging and the heap break (`kernel/base/vm/los_vm_map.c`,
//! `los_vm_fault.c`, `los_vm_syscall.c`, `arch/arm/arm/src/los_arch_mmu.c`; seed 004).
//!
//! # Spaces (`LosVmSpace`)
//!
//! There are three kinds of address space: the kernel space (`OsKernVmSpaceInit`), the
//! vmalloc space (`OsVMallocSpaceInit`) and one user space per process
//! (`OsUserVmSpaceInit`). Each has a base and size, a map range where regions without a
//! fixed address go, and — user spaces — the heap's base and current break
//! (`heapBase`, `heapNow`). All spaces are on one list (`g_vmSpaceList`).
//! [`Vm::space_of`] is `LOS_SpaceGet`: a kernel address gives the kernel space, a user
//! address the *current process's* space, a vmalloc address the vmalloc space.
//!
//! # Regions (`LosVmMapRegion`)
//!
//! A space's regions (start, size, flags, name) never overlap. LiteOS keeps them in a
//! red-black tree for lookup and on a list; here the list is the same `LOS_DL_LIST` and
//! the tree is an ordered array of region addresses in the space descriptor (binary
//! search, shifting on insert: the same ordered lookup for the few regions a lesson has,
//! and every slot is visible in the hex view). Region records come from a fixed table
//! in the VM control block; a record is free iff its in-use flag is clear.
//!
//! # Page tables (ARMv7 short descriptors)
//!
//! Translation uses 4 KiB pages whatever the physical page size: an L1 entry covers
//! 1 MiB and holds a coarse descriptor (the address of a 256-entry, 1 KiB L2 table, type
//! `01`), a section descriptor (a 1 MiB block, type `10`; the kernel's linear map of
//! physical memory) or 0 (fault). An L2 entry holds a 4 KiB frame address and the small
//! page type and permission bits ([`pte`]). Each space has its own L1 table covering
//! just that space, indexed from the space's base (on ARM the table covers from address
//! 0; indexing from the base keeps a lesson's tables small).
//!
//! *Reconciling page sizes:* the VM requires a physical page size of at most 4 KiB; a
//! 4 KiB VM page is then a buddy block of order `12 - log2(page_size)` (one page at
//! 4 KiB, 16 pages at 256 B), which the buddy aligns to 4 KiB, and an L2 table the block
//! of order `max(0, 10 - log2(page_size))`. At 4 KiB pages an L2 table wastes 3 KiB of
//! its page (LiteOS packs four L2 tables into one page; this simulation does not).
//! Tables come from the buddy and are marked [`pg::TABLE`] in the page array.
//!
//! # Faults and the heap
//!
//! [`Vm::access`] is what the MMU and `OsVmPageFaultHandler` do for one load or store:
//! outside every region is a segmentation fault ([`VmError::SegFault`], a `fault`
//! event); a region without the permission is a protection fault; an unmapped page in a
//! heap region is demand-paged — a fresh block is taken from the buddy, zeroed, mapped,
//! marked [`pg::ANON`] with its page-table entry recorded as its reverse mapping, and put
//! on the LRU list, so reclaim can take it back. [`Vm::brk`] is `LOS_DoBrk`: the heap
//! region starts at `heapBase`, grows page by page up to the map base, and shrinking
//! unmaps the pages past the new end.
//!
//! # RAM layout
//!
//! The VM control block ([`root`]) is allocated from the buddy at [`Vm::init`] (LiteOS
//! allocates each structure from the kernel heap): a header with the space list head,
//! [`MAX_SPACES`] space descriptors ([`space`]) and [`MAX_REGIONS`] region records
//! ([`region`]). Slots 0 and 1 are the kernel and vmalloc spaces. The [`Vm`] struct holds
//! only the configuration and the control block's address.

use crate::allocator::Ctx;
use crate::error::{AllocError, ConfigError};
use crate::name::Name;
use crate::pages::{pg, PhysMem};
use crate::ram::{Addr, Ram, Storage};
use crate::trace::{EventKind, Field};

mod check;
mod event;
mod mmu;
mod regions;

pub use event::{Perm, SpaceKind, VmError, VmEvent, VmOp};

/// The VM page: 4 KiB, as on ARM.
pub const VM_PAGE_SIZE: u32 = 4096;
pub const VM_PAGE_SHIFT: u32 = 12;
/// What one L1 entry covers.
pub const SECTION_SIZE: u32 = 1 << 20;
pub const SECTION_SHIFT: u32 = 20;
/// Entries of an L2 table.
pub const L2_ENTRIES: u32 = 256;
/// Bytes of an L2 table.
pub const L2_TABLE_SIZE: u32 = 1024;
/// Space slots: kernel, vmalloc and four processes.
pub const MAX_SPACES: u32 = 6;
/// Region records in all.
pub const MAX_REGIONS: u32 = 32;
/// Regions per space (the ordered index's capacity).
pub const MAX_SPACE_REGIONS: u32 = 16;
/// The `CURRENT` word when no process runs.
pub const NO_SPACE: u32 = u32::MAX;

/// L1 descriptor types (bits 1..0).
pub mod l1 {
    /// Unmapped: a translation fault.
    pub const FAULT: u32 = 0b00;
    /// Points at an L2 table (bits 31..10).
    pub const COARSE: u32 = 0b01;
    /// Maps a 1 MiB section (bits 31..20); the kernel's linear map.
    pub const SECTION: u32 = 0b10;
    pub const TYPE_MASK: u32 = 0b11;
    pub const COARSE_BASE: u32 = !0x3ff;
    pub const SECTION_BASE: u32 = !0xf_ffff;
    /// Access permission bit 0 on a section (readable).
    pub const AP0: u32 = 1 << 10;
}

/// L2 small-page descriptor bits.
pub mod pte {
    /// Execute never.
    pub const XN: u32 = 1 << 0;
    /// Small page: the entry is valid.
    pub const SMALL: u32 = 1 << 1;
    /// `AP[0]`: accessible.
    pub const AP0: u32 = 1 << 4;
    /// `AP[1]`: accessible from user mode.
    pub const USER: u32 = 1 << 5;
    /// `AP[2]`: read-only.
    pub const RO: u32 = 1 << 9;
    /// The frame address.
    pub const FRAME: u32 = !0xfff;
}

/// Region flags (`VM_MAP_REGION_FLAG_*`).
pub mod rf {
    pub const READ: u32 = 1 << 0;
    pub const WRITE: u32 = 1 << 1;
    pub const EXEC: u32 = 1 << 2;
    pub const USER: u32 = 1 << 3;
    /// The heap: unmapped pages are demand-paged.
    pub const HEAP: u32 = 1 << 4;
    /// The flags a caller may give.
    pub const MASK: u32 = READ | WRITE | EXEC | USER | HEAP;
    /// Set iff the record is in use.
    pub const IN_USE: u32 = 1 << 31;
}

/// The VM control block header.
pub mod root {
    /// [`MAGIC_VALUE`].
    pub const MAGIC: u32 = 0;
    /// The current process's space slot, or [`super::NO_SPACE`].
    pub const CURRENT: u32 = 4;
    /// `g_vmSpaceList`: list head `{prev, next}` through the space descriptors.
    pub const SPACES: u32 = 8;
    /// Spaces on that list.
    pub const SPACE_COUNT: u32 = 16;
    /// Region records in use.
    pub const REGIONS_USED: u32 = 20;
    /// The first space descriptor.
    pub const SPACE0: u32 = 24;
    /// The first region record.
    pub const REGION0: u32 = SPACE0 + super::MAX_SPACES * super::space::SIZE;
    pub const SIZE: u32 = REGION0 + super::MAX_REGIONS * super::region::SIZE;
    /// "VMSP" in ASCII, read as a big-endian word.
    pub const MAGIC_VALUE: u32 = 0x564d_5350;
}

/// A space descriptor (`LosVmSpace`). A slot is unused iff `KIND` is 0 (then it is all
/// zero).
pub mod space {
    /// `node` on `g_vmSpaceList`.
    pub const PREV: u32 = 0;
    pub const NEXT: u32 = 4;
    /// `SpaceKind::code`.
    pub const KIND: u32 = 8;
    pub const BASE: u32 = 12;
    pub const LEN: u32 = 16;
    pub const MAP_BASE: u32 = 20;
    pub const MAP_SIZE: u32 = 24;
    pub const HEAP_BASE: u32 = 28;
    /// The break; the heap region is `roundup(HEAP_NOW - HEAP_BASE, 4096)` bytes.
    pub const HEAP_NOW: u32 = 32;
    /// The heap region's record, 0 iff there is none.
    pub const HEAP: u32 = 36;
    /// The L1 table's physical address (`archMmu.virtTtb`).
    pub const TTB: u32 = 40;
    /// Entries of the L1 table: `size >> 20`.
    pub const L1_ENTRIES: u32 = 44;
    /// `regions`: list head `{prev, next}` through the region records, in the order
    /// they were added.
    pub const REGIONS: u32 = 48;
    pub const REGION_COUNT: u32 = 56;
    /// `MAX_SPACE_REGIONS` region addresses, the first `REGION_COUNT` ordered by start,
    /// the rest 0 (the stand-in for `regionRbTree`).
    pub const INDEX: u32 = 60;
    pub const SIZE: u32 = INDEX + 4 * super::MAX_SPACE_REGIONS;
}

/// A region record (`LosVmMapRegion`).
pub mod region {
    /// `node` on its space's region list; 0 when free.
    pub const PREV: u32 = 0;
    pub const NEXT: u32 = 4;
    /// `range.base`.
    pub const START: u32 = 8;
    /// `range.size`, a multiple of 4096.
    pub const LEN: u32 = 12;
    /// `rf::*`; `rf::IN_USE` iff the record is used.
    pub const FLAGS: u32 = 16;
    /// The owning space's descriptor.
    pub const SPACE: u32 = 20;
    /// The name: a length byte, then up to 15 characters, zero-padded.
    pub const NAME: u32 = 24;
    pub const SIZE: u32 = 40;
}

/// A space slot: 0 kernel, 1 vmalloc, 2 and up user processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpaceId(pub u8);

impl SpaceId {
    pub const KERNEL: SpaceId = SpaceId(0);
    pub const VMALLOC: SpaceId = SpaceId(1);
}

/// The address-space layout. Bases and sizes of the three spaces are multiples of
/// 1 MiB; the user map range and heap base are multiples of 4 KiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmConfig {
    pub kernel_base: Addr,
    pub kernel_size: u32,
    pub vmalloc_base: Addr,
    pub vmalloc_size: u32,
    pub user_base: Addr,
    pub user_size: u32,
    pub user_map_base: Addr,
    pub user_map_size: u32,
    pub user_heap_base: Addr,
}

impl Default for VmConfig {
    /// LiteOS-A's layout scaled down so a lesson's L1 tables take 64 bytes: kernel at
    /// 0x40000000 (`KERNEL_ASPACE_BASE`), vmalloc after it, user processes from
    /// 0x01000000 (`USER_ASPACE_BASE`), each 16 MiB; the user heap a quarter in, the map
    /// range in the upper half.
    fn default() -> VmConfig {
        VmConfig {
            kernel_base: 0x4000_0000,
            kernel_size: 0x0100_0000,
            vmalloc_base: 0x4100_0000,
            vmalloc_size: 0x0100_0000,
            user_base: 0x0100_0000,
            user_size: 0x0100_0000,
            user_map_base: 0x0180_0000,
            user_map_size: 0x0080_0000,
            user_heap_base: 0x0140_0000,
        }
    }
}

/// A space descriptor as read from RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpaceInfo {
    pub id: SpaceId,
    pub kind: SpaceKind,
    pub desc: Addr,
    pub base: Addr,
    pub size: u32,
    pub map_base: Addr,
    pub map_size: u32,
    pub heap_base: Addr,
    pub heap_now: Addr,
    /// The heap region's record, 0 if none.
    pub heap: Addr,
    pub ttb: Addr,
    pub l1_entries: u32,
    pub region_count: u32,
}

impl SpaceInfo {
    /// True iff `[start, start + size)` is inside the space.
    pub fn holds(&self, start: Addr, size: u32) -> bool {
        start >= self.base && start as u64 + size as u64 <= self.base as u64 + self.size as u64
    }
}

/// A region record as read from RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionInfo {
    /// The record's address.
    pub rec: Addr,
    pub start: Addr,
    pub size: u32,
    /// `rf::*` without `IN_USE`.
    pub flags: u32,
    pub name: Name,
}

impl RegionInfo {
    pub fn end(&self) -> u64 {
        self.start as u64 + self.size as u64
    }

    pub fn contains(&self, vaddr: Addr) -> bool {
        vaddr >= self.start && (vaddr as u64) < self.end()
    }
}

/// The virtual memory of one machine. All state is in the RAM (see the module
/// documentation); the struct holds the layout and the control block's address.
#[derive(Clone, Copy, Debug)]
pub struct Vm {
    name: Name,
    root: Addr,
    root_npages: u32,
    cfg: VmConfig,
    /// Physical pages per 4 KiB VM page, and per L2 table (at least 1).
    page_npages: u32,
    table_npages: u32,
    /// The kernel's linear map: physical `phys_base` is at `cfg.kernel_base`, over
    /// `sections` sections.
    phys_base: Addr,
    sections: u32,
}

fn misaligned(addr: Addr, align: u32) -> Result<(), ConfigError> {
    if addr & (align - 1) != 0 {
        Err(ConfigError::Misaligned { addr, align })
    } else {
        Ok(())
    }
}

/// Checks a space range: 1 MiB-aligned, non-empty, inside 4 GiB.
fn check_range(base: Addr, size: u32) -> Result<(), ConfigError> {
    misaligned(base, SECTION_SIZE)?;
    misaligned(size, SECTION_SIZE)?;
    if size == 0 {
        return Err(ConfigError::TooSmall {
            needed: SECTION_SIZE,
            available: 0,
        });
    }
    if base as u64 + size as u64 > 1 << 32 {
        return Err(ConfigError::Overlaps { addr: base, size });
    }
    Ok(())
}

fn overlaps(a: (Addr, u32), b: (Addr, u32)) -> bool {
    (a.0 as u64) < b.0 as u64 + b.1 as u64 && (b.0 as u64) < a.0 as u64 + a.1 as u64
}

impl Vm {
    /// Creates the VM over `pm`: allocates the control block from the buddy, then the
    /// kernel space (its L1 table with the linear map of physical memory as sections and
    /// a `kernel` region over it) and the vmalloc space. Requires a page size of at most
    /// 4 KiB.
    pub fn init<S: Storage>(
        cx: &mut Ctx<'_, S>,
        name: Name,
        pm: &PhysMem,
        cfg: VmConfig,
    ) -> Result<Vm, VmError> {
        let result = Self::init_inner(cx, name, pm, cfg);
        if let Err(error) = result {
            let op = VmOp::Init;
            cx.emit(name, EventKind::Vm(VmEvent::Fault { op, error }));
        }
        result
    }

    fn init_inner<S: Storage>(
        cx: &mut Ctx<'_, S>,
        name: Name,
        pm: &PhysMem,
        cfg: VmConfig,
    ) -> Result<Vm, VmError> {
        let page_size = pm.page_size();
        if page_size > VM_PAGE_SIZE {
            return Err(ConfigError::BadBlockSize { size: page_size }.into());
        }
        check_range(cfg.kernel_base, cfg.kernel_size)?;
        check_range(cfg.vmalloc_base, cfg.vmalloc_size)?;
        check_range(cfg.user_base, cfg.user_size)?;
        let kernel = (cfg.kernel_base, cfg.kernel_size);
        let vmalloc = (cfg.vmalloc_base, cfg.vmalloc_size);
        let user = (cfg.user_base, cfg.user_size);
        if overlaps(kernel, vmalloc) {
            return Err(ConfigError::Overlaps {
                addr: vmalloc.0,
                size: vmalloc.1,
            }
            .into());
        }
        if overlaps(user, kernel) || overlaps(user, vmalloc) {
            return Err(ConfigError::Overlaps {
                addr: user.0,
                size: user.1,
            }
            .into());
        }
        misaligned(cfg.user_map_base, VM_PAGE_SIZE)?;
        misaligned(cfg.user_map_size, VM_PAGE_SIZE)?;
        misaligned(cfg.user_heap_base, VM_PAGE_SIZE)?;
        let map_end = cfg.user_map_base as u64 + cfg.user_map_size as u64;
        let user_end = cfg.user_base as u64 + cfg.user_size as u64;
        if cfg.user_map_size == 0 || cfg.user_map_base < cfg.user_base || map_end > user_end {
            return Err(ConfigError::Overlaps {
                addr: cfg.user_map_base,
                size: cfg.user_map_size,
            }
            .into());
        }
        if cfg.user_heap_base < cfg.user_base || cfg.user_heap_base >= cfg.user_map_base {
            return Err(ConfigError::Overlaps {
                addr: cfg.user_heap_base,
                size: 0,
            }
            .into());
        }
        let (phys_start, phys_end) = pm.phys_span();
        let phys_base = phys_start & !(SECTION_SIZE - 1);
        let sections = (phys_end - phys_base as u64).div_ceil(SECTION_SIZE as u64);
        if sections << SECTION_SHIFT > cfg.kernel_size as u64 {
            return Err(ConfigError::TooSmall {
                needed: (sections << SECTION_SHIFT).min(u32::MAX as u64) as u32,
                available: cfg.kernel_size,
            }
            .into());
        }
        let shift = pm.page_shift();
        let vm = Vm {
            name,
            root: 0,
            root_npages: root::SIZE.div_ceil(page_size),
            cfg,
            page_npages: 1 << (VM_PAGE_SHIFT - shift),
            table_npages: L2_TABLE_SIZE.div_ceil(page_size),
            phys_base,
            sections: sections as u32,
        };
        let root_addr = pm.alloc_contiguous(cx, vm.root_npages)?;
        let vm = Vm {
            root: root_addr,
            ..vm
        };
        cx.fill(name, root_addr, root::SIZE, 0, Field::Data)?;
        cx.set_word(
            name,
            root_addr + root::MAGIC,
            Field::Magic,
            root::MAGIC_VALUE,
        )?;
        cx.set_word(name, root_addr + root::CURRENT, Field::Owner, NO_SPACE)?;
        let head = root_addr + root::SPACES;
        cx.set_word(name, head, Field::Tail, head)?;
        cx.set_word(name, head + 4, Field::Head, head)?;

        vm.create_space(cx, pm, SpaceId::KERNEL, SpaceKind::Kernel)?;
        vm.create_space(cx, pm, SpaceId::VMALLOC, SpaceKind::Vmalloc)?;
        // The kernel's linear map: physical memory at the kernel base, in sections.
        let k = vm.space(cx.ram, SpaceId::KERNEL)?;
        for i in 0..vm.sections {
            let entry = (phys_base + (i << SECTION_SHIFT)) | l1::SECTION | l1::AP0;
            cx.set_word(name, k.ttb + 4 * i, Field::Pte, entry)?;
        }
        vm.region_insert(
            cx,
            SpaceId::KERNEL,
            cfg.kernel_base,
            vm.sections << SECTION_SHIFT,
            rf::READ | rf::WRITE | rf::EXEC,
            Name::lit("kernel"),
        )?;
        cx.emit(
            name,
            EventKind::Init {
                base: root_addr,
                size: root::SIZE,
            },
        );
        Ok(vm)
    }

    pub fn name(&self) -> Name {
        self.name
    }

    pub fn config(&self) -> VmConfig {
        self.cfg
    }

    /// The control block's address.
    pub fn root_addr(&self) -> Addr {
        self.root
    }

    /// The virtual address of physical address `pa` in the kernel's linear map.
    pub fn kernel_vaddr(&self, pa: Addr) -> Option<Addr> {
        let off = pa.checked_sub(self.phys_base)?;
        (off < self.sections << SECTION_SHIFT).then(|| self.cfg.kernel_base + off)
    }

    fn desc(&self, id: SpaceId) -> Addr {
        self.root + root::SPACE0 + id.0 as u32 * space::SIZE
    }

    /// The slot whose descriptor is at `desc`, if it is one.
    fn slot_of(&self, desc: Addr) -> Option<SpaceId> {
        let off = desc.checked_sub(self.root + root::SPACE0)?;
        let i = off / space::SIZE;
        (off % space::SIZE == 0 && i < MAX_SPACES).then_some(SpaceId(i as u8))
    }

    fn record(&self, i: u32) -> Addr {
        self.root + root::REGION0 + i * region::SIZE
    }

    /// True iff `rec` is the address of a region record.
    fn is_record(&self, rec: Addr) -> bool {
        rec.checked_sub(self.root + root::REGION0)
            .is_some_and(|off| off % region::SIZE == 0 && off / region::SIZE < MAX_REGIONS)
    }

    /// The layout a space of `kind` gets: base, size, map base, map size, heap base.
    fn layout(&self, kind: SpaceKind) -> (Addr, u32, Addr, u32, Addr) {
        let c = &self.cfg;
        match kind {
            SpaceKind::Kernel => (
                c.kernel_base,
                c.kernel_size,
                c.kernel_base,
                c.kernel_size,
                0,
            ),
            SpaceKind::Vmalloc => (
                c.vmalloc_base,
                c.vmalloc_size,
                c.vmalloc_base,
                c.vmalloc_size,
                0,
            ),
            SpaceKind::User => (
                c.user_base,
                c.user_size,
                c.user_map_base,
                c.user_map_size,
                c.user_heap_base,
            ),
        }
    }

    /// `OsVmSpaceInitCommon`: the descriptor, an empty L1 table from the buddy, the
    /// space on `g_vmSpaceList`.
    fn create_space<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        pm: &PhysMem,
        id: SpaceId,
        kind: SpaceKind,
    ) -> Result<(), VmError> {
        let name = self.name;
        let (base, size, map_base, map_size, heap_base) = self.layout(kind);
        let entries = size >> SECTION_SHIFT;
        let l1_bytes = 4 * entries;
        let ttb = pm.alloc_contiguous(cx, l1_bytes.div_ceil(pm.page_size()))?;
        pm.mark(cx, ttb, pg::TABLE)?;
        cx.fill(name, ttb, l1_bytes, 0, Field::Pte)?;
        let d = self.desc(id);
        cx.set_word(name, d + space::KIND, Field::Flags, kind.code())?;
        cx.set_word(name, d + space::BASE, Field::Base, base)?;
        cx.set_word(name, d + space::LEN, Field::Size, size)?;
        cx.set_word(name, d + space::MAP_BASE, Field::Base, map_base)?;
        cx.set_word(name, d + space::MAP_SIZE, Field::Size, map_size)?;
        cx.set_word(name, d + space::HEAP_BASE, Field::Base, heap_base)?;
        cx.set_word(name, d + space::HEAP_NOW, Field::Top, heap_base)?;
        cx.set_word(name, d + space::TTB, Field::Base, ttb)?;
        cx.set_word(name, d + space::L1_ENTRIES, Field::Count, entries)?;
        let regions = d + space::REGIONS;
        cx.set_word(name, regions, Field::Tail, regions)?;
        cx.set_word(name, regions + 4, Field::Head, regions)?;
        // Append to g_vmSpaceList.
        let head = self.root + root::SPACES;
        let last = self.space_link(cx.ram, head)?;
        cx.set_word(name, d + space::PREV, Field::Prev, last)?;
        cx.set_word(name, d + space::NEXT, Field::Next, head)?;
        let last_next = if last == head {
            Field::Head
        } else {
            Field::Next
        };
        cx.set_word(name, last + 4, last_next, d)?;
        cx.set_word(name, head, Field::Tail, d)?;
        let count_at = self.root + root::SPACE_COUNT;
        let count = cx.word(count_at)?;
        cx.set_word(name, count_at, Field::Count, count.wrapping_add(1))?;
        cx.emit(
            name,
            EventKind::Vm(VmEvent::Space {
                space: id.0 as u32,
                kind,
                base,
                size,
                ttb,
            }),
        );
        Ok(())
    }

    /// Reads a space-list link at `at`: the list head or a space descriptor.
    fn space_link<S: Storage>(&self, ram: &Ram<S>, at: Addr) -> Result<Addr, AllocError> {
        let v = ram.read_u32(at)?;
        if v == self.root + root::SPACES || self.slot_of(v).is_some() {
            Ok(v)
        } else {
            Err(AllocError::Inconsistent {
                at,
                rule: "a space-list link points neither at the list head nor at a space",
            })
        }
    }

    /// Creates a user process's space (`OsCreateUserVmSpace`) in the first free slot.
    /// Emits `space`.
    pub fn create_user_space<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        pm: &PhysMem,
    ) -> Result<SpaceId, VmError> {
        let result = self.create_user_inner(cx, pm);
        self.report(cx, VmOp::CreateSpace, result)
    }

    fn create_user_inner<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        pm: &PhysMem,
    ) -> Result<SpaceId, VmError> {
        let mut free = None;
        for i in 2..MAX_SPACES {
            let id = SpaceId(i as u8);
            if cx.word(self.desc(id) + space::KIND)? == 0 {
                free = Some(id);
                break;
            }
        }
        let id = free.ok_or(VmError::TooManySpaces { max: MAX_SPACES })?;
        self.create_space(cx, pm, id, SpaceKind::User)?;
        Ok(id)
    }

    /// Destroys a user space (`LOS_VmSpaceFree`): frees its regions (unmapping and
    /// freeing their pages), its page tables and its slot. Emits `space_free`.
    pub fn destroy_space<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        pm: &PhysMem,
        id: SpaceId,
    ) -> Result<(), VmError> {
        let result = self.destroy_inner(cx, pm, id);
        self.report(cx, VmOp::DestroySpace { space: id.0 as u32 }, result)
    }

    fn destroy_inner<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        pm: &PhysMem,
        id: SpaceId,
    ) -> Result<(), VmError> {
        let name = self.name;
        // Each removal changes the descriptor, so it is read again every time.
        for _ in 0..=MAX_SPACE_REGIONS {
            let sp = self.user_space(cx.ram, id)?;
            match self.first_region(cx.ram, &sp)? {
                Some(r) => self.region_remove(cx, pm, id, r.start)?,
                None => break,
            }
        }
        let sp = self.user_space(cx.ram, id)?;
        self.expect_ttb(cx, pm, &sp)?;
        // Reclaim can leave empty L2 tables behind; free whatever is left.
        for i in 0..sp.l1_entries {
            let at = sp.ttb + 4 * i;
            let entry = cx.word(at)?;
            if entry & l1::TYPE_MASK == l1::COARSE {
                self.free_table(cx, pm, id, i, at, entry)?;
            }
        }
        pm.free_contiguous(cx, sp.ttb, (4 * sp.l1_entries).div_ceil(pm.page_size()))?;
        let d = sp.desc;
        let prev = self.space_link(cx.ram, d + space::PREV)?;
        let next = self.space_link(cx.ram, d + space::NEXT)?;
        let head = self.root + root::SPACES;
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
        cx.fill(name, d, space::SIZE, 0, Field::Data)?;
        let count_at = self.root + root::SPACE_COUNT;
        let count = cx.word(count_at)?;
        cx.set_word(name, count_at, Field::Count, count.saturating_sub(1))?;
        if cx.word(self.root + root::CURRENT)? == id.0 as u32 {
            cx.set_word(name, self.root + root::CURRENT, Field::Owner, NO_SPACE)?;
        }
        cx.emit(
            name,
            EventKind::Vm(VmEvent::SpaceFree { space: id.0 as u32 }),
        );
        Ok(())
    }

    /// Makes `id`'s process the current one (a context switch: `TTBR0` now points at its
    /// table). Emits `switch`.
    pub fn switch_to<S: Storage>(&self, cx: &mut Ctx<'_, S>, id: SpaceId) -> Result<(), VmError> {
        let result = self.user_space(cx.ram, id).and_then(|_| {
            cx.set_word(
                self.name,
                self.root + root::CURRENT,
                Field::Owner,
                id.0 as u32,
            )?;
            cx.emit(
                self.name,
                EventKind::Vm(VmEvent::Switch { space: id.0 as u32 }),
            );
            Ok(())
        });
        self.report(cx, VmOp::Switch { space: id.0 as u32 }, result)
    }

    /// The current process's space, if a process runs.
    pub fn current<S: Storage>(&self, ram: &Ram<S>) -> Result<Option<SpaceId>, AllocError> {
        let at = self.root + root::CURRENT;
        let cur = ram.read_u32(at)?;
        if cur == NO_SPACE {
            return Ok(None);
        }
        let id = u8::try_from(cur)
            .ok()
            .map(SpaceId)
            .filter(|id| id.0 >= 2 && (id.0 as u32) < MAX_SPACES)
            .ok_or(AllocError::Inconsistent {
                at,
                rule: "the current space is not a user space slot",
            })?;
        Ok(Some(id))
    }

    /// `LOS_SpaceGet`: the space `vaddr` belongs to — the kernel space, the current
    /// process's space for a user address, the vmalloc space — or `None`.
    pub fn space_of<S: Storage>(
        &self,
        ram: &Ram<S>,
        vaddr: Addr,
    ) -> Result<Option<SpaceId>, AllocError> {
        let c = &self.cfg;
        let inside = |base: Addr, size: u32| vaddr.wrapping_sub(base) < size;
        if inside(c.kernel_base, c.kernel_size) {
            Ok(Some(SpaceId::KERNEL))
        } else if inside(c.user_base, c.user_size) {
            self.current(ram)
        } else if inside(c.vmalloc_base, c.vmalloc_size) {
            Ok(Some(SpaceId::VMALLOC))
        } else {
            Ok(None)
        }
    }

    /// The descriptor of space `id`, read from RAM.
    pub fn space<S: Storage>(&self, ram: &Ram<S>, id: SpaceId) -> Result<SpaceInfo, VmError> {
        if id.0 as u32 >= MAX_SPACES {
            return Err(VmError::NoSuchSpace { space: id.0 as u32 });
        }
        let d = self.desc(id);
        let rd = |off: u32| ram.read_u32(d + off);
        let kind = SpaceKind::from_code(rd(space::KIND)?)
            .ok_or(VmError::NoSuchSpace { space: id.0 as u32 })?;
        Ok(SpaceInfo {
            id,
            kind,
            desc: d,
            base: rd(space::BASE)?,
            size: rd(space::LEN)?,
            map_base: rd(space::MAP_BASE)?,
            map_size: rd(space::MAP_SIZE)?,
            heap_base: rd(space::HEAP_BASE)?,
            heap_now: rd(space::HEAP_NOW)?,
            heap: rd(space::HEAP)?,
            ttb: rd(space::TTB)?,
            l1_entries: rd(space::L1_ENTRIES)?,
            region_count: rd(space::REGION_COUNT)?,
        })
    }

    /// The space, which must be a user space.
    fn user_space<S: Storage>(&self, ram: &Ram<S>, id: SpaceId) -> Result<SpaceInfo, VmError> {
        let sp = self.space(ram, id)?;
        if sp.kind != SpaceKind::User {
            return Err(VmError::NotUserSpace { space: id.0 as u32 });
        }
        Ok(sp)
    }

    /// Emits the `fault` event for a failed operation.
    fn report<S: Storage, T>(
        &self,
        cx: &mut Ctx<'_, S>,
        op: VmOp,
        result: Result<T, VmError>,
    ) -> Result<T, VmError> {
        if let Err(error) = result {
            cx.emit(self.name, EventKind::Vm(VmEvent::Fault { op, error }));
        }
        result
    }
}
