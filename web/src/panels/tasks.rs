//! The static task table, with each task's stack use and queues.

use yew::prelude::*;

use super::model::{QueueRow, TasksModel};
use super::{addr, bar, bytes, figure, pct, Env};

/// A queue's messages, oldest first, as `len/capacity` and a row of chips.
pub(super) fn queue(q: &QueueRow, env: &Env) -> Html {
    if q.capacity == 0 {
        return html! { <span class="mp-note">{ env.t("tasks_no_queue") }</span> };
    }
    html! {
        <>
            <span class="mp-size">{ format!("{}/{}", q.messages.len(), q.capacity) }</span>
            if q.messages.is_empty() {
                { " " }<span class="mp-note">{ env.t("tasks_empty") }</span>
            } else {
                <ul class="mp-msgs">
                    { for q.messages.iter().map(|m| html! {
                        <li title={format!("{} {} · [{:#x}, {:#x}]", env.t("tasks_from"), m.src,
                            m.payload[0], m.payload[1])}>
                            { &m.msg }
                        </li>
                    }) }
                </ul>
            }
        </>
    }
}

pub fn view(m: &TasksModel, env: &Env) -> Html {
    html! {
        <>
            <dl class="mp-stats">
                { figure(env.t("timers_clock"), m.now.to_string()) }
                if let Some(mmi) = &m.mmi {
                    { figure(env.t("tasks_mmi"), mmi.clone()) }
                }
            </dl>
            <table class="mp-table">
                <tr>
                    <th>{ env.t("tasks_id") }</th>
                    <th>{ env.t("tasks_name") }</th>
                    <th>{ env.t("tasks_priority") }</th>
                    <th>{ env.t("tasks_state") }</th>
                    <th>{ env.t("tasks_stack") }</th>
                    <th>{ env.t("tasks_handled") }</th>
                    <th>{ env.t("tasks_ext") }</th>
                    <th>{ env.t("tasks_int") }</th>
                </tr>
                { for m.tasks.iter().map(|t| {
                    let class = if t.state == "faulted" { "mp-alert" } else { "mp-used" };
                    let title = format!("{} / {} · {} {}", bytes(t.peak), bytes(t.stack_size),
                        env.t("tasks_carved"), bytes(t.footprint));
                    html! {
                        <tr>
                            <td class="mp-num">{ t.id }</td>
                            <td>{ &t.name }</td>
                            <td class="mp-num">{ t.priority }</td>
                            <td>{ t.state }</td>
                            <td>
                                { bar(&[(pct(t.peak as u64, t.stack_size as u64), class)], title) }
                                { addr(t.stack, env) }
                            </td>
                            <td class="mp-num">{ t.handled }</td>
                            <td>{ queue(&t.ext, env) }</td>
                            <td>{ queue(&t.int, env) }</td>
                        </tr>
                    }
                }) }
            </table>
        </>
    }
}
