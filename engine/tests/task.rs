//! The MTK task system: boot order, the scheduler, queues, stacks, faults, corruption, a
//! random-operation property test with `check()` after every step, and the golden boot
//! trace.

mod common;
mod kal_common;

use common::assert_golden;

use std::collections::BTreeMap;

use kal_common::*;
use memplay_engine::evshed::{EventId, HwState, TimerEvent};
use memplay_engine::task::{
    Action, Behaviour, BehaviourId, HandlerKind, Kal, Phase, Program, QueueKind, Src, TaskConfig,
    TaskError, TaskEvent, TaskId, TaskState, TimerConfig, KCB_MAGIC, MSG_ID_TIMER_EXPIRY,
    QUEUE_HEADER, STACK_FRAME_BYTE, STACK_GUARD_SIZE, STACK_GUARD_WORD, TCB_MAGIC, TCB_SIZE,
};
use memplay_engine::trace::{Recorder, TextSink};
use memplay_engine::{AllocError, Allocator, ConfigError, Ctx, EventKind, Field, Name};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

fn b(program: &mut Program, stack: u32, actions: &[Action]) -> BehaviourId {
    program
        .add(Behaviour::with(stack, actions).unwrap())
        .unwrap()
}

fn send(to: TaskId, msg: u16) -> Action {
    Action::Send {
        to,
        msg,
        payload: [msg as u32, 0],
    }
}

const NO_TIMERS: TimerConfig = TimerConfig {
    events: 4,
    slots: 4,
    fuzz: 0,
};

/// Every `run` event's (task, handler) in order.
fn runs(events: &[memplay_engine::trace::Event]) -> Vec<(String, HandlerKind)> {
    task_events(events)
        .into_iter()
        .filter_map(|(src, e)| match e {
            TaskEvent::Run { handler, .. } => Some((src.to_string(), handler)),
            _ => None,
        })
        .collect()
}

/// Every `dequeue` event's (task, msg) in order.
fn dequeues(events: &[memplay_engine::trace::Event]) -> Vec<(String, u16)> {
    task_events(events)
        .into_iter()
        .filter_map(|(src, e)| match e {
            TaskEvent::Dequeue { msg, .. } => Some((src.to_string(), msg)),
            _ => None,
        })
        .collect()
}

// ----- boot ------------------------------------------------------------------------------

#[test]
fn boot_runs_every_init_before_the_scheduler_and_entries_in_priority_order() {
    let mut p = Program::new();
    let quiet = b(&mut p, 64, &[]);
    let mmi = TaskId(2);
    // L4's init sends to MMI; the message waits until MMI runs.
    let l4_init = b(&mut p, 0, &[send(mmi, 7)]);
    let sys = [
        TaskConfig::new(n("L4"), 5, 512, 4, 0)
            .init(l4_init)
            .entry(quiet)
            .cfg(quiet),
        TaskConfig::new(n("NVRAM"), 3, 512, 4, 0)
            .init(quiet)
            .entry(quiet),
        TaskConfig::new(n("MMI"), 7, 512, 4, 0)
            .init(quiet)
            .entry(quiet)
            .cfg(quiet),
    ];
    let custom = [TaskConfig::new(n("APP"), 1, 256, 2, 0)
        .init(quiet)
        .entry(quiet)];
    let cfg = config(&sys, &custom, &p, None, NO_TIMERS);
    let mut r = Rig::boot(&cfg).unwrap();
    let boot = r.take();
    let order = runs(&boot);
    // Every init in table order (system part, then customer part), then every cfg.
    assert_eq!(
        order,
        [
            ("L4".into(), HandlerKind::Init),
            ("NVRAM".into(), HandlerKind::Init),
            ("MMI".into(), HandlerKind::Init),
            ("APP".into(), HandlerKind::Init),
            ("L4".into(), HandlerKind::Cfg),
            ("MMI".into(), HandlerKind::Cfg),
        ]
    );
    let phases: Vec<_> = task_events(&boot)
        .into_iter()
        .filter_map(|(_, e)| match e {
            TaskEvent::Phase { phase } => Some(phase),
            _ => None,
        })
        .collect();
    assert_eq!(
        phases,
        [Phase::Create, Phase::Init, Phase::Config, Phase::Running]
    );
    // Nothing has run on a task stack yet; every task is initialized.
    for t in r.kal.tasks() {
        assert_eq!(r.kal.state(&r.ram, t.id).unwrap(), TaskState::Initialized);
    }
    assert_eq!(
        r.kal.queue_len(&r.ram, mmi, QueueKind::External).unwrap(),
        1
    );
    r.check();

    r.run().unwrap();
    let order = runs(&r.take());
    // The scheduler starts the most urgent task first; MMI handles nothing (no rule).
    assert_eq!(
        order,
        [
            ("APP".into(), HandlerKind::Entry),
            ("NVRAM".into(), HandlerKind::Entry),
            ("L4".into(), HandlerKind::Entry),
            ("MMI".into(), HandlerKind::Entry),
        ]
    );
    for t in r.kal.tasks() {
        assert_eq!(r.kal.state(&r.ram, t.id).unwrap(), TaskState::Waiting);
    }
    r.check();
}

#[test]
fn boot_carves_kcb_then_tcb_stack_and_queues_per_task_from_system_memory() {
    let p = Program::new();
    let sys = [
        TaskConfig::new(n("A"), 1, 100, 3, 2),
        TaskConfig::new(n("B"), 2, 64, 0, 0),
    ];
    let mut rec = Recorder::default();
    let (mut ram, mut sm) = machine(&mut rec);
    rec.events.clear();
    let cfg = config(&sys, &[], &p, None, NO_TIMERS);
    let kal = Kal::boot(&mut Ctx::new(&mut ram, &mut rec), &mut sm, &cfg).unwrap();
    let carves: Vec<_> = rec
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Carve { addr, size, region } => Some((addr, size, region.to_string())),
            _ => None,
        })
        .collect();
    let a = kal.task(TaskId(0)).unwrap();
    let bt = kal.task(TaskId(1)).unwrap();
    // KCB (20 + 4 * 2), then A: TCB, stack (100 -> 100), ext (28 + 3*16), int (28 + 2*16),
    // then B: TCB and stack only. All from internal SRAM, which system memory serves first.
    let sizes: Vec<u32> = carves.iter().map(|c| c.1).collect();
    assert_eq!(sizes, [28, TCB_SIZE, 100, 76, 60, TCB_SIZE, 64]);
    assert!(carves.iter().all(|c| c.2 == "isram"));
    assert_eq!(carves[0].0, kal.control_block());
    assert_eq!(
        [carves[1].0, carves[2].0, carves[3].0, carves[4].0],
        [a.tcb, a.stack, a.ext, a.int]
    );
    assert_eq!([carves[5].0, carves[6].0], [bt.tcb, bt.stack]);
    assert_eq!((bt.ext, bt.int), (0, 0));
    assert_eq!(ram.read_u32(kal.control_block()).unwrap(), KCB_MAGIC);
    assert_eq!(ram.read_u32(a.tcb).unwrap(), TCB_MAGIC);
    assert_eq!(
        ram.read_u32(kal.control_block() + 20).unwrap(),
        a.tcb,
        "the KCB's TCB table"
    );
    // The guard fills the low end of each stack.
    for k in 0..STACK_GUARD_SIZE / 4 {
        assert_eq!(ram.read_u32(a.stack + 4 * k).unwrap(), STACK_GUARD_WORD);
    }
    let f = kal.footprint(TaskId(0)).unwrap();
    assert_eq!(
        (f.tcb, f.stack, f.ext, f.int, f.total()),
        (40, 100, 76, 60, 276)
    );
    assert_eq!(kal.footprint(TaskId(1)).unwrap().total(), 104);
    kal.check(&ram).unwrap();
    sm.check(&ram).unwrap();
}

#[test]
fn application_initialize_sets_up_system_memory_at_the_first_free_address() {
    let p = Program::new();
    let sys = [TaskConfig::new(n("MMI"), 1, 256, 4, 0)];
    let mut ram = bare_ram();
    let mut rec = Recorder::default();
    let first_free = EXTSRAM + 0x100;
    let cfg = config(&sys, &[], &p, Some("MMI"), TimerConfig::default());
    let (sm, kal) =
        Kal::application_initialize(&mut Ctx::new(&mut ram, &mut rec), first_free, &cfg).unwrap();
    assert_eq!(sm.control_block(), first_free);
    assert!(kal.control_block() > first_free);
    assert!(kal.evshed().is_some() && kal.timers().is_some());
    kal.check(&ram).unwrap();
    sm.check(&ram).unwrap();
    // An address in no RAM region is refused with a typed error.
    let mut ram = bare_ram();
    let err =
        Kal::application_initialize(&mut Ctx::new(&mut ram, &mut rec), 0x1000, &cfg).unwrap_err();
    assert!(matches!(
        err,
        TaskError::Mem(AllocError::Config(ConfigError::NotInRam { .. }))
    ));
}

#[test]
fn bad_configurations_are_refused_with_typed_errors() {
    let mut p = Program::new();
    let start = b(&mut p, 0, &[]);
    let timer = b(
        &mut p,
        0,
        &[Action::StartTimer {
            timer: 1,
            delay: 1,
            callback: start,
            aligned: true,
        }],
    );
    let a = TaskConfig::new(n("A"), 1, 128, 2, 0);
    let boot = |sys: &[TaskConfig], p: &Program, mmi: Option<&str>, t: TimerConfig| {
        Rig::boot(&config(sys, &[], p, mmi, t)).err()
    };
    assert!(matches!(
        boot(&[], &p, None, NO_TIMERS),
        Some(TaskError::Mem(AllocError::Config(ConfigError::NoBlocks)))
    ));
    assert!(matches!(
        boot(&[a; 17], &p, None, NO_TIMERS),
        Some(TaskError::Mem(AllocError::Config(ConfigError::TooMany {
            max: 16
        })))
    ));
    assert_eq!(
        boot(&[a, a], &p, None, NO_TIMERS),
        Some(TaskError::DuplicateTask { name: n("A") })
    );
    let tiny = TaskConfig::new(n("T"), 1, STACK_GUARD_SIZE, 1, 0);
    assert!(matches!(
        boot(&[tiny], &p, None, NO_TIMERS),
        Some(TaskError::Mem(AllocError::Config(
            ConfigError::TooSmall { .. }
        )))
    ));
    let huge = TaskConfig::new(n("H"), 1, u32::MAX, 1, 0);
    assert!(matches!(
        boot(&[huge], &p, None, NO_TIMERS),
        Some(TaskError::Mem(AllocError::Config(
            ConfigError::BadBlockSize { .. }
        )))
    ));
    let big_queue = TaskConfig::new(n("Q"), 1, 128, 300, 0);
    assert!(matches!(
        boot(&[big_queue], &p, None, NO_TIMERS),
        Some(TaskError::Mem(AllocError::Config(
            ConfigError::TooMany { .. }
        )))
    ));
    assert_eq!(
        boot(&[a.init(BehaviourId(30))], &p, None, NO_TIMERS),
        Some(TaskError::NoSuchBehaviour { id: 30 })
    );
    assert_eq!(
        boot(&[a], &p, Some("MMI"), NO_TIMERS),
        Some(TaskError::UnknownTask { name: n("MMI") })
    );
    // A program that starts timers needs an MMI task.
    assert_eq!(
        boot(&[a.init(timer)], &p, None, NO_TIMERS),
        Some(TaskError::NoMmi)
    );
    let no_slots = TimerConfig {
        slots: 0,
        ..TimerConfig::default()
    };
    assert!(boot(&[a], &p, Some("A"), no_slots).is_some());
    let mut bad = Program::new();
    b(&mut bad, 0, &[send(TaskId(9), 1)]);
    assert_eq!(
        boot(&[a], &bad, None, NO_TIMERS),
        Some(TaskError::NoSuchTask { id: 9 })
    );
    // Running out of system memory is a typed error too.
    let fat = TaskConfig::new(n("F"), 1, 0x10_0000, 1, 0);
    assert!(matches!(
        boot(&[fat], &Program::new(), None, NO_TIMERS),
        Some(TaskError::Mem(AllocError::OutOfMemory { .. }))
    ));
}

// ----- the scheduler -----------------------------------------------------------------

#[test]
fn the_most_urgent_ready_task_runs_first_ties_in_table_order() {
    let p = Program::new();
    let sys = [
        TaskConfig::new(n("LOW"), 9, 256, 4, 0),
        TaskConfig::new(n("HIGH"), 1, 256, 4, 0),
        TaskConfig::new(n("MID1"), 5, 256, 4, 0),
        TaskConfig::new(n("MID2"), 5, 256, 4, 0),
    ];
    let mut r = Rig::boot(&config(&sys, &[], &p, None, NO_TIMERS)).unwrap();
    r.run().unwrap();
    r.take();
    for (task, msg) in [
        ("LOW", 1),
        ("MID2", 2),
        ("MID1", 3),
        ("HIGH", 4),
        ("LOW", 5),
    ] {
        r.post(task, msg).unwrap();
    }
    // Sent messages wait until the tasks run.
    assert_eq!(r.kal.state(&r.ram, r.id("LOW")).unwrap(), TaskState::Ready);
    r.check();
    assert_eq!(r.run().unwrap(), 5);
    assert_eq!(
        dequeues(&r.take()),
        [
            ("HIGH".into(), 4),
            ("MID1".into(), 3),
            ("MID2".into(), 2),
            ("LOW".into(), 1),
            ("LOW".into(), 5),
        ]
    );
    r.check();
}

#[test]
fn each_message_runs_to_completion_and_the_internal_queue_goes_first() {
    let mut p = Program::new();
    let (hi, lo) = (TaskId(0), TaskId(1));
    // LO, handling 1, posts 2 to its own internal queue and 3 to HI; HI (more urgent)
    // only runs once LO's handler has finished.
    let lo_on_1 = b(
        &mut p,
        32,
        &[
            Action::SendInternal {
                msg: 2,
                payload: [0, 0],
            },
            send(hi, 3),
        ],
    );
    p.on(lo, Some(1), lo_on_1).unwrap();
    let sys = [
        TaskConfig::new(n("HI"), 1, 256, 4, 0),
        TaskConfig::new(n("LO"), 2, 256, 4, 2),
    ];
    let mut r = Rig::boot(&config(&sys, &[], &p, None, NO_TIMERS)).unwrap();
    r.run().unwrap();
    r.post("LO", 1).unwrap();
    r.post("LO", 4).unwrap();
    r.take();
    r.run().unwrap();
    let ev = r.take();
    assert_eq!(
        dequeues(&ev),
        [
            ("LO".into(), 1),
            ("HI".into(), 3),
            ("LO".into(), 2), // internal first ...
            ("LO".into(), 4), // ... then the external queue
        ]
    );
    let kinds: Vec<_> = task_events(&ev)
        .into_iter()
        .filter_map(|(_, e)| match e {
            TaskEvent::Dequeue { queue, .. } => Some(queue),
            _ => None,
        })
        .collect();
    assert_eq!(kinds[2], QueueKind::Internal);
    // Messages without a protocol handler are dropped and said so.
    let unhandled = task_events(&ev)
        .into_iter()
        .filter(|(_, e)| matches!(e, TaskEvent::Unhandled { .. }))
        .count();
    assert_eq!(unhandled, 3);
    assert_eq!(r.kal.usage(&r.ram, lo).unwrap().1, 3);
    r.check();
}

#[test]
fn a_request_and_its_reply_travel_between_tasks() {
    let mut p = Program::new();
    let (mmi, nvram) = (TaskId(0), TaskId(1));
    let ask = b(&mut p, 64, &[send(nvram, 200)]);
    let answer = b(
        &mut p,
        64,
        &[Action::Reply {
            msg: 201,
            payload: [7, 0x1234],
        }],
    );
    let done = b(&mut p, 64, &[]);
    p.on(nvram, Some(200), answer).unwrap();
    p.on(mmi, Some(201), done).unwrap();
    let sys = [
        TaskConfig::new(n("MMI"), 5, 256, 4, 0).entry(ask),
        TaskConfig::new(n("NVRAM"), 3, 256, 4, 0),
    ];
    let mut r = Rig::boot(&config(&sys, &[], &p, None, NO_TIMERS)).unwrap();
    r.run().unwrap();
    let ev = r.take();
    assert_eq!(dequeues(&ev), [("NVRAM".into(), 200), ("MMI".into(), 201)]);
    let reply = task_events(&ev)
        .into_iter()
        .find_map(|(src, e)| match e {
            TaskEvent::Enqueue {
                msg: 201,
                from,
                payload,
                ..
            } => Some((src, from, payload)),
            _ => None,
        })
        .unwrap();
    assert_eq!(reply, (n("MMI"), n("NVRAM"), [7, 0x1234]));
    // A reply to a message from outside has no sender: a fault, and the handler goes on.
    p.on(mmi, Some(5), answer).unwrap();
    let mut r = Rig::boot(&config(&sys, &[], &p, None, NO_TIMERS)).unwrap();
    r.run().unwrap();
    r.post("MMI", 5).unwrap();
    r.take();
    r.run().unwrap();
    let faults: Vec<_> = task_events(&r.take())
        .into_iter()
        .filter_map(|(_, e)| match e {
            TaskEvent::Fault { error, .. } => Some(error),
            _ => None,
        })
        .collect();
    assert_eq!(faults, [TaskError::NoSender { task: n("MMI") }]);
    r.check();
}

#[test]
fn the_run_budget_stops_tasks_that_keep_sending_to_each_other() {
    let mut p = Program::new();
    let (a, bb) = (TaskId(0), TaskId(1));
    let ping = b(&mut p, 16, &[send(bb, 1)]);
    let pong = b(&mut p, 16, &[send(a, 1)]);
    p.on(a, None, ping).unwrap();
    p.on(bb, None, pong).unwrap();
    let sys = [
        TaskConfig::new(n("A"), 1, 128, 2, 0),
        TaskConfig::new(n("B"), 1, 128, 2, 0),
    ];
    let mut cfg = config(&sys, &[], &p, None, NO_TIMERS);
    cfg.budget = 50;
    let mut r = Rig::boot(&cfg).unwrap();
    r.post("A", 1).unwrap();
    assert_eq!(r.run(), Err(TaskError::Budget { handled: 50 }));
    // The machine is consistent and can go on.
    r.check();
    assert_eq!(r.run(), Err(TaskError::Budget { handled: 50 }));
}

// ----- queues ------------------------------------------------------------------------

#[test]
fn a_full_queue_is_a_fault_that_lists_what_it_held_and_changes_nothing() {
    let p = Program::new();
    let sys = [TaskConfig::new(n("A"), 1, 128, 2, 0)];
    let mut r = Rig::boot(&config(&sys, &[], &p, None, NO_TIMERS)).unwrap();
    let a = r.id("A");
    r.send(Src::External, a, QueueKind::External, 10, [1, 2])
        .unwrap();
    r.send(Src::Task(a), a, QueueKind::External, 11, [3, 4])
        .unwrap();
    let q = r.kal.task(a).unwrap().ext;
    let before = r.ram.slice(q, QUEUE_HEADER + 32).unwrap().to_vec();
    r.take();
    let err = r
        .send(Src::External, a, QueueKind::External, 12, [5, 6])
        .unwrap_err();
    assert_eq!(
        err,
        TaskError::QueueFull {
            task: n("A"),
            queue: QueueKind::External,
            capacity: 2
        }
    );
    assert_eq!(
        r.lines(),
        [
            "A.held queue=ext slot=0 msg=10 from=ext p0=0x00000001 p1=0x00000002",
            "A.held queue=ext slot=1 msg=11 from=A p0=0x00000003 p1=0x00000004",
            "kal.fault op=send to=A msg=12 error=QueueFull task=A queue=ext capacity=2",
        ]
    );
    assert_eq!(r.ram.slice(q, QUEUE_HEADER + 32).unwrap(), &before[..]);
    r.check();
    // The circular buffer wraps: take one, add one.
    r.run().unwrap();
    for msg in 20..24 {
        r.post("A", msg).unwrap();
        r.post("A", msg + 100).unwrap();
        r.check();
        r.run().unwrap();
        r.check();
    }
}

#[test]
fn a_handler_sending_to_a_full_queue_is_reported_and_goes_on() {
    let mut p = Program::new();
    let (a, sink) = (TaskId(0), TaskId(1));
    let flood = b(&mut p, 32, &[send(sink, 1), send(sink, 2), send(sink, 3)]);
    p.on(a, Some(9), flood).unwrap();
    let sys = [
        TaskConfig::new(n("A"), 1, 128, 2, 0),
        TaskConfig::new(n("SINK"), 2, 128, 2, 0),
    ];
    let mut r = Rig::boot(&config(&sys, &[], &p, None, NO_TIMERS)).unwrap();
    r.run().unwrap();
    r.post("A", 9).unwrap();
    r.take();
    r.run().unwrap();
    let ev = r.take();
    let faults: Vec<String> = ev
        .iter()
        .filter(|e| e.kind.word() == "fault")
        .map(|e| e.to_string())
        .collect();
    assert_eq!(
        faults,
        ["kal.fault op=send to=SINK msg=3 error=QueueFull task=SINK queue=ext capacity=2"]
    );
    assert_eq!(dequeues(&ev)[1..], [("SINK".into(), 1), ("SINK".into(), 2)]);
    r.check();
}

#[test]
fn bad_sends_are_refused() {
    let p = Program::new();
    let sys = [
        TaskConfig::new(n("A"), 1, 128, 2, 1),
        TaskConfig::new(n("NOQ"), 2, 128, 0, 0),
    ];
    let mut r = Rig::boot(&config(&sys, &[], &p, None, NO_TIMERS)).unwrap();
    let (a, noq) = (r.id("A"), r.id("NOQ"));
    let ext = QueueKind::External;
    assert_eq!(
        r.send(Src::Timer, a, ext, MSG_ID_TIMER_EXPIRY, [0, 0]),
        Err(TaskError::BadSource)
    );
    assert_eq!(
        r.send(Src::External, a, QueueKind::Internal, 1, [0, 0]),
        Err(TaskError::BadSource)
    );
    assert_eq!(
        r.send(Src::Task(noq), a, QueueKind::Internal, 1, [0, 0]),
        Err(TaskError::BadSource)
    );
    r.send(Src::Task(a), a, QueueKind::Internal, 1, [0, 0])
        .unwrap();
    assert_eq!(
        r.send(Src::External, TaskId(7), ext, 1, [0, 0]),
        Err(TaskError::NoSuchTask { id: 7 })
    );
    assert_eq!(
        r.send(Src::Task(TaskId(7)), a, ext, 1, [0, 0]),
        Err(TaskError::NoSuchTask { id: 7 })
    );
    assert_eq!(
        r.send(Src::External, noq, ext, 1, [0, 0]),
        Err(TaskError::NoQueue {
            task: n("NOQ"),
            queue: ext
        })
    );
    assert!(r.kal.timers().is_none());
    assert_eq!(
        r.start(1, 1, BehaviourId(0), true),
        Err(TaskError::NoSuchBehaviour { id: 0 })
    );
    assert_eq!(r.stop(1), Err(TaskError::NoMmi));
    assert_eq!(r.cancel(EventId(1)), Err(TaskError::NoMmi));
    r.check();
}

// ----- stacks ------------------------------------------------------------------------

#[test]
fn a_stack_overflow_is_caught_at_the_guard_with_the_task_and_address() {
    let mut p = Program::new();
    let a = TaskId(0);
    let fits = b(&mut p, 256 - STACK_GUARD_SIZE, &[]);
    let deep = b(&mut p, 300, &[]);
    p.on(a, Some(1), fits).unwrap();
    p.on(a, Some(2), deep).unwrap();
    let sys = [
        TaskConfig::new(n("APP"), 1, 256, 4, 0),
        TaskConfig::new(n("OTHER"), 2, 128, 2, 0),
    ];
    let mut r = Rig::boot(&config(&sys, &[], &p, None, NO_TIMERS)).unwrap();
    r.run().unwrap();
    let t = r.kal.task(a).unwrap();
    // Using everything above the guard is fine; the frame is visible in RAM.
    r.post("APP", 1).unwrap();
    r.run().unwrap();
    r.check();
    assert_eq!(r.kal.usage(&r.ram, a).unwrap().0, 240);
    assert_eq!(
        r.ram.read_u8(t.stack + STACK_GUARD_SIZE).unwrap(),
        STACK_FRAME_BYTE
    );
    assert_eq!(r.ram.read_u32(t.stack + 12).unwrap(), STACK_GUARD_WORD);
    // 300 bytes do not fit in 256: the frame runs over the guard.
    r.post("APP", 2).unwrap();
    r.post("APP", 1).unwrap();
    r.post("OTHER", 1).unwrap();
    r.take();
    let overflow = TaskError::StackOverflow {
        task: n("APP"),
        at: t.stack + 12,
        expected: STACK_GUARD_WORD,
        found: 0xcccc_cccc,
        used: 300,
        size: 256,
    };
    assert_eq!(r.run(), Err(overflow));
    assert_eq!(
        r.lines().last().unwrap(),
        &format!(
            "kal.fault op=run error=StackOverflow task=APP at={:#010x} expected=0xa5a5a5a5 found=0xcccccccc used=300 size=256",
            t.stack + 12
        )
    );
    assert_eq!(r.kal.state(&r.ram, a).unwrap(), TaskState::Faulted);
    // check() finds the same thing; the faulted task is no longer scheduled, others are.
    assert_eq!(r.kal.check(&r.ram), Err(overflow));
    r.run().unwrap();
    assert_eq!(dequeues(&r.take()), [("OTHER".into(), 1)]);
    assert_eq!(r.kal.queue_len(&r.ram, a, QueueKind::External).unwrap(), 1);
}

#[test]
fn a_partial_guard_overwrite_is_an_overflow_too() {
    let mut p = Program::new();
    let a = TaskId(0);
    let deep = b(&mut p, 256 - STACK_GUARD_SIZE + 1, &[]);
    let sys = [TaskConfig::new(n("APP"), 1, 256, 4, 0).entry(deep)];
    let mut r = Rig::boot(&config(&sys, &[], &p, None, NO_TIMERS)).unwrap();
    let t = r.kal.task(a).unwrap();
    match r.run() {
        Err(TaskError::StackOverflow { at, found, .. }) => {
            assert_eq!(at, t.stack + 12);
            assert_eq!(found, 0xcca5_a5a5);
        }
        other => panic!("expected an overflow, got {other:?}"),
    }
}

// ----- corruption ----------------------------------------------------------------------

fn small_rig() -> Rig {
    let mut p = Program::new();
    let quiet = b(&mut p, 32, &[]);
    let echo = b(
        &mut p,
        32,
        &[Action::Reply {
            msg: 2,
            payload: [0, 0],
        }],
    );
    p.on(TaskId(1), Some(1), echo).unwrap();
    p.on(TaskId(0), None, quiet).unwrap();
    let sys = [
        TaskConfig::new(n("MMI"), 2, 256, 3, 1),
        TaskConfig::new(n("L4"), 1, 256, 3, 1),
    ];
    let cfg = config(&sys, &[], &p, Some("MMI"), TimerConfig::default());
    let mut r = Rig::boot(&cfg).unwrap();
    r.run().unwrap();
    r
}

#[test]
fn a_corrupted_tcb_is_reported_by_check_and_by_operations() {
    let mut r = small_rig();
    let l4 = r.kal.task(r.id("L4")).unwrap();
    r.ram.write_u8(l4.tcb + 8, 0x77).unwrap(); // priority 1 -> 0x77
    let want = TaskError::Mem(AllocError::Corrupted {
        at: l4.tcb + 8,
        field: Field::Priority,
        expected: 1,
        found: 0x77,
    });
    assert_eq!(r.kal.check(&r.ram), Err(want));
    assert_eq!(r.post("L4", 1), Err(want));
    assert_eq!(r.run(), Err(want));
    assert_eq!(r.tick(3), Err(want));
}

#[test]
fn a_corrupted_queue_is_reported_by_check_and_by_send() {
    let mut r = small_rig();
    let mmi = r.kal.task(r.id("MMI")).unwrap();
    r.ram.write_u32(mmi.ext + 16, 9).unwrap(); // count 9 > capacity 3
    let err = r.kal.check(&r.ram).unwrap_err();
    assert!(
        matches!(err, TaskError::Mem(AllocError::Inconsistent { at, .. }) if at == mmi.ext + 16),
        "{err:?}"
    );
    assert_eq!(r.post("MMI", 1), Err(err));
    // A corrupted message source.
    let mut r = small_rig();
    r.post("MMI", 1).unwrap();
    r.ram.write_u32(mmi.ext + QUEUE_HEADER + 4, 0x55).unwrap();
    assert!(matches!(
        r.kal.check(&r.ram),
        Err(TaskError::Mem(AllocError::Inconsistent { .. }))
    ));
    assert!(r.run().is_err());
}

#[test]
fn a_corrupted_kcb_is_reported() {
    let mut r = small_rig();
    let kcb = r.kal.control_block();
    r.ram.write_u32(kcb + 12, 0).unwrap(); // "current" says task 0 runs
    assert!(matches!(
        r.kal.check(&r.ram),
        Err(TaskError::Mem(AllocError::Corrupted {
            field: Field::Id,
            ..
        }))
    ));
    let mut r = small_rig();
    r.ram.write_u8(kcb, 0).unwrap();
    assert!(matches!(
        r.kal.check(&r.ram),
        Err(TaskError::Mem(AllocError::Corrupted {
            field: Field::Magic,
            ..
        }))
    ));
}

/// Flips random bytes of the task system's RAM, then runs random operations: every
/// outcome is a value, never a panic or a hang.
#[test]
fn random_corruption_never_panics() {
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        proptest::collection::vec((any::<u32>(), any::<u8>()), 1..4),
        proptest::collection::vec(op_strategy(), 1..40),
    );
    runner
        .run(&strategy, |(pokes, ops)| {
            let mut w = World::new();
            for op in ops.iter().take(10) {
                w.apply(op);
            }
            let (lo, hi) = w.span();
            for (off, byte) in &pokes {
                let addr = lo + off % (hi - lo);
                w.rig.ram.write_u8(addr, *byte).unwrap();
            }
            for op in &ops {
                w.apply_any(op);
                let _ = w.rig.kal.check(&w.rig.ram);
            }
            Ok(())
        })
        .unwrap();
}

// ----- the property test ---------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Send {
        from: u8,
        to: u8,
        internal: bool,
        msg: u16,
    },
    Run,
    Tick(u32),
    Start {
        timer: u16,
        delay: u32,
        cb: u8,
        aligned: bool,
    },
    Stop(u16),
    SetEvent {
        delay: u32,
        cb: u8,
        aligned: bool,
    },
    Cancel {
        pick: usize,
        stale: bool,
    },
    Reset(u8),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..6u8, 0..4u8, any::<bool>(), 0..8u16)
            .prop_map(|(from, to, internal, msg)| Op::Send { from, to, internal, msg }),
        4 => Just(Op::Run),
        5 => (0..12u32).prop_map(Op::Tick),
        4 => (0..6u16, 0..16u32, 0..4u8, any::<bool>())
            .prop_map(|(timer, delay, cb, aligned)| Op::Start { timer, delay, cb, aligned }),
        2 => (0..7u16).prop_map(Op::Stop),
        2 => (0..16u32, 0..4u8, any::<bool>())
            .prop_map(|(delay, cb, aligned)| Op::SetEvent { delay, cb, aligned }),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(pick, stale)| Op::Cancel { pick, stale }),
        1 => (0..4u8).prop_map(Op::Reset),
    ]
}

/// Four tasks with small queues, protocol handlers that forward, reply, post internally,
/// start and stop timers, and timer callbacks that send and set events.
struct World {
    rig: Rig,
    callbacks: [BehaviourId; 4],
    /// Event ids seen set (pending or not).
    ids: Vec<EventId>,
    /// Whether an expiry was ever lost (then timers may be late).
    lost: bool,
    fuzz: u32,
    /// The running MMI timers and pending events, as the trace tells them.
    running: BTreeMap<u16, u32>,
    pending: BTreeMap<u32, (u32, bool)>,
}

const FUZZ: u32 = 3;

impl World {
    fn new() -> World {
        let (a, bb, mmi, c) = (TaskId(0), TaskId(1), TaskId(2), TaskId(3));
        let mut p = Program::new();
        let idle = b(&mut p, 24, &[]);
        let ev_cb = b(&mut p, 40, &[]);
        let tick_cb = b(
            &mut p,
            64,
            &[
                send(a, 1),
                Action::SetEvent {
                    delay: 2,
                    callback: ev_cb,
                    arg: 5,
                    aligned: false,
                },
            ],
        );
        let restart_cb = b(
            &mut p,
            48,
            &[Action::StartTimer {
                timer: 6,
                delay: 4,
                callback: ev_cb,
                aligned: true,
            }],
        );
        let to = [bb, mmi, c, a];
        for (i, t) in [a, bb, mmi, c].into_iter().enumerate() {
            let fwd = b(&mut p, 48 + 16 * i as u32, &[send(to[i], 2)]);
            p.on(t, Some(1), fwd).unwrap();
        }
        let answer = b(
            &mut p,
            56,
            &[
                Action::Reply {
                    msg: 3,
                    payload: [1, 2],
                },
                Action::SendInternal {
                    msg: 4,
                    payload: [3, 4],
                },
            ],
        );
        let start = b(
            &mut p,
            72,
            &[Action::StartTimer {
                timer: 9,
                delay: 3,
                callback: tick_cb,
                aligned: true,
            }],
        );
        let stop = b(&mut p, 24, &[Action::StopTimer { timer: 9 }]);
        for t in [a, bb, mmi, c] {
            p.on(t, Some(2), answer).unwrap();
            p.on(t, Some(3), start).unwrap();
            p.on(t, Some(4), idle).unwrap();
            p.on(t, Some(5), stop).unwrap();
        }
        let reset = b(&mut p, 0, &[send(mmi, 1)]);
        let sys = [
            TaskConfig::new(n("A"), 1, 192, 3, 2).reset(reset),
            TaskConfig::new(n("B"), 2, 192, 2, 0),
            TaskConfig::new(n("MMI"), 3, 256, 4, 1).reset(reset),
        ];
        let custom = [TaskConfig::new(n("C"), 3, 160, 2, 2)];
        let timers = TimerConfig {
            events: 8,
            slots: 4,
            fuzz: FUZZ,
        };
        let cfg = config(&sys, &custom, &p, Some("MMI"), timers);
        let mut rig = Rig::boot(&cfg).unwrap();
        rig.run().unwrap();
        rig.take();
        World {
            rig,
            callbacks: [idle, ev_cb, tick_cb, restart_cb],
            ids: Vec::new(),
            lost: false,
            fuzz: FUZZ,
            running: BTreeMap::new(),
            pending: BTreeMap::new(),
        }
    }

    /// The address range of everything the task system carved.
    fn span(&self) -> (u32, u32) {
        let lo = self.rig.kal.control_block();
        let tt = self.rig.kal.timers().unwrap();
        (lo, tt.table() + tt.slots() * 20 + 12)
    }

    /// Runs `op`, ignoring the outcome (for the corruption test).
    fn apply_any(&mut self, op: &Op) {
        let _ = self.exec(op);
        self.rig.take();
    }

    fn exec(&mut self, op: &Op) -> Result<(), TaskError> {
        let r = &mut self.rig;
        match *op {
            Op::Send {
                from,
                to,
                internal,
                msg,
            } => {
                let from = if from < 4 {
                    Src::Task(TaskId(from))
                } else {
                    Src::External
                };
                let queue = if internal {
                    QueueKind::Internal
                } else {
                    QueueKind::External
                };
                r.send(from, TaskId(to), queue, msg, [msg as u32, 0])
            }
            Op::Run => r.run().map(|_| ()),
            Op::Tick(t) => r.tick(t),
            Op::Start {
                timer,
                delay,
                cb,
                aligned,
            } => {
                let cb = self.callbacks[cb as usize % 4];
                r.start(timer, delay, cb, aligned).map(|_| ())
            }
            Op::Stop(timer) => r.stop(timer).map(|_| ()),
            Op::SetEvent { delay, cb, aligned } => {
                let cb = self.callbacks[cb as usize % 4];
                let id = r.set_event(delay, cb, 0, aligned)?;
                self.ids.push(id);
                Ok(())
            }
            Op::Cancel { pick, stale } => {
                let id = if stale || self.ids.is_empty() {
                    EventId(pick as u32 % 1000)
                } else {
                    self.ids[pick % self.ids.len()]
                };
                r.cancel(id)
            }
            Op::Reset(t) => {
                let mut cx = Ctx::new(&mut r.ram, &mut r.rec);
                r.kal.reset_task(&mut cx, TaskId(t))
            }
        }
    }

    /// Runs `op`, then checks RAM, the trace against a shadow of timers and events, and
    /// the timing rules.
    fn apply(&mut self, op: &Op) {
        let result = self.exec(op);
        if let Err(e) = result {
            let allowed =
                e.is_soft() || matches!(e, TaskError::BadSource | TaskError::NoSuchTask { .. });
            assert!(allowed, "{op:?} failed with {e:?}");
        }
        let events = self.rig.take();
        if let Err(e) = result {
            let last = events
                .last()
                .expect("a failed operation leaves a fault event");
            assert_eq!(
                last.kind,
                EventKind::Task(TaskEvent::Fault {
                    op: fault_op(&last.kind),
                    error: e
                })
            );
        }
        for e in &events {
            match e.kind {
                EventKind::Timer(t) => self.follow(t),
                EventKind::Task(TaskEvent::Fault {
                    op: memplay_engine::task::TaskOp::Expiry,
                    ..
                }) => self.lost = true,
                EventKind::Task(TaskEvent::Fault { error, .. }) => {
                    assert!(
                        error.is_soft()
                            || matches!(error, TaskError::BadSource | TaskError::NoSuchTask { .. }),
                        "{error:?}"
                    );
                }
                _ => {}
            }
        }
        if let Err(e) = self.rig.kal.check(&self.rig.ram) {
            panic!("check failed after {op:?}: {e}");
        }
        // RAM agrees with the trace.
        let mut running = BTreeMap::new();
        let tt = *self.rig.kal.timers().unwrap();
        tt.for_each_running(&self.rig.ram, &mut |s| {
            running.insert(s.timer, s.event.0);
        })
        .unwrap();
        assert_eq!(running, self.running, "running timers after {op:?}");
        let mut pending = BTreeMap::new();
        let es = *self.rig.kal.evshed().unwrap();
        es.for_each_pending(&self.rig.ram, &mut |e| {
            pending.insert(e.id.0, (e.expiry, e.aligned));
        })
        .unwrap();
        assert_eq!(pending, self.pending, "pending events after {op:?}");
        // Nothing is overdue unless an expiry was lost or is in flight.
        let now = self.rig.now();
        let (hw, hw_expiry) = es.hw(&self.rig.ram).unwrap();
        let overdue: Vec<(u32, bool)> = pending
            .values()
            .copied()
            .filter(|&(exp, _)| exp <= now)
            .collect();
        match hw {
            HwState::Stopped => assert!(pending.is_empty(), "pending events, timer stopped"),
            HwState::Running => {
                assert!(hw_expiry > now);
                // Only aligned events wait past their expiry, for their batch, and never
                // longer than the fuzz window; unless an expiry was lost.
                for (exp, aligned) in overdue {
                    let batched = aligned && hw_expiry <= exp + self.fuzz;
                    assert!(
                        self.lost || batched,
                        "event due {exp} still pending at {now}"
                    );
                }
            }
            HwState::Lost => assert!(self.lost && !overdue.is_empty()),
            HwState::Expired => panic!("an expiry is still in flight after {op:?}"),
        }
    }

    fn follow(&mut self, t: TimerEvent) {
        match t {
            TimerEvent::Set {
                id,
                expiry,
                aligned,
                ..
            } => {
                assert!(self.pending.insert(id, (expiry, aligned)).is_none());
            }
            TimerEvent::Cancel { id, .. } => {
                assert!(self.pending.remove(&id).is_some());
            }
            TimerEvent::Fire {
                id,
                expiry,
                at,
                late,
                aligned,
                ..
            } => {
                assert_eq!(self.pending.remove(&id), Some((expiry, aligned)));
                assert!(at >= expiry && late == at - expiry, "fired early");
                if !self.lost {
                    let max = if aligned { self.fuzz } else { 0 };
                    assert!(late <= max, "event {id} late by {late} (aligned {aligned})");
                }
            }
            TimerEvent::Start { timer, event, .. } => {
                assert!(self.running.insert(timer, event).is_none());
            }
            TimerEvent::Stop { timer, event, .. } => {
                assert_eq!(self.running.remove(&timer), Some(event));
            }
            TimerEvent::Expire { timer, .. } => {
                assert!(self.running.remove(&timer).is_some());
            }
            _ => {}
        }
    }
}

fn fault_op(kind: &EventKind) -> memplay_engine::task::TaskOp {
    match kind {
        EventKind::Task(TaskEvent::Fault { op, .. }) => *op,
        _ => panic!("not a fault: {kind:?}"),
    }
}

#[test]
fn random_operations_keep_every_structure_consistent() {
    const CASES: u32 = 40;
    const STEPS: usize = 260;
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let steps = std::cell::Cell::new(0usize);
    let strategy = proptest::collection::vec(op_strategy(), STEPS);
    runner
        .run(&strategy, |ops| {
            let mut w = World::new();
            for op in &ops {
                w.apply(op);
                steps.set(steps.get() + 1);
            }
            Ok::<(), TestCaseError>(())
        })
        .unwrap();
    assert!(steps.get() >= 10_000, "only {} steps ran", steps.get());
}

// ----- the golden trace ----------------------------------------------------------------

/// Four tasks (three system, one customer) boot; MMI starts two aligned and two
/// non-aligned timers in its init; a power-on indication from L4 makes MMI ask NVRAM,
/// NVRAM replies, MMI tells the app. Then 20 ticks: the non-aligned timers fire exactly at
/// 5 and 7, the aligned ones (10 and 12, fuzz 4) together at 12.
#[test]
fn golden_boot_of_four_tasks_with_timers_and_a_message_exchange() {
    const POWER_ON_IND: u16 = 100;
    const NVRAM_READ_REQ: u16 = 200;
    const NVRAM_READ_RSP: u16 = 201;
    const APP_START: u16 = 300;
    const KEYPAD_TIMER: u16 = 1;
    const BLINK_TIMER: u16 = 2;
    const TOUCH_TIMER: u16 = 3;
    const PEN_TIMER: u16 = 4;
    let (nvram, mmi, app) = (TaskId(1), TaskId(2), TaskId(3));
    let mut p = Program::new();
    let keypad = b(&mut p, 96, &[]);
    let blink = b(&mut p, 96, &[send(app, 301)]);
    let touch = b(&mut p, 64, &[]);
    let pen = b(&mut p, 64, &[]);
    let l4_init = b(
        &mut p,
        0,
        &[Action::Send {
            to: mmi,
            msg: POWER_ON_IND,
            payload: [1, 0],
        }],
    );
    let start = |timer, delay, callback, aligned| Action::StartTimer {
        timer,
        delay,
        callback,
        aligned,
    };
    let mmi_init = b(
        &mut p,
        0,
        &[
            start(KEYPAD_TIMER, 10, keypad, true),
            start(BLINK_TIMER, 12, blink, true),
            start(TOUCH_TIMER, 5, touch, false),
            start(PEN_TIMER, 7, pen, false),
        ],
    );
    let entry = b(&mut p, 128, &[]);
    let power_on = b(
        &mut p,
        256,
        &[Action::Send {
            to: nvram,
            msg: NVRAM_READ_REQ,
            payload: [7, 0],
        }],
    );
    let read = b(
        &mut p,
        160,
        &[Action::Reply {
            msg: NVRAM_READ_RSP,
            payload: [7, 0x1234],
        }],
    );
    let read_done = b(&mut p, 200, &[send(app, APP_START)]);
    let app_start = b(&mut p, 64, &[]);
    p.on(mmi, Some(POWER_ON_IND), power_on).unwrap();
    p.on(nvram, Some(NVRAM_READ_REQ), read).unwrap();
    p.on(mmi, Some(NVRAM_READ_RSP), read_done).unwrap();
    p.on(app, None, app_start).unwrap();
    let sys = [
        TaskConfig::new(n("L4"), 2, 512, 4, 0)
            .init(l4_init)
            .entry(entry),
        TaskConfig::new(n("NVRAM"), 4, 384, 2, 0).entry(entry),
        TaskConfig::new(n("MMI"), 6, 1024, 6, 2)
            .init(mmi_init)
            .entry(entry),
    ];
    let custom = [TaskConfig::new(n("APP"), 8, 256, 2, 0)];
    let timers = TimerConfig {
        events: 6,
        slots: 4,
        fuzz: 4,
    };
    let cfg = config(&sys, &custom, &p, Some("MMI"), timers);

    let mut ram = bare_ram();
    let mut sink = TextSink::new(String::new());
    let areas = [
        memplay_engine::sysmem::Area::new(ISRAM, 0x0c00),
        memplay_engine::sysmem::Area::new(EXTSRAM, 0x2000),
    ];
    let mut sm = memplay_engine::sysmem::SystemMemory::with_records(
        &mut Ctx::new(&mut ram, &mut sink),
        Name::lit("sys"),
        &areas,
        24,
    )
    .unwrap();
    sink.step = 1;
    let mut kal = Kal::boot(&mut Ctx::new(&mut ram, &mut sink), &mut sm, &cfg).unwrap();
    sink.step = 2;
    kal.run_until_idle(&mut Ctx::new(&mut ram, &mut sink))
        .unwrap();
    sink.step = 3;
    kal.tick(&mut Ctx::new(&mut ram, &mut sink), 20).unwrap();
    kal.check(&ram).unwrap();
    sm.check(&ram).unwrap();
    assert!(!sink.overflowed);

    // The figures the lesson quotes: bytes carved per task.
    let totals: Vec<u32> = kal
        .tasks()
        .map(|t| kal.footprint(t.id).unwrap().total())
        .collect();
    assert_eq!(
        totals,
        [
            40 + 512 + 92,
            40 + 384 + 60,
            40 + 1024 + 124 + 60,
            40 + 256 + 60
        ]
    );
    let f: Vec<_> = fires_from_text(&sink.out);
    assert_eq!(
        f,
        [
            "id=3 expiry=5 at=5 late=0",
            "id=4 expiry=7 at=7 late=0",
            "id=1 expiry=10 at=12 late=2",
            "id=2 expiry=12 at=12 late=0",
        ]
    );
    assert_golden("task_boot", &sink.out);
}

fn fires_from_text(trace: &str) -> Vec<String> {
    trace
        .lines()
        .filter(|l| l.contains("evshed.fire"))
        .map(|l| {
            let fields: Vec<&str> = l.split(' ').skip(2).take(4).collect();
            fields.join(" ")
        })
        .collect()
}
