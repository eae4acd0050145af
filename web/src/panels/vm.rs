//! Virtual memory: the spaces and their regions, and a page-table walk for an address the
//! learner types.

use std::rc::Rc;

use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::model::{parse_addr, VmModel, WalkModel, WalkStop};
use super::{bytes, hex, label, Env, Lang, PanelAction};

pub fn view(m: &VmModel, env: &Env) -> Html {
    html! {
        <>
            <h4>{ env.t("vm_spaces") }</h4>
            <table class="mp-table">
                <tr>
                    <th>{ env.t("vm_space") }</th>
                    <th>{ env.t("address") }</th>
                    <th>{ env.t("vm_map") }</th>
                    <th>{ env.t("vm_heap") }</th>
                    <th>{ env.t("vm_ttb") }</th>
                </tr>
                { for m.spaces.iter().map(|s| html! {
                    <tr>
                        <td>
                            { format!("#{} {}", s.id, s.kind) }
                            if m.current == Some(s.id) {
                                <span class="mp-badge">{ env.t("vm_current") }</span>
                            }
                        </td>
                        <td><code>{ format!("{} +{}", hex(s.base), bytes(s.size)) }</code></td>
                        <td><code>{ format!("{} +{}", hex(s.map_base), bytes(s.map_size)) }</code></td>
                        <td><code>{ s.heap.map(|(b, now)| format!("{} → {}", hex(b), hex(now))).unwrap_or_default() }</code></td>
                        <td><code>{ format!("{} ×{}", hex(s.ttb), s.l1_entries) }</code></td>
                    </tr>
                }) }
            </table>
            <h4>{ env.t("vm_regions") }</h4>
            <table class="mp-table">
                { for m.spaces.iter().flat_map(|s| s.regions.iter().map(move |r| (s.id, r))).map(|(id, r)| html! {
                    <tr>
                        <td class="mp-num">{ format!("#{id}") }</td>
                        <td><code>{ format!("{} – {}", hex(r.start), hex(r.start.wrapping_add(r.size))) }</code></td>
                        <td class="mp-num">{ bytes(r.size) }</td>
                        <td><code>{ &r.perm }</code></td>
                        <td>{ &r.name }</td>
                    </tr>
                }) }
            </table>
            <VmWalk model={Rc::new(m.clone())} lang={env.lang} on_action={env.on.clone()} />
        </>
    }
}

#[derive(Properties, PartialEq)]
pub struct WalkProps {
    pub model: Rc<VmModel>,
    pub lang: Lang,
    pub on_action: Option<Callback<PanelAction>>,
}

/// The address input and the walk for the last address walked. The address is the
/// component's own state; the walk is computed from the tables in the model, so it follows
/// the steps as the tables change.
#[function_component(VmWalk)]
pub fn vm_walk(props: &WalkProps) -> Html {
    let t = |key| label(key, props.lang);
    let text = use_state(String::new);
    let probe = use_state(|| None::<Result<u32, ()>>);
    let oninput = {
        let text = text.clone();
        Callback::from(move |e: InputEvent| {
            let input: HtmlInputElement = e.target_unchecked_into();
            text.set(input.value());
        })
    };
    let onsubmit = {
        let (text, probe, on) = (text.clone(), probe.clone(), props.on_action.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            match parse_addr(&text) {
                Some(a) => {
                    probe.set(Some(Ok(a)));
                    if let Some(on) = &on {
                        on.emit(PanelAction::VmTranslate(a));
                    }
                }
                None => probe.set(Some(Err(()))),
            }
        })
    };
    html! {
        <div class="mp-walk">
            <h4>{ t("vm_walk") }</h4>
            <form {onsubmit}>
                <input type="text" value={(*text).clone()} {oninput} spellcheck="false"
                       placeholder="0x00400000" aria-label={t("vm_walk_prompt")} />
                <button type="submit">{ t("vm_walk_go") }</button>
            </form>
            { match *probe {
                None => Html::default(),
                Some(Err(())) => html! { <p class="mp-error">{ t("vm_walk_bad") }</p> },
                Some(Ok(a)) => walk_view(&props.model.walk(a), props.lang),
            } }
        </div>
    }
}

/// A walk as numbered steps: the space, the L1 entry, the L2 entry, the result.
pub fn walk_view(w: &WalkModel, lang: Lang) -> Html {
    let t = |key| label(key, lang);
    let step = |key: &'static str, s: &super::model::WalkStep, kind: Option<&'static str>| {
        html! {
            <li>
                { t(key) }{ format!(" [{}] ", s.index) }{ t("vm_at") }{ " " }
                <code>{ hex(s.at) }</code>{ " = " }<code>{ format!("{:#010x}", s.entry) }</code>
                if let Some(kind) = kind {
                    <span class="mp-badge">{ kind }</span>
                }
            </li>
        }
    };
    html! {
        <ol>
            <li>
                <code>{ hex(w.vaddr) }</code>{ " → " }
                { match w.space {
                    Some((id, kind)) => format!("{} #{id} {kind}", t("vm_space")),
                    None => t("walk_no_space").to_string(),
                } }
            </li>
            if let Some(l1) = &w.l1 {
                { step("vm_l1", l1, w.l1_type) }
            }
            if let Some(l2) = &w.l2 {
                { step("vm_l2", l2, None) }
            }
            if let Some(pa) = w.paddr {
                <li class="mp-ok">{ t("vm_paddr") }{ " " }<code>{ hex(pa) }</code></li>
            }
            if let Some(stop) = w.stop {
                if stop != WalkStop::NoSpace {
                    <li class="mp-error">
                        { t(stop.key()) }
                        if let WalkStop::Unreadable(at) = stop {
                            { " " }<code>{ hex(at) }</code>
                        }
                    </li>
                }
            }
        </ol>
    }
}
