//! The out-of-memory protocol of AppMemMgr.c, as an explicit state machine.
//!
//! When `applib_mem_ap_alloc` fails, the app calls `mmi_frm_appmem_prompt_to_release_mem
//! (name, icon, required_size, success_callback)`. The framework lists the apps using
//! the pool (`applib_mem_ap_get_current_usage`), the user picks one and confirms, the
//! app's stop callback runs (`applib_mem_ap_stop_app_by_MMI_task`), the app releases its
//! memory, possibly asynchronously, and reports with `applib_mem_ap_notify_stop_finished`.
//! If enough memory is free then, the success callback runs and the app asks again.
//!
//! ```text
//!            alloc fails / prompt_to_release_mem
//!   Idle ─────────────────────────────────────────► Prompt ◄──────────────┐
//!    ▲  ▲    (enough already: popup "starting new",   │  │  choose(app)    │ decline
//!    │  │     retry → Idle)                         dismiss  ▼             │
//!    │  └──────────────────────────────────────────────┘  Confirm ────────┘
//!    │                                                      │ confirm: stop handler runs,
//!    │                                                      ▼ frees its first blocks
//!    │   notify_stop_finished, enough free:             Stopping ◄─┐ tick: frees more
//!    └── popup "starting new", retry (event `retry`)        │      │
//!                                                           ├──────┘
//!        notify_stop_finished, not enough:                  │
//!        popup "stopped" (result true) or "stop failed" ────┴──► Prompt (list again)
//! ```
//!
//! Asking for a prompt in any state but `Idle` shows the "out of memory" popup instead
//! and changes nothing. A stop plan with `ticks == 0` finishes inside `confirm`, as an
//! app whose stop callback calls `notify_stop_finished` at once; otherwise `confirm`
//! shows the progressing screen (`waiting`) and each [`AppMem::tick`] advances the stop.
//! The prompt lists background apps: every app with memory except the one asking.

use core::fmt;

use crate::allocator::{Allocator, Ctx, Owner};
use crate::error::AllocError;
use crate::ram::{Addr, Storage};
use crate::trace::EventKind;

use super::{AppMem, AppUsage, AsmEvent, PopupMsg, MAX_APPS};

/// The request the prompt is trying to satisfy (the success callback retries it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub app: u16,
    /// Bytes asked for; the pool's size for a full-pool request.
    pub size: u32,
    /// `mmi_frm_appmem_prompt_to_release_full_pool`: the app wants the whole pool.
    pub full_pool: bool,
}

/// Where the out-of-memory protocol stands: which screen the phone shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OomState {
    /// No prompt.
    Idle,
    /// The out-of-memory screen lists the background apps.
    Prompt { request: Request },
    /// "Stop `victim`?" waits for yes or no.
    Confirm { request: Request, victim: u16 },
    /// `victim`'s stop is under way (the progressing screen); `elapsed` ticks so far.
    Stopping {
        request: Request,
        victim: u16,
        elapsed: u16,
    },
}

impl OomState {
    /// The state's name, as errors give it.
    pub fn word(&self) -> &'static str {
        match self {
            OomState::Idle => "idle",
            OomState::Prompt { .. } => "prompt",
            OomState::Confirm { .. } => "confirm",
            OomState::Stopping { .. } => "stopping",
        }
    }

    /// The pending request, unless idle.
    pub fn request(&self) -> Option<Request> {
        match *self {
            OomState::Idle => None,
            OomState::Prompt { request }
            | OomState::Confirm { request, .. }
            | OomState::Stopping { request, .. } => Some(request),
        }
    }
}

/// What a protocol call led to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The request got memory at this address (at once, or when retried).
    Granted(Addr),
    /// The out-of-memory screen is shown (again).
    Prompted,
    /// A prompt was already open: the "out of memory" popup was shown instead.
    Popup,
    /// The confirm screen is shown.
    Confirming,
    /// A stop is under way.
    Waiting,
    /// Nothing is pending: the prompt was dismissed, or there was nothing to do.
    Idle,
}

/// Why a protocol call was refused. Nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsmError {
    /// The app id is out of range or not registered.
    NoSuchApp { app: u16 },
    /// The call does not belong to the protocol's current state.
    WrongState {
        call: &'static str,
        state: &'static str,
    },
    /// The app is not in the prompt's list (no memory, or it is the one asking).
    NotListed { app: u16 },
    /// `notify_stop_finished` for an app that was not asked to stop.
    NotStopping { app: u16 },
    /// The allocator failed.
    Alloc(AllocError),
}

impl From<AllocError> for AsmError {
    fn from(error: AllocError) -> AsmError {
        AsmError::Alloc(error)
    }
}

impl fmt::Display for AsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AsmError::NoSuchApp { app } => write!(f, "app {app} is not registered with ASM"),
            AsmError::WrongState { call, state } => {
                write!(
                    f,
                    "{call} does not fit the out-of-memory protocol's {state} state"
                )
            }
            AsmError::NotListed { app } => {
                write!(f, "app {app} is not among the background apps using memory")
            }
            AsmError::NotStopping { app } => write!(f, "app {app} was not asked to stop"),
            AsmError::Alloc(error) => write!(f, "{error}"),
        }
    }
}

impl AppMem {
    /// The protocol's state.
    pub fn oom_state(&self) -> OomState {
        self.oom
    }

    fn wrong_state(&self, call: &'static str) -> AsmError {
        AsmError::WrongState {
            call,
            state: self.oom.word(),
        }
    }

    fn registered_app<S: Storage>(&self, cx: &Ctx<'_, S>, app: u16) -> Result<(), AsmError> {
        if self.is_registered(cx.ram, app)? {
            Ok(())
        } else {
            Err(AsmError::NoSuchApp { app })
        }
    }

    /// The usual app code: `applib_mem_ap_alloc`, and when it fails,
    /// `mmi_frm_appmem_prompt_to_release_mem` with a success callback that asks again.
    pub fn alloc_or_prompt<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        app: u16,
        size: u32,
    ) -> Result<Outcome, AsmError> {
        self.registered_app(cx, app)?;
        match self.alloc(cx, size, Owner(app)) {
            Ok(addr) => Ok(Outcome::Granted(addr)),
            Err(AllocError::OutOfMemory { .. }) => self.prompt_to_release_mem(cx, app, size),
            Err(e) => Err(e.into()),
        }
    }

    /// `applib_mem_ap_alloc_full_pool`, and when it fails,
    /// `mmi_frm_appmem_prompt_to_release_full_pool`.
    pub fn alloc_full_pool_or_prompt<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        app: u16,
    ) -> Result<Outcome, AsmError> {
        self.registered_app(cx, app)?;
        match self.alloc_full_pool(cx, app) {
            Ok(addr) => Ok(Outcome::Granted(addr)),
            Err(AllocError::OutOfMemory { .. }) => self.prompt_to_release_full_pool(cx, app),
            Err(e) => Err(e.into()),
        }
    }

    /// `mmi_frm_appmem_prompt_to_release_mem(app, size)`.
    pub fn prompt_to_release_mem<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        app: u16,
        size: u32,
    ) -> Result<Outcome, AsmError> {
        self.registered_app(cx, app)?;
        let request = Request {
            app,
            size,
            full_pool: false,
        };
        self.open_prompt(cx, request)
    }

    /// `mmi_frm_appmem_prompt_to_release_full_pool(app)`.
    pub fn prompt_to_release_full_pool<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        app: u16,
    ) -> Result<Outcome, AsmError> {
        self.registered_app(cx, app)?;
        let request = Request {
            app,
            size: self.pool_range().1,
            full_pool: true,
        };
        self.open_prompt(cx, request)
    }

    fn open_prompt<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        request: Request,
    ) -> Result<Outcome, AsmError> {
        if self.oom != OomState::Idle {
            // Avoid re-entering the prompt screens.
            self.popup(cx, PopupMsg::OutOfMemory);
            return Ok(Outcome::Popup);
        }
        let (_, pool_size) = self.pool_range();
        if !request.full_pool && request.size > pool_size {
            let max = self.pool_range().1;
            let requested = request.size;
            return Err(AllocError::TooLarge { requested, max }.into());
        }
        self.enter_prompt(cx, request)
    }

    fn popup<S: Storage>(&self, cx: &mut Ctx<'_, S>, msg: PopupMsg) {
        cx.emit(self.name, EventKind::Asm(AsmEvent::Popup { msg }));
    }

    /// True iff retrying `request` would succeed now
    /// (`mmi_frm_appmem_check_enough_memory`).
    fn enough_memory<S: Storage>(
        &self,
        cx: &Ctx<'_, S>,
        request: Request,
    ) -> Result<bool, AllocError> {
        if self.is_full_pool(cx.ram)? {
            return Ok(false);
        }
        if request.full_pool {
            return Ok(self.alloc_count(cx.ram)? == 0);
        }
        if request.size == 0 {
            return Ok(false);
        }
        let chunk = (request.size as u64 + 3) & !3;
        let total = chunk + (super::CHUNK_HEADER + super::CHUNK_FOOTER) as u64;
        match u32::try_from(total) {
            Ok(total) => self.pool.can_alloc(cx.ram, total),
            Err(_) => Ok(false),
        }
    }

    /// `mmi_frm_appmem_entry_prompt_screen`: retries at once if memory is already
    /// enough, else lists the background apps and shows the prompt.
    fn enter_prompt<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        request: Request,
    ) -> Result<Outcome, AsmError> {
        if self.enough_memory(cx, request)? {
            self.popup(cx, PopupMsg::StartingNew);
            return self.retry(cx, request);
        }
        let blank = AppUsage {
            app: 0,
            name: self.name,
            icon: 0,
            size: 0,
            stopping: false,
        };
        let mut rows = [blank; MAX_APPS as usize];
        let n = self.current_usage(cx.ram, &mut rows)?;
        let mut listed = 0;
        for row in rows[..n].iter().filter(|r| r.app != request.app) {
            cx.emit(
                self.name,
                EventKind::Asm(AsmEvent::Usage {
                    app: row.app,
                    name: row.name,
                    icon: row.icon,
                    size: row.size,
                    stopping: row.stopping,
                }),
            );
            listed += 1;
        }
        let name = self
            .app_info(cx.ram, request.app)?
            .map_or(self.name, |info| info.name);
        cx.emit(
            self.name,
            EventKind::Asm(AsmEvent::Prompt {
                app: request.app,
                name,
                required: request.size,
                listed,
            }),
        );
        self.oom = OomState::Prompt { request };
        Ok(Outcome::Prompted)
    }

    /// `mmi_frm_appmem_invoke_release_mem_success_callback`: the app asks again.
    fn retry<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        request: Request,
    ) -> Result<Outcome, AsmError> {
        self.oom = OomState::Idle;
        let addr = if request.full_pool {
            self.alloc_full_pool(cx, request.app)?
        } else {
            self.alloc(cx, request.size, Owner(request.app))?
        };
        cx.emit(
            self.name,
            EventKind::Asm(AsmEvent::Retry {
                app: request.app,
                size: request.size,
                addr,
            }),
        );
        Ok(Outcome::Granted(addr))
    }

    /// The user highlights `app` in the list and presses Stop
    /// (`mmi_frm_appmem_prompt_screen_stop_highlighted`): the confirm screen.
    pub fn choose<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        app: u16,
    ) -> Result<Outcome, AsmError> {
        let OomState::Prompt { request } = self.oom else {
            return Err(self.wrong_state("choose"));
        };
        let blank = AppUsage {
            app: 0,
            name: self.name,
            icon: 0,
            size: 0,
            stopping: false,
        };
        let mut rows = [blank; MAX_APPS as usize];
        let n = self.current_usage(cx.ram, &mut rows)?;
        let listed = rows[..n]
            .iter()
            .any(|r| r.app == app && app != request.app && !r.stopping);
        if !listed {
            return Err(AsmError::NotListed { app });
        }
        cx.emit(self.name, EventKind::Asm(AsmEvent::Choose { app }));
        self.oom = OomState::Confirm {
            request,
            victim: app,
        };
        Ok(Outcome::Confirming)
    }

    /// "No" on the confirm screen: back to the prompt, listed afresh.
    pub fn decline<S: Storage>(&mut self, cx: &mut Ctx<'_, S>) -> Result<Outcome, AsmError> {
        let OomState::Confirm { request, victim } = self.oom else {
            return Err(self.wrong_state("decline"));
        };
        cx.emit(self.name, EventKind::Asm(AsmEvent::Decline { app: victim }));
        self.oom = OomState::Idle;
        self.enter_prompt(cx, request)
    }

    /// Back out of the prompt (or the confirm screen): the request is dropped; the
    /// real framework has no failure callback.
    pub fn dismiss<S: Storage>(&mut self, cx: &mut Ctx<'_, S>) -> Result<Outcome, AsmError> {
        let request = match self.oom {
            OomState::Prompt { request } | OomState::Confirm { request, .. } => request,
            _ => return Err(self.wrong_state("dismiss")),
        };
        cx.emit(
            self.name,
            EventKind::Asm(AsmEvent::Dismiss { app: request.app }),
        );
        self.oom = OomState::Idle;
        Ok(Outcome::Idle)
    }

    /// "Yes" on the confirm screen (`mmi_frm_appmem_stop_confirm_screen_yes`): the
    /// victim is marked stopping and its stop handler runs.
    pub fn confirm<S: Storage>(&mut self, cx: &mut Ctx<'_, S>) -> Result<Outcome, AsmError> {
        let OomState::Confirm { request, victim } = self.oom else {
            return Err(self.wrong_state("confirm"));
        };
        let plan = self.plan(cx.ram, victim)?;
        cx.emit(self.name, EventKind::Asm(AsmEvent::Confirm { app: victim }));
        self.set_stopping(cx, victim, true)?;
        self.oom = OomState::Stopping {
            request,
            victim,
            elapsed: 0,
        };
        cx.emit(
            self.name,
            EventKind::Asm(AsmEvent::Stop {
                app: victim,
                ticks: plan.ticks,
            }),
        );
        self.free_blocks_of(cx, victim, plan.frees_per_tick as u32)?;
        if plan.ticks == 0 {
            return self.finish_stop(cx, victim, plan.result);
        }
        cx.emit(self.name, EventKind::Asm(AsmEvent::Waiting { app: victim }));
        Ok(Outcome::Waiting)
    }

    /// Advances a stop under way by one tick; does nothing in other states.
    pub fn tick<S: Storage>(&mut self, cx: &mut Ctx<'_, S>) -> Result<Outcome, AsmError> {
        let OomState::Stopping {
            request,
            victim,
            elapsed,
        } = self.oom
        else {
            return Ok(match self.oom {
                OomState::Prompt { .. } => Outcome::Prompted,
                OomState::Confirm { .. } => Outcome::Confirming,
                _ => Outcome::Idle,
            });
        };
        let plan = self.plan(cx.ram, victim)?;
        let tick = elapsed.saturating_add(1);
        self.oom = OomState::Stopping {
            request,
            victim,
            elapsed: tick,
        };
        let freed = self.free_blocks_of(cx, victim, plan.frees_per_tick as u32)?;
        cx.emit(
            self.name,
            EventKind::Asm(AsmEvent::StopTick {
                app: victim,
                tick,
                freed,
            }),
        );
        if tick >= plan.ticks {
            return self.finish_stop(cx, victim, plan.result);
        }
        Ok(Outcome::Waiting)
    }

    /// The end of the victim's stop: a successful stop releases whatever is left, then
    /// the app reports.
    fn finish_stop<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        victim: u16,
        result: bool,
    ) -> Result<Outcome, AsmError> {
        if result {
            self.free_blocks_of(cx, victim, u32::MAX)?;
        }
        self.notify_stop_finished(cx, victim, result)
    }

    /// Frees up to `max` of `app`'s chunks, newest first; returns how many.
    fn free_blocks_of<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        app: u16,
        max: u32,
    ) -> Result<u32, AsmError> {
        let mut freed = 0;
        let budget = self.alloc_count(cx.ram)?;
        while freed < max && freed <= budget {
            let mut first = [0; 1];
            if self.blocks_of(cx.ram, app, &mut first)? == 0 {
                break;
            }
            self.free(cx, first[0])?;
            freed += 1;
        }
        Ok(freed)
    }

    /// `applib_mem_ap_notify_stop_finished(app, result)`, then
    /// `mmi_frm_appmem_stop_finished_handler`: retry if memory is enough, else a popup
    /// and the prompt again. A report nobody waits for is taken and ignored.
    pub fn notify_stop_finished<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        app: u16,
        result: bool,
    ) -> Result<Outcome, AsmError> {
        let info = self
            .app_info(cx.ram, app)?
            .ok_or(AsmError::NoSuchApp { app })?;
        if !info.stopping {
            return Err(AsmError::NotStopping { app });
        }
        let waiting = match self.oom {
            OomState::Stopping {
                request, victim, ..
            } if victim == app => Some(request),
            _ => None,
        };
        if waiting.is_some() {
            // The stop is over whatever the prompt does next.
            self.oom = OomState::Idle;
        }
        self.set_stopping(cx, app, false)?;
        cx.emit(
            self.name,
            EventKind::Asm(AsmEvent::StopFinished { app, result }),
        );
        let Some(request) = waiting else {
            return Ok(Outcome::Idle);
        };
        if self.enough_memory(cx, request)? {
            self.popup(cx, PopupMsg::StartingNew);
            return self.retry(cx, request);
        }
        let msg = if result {
            PopupMsg::Stopped
        } else {
            PopupMsg::StopFailed
        };
        self.popup(cx, msg);
        self.enter_prompt(cx, request)
    }
}
