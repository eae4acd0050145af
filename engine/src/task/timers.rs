//! Time and timers: the clock, the timer interrupt posting `MSG_ID_TIMER_EXPIRY`,
//! `EvshedMMITimerHandler`, and the MMI timer API of the task system.

use super::*;

impl Kal {
    // ----- time and timers -------------------------------------------------------------

    /// Advances the clock by `ticks`. At every hardware-timer expiry on the way the timer
    /// interrupt posts `MSG_ID_TIMER_EXPIRY` to the MMI task and the tasks run until idle;
    /// at the end they run until idle once more.
    pub fn tick<S: Storage>(&mut self, cx: &mut Ctx<'_, S>, ticks: u32) -> Result<(), TaskError> {
        let result = self.tick_impl(cx, ticks);
        self.fault_on(cx, TaskOp::Tick { ticks }, result)
    }

    pub(super) fn tick_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        ticks: u32,
    ) -> Result<(), TaskError> {
        let from = self.now(cx.ram)?;
        let to = from
            .checked_add(ticks)
            .ok_or(TaskError::ClockOverflow { now: from, ticks })?;
        // Each pass either ends at `to` or stops at a hardware expiry, which lies strictly
        // ahead of the clock: the loop ends.
        loop {
            let now = self.now(cx.ram)?;
            if now > to {
                return Err(inconsistent(
                    self.kcb + KCB_CLOCK,
                    "the clock moved past the end of a tick",
                ));
            }
            let fire = match &self.evshed {
                Some(es) => es.next_fire(cx.ram, now)?.filter(|&at| at <= to),
                None => None,
            };
            let step = fire.unwrap_or(to);
            if step != now {
                cx.set_word(self.name, self.kcb + KCB_CLOCK, Field::Clock, step)?;
            }
            if fire.is_some() {
                self.hw_fire(cx, step)?;
            }
            self.run_impl(cx, false)?;
            if step == to {
                break;
            }
        }
        cx.emit(self.name, EventKind::Task(TaskEvent::Tick { from, to }));
        Ok(())
    }

    /// The timer interrupt at `at`: the hardware timer expires and posts
    /// `MSG_ID_TIMER_EXPIRY` into the MMI task's queue; if the queue cannot take it, the
    /// expiry is lost.
    pub(super) fn hw_fire<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        at: u32,
    ) -> Result<(), TaskError> {
        let (es, _) = self.timer_pair()?;
        let mmi = self.mmi.ok_or(TaskError::NoMmi)?;
        es.hw_expire(cx, at)?;
        let posted = self.send_impl(
            cx,
            Src::Timer,
            mmi,
            QueueKind::External,
            MSG_ID_TIMER_EXPIRY,
            [at, 0],
        );
        match posted {
            Ok(()) => Ok(()),
            Err(error) if error.is_soft() => {
                let op = TaskOp::Expiry;
                cx.emit(self.name, EventKind::Task(TaskEvent::Fault { op, error }));
                es.expiry_lost(cx, at)?;
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    /// `EvshedMMITimerHandler`: fires every due event, running each callback in the MMI
    /// task, then re-arms the hardware timer (even if a callback failed).
    pub(super) fn timer_handler<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
    ) -> Result<(), TaskError> {
        let (es, tt) = self.timer_pair()?;
        let now = self.now(cx.ram)?;
        let mut result = Ok(());
        // Callbacks only add events due after `now`, so at most `capacity` are due.
        for _ in 0..=es.capacity() {
            match es.pop_due(cx, now) {
                Ok(None) => break,
                Ok(Some(fired)) => {
                    if let Err(e) = self.fire(cx, &tt, fired) {
                        result = Err(e);
                        break;
                    }
                }
                Err(e) => {
                    result = Err(e.into());
                    break;
                }
            }
        }
        let done = es.handler_done(cx, now).map_err(TaskError::from);
        result.and(done)
    }

    /// Runs one fired event's callback in the MMI task, through `L4CallBackTimer` for MMI
    /// timers.
    pub(super) fn fire<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        tt: &MmiTimers,
        fired: Fired,
    ) -> Result<(), TaskError> {
        let callback = if fired.callback == L4_CALLBACK_TIMER {
            tt.expire(cx, fired.arg, fired.id)?.callback
        } else {
            fired.callback
        };
        let b = u8::try_from(callback)
            .ok()
            .map(BehaviourId)
            .filter(|&b| self.program.behaviour(b).is_some())
            .ok_or(TaskError::NoSuchBehaviour { id: callback })?;
        let mmi = self.mmi.ok_or(TaskError::NoMmi)?;
        self.exec(cx, mmi, HandlerKind::Timer, b, None, true)
    }

    pub(super) fn timer_pair(&self) -> Result<(Evshed, MmiTimers), TaskError> {
        match (self.evshed, self.timers) {
            (Some(es), Some(tt)) => Ok((es, tt)),
            _ => Err(TaskError::NoMmi),
        }
    }

    pub(super) fn behaviour_ok(&self, b: BehaviourId) -> Result<(), TaskError> {
        match self.program.behaviour(b) {
            Some(_) => Ok(()),
            None => Err(TaskError::NoSuchBehaviour { id: b.0 as u32 }),
        }
    }

    /// `StartTimer(timer, delay, callback)` (aligned) or `StartNonAlignTimer`: on expiry
    /// the MMI task runs `callback`. Restarting a running timer replaces it.
    pub fn start_timer<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        timer: u16,
        delay: u32,
        callback: BehaviourId,
        aligned: bool,
    ) -> Result<EventId, TaskError> {
        let result = self.start_timer_impl(cx, timer, delay, callback, aligned);
        self.fault_on(cx, TaskOp::StartTimer { timer }, result)
    }

    pub(super) fn start_timer_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        timer: u16,
        delay: u32,
        callback: BehaviourId,
        aligned: bool,
    ) -> Result<EventId, TaskError> {
        self.behaviour_ok(callback)?;
        let (es, tt) = self.timer_pair()?;
        let now = self.now(cx.ram)?;
        let cb = callback.0 as u32;
        Ok(tt.start_timer_impl(cx, &es, now, timer, delay, cb, timer as u32, aligned)?)
    }

    /// `StopTimer(timer)`; returns whether the timer was running.
    pub fn stop_timer<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        timer: u16,
    ) -> Result<bool, TaskError> {
        let result = self.stop_timer_impl(cx, timer);
        self.fault_on(cx, TaskOp::StopTimer { timer }, result)
    }

    pub(super) fn stop_timer_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        timer: u16,
    ) -> Result<bool, TaskError> {
        let (es, tt) = self.timer_pair()?;
        let now = self.now(cx.ram)?;
        let stopped = tt.stop_timer_impl(cx, &es, now, timer)?;
        if !stopped {
            cx.emit(tt.name(), EventKind::Timer(TimerEvent::StopIdle { timer }));
        }
        Ok(stopped)
    }

    /// `evshed_set_event` on the MMI scheduler: `callback` runs in the MMI task `delay`
    /// ticks from now (postponed within the fuzz window if `aligned`).
    pub fn set_event<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        delay: u32,
        callback: BehaviourId,
        arg: u32,
        aligned: bool,
    ) -> Result<EventId, TaskError> {
        let result = self.set_event_impl(cx, delay, callback, arg, aligned);
        self.fault_on(cx, TaskOp::SetEvent, result)
    }

    pub(super) fn set_event_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        delay: u32,
        callback: BehaviourId,
        arg: u32,
        aligned: bool,
    ) -> Result<EventId, TaskError> {
        self.behaviour_ok(callback)?;
        let (es, _) = self.timer_pair()?;
        let now = self.now(cx.ram)?;
        Ok(es.set_event_impl(cx, now, delay, callback.0 as u32, arg, aligned)?)
    }

    /// `evshed_cancel_event` on the MMI scheduler. Events of MMI timers are refused
    /// ([`TimerError::OwnedByTimer`]): they are stopped with [`Kal::stop_timer`].
    pub fn cancel_event<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        id: EventId,
    ) -> Result<(), TaskError> {
        let result = self.cancel_event_impl(cx, id);
        self.fault_on(cx, TaskOp::CancelEvent { id: id.0 }, result)
    }

    pub(super) fn cancel_event_impl<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        id: EventId,
    ) -> Result<(), TaskError> {
        let (es, _) = self.timer_pair()?;
        let now = self.now(cx.ram)?;
        let owned = es.find(cx.ram, id)?;
        if owned.is_some_and(|e| e.callback == L4_CALLBACK_TIMER) {
            return Err(TimerError::OwnedByTimer { id: id.0 }.into());
        }
        Ok(es.cancel_event_impl(cx, now, id)?)
    }
}
