//! The lessons: `lessons/<NN>-<slug>/{en,zh}.md`, parsed at build time by the
//! `memplay-lesson` crate (see build.rs). The wasm embeds each lesson's index — id, order,
//! title, summary and scripts — and the address of its page, the text as safe HTML in a
//! file next to the wasm (`lessons/<id>.<lang>.html`). A page is fetched when its lesson is
//! opened ([`load_page`]) and kept for the rest of the visit; once the page is up, the
//! other lessons of the learner's language are fetched in the background ([`prefetch`]),
//! so that lessons open at once and keep opening when the network goes away.

use std::cell::RefCell;
use std::rc::Rc;

use yew::AttrValue;

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
    /// The address of the lesson's [`Page`], relative to the page's own.
    pub page: &'static str,
    pub exercises: &'static [Exercise],
}

/// An exercise: its heading and the script the learner starts from (its prompt is in the
/// lesson's page).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exercise {
    pub title: &'static str,
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

// ---- pages ----

/// A lesson's text: the body and each exercise's prompt, safe HTML (rendered and escaped
/// at build time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub body: AttrValue,
    pub prompts: Vec<AttrValue>,
}

impl Page {
    /// Takes a fetched page apart (`memplay_lesson::html::page` wrote it).
    pub fn parse(text: &str) -> Page {
        let mut parts = text.split(EXERCISE_MARK);
        let body = AttrValue::from(parts.next().unwrap_or("").to_string());
        let prompts = parts.map(|p| AttrValue::from(p.to_string())).collect();
        Page { body, prompts }
    }
}

/// Where a page stands: not there yet, there, or failed with a reason.
#[derive(Clone, Debug, PartialEq)]
pub enum PageLoad {
    Loading,
    Ready(Rc<Page>),
    Failed(String),
}

thread_local! {
    /// The pages fetched during this visit, by address.
    static PAGES: RefCell<Vec<(&'static str, Rc<Page>)>> = const { RefCell::new(Vec::new()) };
}

/// The page at `url` if it was fetched already.
pub fn cached(url: &str) -> Option<Rc<Page>> {
    PAGES.with(|p| {
        p.borrow()
            .iter()
            .find(|(u, _)| *u == url)
            .map(|(_, page)| page.clone())
    })
}

fn remember(url: &'static str, page: Rc<Page>) {
    PAGES.with(|p| {
        let mut pages = p.borrow_mut();
        if !pages.iter().any(|(u, _)| *u == url) {
            pages.push((url, page));
        }
    });
}

/// Fetches the page at `url` (or takes it from the cache) and calls `done` with it.
pub fn load_page(url: &'static str, done: impl FnOnce(PageLoad) + 'static) {
    if let Some(page) = cached(url) {
        done(PageLoad::Ready(page));
        return;
    }
    fetch::spawn(url, move |result| {
        done(match result {
            Ok(text) => {
                let page = Rc::new(Page::parse(&text));
                remember(url, page.clone());
                PageLoad::Ready(page)
            }
            Err(why) => PageLoad::Failed(why),
        })
    });
}

/// Fetches, one after another, every page in `lang` not fetched yet (for lessons opened
/// later, offline included). A failure is left for [`load_page`] to report.
pub fn prefetch(lang: Lang) {
    let urls: Vec<&'static str> = all()
        .map(|e| e.get(lang).page)
        .filter(|url| cached(url).is_none())
        .collect();
    fn next(mut urls: Vec<&'static str>) {
        let Some(url) = urls.pop() else {
            return;
        };
        load_page(url, move |_| next(urls));
    }
    next(urls);
}

#[cfg(target_arch = "wasm32")]
mod fetch {
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    /// Fetches `url` as text in the background and calls `done` with the text or the reason
    /// it failed.
    pub fn spawn(url: &'static str, done: impl FnOnce(Result<String, String>) + 'static) {
        wasm_bindgen_futures::spawn_local(async move { done(text(url).await) });
    }

    async fn text(url: &str) -> Result<String, String> {
        let window = web_sys::window().ok_or("no window")?;
        let response = JsFuture::from(window.fetch_with_str(url))
            .await
            .map_err(reason)?;
        let response: web_sys::Response = response.dyn_into().map_err(reason)?;
        if !response.ok() {
            return Err(format!("HTTP {}", response.status()));
        }
        let text = JsFuture::from(response.text().map_err(reason)?)
            .await
            .map_err(reason)?;
        text.as_string().ok_or_else(|| "not text".to_string())
    }

    /// A JavaScript error's message (`TypeError: Failed to fetch`, ...).
    fn reason(e: JsValue) -> String {
        e.dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| e.as_string())
            .unwrap_or_else(|| "network error".to_string())
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod fetch {
    /// Off the browser (host tests) there is nothing to fetch from.
    pub fn spawn(_url: &'static str, done: impl FnOnce(Result<String, String>) + 'static) {
        done(Err("no browser".to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Timeline, MAX_STEPS};
    use memplay_lesson::html;

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

    /// Every page, rendered from the lesson files as `lesson-pages` writes it, is the
    /// version the index names, safe, and splits into the body and one prompt per
    /// exercise.
    #[test]
    fn every_page_renders_safely_and_matches_its_address() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../lessons");
        let dirs = memplay_lesson::load_dir(&root).unwrap();
        assert_eq!(dirs.len(), all().count());
        for files in &dirs {
            for file in &files.files {
                let source = file.lesson.as_ref().unwrap();
                let lang = Lang::from_code(source.lang.code()).unwrap();
                let lesson = find(&source.id).unwrap().get(lang);
                let text = html::page(source);
                let expected = format!(
                    "lessons/{}?v={:016x}",
                    html::page_file_name(&source.id, source.lang),
                    html::version(&text)
                );
                assert_eq!(lesson.page, expected);
                let page = Page::parse(&text);
                assert!(page.body.contains("language-mem"), "{}", lesson.id);
                assert!(!text.contains("<script"), "{}", lesson.id);
                assert_eq!(page.prompts.len(), lesson.exercises.len(), "{}", lesson.id);
                for prompt in &page.prompts {
                    assert!(!prompt.trim().is_empty(), "{}", lesson.id);
                }
            }
        }
    }

    #[test]
    fn a_page_is_fetched_once_and_failures_are_reported() {
        let url = all().next().unwrap().en.page;
        let got = Rc::new(RefCell::new(None));
        let into = got.clone();
        load_page(url, move |load| *into.borrow_mut() = Some(load));
        // Off the browser the fetch fails, and says so.
        assert!(matches!(*got.borrow(), Some(PageLoad::Failed(_))));
        remember(url, Rc::new(Page::parse("<p>b</p><!--exercise--><p>p</p>")));
        let page = cached(url).unwrap();
        assert_eq!(page.body.as_str(), "<p>b</p>");
        assert_eq!(page.prompts.len(), 1);
    }
}
