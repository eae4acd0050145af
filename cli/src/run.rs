//! `memplay run` and `memplay trace`: a script on an owned machine, step by step.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use memplay_engine::machine::{Machine, Step, StepKind, StepOutcome};
use memplay_engine::script::ScriptError;
use memplay_engine::trace::{Recorder, TextSink};
use memplay_engine::{Block, BlockKind, Storage};

/// The step limit when none is given: ends a script whose `repeat` counts run away.
pub const DEFAULT_MAX_STEPS: u32 = 1_000_000;

/// Cells in one map row.
const MAP_WIDTH: u64 = 64;

fn load(file: &Path) -> Result<String, ExitCode> {
    std::fs::read_to_string(file).map_err(|e| {
        eprintln!("memplay: cannot read {}: {e}", file.display());
        ExitCode::from(2)
    })
}

fn report(file: &Path, source: &str, error: &ScriptError) {
    eprint!("{}:{}", file.display(), error.render(source));
}

/// Builds the machine, reporting a script error.
fn machine(file: &Path) -> Result<Machine<Vec<u8>, String>, ExitCode> {
    let source = load(file)?;
    Machine::owned(source.clone()).map_err(|e| {
        report(file, &source, &e);
        ExitCode::FAILURE
    })
}

/// `memplay trace FILE`: the canonical trace on stdout; errors and failed expectations on
/// stderr. Exits non-zero after a hard error or any failed expectation.
pub fn trace(file: &Path, max_steps: u32) -> ExitCode {
    let mut machine = match machine(file) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let mut sink = TextSink::new(String::new());
    let mut failed = false;
    loop {
        if machine.steps() >= max_steps && machine.next_line().is_some() {
            eprintln!("memplay: stopped after {max_steps} steps");
            return ExitCode::FAILURE;
        }
        let result = machine.step_traced(&mut sink);
        print!("{}", sink.out);
        sink.out.clear();
        match result {
            Ok(StepOutcome::Finished) => break,
            Ok(StepOutcome::Ran(_)) => {}
            Err(e) => {
                report(file, machine.source(), &e);
                failed = true;
                if !e.is_expectation() {
                    break;
                }
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `memplay run FILE`: each step's line, its events, its result and a map of every pool.
pub fn run(file: &Path, canonical: bool, maps: bool, max_steps: u32) -> ExitCode {
    let mut machine = match machine(file) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let color = std::io::stdout().is_terminal();
    let mut failures = 0;
    loop {
        if machine.steps() >= max_steps && machine.next_line().is_some() {
            eprintln!("memplay: stopped after {max_steps} steps");
            return ExitCode::FAILURE;
        }
        let index = machine.next_index();
        let mut events = Recorder::default();
        let result = machine.step(&mut events);
        let line = machine.current_line();
        let text = machine.line_text(line).unwrap_or("").trim();
        let step = match result {
            Ok(StepOutcome::Finished) => break,
            Ok(StepOutcome::Ran(step)) => Some(step),
            Err(e) => {
                println!("[{index:4}] {line:3} | {text}");
                report(file, machine.source(), &e);
                if !e.is_expectation() {
                    return ExitCode::FAILURE;
                }
                failures += 1;
                None
            }
        };
        let Some(step) = step else { continue };
        println!("[{index:4}] {line:3} | {text}");
        for event in &events.events {
            if canonical {
                println!("{index:04} {event}");
            } else {
                println!("         {event}");
            }
        }
        print!("{}", result_line(&machine, &step));
        if maps && changes_memory(&step) {
            print!("{}", map(&machine, color));
        }
    }
    let summary = machine.summary();
    println!(
        "{} steps, {} expectations ({} failed), {} faults",
        summary.steps, summary.expectations, summary.failures, summary.faults
    );
    if failures > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn changes_memory(step: &Step) -> bool {
    matches!(
        step.kind,
        StepKind::Config | StepKind::Call | StepKind::Memory
    )
}

/// The step's result in words: a value, a fault, a note.
fn result_line<S: Storage>(machine: &Machine<S, String>, step: &Step) -> String {
    let mut out = String::new();
    if let Some(note) = machine.note_text(step) {
        let _ = writeln!(out, "         note: {note}");
    }
    match step.kind {
        StepKind::Call | StepKind::Memory | StepKind::Assign => {
            if let Some(v) = step.value {
                let _ = writeln!(out, "         = {v:#010x} ({v})");
            }
        }
        StepKind::Expect => {
            let _ = writeln!(out, "         ok");
        }
        _ => {}
    }
    if let Some(fault) = step.fault {
        let _ = writeln!(out, "         fault {}: {fault}", fault.kind());
    }
    out
}

/// One row per contiguous area of each pool: its spans scaled to [`MAP_WIDTH`] cells, then
/// the pool's figures.
fn map<S: Storage>(machine: &Machine<S, String>, color: bool) -> String {
    let mut out = String::new();
    for pool in machine.pools() {
        let mut spans: Vec<Block> = Vec::new();
        if let Err(e) = pool.walk(machine.ram(), &mut |b| spans.push(b)) {
            let _ = writeln!(out, "  {:<8} cannot be walked: {e}", pool.name());
            continue;
        }
        spans.sort_by_key(|b| b.addr);
        // Areas: runs of spans with no gap between them.
        let mut areas: Vec<Vec<Block>> = Vec::new();
        for b in spans {
            match areas.last_mut() {
                Some(area)
                    if area
                        .last()
                        .is_some_and(|l| l.addr as u64 + l.len as u64 == b.addr as u64) =>
                {
                    area.push(b)
                }
                _ => areas.push(vec![b]),
            }
        }
        for (i, area) in areas.iter().enumerate() {
            let name = if i == 0 {
                pool.name().to_string()
            } else {
                String::new()
            };
            let lo = area.first().map_or(0, |b| b.addr as u64);
            let _ = write!(out, "  {name:<8} {lo:#010x} |{}|", row(area, color));
            if i == 0 {
                match pool.stats(machine.ram()) {
                    Ok(s) => {
                        let _ = write!(
                            out,
                            " used {} free {} largest {} blocks {}",
                            s.used, s.free, s.largest_free, s.blocks
                        );
                    }
                    Err(e) => {
                        let _ = write!(out, " {e}");
                    }
                }
            }
            out.push('\n');
        }
    }
    if !out.is_empty() {
        let _ = writeln!(out, "  (# payload  H header  G guard  - padding  . free)");
    }
    out
}

/// One area's spans (sorted, contiguous) in [`MAP_WIDTH`] cells; a cell shows the kind
/// with the most bytes in it.
fn row(area: &[Block], color: bool) -> String {
    let lo = area.first().map_or(0, |b| b.addr as u64);
    let hi = area.last().map_or(0, |b| b.addr as u64 + b.len as u64);
    let width = (hi - lo).max(1);
    let mut cells = vec![[0u64; 5]; MAP_WIDTH as usize];
    for b in area {
        let (start, end) = (b.addr as u64 - lo, b.addr as u64 + b.len as u64 - lo);
        let first = start * MAP_WIDTH / width;
        let last = (end * MAP_WIDTH).div_ceil(width).min(MAP_WIDTH);
        for cell in first..last {
            let cell_lo = cell * width / MAP_WIDTH;
            let cell_hi = (cell + 1) * width / MAP_WIDTH;
            let overlap = end.min(cell_hi).saturating_sub(start.max(cell_lo)).max(1);
            cells[cell as usize][kind_index(b.kind)] += overlap;
        }
    }
    let mut row = String::new();
    for cell in &cells {
        let best = (0..5).max_by_key(|&k| (cell[k], k)).unwrap_or(4);
        let (ch, code) = KINDS[best];
        if color {
            let _ = write!(row, "\x1b[{code}m{ch}\x1b[0m");
        } else {
            row.push(ch);
        }
    }
    row
}

/// The map characters and their ANSI colours, by [`kind_index`].
const KINDS: [(char, &str); 5] = [
    ('#', "32"),
    ('H', "34"),
    ('G', "31"),
    ('-', "33"),
    ('.', "2"),
];

fn kind_index(kind: BlockKind) -> usize {
    match kind {
        BlockKind::Payload => 0,
        BlockKind::Header => 1,
        BlockKind::Guard => 2,
        BlockKind::Padding => 3,
        BlockKind::Free => 4,
    }
}
