//! Charts over the steps: each pool's used, free and largest free bytes and its
//! fragmentation as SVG line charts, and a heat map of allocation churn by address.
//!
//! [`History`] is plain data: the app calls [`History::push`] after each step it runs
//! (and once before the first, for step 0) and [`view`] with the step on screen. Stepping
//! back only changes `upto_step`; a re-run after an edit starts a new `History` (or pushes
//! from an earlier step, which drops what was recorded from that step on).

use std::collections::BTreeMap;

use memplay_engine::allocator::BlockKind;
use memplay_engine::machine::Machine;
use memplay_engine::ram::Addr;
use yew::prelude::*;

use crate::num::{fixed, short};
use crate::panels::{bytes, hex, label, Lang};

/// One pool's figures after one step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Point {
    /// The machine's step count when it was recorded.
    pub step: u32,
    pub capacity: u32,
    pub used: u32,
    pub free: u32,
    pub largest: u32,
    pub frag_permille: u32,
}

/// A pool's points, in step order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Series {
    pub pool: String,
    pub points: Vec<Point>,
}

/// An allocation (a live block appeared at `addr`) or a free (it went away).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Churn {
    pub step: u32,
    pub addr: Addr,
    pub alloc: bool,
}

/// A RAM region, for the heat map's address axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionSpan {
    pub name: String,
    pub base: Addr,
    pub size: u32,
}

/// The figures of every step pushed so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// The steps recorded, ascending.
    steps: Vec<u32>,
    series: Vec<Series>,
    churn: Vec<Churn>,
    regions: Vec<RegionSpan>,
    /// Each pool's live blocks (handed-out addresses, sorted) at the last push.
    live: Vec<(String, Vec<Addr>)>,
}

impl History {
    /// Records the machine's figures after its latest step. Pushing a step at or before
    /// the last one recorded drops the record from that step on (a re-run); the churn of
    /// that one step is then unknown and not counted.
    pub fn push(&mut self, machine: &Machine<Vec<u8>, String>) {
        let step = machine.steps();
        let rerun = self.steps.last().is_some_and(|&last| last >= step);
        if rerun {
            self.truncate(step);
        }
        self.steps.push(step);
        self.regions = machine
            .ram()
            .regions()
            .map(|r| RegionSpan {
                name: r.name.as_str().to_string(),
                base: r.base,
                size: r.size,
            })
            .collect();
        let ram = machine.ram();
        let mut live = Vec::new();
        for pool in machine.pools() {
            let name = pool.name().as_str().to_string();
            if let Ok(s) = pool.stats(ram) {
                let point = Point {
                    step,
                    capacity: s.capacity,
                    used: s.used,
                    free: s.free,
                    largest: s.largest_free,
                    frag_permille: s.fragmentation_permille,
                };
                match self.series.iter_mut().find(|x| x.pool == name) {
                    Some(series) => series.points.push(point),
                    None => self.series.push(Series {
                        pool: name.clone(),
                        points: vec![point],
                    }),
                }
            }
            let mut blocks = Vec::new();
            let walked = pool.walk(ram, &mut |span| {
                if span.kind == BlockKind::Payload && blocks.last() != Some(&span.block) {
                    blocks.push(span.block);
                }
            });
            if walked.is_err() {
                // Unreadable metadata: keep what the last readable walk said.
                if let Some((_, old)) = self.live.iter().find(|(p, _)| *p == name) {
                    live.push((name, old.clone()));
                }
                continue;
            }
            blocks.sort_unstable();
            blocks.dedup();
            if !rerun {
                let old = self
                    .live
                    .iter()
                    .find(|(p, _)| *p == name)
                    .map_or(&[][..], |(_, b)| &b[..]);
                diff(old, &blocks, &mut |addr, alloc| {
                    self.churn.push(Churn { step, addr, alloc })
                });
            }
            live.push((name, blocks));
        }
        self.live = live;
    }

    /// Drops everything recorded at `step` or later.
    fn truncate(&mut self, step: u32) {
        self.steps.retain(|&s| s < step);
        for series in &mut self.series {
            series.points.retain(|p| p.step < step);
        }
        self.series.retain(|s| !s.points.is_empty());
        self.churn.retain(|c| c.step < step);
    }

    /// The steps recorded.
    pub fn steps(&self) -> &[u32] {
        &self.steps
    }

    pub fn len(&self) -> usize {
        self.steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Each pool's figures, pools in order of first appearance.
    pub fn series(&self) -> &[Series] {
        &self.series
    }

    /// Every allocation and free seen, in step order.
    pub fn churn_events(&self) -> &[Churn] {
        &self.churn
    }

    /// Allocations plus frees per address, over the steps up to `upto_step`.
    pub fn churn(&self, upto_step: usize) -> BTreeMap<Addr, u32> {
        let mut by_addr = BTreeMap::new();
        for c in self.churn.iter().filter(|c| c.step as usize <= upto_step) {
            *by_addr.entry(c.addr).or_insert(0) += 1;
        }
        by_addr
    }

    /// The RAM regions at the last push.
    pub fn regions(&self) -> &[RegionSpan] {
        &self.regions
    }
}

/// Calls `f(addr, true)` for each address in `new` but not `old`, `f(addr, false)` for
/// each in `old` but not `new`; both sorted.
fn diff(old: &[Addr], new: &[Addr], f: &mut dyn FnMut(Addr, bool)) {
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(&a), Some(&b)) if a < b => {
                f(a, false);
                i += 1;
            }
            (Some(&a), None) => {
                f(a, false);
                i += 1;
            }
            (_, Some(&b)) => {
                f(b, true);
                j += 1;
            }
            (None, None) => break,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Drawing
// ---------------------------------------------------------------------------------------

/// A line chart's size in SVG units: about its size on the page, so that the labels
/// read at their font size.
const W: f64 = 340.0;
const H: f64 = 130.0;
/// Plot margins: left (byte labels), right (per-cent labels), top, bottom (step labels).
const ML: f64 = 54.0;
const MR: f64 = 30.0;
const MT: f64 = 8.0;
const MB: f64 = 18.0;
/// The most points a line keeps (min and max per column beyond that).
const MAX_POINTS: usize = 400;
/// The heat map's width in SVG units.
const HW: f64 = 640.0;
const HL: f64 = 48.0;
/// Heat map: address columns per region, and the most time rows.
const HEAT_COLS: usize = 64;
const HEAT_ROWS: usize = 24;

/// The charts for the steps up to `upto_step`, in English.
pub fn view(history: &History, upto_step: usize) -> Html {
    view_lang(history, upto_step, Lang::En)
}

/// [`view`] in `lang`.
pub fn view_lang(history: &History, upto_step: usize, lang: Lang) -> Html {
    let t = |key| label(key, lang);
    if history.series.is_empty() && history.churn.is_empty() {
        return Html::default();
    }
    let last = history
        .steps
        .iter()
        .copied()
        .filter(|&s| s as usize <= upto_step)
        .max()
        .unwrap_or(0);
    // The x axis runs over every step recorded, so the charts do not rescale as the
    // learner steps back and forth; the part after `upto_step` is not drawn.
    let x_max = history.steps.last().copied().unwrap_or(0).max(1);
    html! {
        <section class="mp-charts">
            <h3>{ t("chart_title") }</h3>
            <ul class="mp-legend">
                <li><span class="mp-key mp-l-used"></span>{ t("used") }</li>
                <li><span class="mp-key mp-l-free"></span>{ t("free") }</li>
                <li><span class="mp-key mp-l-largest"></span>{ t("largest_free") }</li>
                <li><span class="mp-key mp-l-frag"></span>{ t("fragmentation") }{ " (%)" }</li>
            </ul>
            <div class="mp-chart-grid">
                { for history.series.iter().map(|s| line_chart(s, last, x_max, lang)) }
            </div>
            { heat_map(history, last, lang) }
        </section>
    }
}

/// SVG `points` for `(step, value)` pairs scaled into the plot.
fn polyline(points: &[(f64, f64)]) -> String {
    let mut out = String::with_capacity(points.len() * 14);
    for (x, y) in points {
        out.push_str(&format!("{},{} ", fixed(*x, 1), fixed(*y, 1)));
    }
    out
}

/// Keeps at most about `max` points: the first and last, and each column's lowest and
/// highest, in order, so that spikes survive.
fn decimate(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max || max < 4 {
        return points.to_vec();
    }
    let columns = max / 2;
    let per = points.len().div_ceil(columns);
    let mut out = Vec::with_capacity(max + 2);
    for chunk in points.chunks(per) {
        let lo = chunk
            .iter()
            .enumerate()
            .min_by(|a, b| a.1 .1.total_cmp(&b.1 .1))
            .map(|(i, _)| i)
            .unwrap_or(0);
        let hi = chunk
            .iter()
            .enumerate()
            .max_by(|a, b| a.1 .1.total_cmp(&b.1 .1))
            .map(|(i, _)| i)
            .unwrap_or(0);
        let (a, b) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        out.push(chunk[a]);
        if b != a {
            out.push(chunk[b]);
        }
    }
    if let (Some(&first), Some(&last)) = (points.first(), points.last()) {
        if out.first() != Some(&first) {
            out.insert(0, first);
        }
        if out.last() != Some(&last) {
            out.push(last);
        }
    }
    out
}

fn line_chart(s: &Series, upto: u32, x_max: u32, lang: Lang) -> Html {
    let t = |key| label(key, lang);
    let shown: Vec<&Point> = s.points.iter().filter(|p| p.step <= upto).collect();
    let top = s
        .points
        .iter()
        .map(|p| p.capacity.max(p.used + p.free))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let pw = W - ML - MR;
    let ph = H - MT - MB;
    let x = |step: u32| ML + step as f64 * pw / x_max as f64;
    let y = |v: f64, max: f64| MT + ph - (v / max).clamp(0.0, 1.0) * ph;
    let line = |f: &dyn Fn(&Point) -> f64, max: f64| {
        let pts: Vec<(f64, f64)> = shown.iter().map(|p| (x(p.step), y(f(p), max))).collect();
        polyline(&decimate(&pts, MAX_POINTS))
    };
    let now = shown.last().copied();
    let caption = match now {
        Some(p) => format!(
            "{} {} · {} {} · {} {} · {} {}.{}%",
            t("used"),
            bytes(p.used),
            t("free"),
            bytes(p.free),
            t("largest_free"),
            bytes(p.largest),
            t("fragmentation"),
            p.frag_permille / 10,
            p.frag_permille % 10
        ),
        None => String::new(),
    };
    html! {
        <figure class="mp-chart">
            <figcaption><code>{ &s.pool }</code>{ " " }<span class="mp-note">{ caption }</span></figcaption>
            <svg viewBox={format!("0 0 {} {}", short(W), short(H))} role="img"
                 aria-label={format!("{}: {}", s.pool, t("chart_title"))}>
                <rect class="mp-plot" x={short(ML)} y={short(MT)}
                      width={short(pw)} height={short(ph)} />
                <text class="mp-axis" x={short(ML - 4.0)} y={short(MT + 8.0)} text-anchor="end">
                    { bytes(top as u32) }
                </text>
                <text class="mp-axis" x={short(ML - 4.0)} y={short(MT + ph)} text-anchor="end">{ "0" }</text>
                <text class="mp-axis" x={short(W - MR + 4.0)} y={short(MT + 8.0)}>{ "100%" }</text>
                <text class="mp-axis" x={short(W - MR + 4.0)} y={short(MT + ph)}>{ "0%" }</text>
                <text class="mp-axis" x={short(ML)} y={short(H - 6.0)}>{ t("chart_step") }{ " 0" }</text>
                <text class="mp-axis" x={short(W - MR)} y={short(H - 6.0)} text-anchor="end">
                    { x_max }
                </text>
                <polyline class="mp-line mp-l-free" points={line(&|p| p.free as f64, top)} />
                <polyline class="mp-line mp-l-largest" points={line(&|p| p.largest as f64, top)} />
                <polyline class="mp-line mp-l-used" points={line(&|p| p.used as f64, top)} />
                <polyline class="mp-line mp-l-frag" points={line(&|p| p.frag_permille as f64, 1000.0)} />
                <line class="mp-cursor" x1={short(x(upto))} x2={short(x(upto))}
                      y1={short(MT)} y2={short(MT + ph)} />
            </svg>
        </figure>
    }
}

/// Per region: columns are address buckets, rows are step bins (oldest on top); a
/// cell's shade is the allocations and frees in it.
fn heat_map(history: &History, upto: u32, lang: Lang) -> Html {
    let t = |key| label(key, lang);
    let events: Vec<&Churn> = history.churn.iter().filter(|c| c.step <= upto).collect();
    if history.regions.is_empty() {
        return Html::default();
    }
    let steps = upto.max(1) as usize + 1;
    let rows = steps.min(HEAT_ROWS);
    let per_row = steps.div_ceil(rows);
    let cell_w = (HW - HL) / HEAT_COLS as f64;
    // Rows are taller when there are few, so a short script still reads.
    let cell_h = (96.0 / rows as f64).clamp(5.0, 14.0);
    html! {
        <div class="mp-heat">
            <h4>{ t("chart_heat") }</h4>
            { for history.regions.iter().filter_map(|r| span_of_churn(history, r).map(|s| (r, s))).map(|(r, (lo, len))| {
                let mut grid = vec![0u32; rows * HEAT_COLS];
                let bucket = (len as u64).div_ceil(HEAT_COLS as u64).max(1);
                for c in &events {
                    let off = c.addr.wrapping_sub(lo) as u64;
                    if off < len as u64 {
                        let col = (off / bucket) as usize;
                        let row = (c.step as usize / per_row).min(rows - 1);
                        if let Some(v) = grid.get_mut(row * HEAT_COLS + col) {
                            *v += 1;
                        }
                    }
                }
                let max = grid.iter().copied().max().unwrap_or(0);
                let total: u32 = grid.iter().sum();
                let h = rows as f64 * cell_h;
                html! {
                    <figure class="mp-heat-region">
                        <figcaption>
                            <strong>{ &r.name }</strong>{ " " }
                            <code>{ format!("{} – {}", hex(r.base), hex(r.base.wrapping_add(r.size))) }</code>
                            if (lo, len) != (r.base, r.size) {
                                <span class="mp-note">{ format!(" · {} {} – {}", t("chart_zoom"), hex(lo), hex(lo.wrapping_add(len))) }</span>
                            }
                            <span class="mp-note">{ format!(" · {total} {}", t("chart_events")) }</span>
                        </figcaption>
                        <svg viewBox={format!("0 0 {} {}", short(HW), short(h + 12.0))} role="img"
                             aria-label={format!("{}: {}", r.name, t("chart_heat"))}>
                            <text class="mp-axis" x="0" y="8">{ t("chart_step") }{ " 0" }</text>
                            <text class="mp-axis" x="0" y={short(h)}>{ upto }</text>
                            <rect class="mp-plot" x={short(HL)} y="0" width={short(HW - HL)} height={short(h)} />
                            { for grid.iter().enumerate().filter(|(_, &v)| v > 0).map(|(i, &v)| {
                                let (row, col) = (i / HEAT_COLS, i % HEAT_COLS);
                                let from = lo as u64 + col as u64 * bucket;
                                let first = row * per_row;
                                let title = format!("{} – {} · {} {}–{} · {v}",
                                    hex(from as u32), hex((from + bucket).min(u32::MAX as u64) as u32),
                                    t("chart_step"), first, (first + per_row - 1).min(upto as usize));
                                let shade = 0.15 + 0.85 * v as f64 / max.max(1) as f64;
                                html! {
                                    <rect class="mp-heat-cell" x={short(HL + col as f64 * cell_w)}
                                          y={short(row as f64 * cell_h)}
                                          width={short(cell_w)} height={short(cell_h)}
                                          fill-opacity={fixed(shade, 2)}>
                                        <title>{ title }</title>
                                    </rect>
                                }
                            }) }
                            <text class="mp-axis" x={short(HL)} y={short(h + 10.0)}>{ hex(lo) }</text>
                            <text class="mp-axis" x={short(HW)} y={short(h + 10.0)} text-anchor="end">
                                { hex(lo.wrapping_add(len)) }
                            </text>
                        </svg>
                    </figure>
                }
            }) }
        </div>
    }
}

/// The part of region `r` the heat map shows: from the lowest to past the highest address
/// with churn over all the steps recorded (so it does not move as the learner steps),
/// aligned to 64 bytes and at least 4 bytes a column; `None` when nothing in `r` churned.
fn span_of_churn(history: &History, r: &RegionSpan) -> Option<(Addr, u32)> {
    let inside = |a: Addr| (a.wrapping_sub(r.base) as u64) < r.size as u64;
    let addrs = history.churn.iter().map(|c| c.addr).filter(|&a| inside(a));
    let (lo, hi) = addrs.fold(None, |acc: Option<(Addr, Addr)>, a| match acc {
        None => Some((a, a)),
        Some((lo, hi)) => Some((lo.min(a), hi.max(a))),
    })?;
    let off_lo = (lo - r.base) as u64 & !63;
    // Past the highest address: leave room for its block (a bucket at least).
    let off_hi = ((hi - r.base) as u64 + 64).div_ceil(64) * 64;
    let len = (off_hi - off_lo).max(4 * HEAT_COLS as u64);
    // Zoom only when it helps: a span over half the region shows the whole region.
    if len * 2 >= r.size as u64 {
        return Some((r.base, r.size));
    }
    let len = len.min(r.size as u64 - off_lo);
    Some((r.base + off_lo as u32, len as u32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use memplay_engine::machine::StepOutcome;
    use memplay_engine::trace::Quiet;

    const SCRIPT: &str = "ram sram 0x20000000 4K
part msg 32x4 on sram
lab heap 1K on sram policy best order size_asc coalesce on header 4 align 4
a = msg.alloc 10
b = msg.alloc 20
msg.free a
c = msg.alloc 30
x = heap.alloc 100
y = heap.alloc 100
heap.free x
note \"done\"
";

    /// The history of `script`, pushed before the first step and after each.
    fn record(script: &str) -> (History, Machine<Vec<u8>, String>) {
        let mut m = Machine::owned(script.to_string()).unwrap();
        let mut h = History::default();
        h.push(&m);
        while let Ok(StepOutcome::Ran(_)) = m.step(&mut Quiet) {
            h.push(&m);
        }
        (h, m)
    }

    #[test]
    fn history_records_every_pool_at_every_step() {
        let (h, m) = record(SCRIPT);
        assert_eq!(h.steps(), &(0..=m.steps()).collect::<Vec<_>>()[..]);
        let names: Vec<&str> = h.series().iter().map(|s| s.pool.as_str()).collect();
        assert_eq!(names, vec!["msg", "heap"]);
        // msg exists from step 2 (its configuration) on.
        let msg = &h.series()[0];
        assert_eq!(msg.points.first().unwrap().step, 2);
        assert_eq!(msg.points.len() as u32, m.steps() - 1);
        let used: Vec<u32> = msg.points.iter().map(|p| p.used).collect();
        // payload bytes of live blocks: a 10, +b 20, -a, +c 30, then unchanged.
        assert_eq!(&used[..6], &[0, 0, 10, 30, 20, 50]);
        assert!(msg
            .points
            .iter()
            .all(|p| p.capacity > 0 && p.largest <= p.free));
        // Four separate 32-byte blocks free at first: 3/4 of the free bytes are outside
        // the largest span.
        assert_eq!(msg.points[0].frag_permille, 750);
        let lab = &h.series()[1];
        let last = lab.points.last().unwrap();
        assert_eq!(last.step, m.steps());
        assert!(last.largest <= last.free && last.used == 100);
    }

    #[test]
    fn churn_counts_allocations_and_frees_per_address() {
        let (h, m) = record(SCRIPT);
        let a = m.var("a").unwrap();
        let b = m.var("b").unwrap();
        let c = m.var("c").unwrap();
        let x = m.var("x").unwrap();
        let y = m.var("y").unwrap();
        assert_eq!(c, a, "LIFO: c reuses a's block");
        let churn = h.churn(usize::MAX);
        assert_eq!(churn.get(&a), Some(&3), "alloc, free, alloc");
        assert_eq!(churn.get(&b), Some(&1));
        assert_eq!(churn.get(&x), Some(&2));
        assert_eq!(churn.get(&y), Some(&1));
        assert_eq!(churn.values().sum::<u32>(), 7);
        // Up to step 6 (`msg.free a`): a allocated and freed, b allocated.
        let early = h.churn(6);
        assert_eq!(early.get(&a), Some(&2));
        assert_eq!(early.values().sum::<u32>(), 3);
        let frees: Vec<Addr> = h
            .churn_events()
            .iter()
            .filter(|e| !e.alloc)
            .map(|e| e.addr)
            .collect();
        assert_eq!(frees, vec![a, x]);
        assert_eq!(h.regions().len(), 1);
        assert_eq!(h.regions()[0].name, "sram");
    }

    #[test]
    fn a_rerun_replaces_the_steps_from_where_it_starts() {
        let (mut h, _) = record(SCRIPT);
        let total = h.len();
        // The learner edits the script: the app pushes the new run from step 0 again.
        let mut m = Machine::owned(SCRIPT.replace("msg.free a", "msg.free b")).unwrap();
        h.push(&m);
        assert_eq!(h.len(), 1);
        assert!(h.churn_events().is_empty());
        while let Ok(StepOutcome::Ran(_)) = m.step(&mut Quiet) {
            h.push(&m);
        }
        assert_eq!(h.len(), total);
        let b = m.var("b").unwrap();
        assert_eq!(
            h.churn(usize::MAX).get(&b),
            Some(&3),
            "b, freed, then reused by c"
        );
    }

    #[test]
    fn views_render_on_the_host() {
        let (h, m) = record(SCRIPT);
        assert_ne!(view(&h, 5), Html::default());
        assert_ne!(view_lang(&h, usize::MAX, Lang::Zh), Html::default());
        assert_eq!(view(&History::default(), 0), Html::default());
        let panels = crate::panels::view_with(&m, Lang::Zh, Callback::noop());
        assert_ne!(panels, Html::default());
    }

    #[test]
    fn diff_reports_appeared_and_gone() {
        let mut seen = Vec::new();
        diff(&[1, 3, 5], &[3, 4, 5, 6], &mut |a, alloc| {
            seen.push((a, alloc))
        });
        assert_eq!(seen, vec![(1, false), (4, true), (6, true)]);
    }

    #[test]
    fn decimate_keeps_ends_and_spikes() {
        let pts: Vec<(f64, f64)> = (0..10_000)
            .map(|i| (i as f64, if i == 5_000 { 99.0 } else { 1.0 }))
            .collect();
        let d = decimate(&pts, 200);
        assert!(d.len() <= 204, "{}", d.len());
        assert_eq!(d.first(), pts.first());
        assert_eq!(d.last(), pts.last());
        assert!(d.iter().any(|p| p.1 == 99.0));
        assert!(d.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
