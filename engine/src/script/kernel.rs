//! What the kernel subsystems' lines say: operations on the physical pages and on virtual
//! memory, the statements that build and drive MTK's task table and timers, and the
//! figures expressions can read. `docs/script.md` documents the grammar.
//!
//! # The task table as a script
//!
//! On MTK a task is a row of `sys_comp_config_tbl` or `custom_comp_config_tbl` plus five
//! C handler functions, and the MMI task dispatches messages to the functions registered
//! with `SetProtocolEventHandler`. The engine models handlers as data
//! ([`crate::task::Program`]): a *behaviour* declares the stack it uses and runs up to
//! four actions. A script writes the same model line by line:
//!
//! ```text
//! task L4 prio 10 stack 512 ext 8 int 4 sys     # a row of sys_comp_config_tbl
//! task MMI prio 20 stack 1K ext 16 int 4        # a custom row; MMI gets the timers
//! behaviour ping stack 64 send L4 0x101         # a handler body
//! on MMI msg 0x100 run ping                     # SetProtocolEventHandler(ping, 0x100)
//! boot                                          # Application_Initialize
//! ```
//!
//! Names stand for tasks and behaviours everywhere; the machine turns them into the
//! engine's ids at `boot`, when the system rows are put before the custom ones.

use crate::name::Name;
use crate::task::{MAX_ACTIONS, MAX_BEHAVIOURS, MAX_TASKS};
use crate::vm::SpaceKind;

use super::ast::{Named, Span};
use super::errors::ErrorKind;

/// The functions of the kernel figures, for hints and the parser.
pub const KERNEL_FUNCTIONS: &[&str] = &[
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

/// How `pages.free` gives a block back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PagesFree {
    /// `pages.free P`: drop one reference whatever the order (`LOS_PhysPageFree`).
    Put,
    /// `pages.free P order K`: `LOS_PhysPagesFree` of a block of order K.
    Order(u32),
    /// `pages.free P N pages`: `LOS_PhysPagesFreeContiguous`.
    Pages(u32),
}

/// An operation of `pages` (a plain `pages.alloc SIZE` is a [`super::ast::Call::Alloc`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PagesCall {
    /// `pages.alloc order K`: a block of `2^K` pages.
    AllocOrder(u32),
    /// `pages.alloc N pages`: `N` contiguous pages.
    AllocPages(u32),
    Free {
        addr: u32,
        how: PagesFree,
    },
    /// `pages.get P`: one more reference.
    Get(u32),
    /// `pages.put P`: one reference less.
    Put(u32),
    /// `pages.lru P`: onto the inactive list.
    Lru(u32),
    /// `pages.touch P`: to the head of the active list.
    Touch(u32),
    /// `pages.reclaim N`.
    Reclaim(u32),
}

/// Where `vm.brk` moves the break.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrkTo {
    /// `vm.brk SPACE ADDR` (0 reads the break).
    At(u32),
    /// `vm.brk SPACE +N`.
    Up(u32),
    /// `vm.brk SPACE -N`.
    Down(u32),
}

/// An operation of `vm`. Spaces are slot numbers: 0 kernel, 1 vmalloc, 2 and up user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmCall {
    /// `vm.space user` creates a process's space; `kernel` and `vmalloc` name theirs.
    Space(SpaceKind),
    Switch(u32),
    Destroy(u32),
    Region {
        space: u32,
        addr: u32,
        size: u32,
        /// `rf::*` bits.
        flags: u32,
        name: Option<Name>,
    },
    RegionFree {
        space: u32,
        addr: u32,
    },
    /// Without a space, the space the address belongs to (`LOS_SpaceGet`).
    Map {
        space: Option<u32>,
        vaddr: u32,
        paddr: u32,
    },
    Unmap {
        space: Option<u32>,
        vaddr: u32,
    },
    Translate {
        space: Option<u32>,
        vaddr: u32,
    },
    Access {
        vaddr: u32,
        write: bool,
    },
    Brk {
        space: u32,
        to: BrkTo,
    },
    /// `vm.sbrk SPACE [-]N`: moves the break by `by`, gives the old one.
    Sbrk {
        space: u32,
        by: i32,
    },
    Vmalloc(u32),
    Vfree(u32),
    SpaceOf(u32),
}

/// A behaviour, by name or by its number (behaviours are numbered from 0 as declared).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Callback {
    Named(Named),
    Id(u32),
}

/// A timer statement, or a timer action of a behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerStmt {
    /// `timer start ID delay D [aligned|nonaligned] callback B`: `StartTimer`.
    Start {
        timer: u16,
        delay: u32,
        aligned: bool,
        callback: Callback,
    },
    /// `timer stop ID`: `StopTimer`.
    Stop(u16),
    /// `timer set delay D callback B [arg N] [aligned|nonaligned]`: `evshed_set_event`.
    Set {
        delay: u32,
        aligned: bool,
        callback: Callback,
        arg: u32,
    },
    /// `timer cancel EVENT`: `evshed_cancel_event` (statements only).
    Cancel(u32),
}

/// One action of a behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionSpec {
    /// `send TASK MSG [P0 [P1]]`: `msg_send_ext_queue`.
    Send {
        to: Named,
        msg: u16,
        payload: [u32; 2],
    },
    /// `reply MSG [P0 [P1]]`: to the sender of the message being handled.
    Reply { msg: u16, payload: [u32; 2] },
    /// `post MSG [P0 [P1]]`: `msg_send_int_queue`, to the task's own internal queue.
    Post { msg: u16, payload: [u32; 2] },
    /// `timer start ...`, `timer stop ...`, `timer set ...`.
    Timer(TimerStmt),
}

/// When a behaviour runs in a task (`on TASK WHEN run B`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// `msg ID`: a protocol handler.
    Msg(u16),
    /// `any`: a protocol handler for every message without a more specific rule before it.
    Any,
    Init,
    Entry,
    Cfg,
    Reset,
    End,
}

/// A row of the task table: `task NAME prio P stack S [ext N] [int N] [sys] [mmi]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskRow {
    pub name: Named,
    pub priority: u8,
    pub stack: u32,
    pub ext: u16,
    pub int: u16,
    /// A row of `sys_comp_config_tbl` (they come first); otherwise of
    /// `custom_comp_config_tbl`.
    pub sys: bool,
    /// The task that gets `MSG_ID_TIMER_EXPIRY` and runs timer callbacks (without any
    /// `mmi` row, the task named `MMI`).
    pub mmi: bool,
}

/// A statement of the task system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelStmt {
    Task(TaskRow),
    /// `behaviour NAME [stack N] [ACTION {, ACTION}]`.
    Behaviour {
        name: Named,
        stack: u32,
        actions: [Option<ActionSpec>; MAX_ACTIONS],
    },
    /// `on TASK WHEN run B`.
    On {
        task: Named,
        when: When,
        run: Callback,
    },
    /// `timers [events N] [slots N] [fuzz N]`.
    Timers {
        events: Option<u32>,
        slots: Option<u32>,
        fuzz: Option<u32>,
    },
    /// `boot [at ADDR] [budget N]`.
    Boot {
        at: Option<u32>,
        budget: Option<u32>,
    },
    /// `send [FROM ->] TO [int] MSG [P0 [P1]]`; no `FROM` is a driver outside the tasks.
    Send {
        from: Option<Named>,
        to: Named,
        internal: bool,
        msg: u16,
        payload: [u32; 2],
    },
    /// `[NAME =] run`: `run_until_idle`; the value is the turns taken.
    Run {
        dest: Option<Named>,
    },
    /// `[NAME =] timer ...`.
    Timer {
        dest: Option<Named>,
        timer: TimerStmt,
    },
}

impl KernelStmt {
    /// The variable the statement assigns.
    pub fn dest(&self) -> Option<Named> {
        match *self {
            KernelStmt::Timer { dest, .. } | KernelStmt::Run { dest } => dest,
            _ => None,
        }
    }
}

/// A kernel figure an expression can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figure {
    /// `free_pages(pages)`: free pages in all orders.
    FreePages,
    /// `free_order(pages, K)`: free blocks of order K.
    FreeOrder(u32),
    /// `inactive(pages)`, `active(pages)`: the LRU lists' lengths.
    Inactive,
    Active,
    /// `queue(TASK)`: messages in the task's external queue.
    Queue(Name),
    /// `intqueue(TASK)`: messages in its internal queue.
    IntQueue(Name),
    /// `handled(TASK)`: messages it handled.
    Handled(Name),
    /// `peak(TASK)`: the deepest stack use its handlers declared.
    Peak(Name),
    /// `faulted(TASK)`: 1 if its stack overflowed, else 0.
    Faulted(Name),
    /// `pending()`: events pending in the MMI event scheduler.
    Pending,
    /// `running(ID)`: 1 if MMI timer ID runs, else 0.
    Running(u32),
}

/// What the static check knows of the kernel subsystems: whether `vm` is configured, the
/// task and behaviour names declared, and whether a `boot` line was read.
#[derive(Clone, Copy, Debug)]
pub struct KernelNames {
    pub vm: bool,
    pub booted: bool,
    tasks: [Name; MAX_TASKS],
    task_count: usize,
    behaviours: [Name; MAX_BEHAVIOURS],
    behaviour_count: usize,
}

impl Default for KernelNames {
    fn default() -> KernelNames {
        KernelNames {
            vm: false,
            booted: false,
            tasks: [Name::lit("_"); MAX_TASKS],
            task_count: 0,
            behaviours: [Name::lit("_"); MAX_BEHAVIOURS],
            behaviour_count: 0,
        }
    }
}

impl KernelNames {
    pub fn task(&self, name: &str) -> bool {
        let known = self.tasks.get(..self.task_count).unwrap_or(&[]);
        known.iter().any(|n| n.as_str() == name)
    }

    pub fn behaviour(&self, name: &str) -> bool {
        let known = self.behaviours.get(..self.behaviour_count).unwrap_or(&[]);
        known.iter().any(|n| n.as_str() == name)
    }

    /// Records what `stmt` declares; a full table is an error about `span`.
    pub fn define(&mut self, stmt: &KernelStmt) -> Result<(), (Span, ErrorKind)> {
        match *stmt {
            KernelStmt::Task(row) => {
                let Some(slot) = self.tasks.get_mut(self.task_count) else {
                    let max = MAX_TASKS as u32;
                    return Err((row.name.span, ErrorKind::TooMany { what: "tasks", max }));
                };
                *slot = row.name.name;
                self.task_count += 1;
            }
            KernelStmt::Behaviour { name, .. } => {
                let Some(slot) = self.behaviours.get_mut(self.behaviour_count) else {
                    let max = MAX_BEHAVIOURS as u32;
                    let kind = ErrorKind::TooMany {
                        what: "behaviours",
                        max,
                    };
                    return Err((name.span, kind));
                };
                *slot = name.name;
                self.behaviour_count += 1;
            }
            KernelStmt::Boot { .. } => self.booted = true,
            _ => {}
        }
        Ok(())
    }
}
