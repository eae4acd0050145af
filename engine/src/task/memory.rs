//! The task system's RAM structures: reading and validating TCBs, queues and messages,
//! stack frames and guards, and putting messages into and taking them out of queues.

use super::*;

/// A TCB's changing words, validated.
#[derive(Clone, Copy, Debug)]
pub(super) struct Tcb {
    pub(super) state: TaskState,
    pub(super) peak: u32,
    pub(super) handled: u32,
}

/// A queue's header, validated.
#[derive(Clone, Copy, Debug)]
pub(super) struct QueueHeader {
    pub(super) addr: Addr,
    pub(super) kind: QueueKind,
    pub(super) capacity: u32,
    pub(super) count: u32,
    pub(super) head: u32,
    pub(super) tail: u32,
}

impl QueueHeader {
    pub(super) fn slot_addr(&self, slot: u32) -> Addr {
        self.addr + QUEUE_HEADER + MESSAGE_SIZE * slot
    }
}

impl Kal {
    // ----- RAM structures ------------------------------------------------------------

    pub(super) fn read_tcb<S: Storage>(
        &self,
        ram: &Ram<S>,
        t: &TaskInfo,
    ) -> Result<Tcb, TaskError> {
        let at = t.tcb;
        let expected = [
            (TCB_MAGIC_AT, Field::Magic, TCB_MAGIC),
            (TCB_ID, Field::Id, t.id.0 as u32),
            (TCB_PRIORITY, Field::Priority, t.config.priority as u32),
            (TCB_STACK, Field::Stack, t.stack),
            (TCB_STACK_SIZE, Field::Size, t.stack_size),
            (TCB_EXT, Field::Queue, t.ext),
            (TCB_INT, Field::Queue, t.int),
        ];
        for (off, field, want) in expected {
            let found = ram.read_u32(at + off)?;
            if found != want {
                return Err(corrupted(at + off, field, want, found));
            }
        }
        let state_word = ram.read_u32(at + TCB_STATE)?;
        let state = TaskState::from_word(state_word).ok_or(inconsistent(
            at + TCB_STATE,
            "a task's state is not one of 1 to 5",
        ))?;
        Ok(Tcb {
            state,
            peak: ram.read_u32(at + TCB_PEAK)?,
            handled: ram.read_u32(at + TCB_HANDLED)?,
        })
    }

    pub(super) fn set_state<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        t: &TaskInfo,
        state: TaskState,
    ) -> Result<(), TaskError> {
        let n = t.config.name;
        cx.set_word(n, t.tcb + TCB_STATE, Field::State, state.word())?;
        Ok(())
    }

    /// Queue `kind` of `t`, validated; `None` if the task has none.
    pub(super) fn read_queue<S: Storage>(
        &self,
        ram: &Ram<S>,
        t: &TaskInfo,
        kind: QueueKind,
    ) -> Result<Option<QueueHeader>, TaskError> {
        let (q, cap) = t.queue(kind);
        if cap == 0 {
            return Ok(None);
        }
        let capacity = cap as u32;
        let expected = [
            (Q_MAGIC, Field::Magic, QUEUE_MAGIC),
            (Q_OWNER, Field::Owner, t.id.0 as u32),
            (Q_KIND, Field::Flags, kind.word()),
            (Q_CAPACITY, Field::Size, capacity),
        ];
        for (off, field, want) in expected {
            let found = ram.read_u32(q + off)?;
            if found != want {
                return Err(corrupted(q + off, field, want, found));
            }
        }
        let count = ram.read_u32(q + Q_COUNT)?;
        let head = ram.read_u32(q + Q_HEAD)?;
        let tail = ram.read_u32(q + Q_TAIL)?;
        if count > capacity {
            return Err(inconsistent(
                q + Q_COUNT,
                "a queue holds more messages than its capacity",
            ));
        }
        if head >= capacity {
            return Err(inconsistent(
                q + Q_HEAD,
                "a queue's head is past its last slot",
            ));
        }
        let want_tail = (head + count) % capacity;
        if tail != want_tail {
            return Err(corrupted(q + Q_TAIL, Field::Tail, want_tail, tail));
        }
        Ok(Some(QueueHeader {
            addr: q,
            kind,
            capacity,
            count,
            head,
            tail,
        }))
    }

    pub(super) fn decode_src(&self, word: u32, at: Addr) -> Result<Src, TaskError> {
        match word {
            SRC_EXTERNAL => Ok(Src::External),
            SRC_TIMER => Ok(Src::Timer),
            w if (w as usize) < self.count => Ok(Src::Task(TaskId(w as u8))),
            _ => Err(inconsistent(
                at,
                "a message's source is not a task, the outside or the timer",
            )),
        }
    }

    pub(super) fn encode_src(src: Src) -> u32 {
        match src {
            Src::Task(t) => t.0 as u32,
            Src::External => SRC_EXTERNAL,
            Src::Timer => SRC_TIMER,
        }
    }

    pub(super) fn src_name(&self, src: Src) -> Name {
        match src {
            Src::Task(t) => self.task(t).map_or(EXTERNAL_NAME, |t| t.config.name),
            Src::External => EXTERNAL_NAME,
            Src::Timer => TIMER_SRC_NAME,
        }
    }

    pub(super) fn read_message<S: Storage>(
        &self,
        ram: &Ram<S>,
        q: &QueueHeader,
        slot: u32,
    ) -> Result<Message, TaskError> {
        let at = q.slot_addr(slot);
        let id = ram.read_u32(at + M_ID)?;
        let msg = MsgId::try_from(id)
            .map_err(|_| inconsistent(at + M_ID, "a message id is not 16 bits"))?;
        let src = self.decode_src(ram.read_u32(at + M_SRC)?, at + M_SRC)?;
        let payload = [ram.read_u32(at + M_P0)?, ram.read_u32(at + M_P1)?];
        Ok(Message {
            msg,
            src,
            payload,
            slot,
        })
    }

    /// Checks task `t`'s stack guard from its top word down (where an overflow reaches it
    /// first).
    pub(super) fn check_guard<S: Storage>(
        &self,
        ram: &Ram<S>,
        t: &TaskInfo,
    ) -> Result<(), TaskError> {
        for k in (0..STACK_GUARD_SIZE / 4).rev() {
            let at = t.stack + 4 * k;
            let found = ram.read_u32(at)?;
            if found != STACK_GUARD_WORD {
                let used = ram.read_u32(t.tcb + TCB_PEAK).unwrap_or(0);
                return Err(TaskError::StackOverflow {
                    task: t.config.name,
                    at,
                    expected: STACK_GUARD_WORD,
                    found,
                    used,
                    size: t.stack_size,
                });
            }
        }
        Ok(())
    }

    /// Writes a handler's stack frame of `used` bytes from the top of `t`'s stack down
    /// (never below the stack's base) and records the deepest use.
    pub(super) fn paint<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        t: &TaskInfo,
        used: u32,
    ) -> Result<(), TaskError> {
        let n = t.config.name;
        let len = used.min(t.stack_size);
        if len > 0 {
            let from = t.stack_top() - len;
            cx.fill(n, from, len, STACK_FRAME_BYTE, Field::Stack)?;
        }
        let tcb = self.read_tcb(cx.ram, t)?;
        if used > tcb.peak {
            cx.set_word(n, t.tcb + TCB_PEAK, Field::Stack, used)?;
        }
        Ok(())
    }

    // ----- messages ------------------------------------------------------------------

    /// `msg_send_ext_queue` (or `msg_send_int_queue` for a task's own internal queue):
    /// puts `msg` into a queue of task `to`. It waits there until the tasks next run.
    /// A full queue fails with [`TaskError::QueueFull`] after listing what it holds.
    pub fn send<S: Storage>(
        &mut self,
        cx: &mut Ctx<'_, S>,
        from: Src,
        to: TaskId,
        queue: QueueKind,
        msg: MsgId,
        payload: [u32; 2],
    ) -> Result<(), TaskError> {
        let result = match from {
            Src::Timer => Err(TaskError::BadSource),
            Src::Task(t) if self.task(t).is_none() => Err(TaskError::NoSuchTask { id: t.0 as u32 }),
            _ if queue == QueueKind::Internal && from != Src::Task(to) => Err(TaskError::BadSource),
            _ => self.send_impl(cx, from, to, queue, msg, payload),
        };
        let to_name = self.task(to).map_or(EXTERNAL_NAME, |t| t.config.name);
        self.fault_on(cx, TaskOp::Send { to: to_name, msg }, result)
    }

    pub(super) fn send_impl<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        from: Src,
        to: TaskId,
        kind: QueueKind,
        msg: MsgId,
        payload: [u32; 2],
    ) -> Result<(), TaskError> {
        let t = self.info(to)?;
        let task = t.config.name;
        let Some(q) = self.read_queue(cx.ram, &t, kind)? else {
            return Err(TaskError::NoQueue { task, queue: kind });
        };
        if q.count == q.capacity {
            for k in 0..q.count {
                let slot = (q.head + k) % q.capacity;
                let m = self.read_message(cx.ram, &q, slot)?;
                let held = TaskEvent::Held {
                    queue: kind,
                    slot,
                    msg: m.msg,
                    from: self.src_name(m.src),
                    payload: m.payload,
                };
                cx.emit(task, EventKind::Task(held));
            }
            return Err(TaskError::QueueFull {
                task,
                queue: kind,
                capacity: q.capacity,
            });
        }
        let tcb = self.read_tcb(cx.ram, &t)?;
        let at = q.slot_addr(q.tail);
        cx.set_word(task, at + M_ID, Field::Id, msg as u32)?;
        cx.set_word(task, at + M_SRC, Field::Owner, Kal::encode_src(from))?;
        cx.set_word(task, at + M_P0, Field::Data, payload[0])?;
        cx.set_word(task, at + M_P1, Field::Data, payload[1])?;
        let tail = (q.tail + 1) % q.capacity;
        cx.set_word(task, q.addr + Q_TAIL, Field::Tail, tail)?;
        cx.set_word(task, q.addr + Q_COUNT, Field::Count, q.count + 1)?;
        if tcb.state == TaskState::Waiting {
            self.set_state(cx, &t, TaskState::Ready)?;
        }
        let enqueue = TaskEvent::Enqueue {
            queue: kind,
            msg,
            from: self.src_name(from),
            payload,
            slot: q.tail,
            count: q.count + 1,
        };
        cx.emit(task, EventKind::Task(enqueue));
        Ok(())
    }

    /// Takes the oldest message from queue `kind` of `t`.
    pub(super) fn dequeue<S: Storage>(
        &self,
        cx: &mut Ctx<'_, S>,
        t: &TaskInfo,
        kind: QueueKind,
    ) -> Result<Message, TaskError> {
        let task = t.config.name;
        let q = self
            .read_queue(cx.ram, t, kind)?
            .filter(|q| q.count > 0)
            .ok_or(inconsistent(
                t.tcb + TCB_STATE,
                "a ready task has no message",
            ))?;
        let m = self.read_message(cx.ram, &q, q.head)?;
        let head = (q.head + 1) % q.capacity;
        cx.set_word(task, q.addr + Q_HEAD, Field::Head, head)?;
        cx.set_word(task, q.addr + Q_COUNT, Field::Count, q.count - 1)?;
        let dequeue = TaskEvent::Dequeue {
            queue: q.kind,
            msg: m.msg,
            from: self.src_name(m.src),
            payload: m.payload,
            slot: q.head,
            count: q.count - 1,
        };
        cx.emit(task, EventKind::Task(dequeue));
        Ok(m)
    }
}
