//! The script editor: a textarea over a backdrop that marks lines (the current step's line,
//! the next one, the error's line and its columns), with line numbers. The textarea grows
//! with the text, so only the frame around it scrolls and the layers stay aligned.

use memplay_engine::script::ScriptError;
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct EditorProps {
    pub text: AttrValue,
    /// The line of the current step (0 before the first step).
    pub current_line: u32,
    pub next_line: Option<u32>,
    pub error: Option<ScriptError>,
    /// Lines of failed expectations.
    pub failed: Vec<u32>,
    pub on_edit: Callback<String>,
    pub label: AttrValue,
}

#[function_component(Editor)]
pub fn editor(props: &EditorProps) -> Html {
    let oninput = {
        let on_edit = props.on_edit.clone();
        Callback::from(move |e: InputEvent| {
            let area: HtmlTextAreaElement = e.target_unchecked_into();
            on_edit.emit(area.value());
        })
    };
    let lines: Vec<&str> = props.text.split('\n').collect();
    let error_line = props.error.map(|e| e.line);
    let line_class = |n: u32| {
        classes!(
            (n == props.current_line).then_some("current"),
            (Some(n) == props.next_line && n != props.current_line).then_some("next"),
            (Some(n) == error_line).then_some("error"),
            props.failed.contains(&n).then_some("failed"),
        )
    };
    let backdrop = lines.iter().enumerate().map(|(i, text)| {
        let n = i as u32 + 1;
        let text = text.strip_suffix('\r').unwrap_or(text);
        let body = match props.error.filter(|e| e.line == n) {
            Some(e) => {
                let chars: Vec<char> = text.chars().collect();
                let start = (e.col as usize).saturating_sub(1).min(chars.len());
                let end = (start + e.len.max(1) as usize).min(chars.len());
                let before: String = chars[..start].iter().collect();
                let mut mark: String = chars[start..end].iter().collect();
                if mark.is_empty() {
                    mark.push(' ');
                }
                let after: String = chars[end..].iter().collect();
                html! { <>{ before }<mark>{ mark }</mark>{ after }</> }
            }
            None => html! { { text.to_string() } },
        };
        html! { <div class={classes!("bl", line_class(n))}>{ body }{ "\u{200b}" }</div> }
    });
    let gutter = (1..=lines.len() as u32).map(|n| {
        html! { <div class={classes!("ln", line_class(n))} data-line={n.to_string()}>{ n }</div> }
    });
    html! {
        <div class="editor">
            <div class="editor-frame">
                <div class="gutter" aria-hidden="true">{ for gutter }</div>
                <div class="code">
                    <div class="backdrop" aria-hidden="true">{ for backdrop }</div>
                    <textarea
                        data-testid="editor"
                        aria-label={props.label.clone()}
                        spellcheck="false"
                        autocapitalize="off"
                        autocomplete="off"
                        wrap="off"
                        rows={(lines.len() + 1).to_string()}
                        value={props.text.clone()}
                        {oninput}
                    />
                </div>
            </div>
        </div>
    }
}

/// The error under the editor: `line:col: message`, the line with a caret, the hint.
#[derive(Properties, PartialEq)]
pub struct ErrorBoxProps {
    pub error: ScriptError,
    pub source: AttrValue,
    pub title: AttrValue,
    #[prop_or_default]
    pub note: Option<AttrValue>,
}

#[function_component(ErrorBox)]
pub fn error_box(props: &ErrorBoxProps) -> Html {
    let rendered = props.error.render(&props.source).to_string();
    let class = if props.error.is_expectation() {
        "script-error expectation"
    } else {
        "script-error"
    };
    html! {
        <div class={class} role="alert" data-testid="script-error">
            <strong>{ &props.title }</strong>
            <pre>{ rendered }</pre>
            if let Some(note) = &props.note {
                <p class="muted">{ note }</p>
            }
        </div>
    }
}
