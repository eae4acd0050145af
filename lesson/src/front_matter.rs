//! The front matter: a block of `key: value` lines between two `---` lines at the top of
//! the file. A value is plain text to the end of the line, optionally in double quotes; a
//! list is `[a, b, c]` (or just `a, b, c`). Blank lines and `#` comment lines are allowed.
//! Every key is required, none may repeat, and an unknown key is an error (a typo would
//! otherwise be silently lost).

use crate::ParseError;

/// The keys, in the order the README lists them.
pub const KEYS: [&str; 5] = ["id", "title", "order", "summary", "subsystems"];

#[derive(Debug, Default)]
pub struct FrontMatter {
    pub id: String,
    pub title: String,
    pub order: u32,
    pub summary: String,
    pub subsystems: Vec<String>,
}

/// Parses the front matter at the start of `text`; returns it and the byte offset where the
/// body starts (after the closing `---` line).
pub fn parse(text: &str) -> Result<(FrontMatter, usize), ParseError> {
    let mut lines = LineIter { text, pos: 0 };
    match lines.next() {
        Some((_, l)) if l.trim_end() == "---" => {}
        _ => {
            return Err(ParseError::new(
                1,
                "a lesson starts with its front matter: a `---` line, `key: value` lines, `---`",
            ))
        }
    }
    let mut seen: [Option<(usize, String)>; KEYS.len()] = Default::default();
    let mut closed = None;
    for (number, line) in lines.by_ref() {
        let trimmed = line.trim();
        if line.trim_end() == "---" {
            closed = Some(number);
            break;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((key, value)) = trimmed.split_once(':') else {
            return Err(ParseError::new(number, "expected `key: value`"));
        };
        let key = key.trim();
        let Some(index) = KEYS.iter().position(|k| *k == key) else {
            return Err(ParseError::new(
                number,
                format!(
                    "unknown front-matter key `{key}` (the keys are {})",
                    KEYS.join(", ")
                ),
            ));
        };
        if seen[index].is_some() {
            return Err(ParseError::new(number, format!("`{key}` is given twice")));
        }
        seen[index] = Some((number, value.trim().to_string()));
    }
    if closed.is_none() {
        return Err(ParseError::new(
            1,
            "the front matter is not closed by a `---` line",
        ));
    }
    let mut front = FrontMatter::default();
    for (index, key) in KEYS.iter().enumerate() {
        let Some((number, raw)) = seen[index].take() else {
            return Err(ParseError::new(
                1,
                format!("the front matter has no `{key}`"),
            ));
        };
        match *key {
            "id" => {
                let id = unquote(&raw);
                let valid = !id.is_empty()
                    && id
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                if !valid {
                    return Err(ParseError::new(
                        number,
                        "`id` is lowercase letters, digits and `-`",
                    ));
                }
                front.id = id.to_string();
            }
            "title" => front.title = nonempty(number, key, unquote(&raw))?,
            "summary" => front.summary = nonempty(number, key, unquote(&raw))?,
            "order" => {
                front.order = unquote(&raw)
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| ParseError::new(number, "`order` is a whole number from 1"))?
            }
            _ => {
                let inner = raw
                    .strip_prefix('[')
                    .and_then(|r| r.strip_suffix(']'))
                    .unwrap_or(&raw);
                front.subsystems = inner
                    .split(',')
                    .map(|s| unquote(s.trim()).to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if front.subsystems.is_empty() {
                    return Err(ParseError::new(
                        number,
                        "`subsystems` lists at least one subsystem",
                    ));
                }
            }
        }
    }
    Ok((front, lines.pos))
}

fn nonempty(line: usize, key: &str, value: &str) -> Result<String, ParseError> {
    if value.is_empty() {
        Err(ParseError::new(line, format!("`{key}` is empty")))
    } else {
        Ok(value.to_string())
    }
}

/// The text inside a pair of double quotes, or the text itself.
fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// Lines with their numbers (from 1); `pos` is the offset after the last line returned.
struct LineIter<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for LineIter<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<(usize, &'a str)> {
        if self.pos >= self.text.len() {
            return None;
        }
        let rest = &self.text[self.pos..];
        let number = 1 + self.text[..self.pos].matches('\n').count();
        let (line, advance) = match rest.find('\n') {
            Some(i) => (&rest[..i], i + 1),
            None => (rest, rest.len()),
        };
        self.pos += advance;
        Some((number, line.strip_suffix('\r').unwrap_or(line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "---\nid: boot\ntitle: \"Boot: system memory\"\norder: 1\n\
        # a comment\nsummary: Where boot puts things.\nsubsystems: [ram, sys]\n---\nbody\n";

    #[test]
    fn reads_every_key() {
        let (f, body) = parse(GOOD).unwrap();
        assert_eq!(f.id, "boot");
        assert_eq!(f.title, "Boot: system memory");
        assert_eq!(f.order, 1);
        assert_eq!(f.summary, "Where boot puts things.");
        assert_eq!(f.subsystems, ["ram", "sys"]);
        assert_eq!(&GOOD[body..], "body\n");
    }

    #[test]
    fn refuses_what_is_not_the_format() {
        let err = |t: &str| parse(t).unwrap_err().message;
        assert!(err("id: x\n").contains("starts with its front matter"));
        assert!(err("---\nid: x\n").contains("not closed"));
        assert!(err(&GOOD.replace("order: 1", "oder: 1")).contains("unknown front-matter key"));
        assert!(err(&GOOD.replace("order: 1", "order: one")).contains("whole number"));
        assert!(err(&GOOD.replace("id: boot", "id: Boot")).contains("lowercase"));
        assert!(err(&GOOD.replace("subsystems: [ram, sys]\n", "")).contains("no `subsystems`"));
        let twice = GOOD.replace("order: 1", "order: 1\norder: 2");
        assert_eq!(parse(&twice).unwrap_err().line, 5);
    }
}
