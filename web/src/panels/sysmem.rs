//! System memory: what is left per area, and the carves.

use yew::prelude::*;

use super::model::{SysModel, LIST_LIMIT};
use super::{addr, bar, bytes, figure, hex, more, pct, Env};

pub fn view(m: &SysModel, env: &Env) -> Html {
    html! {
        <>
            <dl class="mp-stats">
                { figure(env.t("sys_left"), bytes(m.left)) }
                { figure(env.t("sys_carves"), m.carves.to_string()) }
                { figure(env.t("sys_cb"), format!("{} · {}", hex(m.control_block), bytes(m.control_block_size))) }
            </dl>
            <table class="mp-table">
                <tr>
                    <th>{ env.t("sys_area") }</th>
                    <th>{ env.t("sys_carved") }</th>
                    <th>{ env.t("sys_left_short") }</th>
                </tr>
                { for m.areas.iter().map(|a| {
                    let cap = a.capacity() as u64;
                    let title = format!("{} – {}: {} / {}", hex(a.start), hex(a.end),
                        bytes(a.carved()), bytes(a.capacity()));
                    html! {
                        <tr>
                            <td>{ &a.region }<span class="mp-badge">{ env.t(if a.kind == "internal" { "region_internal" } else { "region_external" }) }</span></td>
                            <td>{ bar(&[(pct(a.carved() as u64, cap), "mp-used")], title) }</td>
                            <td class="mp-num">{ bytes(a.left) }</td>
                        </tr>
                    }
                }) }
            </table>
            <h4>{ env.t("sys_records") }{ format!(" ({}/{})", m.records.len(), m.record_capacity) }</h4>
            <p class="mp-note">{ env.t("sys_never_freed") }</p>
            <table class="mp-table">
                <tr>
                    <th>{ env.t("address") }</th>
                    <th>{ env.t("size") }</th>
                    <th>{ env.t("owner") }</th>
                    <th>{ env.t("sys_area") }</th>
                </tr>
                { for m.records.iter().take(LIST_LIMIT).map(|c| html! {
                    <tr>
                        <td>{ addr(c.addr, env) }</td>
                        <td class="mp-num">{ bytes(c.size) }</td>
                        <td>{ &c.owner }</td>
                        <td>{ &c.region }</td>
                    </tr>
                }) }
            </table>
            { more(m.records.len() > LIST_LIMIT, env) }
        </>
    }
}
