//! The lessons the page embeds: `lessons/<NN>-<slug>/{en,zh}.md`, parsed at build time by
//! the `memplay-lesson` crate and rendered to safe HTML (see build.rs). Static data only.

use crate::i18n::Lang;

include!(concat!(env!("OUT_DIR"), "/lessons.rs"));

/// One lesson in one language (the fields of `memplay_lesson::Lesson` the page uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lesson {
    pub id: &'static str,
    pub order: u32,
    pub title: &'static str,
    pub summary: &'static str,
    /// The first ```` ```mem ```` block: the script the lesson steps through.
    pub main_script: &'static str,
    /// The body (without its `# Title` line) as safe HTML.
    pub body_html: &'static str,
    pub exercises: &'static [Exercise],
}

/// An exercise: its heading, its prompt, and the script the learner starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exercise {
    pub title: &'static str,
    pub prompt_html: &'static str,
    pub starter: &'static str,
}

/// A lesson in every language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub id: &'static str,
    pub en: &'static Lesson,
    pub zh: &'static Lesson,
}

impl Entry {
    pub fn get(&self, lang: Lang) -> &'static Lesson {
        match lang {
            Lang::En => self.en,
            Lang::Zh => self.zh,
        }
    }

    /// True when `script` is one of the lesson's own scripts (in any language, an
    /// exercise's starter included), so not a learner's edit.
    pub fn is_original(&self, script: &str) -> bool {
        [self.en, self.zh]
            .iter()
            .any(|l| script == l.main_script || l.exercises.iter().any(|e| e.starter == script))
    }
}

/// Every embedded lesson, in course order.
pub fn all() -> impl Iterator<Item = Entry> {
    ENTRIES.iter().map(|(en, zh)| Entry { id: en.id, en, zh })
}

pub fn first() -> Option<Entry> {
    all().next()
}

pub fn find(id: &str) -> Option<Entry> {
    all().find(|e| e.id == id)
}

/// The step a `#step-N` link points at.
pub fn step_link(href: &str) -> Option<u32> {
    href.rsplit('#').next()?.strip_prefix("step-")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Timeline, MAX_STEPS};

    #[test]
    fn every_lesson_is_embedded_in_both_languages_and_runs() {
        assert!(all().count() >= 2);
        let mut orders: Vec<u32> = all().map(|e| e.en.order).collect();
        orders.dedup();
        assert_eq!(orders.len(), all().count());
        for entry in all() {
            for lang in [Lang::En, Lang::Zh] {
                let lesson = entry.get(lang);
                assert_eq!(lesson.id, entry.id);
                assert!(!lesson.title.is_empty());
                assert!(lesson.body_html.contains("language-mem"));
                assert!(!lesson.body_html.contains("<script"));
                let t = Timeline::build(lesson.main_script, MAX_STEPS).unwrap();
                assert!(t.total > 0);
                assert!(t.halt.is_none(), "{}: {:?}", entry.id, t.halt);
                assert!(t.failures.is_empty(), "{}: {:?}", entry.id, t.failures);
                for e in lesson.exercises {
                    assert!(entry.is_original(e.starter));
                }
            }
            assert!(entry.is_original(entry.zh.main_script));
        }
    }
}
