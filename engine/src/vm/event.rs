//! The VM layer's events, operations and errors, with their canonical text.

use core::fmt;

use crate::error::{AllocError, ConfigError};
use crate::name::Name;
use crate::pages::PageError;
use crate::ram::{Addr, Fault};

use super::rf;

/// Which kind of address space (`OsKernVmSpaceInit`, `OsVMallocSpaceInit`,
/// `OsUserVmSpaceInit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpaceKind {
    Kernel,
    Vmalloc,
    User,
}

impl SpaceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SpaceKind::Kernel => "kernel",
            SpaceKind::Vmalloc => "vmalloc",
            SpaceKind::User => "user",
        }
    }

    /// Its code in a space descriptor's `KIND` word (0 is an unused slot).
    pub fn code(self) -> u32 {
        match self {
            SpaceKind::Kernel => 1,
            SpaceKind::Vmalloc => 2,
            SpaceKind::User => 3,
        }
    }

    pub fn from_code(code: u32) -> Option<SpaceKind> {
        match code {
            1 => Some(SpaceKind::Kernel),
            2 => Some(SpaceKind::Vmalloc),
            3 => Some(SpaceKind::User),
            _ => None,
        }
    }
}

/// Region flags as one token: `r`, `w`, `x`, `u` (user), `h` (heap) or `-` each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Perm(pub u32);

impl fmt::Display for Perm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (bit, c) in [
            (rf::READ, 'r'),
            (rf::WRITE, 'w'),
            (rf::EXEC, 'x'),
            (rf::USER, 'u'),
            (rf::HEAP, 'h'),
        ] {
            let c = if self.0 & bit != 0 { c } else { '-' };
            fmt::Write::write_char(f, c)?;
        }
        Ok(())
    }
}

/// A VM change. Canonical text: `<source>.<word> key=value ...`; `space` is the space's
/// slot number (0 kernel, 1 vmalloc, 2 and up user processes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmEvent {
    /// An address space was created with its L1 table at `ttb` (summary).
    Space {
        space: u32,
        kind: SpaceKind,
        base: Addr,
        size: u32,
        ttb: Addr,
    },
    /// A user space was destroyed (summary).
    SpaceFree { space: u32 },
    /// The current process is now the one owning `space` (summary).
    Switch { space: u32 },
    /// A region was added (summary of `region_alloc`).
    Region {
        space: u32,
        start: Addr,
        size: u32,
        flags: Perm,
        name: Name,
    },
    /// A region was removed (summary of `region_free`).
    RegionFree { space: u32, start: Addr, size: u32 },
    /// The region at `start` changed size (the heap, by `brk`).
    Resize { space: u32, start: Addr, size: u32 },
    /// Walk step 1: L1 entry number `index` of the space's table, at `at`, holds
    /// `entry`.
    L1 {
        vaddr: Addr,
        index: u32,
        at: Addr,
        entry: u32,
    },
    /// Walk step 2: entry `index` of the L2 table, at `at`, holds `entry`.
    L2 { index: u32, at: Addr, entry: u32 },
    /// An L2 table was installed at `table` for L1 entry `index`.
    Table { space: u32, index: u32, table: Addr },
    /// The empty L2 table at `table` of L1 entry `index` was freed.
    TableFree { space: u32, index: u32, table: Addr },
    /// An access to `vaddr` found no mapping in a demand-paged region: a fresh zeroed
    /// page will be mapped.
    PageFault { vaddr: Addr, region: Addr },
    /// `vaddr` now maps to `paddr` (summary of `map`; also a step of larger operations).
    Map {
        space: u32,
        vaddr: Addr,
        paddr: Addr,
    },
    /// `vaddr`, which mapped `paddr`, is unmapped (summary of `unmap`; also a step).
    Unmap {
        space: u32,
        vaddr: Addr,
        paddr: Addr,
    },
    /// `vaddr` translates to `paddr` (summary of `translate`).
    Translate { vaddr: Addr, paddr: Addr },
    /// The access to `vaddr` reached `paddr` (summary of `access`).
    Access {
        vaddr: Addr,
        paddr: Addr,
        write: bool,
    },
    /// The heap break moved from `old` to `new` (summary of `brk`).
    Brk { space: u32, old: Addr, new: Addr },
    /// An operation failed; a `SegFault` error is the segmentation fault.
    Fault { op: VmOp, error: VmError },
}

impl VmEvent {
    pub fn word(&self) -> &'static str {
        match self {
            VmEvent::Space { .. } => "space",
            VmEvent::SpaceFree { .. } => "space_free",
            VmEvent::Switch { .. } => "switch",
            VmEvent::Region { .. } => "region",
            VmEvent::RegionFree { .. } => "region_free",
            VmEvent::Resize { .. } => "resize",
            VmEvent::L1 { .. } => "l1",
            VmEvent::L2 { .. } => "l2",
            VmEvent::Table { .. } => "table",
            VmEvent::TableFree { .. } => "table_free",
            VmEvent::PageFault { .. } => "page_fault",
            VmEvent::Map { .. } => "map",
            VmEvent::Unmap { .. } => "unmap",
            VmEvent::Translate { .. } => "translate",
            VmEvent::Access { .. } => "access",
            VmEvent::Brk { .. } => "brk",
            VmEvent::Fault { .. } => "fault",
        }
    }

    pub fn is_summary(&self) -> bool {
        matches!(
            self,
            VmEvent::Space { .. }
                | VmEvent::SpaceFree { .. }
                | VmEvent::Switch { .. }
                | VmEvent::Region { .. }
                | VmEvent::RegionFree { .. }
                | VmEvent::Map { .. }
                | VmEvent::Unmap { .. }
                | VmEvent::Translate { .. }
                | VmEvent::Access { .. }
                | VmEvent::Brk { .. }
                | VmEvent::Fault { .. }
        )
    }
}

/// The fields, without the leading `source.word`.
impl fmt::Display for VmEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            VmEvent::Space {
                space,
                kind,
                base,
                size,
                ttb,
            } => write!(
                f,
                "space={space} kind={} base={base:#010x} size={size} ttb={ttb:#010x}",
                kind.as_str()
            ),
            VmEvent::SpaceFree { space } | VmEvent::Switch { space } => {
                write!(f, "space={space}")
            }
            VmEvent::Region {
                space,
                start,
                size,
                flags,
                name,
            } => write!(
                f,
                "space={space} start={start:#010x} size={size} flags={flags} name={name}"
            ),
            VmEvent::RegionFree { space, start, size } | VmEvent::Resize { space, start, size } => {
                write!(f, "space={space} start={start:#010x} size={size}")
            }
            VmEvent::L1 {
                vaddr,
                index,
                at,
                entry,
            } => write!(
                f,
                "vaddr={vaddr:#010x} index={index} at={at:#010x} entry={entry:#010x}"
            ),
            VmEvent::L2 { index, at, entry } => {
                write!(f, "index={index} at={at:#010x} entry={entry:#010x}")
            }
            VmEvent::Table {
                space,
                index,
                table,
            }
            | VmEvent::TableFree {
                space,
                index,
                table,
            } => write!(f, "space={space} index={index} table={table:#010x}"),
            VmEvent::PageFault { vaddr, region } => {
                write!(f, "vaddr={vaddr:#010x} region={region:#010x}")
            }
            VmEvent::Map {
                space,
                vaddr,
                paddr,
            }
            | VmEvent::Unmap {
                space,
                vaddr,
                paddr,
            } => write!(f, "space={space} vaddr={vaddr:#010x} paddr={paddr:#010x}"),
            VmEvent::Translate { vaddr, paddr } => {
                write!(f, "vaddr={vaddr:#010x} paddr={paddr:#010x}")
            }
            VmEvent::Access {
                vaddr,
                paddr,
                write,
            } => write!(
                f,
                "vaddr={vaddr:#010x} paddr={paddr:#010x} write={}",
                write as u8
            ),
            VmEvent::Brk { space, old, new } => {
                write!(f, "space={space} old={old:#010x} new={new:#010x}")
            }
            VmEvent::Fault { op, error } => {
                write!(f, "{op} ")?;
                error.write_canonical(f)
            }
        }
    }
}

/// A VM operation, named in `fault` events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmOp {
    Init,
    CreateSpace,
    DestroySpace {
        space: u32,
    },
    Switch {
        space: u32,
    },
    RegionAlloc {
        space: u32,
        addr: Addr,
        size: u32,
    },
    RegionFree {
        space: u32,
        addr: Addr,
    },
    Map {
        space: u32,
        vaddr: Addr,
        paddr: Addr,
    },
    Unmap {
        space: u32,
        vaddr: Addr,
    },
    Translate {
        space: u32,
        vaddr: Addr,
    },
    Access {
        vaddr: Addr,
        write: bool,
    },
    Brk {
        space: u32,
        addr: Addr,
    },
    Vmalloc {
        size: u32,
    },
    Vfree {
        addr: Addr,
    },
}

impl fmt::Display for VmOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            VmOp::Init => f.write_str("op=init"),
            VmOp::CreateSpace => f.write_str("op=create_space"),
            VmOp::DestroySpace { space } => write!(f, "op=destroy_space space={space}"),
            VmOp::Switch { space } => write!(f, "op=switch space={space}"),
            VmOp::RegionAlloc { space, addr, size } => write!(
                f,
                "op=region_alloc space={space} addr={addr:#010x} size={size}"
            ),
            VmOp::RegionFree { space, addr } => {
                write!(f, "op=region_free space={space} addr={addr:#010x}")
            }
            VmOp::Map {
                space,
                vaddr,
                paddr,
            } => write!(
                f,
                "op=map space={space} vaddr={vaddr:#010x} paddr={paddr:#010x}"
            ),
            VmOp::Unmap { space, vaddr } => {
                write!(f, "op=unmap space={space} vaddr={vaddr:#010x}")
            }
            VmOp::Translate { space, vaddr } => {
                write!(f, "op=translate space={space} vaddr={vaddr:#010x}")
            }
            VmOp::Access { vaddr, write } => {
                write!(f, "op=access vaddr={vaddr:#010x} write={}", write as u8)
            }
            VmOp::Brk { space, addr } => write!(f, "op=brk space={space} addr={addr:#010x}"),
            VmOp::Vmalloc { size } => write!(f, "op=vmalloc size={size}"),
            VmOp::Vfree { addr } => write!(f, "op=vfree addr={addr:#010x}"),
        }
    }
}

/// Why a VM operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmError {
    /// Segmentation fault: `vaddr` is in no space, or in no region of its space.
    SegFault { vaddr: Addr },
    /// The region holding `vaddr` does not allow the access.
    Protection { vaddr: Addr, write: bool },
    /// Nothing is mapped at `vaddr` and its region is not demand-paged.
    NotMapped { vaddr: Addr },
    /// `vaddr` already maps `paddr`.
    AlreadyMapped { vaddr: Addr, paddr: Addr },
    /// The range `[start, start + size)` overlaps the region at `other`.
    Overlap { start: Addr, size: u32, other: Addr },
    /// The range `[start, start + size)` is not inside the space.
    OutsideSpace { start: Addr, size: u32 },
    /// No gap of `size` bytes is left in the space's map range.
    NoVirtualSpace { size: u32 },
    /// `addr` must be a multiple of 4096.
    Misaligned { addr: Addr },
    /// A region of 0 bytes.
    ZeroSize,
    /// No region starts at `addr` in that space.
    NoSuchRegion { addr: Addr },
    /// No space in slot `space`.
    NoSuchSpace { space: u32 },
    /// Slot `space` is not a user space (the operation needs one).
    NotUserSpace { space: u32 },
    /// The region table (per space or in all) is full.
    TooManyRegions { max: u32 },
    /// Every space slot is used.
    TooManySpaces { max: u32 },
    /// The break `addr` is below the heap base or would reach `limit` (the map base).
    BrkOutOfRange { addr: Addr, base: Addr, limit: Addr },
    /// `paddr` is inside a free block of the buddy allocator.
    FrameNotAllocated { paddr: Addr },
    /// `paddr` is inside a block that holds page tables.
    FrameIsTable { paddr: Addr },
    /// The block at `paddr` is already mapped by the entry at `pte`; a block is mapped
    /// at most once (this simulation shares no pages), so its reverse mapping is exact.
    FrameMapped { paddr: Addr, pte: Addr },
    /// The page layer failed (out of pages for a table or a demand page).
    Page(PageError),
    /// The metadata in RAM is broken.
    Meta(AllocError),
    /// `Vm::init` was refused.
    Config(ConfigError),
}

impl From<PageError> for VmError {
    fn from(e: PageError) -> VmError {
        match e {
            PageError::Meta(m) => VmError::Meta(m),
            other => VmError::Page(other),
        }
    }
}

impl From<AllocError> for VmError {
    fn from(e: AllocError) -> VmError {
        match e {
            AllocError::Config(c) => VmError::Config(c),
            other => VmError::Meta(other),
        }
    }
}

impl From<Fault> for VmError {
    fn from(f: Fault) -> VmError {
        VmError::Meta(AllocError::Bus(f))
    }
}

impl From<ConfigError> for VmError {
    fn from(c: ConfigError) -> VmError {
        VmError::Config(c)
    }
}

impl VmError {
    pub fn kind(&self) -> &'static str {
        match self {
            VmError::SegFault { .. } => "SegFault",
            VmError::Protection { .. } => "Protection",
            VmError::NotMapped { .. } => "NotMapped",
            VmError::AlreadyMapped { .. } => "AlreadyMapped",
            VmError::Overlap { .. } => "Overlap",
            VmError::OutsideSpace { .. } => "OutsideSpace",
            VmError::NoVirtualSpace { .. } => "NoVirtualSpace",
            VmError::Misaligned { .. } => "Misaligned",
            VmError::ZeroSize => "ZeroSize",
            VmError::NoSuchRegion { .. } => "NoSuchRegion",
            VmError::NoSuchSpace { .. } => "NoSuchSpace",
            VmError::NotUserSpace { .. } => "NotUserSpace",
            VmError::TooManyRegions { .. } => "TooManyRegions",
            VmError::TooManySpaces { .. } => "TooManySpaces",
            VmError::BrkOutOfRange { .. } => "BrkOutOfRange",
            VmError::FrameNotAllocated { .. } => "FrameNotAllocated",
            VmError::FrameMapped { .. } => "FrameMapped",
            VmError::FrameIsTable { .. } => "FrameIsTable",
            VmError::Page(e) => e.kind(),
            VmError::Meta(e) => e.kind(),
            VmError::Config(_) => "Config",
        }
    }

    /// The canonical form `error=Kind key=value ...`.
    pub fn write_canonical(&self, f: &mut dyn fmt::Write) -> fmt::Result {
        match *self {
            VmError::Page(e) => return e.write_canonical(f),
            VmError::Meta(e) => return e.write_canonical(f),
            VmError::Config(c) => return AllocError::Config(c).write_canonical(f),
            _ => {}
        }
        write!(f, "error={}", self.kind())?;
        match *self {
            VmError::SegFault { vaddr } | VmError::NotMapped { vaddr } => {
                write!(f, " vaddr={vaddr:#010x}")
            }
            VmError::Protection { vaddr, write } => {
                write!(f, " vaddr={vaddr:#010x} write={}", write as u8)
            }
            VmError::AlreadyMapped { vaddr, paddr } => {
                write!(f, " vaddr={vaddr:#010x} paddr={paddr:#010x}")
            }
            VmError::Overlap { start, size, other } => {
                write!(f, " start={start:#010x} size={size} other={other:#010x}")
            }
            VmError::OutsideSpace { start, size } => {
                write!(f, " start={start:#010x} size={size}")
            }
            VmError::NoVirtualSpace { size } => write!(f, " size={size}"),
            VmError::Misaligned { addr } | VmError::NoSuchRegion { addr } => {
                write!(f, " addr={addr:#010x}")
            }
            VmError::NoSuchSpace { space } | VmError::NotUserSpace { space } => {
                write!(f, " space={space}")
            }
            VmError::TooManyRegions { max } | VmError::TooManySpaces { max } => {
                write!(f, " max={max}")
            }
            VmError::BrkOutOfRange { addr, base, limit } => write!(
                f,
                " addr={addr:#010x} base={base:#010x} limit={limit:#010x}"
            ),
            VmError::FrameNotAllocated { paddr } | VmError::FrameIsTable { paddr } => {
                write!(f, " paddr={paddr:#010x}")
            }
            VmError::FrameMapped { paddr, pte } => {
                write!(f, " paddr={paddr:#010x} pte={pte:#010x}")
            }
            VmError::ZeroSize | VmError::Page(_) | VmError::Meta(_) | VmError::Config(_) => Ok(()),
        }
    }
}

impl fmt::Display for VmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            VmError::SegFault { vaddr } => write!(
                f,
                "segmentation fault: {vaddr:#010x} is outside every region of its address space"
            ),
            VmError::Protection { vaddr, write } => write!(
                f,
                "protection fault: the region at {vaddr:#010x} does not allow {}",
                if write { "writing" } else { "reading" }
            ),
            VmError::NotMapped { vaddr } => write!(
                f,
                "nothing is mapped at {vaddr:#010x} and its region is not demand-paged"
            ),
            VmError::AlreadyMapped { vaddr, paddr } => {
                write!(f, "{vaddr:#010x} already maps {paddr:#010x}")
            }
            VmError::Overlap { start, size, other } => write!(
                f,
                "the {size} bytes at {start:#010x} overlap the region at {other:#010x}"
            ),
            VmError::OutsideSpace { start, size } => write!(
                f,
                "the {size} bytes at {start:#010x} are not inside the address space"
            ),
            VmError::NoVirtualSpace { size } => write!(
                f,
                "no free range of {size} bytes is left in the space's map area"
            ),
            VmError::Misaligned { addr } => {
                write!(f, "{addr:#010x} is not a multiple of the 4096-byte page")
            }
            VmError::ZeroSize => f.write_str("a region of 0 bytes"),
            VmError::NoSuchRegion { addr } => write!(f, "no region starts at {addr:#010x}"),
            VmError::NoSuchSpace { space } => write!(f, "there is no address space {space}"),
            VmError::NotUserSpace { space } => {
                write!(f, "address space {space} is not a user process's")
            }
            VmError::TooManyRegions { max } => {
                write!(f, "the region table is full ({max} regions)")
            }
            VmError::TooManySpaces { max } => {
                write!(f, "every address space slot is used ({max})")
            }
            VmError::BrkOutOfRange { addr, base, limit } => write!(
                f,
                "the break {addr:#010x} is outside the heap's range [{base:#010x}, {limit:#010x})"
            ),
            VmError::FrameNotAllocated { paddr } => write!(
                f,
                "{paddr:#010x} is in a free block; map only pages that were allocated"
            ),
            VmError::FrameIsTable { paddr } => {
                write!(f, "{paddr:#010x} holds page tables; it cannot be mapped")
            }
            VmError::FrameMapped { paddr, pte } => write!(
                f,
                "the block at {paddr:#010x} is already mapped by the entry at {pte:#010x}"
            ),
            VmError::Page(e) => write!(f, "{e}"),
            VmError::Meta(e) => write!(f, "{e}"),
            VmError::Config(c) => write!(f, "bad configuration: {c}"),
        }
    }
}
