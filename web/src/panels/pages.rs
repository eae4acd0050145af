//! Physical pages: the buddy's free blocks per order, the LRU lists, and what the page
//! array costs.

use yew::prelude::*;

use super::model::{PagesModel, LIST_LIMIT};
use super::{addr, bar, bytes, bytes64, figure, more, pct, permille, Env};

pub fn view(m: &PagesModel, env: &Env) -> Html {
    let most = m.orders.iter().map(|o| o.count).max().unwrap_or(0) as u64;
    html! {
        <>
            <dl class="mp-stats">
                { figure(env.t("pages_page"), bytes(m.page_size)) }
                { figure(env.t("pages_managed"), m.managed_pages.to_string()) }
                { figure(env.t("pages_free"), m.free_pages.to_string()) }
                { figure(env.t("pages_lru"), format!("{} / {}", m.lru.0, m.lru.1)) }
            </dl>
            <dl class="mp-stats">
                { figure(env.t("pages_array"), format!("{} {} × {} = {}", m.entries,
                    env.t("pages_entries"), bytes(m.entry_size), bytes(m.array_bytes))) }
                { figure(env.t("pages_boot"), format!("{} ({} {})", bytes(m.boot_bytes),
                    permille(m.cost_permille), env.t("pages_cost"))) }
            </dl>
            <h4>{ env.t("pages_orders") }</h4>
            <table class="mp-table">
                <tr>
                    <th>{ env.t("pages_order") }</th>
                    <th>{ env.t("pages_block") }</th>
                    <th>{ env.t("count") }</th>
                    <th></th>
                    <th>{ env.t("free_list") }</th>
                </tr>
                { for m.orders.iter().map(|o| html! {
                    <tr>
                        <td class="mp-num">{ o.order }</td>
                        <td class="mp-num">{ bytes64((m.page_size as u64) << o.order) }</td>
                        <td class="mp-num">{ o.count }</td>
                        <td>{ bar(&[(pct(o.count as u64, most), "mp-used")], o.count.to_string()) }</td>
                        <td>
                            { for o.blocks.iter().map(|&a| html! { <>{ addr(a, env) }{ " " }</> }) }
                            { more(o.blocks.len() == LIST_LIMIT && o.count as usize > LIST_LIMIT, env) }
                        </td>
                    </tr>
                }) }
            </table>
            if !m.used_by_owner.is_empty() {
                <h4>{ env.t("pages_by_owner") }</h4>
                <dl class="mp-stats">
                    { for m.used_by_owner.iter().map(|(owner, n)| html! {
                        <div class="mp-figure"><dt>{ env.t("owner") }{ " " }{ owner }</dt><dd>{ n }</dd></div>
                    }) }
                </dl>
            }
        </>
    }
}
