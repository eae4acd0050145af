//! ADM: the subpools (segregated size classes) and the general area.

use yew::prelude::*;

use super::model::AdmModel;
use super::{addr, bytes, figure, Env};

pub fn view(m: &AdmModel, env: &Env) -> Html {
    if m.deleted {
        return html! { <p class="mp-note">{ addr(m.base, env) }{ " " }{ env.t("adm_deleted") }</p> };
    }
    let yes_no = |b: bool| if b { env.t("yes") } else { env.t("no") };
    html! {
        <>
            <dl class="mp-stats">
                { figure(env.t("adm_max_alloc"), bytes(m.max_alloc)) }
                { figure(env.t("adm_total_left"), bytes(m.total_left)) }
                { figure(env.t("adm_overhead"), bytes(m.block_overhead)) }
                { figure(env.t("adm_logging"), yes_no(m.logging).to_string()) }
            </dl>
            if !m.subpools.is_empty() {
            <h4>{ env.t("adm_subpools") }</h4>
            <table class="mp-table">
                <tr>
                    <th>{ env.t("adm_subpool") }</th>
                    <th>{ env.t("adm_live") }</th>
                    <th>{ env.t("asked") }</th>
                    <th>{ env.t("adm_cached") }</th>
                </tr>
                { for m.subpools.iter().enumerate().map(|(k, c)| html! {
                    <tr>
                        <td>{ format!("#{k} ≤ {}", bytes(c.size)) }</td>
                        <td class="mp-num">{ c.live }</td>
                        <td class="mp-num">{ bytes(c.asked) }</td>
                        <td class="mp-num">{ c.cached }</td>
                    </tr>
                }) }
            </table>
            }
            <h4>{ env.t("adm_general") }</h4>
            <dl class="mp-stats">
                { figure(env.t("adm_live"), m.general.live.to_string()) }
                { figure(env.t("asked"), bytes(m.general.asked)) }
                { figure(env.t("adm_free_blocks"), m.general.free_blocks.to_string()) }
                { figure(env.t("free"), bytes(m.general.free_bytes)) }
                { figure(env.t("largest_free"), bytes(m.general.largest_free)) }
            </dl>
        </>
    }
}
