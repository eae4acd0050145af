//! A partition pool: its use and the free list threaded through the blocks.

use yew::prelude::*;

use super::model::PartModel;
use super::{addr, bar, bytes, chain, figure, pct, Env};

pub fn view(m: &PartModel, env: &Env) -> Html {
    let items: Vec<_> = m.free_list.iter().map(|&a| (a, None)).collect();
    let whole = m.count as u64 * m.block_size as u64;
    let title = format!(
        "{}: {} · {}: {}",
        env.t("asked"),
        bytes(m.asked),
        env.t("given"),
        bytes(m.given)
    );
    html! {
        <>
            <dl class="mp-stats">
                { figure(env.t("part_block"), bytes(m.block_size)) }
                { figure(env.t("part_stride"), bytes(m.stride)) }
                { figure(env.t("in_use"), format!("{}/{}", m.in_use, m.count)) }
                { figure(env.t("wasted"), bytes(m.given.saturating_sub(m.asked))) }
            </dl>
            <p class="mp-note">{ env.t("part_pcb") }{ " " }{ addr(m.control_block, env) }</p>
            { bar(&[(pct(m.asked as u64, whole), "mp-used"),
                    (pct(m.given.saturating_sub(m.asked) as u64, whole), "mp-waste")], title) }
            <h4>{ env.t("free_list") }{ format!(" ({})", m.free) }</h4>
            { chain(&items, m.cut, env) }
        </>
    }
}
