//! Embeds the lessons: every `lessons/<NN>-<slug>/{en,zh}.md` at the repository root,
//! parsed here, at build time, with the `memplay-lesson` crate, and their Markdown rendered
//! with pulldown-cmark (`src/markdown.rs`: raw HTML shown as text, unsafe links dropped).
//! Writes `$OUT_DIR/lessons.rs`: static data only, so the wasm carries no Markdown parser
//! (about 40 KB gzipped less). A lesson file that does not parse fails the build with the
//! lesson crate's message; `memplay check lessons/` says the same.

#[path = "src/markdown.rs"]
#[allow(dead_code)]
mod markdown;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use memplay_lesson::{Lang, Lesson};

fn lesson_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            memplay_lesson::is_lesson_dir_name(name) && p.join("en.md").is_file()
        })
        .collect();
    dirs.sort();
    dirs
}

/// The body without its first `# Title` heading (the page shows the title above it).
fn body_without_title(lesson: &Lesson) -> &str {
    let body = lesson.body_markdown.trim_start();
    match body.strip_prefix("# ") {
        Some(rest) => rest.split_once('\n').map(|(_, r)| r).unwrap_or(""),
        None => body,
    }
}

fn lesson_literal(lesson: &Lesson) -> String {
    let mut exercises = String::new();
    for e in &lesson.exercises {
        write!(
            exercises,
            "Exercise {{ title: {:?}, prompt_html: {:?}, starter: {:?} }}, ",
            e.title,
            markdown::to_html(&e.prompt),
            e.starter()
        )
        .expect("writing to a String");
    }
    format!(
        "Lesson {{ id: {:?}, order: {}, title: {:?}, summary: {:?}, main_script: {:?}, \
         body_html: {:?}, exercises: &[{exercises}] }}",
        lesson.id,
        lesson.order,
        lesson.title,
        lesson.summary,
        lesson.main_script.source,
        markdown::to_html(body_without_title(lesson)),
    )
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest.join("..").join("lessons");
    println!("cargo:rerun-if-changed={}", root.display());
    println!("cargo:rerun-if-changed=src/markdown.rs");
    let mut out = String::from("pub static ENTRIES: &[(Lesson, Lesson)] = &[\n");
    for dir in lesson_dirs(&root) {
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut pair = Vec::new();
        for lang in [Lang::En, Lang::Zh] {
            let path = dir.join(lang.file_name());
            println!("cargo:rerun-if-changed={}", path.display());
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let lesson = memplay_lesson::parse(&text, lang)
                .unwrap_or_else(|e| panic!("{}:{e}", path.display()));
            pair.push(lesson_literal(&lesson));
        }
        writeln!(out, "    ({}, {}),", pair[0], pair[1]).expect("writing to a String");
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("lessons.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
