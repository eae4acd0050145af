//! Small tables: every pool's figures and the script's variables.

use std::rc::Rc;

use yew::prelude::*;

use crate::i18n::Text;
use crate::session::Frame;

#[derive(Properties, PartialEq)]
pub struct TablesProps {
    pub frame: Rc<Frame>,
    pub text: &'static Text,
}

#[function_component(PoolTable)]
pub fn pool_table(props: &TablesProps) -> Html {
    let m = &props.frame.machine;
    let rows = m.pools().map(|p| {
        let name = p.name().to_string();
        match p.stats(m.ram()) {
            Ok(s) => html! {
                <tr>
                    <td><code>{ name }</code></td>
                    <td>{ format!("{:?}", p.kind()).to_lowercase() }</td>
                    <td class="num">{ s.capacity }</td>
                    <td class="num">{ s.used }</td>
                    <td class="num">{ s.free }</td>
                    <td class="num">{ s.largest_free }</td>
                    <td class="num">{ s.blocks }</td>
                    <td class="num">{ format!("{}‰", s.fragmentation_permille) }</td>
                </tr>
            },
            Err(e) => html! {
                <tr class="corrupt"><td><code>{ name }</code></td><td colspan="7">{ e.to_string() }</td></tr>
            },
        }
    });
    let vars: Vec<Html> = m
        .vars()
        .map(|(n, v)| html! { <li><code>{ format!("{n} = {v:#x}") }</code></li> })
        .collect();
    html! {
        <div class="tables">
            if m.pools().next().is_none() && vars.is_empty() {
                <p class="empty">{ props.text.no_pools }</p>
            }
            if m.pools().next().is_some() {
                <table class="pools" data-testid="pool-table">
                    <thead><tr>
                        <th>{ "pool" }</th><th>{ "kind" }</th><th>{ "capacity" }</th><th>{ "used" }</th>
                        <th>{ "free" }</th><th>{ "largest" }</th><th>{ "blocks" }</th><th>{ "frag" }</th>
                    </tr></thead>
                    <tbody>{ for rows }</tbody>
                </table>
            }
            if !vars.is_empty() {
                <div class="vars"><h3>{ props.text.variables }</h3><ul>{ for vars }</ul></div>
            }
        </div>
    }
}
