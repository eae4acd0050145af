//! The playground on the board: a script line typed on the console runs as one step on a
//! machine over the board's simulated RAM and prints its events, numbered like a script's.
//!
//! ```text
//! memplay> ram sram 0x20000000 4K
//! 0001 sram.init base=0x20000000 size=4096
//! memplay> part msg 32x4 on sram
//! 0002 msg.meta addr=0x20000000 field=magic value=...
//! ...
//! memplay> a = msg.alloc 10
//! 0003 msg.unlink list=0 addr=0x2000000c
//! ...
//! => 0x20000018
//! ```
//!
//! Any statement of the script language works (`ram`, pool set-up, `alloc`, `free`, `poke`,
//! `expect`, `check`, `tick`...) except `repeat` blocks. Typing a script's lines one by one
//! gives the same trace as running the script (`cargo xtask board` checks that).
//! `help` lists the commands, `quit` (or the end of input) ends the session.

use core::fmt::Write;

use memplay_engine::machine::Machine;
use memplay_engine::script::ScriptError;
use memplay_engine::trace::TextSink;

/// Printed before each line is read.
pub const PROMPT: &str = "memplay> ";

/// What the session should do after a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Continue,
    Quit,
}

/// A console session on one machine.
pub struct Repl<'r> {
    machine: Machine<&'r mut [u8], &'static str>,
    /// Statements typed so far: the line number errors report.
    lines: u32,
    /// Failed expectations and errors so far.
    pub failures: u32,
}

impl<'r> Repl<'r> {
    /// A session on a machine with no RAM regions yet over `ram`.
    pub fn new(ram: &'r mut [u8]) -> Result<Repl<'r>, ScriptError> {
        Ok(Repl {
            machine: Machine::new(ram, "")?,
            lines: 0,
            failures: 0,
        })
    }

    /// The greeting.
    pub fn banner<W: Write>(out: &mut W, ram_bytes: usize) {
        let _ = writeln!(
            out,
            "memplay on the board: one script statement per line runs as one step \
             ({ram_bytes} bytes of simulated RAM). `help` lists commands, `quit` ends."
        );
    }

    /// Runs one typed line (its line ending, if any, is ignored) and prints its events.
    pub fn line<W: Write>(&mut self, text: &str, out: &mut W) -> Next {
        let text = text.trim_end_matches(['\r', '\n']);
        let word = text.trim();
        match word {
            "" => return Next::Continue,
            "quit" | "exit" => return Next::Quit,
            "help" => {
                let _ = writeln!(
                    out,
                    "any script statement, e.g.\n  ram sram 0x20000000 4K\n  \
                     part msg 32x4 on sram\n  a = msg.alloc 10\n  msg.free a\n  \
                     poke a-12 0\n  check\n  expect fault Corrupted\n\
                     `# text` is a comment; `quit` ends the session"
                );
                return Next::Continue;
            }
            _ if word.starts_with('#') => return Next::Continue,
            _ => {}
        }
        self.lines = self.lines.saturating_add(1);
        let mut sink = TextSink::new(&mut *out);
        sink.step = self.machine.next_index();
        let result = self.machine.exec(text, self.lines, &mut sink);
        match result {
            Ok(step) => {
                if let Some(value) = step.value {
                    let _ = writeln!(out, "=> {value:#010x}");
                }
            }
            Err(e) => {
                self.failures = self.failures.saturating_add(1);
                let what = if e.is_expectation() {
                    "expectation failed"
                } else {
                    "error"
                };
                let _ = writeln!(out, "{what}: {e}");
            }
        }
        Next::Continue
    }
}

/// Splits a stream of bytes into lines for a [`Repl`]: feed it what each read returned.
pub struct LineBuffer<const N: usize> {
    buf: [u8; N],
    len: usize,
    /// Set while the rest of a too-long line is being skipped.
    overlong: bool,
}

impl<const N: usize> Default for LineBuffer<N> {
    fn default() -> Self {
        LineBuffer {
            buf: [0; N],
            len: 0,
            overlong: false,
        }
    }
}

/// What a chunk of input gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A whole line, without its newline.
    Line(&'a str),
    /// A line longer than the buffer, or not UTF-8, was dropped.
    Dropped,
}

impl<const N: usize> LineBuffer<N> {
    /// Takes `bytes` and calls `each` with every line they complete.
    pub fn feed(&mut self, bytes: &[u8], each: &mut dyn FnMut(Piece<'_>) -> Next) -> Next {
        for &b in bytes {
            if b == b'\n' {
                let piece = if self.overlong {
                    Piece::Dropped
                } else {
                    match core::str::from_utf8(&self.buf[..self.len]) {
                        Ok(line) => Piece::Line(line),
                        Err(_) => Piece::Dropped,
                    }
                };
                self.len = 0;
                self.overlong = false;
                if each(piece) == Next::Quit {
                    return Next::Quit;
                }
            } else if self.len < N {
                self.buf[self.len] = b;
                self.len += 1;
            } else {
                self.overlong = true;
            }
        }
        Next::Continue
    }

    /// The last line when the input ends without a newline.
    pub fn finish(&mut self, each: &mut dyn FnMut(Piece<'_>) -> Next) -> Next {
        if self.len == 0 && !self.overlong {
            return Next::Continue;
        }
        self.feed(b"\n", each)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn typed_lines_run_as_steps_like_a_script() {
        let script = "ram sram 0x20000000 4K\n\n# a comment\npart msg 32x4 on sram\n\
                      a = msg.alloc 10\nmsg.free a\nmsg.free a\nexpect fault DoubleFree\n";
        let mut ram = vec![0u8; 8192];
        let mut typed = String::new();
        let mut repl = Repl::new(&mut ram).unwrap();
        for line in script.lines() {
            assert_eq!(repl.line(line, &mut typed), Next::Continue);
        }
        assert_eq!(repl.failures, 0, "{typed}");
        let events: String = typed
            .lines()
            .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
            .flat_map(|l| [l, "\n"])
            .collect();
        let mut ram = vec![0u8; 8192];
        let mut sink = TextSink::new(String::new());
        let mut machine = Machine::new(&mut ram[..], script).unwrap();
        machine.run_traced(&mut sink, 100).unwrap();
        assert_eq!(events, sink.out);
        assert!(typed.contains("=> 0x2000"), "{typed}");
    }

    #[test]
    fn mistakes_are_reported_and_the_session_goes_on() {
        let mut ram = vec![0u8; 4096];
        let mut out = String::new();
        let mut repl = Repl::new(&mut ram).unwrap();
        repl.line("ram r 0x1000 1K", &mut out);
        repl.line("x = nopool.alloc 3", &mut out);
        repl.line("expect 1 == 2", &mut out);
        repl.line("repeat 3 {", &mut out);
        assert_eq!(repl.failures, 3, "{out}");
        assert!(out.contains("error: 2:"), "{out}");
        assert!(out.contains("expectation failed: 3:"), "{out}");
        assert_eq!(repl.line("quit", &mut out), Next::Quit);
    }

    #[test]
    fn input_is_cut_into_lines_across_reads() {
        let mut lines: Vec<String> = Vec::new();
        let mut buf = LineBuffer::<8>::default();
        let mut each = |p: Piece<'_>| {
            lines.push(match p {
                Piece::Line(l) => l.into(),
                Piece::Dropped => "<dropped>".into(),
            });
            Next::Continue
        };
        buf.feed(b"ab", &mut each);
        buf.feed(b"c\nde\nmuch too long\nok", &mut each);
        buf.finish(&mut each);
        assert_eq!(lines, ["abc", "de", "<dropped>", "ok"]);
    }
}
