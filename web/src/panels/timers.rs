//! Timers: the virtual clock, the hardware timer, the event list, the running MMI
//! timers and the MMI task's queue.

use yew::prelude::*;

use super::model::TimersModel;
use super::{figure, tasks, Env};

pub fn view(m: &TimersModel, env: &Env) -> Html {
    let hw = match m.hw_expiry {
        Some(at) => format!("{} · {} {}", m.hw, env.t("timers_armed"), at),
        None => m.hw.to_string(),
    };
    html! {
        <>
            <dl class="mp-stats">
                { figure(env.t("timers_clock"), format!("{} {}", m.now, env.t("timers_ticks"))) }
                { figure(env.t("timers_hw"), hw) }
                { figure(env.t("timers_fuzz"), format!("{} {}", m.fuzz, env.t("timers_ticks"))) }
                { figure(env.t("timers_nodes"), format!("{}/{}", m.events.len(), m.capacity)) }
            </dl>
            <h4>{ env.t("timers_events") }</h4>
            if m.events.is_empty() {
                <p class="mp-note">{ env.t("timers_no_events") }</p>
            } else {
                <table class="mp-table">
                    <tr>
                        <th>{ env.t("timers_id") }</th>
                        <th>{ env.t("timers_expiry") }</th>
                        <th>{ env.t("timers_in") }</th>
                        <th>{ env.t("timers_callback") }</th>
                        <th>{ env.t("timers_arg") }</th>
                        <th></th>
                    </tr>
                    { for m.events.iter().map(|e| html! {
                        <tr>
                            <td class="mp-num">{ e.id }</td>
                            <td class="mp-num">{ e.expiry }</td>
                            <td class="mp-num">{ e.expiry.saturating_sub(m.now) }</td>
                            <td><code>{ &e.callback }</code></td>
                            <td class="mp-num">{ e.arg }</td>
                            <td>{ if e.aligned { env.t("timers_aligned") } else { env.t("timers_exact") } }</td>
                        </tr>
                    }) }
                </table>
            }
            <h4>{ env.t("timers_running") }</h4>
            if m.timers.is_empty() {
                <p class="mp-note">{ env.t("timers_no_timers") }</p>
            } else {
                <table class="mp-table">
                    <tr>
                        <th>{ env.t("timers_slot") }</th>
                        <th>{ env.t("timers_timer") }</th>
                        <th>{ env.t("timers_id") }</th>
                        <th>{ env.t("timers_callback") }</th>
                        <th>{ env.t("timers_arg") }</th>
                        <th></th>
                    </tr>
                    { for m.timers.iter().map(|t| html! {
                        <tr>
                            <td class="mp-num">{ t.slot }</td>
                            <td class="mp-num">{ t.timer }</td>
                            <td class="mp-num">{ t.event }</td>
                            <td class="mp-num">{ t.callback }</td>
                            <td class="mp-num">{ t.arg }</td>
                            <td>{ if t.aligned { env.t("timers_aligned") } else { env.t("timers_exact") } }</td>
                        </tr>
                    }) }
                </table>
            }
            <h4>{ env.t("timers_queue") }{ format!(" ({})", m.mmi) }</h4>
            { tasks::queue(&m.mmi_queue, env) }
        </>
    }
}
