//! Embeds the lessons' index: every `lessons/<NN>-<slug>/{en,zh}.md` at the repository
//! root, parsed here, at build time, with the `memplay-lesson` crate. Writes
//! `$OUT_DIR/lessons.rs`, static data only: each lesson's id, order, title, summary and
//! scripts, and the address of its page — its text as safe HTML, a file next to the wasm
//! that Trunk's pre-build hook writes (`lesson-pages`, see Trunk.toml) and the page fetches
//! when the lesson is opened. The address carries the page's version (`?v=`, a hash of the
//! text this build renders), so a cached page of another build is never used. Neither a
//! Markdown parser nor the lessons' text ships in the wasm. A lesson file that does not
//! parse fails the build with the lesson crate's message; `memplay check lessons/` says
//! the same.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use memplay_lesson::{html, Lang, Lesson};

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

fn lesson_literal(lesson: &Lesson) -> String {
    let mut exercises = String::new();
    for e in &lesson.exercises {
        write!(
            exercises,
            "Exercise {{ title: {:?}, starter: {:?} }}, ",
            e.title,
            e.starter()
        )
        .expect("writing to a String");
    }
    let page = html::page(lesson);
    let url = format!(
        "lessons/{}?v={:016x}",
        html::page_file_name(&lesson.id, lesson.lang),
        html::version(&page)
    );
    format!(
        "Lesson {{ id: {:?}, order: {}, title: {:?}, summary: {:?}, main_script: {:?}, \
         page: {url:?}, exercises: &[{exercises}] }}",
        lesson.id, lesson.order, lesson.title, lesson.summary, lesson.main_script.source,
    )
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest.join("..").join("lessons");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut out = format!(
        "/// Separates a page's body from each exercise's prompt.\n\
         pub const EXERCISE_MARK: &str = {:?};\n\n\
         pub static ENTRIES: &[(Lesson, Lesson)] = &[\n",
        html::EXERCISE_MARK
    );
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
