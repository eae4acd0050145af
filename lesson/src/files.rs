//! The language versions of a lesson, and (feature `fs`) reading them from a folder.
//!
//! A lessons folder holds one folder per lesson, named `<NN>-<slug>` (two digits, a dash,
//! lowercase letters, digits and dashes), each with one file per language (`en.md`,
//! `zh.md`). Anything else in the lessons folder (`README.md`, `golden/`) is not a lesson.

use crate::{parse, Lang, Lesson, ParseError};

/// One lesson file: where it came from, its text and what parsing made of it.
#[derive(Clone, Debug)]
pub struct LessonFile {
    pub lang: Lang,
    /// How messages name the file (`lessons/01-boot/en.md`).
    pub path: String,
    pub text: String,
    pub lesson: Result<Lesson, ParseError>,
}

impl LessonFile {
    pub fn new(lang: Lang, path: impl Into<String>, text: impl Into<String>) -> LessonFile {
        let text = text.into();
        LessonFile {
            lang,
            path: path.into(),
            lesson: parse(&text, lang),
            text,
        }
    }
}

/// A lesson's folder: its name and its files, in [`Lang::ALL`] order. A missing language
/// is simply absent here; [`crate::check::check_lesson`] reports it.
#[derive(Clone, Debug)]
pub struct LessonFiles {
    /// The folder's name, `<NN>-<slug>`.
    pub name: String,
    pub files: Vec<LessonFile>,
    /// Markdown files in the folder that are no language's (`fr.md`, `notes.md`), by name.
    /// Other files (pictures) may sit beside the lesson.
    pub strays: Vec<String>,
}

impl LessonFiles {
    /// A lesson from texts in memory (the web front end embeds them): `dir` is the folder
    /// name, `texts` each language's Markdown.
    pub fn from_texts<'a>(
        dir: &str,
        texts: impl IntoIterator<Item = (Lang, &'a str)>,
    ) -> LessonFiles {
        let mut files: Vec<LessonFile> = texts
            .into_iter()
            .map(|(lang, text)| LessonFile::new(lang, format!("{dir}/{}", lang.file_name()), text))
            .collect();
        files.sort_by_key(|f| f.lang);
        LessonFiles {
            name: dir.to_string(),
            files,
            strays: Vec::new(),
        }
    }

    pub fn file(&self, lang: Lang) -> Option<&LessonFile> {
        self.files.iter().find(|f| f.lang == lang)
    }

    /// The parsed lesson in `lang`, if that file exists and parsed.
    pub fn lesson(&self, lang: Lang) -> Option<&Lesson> {
        self.file(lang).and_then(|f| f.lesson.as_ref().ok())
    }
}

/// Whether `name` is a lesson folder's name: `<NN>-<slug>`.
pub fn is_lesson_dir_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() > 3
        && b[0].is_ascii_digit()
        && b[1].is_ascii_digit()
        && b[2] == b'-'
        && name[3..]
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

#[cfg(feature = "fs")]
mod disk {
    use std::io;
    use std::path::Path;

    use super::{is_lesson_dir_name, LessonFile, LessonFiles};
    use crate::Lang;

    /// Reads every lesson folder in `path`, sorted by name. Files that do not parse are kept
    /// with their error (see [`LessonFile::lesson`]); only I/O errors fail.
    pub fn load_dir(path: &Path) -> io::Result<Vec<LessonFiles>> {
        let mut dirs = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type()?.is_dir() && is_lesson_dir_name(&name) {
                dirs.push(entry.path());
            }
        }
        dirs.sort();
        dirs.iter().map(|d| load_lesson(d)).collect()
    }

    /// Reads one lesson folder.
    pub fn load_lesson(dir: &Path) -> io::Result<LessonFiles> {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut files = Vec::new();
        let mut strays = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let lang = file_name
                .strip_suffix(".md")
                .and_then(Lang::from_code)
                .filter(|_| entry.file_type().is_ok_and(|t| t.is_file()));
            match lang {
                Some(lang) => {
                    let text = std::fs::read_to_string(entry.path())?;
                    let path = entry.path().display().to_string();
                    files.push(LessonFile::new(lang, path, text));
                }
                None if file_name.ends_with(".md") => strays.push(file_name),
                None => {}
            }
        }
        files.sort_by_key(|f| f.lang);
        strays.sort();
        Ok(LessonFiles {
            name,
            files,
            strays,
        })
    }
}

#[cfg(feature = "fs")]
pub use disk::{load_dir, load_lesson};
