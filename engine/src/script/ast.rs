//! What a parsed line says: a [`Stmt`], with every expression already evaluated, and the
//! tables of words the language knows (statements, pool kinds and their operations,
//! functions, fault kinds).
//!
//! Adding a subsystem to the language takes one entry in [`KINDS`] (its keyword, whether
//! pools of it are named, its operations), one [`Config`] variant parsed in
//! `parser::config`, and one `Pool` variant built in the machine. Subsystem-specific
//! operations are new [`Verb`]s (and [`Call`] variants when their arguments differ), parsed
//! in `parser::call` or a hook it calls first. Machine presets are [`PRESETS`].

use crate::allocator::Owner;
use crate::ctrl_buffer::MAX_CLASSES;
use crate::name::Name;
use crate::policy_lab::LabConfig;
use crate::ram::RegionKind;
use crate::sysmem::MAX_AREAS;

// dyn, tlsf, adm, asm, screen, awtk
use crate::adm::MAX_SUBPOOLS;
use crate::app_mem::{StopPlan, MAX_APPS};
use crate::awtk::{CallSite, Layer, StackConfig, MAX_LAYERS};
use crate::dynmem::MAX_SPARES;
use crate::tlsf::TlsfConfig;
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
    // dyn, tlsf, adm, asm, screen, awtk
    "dyn",
    "tlsf",
    "adm",
    "asm",
    "screen",
    "awtk",
    "preset",
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
    // dyn, tlsf, adm, asm, screen, awtk
    /// A LiteOS best-fit dynamic memory pool (`dyn NAME`).
    Dyn,
    /// A TLSF pool (`tlsf NAME`).
    Tlsf,
    /// A KAL ADM pool (`adm NAME`).
    Adm,
    /// MTK's app-shared memory (`asm`).
    Asm,
    /// MTK's screen memory (`screen`).
    Screen,
    /// An AWTK decorator stack over its simple heap (`awtk`).
    Awtk,
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
    // dyn, tlsf, adm, asm, screen, awtk
    KindSpec {
        kind: PoolKind::Dyn,
        keyword: "dyn",
        singleton: None,
        verbs: &[Verb::Alloc, Verb::Free, Verb::Realloc],
    },
    KindSpec {
        kind: PoolKind::Tlsf,
        keyword: "tlsf",
        singleton: None,
        verbs: &[Verb::Alloc, Verb::Free, Verb::Realloc],
    },
    KindSpec {
        kind: PoolKind::Adm,
        keyword: "adm",
        singleton: None,
        verbs: &[Verb::Alloc, Verb::Free, Verb::Delete],
    },
    KindSpec {
        kind: PoolKind::Asm,
        keyword: "asm",
        singleton: Some("asm"),
        verbs: &[
            Verb::Alloc,
            Verb::Free,
            Verb::AllocOrPrompt,
            Verb::AllocFull,
            Verb::AllocFullOrPrompt,
            Verb::Choose,
            Verb::Confirm,
            Verb::Decline,
            Verb::Dismiss,
            Verb::NotifyStopFinished,
            Verb::Plan,
        ],
    },
    KindSpec {
        kind: PoolKind::Screen,
        keyword: "screen",
        singleton: Some("screen"),
        verbs: &[Verb::Alloc, Verb::Free],
    },
    KindSpec {
        kind: PoolKind::Awtk,
        keyword: "awtk",
        singleton: Some("awtk"),
        verbs: &[
            Verb::Alloc,
            Verb::Free,
            Verb::Realloc,
            Verb::Dump,
            Verb::Cache,
        ],
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

    /// True iff a pool of this kind can hand a growing `dyn` pool whole pages
    /// (`dyn NAME ... grow from POOL`), i.e. the machine's `Pool` of this kind is a
    /// [`crate::dynmem::GrowthSource`]: the physical pages (the machine's `growth_source`
    /// returns them).
    pub fn gives_pages(self) -> bool {
        self == PoolKind::Pages
    }
}

/// An operation on a pool: `pool.verb args`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    Alloc,
    Free,
    Realloc,
    // dyn, tlsf, adm, asm, screen, awtk
    /// `adm.delete`: `kal_adm_delete`.
    Delete,
    /// `asm.alloc_or_prompt APP SIZE`.
    AllocOrPrompt,
    /// `asm.alloc_full APP`: `applib_mem_ap_alloc_full_pool`.
    AllocFull,
    /// `asm.alloc_full_or_prompt APP`.
    AllocFullOrPrompt,
    /// `asm.choose APP`: the user highlights an app and presses Stop.
    Choose,
    /// `asm.confirm`: "Yes" on the confirm screen.
    Confirm,
    /// `asm.decline`: "No" on the confirm screen.
    Decline,
    /// `asm.dismiss`: the user leaves the prompt.
    Dismiss,
    /// `asm.notify_stop_finished APP ok|fail`.
    NotifyStopFinished,
    /// `asm.plan APP frees N ticks T ok|fail`: how the app's stop callback behaves.
    Plan,
    /// `awtk.dump`: `tk_mem_dump`.
    Dump,
    /// `awtk.cache ADDR`: the application caches a block its release callback may free.
    Cache,
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
        // dyn, tlsf, adm, asm, screen, awtk
        Verb::Delete,
        Verb::AllocOrPrompt,
        Verb::AllocFull,
        Verb::AllocFullOrPrompt,
        Verb::Choose,
        Verb::Confirm,
        Verb::Decline,
        Verb::Dismiss,
        Verb::NotifyStopFinished,
        Verb::Plan,
        Verb::Dump,
        Verb::Cache,
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
            // dyn, tlsf, adm, asm, screen, awtk
            Verb::Delete => "delete",
            Verb::AllocOrPrompt => "alloc_or_prompt",
            Verb::AllocFull => "alloc_full",
            Verb::AllocFullOrPrompt => "alloc_full_or_prompt",
            Verb::Choose => "choose",
            Verb::Confirm => "confirm",
            Verb::Decline => "decline",
            Verb::Dismiss => "dismiss",
            Verb::NotifyStopFinished => "notify_stop_finished",
            Verb::Plan => "plan",
            Verb::Dump => "dump",
            Verb::Cache => "cache",
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
    /// Free-list elements visited by all the pool's searches so far (the policy lab
    /// counts them; 0 for pools that do not).
    Searched,
    // dyn, tlsf, adm, asm, screen, awtk
    /// `usage(P, OWNER)`: what one task or app holds (the owner is filled in by the
    /// parser from the second argument).
    Usage(u32),
    /// `leaks(awtk)`: blocks in the debug log.
    Leaks,
    /// `granted(asm)`: the address the out-of-memory protocol last granted.
    Granted,
    /// `victim(asm)`: the app asked to stop (or chosen), `0xffffffff` when none.
    Victim,
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
    ("searched", Query::Searched),
    // dyn, tlsf, adm, asm, screen, awtk
    ("usage", Query::Usage(0)),
    ("leaks", Query::Leaks),
    ("granted", Query::Granted),
    ("victim", Query::Victim),
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
    "searched", // dyn, tlsf, adm, asm, screen, awtk
    "usage",
    "leaks",
    "granted",
    "victim",
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
    // dyn, tlsf, adm, asm, screen, awtk
    "Deadlock",
    // An alias: `Corrupted` with `field=guard` (an overwritten guard gap or footer).
    "GuardCorrupted",
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
///
/// The engine has no heap to box the larger variants (an ASM's app list), so a `Config`
/// (and a [`Stmt`]) is a few hundred bytes on the stack while a line runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
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
    // dyn, tlsf, adm, asm, screen, awtk
    /// `dyn NAME SIZE [PLACE] [lists N] [expand] [spare SIZE [PLACE]]... [grow from POOL]`.
    Dyn {
        name: Named,
        size: u32,
        place: Place,
        lists: u32,
        /// `expand` (also implied by a spare or `grow`): `LOS_MemExpandEnable`.
        expand: bool,
        spares: [Option<(u32, Place)>; MAX_SPARES],
        /// The pool whose pages the pool grows by once its spares are used.
        grow: Option<Named>,
    },
    /// `tlsf NAME SIZE [PLACE] [sl N] [align 4|8] [own_class on|off]`.
    Tlsf {
        name: Named,
        size: u32,
        place: Place,
        config: TlsfConfig,
    },
    /// `adm NAME [PLACE] SIZE [subpools S... [0]] [logging]`.
    Adm {
        name: Named,
        size: u32,
        place: Place,
        subpools: [u32; MAX_SUBPOOLS as usize],
        count: usize,
        logging: bool,
    },
    /// `asm pool SIZE [PLACE] [subpools S... [0]] [apps APP[:"Title"]...]`.
    Asm {
        size: u32,
        place: Place,
        subpools: [u32; MAX_SUBPOOLS as usize],
        count: usize,
        /// App `i` is `apps[i]`: the variable that names its id and its title.
        apps: [Option<AppSpec>; MAX_APPS as usize],
    },
    /// `screen SIZE [PLACE]`.
    Screen { size: u32, place: Place },
    /// `awtk stack LAYER... simple SIZE [PLACE] [entries N] [blocks N N N N N] [min_blocks N]`.
    Awtk {
        layers: [Layer; MAX_LAYERS],
        count: usize,
        heap: u32,
        place: Place,
        config: StackConfig,
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

/// One app of `asm pool ... apps`: `camera:"Camera"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppSpec {
    /// The variable set to the app's id.
    pub var: Named,
    /// The name registered (`applib_mem_ap_register`'s string).
    pub title: Name,
}

impl Config {
    pub fn kind(&self) -> PoolKind {
        match self {
            Config::Sys { .. } => PoolKind::Sys,
            Config::Ctrl { .. } => PoolKind::Ctrl,
            Config::Part { .. } => PoolKind::Part,
            Config::Lab { .. } => PoolKind::Lab,
            // dyn, tlsf, adm, asm, screen, awtk
            Config::Dyn { .. } => PoolKind::Dyn,
            Config::Tlsf { .. } => PoolKind::Tlsf,
            Config::Adm { .. } => PoolKind::Adm,
            Config::Asm { .. } => PoolKind::Asm,
            Config::Screen { .. } => PoolKind::Screen,
            Config::Awtk { .. } => PoolKind::Awtk,
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
            // dyn, tlsf, adm, asm, screen, awtk
            Config::Dyn { name, .. } | Config::Tlsf { name, .. } | Config::Adm { name, .. } => {
                name.name
            }
            Config::Asm { .. } => Name::lit("asm"),
            Config::Screen { .. } => Name::lit("screen"),
            Config::Awtk { .. } => Name::lit("awtk"),
            // pages, vm, tasks, timers
            Config::Pages { .. } => Name::lit("pages"),
            Config::Vm(_) => Name::lit("vm"),
        }
    }

    /// The variables the configuration defines, with their values: the app ids of
    /// `asm pool ... apps`.
    pub fn vars(&self) -> impl Iterator<Item = (Named, u32)> + '_ {
        let apps: &[Option<AppSpec>] = match self {
            Config::Asm { apps, .. } => apps,
            _ => &[],
        };
        apps.iter()
            .enumerate()
            .filter_map(|(i, app)| app.map(|a| (a.var, i as u32)))
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
    Realloc {
        addr: u32,
        size: u32,
        owner: Owner,
    },
    // dyn, tlsf, adm, asm, screen, awtk
    /// `adm.alloc SIZE [owner N] at "FILE":LINE`: `kal_adm_internal_alloc`.
    AdmAlloc {
        size: u32,
        owner: Owner,
        file: u32,
        line: u32,
    },
    /// `adm.delete`.
    Delete,
    /// `asm.alloc_or_prompt APP SIZE`.
    AllocOrPrompt {
        app: u16,
        size: u32,
    },
    /// `asm.alloc_full APP` or `asm.alloc_full_or_prompt APP`.
    AllocFull {
        app: u16,
        prompt: bool,
    },
    /// `asm.choose APP`.
    Choose(u16),
    Confirm,
    Decline,
    Dismiss,
    /// `asm.notify_stop_finished APP ok|fail`.
    NotifyStopFinished {
        app: u16,
        result: bool,
    },
    /// `asm.plan APP frees N ticks T [ok|fail]`.
    Plan {
        app: u16,
        plan: StopPlan,
    },
    /// `awtk.alloc SIZE [at FUNC:LINE]`.
    AwtkAlloc {
        size: u32,
        site: CallSite,
    },
    /// `awtk.realloc ADDR SIZE [at FUNC:LINE]`.
    AwtkRealloc {
        addr: u32,
        size: u32,
        site: CallSite,
    },
    /// `awtk.dump`.
    Dump,
    /// `awtk.cache ADDR`.
    Cache(u32),
    /// `awtk release oldest N` (`awtk release none` is 0): the out-of-memory callback.
    Release {
        per_call: u32,
    },
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
    // dyn, tlsf, adm, asm, screen, awtk
    /// `expect state idle|prompt|confirm|stopping`: the ASM out-of-memory protocol's
    /// state, as [`crate::app_mem::OomState::word`] names it.
    State(&'static str),
    /// `expect prompt open|closed`: the protocol is (not) idle.
    PromptOpen(bool),
}

/// One line, parsed and evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
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
    // dyn, tlsf, adm, asm, screen, awtk
    ("mtk_phone", MTK_PHONE),
    ("awtk_baremetal", AWTK_BAREMETAL),
    // pages, vm, tasks, timers
    ("liteos_a", LITEOS_A),
];

/// A MediaTek feature phone: internal and external SRAM, KAL system memory, the control
/// buffer with MTK's default classes, an ADM for the media task, app-shared memory with
/// three apps, and screen memory for the GUI's layers.
pub const MTK_PHONE: &str = "\
ram isram 0x40000000 64K internal
ram extsram 0x08000000 2M external
sys isram 48K extsram 256K
ctrl preset mtk
adm media on extsram 96K subpools 16 32 64 128 256 0 logging
asm pool 200K on extsram apps camera:\"Camera\" music:\"Music\" browser:\"Browser\"
screen 300K on extsram
";

/// AWTK on a bare-metal board: one SRAM and AWTK's own heap under the decorators
/// `tk_mem_init` stacks (outermost first: oom, debug, pool, lock, simple).
pub const AWTK_BAREMETAL: &str = "\
ram sram 0x20000000 256K internal
awtk stack oom debug pool lock simple 128K on sram
";

/// Huawei LiteOS-A on a small board: one DDR region whose first half is physical pages
/// (4 KiB, the buddy allocator) with virtual memory over them (kernel, vmalloc and user
/// spaces), and the kernel heap, a `dyn` pool of 256 KiB in the second half that grows
/// by whole pages from the buddy allocator once it is full (`OsMemPoolExpand`).
pub const LITEOS_A: &str = "\
ram ddr 0x80000000 1M
pages 4K on ddr 512K
vm init
dyn heap 256K on ddr grow from pages
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
