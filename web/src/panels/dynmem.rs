//! LiteOS dynamic memory (best fit): the size-class free lists and the use per task.

use yew::prelude::*;

use super::model::DynModel;
use super::{addr, bar, bytes, chain, pct, Env};

pub fn view(m: &DynModel, env: &Env) -> Html {
    let total: u64 = m.areas.iter().map(|&(_, len)| len as u64).sum();
    html! {
        <>
            <h4>{ env.t("dyn_areas") }</h4>
            <p class="mp-note">
                { for m.areas.iter().map(|&(a, len)| html! {
                    <span>{ addr(a, env) }<span class="mp-size">{ bytes(len) }</span>{ " " }</span>
                }) }
            </p>
            <h4>{ env.t("dyn_lists") }{ format!(" · {}", m.list_count) }</h4>
            if m.lists.is_empty() {
                <p class="mp-note">{ env.t("dyn_no_free") }</p>
            }
            { for m.lists.iter().map(|l| {
                let range = match l.max {
                    Some(max) => format!("{}–{}", bytes(l.min), bytes(max)),
                    None => format!("{} {}", bytes(l.min), env.t("dyn_and_larger")),
                };
                let items: Vec<_> = l.nodes.iter().map(|&(a, s)| (a, Some(s))).collect();
                html! {
                    <div>
                        <span class="mp-badge">{ format!("{} {} · {}", env.t("dyn_list"), l.index, range) }</span>
                        { chain(&items, l.cut, env) }
                    </div>
                }
            }) }
            <h4>{ env.t("dyn_per_task") }</h4>
            <table class="mp-table">
                { for m.usage.iter().map(|(owner, n)| html! {
                    <tr>
                        <td>{ env.t("owner") }{ " " }{ owner }</td>
                        <td>{ bar(&[(pct(*n as u64, total), "mp-used")], bytes(*n)) }</td>
                        <td class="mp-num">{ bytes(*n) }</td>
                    </tr>
                }) }
            </table>
        </>
    }
}
