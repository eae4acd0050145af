//! The lesson list with progress marks, and the open lesson's text (fetched on demand).

use std::cell::Cell;
use std::collections::BTreeSet;
use std::rc::Rc;

use web_sys::{Element, HtmlElement};
use yew::prelude::*;

use crate::i18n::Lang;
use crate::lessons::{self, Entry, PageLoad};
use crate::state::Action;

#[derive(Properties, PartialEq)]
pub struct LessonListProps {
    pub lang: Lang,
    pub current: Option<String>,
    pub done: Rc<BTreeSet<String>>,
    /// Asks the app to open a lesson (it looks up the learner's saved edit).
    pub on_open: Callback<String>,
    pub on_scratch: Callback<()>,
}

#[function_component(LessonList)]
pub fn lesson_list(props: &LessonListProps) -> Html {
    let t = props.lang.text();
    let item = |entry: Entry| {
        let lesson = entry.get(props.lang);
        let id = entry.id.to_string();
        let onclick = {
            let on_open = props.on_open.clone();
            let id = id.clone();
            Callback::from(move |_: MouseEvent| on_open.emit(id.clone()))
        };
        let done = props.done.contains(&id);
        let current = props.current.as_deref() == Some(id.as_str());
        html! {
            <li class={classes!(current.then_some("current"), done.then_some("done"))}>
                <button {onclick} data-testid={format!("lesson-{id}")} title={lesson.summary}
                        aria-current={current.then_some("true")}>
                    <span class="order">{ lesson.order }</span>
                    <span class="title">{ lesson.title }</span>
                    <span class="mark" aria-label={t.done}>{ if done { "✓" } else { "" } }</span>
                </button>
            </li>
        }
    };
    let on_scratch = {
        let cb = props.on_scratch.clone();
        Callback::from(move |_: MouseEvent| cb.emit(()))
    };
    html! {
        <nav class="lesson-list" aria-label={t.lessons}>
            <ol>
                { for lessons::all().map(item) }
                <li class={classes!(props.current.is_none().then_some("current"))}>
                    <button onclick={on_scratch} data-testid="scratch">
                        <span class="order">{ "✎" }</span>
                        <span class="title">{ t.playground }</span>
                        <span class="mark"></span>
                    </button>
                </li>
            </ol>
        </nav>
    }
}

#[derive(Properties, PartialEq)]
pub struct LessonTextProps {
    pub lang: Lang,
    pub id: String,
    pub edited: bool,
    pub on_action: Callback<Action>,
}

/// The lesson's text, fetched when the lesson opens (see [`lessons::load_page`]). A click
/// on a `#step-N` link shows step N; a click on a script block opens it in the editor.
#[function_component(LessonText)]
pub fn lesson_text(props: &LessonTextProps) -> Html {
    let t = props.lang.text();
    let entry = lessons::find(&props.id);
    let url = entry.map(|e| e.get(props.lang).page);
    // The page, with the address it is for (the component stays when the lesson changes).
    let load = use_state(|| None::<(&'static str, PageLoad)>);
    let retries = use_state(|| 0u32);
    {
        let load = load.clone();
        use_effect_with((url, *retries), move |&(url, _)| {
            let alive = Rc::new(Cell::new(true));
            if let Some(url) = url {
                let ready = matches!(&*load, Some((u, PageLoad::Ready(_))) if *u == url);
                if !ready {
                    if lessons::cached(url).is_none() {
                        load.set(Some((url, PageLoad::Loading)));
                    }
                    let alive = alive.clone();
                    lessons::load_page(url, move |page| {
                        if alive.get() {
                            load.set(Some((url, page)));
                        }
                    });
                }
            }
            move || alive.set(false)
        });
    }
    let (Some(entry), Some(url)) = (entry, url) else {
        return html! {};
    };
    let lesson = entry.get(props.lang);
    let page = match &*load {
        Some((u, page)) if *u == url => page.clone(),
        _ => lessons::cached(url).map_or(PageLoad::Loading, PageLoad::Ready),
    };
    let onclick = {
        let on_action = props.on_action.clone();
        Callback::from(move |e: MouseEvent| {
            let Some(target) = e.target_dyn_into::<Element>() else {
                return;
            };
            if let Ok(Some(link)) = target.closest("a[href]") {
                let href = link.get_attribute("href").unwrap_or_default();
                if let Some(step) = lessons::step_link(&href) {
                    e.prevent_default();
                    on_action.emit(Action::Seek(step));
                }
                return;
            }
            if let Ok(Some(code)) = target.closest("pre > code.language-mem") {
                if let Ok(code) = code.dyn_into::<HtmlElement>() {
                    on_action.emit(Action::Edit(code.inner_text()));
                }
            }
        })
    };
    let reset = {
        let on_action = props.on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(Action::ResetScript))
    };
    let body = match &page {
        PageLoad::Ready(page) => html! {
            <div class="prose" data-testid="prose" {onclick}>
                { Html::from_html_unchecked(page.body.clone()) }
            </div>
        },
        PageLoad::Loading => html! {
            <p class="prose loading" data-testid="prose-loading">{ t.lesson_loading }</p>
        },
        PageLoad::Failed(why) => {
            let retry = {
                let retries = retries.clone();
                Callback::from(move |_: MouseEvent| retries.set(*retries + 1))
            };
            html! {
                <p class="prose failed" data-testid="prose-failed" role="alert">
                    { t.lesson_failed }{ " (" }{ why }{ "). " }
                    <button onclick={retry}>{ t.retry }</button>
                </p>
            }
        }
    };
    let exercises = lesson.exercises.iter().enumerate().map(|(i, ex)| {
        let open = {
            let on_action = props.on_action.clone();
            let starter = ex.starter.to_string();
            Callback::from(move |_: MouseEvent| on_action.emit(Action::Edit(starter.clone())))
        };
        let prompt = match &page {
            PageLoad::Ready(page) => page.prompts.get(i).cloned(),
            _ => None,
        };
        html! {
            <section class="exercise" data-testid={format!("exercise-{}", i + 1)}>
                <h3>{ ex.title }</h3>
                if let Some(prompt) = prompt {
                    <div class="prose">{ Html::from_html_unchecked(prompt) }</div>
                }
                <button onclick={open}>{ t.open_exercise }</button>
            </section>
        }
    });
    html! {
        <article class="lesson" data-testid="lesson-text">
            <header>
                <h2 data-testid="lesson-title">{ lesson.title }</h2>
                <p class="summary">{ lesson.summary }</p>
                <div class="lesson-actions">
                    if props.edited {
                        <span class="badge">{ t.edited }</span>
                    }
                    <button data-testid="reset-script" onclick={reset} disabled={!props.edited}>
                        { t.reset_script }
                    </button>
                </div>
            </header>
            { body }
            if !lesson.exercises.is_empty() {
                <div class="exercises">{ for exercises }</div>
            }
        </article>
    }
}

use wasm_bindgen::JsCast;
