//! The page's model and its reducer (in the style of Yew's function_todomvc example):
//! plain Rust, tested on the host. Components get plain data from here and send back
//! [`Action`]s; side effects (localStorage, the URL, timers) live in the app's effects,
//! never in the reducer.

use std::collections::BTreeSet;
use std::rc::Rc;

use memplay_engine::ram::Addr;
use memplay_engine::script::ScriptError;
use yew::Reducible;

use crate::i18n::Lang;
use crate::lessons;
use crate::session::{Frame, Timeline, MAX_STEPS};
use crate::share::Shared;

/// Steps per second the player offers.
pub const SPEEDS: [u32; 6] = [1, 2, 4, 10, 30, 100];

#[derive(Clone)]
pub struct State {
    pub lang: Lang,
    /// The lesson open, `None` in the free playground.
    pub lesson: Option<String>,
    /// The editor's text, exactly as typed.
    pub text: Rc<str>,
    /// The last text that ran (equal to `text` unless `error` is set).
    pub timeline: Rc<Timeline>,
    pub frame: Rc<Frame>,
    /// The static error of `text`: the map keeps showing the last script that ran.
    pub error: Option<ScriptError>,
    pub playing: bool,
    /// Steps per second while playing.
    pub speed: u32,
    /// The address whose block the inspector shows.
    pub selected: Option<Addr>,
    /// A message for the learner (a share link that cannot be opened).
    pub notice: Option<String>,
    /// Lessons stepped to their end.
    pub done: Rc<BTreeSet<String>>,
    /// The share box is open.
    pub sharing: bool,
}

impl PartialEq for State {
    fn eq(&self, other: &State) -> bool {
        self.lang == other.lang
            && self.lesson == other.lesson
            && self.text == other.text
            && Rc::ptr_eq(&self.timeline, &other.timeline)
            && Rc::ptr_eq(&self.frame, &other.frame)
            && self.error == other.error
            && self.playing == other.playing
            && self.speed == other.speed
            && self.selected == other.selected
            && self.notice == other.notice
            && self.done == other.done
            && self.sharing == other.sharing
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Step,
    Back,
    RunToEnd,
    Reset,
    /// Show the machine after `n` steps.
    Seek(u32),
    Play,
    Pause,
    TogglePlay,
    SetSpeed(u32),
    /// The player's timer fired: one step, and stop at the end.
    Tick,
    /// The learner changed the script: run it again from the start and go back to the same
    /// step where the new run has it.
    Edit(String),
    /// Open a lesson with `script` in the editor (the learner's saved edit, or `None` for
    /// the lesson's own script).
    LoadLesson {
        id: String,
        script: Option<String>,
    },
    /// The free playground, with a script.
    Scratch(String),
    /// Put the lesson's own script back.
    ResetScript,
    SetLang(Lang),
    Select(Option<Addr>),
    /// A share link was opened.
    OpenShared(Shared),
    /// A share link could not be opened.
    BadLink(String),
    DismissNotice,
    ShowShare(bool),
    /// The learner pressed a key of the simulated phone: these statements go into the
    /// script after the current step's line, and the machine steps through them.
    Insert(Vec<String>),
}

/// The script the free playground starts with.
pub const SCRATCH: &str = "\
# A free playground: edit me. One line is one step.
ram isram 0x40000000 16K internal
ram extsram 0x08000000 64K external
sys isram extsram 16K
ctrl table 32x8 64x8 128x4 256x4
lab heap 4K on extsram policy first

a = ctrl.alloc 100 owner 1
b = heap.alloc 300 owner 2
c = heap.alloc 120 owner 3
heap.free b
d = heap.alloc 64 owner 4
note \"d took the first hole that fits\"
";

/// The timeline of the empty script, shown while the learner's text has an error.
fn empty_timeline() -> Timeline {
    match Timeline::build("", MAX_STEPS) {
        Ok(t) => t,
        // Not `expect`: that would print the error with `Debug`, whose code the page
        // otherwise does without.
        Err(_) => unreachable!("an empty script runs"),
    }
}

impl State {
    /// A state showing `text` at step 0.
    pub fn new(lang: Lang, lesson: Option<String>, text: &str, done: BTreeSet<String>) -> State {
        let (timeline, error) = match Timeline::build(text, MAX_STEPS) {
            Ok(t) => (t, None),
            // The learner's text stays in the editor; the map shows an empty machine.
            Err(e) => (empty_timeline(), Some(e)),
        };
        let frame = timeline.frame_at(0);
        State {
            lang,
            lesson,
            text: Rc::from(text),
            timeline: Rc::new(timeline),
            frame: Rc::new(frame),
            error,
            playing: false,
            speed: 4,
            selected: None,
            notice: None,
            done: Rc::new(done),
            sharing: false,
        }
    }

    pub fn step(&self) -> u32 {
        self.frame.step()
    }

    pub fn total(&self) -> u32 {
        self.timeline.total
    }

    /// The lesson's own script in the current language.
    pub fn lesson_script(&self) -> Option<&'static str> {
        let entry = lessons::find(self.lesson.as_deref()?)?;
        Some(entry.get(self.lang).main_script)
    }

    /// True when the editor holds something else than the lesson's own script.
    pub fn edited(&self) -> bool {
        match self.lesson.as_deref().and_then(lessons::find) {
            Some(entry) => !entry.is_original(&self.text),
            None => false,
        }
    }

    /// The script error to show: a static error of the text, or the error the current
    /// step (or the run) stopped with.
    pub fn shown_error(&self) -> Option<ScriptError> {
        self.error
            .or_else(|| self.frame.current().and_then(|l| l.error))
            .or_else(|| {
                self.timeline
                    .halt
                    .filter(|(step, _)| *step <= self.step())
                    .map(|(_, e)| e)
            })
    }

    fn seek(&mut self, n: u32) {
        let n = n.min(self.total());
        if n == self.step() {
            return;
        }
        let frame = if n == self.step() + 1 {
            self.frame.next()
        } else {
            self.timeline.frame_at(n)
        };
        self.frame = Rc::new(frame);
        self.mark_done();
    }

    fn mark_done(&mut self) {
        if self.step() == self.total() && self.total() > 0 && self.error.is_none() {
            if let Some(id) = &self.lesson {
                if !self.done.contains(id) {
                    let mut done = (*self.done).clone();
                    done.insert(id.clone());
                    self.done = Rc::new(done);
                }
            }
        }
    }

    /// Runs `text` from the start and moves to step `at` (or as near as the run allows).
    fn run_text(&mut self, text: &str, at: u32) {
        self.text = Rc::from(text);
        match Timeline::build(text, MAX_STEPS) {
            Ok(timeline) => {
                let frame = timeline.frame_at(at);
                self.timeline = Rc::new(timeline);
                self.frame = Rc::new(frame);
                self.error = None;
                self.mark_done();
            }
            Err(e) => {
                self.error = Some(e);
                self.playing = false;
            }
        }
    }

    fn open(&mut self, lesson: Option<String>, text: &str) {
        self.lesson = lesson;
        self.playing = false;
        self.selected = None;
        self.run_text(text, 0);
        if self.error.is_some() {
            // Nothing of the previous script may stay on screen.
            let empty = empty_timeline();
            self.frame = Rc::new(empty.frame_at(0));
            self.timeline = Rc::new(empty);
        }
    }

    pub fn apply(&self, action: Action) -> State {
        let mut s = self.clone();
        match action {
            Action::Step => s.seek(s.step() + 1),
            Action::Back => s.seek(s.step().saturating_sub(1)),
            Action::RunToEnd => {
                s.playing = false;
                s.seek(s.total());
            }
            Action::Reset => {
                s.playing = false;
                s.seek(0);
            }
            Action::Seek(n) => s.seek(n),
            Action::Play => s.playing = s.step() < s.total() && s.error.is_none(),
            Action::Pause => s.playing = false,
            Action::TogglePlay => {
                return s.apply(if s.playing {
                    Action::Pause
                } else {
                    Action::Play
                })
            }
            Action::SetSpeed(speed) => s.speed = speed.clamp(1, 1000),
            Action::Tick => {
                if s.playing {
                    s.seek(s.step() + 1);
                    s.playing = s.step() < s.total();
                }
            }
            Action::Edit(text) => {
                if *text != *s.text {
                    let at = s.step();
                    s.run_text(&text, at);
                }
            }
            Action::LoadLesson { id, script } => match lessons::find(&id) {
                Some(entry) => {
                    let own = entry.get(s.lang).main_script;
                    let text = script.unwrap_or_else(|| own.to_string());
                    s.open(Some(id), &text);
                }
                None => s.notice = Some(format!("no lesson `{id}`")),
            },
            Action::Scratch(text) => s.open(None, &text),
            Action::ResetScript => {
                if let Some(script) = s.lesson_script() {
                    let at = s.step();
                    s.run_text(script, at);
                }
            }
            Action::SetLang(lang) => {
                let was_original = !s.edited();
                s.lang = lang;
                // An unedited lesson script follows the language (its notes are translated).
                if let (true, Some(script)) = (was_original, s.lesson_script()) {
                    if *script != *s.text {
                        let at = s.step();
                        s.run_text(script, at);
                    }
                }
            }
            Action::Select(addr) => s.selected = addr,
            Action::OpenShared(shared) => {
                let lesson = shared.lesson.filter(|id| lessons::find(id).is_some());
                s.open(lesson, &shared.script);
                s.notice = None;
            }
            Action::BadLink(message) => s.notice = Some(message),
            Action::DismissNotice => s.notice = None,
            Action::ShowShare(open) => s.sharing = open,
            Action::Insert(lines) => {
                if s.error.is_none() && !lines.is_empty() {
                    let text = insert_after(&s.text, s.frame.machine.current_line(), &lines);
                    let at = s.step() + lines.len() as u32;
                    s.playing = false;
                    s.run_text(&text, at);
                }
            }
        }
        s
    }
}

/// `text` with `lines` inserted after line `line` (from 1; 0 puts them first), each with
/// the indentation of that line.
pub fn insert_after(text: &str, line: u32, lines: &[String]) -> String {
    let mut out: Vec<String> = text.split('\n').map(str::to_string).collect();
    if out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    let at = (line as usize).min(out.len());
    let indent: String = at
        .checked_sub(1)
        .and_then(|i| out.get(i))
        .map(|l| l.chars().take_while(|c| c.is_whitespace()).collect())
        .unwrap_or_default();
    for (i, l) in lines.iter().enumerate() {
        out.insert(at + i, format!("{indent}{l}"));
    }
    let mut joined = out.join("\n");
    joined.push('\n');
    joined
}

impl Reducible for State {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let next = self.apply(action);
        if next == *self {
            self
        } else {
            Rc::new(next)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::share;

    fn scratch() -> State {
        State::new(Lang::En, None, SCRATCH, BTreeSet::new())
    }

    fn trace_of(s: &State) -> Vec<String> {
        s.frame
            .log
            .iter()
            .flat_map(|l| l.events.iter().map(move |e| format!("{:04} {e}", l.step)))
            .collect()
    }

    #[test]
    fn step_and_back_match_a_straight_run() {
        let start = scratch();
        assert!(start.error.is_none());
        assert_eq!(start.step(), 0);
        assert!(start.total() >= 10);
        let mut forward = vec![start.clone()];
        for _ in 0..start.total() + 3 {
            let next = forward.last().unwrap().apply(Action::Step);
            forward.push(next);
        }
        assert_eq!(forward.last().unwrap().step(), start.total());
        // Back from the end, one step at a time: each state shows what stepping forward
        // showed at that step.
        let mut s = forward.last().unwrap().clone();
        while s.step() > 0 {
            s = s.apply(Action::Back);
            let f = &forward[s.step() as usize];
            assert_eq!(trace_of(&s), trace_of(f), "step {}", s.step());
            assert_eq!(
                s.frame.machine.ram().slice(0x0800_0000, 65536).ok(),
                f.frame.machine.ram().slice(0x0800_0000, 65536).ok()
            );
        }
        assert_eq!(s.apply(Action::Back).step(), 0);
        let end = s.apply(Action::RunToEnd);
        assert_eq!(end.step(), end.total());
        assert_eq!(end.apply(Action::Seek(3)).step(), 3);
        assert_eq!(end.apply(Action::Reset).step(), 0);
        assert_eq!(end.apply(Action::Seek(9999)).step(), end.total());
    }

    #[test]
    fn reduce_keeps_the_same_state_when_nothing_changes() {
        let start = Rc::new(scratch());
        let same = start.clone().reduce(Action::Back);
        assert!(Rc::ptr_eq(&start, &same));
        let moved = start.clone().reduce(Action::Step);
        assert_eq!(moved.step(), 1);
    }

    #[test]
    fn an_edit_keeps_the_position_and_an_error_keeps_text_and_place() {
        let s = scratch().apply(Action::Seek(8));
        let edited = s.apply(Action::Edit(SCRATCH.replace("300", "200")));
        assert_eq!(edited.step(), 8);
        assert!(edited.error.is_none());
        assert!(trace_of(&edited).iter().any(|l| l.contains("size=200")));

        let broken_text = SCRATCH.replace("heap.free b", "heap.free bb");
        let broken = edited.apply(Action::Edit(broken_text.clone()));
        let error = broken.error.unwrap();
        assert_eq!(error.line, 11);
        assert_eq!(error.col, 11);
        assert_eq!(&*broken.text, broken_text.as_str());
        assert_eq!(broken.step(), 8, "the map stays where it was");
        assert!(Rc::ptr_eq(&broken.frame, &edited.frame));
        assert!(!broken.apply(Action::Play).playing);

        // Fixed again: back at the same step.
        let fixed = broken.apply(Action::Edit(SCRATCH.to_string()));
        assert!(fixed.error.is_none());
        assert_eq!(fixed.step(), 8);

        // A shorter script: as far as it goes.
        let short = fixed.apply(Action::Edit("ram r 0x0 1K\ntick 1\n".into()));
        assert_eq!(short.step(), 2);
    }

    #[test]
    fn playing_stops_at_the_end() {
        let mut s = scratch().apply(Action::Play);
        assert!(s.playing);
        for _ in 0..100 {
            s = s.apply(Action::Tick);
        }
        assert!(!s.playing);
        assert_eq!(s.step(), s.total());
        assert!(!s.apply(Action::Play).playing);
        let s = s.apply(Action::Reset).apply(Action::TogglePlay);
        assert!(s.playing);
        assert!(!s.apply(Action::TogglePlay).playing);
        assert_eq!(s.apply(Action::SetSpeed(0)).speed, 1);
    }

    #[test]
    fn lessons_open_follow_the_language_and_reset() {
        let entry = lessons::first().unwrap();
        let s = scratch().apply(Action::LoadLesson {
            id: entry.id.to_string(),
            script: None,
        });
        assert_eq!(s.lesson.as_deref(), Some(entry.id));
        assert_eq!(&*s.text, entry.en.main_script);
        assert!(!s.edited());
        let zh = s.apply(Action::Step).apply(Action::SetLang(Lang::Zh));
        assert_eq!(&*zh.text, entry.zh.main_script);
        assert_eq!(zh.step(), 1);

        let edited = zh.apply(Action::Edit(format!("{}tick 5\n", entry.zh.main_script)));
        assert!(edited.edited());
        // An edited script stays when the language changes.
        let en = edited.apply(Action::SetLang(Lang::En));
        assert_eq!(en.text, edited.text);
        let reset = en.apply(Action::ResetScript);
        assert_eq!(&*reset.text, entry.en.main_script);
        assert!(!reset.edited());

        // A saved edit is what opens.
        let saved = scratch().apply(Action::LoadLesson {
            id: entry.id.to_string(),
            script: Some("ram r 0x0 1K\n".into()),
        });
        assert_eq!(&*saved.text, "ram r 0x0 1K\n");
        assert!(saved.edited());

        // Stepping to the end marks the lesson done.
        let done = s.apply(Action::RunToEnd);
        assert!(done.done.contains(entry.id));
        let missing = scratch().apply(Action::LoadLesson {
            id: "nope".into(),
            script: None,
        });
        assert!(missing.notice.is_some());
    }

    #[test]
    fn the_learner_answers_the_out_of_memory_prompt() {
        let script = "\
ram extsram 0x08000000 256K
asm pool 100K on extsram apps camera:\"Camera\" music:\"Music\"
asm.plan music frees 1 ticks 2 ok
m1 = asm.alloc music 40K
m2 = asm.alloc music 40K
c = asm.alloc_or_prompt camera 50K
note \"the end\"
";
        let s = State::new(Lang::En, None, script, BTreeSet::new()).apply(Action::Seek(6));
        let p = crate::oom::prompt(&s.frame).unwrap();
        assert_eq!(p.screen, crate::oom::Screen::Prompt);
        let s = s.apply(Action::Insert(vec!["asm.choose music".into()]));
        assert_eq!(s.step(), 7);
        assert!(s
            .text
            .contains("c = asm.alloc_or_prompt camera 50K\nasm.choose music\nnote"));
        let p = crate::oom::prompt(&s.frame).unwrap();
        assert_eq!(
            p.screen,
            crate::oom::Screen::Confirm {
                victim: "Music".into()
            }
        );
        let s = s.apply(Action::Insert(vec!["asm.confirm".into()]));
        assert_eq!(s.step(), 8);
        assert!(matches!(
            crate::oom::prompt(&s.frame).unwrap().screen,
            crate::oom::Screen::Stopping { .. }
        ));
        let s = s
            .apply(Action::Insert(vec!["tick 1".into()]))
            .apply(Action::Insert(vec!["tick 1".into()]));
        assert_eq!(s.step(), 10);
        assert!(
            crate::oom::prompt(&s.frame).is_none(),
            "the request was retried"
        );
        assert!(s.error.is_none());
        assert_eq!(
            insert_after("a\n  b\nc", 2, &["x".into()]),
            "a\n  b\n  x\nc\n"
        );
        assert_eq!(insert_after("", 0, &["x".into()]), "x\n");
    }

    #[test]
    fn share_links_round_trip_and_hostile_ones_leave_the_page_working() {
        let s = scratch().apply(Action::Edit(format!("{SCRATCH}tick 3\n")));
        let link = share::encode(&s.text, s.lesson.as_deref());
        let shared = share::decode(&link).unwrap().unwrap();
        let opened = scratch().apply(Action::OpenShared(shared));
        assert_eq!(opened.text, s.text);
        assert_eq!(opened.step(), 0);
        assert_eq!(opened.total(), s.total());

        let bad = share::decode("#s=%%%").unwrap_err();
        let after = opened.apply(Action::BadLink(bad.to_string()));
        assert!(after.notice.is_some());
        assert_eq!(after.text, opened.text);
        let after = after.apply(Action::Step).apply(Action::DismissNotice);
        assert_eq!(after.step(), 1);
        assert!(after.notice.is_none());

        // A link whose script has an error opens with the error shown and the text kept.
        let broken = share::decode(&share::encode("ram r 0x0 1K\nfoo\n", None))
            .unwrap()
            .unwrap();
        let b = opened.apply(Action::OpenShared(broken));
        assert!(b.error.is_some());
        assert_eq!(&*b.text, "ram r 0x0 1K\nfoo\n");
        assert_eq!(b.total(), 0);
    }
}
