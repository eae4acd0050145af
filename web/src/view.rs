//! The page's components. Each gets plain data and callbacks; none holds state.

use memplay_engine::allocator::{Block, BlockKind};
use yew::prelude::*;

use crate::demo::{Band, TraceLine};
use crate::state::Action;

/// The drawing's width in SVG units; bands scale to the page.
const WIDTH: f64 = 1000.0;
const HEIGHT: f64 = 36.0;

#[derive(Properties, PartialEq)]
pub struct ControlsProps {
    pub step: usize,
    pub total: usize,
    pub script: Option<&'static str>,
    pub note: Option<&'static str>,
    pub on_action: Callback<Action>,
}

/// Back, forward, reset, and where we are.
#[function_component(Controls)]
pub fn controls(props: &ControlsProps) -> Html {
    let send = |action: Action| {
        let on_action = props.on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(action))
    };
    let at_start = props.step == 0;
    let at_end = props.step >= props.total;
    html! {
        <section class="controls" aria-label="demo controls">
            <div class="buttons">
                <button onclick={send(Action::Reset)} disabled={at_start}>{ "reset" }</button>
                <button onclick={send(Action::Back)} disabled={at_start}>{ "◀ back" }</button>
                <button class="primary" onclick={send(Action::Forward)} disabled={at_end}>{ "step ▶" }</button>
                <button onclick={send(Action::End)} disabled={at_end}>{ "run to end ▶▶" }</button>
                <span class="counter">{ format!("step {} of {}", props.step, props.total) }</span>
            </div>
            <p class="statement">
                if let Some(script) = props.script {
                    <code>{ script }</code>
                    <span class="note">{ props.note.unwrap_or_default() }</span>
                } else {
                    <span class="note">{ "Two RAM regions, nothing in them yet. Press “step” to run the demo script." }</span>
                }
            </p>
        </section>
    }
}

#[derive(Properties, PartialEq)]
pub struct BandProps {
    pub band: Band,
}

/// One RAM region drawn as a band, each span coloured by kind.
#[function_component(RegionBand)]
pub fn region_band(props: &BandProps) -> Html {
    let band = &props.band;
    let scale = WIDTH / band.size.max(1) as f64;
    let rects = band.spans.iter().map(|span| {
        let x = span.addr.wrapping_sub(band.base) as f64 * scale;
        let w = (span.len as f64 * scale).max(0.5);
        html! {
            <rect class={classes!("span", span.kind.as_str())} x={x.to_string()} y="0"
                  width={w.to_string()} height={HEIGHT.to_string()}>
                <title>{ span_title(span) }</title>
            </rect>
        }
    });
    html! {
        <figure class="band">
            <figcaption>
                <strong>{ &band.name }</strong>
                <span class="kind">{ band.kind.as_str() }</span>
                <span class="range">{ format!("{:#010x} – {:#010x}, {} bytes", band.base,
                    band.base as u64 + band.size as u64, band.size) }</span>
            </figcaption>
            <svg viewBox={format!("0 0 {WIDTH} {HEIGHT}")} preserveAspectRatio="none"
                 role="img" aria-label={format!("{band}")}>
                <rect class="span unmapped" x="0" y="0" width={WIDTH.to_string()} height={HEIGHT.to_string()} />
                { for rects }
            </svg>
        </figure>
    }
}

fn span_title(span: &Block) -> String {
    format!(
        "{} {:#010x} +{} bytes, owner {}",
        span.kind.as_str(),
        span.addr,
        span.len,
        span.owner
    )
}

/// The colour key.
#[function_component(Legend)]
pub fn legend() -> Html {
    let kinds = [
        (BlockKind::Header, "metadata: control block, block header"),
        (BlockKind::Payload, "payload handed to a task"),
        (BlockKind::Padding, "padding (internal fragmentation)"),
        (BlockKind::Guard, "guard bytes"),
        (BlockKind::Free, "free"),
    ];
    html! {
        <ul class="legend">
            { for kinds.iter().map(|(kind, text)| html! {
                <li><span class={classes!("swatch", kind.as_str())}></span>{ *text }</li>
            }) }
        </ul>
    }
}

#[derive(Properties, PartialEq)]
pub struct TraceProps {
    pub lines: Vec<TraceLine>,
    /// Lines of this step are highlighted.
    pub current: usize,
    /// Clicking a line asks for the machine after its step.
    pub on_action: Callback<Action>,
}

/// The canonical trace, one line per event; a click on a line goes back to its step.
#[function_component(Trace)]
pub fn trace(props: &TraceProps) -> Html {
    let goto = |step: usize| {
        let on_action = props.on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(Action::Goto(step)))
    };
    html! {
        <section class="trace" aria-label="trace">
            <h2>{ "Trace" }</h2>
            if props.lines.is_empty() {
                <p class="empty">{ "No events yet." }</p>
            } else {
                <ol>
                    { for props.lines.iter().map(|line| html! {
                        <li class={classes!((line.step == props.current).then_some("current"),
                                            line.text.contains(".fault ").then_some("fault"))}
                            title={format!("show the machine after step {}", line.step)}
                            onclick={goto(line.step)}>
                            { &line.text }
                        </li>
                    }) }
                </ol>
            }
        </section>
    }
}
