//! ASM: the apps and their use, where the out-of-memory protocol stands (the background
//! apps the prompt lists, the confirm screen, the progress while an app stops
//! asynchronously), and screen memory. The keys that answer the prompt are in the stepper's
//! dialog (`view::oom`).

use yew::prelude::*;

use super::model::{AsmApp, AsmModel, AsmRequest, Dialog, ScreenModel};
use super::{adm, bar, bytes, figure, pct, Env};

pub fn view(m: &AsmModel, env: &Env) -> Html {
    let pool = m.pool.1 as u64;
    html! {
        <>
            <dl class="mp-stats">
                { figure(env.t("asm_chunks"), m.alloc_count.to_string()) }
                { figure(env.t("asm_max_alloc"), bytes(m.max_alloc)) }
            </dl>
            if m.full_pool {
                <p class="mp-note">{ env.t("asm_full_pool") }</p>
            }
            <h4>{ env.t("asm_apps") }</h4>
            if m.apps.is_empty() {
                <p class="mp-note">{ env.t("asm_no_apps") }</p>
            }
            <table class="mp-table">
                { for m.apps.iter().map(|a| html! {
                    <tr>
                        <td>
                            { &a.name }{ format!(" #{}", a.id) }
                            if a.stopping {
                                <span class="mp-badge mp-alert">{ env.t("asm_stopping") }</span>
                            }
                        </td>
                        <td>{ bar(&[(pct(a.used as u64, pool), "mp-used")], bytes(a.used)) }</td>
                        <td class="mp-num">{ bytes(a.used) }</td>
                    </tr>
                }) }
            </table>
            { dialog(&m.dialog, env) }
            if let Some(adm_model) = &m.adm {
                { adm::view(adm_model, env) }
            }
            if let Some(s) = &m.screen {
                <h4>{ env.t("asm_screen") }</h4>
                { screen(s, env) }
            }
        </>
    }
}

/// Screen memory: the layer buffers and its ADM.
pub fn screen(m: &ScreenModel, env: &Env) -> Html {
    html! {
        <>
            <dl class="mp-stats">
                { figure(env.t("asm_layers"), m.layers.to_string()) }
            </dl>
            { adm::view(&m.adm, env) }
        </>
    }
}

fn needs(r: &AsmRequest, env: &Env) -> Html {
    let what = if r.full_pool {
        env.t("asm_full_request").to_string()
    } else {
        bytes(r.size)
    };
    html! {
        <p>{ &r.name }{ " " }{ env.t("asm_oom_needs") }{ " " }{ what }</p>
    }
}

fn app_line(a: &AsmApp) -> String {
    format!("{} · {}", a.name, bytes(a.used))
}

/// Where the out-of-memory protocol stands. The learner answers the prompt in the dialog
/// under the stepper, whose keys write script lines; the panel only reports the state and
/// its figures, so the page has one set of keys, not two that could disagree.
fn dialog(d: &Dialog, env: &Env) -> Html {
    let (request, body) = match d {
        Dialog::Idle => return Html::default(),
        Dialog::Prompt {
            request,
            background,
        } => (
            request,
            html! {
                <>
                    if background.is_empty() {
                        <p class="mp-note">{ env.t("asm_oom_none") }</p>
                    } else {
                        <p>{ env.t("asm_oom_listed") }</p>
                        <ul>
                            { for background.iter().map(|a| html! { <li>{ app_line(a) }</li> }) }
                        </ul>
                    }
                </>
            },
        ),
        Dialog::Confirm { request, victim } => (
            request,
            html! {
                <p>{ env.t("asm_confirm_q") }{ " " }<strong>{ app_line(victim) }</strong></p>
            },
        ),
        Dialog::Stopping {
            request,
            victim,
            elapsed,
            chunks_left,
        } => (
            request,
            html! {
                <>
                    <p><strong>{ &victim.name }</strong>{ ": " }{ env.t("asm_progress") }</p>
                    <div class="mp-progress"><span></span></div>
                    <dl class="mp-stats">
                        { figure(env.t("asm_ticks"), elapsed.to_string()) }
                        { figure(env.t("asm_chunks_left"), chunks_left.to_string()) }
                        { figure(env.t("used"), bytes(victim.used)) }
                    </dl>
                </>
            },
        ),
    };
    html! {
        <div class="mp-dialog" role="status">
            <h4>{ env.t("asm_oom_title") }</h4>
            { needs(request, env) }
            { body }
            <p class="mp-note">{ env.t("asm_oom_answer") }</p>
        </div>
    }
}
