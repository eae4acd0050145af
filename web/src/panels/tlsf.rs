//! TLSF: the first- and second-level bitmaps as a grid, and the non-empty lists.

use yew::prelude::*;

use super::model::TlsfModel;
use super::{bytes, bytes64, chain, figure, Env};

pub fn view(m: &TlsfModel, env: &Env) -> Html {
    html! {
        <>
            <dl class="mp-stats">
                { figure(env.t("tlsf_fl"), m.fl_count.to_string()) }
                { figure(env.t("tlsf_sl"), m.sl_count.to_string()) }
                { figure(env.t("tlsf_cb"), bytes(m.control_block_len)) }
                { figure(env.t("tlsf_min_block"), bytes(m.min_block)) }
            </dl>
            <h4>{ env.t("tlsf_grid") }</h4>
            <table class="mp-grid">
                <tr>
                    <th>{ env.t("tlsf_fl") }</th>
                    { for (0..m.sl_count).map(|sl| html! { <th>{ sl }</th> }) }
                </tr>
                { for m.rows.iter().map(|row| {
                    let fl_on = m.fl_bitmap & (1 << row.fl) != 0;
                    html! {
                        <tr>
                            <th class={classes!(fl_on.then_some("mp-on"))}
                                title={format!("sl_bitmap[{}] = {:#x}", row.fl, row.sl_bitmap)}>
                                { row.fl }
                            </th>
                            { for row.cells.iter().map(|c| {
                                let has = !c.blocks.is_empty();
                                // A bit that disagrees with its list is corrupted metadata.
                                let class = match (c.bit, has) {
                                    (true, true) => Some("mp-on"),
                                    (false, false) => None,
                                    _ => Some("mp-odd"),
                                };
                                let title = format!("({}, {}) {} {} · {}", row.fl, c.sl,
                                    env.t("tlsf_class"), bytes64(c.min), c.blocks.len());
                                html! {
                                    <td class={classes!(class)} {title}>
                                        if has { { c.blocks.len() } }
                                    </td>
                                }
                            }) }
                        </tr>
                    }
                }) }
            </table>
            <h4>{ env.t("tlsf_lists") }</h4>
            { for m.rows.iter().flat_map(|row| row.cells.iter().map(move |c| (row.fl, c)))
                .filter(|(_, c)| !c.blocks.is_empty())
                .map(|(fl, c)| {
                    let items: Vec<_> = c.blocks.iter().map(|&(a, s)| (a, Some(s))).collect();
                    html! {
                        <div>
                            <span class="mp-badge">{ format!("({fl}, {}) ≥ {}", c.sl, bytes64(c.min)) }</span>
                            { chain(&items, c.cut, env) }
                        </div>
                    }
                }) }
        </>
    }
}
