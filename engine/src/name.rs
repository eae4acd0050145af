//! Short names for regions, pools, owners and purposes, stored inline so the engine needs
//! no heap.

use core::fmt;

/// An identifier of 1 to [`Name::CAPACITY`] characters from `[A-Za-z0-9_]`.
///
/// Invariant: `bytes[..len]` is valid ASCII from that set and `bytes[len..]` is all zero,
/// so the derived comparisons are comparisons of the text.
///
/// Aligned to 4 (the size stays 16): names are copied and compared everywhere (every
/// event, error and pool carries one), and an aligned name moves as whole words instead of
/// byte by byte. In the web build's wasm that is 41 KB of code less (docs/performance.md).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(align(4))]
pub struct Name {
    len: u8,
    bytes: [u8; Name::CAPACITY],
}

/// Why a text is not a valid [`Name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameError {
    Empty,
    TooLong { len: usize },
    BadChar { index: usize },
}

impl Name {
    pub const CAPACITY: usize = 15;

    /// Checks and stores `text`.
    pub const fn new(text: &str) -> Result<Name, NameError> {
        let src = text.as_bytes();
        if src.is_empty() {
            return Err(NameError::Empty);
        }
        if src.len() > Name::CAPACITY {
            return Err(NameError::TooLong { len: src.len() });
        }
        let mut bytes = [0u8; Name::CAPACITY];
        let mut i = 0;
        while i < src.len() {
            let c = src[i];
            if !(c.is_ascii_alphanumeric() || c == b'_') {
                return Err(NameError::BadChar { index: i });
            }
            bytes[i] = c;
            i += 1;
        }
        Ok(Name {
            len: src.len() as u8,
            bytes,
        })
    }

    /// A name from a literal known to be valid; for constants and presets. An invalid
    /// literal fails the build when used in a `const`.
    pub const fn lit(text: &str) -> Name {
        match Name::new(text) {
            Ok(name) => name,
            Err(_) => panic!("invalid Name literal"),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored, so this cannot fail; the fallback keeps the engine
        // panic-free even so.
        core::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("?")
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Empty => f.write_str("a name cannot be empty"),
            NameError::TooLong { len } => write!(
                f,
                "a name has at most {} characters, this one has {len}",
                Name::CAPACITY
            ),
            NameError::BadChar { index } => write!(
                f,
                "character {} of the name is not a letter, digit or '_'",
                index + 1
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_reject_bad_text() {
        assert_eq!(Name::new("isram").unwrap().as_str(), "isram");
        assert_eq!(Name::new(""), Err(NameError::Empty));
        assert_eq!(
            Name::new("a_very_long_name_indeed"),
            Err(NameError::TooLong { len: 23 })
        );
        assert_eq!(Name::new("a-b"), Err(NameError::BadChar { index: 1 }));
        assert!(Name::lit("a") < Name::lit("b"));
    }
}
