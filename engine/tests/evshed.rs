//! The event scheduler and the MMI timer layer: ordering, batching of aligned events,
//! exact non-aligned events, cancel, restart, the expiry through the MMI queue, a full MMI
//! queue, limits, corruption, and the scheduler on its own.

mod kal_common;

use kal_common::*;
use memplay_engine::evshed::{
    EventId, Evshed, HwState, MmiTimers, TimerError, TimerEvent, EVENT_FREE, EVENT_VALID,
    EVSHED_CB_SIZE, L4_CALLBACK_TIMER,
};
use memplay_engine::task::{
    Action, Behaviour, BehaviourId, Program, QueueKind, TaskConfig, TaskError, TaskEvent, TaskId,
    TaskOp, TaskState, TimerConfig, MSG_ID_TIMER_EXPIRY,
};
use memplay_engine::trace::Recorder;
use memplay_engine::{AllocError, Ctx, EventKind, Field, Owner};

/// Callbacks of the timer rig.
struct Cb {
    quiet: BehaviourId,
    other: BehaviourId,
    /// Restarts timer 7 with a delay of 5 (a periodic timer).
    periodic: BehaviourId,
    /// Declares more stack than MMI has.
    deep: BehaviourId,
}

/// An MMI task (priority 5, external queue of `mmi_queue`) and an L4 task (priority 1),
/// with the given timer configuration.
fn timer_rig(timers: TimerConfig, mmi_queue: u16) -> (Rig, Cb) {
    let mut p = Program::new();
    let quiet = p.add(Behaviour::new(48)).unwrap();
    let other = p.add(Behaviour::new(80)).unwrap();
    let periodic = p
        .add(
            Behaviour::with(
                64,
                &[Action::StartTimer {
                    timer: 7,
                    delay: 5,
                    callback: BehaviourId(2),
                    aligned: false,
                }],
            )
            .unwrap(),
        )
        .unwrap();
    let deep = p.add(Behaviour::new(4096)).unwrap();
    let sys = [
        TaskConfig::new(n("L4"), 1, 256, 4, 0),
        TaskConfig::new(n("MMI"), 5, 512, mmi_queue, 2),
    ];
    let cfg = config(&sys, &[], &p, Some("MMI"), timers);
    let mut r = Rig::boot(&cfg).unwrap();
    r.run().unwrap();
    r.take();
    (
        r,
        Cb {
            quiet,
            other,
            periodic,
            deep,
        },
    )
}

fn timers(fuzz: u32) -> TimerConfig {
    TimerConfig {
        events: 8,
        slots: 6,
        fuzz,
    }
}

fn hw(r: &Rig) -> (HwState, u32) {
    r.kal.evshed().unwrap().hw(&r.ram).unwrap()
}

fn count_word(events: &[memplay_engine::trace::Event], word: &str) -> usize {
    events.iter().filter(|e| e.kind.word() == word).count()
}

// ----- ordering and exactness --------------------------------------------------------

#[test]
fn events_fire_in_expiry_order_whatever_order_they_were_set_in() {
    let (mut r, cb) = timer_rig(timers(0), 6);
    let a = r.start(1, 30, cb.quiet, false).unwrap();
    let b = r.start(2, 10, cb.quiet, false).unwrap();
    let c = r.start(3, 20, cb.quiet, false).unwrap();
    // The list in RAM is sorted by absolute expiry.
    let mut order = Vec::new();
    let es = *r.kal.evshed().unwrap();
    es.for_each_pending(&r.ram, &mut |e| order.push((e.id, e.expiry)))
        .unwrap();
    assert_eq!(order, [(b, 10), (c, 20), (a, 30)]);
    assert_eq!(hw(&r), (HwState::Running, 10));
    r.check();
    r.take();
    r.tick(40).unwrap();
    let ev = r.take();
    assert_eq!(
        fires(&ev),
        [(b.0, 10, 10, 0), (c.0, 20, 20, 0), (a.0, 30, 30, 0)]
    );
    assert_eq!(count_word(&ev, "hw_expire"), 3);
    assert_eq!(hw(&r).0, HwState::Stopped);
    assert_eq!(r.now(), 40);
    r.check();
}

#[test]
fn events_due_in_the_same_tick_fire_in_the_order_they_were_set() {
    let (mut r, cb) = timer_rig(timers(0), 6);
    let ids: Vec<_> = (0..4)
        .map(|i| r.set_event(6, cb.quiet, i, i % 2 == 0).unwrap())
        .collect();
    r.take();
    r.tick(6).unwrap();
    let fired: Vec<u32> = fires(&r.take()).iter().map(|f| f.0).collect();
    assert_eq!(fired, ids.iter().map(|i| i.0).collect::<Vec<_>>());
    r.check();
}

#[test]
fn a_delay_of_zero_fires_at_the_next_tick() {
    let (mut r, cb) = timer_rig(timers(0), 6);
    let id = r.start(1, 0, cb.quiet, false).unwrap();
    r.take();
    r.tick(0).unwrap();
    assert!(fires(&r.take()).is_empty());
    r.tick(1).unwrap();
    assert_eq!(fires(&r.take()), [(id.0, 1, 1, 0)]);
}

// ----- aligned and non-aligned -------------------------------------------------------

#[test]
fn aligned_timers_near_each_other_are_batched_into_one_expiry() {
    let (mut r, cb) = timer_rig(timers(5), 6);
    let a = r.start(1, 10, cb.quiet, true).unwrap();
    let b = r.start(2, 12, cb.quiet, true).unwrap();
    let c = r.start(3, 14, cb.quiet, true).unwrap();
    let d = r.start(4, 30, cb.quiet, true).unwrap();
    // The hardware timer waits for the last expiry in [10, 10 + 5].
    assert_eq!(hw(&r), (HwState::Running, 14));
    r.take();
    r.tick(13).unwrap();
    assert!(
        fires(&r.take()).is_empty(),
        "aligned timers may be late, never early"
    );
    r.check();
    r.tick(20).unwrap();
    let ev = r.take();
    assert_eq!(
        fires(&ev),
        [
            (a.0, 10, 14, 4),
            (b.0, 12, 14, 2),
            (c.0, 14, 14, 0),
            (d.0, 30, 30, 0)
        ]
    );
    // Three timers, one wake-up: one expiry message for the batch, one for the last.
    assert_eq!(count_word(&ev, "hw_expire"), 2);
    let expiries = task_events(&ev)
        .into_iter()
        .filter(|(_, e)| {
            matches!(
                e,
                TaskEvent::Enqueue {
                    msg: MSG_ID_TIMER_EXPIRY,
                    ..
                }
            )
        })
        .count();
    assert_eq!(expiries, 2);
    r.check();
}

#[test]
fn aligned_timers_outside_the_window_are_not_batched() {
    let (mut r, cb) = timer_rig(timers(5), 6);
    let a = r.start(1, 10, cb.quiet, true).unwrap();
    let b = r.start(2, 16, cb.quiet, true).unwrap();
    assert_eq!(hw(&r), (HwState::Running, 10));
    r.take();
    r.tick(20).unwrap();
    assert_eq!(fires(&r.take()), [(a.0, 10, 10, 0), (b.0, 16, 16, 0)]);
}

#[test]
fn non_aligned_timers_fire_exactly_and_end_the_batch() {
    let (mut r, cb) = timer_rig(timers(5), 6);
    let a = r.start(1, 10, cb.quiet, true).unwrap();
    let touch = r.start(2, 12, cb.quiet, false).unwrap();
    let c = r.start(3, 14, cb.quiet, true).unwrap();
    // The non-aligned touch-screen timer must not be late: the batch stops at it.
    assert_eq!(hw(&r), (HwState::Running, 12));
    r.take();
    r.tick(20).unwrap();
    assert_eq!(
        fires(&r.take()),
        [(a.0, 10, 12, 2), (touch.0, 12, 12, 0), (c.0, 14, 14, 0)]
    );
    // A non-aligned timer first in the list fires at its own expiry.
    let (mut r, cb) = timer_rig(timers(5), 6);
    let pen = r.start(1, 10, cb.quiet, false).unwrap();
    let d = r.start(2, 11, cb.quiet, true).unwrap();
    assert_eq!(hw(&r), (HwState::Running, 10));
    r.take();
    r.tick(20).unwrap();
    assert_eq!(fires(&r.take()), [(pen.0, 10, 10, 0), (d.0, 11, 11, 0)]);
}

// ----- cancel, stop, restart ---------------------------------------------------------

#[test]
fn cancel_takes_an_event_off_the_list_and_moves_the_hardware_timer() {
    let (mut r, cb) = timer_rig(timers(0), 6);
    let a = r.set_event(5, cb.quiet, 1, false).unwrap();
    let b = r.set_event(9, cb.quiet, 2, false).unwrap();
    assert_eq!(hw(&r), (HwState::Running, 5));
    r.take();
    r.cancel(a).unwrap();
    let ev = r.take();
    assert!(timer_events(&ev).contains(&TimerEvent::Cancel { id: a.0, expiry: 5 }));
    assert!(timer_events(&ev).contains(&TimerEvent::HwStart { at: 9 }));
    assert_eq!(hw(&r), (HwState::Running, 9));
    r.check();
    // A stale id: typed error, and nothing changes.
    let es = *r.kal.evshed().unwrap();
    let before = r
        .ram
        .slice(es.control_block(), EVSHED_CB_SIZE + 8 * 28)
        .unwrap()
        .to_vec();
    assert_eq!(
        r.cancel(a),
        Err(TaskError::Timer(TimerError::NoSuchEvent { id: a.0 }))
    );
    assert_eq!(
        r.cancel(EventId(0)),
        Err(TaskError::Timer(TimerError::NoSuchEvent { id: 0 }))
    );
    assert_eq!(
        r.ram
            .slice(es.control_block(), EVSHED_CB_SIZE + 8 * 28)
            .unwrap(),
        &before[..]
    );
    // Cancelling the last event stops the hardware timer.
    r.cancel(b).unwrap();
    assert_eq!(hw(&r).0, HwState::Stopped);
    r.check();
    r.tick(20).unwrap();
    assert!(fires(&r.take()).is_empty());
    // An MMI timer's event belongs to the timer table.
    let t = r.start(3, 4, cb.quiet, true).unwrap();
    assert_eq!(
        r.cancel(t),
        Err(TaskError::Timer(TimerError::OwnedByTimer { id: t.0 }))
    );
    r.check();
}

#[test]
fn restarting_a_running_timer_replaces_it() {
    let (mut r, cb) = timer_rig(timers(0), 6);
    let first = r.start(5, 10, cb.quiet, true).unwrap();
    r.tick(3).unwrap();
    r.take();
    let second = r.start(5, 20, cb.other, false).unwrap();
    let ev = timer_events(&r.take());
    // StartTimerCommon: L4StopTimer (cancel the old event, clear the slot), then
    // L4StartTimer.
    let cancel = ev
        .iter()
        .position(|e| {
            *e == TimerEvent::Cancel {
                id: first.0,
                expiry: 10,
            }
        })
        .unwrap();
    let stop = ev
        .iter()
        .position(|e| {
            *e == TimerEvent::Stop {
                timer: 5,
                slot: 0,
                event: first.0,
            }
        })
        .unwrap();
    assert!(cancel < stop);
    assert!(matches!(
        ev.last(),
        Some(TimerEvent::Start {
            timer: 5,
            slot: 0,
            delay: 20,
            aligned: false,
            ..
        })
    ));
    let tt = *r.kal.timers().unwrap();
    let mut running = Vec::new();
    tt.for_each_running(&r.ram, &mut |s| {
        running.push((s.timer, s.event, s.callback))
    })
    .unwrap();
    assert_eq!(running, [(5, second, cb.other.0 as u32)]);
    r.check();
    r.tick(30).unwrap();
    let ev = r.take();
    assert_eq!(fires(&ev), [(second.0, 23, 23, 0)]);
    let runs: Vec<_> = task_events(&ev)
        .into_iter()
        .filter_map(|(_, e)| match e {
            TaskEvent::Run { behaviour, .. } => Some(behaviour),
            _ => None,
        })
        .collect();
    assert_eq!(runs, [cb.other.0]);
    assert!(tt.running(&r.ram, 5).unwrap().is_none());
    r.check();
}

#[test]
fn stop_timer_cancels_and_clears_the_slot_and_stopping_nothing_says_so() {
    let (mut r, cb) = timer_rig(timers(0), 6);
    let e = r.start(9, 10, cb.quiet, true).unwrap();
    let tt = *r.kal.timers().unwrap();
    let slot = tt.running(&r.ram, 9).unwrap().unwrap();
    assert_eq!((slot.event, slot.aligned), (e, true));
    r.take();
    assert_eq!(r.stop(9), Ok(true));
    let lines = r.lines();
    assert!(lines.contains(&"timer.stop timer=9 slot=0 event=1".to_string()));
    // The slot is all zero again (memset), the used count back to 0.
    assert!(r
        .ram
        .slice(tt.table() + 12, 20)
        .unwrap()
        .iter()
        .all(|&b| b == 0));
    assert_eq!(r.ram.read_u32(tt.table() + 8).unwrap(), 0);
    assert_eq!(r.stop(9), Ok(false));
    assert_eq!(r.lines(), ["timer.stop timer=9 slot=- event=-"]);
    r.tick(20).unwrap();
    assert!(fires(&r.take()).is_empty());
    r.check();
}

#[test]
fn a_callback_may_restart_its_own_timer() {
    let (mut r, cb) = timer_rig(timers(0), 6);
    r.start(7, 5, cb.periodic, false).unwrap();
    r.take();
    r.tick(16).unwrap();
    let at: Vec<u32> = fires(&r.take()).iter().map(|f| f.2).collect();
    assert_eq!(at, [5, 10, 15]);
    assert!(r
        .kal
        .timers()
        .unwrap()
        .running(&r.ram, 7)
        .unwrap()
        .is_some());
    r.check();
}

// ----- the expiry message ------------------------------------------------------------

#[test]
fn the_expiry_goes_through_the_mmi_queue_and_the_callback_runs_on_the_mmi_stack() {
    let (mut r, cb) = timer_rig(timers(0), 6);
    let mmi = r.id("MMI");
    r.start(1, 4, cb.other, true).unwrap();
    r.take();
    r.tick(4).unwrap();
    let lines = r.lines();
    let words: Vec<&str> = lines
        .iter()
        .filter_map(|l| {
            let word = l.split(' ').next().unwrap();
            [
                "evshed.hw_expire",
                "MMI.enqueue",
                "MMI.dequeue",
                "evshed.fire",
                "timer.expire",
                "MMI.run",
            ]
            .contains(&word)
            .then_some(word)
        })
        .collect();
    assert_eq!(
        words,
        [
            "evshed.hw_expire",
            "MMI.enqueue",
            "MMI.dequeue",
            "evshed.fire",
            "timer.expire",
            "MMI.run"
        ]
    );
    assert!(lines.contains(
        &"MMI.enqueue queue=ext msg=MSG_ID_TIMER_EXPIRY from=timer p0=0x00000004 p1=0x00000000 slot=0 count=1"
            .to_string()
    ));
    assert!(lines.contains(&"MMI.run handler=timer behaviour=1 stack=80".to_string()));
    // The callback's frame is on MMI's stack, and MMI handled one message.
    assert_eq!(r.kal.usage(&r.ram, mmi).unwrap(), (80, 1));
    r.check();
}

#[test]
fn a_full_mmi_queue_loses_the_expiry_and_the_timer_is_late() {
    let (mut r, cb) = timer_rig(timers(0), 2);
    let mmi = r.id("MMI");
    let late = r.start(1, 3, cb.quiet, false).unwrap();
    // Two messages wait in MMI's queue (capacity 2) when the timer interrupt comes.
    r.post("MMI", 40).unwrap();
    r.post("MMI", 41).unwrap();
    r.take();
    r.tick(5).unwrap();
    let lines = r.lines();
    let state_word = r.kal.evshed().unwrap().control_block() + 24;
    let lost_state = format!("evshed.meta addr={state_word:#010x} field=state value=0x00000003");
    let at3: Vec<&String> = lines
        .iter()
        .skip_while(|l| !l.starts_with("evshed.hw_expire"))
        .take(6)
        .collect();
    assert_eq!(
        at3,
        [
            "evshed.hw_expire at=3",
            "MMI.held queue=ext slot=0 msg=40 from=ext p0=0x00000000 p1=0x00000000",
            "MMI.held queue=ext slot=1 msg=41 from=ext p0=0x00000000 p1=0x00000000",
            "kal.fault op=expiry error=QueueFull task=MMI queue=ext capacity=2",
            &lost_state,
            "evshed.lost at=3 pending=1",
        ]
    );
    // The messages were handled, the timer was not: it waits, overdue, and the
    // hardware timer no longer runs.
    assert!(!lines.iter().any(|l| l.starts_with("evshed.fire")));
    assert_eq!(
        r.kal.queue_len(&r.ram, mmi, QueueKind::External).unwrap(),
        0
    );
    assert_eq!(hw(&r).0, HwState::Lost);
    let es = *r.kal.evshed().unwrap();
    assert_eq!(es.find(&r.ram, late).unwrap().unwrap().expiry, 3);
    r.check();
    r.tick(10).unwrap();
    assert!(
        fires(&r.take()).is_empty(),
        "nothing re-arms a lost expiry by itself"
    );
    // The next change to the event list re-arms the hardware timer one tick ahead.
    r.start(2, 50, cb.quiet, false).unwrap();
    assert_eq!(hw(&r), (HwState::Running, 16));
    r.check();
    r.take();
    r.tick(1).unwrap();
    assert_eq!(fires(&r.take()), [(late.0, 3, 16, 13)]);
    r.check();
}

#[test]
fn a_faulted_mmi_task_leaves_the_expiry_in_its_queue() {
    let (mut r, cb) = timer_rig(timers(0), 4);
    let mmi = r.id("MMI");
    r.start(1, 2, cb.deep, false).unwrap();
    r.start(2, 6, cb.quiet, false).unwrap();
    let err = r.tick(10).unwrap_err();
    assert!(matches!(err, TaskError::StackOverflow { task, .. } if task == n("MMI")));
    assert_eq!(r.kal.state(&r.ram, mmi).unwrap(), TaskState::Faulted);
    // The scheduler re-armed for the second timer although the callback overflowed.
    assert_eq!(hw(&r), (HwState::Running, 6));
    let es = *r.kal.evshed().unwrap();
    es.check(&r.ram, r.now()).unwrap();
    assert!(matches!(
        r.kal.check(&r.ram),
        Err(TaskError::StackOverflow { .. })
    ));
    // MMI no longer runs: the next expiry stays queued, in flight.
    let _ = r.tick(10);
    assert_eq!(hw(&r).0, HwState::Expired);
    assert_eq!(
        r.kal.queue_len(&r.ram, mmi, QueueKind::External).unwrap(),
        1
    );
}

// ----- limits --------------------------------------------------------------------------

#[test]
fn a_full_event_list_and_a_full_timer_table_are_faults() {
    let small = TimerConfig {
        events: 2,
        slots: 3,
        fuzz: 0,
    };
    let (mut r, cb) = timer_rig(small, 6);
    r.start(1, 5, cb.quiet, true).unwrap();
    r.set_event(5, cb.quiet, 0, true).unwrap();
    r.take();
    assert_eq!(
        r.start(2, 5, cb.quiet, true),
        Err(TaskError::Timer(TimerError::NoFreeEvent { capacity: 2 }))
    );
    assert_eq!(
        r.lines().last().unwrap(),
        "kal.fault op=start_timer timer=2 error=NoFreeEvent capacity=2"
    );
    r.check();
    let small = TimerConfig {
        events: 4,
        slots: 1,
        fuzz: 0,
    };
    let (mut r, cb) = timer_rig(small, 6);
    r.start(1, 5, cb.quiet, true).unwrap();
    assert_eq!(
        r.start(2, 5, cb.quiet, true),
        Err(TaskError::Timer(TimerError::NoFreeSlot { capacity: 1 }))
    );
    // Restarting the one running timer still works: it frees its slot first.
    r.start(1, 8, cb.quiet, true).unwrap();
    r.check();
}

#[test]
fn the_clock_cannot_wrap() {
    let (mut r, cb) = timer_rig(timers(0), 6);
    r.tick(u32::MAX - 5).unwrap();
    assert_eq!(r.now(), u32::MAX - 5);
    assert_eq!(
        r.start(1, 10, cb.quiet, true),
        Err(TaskError::Timer(TimerError::ClockOverflow {
            now: u32::MAX - 5,
            delay: 10
        }))
    );
    assert_eq!(
        r.tick(6),
        Err(TaskError::ClockOverflow {
            now: u32::MAX - 5,
            ticks: 6
        })
    );
    let id = r.start(1, 5, cb.quiet, false).unwrap();
    r.take();
    r.tick(5).unwrap();
    assert_eq!(fires(&r.take()), [(id.0, u32::MAX, u32::MAX, 0)]);
    r.check();
}

// ----- corruption --------------------------------------------------------------------

#[test]
fn a_corrupted_validity_pattern_is_reported_by_check_and_by_cancel() {
    let (mut r, cb) = timer_rig(timers(0), 6);
    let id = r.set_event(5, cb.quiet, 0, false).unwrap();
    let es = *r.kal.evshed().unwrap();
    let node = es.find(&r.ram, id).unwrap().unwrap().node;
    assert_eq!(r.ram.read_u32(node + 4).unwrap(), EVENT_VALID);
    r.ram.write_u8(node + 4, 0).unwrap();
    let want = AllocError::Corrupted {
        at: node + 4,
        field: Field::Magic,
        expected: EVENT_VALID,
        found: EVENT_VALID & !0xff,
    };
    assert_eq!(r.kal.check(&r.ram), Err(TaskError::Mem(want)));
    assert_eq!(r.cancel(id), Err(TaskError::Mem(want)));
    assert_eq!(r.tick(10), Err(TaskError::Mem(want)));
    // A free node with a pending pattern.
    let (r2, _) = timer_rig(timers(0), 6);
    let es = *r2.kal.evshed().unwrap();
    let mut ram = r2.ram;
    ram.write_u32(es.node(3) + 4, EVENT_VALID).unwrap();
    assert!(matches!(
        es.check(&ram, 0),
        Err(TimerError::Mem(AllocError::Corrupted {
            expected: EVENT_FREE,
            ..
        }))
    ));
}

#[test]
fn a_cycle_in_the_event_list_is_an_error_not_a_hang() {
    let (mut r, cb) = timer_rig(timers(0), 6);
    let a = r.set_event(5, cb.quiet, 0, false).unwrap();
    r.set_event(6, cb.quiet, 0, false).unwrap();
    let es = *r.kal.evshed().unwrap();
    let node = es.find(&r.ram, a).unwrap().unwrap().node;
    r.ram.write_u32(node, node).unwrap(); // next -> itself
    assert!(matches!(
        r.kal.check(&r.ram),
        Err(TaskError::Mem(AllocError::Inconsistent { .. }))
    ));
    assert!(r.set_event(9, cb.quiet, 0, false).is_err());
    assert!(r.cancel(EventId(77)).is_err());
    // A link into the middle of a node.
    r.ram.write_u32(node, node + 2).unwrap();
    assert!(r.kal.check(&r.ram).is_err());
    // A bad hardware-timer state.
    let (mut r, _) = timer_rig(timers(0), 6);
    let cb_addr = r.kal.evshed().unwrap().control_block();
    r.ram.write_u32(cb_addr + 24, 9).unwrap();
    assert!(matches!(
        r.kal.check(&r.ram),
        Err(TaskError::Mem(AllocError::Inconsistent { .. }))
    ));
    assert!(r.tick(3).is_err());
}

#[test]
fn a_corrupted_timer_slot_is_reported() {
    let (mut r, cb) = timer_rig(timers(0), 6);
    r.start(4, 5, cb.quiet, true).unwrap();
    let tt = *r.kal.timers().unwrap();
    // The slot's event id no longer names a pending event.
    r.ram.write_u32(tt.table() + 12 + 4, 99).unwrap();
    assert!(matches!(
        r.kal.check(&r.ram),
        Err(TaskError::Mem(AllocError::Inconsistent { .. }))
    ));
    let (mut r, cb) = timer_rig(timers(0), 6);
    r.start(4, 5, cb.quiet, true).unwrap();
    r.ram.write_u32(tt.table() + 8, 3).unwrap(); // used count
    assert!(matches!(
        r.kal.check(&r.ram),
        Err(TaskError::Mem(AllocError::Corrupted {
            field: Field::Count,
            ..
        }))
    ));
}

// ----- the scheduler on its own ------------------------------------------------------

#[test]
fn the_event_scheduler_works_on_its_own() {
    let mut rec = Recorder::default();
    let (mut ram, mut sys) = machine(&mut rec);
    let mut cx = Ctx::new(&mut ram, &mut rec);
    let es = Evshed::create(&mut cx, &mut sys, n("es"), 4, 2, Owner(1)).unwrap();
    let tt = MmiTimers::create(&mut cx, &mut sys, n("tt"), 2, Owner(1)).unwrap();
    let a = es.set_event(&mut cx, 0, 10, 100, 1, true).unwrap();
    let b = es.set_event(&mut cx, 0, 11, 101, 2, false).unwrap();
    let t = tt
        .start_timer(&mut cx, &es, 0, 42, 20, 7, 42, true)
        .unwrap();
    es.check(cx.ram, 0).unwrap();
    tt.check(cx.ram, &es).unwrap();
    // Aligned 10 waits for non-aligned 11 (within the 2-tick window).
    assert_eq!(es.target(cx.ram, 0).unwrap(), Some(11));
    assert_eq!(es.next_fire(cx.ram, 0).unwrap(), Some(11));
    es.hw_expire(&mut cx, 11).unwrap();
    es.check(cx.ram, 11).unwrap();
    let f1 = es.pop_due(&mut cx, 11).unwrap().unwrap();
    let f2 = es.pop_due(&mut cx, 11).unwrap().unwrap();
    assert_eq!((f1.id, f1.callback, f1.arg), (a, 100, 1));
    assert_eq!((f2.id, f2.at, f2.aligned), (b, 11, false));
    assert_eq!(es.pop_due(&mut cx, 11).unwrap(), None);
    es.handler_done(&mut cx, 11).unwrap();
    assert_eq!(es.hw(cx.ram).unwrap(), (HwState::Running, 20));
    es.check(cx.ram, 11).unwrap();
    // The MMI layer's event goes through L4CallBackTimer.
    es.hw_expire(&mut cx, 20).unwrap();
    let f = es.pop_due(&mut cx, 20).unwrap().unwrap();
    assert_eq!((f.id, f.callback, f.arg), (t, L4_CALLBACK_TIMER, 0));
    let user = tt.expire(&mut cx, f.arg, f.id).unwrap();
    assert_eq!((user.timer, user.callback, user.arg), (42, 7, 42));
    es.handler_done(&mut cx, 20).unwrap();
    assert_eq!(es.hw(cx.ram).unwrap().0, HwState::Stopped);
    es.check(cx.ram, 20).unwrap();
    tt.check(cx.ram, &es).unwrap();
    // Faults carry the scheduler's name.
    for _ in 0..4 {
        es.set_event(&mut cx, 20, 1, 0, 0, false).unwrap();
    }
    assert_eq!(
        es.set_event(&mut cx, 20, 1, 0, 0, false),
        Err(TimerError::NoFreeEvent { capacity: 4 })
    );
    let last = rec.events.last().unwrap();
    assert_eq!(
        last.to_string(),
        "es.fault op=set_event error=NoFreeEvent capacity=4"
    );
    // Bad configurations.
    let mut cx = Ctx::new(&mut ram, &mut rec);
    assert!(Evshed::create(&mut cx, &mut sys, n("x"), 0, 0, Owner(1)).is_err());
    assert!(Evshed::create(&mut cx, &mut sys, n("x"), 65, 0, Owner(1)).is_err());
    assert!(Evshed::create(&mut cx, &mut sys, n("x"), 4, 256, Owner(1)).is_err());
    assert!(MmiTimers::create(&mut cx, &mut sys, n("x"), 0, Owner(1)).is_err());
    assert!(matches!(
        rec.events.last().unwrap().kind,
        EventKind::Timer(TimerEvent::Fault { .. })
    ));
}

#[test]
fn fault_lines_name_the_operation() {
    let (mut r, cb) = timer_rig(timers(0), 6);
    r.take();
    let _ = r.cancel(EventId(5));
    assert_eq!(
        r.lines(),
        ["kal.fault op=cancel_event id=5 error=NoSuchEvent id=5"]
    );
    let _ = r.set_event(1, BehaviourId(30), 0, true);
    assert_eq!(
        r.lines(),
        ["kal.fault op=set_event error=NoSuchBehaviour id=30"]
    );
    let _ = r.start(1, 1, cb.quiet, true);
    assert!(r.take().iter().all(|e| !matches!(
        e.kind,
        EventKind::Task(TaskEvent::Fault {
            op: TaskOp::StartTimer { .. },
            ..
        })
    )));
    let _ = TaskId(0);
}
