//! Line-buffered text output: trace lines reach the host in one write each (one
//! semihosting call, one defmt frame), not one per formatted piece.

use core::fmt;

/// Where finished text goes.
pub trait Console {
    /// Writes `text` (usually one whole line, newline included).
    fn write(&mut self, text: &str);
}

/// Drops everything (when no output is available).
pub struct NoConsole;

impl Console for NoConsole {
    fn write(&mut self, _text: &str) {}
}

/// Buffer size: longer than any canonical trace line, so lines are written whole.
pub const LINE_CAPACITY: usize = 512;

/// A `fmt::Write` that collects text and hands it to its [`Console`] at each newline or
/// when the buffer is full. Pieces are never split, so what it hands over is always
/// valid UTF-8 cut at piece boundaries.
pub struct Lines<C> {
    console: C,
    buf: [u8; LINE_CAPACITY],
    /// Invariant: `buf[..len]` is valid UTF-8 (whole `&str` pieces).
    len: usize,
}

impl<C: Console> Lines<C> {
    pub fn new(console: C) -> Lines<C> {
        Lines {
            console,
            buf: [0; LINE_CAPACITY],
            len: 0,
        }
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) {
        if self.len > 0 {
            // The buffer holds whole `&str` pieces, so this always succeeds.
            if let Ok(text) = core::str::from_utf8(&self.buf[..self.len]) {
                self.console.write(text);
            }
            self.len = 0;
        }
    }

    /// The console, for what is not text (the exit call).
    pub fn console(&mut self) -> &mut C {
        &mut self.console
    }
}

impl<C: Console> fmt::Write for Lines<C> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.len() > LINE_CAPACITY - self.len {
            self.flush();
        }
        if s.len() > LINE_CAPACITY {
            self.console.write(s);
            return Ok(());
        }
        self.buf[self.len..self.len + s.len()].copy_from_slice(s.as_bytes());
        self.len += s.len();
        if s.ends_with('\n') {
            self.flush();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;
    use std::string::String;
    use std::vec::Vec;

    struct Record(Vec<String>);
    impl Console for &mut Record {
        fn write(&mut self, text: &str) {
            self.0.push(text.into());
        }
    }

    #[test]
    fn lines_are_written_whole_and_long_text_still_arrives() {
        let mut rec = Record(Vec::new());
        let long = "é".repeat(LINE_CAPACITY);
        {
            let mut lines = Lines::new(&mut rec);
            writeln!(
                lines,
                "0001 dyn.alloc addr={:#010x} size={}",
                0x0800_0010u32, 64
            )
            .unwrap();
            write!(lines, "a{long}b").unwrap();
            lines.flush();
        }
        assert_eq!(rec.0[0], "0001 dyn.alloc addr=0x08000010 size=64\n");
        assert_eq!(
            rec.0.concat(),
            std::format!("0001 dyn.alloc addr=0x08000010 size=64\na{long}b")
        );
    }
}
