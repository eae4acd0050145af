//! The machine's kernel subsystems: LiteOS-A's physical pages (a [`Pool`]) and virtual
//! memory, and MTK's task table with its timers, kept beside the pools.
//!
//! The task table is built line by line (`task`, `behaviour`, `on`, `timers`) into the
//! engine's configuration types, with tasks named in declaration order; `boot` orders
//! the rows as KAL does (`sys_comp_config_tbl` first, then `custom_comp_config_tbl`),
//! renumbers the tasks the behaviours and rules name, and boots [`Kal`] on system memory.
//!
//! A kernel operation's fault is the error it returns; an operation that succeeds may
//! still have reported a fault it survives (a handler's message to a full queue, an
//! expiry the MMI queue could not take), which a [`Watch`] over the sink picks up.

use super::*;

use crate::evshed::{EventId, TimerEvent};
use crate::pages::{PageError, PageEvent, PhysArea, MAX_ORDER, MAX_SEGMENTS};
use crate::script::ast::PRESETS;
use crate::script::kernel::{
    ActionSpec, BrkTo, Callback, Figure, KernelStmt, PagesCall, PagesFree, TaskRow, TimerStmt,
    VmCall, When,
};
use crate::task::{
    Action, Behaviour, BehaviourId, Kal, KalConfig, Program, QueueKind, Src, TaskConfig, TaskError,
    TaskEvent, TaskId, TaskOp, TaskState, TimerConfig, MAX_ACTIONS, MAX_BEHAVIOURS, MAX_TASKS,
};
use crate::vm::{rf, SpaceId, SpaceKind, Vm, VmError, VmEvent, VmOp, NO_SPACE};

/// The name the task system's own events carry.
pub const KAL_NAME: Name = Name::lit("kal");
/// While timers are pending, `tick` advances the task system's clock at most this many
/// ticks at a time (unless the next expiry is further).
pub const TICK_CHUNK: u32 = 1024;
/// The messages the MMI task may handle in one `tick` step before the clock stops.
pub const TICK_MESSAGES: u32 = 1024;
/// The largest `boot budget`: turns one `run` may take.
pub const MAX_BUDGET: u32 = 100_000;

/// A fault and the subsystem it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Found {
    pub(super) source: Name,
    pub(super) error: StepFault,
}

/// Forwards events and keeps the first fault among them.
struct Watch<'s> {
    sink: &'s mut dyn Sink,
    first: Option<Found>,
}

impl<'s> Watch<'s> {
    fn new(sink: &'s mut dyn Sink) -> Watch<'s> {
        Watch { sink, first: None }
    }
}

impl Sink for Watch<'_> {
    fn event(&mut self, event: &Event) {
        if self.first.is_none() {
            let error: Option<StepFault> = match event.kind {
                EventKind::Fault { error, .. } => Some(error.into()),
                EventKind::Page(PageEvent::Fault { error, .. }) => Some(error.into()),
                EventKind::Vm(VmEvent::Fault { error, .. }) => Some(error.into()),
                EventKind::Task(TaskEvent::Fault { error, .. }) => Some(error.into()),
                EventKind::Timer(TimerEvent::Fault { error, .. }) => Some(error.into()),
                _ => None,
            };
            self.first = error.map(|error| Found {
                source: event.source,
                error,
            });
        }
        self.sink.event(event);
    }
}

/// The step's fault: the error returned by `source`'s operation, else the first fault
/// reported on the way.
fn outcome<T, E: Into<StepFault>>(
    source: Name,
    result: Result<T, E>,
    watched: Option<Found>,
) -> (Option<T>, Option<Found>) {
    match result {
        Ok(v) => (Some(v), watched),
        Err(e) => (
            None,
            Some(Found {
                source,
                error: e.into(),
            }),
        ),
    }
}

/// The task table while it is written, before `boot`. Tasks are numbered in declaration
/// order here.
#[derive(Clone, Copy, Debug)]
struct Rows {
    rows: [TaskConfig; MAX_TASKS],
    sys: [bool; MAX_TASKS],
    mmi: [bool; MAX_TASKS],
    count: usize,
    program: Program,
    timers: TimerConfig,
}

#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
enum Table {
    Building(Rows),
    Booted(Kal),
}

/// The task system: the behaviours' names (their ids are their positions) and the table,
/// then the booted [`Kal`].
#[derive(Clone, Debug)]
pub(super) struct Tasks {
    behaviours: [Name; MAX_BEHAVIOURS],
    behaviour_count: usize,
    table: Table,
}

impl Default for Tasks {
    fn default() -> Tasks {
        let blank = TaskConfig::new(Name::lit("_"), 0, 0, 0, 0);
        Tasks {
            behaviours: [Name::lit("_"); MAX_BEHAVIOURS],
            behaviour_count: 0,
            table: Table::Building(Rows {
                rows: [blank; MAX_TASKS],
                sys: [false; MAX_TASKS],
                mmi: [false; MAX_TASKS],
                count: 0,
                program: Program::new(),
                timers: TimerConfig::default(),
            }),
        }
    }
}

impl Tasks {
    pub(super) fn kal(&self) -> Option<&Kal> {
        match &self.table {
            Table::Booted(kal) => Some(kal),
            Table::Building(_) => None,
        }
    }

    fn rows(&self) -> &[TaskConfig] {
        match &self.table {
            Table::Building(r) => r.rows.get(..r.count).unwrap_or(&[]),
            Table::Booted(_) => &[],
        }
    }

    pub(super) fn has_task(&self, name: &str) -> bool {
        match &self.table {
            Table::Booted(kal) => kal.tasks().any(|t| t.config.name.as_str() == name),
            Table::Building(_) => self.rows().iter().any(|r| r.name.as_str() == name),
        }
    }

    pub(super) fn behaviour_id(&self, name: &str) -> Option<u8> {
        behaviour_index(&self.behaviours, self.behaviour_count, name)
    }

    /// The id of a booted task.
    fn task_id(&self, name: Name) -> Option<TaskId> {
        self.kal()?.task_named(name)
    }
}

/// Virtual memory and the task system.
#[derive(Clone, Debug, Default)]
pub(super) struct Kernel {
    pub(super) vm: Option<Vm>,
    pub(super) tasks: Tasks,
}

impl Kernel {
    /// `vm`'s kind when it is configured.
    pub(super) fn pool_kind(&self, name: &str) -> Option<PoolKind> {
        (name == "vm" && self.vm.is_some()).then_some(PoolKind::Vm)
    }
}

/// The id of the behaviour named `name` among the first `count` of `names`.
fn behaviour_index(names: &[Name], count: usize, name: &str) -> Option<u8> {
    let known = names.get(..count).unwrap_or(&[]);
    known
        .iter()
        .position(|n| n.as_str() == name)
        .map(|i| i as u8)
}

/// A behaviour by name or number.
fn behaviour_of(
    names: &[Name],
    count: usize,
    callback: Callback,
    error: impl Fn(Span, ErrorKind) -> ScriptError,
) -> Result<BehaviourId, ScriptError> {
    match callback {
        Callback::Named(b) => behaviour_index(names, count, b.name.as_str())
            .map(BehaviourId)
            .ok_or(error(b.span, ErrorKind::UnknownBehaviour(b.name))),
        Callback::Id(n) => Ok(BehaviourId(u8::try_from(n).unwrap_or(u8::MAX))),
    }
}

/// A space slot from a script value; a value no slot has stays out of range.
fn space_id(value: u32) -> SpaceId {
    SpaceId(u8::try_from(value).unwrap_or(u8::MAX))
}

/// An error that names the whole statement.
fn whole_error(text: &str, line: u32, kind: ErrorKind) -> ScriptError {
    let start = text.len() - text.trim_start().len();
    ScriptError::at(text, line, start, text.trim_end().len(), kind)
}

/// A figure that cannot be read because metadata is broken.
fn unreadable(error: TaskError) -> ErrorKind {
    match error {
        TaskError::Mem(e) => ErrorKind::Unreadable(e),
        _ => ErrorKind::Unreadable(AllocError::Inconsistent {
            at: 0,
            rule: "the task system could not answer",
        }),
    }
}

impl<S: Storage, T: AsRef<str>> Machine<S, T> {
    /// The virtual memory, once `vm` is configured.
    pub fn vm(&self) -> Option<&Vm> {
        self.core.kernel.vm.as_ref()
    }

    /// The physical pages, once `pages` is configured.
    pub fn phys(&self) -> Option<&PhysMem> {
        self.core.pools.iter().flatten().find_map(|p| match p {
            Pool::Pages(pm) => Some(pm),
            _ => None,
        })
    }

    /// The task system, once booted.
    pub fn kal(&self) -> Option<&Kal> {
        self.core.kernel.tasks.kal()
    }

    /// The presets `preset NAME` knows.
    pub fn presets() -> impl Iterator<Item = &'static str> {
        PRESETS.iter().map(|(n, _)| *n)
    }
}

impl<S: Storage> Core<S> {
    fn phys(&self) -> Option<PhysMem> {
        self.pools.iter().flatten().find_map(|p| match p {
            Pool::Pages(pm) => Some(*pm),
            _ => None,
        })
    }

    fn phys_or_error(&self, span: Span, text: &str, line: u32) -> Result<PhysMem, ScriptError> {
        self.phys().ok_or_else(|| {
            ScriptError::at(
                text,
                line,
                span.start,
                span.end,
                ErrorKind::UnknownPool(Name::lit("pages")),
            )
            .with_hint(Hint::Text(
                "its configuration failed: see the fault on that line",
            ))
        })
    }

    // ---- configuration ----

    /// Builds `pages` or `vm`; a refusal by the engine is the returned fault.
    pub(super) fn configure_kernel(
        &mut self,
        config: Config,
        text: &str,
        line: u32,
        sink: &mut dyn Sink,
    ) -> Result<Option<StepFault>, ScriptError> {
        let whole = |kind| whole_error(text, line, kind);
        let name = config.pool_name();
        match config {
            Config::Pages { page_size, areas } => {
                if self.pool_index(name).is_some() {
                    return Err(whole(ErrorKind::Duplicate(name)));
                }
                let Some(slot) = self.pools.iter().position(Option::is_none) else {
                    let max = MAX_POOLS as u32;
                    return Err(whole(ErrorKind::TooMany { what: "pools", max }));
                };
                let (list, count, placed) = self.page_areas(page_size, &areas, text, line)?;
                let mut cx = Ctx::new(&mut self.ram, sink);
                let areas = list.get(..count).unwrap_or(&[]);
                match PhysMem::boot(&mut cx, name, page_size, areas) {
                    Ok(pm) => {
                        self.placed = placed;
                        if let Some(s) = self.pools.get_mut(slot) {
                            *s = Some(Pool::Pages(pm));
                        }
                        Ok(None)
                    }
                    Err(e) => Ok(Some(e.into())),
                }
            }
            Config::Vm(cfg) => {
                if self.kernel.vm.is_some() {
                    return Err(whole(ErrorKind::Duplicate(name)));
                }
                let Some(pm) = self.phys() else {
                    return Err(
                        whole(ErrorKind::Needs("physical pages (`pages`)")).with_hint(Hint::Text(
                            "the `pages` line failed, so there are no pages for the page tables",
                        )),
                    );
                };
                let mut cx = Ctx::new(&mut self.ram, sink);
                match Vm::init(&mut cx, name, &pm, cfg) {
                    Ok(vm) => {
                        self.kernel.vm = Some(vm);
                        Ok(None)
                    }
                    Err(e) => Ok(Some(e.into())),
                }
            }
            _ => Ok(None),
        }
    }

    /// The physical areas of `pages`, page-aligned, in ascending order, and the bytes of
    /// each region placed afterwards.
    #[allow(clippy::type_complexity)]
    fn page_areas(
        &self,
        page_size: u32,
        areas: &[Option<AreaSpec>],
        text: &str,
        line: u32,
    ) -> Result<([PhysArea; MAX_SEGMENTS], usize, [u32; MAX_REGIONS]), ScriptError> {
        let align = if page_size.is_power_of_two() {
            page_size as u64
        } else {
            4
        };
        let mut placed = self.placed;
        let mut list = [PhysArea { start: 0, size: 0 }; MAX_SEGMENTS];
        let mut count = 0;
        // Areas past the segment limit are dropped: the parser allows no more.
        let push = |list: &mut [PhysArea], count: &mut usize, start: u64, size: u64| {
            if let Some(a) = list.get_mut(*count) {
                *a = PhysArea {
                    start: start.min(u32::MAX as u64) as u32,
                    size: size.min(u32::MAX as u64) as u32,
                };
                *count += 1;
            }
        };
        let rest = |placed: &[u32; MAX_REGIONS], i: usize, r: &crate::ram::Region| {
            let used = placed.get(i).copied().unwrap_or(0) as u64;
            let base = (r.base as u64 + used).div_ceil(align) * align;
            (base, r.end().saturating_sub(base))
        };
        if areas.iter().all(Option::is_none) {
            for (i, region) in self.ram.regions().enumerate() {
                let (base, left) = rest(&placed, i, &region);
                if left >= align {
                    push(&mut list, &mut count, base, left);
                    if let Some(p) = placed.get_mut(i) {
                        *p = region.size;
                    }
                }
            }
            if count == 0 {
                return Err(whole_error(
                    text,
                    line,
                    ErrorKind::Needs("a RAM region with room (`ram`)"),
                ));
            }
        }
        for spec in areas.iter().flatten() {
            match *spec {
                AreaSpec::Range { base, size } => {
                    push(&mut list, &mut count, base as u64, size as u64)
                }
                AreaSpec::Region { region, size } => {
                    let error = |kind| {
                        ScriptError::at(text, line, region.span.start, region.span.end, kind)
                    };
                    let Some((i, r)) = self
                        .ram
                        .regions()
                        .enumerate()
                        .find(|(_, r)| r.name == region.name)
                    else {
                        return Err(error(ErrorKind::UnknownRegion(region.name)));
                    };
                    let (base, left) = rest(&placed, i, &r);
                    let size = size.map_or(left, u64::from);
                    if size > left {
                        return Err(error(ErrorKind::RegionFull {
                            region: region.name,
                            needed: size.min(u32::MAX as u64) as u32,
                            left: left.min(u32::MAX as u64) as u32,
                        })
                        .with_hint(Hint::Text(
                            "pages start at a multiple of the page size: give the region more bytes",
                        )));
                    }
                    push(&mut list, &mut count, base, size);
                    if let Some(p) = placed.get_mut(i) {
                        *p = (base + size - r.base as u64).min(u32::MAX as u64) as u32;
                    }
                }
            }
        }
        list.get_mut(..count)
            .unwrap_or(&mut [])
            .sort_unstable_by_key(|a| a.start);
        Ok((list, count, placed))
    }

    // ---- operations of `pages` and `vm` ----

    /// `pages.verb` and `vm.verb`: the value produced and the fault.
    pub(super) fn kernel_call(
        &mut self,
        pool: Named,
        call: Call,
        text: &str,
        line: u32,
        sink: &mut dyn Sink,
    ) -> Result<(Option<u32>, Option<StepFault>), ScriptError> {
        let pm = self.phys_or_error(pool.span, text, line)?;
        let mut watch = Watch::new(sink);
        let (value, found) = match call {
            Call::Pages(c) => {
                let mut cx = Ctx::new(&mut self.ram, &mut watch);
                pages_call(&pm, &mut cx, c)
            }
            Call::Vm(c) => {
                let Some(vm) = self.kernel.vm else {
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
                let mut cx = Ctx::new(&mut self.ram, &mut watch);
                vm_call(&vm, &pm, &mut cx, c)
            }
            _ => (None, None),
        };
        let fault = found.or(watch.first).map(|f| f.error);
        Ok((value, fault))
    }

    // ---- the task system ----

    /// Runs a statement of the task system: the value it produced and its fault.
    pub(super) fn exec_kernel(
        &mut self,
        stmt: KernelStmt,
        text: &str,
        line: u32,
        step: &mut Step,
        sink: &mut dyn Sink,
    ) -> Result<(Option<u32>, Option<Found>), ScriptError> {
        let whole = |kind| whole_error(text, line, kind);
        let at = |span: Span, kind| ScriptError::at(text, line, span.start, span.end, kind);
        step.kind = StepKind::Config;
        if let KernelStmt::Boot {
            at: first_free,
            budget,
        } = stmt
        {
            return self.boot(first_free, budget, text, line, sink);
        }
        let Tasks {
            behaviours,
            behaviour_count,
            table,
        } = &mut self.kernel.tasks;
        if let Table::Building(rows) = table {
            let rows_known = rows.count;
            let row_of = |name: Named, rows: &Rows| {
                rows.rows
                    .get(..rows.count)
                    .and_then(|r| r.iter().position(|t| t.name == name.name))
                    .map(|i| TaskId(i as u8))
                    .ok_or(at(name.span, ErrorKind::UnknownTask(name.name)))
            };
            match stmt {
                KernelStmt::Task(row) => {
                    let TaskRow {
                        name,
                        priority,
                        stack,
                        ext,
                        int,
                        sys,
                        mmi,
                    } = row;
                    if row_of(name, rows).is_ok() {
                        return Err(at(name.span, ErrorKind::Duplicate(name.name)));
                    }
                    let Some(slot) = rows.rows.get_mut(rows_known) else {
                        let max = MAX_TASKS as u32;
                        return Err(at(name.span, ErrorKind::TooMany { what: "tasks", max }));
                    };
                    *slot = TaskConfig::new(name.name, priority, stack, ext, int);
                    if let Some(s) = rows.sys.get_mut(rows_known) {
                        *s = sys;
                    }
                    if let Some(m) = rows.mmi.get_mut(rows_known) {
                        *m = mmi;
                    }
                    rows.count += 1;
                    return Ok((None, None));
                }
                KernelStmt::Behaviour {
                    name,
                    stack,
                    actions,
                } => {
                    if behaviour_index(behaviours, *behaviour_count, name.name.as_str()).is_some() {
                        return Err(at(name.span, ErrorKind::Duplicate(name.name)));
                    }
                    let this = *behaviour_count;
                    let mut list = [Action::StopTimer { timer: 0 }; MAX_ACTIONS];
                    let mut n = 0;
                    for (slot, spec) in list.iter_mut().zip(actions.iter().flatten()) {
                        let callback = |c: Callback| -> Result<BehaviourId, ScriptError> {
                            match c {
                                Callback::Named(b) if b.name == name.name => {
                                    Ok(BehaviourId(this as u8))
                                }
                                c => behaviour_of(behaviours, this, c, at),
                            }
                        };
                        *slot = match *spec {
                            ActionSpec::Send { to, msg, payload } => Action::Send {
                                to: row_of(to, rows)?,
                                msg,
                                payload,
                            },
                            ActionSpec::Reply { msg, payload } => Action::Reply { msg, payload },
                            ActionSpec::Post { msg, payload } => {
                                Action::SendInternal { msg, payload }
                            }
                            ActionSpec::Timer(TimerStmt::Start {
                                timer,
                                delay,
                                aligned,
                                callback: c,
                            }) => Action::StartTimer {
                                timer,
                                delay,
                                callback: callback(c)?,
                                aligned,
                            },
                            ActionSpec::Timer(TimerStmt::Stop(timer)) => {
                                Action::StopTimer { timer }
                            }
                            ActionSpec::Timer(TimerStmt::Set {
                                delay,
                                aligned,
                                callback: c,
                                arg,
                            }) => Action::SetEvent {
                                delay,
                                callback: callback(c)?,
                                arg,
                                aligned,
                            },
                            // The parser allows no `cancel` in a behaviour.
                            ActionSpec::Timer(TimerStmt::Cancel(_)) => continue,
                        };
                        n += 1;
                    }
                    let too_many = |_| {
                        let max = MAX_BEHAVIOURS as u32;
                        at(
                            name.span,
                            ErrorKind::TooMany {
                                what: "behaviours",
                                max,
                            },
                        )
                    };
                    let Some(slot) = behaviours.get_mut(this) else {
                        return Err(too_many(()));
                    };
                    let actions = list.get(..n).unwrap_or(&[]);
                    let behaviour = Behaviour::with(stack, actions).map_err(|_| too_many(()))?;
                    rows.program.add(behaviour).map_err(|_| too_many(()))?;
                    *slot = name.name;
                    *behaviour_count += 1;
                    return Ok((None, None));
                }
                KernelStmt::On { task, when, run } => {
                    let id = row_of(task, rows)?;
                    let b = behaviour_of(behaviours, *behaviour_count, run, at)?;
                    let row = rows.rows.get_mut(id.0 as usize);
                    let handlers = row.map(|r| &mut r.handlers);
                    match (when, handlers) {
                        (When::Msg(m), _) => rows.program.on(id, Some(m), b).map_err(|_| {
                            let max = crate::task::MAX_RULES as u32;
                            whole(ErrorKind::TooMany { what: "rules", max })
                        })?,
                        (When::Any, _) => rows.program.on(id, None, b).map_err(|_| {
                            let max = crate::task::MAX_RULES as u32;
                            whole(ErrorKind::TooMany { what: "rules", max })
                        })?,
                        (When::Init, Some(h)) => h.init = Some(b),
                        (When::Entry, Some(h)) => h.entry = Some(b),
                        (When::Cfg, Some(h)) => h.cfg = Some(b),
                        (When::Reset, Some(h)) => h.reset = Some(b),
                        (When::End, Some(h)) => h.end = Some(b),
                        (_, None) => {}
                    }
                    return Ok((None, None));
                }
                KernelStmt::Timers {
                    events,
                    slots,
                    fuzz,
                } => {
                    let t = &mut rows.timers;
                    t.events = events.unwrap_or(t.events);
                    t.slots = slots.unwrap_or(t.slots);
                    t.fuzz = fuzz.unwrap_or(t.fuzz);
                    return Ok((None, None));
                }
                _ => {
                    return Err(whole(ErrorKind::NotBooted)
                        .with_hint(Hint::Text("the `boot` line failed: see its fault")));
                }
            }
        }
        let Table::Booted(kal) = table else {
            return Err(whole(ErrorKind::NotBooted));
        };
        let (behaviours, behaviour_count) = (&*behaviours, *behaviour_count);
        let name = kal.name();
        let id_of = |kal: &Kal, n: Named| {
            kal.task_named(n.name)
                .ok_or(at(n.span, ErrorKind::UnknownTask(n.name)))
        };
        let behaviour = |c: Callback| behaviour_of(behaviours, behaviour_count, c, at);
        step.kind = StepKind::Call;
        let mut watch = Watch::new(sink);
        let mut cx = Ctx::new(&mut self.ram, &mut watch);
        let (value, found) = match stmt {
            KernelStmt::Send {
                from,
                to,
                internal,
                msg,
                payload,
            } => {
                let src = match from {
                    Some(f) => Src::Task(id_of(kal, f)?),
                    None => Src::External,
                };
                let to = id_of(kal, to)?;
                let queue = if internal {
                    QueueKind::Internal
                } else {
                    QueueKind::External
                };
                let result = kal.send(&mut cx, src, to, queue, msg, payload);
                (None, outcome(name, result, None).1)
            }
            KernelStmt::Run { .. } => outcome(name, kal.run_until_idle(&mut cx), None),
            KernelStmt::Timer { timer, .. } => match timer {
                TimerStmt::Start {
                    timer,
                    delay,
                    aligned,
                    callback,
                } => {
                    let b = behaviour(callback)?;
                    let r = kal.start_timer(&mut cx, timer, delay, b, aligned);
                    let (v, f) = outcome(name, r, None);
                    (Some(v.map_or(0, |e| e.0)), f)
                }
                TimerStmt::Stop(timer) => {
                    let (v, f) = outcome(name, kal.stop_timer(&mut cx, timer), None);
                    (v.map(u32::from), f)
                }
                TimerStmt::Set {
                    delay,
                    aligned,
                    callback,
                    arg,
                } => {
                    let b = behaviour(callback)?;
                    let r = kal.set_event(&mut cx, delay, b, arg, aligned);
                    let (v, f) = outcome(name, r, None);
                    (Some(v.map_or(0, |e| e.0)), f)
                }
                TimerStmt::Cancel(id) => {
                    let (_, f) = outcome(name, kal.cancel_event(&mut cx, EventId(id)), None);
                    (None, f)
                }
            },
            _ => (None, None),
        };
        Ok((value, found.or(watch.first)))
    }

    /// `boot`: orders the table, renumbers the tasks, and boots KAL on system memory (set
    /// up at the first free address when there is none).
    fn boot(
        &mut self,
        at: Option<u32>,
        budget: Option<u32>,
        text: &str,
        line: u32,
        sink: &mut dyn Sink,
    ) -> Result<(Option<u32>, Option<Found>), ScriptError> {
        let whole = |kind| whole_error(text, line, kind);
        let Table::Building(rows) = &self.kernel.tasks.table else {
            return Err(whole(ErrorKind::AfterBoot));
        };
        let rows = *rows;
        let count = rows.count.min(MAX_TASKS);
        // KAL's order: the system table, then the custom one, each in table order.
        let mut order = [0usize; MAX_TASKS];
        let mut renumber = [TaskId(0); MAX_TASKS];
        let mut n = 0;
        for sys_first in [true, false] {
            let rows_of_table = rows.sys.iter().zip(renumber.iter_mut()).take(count);
            for (decl, (_, id)) in rows_of_table
                .enumerate()
                .filter(|(_, (s, _))| **s == sys_first)
            {
                if let Some(slot) = order.get_mut(n) {
                    *slot = decl;
                }
                *id = TaskId(n as u8);
                n += 1;
            }
        }
        let sys_count = rows.sys[..count].iter().filter(|s| **s).count();
        let table: [TaskConfig; MAX_TASKS] = core::array::from_fn(|i| rows.rows[order[i]]);
        let mut program = Program::new();
        let new_id = |t: TaskId| renumber.get(t.0 as usize).copied().unwrap_or(t);
        for b in 0..rows.program.len() {
            let Some(old) = rows.program.behaviour(BehaviourId(b as u8)) else {
                continue;
            };
            let mut list = [Action::StopTimer { timer: 0 }; MAX_ACTIONS];
            let mut k = 0;
            for (slot, action) in list.iter_mut().zip(old.actions()) {
                *slot = match action {
                    Action::Send { to, msg, payload } => Action::Send {
                        to: new_id(to),
                        msg,
                        payload,
                    },
                    other => other,
                };
                k += 1;
            }
            let behaviour = Behaviour::with(old.stack(), list.get(..k).unwrap_or(&[]));
            if let Ok(behaviour) = behaviour {
                let _ = program.add(behaviour);
            }
        }
        for rule in rows.program.rules() {
            let _ = program.on(new_id(rule.task), rule.msg, rule.run);
        }
        let decl_mmi = rows.mmi[..count].iter().position(|m| *m).or_else(|| {
            rows.rows[..count]
                .iter()
                .position(|r| r.name.as_str() == "MMI")
        });
        let config = KalConfig {
            name: KAL_NAME,
            sys_tasks: table.get(..sys_count).unwrap_or(&[]),
            custom_tasks: table.get(sys_count..count).unwrap_or(&[]),
            program: &program,
            mmi: decl_mmi.map(|i| rows.rows[i].name),
            timers: rows.timers,
            budget: budget.map_or(0, |b| b.min(MAX_BUDGET)),
        };
        let mut watch = Watch::new(sink);
        let booted = match self.sys_index() {
            Some(i) => {
                let Some(Some(Pool::Sys(sys))) = self.pools.get_mut(i) else {
                    return Ok((None, None));
                };
                let mut cx = Ctx::new(&mut self.ram, &mut watch);
                Kal::boot(&mut cx, sys, &config)
            }
            None => {
                let Some(slot) = self.pools.iter().position(Option::is_none) else {
                    let max = MAX_POOLS as u32;
                    return Err(whole(ErrorKind::TooMany { what: "pools", max }));
                };
                let Some((i, first)) = self.ram.regions().enumerate().next() else {
                    return Err(whole(ErrorKind::Needs("a RAM region (`ram`)")));
                };
                let used = self.placed.get(i).copied().unwrap_or(0) as u64;
                let first_free = at.unwrap_or(align4(first.base as u64 + used) as u32);
                // System memory takes the rest of the region `first_free` is in.
                let region = self.ram.regions().position(|r| r.contains(first_free));
                let mut cx = Ctx::new(&mut self.ram, &mut watch);
                let result = Kal::application_initialize(&mut cx, first_free, &config);
                result.map(|(sys, kal)| {
                    let region = region.and_then(|k| Some((k, self.ram.regions().nth(k)?)));
                    if let Some((k, r)) = region {
                        if let Some(p) = self.placed.get_mut(k) {
                            *p = r.size;
                        }
                    }
                    if let Some(s) = self.pools.get_mut(slot) {
                        *s = Some(Pool::Sys(sys));
                    }
                    kal
                })
            }
        };
        match booted {
            Ok(kal) => {
                self.kernel.tasks.table = Table::Booted(kal);
                Ok((None, watch.first))
            }
            Err(e) => Ok((
                None,
                Some(Found {
                    source: KAL_NAME,
                    error: e.into(),
                }),
            )),
        }
    }

    /// The task system's share of `tick`: its clock advances, timers fire, tasks run.
    ///
    /// A timer that restarts itself fires on every tick, so one `tick` of billions could
    /// run for ever: while timers are pending the clock advances in [`TICK_CHUNK`]-tick
    /// pieces (or straight to the next expiry when it is further), and once the MMI task
    /// has handled more than [`TICK_MESSAGES`] messages in the step, the clock stops there
    /// with a `Budget` fault.
    pub(super) fn tick_kernel(&mut self, by: u32, sink: &mut dyn Sink) -> Option<Found> {
        let Table::Booted(kal) = &mut self.kernel.tasks.table else {
            return None;
        };
        let name = kal.name();
        let mut watch = Watch::new(sink);
        let mut cx = Ctx::new(&mut self.ram, &mut watch);
        let handled = |kal: &Kal, ram: &Ram<S>| {
            kal.mmi()
                .and_then(|mmi| kal.usage(ram, mmi).ok())
                .map_or(0, |(_, handled)| handled)
        };
        let before = handled(kal, cx.ram);
        let mut left = by;
        loop {
            let next = match (kal.evshed(), kal.now(cx.ram)) {
                (Some(es), Ok(now)) => es
                    .next_fire(cx.ram, now)
                    .ok()
                    .flatten()
                    .map(|at| at.saturating_sub(now)),
                _ => None,
            };
            let chunk = next.map_or(left, |gap| left.min(gap.max(TICK_CHUNK)));
            if let Err(e) = kal.tick(&mut cx, chunk) {
                return Some(Found {
                    source: name,
                    error: e.into(),
                });
            }
            left -= chunk;
            if left == 0 {
                break;
            }
            let messages = handled(kal, cx.ram).wrapping_sub(before);
            if messages > TICK_MESSAGES {
                let error = TaskError::Budget { handled: messages };
                let op = TaskOp::Tick { ticks: by };
                cx.emit(name, EventKind::Task(TaskEvent::Fault { op, error }));
                return Some(Found {
                    source: name,
                    error: error.into(),
                });
            }
        }
        watch.first
    }

    /// `check` of virtual memory and the task system; each failure is a `fault op=check`.
    pub(super) fn check_kernel(&self, sink: &mut dyn Sink) -> Option<Found> {
        let mut first = None;
        if let (Some(vm), Some(pm)) = (self.kernel.vm, self.phys()) {
            if let Err(error) = vm.check(&self.ram, &pm) {
                let kind = EventKind::Fault {
                    op: Op::Check,
                    error,
                };
                sink.event(&Event {
                    source: vm.name(),
                    kind,
                });
                first = Some(Found {
                    source: vm.name(),
                    error: error.into(),
                });
            }
        }
        if let Some(kal) = self.kernel.tasks.kal() {
            if let Err(error) = kal.check(&self.ram) {
                let kind = EventKind::Task(TaskEvent::Fault {
                    op: TaskOp::Check,
                    error,
                });
                sink.event(&Event {
                    source: kal.name(),
                    kind,
                });
                first.get_or_insert(Found {
                    source: kal.name(),
                    error: error.into(),
                });
            }
        }
        first
    }

    // ---- figures ----

    pub(super) fn kernel_figure(&mut self, figure: Figure) -> Result<u32, ErrorKind> {
        let pages = || {
            self.phys()
                .ok_or(ErrorKind::UnknownPool(Name::lit("pages")))
        };
        let kal = || self.kernel.tasks.kal().ok_or(ErrorKind::NotBooted);
        let task = |name: Name| {
            self.kernel
                .tasks
                .task_id(name)
                .ok_or(ErrorKind::UnknownTask(name))
        };
        let ram = &self.ram;
        Ok(match figure {
            Figure::FreePages => {
                let n = pages()?
                    .free_pages_count(ram)
                    .map_err(ErrorKind::Unreadable)?;
                n.min(u32::MAX as u64) as u32
            }
            Figure::FreeOrder(order) => {
                if order > MAX_ORDER {
                    return Err(ErrorKind::Expected("an order from 0 to 9"));
                }
                let counts = pages()?.free_counts(ram).map_err(ErrorKind::Unreadable)?;
                counts.get(order as usize).copied().unwrap_or(0)
            }
            Figure::Inactive | Figure::Active => {
                let (inactive, active) = pages()?.lru_sizes(ram).map_err(ErrorKind::Unreadable)?;
                if figure == Figure::Inactive {
                    inactive
                } else {
                    active
                }
            }
            Figure::Queue(n) | Figure::IntQueue(n) => {
                let kind = if matches!(figure, Figure::Queue(_)) {
                    QueueKind::External
                } else {
                    QueueKind::Internal
                };
                kal()?.queue_len(ram, task(n)?, kind).map_err(unreadable)?
            }
            Figure::Handled(n) => kal()?.usage(ram, task(n)?).map_err(unreadable)?.1,
            Figure::Peak(n) => kal()?.usage(ram, task(n)?).map_err(unreadable)?.0,
            Figure::Faulted(n) => {
                let state = kal()?.state(ram, task(n)?).map_err(unreadable)?;
                u32::from(state == TaskState::Faulted)
            }
            Figure::Pending => match kal()?.evshed() {
                Some(es) => es
                    .pending(ram)
                    .map_err(|e| unreadable(TaskError::from(e)))?,
                None => 0,
            },
            Figure::Running(timer) => {
                let (Some(tt), Ok(timer)) = (kal()?.timers(), u16::try_from(timer)) else {
                    return Ok(0);
                };
                let slot = tt
                    .running(ram, timer)
                    .map_err(|e| unreadable(TaskError::from(e)))?;
                u32::from(slot.is_some())
            }
        })
    }
}

/// One operation of `pages`.
fn pages_call<S: Storage>(
    pm: &PhysMem,
    cx: &mut Ctx<'_, S>,
    call: PagesCall,
) -> (Option<u32>, Option<Found>) {
    let name = pm.name();
    let done = |r: Result<(), PageError>| (None, outcome(name, r, None).1);
    match call {
        PagesCall::AllocOrder(order) => {
            let (v, f) = outcome(name, pm.alloc_pages(cx, order), None);
            (Some(v.unwrap_or(0)), f)
        }
        PagesCall::AllocPages(n) => {
            let (v, f) = outcome(name, pm.alloc_contiguous(cx, n), None);
            (Some(v.unwrap_or(0)), f)
        }
        PagesCall::Free { addr, how } => done(match how {
            PagesFree::Put => pm.put_page(cx, addr),
            PagesFree::Order(order) => pm.free_pages(cx, addr, order),
            PagesFree::Pages(n) => pm.free_contiguous(cx, addr, n),
        }),
        PagesCall::Get(addr) => outcome(name, pm.get_page(cx, addr), None),
        PagesCall::Put(addr) => done(pm.put_page(cx, addr)),
        PagesCall::Lru(addr) => done(pm.lru_add(cx, addr)),
        PagesCall::Touch(addr) => done(pm.touch(cx, addr)),
        PagesCall::Reclaim(n) => outcome(name, pm.reclaim(cx, n), None),
    }
}

/// One operation of `vm`.
fn vm_call<S: Storage>(
    vm: &Vm,
    pm: &PhysMem,
    cx: &mut Ctx<'_, S>,
    call: VmCall,
) -> (Option<u32>, Option<Found>) {
    let name = vm.name();
    let addr_or_0 = |(v, f): (Option<Addr>, Option<Found>)| (Some(v.unwrap_or(0)), f);
    let done = |r: Result<(), VmError>| (None, outcome(name, r, None).1);
    // A space given, or the one the address belongs to (`LOS_SpaceGet`).
    let resolve = |cx: &mut Ctx<'_, S>, space: Option<u32>, vaddr: Addr, op: VmOp| {
        if let Some(s) = space {
            return Ok(space_id(s));
        }
        let error = match vm.space_of(cx.ram, vaddr) {
            Ok(Some(id)) => return Ok(id),
            Ok(None) => VmError::SegFault { vaddr },
            Err(e) => VmError::from(e),
        };
        cx.emit(name, EventKind::Vm(VmEvent::Fault { op, error }));
        Err(error)
    };
    match call {
        VmCall::Space(SpaceKind::Kernel) => (Some(SpaceId::KERNEL.0 as u32), None),
        VmCall::Space(SpaceKind::Vmalloc) => (Some(SpaceId::VMALLOC.0 as u32), None),
        VmCall::Space(SpaceKind::User) => {
            let result = vm.create_user_space(cx, pm).and_then(|id| {
                // The first process runs at once, so its addresses resolve.
                if vm.current(cx.ram)?.is_none() {
                    vm.switch_to(cx, id)?;
                }
                Ok(id.0 as u32)
            });
            outcome(name, result, None)
        }
        VmCall::Switch(s) => done(vm.switch_to(cx, space_id(s))),
        VmCall::Destroy(s) => done(vm.destroy_space(cx, pm, space_id(s))),
        VmCall::Region {
            space,
            addr,
            size,
            flags,
            name: region,
        } => {
            let default = if flags & rf::HEAP != 0 {
                Name::lit("heap")
            } else {
                Name::lit("map")
            };
            let region = region.unwrap_or(default);
            let r = vm.region_alloc(cx, space_id(space), addr, size, flags, region);
            addr_or_0(outcome(name, r, None))
        }
        VmCall::RegionFree { space, addr } => done(vm.region_free(cx, pm, space_id(space), addr)),
        VmCall::Map {
            space,
            vaddr,
            paddr,
        } => {
            let op = VmOp::Map {
                space: space.unwrap_or(NO_SPACE),
                vaddr,
                paddr,
            };
            match resolve(cx, space, vaddr, op) {
                Ok(id) => done(vm.map(cx, pm, id, vaddr, paddr)),
                Err(e) => done(Err(e)),
            }
        }
        VmCall::Unmap { space, vaddr } => {
            let op = VmOp::Unmap {
                space: space.unwrap_or(NO_SPACE),
                vaddr,
            };
            match resolve(cx, space, vaddr, op) {
                Ok(id) => done(vm.unmap(cx, pm, id, vaddr)),
                Err(e) => done(Err(e)),
            }
        }
        VmCall::Translate { space, vaddr } => {
            let op = VmOp::Translate {
                space: space.unwrap_or(NO_SPACE),
                vaddr,
            };
            let r = resolve(cx, space, vaddr, op).and_then(|id| vm.translate(cx, id, vaddr));
            addr_or_0(outcome(name, r, None))
        }
        VmCall::Access { vaddr, write } => {
            addr_or_0(outcome(name, vm.access(cx, pm, vaddr, write), None))
        }
        VmCall::Brk { space, to } => {
            let id = space_id(space);
            let r = match to {
                BrkTo::At(addr) => vm.brk(cx, pm, id, addr),
                BrkTo::Up(n) | BrkTo::Down(n) => {
                    let n = i32::try_from(n).unwrap_or(i32::MAX);
                    let by = if matches!(to, BrkTo::Up(_)) { n } else { -n };
                    vm.sbrk(cx, pm, id, by)
                        .map(|old| old.wrapping_add_signed(by))
                }
            };
            addr_or_0(outcome(name, r, None))
        }
        VmCall::Sbrk { space, by } => {
            addr_or_0(outcome(name, vm.sbrk(cx, pm, space_id(space), by), None))
        }
        VmCall::Vmalloc(size) => addr_or_0(outcome(name, vm.vmalloc(cx, pm, size), None)),
        VmCall::Vfree(addr) => done(vm.vfree(cx, pm, addr)),
        VmCall::SpaceOf(vaddr) => match vm.space_of(cx.ram, vaddr) {
            Ok(id) => (Some(id.map_or(NO_SPACE, |id| id.0 as u32)), None),
            Err(e) => {
                let error = VmError::from(e);
                let op = VmOp::Translate {
                    space: NO_SPACE,
                    vaddr,
                };
                cx.emit(name, EventKind::Vm(VmEvent::Fault { op, error }));
                (
                    Some(NO_SPACE),
                    Some(Found {
                        source: name,
                        error: error.into(),
                    }),
                )
            }
        },
    }
}
