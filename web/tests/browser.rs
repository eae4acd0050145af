//! Components in a real browser: wasm-bindgen-test in headless Chromium
//! (`cargo xtask test --only web-browser`; the runner and webdriver.json are set up there).

#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use memplay_engine::script::ScriptError;
use memplay_web::i18n::Lang;
use memplay_web::mapmodel;
use memplay_web::session::{Timeline, MAX_STEPS};
use memplay_web::view::editor::{Editor, EditorProps};
use memplay_web::view::memmap::{MemMap, MemMapProps};
use memplay_web::App;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement, HtmlTextAreaElement};
use yew::prelude::*;

wasm_bindgen_test_configure!(run_in_browser);

fn mount_point() -> Element {
    let document = web_sys::window().unwrap().document().unwrap();
    let div = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&div).unwrap();
    div
}

async fn settle() {
    yew::platform::time::sleep(Duration::from_millis(30)).await;
}

fn all(root: &Element, selector: &str) -> u32 {
    root.query_selector_all(selector).unwrap().length()
}

fn one(root: &Element, selector: &str) -> Element {
    root.query_selector(selector)
        .unwrap()
        .unwrap_or_else(|| panic!("no {selector}"))
}

#[wasm_bindgen_test]
async fn the_editor_numbers_lines_and_marks_the_error() {
    let text = "ram r 0x0 1K\nlab h 512\nh.free bb\n";
    let error: ScriptError = match Timeline::build(text, MAX_STEPS) {
        Err(e) => e,
        Ok(_) => panic!("the script has an unknown variable"),
    };
    let root = mount_point();
    let props = EditorProps {
        text: AttrValue::from(text),
        current_line: 2,
        next_line: Some(3),
        error: Some(error),
        failed: vec![],
        on_edit: Callback::noop(),
        label: AttrValue::from("script"),
    };
    yew::Renderer::<Editor>::with_root_and_props(root.clone(), props).render();
    settle().await;
    assert_eq!(all(&root, ".gutter .ln"), 4);
    assert_eq!(
        one(&root, ".gutter .ln.current").text_content().unwrap(),
        "2"
    );
    assert_eq!(one(&root, ".gutter .ln.error").text_content().unwrap(), "3");
    assert_eq!(one(&root, ".backdrop mark").text_content().unwrap(), "bb");
    let area: HtmlTextAreaElement = one(&root, "textarea").dyn_into().unwrap();
    assert_eq!(area.value(), text);
}

#[wasm_bindgen_test]
async fn the_memory_map_draws_every_span_and_animates_the_allocation() {
    let script = "ram r 0x10000000 4K\nlab heap 2K\na = heap.alloc 100 owner 2\n";
    let timeline = Timeline::build(script, MAX_STEPS).unwrap();
    let frame = timeline.frame_at(3);
    let pools = frame.spans();
    let bands = mapmodel::bands(&frame, &pools);
    let rects: usize = bands.iter().map(|b| b.rects.len()).sum();
    let root = mount_point();
    let props = MemMapProps {
        bands,
        selected: None,
        step: 3,
        on_select: Callback::noop(),
        text: Lang::En.text(),
    };
    yew::Renderer::<MemMap>::with_root_and_props(root.clone(), props).render();
    settle().await;
    assert_eq!(all(&root, "rect.span[data-pool]") as usize, rects);
    assert!(all(&root, "rect.anim-grow[data-kind=payload]") >= 1);
    assert_eq!(all(&root, "figure.band"), 1);
}

#[wasm_bindgen_test]
async fn the_app_steps_forward_and_back() {
    let root = mount_point();
    yew::Renderer::<App>::with_root(root.clone()).render();
    settle().await;
    let number = |root: &Element| {
        one(root, "[data-testid=step-number]")
            .text_content()
            .unwrap()
    };
    assert_eq!(number(&root), "0");
    let click = |selector: &str| {
        one(&root, selector)
            .dyn_into::<HtmlElement>()
            .unwrap()
            .click()
    };
    click("[data-testid=step]");
    settle().await;
    click("[data-testid=step]");
    settle().await;
    assert_eq!(number(&root), "2");
    assert_eq!(
        one(&root, "[data-testid=event-log] li.logstep.current")
            .get_attribute("data-step")
            .as_deref(),
        Some("2")
    );
    click("[data-testid=back]");
    settle().await;
    assert_eq!(number(&root), "1");
    click("[data-testid=end]");
    // Running to the end replays the script: on a loaded machine the render can take
    // longer than one settle (this assertion failed now and then), so wait up to 3 s.
    for _ in 0..100 {
        settle().await;
        if number(&root) != "1" {
            break;
        }
    }
    assert_ne!(number(&root), "1");
}
