//! The memory map: one SVG band per RAM region, a rectangle per span of every pool,
//! coloured by kind and owner, animated by what the current step changed. Hover shows a
//! span's details; a click selects its block for the inspector.

use memplay_engine::allocator::BlockKind;
use memplay_engine::ram::Addr;
use yew::prelude::*;

use crate::i18n::Text;
use crate::mapmodel::{owner_fill, Band, Rect, WIDTH};

const HEIGHT: f64 = 44.0;

#[derive(Properties, PartialEq)]
pub struct MemMapProps {
    pub bands: Vec<Band>,
    /// The selected block's range.
    pub selected: Option<(Addr, u32)>,
    /// The current step, so that animations play again on every step.
    pub step: u32,
    pub on_select: Callback<Option<Addr>>,
    pub text: &'static Text,
}

#[function_component(MemMap)]
pub fn mem_map(props: &MemMapProps) -> Html {
    let t = props.text;
    if props.bands.is_empty() {
        return html! { <p class="empty">{ t.no_regions }</p> };
    }
    let mut owners: Vec<memplay_engine::allocator::Owner> = props
        .bands
        .iter()
        .flat_map(|b| &b.rects)
        .filter(|r| r.span.kind == BlockKind::Payload)
        .map(|r| r.span.owner)
        .filter(|o| owner_fill(*o).is_some())
        .collect();
    owners.sort();
    owners.dedup();
    html! {
        <div class="memmap" data-testid="memmap">
            { for props.bands.iter().map(|band| band_view(band, props)) }
            <Legend text={t} />
            if !owners.is_empty() {
                <ul class="legend owners">
                    { for owners.iter().take(16).map(|o| html! {
                        <li><span class="swatch" style={format!("background:{}", owner_fill(*o).unwrap_or_default())}></span>
                            { format!("owner {o}") }</li>
                    }) }
                </ul>
            }
        </div>
    }
}

fn band_view(band: &Band, props: &MemMapProps) -> Html {
    let t = props.text;
    let end = band.base as u64 + band.size as u64;
    let overview = band.zoomed().then(|| {
        let x = (band.lo - band.base as u64) as f64 * 100.0 / band.size.max(1) as f64;
        let w = ((band.hi - band.lo) as f64 * 100.0 / band.size.max(1) as f64).max(0.5);
        html! {
            <div class="overview" title={format!("{} {:#010x} – {:#010x}", t.showing, band.lo, band.hi)}>
                <span style={format!("left:{}%;width:{}%", fmt(x), fmt(w))}></span>
            </div>
        }
    });
    let rects = band.rects.iter().map(|r| rect_view(r, props));
    let selection = props.selected.and_then(|(addr, len)| {
        let (lo, hi) = (addr as u64, addr as u64 + len as u64);
        (lo < band.hi && hi > band.lo).then(|| {
            let x = band.x(lo.max(band.lo));
            let w = (band.x(hi.min(band.hi)) - x).max(1.0);
            html! {
                <rect class="selection" x={fmt(x)} y="0.5" width={fmt(w)} height={fmt(HEIGHT - 1.0)} />
            }
        })
    });
    html! {
        <figure class="band" data-region={band.name.clone()}>
            <figcaption>
                <strong>{ &band.name }</strong>
                <span class="kind">{ band.kind.as_str() }</span>
                <span class="range">{ format!("{:#010x} – {:#010x} · {}", band.base, end, size_text(band.size)) }</span>
                if band.zoomed() {
                    <span class="zoom">{ format!("{} {:#010x} – {:#010x}", t.showing, band.lo, band.hi) }</span>
                }
            </figcaption>
            { for overview }
            <div class="band-box">
            if band.rects.is_empty() {
                <span class="band-empty">{ t.no_pool }</span>
            }
            <svg viewBox={format!("0 0 {} {}", crate::num::short(WIDTH), crate::num::short(HEIGHT))} preserveAspectRatio="none" role="img"
                 aria-label={format!("{} {:#010x}", band.name, band.base)}>
                <rect class="span unmapped" x="0" y="0" width={fmt(WIDTH)} height={fmt(HEIGHT)} />
                { for rects }
                { for selection }
            </svg>
            </div>
            <div class="axis" aria-hidden="true">
                <span>{ format!("{:#x}", band.lo) }</span>
                <span>{ format!("{:#x}", band.hi) }</span>
            </div>
        </figure>
    }
}

fn rect_view(r: &Rect, props: &MemMapProps) -> Html {
    let inset = r.depth as f64 * 5.0;
    let kind = r.span.kind;
    let style = match kind {
        BlockKind::Payload => owner_fill(r.span.owner).map(|f| format!("fill:{f}")),
        _ => None,
    };
    let addr = r.span.addr;
    let onclick = {
        let on_select = props.on_select.clone();
        Callback::from(move |_: MouseEvent| on_select.emit(Some(addr)))
    };
    // A rectangle that animates gets a key of its own on every step, so the animation
    // plays again even when the same block changes twice in a row.
    let key = match r.anim {
        Some(_) => format!("{}-{:x}-{}-{}", r.pool, addr, kind.as_str(), props.step),
        None => format!("{}-{:x}-{}", r.pool, addr, kind.as_str()),
    };
    html! {
        <rect key={key}
              class={classes!("span", kind.as_str(), r.anim.map(|a| a.class()), r.broken.is_some().then_some("broken"))}
              data-pool={r.pool.clone()} data-kind={kind.as_str()} data-addr={format!("{addr:#010x}")}
              x={fmt(r.x)} y={fmt(inset)} width={fmt(r.w.max(0.35))} height={fmt(HEIGHT - 2.0 * inset)}
              style={style} {onclick}>
            <title>{ title(r) }</title>
        </rect>
    }
}

fn title(r: &Rect) -> String {
    let s = &r.span;
    if let Some(error) = &r.broken {
        return format!("{}: the walk stops here: {error}", r.pool);
    }
    let mut text = format!(
        "{} · {} · {:#010x} +{} bytes",
        r.pool,
        s.kind.as_str(),
        s.addr,
        s.len
    );
    if s.kind != BlockKind::Free && s.block != 0 {
        text.push_str(&format!(" · block {:#010x}", s.block));
    }
    if s.owner != memplay_engine::allocator::Owner::NONE {
        text.push_str(&format!(" · owner {}", s.owner));
    }
    if r.merged > 1 {
        text.push_str(&format!(" · {} spans too small to draw apart", r.merged));
    }
    text
}

/// `v` with three decimals, without the float formatting machinery (see [`crate::num`]).
pub fn fmt(v: f64) -> String {
    crate::num::fixed(v, 3)
}

pub fn size_text(size: u32) -> String {
    if size >= 1 << 20 && size.is_multiple_of(1 << 20) {
        format!("{} MiB", size >> 20)
    } else if size >= 1024 && size.is_multiple_of(1024) {
        format!("{} KiB", size >> 10)
    } else {
        format!("{size} B")
    }
}

#[derive(Properties, PartialEq)]
pub struct LegendProps {
    pub text: &'static Text,
}

#[function_component(Legend)]
pub fn legend(props: &LegendProps) -> Html {
    let t = props.text;
    let kinds = [
        ("header", t.kind_header),
        ("payload", t.kind_payload),
        ("padding", t.kind_padding),
        ("guard", t.kind_guard),
        ("free", t.kind_free),
    ];
    html! {
        <ul class="legend">
            { for kinds.iter().map(|(kind, text)| html! {
                <li><span class={classes!("swatch", *kind)}></span>{ *text }</li>
            }) }
        </ul>
    }
}
