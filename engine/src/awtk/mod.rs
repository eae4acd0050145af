//! AWTK's memory allocator, `mem_allocator`: one interface, two kinds of base allocator and
//! four decorators that wrap any allocator and stack in any order (seed 003; AWTK's
//! `src/tkc/mem_allocator*.h`).
//!
//! # The real mechanism
//!
//! AWTK (the GUI toolkit from ZLG) reaches memory only through a `mem_allocator_t`, a struct
//! whose first word points at a vtable of four calls (plus `destroy`):
//!
//! ```c
//! void* mem_allocator_alloc(mem_allocator_t* a, uint32_t size, const char* func, uint32_t line);
//! void* mem_allocator_realloc(mem_allocator_t* a, void* ptr, uint32_t size, const char* func, uint32_t line);
//! void  mem_allocator_free(mem_allocator_t* a, void* ptr);
//! ret_t mem_allocator_dump(mem_allocator_t* a);
//! ```
//!
//! `func` and `line` are the caller's `__FUNCTION__` and `__LINE__` (the `TKMEM_ALLOC` macro
//! passes them), kept only for debugging. Here that interface is the [`MemAllocator`] trait
//! and the call site is a [`CallSite`].
//!
//! The bases:
//! - `mem_allocator_std` wraps the C library's `malloc`/`realloc`/`free`. Its counterpart here
//!   is [`Std`], which wraps *any* engine [`Allocator`] (so LiteOS's best fit or TLSF can be
//!   the base).
//! - `mem_allocator_simple` is AWTK's own allocator for systems without `malloc`: a first-fit,
//!   address-ordered free list with a 4-byte size header per block and coalescing on free.
//!   It is [`Simple`].
//!
//! The decorators, each a struct whose `impl` field points at the allocator it wraps:
//! - `mem_allocator_lock` takes a mutex around every call (needed for `simple`);
//! - `mem_allocator_pool` carves five pools of 8, 16, 32, 48 and 64-byte blocks from the
//!   allocator below and serves small requests from them (the seed: about 80% of requests are
//!   small, so this keeps the heap from fragmenting);
//! - `mem_allocator_debug` logs every live block with `func:line` so `tk_mem_dump` can list
//!   them and leaks show up;
//! - `mem_allocator_oom` calls a registered release callback when a request fails and tries
//!   again, up to `TRY_MAX_TIMES` (5) times; a request of `0xFFFFFFFF` fails on purpose to
//!   test that path.
//!
//! `tk_mem_init` builds such a chain; [`DecoratorStack`] builds one from a run-time list of
//! [`Layer`]s, outermost first, as a script says it: `awtk stack oom debug pool lock simple`.
//!
//! # In the simulator
//!
//! Everything the real structs hold lives in the simulated RAM: the simple heap's
//! `mem_allocator_simple_t` and its block headers, each decorator object (vtable word, `impl`
//! pointer, counters), the mutex, the debug log, and the pools' `mem_pool_t` headers, bitmaps
//! and blocks. The Rust values hold only configuration and root addresses. Each decorator
//! reports what it adds as [`AwtkEvent`]s in the trace and offers its figures for the UI
//! ([`Figures`]).

use core::fmt;

use crate::allocator::{Allocator, Ctx};
use crate::error::AllocError;
use crate::ram::{Addr, Storage};
use crate::trace::{EventKind, Op};

pub mod debug;
pub mod lock;
pub mod oom;
pub mod pool;
pub mod simple;
pub mod stack;
pub mod std_base;

pub use debug::{DebugFigures, Leak};
pub use lock::LockFigures;
pub use oom::{NoRelease, OnOutOfMemory, OomFigures, Reenter, ReleaseOldest, TRY_MAX_TIMES};
pub use pool::{PoolConfig, PoolFigures, PoolUse, BLOCK_SIZES, POOLS};
pub use simple::{Simple, SimpleInfo};
pub use stack::{DecoratorStack, Figures, Layer, StackConfig, MAX_LAYERS};
pub use std_base::Std;

/// A C function name as `__FUNCTION__` gives it: 0 to [`FuncName::CAPACITY`] characters from
/// `[A-Za-z0-9_]`; empty means unknown and prints as `-`.
///
/// Invariant: `bytes[..len]` is valid ASCII from that set and `bytes[len..]` is all zero, which
/// is also how a debug log entry stores it in RAM (NUL-padded).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FuncName {
    len: u8,
    bytes: [u8; FuncName::CAPACITY],
}

/// Why a text is not a valid [`FuncName`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FuncNameError {
    TooLong { len: usize },
    BadChar { index: usize },
}

impl FuncName {
    /// Long enough for AWTK's own names (`image_manager_get_bitmap_impl` has 29 characters);
    /// with the terminating NUL a name fills 32 bytes of a log entry.
    pub const CAPACITY: usize = 31;

    /// No function recorded.
    pub const UNKNOWN: FuncName = FuncName {
        len: 0,
        bytes: [0; FuncName::CAPACITY],
    };

    /// Checks and stores `text`.
    pub const fn new(text: &str) -> Result<FuncName, FuncNameError> {
        let src = text.as_bytes();
        if src.len() > FuncName::CAPACITY {
            return Err(FuncNameError::TooLong { len: src.len() });
        }
        let mut bytes = [0u8; FuncName::CAPACITY];
        let mut i = 0;
        while i < src.len() {
            let c = src[i];
            if !(c.is_ascii_alphanumeric() || c == b'_') {
                return Err(FuncNameError::BadChar { index: i });
            }
            bytes[i] = c;
            i += 1;
        }
        Ok(FuncName {
            len: src.len() as u8,
            bytes,
        })
    }

    /// A name from a literal known to be valid; an invalid literal fails the build when used
    /// in a `const`.
    pub const fn lit(text: &str) -> FuncName {
        match FuncName::new(text) {
            Ok(name) => name,
            Err(_) => panic!("invalid FuncName literal"),
        }
    }

    pub fn as_str(&self) -> &str {
        let len = (self.len as usize).min(FuncName::CAPACITY);
        core::str::from_utf8(&self.bytes[..len]).unwrap_or("?")
    }

    pub fn is_unknown(&self) -> bool {
        self.len == 0
    }

    /// The 32 bytes a debug log entry stores: the text, then zeros.
    pub fn to_bytes(&self) -> [u8; FUNC_BYTES as usize] {
        let mut out = [0u8; FUNC_BYTES as usize];
        out[..FuncName::CAPACITY].copy_from_slice(&self.bytes);
        out
    }

    /// Reads the 32 bytes of a log entry back; `None` unless they are a valid name followed
    /// only by zeros.
    pub fn from_bytes(raw: &[u8]) -> Option<FuncName> {
        if raw.len() != FUNC_BYTES as usize {
            return None;
        }
        let len = raw.iter().position(|&b| b == 0)?;
        if raw[len..].iter().any(|&b| b != 0) {
            return None;
        }
        let text = core::str::from_utf8(&raw[..len]).ok()?;
        FuncName::new(text).ok()
    }
}

/// How many bytes a function name takes in RAM.
pub const FUNC_BYTES: u32 = 32;

impl fmt::Display for FuncName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_unknown() {
            f.write_str("-")
        } else {
            f.write_str(self.as_str())
        }
    }
}

impl fmt::Debug for FuncName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for FuncNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FuncNameError::TooLong { len } => write!(
                f,
                "a function name has at most {} characters, this one has {len}",
                FuncName::CAPACITY
            ),
            FuncNameError::BadChar { index } => write!(
                f,
                "character {} of the function name is not a letter, digit or '_'",
                index + 1
            ),
        }
    }
}

/// Where a request came from: AWTK's `func` and `line` (`__FUNCTION__`, `__LINE__`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallSite {
    pub func: FuncName,
    pub line: u32,
}

impl CallSite {
    /// A request with no call site (through the engine's [`Allocator`] interface).
    pub const NONE: CallSite = CallSite {
        func: FuncName::UNKNOWN,
        line: 0,
    };

    pub const fn new(func: &str, line: u32) -> Result<CallSite, FuncNameError> {
        match FuncName::new(func) {
            Ok(func) => Ok(CallSite { func, line }),
            Err(e) => Err(e),
        }
    }

    /// A call site from a literal known to be valid.
    pub const fn lit(func: &str, line: u32) -> CallSite {
        CallSite {
            func: FuncName::lit(func),
            line,
        }
    }
}

/// The canonical form: `func=<name> line=<n>`.
impl fmt::Display for CallSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "func={} line={}", self.func, self.line)
    }
}

/// A block handed out: its address and how many bytes it takes in all (header and rounding
/// included), so the top of a stack can report the block in its `alloc` event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    pub addr: Addr,
    pub block: u32,
}

/// AWTK's `mem_allocator_t` vtable: alloc, realloc, free and dump, with the call site.
///
/// It extends the engine's [`Allocator`] (which gives `name`, `walk`, `check`, `stats`), so
/// every AWTK allocator can also be drawn, checked and run under the common harness.
///
/// Like the [`Allocator`] wrappers, each `mem_*` method emits its detail events, then its
/// summary (`alloc`, `free`, `realloc`) or, on error, a `fault` event; and it changes nothing
/// when it fails.
pub trait MemAllocator: Allocator {
    /// Where the allocator object sits in RAM: the value a decorator's `impl` pointer holds.
    /// 0 for an allocator whose object is outside the simulated RAM (the C library's).
    fn object(&self) -> Addr {
        0
    }

    /// `mem_allocator_alloc`: `size` bytes for the code at `site`.
    fn mem_alloc<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        site: CallSite,
    ) -> Result<Grant, AllocError>;

    /// `mem_allocator_realloc`: resizes the block at `addr`, moving it if it must.
    fn mem_realloc<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
        size: u32,
        site: CallSite,
    ) -> Result<Addr, AllocError>;

    /// `mem_allocator_free`: gives the block at `addr` back; returns the block's size in all.
    fn mem_free<S: Storage>(&mut self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<u32, AllocError>;

    /// `mem_allocator_dump`: emits what the allocator knows as `dump_*` events.
    fn mem_dump<S: Storage>(&mut self, cx: &mut Ctx<'_, S>) -> Result<(), AllocError>;
}

/// Emits the `fault` event for `error` and hands the error back.
pub(crate) fn fault<S: Storage>(
    cx: &mut Ctx<'_, S>,
    source: crate::name::Name,
    op: Op,
    error: AllocError,
) -> AllocError {
    cx.emit(source, EventKind::Fault { op, error });
    error
}

/// The request size AWTK's oom decorator refuses on purpose: "normally no one allocates a
/// 4 GiB block, so testing with it is safe".
pub const FORCE_OOM_SIZE: u32 = 0xFFFF_FFFF;

/// What an AWTK decorator did, as one trace line `<layer>.<word> key=value ...`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AwtkEvent {
    /// `lock`: the mutex was taken; `count` locks so far.
    Lock { count: u32 },
    /// `lock`: the mutex was given back; `count` unlocks so far.
    Unlock { count: u32 },
    /// `lock`: the mutex at `mutex` was asked for while already held, by a call that came
    /// back in (the oom release callback calling `tk_free` under an outer lock). A real
    /// mutex deadlocks here; the simulator refuses the call. `count` re-entries so far.
    Reentry { mutex: Addr, count: u32 },
    /// `pool`: `size` bytes were served at `addr` by the pool of `pool`-byte blocks, which
    /// now has `used` blocks out.
    PoolHit {
        size: u32,
        pool: u32,
        addr: Addr,
        used: u32,
    },
    /// `pool`: the request went on to the allocator below: its pool (of `pool`-byte blocks)
    /// was full, or no pool takes that size (`pool=0`).
    PoolMiss { size: u32, pool: u32 },
    /// `pool`: the block at `addr` went back to its pool, which now has `used` blocks out.
    PoolPut { addr: Addr, pool: u32, used: u32 },
    /// `debug`: log entry `entry` now records the block at `addr` of `size` bytes and who
    /// asked.
    Record {
        entry: Addr,
        addr: Addr,
        size: u32,
        site: CallSite,
    },
    /// `debug`: log entry `entry`, which recorded the block at `addr`, was cleared.
    Unrecord { entry: Addr, addr: Addr },
    /// `debug`: the log was full, so the block at `addr` goes unrecorded (AWTK ignores this).
    Dropped {
        addr: Addr,
        size: u32,
        site: CallSite,
    },
    /// `oom`: a request of `0xFFFFFFFF` bytes fails without asking below.
    Forced { size: u32 },
    /// `oom`: try number `tried` for `size` bytes failed; the release callback is called.
    Release {
        tried: u32,
        size: u32,
        site: CallSite,
    },
    /// `oom`: the request is tried again after `tried` failures.
    Retry { tried: u32, size: u32 },
    /// `oom`: `tried` tries failed; the request fails.
    GiveUp { tried: u32, size: u32 },
    /// A base allocator's dump: `used` bytes in `blocks` live blocks.
    DumpHeap { used: u32, blocks: u32 },
    /// `pool`'s dump, one line per pool (AWTK: `block_size=.. block_nr=.. used=..`).
    DumpPool {
        pool: u32,
        block_nr: u32,
        used: u32,
        hits: u32,
    },
    /// `debug`'s dump, one line per live block (AWTK: `[%d] %p %u %s:%u`).
    DumpEntry {
        index: u32,
        addr: Addr,
        size: u32,
        site: CallSite,
    },
    /// `debug`'s summary line, AWTK's `mem_info:` with its size histogram.
    DumpInfo {
        used_block: u32,
        used_size: u32,
        le8: u32,
        le16: u32,
        le32: u32,
        le48: u32,
        le64: u32,
        ge1024: u32,
    },
    /// The end of `tk_mem_dump` over a stack of `layers` decorators.
    Dump { layers: u32 },
}

impl AwtkEvent {
    /// The kind's word in the canonical line.
    pub fn word(&self) -> &'static str {
        match self {
            AwtkEvent::Lock { .. } => "lock",
            AwtkEvent::Unlock { .. } => "unlock",
            AwtkEvent::Reentry { .. } => "reentry",
            AwtkEvent::PoolHit { .. } => "hit",
            AwtkEvent::PoolMiss { .. } => "miss",
            AwtkEvent::PoolPut { .. } => "put",
            AwtkEvent::Record { .. } => "record",
            AwtkEvent::Unrecord { .. } => "unrecord",
            AwtkEvent::Dropped { .. } => "dropped",
            AwtkEvent::Forced { .. } => "forced",
            AwtkEvent::Release { .. } => "release",
            AwtkEvent::Retry { .. } => "retry",
            AwtkEvent::GiveUp { .. } => "give_up",
            AwtkEvent::DumpHeap { .. } => "dump_heap",
            AwtkEvent::DumpPool { .. } => "dump_pool",
            AwtkEvent::DumpEntry { .. } => "dump_entry",
            AwtkEvent::DumpInfo { .. } => "mem_info",
            AwtkEvent::Dump { .. } => "dump",
        }
    }

    /// True for the event that closes an operation: only the end of a dump (allocations
    /// close with the engine's `alloc`, `free`, `realloc` or `fault`).
    pub fn is_summary(&self) -> bool {
        matches!(self, AwtkEvent::Dump { .. })
    }
}

/// The canonical `key=value` fields, in declaration order.
impl fmt::Display for AwtkEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AwtkEvent::Lock { count } | AwtkEvent::Unlock { count } => write!(f, "count={count}"),
            AwtkEvent::Reentry { mutex, count } => {
                write!(f, "mutex={mutex:#010x} count={count}")
            }
            AwtkEvent::PoolHit {
                size,
                pool,
                addr,
                used,
            } => write!(f, "size={size} pool={pool} addr={addr:#010x} used={used}"),
            AwtkEvent::PoolMiss { size, pool } => write!(f, "size={size} pool={pool}"),
            AwtkEvent::PoolPut { addr, pool, used } => {
                write!(f, "addr={addr:#010x} pool={pool} used={used}")
            }
            AwtkEvent::Record {
                entry,
                addr,
                size,
                site,
            } => write!(
                f,
                "entry={entry:#010x} addr={addr:#010x} size={size} {site}"
            ),
            AwtkEvent::Unrecord { entry, addr } => {
                write!(f, "entry={entry:#010x} addr={addr:#010x}")
            }
            AwtkEvent::Dropped { addr, size, site } => {
                write!(f, "addr={addr:#010x} size={size} {site}")
            }
            AwtkEvent::Forced { size } => write!(f, "size={size}"),
            AwtkEvent::Release { tried, size, site } => {
                write!(f, "tried={tried} size={size} {site}")
            }
            AwtkEvent::Retry { tried, size } | AwtkEvent::GiveUp { tried, size } => {
                write!(f, "tried={tried} size={size}")
            }
            AwtkEvent::DumpHeap { used, blocks } => write!(f, "used={used} blocks={blocks}"),
            AwtkEvent::DumpPool {
                pool,
                block_nr,
                used,
                hits,
            } => write!(f, "pool={pool} block_nr={block_nr} used={used} hits={hits}"),
            AwtkEvent::DumpEntry {
                index,
                addr,
                size,
                site,
            } => write!(f, "index={index} addr={addr:#010x} size={size} {site}"),
            AwtkEvent::DumpInfo {
                used_block,
                used_size,
                le8,
                le16,
                le32,
                le48,
                le64,
                ge1024,
            } => write!(
                f,
                "used_block={used_block} used_size={used_size} le8={le8} le16={le16} le32={le32} le48={le48} le64={le64} ge1024={ge1024}"
            ),
            AwtkEvent::Dump { layers } => write!(f, "layers={layers}"),
        }
    }
}
