//! An ASCII memory map drawn from an allocator's `walk()`: one character per cell, coloured
//! by block kind when the output is a terminal.

use memplay_engine::{Addr, Block, BlockKind};

/// The character and ANSI colour for a kind.
fn glyph(kind: BlockKind) -> (char, &'static str) {
    match kind {
        BlockKind::Header => ('H', "\x1b[33m"),
        BlockKind::Payload => ('#', "\x1b[32m"),
        BlockKind::Guard => ('G', "\x1b[31m"),
        BlockKind::Free => ('.', "\x1b[2m"),
        BlockKind::Padding => ('~', "\x1b[36m"),
    }
}

/// Draws `[base, base + size)` in rows of `width` cells. Each cell shows the kind that
/// covers most of its bytes; a cell no span touches is a space.
pub fn render(
    spans: &[Block],
    base: Addr,
    size: u32,
    width: usize,
    rows: usize,
    color: bool,
) -> String {
    let cells = (width * rows).max(1) as u64;
    let bytes_per_cell = (size as u64).div_ceil(cells).max(1);
    let mut out = String::new();
    let used_rows = (size as u64).div_ceil(bytes_per_cell * width as u64) as usize;
    for row in 0..used_rows {
        let row_start = base as u64 + (row * width) as u64 * bytes_per_cell;
        out.push_str(&format!("{row_start:#010x} "));
        for col in 0..width {
            let start = row_start + col as u64 * bytes_per_cell;
            let end = (start + bytes_per_cell).min(base as u64 + size as u64);
            if start >= end {
                break;
            }
            let mut best: Option<(u64, BlockKind)> = None;
            for kind in [
                BlockKind::Payload,
                BlockKind::Header,
                BlockKind::Guard,
                BlockKind::Padding,
                BlockKind::Free,
            ] {
                let covered: u64 = spans
                    .iter()
                    .filter(|s| s.kind == kind)
                    .map(|s| {
                        let s0 = (s.addr as u64).max(start);
                        let s1 = (s.addr as u64 + s.len as u64).min(end);
                        s1.saturating_sub(s0)
                    })
                    .sum();
                if covered > 0 && best.is_none_or(|(c, _)| covered > c) {
                    best = Some((covered, kind));
                }
            }
            match best {
                Some((_, kind)) => {
                    let (ch, ansi) = glyph(kind);
                    if color {
                        out.push_str(ansi);
                        out.push(ch);
                        out.push_str("\x1b[0m");
                    } else {
                        out.push(ch);
                    }
                }
                None => out.push(' '),
            }
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "           {bytes_per_cell} bytes per cell   # payload  H header  G guard  ~ padding  . free\n"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use memplay_engine::Owner;

    fn span(addr: Addr, len: u32, kind: BlockKind) -> Block {
        Block {
            addr,
            len,
            kind,
            block: addr,
            owner: Owner::NONE,
        }
    }

    #[test]
    fn cells_show_the_majority_kind() {
        let spans = [
            span(0x100, 8, BlockKind::Header),
            span(0x108, 24, BlockKind::Payload),
            span(0x120, 32, BlockKind::Free),
        ];
        let map = render(&spans, 0x100, 64, 8, 1, false);
        assert_eq!(map.lines().next().unwrap(), "0x00000100 H###....");
    }
}
