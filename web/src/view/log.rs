//! The event log: the last steps, newest first, each with its statement and its trace
//! lines in words and in canonical form. A click on a step shows the machine after it.

use std::rc::Rc;

use memplay_engine::trace::EventKind;
use yew::prelude::*;

use crate::i18n::{phrase, Lang};
use crate::session::Frame;
use crate::state::Action;

#[derive(Properties, PartialEq)]
pub struct LogProps {
    pub frame: Rc<Frame>,
    pub lang: Lang,
    pub on_action: Callback<Action>,
}

#[function_component(EventLog)]
pub fn event_log(props: &LogProps) -> Html {
    let t = props.lang.text();
    let frame = &props.frame;
    if frame.log.is_empty() {
        return html! { <p class="empty">{ t.log_empty }</p> };
    }
    let current = frame.step();
    let steps = frame.log.iter().rev().map(|log| {
        let step = log.step;
        let onclick = {
            let on_action = props.on_action.clone();
            Callback::from(move |_: MouseEvent| on_action.emit(Action::Seek(step)))
        };
        let statement = frame.machine.line_text(log.line).unwrap_or("").trim().to_string();
        let events = log.events.iter().map(|e| {
            let fault = matches!(e.kind, EventKind::Fault { .. });
            let words = phrase(props.lang, e);
            html! {
                <li class={classes!(fault.then_some("fault"))}>
                    if let Some(words) = words { <span class="words">{ words }</span> }
                    <code class="canon">{ format!("{:04} {e}", step) }</code>
                </li>
            }
        });
        html! {
            <li class={classes!("logstep", (step == current).then_some("current"),
                                (log.fault.is_some() || log.error.is_some()).then_some("bad"))}
                data-step={step.to_string()}>
                <button class="stephead" {onclick} title={t.step_click}>
                    <span class="num">{ format!("{step:04}") }</span>
                    <span class="line">{ format!("L{}", log.line) }</span>
                    <code>{ statement }</code>
                </button>
                <ul class="events">
                    { for events }
                    if log.dropped > 0 { <li class="muted">{ format!("… {} more", log.dropped) }</li> }
                    if let Some(e) = log.error { <li class="fault">{ e.to_string() }</li> }
                </ul>
            </li>
        }
    });
    html! {
        <ol class="log" data-testid="event-log">{ for steps }</ol>
    }
}
