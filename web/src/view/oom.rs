//! The out-of-memory dialog of MTK's app-shared memory (see [`crate::oom`]): the learner
//! plays the user, and each button writes the statement its key press is into the script.

use yew::prelude::*;

use crate::i18n::Lang;
use crate::oom::{Prompt, Screen};
use crate::state::Action;

#[derive(Properties, PartialEq)]
pub struct OomProps {
    pub prompt: Prompt,
    pub lang: Lang,
    pub on_action: Callback<Action>,
}

#[function_component(OomDialog)]
pub fn oom_dialog(props: &OomProps) -> Html {
    let zh = props.lang == Lang::Zh;
    let p = &props.prompt;
    let press = |lines: Vec<String>| {
        let on_action = props.on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(Action::Insert(lines.clone())))
    };
    let title = if zh { "内存不足" } else { "Out of memory" };
    let asks = if p.full_pool {
        if zh {
            format!("{} 需要整个内存池。", p.app)
        } else {
            format!("{} needs the whole pool.", p.app)
        }
    } else if zh {
        format!("{} 需要 {} 字节。请停止一个后台应用：", p.app, p.size)
    } else {
        format!("{} needs {} bytes. Stop a background app:", p.app, p.size)
    };
    let body = match &p.screen {
        Screen::Prompt => html! {
            <>
                <p>{ asks }</p>
                <ul class="apps">
                    { for p.apps.iter().map(|app| html! {
                        <li>
                            <span class="app">{ &app.name }</span>
                            <span class="bytes">{ format!("{} B", app.bytes) }</span>
                            <button data-testid={format!("oom-stop-{}", app.script)}
                                    onclick={press(vec![format!("asm.choose {}", app.script)])}>
                                { if zh { "停止" } else { "Stop" } }
                            </button>
                        </li>
                    }) }
                </ul>
                <div class="dialog-keys">
                    <button data-testid="oom-dismiss" onclick={press(vec!["asm.dismiss".into()])}>
                        { if zh { "返回" } else { "Back" } }
                    </button>
                </div>
            </>
        },
        Screen::Confirm { victim } => html! {
            <>
                <p>{ if zh { format!("停止 {victim}？") } else { format!("Stop {victim}?") } }</p>
                <div class="dialog-keys">
                    <button class="primary" data-testid="oom-confirm" onclick={press(vec!["asm.confirm".into()])}>
                        { if zh { "是" } else { "Yes" } }
                    </button>
                    <button data-testid="oom-decline" onclick={press(vec!["asm.decline".into()])}>
                        { if zh { "否" } else { "No" } }
                    </button>
                </div>
            </>
        },
        Screen::Stopping { victim, elapsed } => html! {
            <>
                <p class="progress">
                    { if zh { format!("正在停止 {victim}…（已过 {elapsed} 个 tick）") }
                      else { format!("Stopping {victim}… ({elapsed} ticks so far)") } }
                </p>
                <div class="dialog-keys">
                    <button data-testid="oom-tick" onclick={press(vec!["tick 1".into()])}>
                        { if zh { "时钟前进 1 tick" } else { "Advance the clock 1 tick" } }
                    </button>
                </div>
            </>
        },
    };
    html! {
        <div class="oom" role="dialog" aria-label={title} data-testid="oom-dialog">
            <h3>{ "⚠ " }{ title }</h3>
            { body }
            <p class="muted hint">
                { if zh { "每个按键都会把对应的语句写进脚本，并执行它。" }
                  else { "Each key writes its statement into the script and runs it." } }
            </p>
        </div>
    }
}
