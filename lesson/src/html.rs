//! Lesson Markdown to HTML with pulldown-cmark, run by build.rs at build time (and by the
//! host tests). Lesson text is escaped like any user text:
//! raw HTML in the Markdown is shown as text, never injected; links go only to `http(s)`,
//! `mailto` or in-page anchors (`#step-N` steps the playground); images become their alt
//! text (the page loads nothing from elsewhere).

use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag, TagEnd};

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
        use crate::lessons::step_link;
        assert_eq!(step_link("#step-3"), Some(3));
        assert_eq!(step_link("http://x/#step-12"), Some(12));
        assert_eq!(step_link("#top"), None);
    }

    #[test]
    fn mem_blocks_keep_their_language() {
        let html = to_html("```mem\nram r 0x0 1K\n```\n");
        assert!(html.contains("language-mem"));
    }
}
