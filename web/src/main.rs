//! memplay in the browser. For now one page: what memplay is and a small live demo of
//! the engine; the full playground comes later.
//!
//! Layout follows Yew's function_todomvc example: [`state`] owns the model (plain Rust,
//! tested on the host), [`view`] holds components that get plain data and callbacks.

mod demo;
mod panic;
mod state;
mod view;

use yew::prelude::*;

use state::State;
use view::{Controls, Legend, RegionBand, Trace};

#[function_component(App)]
fn app() -> Html {
    let state = use_reducer(State::default);
    let on_action = {
        let state = state.clone();
        Callback::from(move |action| state.dispatch(action))
    };
    let last = state.last();
    html! {
        <>
            <header>
                <h1>{ "memplay" }</h1>
                <p class="tagline">
                    { "A playground for the memory management of small real-time systems \
                       (MediaTek KAL on Nucleus, AWTK, Huawei LiteOS): step through allocations \
                       over a simulated RAM and watch every header, guard and free list change." }
                </p>
            </header>
            <Controls step={state.step} total={state.total}
                      script={last.map(|s| s.script)} note={last.map(|s| s.note)}
                      on_action={on_action.clone()} />
            <section class="ram" aria-label="simulated RAM">
                <h2>{ "Simulated RAM" }</h2>
                { for state.snapshot.bands.iter().map(|band| html! {
                    <RegionBand band={band.clone()} />
                }) }
                <Legend />
            </section>
            <Trace lines={state.snapshot.lines.clone()} current={state.step} {on_action} />
        </>
    }
}

fn main() {
    panic::install();
    let root = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("app"))
        .expect("index.html has an element with id=\"app\"");
    yew::Renderer::<App>::with_root(root).render();
}
