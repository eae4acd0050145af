//! Embeds the lessons: every `lessons/<NN>-<slug>/` folder at the repository root with an
//! `en.md` and a `zh.md`, or, while that folder holds none, the small set in
//! `web/fallback-lessons/`. Writes `$OUT_DIR/lessons.rs`, a list of
//! `(folder, include_str!(en.md), include_str!(zh.md), en HTML, zh HTML)`.
//!
//! The lesson Markdown is rendered here, at build time, with pulldown-cmark
//! (`src/markdown.rs`, which escapes raw HTML and unsafe links): the page gets safe HTML
//! and the wasm carries no Markdown parser (about 40 KB gzipped less).

#[path = "src/markdown.rs"]
#[allow(dead_code)]
mod markdown;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn lesson_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let numbered = name.len() > 3
                && name.as_bytes()[..2].iter().all(u8::is_ascii_digit)
                && name.as_bytes()[2] == b'-';
            numbered && p.join("en.md").is_file() && p.join("zh.md").is_file()
        })
        .collect();
    dirs.sort();
    dirs
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let shared = manifest.join("..").join("lessons");
    let fallback = manifest.join("fallback-lessons");
    println!("cargo:rerun-if-changed={}", shared.display());
    println!("cargo:rerun-if-changed={}", fallback.display());
    let mut dirs = lesson_dirs(&shared);
    if dirs.is_empty() {
        dirs = lesson_dirs(&fallback);
    }
    let mut out = String::from("pub static LESSON_FILES: &[(&str, &str, &str, &str, &str)] = &[\n");
    for dir in &dirs {
        println!("cargo:rerun-if-changed={}", dir.display());
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let en = dir.join("en.md");
        let zh = dir.join("zh.md");
        println!("cargo:rerun-if-changed={}", en.display());
        println!("cargo:rerun-if-changed={}", zh.display());
        let html = |path: &Path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            // The body: everything after the front matter's closing `---` line.
            let body = text
                .strip_prefix("---")
                .and_then(|rest| rest.find("\n---").map(|end| &rest[end + 4..]))
                .unwrap_or("");
            markdown::to_html(body)
        };
        writeln!(
            out,
            "    ({name:?}, include_str!({:?}), include_str!({:?}), {:?}, {:?}),",
            en.display().to_string(),
            zh.display().to_string(),
            html(&en),
            html(&zh),
        )
        .expect("writing to a String");
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("lessons.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
