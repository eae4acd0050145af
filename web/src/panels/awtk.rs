//! AWTK: the decorator stack, outermost first, each decorator with its figures, and the
//! debug layer's leak list.

use yew::prelude::*;

use super::model::{AwtkModel, LayerFigures};
use super::{addr, bytes, figure, more, permille, Env};

fn figures(f: &LayerFigures, env: &Env) -> Html {
    match f {
        LayerFigures::Lock {
            locks,
            unlocks,
            held,
            reentries,
        } => html! {
            <dl class="mp-stats">
                { figure(env.t("awtk_locks"), locks.to_string()) }
                { figure(env.t("awtk_unlocks"), unlocks.to_string()) }
                { figure(env.t("awtk_held"), if *held { env.t("yes") } else { env.t("no") }.to_string()) }
                { figure(env.t("awtk_reentries"), reentries.to_string()) }
            </dl>
        },
        LayerFigures::Pool {
            pools,
            hits,
            misses_full,
            misses_large,
            hit_rate_permille,
        } => html! {
            <>
                <dl class="mp-stats">
                    { figure(env.t("awtk_hits"), hits.to_string()) }
                    { figure(env.t("awtk_misses_full"), misses_full.to_string()) }
                    { figure(env.t("awtk_misses_large"), misses_large.to_string()) }
                    { figure(env.t("awtk_hit_rate"), permille(*hit_rate_permille)) }
                </dl>
                <table class="mp-table">
                    <tr>
                        <th>{ env.t("size") }</th>
                        <th>{ env.t("in_use") }</th>
                        <th>{ env.t("awtk_hits") }</th>
                    </tr>
                    { for pools.iter().map(|&(size, nr, used, hits)| html! {
                        <tr>
                            <td class="mp-num">{ bytes(size) }</td>
                            <td class="mp-num">{ format!("{used}/{nr}") }</td>
                            <td class="mp-num">{ hits }</td>
                        </tr>
                    }) }
                </table>
            </>
        },
        LayerFigures::Debug {
            capacity,
            blocks,
            bytes: size,
            dropped,
        } => html! {
            <dl class="mp-stats">
                { figure(env.t("awtk_log"), format!("{blocks}/{capacity}")) }
                { figure(env.t("used"), bytes(*size)) }
                { figure(env.t("awtk_dropped"), dropped.to_string()) }
            </dl>
        },
        LayerFigures::Oom {
            calls,
            retries,
            rescued,
            given_up,
        } => html! {
            <dl class="mp-stats">
                { figure(env.t("awtk_calls"), calls.to_string()) }
                { figure(env.t("awtk_retries"), retries.to_string()) }
                { figure(env.t("awtk_rescued"), rescued.to_string()) }
                { figure(env.t("awtk_given_up"), given_up.to_string()) }
            </dl>
        },
    }
}

pub fn view(m: &AwtkModel, env: &Env) -> Html {
    html! {
        <>
            <h4>{ env.t("awtk_stack") }</h4>
            <ol class="mp-stack">
                { for m.layers.iter().map(|l| html! {
                    <li>
                        <strong>{ l.kind }</strong>
                        <span class="mp-badge">{ &l.name }</span>{ " " }
                        { addr(l.object, env) }
                        { figures(&l.figures, env) }
                    </li>
                }) }
                <li class="mp-base">
                    <strong>{ env.t("awtk_base") }</strong>
                    <span class="mp-badge">{ &m.base }</span>
                    if let Some(s) = &m.base_stats {
                        { super::stats_line(s, env) }
                    }
                </li>
            </ol>
            <p class="mp-note">{ env.t("awtk_statics") }{ " " }{ addr(m.statics.0, env) }
                <span class="mp-size">{ bytes(m.statics.1) }</span></p>
            <h4>{ env.t("awtk_leaks") }</h4>
            { match &m.leaks {
                None => html! { <p class="mp-note">{ env.t("awtk_no_debug") }</p> },
                Some(leaks) if leaks.is_empty() => html! { <p class="mp-note">{ env.t("awtk_no_leaks") }</p> },
                Some(leaks) => html! {
                    <table class="mp-table">
                        <tr>
                            <th>{ env.t("address") }</th>
                            <th>{ env.t("size") }</th>
                            <th>{ env.t("awtk_site") }</th>
                        </tr>
                        { for leaks.iter().map(|l| html! {
                            <tr>
                                <td>{ addr(l.addr, env) }</td>
                                <td class="mp-num">{ bytes(l.size) }</td>
                                <td><code>{ format!("{}:{}", l.func, l.line) }</code></td>
                            </tr>
                        }) }
                    </table>
                },
            } }
            { more(m.leaks_cut, env) }
        </>
    }
}
