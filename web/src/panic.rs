//! A panic hook that shows the message on the page, not only in the developer console:
//! a learner who hits a bug should see what happened.

/// Installs the hook. Call before rendering: Yew's renderer installs its own,
/// console-only hook unless one was set through `yew::set_custom_panic_hook`.
pub fn install() {
    yew::set_custom_panic_hook(Box::new(|info| {
        show(&info.to_string());
        // The console still gets the message with a JavaScript stack, for developers.
        console_error_panic_hook::hook(info);
    }));
}

/// Writes `message` into the `#panic` element (created if index.html lacks it) and makes
/// it visible. The text goes in as text content, never as HTML.
fn show(message: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let element = match document.get_element_by_id("panic") {
        Some(element) => element,
        None => {
            let Ok(element) = document.create_element("div") else {
                return;
            };
            element.set_id("panic");
            match document.body() {
                Some(body) => {
                    let _ = body.prepend_with_node_1(&element);
                }
                None => return,
            }
            element
        }
    };
    element.set_text_content(Some(&format!(
        "memplay stopped because of a bug.\n\n{message}\n\nReload the page to start again."
    )));
    let _ = element.set_attribute("role", "alert");
    let _ = element.remove_attribute("hidden");
}
