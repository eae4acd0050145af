//! `memplay import-malloclab`: replays a CS:APP malloclab trace on one of the engine's
//! allocators.
//!
//! A trace is four header numbers (suggested heap size, number of ids, number of
//! operations, weight), then one operation a line: `a ID BYTES` (malloc), `r ID BYTES`
//! (realloc) and `f ID` (free). Blank lines and `#` comments are skipped.
//!
//! The pool is configured with a one-line memplay script and every operation runs as a
//! console statement ([`Machine::exec`]), so the replay goes through the same code as a
//! script (which is what `ops/s` measures). An allocator without `realloc` (the policy lab,
//! ADM) gets malloclab's fallback: allocate the new size, then free the old block.
//!
//! Two utilizations are reported:
//! - **pool utilization**: the peak of live payload bytes divided by the pool size;
//! - **malloclab utilization**: the peak of live payload bytes divided by the heap's
//!   high-water mark, the highest end (`addr + size - pool base`) of any block handed out,
//!   as mdriver divides the maximum aggregate payload by `mem_heap_hi`.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use memplay_engine::machine::Machine;
use memplay_engine::trace::Quiet;
use memplay_engine::AllocError;

/// Where the pool's RAM region starts.
const BASE: u32 = 0x1000_0000;
/// RAM beyond the pool for control blocks and decorator objects.
const SLACK: u32 = 64 * 1024;
/// The largest pool accepted (the machine's owned RAM is at most 64 MiB).
const MAX_POOL: u32 = 60 << 20;

/// The allocators a trace can run on.
pub const ALLOCATORS: &[&str] = &[
    "dyn",
    "tlsf",
    "lab-first",
    "lab-best",
    "lab-next",
    "lab-worst",
    "awtk-simple",
    "adm",
];

/// One operation of a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Alloc { id: u32, size: u32 },
    Realloc { id: u32, size: u32 },
    Free { id: u32 },
}

/// A parsed trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    pub heap_size: u32,
    pub ids: u32,
    pub weight: u32,
    /// The operations with their line numbers.
    pub ops: Vec<(u32, Op)>,
}

fn number(word: Option<&str>, what: &str, line: u32) -> Result<u32, String> {
    let word = word.ok_or_else(|| format!("line {line}: missing {what}"))?;
    word.parse::<u32>()
        .map_err(|_| format!("line {line}: {what} `{word}` is not a number from 0 to 4294967295"))
}

/// Parses a trace; errors name the line.
pub fn parse(text: &str) -> Result<Trace, String> {
    let mut header = Vec::new();
    let mut ops = Vec::new();
    let mut declared_ops = 0;
    for (i, raw) in text.lines().enumerate() {
        let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let mut words = content.split_whitespace();
        if header.len() < 4 {
            let what = [
                "the heap size",
                "the number of ids",
                "the number of operations",
                "the weight",
            ][header.len()];
            header.push(number(words.next(), what, line)?);
            if let Some(extra) = words.next() {
                return Err(format!("line {line}: unexpected `{extra}` after {what}"));
            }
            if header.len() == 4 {
                declared_ops = header[2];
            }
            continue;
        }
        let ids = header[1];
        let kind = words.next().unwrap_or("");
        let id = number(words.next(), "the id", line)?;
        if id >= ids {
            return Err(format!(
                "line {line}: id {id} is not below the header's number of ids ({ids})"
            ));
        }
        let op = match kind {
            "a" => Op::Alloc {
                id,
                size: number(words.next(), "the size", line)?,
            },
            "r" => Op::Realloc {
                id,
                size: number(words.next(), "the size", line)?,
            },
            "f" => Op::Free { id },
            other => {
                return Err(format!(
                    "line {line}: unknown operation `{other}` (expected `a`, `r` or `f`)"
                ))
            }
        };
        if let Some(extra) = words.next() {
            return Err(format!("line {line}: unexpected `{extra}`"));
        }
        ops.push((line, op));
    }
    if header.len() < 4 {
        return Err(format!(
            "line {}: the header needs 4 numbers (heap size, ids, operations, weight), found {}",
            text.lines().count().max(1),
            header.len()
        ));
    }
    if ops.len() as u64 != u64::from(declared_ops) {
        return Err(format!(
            "the header declares {declared_ops} operations but the trace has {}",
            ops.len()
        ));
    }
    Ok(Trace {
        heap_size: header[0],
        ids: header[1],
        weight: header[3],
        ops,
    })
}

/// What a replay found.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub ops: usize,
    pub pool: u32,
    pub peak_payload: u64,
    pub high_water: u64,
    pub failures: u32,
    /// The line and description of the first failing operation.
    pub first_failure: Option<(u32, String)>,
    /// The first `check()` failure: the line (0 for the final check) and the error.
    pub check_failure: Option<(u32, AllocError)>,
    pub seconds: f64,
}

fn config(allocator: &str, pool: u32) -> Result<(String, &'static str), String> {
    let region = u64::from(pool) + u64::from(SLACK);
    let mut s = format!("ram r {BASE:#x} {region}\n");
    let name = match allocator {
        "dyn" => {
            let _ = writeln!(s, "dyn heap {pool} on r");
            "heap"
        }
        "tlsf" => {
            let _ = writeln!(s, "tlsf heap {pool} on r");
            "heap"
        }
        "lab-first" | "lab-best" | "lab-next" | "lab-worst" => {
            let policy = &allocator[4..];
            let _ = writeln!(s, "lab heap {pool} on r policy {policy}");
            "heap"
        }
        "awtk-simple" => {
            let _ = writeln!(s, "awtk stack simple {pool} on r");
            "awtk"
        }
        "adm" => {
            let _ = writeln!(s, "adm heap {pool} on r");
            "heap"
        }
        other => {
            return Err(format!(
                "unknown allocator `{other}` (one of {})",
                ALLOCATORS.join(", ")
            ))
        }
    };
    Ok((s, name))
}

/// Replays `trace` on `allocator` over a pool of `pool` bytes (the header's heap size when
/// `None`).
pub fn replay(
    trace: &Trace,
    allocator: &str,
    pool: Option<u32>,
    check_each: bool,
) -> Result<Report, String> {
    let pool = pool.unwrap_or(trace.heap_size);
    if pool == 0 || pool > MAX_POOL {
        return Err(format!(
            "pool size {pool} is outside 1..={MAX_POOL} (give one with --pool)"
        ));
    }
    let (script, name) = config(allocator, pool)?;
    let mut machine = Machine::owned(script.clone())
        .map_err(|e| format!("configuring: {}", e.render(&script)))?;
    let mut quiet = Quiet;
    machine
        .run(&mut quiet, 10)
        .map_err(|e| format!("configuring: {}", e.render(&script)))?;
    if machine.pool(name).is_none() {
        return Err(format!(
            "the engine refused a {allocator} pool of {pool} bytes: {}",
            machine
                .last_fault()
                .map(|f| f.error.to_string())
                .unwrap_or_default()
        ));
    }
    let native_realloc = matches!(allocator, "dyn" | "tlsf" | "awtk-simple");

    let mut report = Report {
        ops: trace.ops.len(),
        pool,
        ..Report::default()
    };
    // Per id: the address and payload size of its live block.
    let mut live: Vec<Option<(u32, u32)>> = vec![None; trace.ids as usize];
    let mut payload = 0u64;
    let mut line_no = 1000u32;
    let mut exec = |machine: &mut Machine<Vec<u8>, String>, text: &str| {
        line_no = line_no.wrapping_add(1);
        machine.exec(text, line_no, &mut quiet)
    };
    let start = Instant::now();
    for &(line, op) in &trace.ops {
        let fail = |report: &mut Report, what: String| {
            report.failures += 1;
            report.first_failure.get_or_insert((line, what));
        };
        let (id, size) = match op {
            Op::Alloc { id, size } | Op::Realloc { id, size } => (id, size),
            Op::Free { id } => (id, 0),
        };
        let old = live[id as usize];
        let result = match (op, old) {
            (Op::Free { .. }, None) => Ok(None),
            (Op::Free { .. }, Some((addr, sz))) => {
                exec(&mut machine, &format!("{name}.free {addr:#x}")).map(|s| {
                    if s.fault.is_none() {
                        payload -= u64::from(sz);
                        live[id as usize] = None;
                    }
                    s.fault.map(|f| format!("f {id}: {f}"))
                })
            }
            (Op::Realloc { .. }, Some((addr, sz))) if native_realloc => {
                exec(&mut machine, &format!("{name}.realloc {addr:#x} {size}")).map(|s| {
                    match (s.fault, s.value) {
                        (None, Some(new)) if new != 0 => {
                            payload = payload - u64::from(sz) + u64::from(size);
                            live[id as usize] = Some((new, size));
                            None
                        }
                        (f, _) => Some(format!(
                            "r {id} {size}: {}",
                            f.map(|f| f.to_string()).unwrap_or("NULL".into())
                        )),
                    }
                })
            }
            (Op::Alloc { .. } | Op::Realloc { .. }, _) => {
                exec(&mut machine, &format!("{name}.alloc {size}")).and_then(|s| {
                    let kind = if matches!(op, Op::Alloc { .. }) {
                        'a'
                    } else {
                        'r'
                    };
                    match (s.fault, s.value) {
                        (None, Some(new)) if new != 0 => {
                            payload += u64::from(size);
                            live[id as usize] = Some((new, size));
                            if let Some((addr, sz)) = old {
                                // Realloc without a native realloc: the old block goes.
                                let freed = exec(&mut machine, &format!("{name}.free {addr:#x}"))?;
                                if let Some(f) = freed.fault {
                                    return Ok(Some(format!("r {id} {size} (free): {f}")));
                                }
                                payload -= u64::from(sz);
                            }
                            Ok(None)
                        }
                        (f, _) => Ok(Some(format!(
                            "{kind} {id} {size}: {}",
                            f.map(|f| f.to_string()).unwrap_or("NULL".into())
                        ))),
                    }
                })
            }
        };
        match result {
            Ok(None) => {}
            Ok(Some(what)) => fail(&mut report, what),
            Err(e) => return Err(format!("line {line}: {e:?}")),
        }
        report.peak_payload = report.peak_payload.max(payload);
        if let Some(Some((addr, sz))) = live.get(id as usize) {
            let end = u64::from(*addr) + u64::from(*sz) - u64::from(BASE);
            report.high_water = report.high_water.max(end);
        }
        if check_each && report.check_failure.is_none() {
            if let Some(pool) = machine.pool(name) {
                if let Err(e) = pool.check(machine.ram()) {
                    report.check_failure = Some((line, e));
                }
            }
        }
    }
    report.seconds = start.elapsed().as_secs_f64();
    if report.check_failure.is_none() {
        if let Some(pool) = machine.pool(name) {
            if let Err(e) = pool.check(machine.ram()) {
                report.check_failure = Some((0, e));
            }
        }
    }
    Ok(report)
}

fn permille(num: u64, den: u64) -> String {
    if den == 0 {
        return "-".into();
    }
    let p = num * 1000 / den;
    format!("{}.{}%", p / 10, p % 10)
}

/// `memplay import-malloclab`: the report as text, or an error.
pub fn run(
    file: &Path,
    allocator: &str,
    pool: Option<u32>,
    check_each: bool,
) -> Result<String, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let trace = parse(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let r = replay(&trace, allocator, pool, check_each)?;
    let mut out = String::new();
    let _ = writeln!(out, "trace      {}", file.display());
    let _ = writeln!(out, "allocator  {allocator}");
    let _ = writeln!(
        out,
        "pool       {} bytes (header heap size {}, {} ids, {} ops, weight {})",
        r.pool, trace.heap_size, trace.ids, r.ops, trace.weight
    );
    let _ = writeln!(out, "peak payload        {} bytes", r.peak_payload);
    let _ = writeln!(
        out,
        "pool utilization    {} (peak payload / pool size)",
        permille(r.peak_payload, u64::from(r.pool))
    );
    let _ = writeln!(
        out,
        "malloclab util.     {} (peak payload / heap high-water {} bytes)",
        permille(r.peak_payload, r.high_water),
        r.high_water
    );
    let _ = writeln!(out, "failures            {}", r.failures);
    if let Some((line, what)) = &r.first_failure {
        let _ = writeln!(out, "first failure       line {line}: {what}");
    }
    match &r.check_failure {
        None => {
            let what = if check_each {
                "after every op and at the end"
            } else {
                "at the end"
            };
            let _ = writeln!(out, "check               ok ({what})");
        }
        Some((0, e)) => {
            let _ = writeln!(out, "check               FAILED at the end: {e}");
        }
        Some((line, e)) => {
            let _ = writeln!(out, "check               FAILED after line {line}: {e}");
        }
    }
    let ops_per_s = if r.seconds > 0.0 {
        r.ops as f64 / r.seconds
    } else {
        0.0
    };
    let _ = writeln!(out, "ops/s               {ops_per_s:.0}");
    if r.check_failure.is_some() {
        return Err(out);
    }
    Ok(out)
}
