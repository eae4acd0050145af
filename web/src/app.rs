//! The app component: the layout, and every side effect (localStorage, the URL fragment,
//! the player's timer, keyboard shortcuts). The model is [`crate::state`].

use std::collections::BTreeSet;

use gloo_events::{EventListener, EventListenerOptions};
use gloo_timers::callback::{Interval, Timeout};
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlInputElement, KeyboardEvent};
use yew::prelude::*;

use crate::charts;
use crate::i18n::Lang;
use crate::lessons;
use crate::mapmodel;
use crate::panels::{self, PanelAction};
use crate::session::block_at;
use crate::share;
use crate::state::{Action, State, SCRATCH};
use crate::storage;
use crate::view::editor::{Editor, ErrorBox};
use crate::view::inspector::Inspector;
use crate::view::lessons::{LessonList, LessonText};
use crate::view::log::EventLog;
use crate::view::memmap::MemMap;
use crate::view::oom::OomDialog;
use crate::view::stepper::Stepper;
use crate::view::tables::PoolTable;

/// How long after the page opens (or the language changes) the other lessons' pages are
/// fetched: well after the first step, which must not wait for them.
const PREFETCH_AFTER_MS: u32 = 2000;

/// The state the page opens with: a share link in the URL, or where the learner was.
pub fn initial_state() -> State {
    let lang = storage::get(storage::LANG)
        .and_then(|c| Lang::from_code(&c))
        .unwrap_or_else(browser_lang);
    let done: BTreeSet<String> = storage::get(storage::DONE)
        .map(|d| {
            d.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let hash = location_hash();
    match share::decode(&hash) {
        Ok(Some(shared)) => {
            clear_hash();
            let lesson = shared.lesson.filter(|id| lessons::find(id).is_some());
            State::new(lang, lesson, &shared.script, done)
        }
        Ok(None) => resume(lang, done),
        Err(e) => {
            clear_hash();
            let mut s = resume(lang, done);
            s.notice = Some(format!("{}: {e}.", lang.text().bad_link));
            s
        }
    }
}

/// The lesson (or the playground) the learner had open, with their edit.
fn resume(lang: Lang, done: BTreeSet<String>) -> State {
    let lesson = match storage::get(storage::LESSON) {
        Some(id) if id.is_empty() => None,
        Some(id) => lessons::find(&id).map(|e| e.id.to_string()),
        None => lessons::first().map(|e| e.id.to_string()),
    };
    let saved = storage::get(&storage::edit_key(lesson.as_deref()));
    let text = match (&lesson, saved) {
        (_, Some(text)) => text,
        (Some(id), None) => lessons::find(id)
            .map(|e| e.get(lang).main_script.to_string())
            .unwrap_or_default(),
        (None, None) => SCRATCH.to_string(),
    };
    State::new(lang, lesson, &text, done)
}

fn browser_lang() -> Lang {
    let zh = web_sys::window()
        .and_then(|w| w.navigator().language())
        .is_some_and(|l| l.starts_with("zh"));
    if zh {
        Lang::Zh
    } else {
        Lang::En
    }
}

fn location_hash() -> String {
    web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default()
}

/// Takes the share link out of the address bar, so that a reload shows the learner's
/// own state (the shared script is saved as their edit).
fn clear_hash() {
    if let Some(w) = web_sys::window() {
        let path = w.location().pathname().unwrap_or_else(|_| "/".into());
        if let Ok(history) = w.history() {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&path));
        }
    }
}

fn share_url(text: &str, lesson: Option<&str>) -> String {
    let fragment = share::encode(text, lesson);
    let base = web_sys::window()
        .map(|w| {
            let l = w.location();
            format!(
                "{}{}",
                l.origin().unwrap_or_default(),
                l.pathname().unwrap_or_default()
            )
        })
        .unwrap_or_default();
    format!("{base}#{fragment}")
}

/// True when a key press belongs to a text field (the editor, the scrubber, a select).
fn typing(target: Option<web_sys::EventTarget>) -> bool {
    let Some(el) = target.and_then(|t| t.dyn_into::<Element>().ok()) else {
        return false;
    };
    matches!(el.tag_name().as_str(), "TEXTAREA" | "INPUT" | "SELECT")
        || el.get_attribute("contenteditable").is_some()
}

#[function_component(App)]
pub fn app() -> Html {
    let state = use_reducer(initial_state);
    let dispatch = {
        let state = state.clone();
        Callback::from(move |action: Action| state.dispatch(action))
    };

    // ---- effects ----

    // The learner's text, per lesson: kept when it differs from the lesson's own script.
    use_effect_with(
        (state.lesson.clone(), state.text.clone()),
        |(lesson, text)| {
            let key = storage::edit_key(lesson.as_deref());
            let original = match lesson.as_deref().and_then(lessons::find) {
                Some(entry) => entry.is_original(text),
                None => **text == *SCRATCH,
            };
            if original {
                storage::remove(&key);
            } else {
                storage::set(&key, text);
            }
        },
    );
    use_effect_with(
        (state.lang, state.lesson.clone(), state.done.clone()),
        |(lang, lesson, done)| {
            storage::set(storage::LANG, lang.code());
            storage::set(storage::LESSON, lesson.as_deref().unwrap_or(""));
            let list: Vec<&str> = done.iter().map(String::as_str).collect();
            storage::set(storage::DONE, &list.join(","));
            if let Some(root) = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.document_element())
            {
                let code = if *lang == Lang::Zh { "zh-Hans" } else { "en" };
                let _ = root.set_attribute("lang", code);
            }
        },
    );
    // The lessons' pages in the learner's language, fetched in the background once the
    // page has settled, so that lessons open at once, offline too (see `lessons`).
    use_effect_with(state.lang, |lang| {
        let lang = *lang;
        let timer = Timeout::new(PREFETCH_AFTER_MS, move || lessons::prefetch(lang));
        move || drop(timer)
    });
    // The player.
    {
        let dispatch = dispatch.clone();
        use_effect_with((state.playing, state.speed), move |(playing, speed)| {
            let timer = playing.then(|| {
                let ms = (1000 / (*speed).max(1)).max(10);
                Interval::new(ms, move || dispatch.emit(Action::Tick))
            });
            move || drop(timer)
        });
    }
    // Keyboard shortcuts, and share links opened while the page is open.
    {
        let dispatch = dispatch.clone();
        use_effect_with((), move |_| {
            let document = web_sys::window().and_then(|w| w.document());
            let keys = document.as_ref().map(|doc| {
                let dispatch = dispatch.clone();
                let options = EventListenerOptions::enable_prevent_default();
                EventListener::new_with_options(doc, "keydown", options, move |e| {
                    let Some(e) = e.dyn_ref::<KeyboardEvent>() else {
                        return;
                    };
                    if e.ctrl_key() || e.meta_key() || e.alt_key() || typing(e.target()) {
                        return;
                    }
                    let on_button = e
                        .target()
                        .and_then(|t| t.dyn_into::<Element>().ok())
                        .is_some_and(|el| el.tag_name() == "BUTTON");
                    let action = match e.key().as_str() {
                        "ArrowRight" => Action::Step,
                        "ArrowLeft" => Action::Back,
                        " " | "Spacebar" if !on_button => Action::TogglePlay,
                        "Home" => Action::Reset,
                        "End" => Action::RunToEnd,
                        _ => return,
                    };
                    e.prevent_default();
                    dispatch.emit(action);
                })
            });
            let window = web_sys::window();
            let hash = window.as_ref().map(|w| {
                let dispatch = dispatch.clone();
                EventListener::new(w, "hashchange", move |_| {
                    match share::decode(&location_hash()) {
                        Ok(Some(shared)) => {
                            clear_hash();
                            dispatch.emit(Action::OpenShared(shared));
                        }
                        Ok(None) => {}
                        Err(e) => {
                            clear_hash();
                            dispatch.emit(Action::BadLink(e.to_string()));
                        }
                    }
                })
            });
            // For the end-to-end test's load timing: the first render is done.
            if let Some(w) = web_sys::window() {
                let now = w.performance().map(|p| p.now()).unwrap_or(0.0);
                if let Some(body) = w.document().and_then(|d| d.body()) {
                    let _ = body.set_attribute("data-ready-ms", &(now as u64).to_string());
                }
            }
            move || drop((keys, hash))
        });
    }

    // ---- derived data ----

    let t = state.lang.text();
    let frame = state.frame.clone();
    let pools = use_memo(frame.clone(), |f| f.spans());
    let bands = use_memo((frame.clone(), pools.clone()), |(f, p)| {
        mapmodel::bands(f, p)
    });
    let selected_range = state
        .selected
        .and_then(|a| block_at(&pools, a))
        .map(|(_, start, len, _)| (start, len));
    let current_line = frame.machine.current_line();
    let statement = frame
        .machine
        .line_text(current_line)
        .map(str::trim)
        .unwrap_or("");
    let narration = statement
        .strip_prefix("note")
        .and_then(|rest| rest.trim().strip_prefix('"'))
        .and_then(|rest| rest.split('"').next());
    let failed_lines: Vec<u32> = state
        .timeline
        .failures
        .iter()
        .filter(|(s, _)| *s <= state.step())
        .map(|(_, e)| e.line)
        .collect();
    let shown_error = state.shown_error();
    let prompt = use_memo(frame.clone(), |f| crate::oom::prompt(f));

    // ---- callbacks ----

    // A script that runs long (tens of thousands of steps) runs again only when typing
    // pauses; a short one on every key.
    let pending = use_mut_ref(|| None::<Timeout>);
    let on_edit = {
        let dispatch = dispatch.clone();
        let long = state.total() > 20_000;
        Callback::from(move |text: String| {
            if long {
                let dispatch = dispatch.clone();
                let timer = Timeout::new(300, move || dispatch.emit(Action::Edit(text)));
                *pending.borrow_mut() = Some(timer);
            } else {
                pending.borrow_mut().take();
                dispatch.emit(Action::Edit(text));
            }
        })
    };
    let on_select = dispatch.reform(Action::Select);
    let on_open = {
        let dispatch = dispatch.clone();
        Callback::from(move |id: String| {
            let script = storage::get(&storage::edit_key(Some(&id)));
            dispatch.emit(Action::LoadLesson { id, script });
        })
    };
    let on_scratch = {
        let dispatch = dispatch.clone();
        Callback::from(move |_| {
            let text = storage::get(&storage::edit_key(None)).unwrap_or_else(|| SCRATCH.into());
            dispatch.emit(Action::Scratch(text));
        })
    };
    // The panels' keys are script lines, as the dialog's are; a selection goes to the
    // inspector.
    let on_panel = dispatch.reform(|action: PanelAction| match action {
        PanelAction::Select(addr) => Action::Select(Some(addr)),
        other => Action::Insert(other.script_line().into_iter().collect()),
    });
    // The charts speak the panels' languages.
    let panel_lang = match state.lang {
        Lang::En => panels::Lang::En,
        Lang::Zh => panels::Lang::Zh,
    };
    let set_lang = |lang: Lang| dispatch.reform(move |_: MouseEvent| Action::SetLang(lang));
    let toggle_share = {
        let open = !state.sharing;
        dispatch.reform(move |_: MouseEvent| Action::ShowShare(open))
    };
    let dismiss = dispatch.reform(|_: MouseEvent| Action::DismissNotice);
    let select_all = Callback::from(|e: FocusEvent| {
        if let Some(input) = e.target_dyn_into::<HtmlInputElement>() {
            input.select();
        }
    });

    html! {
        <div class="app">
            <header class="top">
                <div class="brand">
                    <h1><span class="logo" aria-hidden="true">{ "▦" }</span>{ "memplay" }</h1>
                    <p class="tagline">{ t.tagline }</p>
                </div>
                <div class="tools">
                    <button data-testid="share" onclick={toggle_share}
                            class={classes!(state.sharing.then_some("on"))}>{ t.share }</button>
                    <div class="lang" role="group" aria-label="language">
                        <button data-testid="lang-en" class={classes!((state.lang == Lang::En).then_some("on"))}
                                onclick={set_lang(Lang::En)}>{ "English" }</button>
                        <button data-testid="lang-zh" class={classes!((state.lang == Lang::Zh).then_some("on"))}
                                onclick={set_lang(Lang::Zh)}>{ "中文" }</button>
                    </div>
                </div>
            </header>
            if let Some(notice) = &state.notice {
                <div class="notice" role="alert" data-testid="notice">
                    <span>{ notice }</span>
                    <button onclick={dismiss}>{ t.close }</button>
                </div>
            }
            if state.sharing {
                <div class="sharebox" data-testid="sharebox">
                    <label>
                        { t.share_hint }
                        <input readonly=true data-testid="share-url" onfocus={select_all}
                               value={share_url(&state.text, state.lesson.as_deref())} />
                    </label>
                </div>
            }
            <div class="layout">
                <aside class="side">
                    <section class="card">
                        <h2>{ t.lessons }</h2>
                        <LessonList lang={state.lang} current={state.lesson.clone()} done={state.done.clone()}
                                    on_open={on_open} on_scratch={on_scratch} />
                    </section>
                    if let Some(id) = &state.lesson {
                        <section class="card">
                            <LessonText lang={state.lang} id={id.clone()} edited={state.edited()}
                                        on_action={dispatch.clone()} />
                        </section>
                    }
                </aside>
                <section class="work">
                    <section class="card">
                        <Stepper step={state.step()} total={state.total()} playing={state.playing}
                                 speed={state.speed} faults={state.timeline.faults.clone()}
                                 blocked={state.error.is_some()} on_action={dispatch.clone()} text={t} />
                        <div class="statement" data-testid="statement">
                            if state.step() == 0 {
                                <span class="muted">{ t.before_first }</span>
                            } else {
                                <span class="lineno">{ format!("L{current_line}") }</span>
                                <code>{ statement }</code>
                            }
                        </div>
                        if let Some(note) = narration {
                            <p class="narration" data-testid="narration">{ note }</p>
                        }
                        if let Some(p) = (*prompt).clone() {
                            <OomDialog prompt={p} lang={state.lang} on_action={dispatch.clone()} />
                        }
                    </section>
                    <section class="card">
                        <h2>{ t.editor }</h2>
                        <Editor text={AttrValue::from(state.text.to_string())} current_line={current_line}
                                next_line={frame.machine.next_line()} error={shown_error}
                                failed={failed_lines} on_edit={on_edit} label={t.editor} />
                        if let Some(error) = shown_error {
                            <ErrorBox error={error} source={AttrValue::from(state.text.to_string())}
                                      title={if error.is_expectation() { t.expect_failed }
                                             else if state.error.is_some() { "" } else { t.halted }}
                                      note={state.error.is_some().then_some(AttrValue::from(t.error_stale))} />
                        }
                        if state.timeline.limited {
                            <p class="muted">{ t.limited }</p>
                        }
                        <p class="shortcuts muted">{ t.shortcuts }</p>
                    </section>
                </section>
                <section class="view">
                    <section class="card">
                        <h2>{ t.memory_map }</h2>
                        <MemMap bands={(*bands).clone()} selected={selected_range} step={state.step()}
                                on_select={on_select} text={t} />
                    </section>
                    <section class="card">
                        <h2>{ t.inspector }</h2>
                        <Inspector frame={frame.clone()} pools={pools.clone()} selected={state.selected} text={t} />
                    </section>
                    <section class="card">
                        <h2>{ t.event_log }</h2>
                        <EventLog frame={frame.clone()} lang={state.lang} on_action={dispatch.clone()} />
                    </section>
                </section>
            </div>
            // The panel area: a panel per configured subsystem, the pools' figures and the
            // variables, and the charts over every step (history kept by the timeline).
            <section class="card panels" id="panels" data-testid="panels">
                <h2>{ t.panels }</h2>
                { panels::view_with(&frame.machine, panel_lang, on_panel) }
                <PoolTable frame={frame.clone()} text={t} />
            </section>
            <section class="card charts" data-testid="charts">
                { charts::view_lang(&state.timeline.history, state.step() as usize, panel_lang) }
            </section>
        </div>
    }
}

/// Mounts the app in `#app`.
pub fn start() {
    crate::panic::install();
    let root = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("app"));
    match root {
        Some(root) => {
            yew::Renderer::<App>::with_root(root).render();
        }
        None => {
            yew::Renderer::<App>::new().render();
        }
    }
}
