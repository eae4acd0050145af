//! Typed errors. Every bad input to an allocator (a size, an address, a corrupted header in
//! RAM) ends in one of these, never in a panic. Each has a message a learner can read
//! (`Display`) and a canonical `key=value` form for the trace.

use core::fmt;

use crate::name::Name;
use crate::ram::{Addr, Fault};
use crate::trace::Field;

/// Why an allocator operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllocError {
    /// A request for 0 bytes; the real APIs return NULL for it.
    ZeroSize,
    /// No free block can hold the request.
    OutOfMemory { requested: u32, largest_free: u32 },
    /// The request is above the largest size this allocator serves at all (the control
    /// buffer's largest class: bigger requests belong in ADM).
    TooLarge { requested: u32, max: u32 },
    /// The address is not one this allocator handed out: foreign, interior or outside RAM.
    InvalidPointer { addr: Addr },
    /// The block at `addr` is already free.
    DoubleFree { addr: Addr },
    /// A metadata word does not hold what it must: a magic word, a guard pattern, a link.
    Corrupted {
        at: Addr,
        field: Field,
        expected: u32,
        found: u32,
    },
    /// A structural rule of the allocator is broken at `at` (found by `check()`).
    Inconsistent { at: Addr, rule: &'static str },
    /// This allocator never frees (system memory is semi-static).
    NotFreeable { addr: Addr },
    /// This allocator does not offer the operation (the real API has no such call).
    Unsupported,
    /// A metadata access left the simulated RAM; the metadata that led there is corrupt.
    Bus(Fault),
    /// The pool could not be created as configured.
    Config(ConfigError),
    /// A non-recursive lock (the mutex word at `at`) was taken again while held: on the
    /// real system the thread would wait for itself forever (AWTK's `lock(oom(...))`).
    Deadlock { at: Addr },
}

/// Why a pool's configuration is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The pool's memory range is not inside one RAM region.
    NotInRam { addr: Addr, size: u32 },
    /// The memory given is smaller than the pool's own control data needs.
    TooSmall { needed: u32, available: u32 },
    /// An alignment that is not a power of two, or too large.
    BadAlignment { align: u32 },
    /// A block or class size the allocator cannot use.
    BadBlockSize { size: u32 },
    /// A pool or class with no blocks.
    NoBlocks,
    /// Size classes must be given smallest first, each larger than the one before.
    ClassesNotAscending { size: u32 },
    /// More classes or regions than the fixed capacity.
    TooMany { max: u32 },
    /// No RAM region with that name.
    NoSuchRegion { name: Name },
    /// `addr` must be a multiple of `align` (a page, a 1 MiB section).
    Misaligned { addr: Addr, align: u32 },
    /// The range of `size` bytes at `addr` overlaps memory that is already managed
    /// or given (or comes before a range it must follow).
    Overlaps { addr: Addr, size: u32 },
}

impl From<Fault> for AllocError {
    fn from(fault: Fault) -> AllocError {
        AllocError::Bus(fault)
    }
}

impl From<ConfigError> for AllocError {
    fn from(error: ConfigError) -> AllocError {
        AllocError::Config(error)
    }
}

impl AllocError {
    /// The error's kind as one word, as scripts name it (`expect fault DoubleFree`).
    pub fn kind(&self) -> &'static str {
        match self {
            AllocError::ZeroSize => "ZeroSize",
            AllocError::OutOfMemory { .. } => "OutOfMemory",
            AllocError::TooLarge { .. } => "TooLarge",
            AllocError::InvalidPointer { .. } => "InvalidPointer",
            AllocError::DoubleFree { .. } => "DoubleFree",
            AllocError::Corrupted { .. } => "Corrupted",
            AllocError::Inconsistent { .. } => "Inconsistent",
            AllocError::NotFreeable { .. } => "NotFreeable",
            AllocError::Unsupported => "Unsupported",
            AllocError::Bus(_) => "BusFault",
            AllocError::Config(_) => "Config",
            AllocError::Deadlock { .. } => "Deadlock",
        }
    }

    /// The canonical trace form: `error=Kind key=value ...`.
    pub fn write_canonical(&self, f: &mut dyn fmt::Write) -> fmt::Result {
        write!(f, "error={}", self.kind())?;
        match *self {
            AllocError::ZeroSize | AllocError::Unsupported => Ok(()),
            AllocError::OutOfMemory {
                requested,
                largest_free,
            } => write!(f, " requested={requested} largest_free={largest_free}"),
            AllocError::TooLarge { requested, max } => {
                write!(f, " requested={requested} max={max}")
            }
            AllocError::InvalidPointer { addr }
            | AllocError::DoubleFree { addr }
            | AllocError::NotFreeable { addr } => write!(f, " addr={addr:#010x}"),
            AllocError::Corrupted {
                at,
                field,
                expected,
                found,
            } => write!(
                f,
                " at={at:#010x} field={} expected={expected:#010x} found={found:#010x}",
                field.as_str()
            ),
            AllocError::Inconsistent { at, rule } => {
                write!(f, " at={at:#010x} rule=\"{rule}\"")
            }
            AllocError::Bus(Fault::Unmapped { addr }) => write!(f, " addr={addr:#010x}"),
            AllocError::Bus(Fault::PastRegionEnd { addr, len }) => {
                write!(f, " addr={addr:#010x} len={len}")
            }
            AllocError::Config(c) => write!(f, " reason=\"{c}\""),
            AllocError::Deadlock { at } => write!(f, " at={at:#010x}"),
        }
    }
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AllocError::ZeroSize => f.write_str("a request for 0 bytes gets no block"),
            AllocError::OutOfMemory {
                requested,
                largest_free,
            } => write!(
                f,
                "out of memory: {requested} bytes were asked for, the largest free block holds {largest_free}"
            ),
            AllocError::TooLarge { requested, max } => write!(
                f,
                "{requested} bytes is above the largest size class ({max} bytes); use ADM for large blocks"
            ),
            AllocError::InvalidPointer { addr } => write!(
                f,
                "{addr:#010x} is not a block this allocator handed out (foreign, interior or outside its pool)"
            ),
            AllocError::DoubleFree { addr } => {
                write!(f, "double free: the block at {addr:#010x} is already free")
            }
            AllocError::Corrupted {
                at,
                field,
                expected,
                found,
            } => write!(
                f,
                "corrupted {} at {at:#010x}: expected {expected:#010x}, found {found:#010x}",
                field.as_str()
            ),
            AllocError::Inconsistent { at, rule } => {
                write!(f, "broken invariant at {at:#010x}: {rule}")
            }
            AllocError::NotFreeable { addr } => write!(
                f,
                "system memory is never freed (asked to free {addr:#010x})"
            ),
            AllocError::Unsupported => f.write_str("this allocator does not offer that operation"),
            AllocError::Bus(fault) => write!(f, "bus fault while reading metadata: {fault}"),
            AllocError::Config(c) => write!(f, "bad configuration: {c}"),
            AllocError::Deadlock { at } => write!(
                f,
                "deadlock: the mutex at {at:#010x} is taken again by the thread that holds it"
            ),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ConfigError::NotInRam { addr, size } => write!(
                f,
                "{size} bytes at {addr:#010x} are not inside one RAM region"
            ),
            ConfigError::TooSmall { needed, available } => write!(
                f,
                "the pool needs at least {needed} bytes, {available} were given"
            ),
            ConfigError::BadAlignment { align } => {
                write!(f, "alignment {align} is not a power of two from 1 to 4096")
            }
            ConfigError::BadBlockSize { size } => {
                write!(f, "block size {size} cannot be used here")
            }
            ConfigError::NoBlocks => f.write_str("a pool needs at least one block"),
            ConfigError::ClassesNotAscending { size } => write!(
                f,
                "size classes must grow from smallest to largest; {size} is out of order"
            ),
            ConfigError::TooMany { max } => write!(f, "at most {max} are allowed"),
            ConfigError::NoSuchRegion { name } => write!(f, "there is no RAM region named {name}"),
            ConfigError::Misaligned { addr, align } => {
                write!(f, "{addr:#010x} is not a multiple of {align}")
            }
            ConfigError::Overlaps { addr, size } => write!(
                f,
                "the {size} bytes at {addr:#010x} overlap memory that is already managed or given"
            ),
        }
    }
}
