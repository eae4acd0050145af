//! The lesson body: CommonMark read with pulldown-cmark, picking out the ```` ```mem ````
//! blocks (scripts), the ```` ```mem exercise ```` blocks with the heading and prose before
//! them, and the `#step-N` links.

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use crate::{Exercise, ParseError, Script, StepRef};

/// The info-string word of a script block.
pub const SCRIPT_LANG: &str = "mem";
/// The second info-string word that makes a script block an exercise.
pub const EXERCISE_WORD: &str = "exercise";
/// A link destination `#step-N` points at step N of the main script.
pub const STEP_ANCHOR: &str = "#step-";

#[derive(Debug)]
pub struct Parts {
    pub scripts: Vec<Script>,
    pub exercises: Vec<Exercise>,
    pub step_refs: Vec<StepRef>,
}

struct Heading {
    text: String,
    /// Byte offset just after the heading.
    end: usize,
}

enum Block {
    Script,
    Exercise,
}

/// Parses the body, whose first line is file line `first_line`.
pub fn parse(body: &str, first_line: usize) -> Result<Parts, ParseError> {
    let line_of = |offset: usize| first_line + body[..offset.min(body.len())].matches('\n').count();
    let mut parts = Parts {
        scripts: Vec::new(),
        exercises: Vec::new(),
        step_refs: Vec::new(),
    };
    // The heading being read, the last heading read, and where the last script block ended.
    let mut heading_text: Option<(HeadingLevel, String)> = None;
    let mut last_heading: Option<Heading> = None;
    let mut last_block_end = 0usize;
    // The script block being read: its kind, fence offset and text.
    let mut block: Option<(Block, usize, String)> = None;

    for (event, range) in Parser::new_ext(body, Options::empty()).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) => heading_text = Some((level, String::new())),
            Event::End(TagEnd::Heading(_)) => {
                if let Some((_, text)) = heading_text.take() {
                    last_heading = Some(Heading {
                        text: text.trim().to_string(),
                        end: range.end,
                    });
                }
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                let mut words = info.split_whitespace();
                if words.next() != Some(SCRIPT_LANG) {
                    continue;
                }
                let kind = match (words.next(), words.next()) {
                    (None, _) => Block::Script,
                    (Some(EXERCISE_WORD), None) => Block::Exercise,
                    _ => {
                        return Err(ParseError::new(
                            line_of(range.start),
                            format!(
                                "a script block is ```{SCRIPT_LANG} or ```{SCRIPT_LANG} {EXERCISE_WORD}, not ```{}",
                                info.trim()
                            ),
                        ))
                    }
                };
                block = Some((kind, range.start, String::new()));
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some((_, ref mut t)) = heading_text {
                    t.push_str(&text);
                } else if let Some((_, _, ref mut t)) = block {
                    t.push_str(&text);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                let Some((kind, start, source)) = block.take() else {
                    continue;
                };
                let fence_line = line_of(start);
                let script = Script {
                    source,
                    line: fence_line + 1,
                };
                if script.source.trim().is_empty() {
                    return Err(ParseError::new(fence_line, "an empty script block"));
                }
                match kind {
                    Block::Script => parts.scripts.push(script),
                    Block::Exercise => {
                        if parts.scripts.is_empty() {
                            return Err(ParseError::new(
                                fence_line,
                                "an exercise before the main script: the first ```mem block is the main script",
                            ));
                        }
                        let heading = last_heading
                            .as_ref()
                            .filter(|h| h.end > last_block_end && h.end <= start);
                        let Some(heading) = heading else {
                            return Err(ParseError::new(
                                fence_line,
                                "an exercise opens with a heading of its own (its title), then the prompt, then the block",
                            ));
                        };
                        if heading.text.is_empty() {
                            return Err(ParseError::new(
                                fence_line,
                                "the exercise's heading is empty",
                            ));
                        }
                        parts.exercises.push(Exercise {
                            title: heading.text.clone(),
                            prompt: body[heading.end..start].trim().to_string(),
                            script,
                        });
                    }
                }
                last_block_end = range.end;
            }
            Event::Start(Tag::Link { dest_url, .. }) => {
                if let Some(number) = dest_url.strip_prefix(STEP_ANCHOR) {
                    let line = line_of(range.start);
                    match number.parse::<u32>() {
                        Ok(step) if step > 0 => parts.step_refs.push(StepRef { step, line }),
                        _ => {
                            return Err(ParseError::new(
                                line,
                                format!("`{dest_url}`: a step link is `#step-N`, N from 1"),
                            ))
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "\
# Title

Intro, see [step 2](#step-2).

```mem
ram r 0x1000 4K
lab h 1K
```

```c
void *p = OslMalloc(100);
```

## Exercises

### 1. Predict

Which address?
Think about `h`.

```mem exercise
ram r 0x1000 4K
lab h 1K
a = h.alloc 10
expect a == 0x1004 # ?
```
";

    #[test]
    fn finds_scripts_exercises_and_step_links() {
        let p = parse(BODY, 10).unwrap();
        assert_eq!(p.scripts.len(), 1);
        assert_eq!(p.scripts[0].source, "ram r 0x1000 4K\nlab h 1K\n");
        assert_eq!(p.scripts[0].line, 15);
        assert_eq!(p.step_refs, [StepRef { step: 2, line: 12 }]);
        assert_eq!(p.exercises.len(), 1);
        let e = &p.exercises[0];
        assert_eq!(e.title, "1. Predict");
        assert_eq!(e.prompt, "Which address?\nThink about `h`.");
        assert_eq!(e.script.line, 31);
        assert!(e.script.source.starts_with("ram r"));
    }

    #[test]
    fn refuses_blocks_out_of_place() {
        let no_heading = BODY.replace("### 1. Predict\n", "");
        let no_heading = no_heading.replace("## Exercises\n", "");
        assert!(parse(&no_heading, 1)
            .unwrap_err()
            .message
            .contains("heading of its own"));
        let first = "### E\n\n```mem exercise\nexpect 1 == 1\n```\n";
        assert!(parse(first, 1)
            .unwrap_err()
            .message
            .contains("before the main script"));
        let bad_info = "```mem lesson\nram r 0 4K\n```\n";
        assert_eq!(parse(bad_info, 5).unwrap_err().line, 5);
        let bad_link = "[x](#step-zero)\n\n```mem\nram r 0 4K\n```\n";
        assert!(parse(bad_link, 1).unwrap_err().message.contains("#step-N"));
    }
}
