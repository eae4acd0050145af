//! The machine's side of the heap subsystems: LiteOS dynamic memory (`dyn`), TLSF
//! (`tlsf`), KAL's ADM (`adm`), MTK's app-shared memory with its out-of-memory prompt
//! (`asm`) and screen memory (`screen`), the AWTK decorator stack (`awtk`), and the
//! machine presets. The parent module calls in at marked points: building a pool, an
//! operation, a figure, an expectation, a tick and a preset.

use crate::adm::{Adm, DeleteError};
use crate::allocator::{Allocator, BlockKind, Ctx, Owner};
use crate::app_mem::{AppMem, AppUsage, AsmConfig, AsmError, OomState, Outcome, ScreenMem};
use crate::app_mem::{StopPlan, MAX_APPS};
use crate::awtk::{DecoratorStack, ReleaseOldest, Simple};
use crate::dynmem::{DynMem, GrowthSource, MAX_SPARES};
use crate::error::{AllocError, ConfigError};
use crate::name::Name;
use crate::ram::{Addr, Ram, Storage};
use crate::script::ast::{preset_text, Call, Config, Expect, Named, Query, Span, Target};
use crate::script::errors::{ErrorKind, Hint, ScriptError};
use crate::script::fault::StepFault;
use crate::script::interp::line_at;
use crate::script::parser::parse_line;
use crate::tlsf::Tlsf;
use crate::trace::{EventKind, Field, Op, Sink};

use super::{Core, LastFault, Pool};

/// A LiteOS pool and the pool it grows by once its spare areas are used (`grow from`).
#[derive(Clone, Debug)]
pub struct DynPool {
    pub mem: DynMem,
    pub grow: Option<Name>,
}

/// App-shared memory and the address the out-of-memory protocol last granted (the
/// retried request's block, `granted(asm)`).
#[derive(Clone, Debug)]
pub struct AsmPool {
    pub mem: AppMem,
    pub granted: Addr,
}

/// How many blocks the AWTK application's cache holds for the release callback.
pub const RELEASE_CACHE: usize = 16;

/// An AWTK stack over its simple heap, and the application's release callback: a cache of
/// blocks (`awtk.cache ADDR`) from which each out-of-memory call frees the oldest
/// (`awtk release oldest N`; none until a script says so).
#[derive(Clone, Debug)]
pub struct AwtkPool {
    pub stack: DecoratorStack<Simple>,
    pub release: ReleaseOldest<RELEASE_CACHE>,
}

/// The name of the AWTK stack's base heap.
const SIMPLE_NAME: Name = Name::lit("simple");

/// What an operation produced: the value for `NAME =` and the step's fault.
type Done = (Option<u32>, Option<AllocError>);

/// True iff the fault `found` is what `expect fault wanted` names. `GuardCorrupted` is
/// `Corrupted` with `field=guard`: an overwritten guard gap, header or footer pattern.
pub(super) fn fault_matches(wanted: Option<&'static str>, found: Option<StepFault>) -> bool {
    match (wanted, found) {
        (Some("GuardCorrupted"), Some(StepFault::Alloc(AllocError::Corrupted { field, .. }))) => {
            field == Field::Guard
        }
        (wanted, found) => found.map(|e| e.kind()) == wanted,
    }
}

/// The figures only these pools have; `None` for the general ones.
pub(super) fn query<S: Storage>(
    query: Query,
    pool: &Pool,
    ram: &Ram<S>,
) -> Option<Result<u32, ErrorKind>> {
    let no_figure = |figure| {
        Some(Err(ErrorKind::NoFigure {
            figure,
            pool: pool.name(),
        }))
    };
    match (query, pool) {
        (Query::Usage(owner), pool) => Some(usage(pool, ram, owner).map_err(ErrorKind::Unreadable)),
        (Query::Leaks, Pool::Awtk(awtk)) => {
            let mut count = 0u32;
            match awtk
                .stack
                .leaks(ram, &mut |_| count = count.saturating_add(1))
            {
                Ok(()) => Some(Ok(count)),
                Err(AllocError::Unsupported) => no_figure("leaks"),
                Err(e) => Some(Err(ErrorKind::Unreadable(e))),
            }
        }
        (Query::Granted, Pool::Asm(asm)) => Some(Ok(asm.granted)),
        (Query::Victim, Pool::Asm(asm)) => Some(Ok(match asm.mem.oom_state() {
            OomState::Confirm { victim, .. } | OomState::Stopping { victim, .. } => victim as u32,
            _ => crate::app_mem::NO_APP,
        })),
        (Query::Leaks, _) => no_figure("leaks"),
        (Query::Granted, _) => no_figure("granted"),
        (Query::Victim, _) => no_figure("victim"),
        _ => None,
    }
}

/// `usage(POOL, OWNER)`: LiteOS counts whole nodes per task (`OS_MEM_ADD_USED`), ASM
/// counts chunks and their overhead per app (`applib_mem_ap_get_current_usage`); any
/// other pool, the payload bytes of the owner's live blocks.
fn usage<S: Storage>(pool: &Pool, ram: &Ram<S>, owner: u32) -> Result<u32, AllocError> {
    let owner = Owner(u16::try_from(owner).unwrap_or(Owner::NONE.0));
    match pool {
        Pool::Dyn(d) => {
            let mut rows = [(Owner::NONE, 0u32); 64];
            let n = d.mem.usage_by_owner(ram, &mut rows)?;
            Ok(rows
                .iter()
                .take(n)
                .find(|(o, _)| *o == owner)
                .map_or(0, |(_, bytes)| *bytes))
        }
        Pool::Asm(a) => {
            let blank = AppUsage {
                app: 0,
                name: Name::lit("_"),
                icon: 0,
                size: 0,
                stopping: false,
            };
            let mut rows = [blank; MAX_APPS as usize];
            let n = a.mem.current_usage(ram, &mut rows)?;
            Ok(rows
                .iter()
                .take(n)
                .find(|r| r.app == owner.0)
                .map_or(0, |r| r.size))
        }
        pool => {
            let mut bytes = 0u32;
            pool.walk(ram, &mut |span| {
                if span.kind == BlockKind::Payload && span.owner == owner {
                    bytes = bytes.saturating_add(span.len);
                }
            })?;
            Ok(bytes)
        }
    }
}

/// The pool a growing `dyn` pool takes pages from: the physical pages, whose buddy
/// allocator hands it contiguous pages as `OsMemPoolExpand` does (its kind's
/// [`crate::script::ast::PoolKind::gives_pages`] is true).
fn growth_source<S: Storage>(pool: &mut Pool) -> Option<&mut dyn GrowthSource<S>> {
    match pool {
        Pool::Pages(p) => Some(p),
        _ => None,
    }
}

/// Two distinct slots of the pool table, both mutable.
fn two_pools(
    pools: &mut [Option<Pool>],
    a: usize,
    b: usize,
) -> Option<(&mut Option<Pool>, &mut Option<Pool>)> {
    if a < b {
        let (low, high) = pools.split_at_mut(b);
        Some((low.get_mut(a)?, high.first_mut()?))
    } else if b < a {
        let (low, high) = pools.split_at_mut(a);
        let b_slot = low.get_mut(b)?;
        Some((high.first_mut()?, b_slot))
    } else {
        None
    }
}

/// An ASM protocol refusal as a script error at the statement's pool.
fn refused(error: AsmError, text: &str, line: u32, span: Span) -> ScriptError {
    let hint = match error {
        AsmError::WrongState { .. } => Hint::Text(
            "answer the prompt in order: `asm.alloc_or_prompt APP SIZE`, `asm.choose APP`, `asm.confirm` (or `asm.decline`), then `tick` until the stop finishes",
        ),
        AsmError::NotListed { .. } => Hint::Text(
            "the prompt lists the background apps that hold memory (its `asm.usage` lines), not the one asking",
        ),
        AsmError::NotStopping { .. } => {
            Hint::Text("only the app `asm.confirm` asked to stop reports that its stop finished")
        }
        AsmError::NoSuchApp { .. } => {
            Hint::Text("apps are registered by `asm pool ... apps NAME:\"Title\"`")
        }
        AsmError::Alloc(_) => Hint::None,
    };
    ScriptError::at(text, line, span.start, span.end, ErrorKind::Asm(error)).with_hint(hint)
}

/// What an ASM protocol call led to: a granted address is the value (and is remembered
/// for `granted(asm)`); anything else is 0. An allocator error is the step's fault.
fn outcome(asm: &mut AsmPool, result: Result<Outcome, AsmError>) -> Result<Done, AsmError> {
    match result {
        Ok(Outcome::Granted(addr)) => {
            asm.granted = addr;
            Ok((Some(addr), None))
        }
        Ok(_) => Ok((Some(0), None)),
        Err(AsmError::Alloc(e)) => Ok((Some(0), Some(e))),
        Err(e) => Err(e),
    }
}

/// An ASM protocol error as an allocator error, where one must be (registering apps).
fn asm_alloc_error(error: AsmError) -> AllocError {
    match error {
        AsmError::Alloc(e) => e,
        _ => AllocError::Unsupported,
    }
}

fn align4(n: u64) -> u64 {
    (n + 3) & !3
}

impl<S: Storage> Core<S> {
    /// Builds a pool of the heap subsystems; `None` for other configurations. A pool the
    /// engine refuses is `Some(Err)` with its `fault` event in the trace.
    pub(super) fn configure_heap(
        &mut self,
        config: Config,
        name: Name,
        text: &str,
        line: u32,
        sink: &mut dyn Sink,
    ) -> Result<Option<Result<Pool, AllocError>>, ScriptError> {
        // The app names exist whether or not the pool could be built, as the static check
        // saw them defined.
        for (var, value) in config.vars() {
            self.vars
                .set(var.name, value)
                .map_err(|k| ScriptError::at(text, line, var.span.start, var.span.end, k))?;
        }
        Ok(Some(match config {
            Config::Dyn {
                size,
                place,
                lists,
                expand,
                spares,
                grow,
                ..
            } => {
                let (base, placed) = match self.place(place, size, text, line, sink)? {
                    Ok(found) => found,
                    Err(e) => return Ok(Some(Err(e))),
                };
                let before = self.placed;
                self.placed = placed;
                let mut areas = [(0, 0); MAX_SPARES];
                let mut count = 0;
                for &(spare, at) in spares.iter().flatten() {
                    match self.place(at, spare, text, line, sink) {
                        Ok(Ok((spare_base, placed))) => {
                            self.placed = placed;
                            if let Some(slot) = areas.get_mut(count) {
                                *slot = (spare_base, spare);
                                count += 1;
                            }
                        }
                        Ok(Err(e)) => {
                            self.placed = before;
                            return Ok(Some(Err(e)));
                        }
                        Err(e) => {
                            self.placed = before;
                            return Err(e);
                        }
                    }
                }
                let mut cx = Ctx::new(&mut self.ram, sink);
                let built = DynMem::init(&mut cx, name, base, size, lists).and_then(|mut mem| {
                    if expand {
                        mem.expand_enable(&mut cx, areas.get(..count).unwrap_or(&[]))?;
                    }
                    Ok(mem)
                });
                match built {
                    Ok(mem) => Ok(Pool::Dyn(DynPool {
                        mem,
                        grow: grow.map(|g| g.name),
                    })),
                    Err(e) => {
                        self.placed = before;
                        // LiteOS reports a refused pool without a fault event.
                        Err(self.init_fault(name, e, sink))
                    }
                }
            }
            Config::Tlsf {
                size,
                place,
                config,
                ..
            } => match self.place(place, size, text, line, sink)? {
                Err(e) => Err(e),
                Ok((base, placed)) => {
                    let mut cx = Ctx::new(&mut self.ram, sink);
                    Tlsf::new(&mut cx, name, base, size, config).map(|t| {
                        self.placed = placed;
                        Pool::Tlsf(t)
                    })
                }
            },
            Config::Adm {
                size,
                place,
                subpools,
                count,
                logging,
                ..
            } => match self.place(place, size, text, line, sink)? {
                Err(e) => Err(e),
                Ok((base, placed)) => {
                    let mut cx = Ctx::new(&mut self.ram, sink);
                    let sizes = subpools.get(..count).unwrap_or(&[]);
                    Adm::create(&mut cx, name, base, size, sizes, logging).map(|adm| {
                        self.placed = placed;
                        Pool::Adm(adm)
                    })
                }
            },
            Config::Asm {
                size,
                place,
                subpools,
                count,
                apps,
            } => match self.place(place, size, text, line, sink)? {
                Err(e) => Err(e),
                Ok((base, placed)) => {
                    let mut cx = Ctx::new(&mut self.ram, sink);
                    let config = AsmConfig {
                        name,
                        base,
                        size,
                        subpools: subpools.get(..count).unwrap_or(&[]),
                        screen: None,
                    };
                    let built = AppMem::init(&mut cx, &config).and_then(|mut mem| {
                        for (id, app) in apps.iter().enumerate() {
                            if let Some(app) = app {
                                mem.register(&mut cx, id as u16, app.title, 0, StopPlan::IMMEDIATE)
                                    .map_err(asm_alloc_error)?;
                            }
                        }
                        Ok(mem)
                    });
                    built.map(|mem| {
                        self.placed = placed;
                        Pool::Asm(AsmPool { mem, granted: 0 })
                    })
                }
            },
            Config::Screen { size, place } => match self.place(place, size, text, line, sink)? {
                Err(e) => Err(e),
                Ok((base, placed)) => {
                    let mut cx = Ctx::new(&mut self.ram, sink);
                    ScreenMem::init(&mut cx, name, base, size).map(|screen| {
                        self.placed = placed;
                        Pool::Screen(screen)
                    })
                }
            },
            Config::Awtk {
                layers,
                count,
                heap,
                place,
                config,
            } => {
                let layers = layers.get(..count).unwrap_or(&[]);
                let statics = DecoratorStack::<Simple>::statics_size(layers, &config);
                let heap_len = align4(heap as u64);
                let Ok(total) = u32::try_from(heap_len + statics as u64) else {
                    let e = ConfigError::BadBlockSize { size: heap }.into();
                    return Ok(Some(Err(self.init_fault(name, e, sink))));
                };
                match self.place(place, total, text, line, sink)? {
                    Err(e) => Err(e),
                    Ok((base, placed)) => {
                        let mut cx = Ctx::new(&mut self.ram, sink);
                        let statics_at = base.wrapping_add(heap_len as u32);
                        let built =
                            Simple::new(&mut cx, SIMPLE_NAME, base, heap).and_then(|simple| {
                                DecoratorStack::new(
                                    &mut cx, name, simple, layers, statics_at, config,
                                )
                            });
                        match built {
                            Ok(stack) => {
                                self.placed = placed;
                                Ok(Pool::Awtk(AwtkPool {
                                    stack,
                                    release: ReleaseOldest::new(0),
                                }))
                            }
                            // AWTK's init functions report a refusal without a fault event.
                            Err(e) => Err(self.init_fault(name, e, sink)),
                        }
                    }
                }
            }
            _ => return Ok(None),
        }))
    }

    /// The operations of the heap subsystems that the general `alloc`, `free` and
    /// `realloc` do not cover; `None` for those.
    pub(super) fn call_heap(
        &mut self,
        index: usize,
        pool: Named,
        call: Call,
        text: &str,
        line: u32,
        sink: &mut dyn Sink,
    ) -> Result<Option<Done>, ScriptError> {
        // A LiteOS pool that grows by pages needs its source at the same time.
        if let (
            Some(Some(Pool::Dyn(DynPool { grow: Some(g), .. }))),
            Call::Alloc { size, owner, .. },
        ) = (self.pools.get(index), call)
        {
            let source = self.pool_index(*g);
            if let Some((Some(Pool::Dyn(d)), Some(from))) =
                source.and_then(|s| two_pools(&mut self.pools, index, s))
            {
                if let Some(from) = growth_source::<S>(from) {
                    let mut cx = Ctx::new(&mut self.ram, sink);
                    let result = d.mem.alloc_growing(&mut cx, size, owner, from);
                    return Ok(Some((Some(*result.as_ref().unwrap_or(&0)), result.err())));
                }
            }
        }
        let Some(Some(target)) = self.pools.get_mut(index) else {
            return Ok(None);
        };
        // `awtk.free any` picks the block as the general `free any` does, then frees it
        // through the stack.
        let mut picked = None;
        let call = match (&*target, call) {
            (Pool::Awtk(_), Call::Free(Target::Any)) => {
                let count = match target.live_blocks(&self.ram, &mut |_, _| {}) {
                    Ok(count) => count,
                    Err(error) => {
                        let kind = EventKind::Fault {
                            op: Op::Check,
                            error,
                        };
                        sink.event(&crate::trace::Event {
                            source: target.name(),
                            kind,
                        });
                        return Ok(Some((None, Some(error))));
                    }
                };
                if count == 0 {
                    return Ok(Some((None, None)));
                }
                let pick = self.prng.below(count);
                let mut chosen = 0;
                let _ = target.live_blocks(&self.ram, &mut |i, addr| {
                    if i == pick {
                        chosen = addr;
                    }
                });
                picked = Some(chosen);
                Call::Free(Target::Addr(chosen))
            }
            _ => call,
        };
        let mut cx = Ctx::new(&mut self.ram, sink);
        let done = match (target, call) {
            (
                Pool::Adm(adm),
                Call::AdmAlloc {
                    size,
                    owner,
                    file,
                    line,
                },
            ) => {
                let result = adm.alloc_logged(&mut cx, size, owner, file, line);
                (Some(*result.as_ref().unwrap_or(&0)), result.err())
            }
            (Pool::Adm(adm), Call::Delete) => match adm.delete(&mut cx) {
                Ok(()) => (Some(0), None),
                // The refusal is in the trace (`delete_refused`); the value is the count.
                Err(DeleteError::LiveBlocks { count, .. }) => (Some(count), None),
                Err(DeleteError::Alloc(error)) => {
                    let op = Op::Free { addr: adm.base() };
                    cx.emit(adm.name(), EventKind::Fault { op, error });
                    (Some(0), Some(error))
                }
            },
            (Pool::Asm(asm), call) => {
                let result = match call {
                    Call::AllocOrPrompt { app, size } => {
                        let registered = asm.mem.is_registered(cx.ram, app).map_err(AsmError::from);
                        match registered {
                            Ok(true) => match asm.mem.alloc(&mut cx, size, Owner(app)) {
                                Ok(addr) => Ok((Some(addr), None)),
                                // The app asks the user to free memory: the fault stays the
                                // step's, the prompt opens.
                                Err(e @ AllocError::OutOfMemory { .. }) => {
                                    let r = asm.mem.prompt_to_release_mem(&mut cx, app, size);
                                    outcome(asm, r).map(|(v, f)| (v, f.or(Some(e))))
                                }
                                Err(e) => Ok((Some(0), Some(e))),
                            },
                            Ok(false) => Err(AsmError::NoSuchApp { app }),
                            Err(e) => Err(e),
                        }
                    }
                    Call::AllocFull { app, prompt: false } => {
                        let result = asm.mem.alloc_full_pool(&mut cx, app);
                        Ok((Some(*result.as_ref().unwrap_or(&0)), result.err()))
                    }
                    Call::AllocFull { app, prompt: true } => {
                        let registered = asm.mem.is_registered(cx.ram, app).map_err(AsmError::from);
                        match registered {
                            Ok(true) => match asm.mem.alloc_full_pool(&mut cx, app) {
                                Ok(addr) => Ok((Some(addr), None)),
                                Err(e @ AllocError::OutOfMemory { .. }) => {
                                    let r = asm.mem.prompt_to_release_full_pool(&mut cx, app);
                                    outcome(asm, r).map(|(v, f)| (v, f.or(Some(e))))
                                }
                                Err(e) => Ok((Some(0), Some(e))),
                            },
                            Ok(false) => Err(AsmError::NoSuchApp { app }),
                            Err(e) => Err(e),
                        }
                    }
                    Call::Choose(app) => {
                        let r = asm.mem.choose(&mut cx, app);
                        outcome(asm, r)
                    }
                    Call::Confirm => {
                        let r = asm.mem.confirm(&mut cx);
                        outcome(asm, r)
                    }
                    Call::Decline => {
                        let r = asm.mem.decline(&mut cx);
                        outcome(asm, r)
                    }
                    Call::Dismiss => {
                        let r = asm.mem.dismiss(&mut cx);
                        outcome(asm, r)
                    }
                    Call::NotifyStopFinished { app, result } => {
                        let r = asm.mem.notify_stop_finished(&mut cx, app, result);
                        outcome(asm, r)
                    }
                    Call::Plan { app, plan } => {
                        asm.mem.set_stop_plan(app, plan).map(|()| (None, None))
                    }
                    _ => return Ok(None),
                };
                result.map_err(|e| refused(e, text, line, pool.span))?
            }
            (Pool::Awtk(awtk), call) => match call {
                Call::AwtkAlloc { size, site } => {
                    let result = awtk.stack.tk_alloc(&mut cx, size, site, &mut awtk.release);
                    (Some(*result.as_ref().unwrap_or(&0)), result.err())
                }
                Call::AwtkRealloc { addr, size, site } => {
                    let result =
                        awtk.stack
                            .tk_realloc(&mut cx, addr, size, site, &mut awtk.release);
                    if let Ok(to) = result {
                        // A cached block that moved stays cached, at its new address.
                        if to != addr && awtk.release.remove(addr) {
                            awtk.release.push(to);
                        }
                    }
                    (Some(*result.as_ref().unwrap_or(&0)), result.err())
                }
                Call::Free(Target::Addr(addr)) => {
                    // The application forgets a block it frees itself.
                    let result = awtk.stack.tk_free(&mut cx, addr);
                    if result.is_ok() {
                        awtk.release.remove(addr);
                    }
                    (picked, result.err())
                }
                Call::Dump => (None, awtk.stack.tk_mem_dump(&mut cx).err()),
                Call::Cache(addr) => {
                    if !awtk.release.push(addr) {
                        let kind = ErrorKind::TooMany {
                            what: "cached blocks",
                            max: RELEASE_CACHE as u32,
                        };
                        return Err(ScriptError::at(
                            text,
                            line,
                            pool.span.start,
                            pool.span.end,
                            kind,
                        ));
                    }
                    (None, None)
                }
                Call::Release { per_call } => {
                    let mut release = ReleaseOldest::new(per_call);
                    for &addr in awtk.release.cached() {
                        release.push(addr);
                    }
                    awtk.release = release;
                    (None, None)
                }
                _ => return Ok(None),
            },
            _ => return Ok(None),
        };
        Ok(Some(done))
    }

    /// `tick N` advances a stop under way by up to `N` ticks (one `stop_tick` each).
    pub(super) fn tick_heaps(
        &mut self,
        by: u32,
        text: &str,
        line: u32,
        sink: &mut dyn Sink,
    ) -> Result<Option<LastFault>, ScriptError> {
        let mut first = None;
        for slot in self.pools.iter_mut() {
            let Some(Pool::Asm(asm)) = slot else {
                continue;
            };
            let source = asm.mem.name();
            let mut cx = Ctx::new(&mut self.ram, sink);
            for _ in 0..by {
                if !matches!(asm.mem.oom_state(), OomState::Stopping { .. }) {
                    break;
                }
                let r = asm.mem.tick(&mut cx);
                let whole = Span {
                    start: 0,
                    end: text.len(),
                };
                let (_, fault) = outcome(asm, r).map_err(|e| refused(e, text, line, whole))?;
                if let (None, Some(error)) = (first, fault) {
                    first = Some(LastFault {
                        source,
                        error: error.into(),
                    });
                }
            }
        }
        Ok(first)
    }

    /// `expect state S` and `expect prompt open|closed`.
    pub(super) fn expect_prompt(&self, expect: Expect) -> Result<(), ErrorKind> {
        let state = self
            .pools
            .iter()
            .flatten()
            .find_map(|p| match p {
                Pool::Asm(asm) => Some(asm.mem.oom_state()),
                _ => None,
            })
            .unwrap_or(OomState::Idle);
        let found = state.word();
        match expect {
            Expect::State(wanted) if wanted != found => {
                Err(ErrorKind::ExpectState { wanted, found })
            }
            Expect::PromptOpen(open) if open != (state != OomState::Idle) => {
                let wanted = if open { "open" } else { "closed" };
                Err(ErrorKind::ExpectState { wanted, found })
            }
            _ => Ok(()),
        }
    }

    /// `preset NAME`: runs the preset's lines as this one step. An error in one of them is
    /// reported at the preset's name; the first fault is the step's.
    pub(super) fn preset(
        &mut self,
        name: &'static str,
        span: Span,
        text: &str,
        line: u32,
        index: u32,
        sink: &mut dyn Sink,
    ) -> Result<Option<LastFault>, ScriptError> {
        let lines = preset_text(name).unwrap_or("");
        let at = |e: ScriptError| {
            ScriptError::at(text, line, span.start, span.end, e.kind).with_hint(e.hint)
        };
        let mut first = None;
        let mut offset = 0;
        while let Some((sub, next)) = line_at(lines, offset) {
            offset = next;
            let stmt = parse_line(sub, line, self).map_err(at)?;
            let ran = self.exec(stmt, sub, line, index, sink).map_err(at)?;
            if first.is_none() && ran.fault.is_some() {
                first = self.last_fault;
            }
        }
        Ok(first)
    }
}
