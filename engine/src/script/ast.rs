//! What a parsed line says: a [`Stmt`], with every expression already evaluated, and the
//! tables of words the language knows (statements, pool kinds and their operations,
//! functions, fault kinds).
//!
//! Adding a subsystem to the language takes one entry in [`KINDS`] (its keyword, whether
//! pools of it are named, its operations), one [`Config`] variant parsed in
//! `parser::config`, and one `Pool` variant built in the machine. Subsystem-specific
//! operations are new [`Verb`]s, parsed in `parser::call`.

use crate::allocator::Owner;
use crate::ctrl_buffer::MAX_CLASSES;
use crate::name::Name;
use crate::policy_lab::LabConfig;
use crate::ram::RegionKind;
use crate::sysmem::MAX_AREAS;

// pages, vm, tasks, timers
use crate::pages::MAX_SEGMENTS;
use crate::vm::VmConfig;

pub use super::kernel::{
    ActionSpec, BrkTo, Callback, Figure, KernelStmt, PagesCall, PagesFree, TaskRow, TimerStmt,
    VmCall, When, KERNEL_FUNCTIONS,
};

/// Bytes `start..end` of a line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start,
            end: other.end.max(self.start),
        }
    }
}

/// The words a line can start with (besides `NAME =` and `pool.verb`).
pub const STATEMENTS: &[&str] = &[
    "ram",
    "sys",
    "sysmem",
    "ctrl",
    "part",
    "lab",
    "seed",
    "poke",
    "poke32",
    "peek",
    "peek32",
    "fill",
    "note",
    "check",
    "expect",
    "tick",
    "repeat",
    // pages, vm, tasks, timers
    "pages",
    "vm",
    "task",
    "behaviour",
    "on",
    "timers",
    "boot",
    "send",
    "run",
    "timer",
    "preset",
];

/// The kinds of pool a script can configure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PoolKind {
    /// KAL system memory (`sys`).
    Sys,
    /// The MTK control buffer (`ctrl`).
    Ctrl,
    /// A partition pool or membox (`part NAME`).
    Part,
    /// A free-list policy-lab pool (`lab NAME`).
    Lab,
    // pages, vm, tasks, timers
    /// LiteOS-A's physical pages and buddy allocator (`pages`).
    Pages,
    /// LiteOS-A's virtual memory (`vm`); not an allocator, so not among the pools.
    Vm,
}

/// A pool kind's entry in the language.
#[derive(Clone, Copy, Debug)]
pub struct KindSpec {
    pub kind: PoolKind,
    /// The configuration statement's word.
    pub keyword: &'static str,
    /// For a subsystem there is one of, its fixed pool name; `None` when each pool is
    /// named in its configuration statement.
    pub singleton: Option<&'static str>,
    /// The operations `pool.verb` offers.
    pub verbs: &'static [Verb],
}

/// Every pool kind: the one table to extend.
pub const KINDS: &[KindSpec] = &[
    KindSpec {
        kind: PoolKind::Sys,
        keyword: "sys",
        singleton: Some("sys"),
        verbs: &[Verb::Alloc, Verb::Free],
    },
    KindSpec {
        kind: PoolKind::Ctrl,
        keyword: "ctrl",
        singleton: Some("ctrl"),
        verbs: &[Verb::Alloc, Verb::Free],
    },
    KindSpec {
        kind: PoolKind::Part,
        keyword: "part",
        singleton: None,
        verbs: &[Verb::Alloc, Verb::Free],
    },
    KindSpec {
        kind: PoolKind::Lab,
        keyword: "lab",
        singleton: None,
        verbs: &[Verb::Alloc, Verb::Free, Verb::Realloc],
    },
    // pages, vm, tasks, timers
    KindSpec {
        kind: PoolKind::Pages,
        keyword: "pages",
        singleton: Some("pages"),
        verbs: &[
            Verb::Alloc,
            Verb::Free,
            Verb::Get,
            Verb::Put,
            Verb::Lru,
            Verb::Touch,
            Verb::Reclaim,
        ],
    },
    KindSpec {
        kind: PoolKind::Vm,
        keyword: "vm",
        singleton: Some("vm"),
        verbs: &[
            Verb::Space,
            Verb::Switch,
            Verb::Destroy,
            Verb::Region,
            Verb::RegionFree,
            Verb::Map,
            Verb::Unmap,
            Verb::Translate,
            Verb::Access,
            Verb::Brk,
            Verb::Sbrk,
            Verb::Vmalloc,
            Verb::Vfree,
            Verb::SpaceOf,
        ],
    },
];

impl PoolKind {
    pub fn spec(self) -> &'static KindSpec {
        // KINDS has an entry for every kind; the first entry is a harmless fallback.
        let fallback = &KINDS[0];
        KINDS.iter().find(|s| s.kind == self).unwrap_or(fallback)
    }
}

/// An operation on a pool: `pool.verb args`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    Alloc,
    Free,
    Realloc,
    // pages, vm, tasks, timers
    /// `pages.get P`: take a reference.
    Get,
    /// `pages.put P`: drop a reference.
    Put,
    /// `pages.lru P`: put the block on the inactive LRU list.
    Lru,
    /// `pages.touch P`: an access moves it to the active list.
    Touch,
    /// `pages.reclaim N`.
    Reclaim,
    /// `vm.space user|kernel|vmalloc`.
    Space,
    /// `vm.switch SPACE`.
    Switch,
    /// `vm.destroy SPACE`.
    Destroy,
    /// `vm.region SPACE ADDR SIZE PERMS ...`.
    Region,
    /// `vm.region_free SPACE ADDR`.
    RegionFree,
    /// `vm.map [SPACE] VADDR PADDR`.
    Map,
    /// `vm.unmap [SPACE] VADDR`.
    Unmap,
    /// `vm.translate [SPACE] VADDR`.
    Translate,
    /// `vm.access VADDR [read|write]`.
    Access,
    /// `vm.brk SPACE ADDR|+N|-N`.
    Brk,
    /// `vm.sbrk SPACE N|-N`.
    Sbrk,
    /// `vm.vmalloc SIZE`.
    Vmalloc,
    /// `vm.vfree ADDR`.
    Vfree,
    /// `vm.space_of ADDR`.
    SpaceOf,
}

impl Verb {
    pub const ALL: &'static [Verb] = &[
        Verb::Alloc,
        Verb::Free,
        Verb::Realloc,
        // pages, vm, tasks, timers
        Verb::Get,
        Verb::Put,
        Verb::Lru,
        Verb::Touch,
        Verb::Reclaim,
        Verb::Space,
        Verb::Switch,
        Verb::Destroy,
        Verb::Region,
        Verb::RegionFree,
        Verb::Map,
        Verb::Unmap,
        Verb::Translate,
        Verb::Access,
        Verb::Brk,
        Verb::Sbrk,
        Verb::Vmalloc,
        Verb::Vfree,
        Verb::SpaceOf,
    ];

    pub fn word(self) -> &'static str {
        match self {
            Verb::Alloc => "alloc",
            Verb::Free => "free",
            Verb::Realloc => "realloc",
            // pages, vm, tasks, timers
            Verb::Get => "get",
            Verb::Put => "put",
            Verb::Lru => "lru",
            Verb::Touch => "touch",
            Verb::Reclaim => "reclaim",
            Verb::Space => "space",
            Verb::Switch => "switch",
            Verb::Destroy => "destroy",
            Verb::Region => "region",
            Verb::RegionFree => "region_free",
            Verb::Map => "map",
            Verb::Unmap => "unmap",
            Verb::Translate => "translate",
            Verb::Access => "access",
            Verb::Brk => "brk",
            Verb::Sbrk => "sbrk",
            Verb::Vmalloc => "vmalloc",
            Verb::Vfree => "vfree",
            Verb::SpaceOf => "space_of",
        }
    }
}

/// A pool figure an expression can read: `used(ctrl)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Query {
    /// Payload bytes of live blocks.
    Used,
    /// Bytes a request could still use.
    Free,
    /// The largest free span.
    Largest,
    /// Live blocks.
    Blocks,
    /// External fragmentation in per-mille.
    Frag,
    /// `sys_mem_left_size` for system memory; free bytes for other pools.
    Left,
    /// Bytes the pool manages.
    Capacity,
    /// Headers, guards, padding and control data.
    Overhead,
}

/// The functions of pool figures, by name.
pub const QUERIES: &[(&str, Query)] = &[
    ("used", Query::Used),
    ("free", Query::Free),
    ("largest", Query::Largest),
    ("blocks", Query::Blocks),
    ("frag", Query::Frag),
    ("left", Query::Left),
    ("capacity", Query::Capacity),
    ("overhead", Query::Overhead),
];

/// Every function name, for hints.
pub const FUNCTIONS: &[&str] = &[
    "rand",
    "used",
    "free",
    "largest",
    "blocks",
    "frag",
    "left",
    "capacity",
    "overhead",
    // pages, vm, tasks, timers
    "free_pages",
    "free_order",
    "inactive",
    "active",
    "queue",
    "intqueue",
    "handled",
    "peak",
    "faulted",
    "pending",
    "running",
];

/// The fault kinds `expect fault` accepts: [`crate::error::AllocError::kind`]'s words.
pub const FAULT_KINDS: &[&str] = &[
    "ZeroSize",
    "OutOfMemory",
    "TooLarge",
    "InvalidPointer",
    "DoubleFree",
    "Corrupted",
    "Inconsistent",
    "NotFreeable",
    "Unsupported",
    "BusFault",
    "Config",
    // pages, vm, tasks, timers: the kinds of PageError, VmError, TaskError and TimerError
    "ZeroPages",
    "BadOrder",
    "OutOfPages",
    "NotPage",
    "NotBlockHead",
    "WrongOrder",
    "Mapped",
    "NotOnLru",
    "AlreadyOnLru",
    "SegFault",
    "Protection",
    "NotMapped",
    "AlreadyMapped",
    "Overlap",
    "OutsideSpace",
    "NoVirtualSpace",
    "Misaligned",
    "NoSuchRegion",
    "NoSuchSpace",
    "NotUserSpace",
    "TooManyRegions",
    "TooManySpaces",
    "BrkOutOfRange",
    "FrameNotAllocated",
    "FrameMapped",
    "FrameIsTable",
    "QueueFull",
    "NoQueue",
    "NoSender",
    "BadSource",
    "NoSuchTask",
    "UnknownTask",
    "NoSuchBehaviour",
    "DuplicateTask",
    "NoMmi",
    "StackOverflow",
    "Budget",
    "ClockOverflow",
    "AlreadyBooted",
    "NoFreeEvent",
    "NoSuchEvent",
    "NoFreeSlot",
    "OwnedByTimer",
];

/// A comparison in `expect`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::Eq => "==",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }

    pub fn holds(self, left: u32, right: u32) -> bool {
        match self {
            Cmp::Eq => left == right,
            Cmp::Ne => left != right,
            Cmp::Lt => left < right,
            Cmp::Le => left <= right,
            Cmp::Gt => left > right,
            Cmp::Ge => left >= right,
        }
    }
}

/// How wide a `poke` or `peek` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    Byte,
    Word,
}

/// A name and where it stands in the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Named {
    pub name: Name,
    pub span: Span,
}

/// One area of `sys`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AreaSpec {
    /// The next `size` bytes of a region (all it has left when `None`).
    Region { region: Named, size: Option<u32> },
    /// An explicit range.
    Range { base: u32, size: u32 },
}

/// Where a pool's memory comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// `from sys` when system memory is configured, else `on` the first region.
    Default,
    /// `on REGION`: the next bytes of the region, as a linker places a static array.
    On(Named),
    /// `at ADDR`: exactly there.
    At(u32),
    /// `from sys`: carved with `kal_system_alloc`.
    FromSys,
}

/// A partition pool's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartShape {
    /// `BxN`: exactly `count` blocks of `block` bytes.
    Count { block: u32, count: u32 },
    /// `SIZE block B`: as many blocks of `block` bytes as `size` bytes hold.
    Fit { size: u32, block: u32 },
}

/// A pool configuration statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Config {
    /// `sys [AREA...] [records N]`; no areas means the rest of every region.
    Sys {
        areas: [Option<AreaSpec>; MAX_AREAS],
        records: Option<u32>,
    },
    /// `ctrl table BxN...` or `ctrl preset mtk`.
    Ctrl {
        table: [(u32, u32); MAX_CLASSES],
        classes: usize,
    },
    Part {
        name: Named,
        shape: PartShape,
        place: Place,
    },
    Lab {
        name: Named,
        size: u32,
        place: Place,
        config: LabConfig,
    },
    // pages, vm, tasks, timers
    /// `pages [PAGE_SIZE] [on REGION [SIZE] | at BASE SIZE]...`; no areas means the rest
    /// of every region.
    Pages {
        page_size: u32,
        areas: [Option<AreaSpec>; MAX_SEGMENTS],
    },
    /// `vm [init] [kernel|vmalloc|user|map BASE SIZE] [heap BASE]`.
    Vm(VmConfig),
}

impl Config {
    pub fn kind(&self) -> PoolKind {
        match self {
            Config::Sys { .. } => PoolKind::Sys,
            Config::Ctrl { .. } => PoolKind::Ctrl,
            Config::Part { .. } => PoolKind::Part,
            Config::Lab { .. } => PoolKind::Lab,
            // pages, vm, tasks, timers
            Config::Pages { .. } => PoolKind::Pages,
            Config::Vm(_) => PoolKind::Vm,
        }
    }

    /// The name the configured pool will have.
    pub fn pool_name(&self) -> Name {
        match self {
            Config::Sys { .. } => Name::lit("sys"),
            Config::Ctrl { .. } => Name::lit("ctrl"),
            Config::Part { name, .. } | Config::Lab { name, .. } => name.name,
            // pages, vm, tasks, timers
            Config::Pages { .. } => Name::lit("pages"),
            Config::Vm(_) => Name::lit("vm"),
        }
    }
}

/// What `pool.free` frees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Addr(u32),
    /// A live block of the pool picked with the machine's PRNG.
    Any,
}

/// An operation on a pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// `alloc SIZE [owner N] [in REGION]`.
    Alloc {
        size: u32,
        owner: Owner,
        region: Option<Named>,
    },
    /// `free ADDR` or `free any`.
    Free(Target),
    /// `realloc ADDR SIZE [owner N]`.
    Realloc { addr: u32, size: u32, owner: Owner },
    // pages, vm, tasks, timers
    /// An operation of `pages` other than a plain `alloc SIZE`.
    Pages(PagesCall),
    /// An operation of `vm`.
    Vm(VmCall),
}

/// An expectation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// `expect A cmp B`, evaluated.
    Compare { left: u32, cmp: Cmp, right: u32 },
    /// `expect fault KIND` (`None` for `expect fault none`).
    Fault(Option<&'static str>),
}

/// One line, parsed and evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stmt<'a> {
    /// A blank or comment-only line: not a step.
    Empty,
    /// `ram NAME BASE SIZE [internal|external]`.
    Ram {
        name: Named,
        base: u32,
        size: u32,
        kind: RegionKind,
    },
    Config(Config),
    /// `seed N`.
    Seed(u32),
    /// `NAME = EXPR`.
    Let {
        var: Named,
        value: u32,
    },
    /// `[NAME =] pool.verb ...`.
    Call {
        dest: Option<Named>,
        pool: Named,
        call: Call,
    },
    /// `poke ADDR VALUE` / `poke32 ADDR VALUE`.
    Poke {
        addr: u32,
        value: u32,
        width: Width,
        span: Span,
    },
    /// `[NAME =] peek ADDR` / `peek32`.
    Peek {
        dest: Option<Named>,
        addr: u32,
        width: Width,
        span: Span,
    },
    /// `fill ADDR LEN BYTE`.
    Fill {
        addr: u32,
        len: u32,
        byte: u8,
        span: Span,
    },
    /// `note "..."`; `span` is where `text` stands in the line.
    Note {
        text: &'a str,
        span: Span,
    },
    /// `check`.
    Check,
    /// `expect ...`; `span` covers what follows `expect`.
    Expect {
        expect: Expect,
        span: Span,
    },
    /// `tick N`.
    Tick(u32),
    /// `repeat N {`.
    Repeat(u32),
    /// `}`.
    Close,
    // pages, vm, tasks, timers
    /// A statement of the task system or its timers.
    Kernel(KernelStmt),
    /// `preset NAME`: the lines of [`PRESETS`]' entry, run as one step.
    Preset {
        name: &'static str,
        span: Span,
    },
}

/// The machine presets: a name and the script lines `preset NAME` runs as one step.
pub const PRESETS: &[(&str, &str)] = &[
    // pages, vm, tasks, timers
    ("liteos_a", LITEOS_A),
];

/// Huawei LiteOS-A on a small board: one DDR region whose first half is physical pages
/// (4 KiB, the buddy allocator) with virtual memory over them (kernel, vmalloc and user
/// spaces). The kernel heap, a `dyn` pool, takes the second half once the `dyn`
/// statement is in the language.
pub const LITEOS_A: &str = "\
ram ddr 0x80000000 1M
pages 4K on ddr 512K
vm init
";

/// The script lines of preset `name`.
pub fn preset_text(name: &str) -> Option<&'static str> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

impl Stmt<'_> {
    /// True for the lines that are steps (all but blank lines and `}`).
    pub fn is_step(&self) -> bool {
        !matches!(self, Stmt::Empty | Stmt::Close)
    }
}
