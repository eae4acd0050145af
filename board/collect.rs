//! Which scripts the board runs: every `engine/tests/scripts/*.mem` and every runnable
//! code block of every lesson (`lessons/**/*.md`).
//!
//! This file is shared, by `#[path]`, between the firmware's build script (which embeds
//! the scripts with `include_str!`) and `cargo xtask board` (which traces the same scripts
//! on the host), so both sides agree on the names and the texts.

use std::fs;
use std::path::{Path, PathBuf};

/// One script to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// `script/<stem>` or `lesson/<path without .md>#<n>`: no spaces, unique.
    pub name: String,
    /// The file it comes from.
    pub origin: PathBuf,
    /// The script's text.
    pub text: String,
}

/// The info-string words that mark a Markdown code block as a runnable memplay script:
/// `mem` (the main script and extra scripts) and `mem exercise` (an exercise's solution,
/// a complete script that passes); see lessons/README.md.
pub const SCRIPT_FENCES: &[&str] = &["mem"];

/// Every script under `root` (the repository root), sorted by name. Missing directories
/// give no scripts.
pub fn collect(root: &Path) -> Result<Vec<Script>, String> {
    let mut scripts = Vec::new();
    let dir = root.join("engine/tests/scripts");
    for path in files(&dir, "mem")? {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| format!("{}: the file name is not UTF-8", path.display()))?;
        let text = read(&path)?;
        scripts.push(Script {
            name: format!("script/{stem}"),
            origin: path.clone(),
            text,
        });
    }
    let lessons = root.join("lessons");
    // Lessons are the Markdown files inside lesson folders; `lessons/README.md` describes
    // the format and is not one.
    for path in files(&lessons, "md")?
        .into_iter()
        .filter(|p| p.parent() != Some(lessons.as_path()))
    {
        let rel = path
            .strip_prefix(&lessons)
            .map_err(|e| e.to_string())?
            .with_extension("");
        let rel = rel
            .to_str()
            .ok_or_else(|| format!("{}: the path is not UTF-8", path.display()))?
            .replace(['\\', ' '], "/");
        let text = read(&path)?;
        for (n, block) in script_blocks(&text).into_iter().enumerate() {
            scripts.push(Script {
                name: format!("lesson/{rel}#{}", n + 1),
                origin: path.clone(),
                text: block,
            });
        }
    }
    scripts.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(scripts)
}

/// The runnable code blocks of a Markdown text: fenced with ``` or ~~~ and an info
/// string whose first word is one of [`SCRIPT_FENCES`].
pub fn script_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, bool)> = None; // (fence, is a script)
    let mut body = String::new();
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        match &open {
            None => {
                let fence: String = trimmed
                    .chars()
                    .take_while(|&c| c == '`' || c == '~')
                    .collect();
                if fence.len() >= 3 && fence.chars().all(|c| c == fence.as_bytes()[0] as char) {
                    let info = trimmed[fence.len()..].trim();
                    let word = info
                        .split(|c: char| c.is_whitespace() || c == ',' || c == '{')
                        .next()
                        .unwrap_or("");
                    open = Some((fence, SCRIPT_FENCES.contains(&word)));
                    body.clear();
                }
            }
            Some((fence, is_script)) => {
                let closes = trimmed.starts_with(fence.as_str())
                    && trimmed
                        .trim_end()
                        .chars()
                        .all(|c| c == fence.as_bytes()[0] as char);
                if closes {
                    if *is_script {
                        blocks.push(std::mem::take(&mut body));
                    }
                    open = None;
                } else {
                    body.push_str(line);
                    body.push('\n');
                }
            }
        }
    }
    blocks
}

/// The files with extension `ext` under `dir`, recursively, sorted.
fn files(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| format!("{}: {e}", d.display()))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == ext) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}
