//! MTK's event scheduler (`evshed`) and the MMI timer layer on top of it
//! (`StartTimer`/`StopTimer`).
//!
//! # The real mechanism
//!
//! KAL's event scheduler (`event_shed.h`) keeps the pending timer events of one task in a
//! list sorted by absolute expiry tick and drives them with *one* underlying stack timer:
//! `evshed_set_event(es, callback, param, elapse)` inserts an event and, when it becomes
//! the nearest, restarts the timer; `evshed_cancel_event(es, &eid)` unlinks one. When the
//! timer expires, the timer interrupt posts `MSG_ID_TIMER_EXPIRY` to the owning task
//! (MMI); the MMI task's loop hands that message to `EvshedMMITimerHandler`, which calls
//! `evshed_timer_handler(es)`: every expired event is unlinked and its callback run, then
//! the timer is restarted for the next one (seed 002).
//!
//! The MMI framework (`MMITimer.c`) builds `StartTimer(timer_id, delay, callback)` on it:
//! `L4StartTimer` first stops the timer id if it runs (a restart replaces it), then takes a
//! free slot of the timer table (`TIMERTABLE`, `SIMULTANEOUS_TIMER_NUM` slots of
//! `mmi_frm_timer_type {timer_type, timer_id, event_id, callback_func, arg}`) and sets an
//! event whose callback is `L4CallBackTimer` with the slot as its parameter. On expiry
//! `L4CallBackTimer` clears the slot *before* running the user's callback, so that the
//! callback may start the same timer again. `StopTimer` finds the slot by timer id and
//! calls `evshed_cancel_event`.
//!
//! MTK has two kinds of timers. *Aligned* ones (`StartTimer`, the default) tolerate delay:
//! their expiry may be postponed (MMI's aligned scheduler allows up to 254 ticks) so that
//! several expiries are served by one wake-up, which saves power. *Non-aligned* ones
//! (`StartNonAlignTimer`, `TIMER_IS_NO_ALIGNMENT`) fire exactly; the touch screen and
//! handwriting use them (seed 002).
//!
//! # The model
//!
//! [`Evshed`] is one event list with one hardware timer; each event carries an *aligned*
//! flag. (MTK keeps two schedulers, "MMI_a" and "MMI_na", each with its own stack timer;
//! one list shows the contrast in one place.) The hardware timer is armed for a *target*
//! tick computed from the list:
//!
//! - if the nearest event is non-aligned, the target is its expiry: it fires exactly;
//! - if it is aligned, with expiry `E0`, the target is the expiry of the last event in the
//!   *fuzz window* `[E0, E0 + fuzz]`, stopping at the first non-aligned one (which must not
//!   be late). Every event due by the target fires in the same handler run: aligned events
//!   are late by at most `fuzz` ticks and batched with their neighbours, non-aligned
//!   events are never late.
//!
//! Events are never fired early. A delay of 0 counts as 1 tick, as `L4StartTimer` rounds a
//! zero duration up to one tick: an event never expires in the tick it was set.
//!
//! The hardware timer has four states (word `hw_state`):
//!
//! - `STOPPED`: no event is pending;
//! - `RUNNING`: armed for `hw_expiry`;
//! - `EXPIRED`: it fired and `MSG_ID_TIMER_EXPIRY` is in the MMI task's queue; the list is
//!   not re-armed until the handler has run ([`Evshed::handler_done`]);
//! - `LOST`: it fired but the expiry message could not be posted (the MMI queue was full).
//!   The expired events stay in the list, overdue. On MTK, `msg_send_ext_queue` to a full
//!   queue is a fatal error; memplay reports it and carries on, so the consequence shows:
//!   nothing fires them until the list changes again, which re-arms the hardware timer one
//!   tick ahead.
//!
//! The clock is not kept here: it is the system tick count in the task system's control
//! block, passed in as `now`.
//!
//! # RAM layout
//!
//! Carved from system memory by [`Evshed::create`] (all words little-endian `u32`):
//!
//! ```text
//! control block (EVSHED_CB_SIZE = 36 bytes)
//! +0   magic      EVSHED_MAGIC (0x45565348, "EVSH")
//! +4   capacity   event nodes, 1..=MAX_EVENTS
//! +8   fuzz       the alignment window in ticks
//! +12  head       first pending event (the nearest expiry), 0 when none
//! +16  free       first free event node, 0 when none
//! +20  pending    pending events
//! +24  hw_state   STOPPED 0, RUNNING 1, EXPIRED 2, LOST 3
//! +28  hw_expiry  the tick the hardware timer is armed for (meaningful iff RUNNING)
//! +32  next_id    the id the next event gets (never 0)
//!
//! event node i at cb + 36 + 28 * i (EVENT_SIZE = 28 bytes)
//! +0   next       next node on the same list (pending or free), 0 at the end
//! +4   valid      validity pattern: EVENT_VALID (0x45564e54, "EVNT") iff pending,
//!                 EVENT_FREE (0x46524545, "FREE") iff free
//! +8   id         the event id iff pending; 0 iff free
//! +12  expiry     absolute expiry tick
//! +16  callback   callback id (L4_CALLBACK_TIMER for the MMI timer layer)
//! +20  arg        the callback's argument
//! +24  flags      bit 0: aligned
//! ```
//!
//! Invariants (checked by [`Evshed::check`]):
//! - the pending list holds `pending` nodes sorted by expiry (ties in the order they were
//!   set), with distinct non-zero ids; the free list holds the other nodes; every node is
//!   on exactly one list;
//! - `hw_state` is `STOPPED` iff nothing is pending and no expiry is in flight or lost;
//!   `RUNNING` implies something is pending and `hw_expiry == max(target, now + 1)`;
//!   `LOST` implies the nearest event is overdue.
//!
//! The MMI timer table ([`MmiTimers`]):
//!
//! ```text
//! +0   magic      TIMER_TABLE_MAGIC (0x4d544d52, "MTMR")
//! +4   slots      number of slots (SIMULTANEOUS_TIMER_NUM), 1..=MAX_TIMER_SLOTS
//! +8   used       slots in use (g_timer_table_used)
//! slot i at +12 + 20 * i (TIMER_SLOT_SIZE = 20 bytes), mmi_frm_timer_type:
//! +0   timer_id   the MMI timer id
//! +4   event_id   the evshed event id, 0 iff the slot is free
//! +8   callback   the user's callback id
//! +12  arg        its argument
//! +16  type       TIMER_IS_ALIGNMENT 0, TIMER_IS_NO_ALIGNMENT 1
//! ```
//!
//! Invariants: a free slot is all zero (`memset` on stop and expiry); a used slot's event
//! is pending with callback `L4_CALLBACK_TIMER`, the slot index as its argument and the
//! slot's alignment; no timer id is in two used slots; every pending `L4_CALLBACK_TIMER`
//! event belongs to the slot its argument names.

use core::fmt;

use crate::allocator::{Allocator, Ctx, Owner};
use crate::error::{AllocError, ConfigError};
use crate::name::Name;
use crate::ram::{Addr, Ram, Storage};
use crate::sysmem::SystemMemory;
use crate::trace::{EventKind, Field};

/// The most event nodes one scheduler can have.
pub const MAX_EVENTS: u32 = 64;
/// The largest alignment window: MTK's `max_delay_ticks` is a `kal_uint8`.
pub const MAX_FUZZ: u32 = 255;
/// The most slots the MMI timer table can have.
pub const MAX_TIMER_SLOTS: u32 = 64;
/// The scheduler control block's magic word, "EVSH".
pub const EVSHED_MAGIC: u32 = 0x4556_5348;
/// The validity pattern of a pending event, "EVNT".
pub const EVENT_VALID: u32 = 0x4556_4e54;
/// The validity pattern of a free event node, "FREE".
pub const EVENT_FREE: u32 = 0x4652_4545;
/// The MMI timer table's magic word, "MTMR".
pub const TIMER_TABLE_MAGIC: u32 = 0x4d54_4d52;
/// The callback id of `L4CallBackTimer`, the MMI timer layer's event callback ("L4CB").
pub const L4_CALLBACK_TIMER: u32 = 0x4c34_4342;
/// Bytes of the scheduler control block.
pub const EVSHED_CB_SIZE: u32 = 36;
/// Bytes of one event node.
pub const EVENT_SIZE: u32 = 28;
/// Bytes of the MMI timer table's header.
pub const TIMER_TABLE_HEADER: u32 = 12;
/// Bytes of one MMI timer slot.
pub const TIMER_SLOT_SIZE: u32 = 20;
/// `timer_type` of an aligned MMI timer.
pub const TIMER_IS_ALIGNMENT: u32 = 0;
/// `timer_type` of a non-aligned MMI timer.
pub const TIMER_IS_NO_ALIGNMENT: u32 = 1;

const CB_MAGIC: u32 = 0;
const CB_CAPACITY: u32 = 4;
const CB_FUZZ: u32 = 8;
const CB_HEAD: u32 = 12;
const CB_FREE: u32 = 16;
const CB_PENDING: u32 = 20;
const CB_HW_STATE: u32 = 24;
const CB_HW_EXPIRY: u32 = 28;
const CB_NEXT_ID: u32 = 32;

const EV_NEXT: u32 = 0;
const EV_VALID: u32 = 4;
const EV_ID: u32 = 8;
const EV_EXPIRY: u32 = 12;
const EV_CALLBACK: u32 = 16;
const EV_ARG: u32 = 20;
const EV_FLAGS: u32 = 24;
const FLAG_ALIGNED: u32 = 1;

const TT_MAGIC: u32 = 0;
const TT_SLOTS: u32 = 4;
const TT_USED: u32 = 8;
const SL_TIMER: u32 = 0;
const SL_EVENT: u32 = 4;
const SL_CALLBACK: u32 = 8;
const SL_ARG: u32 = 12;
const SL_TYPE: u32 = 16;

/// The list numbers `link`/`unlink` events use.
const LIST_FREE: u32 = 0;
const LIST_PENDING: u32 = 1;

/// The hardware timer's state, as kept in `hw_state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HwState {
    /// Nothing is pending.
    Stopped,
    /// Armed for `hw_expiry`.
    Running,
    /// Fired; `MSG_ID_TIMER_EXPIRY` waits in the MMI task's queue.
    Expired,
    /// Fired, but the expiry message could not be posted.
    Lost,
}

impl HwState {
    pub fn word(self) -> u32 {
        match self {
            HwState::Stopped => 0,
            HwState::Running => 1,
            HwState::Expired => 2,
            HwState::Lost => 3,
        }
    }

    fn from_word(word: u32) -> Option<HwState> {
        match word {
            0 => Some(HwState::Stopped),
            1 => Some(HwState::Running),
            2 => Some(HwState::Expired),
            3 => Some(HwState::Lost),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HwState::Stopped => "stopped",
            HwState::Running => "running",
            HwState::Expired => "expired",
            HwState::Lost => "lost",
        }
    }
}

/// An event id as `evshed_set_event` returns it; never 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub u32);

/// A pending event as the list holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventInfo {
    /// The node's address.
    pub node: Addr,
    pub id: EventId,
    pub expiry: u32,
    pub callback: u32,
    pub arg: u32,
    pub aligned: bool,
}

/// An event taken off the list because it is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fired {
    pub id: EventId,
    pub expiry: u32,
    /// The tick it fired at (`>= expiry`).
    pub at: u32,
    pub callback: u32,
    pub arg: u32,
    pub aligned: bool,
}

/// The operation a timer error belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerOp {
    Create,
    SetEvent,
    CancelEvent,
    StartTimer { timer: u16 },
    StopTimer { timer: u16 },
    Check,
}

impl fmt::Display for TimerOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TimerOp::Create => f.write_str("op=create"),
            TimerOp::SetEvent => f.write_str("op=set_event"),
            TimerOp::CancelEvent => f.write_str("op=cancel_event"),
            TimerOp::StartTimer { timer } => write!(f, "op=start_timer timer={timer}"),
            TimerOp::StopTimer { timer } => write!(f, "op=stop_timer timer={timer}"),
            TimerOp::Check => f.write_str("op=check"),
        }
    }
}

/// Why a timer operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerError {
    /// Every event node is in use.
    NoFreeEvent { capacity: u32 },
    /// No pending event has this id (it fired, was cancelled, or never existed);
    /// `evshed_cancel_event` returns -1.
    NoSuchEvent { id: u32 },
    /// Every slot of the MMI timer table is in use.
    NoFreeSlot { capacity: u32 },
    /// `now + delay` does not fit in the 32-bit clock.
    ClockOverflow { now: u32, delay: u32 },
    /// The event belongs to an MMI timer (its callback is `L4CallBackTimer`): cancelling
    /// it behind the timer table's back would leave the table naming a freed event. Stop
    /// the timer with `StopTimer` instead.
    OwnedByTimer { id: u32 },
    /// A RAM access failed or the metadata in RAM is corrupt (or the configuration is bad).
    Mem(AllocError),
}

impl From<AllocError> for TimerError {
    fn from(error: AllocError) -> TimerError {
        TimerError::Mem(error)
    }
}

impl From<crate::ram::Fault> for TimerError {
    fn from(fault: crate::ram::Fault) -> TimerError {
        TimerError::Mem(AllocError::Bus(fault))
    }
}

impl From<ConfigError> for TimerError {
    fn from(error: ConfigError) -> TimerError {
        TimerError::Mem(AllocError::Config(error))
    }
}

impl TimerError {
    /// The error's kind as one word.
    pub fn kind(&self) -> &'static str {
        match self {
            TimerError::NoFreeEvent { .. } => "NoFreeEvent",
            TimerError::NoSuchEvent { .. } => "NoSuchEvent",
            TimerError::NoFreeSlot { .. } => "NoFreeSlot",
            TimerError::ClockOverflow { .. } => "ClockOverflow",
            TimerError::OwnedByTimer { .. } => "OwnedByTimer",
            TimerError::Mem(e) => e.kind(),
        }
    }

    /// The canonical trace form: `error=Kind key=value ...`.
    pub fn write_canonical(&self, f: &mut dyn fmt::Write) -> fmt::Result {
        match *self {
            TimerError::Mem(e) => e.write_canonical(f),
            TimerError::NoFreeEvent { capacity } | TimerError::NoFreeSlot { capacity } => {
                write!(f, "error={} capacity={capacity}", self.kind())
            }
            TimerError::NoSuchEvent { id } | TimerError::OwnedByTimer { id } => {
                write!(f, "error={} id={id}", self.kind())
            }
            TimerError::ClockOverflow { now, delay } => {
                write!(f, "error=ClockOverflow now={now} delay={delay}")
            }
        }
    }
}

impl fmt::Display for TimerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TimerError::NoFreeEvent { capacity } => write!(
                f,
                "all {capacity} event nodes of the event scheduler are in use"
            ),
            TimerError::NoSuchEvent { id } => write!(
                f,
                "no pending event has id {id}: it fired, was cancelled or never existed"
            ),
            TimerError::NoFreeSlot { capacity } => {
                write!(f, "all {capacity} slots of the MMI timer table are in use")
            }
            TimerError::ClockOverflow { now, delay } => write!(
                f,
                "a delay of {delay} ticks from tick {now} runs past the 32-bit clock"
            ),
            TimerError::OwnedByTimer { id } => write!(
                f,
                "event {id} belongs to an MMI timer: stop it with StopTimer, not evshed_cancel_event"
            ),
            TimerError::Mem(e) => e.fmt(f),
        }
    }
}

/// Writes a callback id: `L4CallBackTimer` for the MMI layer's, else the number.
struct CallbackName(u32);

impl fmt::Display for CallbackName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == L4_CALLBACK_TIMER {
            f.write_str("L4CallBackTimer")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// What the event scheduler and the MMI timer layer report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerEvent {
    /// `evshed_set_event`: event `id` in `node` expires at `expiry` (`delay` from now).
    Set {
        id: u32,
        node: Addr,
        delay: u32,
        expiry: u32,
        callback: u32,
        arg: u32,
        aligned: bool,
    },
    /// `evshed_cancel_event`: event `id` (due at `expiry`) was taken off the list.
    Cancel { id: u32, expiry: u32 },
    /// The hardware timer was armed for tick `at`.
    HwStart { at: u32 },
    /// The hardware timer, armed for `was`, was stopped.
    HwStop { was: u32 },
    /// The hardware timer fired at tick `at`; the expiry message is posted next.
    HwExpire { at: u32 },
    /// The expiry message of tick `at` could not be posted; `pending` events wait.
    Lost { at: u32, pending: u32 },
    /// `evshed_timer_handler` fired event `id`, due at `expiry`, at tick `at`.
    Fire {
        id: u32,
        expiry: u32,
        at: u32,
        late: u32,
        callback: u32,
        arg: u32,
        aligned: bool,
    },
    /// `StartTimer`: MMI timer `timer` took `slot` and event `event`.
    Start {
        timer: u16,
        slot: u32,
        event: u32,
        delay: u32,
        callback: u32,
        aligned: bool,
    },
    /// `StopTimer` (or a restart) freed `slot` and cancelled `event`.
    Stop { timer: u16, slot: u32, event: u32 },
    /// `StopTimer` of a timer id that was not running: nothing to do.
    StopIdle { timer: u16 },
    /// `L4CallBackTimer`: the slot was cleared; the user's `callback` runs next.
    Expire {
        timer: u16,
        slot: u32,
        callback: u32,
        arg: u32,
    },
    /// An operation failed.
    Fault { op: TimerOp, error: TimerError },
}

impl TimerEvent {
    /// The kind's word in the canonical line.
    pub fn word(&self) -> &'static str {
        match self {
            TimerEvent::Set { .. } => "set",
            TimerEvent::Cancel { .. } => "cancel",
            TimerEvent::HwStart { .. } => "hw_start",
            TimerEvent::HwStop { .. } => "hw_stop",
            TimerEvent::HwExpire { .. } => "hw_expire",
            TimerEvent::Lost { .. } => "lost",
            TimerEvent::Fire { .. } => "fire",
            TimerEvent::Start { .. } => "start",
            TimerEvent::Stop { .. } | TimerEvent::StopIdle { .. } => "stop",
            TimerEvent::Expire { .. } => "expire",
            TimerEvent::Fault { .. } => "fault",
        }
    }

    /// True for the events that close an operation.
    pub fn is_summary(&self) -> bool {
        !matches!(
            self,
            TimerEvent::HwStart { .. } | TimerEvent::HwStop { .. } | TimerEvent::HwExpire { .. }
        )
    }
}

/// The canonical fields, in declaration order.
impl fmt::Display for TimerEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TimerEvent::Set {
                id,
                node,
                delay,
                expiry,
                callback,
                arg,
                aligned,
            } => write!(
                f,
                "id={id} node={node:#010x} delay={delay} expiry={expiry} callback={} arg={arg} aligned={}",
                CallbackName(callback),
                yes_no(aligned)
            ),
            TimerEvent::Cancel { id, expiry } => write!(f, "id={id} expiry={expiry}"),
            TimerEvent::HwStart { at } | TimerEvent::HwExpire { at } => write!(f, "at={at}"),
            TimerEvent::HwStop { was } => write!(f, "was={was}"),
            TimerEvent::Lost { at, pending } => write!(f, "at={at} pending={pending}"),
            TimerEvent::Fire {
                id,
                expiry,
                at,
                late,
                callback,
                arg,
                aligned,
            } => write!(
                f,
                "id={id} expiry={expiry} at={at} late={late} callback={} arg={arg} aligned={}",
                CallbackName(callback),
                yes_no(aligned)
            ),
            TimerEvent::Start {
                timer,
                slot,
                event,
                delay,
                callback,
                aligned,
            } => write!(
                f,
                "timer={timer} slot={slot} event={event} delay={delay} callback={} aligned={}",
                CallbackName(callback),
                yes_no(aligned)
            ),
            TimerEvent::Stop { timer, slot, event } => {
                write!(f, "timer={timer} slot={slot} event={event}")
            }
            TimerEvent::StopIdle { timer } => write!(f, "timer={timer} slot=- event=-"),
            TimerEvent::Expire {
                timer,
                slot,
                callback,
                arg,
            } => write!(
                f,
                "timer={timer} slot={slot} callback={} arg={arg}",
                CallbackName(callback)
            ),
            TimerEvent::Fault { op, error } => {
                write!(f, "{op} ")?;
                error.write_canonical(f)
            }
        }
    }
}

/// The control block's words, validated against the configuration.
#[derive(Clone, Copy, Debug)]
struct Header {
    head: Addr,
    free: Addr,
    pending: u32,
    state: HwState,
    hw_expiry: u32,
    next_id: u32,
}

/// One node's words.
#[derive(Clone, Copy, Debug)]
struct Node {
    next: Addr,
    valid: u32,
    id: u32,
    expiry: u32,
    callback: u32,
    arg: u32,
    flags: u32,
}

impl Node {
    fn aligned(&self) -> bool {
        self.flags & FLAG_ALIGNED != 0
    }
}

/// The MTK event scheduler with one hardware timer. See the module documentation.
///
/// The struct holds configuration and the control block's address; the list, the counts,
/// the hardware timer's state and every event live in RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Evshed {
    name: Name,
    cb: Addr,
    capacity: u32,
    fuzz: u32,
}

impl Evshed {
    /// `evshed_create`: carves the control block and `capacity` event nodes from system
    /// memory for `owner` and threads every node on the free list. `fuzz` is the window,
    /// in ticks, by which aligned events may be late (0 to [`MAX_FUZZ`]).
    pub fn create<S: Storage>(
        cx: &mut Ctx<'_, S>,
        sys: &mut SystemMemory,
        name: Name,
        capacity: u32,
        fuzz: u32,
        owner: Owner,
    ) -> Result<Evshed, TimerError> {
        let result = Evshed::create_impl(cx, sys, name, capacity, fuzz, owner);
        if let Err(error) = result {
            let op = TimerOp::Create;
            cx.emit(name, EventKind::Timer(TimerEvent::Fault { op, error }));
        }
        result
    }

    fn create_impl<S: Storage>(
        cx: &mut Ctx<'_, S>,
        sys: &mut SystemMemory,
        name: Name,
        capacity: u32,
        fuzz: u32,
        owner: Owner,
    ) -> Result<Evshed, TimerError> {
        if capacity == 0 {
            return Err(ConfigError::NoBlocks.into());
        }
        if capacity > MAX_EVENTS {
            return Err(ConfigError::TooMany { max: MAX_EVENTS }.into());
        }
        if fuzz > MAX_FUZZ {
            return Err(ConfigError::TooMany { max: MAX_FUZZ }.into());
        }
        let size = Evshed::size_for(capacity);
        let cb = sys.alloc(cx, size, owner)?;
        let es = Evshed {
            name,
            cb,
            capacity,
            fuzz,
        };
        es.format(cx)?;
        Ok(es)
    }

    /// Bytes carved for a scheduler of `capacity` events.
    pub fn size_for(capacity: u32) -> u32 {
        EVSHED_CB_SIZE + EVENT_SIZE * capacity.min(MAX_EVENTS)
    }

    fn format<S: Storage>(&self, cx: &mut Ctx<'_, S>) -> Result<(), TimerError> {
        let n = self.name;
        let cb = self.cb;
        cx.set_word(n, cb + CB_MAGIC, Field::Magic, EVSHED_MAGIC)?;
        cx.set_word(n, cb + CB_CAPACITY, Field::Count, self.capacity)?;
        cx.set_word(n, cb + CB_FUZZ, Field::Size, self.fuzz)?;
        cx.set_word(n, cb + CB_HEAD, Field::Head, 0)?;
        cx.set_word(n, cb + CB_FREE, Field::Head, self.node(0))?;
        cx.set_word(n, cb + CB_PENDING, Field::Count, 0)?;
        cx.set_word(n, cb + CB_HW_STATE, Field::State, HwState::Stopped.word())?;
        cx.set_word(n, cb + CB_HW_EXPIRY, Field::Expiry, 0)?;
        cx.set_word(n, cb + CB_NEXT_ID, Field::Id, 1)?;
        // The nodes' other words are rewritten by every set_event; zero them so the hex
        // view starts clean.
        let nodes = EVENT_SIZE * self.capacity;
        cx.fill(n, self.node(0), nodes, 0, Field::Data)?;
        for i in 0..self.capacity {
            let node = self.node(i);
            let next = if i + 1 < self.capacity {
                self.node(i + 1)
            } else {
                0
            };
            cx.set_word(n, node + EV_NEXT, Field::Next, next)?;
            cx.set_word(n, node + EV_VALID, Field::Magic, EVENT_FREE)?;
        }
        cx.emit(
            n,
            EventKind::Init {
                base: cb,
                size: Evshed::size_for(self.capacity),
            },
        );
        Ok(())
    }

    pub fn name(&self) -> Name {
        self.name
    }

    /// The control block's address.
    pub fn control_block(&self) -> Addr {
        self.cb
    }

    /// Event nodes.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// The alignment window in ticks.
    pub fn fuzz(&self) -> u32 {
        self.fuzz
    }

    /// The address of node `i`.
    pub fn node(&self, i: u32) -> Addr {
        self.cb + EVSHED_CB_SIZE + EVENT_SIZE * i
    }

    /// True iff `addr` is the start of one of the nodes.
    fn is_node(&self, addr: Addr) -> bool {
        let first = self.node(0);
        let off = addr.wrapping_sub(first);
        addr >= first && off.is_multiple_of(EVENT_SIZE) && off / EVENT_SIZE < self.capacity
    }

    fn header<S: Storage>(&self, ram: &Ram<S>) -> Result<Header, TimerError> {
        let word = |off: u32| ram.read_u32(self.cb + off);
        let magic = word(CB_MAGIC)?;
        if magic != EVSHED_MAGIC {
            return Err(corrupted(
                self.cb + CB_MAGIC,
                Field::Magic,
                EVSHED_MAGIC,
                magic,
            ));
        }
        for (off, field, expected) in [
            (CB_CAPACITY, Field::Count, self.capacity),
            (CB_FUZZ, Field::Size, self.fuzz),
        ] {
            let found = word(off)?;
            if found != expected {
                return Err(corrupted(self.cb + off, field, expected, found));
            }
        }
        let head = word(CB_HEAD)?;
        let free = word(CB_FREE)?;
        for (off, link) in [(CB_HEAD, head), (CB_FREE, free)] {
            if link != 0 && !self.is_node(link) {
                return Err(inconsistent(
                    self.cb + off,
                    "a list head is neither 0 nor an event node",
                ));
            }
        }
        let pending = word(CB_PENDING)?;
        if pending > self.capacity {
            return Err(inconsistent(
                self.cb + CB_PENDING,
                "more events pending than the scheduler has nodes",
            ));
        }
        let state_word = word(CB_HW_STATE)?;
        let state = HwState::from_word(state_word).ok_or(inconsistent(
            self.cb + CB_HW_STATE,
            "the hardware timer's state is not 0, 1, 2 or 3",
        ))?;
        let hw_expiry = word(CB_HW_EXPIRY)?;
        let next_id = word(CB_NEXT_ID)?;
        if next_id == 0 {
            return Err(inconsistent(
                self.cb + CB_NEXT_ID,
                "the next event id is 0, which is never an id",
            ));
        }
        Ok(Header {
            head,
            free,
            pending,
            state,
            hw_expiry,
            next_id,
        })
    }

    fn read_node<S: Storage>(&self, ram: &Ram<S>, node: Addr) -> Result<Node, TimerError> {
        let word = |off: u32| ram.read_u32(node + off);
        let n = Node {
            next: word(EV_NEXT)?,
            valid: word(EV_VALID)?,
            id: word(EV_ID)?,
            expiry: word(EV_EXPIRY)?,
            callback: word(EV_CALLBACK)?,
            arg: word(EV_ARG)?,
            flags: word(EV_FLAGS)?,
        };
        if n.next != 0 && !self.is_node(n.next) {
            return Err(inconsistent(
                node + EV_NEXT,
                "an event's next link is neither 0 nor an event node",
            ));
        }
        Ok(n)
    }

    /// Reads a node that must be pending.
    fn read_pending<S: Storage>(&self, ram: &Ram<S>, node: Addr) -> Result<Node, TimerError> {
        let n = self.read_node(ram, node)?;
        if n.valid != EVENT_VALID {
            return Err(corrupted(
                node + EV_VALID,
                Field::Magic,
                EVENT_VALID,
                n.valid,
            ));
        }
        if n.id == 0 {
            return Err(inconsistent(node + EV_ID, "a pending event has id 0"));
        }
        if n.flags & !FLAG_ALIGNED != 0 {
            return Err(inconsistent(
                node + EV_FLAGS,
                "an event's flags have bits other than 'aligned'",
            ));
        }
        Ok(n)
    }

    /// Reads a node that must be free.
    fn read_free<S: Storage>(&self, ram: &Ram<S>, node: Addr) -> Result<Node, TimerError> {
        let n = self.read_node(ram, node)?;
        if n.valid != EVENT_FREE {
            return Err(corrupted(
                node + EV_VALID,
                Field::Magic,
                EVENT_FREE,
                n.valid,
            ));
        }
        if n.id != 0 {
            return Err(inconsistent(node + EV_ID, "a free event node has an id"));
        }
        Ok(n)
    }

    /// Calls `visit` for each pending event, nearest first. At most `capacity` nodes are
    /// followed, so a corrupted (cyclic) list ends in an error, not a hang.
    pub fn for_each_pending<S: Storage>(
        &self,
        ram: &Ram<S>,
        visit: &mut dyn FnMut(EventInfo),
    ) -> Result<(), TimerError> {
        let h = self.header(ram)?;
        let mut at = h.head;
        let mut seen = 0;
        while at != 0 {
            if seen == self.capacity {
                return Err(inconsistent(
                    self.cb + CB_HEAD,
                    "the pending list is longer than the scheduler has nodes (a cycle)",
                ));
            }
            seen += 1;
            let n = self.read_pending(ram, at)?;
            visit(EventInfo {
                node: at,
                id: EventId(n.id),
                expiry: n.expiry,
                callback: n.callback,
                arg: n.arg,
                aligned: n.aligned(),
            });
            at = n.next;
        }
        Ok(())
    }

    /// The pending event with this id, if any.
    pub fn find<S: Storage>(
        &self,
        ram: &Ram<S>,
        id: EventId,
    ) -> Result<Option<EventInfo>, TimerError> {
        let mut found = None;
        self.for_each_pending(ram, &mut |e| {
            if e.id == id && found.is_none() {
                found = Some(e);
            }
        })?;
        Ok(found)
    }

    /// Pending events.
    pub fn pending<S: Storage>(&self, ram: &Ram<S>) -> Result<u32, TimerError> {
        Ok(self.header(ram)?.pending)
    }

    /// The hardware timer's state and the tick it is armed for.
    pub fn hw<S: Storage>(&self, ram: &Ram<S>) -> Result<(HwState, u32), TimerError> {
        let h = self.header(ram)?;
        Ok((h.state, h.hw_expiry))
    }

    /// The tick the hardware timer will fire at, if it is running. It is always after
    /// `now`; a running timer armed for `now` or earlier is corrupt metadata.
    pub fn next_fire<S: Storage>(&self, ram: &Ram<S>, now: u32) -> Result<Option<u32>, TimerError> {
        let h = self.header(ram)?;
        if h.state != HwState::Running {
            return Ok(None);
        }
        if h.hw_expiry <= now {
            return Err(inconsistent(
                self.cb + CB_HW_EXPIRY,
                "the running hardware timer is armed for a tick that has passed",
            ));
        }
        Ok(Some(h.hw_expiry))
    }

    /// `evshed_set_event`: an event `delay` ticks from `now` (0 counts as 1) that runs
    /// `callback(arg)`. Emits the `unlink`/`link` of the node, its `meta` writes, the
    /// hardware timer's restart if the nearest expiry changed, then `set`.
    pub fn set_event<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        now: u32,
        delay: u32,
        callback: u32,
        arg: u32,
        aligned: bool,
    ) -> Result<EventId, TimerError> {
        let result = self.set_event_impl(cx, now, delay, callback, arg, aligned);
        self.fault_on(cx, TimerOp::SetEvent, result)
    }

    pub(crate) fn set_event_impl<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        now: u32,
        delay: u32,
        callback: u32,
        arg: u32,
        aligned: bool,
    ) -> Result<EventId, TimerError> {
        let h = self.header(cx.ram)?;
        let delay = delay.max(1);
        let expiry = now
            .checked_add(delay)
            .ok_or(TimerError::ClockOverflow { now, delay })?;
        if h.free == 0 {
            return Err(TimerError::NoFreeEvent {
                capacity: self.capacity,
            });
        }
        let node = h.free;
        let free_node = self.read_free(cx.ram, node)?;
        // Find the insertion point: after every event due at or before `expiry`, so
        // events due in the same tick fire in the order they were set.
        let mut prev = 0;
        let mut at = h.head;
        let mut seen = 0;
        while at != 0 {
            if seen == self.capacity {
                return Err(inconsistent(
                    self.cb + CB_HEAD,
                    "the pending list is longer than the scheduler has nodes (a cycle)",
                ));
            }
            seen += 1;
            let n = self.read_pending(cx.ram, at)?;
            if n.expiry > expiry {
                break;
            }
            prev = at;
            at = n.next;
        }
        let id = h.next_id;
        let next_id = match id.wrapping_add(1) {
            0 => 1,
            v => v,
        };
        let name = self.name;
        cx.set_word(name, self.cb + CB_FREE, Field::Head, free_node.next)?;
        cx.emit(
            name,
            EventKind::Unlink {
                list: LIST_FREE,
                addr: node,
            },
        );
        cx.set_word(name, node + EV_ID, Field::Id, id)?;
        cx.set_word(name, node + EV_EXPIRY, Field::Expiry, expiry)?;
        cx.set_word(name, node + EV_CALLBACK, Field::Callback, callback)?;
        cx.set_word(name, node + EV_ARG, Field::Data, arg)?;
        let flags = if aligned { FLAG_ALIGNED } else { 0 };
        cx.set_word(name, node + EV_FLAGS, Field::Flags, flags)?;
        cx.set_word(name, node + EV_VALID, Field::Magic, EVENT_VALID)?;
        cx.set_word(name, node + EV_NEXT, Field::Next, at)?;
        if prev == 0 {
            cx.set_word(name, self.cb + CB_HEAD, Field::Head, node)?;
        } else {
            cx.set_word(name, prev + EV_NEXT, Field::Next, node)?;
        }
        cx.emit(
            name,
            EventKind::Link {
                list: LIST_PENDING,
                addr: node,
            },
        );
        cx.set_word(name, self.cb + CB_PENDING, Field::Count, h.pending + 1)?;
        cx.set_word(name, self.cb + CB_NEXT_ID, Field::Id, next_id)?;
        self.rearm(cx, now)?;
        let set = TimerEvent::Set {
            id,
            node,
            delay,
            expiry,
            callback,
            arg,
            aligned,
        };
        cx.emit(name, EventKind::Timer(set));
        Ok(EventId(id))
    }

    /// `evshed_cancel_event`: takes event `id` off the list and frees its node. Fails
    /// with [`TimerError::NoSuchEvent`] (changing nothing) if no pending event has that id.
    pub fn cancel_event<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        now: u32,
        id: EventId,
    ) -> Result<(), TimerError> {
        let result = self.cancel_event_impl(cx, now, id);
        self.fault_on(cx, TimerOp::CancelEvent, result)
    }

    pub(crate) fn cancel_event_impl<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        now: u32,
        id: EventId,
    ) -> Result<(), TimerError> {
        let h = self.header(cx.ram)?;
        if id.0 == 0 {
            return Err(TimerError::NoSuchEvent { id: 0 });
        }
        let mut prev = 0;
        let mut at = h.head;
        let mut seen = 0;
        let mut found = None;
        while at != 0 {
            if seen == self.capacity {
                return Err(inconsistent(
                    self.cb + CB_HEAD,
                    "the pending list is longer than the scheduler has nodes (a cycle)",
                ));
            }
            seen += 1;
            let n = self.read_pending(cx.ram, at)?;
            if n.id == id.0 {
                found = Some(n);
                break;
            }
            prev = at;
            at = n.next;
        }
        let Some(n) = found else {
            return Err(TimerError::NoSuchEvent { id: id.0 });
        };
        self.unlink_and_free(cx, &h, prev, at, n.next)?;
        self.rearm(cx, now)?;
        let cancel = TimerEvent::Cancel {
            id: id.0,
            expiry: n.expiry,
        };
        cx.emit(self.name, EventKind::Timer(cancel));
        Ok(())
    }

    /// Unlinks pending `node` (after `prev`, 0 for the head) and pushes it on the free
    /// list.
    fn unlink_and_free<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        h: &Header,
        prev: Addr,
        node: Addr,
        next: Addr,
    ) -> Result<(), TimerError> {
        let name = self.name;
        let pending = h.pending.checked_sub(1).ok_or(inconsistent(
            self.cb + CB_PENDING,
            "the pending count is 0 but the list is not empty",
        ))?;
        if prev == 0 {
            cx.set_word(name, self.cb + CB_HEAD, Field::Head, next)?;
        } else {
            cx.set_word(name, prev + EV_NEXT, Field::Next, next)?;
        }
        cx.emit(
            name,
            EventKind::Unlink {
                list: LIST_PENDING,
                addr: node,
            },
        );
        cx.set_word(name, self.cb + CB_PENDING, Field::Count, pending)?;
        // The free list is read again: `h.free` may be stale if the caller changed it.
        let free = cx.ram.read_u32(self.cb + CB_FREE)?;
        cx.set_word(name, node + EV_VALID, Field::Magic, EVENT_FREE)?;
        cx.set_word(name, node + EV_ID, Field::Id, 0)?;
        cx.set_word(name, node + EV_NEXT, Field::Next, free)?;
        cx.set_word(name, self.cb + CB_FREE, Field::Head, node)?;
        cx.emit(
            name,
            EventKind::Link {
                list: LIST_FREE,
                addr: node,
            },
        );
        Ok(())
    }

    /// The tick the hardware timer should fire at for the current list, at `now`: the
    /// nearest expiry, postponed for aligned events to the last expiry of their fuzz
    /// window (never past a non-aligned event), and never before `now + 1`. `None` when
    /// nothing is pending.
    pub fn target<S: Storage>(&self, ram: &Ram<S>, now: u32) -> Result<Option<u32>, TimerError> {
        let mut first: Option<(u32, u32)> = None; // (E0, limit)
        let mut target = 0;
        let mut done = false;
        self.for_each_pending(ram, &mut |e| {
            if done {
                return;
            }
            match first {
                None => {
                    target = e.expiry;
                    first = Some((e.expiry, e.expiry.saturating_add(self.fuzz)));
                    done = !e.aligned;
                }
                Some((_, limit)) => {
                    if e.expiry > limit {
                        done = true;
                    } else {
                        target = e.expiry;
                        done = !e.aligned;
                    }
                }
            }
        })?;
        let floor = now.saturating_add(1);
        Ok(first.map(|_| target.max(floor)))
    }

    /// Restarts, stops or leaves the hardware timer to match the list, unless an expiry
    /// is in flight (then [`Evshed::handler_done`] re-arms).
    fn rearm<S: Storage>(&self, cx: &mut Ctx<'_, S>, now: u32) -> Result<(), TimerError> {
        let h = self.header(cx.ram)?;
        if h.state == HwState::Expired {
            return Ok(());
        }
        let target = self.target(cx.ram, now)?;
        let name = self.name;
        let state_at = self.cb + CB_HW_STATE;
        let expiry_at = self.cb + CB_HW_EXPIRY;
        match (h.state, target) {
            (HwState::Running, Some(t)) if h.hw_expiry == t => {}
            (HwState::Running, Some(t)) => {
                // stack_stop_timer, then stack_start_timer for the new nearest expiry.
                let was = h.hw_expiry;
                cx.emit(name, EventKind::Timer(TimerEvent::HwStop { was }));
                cx.set_word(name, expiry_at, Field::Expiry, t)?;
                cx.emit(name, EventKind::Timer(TimerEvent::HwStart { at: t }));
            }
            (HwState::Running, None) => {
                let was = h.hw_expiry;
                cx.set_word(name, state_at, Field::State, HwState::Stopped.word())?;
                cx.set_word(name, expiry_at, Field::Expiry, 0)?;
                cx.emit(name, EventKind::Timer(TimerEvent::HwStop { was }));
            }
            (_, Some(t)) => {
                cx.set_word(name, expiry_at, Field::Expiry, t)?;
                cx.set_word(name, state_at, Field::State, HwState::Running.word())?;
                cx.emit(name, EventKind::Timer(TimerEvent::HwStart { at: t }));
            }
            (HwState::Lost, None) => {
                cx.set_word(name, state_at, Field::State, HwState::Stopped.word())?;
            }
            (_, None) => {}
        }
        Ok(())
    }

    /// The hardware timer fires at `now`: it must be running and armed for `now`. Its
    /// state becomes `EXPIRED`; the caller posts `MSG_ID_TIMER_EXPIRY` next and calls
    /// [`Evshed::expiry_lost`] if it cannot.
    pub fn hw_expire<S: Storage>(&self, cx: &mut Ctx<'_, S>, now: u32) -> Result<(), TimerError> {
        let h = self.header(cx.ram)?;
        if h.state != HwState::Running || h.hw_expiry != now {
            return Err(inconsistent(
                self.cb + CB_HW_STATE,
                "the hardware timer fired while not running or not armed for now",
            ));
        }
        let name = self.name;
        cx.set_word(
            name,
            self.cb + CB_HW_STATE,
            Field::State,
            HwState::Expired.word(),
        )?;
        cx.emit(name, EventKind::Timer(TimerEvent::HwExpire { at: now }));
        Ok(())
    }

    /// The expiry message of `now` could not be posted: the state becomes `LOST` and the
    /// expired events stay pending until the list changes again.
    pub fn expiry_lost<S: Storage>(&self, cx: &mut Ctx<'_, S>, now: u32) -> Result<(), TimerError> {
        let h = self.header(cx.ram)?;
        if h.state != HwState::Expired {
            return Err(inconsistent(
                self.cb + CB_HW_STATE,
                "an expiry was lost while none was in flight",
            ));
        }
        let name = self.name;
        cx.set_word(
            name,
            self.cb + CB_HW_STATE,
            Field::State,
            HwState::Lost.word(),
        )?;
        let lost = TimerEvent::Lost {
            at: now,
            pending: h.pending,
        };
        cx.emit(name, EventKind::Timer(lost));
        Ok(())
    }

    /// One step of `evshed_timer_handler`: takes the nearest event off the list if it is
    /// due at `now`, frees its node and emits `fire`. The caller runs its callback, then
    /// asks again; `None` means nothing more is due.
    pub fn pop_due<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        now: u32,
    ) -> Result<Option<Fired>, TimerError> {
        let h = self.header(cx.ram)?;
        if h.head == 0 {
            return Ok(None);
        }
        let n = self.read_pending(cx.ram, h.head)?;
        if n.expiry > now {
            return Ok(None);
        }
        self.unlink_and_free(cx, &h, 0, h.head, n.next)?;
        let fired = Fired {
            id: EventId(n.id),
            expiry: n.expiry,
            at: now,
            callback: n.callback,
            arg: n.arg,
            aligned: n.aligned(),
        };
        let fire = TimerEvent::Fire {
            id: n.id,
            expiry: n.expiry,
            at: now,
            late: now - n.expiry,
            callback: n.callback,
            arg: n.arg,
            aligned: fired.aligned,
        };
        cx.emit(self.name, EventKind::Timer(fire));
        Ok(Some(fired))
    }

    /// The end of `evshed_timer_handler`: if an expiry was in flight, the hardware timer
    /// is re-armed for what is left.
    pub fn handler_done<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        now: u32,
    ) -> Result<(), TimerError> {
        let h = self.header(cx.ram)?;
        if h.state == HwState::Expired {
            let stopped = HwState::Stopped.word();
            cx.set_word(self.name, self.cb + CB_HW_STATE, Field::State, stopped)?;
            self.rearm(cx, now)?;
        }
        Ok(())
    }

    /// A full check of the control block, both lists and the hardware timer at `now`.
    pub fn check<S: Storage>(&self, ram: &Ram<S>, now: u32) -> Result<(), TimerError> {
        let h = self.header(ram)?;
        let mut seen: u64 = 0;
        let bit = |addr: Addr| -> u64 {
            let i = (addr - self.node(0)) / EVENT_SIZE;
            1u64 << i
        };
        // The pending list: sorted, distinct ids, exactly `pending` long.
        let mut count = 0;
        let mut last_expiry = 0;
        let mut ids = [0u32; MAX_EVENTS as usize];
        let mut at = h.head;
        while at != 0 {
            if count == self.capacity || seen & bit(at) != 0 {
                return Err(inconsistent(
                    self.cb + CB_HEAD,
                    "the pending list runs into a node twice (a cycle)",
                ));
            }
            seen |= bit(at);
            let n = self.read_pending(ram, at)?;
            if count > 0 && n.expiry < last_expiry {
                return Err(inconsistent(
                    at + EV_EXPIRY,
                    "the pending list is not sorted by expiry",
                ));
            }
            if ids[..count as usize].contains(&n.id) {
                return Err(inconsistent(at + EV_ID, "two pending events share an id"));
            }
            if let Some(slot) = ids.get_mut(count as usize) {
                *slot = n.id;
            }
            last_expiry = n.expiry;
            count += 1;
            at = n.next;
        }
        if count != h.pending {
            return Err(corrupted(
                self.cb + CB_PENDING,
                Field::Count,
                count,
                h.pending,
            ));
        }
        // The free list: every other node.
        let mut free = 0;
        let mut at = h.free;
        while at != 0 {
            if seen & bit(at) != 0 {
                return Err(inconsistent(
                    at,
                    "an event node is on the free list twice, or on both lists",
                ));
            }
            seen |= bit(at);
            let n = self.read_free(ram, at)?;
            free += 1;
            at = n.next;
        }
        if count + free != self.capacity {
            return Err(inconsistent(
                self.cb + CB_FREE,
                "some event nodes are on neither list",
            ));
        }
        // The hardware timer.
        let state_at = self.cb + CB_HW_STATE;
        match h.state {
            HwState::Stopped if count != 0 => Err(inconsistent(
                state_at,
                "events are pending but the hardware timer is stopped",
            )),
            HwState::Running => {
                let target = self.target(ram, now)?;
                match target {
                    None => Err(inconsistent(
                        state_at,
                        "the hardware timer runs but nothing is pending",
                    )),
                    Some(t) if t != h.hw_expiry => Err(corrupted(
                        self.cb + CB_HW_EXPIRY,
                        Field::Expiry,
                        t,
                        h.hw_expiry,
                    )),
                    Some(_) => Ok(()),
                }
            }
            HwState::Lost => {
                let overdue = h.head != 0 && self.read_pending(ram, h.head)?.expiry <= now;
                if overdue {
                    Ok(())
                } else {
                    Err(inconsistent(
                        state_at,
                        "an expiry is marked lost but no event is overdue",
                    ))
                }
            }
            _ => Ok(()),
        }
    }

    fn fault_on<T, S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        op: TimerOp,
        result: Result<T, TimerError>,
    ) -> Result<T, TimerError> {
        if let Err(error) = result {
            cx.emit(self.name, EventKind::Timer(TimerEvent::Fault { op, error }));
        }
        result
    }
}

fn corrupted(at: Addr, field: Field, expected: u32, found: u32) -> TimerError {
    TimerError::Mem(AllocError::Corrupted {
        at,
        field,
        expected,
        found,
    })
}

fn inconsistent(at: Addr, rule: &'static str) -> TimerError {
    TimerError::Mem(AllocError::Inconsistent { at, rule })
}

/// One used slot of the MMI timer table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerSlot {
    pub slot: u32,
    pub timer: u16,
    pub event: EventId,
    pub callback: u32,
    pub arg: u32,
    pub aligned: bool,
}

/// What `L4CallBackTimer` hands on: the user's callback and its argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expired {
    pub timer: u16,
    pub callback: u32,
    pub arg: u32,
}

/// The MMI framework's timer table over an [`Evshed`]: `StartTimer`, `StopTimer` and
/// `L4CallBackTimer`. See the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmiTimers {
    name: Name,
    table: Addr,
    slots: u32,
}

impl MmiTimers {
    /// `L4InitTimer`: carves a table of `slots` (1 to [`MAX_TIMER_SLOTS`]) from system
    /// memory for `owner`.
    pub fn create<S: Storage>(
        cx: &mut Ctx<'_, S>,
        sys: &mut SystemMemory,
        name: Name,
        slots: u32,
        owner: Owner,
    ) -> Result<MmiTimers, TimerError> {
        let result = MmiTimers::create_impl(cx, sys, name, slots, owner);
        if let Err(error) = result {
            let op = TimerOp::Create;
            cx.emit(name, EventKind::Timer(TimerEvent::Fault { op, error }));
        }
        result
    }

    fn create_impl<S: Storage>(
        cx: &mut Ctx<'_, S>,
        sys: &mut SystemMemory,
        name: Name,
        slots: u32,
        owner: Owner,
    ) -> Result<MmiTimers, TimerError> {
        if slots == 0 {
            return Err(ConfigError::NoBlocks.into());
        }
        if slots > MAX_TIMER_SLOTS {
            return Err(ConfigError::TooMany {
                max: MAX_TIMER_SLOTS,
            }
            .into());
        }
        let size = MmiTimers::size_for(slots);
        let table = sys.alloc(cx, size, owner)?;
        cx.set_word(name, table + TT_MAGIC, Field::Magic, TIMER_TABLE_MAGIC)?;
        cx.set_word(name, table + TT_SLOTS, Field::Count, slots)?;
        cx.set_word(name, table + TT_USED, Field::Count, 0)?;
        cx.fill(
            name,
            table + TIMER_TABLE_HEADER,
            TIMER_SLOT_SIZE * slots,
            0,
            Field::Data,
        )?;
        cx.emit(name, EventKind::Init { base: table, size });
        Ok(MmiTimers { name, table, slots })
    }

    /// Bytes carved for a table of `slots`.
    pub fn size_for(slots: u32) -> u32 {
        TIMER_TABLE_HEADER + TIMER_SLOT_SIZE * slots.min(MAX_TIMER_SLOTS)
    }

    pub fn name(&self) -> Name {
        self.name
    }

    /// The table's address.
    pub fn table(&self) -> Addr {
        self.table
    }

    /// The number of slots.
    pub fn slots(&self) -> u32 {
        self.slots
    }

    fn slot_addr(&self, i: u32) -> Addr {
        self.table + TIMER_TABLE_HEADER + TIMER_SLOT_SIZE * i
    }

    /// Validates the header; returns `used`.
    fn header<S: Storage>(&self, ram: &Ram<S>) -> Result<u32, TimerError> {
        let magic = ram.read_u32(self.table + TT_MAGIC)?;
        if magic != TIMER_TABLE_MAGIC {
            let at = self.table + TT_MAGIC;
            return Err(corrupted(at, Field::Magic, TIMER_TABLE_MAGIC, magic));
        }
        let slots = ram.read_u32(self.table + TT_SLOTS)?;
        if slots != self.slots {
            return Err(corrupted(
                self.table + TT_SLOTS,
                Field::Count,
                self.slots,
                slots,
            ));
        }
        let used = ram.read_u32(self.table + TT_USED)?;
        if used > self.slots {
            return Err(inconsistent(
                self.table + TT_USED,
                "more timer slots used than the table has",
            ));
        }
        Ok(used)
    }

    /// Slot `i`: `None` if free. A free slot must be all zero.
    fn read_slot<S: Storage>(&self, ram: &Ram<S>, i: u32) -> Result<Option<TimerSlot>, TimerError> {
        let at = self.slot_addr(i);
        let word = |off: u32| ram.read_u32(at + off);
        let timer = word(SL_TIMER)?;
        let event = word(SL_EVENT)?;
        let callback = word(SL_CALLBACK)?;
        let arg = word(SL_ARG)?;
        let kind = word(SL_TYPE)?;
        if event == 0 {
            if timer | callback | arg | kind != 0 {
                return Err(inconsistent(at, "a free timer slot is not all zero"));
            }
            return Ok(None);
        }
        if timer > u16::MAX as u32 {
            return Err(inconsistent(at + SL_TIMER, "a timer id is not 16 bits"));
        }
        let aligned = match kind {
            TIMER_IS_ALIGNMENT => true,
            TIMER_IS_NO_ALIGNMENT => false,
            _ => {
                return Err(inconsistent(
                    at + SL_TYPE,
                    "a timer slot's type is neither aligned (0) nor non-aligned (1)",
                ))
            }
        };
        Ok(Some(TimerSlot {
            slot: i,
            timer: timer as u16,
            event: EventId(event),
            callback,
            arg,
            aligned,
        }))
    }

    /// Calls `visit` for every running timer, in slot order.
    pub fn for_each_running<S: Storage>(
        &self,
        ram: &Ram<S>,
        visit: &mut dyn FnMut(TimerSlot),
    ) -> Result<(), TimerError> {
        self.header(ram)?;
        for i in 0..self.slots {
            if let Some(s) = self.read_slot(ram, i)? {
                visit(s);
            }
        }
        Ok(())
    }

    /// `IsMyTimerExist`: the slot of the running timer `timer`, if any.
    pub fn running<S: Storage>(
        &self,
        ram: &Ram<S>,
        timer: u16,
    ) -> Result<Option<TimerSlot>, TimerError> {
        let mut found = None;
        self.for_each_running(ram, &mut |s| {
            if s.timer == timer && found.is_none() {
                found = Some(s);
            }
        })?;
        Ok(found)
    }

    /// `StartTimer` / `StartNonAlignTimer`: stops `timer` if it runs (a restart replaces
    /// it), then sets an event `delay` ticks from `now` whose callback is
    /// `L4CallBackTimer` and records `callback(arg)` in a free slot.
    #[allow(clippy::too_many_arguments)]
    pub fn start_timer<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        es: &Evshed,
        now: u32,
        timer: u16,
        delay: u32,
        callback: u32,
        arg: u32,
        aligned: bool,
    ) -> Result<EventId, TimerError> {
        let result = self.start_timer_impl(cx, es, now, timer, delay, callback, arg, aligned);
        self.fault_on(cx, TimerOp::StartTimer { timer }, result)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start_timer_impl<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        es: &Evshed,
        now: u32,
        timer: u16,
        delay: u32,
        callback: u32,
        arg: u32,
        aligned: bool,
    ) -> Result<EventId, TimerError> {
        self.stop_timer_impl(cx, es, now, timer)?;
        let used = self.header(cx.ram)?;
        let mut free = None;
        for i in 0..self.slots {
            if self.read_slot(cx.ram, i)?.is_none() {
                free = Some(i);
                break;
            }
        }
        let Some(slot) = free else {
            return Err(TimerError::NoFreeSlot {
                capacity: self.slots,
            });
        };
        let event = es.set_event_impl(cx, now, delay, L4_CALLBACK_TIMER, slot, aligned)?;
        let at = self.slot_addr(slot);
        let name = self.name;
        let kind = if aligned {
            TIMER_IS_ALIGNMENT
        } else {
            TIMER_IS_NO_ALIGNMENT
        };
        cx.set_word(name, at + SL_TIMER, Field::Timer, timer as u32)?;
        cx.set_word(name, at + SL_EVENT, Field::Id, event.0)?;
        cx.set_word(name, at + SL_CALLBACK, Field::Callback, callback)?;
        cx.set_word(name, at + SL_ARG, Field::Data, arg)?;
        cx.set_word(name, at + SL_TYPE, Field::Flags, kind)?;
        cx.set_word(name, self.table + TT_USED, Field::Count, used + 1)?;
        let start = TimerEvent::Start {
            timer,
            slot,
            event: event.0,
            delay: delay.max(1),
            callback,
            aligned,
        };
        cx.emit(name, EventKind::Timer(start));
        Ok(event)
    }

    /// `StopTimer`: cancels `timer`'s event and clears its slot. Stopping a timer that
    /// does not run does nothing (and says so); returns whether one was stopped.
    pub fn stop_timer<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        es: &Evshed,
        now: u32,
        timer: u16,
    ) -> Result<bool, TimerError> {
        let result = self.stop_timer_impl(cx, es, now, timer);
        if let Ok(false) = result {
            cx.emit(self.name, EventKind::Timer(TimerEvent::StopIdle { timer }));
        }
        self.fault_on(cx, TimerOp::StopTimer { timer }, result)
    }

    pub(crate) fn stop_timer_impl<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        es: &Evshed,
        now: u32,
        timer: u16,
    ) -> Result<bool, TimerError> {
        let used = self.header(cx.ram)?;
        let Some(s) = self.running(cx.ram, timer)? else {
            return Ok(false);
        };
        // The slot is checked before the event is cancelled, so a bad count changes nothing.
        if used == 0 {
            return Err(inconsistent(
                self.table + TT_USED,
                "a timer runs but the used count is 0",
            ));
        }
        es.cancel_event_impl(cx, now, s.event)?;
        self.clear(cx, s.slot, used)?;
        let stop = TimerEvent::Stop {
            timer,
            slot: s.slot,
            event: s.event.0,
        };
        cx.emit(self.name, EventKind::Timer(stop));
        Ok(true)
    }

    /// `memset(slot, 0)` and `g_timer_table_used--`.
    fn clear<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        slot: u32,
        used: u32,
    ) -> Result<(), TimerError> {
        let at = self.slot_addr(slot);
        let name = self.name;
        let used = used.checked_sub(1).ok_or(inconsistent(
            self.table + TT_USED,
            "a timer runs but the used count is 0",
        ))?;
        cx.fill(name, at, TIMER_SLOT_SIZE, 0, Field::Data)?;
        cx.set_word(name, self.table + TT_USED, Field::Count, used)?;
        Ok(())
    }

    /// `L4CallBackTimer(slot)` for the fired event `event`: clears the slot first (so the
    /// callback may restart the timer), then returns the user's callback to run.
    pub fn expire<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        slot: u32,
        event: EventId,
    ) -> Result<Expired, TimerError> {
        let used = self.header(cx.ram)?;
        let at = self.table + TIMER_TABLE_HEADER;
        if slot >= self.slots {
            return Err(inconsistent(
                at,
                "an L4CallBackTimer event names a slot outside the timer table",
            ));
        }
        let s = self.read_slot(cx.ram, slot)?.ok_or(inconsistent(
            self.slot_addr(slot),
            "an L4CallBackTimer event fired for a free timer slot",
        ))?;
        if s.event != event {
            return Err(corrupted(
                self.slot_addr(slot) + SL_EVENT,
                Field::Id,
                event.0,
                s.event.0,
            ));
        }
        if used == 0 {
            return Err(inconsistent(
                self.table + TT_USED,
                "a timer runs but the used count is 0",
            ));
        }
        self.clear(cx, slot, used)?;
        let expire = TimerEvent::Expire {
            timer: s.timer,
            slot,
            callback: s.callback,
            arg: s.arg,
        };
        cx.emit(self.name, EventKind::Timer(expire));
        Ok(Expired {
            timer: s.timer,
            callback: s.callback,
            arg: s.arg,
        })
    }

    /// A full check of the table against the scheduler's pending list.
    pub fn check<S: Storage>(&self, ram: &Ram<S>, es: &Evshed) -> Result<(), TimerError> {
        let used = self.header(ram)?;
        let mut count = 0;
        let mut timers = [0u16; MAX_TIMER_SLOTS as usize];
        for i in 0..self.slots {
            let Some(s) = self.read_slot(ram, i)? else {
                continue;
            };
            let at = self.slot_addr(i);
            if timers[..count as usize].contains(&s.timer) {
                return Err(inconsistent(
                    at + SL_TIMER,
                    "one timer id runs in two slots",
                ));
            }
            if let Some(t) = timers.get_mut(count as usize) {
                *t = s.timer;
            }
            count += 1;
            let e = es.find(ram, s.event)?.ok_or(inconsistent(
                at + SL_EVENT,
                "a running timer's event is not pending",
            ))?;
            if e.callback != L4_CALLBACK_TIMER || e.arg != i || e.aligned != s.aligned {
                return Err(inconsistent(
                    e.node,
                    "a running timer's event does not call L4CallBackTimer for its slot",
                ));
            }
        }
        if count != used {
            return Err(corrupted(self.table + TT_USED, Field::Count, count, used));
        }
        // Every L4CallBackTimer event must belong to the slot it names.
        let mut orphan = None;
        es.for_each_pending(ram, &mut |e| {
            if e.callback != L4_CALLBACK_TIMER || orphan.is_some() {
                return;
            }
            let owned = e.arg < self.slots
                && matches!(self.read_slot(ram, e.arg), Ok(Some(s)) if s.event == e.id);
            if !owned {
                orphan = Some(e.node);
            }
        })?;
        if let Some(node) = orphan {
            return Err(inconsistent(
                node,
                "an L4CallBackTimer event has no timer slot that names it",
            ));
        }
        Ok(())
    }

    fn fault_on<T, S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        op: TimerOp,
        result: Result<T, TimerError>,
    ) -> Result<T, TimerError> {
        if let Err(error) = result {
            cx.emit(self.name, EventKind::Timer(TimerEvent::Fault { op, error }));
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lines() {
        extern crate std;
        use std::string::ToString;
        let e = TimerEvent::Fire {
            id: 3,
            expiry: 10,
            at: 12,
            late: 2,
            callback: L4_CALLBACK_TIMER,
            arg: 1,
            aligned: true,
        };
        assert_eq!(
            e.to_string(),
            "id=3 expiry=10 at=12 late=2 callback=L4CallBackTimer arg=1 aligned=yes"
        );
        assert_eq!(e.word(), "fire");
    }
}
