//! A machine for the task-system and event-scheduler tests: internal and external SRAM,
//! system memory over both, a booted [`Kal`] and a recorder of every event.

#![allow(dead_code)]

use memplay_engine::evshed::{EventId, TimerEvent};
use memplay_engine::sysmem::{Area, SystemMemory};
use memplay_engine::task::{
    BehaviourId, Kal, KalConfig, MsgId, Program, QueueKind, Src, TaskConfig, TaskError, TaskEvent,
    TaskId, TimerConfig,
};
use memplay_engine::trace::{Event, Recorder};
use memplay_engine::{Addr, Ctx, EventKind, Name, Ram, RegionKind};

pub const ISRAM: Addr = 0x4000_0000;
pub const ISRAM_SIZE: u32 = 0x2000;
pub const EXTSRAM: Addr = 0x0800_0000;
pub const EXTSRAM_SIZE: u32 = 0x1_0000;

pub fn n(s: &str) -> Name {
    Name::new(s).unwrap()
}

/// Two regions, no system memory yet.
pub fn bare_ram() -> Ram<Vec<u8>> {
    let mut ram = Ram::new(vec![0u8; (ISRAM_SIZE + EXTSRAM_SIZE) as usize]);
    ram.add_region(n("isram"), RegionKind::Internal, ISRAM, ISRAM_SIZE)
        .unwrap();
    ram.add_region(n("extsram"), RegionKind::External, EXTSRAM, EXTSRAM_SIZE)
        .unwrap();
    ram
}

/// Two regions and system memory over both (its control block in internal SRAM).
pub fn machine(rec: &mut Recorder) -> (Ram<Vec<u8>>, SystemMemory) {
    let mut ram = bare_ram();
    let areas = [
        Area::new(ISRAM, ISRAM_SIZE),
        Area::new(EXTSRAM, EXTSRAM_SIZE),
    ];
    let sys = SystemMemory::new(&mut Ctx::new(&mut ram, rec), n("sys"), &areas).unwrap();
    (ram, sys)
}

pub struct Rig {
    pub ram: Ram<Vec<u8>>,
    pub sys: SystemMemory,
    pub kal: Kal,
    pub rec: Recorder,
}

pub fn config<'a>(
    sys_tasks: &'a [TaskConfig],
    custom: &'a [TaskConfig],
    program: &'a Program,
    mmi: Option<&str>,
    timers: TimerConfig,
) -> KalConfig<'a> {
    KalConfig {
        name: n("kal"),
        sys_tasks,
        custom_tasks: custom,
        program,
        mmi: mmi.map(n),
        timers,
        budget: 0,
    }
}

impl Rig {
    pub fn boot(config: &KalConfig<'_>) -> Result<Rig, TaskError> {
        let mut rec = Recorder::default();
        let (mut ram, mut sys) = machine(&mut rec);
        rec.events.clear();
        let kal = Kal::boot(&mut Ctx::new(&mut ram, &mut rec), &mut sys, config)?;
        Ok(Rig { ram, sys, kal, rec })
    }

    pub fn id(&self, name: &str) -> TaskId {
        self.kal.task_named(n(name)).unwrap()
    }

    pub fn run(&mut self) -> Result<u32, TaskError> {
        let mut cx = Ctx::new(&mut self.ram, &mut self.rec);
        self.kal.run_until_idle(&mut cx)
    }

    pub fn send(
        &mut self,
        from: Src,
        to: TaskId,
        queue: QueueKind,
        msg: MsgId,
        payload: [u32; 2],
    ) -> Result<(), TaskError> {
        let mut cx = Ctx::new(&mut self.ram, &mut self.rec);
        self.kal.send(&mut cx, from, to, queue, msg, payload)
    }

    /// A message from outside into `to`'s external queue.
    pub fn post(&mut self, to: &str, msg: MsgId) -> Result<(), TaskError> {
        let to = self.id(to);
        self.send(Src::External, to, QueueKind::External, msg, [0, 0])
    }

    pub fn tick(&mut self, ticks: u32) -> Result<(), TaskError> {
        let mut cx = Ctx::new(&mut self.ram, &mut self.rec);
        self.kal.tick(&mut cx, ticks)
    }

    pub fn start(
        &mut self,
        timer: u16,
        delay: u32,
        cb: BehaviourId,
        aligned: bool,
    ) -> Result<EventId, TaskError> {
        let mut cx = Ctx::new(&mut self.ram, &mut self.rec);
        self.kal.start_timer(&mut cx, timer, delay, cb, aligned)
    }

    pub fn stop(&mut self, timer: u16) -> Result<bool, TaskError> {
        let mut cx = Ctx::new(&mut self.ram, &mut self.rec);
        self.kal.stop_timer(&mut cx, timer)
    }

    pub fn set_event(
        &mut self,
        delay: u32,
        cb: BehaviourId,
        arg: u32,
        aligned: bool,
    ) -> Result<EventId, TaskError> {
        let mut cx = Ctx::new(&mut self.ram, &mut self.rec);
        self.kal.set_event(&mut cx, delay, cb, arg, aligned)
    }

    pub fn cancel(&mut self, id: EventId) -> Result<(), TaskError> {
        let mut cx = Ctx::new(&mut self.ram, &mut self.rec);
        self.kal.cancel_event(&mut cx, id)
    }

    pub fn check(&self) {
        if let Err(e) = self.kal.check(&self.ram) {
            panic!("check failed: {e} ({e:?})");
        }
    }

    pub fn now(&self) -> u32 {
        self.kal.now(&self.ram).unwrap()
    }

    /// The recorded events, cleared.
    pub fn take(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.rec.events)
    }

    /// The recorded canonical lines, cleared.
    pub fn lines(&mut self) -> Vec<String> {
        self.take().iter().map(|e| e.to_string()).collect()
    }
}

/// The task events among `events`, with their source.
pub fn task_events(events: &[Event]) -> Vec<(Name, TaskEvent)> {
    events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Task(t) => Some((e.source, t)),
            _ => None,
        })
        .collect()
}

/// The timer events among `events`.
pub fn timer_events(events: &[Event]) -> Vec<TimerEvent> {
    events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Timer(t) => Some(t),
            _ => None,
        })
        .collect()
}

/// `(id, expiry, at, late)` of every `fire` event.
pub fn fires(events: &[Event]) -> Vec<(u32, u32, u32, u32)> {
    timer_events(events)
        .into_iter()
        .filter_map(|t| match t {
            TimerEvent::Fire {
                id,
                expiry,
                at,
                late,
                ..
            } => Some((id, expiry, at, late)),
            _ => None,
        })
        .collect()
}
