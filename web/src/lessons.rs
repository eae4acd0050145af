//! The lessons the page embeds (see build.rs), parsed once.
//!
//! This is a small local reader of the lesson format (`lessons/<NN>-<slug>/{en,zh}.md`:
//! front matter, Markdown, ```` ```mem ```` blocks) with the field names of the
//! `memplay-lesson` crate's `Lesson`, so that the page can switch to that crate's `parse`
//! without touching its views.

use std::sync::OnceLock;

use crate::i18n::Lang;

include!(concat!(env!("OUT_DIR"), "/lessons.rs"));

/// One lesson in one language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lesson {
    pub id: String,
    pub title: String,
    pub order: u32,
    pub summary: String,
    /// The first ```` ```mem ```` block that is not an exercise.
    pub main_script: String,
    /// Everything after the front matter.
    pub body_markdown: String,
    /// The body rendered at build time (safe HTML, see `markdown.rs`).
    pub body_html: &'static str,
}

/// A lesson in every language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub en: Lesson,
    pub zh: Lesson,
}

impl Entry {
    pub fn get(&self, lang: Lang) -> &Lesson {
        match lang {
            Lang::En => &self.en,
            Lang::Zh => &self.zh,
        }
    }

    /// True when `script` is one of the lesson's own scripts (in any language), so not a
    /// learner's edit.
    pub fn is_original(&self, script: &str) -> bool {
        script == self.en.main_script || script == self.zh.main_script
    }
}

/// Every embedded lesson, in course order. Files that do not parse are left out.
pub fn all() -> &'static [Entry] {
    static ALL: OnceLock<Vec<Entry>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut out: Vec<Entry> = LESSON_FILES
            .iter()
            .filter_map(|(_, en, zh, en_html, zh_html)| {
                let mut en = parse(en)?;
                let mut zh = parse(zh)?;
                en.body_html = en_html;
                zh.body_html = zh_html;
                Some(Entry {
                    id: en.id.clone(),
                    en,
                    zh,
                })
            })
            .collect();
        out.sort_by_key(|e| e.en.order);
        out
    })
}

pub fn find(id: &str) -> Option<&'static Entry> {
    all().iter().find(|e| e.id == id)
}

/// Reads one lesson file; `None` when it has no front matter or no script.
pub fn parse(text: &str) -> Option<Lesson> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest = text.strip_prefix("---")?;
    let rest = rest
        .strip_prefix("\r\n")
        .or_else(|| rest.strip_prefix('\n'))?;
    let end = rest.find("\n---")?;
    let front = &rest[..end];
    let body = rest[end + 4..].trim_start_matches(['\r', '\n']);
    let mut lesson = Lesson {
        id: String::new(),
        title: String::new(),
        order: 0,
        summary: String::new(),
        main_script: String::new(),
        body_markdown: body.to_string(),
        body_html: "",
    };
    for line in front.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().trim_matches('"').to_string();
        match key.trim() {
            "id" => lesson.id = value,
            "title" => lesson.title = value,
            "order" => lesson.order = value.parse().unwrap_or(0),
            "summary" => lesson.summary = value,
            _ => {}
        }
    }
    lesson.main_script = first_script(body)?;
    (!lesson.id.is_empty()).then_some(lesson)
}

/// The first ```` ```mem ```` block that is not marked `exercise`.
fn first_script(body: &str) -> Option<String> {
    let mut lines = body.lines();
    while let Some(line) = lines.next() {
        let fence = line.trim_start();
        let Some(info) = fence.strip_prefix("```") else {
            continue;
        };
        let mut words = info.split_whitespace();
        let is_main = words.next() == Some("mem") && words.next().is_none();
        let mut script = String::new();
        for line in lines.by_ref() {
            if line.trim_start().starts_with("```") {
                break;
            }
            script.push_str(line);
            script.push('\n');
        }
        if is_main {
            return Some(script);
        }
    }
    None
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
    fn every_lesson_parses_in_both_languages_and_runs() {
        assert!(!all().is_empty());
        assert_eq!(all().len(), LESSON_FILES.len());
        for entry in all() {
            for lang in [Lang::En, Lang::Zh] {
                let lesson = entry.get(lang);
                assert_eq!(lesson.id, entry.id);
                assert!(!lesson.title.is_empty());
                assert!(lesson.body_html.contains("language-mem"));
                assert_eq!(
                    lesson.body_html,
                    crate::markdown::to_html(&lesson.body_markdown)
                );
                let t = Timeline::build(&lesson.main_script, MAX_STEPS).unwrap();
                assert!(t.total > 0);
                assert!(t.halt.is_none(), "{}: {:?}", entry.id, t.halt);
                assert!(t.failures.is_empty(), "{}: {:?}", entry.id, t.failures);
            }
        }
    }

    #[test]
    fn exercises_are_not_the_main_script() {
        let text = "---\nid: x\ntitle: X\norder: 1\n---\n```mem exercise\ntick 2\n```\n```mem\ntick 1\n```\n";
        assert_eq!(parse(text).unwrap().main_script, "tick 1\n");
        assert_eq!(parse("no front matter"), None);
    }
}
