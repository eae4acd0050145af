//! The physical-page layer's events, operations and errors, with their canonical text.

use core::fmt;

use crate::error::{AllocError, ConfigError};
use crate::ram::{Addr, Fault};

/// The two LRU lists of a segment (`VM_LRU_INACTIVE_ANON`, `VM_LRU_ACTIVE_ANON`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LruList {
    Inactive,
    Active,
}

impl LruList {
    pub fn as_str(self) -> &'static str {
        match self {
            LruList::Inactive => "inactive",
            LruList::Active => "active",
        }
    }

    /// Its slot in the segment descriptor.
    pub(super) fn index(self) -> u32 {
        match self {
            LruList::Inactive => 0,
            LruList::Active => 1,
        }
    }
}

/// A page-layer change that the generic events do not name. Canonical text:
/// `<source>.<word> key=value ...`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageEvent {
    /// Area `seg` became a segment of `npages` pages from `start`; its descriptor is at
    /// `desc` (`OsVmPhysSegCreate`).
    Segment {
        seg: u32,
        start: Addr,
        npages: u32,
        desc: Addr,
    },
    /// The page array at `addr` was initialised: `used` of its `entries` entries of
    /// `entry_size` bytes describe pages, the rest are zeroed (`OsVmPageInit` for every
    /// page, written in bulk as one event).
    Array {
        addr: Addr,
        entries: u32,
        used: u32,
        entry_size: u32,
    },
    /// The block at `page` entered the head of an LRU list (summary of `lru_add`).
    LruAdd { page: Addr, list: LruList },
    /// The block at `page` moved between LRU lists (aging, or a page still in use).
    LruMove {
        page: Addr,
        from: LruList,
        to: LruList,
    },
    /// The block at `page` left an LRU list (it is being freed).
    LruDel { page: Addr, list: LruList },
    /// The block at `page` was touched: it is now at the head of the active list
    /// (summary of `touch`).
    Touch { page: Addr, from: LruList },
    /// Reclaim took the block at `page` of `order` from the inactive tail and wrote it
    /// back; `pte` is the page-table entry that mapped it (0 if none).
    Writeback { page: Addr, order: u32, pte: Addr },
    /// A reference to the block at `page` was taken; it now has `refs` (summary).
    Get { page: Addr, refs: u32 },
    /// A reference to the block at `page` was dropped and `refs` remain, so it stays
    /// allocated (summary).
    Put { page: Addr, refs: u32 },
    /// An operation failed.
    Fault { op: PageOp, error: PageError },
}

impl PageEvent {
    pub fn word(&self) -> &'static str {
        match self {
            PageEvent::Segment { .. } => "segment",
            PageEvent::Array { .. } => "array",
            PageEvent::LruAdd { .. } => "lru_add",
            PageEvent::LruMove { .. } => "lru_move",
            PageEvent::LruDel { .. } => "lru_del",
            PageEvent::Touch { .. } => "touch",
            PageEvent::Writeback { .. } => "writeback",
            PageEvent::Get { .. } => "get",
            PageEvent::Put { .. } => "put",
            PageEvent::Fault { .. } => "fault",
        }
    }

    pub fn is_summary(&self) -> bool {
        matches!(
            self,
            PageEvent::LruAdd { .. }
                | PageEvent::Touch { .. }
                | PageEvent::Get { .. }
                | PageEvent::Put { .. }
                | PageEvent::Fault { .. }
        )
    }
}

/// The fields, without the leading `source.word`.
impl fmt::Display for PageEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PageEvent::Segment {
                seg,
                start,
                npages,
                desc,
            } => write!(
                f,
                "seg={seg} start={start:#010x} npages={npages} desc={desc:#010x}"
            ),
            PageEvent::Array {
                addr,
                entries,
                used,
                entry_size,
            } => write!(
                f,
                "addr={addr:#010x} entries={entries} used={used} entry_size={entry_size}"
            ),
            PageEvent::LruAdd { page, list } => {
                write!(f, "page={page:#010x} list={}", list.as_str())
            }
            PageEvent::LruMove { page, from, to } => write!(
                f,
                "page={page:#010x} from={} to={}",
                from.as_str(),
                to.as_str()
            ),
            PageEvent::LruDel { page, list } => {
                write!(f, "page={page:#010x} list={}", list.as_str())
            }
            PageEvent::Touch { page, from } => {
                write!(f, "page={page:#010x} from={}", from.as_str())
            }
            PageEvent::Writeback { page, order, pte } => {
                write!(f, "page={page:#010x} order={order} pte={pte:#010x}")
            }
            PageEvent::Get { page, refs } | PageEvent::Put { page, refs } => {
                write!(f, "page={page:#010x} refs={refs}")
            }
            PageEvent::Fault { op, error } => {
                write!(f, "{op} ")?;
                error.write_canonical(f)
            }
        }
    }
}

/// A page-layer operation, named in `fault` events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageOp {
    Boot,
    AllocPages { order: u32 },
    AllocContiguous { npages: u32 },
    FreePages { addr: Addr, order: u32 },
    FreeContiguous { addr: Addr, npages: u32 },
    Get { addr: Addr },
    Put { addr: Addr },
    LruAdd { addr: Addr },
    Touch { addr: Addr },
    Reclaim,
}

impl fmt::Display for PageOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PageOp::Boot => f.write_str("op=boot"),
            PageOp::AllocPages { order } => write!(f, "op=alloc_pages order={order}"),
            PageOp::AllocContiguous { npages } => {
                write!(f, "op=alloc_contiguous npages={npages}")
            }
            PageOp::FreePages { addr, order } => {
                write!(f, "op=free_pages addr={addr:#010x} order={order}")
            }
            PageOp::FreeContiguous { addr, npages } => {
                write!(f, "op=free_contiguous addr={addr:#010x} npages={npages}")
            }
            PageOp::Get { addr } => write!(f, "op=get addr={addr:#010x}"),
            PageOp::Put { addr } => write!(f, "op=put addr={addr:#010x}"),
            PageOp::LruAdd { addr } => write!(f, "op=lru_add addr={addr:#010x}"),
            PageOp::Touch { addr } => write!(f, "op=touch addr={addr:#010x}"),
            PageOp::Reclaim => f.write_str("op=reclaim"),
        }
    }
}

/// Why a page-layer operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageError {
    /// A request for 0 pages.
    ZeroPages,
    /// An order above 9.
    BadOrder { order: u32 },
    /// More pages than the largest block (512).
    TooLarge { npages: u32, max: u32 },
    /// No free block of `order` or above, even after reclaim; `largest` is the largest
    /// order with a free block.
    OutOfPages { order: u32, largest: Option<u32> },
    /// `addr` is not the address of a page in any segment.
    NotPage { addr: Addr },
    /// `addr` is a page inside an allocated block, not its first page.
    NotBlockHead { addr: Addr },
    /// `addr` is inside a free block.
    DoubleFree { addr: Addr },
    /// The block at `addr` has order `actual`, not the `given` one.
    WrongOrder { addr: Addr, given: u32, actual: u32 },
    /// The block's last reference belongs to the page-table entry at `pte`; unmap it.
    Mapped { addr: Addr, pte: Addr },
    /// The block at `addr` is on no LRU list.
    NotOnLru { addr: Addr },
    /// The block at `addr` is already on an LRU list.
    AlreadyOnLru { addr: Addr },
    /// The metadata in RAM is broken (`Corrupted`, `Inconsistent`, `Bus`).
    Meta(AllocError),
    /// Boot was refused.
    Config(ConfigError),
}

impl From<AllocError> for PageError {
    fn from(e: AllocError) -> PageError {
        match e {
            AllocError::Config(c) => PageError::Config(c),
            other => PageError::Meta(other),
        }
    }
}

impl From<Fault> for PageError {
    fn from(f: Fault) -> PageError {
        PageError::Meta(AllocError::Bus(f))
    }
}

impl From<ConfigError> for PageError {
    fn from(c: ConfigError) -> PageError {
        PageError::Config(c)
    }
}

impl PageError {
    pub fn kind(&self) -> &'static str {
        match self {
            PageError::ZeroPages => "ZeroPages",
            PageError::BadOrder { .. } => "BadOrder",
            PageError::TooLarge { .. } => "TooLarge",
            PageError::OutOfPages { .. } => "OutOfPages",
            PageError::NotPage { .. } => "NotPage",
            PageError::NotBlockHead { .. } => "NotBlockHead",
            PageError::DoubleFree { .. } => "DoubleFree",
            PageError::WrongOrder { .. } => "WrongOrder",
            PageError::Mapped { .. } => "Mapped",
            PageError::NotOnLru { .. } => "NotOnLru",
            PageError::AlreadyOnLru { .. } => "AlreadyOnLru",
            PageError::Meta(e) => e.kind(),
            PageError::Config(_) => "Config",
        }
    }

    /// The canonical form `error=Kind key=value ...`.
    pub fn write_canonical(&self, f: &mut dyn fmt::Write) -> fmt::Result {
        match *self {
            PageError::Meta(e) => return e.write_canonical(f),
            PageError::Config(c) => return AllocError::Config(c).write_canonical(f),
            _ => {}
        }
        write!(f, "error={}", self.kind())?;
        match *self {
            PageError::ZeroPages | PageError::Meta(_) | PageError::Config(_) => Ok(()),
            PageError::BadOrder { order } => write!(f, " order={order}"),
            PageError::TooLarge { npages, max } => write!(f, " npages={npages} max={max}"),
            PageError::OutOfPages { order, largest } => {
                write!(f, " order={order} largest_free_order=")?;
                match largest {
                    Some(l) => write!(f, "{l}"),
                    None => f.write_str("none"),
                }
            }
            PageError::NotPage { addr }
            | PageError::NotBlockHead { addr }
            | PageError::DoubleFree { addr }
            | PageError::NotOnLru { addr }
            | PageError::AlreadyOnLru { addr } => write!(f, " addr={addr:#010x}"),
            PageError::WrongOrder {
                addr,
                given,
                actual,
            } => write!(f, " addr={addr:#010x} given={given} actual={actual}"),
            PageError::Mapped { addr, pte } => write!(f, " addr={addr:#010x} pte={pte:#010x}"),
        }
    }

    /// The allocator-trait form, for callers that speak [`AllocError`] (the LiteOS heap
    /// growing from pages): `requested` is the byte count asked for.
    pub fn to_alloc(self, requested: u32, page_size: u32) -> AllocError {
        match self {
            PageError::ZeroPages => AllocError::ZeroSize,
            PageError::BadOrder { .. } | PageError::TooLarge { .. } => AllocError::TooLarge {
                requested,
                max: page_size << super::MAX_ORDER,
            },
            PageError::OutOfPages { largest, .. } => AllocError::OutOfMemory {
                requested,
                largest_free: largest.map_or(0, |l| page_size << l),
            },
            PageError::NotPage { addr }
            | PageError::NotBlockHead { addr }
            | PageError::NotOnLru { addr }
            | PageError::AlreadyOnLru { addr }
            | PageError::WrongOrder { addr, .. } => AllocError::InvalidPointer { addr },
            PageError::DoubleFree { addr } => AllocError::DoubleFree { addr },
            PageError::Mapped { addr, .. } => AllocError::Inconsistent {
                at: addr,
                rule: "the block is still mapped by a page table",
            },
            PageError::Meta(e) => e,
            PageError::Config(c) => AllocError::Config(c),
        }
    }
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PageError::ZeroPages => f.write_str("a request for 0 pages gets no block"),
            PageError::BadOrder { order } => {
                write!(f, "order {order} is above the largest order, 9")
            }
            PageError::TooLarge { npages, max } => write!(
                f,
                "{npages} pages is more than the largest block ({max} pages)"
            ),
            PageError::OutOfPages { order, largest } => {
                write!(f, "no free block of order {order} or above")?;
                match largest {
                    Some(l) => write!(f, "; the largest free block has order {l}"),
                    None => f.write_str("; no page is free"),
                }
            }
            PageError::NotPage { addr } => {
                write!(
                    f,
                    "{addr:#010x} is not the address of a page in any segment"
                )
            }
            PageError::NotBlockHead { addr } => write!(
                f,
                "{addr:#010x} is inside an allocated block but is not its first page"
            ),
            PageError::DoubleFree { addr } => {
                write!(f, "double free: {addr:#010x} is in a free block")
            }
            PageError::WrongOrder {
                addr,
                given,
                actual,
            } => write!(
                f,
                "the block at {addr:#010x} has order {actual}, it was freed as order {given}"
            ),
            PageError::Mapped { addr, pte } => write!(
                f,
                "the block at {addr:#010x} is still mapped by the page-table entry at {pte:#010x}"
            ),
            PageError::NotOnLru { addr } => {
                write!(f, "the block at {addr:#010x} is on no LRU list")
            }
            PageError::AlreadyOnLru { addr } => {
                write!(f, "the block at {addr:#010x} is already on an LRU list")
            }
            PageError::Meta(e) => write!(f, "{e}"),
            PageError::Config(c) => write!(f, "bad configuration: {c}"),
        }
    }
}
