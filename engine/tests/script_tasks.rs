//! The task system and its timers in the script language: the task table (`task`,
//! `behaviour`, `on`, `timers`), `boot`, messages (`send`, `run`), timers (`timer`), the
//! machine's `tick` driving the KAL clock, the figures, every task and timer fault kind,
//! static errors, and random task scripts that never panic or hang.

mod script_common;

use memplay_engine::evshed::TimerError;
use memplay_engine::script::ast::FAULT_KINDS;
use memplay_engine::script::{check, ErrorKind, StepFault};
use memplay_engine::task::{BehaviourId, QueueKind, TaskError, TaskId};
use memplay_engine::trace::Quiet;
use memplay_engine::{AllocError, ConfigError, Name};
use proptest::prelude::*;
use script_common::{error, last_fault, machine, rendered, run, step_lines, survive};

/// Internal SRAM, two tasks (L4 a system task, MMI a custom one) and a few behaviours.
const TABLE: &str = "\
ram isram 0x40000000 16K internal
task L4 prio 10 stack 512 ext 8 int 4 sys
task MMI prio 20 stack 1K ext 2 int 4
behaviour hello stack 128
behaviour ask stack 96 send L4 0x101 7
behaviour answer stack 64 reply 0x102 7 42
behaviour beep stack 48
on MMI entry run hello
on MMI msg 0x100 run ask
on L4 msg 0x101 run answer
";

fn booted(body: &str) -> String {
    format!("{TABLE}boot\nrun\n{body}\n")
}

fn n(s: &str) -> Name {
    Name::new(s).unwrap()
}

// ---- the table and boot ----

#[test]
fn boot_puts_system_rows_first_and_renumbers_the_tasks() {
    // Declared custom first, then system: KAL's table has the system row first.
    let src = "ram isram 0x40000000 16K internal\n\
               task A prio 5 stack 256 ext 2\ntask B prio 3 stack 256 ext 2 sys\n\
               behaviour tell send A 9\non B entry run tell\nboot\nrun\nq = queue(A)\n";
    let (m, trace) = run(src);
    let kal = m.kal().unwrap();
    assert_eq!(kal.task_named(n("B")), Some(TaskId(0)));
    assert_eq!(kal.task_named(n("A")), Some(TaskId(1)));
    // The behaviour's `send A` names A's new id: the message reached A, which has no
    // handler for it.
    assert!(trace.contains("A.unhandled msg=9 from=B"), "{trace}");
    assert_eq!(m.var("q"), Some(0));
    assert!(trace.contains("kal.create task=B id=0 priority=3"));
}

#[test]
fn boot_sets_up_system_memory_or_uses_the_one_there() {
    // No `sys`: Application_Initialize takes what is left of the first region.
    let (m, trace) = run(&format!("{TABLE}boot\n"));
    let Some(memplay_engine::machine::Pool::Sys(sys)) = m.pool("sys") else {
        panic!()
    };
    assert_eq!(
        sys.area(0).map(|a| (a.base, a.size)),
        Some((0x4000_0000, 16 * 1024))
    );
    assert!(trace.contains("sys.init base=0x40000000 size=16384"));
    // `boot at ADDR` starts there.
    let (m, _) = run(&format!("{TABLE}boot at 0x40001000\n"));
    let Some(memplay_engine::machine::Pool::Sys(sys)) = m.pool("sys") else {
        panic!()
    };
    assert_eq!(sys.area(0).map(|a| a.base), Some(0x4000_1000));
    // With `sys` configured, boot carves from it.
    let src = TABLE.replace(
        "task L4",
        "ram ext 0x08000000 8K\nsys isram 4K ext\ntask L4",
    );
    let (m, _) = run(&format!("{src}boot\nlab h 1K on isram\n"));
    let Some(memplay_engine::machine::Pool::Lab(h)) = m.pool("h") else {
        panic!()
    };
    // The lab goes after the 4 KiB sys took from isram.
    assert_eq!(h.pool().0, 0x4000_1000);
    assert!(m.kal().is_some());
}

#[test]
fn handlers_run_when_kal_runs_them() {
    let src = "ram isram 0x40000000 16K internal\ntask T prio 1 stack 512 ext 2\n\
               behaviour i stack 8\nbehaviour c stack 8\nbehaviour e stack 16\nbehaviour r\nbehaviour x\n\
               on T init run i\non T cfg run c\non T entry run e\non T reset run r\non T end run x\n\
               boot\nrun\n";
    let (m, trace) = run(src);
    assert_eq!(
        step_lines(&trace, 13)
            .iter()
            .filter(|l| l.starts_with("T.run"))
            .collect::<Vec<_>>(),
        [
            "T.run handler=init behaviour=0 stack=8",
            "T.run handler=cfg behaviour=1 stack=8"
        ]
    );
    assert!(
        step_lines(&trace, 14).contains(&"T.run handler=entry behaviour=2 stack=16".to_string())
    );
    let h = m.kal().unwrap().task(TaskId(0)).unwrap().config.handlers;
    assert_eq!(
        (h.reset, h.end),
        (Some(BehaviourId(3)), Some(BehaviourId(4)))
    );
}

#[test]
fn a_table_kal_refuses_is_a_boot_fault() {
    let src =
        "ram isram 0x40000000 16K internal\ntask T prio 1 stack 8\nboot\nexpect fault Config\n";
    let (m, trace) = run(src);
    assert!(m.kal().is_none());
    assert!(trace.contains("kal.fault op=boot error=Config"), "{trace}");
    // Timers without an MMI task.
    let src =
        "ram isram 0x40000000 16K internal\ntask T prio 1 stack 512\nbehaviour b timer stop 1\n\
               on T entry run b\nboot\nexpect fault NoMmi\n";
    run(src);
    // Tasks and timers do not exist after a failed boot.
    let e = error("ram isram 0x40000000 16K internal\ntask T prio 1 stack 8\nboot\nrun\n");
    assert_eq!((e.line, e.kind), (4, ErrorKind::NotBooted));
    // An empty table.
    let (m, _) = run("ram isram 0x40000000 16K internal\nboot\nexpect fault Config\n");
    assert!(m.kal().is_none());
}

// ---- messages ----

#[test]
fn send_and_run() {
    let src = booted(
        "send MMI 0x100\nq = queue(MMI)\nt = run\nh = handled(MMI)\ng = handled(L4)\np = peak(MMI)",
    );
    let (m, trace) = run(&src);
    let v = |x: &str| m.var(x).unwrap();
    assert_eq!((v("q"), v("t"), v("h"), v("g"), v("p")), (1, 3, 2, 1, 128));
    assert!(trace.contains("0013 MMI.enqueue queue=ext msg=256 from=ext p0=0x00000000"));
    // From a task, with a payload; to the task's own internal queue.
    let src = booted(
        "send L4 -> MMI 0x300 1 2\nsend MMI -> MMI int 5 3\ni = intqueue(MMI)\ne = queue(MMI)",
    );
    let (m, trace) = run(&src);
    assert_eq!((m.var("i"), m.var("e")), (Some(1), Some(1)));
    assert!(trace.contains("MMI.enqueue queue=ext msg=768 from=L4 p0=0x00000001 p1=0x00000002"));
    assert!(trace.contains("MMI.enqueue queue=int msg=5 from=MMI p0=0x00000003"));
}

#[test]
fn run_takes_at_most_the_budget() {
    let src = "ram isram 0x40000000 16K internal\ntask A prio 1 stack 512 ext 4\ntask B prio 1 stack 512 ext 4\n\
               behaviour ping send B 1\nbehaviour pong send A 1\non A msg 1 run ping\non B msg 1 run pong\n\
               boot budget 5\nrun\nsend A 1\nrun\nexpect fault Budget\n";
    let (_, trace) = run(src);
    assert!(
        trace.contains("kal.fault op=run error=Budget handled=5"),
        "{trace}"
    );
}

// ---- timers and the clock ----

#[test]
fn timer_statements_give_ids_and_states() {
    let src = booted(
        "e = timer start 7 delay 10 callback beep\nr = running(7)\ns = timer stop 7\n\
         t = timer stop 7\nf = timer set delay 5 callback 3 arg 9 nonaligned\np = pending()\n\
         timer cancel f\nq = pending()",
    );
    let (m, trace) = run(&src);
    let v = |x: &str| m.var(x).unwrap();
    assert_eq!((v("e"), v("r"), v("s"), v("t")), (1, 1, 1, 0));
    assert_eq!((v("f"), v("p"), v("q")), (2, 1, 0));
    assert!(trace.contains("timer.start timer=7 slot=0 event=1 delay=10 callback=3 aligned=yes"));
    assert!(trace.contains("evshed.set id=2 node="));
    assert!(trace.contains("delay=5 expiry=5 callback=3 arg=9 aligned=no"));
}

#[test]
fn tick_drives_the_kal_clock_and_fires_timers() {
    let src = format!(
        "{TABLE}tick 3\nboot\nrun\ntimer start 1 delay 4 nonaligned callback beep\ntick 2\nr = running(1)\ntick 2\ns = running(1)\n"
    );
    let (m, trace) = run(&src);
    // Ticks before boot move only the machine's clock.
    assert_eq!(m.clock(), 7);
    assert_eq!(m.kal().unwrap().now(m.ram()).unwrap(), 4);
    assert_eq!((m.var("r"), m.var("s")), (Some(1), Some(0)));
    let fired = step_lines(&trace, 17);
    assert_eq!(fired.first().unwrap(), "clock.tick by=2 now=7");
    assert!(fired.contains(&"MMI.run handler=timer behaviour=3 stack=48".to_string()));
    assert_eq!(fired.last().unwrap(), "kal.tick from=2 to=4");
}

#[test]
fn a_timer_that_fires_every_tick_cannot_hang_a_step() {
    let src = "ram isram 0x40000000 16K internal\ntask MMI prio 1 stack 512 ext 4\n\
               behaviour beat timer start 1 delay 1 callback beat\non MMI entry run beat\nboot\nrun\n\
               tick 0xffffffff\nexpect fault Budget\n";
    let (m, trace) = run(src);
    let now = m.kal().unwrap().now(m.ram()).unwrap();
    assert!(now > 1000 && now < 5000, "{now}");
    assert!(trace.contains("kal.fault op=tick ticks=4294967295 error=Budget"));
    // A far timer is reached in one jump: no Budget.
    let src = "ram isram 0x40000000 16K internal\ntask MMI prio 1 stack 512 ext 4\nbehaviour b\n\
               boot\ntimer start 1 delay 1000000 callback b\ntick 2000000\nexpect fault none\nexpect running(1) == 0\n";
    let (_, trace) = run(src);
    assert_eq!(trace.matches("kal.tick ").count(), 2, "{trace}");
}

// ---- faults ----

#[test]
fn every_task_and_timer_fault_is_a_step_fault() {
    let cases = [
        ("send MMI 1\nsend MMI 1\nsend MMI 1", "QueueFull"),
        ("send MMI -> L4 int 1", "BadSource"),
        ("timer cancel 99", "NoSuchEvent"),
        (
            "e = timer start 1 delay 5 callback beep\ntimer cancel e",
            "OwnedByTimer",
        ),
        ("timer start 1 delay 5 callback 31", "NoSuchBehaviour"),
        (
            "tick 5\ntimer start 1 delay 0xffffffff callback beep",
            "ClockOverflow",
        ),
        ("send L4 0x101\nrun", "NoSender"),
    ];
    for (body, want) in cases {
        assert_eq!(
            last_fault(&booted(body)).map(|f| f.kind()),
            Some(want),
            "{body}"
        );
        let (m, trace) = run(&format!("{}expect fault {want}\n", booted(body)));
        assert_eq!(m.last_fault().unwrap().source.as_str(), "kal", "{body}");
        assert!(trace.contains(&format!("error={want}")), "{body}");
    }
    // A handler's failed send is a fault the system survives: the run goes on.
    let src = "ram isram 0x40000000 16K internal\ntask A prio 1 stack 512 ext 1\ntask B prio 2 stack 512\n\
               behaviour flood send A 1, send A 1\non B entry run flood\nboot\nrun\nexpect fault QueueFull\n";
    let (m, _) = run(src);
    assert!(matches!(
        m.last_fault().unwrap().error,
        StepFault::Task(TaskError::QueueFull { capacity: 1, .. })
    ));
    // No queue of that kind; a reply to nobody.
    let src = "ram isram 0x40000000 16K internal\ntask A prio 1 stack 512 ext 1\nbehaviour r reply 1\n\
               on A entry run r\nboot\nrun\nexpect fault NoSender\nsend A -> A int 1\nexpect fault NoQueue\n";
    run(src);
    // A full timer table and a full event list.
    let src = "ram isram 0x40000000 16K internal\ntask MMI prio 1 stack 512 ext 2\ntimers events 2 slots 1\n\
               behaviour b\nboot\ntimer start 1 delay 5 callback b\ntimer start 2 delay 5 callback b\n\
               expect fault NoFreeSlot\ntimer set delay 3 callback b\ntimer set delay 3 callback b\n\
               expect fault NoFreeEvent\n";
    run(src);
}

#[test]
fn a_stack_overflow_faults_the_task() {
    let src = booted("send MMI 0x100\nrun\nexpect faulted(MMI) == 0");
    run(&src);
    let src = "ram isram 0x40000000 16K internal\ntask MMI prio 1 stack 256 ext 2\nbehaviour deep stack 1K\n\
               on MMI msg 1 run deep\nboot\nrun\nsend MMI 1\nrun\nexpect fault StackOverflow\n\
               expect faulted(MMI) == 1\ncheck\nexpect fault StackOverflow\n";
    let (m, trace) = run(src);
    assert!(trace.contains("kal.fault op=run error=StackOverflow task=MMI"));
    let f = m.last_fault().unwrap();
    assert!(matches!(
        f.error,
        StepFault::Task(TaskError::StackOverflow {
            used: 1024,
            size: 256,
            ..
        })
    ));
}

#[test]
fn check_finds_a_corrupted_tcb() {
    let (m, _) = run(&booted(""));
    let tcb = m.kal().unwrap().task(TaskId(1)).unwrap().tcb;
    let src = booted(&format!(
        "poke32 {tcb:#x} + 8 99\ncheck\nexpect fault Corrupted"
    ));
    let (m, trace) = run(&src);
    assert!(
        trace.contains("kal.fault op=check error=Corrupted"),
        "{trace}"
    );
    assert_eq!(m.last_fault().unwrap().source.as_str(), "kal");
}

#[test]
fn every_task_and_timer_error_kind_is_a_fault_kind() {
    let name = n("T");
    let tasks = [
        TaskError::Mem(AllocError::ZeroSize),
        TaskError::Timer(TimerError::NoFreeSlot { capacity: 1 }),
        TaskError::QueueFull {
            task: name,
            queue: QueueKind::External,
            capacity: 1,
        },
        TaskError::NoQueue {
            task: name,
            queue: QueueKind::Internal,
        },
        TaskError::NoSender { task: name },
        TaskError::BadSource,
        TaskError::NoSuchTask { id: 1 },
        TaskError::UnknownTask { name },
        TaskError::NoSuchBehaviour { id: 1 },
        TaskError::DuplicateTask { name },
        TaskError::NoMmi,
        TaskError::StackOverflow {
            task: name,
            at: 0,
            expected: 0,
            found: 0,
            used: 0,
            size: 0,
        },
        TaskError::Budget { handled: 1 },
        TaskError::ClockOverflow { now: 0, ticks: 0 },
        TaskError::AlreadyBooted,
    ];
    for e in tasks {
        assert!(FAULT_KINDS.contains(&e.kind()), "{}", e.kind());
        assert_eq!(StepFault::from(e).kind(), e.kind());
    }
    let timers = [
        TimerError::NoFreeEvent { capacity: 1 },
        TimerError::NoSuchEvent { id: 1 },
        TimerError::NoFreeSlot { capacity: 1 },
        TimerError::ClockOverflow { now: 0, delay: 0 },
        TimerError::OwnedByTimer { id: 1 },
        TimerError::Mem(AllocError::Config(ConfigError::NoBlocks)),
    ];
    for e in timers {
        assert!(FAULT_KINDS.contains(&e.kind()), "{}", e.kind());
        assert_eq!(StepFault::from(e).kind(), e.kind());
    }
}

// ---- static errors ----

#[test]
fn task_lines_are_checked_before_running() {
    assert_eq!(
        rendered(&format!("{TABLE}send MM 1\n")),
        "11:1: the task table is not booted\n 11 | send MM 1\n    | ^^^^\nhint: add a `boot` line first: it runs Application_Initialize\n"
    );
    assert_eq!(
        rendered(&booted("send MM 1")),
        "13:6: there is no task named `MM`\n 13 | send MM 1\n    |      ^^\nhint: a task row is `task NAME prio P stack S [ext N] [int N] [sys] [mmi]`\n"
    );
    assert_eq!(
        rendered(&booted("task X prio 1 stack 64")),
        "13:1: the task table is fixed once it is booted\n 13 | task X prio 1 stack 64\n    | ^^^^\nhint: declare tasks, behaviours, `on` rules and `timers` before `boot`\n"
    );
    assert_eq!(
        rendered(&booted("timer start 1 delay 5 callback bep")),
        "13:32: there is no behaviour named `bep`\n 13 | timer start 1 delay 5 callback bep\n    |                                ^^^\nhint: declare it first: `behaviour NAME [stack N] [ACTION, ...]`\n"
    );
    let cases: &[(&str, ErrorKind)] = &[
        ("task L4 prio 1 stack 8", ErrorKind::Duplicate(n("L4"))),
        ("behaviour beep", ErrorKind::Duplicate(n("beep"))),
        (
            "task X stack 8",
            ErrorKind::Expected("`prio P` and `stack S`"),
        ),
        (
            "task X prio 256 stack 8",
            ErrorKind::Expected("a priority from 0 to 255"),
        ),
        (
            "task X prio 1 stack 8 ext 70000",
            ErrorKind::Expected("a queue capacity"),
        ),
        (
            "task X prio 1 stack 8 sys mmi fast",
            ErrorKind::UnknownSetting,
        ),
        (
            "behaviour b send L4 0x10000",
            ErrorKind::Expected("a message id from 0 to 0xffff"),
        ),
        (
            "behaviour b post 1, post 2, post 3, post 4, post 5",
            ErrorKind::TooMany {
                what: "actions",
                max: 4,
            },
        ),
        (
            "behaviour b timer cancel 1",
            ErrorKind::UnknownWord("timer operation"),
        ),
        ("behaviour b jump 1", ErrorKind::UnknownWord("action")),
        (
            "on MMI msg 1 ran beep",
            ErrorKind::Expected("`run BEHAVIOUR`"),
        ),
        ("on MMI exit run beep", ErrorKind::UnknownWord("handler")),
        ("on MMX msg 1 run beep", ErrorKind::UnknownTask(n("MMX"))),
        ("timers events 4 fuzzz 2", ErrorKind::UnknownSetting),
        ("run", ErrorKind::NotBooted),
        ("timer stop 1", ErrorKind::NotBooted),
        ("x = queue(L3)", ErrorKind::UnknownTask(n("L3"))),
    ];
    for (line, kind) in cases {
        let e = check(&format!("{TABLE}{line}\n")).unwrap_err();
        assert_eq!((e.line, &e.kind), (11, kind), "{line}");
    }
    let e = check(&booted("boot")).unwrap_err();
    assert_eq!((e.line, e.kind), (13, ErrorKind::AfterBoot));
    let e = check(&booted("timer start 1 callback beep")).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Expected("`delay D` and `callback BEHAVIOUR`")
    );
    let many: String = (0..17)
        .map(|i| format!("task T{i} prio 1 stack 64\n"))
        .collect();
    assert_eq!(
        check(&many).unwrap_err().kind,
        ErrorKind::TooMany {
            what: "tasks",
            max: 16
        }
    );
    let many: String = (0..33).map(|i| format!("behaviour b{i}\n")).collect();
    assert_eq!(
        check(&many).unwrap_err().kind,
        ErrorKind::TooMany {
            what: "behaviours",
            max: 32
        }
    );
    // `run`, `send` and the rest may not name variables.
    let e = check("run = 1\n").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Reserved(n("run")));
}

#[test]
fn a_behaviour_may_name_itself_and_numbers_work_too() {
    let src = "ram isram 0x40000000 16K internal\ntask MMI prio 1 stack 512 ext 4\n\
               behaviour again timer start 1 delay 3 callback again\nbehaviour go timer start 1 delay 3 callback 0\n\
               on MMI entry run 1\nboot\nrun\ntick 9\n";
    let (_, trace) = run(src);
    assert_eq!(
        trace.matches("MMI.run handler=timer behaviour=0").count(),
        3
    );
}

#[test]
fn the_example_scripts_run_with_their_expectations() {
    for name in ["tasks", "timers"] {
        let path = format!("{}/tests/scripts/{name}.mem", env!("CARGO_MANIFEST_DIR"));
        let src = std::fs::read_to_string(path).unwrap();
        let (m, _) = run(&src);
        assert_eq!(m.summary().failures, 0, "{name}");
    }
}

#[test]
fn a_booted_machine_is_a_snapshot() {
    let src =
        booted("repeat 20 {\nsend MMI 0x100\nrun\ntimer start 1 delay 2 callback beep\ntick 1\n}");
    let mut m = machine(&src);
    for _ in 0..30 {
        m.step(&mut Quiet).unwrap();
    }
    let mut copy = m.clone();
    let mut a = memplay_engine::trace::TextSink::new(String::new());
    let mut b = memplay_engine::trace::TextSink::new(String::new());
    m.run_traced(&mut a, 10_000).unwrap();
    copy.run_traced(&mut b, 10_000).unwrap();
    assert_eq!(a.out, b.out);
    assert!(!a.out.is_empty());
}

// ---- random scripts ----

#[test]
fn random_message_and_timer_workloads_stay_consistent() {
    let mut steps = 0;
    for seed in 0..40 {
        let src = booted(&format!(
            "seed {seed}\nrepeat 40 {{\nsend MMI rand(0x100, 0x101) rand(0, 9)\nsend L4 0x101\n\
             timer start rand(1, 3) delay rand(0, 6) callback beep\ntimer stop rand(1, 3)\n\
             e = timer set delay rand(1, 5) callback beep arg 1 nonaligned\ntick rand(0, 4)\n\
             timer cancel e\nrun\ncheck\n}}"
        ));
        let mut m = machine(&src);
        let mut sink = memplay_engine::trace::TextSink::new(String::new());
        m.run_traced(&mut sink, 100_000).unwrap();
        assert!(!sink.out.contains("op=check"), "seed {seed}:\n{}", sink.out);
        m.kal().unwrap().check(m.ram()).unwrap();
        steps += m.steps();
    }
    assert!(steps >= 10_000, "{steps}");
}

const WORDS: &[&str] = &[
    "task",
    "behaviour",
    "on",
    "timers",
    "boot",
    "send",
    "run",
    "timer",
    "start",
    "stop",
    "set",
    "cancel",
    "delay",
    "callback",
    "aligned",
    "nonaligned",
    "arg",
    "prio",
    "stack",
    "ext",
    "int",
    "sys",
    "mmi",
    "msg",
    "any",
    "entry",
    "init",
    "cfg",
    "reset",
    "end",
    "reply",
    "post",
    "tick",
    "MMI",
    "L4",
    "beep",
    "ask",
    "->",
    "-",
    ">",
    ",",
    "0",
    "1",
    "5",
    "0x100",
    "0xffff",
    "1K",
    "4294967295",
    "e",
    "=",
    "queue(MMI)",
    "pending()",
    "running(1)",
    "\n",
    " ",
    "check",
    "expect",
    "fault",
    "QueueFull",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_task_words_never_panic(
        words in prop::collection::vec(prop::sample::select(WORDS), 0..40),
        boot in any::<bool>(),
    ) {
        let prelude = if boot { booted("") } else { TABLE.to_string() };
        let text = format!("{prelude}{}", words.join(" "));
        survive(&prelude, &text);
    }
}
