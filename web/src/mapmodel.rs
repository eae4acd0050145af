//! What the memory map draws, computed in plain Rust (tested on the host): one band per RAM
//! region, rectangles from every pool's walk, and what the current step changed.

use std::collections::HashSet;

use memplay_engine::allocator::{Block, BlockKind, Owner};
use memplay_engine::error::AllocError;
use memplay_engine::ram::Fault;
use memplay_engine::ram::{Addr, RegionKind};
use memplay_engine::trace::EventKind;

use crate::session::{Frame, PoolSpans};

/// Width of a band in SVG units.
pub const WIDTH: f64 = 1000.0;
/// Rectangles narrower than this are merged with a neighbour of the same kind and pool.
const MIN_WIDTH: f64 = 0.4;

/// How a rectangle changed in the current step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Anim {
    /// A block was handed out: it grows in.
    Grow,
    /// A block was freed: it fades to free.
    Fade,
    /// A split or merge touched it: it flashes.
    Flash,
}

impl Anim {
    pub fn class(self) -> &'static str {
        match self {
            Anim::Grow => "anim-grow",
            Anim::Fade => "anim-fade",
            Anim::Flash => "anim-flash",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub w: f64,
    /// Nesting depth: pools carved from another pool are drawn a little inset.
    pub depth: usize,
    pub pool: String,
    pub span: Block,
    /// Spans merged into this rectangle (1 when it is exactly one span).
    pub merged: u32,
    pub anim: Option<Anim>,
    /// Where the pool's walk stopped: its metadata there cannot be read (a corrupted
    /// header). The span is the bytes the error is about.
    pub broken: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Band {
    pub name: String,
    pub kind: RegionKind,
    pub base: Addr,
    pub size: u32,
    /// The addresses drawn: the whole region, or the part pools use when that is small.
    pub lo: u64,
    pub hi: u64,
    pub rects: Vec<Rect>,
}

impl Band {
    pub fn zoomed(&self) -> bool {
        self.lo > self.base as u64 || self.hi < self.base as u64 + self.size as u64
    }

    /// The x of an address in the band.
    pub fn x(&self, addr: u64) -> f64 {
        let span = (self.hi - self.lo).max(1) as f64;
        (addr.saturating_sub(self.lo)) as f64 * WIDTH / span
    }
}

/// What the current step did to blocks, from its events.
#[derive(Default, Debug)]
pub struct Changes {
    pub allocated: HashSet<Addr>,
    pub freed: Vec<Addr>,
    pub flashed: Vec<Addr>,
}

impl Changes {
    pub fn of(frame: &Frame) -> Changes {
        let mut c = Changes::default();
        let Some(step) = frame.current() else {
            return c;
        };
        for event in &step.events {
            match event.kind {
                EventKind::Alloc { addr, .. } | EventKind::Carve { addr, .. } => {
                    c.allocated.insert(addr);
                }
                EventKind::Realloc { to, .. } => {
                    c.allocated.insert(to);
                }
                EventKind::Free { addr, .. } => c.freed.push(addr),
                EventKind::Split { addr, rest, .. } => {
                    c.flashed.push(addr);
                    c.flashed.push(rest);
                }
                EventKind::Merge { addr, .. } => c.flashed.push(addr),
                _ => {}
            }
        }
        c
    }

    fn anim(&self, span: &Block) -> Option<Anim> {
        let inside = |a: Addr| a >= span.addr && (a as u64) < span.addr as u64 + span.len as u64;
        match span.kind {
            BlockKind::Free if self.freed.iter().any(|a| inside(*a)) => Some(Anim::Fade),
            _ if self.flashed.iter().any(|a| inside(*a)) => Some(Anim::Flash),
            BlockKind::Free => None,
            _ if self.allocated.contains(&span.block) => Some(Anim::Grow),
            _ => None,
        }
    }
}

/// The bands of a frame's RAM.
pub fn bands(frame: &Frame, pools: &[PoolSpans]) -> Vec<Band> {
    let changes = Changes::of(frame);
    let ram = frame.machine.ram();
    ram.regions()
        .map(|region| {
            let start = region.base as u64;
            let end = region.end();
            let inside = |s: &Block| (s.addr as u64) >= start && (s.addr as u64) < end;
            // The part of the region the pools' non-free spans use, padded.
            let mut used: Option<(u64, u64)> = None;
            for s in pools.iter().flat_map(|p| &p.spans).filter(|s| inside(s)) {
                if s.kind != BlockKind::Free {
                    let (lo, hi) = used.unwrap_or((u64::MAX, 0));
                    used = Some((lo.min(s.addr as u64), hi.max(s.addr as u64 + s.len as u64)));
                }
            }
            let (mut lo, mut hi) = (start, end);
            if let Some((ulo, uhi)) = used {
                let pad = ((uhi - ulo) / 8).max(64);
                let (zlo, zhi) = (ulo.saturating_sub(pad).max(start), (uhi + pad).min(end));
                if (zhi - zlo) * 10 < (end - start) * 6 {
                    (lo, hi) = (zlo, zhi);
                }
            }
            let mut band = Band {
                name: region.name.to_string(),
                kind: region.kind,
                base: region.base,
                size: region.size,
                lo,
                hi,
                rects: Vec::new(),
            };
            // Which pools are carved from which: a pool whose spans lie inside another
            // pool's payload is drawn inset.
            let mut depth_of = Vec::new();
            for (i, pool) in pools.iter().enumerate() {
                let first = pool.spans.iter().find(|s| inside(s));
                let depth = match first {
                    Some(f) => pools[..i]
                        .iter()
                        .filter(|p| {
                            p.spans.iter().any(|s| {
                                s.kind != BlockKind::Free
                                    && s.addr <= f.addr
                                    && (f.addr as u64) < s.addr as u64 + s.len as u64
                            })
                        })
                        .count(),
                    None => 0,
                };
                depth_of.push(depth.min(3));
            }
            for (pool, depth) in pools.iter().zip(depth_of) {
                let mut last: Option<usize> = None;
                for span in pool.spans.iter().filter(|s| inside(s)) {
                    let s_lo = (span.addr as u64).max(lo);
                    let s_hi = (span.addr as u64 + span.len as u64).min(hi);
                    if s_hi <= s_lo {
                        continue;
                    }
                    let x = band.x(s_lo);
                    let w = band.x(s_hi) - x;
                    let anim = changes.anim(span);
                    if let Some(prev) = last.and_then(|i| band.rects.get_mut(i)) {
                        let adjacent = (prev.x + prev.w - x).abs() < 1e-6;
                        let same = prev.span.kind == span.kind && prev.span.owner == span.owner;
                        if adjacent
                            && same
                            && (w < MIN_WIDTH || prev.w < MIN_WIDTH)
                            && anim.is_none()
                        {
                            prev.w = x + w - prev.x;
                            prev.merged += 1;
                            continue;
                        }
                    }
                    band.rects.push(Rect {
                        x,
                        w,
                        depth,
                        pool: pool.pool.clone(),
                        span: *span,
                        merged: 1,
                        anim,
                        broken: None,
                    });
                    last = Some(band.rects.len() - 1);
                }
                // A walk that failed: mark where, so the learner can click it.
                if let Some(at) = pool.error.and_then(error_addr) {
                    let a = at as u64;
                    if a >= lo && a < hi {
                        let x = band.x(a);
                        let w = (band.x((a + 4).min(hi)) - x).max(6.0).min(WIDTH - x);
                        band.rects.push(Rect {
                            x,
                            w,
                            depth,
                            pool: pool.pool.clone(),
                            span: Block {
                                addr: at,
                                len: 4,
                                kind: BlockKind::Guard,
                                block: at,
                                owner: Owner::NONE,
                            },
                            merged: 1,
                            anim: None,
                            broken: pool.error.map(|e| e.to_string()),
                        });
                    }
                }
            }
            band
        })
        .collect()
}

/// The address an allocator error is about, if it names one.
pub fn error_addr(error: AllocError) -> Option<Addr> {
    match error {
        AllocError::Corrupted { at, .. }
        | AllocError::Inconsistent { at, .. }
        | AllocError::Deadlock { at } => Some(at),
        AllocError::InvalidPointer { addr }
        | AllocError::DoubleFree { addr }
        | AllocError::NotFreeable { addr } => Some(addr),
        AllocError::Bus(Fault::Unmapped { addr } | Fault::PastRegionEnd { addr, .. }) => Some(addr),
        _ => None,
    }
}

/// Owner colours: none of them the blue of metadata, the red of guards, the yellow of
/// padding or the green of blocks with no owner.
const OWNER_COLOURS: [&str; 8] = [
    "#2a9d8f", "#9b5de5", "#f3722c", "#e76f9a", "#7cb518", "#00a6c7", "#b5838d", "#6d597a",
];

/// A colour for a block's owner; `None` (the payload green) for blocks with no owner.
pub fn owner_fill(owner: Owner) -> Option<&'static str> {
    if owner == Owner::NONE {
        return None;
    }
    OWNER_COLOURS
        .get(owner.0 as usize % OWNER_COLOURS.len())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Timeline, MAX_STEPS};

    const SCRIPT: &str = "\
ram isram 0x40000000 16K internal
ram extsram 0x08000000 64K external
sys isram extsram
ctrl table 32x8 64x8 128x4
b = ctrl.alloc 100 owner 3
ctrl.free b
";

    #[test]
    fn bands_show_every_region_and_the_steps_changes() {
        let t = Timeline::build(SCRIPT, MAX_STEPS).unwrap();
        let at = |n| {
            let f = t.frame_at(n);
            let pools = f.spans();
            (bands(&f, &pools), f)
        };
        let (b, _) = at(2);
        assert_eq!(b.len(), 2);
        assert!(b.iter().all(|band| band.rects.is_empty()));
        let (b, f) = at(5);
        let addr = f.machine.var("b").unwrap();
        let grown: Vec<&Rect> = b
            .iter()
            .flat_map(|band| &band.rects)
            .filter(|r| r.anim == Some(Anim::Grow))
            .collect();
        assert!(!grown.is_empty());
        assert!(grown.iter().all(|r| r.span.block == addr));
        assert!(grown.iter().any(|r| r.pool == "ctrl" && r.depth == 1));
        let (b, _) = at(6);
        assert!(b
            .iter()
            .flat_map(|band| &band.rects)
            .any(|r| r.anim == Some(Anim::Fade)));
        for band in &b {
            for r in &band.rects {
                assert!(r.x >= 0.0 && r.x + r.w <= WIDTH + 1e-6, "{r:?}");
            }
        }
    }

    #[test]
    fn a_walk_that_stops_is_marked() {
        let script = "ram r 0x20000000 2K\npart msgs 32x8\na = msgs.alloc 32\nb = msgs.alloc 32\npoke a+32 0x00\n";
        let t = Timeline::build(script, MAX_STEPS).unwrap();
        let f = t.frame_at(t.total);
        let pools = f.spans();
        assert!(pools[0].error.is_some());
        let b = bands(&f, &pools);
        let broken: Vec<&Rect> = b[0].rects.iter().filter(|r| r.broken.is_some()).collect();
        assert_eq!(broken.len(), 1);
        assert_eq!(broken[0].span.addr, f.machine.var("a").unwrap() + 32);
        let before = t.frame_at(4);
        let pools = before.spans();
        assert!(bands(&before, &pools)[0]
            .rects
            .iter()
            .all(|r| r.broken.is_none()));
    }

    #[test]
    fn owners_get_colours() {
        assert_eq!(owner_fill(Owner::NONE), None);
        assert_ne!(owner_fill(Owner(1)), owner_fill(Owner(2)));
    }
}
