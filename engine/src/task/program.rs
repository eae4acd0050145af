//! The task table and the behaviour model: what each task's handlers *do*, as data.
//!
//! On MTK a task is a `comptask_handler_struct` of five C functions (init, entry, cfg,
//! reset, end), and the MMI task dispatches each message id to the function registered
//! with `SetProtocolEventHandler(func, msg_id)`. memplay cannot run C, and stores no Rust
//! closures either: handlers are *data*, so a script or the board can build them, and a
//! run is deterministic and needs no heap.
//!
//! - A [`Behaviour`] is a straight-line handler body: the stack it declares it uses, then
//!   up to [`MAX_ACTIONS`] [`Action`]s run in order (send a message, reply, post to the
//!   own internal queue, start or stop an MMI timer, set a raw evshed event).
//! - A [`Program`] is the ROM: up to [`MAX_BEHAVIOURS`] behaviours, addressed by
//!   [`BehaviourId`], plus up to [`MAX_RULES`] protocol-handler [`Rule`]s: "when task T
//!   gets message M, run behaviour B" (the first matching rule wins; a rule without a
//!   message id matches any).
//! - A [`TaskConfig`] is one row of `sys_comp_config_tbl` / `custom_comp_config_tbl`:
//!   name, priority, stack size, queue sizes, and the five handlers as behaviour ids.
//!
//! Timer callbacks are behaviours too: `StartTimer(timer, delay, callback)` names the
//! behaviour the MMI task runs on expiry. A stack overflow is a behaviour that declares
//! more stack than its task has.

use crate::error::ConfigError;
use crate::name::Name;

use super::event::TaskError;

/// Actions one behaviour can hold.
pub const MAX_ACTIONS: usize = 4;
/// Behaviours one program can hold.
pub const MAX_BEHAVIOURS: usize = 32;
/// Protocol-handler rules one program can hold.
pub const MAX_RULES: usize = 48;

/// A task's index in the combined task table: the system part first, then the custom
/// part, in table order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub u8);

/// A behaviour's index in its [`Program`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BehaviourId(pub u8);

/// A message id (MTK's `msg_type`).
pub type MsgId = u16;

/// `MSG_ID_TIMER_EXPIRY`: what the timer interrupt posts to the MMI task.
pub const MSG_ID_TIMER_EXPIRY: MsgId = 0xffff;

/// One step of a behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `msg_send_ext_queue`: message `msg` with `payload` to task `to`'s external queue.
    Send {
        to: TaskId,
        msg: MsgId,
        payload: [u32; 2],
    },
    /// Answers the message being handled: `msg` to its sender's external queue. A fault
    /// (`NoSender`) when the message did not come from a task.
    Reply { msg: MsgId, payload: [u32; 2] },
    /// `msg_send_int_queue`: `msg` to the running task's own internal queue.
    SendInternal { msg: MsgId, payload: [u32; 2] },
    /// `StartTimer` (aligned) or `StartNonAlignTimer`: on expiry the MMI task runs
    /// `callback`. Restarting a running timer id replaces it.
    StartTimer {
        timer: u16,
        delay: u32,
        callback: BehaviourId,
        aligned: bool,
    },
    /// `StopTimer`.
    StopTimer { timer: u16 },
    /// `evshed_set_event` directly: `callback` runs in the MMI task on expiry.
    SetEvent {
        delay: u32,
        callback: BehaviourId,
        arg: u32,
        aligned: bool,
    },
}

/// A handler body: declared stack use, then actions in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Behaviour {
    stack: u32,
    actions: [Option<Action>; MAX_ACTIONS],
}

impl Behaviour {
    /// A behaviour that uses `stack` bytes and does nothing else.
    pub const fn new(stack: u32) -> Behaviour {
        Behaviour {
            stack,
            actions: [None; MAX_ACTIONS],
        }
    }

    /// A behaviour that uses `stack` bytes and runs `actions` (at most [`MAX_ACTIONS`]).
    pub fn with(stack: u32, actions: &[Action]) -> Result<Behaviour, TaskError> {
        if actions.len() > MAX_ACTIONS {
            let max = MAX_ACTIONS as u32;
            return Err(TaskError::from(ConfigError::TooMany { max }));
        }
        let mut b = Behaviour::new(stack);
        for (slot, action) in b.actions.iter_mut().zip(actions) {
            *slot = Some(*action);
        }
        Ok(b)
    }

    /// The stack bytes the handler declares it uses.
    pub fn stack(&self) -> u32 {
        self.stack
    }

    /// The actions, in order.
    pub fn actions(&self) -> impl Iterator<Item = Action> + '_ {
        self.actions.iter().flatten().copied()
    }
}

/// `SetProtocolEventHandler`: when `task` gets `msg` (any message if `None`), run `run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub task: TaskId,
    pub msg: Option<MsgId>,
    pub run: BehaviourId,
}

/// The behaviours and protocol-handler rules of a machine: its "ROM".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Program {
    behaviours: [Behaviour; MAX_BEHAVIOURS],
    count: usize,
    rules: [Option<Rule>; MAX_RULES],
    rule_count: usize,
}

impl Default for Program {
    fn default() -> Program {
        Program::new()
    }
}

impl Program {
    /// An empty program.
    pub const fn new() -> Program {
        Program {
            behaviours: [Behaviour::new(0); MAX_BEHAVIOURS],
            count: 0,
            rules: [None; MAX_RULES],
            rule_count: 0,
        }
    }

    /// Adds a behaviour and returns its id.
    pub fn add(&mut self, behaviour: Behaviour) -> Result<BehaviourId, TaskError> {
        let Some(slot) = self.behaviours.get_mut(self.count) else {
            let max = MAX_BEHAVIOURS as u32;
            return Err(TaskError::from(ConfigError::TooMany { max }));
        };
        *slot = behaviour;
        let id = BehaviourId(self.count as u8);
        self.count += 1;
        Ok(id)
    }

    /// `SetProtocolEventHandler(run, msg)` for `task`; `msg` `None` matches any message.
    pub fn on(
        &mut self,
        task: TaskId,
        msg: Option<MsgId>,
        run: BehaviourId,
    ) -> Result<(), TaskError> {
        let Some(slot) = self.rules.get_mut(self.rule_count) else {
            let max = MAX_RULES as u32;
            return Err(TaskError::from(ConfigError::TooMany { max }));
        };
        *slot = Some(Rule { task, msg, run });
        self.rule_count += 1;
        Ok(())
    }

    /// Behaviour `id`, if it exists.
    pub fn behaviour(&self, id: BehaviourId) -> Option<&Behaviour> {
        self.behaviours[..self.count].get(id.0 as usize)
    }

    /// The number of behaviours.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The rules, in the order they were added.
    pub fn rules(&self) -> impl Iterator<Item = Rule> + '_ {
        self.rules[..self.rule_count].iter().flatten().copied()
    }

    /// The behaviour the first matching rule names for `msg` arriving at `task`.
    pub fn handler_for(&self, task: TaskId, msg: MsgId) -> Option<BehaviourId> {
        self.rules()
            .find(|r| r.task == task && r.msg.is_none_or(|m| m == msg))
            .map(|r| r.run)
    }

    /// Checks that every id the program uses exists, for a table of `tasks` tasks.
    pub(crate) fn validate(&self, tasks: usize) -> Result<(), TaskError> {
        let task_ok = |t: TaskId| -> Result<(), TaskError> {
            if (t.0 as usize) < tasks {
                Ok(())
            } else {
                Err(TaskError::NoSuchTask { id: t.0 as u32 })
            }
        };
        let behaviour_ok = |b: BehaviourId| -> Result<(), TaskError> {
            if self.behaviour(b).is_some() {
                Ok(())
            } else {
                Err(TaskError::NoSuchBehaviour { id: b.0 as u32 })
            }
        };
        for b in &self.behaviours[..self.count] {
            for action in b.actions() {
                match action {
                    Action::Send { to, .. } => task_ok(to)?,
                    Action::StartTimer { callback, .. } | Action::SetEvent { callback, .. } => {
                        behaviour_ok(callback)?
                    }
                    Action::Reply { .. }
                    | Action::SendInternal { .. }
                    | Action::StopTimer { .. } => {}
                }
            }
        }
        for r in self.rules() {
            task_ok(r.task)?;
            behaviour_ok(r.run)?;
        }
        Ok(())
    }
}

/// `comptask_handler_struct`: the five handlers of a task, as behaviour ids.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Handlers {
    /// `comp_init_func`: runs in `Application_Initialize`, before any scheduling.
    pub init: Option<BehaviourId>,
    /// `comp_entry_func`: runs once when the scheduler first gives the task the CPU,
    /// before the task starts taking messages from its queues.
    pub entry: Option<BehaviourId>,
    /// `comp_cfg_func`: runs at boot after every init handler.
    pub cfg: Option<BehaviourId>,
    /// `comp_reset_func`: runs when asked ([`super::Kal::reset_task`]).
    pub reset: Option<BehaviourId>,
    /// `comp_end_func`: runs when asked ([`super::Kal::end_task`]).
    pub end: Option<BehaviourId>,
}

impl Handlers {
    pub const NONE: Handlers = Handlers {
        init: None,
        entry: None,
        cfg: None,
        reset: None,
        end: None,
    };

    fn all(&self) -> [Option<BehaviourId>; 5] {
        [self.init, self.entry, self.cfg, self.reset, self.end]
    }
}

/// One row of the task table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskConfig {
    pub name: Name,
    /// Smaller is more urgent, as in Nucleus and KAL.
    pub priority: u8,
    /// Bytes, guard included; rounded up to 4 at boot.
    pub stack_size: u32,
    /// External queue capacity in messages (0: the task has none).
    pub ext_queue: u16,
    /// Internal queue capacity in messages (0: the task has none).
    pub int_queue: u16,
    pub handlers: Handlers,
}

impl TaskConfig {
    /// A row with no handlers.
    pub const fn new(
        name: Name,
        priority: u8,
        stack_size: u32,
        ext_queue: u16,
        int_queue: u16,
    ) -> TaskConfig {
        TaskConfig {
            name,
            priority,
            stack_size,
            ext_queue,
            int_queue,
            handlers: Handlers::NONE,
        }
    }

    pub const fn init(mut self, b: BehaviourId) -> TaskConfig {
        self.handlers.init = Some(b);
        self
    }

    pub const fn entry(mut self, b: BehaviourId) -> TaskConfig {
        self.handlers.entry = Some(b);
        self
    }

    pub const fn cfg(mut self, b: BehaviourId) -> TaskConfig {
        self.handlers.cfg = Some(b);
        self
    }

    pub const fn reset(mut self, b: BehaviourId) -> TaskConfig {
        self.handlers.reset = Some(b);
        self
    }

    pub const fn end(mut self, b: BehaviourId) -> TaskConfig {
        self.handlers.end = Some(b);
        self
    }

    /// Checks the handlers exist in `program`.
    pub(crate) fn validate(&self, program: &Program) -> Result<(), TaskError> {
        for b in self.handlers.all().into_iter().flatten() {
            if program.behaviour(b).is_none() {
                return Err(TaskError::NoSuchBehaviour { id: b.0 as u32 });
            }
        }
        Ok(())
    }
}
