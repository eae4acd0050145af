//! A step's fault, whatever subsystem gave it: the allocators speak [`AllocError`], the
//! physical pages [`PageError`], virtual memory [`VmError`], and the task system (with its
//! timers) [`TaskError`]. `expect fault KIND` compares [`StepFault::kind`], the one word
//! each error type already gives (`OutOfMemory`, `OutOfPages`, `SegFault`, `QueueFull`...).

use core::fmt;

use crate::error::AllocError;
use crate::evshed::TimerError;
use crate::pages::PageError;
use crate::task::TaskError;
use crate::vm::VmError;

/// The fault of one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepFault {
    /// An allocator (or a configuration the engine refused).
    Alloc(AllocError),
    // pages, vm, tasks, timers
    /// The physical-page layer: the buddy, reference counts, LRU lists.
    Page(PageError),
    /// Virtual memory: a segmentation or protection fault, a region that does not fit.
    Vm(VmError),
    /// The task system and its timers: a full queue, a stack overflow.
    Task(TaskError),
}

impl StepFault {
    /// The fault's kind, as `expect fault` names it.
    pub fn kind(&self) -> &'static str {
        match self {
            StepFault::Alloc(e) => e.kind(),
            StepFault::Page(e) => e.kind(),
            StepFault::Vm(e) => e.kind(),
            StepFault::Task(e) => e.kind(),
        }
    }

    /// The allocator error, if the fault is one.
    pub fn alloc(&self) -> Option<AllocError> {
        match *self {
            StepFault::Alloc(e) => Some(e),
            _ => None,
        }
    }
}

impl From<AllocError> for StepFault {
    fn from(e: AllocError) -> StepFault {
        StepFault::Alloc(e)
    }
}

impl From<PageError> for StepFault {
    fn from(e: PageError) -> StepFault {
        StepFault::Page(e)
    }
}

impl From<VmError> for StepFault {
    fn from(e: VmError) -> StepFault {
        StepFault::Vm(e)
    }
}

impl From<TaskError> for StepFault {
    fn from(e: TaskError) -> StepFault {
        StepFault::Task(e)
    }
}

impl From<TimerError> for StepFault {
    fn from(e: TimerError) -> StepFault {
        StepFault::Task(e.into())
    }
}

impl fmt::Display for StepFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepFault::Alloc(e) => e.fmt(f),
            StepFault::Page(e) => e.fmt(f),
            StepFault::Vm(e) => e.fmt(f),
            StepFault::Task(e) => e.fmt(f),
        }
    }
}
