//! The page's model and its reducer: plain Rust, tested on the host. Components get plain
//! data from here and send back [`Action`]s.

use std::rc::Rc;

use yew::Reducible;

use crate::demo::{self, Snapshot};

/// Where the learner is in the demo script, and what the machine looks like there.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    /// Steps run so far, `0..=total`.
    pub step: usize,
    pub total: usize,
    pub snapshot: Rc<Snapshot>,
}

/// What the controls can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Forward,
    Back,
    Reset,
    /// Run to the end of the script.
    End,
    /// Show the machine after `n` steps.
    Goto(usize),
}

impl Default for State {
    fn default() -> State {
        State::at(0)
    }
}

impl State {
    /// The machine after `step` steps (clamped to the script's length).
    pub fn at(step: usize) -> State {
        let total = demo::STEPS.len();
        let step = step.min(total);
        State {
            step,
            total,
            snapshot: Rc::new(demo::run(step)),
        }
    }

    pub fn apply(&self, action: Action) -> State {
        let step = match action {
            Action::Forward => self.step + 1,
            Action::Back => self.step.saturating_sub(1),
            Action::Reset => 0,
            Action::End => self.total,
            Action::Goto(n) => n,
        };
        if step.min(self.total) == self.step {
            self.clone()
        } else {
            State::at(step)
        }
    }

    /// The statement that ran last, if any.
    pub fn last(&self) -> Option<&'static demo::Step> {
        self.step.checked_sub(1).and_then(|i| demo::STEPS.get(i))
    }
}

impl Reducible for State {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let next = self.apply(action);
        if next.step == self.step {
            self
        } else {
            Rc::new(next)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stepping_forward_and_back_is_clamped_and_replays() {
        let start = State::default();
        assert_eq!(start.step, 0);
        assert!(start.snapshot.lines.is_empty());
        assert!(start.last().is_none());
        assert_eq!(start.apply(Action::Back).step, 0);

        let one = start.apply(Action::Forward);
        assert_eq!(one.step, 1);
        assert!(one.snapshot.lines.iter().all(|l| l.step == 1));
        assert_eq!(one.last().unwrap().script, "pool isram");

        let end = one.apply(Action::End);
        assert_eq!(end.step, end.total);
        assert_eq!(end.apply(Action::Forward).step, end.total);
        assert_eq!(end.apply(Action::Goto(99)).step, end.total);

        // Stepping back shows exactly what stepping forward showed.
        let back = end.apply(Action::Back).apply(Action::Back);
        assert_eq!(*back.snapshot, *State::at(end.total - 2).snapshot);
        assert_eq!(back.apply(Action::Reset), State::default());
    }

    #[test]
    fn reduce_keeps_the_same_state_when_nothing_moves() {
        let start = Rc::new(State::default());
        let same = start.clone().reduce(Action::Back);
        assert!(Rc::ptr_eq(&start, &same));
        let moved = start.clone().reduce(Action::Forward);
        assert_eq!(moved.step, 1);
    }
}
