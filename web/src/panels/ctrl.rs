//! The control buffer: a usage bar per class, and what it asked versus what it got.

use yew::prelude::*;

use super::model::CtrlModel;
use super::{bar, bytes, figure, pct, Env};

pub fn view(m: &CtrlModel, env: &Env) -> Html {
    let (asked, given) = (m.asked(), m.given());
    html! {
        <>
            <dl class="mp-stats">
                { figure(env.t("ctrl_max"), bytes(m.max_size)) }
                { figure(env.t("asked"), bytes(asked)) }
                { figure(env.t("given"), bytes(given)) }
                { figure(env.t("wasted"), format!("{} ({}%)", bytes(given - asked.min(given)),
                    crate::num::fixed(pct((given - asked.min(given)) as u64, given as u64), 1))) }
            </dl>
            <table class="mp-table">
                <tr>
                    <th>{ env.t("ctrl_class") }</th>
                    <th>{ env.t("in_use") }</th>
                    <th></th>
                    <th>{ env.t("asked") }{ " / " }{ env.t("given") }</th>
                </tr>
                { for m.classes.iter().map(|c| {
                    let count = c.count as u64;
                    let use_title = format!("{} / {}", c.in_use, c.count);
                    // The bar is the class's whole capacity: asked bytes, then the waste
                    // inside the buffers in use, then the free buffers.
                    let whole = c.count as u64 * c.size as u64;
                    let fill_title = format!("{}: {} · {}: {} · {}: {}",
                        env.t("asked"), bytes(c.asked), env.t("given"), bytes(c.given),
                        env.t("wasted"), bytes(c.wasted()));
                    let alert = if c.free == 0 { "mp-alert" } else { "mp-used" };
                    html! {
                        <tr>
                            <td class="mp-num">{ bytes(c.size) }</td>
                            <td>{ bar(&[(pct(c.in_use as u64, count), alert)], use_title) }</td>
                            <td class="mp-num">{ format!("{}/{}", c.in_use, c.count) }</td>
                            <td>{ bar(&[(pct(c.asked as u64, whole), "mp-used"),
                                        (pct(c.wasted() as u64, whole), "mp-waste")], fill_title) }</td>
                        </tr>
                    }
                }) }
            </table>
        </>
    }
}
