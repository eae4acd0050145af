//! The stepper: step, back, run to end, reset, play/pause with a speed, a scrubber over
//! every step with the faults marked, and the statement the current step ran.

use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use crate::i18n::Text;
use crate::state::{Action, SPEEDS};
use crate::view::memmap::fmt;

#[derive(Properties, PartialEq)]
pub struct StepperProps {
    pub step: u32,
    pub total: u32,
    pub playing: bool,
    pub speed: u32,
    /// Steps with a runtime fault, for marks on the scrubber.
    pub faults: Vec<u32>,
    pub blocked: bool,
    pub on_action: Callback<Action>,
    pub text: &'static Text,
}

#[function_component(Stepper)]
pub fn stepper(props: &StepperProps) -> Html {
    let t = props.text;
    let send = |action: Action| {
        let on_action = props.on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(action.clone()))
    };
    let at_start = props.step == 0;
    let at_end = props.step >= props.total;
    let on_scrub = {
        let on_action = props.on_action.clone();
        Callback::from(move |e: InputEvent| {
            let input: HtmlInputElement = e.target_unchecked_into();
            if let Ok(n) = input.value().parse::<u32>() {
                on_action.emit(Action::Seek(n));
            }
        })
    };
    let on_speed = {
        let on_action = props.on_action.clone();
        Callback::from(move |e: Event| {
            let select: HtmlSelectElement = e.target_unchecked_into();
            if let Ok(n) = select.value().parse::<u32>() {
                on_action.emit(Action::SetSpeed(n));
            }
        })
    };
    let total = props.total.max(1) as f64;
    let marks = props.faults.iter().take(400).map(|s| {
        let left = format!("left: calc({}% - 1px)", fmt(*s as f64 * 100.0 / total));
        html! { <span class="mark" style={left} title={format!("fault at step {s}")}></span> }
    });
    html! {
        <section class="stepper" aria-label="stepper">
            <div class="buttons">
                <button data-testid="reset" title="Home" onclick={send(Action::Reset)} disabled={at_start}>
                    { "⇤ " }{ t.reset }
                </button>
                <button data-testid="back" title="←" onclick={send(Action::Back)} disabled={at_start}>
                    { "◀ " }{ t.back }
                </button>
                <button data-testid="step" class="primary" title="→" onclick={send(Action::Step)}
                        disabled={at_end || props.blocked}>
                    { t.step }{ " ▶" }
                </button>
                <button data-testid="end" title="End" onclick={send(Action::RunToEnd)}
                        disabled={at_end || props.blocked}>
                    { t.run_to_end }{ " ⇥" }
                </button>
                <button data-testid="play" class={classes!("play", props.playing.then_some("on"))}
                        title="space" onclick={send(Action::TogglePlay)}
                        disabled={(at_end || props.blocked) && !props.playing}>
                    if props.playing { { "❚❚ " }{ t.pause } } else { { "▷ " }{ t.play } }
                </button>
                <label class="speed">
                    { t.speed }
                    <select onchange={on_speed} aria-label={t.speed}>
                        { for SPEEDS.iter().map(|s| html! {
                            <option value={s.to_string()} selected={*s == props.speed}>
                                { format!("{s}/s") }
                            </option>
                        }) }
                    </select>
                </label>
                <span class="counter" data-testid="counter" aria-live="polite">
                    <b data-testid="step-number">{ props.step }</b>{ format!(" {} {}", t.step_of, props.total) }
                </span>
            </div>
            <div class="scrubber">
                <input type="range" data-testid="scrubber" aria-label="scrubber" min="0"
                       max={props.total.to_string()} value={props.step.to_string()}
                       oninput={on_scrub} disabled={props.total == 0} />
                <div class="marks" aria-hidden="true">{ for marks }</div>
            </div>
        </section>
    }
}
