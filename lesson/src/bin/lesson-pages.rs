//! Writes the lesson pages the web front end fetches: `<id>.<lang>.html` for every lesson
//! and language (see `memplay_lesson::html`).
//!
//! ```text
//! lesson-pages LESSONS_DIR [OUT_DIR]
//! ```
//!
//! Without `OUT_DIR` it writes into `$TRUNK_STAGING_DIR/lessons`: Trunk runs it as a
//! pre-build hook (Trunk.toml), so every build of the site, `trunk serve`'s included, ships
//! the pages next to the wasm.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(lessons) = args.next().map(PathBuf::from) else {
        eprintln!("usage: lesson-pages LESSONS_DIR [OUT_DIR]");
        return ExitCode::from(2);
    };
    let out = match args.next() {
        Some(out) => PathBuf::from(out),
        None => match std::env::var_os("TRUNK_STAGING_DIR") {
            Some(staging) => PathBuf::from(staging).join("lessons"),
            None => {
                eprintln!("lesson-pages: give OUT_DIR (or run it from Trunk, which sets TRUNK_STAGING_DIR)");
                return ExitCode::from(2);
            }
        },
    };
    match memplay_lesson::html::write_pages(&lessons, &out) {
        Ok(0) => {
            eprintln!("lesson-pages: no lessons in {}", lessons.display());
            ExitCode::FAILURE
        }
        Ok(n) => {
            println!("lesson-pages: {n} pages in {}", out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lesson-pages: {}: {e}", lessons.display());
            ExitCode::FAILURE
        }
    }
}
