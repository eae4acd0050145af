//! The machine: a simulated RAM, the subsystems a script configures on it, the script's
//! variables, a seeded PRNG and a virtual clock, driven one statement at a time.
//!
//! [`Machine::step`] runs the next statement (one step) and reports what it did; every
//! change shows as trace events sent to the sink. A *runtime fault* (an allocation that runs
//! out of memory, a double free, a corrupted header found by `check`) is not a script
//! error: the allocator has already emitted its `fault` event, the machine remembers it for
//! `expect fault`, and the script goes on. A *failed expectation* is returned as an
//! [`ScriptError`] whose [`is_expectation`](ScriptError::is_expectation) is true, and the
//! machine is ready to go on with the next line. Any other error (a name that does not
//! exist at run time, an access outside RAM, a pool that does not fit its region) halts
//! the machine: every later `step` returns the same error.
//!
//! The machine is generic over its RAM storage `S` and its source text `T`: on the host
//! both are owned (`Vec<u8>`, `String`) and the machine is `Clone`, so a front end can keep
//! snapshots to step back; on the board the storage is a borrowed static array and the
//! text a `&'static str`.

use core::fmt;

use crate::allocator::{Allocator, Block, BlockKind, Ctx, Owner, Stats};
use crate::ctrl_buffer::CtrlBuffer;
use crate::error::AllocError;
use crate::name::Name;
use crate::partition::PartitionPool;
use crate::policy_lab::PolicyLab;
use crate::prng::Prng;
use crate::ram::{Addr, Ram, Storage, MAX_REGIONS};
use crate::script::ast::{
    AreaSpec, Call, Config, Expect, Named, PartShape, Place, PoolKind, Query, Span, Stmt, Target,
    Width,
};
use crate::script::errors::{ErrorKind, Hint, ScriptError};
use crate::script::interp::{block_end, check, line_at, ScriptInfo, Vars, MAX_DEPTH, MAX_POOLS};
use crate::script::parser::{parse_line, Env};
use crate::sysmem::{Area, SystemMemory, DEFAULT_RECORDS, MAX_AREAS};
use crate::trace::{Event, EventKind, Field, Op, Sink, TextSink};

// dyn, tlsf, adm, asm, screen, awtk
mod heaps;
pub use heaps::{AsmPool, AwtkPool, DynPool, RELEASE_CACHE};
// pages, vm, tasks, timers
mod kernel;
use crate::pages::PhysMem;
use crate::script::fault::StepFault;

/// The machine's own events: the clock and the PRNG, which are simulated state too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MachineEvent {
    /// The virtual clock advanced `by` ticks and reads `now`.
    Tick { by: u32, now: u64 },
    /// The PRNG was reseeded.
    Seed { seed: u32 },
}

impl MachineEvent {
    pub fn word(&self) -> &'static str {
        match self {
            MachineEvent::Tick { .. } => "tick",
            MachineEvent::Seed { .. } => "seed",
        }
    }
}

/// The canonical `key=value` fields.
impl fmt::Display for MachineEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MachineEvent::Tick { by, now } => write!(f, " by={by} now={now}"),
            MachineEvent::Seed { seed } => write!(f, " seed={seed}"),
        }
    }
}

/// One configured subsystem.
///
/// The policy lab keeps its tables in the struct (a few KiB) and the engine has no heap to
/// box it, so the variants differ in size; a machine holds at most [`MAX_POOLS`] of them.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Pool {
    Sys(SystemMemory),
    Ctrl(CtrlBuffer),
    Part(PartitionPool),
    Lab(PolicyLab),
    // dyn, tlsf, adm, asm, screen, awtk
    Dyn(DynPool),
    Tlsf(crate::tlsf::Tlsf),
    Adm(crate::adm::Adm),
    Asm(AsmPool),
    Screen(crate::app_mem::ScreenMem),
    Awtk(AwtkPool),
    // pages, vm, tasks, timers
    /// The physical pages and their buddy allocator (`pages`).
    Pages(PhysMem),
}

/// Runs `$body` with `$p` bound to the allocator inside any [`Pool`].
macro_rules! with_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            Pool::Sys($p) => $body,
            Pool::Ctrl($p) => $body,
            Pool::Part($p) => $body,
            Pool::Lab($p) => $body,
            // dyn, tlsf, adm, asm, screen, awtk
            Pool::Dyn(DynPool { mem: $p, .. }) => $body,
            Pool::Tlsf($p) => $body,
            Pool::Adm($p) => $body,
            Pool::Asm(AsmPool { mem: $p, .. }) => $body,
            Pool::Screen($p) => $body,
            Pool::Awtk(AwtkPool { stack: $p, .. }) => $body,
            // pages, vm, tasks, timers
            Pool::Pages($p) => $body,
        }
    };
}

impl Pool {
    pub fn kind(&self) -> PoolKind {
        match self {
            Pool::Sys(_) => PoolKind::Sys,
            Pool::Ctrl(_) => PoolKind::Ctrl,
            Pool::Part(_) => PoolKind::Part,
            Pool::Lab(_) => PoolKind::Lab,
            // dyn, tlsf, adm, asm, screen, awtk
            Pool::Dyn(_) => PoolKind::Dyn,
            Pool::Tlsf(_) => PoolKind::Tlsf,
            Pool::Adm(_) => PoolKind::Adm,
            Pool::Asm(_) => PoolKind::Asm,
            Pool::Screen(_) => PoolKind::Screen,
            Pool::Awtk(_) => PoolKind::Awtk,
            // pages, vm, tasks, timers
            Pool::Pages(_) => PoolKind::Pages,
        }
    }

    pub fn name(&self) -> Name {
        with_pool!(self, p => p.name())
    }

    /// Every span of the pool, for drawing.
    pub fn walk<S: Storage>(
        &self,
        ram: &Ram<S>,
        visit: &mut dyn FnMut(Block),
    ) -> Result<(), AllocError> {
        with_pool!(self, p => p.walk(ram, visit))
    }

    pub fn check<S: Storage>(&self, ram: &Ram<S>) -> Result<(), AllocError> {
        with_pool!(self, p => p.check(ram))
    }

    pub fn stats<S: Storage>(&self, ram: &Ram<S>) -> Result<Stats, AllocError> {
        with_pool!(self, p => p.stats(ram))
    }

    fn alloc<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        size: u32,
        owner: Owner,
    ) -> Result<Addr, AllocError> {
        with_pool!(self, p => p.alloc(cx, size, owner))
    }

    fn free<S: Storage>(&mut self, cx: &mut Ctx<'_, S>, addr: Addr) -> Result<(), AllocError> {
        with_pool!(self, p => p.free(cx, addr))
    }

    fn realloc<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        addr: Addr,
        size: u32,
        owner: Owner,
    ) -> Result<Addr, AllocError> {
        with_pool!(self, p => p.realloc(cx, addr, size, owner))
    }

    /// The addresses handed out for the pool's live blocks, in walk order: calls `visit`
    /// once per block with its index.
    fn live_blocks<S: Storage>(
        &self,
        ram: &Ram<S>,
        visit: &mut dyn FnMut(u32, Addr),
    ) -> Result<u32, AllocError> {
        let mut count = 0u32;
        let mut last = None;
        self.walk(ram, &mut |span| {
            if span.kind == BlockKind::Payload && last != Some(span.block) {
                last = Some(span.block);
                visit(count, span.block);
                count = count.saturating_add(1);
            }
        })?;
        Ok(count)
    }
}

/// The last fault: which subsystem gave it and what it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LastFault {
    pub source: Name,
    pub error: StepFault,
}

/// What a step was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// A RAM region or a pool was configured.
    Config,
    /// An operation on a pool.
    Call,
    /// `NAME = EXPR`.
    Assign,
    /// `poke`, `peek` or `fill`.
    Memory,
    /// `note`; the span is the note's text in the line (see [`Machine::note_text`]).
    Note(Span),
    /// `check`.
    Check,
    /// An expectation that held.
    Expect,
    /// `tick`.
    Clock,
    /// `seed`.
    Seed,
    /// `repeat N {`: entering the block (or skipping it when N is 0).
    Repeat,
}

/// One executed step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// The step's number, from 1; also the number a [`TextSink`] prints.
    pub index: u32,
    /// The line it ran, from 1.
    pub line: u32,
    pub kind: StepKind,
    /// The runtime fault of this step, if any.
    pub fault: Option<StepFault>,
    /// The value the step produced: an address allocated (0 when the allocation failed),
    /// a value read, an assigned value.
    pub value: Option<u32>,
}

/// What [`Machine::step`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepOutcome {
    Ran(Step),
    /// The script has no more statements.
    Finished,
}

/// The figures of a [`Machine::run`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub steps: u32,
    /// Expectations checked, and how many of them failed.
    pub expectations: u32,
    pub failures: u32,
    /// The first failed expectation.
    pub first_failure: Option<ScriptError>,
    /// Runtime faults seen.
    pub faults: u32,
}

/// A `repeat` block being run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Frame {
    /// The offset and line of the body's first line.
    body: usize,
    body_line: u32,
    /// Iterations left, this one included.
    remaining: u32,
}

/// The largest RAM [`Machine::owned`] allocates, in bytes.
pub const MAX_OWNED_RAM: u64 = 64 << 20;

/// The state a statement works on: everything but the program counter.
#[derive(Clone)]
struct Core<S> {
    ram: Ram<S>,
    /// `pools[..]` in configuration order; `None` after the last one.
    pools: [Option<Pool>; MAX_POOLS],
    /// Bytes placed from the start of each region (in region order) by `on REGION`
    /// placements and `sys` areas, as a linker places static arrays.
    placed: [u32; MAX_REGIONS],
    vars: Vars,
    prng: Prng,
    clock: u64,
    last_fault: Option<LastFault>,
    // pages, vm, tasks, timers
    /// Virtual memory and the task system, kept beside the pools.
    kernel: kernel::Kernel,
}

/// A script running on a simulated machine. See the [module documentation](self).
#[derive(Clone)]
pub struct Machine<S, T = &'static str> {
    source: T,
    info: ScriptInfo,
    core: Core<S>,
    /// The offset and number of the next line to read.
    pc: usize,
    next_line: u32,
    frames: [Frame; MAX_DEPTH],
    depth: usize,
    steps: u32,
    /// The line of the last step (0 before the first).
    line: u32,
    halted: Option<ScriptError>,
    summary: RunSummary,
}

#[cfg(feature = "alloc")]
impl<T: AsRef<str>> Machine<alloc::vec::Vec<u8>, T> {
    /// A machine whose RAM storage is a `Vec` just large enough for the script's `ram`
    /// lines (at most [`MAX_OWNED_RAM`]; a script that declares more fails at the `ram`
    /// line that does not fit).
    pub fn owned(source: T) -> Result<Machine<alloc::vec::Vec<u8>, T>, ScriptError> {
        let info = check(source.as_ref())?;
        let bytes = info.ram_bytes.min(MAX_OWNED_RAM) as usize;
        Machine::new(alloc::vec![0u8; bytes], source)
    }
}

impl<S: Storage, T: AsRef<str>> Machine<S, T> {
    /// Checks `source` (see [`check`]) and makes a machine with no RAM regions over
    /// `storage`; the script's `ram` lines add them.
    pub fn new(storage: S, source: T) -> Result<Machine<S, T>, ScriptError> {
        let info = check(source.as_ref())?;
        Ok(Machine {
            source,
            info,
            core: Core {
                ram: Ram::new(storage),
                pools: [const { None }; MAX_POOLS],
                placed: [0; MAX_REGIONS],
                vars: Vars::default(),
                prng: Prng::new(0),
                clock: 0,
                last_fault: None,
                kernel: kernel::Kernel::default(),
            },
            pc: 0,
            next_line: 1,
            frames: [Frame::default(); MAX_DEPTH],
            depth: 0,
            steps: 0,
            line: 0,
            halted: None,
            summary: RunSummary::default(),
        })
    }

    // ---- what front ends read ----

    pub fn source(&self) -> &str {
        self.source.as_ref()
    }

    /// What the static check learned (lines, statements, RAM needed).
    pub fn info(&self) -> ScriptInfo {
        self.info
    }

    /// The number of steps run.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// The line of the last step, 0 before the first.
    pub fn current_line(&self) -> u32 {
        self.line
    }

    /// The line the next step will run, `None` when the script is finished or halted.
    pub fn next_line(&self) -> Option<u32> {
        if self.halted.is_some() {
            return None;
        }
        let source = self.source.as_ref();
        let (mut pc, mut line) = (self.pc, self.next_line);
        let mut frames = self.frames;
        let mut depth = self.depth;
        while let Some((text, next)) = line_at(source, pc) {
            match crate::script::lexer::lex(text, line).map(|t| t.as_slice().first().map(|t| t.tok))
            {
                Ok(None) => {}
                Ok(Some(crate::script::lexer::Tok::Sym(crate::script::lexer::Sym::RBrace))) => {
                    match depth.checked_sub(1).and_then(|d| frames.get_mut(d)) {
                        Some(f) if f.remaining > 1 => {
                            f.remaining -= 1;
                            pc = f.body;
                            line = f.body_line;
                            continue;
                        }
                        _ => depth = depth.saturating_sub(1),
                    }
                }
                _ => return Some(line),
            }
            pc = next;
            line = line.saturating_add(1);
        }
        None
    }

    /// The text of line `line` (from 1).
    pub fn line_text(&self, line: u32) -> Option<&str> {
        crate::script::errors::source_line(self.source.as_ref(), line)
    }

    /// The text of a `note` step.
    pub fn note_text(&self, step: &Step) -> Option<&str> {
        match step.kind {
            StepKind::Note(span) => self.line_text(step.line)?.get(span.start..span.end),
            _ => None,
        }
    }

    pub fn ram(&self) -> &Ram<S> {
        &self.core.ram
    }

    /// The configured pools, in configuration order.
    pub fn pools(&self) -> impl Iterator<Item = &Pool> + '_ {
        self.core.pools.iter().flatten()
    }

    pub fn pool(&self, name: &str) -> Option<&Pool> {
        self.core.pool(name)
    }

    /// The variables, in order of first assignment.
    pub fn vars(&self) -> impl Iterator<Item = (Name, u32)> + '_ {
        self.core.vars.iter()
    }

    pub fn var(&self, name: &str) -> Option<u32> {
        self.core.vars.get(name)
    }

    /// The fault of the last step that was not a `note` or an `expect`.
    pub fn last_fault(&self) -> Option<LastFault> {
        self.core.last_fault
    }

    /// The virtual clock, in ticks.
    pub fn clock(&self) -> u64 {
        self.core.clock
    }

    pub fn prng(&self) -> Prng {
        self.core.prng
    }

    /// The hard error that halted the machine, if one did.
    pub fn halted(&self) -> Option<ScriptError> {
        self.halted
    }

    /// Expectations, failures and faults so far.
    pub fn summary(&self) -> RunSummary {
        RunSummary {
            steps: self.steps,
            ..self.summary
        }
    }

    // ---- running ----

    /// Runs the next statement. Blank lines, comments and `}` are not steps; they are
    /// passed over on the way to the next statement.
    ///
    /// Returns `Err` for a failed expectation (the machine goes on at the next line) or a
    /// hard error (the machine halts, and every later call returns the same error).
    pub fn step(&mut self, sink: &mut dyn Sink) -> Result<StepOutcome, ScriptError> {
        if let Some(error) = self.halted {
            return Err(error);
        }
        let result = self.advance(sink);
        match result {
            Err(error) if error.is_expectation() => {
                self.summary.failures = self.summary.failures.saturating_add(1);
                self.summary.first_failure.get_or_insert(error);
            }
            Err(error) => self.halted = Some(error),
            Ok(StepOutcome::Ran(step)) if step.fault.is_some() => {
                self.summary.faults = self.summary.faults.saturating_add(1);
            }
            Ok(_) => {}
        }
        result
    }

    /// The step number the next step will have: set a [`TextSink`]'s `step` to it before
    /// calling [`step`](Machine::step), or use [`step_traced`](Machine::step_traced).
    pub fn next_index(&self) -> u32 {
        self.steps.saturating_add(1)
    }

    /// [`step`](Machine::step) into a [`TextSink`], numbering its lines with the step.
    pub fn step_traced<W: fmt::Write>(
        &mut self,
        text: &mut TextSink<W>,
    ) -> Result<StepOutcome, ScriptError> {
        text.step = self.next_index();
        self.step(text)
    }

    /// Runs to the end, at most `max_steps` steps. Failed expectations are counted (the
    /// first is kept) and running goes on; a hard error, or reaching `max_steps`, ends the
    /// run with `Err`.
    pub fn run(&mut self, sink: &mut dyn Sink, max_steps: u32) -> Result<RunSummary, ScriptError> {
        self.run_with(max_steps, |m| m.step(sink))
    }

    /// [`run`](Machine::run) into a [`TextSink`], numbering its lines with the step.
    pub fn run_traced<W: fmt::Write>(
        &mut self,
        text: &mut TextSink<W>,
        max_steps: u32,
    ) -> Result<RunSummary, ScriptError> {
        self.run_with(max_steps, |m| m.step_traced(text))
    }

    fn run_with(
        &mut self,
        max_steps: u32,
        mut step: impl FnMut(&mut Self) -> Result<StepOutcome, ScriptError>,
    ) -> Result<RunSummary, ScriptError> {
        let mut ran = 0u32;
        loop {
            if ran >= max_steps && self.next_line().is_some() {
                let line = self.next_line().unwrap_or(self.line);
                let text = self.line_text(line).unwrap_or("");
                let error =
                    ScriptError::at(text, line, 0, text.len(), ErrorKind::StepLimit(max_steps));
                self.halted = Some(error);
                return Err(error);
            }
            match step(self) {
                Ok(StepOutcome::Finished) => return Ok(self.summary()),
                Ok(StepOutcome::Ran(_)) => {}
                Err(error) if error.is_expectation() => {}
                Err(error) => return Err(error),
            }
            ran = ran.saturating_add(1);
        }
    }

    /// Runs one statement that is not part of the script (a console line), as line
    /// `line`. It counts as a step; `repeat` and `}` are refused.
    pub fn exec(
        &mut self,
        text: &str,
        line: u32,
        sink: &mut dyn Sink,
    ) -> Result<Step, ScriptError> {
        let stmt = parse_line(text, line, &mut self.core)?;
        if matches!(stmt, Stmt::Repeat(_) | Stmt::Close) {
            let start = text.len() - text.trim_start().len();
            return Err(ScriptError::at(
                text,
                line,
                start,
                text.trim_end().len(),
                ErrorKind::NotInScript,
            ));
        }
        let index = self.steps.saturating_add(1);
        let step = self.core.exec(stmt, text, line, index, sink)?;
        self.steps = index;
        Ok(step)
    }

    fn advance(&mut self, sink: &mut dyn Sink) -> Result<StepOutcome, ScriptError> {
        let source = self.source.as_ref();
        // Each turn either returns, moves `pc` forward, or jumps back to a block body that
        // holds a statement, so the loop ends within one pass over the text.
        loop {
            let Some((text, next)) = line_at(source, self.pc) else {
                return Ok(StepOutcome::Finished);
            };
            let line = self.next_line;
            let stmt = parse_line(text, line, &mut self.core)?;
            match stmt {
                Stmt::Empty => {}
                Stmt::Close => {
                    let top = self
                        .depth
                        .checked_sub(1)
                        .and_then(|d| self.frames.get_mut(d));
                    match top {
                        Some(frame) if frame.remaining > 1 => {
                            frame.remaining -= 1;
                            self.pc = frame.body;
                            self.next_line = frame.body_line;
                            continue;
                        }
                        Some(_) => self.depth -= 1,
                        None => {
                            let kind = ErrorKind::UnmatchedClose;
                            return Err(ScriptError::at(text, line, 0, text.len(), kind));
                        }
                    }
                }
                Stmt::Repeat(count) => {
                    let index = self.steps.saturating_add(1);
                    let body_line = line.saturating_add(1);
                    let whole = |kind| ScriptError::at(text, line, 0, text.len(), kind);
                    let end = block_end(source, next, body_line)
                        .ok_or(whole(ErrorKind::UnclosedBlock))?;
                    if count == 0 || !end.has_statement {
                        self.pc = end.after;
                        self.next_line = end.after_line;
                    } else {
                        let max = MAX_DEPTH as u32;
                        let frame =
                            self.frames
                                .get_mut(self.depth)
                                .ok_or(whole(ErrorKind::TooMany {
                                    what: "nested repeat blocks",
                                    max,
                                }))?;
                        *frame = Frame {
                            body: next,
                            body_line,
                            remaining: count,
                        };
                        self.depth += 1;
                        self.pc = next;
                        self.next_line = body_line;
                    }
                    self.core.last_fault = None;
                    self.steps = index;
                    self.line = line;
                    return Ok(StepOutcome::Ran(Step {
                        index,
                        line,
                        kind: StepKind::Repeat,
                        fault: None,
                        value: Some(count),
                    }));
                }
                stmt => {
                    // Move on first, so that after a failed expectation the next step
                    // runs the next line.
                    self.pc = next;
                    self.next_line = line.saturating_add(1);
                    let index = self.steps.saturating_add(1);
                    self.steps = index;
                    self.line = line;
                    if matches!(stmt, Stmt::Expect { .. }) {
                        self.summary.expectations = self.summary.expectations.saturating_add(1);
                    }
                    return self
                        .core
                        .exec(stmt, text, line, index, sink)
                        .map(StepOutcome::Ran);
                }
            }
            self.pc = next;
            self.next_line = line.saturating_add(1);
        }
    }
}

fn align4(addr: u64) -> u64 {
    (addr + 3) & !3
}

impl<S: Storage> Core<S> {
    fn pool(&self, name: &str) -> Option<&Pool> {
        self.pools
            .iter()
            .flatten()
            .find(|p| p.name().as_str() == name)
    }

    fn pool_index(&self, name: Name) -> Option<usize> {
        self.pools
            .iter()
            .position(|p| p.as_ref().is_some_and(|p| p.name() == name))
    }

    fn sys_index(&self) -> Option<usize> {
        self.pools
            .iter()
            .position(|p| matches!(p, Some(Pool::Sys(_))))
    }

    /// Runs a parsed statement as step `index`.
    fn exec(
        &mut self,
        stmt: Stmt<'_>,
        text: &str,
        line: u32,
        index: u32,
        sink: &mut dyn Sink,
    ) -> Result<Step, ScriptError> {
        let error = |span: Span, kind| ScriptError::at(text, line, span.start, span.end, kind);
        // The subsystem a fault of this step comes from.
        let mut source = Name::lit("machine");
        let mut step = Step {
            index,
            line,
            kind: StepKind::Config,
            fault: None,
            value: None,
        };
        match stmt {
            Stmt::Empty | Stmt::Close | Stmt::Repeat(_) => {}
            // dyn, tlsf, adm, asm, screen, awtk
            Stmt::Preset { name, span } => {
                if let Some(fault) = self.preset(name, span, text, line, index, sink)? {
                    step.fault = Some(fault.error);
                    source = fault.source;
                }
            }
            Stmt::Ram {
                name,
                base,
                size,
                kind,
            } => {
                self.ram
                    .add_region(name.name, kind, base, size)
                    .map_err(|e| {
                        let hint = match e {
                            crate::ram::RamError::OutOfStorage { .. } => Hint::Text(
                                "the machine's RAM storage is smaller than the regions declared",
                            ),
                            _ => Hint::None,
                        };
                        error(name.span, ErrorKind::Ram(e)).with_hint(hint)
                    })?;
                sink.event(&Event {
                    source: name.name,
                    kind: EventKind::Init { base, size },
                });
            }
            // pages, vm, tasks, timers
            Stmt::Config(config @ (Config::Pages { .. } | Config::Vm(_))) => {
                source = config.pool_name();
                step.fault = self.configure_kernel(config, text, line, sink)?;
            }
            Stmt::Config(config) => {
                source = config.pool_name();
                step.fault = self.configure(config, text, line, sink)?.map(Into::into);
            }
            Stmt::Seed(seed) => {
                step.kind = StepKind::Seed;
                self.prng = Prng::new(seed as u64);
                let kind = EventKind::Machine(MachineEvent::Seed { seed });
                sink.event(&Event {
                    source: Name::lit("prng"),
                    kind,
                });
            }
            Stmt::Tick(by) => {
                step.kind = StepKind::Clock;
                self.clock = self.clock.saturating_add(by as u64);
                let kind = EventKind::Machine(MachineEvent::Tick {
                    by,
                    now: self.clock,
                });
                sink.event(&Event {
                    source: Name::lit("clock"),
                    kind,
                });
                // dyn, tlsf, adm, asm, screen, awtk: an app's stop advances with the clock.
                if let Some(fault) = self.tick_heaps(by, text, line, sink)? {
                    step.fault = Some(fault.error);
                    source = fault.source;
                }
                // pages, vm, tasks, timers: the task system's clock advances too.
                if let Some(fault) = self.tick_kernel(by, sink) {
                    if step.fault.is_none() {
                        source = fault.source;
                        step.fault = Some(fault.error);
                    }
                }
            }
            Stmt::Let { var, value } => {
                step.kind = StepKind::Assign;
                step.value = Some(value);
                self.vars
                    .set(var.name, value)
                    .map_err(|k| error(var.span, k))?;
            }
            Stmt::Call { dest, pool, call } => {
                step.kind = StepKind::Call;
                source = pool.name;
                let (value, fault) = match call {
                    // pages, vm, tasks, timers
                    Call::Pages(_) | Call::Vm(_) => {
                        self.kernel_call(pool, call, text, line, sink)?
                    }
                    _ => {
                        let (value, fault) = self.call(pool, call, text, line, sink)?;
                        (value, fault.map(Into::into))
                    }
                };
                step.value = value;
                step.fault = fault;
                // A destination always gets a value, so a name the check saw assigned
                // exists at run time: 0 when the operation produced none.
                if let Some(dest) = dest {
                    self.vars
                        .set(dest.name, value.unwrap_or(0))
                        .map_err(|k| error(dest.span, k))?;
                }
            }
            Stmt::Poke {
                addr,
                value,
                width,
                span,
            } => {
                step.kind = StepKind::Memory;
                let region = self.region_name(addr);
                let written = match width {
                    Width::Byte => self.ram.write_u8(addr, value as u8),
                    Width::Word => self.ram.write_u32(addr, value),
                };
                written.map_err(|f| error(span, ErrorKind::Access(f)).with_hint(ACCESS_HINT))?;
                let kind = match width {
                    Width::Byte => EventKind::Fill {
                        addr,
                        len: 1,
                        byte: value as u8,
                        field: Field::Data,
                    },
                    Width::Word => EventKind::Meta {
                        addr,
                        field: Field::Data,
                        value,
                    },
                };
                sink.event(&Event {
                    source: region,
                    kind,
                });
            }
            Stmt::Peek {
                dest,
                addr,
                width,
                span,
            } => {
                step.kind = StepKind::Memory;
                let read = match width {
                    Width::Byte => self.ram.read_u8(addr).map(u32::from),
                    Width::Word => self.ram.read_u32(addr),
                };
                let value =
                    read.map_err(|f| error(span, ErrorKind::Access(f)).with_hint(ACCESS_HINT))?;
                step.value = Some(value);
                if let Some(dest) = dest {
                    self.vars
                        .set(dest.name, value)
                        .map_err(|k| error(dest.span, k))?;
                }
            }
            Stmt::Fill {
                addr,
                len,
                byte,
                span,
            } => {
                step.kind = StepKind::Memory;
                let region = self.region_name(addr);
                self.ram
                    .fill(addr, len, byte)
                    .map_err(|f| error(span, ErrorKind::Access(f)).with_hint(ACCESS_HINT))?;
                let kind = EventKind::Fill {
                    addr,
                    len,
                    byte,
                    field: Field::Data,
                };
                sink.event(&Event {
                    source: region,
                    kind,
                });
            }
            Stmt::Note { span, .. } => {
                step.kind = StepKind::Note(span);
                return Ok(step);
            }
            Stmt::Check => {
                step.kind = StepKind::Check;
                for pool in self.pools.iter().flatten() {
                    if let Err(e) = pool.check(&self.ram) {
                        let kind = EventKind::Fault {
                            op: Op::Check,
                            error: e,
                        };
                        sink.event(&Event {
                            source: pool.name(),
                            kind,
                        });
                        if step.fault.is_none() {
                            step.fault = Some(e.into());
                            source = pool.name();
                        }
                    }
                }
                // pages, vm, tasks, timers
                if let Some(fault) = self.check_kernel(sink) {
                    if step.fault.is_none() {
                        step.fault = Some(fault.error);
                        source = fault.source;
                    }
                }
            }
            Stmt::Expect { expect, span } => {
                step.kind = StepKind::Expect;
                match expect {
                    Expect::Compare { left, cmp, right } if !cmp.holds(left, right) => {
                        return Err(error(span, ErrorKind::ExpectFailed { left, cmp, right }));
                    }
                    Expect::Fault(wanted) => {
                        let found = self.last_fault.map(|f| f.error);
                        // dyn, tlsf, adm, asm, screen, awtk: `GuardCorrupted` is an alias.
                        if !heaps::fault_matches(wanted, found) {
                            let kind = ErrorKind::ExpectFault { wanted, found };
                            return Err(error(span, kind));
                        }
                    }
                    Expect::Compare { .. } => {}
                    // dyn, tlsf, adm, asm, screen, awtk
                    Expect::State(_) | Expect::PromptOpen(_) => {
                        self.expect_prompt(expect)
                            .map_err(|kind| error(span, kind))?;
                    }
                }
                return Ok(step);
            }
            // pages, vm, tasks, timers
            Stmt::Kernel(kernel) => {
                let (value, fault) = self.exec_kernel(kernel, text, line, &mut step, sink)?;
                step.value = value;
                if let Some(fault) = fault {
                    source = fault.source;
                    step.fault = Some(fault.error);
                }
                if let Some(dest) = kernel.dest() {
                    self.vars
                        .set(dest.name, value.unwrap_or(0))
                        .map_err(|k| error(dest.span, k))?;
                }
            }
        }
        self.last_fault = step.fault.map(|error| LastFault { source, error });
        Ok(step)
    }

    /// The name of the region holding `addr`, for the source of a poke's event.
    fn region_name(&self, addr: Addr) -> Name {
        self.ram
            .region_of(addr)
            .map_or(Name::lit("ram"), |r| r.name)
    }

    /// An operation on a pool; returns the value it produced and its fault.
    fn call(
        &mut self,
        pool: Named,
        call: Call,
        text: &str,
        line: u32,
        sink: &mut dyn Sink,
    ) -> Result<(Option<u32>, Option<AllocError>), ScriptError> {
        let Some(index) = self.pool_index(pool.name) else {
            return Err(ScriptError::at(
                text,
                line,
                pool.span.start,
                pool.span.end,
                ErrorKind::UnknownPool(pool.name),
            )
            .with_hint(Hint::Text(
                "its configuration failed: see the fault on that line",
            )));
        };
        // dyn, tlsf, adm, asm, screen, awtk: the operations of their own.
        if let Some(done) = self.call_heap(index, pool, call, text, line, sink)? {
            return Ok(done);
        }
        let Some(Some(target)) = self.pools.get_mut(index) else {
            return Ok((None, None));
        };
        let mut cx = Ctx::new(&mut self.ram, sink);
        let (value, result) = match call {
            Call::Alloc {
                size,
                owner,
                region,
            } => {
                let result = match (target, region) {
                    (Pool::Sys(sys), Some(region)) => {
                        sys.alloc_in(&mut cx, region.name, size, owner)
                    }
                    (target, _) => target.alloc(&mut cx, size, owner),
                };
                (Some(*result.as_ref().unwrap_or(&0)), result.map(|_| ()))
            }
            Call::Free(Target::Addr(addr)) => (None, target.free(&mut cx, addr)),
            Call::Free(Target::Any) => {
                let count = target.live_blocks(cx.ram, &mut |_, _| {});
                let count = match count {
                    Ok(c) => c,
                    Err(e) => {
                        let kind = EventKind::Fault {
                            op: Op::Check,
                            error: e,
                        };
                        cx.emit(target.name(), kind);
                        return Ok((None, Some(e)));
                    }
                };
                if count == 0 {
                    return Ok((None, None));
                }
                let pick = self.prng.below(count);
                let mut chosen = None;
                let _ = target.live_blocks(cx.ram, &mut |i, addr| {
                    if i == pick {
                        chosen = Some(addr);
                    }
                });
                match chosen {
                    Some(addr) => (Some(addr), target.free(&mut cx, addr)),
                    None => (None, Ok(())),
                }
            }
            Call::Realloc { addr, size, owner } => {
                let result = target.realloc(&mut cx, addr, size, owner);
                (Some(*result.as_ref().unwrap_or(&0)), result.map(|_| ()))
            }
            // pages, vm, tasks, timers: run by `kernel_call`.
            Call::Pages(_) | Call::Vm(_) => (None, Ok(())),
            // dyn, tlsf, adm, asm, screen, awtk: `call_heap` ran them.
            _ => (None, Ok(())),
        };
        Ok((value, result.err()))
    }

    /// Builds a pool; a refusal by the engine is a fault (returned), a placement that does
    /// not fit its region is a script error.
    fn configure(
        &mut self,
        config: Config,
        text: &str,
        line: u32,
        sink: &mut dyn Sink,
    ) -> Result<Option<AllocError>, ScriptError> {
        let error = |span: Span, kind| ScriptError::at(text, line, span.start, span.end, kind);
        let whole = Span {
            start: text.len() - text.trim_start().len(),
            end: text.trim_end().len(),
        };
        let name = config.pool_name();
        if self.pool_index(name).is_some() {
            return Err(error(whole, ErrorKind::Duplicate(name)));
        }
        let Some(slot) = self.pools.iter().position(Option::is_none) else {
            let max = MAX_POOLS as u32;
            return Err(error(whole, ErrorKind::TooMany { what: "pools", max }));
        };
        let built = match config {
            Config::Sys { areas, records } => {
                let mut placed = self.placed;
                let mut list = [Area::new(0, 0); MAX_AREAS];
                let mut count = 0;
                if areas.iter().all(Option::is_none) {
                    for (i, region) in self.ram.regions().enumerate() {
                        let used = placed.get(i).copied().unwrap_or(0);
                        let base = align4(region.base as u64 + used as u64);
                        let left = region.end().saturating_sub(base);
                        if left >= 4 {
                            if let Some(a) = list.get_mut(count) {
                                *a = Area::new(base as u32, left as u32);
                                count += 1;
                            }
                            if let Some(p) = placed.get_mut(i) {
                                *p = region.size;
                            }
                        }
                    }
                    if count == 0 {
                        return Err(error(
                            whole,
                            ErrorKind::Needs("a RAM region with room (`ram`)"),
                        ));
                    }
                }
                for spec in areas.iter().flatten() {
                    let area = match *spec {
                        AreaSpec::Range { base, size } => Area::new(base, size),
                        AreaSpec::Region { region, size } => {
                            let (base, size) = self.take(&mut placed, region, size, text, line)?;
                            Area::new(base, size)
                        }
                    };
                    if let Some(a) = list.get_mut(count) {
                        *a = area;
                        count += 1;
                    }
                }
                let records = records.unwrap_or(DEFAULT_RECORDS);
                let mut cx = Ctx::new(&mut self.ram, sink);
                let areas = list.get(..count).unwrap_or(&[]);
                SystemMemory::with_records(&mut cx, name, areas, records).map(|sys| {
                    self.placed = placed;
                    Pool::Sys(sys)
                })
            }
            Config::Ctrl { table, classes } => {
                let sys_index = self.sys_index();
                let Some(Some(Pool::Sys(sys))) = sys_index.and_then(|i| self.pools.get_mut(i))
                else {
                    return Err(
                        error(whole, ErrorKind::Needs("system memory (`sys`)"))
                            .with_hint(Hint::Text(
                            "the `sys` line failed, so there is nothing to carve the classes from",
                        )),
                    );
                };
                let mut cx = Ctx::new(&mut self.ram, sink);
                let table = table.get(..classes).unwrap_or(&[]);
                CtrlBuffer::new(&mut cx, name, sys, table).map(Pool::Ctrl)
            }
            Config::Part { shape, place, .. } => {
                let size = match shape {
                    PartShape::Count { block, count } => PartitionPool::bytes_needed(block, count),
                    PartShape::Fit { size, .. } => Ok(size),
                };
                match size {
                    Err(e) => Err(self.init_fault(name, e.into(), sink)),
                    Ok(size) => match self.place(place, size, text, line, sink)? {
                        Err(e) => Err(e),
                        Ok((base, placed)) => {
                            let mut cx = Ctx::new(&mut self.ram, sink);
                            let pool = match shape {
                                PartShape::Count { block, count } => {
                                    PartitionPool::with_count(&mut cx, name, base, block, count)
                                }
                                PartShape::Fit { size, block } => {
                                    PartitionPool::new(&mut cx, name, base, size, block)
                                }
                            };
                            pool.map(|p| {
                                self.placed = placed;
                                Pool::Part(p)
                            })
                        }
                    },
                }
            }
            Config::Lab {
                size,
                place,
                config,
                ..
            } => match self.place(place, size, text, line, sink)? {
                Err(e) => Err(e),
                Ok((base, placed)) => {
                    let mut cx = Ctx::new(&mut self.ram, sink);
                    match PolicyLab::new(&mut cx, name, base, size, config) {
                        Ok(lab) => {
                            self.placed = placed;
                            Ok(Pool::Lab(lab))
                        }
                        // The lab reports a refused configuration without a fault event.
                        Err(e) => Err(self.init_fault(name, e, sink)),
                    }
                }
            },
            // pages, vm, tasks, timers: built by `configure_kernel`.
            Config::Pages { .. } | Config::Vm(_) => return Ok(None),
            // dyn, tlsf, adm, asm, screen, awtk
            other => match self.configure_heap(other, name, text, line, sink)? {
                Some(built) => built,
                None => return Ok(None),
            },
        };
        match built {
            Ok(pool) => {
                if let Some(s) = self.pools.get_mut(slot) {
                    *s = Some(pool);
                }
                Ok(None)
            }
            Err(e) => Ok(Some(e)),
        }
    }

    /// Emits the `fault` event of a pool that could not be created.
    fn init_fault(&self, name: Name, error: AllocError, sink: &mut dyn Sink) -> AllocError {
        let kind = EventKind::Fault {
            op: Op::Init,
            error,
        };
        sink.event(&Event { source: name, kind });
        error
    }

    /// The next `size` bytes (all that is left when `None`) of `region`, 4-aligned, as
    /// `(base, size)`; advances `placed`.
    fn take(
        &self,
        placed: &mut [u32; MAX_REGIONS],
        region: Named,
        size: Option<u32>,
        text: &str,
        line: u32,
    ) -> Result<(Addr, u32), ScriptError> {
        let error = |kind| ScriptError::at(text, line, region.span.start, region.span.end, kind);
        let Some((i, r)) = self
            .ram
            .regions()
            .enumerate()
            .find(|(_, r)| r.name == region.name)
        else {
            return Err(error(ErrorKind::UnknownRegion(region.name)));
        };
        let used = placed.get(i).copied().unwrap_or(0);
        let base = align4(r.base as u64 + used as u64);
        let left = r.end().saturating_sub(base);
        let size = size.unwrap_or(left.min(u32::MAX as u64) as u32);
        if size as u64 > left {
            return Err(error(ErrorKind::RegionFull {
                region: region.name,
                needed: size,
                left: left.min(u32::MAX as u64) as u32,
            })
            .with_hint(Hint::Text(
                "give the region more bytes in its `ram` line, or place the pool elsewhere",
            )));
        }
        if let Some(p) = placed.get_mut(i) {
            *p = (base + size as u64 - r.base as u64) as u32;
        }
        Ok((base as Addr, size))
    }

    /// Where a pool of `size` bytes goes: `Ok(Ok((base, placed)))`, or a fault of the
    /// system-memory carve (already in the trace), or a script error.
    #[allow(clippy::type_complexity)]
    fn place(
        &mut self,
        place: Place,
        size: u32,
        text: &str,
        line: u32,
        sink: &mut dyn Sink,
    ) -> Result<Result<(Addr, [u32; MAX_REGIONS]), AllocError>, ScriptError> {
        let mut placed = self.placed;
        let place = match place {
            Place::Default if self.sys_index().is_some() => Place::FromSys,
            Place::Default => {
                let Some(first) = self.ram.regions().next() else {
                    let whole = text.trim_end().len();
                    return Err(ScriptError::at(
                        text,
                        line,
                        0,
                        whole,
                        ErrorKind::Needs("a RAM region (`ram`)"),
                    ));
                };
                let span = Span {
                    start: 0,
                    end: text.trim_end().len(),
                };
                Place::On(Named {
                    name: first.name,
                    span,
                })
            }
            other => other,
        };
        Ok(match place {
            Place::At(base) => Ok((base, placed)),
            Place::On(region) => {
                let (base, _) = self.take(&mut placed, region, Some(size), text, line)?;
                Ok((base, placed))
            }
            Place::FromSys | Place::Default => {
                let Some(Some(Pool::Sys(sys))) =
                    self.sys_index().and_then(|i| self.pools.get_mut(i))
                else {
                    let whole = text.trim_end().len();
                    return Err(ScriptError::at(
                        text,
                        line,
                        0,
                        whole,
                        ErrorKind::Needs("system memory (`sys`)"),
                    ));
                };
                let mut cx = Ctx::new(&mut self.ram, sink);
                sys.alloc(&mut cx, size, Owner::NONE)
                    .map(|base| (base, placed))
            }
        })
    }
}

const ACCESS_HINT: Hint =
    Hint::Text("poke, peek and fill only inside the RAM regions of the `ram` lines");

impl<S: Storage> Env for Core<S> {
    fn var(&self, name: &str) -> Option<u32> {
        self.vars.get(name)
    }

    fn similar_var(&self, word: &str) -> Option<Name> {
        self.vars.similar(word)
    }

    fn pool(&self, name: &str) -> Option<PoolKind> {
        Core::pool(self, name)
            .map(Pool::kind)
            .or_else(|| self.kernel.pool_kind(name))
    }

    fn similar_pool(&self, word: &str) -> Option<Name> {
        let mut names = [Name::lit("_"); MAX_POOLS];
        for (slot, pool) in names.iter_mut().zip(self.pools.iter().flatten()) {
            *slot = pool.name();
        }
        let count = self.pools.iter().flatten().count();
        let known = names.iter().take(count).map(|n| n.as_str());
        let found = crate::script::errors::closest(word, known)?;
        Name::new(found).ok()
    }

    fn region(&self, name: &str) -> bool {
        Name::new(name).is_ok_and(|n| self.ram.region_named(n).is_some())
    }

    fn query(&mut self, query: Query, pool: Name) -> Result<u32, ErrorKind> {
        let Some(p) = Core::pool(self, pool.as_str()) else {
            return Err(ErrorKind::UnknownPool(pool));
        };
        if let (Query::Left, Pool::Sys(sys)) = (query, p) {
            return sys
                .left_size(&self.ram)
                .map(|l| l.total)
                .map_err(ErrorKind::Unreadable);
        }
        if query == Query::Searched {
            return Ok(match p {
                Pool::Lab(lab) => u32::try_from(lab.total_searched()).unwrap_or(u32::MAX),
                _ => 0,
            });
        }
        // dyn, tlsf, adm, asm, screen, awtk: the figures of their own.
        if let Some(answer) = heaps::query(query, p, &self.ram) {
            return answer;
        }
        let stats = p.stats(&self.ram).map_err(ErrorKind::Unreadable)?;
        Ok(match query {
            Query::Used => stats.used,
            Query::Free | Query::Left => stats.free,
            Query::Largest => stats.largest_free,
            Query::Blocks => stats.blocks,
            Query::Frag => stats.fragmentation_permille,
            Query::Capacity => stats.capacity,
            Query::Overhead => stats.overhead,
            Query::Searched => 0,
            // dyn, tlsf, adm, asm, screen, awtk: answered by `heaps::query`.
            Query::Usage(_) | Query::Leaks | Query::Granted | Query::Victim => 0,
        })
    }

    fn rand(&mut self, lo: u32, hi: u32) -> u32 {
        self.prng.range(lo, hi)
    }

    fn dry(&self) -> bool {
        false
    }

    // pages, vm, tasks, timers
    fn task(&self, name: &str) -> bool {
        self.kernel.tasks.has_task(name)
    }

    fn behaviour(&self, name: &str) -> bool {
        self.kernel.tasks.behaviour_id(name).is_some()
    }

    fn booted(&self) -> bool {
        self.kernel.tasks.kal().is_some()
    }

    fn figure(&mut self, figure: crate::script::kernel::Figure) -> Result<u32, ErrorKind> {
        self.kernel_figure(figure)
    }
}
