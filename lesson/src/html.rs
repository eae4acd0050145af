//! Lesson pages: a lesson's Markdown as safe HTML (feature `html`).
//!
//! The web front end does not embed the lessons' text: each lesson, in each language, is a
//! static file next to the wasm, [`page`], fetched when the lesson is opened. The
//! `lesson-pages` binary writes them (Trunk runs it as a pre-build hook; see Trunk.toml),
//! and the web crate's build script embeds each page's address with its [`version`].
//!
//! Lesson text is escaped like any user text: raw HTML in the Markdown is shown as text,
//! never injected; links go only to `http(s)`, `mailto` or in-page anchors (`#step-N` steps
//! the playground); images become their alt text (the page loads nothing from elsewhere).

use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag, TagEnd};

use crate::{Lang, Lesson};

/// Separates the body from each exercise's prompt in a [`page`]. Rendered Markdown never
/// contains it: raw HTML (comments included) is escaped.
pub const EXERCISE_MARK: &str = "<!--exercise-->";

/// The HTML for `markdown`, safe to put in the page.
pub fn to_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut in_image = 0usize;
    let events = Parser::new_ext(markdown, options).filter_map(|event| match event {
        Event::Html(text) | Event::InlineHtml(text) => Some(Event::Text(text)),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Some(Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        })),
        Event::Start(Tag::Image { .. }) => {
            in_image += 1;
            None
        }
        Event::End(TagEnd::Image) => {
            in_image = in_image.saturating_sub(1);
            None
        }
        other => Some(other),
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let lower = url.trim().to_ascii_lowercase();
    let ok = lower.starts_with('#')
        || lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with("mailto:");
    if ok {
        url
    } else {
        CowStr::Borrowed("#")
    }
}

/// The body's Markdown without its first `# Title` heading (the page shows the title above
/// it).
pub fn body_without_title(lesson: &Lesson) -> &str {
    let body = lesson.body_markdown.trim_start();
    match body.strip_prefix("# ") {
        Some(rest) => rest.split_once('\n').map(|(_, r)| r).unwrap_or(""),
        None => body,
    }
}

/// A lesson's page: the body (without its title) as HTML, then for each exercise
/// [`EXERCISE_MARK`] and the prompt as HTML. [`split_page`] takes it apart again.
pub fn page(lesson: &Lesson) -> String {
    let mut out = to_html(body_without_title(lesson));
    for exercise in &lesson.exercises {
        out.push_str(EXERCISE_MARK);
        out.push('\n');
        out.push_str(&to_html(&exercise.prompt));
    }
    out
}

/// The body and the exercises' prompts of a [`page`].
pub fn split_page(page: &str) -> (&str, Vec<&str>) {
    let mut parts = page.split(EXERCISE_MARK);
    let body = parts.next().unwrap_or("");
    (body, parts.collect())
}

/// The page's file name: `<id>.<lang>.html`.
pub fn page_file_name(id: &str, lang: Lang) -> String {
    format!("{id}.{}.html", lang.code())
}

/// A fingerprint of a page's text (64-bit FNV-1a), so that a page address can name the
/// exact text a build expects (`?v=` in the address; caches never serve another).
pub fn version(page: &str) -> u64 {
    page.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(feature = "fs")]
pub use disk::write_pages;

#[cfg(feature = "fs")]
mod disk {
    use std::io;
    use std::path::Path;

    use super::{page, page_file_name};
    use crate::load_dir;

    /// Writes the [`page`] of every lesson in `lessons` (a lessons folder), in every
    /// language, into `out` (created if missing). Returns how many it wrote. A lesson file
    /// that does not parse is an error (`memplay check` says more).
    pub fn write_pages(lessons: &Path, out: &Path) -> io::Result<usize> {
        std::fs::create_dir_all(out)?;
        let mut written = 0;
        for files in load_dir(lessons)? {
            for file in &files.files {
                let lesson = file.lesson.as_ref().map_err(|e| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("{}:{e}", file.path))
                })?;
                let path = out.join(page_file_name(&lesson.id, lesson.lang));
                std::fs::write(&path, page(lesson))?;
                written += 1;
            }
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_escapes() {
        let html = to_html("# Title\n\nSome *text* and `code`.\n\n<script>alert(1)</script>\n\n<b onclick=x>bold</b>");
        assert!(html.contains("<h1>Title</h1>"));
        assert!(html.contains("<em>text</em>"));
        assert!(!html.contains("<script"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("<b "));
    }

    #[test]
    fn links_are_safe() {
        let html = to_html(
            "[a](javascript:alert(1)) [b](#step-3) [c](https://example.org) ![x](http://e/x.png)",
        );
        assert!(!html.contains("javascript:"));
        assert!(html.contains("href=\"#step-3\""));
        assert!(html.contains("href=\"https://example.org\""));
        assert!(!html.contains("<img"));
    }

    #[test]
    fn mem_blocks_keep_their_language() {
        let html = to_html("```mem\nram r 0x0 1K\n```\n");
        assert!(html.contains("language-mem"));
    }

    #[test]
    fn the_exercise_mark_never_comes_from_markdown() {
        let html = to_html("<!--exercise-->\n\ntext <!--exercise--> and `<!--exercise-->`\n\n```\n<!--exercise-->\n```\n");
        assert!(!html.contains(EXERCISE_MARK), "{html}");
    }

    #[test]
    fn a_page_splits_into_body_and_prompts() {
        let text = "---\nid: t\ntitle: T\norder: 1\nsummary: S.\nsubsystems: [ram]\n---\n\
                    # T\n\nThe body.\n\n```mem\nram r 0x0 1K\n```\n\n\
                    ## Exercise one\n\nDo *this*.\n\n```mem exercise\nram r 0x0 1K\n```\n";
        let lesson = crate::parse(text, Lang::En).unwrap();
        let page = page(&lesson);
        let (body, prompts) = split_page(&page);
        assert!(body.contains("<p>The body.</p>"));
        assert!(!body.contains("<h1>"));
        assert_eq!(prompts.len(), lesson.exercises.len());
        assert!(prompts[0].contains("<em>this</em>"));
        assert_eq!(page_file_name("t", Lang::Zh), "t.zh.html");
        assert_ne!(version(&page), version(body));
    }
}
