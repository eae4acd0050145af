//! The trace: the one way to observe the engine.
//!
//! Every change an allocator makes is an [`Event`], delivered to a [`Sink`]. Each event has
//! one canonical text line, identical on every target (host, wasm, board):
//!
//! ```text
//! <source>.<kind> key=value key=value ...
//! ```
//!
//! - `source` is the name of the pool or subsystem that changed (`ctrl`, `dyn`, `tlsf`...).
//! - `kind` is one of the words in [`EventKind::word`].
//! - Addresses and metadata values are `0x` and 8 lowercase hex digits; sizes, counts and
//!   list numbers are decimal; names are bare identifiers; free text is in double quotes.
//! - Fields appear in the fixed order the variant declares them.
//!
//! A [`TextSink`] prefixes each line with the step number, four digits or more, so a
//! script's trace reads `0007 dyn.alloc addr=0x20000018 size=100 block=112 owner=3`.
//! These lines are what golden tests compare and what the board prints.

use core::fmt;

use crate::allocator::Owner;
use crate::app_mem::AsmEvent;
use crate::awtk::AwtkEvent;
use crate::error::AllocError;
use crate::evshed::TimerEvent;
use crate::machine::MachineEvent;
use crate::name::Name;
use crate::ram::Addr;
use crate::task::TaskEvent;

/// One observable change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// The pool or subsystem that changed.
    pub source: Name,
    pub kind: EventKind,
}

/// What changed. Allocators emit the detail events (`meta`, `link`, `split`...) as they
/// happen and one summary event (`alloc`, `free`, `realloc` or `fault`) last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A pool was created over `[base, base + size)`.
    Init { base: Addr, size: u32 },
    /// Boot memory carved `size` bytes at `addr` from `region`; never given back.
    Carve { addr: Addr, size: u32, region: Name },
    /// A metadata word was written into RAM.
    Meta {
        addr: Addr,
        field: Field,
        value: u32,
    },
    /// `len` bytes at `addr` were set to `byte` (a guard gap, a poison fill).
    Fill {
        addr: Addr,
        len: u32,
        byte: u8,
        field: Field,
    },
    /// The block at `addr` was put on free list number `list`.
    Link { list: u32, addr: Addr },
    /// The block at `addr` was taken off free list number `list`.
    Unlink { list: u32, addr: Addr },
    /// A search for `size` bytes looked at `visited` free-list elements.
    Search { size: u32, visited: u32 },
    /// Size class `from` had no free block; the request moved on to class `to`.
    Fallback { from: u32, to: u32 },
    /// The free block at `addr` was cut: `size` bytes stay at `addr`, the rest of
    /// `rest_size` bytes starts at `rest`.
    Split {
        addr: Addr,
        size: u32,
        rest: Addr,
        rest_size: u32,
    },
    /// The free block at `absorbed` was merged into the one at `addr`, now `size` bytes.
    Merge {
        addr: Addr,
        size: u32,
        absorbed: Addr,
    },
    /// The pool grew by a new area of `size` bytes at `addr`.
    Grow { addr: Addr, size: u32 },
    /// `size` bytes were handed out at `addr`, in a block of `block` bytes in all.
    Alloc {
        addr: Addr,
        size: u32,
        block: u32,
        owner: Owner,
    },
    /// The block handed out at `addr` (`block` bytes in all) was freed.
    Free {
        addr: Addr,
        block: u32,
        owner: Owner,
    },
    /// The block at `from` was resized to `size` bytes and now lives at `to`.
    Realloc { from: Addr, to: Addr, size: u32 },
    /// An operation failed; nothing else changed after the detail events before it.
    Fault { op: Op, error: AllocError },
    /// A stage of MTK's application memory: ADM delete, ASM registration, full-pool mode,
    /// the out-of-memory prompt and the asynchronous stop of an app.
    Asm(AsmEvent),
    /// What an AWTK allocator decorator added: a lock taken, a pool hit, a debug record,
    /// an out-of-memory retry (see [`crate::awtk`]).
    Awtk(AwtkEvent),
    /// The machine's clock or PRNG changed (`clock.tick`, `prng.seed`).
    Machine(MachineEvent),
    /// Physical pages: segments, the page array, LRU moves, write-back (`pages.rs`).
    Page(crate::pages::PageEvent),
    /// Virtual memory: spaces, regions, page-table walks, page faults (`vm.rs`).
    Vm(crate::vm::VmEvent),
    /// A task-system change: boot, a message queued or handled, a handler run, a fault.
    Task(TaskEvent),
    /// An event-scheduler or MMI-timer change: an event set, cancelled or fired.
    Timer(TimerEvent),
}

/// The operation an error belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Init,
    Alloc { size: u32 },
    Free { addr: Addr },
    Realloc { addr: Addr, size: u32 },
    Check,
}

/// The name of a metadata word, so a trace line and the hex inspector can say what a
/// write meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// A block's size (possibly with flag bits folded in, as LiteOS and TLSF do).
    Size,
    /// Status bits kept apart from the size.
    Flags,
    /// A magic word that marks a header as genuine.
    Magic,
    /// The owning task or app.
    Owner,
    /// A free-list successor.
    Next,
    /// A free-list predecessor.
    Prev,
    /// The physically preceding block.
    PhysPrev,
    /// A list head kept in a control block.
    Head,
    /// A list tail kept in a control block.
    Tail,
    /// A count kept in a control block (free blocks, live blocks).
    Count,
    /// A bump pointer: the next free address.
    Top,
    /// A first-level bitmap.
    Bitmap,
    /// A second-level bitmap.
    SubBitmap,
    /// A guard word or gap.
    Guard,
    /// The pool or size class a block belongs to.
    Pool,
    /// Payload bytes.
    Data,
    /// The source file of an allocation's call site (an id of its name), when logged.
    File,
    /// The source line of an allocation's call site, when logged.
    Line,
    /// The address of the block a log entry describes (AWTK's debug log).
    Block,
    /// A call site: the line, or the function name, of the code that asked (AWTK's
    /// `func:line`).
    Site,
    /// A buddy block's order (LiteOS packs segment id and page count into the same word).
    Order,
    /// A page's reference count.
    RefCount,
    /// A page's physical address.
    PhysAddr,
    /// A page-table entry (L1 or L2), or a pointer to one.
    Pte,
    /// A base address: of a segment, an address space, a region, a translation table.
    Base,
    /// A slot of an ordered index (the region lookup table of an address space).
    Index,
    /// A state word: a task's state, the hardware timer's state, a boot phase.
    State,
    /// A task's priority.
    Priority,
    /// An identifier: a task id, an event id.
    Id,
    /// An absolute expiry tick.
    Expiry,
    /// A callback (handler) id.
    Callback,
    /// The virtual clock.
    Clock,
    /// A task's stack (its base address, or the bytes a handler used).
    Stack,
    /// The address of a message queue.
    Queue,
    /// An MMI timer id.
    Timer,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Size => "size",
            Field::Flags => "flags",
            Field::Magic => "magic",
            Field::Owner => "owner",
            Field::Next => "next",
            Field::Prev => "prev",
            Field::PhysPrev => "phys_prev",
            Field::Head => "head",
            Field::Tail => "tail",
            Field::Count => "count",
            Field::Top => "top",
            Field::Bitmap => "bitmap",
            Field::SubBitmap => "sub_bitmap",
            Field::Guard => "guard",
            Field::Pool => "pool",
            Field::Data => "data",
            Field::File => "file",
            Field::Line => "line",
            Field::Block => "block",
            Field::Site => "site",
            Field::Order => "order",
            Field::RefCount => "refs",
            Field::PhysAddr => "phys",
            Field::Pte => "pte",
            Field::Base => "base",
            Field::Index => "index",
            Field::State => "state",
            Field::Priority => "priority",
            Field::Id => "id",
            Field::Expiry => "expiry",
            Field::Callback => "callback",
            Field::Clock => "clock",
            Field::Stack => "stack",
            Field::Queue => "queue",
            Field::Timer => "timer",
        }
    }
}

impl EventKind {
    /// The kind's word in the canonical line.
    pub fn word(&self) -> &'static str {
        match self {
            EventKind::Init { .. } => "init",
            EventKind::Carve { .. } => "carve",
            EventKind::Meta { .. } => "meta",
            EventKind::Fill { .. } => "fill",
            EventKind::Link { .. } => "link",
            EventKind::Unlink { .. } => "unlink",
            EventKind::Search { .. } => "search",
            EventKind::Fallback { .. } => "fallback",
            EventKind::Split { .. } => "split",
            EventKind::Merge { .. } => "merge",
            EventKind::Grow { .. } => "grow",
            EventKind::Alloc { .. } => "alloc",
            EventKind::Free { .. } => "free",
            EventKind::Realloc { .. } => "realloc",
            EventKind::Fault { .. } => "fault",
            EventKind::Asm(event) => event.word(),
            EventKind::Awtk(e) => e.word(),
            EventKind::Machine(e) => e.word(),
            EventKind::Page(e) => e.word(),
            EventKind::Vm(e) => e.word(),
            EventKind::Task(e) => e.word(),
            EventKind::Timer(e) => e.word(),
        }
    }

    /// True for the summary events that close an operation.
    pub fn is_summary(&self) -> bool {
        match self {
            EventKind::Asm(event) => event.is_summary(),
            EventKind::Awtk(event) => event.is_summary(),
            EventKind::Machine(_) => true,
            EventKind::Page(e) => e.is_summary(),
            EventKind::Vm(e) => e.is_summary(),
            EventKind::Task(e) => e.is_summary(),
            EventKind::Timer(e) => e.is_summary(),
            _ => matches!(
                self,
                EventKind::Alloc { .. }
                    | EventKind::Free { .. }
                    | EventKind::Realloc { .. }
                    | EventKind::Fault { .. }
                    | EventKind::Init { .. }
                    | EventKind::Carve { .. }
            ),
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Op::Init => f.write_str("op=init"),
            Op::Alloc { size } => write!(f, "op=alloc size={size}"),
            Op::Free { addr } => write!(f, "op=free addr={addr:#010x}"),
            Op::Realloc { addr, size } => write!(f, "op=realloc addr={addr:#010x} size={size}"),
            Op::Check => f.write_str("op=check"),
        }
    }
}

/// The canonical line, without the step number.
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.source, self.kind.word())?;
        match self.kind {
            EventKind::Init { base, size } => write!(f, " base={base:#010x} size={size}"),
            EventKind::Carve { addr, size, region } => {
                write!(f, " addr={addr:#010x} size={size} region={region}")
            }
            EventKind::Meta { addr, field, value } => write!(
                f,
                " addr={addr:#010x} field={} value={value:#010x}",
                field.as_str()
            ),
            EventKind::Fill {
                addr,
                len,
                byte,
                field,
            } => write!(
                f,
                " addr={addr:#010x} len={len} byte={byte:#04x} field={}",
                field.as_str()
            ),
            EventKind::Link { list, addr } | EventKind::Unlink { list, addr } => {
                write!(f, " list={list} addr={addr:#010x}")
            }
            EventKind::Search { size, visited } => write!(f, " size={size} visited={visited}"),
            EventKind::Fallback { from, to } => write!(f, " from={from} to={to}"),
            EventKind::Split {
                addr,
                size,
                rest,
                rest_size,
            } => write!(
                f,
                " addr={addr:#010x} size={size} rest={rest:#010x} rest_size={rest_size}"
            ),
            EventKind::Merge {
                addr,
                size,
                absorbed,
            } => write!(
                f,
                " addr={addr:#010x} size={size} absorbed={absorbed:#010x}"
            ),
            EventKind::Grow { addr, size } => write!(f, " addr={addr:#010x} size={size}"),
            EventKind::Alloc {
                addr,
                size,
                block,
                owner,
            } => write!(
                f,
                " addr={addr:#010x} size={size} block={block} owner={owner}"
            ),
            EventKind::Free { addr, block, owner } => {
                write!(f, " addr={addr:#010x} block={block} owner={owner}")
            }
            EventKind::Realloc { from, to, size } => {
                write!(f, " from={from:#010x} to={to:#010x} size={size}")
            }
            EventKind::Fault { op, error } => {
                write!(f, " {op} ")?;
                error.write_canonical(f)
            }
            EventKind::Asm(event) => write!(f, " {event}"),
            EventKind::Awtk(e) => write!(f, " {e}"),
            EventKind::Machine(e) => write!(f, "{e}"),
            EventKind::Page(e) => write!(f, " {e}"),
            EventKind::Vm(e) => write!(f, " {e}"),
            EventKind::Task(e) => write!(f, " {e}"),
            EventKind::Timer(e) => write!(f, " {e}"),
        }
    }
}

/// Where events go.
pub trait Sink {
    fn event(&mut self, event: &Event);
}

/// Drops every event: for benchmarks and bulk replay.
#[derive(Clone, Copy, Debug, Default)]
pub struct Quiet;

impl Sink for Quiet {
    #[inline]
    fn event(&mut self, _event: &Event) {}
}

/// Counts events.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counter {
    pub events: u64,
}

impl Sink for Counter {
    fn event(&mut self, _event: &Event) {
        self.events += 1;
    }
}

impl<F: FnMut(&Event)> Sink for F {
    fn event(&mut self, event: &Event) {
        self(event)
    }
}

/// Writes canonical lines, each prefixed by the current step, to any `fmt::Write`.
#[derive(Debug)]
pub struct TextSink<W> {
    pub out: W,
    /// The step number printed before each line; the driver advances it.
    pub step: u32,
    /// Set when the writer refused a line (a full buffer on the board).
    pub overflowed: bool,
}

impl<W: fmt::Write> TextSink<W> {
    pub fn new(out: W) -> TextSink<W> {
        TextSink {
            out,
            step: 0,
            overflowed: false,
        }
    }
}

impl<W: fmt::Write> Sink for TextSink<W> {
    fn event(&mut self, event: &Event) {
        if writeln!(self.out, "{:04} {event}", self.step).is_err() {
            self.overflowed = true;
        }
    }
}

/// Keeps every event, for tests and the front ends.
#[cfg(feature = "alloc")]
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    pub events: alloc::vec::Vec<Event>,
}

#[cfg(feature = "alloc")]
impl Sink for Recorder {
    fn event(&mut self, event: &Event) {
        self.events.push(*event);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::String;

    use super::*;

    #[test]
    fn canonical_lines() {
        let mut sink = TextSink::new(String::new());
        sink.step = 7;
        let src = Name::lit("asm");
        sink.event(&Event {
            source: src,
            kind: EventKind::Fault {
                op: Op::Free { addr: 0x0800_1234 },
                error: AllocError::Corrupted {
                    at: 0x0800_1dc0,
                    field: Field::Guard,
                    expected: 0x5a5a_5a5a,
                    found: 0x5a5a_5aff,
                },
            },
        });
        sink.step = 8;
        sink.event(&Event {
            source: Name::lit("dyn"),
            kind: EventKind::Alloc {
                addr: 0x2000_0018,
                size: 100,
                block: 112,
                owner: Owner(3),
            },
        });
        assert_eq!(
            sink.out,
            "0007 asm.fault op=free addr=0x08001234 error=Corrupted at=0x08001dc0 field=guard expected=0x5a5a5a5a found=0x5a5a5aff\n\
             0008 dyn.alloc addr=0x20000018 size=100 block=112 owner=3\n"
        );
    }
}
