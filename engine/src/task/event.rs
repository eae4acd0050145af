//! What the task system reports: its trace events, its typed errors and their canonical
//! text.

use core::fmt;

use crate::error::{AllocError, ConfigError};
use crate::evshed::TimerError;
use crate::name::Name;
use crate::ram::{Addr, Fault};

use super::program::{MsgId, MSG_ID_TIMER_EXPIRY};

/// Which of a task's two queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QueueKind {
    /// Other tasks (and interrupts, and the script) send into it.
    External,
    /// The task's own modules send into it.
    Internal,
}

impl QueueKind {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueKind::External => "ext",
            QueueKind::Internal => "int",
        }
    }

    /// The `kind` word of the queue control block.
    pub fn word(self) -> u32 {
        match self {
            QueueKind::External => 0,
            QueueKind::Internal => 1,
        }
    }
}

/// Which handler of a task runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HandlerKind {
    Init,
    Entry,
    Cfg,
    Reset,
    End,
    /// A protocol handler for a message.
    Message,
    /// A timer callback, run by the MMI task.
    Timer,
}

impl HandlerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HandlerKind::Init => "init",
            HandlerKind::Entry => "entry",
            HandlerKind::Cfg => "cfg",
            HandlerKind::Reset => "reset",
            HandlerKind::End => "end",
            HandlerKind::Message => "message",
            HandlerKind::Timer => "timer",
        }
    }
}

/// The boot phase kept in the kernel control block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Carving TCBs, stacks and queues.
    Create,
    /// Running init handlers (`Application_Initialize`).
    Init,
    /// Running cfg handlers.
    Config,
    /// The scheduler runs.
    Running,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Create => "create",
            Phase::Init => "init",
            Phase::Config => "config",
            Phase::Running => "running",
        }
    }

    pub fn word(self) -> u32 {
        match self {
            Phase::Create => 0,
            Phase::Init => 1,
            Phase::Config => 2,
            Phase::Running => 3,
        }
    }
}

/// The operation a task error belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskOp {
    Boot,
    Send {
        to: Name,
        msg: MsgId,
    },
    Reply {
        msg: MsgId,
    },
    /// The scheduler ran a handler.
    Run,
    Tick {
        ticks: u32,
    },
    /// The timer interrupt posted `MSG_ID_TIMER_EXPIRY`.
    Expiry,
    StartTimer {
        timer: u16,
    },
    StopTimer {
        timer: u16,
    },
    SetEvent,
    CancelEvent {
        id: u32,
    },
    Reset {
        task: Name,
    },
    End {
        task: Name,
    },
    Check,
}

/// Writes a message id: `MSG_ID_TIMER_EXPIRY` by name, others as numbers.
pub(crate) struct MsgName(pub MsgId);

impl fmt::Display for MsgName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == MSG_ID_TIMER_EXPIRY {
            f.write_str("MSG_ID_TIMER_EXPIRY")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl fmt::Display for TaskOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TaskOp::Boot => f.write_str("op=boot"),
            TaskOp::Send { to, msg } => write!(f, "op=send to={to} msg={}", MsgName(msg)),
            TaskOp::Reply { msg } => write!(f, "op=reply msg={}", MsgName(msg)),
            TaskOp::Run => f.write_str("op=run"),
            TaskOp::Tick { ticks } => write!(f, "op=tick ticks={ticks}"),
            TaskOp::Expiry => f.write_str("op=expiry"),
            TaskOp::StartTimer { timer } => write!(f, "op=start_timer timer={timer}"),
            TaskOp::StopTimer { timer } => write!(f, "op=stop_timer timer={timer}"),
            TaskOp::SetEvent => f.write_str("op=set_event"),
            TaskOp::CancelEvent { id } => write!(f, "op=cancel_event id={id}"),
            TaskOp::Reset { task } => write!(f, "op=reset task={task}"),
            TaskOp::End { task } => write!(f, "op=end task={task}"),
            TaskOp::Check => f.write_str("op=check"),
        }
    }
}

/// Why a task-system operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskError {
    /// A RAM access failed, metadata in RAM is corrupt, system memory ran out, or the
    /// configuration is refused.
    Mem(AllocError),
    /// The event scheduler or the MMI timer layer refused (never `TimerError::Mem`: those
    /// are `Mem`).
    Timer(TimerError),
    /// The queue is full; the message was not queued. On MTK this is a fatal error.
    QueueFull {
        task: Name,
        queue: QueueKind,
        capacity: u32,
    },
    /// The task has no queue of that kind (its configured capacity is 0).
    NoQueue { task: Name, queue: QueueKind },
    /// A reply to a message that did not come from a task.
    NoSender { task: Name },
    /// A send that claims to come from the timer interrupt, or that targets another
    /// task's internal queue.
    BadSource,
    /// No task has this id.
    NoSuchTask { id: u32 },
    /// No task has this name.
    UnknownTask { name: Name },
    /// No behaviour has this id.
    NoSuchBehaviour { id: u32 },
    /// Two rows of the task table have this name.
    DuplicateTask { name: Name },
    /// A timer operation on a system without an MMI task.
    NoMmi,
    /// The guard at the end of `task`'s stack is overwritten: the word at `at` holds
    /// `found` instead of `expected`. `used` is the deepest stack use declared so far.
    StackOverflow {
        task: Name,
        at: Addr,
        expected: u32,
        found: u32,
        used: u32,
        size: u32,
    },
    /// `run_until_idle` handled this many messages and the queues are still not empty
    /// (tasks keep sending to each other).
    Budget { handled: u32 },
    /// The clock cannot advance that far.
    ClockOverflow { now: u32, ticks: u32 },
    /// The task system was already booted on this control block (or boot is re-entered).
    AlreadyBooted,
}

impl From<AllocError> for TaskError {
    fn from(error: AllocError) -> TaskError {
        TaskError::Mem(error)
    }
}

impl From<Fault> for TaskError {
    fn from(fault: Fault) -> TaskError {
        TaskError::Mem(AllocError::Bus(fault))
    }
}

impl From<ConfigError> for TaskError {
    fn from(error: ConfigError) -> TaskError {
        TaskError::Mem(AllocError::Config(error))
    }
}

impl From<TimerError> for TaskError {
    fn from(error: TimerError) -> TaskError {
        match error {
            TimerError::Mem(e) => TaskError::Mem(e),
            other => TaskError::Timer(other),
        }
    }
}

impl TaskError {
    /// The error's kind as one word, as scripts name it.
    pub fn kind(&self) -> &'static str {
        match self {
            TaskError::Mem(e) => e.kind(),
            TaskError::Timer(e) => e.kind(),
            TaskError::QueueFull { .. } => "QueueFull",
            TaskError::NoQueue { .. } => "NoQueue",
            TaskError::NoSender { .. } => "NoSender",
            TaskError::BadSource => "BadSource",
            TaskError::NoSuchTask { .. } => "NoSuchTask",
            TaskError::UnknownTask { .. } => "UnknownTask",
            TaskError::NoSuchBehaviour { .. } => "NoSuchBehaviour",
            TaskError::DuplicateTask { .. } => "DuplicateTask",
            TaskError::NoMmi => "NoMmi",
            TaskError::StackOverflow { .. } => "StackOverflow",
            TaskError::Budget { .. } => "Budget",
            TaskError::ClockOverflow { .. } => "ClockOverflow",
            TaskError::AlreadyBooted => "AlreadyBooted",
        }
    }

    /// True for the faults a running system reports and survives: a full or missing
    /// queue, a reply with no sender, a timer table or event list that is full, a stale
    /// event id. Corrupt RAM, a stack overflow and the like are not.
    pub fn is_soft(&self) -> bool {
        matches!(
            self,
            TaskError::QueueFull { .. }
                | TaskError::NoQueue { .. }
                | TaskError::NoSender { .. }
                | TaskError::Timer(_)
        )
    }

    /// The canonical trace form: `error=Kind key=value ...`.
    pub fn write_canonical(&self, f: &mut dyn fmt::Write) -> fmt::Result {
        match *self {
            TaskError::Mem(e) => return e.write_canonical(f),
            TaskError::Timer(e) => return e.write_canonical(f),
            _ => {}
        }
        write!(f, "error={}", self.kind())?;
        match *self {
            TaskError::QueueFull {
                task,
                queue,
                capacity,
            } => write!(
                f,
                " task={task} queue={} capacity={capacity}",
                queue.as_str()
            ),
            TaskError::NoQueue { task, queue } => {
                write!(f, " task={task} queue={}", queue.as_str())
            }
            TaskError::NoSender { task } => write!(f, " task={task}"),
            TaskError::NoSuchTask { id } | TaskError::NoSuchBehaviour { id } => {
                write!(f, " id={id}")
            }
            TaskError::UnknownTask { name } | TaskError::DuplicateTask { name } => {
                write!(f, " name={name}")
            }
            TaskError::StackOverflow {
                task,
                at,
                expected,
                found,
                used,
                size,
            } => write!(
                f,
                " task={task} at={at:#010x} expected={expected:#010x} found={found:#010x} used={used} size={size}"
            ),
            TaskError::Budget { handled } => write!(f, " handled={handled}"),
            TaskError::ClockOverflow { now, ticks } => write!(f, " now={now} ticks={ticks}"),
            TaskError::BadSource
            | TaskError::NoMmi
            | TaskError::AlreadyBooted
            | TaskError::Mem(_)
            | TaskError::Timer(_) => Ok(()),
        }
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TaskError::Mem(e) => e.fmt(f),
            TaskError::Timer(e) => e.fmt(f),
            TaskError::QueueFull {
                task,
                queue,
                capacity,
            } => write!(
                f,
                "the {} queue of {task} is full ({capacity} messages): the message is lost",
                queue.as_str()
            ),
            TaskError::NoQueue { task, queue } => {
                write!(f, "{task} has no {} queue", queue.as_str())
            }
            TaskError::NoSender { task } => write!(
                f,
                "{task} replied to a message that did not come from a task"
            ),
            TaskError::BadSource => f.write_str(
                "only the timer interrupt sends as the timer, and only a task itself uses its internal queue",
            ),
            TaskError::NoSuchTask { id } => write!(f, "there is no task with id {id}"),
            TaskError::UnknownTask { name } => write!(f, "there is no task named {name}"),
            TaskError::NoSuchBehaviour { id } => write!(f, "there is no behaviour with id {id}"),
            TaskError::DuplicateTask { name } => {
                write!(f, "two tasks of the task table are named {name}")
            }
            TaskError::NoMmi => f.write_str("timers need an MMI task, and none is configured"),
            TaskError::StackOverflow {
                task,
                at,
                expected,
                found,
                used,
                size,
            } => write!(
                f,
                "stack overflow in {task}: the guard word at {at:#010x} holds {found:#010x} instead of {expected:#010x} ({used} bytes used of a {size}-byte stack)"
            ),
            TaskError::Budget { handled } => write!(
                f,
                "{handled} messages handled and the queues are still not empty: do the tasks keep sending to each other?"
            ),
            TaskError::ClockOverflow { now, ticks } => write!(
                f,
                "{ticks} ticks from tick {now} run past the 32-bit clock"
            ),
            TaskError::AlreadyBooted => f.write_str("the task system is already booted"),
        }
    }
}

/// What the task system reports. The source of an event is the task whose structures
/// changed (its TCB, stack or queue), or the task system's own name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskEvent {
    /// Boot entered `phase`.
    Phase { phase: Phase },
    /// A task's TCB, stack and queues were carved and formatted; `bytes` in all.
    Create {
        task: Name,
        id: u8,
        priority: u8,
        tcb: Addr,
        stack: Addr,
        stack_size: u32,
        ext: Addr,
        ext_capacity: u16,
        int: Addr,
        int_capacity: u16,
        bytes: u32,
    },
    /// A handler of the source task starts: which one, its behaviour, its stack use.
    Run {
        handler: HandlerKind,
        behaviour: u8,
        stack: u32,
    },
    /// A message went into one of the source task's queues, at `slot`; the queue now
    /// holds `count`.
    Enqueue {
        queue: QueueKind,
        msg: MsgId,
        from: Name,
        payload: [u32; 2],
        slot: u32,
        count: u32,
    },
    /// A message a full queue of the source task holds (listed before `QueueFull`).
    Held {
        queue: QueueKind,
        slot: u32,
        msg: MsgId,
        from: Name,
        payload: [u32; 2],
    },
    /// The scheduler took a message from `slot`; `count` are left.
    Dequeue {
        queue: QueueKind,
        msg: MsgId,
        from: Name,
        payload: [u32; 2],
        slot: u32,
        count: u32,
    },
    /// No protocol handler is registered for the message: it is dropped.
    Unhandled { msg: MsgId, from: Name },
    /// Every queue is empty at tick `now`; `handled` messages were handled.
    Idle { now: u32, handled: u32 },
    /// The clock went from `from` to `to`.
    Tick { from: u32, to: u32 },
    /// An operation failed.
    Fault { op: TaskOp, error: TaskError },
}

impl TaskEvent {
    /// The kind's word in the canonical line.
    pub fn word(&self) -> &'static str {
        match self {
            TaskEvent::Phase { .. } => "phase",
            TaskEvent::Create { .. } => "create",
            TaskEvent::Run { .. } => "run",
            TaskEvent::Enqueue { .. } => "enqueue",
            TaskEvent::Held { .. } => "held",
            TaskEvent::Dequeue { .. } => "dequeue",
            TaskEvent::Unhandled { .. } => "unhandled",
            TaskEvent::Idle { .. } => "idle",
            TaskEvent::Tick { .. } => "tick",
            TaskEvent::Fault { .. } => "fault",
        }
    }

    /// True for the events that close an operation.
    pub fn is_summary(&self) -> bool {
        !matches!(
            self,
            TaskEvent::Run { .. } | TaskEvent::Held { .. } | TaskEvent::Dequeue { .. }
        )
    }
}

/// The canonical fields, in declaration order.
impl fmt::Display for TaskEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TaskEvent::Phase { phase } => write!(f, "phase={}", phase.as_str()),
            TaskEvent::Create {
                task,
                id,
                priority,
                tcb,
                stack,
                stack_size,
                ext,
                ext_capacity,
                int,
                int_capacity,
                bytes,
            } => write!(
                f,
                "task={task} id={id} priority={priority} tcb={tcb:#010x} stack={stack:#010x} stack_size={stack_size} ext={ext:#010x} ext_capacity={ext_capacity} int={int:#010x} int_capacity={int_capacity} bytes={bytes}"
            ),
            TaskEvent::Run {
                handler,
                behaviour,
                stack,
            } => write!(
                f,
                "handler={} behaviour={behaviour} stack={stack}",
                handler.as_str()
            ),
            TaskEvent::Enqueue {
                queue,
                msg,
                from,
                payload,
                slot,
                count,
            }
            | TaskEvent::Dequeue {
                queue,
                msg,
                from,
                payload,
                slot,
                count,
            } => write!(
                f,
                "queue={} msg={} from={from} p0={:#010x} p1={:#010x} slot={slot} count={count}",
                queue.as_str(),
                MsgName(msg),
                payload[0],
                payload[1]
            ),
            TaskEvent::Held {
                queue,
                slot,
                msg,
                from,
                payload,
            } => write!(
                f,
                "queue={} slot={slot} msg={} from={from} p0={:#010x} p1={:#010x}",
                queue.as_str(),
                MsgName(msg),
                payload[0],
                payload[1]
            ),
            TaskEvent::Unhandled { msg, from } => {
                write!(f, "msg={} from={from}", MsgName(msg))
            }
            TaskEvent::Idle { now, handled } => write!(f, "now={now} handled={handled}"),
            TaskEvent::Tick { from, to } => write!(f, "from={from} to={to}"),
            TaskEvent::Fault { op, error } => {
                write!(f, "{op} ")?;
                error.write_canonical(f)
            }
        }
    }
}
