//! MTK KAL's static tasks: the task table, boot, the scheduler, message queues and stacks,
//! with the MMI timers of [`crate::evshed`] on top.
//!
//! # The real mechanism
//!
//! MTK tasks are static (seed 002). Nobody calls a "create task" function: the system keeps
//! its tasks in `sys_comp_config_tbl` and the customer adds rows to
//! `custom_comp_config_tbl`, each row giving a name, a priority, a stack size, the sizes of
//! an external and an internal queue, and a `comptask_handler_struct` of five functions:
//! `comp_init_func`, `comp_entry_func`, `comp_cfg_func`, `comp_reset_func`,
//! `comp_end_func`. Nucleus calls `Application_Initialize` with the first free address
//! (seed 000); KAL sets up system memory there and `mainp` creates every task of the table,
//! carving its control block, its stack and its queues from system memory. Every init
//! function runs there, *before* anything is scheduled; then the scheduler starts and each
//! task's entry function runs and loops on its queues. Tasks talk through queues: the
//! external queue (`msg_send_ext_queue`, from other tasks) and the internal queue
//! (`msg_send_int_queue`, between modules of the same task). The MMI task also receives
//! `MSG_ID_TIMER_EXPIRY` and hands it to `EvshedMMITimerHandler`, which runs the expired
//! timer callbacks ([`crate::evshed`]).
//!
//! # The model
//!
//! [`Kal::boot`] (or [`Kal::application_initialize`], which first sets up system memory
//! at the first free address) checks the table, then, in this order:
//!
//! 1. carves the kernel control block (KCB), then for each task in table order its TCB,
//!    its stack and its queues (phase `create`); then, if an MMI task is named, the event
//!    scheduler and the MMI timer table;
//! 2. runs every init handler in table order (phase `init`), then every cfg handler
//!    (phase `config`), all before any scheduling;
//! 3. starts the scheduler (phase `running`).
//!
//! The scheduler works in virtual time and is *run to completion*: it repeatedly picks the
//! most urgent task (smallest priority number; ties in table order) that is runnable —
//! its entry handler has not run yet, or it has a message — and gives it one turn: the
//! entry handler the first time, afterwards one message (the internal queue first, so a
//! task finishes its own follow-ups before new work), handled completely. When no task is
//! runnable the system is idle. [`Kal::run_until_idle`] is bounded by a budget of turns;
//! [`Kal::tick`] advances the clock, stopping at every hardware-timer expiry to post
//! `MSG_ID_TIMER_EXPIRY` and run the tasks. Messages sent with [`Kal::send`] wait in their
//! queues until the tasks next run — like messages posted by an interrupt while the CPU is
//! elsewhere. A message with no protocol handler is dropped (`unhandled`).
//!
//! What handlers do is data, not code: see [`program`](Program) for the behaviour model.
//! Entry, message and timer-callback handlers run on their task's stack: each run writes
//! the bytes the behaviour declares (`STACK_FRAME_BYTE`) from the top of the stack down,
//! and the guard at the stack's low end is checked after the run. A behaviour that uses
//! more than `stack_size - STACK_GUARD_SIZE` bytes overwrites the guard; the overflow is
//! reported as [`TaskError::StackOverflow`] with the task and the guard word's address,
//! and the task is marked faulted and no longer scheduled. (On real hardware the write
//! would go on into whatever lies below the stack; memplay stops at the stack's own carve
//! so the rest of the machine stays readable.) Init and cfg handlers run in
//! `Application_Initialize`'s context, reset and end handlers in the caller's: their
//! stack use is not charged to the task.
//!
//! Sending to a full queue fails with [`TaskError::QueueFull`]; the trace first lists
//! every message the queue holds (`held`). On MTK this is a fatal error; memplay drops the
//! message and goes on. The same happens to an expiry message the MMI queue cannot take:
//! see [`crate::evshed`] for what then happens to the timers.
//!
//! # Example
//!
//! MMI asks NVRAM for a record in its entry handler, NVRAM replies, and a non-aligned
//! timer started in MMI's init fires 5 ticks later:
//!
//! ```
//! use memplay_engine::sysmem::{Area, SystemMemory};
//! use memplay_engine::task::*;
//! use memplay_engine::trace::Quiet;
//! use memplay_engine::{Ctx, Name, Ram, RegionKind};
//!
//! let mut ram = Ram::new([0u8; 0x2000]);
//! ram.add_region(Name::lit("isram"), RegionKind::Internal, 0x4000_0000, 0x2000).unwrap();
//! let mut sink = Quiet;
//! let mut cx = Ctx::new(&mut ram, &mut sink);
//! let area = [Area::new(0x4000_0000, 0x2000)];
//! let mut sys = SystemMemory::new(&mut cx, Name::lit("sys"), &area).unwrap();
//!
//! let (mmi, nvram) = (TaskId(0), TaskId(1));
//! let mut p = Program::new();
//! let beep = p.add(Behaviour::new(64)).unwrap();
//! let start = Action::StartTimer { timer: 1, delay: 5, callback: beep, aligned: false };
//! let init = p.add(Behaviour::with(0, &[start]).unwrap()).unwrap();
//! let ask = Action::Send { to: nvram, msg: 200, payload: [7, 0] };
//! let entry = p.add(Behaviour::with(128, &[ask]).unwrap()).unwrap();
//! let reply = Action::Reply { msg: 201, payload: [7, 42] };
//! let answer = p.add(Behaviour::with(96, &[reply]).unwrap()).unwrap();
//! p.on(nvram, Some(200), answer).unwrap(); // SetProtocolEventHandler
//!
//! let sys_tasks = [
//!     TaskConfig::new(Name::lit("MMI"), 6, 1024, 4, 0).init(init).entry(entry),
//!     TaskConfig::new(Name::lit("NVRAM"), 4, 512, 2, 0),
//! ];
//! let config = KalConfig {
//!     name: Name::lit("kal"),
//!     sys_tasks: &sys_tasks,
//!     custom_tasks: &[],
//!     program: &p,
//!     mmi: Some(Name::lit("MMI")),
//!     timers: TimerConfig::default(),
//!     budget: 0,
//! };
//! let mut kal = Kal::boot(&mut cx, &mut sys, &config).unwrap();
//! kal.run_until_idle(&mut cx).unwrap(); // entries, the request, the reply
//! kal.tick(&mut cx, 5).unwrap(); // the timer fires; MMI runs `beep`
//! assert_eq!(kal.usage(cx.ram, mmi).unwrap(), (128, 2)); // deepest frame, messages
//! kal.check(cx.ram).unwrap();
//! ```
//!
//! # RAM layout
//!
//! All words little-endian `u32`; every structure is carved from system memory, owned by
//! its task (the KCB by nobody).
//!
//! ```text
//! kernel control block (KCB_HEADER + 4 * tasks bytes)
//! +0   magic      KCB_MAGIC (0x4b414c54, "KALT")
//! +4   tasks      number of tasks
//! +8   phase      create 0, init 1, config 2, running 3
//! +12  current    the task running now, NO_TASK (0xffffffff) between turns
//! +16  clock      the virtual clock, in ticks since boot
//! +20  tcb[i]     address of task i's TCB (KAL's task_info_g)
//!
//! task control block (TCB_SIZE = 40 bytes)
//! +0   magic      TCB_MAGIC (0x54434220, "TCB ")
//! +4   id         the task's index in the table
//! +8   priority
//! +12  state      created 1, initialized 2, waiting 3, ready 4, faulted 5
//! +16  stack      the stack's base (lowest address; the guard starts here)
//! +20  stack_size bytes, guard included
//! +24  ext_queue  address of the external queue, 0 if none
//! +28  int_queue  address of the internal queue, 0 if none
//! +32  peak       the deepest stack use declared by a handler so far
//! +36  handled    messages handled
//!
//! stack (stack_size bytes)
//! +0                    guard: STACK_GUARD_SIZE bytes of STACK_GUARD_BYTE (0xa5)
//! ...                   grows down from the top; used bytes are STACK_FRAME_BYTE (0xcc)
//!
//! queue (QUEUE_HEADER + MESSAGE_SIZE * capacity bytes), a circular buffer
//! +0   magic      QUEUE_MAGIC (0x51554555, "QUEU")
//! +4   owner      the task's id
//! +8   kind       external 0, internal 1
//! +12  capacity   messages
//! +16  count      messages held
//! +20  head       slot of the oldest message
//! +24  tail       slot the next message goes to
//! +28 + 16 * k    slot k: msg id, src (a task id, SRC_EXTERNAL or SRC_TIMER), p0, p1
//! ```
//!
//! Invariants (checked by [`Kal::check`]):
//! - the KCB names every TCB, says `running`, and no task is current between calls;
//! - each TCB matches the table and the carved addresses; `waiting` iff the entry handler
//!   has run and both queues are empty, `ready` iff it has run and a queue holds a
//!   message; `created` never survives boot;
//! - each stack guard is intact;
//! - each queue has `count <= capacity`, `head < capacity` and
//!   `tail == (head + count) % capacity`; every held message comes from a task, the outside,
//!   or (only `MSG_ID_TIMER_EXPIRY` in the MMI task's external queue) the timer;
//! - exactly one timer expiry message is queued iff the event scheduler's hardware timer
//!   is `EXPIRED`; the event scheduler and the timer table pass their own checks.

mod event;
mod memory;
mod program;
mod timers;

pub use event::{HandlerKind, Phase, QueueKind, TaskError, TaskEvent, TaskOp};
pub use program::{
    Action, Behaviour, BehaviourId, Handlers, MsgId, Program, Rule, TaskConfig, TaskId,
    MAX_ACTIONS, MAX_BEHAVIOURS, MAX_RULES, MSG_ID_TIMER_EXPIRY,
};

use crate::allocator::{Allocator, Ctx, Owner};
use crate::error::{AllocError, ConfigError};
use crate::evshed::{
    EventId, Evshed, Fired, HwState, MmiTimers, TimerError, TimerEvent, L4_CALLBACK_TIMER,
    MAX_EVENTS, MAX_FUZZ, MAX_TIMER_SLOTS,
};
use crate::name::Name;
use crate::ram::{Addr, Ram, Storage};
use crate::sysmem::{Area, SystemMemory};
use crate::trace::{EventKind, Field};

/// The most tasks a table can have.
pub const MAX_TASKS: usize = 16;
/// The largest queue capacity, in messages.
pub const MAX_QUEUE: u16 = 256;
/// The largest stack.
pub const MAX_STACK: u32 = 1 << 20;
/// Bytes of the guard at the low end of every stack.
pub const STACK_GUARD_SIZE: u32 = 16;
/// The guard's byte.
pub const STACK_GUARD_BYTE: u8 = 0xa5;
/// The guard's words.
pub const STACK_GUARD_WORD: u32 = 0xa5a5_a5a5;
/// The byte a handler's stack frame writes.
pub const STACK_FRAME_BYTE: u8 = 0xcc;
/// The KCB's magic word, "KALT".
pub const KCB_MAGIC: u32 = 0x4b41_4c54;
/// A TCB's magic word, "TCB ".
pub const TCB_MAGIC: u32 = 0x5443_4220;
/// A queue's magic word, "QUEU".
pub const QUEUE_MAGIC: u32 = 0x5155_4555;
/// The `src` of a message sent from outside the tasks (a driver, the script).
pub const SRC_EXTERNAL: u32 = 0xffff_ffff;
/// The `src` of `MSG_ID_TIMER_EXPIRY` posted by the timer interrupt.
pub const SRC_TIMER: u32 = 0xffff_fffe;
/// The KCB's `current` when no task runs.
pub const NO_TASK: u32 = 0xffff_ffff;
/// Bytes of the KCB before its TCB table.
pub const KCB_HEADER: u32 = 20;
/// Bytes of a TCB.
pub const TCB_SIZE: u32 = 40;
/// Bytes of a queue's header.
pub const QUEUE_HEADER: u32 = 28;
/// Bytes of one queued message.
pub const MESSAGE_SIZE: u32 = 16;
/// Turns [`Kal::run_until_idle`] allows when the configuration says 0.
pub const DEFAULT_BUDGET: u32 = 10_000;

const KCB_MAGIC_AT: u32 = 0;
const KCB_TASKS: u32 = 4;
const KCB_PHASE: u32 = 8;
const KCB_CURRENT: u32 = 12;
const KCB_CLOCK: u32 = 16;

const TCB_MAGIC_AT: u32 = 0;
const TCB_ID: u32 = 4;
const TCB_PRIORITY: u32 = 8;
const TCB_STATE: u32 = 12;
const TCB_STACK: u32 = 16;
const TCB_STACK_SIZE: u32 = 20;
const TCB_EXT: u32 = 24;
const TCB_INT: u32 = 28;
const TCB_PEAK: u32 = 32;
const TCB_HANDLED: u32 = 36;

const Q_MAGIC: u32 = 0;
const Q_OWNER: u32 = 4;
const Q_KIND: u32 = 8;
const Q_CAPACITY: u32 = 12;
const Q_COUNT: u32 = 16;
const Q_HEAD: u32 = 20;
const Q_TAIL: u32 = 24;

const M_ID: u32 = 0;
const M_SRC: u32 = 4;
const M_P0: u32 = 8;
const M_P1: u32 = 12;

/// The name of the event scheduler [`Kal::boot`] creates.
pub const EVSHED_NAME: Name = Name::lit("evshed");
/// The name of the MMI timer table [`Kal::boot`] creates.
pub const TIMERS_NAME: Name = Name::lit("timer");
/// The name [`Kal::application_initialize`] gives system memory.
pub const SYSMEM_NAME: Name = Name::lit("sys");
const EXTERNAL_NAME: Name = Name::lit("ext");
const TIMER_SRC_NAME: Name = Name::lit("timer");

/// A task's state, as kept in its TCB.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// Carved; its init handler has not run.
    Created,
    /// Initialized; the scheduler has not yet given it the CPU (its entry handler is due).
    Initialized,
    /// Blocked on its empty queues.
    Waiting,
    /// A queue holds a message.
    Ready,
    /// Its stack overflowed; it is no longer scheduled.
    Faulted,
}

impl TaskState {
    pub fn word(self) -> u32 {
        match self {
            TaskState::Created => 1,
            TaskState::Initialized => 2,
            TaskState::Waiting => 3,
            TaskState::Ready => 4,
            TaskState::Faulted => 5,
        }
    }

    fn from_word(word: u32) -> Option<TaskState> {
        match word {
            1 => Some(TaskState::Created),
            2 => Some(TaskState::Initialized),
            3 => Some(TaskState::Waiting),
            4 => Some(TaskState::Ready),
            5 => Some(TaskState::Faulted),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Created => "created",
            TaskState::Initialized => "initialized",
            TaskState::Waiting => "waiting",
            TaskState::Ready => "ready",
            TaskState::Faulted => "faulted",
        }
    }
}

/// Where a message comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Src {
    Task(TaskId),
    /// A driver or the script.
    External,
    /// The timer interrupt (only `MSG_ID_TIMER_EXPIRY`).
    Timer,
}

/// A message as a queue holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    pub msg: MsgId,
    pub src: Src,
    pub payload: [u32; 2],
    /// The slot it is in.
    pub slot: u32,
}

/// The event scheduler and MMI timer table [`Kal::boot`] creates when there is an MMI
/// task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerConfig {
    /// Event nodes (1 to [`MAX_EVENTS`]).
    pub events: u32,
    /// MMI timer slots (1 to [`MAX_TIMER_SLOTS`]).
    pub slots: u32,
    /// Ticks an aligned timer may be late (0 to [`MAX_FUZZ`]).
    pub fuzz: u32,
}

impl Default for TimerConfig {
    fn default() -> TimerConfig {
        TimerConfig {
            events: 16,
            slots: 8,
            fuzz: 4,
        }
    }
}

/// Everything boot needs.
#[derive(Clone, Copy, Debug)]
pub struct KalConfig<'a> {
    /// The name the task system's own events carry.
    pub name: Name,
    /// `sys_comp_config_tbl`.
    pub sys_tasks: &'a [TaskConfig],
    /// `custom_comp_config_tbl`.
    pub custom_tasks: &'a [TaskConfig],
    /// The behaviours and protocol handlers.
    pub program: &'a Program,
    /// The task that gets `MSG_ID_TIMER_EXPIRY` and runs timer callbacks; without one
    /// there are no timers.
    pub mmi: Option<Name>,
    pub timers: TimerConfig,
    /// Turns one [`Kal::run_until_idle`] may take; 0 means [`DEFAULT_BUDGET`].
    pub budget: u32,
}

/// A task as booted: its table row and where its structures are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskInfo {
    pub id: TaskId,
    pub config: TaskConfig,
    pub tcb: Addr,
    /// The stack's base (lowest address).
    pub stack: Addr,
    /// Bytes, guard included (the configured size rounded up to 4).
    pub stack_size: u32,
    /// The external queue, 0 if none.
    pub ext: Addr,
    /// The internal queue, 0 if none.
    pub int: Addr,
}

impl TaskInfo {
    /// One past the stack's last byte: where it starts to grow down from.
    pub fn stack_top(&self) -> Addr {
        self.stack.wrapping_add(self.stack_size)
    }

    fn queue(&self, kind: QueueKind) -> (Addr, u16) {
        match kind {
            QueueKind::External => (self.ext, self.config.ext_queue),
            QueueKind::Internal => (self.int, self.config.int_queue),
        }
    }
}

/// The bytes boot carved for one task.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    pub tcb: u32,
    pub stack: u32,
    pub ext: u32,
    pub int: u32,
}

impl Footprint {
    pub fn total(&self) -> u32 {
        self.tcb + self.stack + self.ext + self.int
    }
}

/// Bytes of a queue of `capacity` messages (0 when there is no queue).
pub fn queue_bytes(capacity: u16) -> u32 {
    if capacity == 0 {
        0
    } else {
        QUEUE_HEADER + MESSAGE_SIZE * capacity as u32
    }
}

fn inconsistent(at: Addr, rule: &'static str) -> TaskError {
    TaskError::Mem(AllocError::Inconsistent { at, rule })
}

fn corrupted(at: Addr, field: Field, expected: u32, found: u32) -> TaskError {
    TaskError::Mem(AllocError::Corrupted {
        at,
        field,
        expected,
        found,
    })
}

/// The booted task system. See the module documentation.
///
/// The struct holds the configuration (the task table and the program, which are ROM on a
/// phone) and the addresses boot carved; every changing word — states, queues, the clock,
/// the events — lives in RAM.
#[derive(Clone, Debug)]
pub struct Kal {
    name: Name,
    kcb: Addr,
    tasks: [Option<TaskInfo>; MAX_TASKS],
    count: usize,
    program: Program,
    mmi: Option<TaskId>,
    evshed: Option<Evshed>,
    timers: Option<MmiTimers>,
    budget: u32,
}

impl Kal {
    /// `Application_Initialize(first_free)`: sets up system memory from `first_free` to
    /// the end of its RAM region, then [`Kal::boot`]s the task table there.
    pub fn application_initialize<S: Storage>(
        cx: &mut Ctx<'_, S>,
        first_free: Addr,
        config: &KalConfig<'_>,
    ) -> Result<(SystemMemory, Kal), TaskError> {
        let region = cx.ram.region_of(first_free);
        let Some(region) = region else {
            let error = TaskError::from(ConfigError::NotInRam {
                addr: first_free,
                size: 0,
            });
            cx.emit(
                config.name,
                EventKind::Task(TaskEvent::Fault {
                    op: TaskOp::Boot,
                    error,
                }),
            );
            return Err(error);
        };
        let size = (region.end() - first_free as u64) as u32;
        let area = Area::new(first_free, size);
        let mut sys = SystemMemory::new(cx, SYSMEM_NAME, &[area])?;
        let kal = Kal::boot(cx, &mut sys, config)?;
        Ok((sys, kal))
    }

    /// `mainp`: checks the task table, carves every task's TCB, stack and queues from
    /// `sys` (and the event scheduler and timer table if there is an MMI task), runs every
    /// init handler, then every cfg handler, and starts the scheduler. The entry handlers
    /// run when the scheduler first picks each task.
    pub fn boot<S: Storage>(
        cx: &mut Ctx<'_, S>,
        sys: &mut SystemMemory,
        config: &KalConfig<'_>,
    ) -> Result<Kal, TaskError> {
        let result = Kal::boot_impl(cx, sys, config);
        if let Err(error) = result {
            let fault = TaskEvent::Fault {
                op: TaskOp::Boot,
                error,
            };
            cx.emit(config.name, EventKind::Task(fault));
        }
        result
    }

    fn boot_impl<S: Storage>(
        cx: &mut Ctx<'_, S>,
        sys: &mut SystemMemory,
        config: &KalConfig<'_>,
    ) -> Result<Kal, TaskError> {
        let mut kal = Kal::configure(config)?;
        kal.create(cx, sys, config)?;
        let name = kal.name;
        let phase_at = kal.kcb + KCB_PHASE;

        // Application_Initialize: every init handler, before any scheduling.
        cx.set_word(name, phase_at, Field::State, Phase::Init.word())?;
        cx.emit(
            name,
            EventKind::Task(TaskEvent::Phase { phase: Phase::Init }),
        );
        for i in 0..kal.count {
            let t = kal.info(TaskId(i as u8))?;
            if let Some(b) = t.config.handlers.init {
                kal.exec(cx, t.id, HandlerKind::Init, b, None, false)?;
            }
            kal.set_state(cx, &t, TaskState::Initialized)?;
        }
        cx.set_word(name, phase_at, Field::State, Phase::Config.word())?;
        let phase = Phase::Config;
        cx.emit(name, EventKind::Task(TaskEvent::Phase { phase }));
        for i in 0..kal.count {
            let t = kal.info(TaskId(i as u8))?;
            if let Some(b) = t.config.handlers.cfg {
                kal.exec(cx, t.id, HandlerKind::Cfg, b, None, false)?;
            }
        }
        cx.set_word(name, phase_at, Field::State, Phase::Running.word())?;
        let phase = Phase::Running;
        cx.emit(name, EventKind::Task(TaskEvent::Phase { phase }));
        Ok(kal)
    }

    /// Validates the configuration, touching no RAM.
    fn configure(config: &KalConfig<'_>) -> Result<Kal, TaskError> {
        let total = config.sys_tasks.len() + config.custom_tasks.len();
        if total == 0 {
            return Err(ConfigError::NoBlocks.into());
        }
        if total > MAX_TASKS {
            let max = MAX_TASKS as u32;
            return Err(ConfigError::TooMany { max }.into());
        }
        let program = *config.program;
        program.validate(total)?;
        let mut kal = Kal {
            name: config.name,
            kcb: 0,
            tasks: [None; MAX_TASKS],
            count: total,
            program,
            mmi: None,
            evshed: None,
            timers: None,
            budget: if config.budget == 0 {
                DEFAULT_BUDGET
            } else {
                config.budget
            },
        };
        let rows = config.sys_tasks.iter().chain(config.custom_tasks);
        for (i, row) in rows.enumerate() {
            row.validate(&program)?;
            let stack_size = row
                .stack_size
                .checked_add(3)
                .map(|s| s & !3)
                .filter(|&s| s <= MAX_STACK)
                .ok_or(ConfigError::BadBlockSize {
                    size: row.stack_size,
                })?;
            let needed = STACK_GUARD_SIZE + 4;
            if stack_size < needed {
                let available = row.stack_size;
                return Err(ConfigError::TooSmall { needed, available }.into());
            }
            for cap in [row.ext_queue, row.int_queue] {
                if cap > MAX_QUEUE {
                    let max = MAX_QUEUE as u32;
                    return Err(ConfigError::TooMany { max }.into());
                }
            }
            let earlier = kal.tasks[..i].iter().flatten();
            if earlier.clone().any(|t| t.config.name == row.name) {
                return Err(TaskError::DuplicateTask { name: row.name });
            }
            kal.tasks[i] = Some(TaskInfo {
                id: TaskId(i as u8),
                config: *row,
                tcb: 0,
                stack: 0,
                stack_size,
                ext: 0,
                int: 0,
            });
        }
        if let Some(mmi) = config.mmi {
            let id = kal
                .task_named(mmi)
                .ok_or(TaskError::UnknownTask { name: mmi })?;
            kal.mmi = Some(id);
            let t = config.timers;
            if t.events == 0 || t.slots == 0 {
                return Err(ConfigError::NoBlocks.into());
            }
            for (value, max) in [
                (t.events, MAX_EVENTS),
                (t.slots, MAX_TIMER_SLOTS),
                (t.fuzz, MAX_FUZZ),
            ] {
                if value > max {
                    return Err(ConfigError::TooMany { max }.into());
                }
            }
        } else {
            let uses_timers = (0..program.len()).any(|i| {
                program.behaviour(BehaviourId(i as u8)).is_some_and(|b| {
                    b.actions().any(|a| {
                        matches!(
                            a,
                            Action::StartTimer { .. }
                                | Action::StopTimer { .. }
                                | Action::SetEvent { .. }
                        )
                    })
                })
            });
            if uses_timers {
                return Err(TaskError::NoMmi);
            }
        }
        Ok(kal)
    }

    /// Phase `create`: carves and formats the KCB, every task, and the timers.
    fn create<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        sys: &mut SystemMemory,
        config: &KalConfig<'_>,
    ) -> Result<(), TaskError> {
        let name = self.name;
        let kcb_size = KCB_HEADER + 4 * self.count as u32;
        self.kcb = sys.alloc(cx, kcb_size, Owner::NONE)?;
        let kcb = self.kcb;
        cx.set_word(name, kcb + KCB_MAGIC_AT, Field::Magic, KCB_MAGIC)?;
        cx.set_word(name, kcb + KCB_TASKS, Field::Count, self.count as u32)?;
        cx.set_word(name, kcb + KCB_PHASE, Field::State, Phase::Create.word())?;
        cx.set_word(name, kcb + KCB_CURRENT, Field::Id, NO_TASK)?;
        cx.set_word(name, kcb + KCB_CLOCK, Field::Clock, 0)?;
        let phase = Phase::Create;
        cx.emit(name, EventKind::Task(TaskEvent::Phase { phase }));
        for i in 0..self.count {
            let mut t = self.info(TaskId(i as u8))?;
            let owner = Owner(i as u16);
            t.tcb = sys.alloc(cx, TCB_SIZE, owner)?;
            t.stack = sys.alloc(cx, t.stack_size, owner)?;
            if t.config.ext_queue > 0 {
                t.ext = sys.alloc(cx, queue_bytes(t.config.ext_queue), owner)?;
            }
            if t.config.int_queue > 0 {
                t.int = sys.alloc(cx, queue_bytes(t.config.int_queue), owner)?;
            }
            self.tasks[i] = Some(t);
            self.format_task(cx, &t)?;
            cx.set_word(name, kcb + KCB_HEADER + 4 * i as u32, Field::Data, t.tcb)?;
            let bytes = self.footprint(t.id).map_or(0, |f| f.total());
            let create = TaskEvent::Create {
                task: t.config.name,
                id: i as u8,
                priority: t.config.priority,
                tcb: t.tcb,
                stack: t.stack,
                stack_size: t.stack_size,
                ext: t.ext,
                ext_capacity: t.config.ext_queue,
                int: t.int,
                int_capacity: t.config.int_queue,
                bytes,
            };
            cx.emit(name, EventKind::Task(create));
        }
        if let Some(mmi) = self.mmi {
            let owner = Owner(mmi.0 as u16);
            let t = config.timers;
            let es = Evshed::create(cx, sys, EVSHED_NAME, t.events, t.fuzz, owner)?;
            let tt = MmiTimers::create(cx, sys, TIMERS_NAME, t.slots, owner)?;
            self.evshed = Some(es);
            self.timers = Some(tt);
        }
        Ok(())
    }

    /// Writes a new task's TCB, stack guard and queue headers.
    fn format_task<S: Storage>(&self, cx: &mut Ctx<'_, S>, t: &TaskInfo) -> Result<(), TaskError> {
        let n = t.config.name;
        let tcb = t.tcb;
        let created = TaskState::Created.word();
        cx.set_word(n, tcb + TCB_MAGIC_AT, Field::Magic, TCB_MAGIC)?;
        cx.set_word(n, tcb + TCB_ID, Field::Id, t.id.0 as u32)?;
        cx.set_word(
            n,
            tcb + TCB_PRIORITY,
            Field::Priority,
            t.config.priority as u32,
        )?;
        cx.set_word(n, tcb + TCB_STATE, Field::State, created)?;
        cx.set_word(n, tcb + TCB_STACK, Field::Stack, t.stack)?;
        cx.set_word(n, tcb + TCB_STACK_SIZE, Field::Size, t.stack_size)?;
        cx.set_word(n, tcb + TCB_EXT, Field::Queue, t.ext)?;
        cx.set_word(n, tcb + TCB_INT, Field::Queue, t.int)?;
        cx.set_word(n, tcb + TCB_PEAK, Field::Stack, 0)?;
        cx.set_word(n, tcb + TCB_HANDLED, Field::Count, 0)?;
        let guard = STACK_GUARD_SIZE;
        cx.fill(n, t.stack, guard, STACK_GUARD_BYTE, Field::Guard)?;
        for kind in [QueueKind::External, QueueKind::Internal] {
            let (q, cap) = t.queue(kind);
            if cap == 0 {
                continue;
            }
            cx.set_word(n, q + Q_MAGIC, Field::Magic, QUEUE_MAGIC)?;
            cx.set_word(n, q + Q_OWNER, Field::Owner, t.id.0 as u32)?;
            cx.set_word(n, q + Q_KIND, Field::Flags, kind.word())?;
            cx.set_word(n, q + Q_CAPACITY, Field::Size, cap as u32)?;
            cx.set_word(n, q + Q_COUNT, Field::Count, 0)?;
            cx.set_word(n, q + Q_HEAD, Field::Head, 0)?;
            cx.set_word(n, q + Q_TAIL, Field::Tail, 0)?;
        }
        Ok(())
    }

    // ----- configuration and views -------------------------------------------------

    pub fn name(&self) -> Name {
        self.name
    }

    /// The kernel control block's address.
    pub fn control_block(&self) -> Addr {
        self.kcb
    }

    /// The number of tasks.
    pub fn task_count(&self) -> usize {
        self.count
    }

    /// Task `id`.
    pub fn task(&self, id: TaskId) -> Option<TaskInfo> {
        self.tasks[..self.count.min(MAX_TASKS)]
            .get(id.0 as usize)
            .copied()
            .flatten()
    }

    fn info(&self, id: TaskId) -> Result<TaskInfo, TaskError> {
        self.task(id)
            .ok_or(TaskError::NoSuchTask { id: id.0 as u32 })
    }

    /// Every task, in table order.
    pub fn tasks(&self) -> impl Iterator<Item = TaskInfo> + '_ {
        self.tasks[..self.count.min(MAX_TASKS)]
            .iter()
            .flatten()
            .copied()
    }

    /// The task named `name`.
    pub fn task_named(&self, name: Name) -> Option<TaskId> {
        self.tasks().find(|t| t.config.name == name).map(|t| t.id)
    }

    /// The MMI task, if any.
    pub fn mmi(&self) -> Option<TaskId> {
        self.mmi
    }

    /// The event scheduler, if there is an MMI task.
    pub fn evshed(&self) -> Option<&Evshed> {
        self.evshed.as_ref()
    }

    /// The MMI timer table, if there is an MMI task.
    pub fn timers(&self) -> Option<&MmiTimers> {
        self.timers.as_ref()
    }

    /// The behaviours and rules.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The bytes boot carved for task `id`.
    pub fn footprint(&self, id: TaskId) -> Option<Footprint> {
        let t = self.task(id)?;
        Some(Footprint {
            tcb: TCB_SIZE,
            stack: t.stack_size,
            ext: queue_bytes(t.config.ext_queue),
            int: queue_bytes(t.config.int_queue),
        })
    }

    /// The virtual clock.
    pub fn now<S: Storage>(&self, ram: &Ram<S>) -> Result<u32, TaskError> {
        Ok(ram.read_u32(self.kcb + KCB_CLOCK)?)
    }

    /// Task `id`'s state.
    pub fn state<S: Storage>(&self, ram: &Ram<S>, id: TaskId) -> Result<TaskState, TaskError> {
        let t = self.info(id)?;
        Ok(self.read_tcb(ram, &t)?.state)
    }

    /// The deepest stack use task `id`'s handlers declared so far, and its messages
    /// handled.
    pub fn usage<S: Storage>(&self, ram: &Ram<S>, id: TaskId) -> Result<(u32, u32), TaskError> {
        let t = self.info(id)?;
        let tcb = self.read_tcb(ram, &t)?;
        Ok((tcb.peak, tcb.handled))
    }

    /// Calls `visit` for each message in one of task `id`'s queues, oldest first.
    pub fn for_each_message<S: Storage>(
        &self,
        ram: &Ram<S>,
        id: TaskId,
        kind: QueueKind,
        visit: &mut dyn FnMut(Message),
    ) -> Result<(), TaskError> {
        let t = self.info(id)?;
        let Some(q) = self.read_queue(ram, &t, kind)? else {
            return Ok(());
        };
        for k in 0..q.count {
            let slot = (q.head + k) % q.capacity;
            visit(self.read_message(ram, &q, slot)?);
        }
        Ok(())
    }

    /// Messages in one of task `id`'s queues.
    pub fn queue_len<S: Storage>(
        &self,
        ram: &Ram<S>,
        id: TaskId,
        kind: QueueKind,
    ) -> Result<u32, TaskError> {
        let t = self.info(id)?;
        Ok(self.read_queue(ram, &t, kind)?.map_or(0, |q| q.count))
    }

    // ----- handlers --------------------------------------------------------------------

    /// Runs behaviour `b` as handler `kind` of `task`; `sender` is the task that sent the
    /// message being handled. With `on_stack`, the behaviour's stack use is written to the
    /// task's stack and the guard is checked afterwards.
    fn exec<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        task: TaskId,
        kind: HandlerKind,
        b: BehaviourId,
        sender: Option<TaskId>,
        on_stack: bool,
    ) -> Result<(), TaskError> {
        let t = self.info(task)?;
        let behaviour = *self
            .program
            .behaviour(b)
            .ok_or(TaskError::NoSuchBehaviour { id: b.0 as u32 })?;
        let run = TaskEvent::Run {
            handler: kind,
            behaviour: b.0,
            stack: behaviour.stack(),
        };
        cx.emit(t.config.name, EventKind::Task(run));
        if on_stack {
            self.paint(cx, &t, behaviour.stack())?;
        }
        for action in behaviour.actions() {
            let (op, result) = self.act(cx, &t, sender, action);
            match result {
                Ok(()) => {}
                Err(error) if error.is_soft() => {
                    cx.emit(self.name, EventKind::Task(TaskEvent::Fault { op, error }));
                }
                Err(error) => return Err(error),
            }
        }
        if on_stack {
            if let Err(error) = self.check_guard(cx.ram, &t) {
                self.set_state(cx, &t, TaskState::Faulted)?;
                return Err(error);
            }
        }
        Ok(())
    }

    /// One action of a handler running in task `t`.
    fn act<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        t: &TaskInfo,
        sender: Option<TaskId>,
        action: Action,
    ) -> (TaskOp, Result<(), TaskError>) {
        let me = Src::Task(t.id);
        let name_of = |kal: &Kal, id: TaskId| kal.task(id).map_or(EXTERNAL_NAME, |t| t.config.name);
        match action {
            Action::Send { to, msg, payload } => {
                let op = TaskOp::Send {
                    to: name_of(self, to),
                    msg,
                };
                (
                    op,
                    self.send_impl(cx, me, to, QueueKind::External, msg, payload),
                )
            }
            Action::Reply { msg, payload } => match sender {
                Some(to) => {
                    let op = TaskOp::Send {
                        to: name_of(self, to),
                        msg,
                    };
                    (
                        op,
                        self.send_impl(cx, me, to, QueueKind::External, msg, payload),
                    )
                }
                None => {
                    let task = t.config.name;
                    (TaskOp::Reply { msg }, Err(TaskError::NoSender { task }))
                }
            },
            Action::SendInternal { msg, payload } => {
                let op = TaskOp::Send {
                    to: t.config.name,
                    msg,
                };
                (
                    op,
                    self.send_impl(cx, me, t.id, QueueKind::Internal, msg, payload),
                )
            }
            Action::StartTimer {
                timer,
                delay,
                callback,
                aligned,
            } => {
                let result = self.start_timer_impl(cx, timer, delay, callback, aligned);
                (TaskOp::StartTimer { timer }, result.map(|_| ()))
            }
            Action::StopTimer { timer } => {
                let result = self.stop_timer_impl(cx, timer);
                (TaskOp::StopTimer { timer }, result.map(|_| ()))
            }
            Action::SetEvent {
                delay,
                callback,
                arg,
                aligned,
            } => {
                let result = self.set_event_impl(cx, delay, callback, arg, aligned);
                (TaskOp::SetEvent, result.map(|_| ()))
            }
        }
    }

    /// Runs task `id`'s reset handler (`comp_reset_func`), in the caller's context.
    pub fn reset_task<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        id: TaskId,
    ) -> Result<(), TaskError> {
        let result = self.run_handler(cx, id, HandlerKind::Reset);
        let task = self.task(id).map_or(EXTERNAL_NAME, |t| t.config.name);
        self.fault_on(cx, TaskOp::Reset { task }, result)
    }

    /// Runs task `id`'s end handler (`comp_end_func`), in the caller's context.
    pub fn end_task<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        id: TaskId,
    ) -> Result<(), TaskError> {
        let result = self.run_handler(cx, id, HandlerKind::End);
        let task = self.task(id).map_or(EXTERNAL_NAME, |t| t.config.name);
        self.fault_on(cx, TaskOp::End { task }, result)
    }

    fn run_handler<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        id: TaskId,
        kind: HandlerKind,
    ) -> Result<(), TaskError> {
        let t = self.info(id)?;
        let handler = match kind {
            HandlerKind::Reset => t.config.handlers.reset,
            _ => t.config.handlers.end,
        };
        match handler {
            Some(b) => self.exec(cx, id, kind, b, None, false),
            None => Ok(()),
        }
    }

    // ----- the scheduler ---------------------------------------------------------------

    /// Lets the tasks run until every queue is empty and every entry handler has run, one
    /// turn at a time, most urgent task first. Returns the turns taken. Fails with
    /// [`TaskError::Budget`] after the configured budget of turns (tasks that keep sending
    /// to each other), and with the error of a handler that overflowed its stack.
    pub fn run_until_idle<S: Storage>(&mut self, cx: &mut Ctx<'_, S>) -> Result<u32, TaskError> {
        let result = self.run_impl(cx, true);
        self.fault_on(cx, TaskOp::Run, result)
    }

    fn run_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        report_idle: bool,
    ) -> Result<u32, TaskError> {
        let mut handled = 0;
        loop {
            let Some(id) = self.pick(cx.ram)? else {
                if report_idle || handled > 0 {
                    let now = self.now(cx.ram)?;
                    cx.emit(self.name, EventKind::Task(TaskEvent::Idle { now, handled }));
                }
                return Ok(handled);
            };
            if handled >= self.budget {
                return Err(TaskError::Budget { handled });
            }
            self.turn(cx, id)?;
            handled += 1;
        }
    }

    /// The most urgent runnable task: smallest priority number, ties in table order.
    fn pick<S: Storage>(&self, ram: &Ram<S>) -> Result<Option<TaskId>, TaskError> {
        let mut best: Option<(u8, TaskId)> = None;
        for t in self.tasks() {
            let tcb = self.read_tcb(ram, &t)?;
            let runnable = matches!(tcb.state, TaskState::Initialized | TaskState::Ready);
            if runnable && best.is_none_or(|(p, _)| t.config.priority < p) {
                best = Some((t.config.priority, t.id));
            }
        }
        Ok(best.map(|(_, id)| id))
    }

    /// One turn of task `id`: its entry handler, or one message.
    fn turn<S: Storage>(&mut self, cx: &mut Ctx<'_, S>, id: TaskId) -> Result<(), TaskError> {
        let t = self.info(id)?;
        let current = self.kcb + KCB_CURRENT;
        cx.set_word(self.name, current, Field::Id, id.0 as u32)?;
        let result = self.turn_body(cx, &t);
        // Whatever happened, the task leaves the CPU: its state follows its queues.
        let settled = self.settle(cx, &t);
        let cleared = cx.set_word(self.name, current, Field::Id, NO_TASK);
        result?;
        settled?;
        cleared?;
        Ok(())
    }

    fn turn_body<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        t: &TaskInfo,
    ) -> Result<(), TaskError> {
        let tcb = self.read_tcb(cx.ram, t)?;
        match tcb.state {
            TaskState::Initialized => match t.config.handlers.entry {
                Some(b) => self.exec(cx, t.id, HandlerKind::Entry, b, None, true),
                None => Ok(()),
            },
            TaskState::Ready => {
                let int = self.read_queue(cx.ram, t, QueueKind::Internal)?;
                let kind = if int.is_some_and(|q| q.count > 0) {
                    QueueKind::Internal
                } else {
                    QueueKind::External
                };
                let m = self.dequeue(cx, t, kind)?;
                let result = self.handle(cx, t, m);
                let tcb = self.read_tcb(cx.ram, t)?;
                let handled = tcb.handled.wrapping_add(1);
                cx.set_word(t.config.name, t.tcb + TCB_HANDLED, Field::Count, handled)?;
                result
            }
            _ => Ok(()),
        }
    }

    /// Dispatches one message: the timer expiry to the event scheduler in the MMI task,
    /// others to the first matching protocol handler.
    fn handle<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        t: &TaskInfo,
        m: Message,
    ) -> Result<(), TaskError> {
        let is_expiry = m.msg == MSG_ID_TIMER_EXPIRY && m.src == Src::Timer;
        if is_expiry && Some(t.id) == self.mmi {
            return self.timer_handler(cx);
        }
        match self.program.handler_for(t.id, m.msg) {
            Some(b) => {
                let sender = match m.src {
                    Src::Task(s) => Some(s),
                    _ => None,
                };
                self.exec(cx, t.id, HandlerKind::Message, b, sender, true)
            }
            None => {
                let from = self.src_name(m.src);
                let unhandled = TaskEvent::Unhandled { msg: m.msg, from };
                cx.emit(t.config.name, EventKind::Task(unhandled));
                Ok(())
            }
        }
    }

    /// After a turn: `waiting` or `ready` according to the queues, unless faulted.
    fn settle<S: Storage>(&self, cx: &mut Ctx<'_, S>, t: &TaskInfo) -> Result<(), TaskError> {
        let tcb = self.read_tcb(cx.ram, t)?;
        if tcb.state == TaskState::Faulted {
            return Ok(());
        }
        let mut queued = 0;
        for kind in [QueueKind::External, QueueKind::Internal] {
            queued += self.read_queue(cx.ram, t, kind)?.map_or(0, |q| q.count);
        }
        let state = if queued > 0 {
            TaskState::Ready
        } else {
            TaskState::Waiting
        };
        if tcb.state != state {
            self.set_state(cx, t, state)?;
        }
        Ok(())
    }

    // ----- the check ---------------------------------------------------------------------

    /// A full check of every structure in RAM: KCB, TCBs, stack guards, queues and their
    /// messages, the event scheduler and the timer table, and how they agree.
    pub fn check<S: Storage>(&self, ram: &Ram<S>) -> Result<(), TaskError> {
        let kcb = self.kcb;
        let expected = [
            (KCB_MAGIC_AT, Field::Magic, KCB_MAGIC),
            (KCB_TASKS, Field::Count, self.count as u32),
            (KCB_PHASE, Field::State, Phase::Running.word()),
            (KCB_CURRENT, Field::Id, NO_TASK),
        ];
        for (off, field, want) in expected {
            let found = ram.read_u32(kcb + off)?;
            if found != want {
                return Err(corrupted(kcb + off, field, want, found));
            }
        }
        let now = self.now(ram)?;
        let mut expiry_messages = 0;
        for t in self.tasks() {
            let entry = kcb + KCB_HEADER + 4 * t.id.0 as u32;
            let found = ram.read_u32(entry)?;
            if found != t.tcb {
                return Err(corrupted(entry, Field::Data, t.tcb, found));
            }
            let tcb = self.read_tcb(ram, &t)?;
            self.check_guard(ram, &t)?;
            let mut queued = 0;
            for kind in [QueueKind::External, QueueKind::Internal] {
                let Some(q) = self.read_queue(ram, &t, kind)? else {
                    continue;
                };
                queued += q.count;
                for k in 0..q.count {
                    let slot = (q.head + k) % q.capacity;
                    let m = self.read_message(ram, &q, slot)?;
                    if m.src != Src::Timer {
                        continue;
                    }
                    let legal = Some(t.id) == self.mmi
                        && kind == QueueKind::External
                        && m.msg == MSG_ID_TIMER_EXPIRY;
                    if !legal {
                        return Err(inconsistent(
                            q.slot_addr(slot) + M_SRC,
                            "only MSG_ID_TIMER_EXPIRY in the MMI task's external queue comes from the timer",
                        ));
                    }
                    expiry_messages += 1;
                }
            }
            let state_at = t.tcb + TCB_STATE;
            match tcb.state {
                TaskState::Created => {
                    return Err(inconsistent(
                        state_at,
                        "a task is still 'created' after boot",
                    ))
                }
                TaskState::Waiting if queued > 0 => {
                    return Err(inconsistent(state_at, "a waiting task has messages"))
                }
                TaskState::Ready if queued == 0 => {
                    return Err(inconsistent(state_at, "a ready task has no message"))
                }
                _ => {}
            }
        }
        match self.timer_pair() {
            Ok((es, tt)) => {
                es.check(ram, now)?;
                tt.check(ram, &es)?;
                let (hw, _) = es.hw(ram)?;
                let in_flight = u32::from(hw == HwState::Expired);
                if expiry_messages != in_flight {
                    return Err(inconsistent(
                        es.control_block(),
                        "the timer expiry messages queued do not match the hardware timer's state",
                    ));
                }
            }
            Err(_) if expiry_messages > 0 => {
                return Err(inconsistent(
                    kcb,
                    "a timer expiry is queued but there are no timers",
                ))
            }
            Err(_) => {}
        }
        Ok(())
    }

    fn fault_on<T, S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        op: TaskOp,
        result: Result<T, TaskError>,
    ) -> Result<T, TaskError> {
        if let Err(error) = result {
            cx.emit(self.name, EventKind::Task(TaskEvent::Fault { op, error }));
        }
        result
    }
}
