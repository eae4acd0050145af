//! Share links: the script, DEFLATE-compressed (miniz_oxide) and base64url-encoded, in the
//! URL fragment: `#s=<data>`, optionally with `&l=<lesson id>`. Nothing leaves the browser:
//! a fragment is never sent to a server.
//!
//! A link is outside input. Decoding checks every step and fails with a message, never a
//! panic: the length of the fragment, the alphabet, the compressed stream, the size it
//! inflates to (a "zip bomb" stops at [`MAX_SCRIPT`]) and UTF-8.

use std::fmt;

/// The longest script a link may carry, in bytes once inflated.
pub const MAX_SCRIPT: usize = 64 * 1024;
/// The longest fragment read, in characters.
pub const MAX_FRAGMENT: usize = 96 * 1024;

/// What a fragment asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shared {
    pub script: String,
    /// The lesson the script came from, if the link says.
    pub lesson: Option<String>,
}

/// Why a link cannot be opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkError {
    TooLong,
    BadCharacter,
    BadLength,
    Corrupt,
    TooLarge,
    NotText,
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinkError::TooLong => "the link is too long",
            LinkError::BadCharacter => "the link holds characters a share link never has",
            LinkError::BadLength => "the link's data is cut short",
            LinkError::Corrupt => "the link's data is damaged (it does not inflate)",
            LinkError::TooLarge => "the script in the link is larger than 64 KiB",
            LinkError::NotText => "the link's data is not UTF-8 text",
        })
    }
}

/// The fragment (without `#`) that shares `script`, from `lesson` if given.
pub fn encode(script: &str, lesson: Option<&str>) -> String {
    let packed = miniz_oxide::deflate::compress_to_vec(script.as_bytes(), 9);
    let mut out = String::from("s=");
    out.push_str(&base64url_encode(&packed));
    if let Some(id) = lesson.filter(|id| is_lesson_id(id)) {
        out.push_str("&l=");
        out.push_str(id);
    }
    out
}

/// Reads a fragment (with or without its `#`). `Ok(None)` when it is no share link (empty,
/// or no `s=`): the page opens as usual.
pub fn decode(fragment: &str) -> Result<Option<Shared>, LinkError> {
    let fragment = fragment.strip_prefix('#').unwrap_or(fragment);
    if fragment.len() > MAX_FRAGMENT {
        return Err(LinkError::TooLong);
    }
    let mut data = None;
    let mut lesson = None;
    for part in fragment.split('&') {
        if let Some(d) = part.strip_prefix("s=") {
            data = Some(d);
        } else if let Some(l) = part.strip_prefix("l=") {
            lesson = is_lesson_id(l).then(|| l.to_string());
        }
    }
    let Some(data) = data else {
        return Ok(None);
    };
    let packed = base64url_decode(data)?;
    let bytes = miniz_oxide::inflate::decompress_to_vec_with_limit(&packed, MAX_SCRIPT).map_err(
        |e| match e.status {
            miniz_oxide::inflate::TINFLStatus::HasMoreOutput => LinkError::TooLarge,
            _ => LinkError::Corrupt,
        },
    )?;
    let script = String::from_utf8(bytes).map_err(|_| LinkError::NotText)?;
    Ok(Some(Shared { script, lesson }))
}

/// Lesson ids are short: lowercase letters, digits and `-`.
fn is_lesson_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding (RFC 4648 §5).
pub fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let index = (n >> (18 - 6 * i)) & 63;
            out.push(ALPHABET[index as usize] as char);
        }
    }
    out
}

/// The inverse of [`base64url_encode`]; also accepts `=` padding at the end.
pub fn base64url_decode(text: &str) -> Result<Vec<u8>, LinkError> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return Err(LinkError::BadCharacter),
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // 6 bits left over cannot come from whole bytes.
    if bits >= 6 {
        return Err(LinkError::BadLength);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for script in [
            "",
            "ram r 0x0 1K\n",
            "note \"内存碎片\"\nram isram 0x40000000 64K internal\n",
            &"b = ctrl.alloc 100\n".repeat(500),
        ] {
            let link = encode(script, Some("control-buffer"));
            assert!(link.len() < script.len() + 64);
            let back = decode(&format!("#{link}")).unwrap().unwrap();
            assert_eq!(back.script, script);
            assert_eq!(back.lesson.as_deref(), Some("control-buffer"));
        }
        let plain = decode(&encode("tick 1\n", None)).unwrap().unwrap();
        assert_eq!(plain.lesson, None);
    }

    #[test]
    fn base64url_matches_the_rfc() {
        // RFC 4648 §10 vectors, without padding.
        for (raw, enc) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64url_encode(raw.as_bytes()), enc);
            assert_eq!(base64url_decode(enc).unwrap(), raw.as_bytes());
        }
        assert_eq!(base64url_encode(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn hostile_links_fail_cleanly() {
        assert_eq!(decode(""), Ok(None));
        assert_eq!(decode("#lesson=3"), Ok(None));
        assert_eq!(decode("#s=<script>"), Err(LinkError::BadCharacter));
        assert_eq!(decode("#s=A"), Err(LinkError::BadLength));
        assert_eq!(decode("#s=AAAAAAAA"), Err(LinkError::Corrupt));
        assert_eq!(
            decode(&format!("#s={}", "A".repeat(MAX_FRAGMENT))),
            Err(LinkError::TooLong)
        );
        // A bomb: a megabyte of zeros compresses to about a kilobyte.
        let bomb = miniz_oxide::deflate::compress_to_vec(&vec![0u8; 1 << 20], 9);
        assert_eq!(
            decode(&format!("s={}", base64url_encode(&bomb))),
            Err(LinkError::TooLarge)
        );
        let latin1 = miniz_oxide::deflate::compress_to_vec(&[0xff, 0xfe, 0x41], 9);
        assert_eq!(
            decode(&format!("s={}", base64url_encode(&latin1))),
            Err(LinkError::NotText)
        );
        // A lesson id that is not one is ignored, not trusted.
        let odd = decode(&format!("{}&l=../../etc", encode("tick 1", None)))
            .unwrap()
            .unwrap();
        assert_eq!(odd.lesson, None);
        // Random bytes never panic.
        let mut x = 0x1234_5678u32;
        for len in 0..300 {
            let s: String = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    ALPHABET[(x % 64) as usize] as char
                })
                .collect();
            let _ = decode(&format!("s={s}"));
        }
    }
}
