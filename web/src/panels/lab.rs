//! The policy lab: its policy, the free list in list order, and the search counts.

use yew::prelude::*;

use super::model::LabModel;
use super::{addr, bytes, figure, more, Env};

pub fn view(m: &LabModel, env: &Env) -> Html {
    let on_off = |b: bool| if b { env.t("on") } else { env.t("off") };
    let mean = m.mean_searched_tenths();
    html! {
        <>
            <dl class="mp-stats">
                { figure(env.t("lab_fit"), m.fit.to_string()) }
                { figure(env.t("lab_order"), m.order.to_string()) }
                { figure(env.t("lab_coalesce"), on_off(m.coalesce).to_string()) }
                { figure(env.t("lab_header"), bytes(m.header)) }
                { figure(env.t("lab_align"), bytes(m.align)) }
            </dl>
            <dl class="mp-stats">
                { figure(env.t("lab_last_search"), m.last_search.to_string()) }
                { figure(env.t("lab_total_searched"), m.total_searched.to_string()) }
                { figure(env.t("lab_searches"), m.searches.to_string()) }
                { figure(env.t("lab_mean"), format!("{}.{}", mean / 10, mean % 10)) }
                { figure(env.t("lab_live"), m.live_blocks.to_string()) }
                { figure(env.t("largest_free"), bytes(m.largest_free)) }
            </dl>
            <h4>{ env.t("free_list") }{ format!(" ({})", m.free_list.len()) }</h4>
            <ol class="mp-chain">
                <li class="mp-end">{ env.t("head") }</li>
                { for m.free_list.iter().map(|&(a, len)| {
                    let rover = m.rover == Some(a);
                    html! {
                        <li class={classes!(rover.then_some("mp-rover"))}
                            title={rover.then(|| env.t("lab_rover"))}>
                            { addr(a, env) }<span class="mp-size">{ bytes(len) }</span>
                        </li>
                    }
                }) }
                if m.cut {
                    <li>{ more(true, env) }</li>
                } else {
                    <li class="mp-end">{ env.t("end") }</li>
                }
            </ol>
        </>
    }
}
