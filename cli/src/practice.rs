//! `memplay practice`: exam-style problems generated from a seed and answered by the
//! engine itself, so the answers are always right.
//!
//! Each topic draws a small scenario from [`Prng`] (the same seed gives the same problem
//! on every machine). The allocator topics (`first-fit`, `best-fit`, `policy`, `ctrl`)
//! write the scenario as a memplay script, print it as the problem statement, run it on
//! [`Machine::owned`] and read the answers from the variables, the trace events and the
//! pool's walk. The script language has no pages or timers yet, so `buddy` and `timers`
//! drive [`PhysMem`] and [`Evshed`] directly and print the calls as pseudo-code.

use std::fmt::Write as _;

use memplay_engine::evshed::Evshed;
use memplay_engine::machine::{Machine, StepOutcome};
use memplay_engine::pages::{PhysArea, PhysMem, ORDERS};
use memplay_engine::prng::Prng;
use memplay_engine::sysmem::{Area, SystemMemory};
use memplay_engine::trace::Quiet;
use memplay_engine::{BlockKind, Ctx, Event, EventKind, Name, Owner, Ram, RegionKind};

/// The topics, with one line each for `--topic list`.
pub const TOPICS: &[(&str, &str)] = &[
    (
        "first-fit",
        "which address a request gets under first fit after some frees; the free list after",
    ),
    (
        "best-fit",
        "which address a request gets under best fit after some frees; the free list after",
    ),
    (
        "policy",
        "the same request under first, best, worst and next fit",
    ),
    (
        "ctrl",
        "which control-buffer class serves each request, and how many bytes are wasted",
    ),
    (
        "buddy",
        "page allocations and frees in the buddy allocator: addresses and free blocks per order",
    ),
    (
        "timers",
        "which timer fires first and at what tick, aligned (batched) or not",
    ),
];

/// A generated problem: its statement and its answers.
pub struct Problem {
    pub question: String,
    pub answers: String,
}

/// Generates the problem of `topic` for `seed`.
pub fn generate(topic: &str, seed: u64) -> Result<Problem, String> {
    // Mix the topic into the stream so that one seed gives unrelated problems per topic.
    let salt = topic.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut rng = Prng::new(seed ^ salt);
    match topic {
        "first-fit" => fit(&mut rng, &["first"]),
        "best-fit" => fit(&mut rng, &["best"]),
        "policy" => fit(&mut rng, &["first", "best", "worst", "next"]),
        "ctrl" => ctrl(&mut rng),
        "buddy" => buddy(&mut rng),
        "timers" => timers(&mut rng),
        _ => Err(format!(
            "unknown topic `{topic}` (try `--topic list`: {})",
            TOPICS.iter().map(|t| t.0).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// The topic list.
pub fn list() -> String {
    let mut out = String::new();
    for (name, what) in TOPICS {
        let _ = writeln!(out, "{name:10} {what}");
    }
    out
}

/// Runs a script to the end, returning the machine and every event with its line.
/// A machine that ran a script, and every event with the line of its step.
type Ran = (Machine<Vec<u8>, String>, Vec<(u32, Event)>);

fn run_script(script: &str) -> Result<Ran, String> {
    let mut machine = Machine::owned(script.to_string())
        .map_err(|e| format!("internal: {}", e.render(script)))?;
    let mut events = Vec::new();
    loop {
        let mut step_events = Vec::new();
        let mut sink = |e: &Event| step_events.push(*e);
        let outcome = machine.step(&mut sink);
        match outcome {
            Ok(StepOutcome::Finished) => break,
            Ok(StepOutcome::Ran(step)) => {
                events.extend(step_events.into_iter().map(|e| (step.line, e)));
            }
            Err(e) => return Err(format!("internal: {}", e.render(script))),
        }
    }
    Ok((machine, events))
}

fn indent(script: &str) -> String {
    script.lines().map(|l| format!("    {l}\n")).collect()
}

// ---- first / best / worst / next fit ---------------------------------------------------

fn fit_script(policy: &str, sizes: &[u32], freed: &[usize], request: u32) -> String {
    let mut s = String::from("ram r 0x10000000 4K\n");
    let _ = writeln!(s, "lab heap 1K on r policy {policy}");
    for (i, size) in sizes.iter().enumerate() {
        let _ = writeln!(s, "a{} = heap.alloc {size}", i + 1);
    }
    for &i in freed {
        let _ = writeln!(s, "heap.free a{}", i + 1);
    }
    let _ = writeln!(s, "q = heap.alloc {request}");
    s
}

/// The free spans of pool `name`, merged per free block: (address, bytes).
fn free_list(machine: &Machine<Vec<u8>, String>, name: &str) -> Result<Vec<(u32, u64)>, String> {
    let pool = machine.pool(name).ok_or("internal: no pool")?;
    let mut spans: Vec<(u32, u64)> = Vec::new();
    let mut last_block = None;
    pool.walk(machine.ram(), &mut |b| {
        if b.kind == BlockKind::Free {
            match spans.last_mut() {
                Some(last) if last_block == Some(b.block) => last.1 += u64::from(b.len),
                _ => spans.push((b.addr, u64::from(b.len))),
            }
            last_block = Some(b.block);
        } else {
            last_block = None;
        }
    })
    .map_err(|e| format!("internal: {e}"))?;
    Ok(spans)
}

fn fit(rng: &mut Prng, policies: &[&str]) -> Result<Problem, String> {
    let n = 6;
    let sizes: Vec<u32> = (0..n).map(|_| rng.range(2, 16) * 8).collect();
    // Free every other block (starting at 0 or 1), so the holes do not merge.
    let first = rng.below(2) as usize;
    let freed: Vec<usize> = (first..n).step_by(2).collect();
    let largest_hole = freed.iter().map(|&i| sizes[i]).max().unwrap_or(16);
    let request = rng.range(1, largest_hole / 4) * 4;

    let shown = fit_script(policies[0], sizes.as_slice(), &freed, request);
    let mut question = String::new();
    let _ = writeln!(
        question,
        "A policy-lab heap of 1 KiB (4-byte headers, 4-byte alignment, free blocks kept in \
         address order and coalesced) runs:\n"
    );
    question.push_str(&indent(&shown));
    if policies.len() == 1 {
        let _ = writeln!(
            question,
            "\nQ1. Under {} fit, which address does `q` get?\nQ2. What is the free list \
             afterwards (address and bytes of each free block)?",
            policies[0]
        );
    } else {
        let _ = writeln!(
            question,
            "\nQ1. Which address does `q` get under each of first, best, worst and next fit \
             (same script, only the `policy` changes)?\nQ2. What is the free list afterwards \
             under each policy?"
        );
    }

    let mut answers = String::new();
    for policy in policies {
        let script = fit_script(policy, sizes.as_slice(), &freed, request);
        let (machine, _) = run_script(&script)?;
        let q = machine.var("q").unwrap_or(0);
        let label = format!("{policy} fit");
        if q == 0 {
            let _ = writeln!(answers, "{label:10} q = 0 (the request fails)");
        } else {
            let _ = writeln!(answers, "{label:10} q = {q:#010x}");
        }
        let list = free_list(&machine, "heap")?;
        let items: Vec<String> = list
            .iter()
            .map(|(a, len)| format!("{a:#010x}+{len}"))
            .collect();
        let _ = writeln!(answers, "{:10} free list: {}", "", items.join(", "));
    }
    Ok(Problem { question, answers })
}

// ---- the control buffer ---------------------------------------------------------------

const CTRL_CLASSES: [u32; 4] = [32, 64, 128, 256];

fn ctrl(rng: &mut Prng) -> Result<Problem, String> {
    let mut script = String::from(
        "ram isram 0x40000000 64K internal\nsys isram\nctrl table 32x2 64x2 128x2 256x2\n",
    );
    let n = 6;
    for i in 0..n {
        let size = rng.range(1, 256);
        let _ = writeln!(script, "r{} = ctrl.alloc {size}", i + 1);
    }
    let mut question = String::from(
        "The control buffer (`get_ctrl_buffer`) has classes of 32, 64, 128 and 256 bytes, \
         two buffers each:\n\n",
    );
    question.push_str(&indent(&script));
    question.push_str(
        "\nQ1. Which class serves each request (or does it fail)?\nQ2. How many bytes does \
         each request waste inside its buffer, and in all?\n",
    );

    let (_, events) = run_script(&script)?;
    let ctrl_name = Name::new("ctrl").map_err(|_| "internal: name")?;
    let mut answers = String::new();
    let mut total = 0u64;
    for i in 0..n {
        let line = 4 + i;
        let mut served = None;
        let mut fault = None;
        for (l, e) in &events {
            if *l != line || e.source != ctrl_name {
                continue;
            }
            match e.kind {
                EventKind::Alloc {
                    addr, size, block, ..
                } => served = Some((addr, size, block)),
                EventKind::Fault { error, .. } => fault = Some(error),
                _ => {}
            }
        }
        match (served, fault) {
            (Some((addr, size, block)), _) => {
                // The block includes the partition header; the class is the buffer size.
                let class = CTRL_CLASSES
                    .iter()
                    .rev()
                    .copied()
                    .find(|&c| c <= block)
                    .unwrap_or(block);
                let waste = class.saturating_sub(size);
                total += u64::from(waste);
                let _ = writeln!(
                    answers,
                    "r{} = {addr:#010x}: {size} bytes from the {class}-byte class, {waste} \
                     wasted ({} bytes of header besides)",
                    i + 1,
                    block - class
                );
            }
            (None, Some(error)) => {
                let _ = writeln!(answers, "r{} = 0: fails ({error})", i + 1);
            }
            (None, None) => {
                let _ = writeln!(answers, "r{} = 0: fails", i + 1);
            }
        }
    }
    let _ = writeln!(answers, "wasted in all: {total} bytes");
    Ok(Problem { question, answers })
}

// ---- the buddy allocator --------------------------------------------------------------

const PAGE: u32 = 4096;
const PAGES_BASE: u32 = 0x8000_0000;

fn buddy(rng: &mut Prng) -> Result<Problem, String> {
    // 36 pages: boot takes the first pages for the control block and page array.
    let size = 36 * PAGE;
    let mut ram = Ram::new(vec![0u8; size as usize]);
    let name = |s: &str| Name::new(s).map_err(|_| "internal: name".to_string());
    ram.add_region(name("dram")?, RegionKind::External, PAGES_BASE, size)
        .map_err(|e| format!("internal: {e:?}"))?;
    let mut sink = Quiet;
    let mut cx = Ctx::new(&mut ram, &mut sink);
    let phys = PhysMem::boot(
        &mut cx,
        name("phys")?,
        PAGE,
        &[PhysArea {
            start: PAGES_BASE,
            size,
        }],
    )
    .map_err(|e| format!("internal: {e}"))?;
    let before = phys
        .free_counts(cx.ram)
        .map_err(|e| format!("internal: {e}"))?;

    let mut question = String::new();
    let _ = writeln!(
        question,
        "A LiteOS buddy allocator manages {} pages of 4 KiB starting at {:#010x}; its free \
         blocks per order (0..{}) are {:?}.\n",
        phys.managed_pages(),
        phys.segments().first().map(|s| s.start).unwrap_or(0),
        ORDERS - 1,
        &before[..5]
    );
    let mut answers = String::new();
    let mut live: Vec<(usize, u32, u32)> = Vec::new();
    let n = 6;
    for i in 1..=n {
        let free_one = !live.is_empty() && rng.below(3) == 0;
        if free_one {
            let k = rng.below(live.len() as u32) as usize;
            let (id, addr, order) = live.remove(k);
            let _ = writeln!(question, "    LOS_PhysPagesFree(p{id}, order {order})");
            phys.free_pages(&mut cx, addr, order)
                .map_err(|e| format!("internal: {e}"))?;
        } else {
            let order = rng.below(3);
            let _ = writeln!(question, "    p{i} = LOS_PhysPagesAlloc(order {order})");
            match phys.alloc_pages(&mut cx, order) {
                Ok(addr) => {
                    let _ = writeln!(answers, "p{i} = {addr:#010x} ({} page(s))", 1u32 << order);
                    live.push((i, addr, order));
                }
                Err(e) => {
                    let _ = writeln!(answers, "p{i} = NULL ({e})");
                }
            }
        }
    }
    question.push_str(
        "\nQ1. Which address does each allocation get?\nQ2. How many free blocks of each \
         order are there at the end?\n",
    );
    let after = phys
        .free_counts(cx.ram)
        .map_err(|e| format!("internal: {e}"))?;
    let _ = writeln!(answers, "free blocks per order 0..4: {:?}", &after[..5]);
    phys.check(cx.ram).map_err(|e| format!("internal: {e}"))?;
    Ok(Problem { question, answers })
}

// ---- timers ---------------------------------------------------------------------------

fn timers(rng: &mut Prng) -> Result<Problem, String> {
    let base = 0x4000_0000;
    let size = 4096;
    let mut ram = Ram::new(vec![0u8; size as usize]);
    let name = |s: &str| Name::new(s).map_err(|_| "internal: name".to_string());
    ram.add_region(name("isram")?, RegionKind::Internal, base, size)
        .map_err(|e| format!("internal: {e:?}"))?;
    let mut sink = Quiet;
    let mut cx = Ctx::new(&mut ram, &mut sink);
    let mut sys = SystemMemory::new(&mut cx, name("sys")?, &[Area::new(base, size)])
        .map_err(|e| format!("internal: {e}"))?;
    let fuzz = rng.range(2, 8);
    let es = Evshed::create(&mut cx, &mut sys, name("evshed")?, 8, fuzz, Owner::NONE)
        .map_err(|e| format!("internal: {e}"))?;

    let mut question = String::new();
    let _ = writeln!(
        question,
        "An event scheduler (`evshed`) with an alignment window (fuzz) of {fuzz} ticks; at \
         tick 0 these timers start (an aligned timer may fire up to {fuzz} ticks late, \
         batched with others; a non-aligned one fires on time):\n"
    );
    let n = 4;
    let mut labels = Vec::new();
    for i in 0..n {
        let delay = rng.range(1, 30);
        let aligned = rng.below(2) == 1;
        let label = (b'A' + i as u8) as char;
        let call = if aligned {
            "StartTimer"
        } else {
            "StartNonAlignTimer"
        };
        let _ = writeln!(question, "    {call}({label}, {delay} ticks)");
        let id = es
            .set_event(&mut cx, 0, delay, i, i, aligned)
            .map_err(|e| format!("internal: {e}"))?;
        labels.push((id, label));
    }
    question.push_str(
        "\nQ1. Which timer fires first, and at which tick?\nQ2. At which tick does each \
         timer fire (and which fire together)?\n",
    );

    let mut fired = Vec::new();
    let mut now = 0u32;
    for _ in 0..=n + 1 {
        let Some(at) = es
            .next_fire(cx.ram, now)
            .map_err(|e| format!("internal: {e}"))?
        else {
            break;
        };
        now = at;
        es.hw_expire(&mut cx, now)
            .map_err(|e| format!("internal: {e}"))?;
        while let Some(f) = es
            .pop_due(&mut cx, now)
            .map_err(|e| format!("internal: {e}"))?
        {
            fired.push(f);
        }
        es.handler_done(&mut cx, now)
            .map_err(|e| format!("internal: {e}"))?;
    }
    let mut answers = String::new();
    for (k, f) in fired.iter().enumerate() {
        let label = labels
            .iter()
            .find(|(id, _)| *id == f.id)
            .map(|l| l.1)
            .unwrap_or('?');
        let kind = if f.aligned { "aligned" } else { "non-aligned" };
        let late = f.at.saturating_sub(f.expiry);
        let first = if k == 0 { " (first)" } else { "" };
        let _ = writeln!(
            answers,
            "{label} fires at tick {} (due {}, {late} late, {kind}){first}",
            f.at, f.expiry
        );
    }
    Ok(Problem { question, answers })
}

/// Renders a problem: the question, and the answers with `reveal`.
pub fn render(topic: &str, seed: u64, problem: &Problem, reveal: bool) -> String {
    let mut out = format!("Practice: {topic} (seed {seed})\n\n{}", problem.question);
    if reveal {
        let _ = write!(
            out,
            "\nAnswers (computed by the engine):\n{}",
            problem.answers
        );
    } else {
        let _ = writeln!(out, "\n(run again with --reveal for the answers)");
    }
    out
}
