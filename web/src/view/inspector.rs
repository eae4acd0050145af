//! The inspector: the selected block's bytes as a hex dump, coloured by span kind, with
//! header words named from the trace's `meta` history and corrupted bytes in red.

use std::rc::Rc;

use memplay_engine::allocator::{Block, BlockKind};
use memplay_engine::ram::Addr;
use yew::prelude::*;

use crate::i18n::Text;
use crate::session::{block_at, Frame, PoolSpans};

/// Bytes the dump shows at most.
pub const MAX_DUMP: u32 = 1024;

#[derive(Properties, PartialEq)]
pub struct InspectorProps {
    pub frame: Rc<Frame>,
    pub pools: Rc<Vec<PoolSpans>>,
    pub selected: Option<Addr>,
    pub text: &'static Text,
}

/// A row of the field table.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldRow {
    pub addr: Addr,
    pub name: &'static str,
    pub value: String,
    pub corrupt: bool,
}

/// The named fields of `start..start+len`: every label not inside a payload span.
pub fn fields(frame: &Frame, spans: &[Block], start: Addr, len: u32) -> Vec<FieldRow> {
    let corrupted = frame.corrupted();
    let end = start as u64 + len as u64;
    let in_payload = |a: Addr| {
        spans.iter().any(|s| {
            s.kind == BlockKind::Payload && a >= s.addr && (a as u64) < s.addr as u64 + s.len as u64
        })
    };
    frame
        .labels
        .within(start, end)
        .filter(|(a, _)| !in_payload(*a))
        .map(|(addr, label)| {
            let ram = frame.machine.ram();
            let value = if label.len == 4 {
                ram.read_u32(addr)
                    .map(|v| format!("{v:#010x}"))
                    .unwrap_or_else(|_| "?".into())
            } else {
                ram.read_u8(addr)
                    .map(|b| format!("{} × {b:#04x}", label.len))
                    .unwrap_or_else(|_| "?".into())
            };
            let corrupt = corrupted
                .iter()
                .any(|(c, _)| *c >= addr && (*c as u64) < addr as u64 + label.len as u64);
            FieldRow {
                addr,
                name: label.field.as_str(),
                value,
                corrupt,
            }
        })
        .collect()
}

#[function_component(Inspector)]
pub fn inspector(props: &InspectorProps) -> Html {
    let t = props.text;
    let found = props.selected.and_then(|a| block_at(&props.pools, a));
    let (pool, start, len, spans) = match (found, props.selected) {
        (Some(found), _) => found,
        // No pool can say what is there (its walk stopped before): the raw bytes around.
        (None, Some(addr)) => (
            String::from("?"),
            addr.saturating_sub(16) & !15,
            64,
            Vec::new(),
        ),
        (None, None) => {
            return html! { <p class="empty" data-testid="inspector-empty">{ t.inspector_empty }</p> };
        }
    };
    let frame = &props.frame;
    let ram = frame.machine.ram();
    let corrupted = frame.corrupted();
    let shown = len.min(MAX_DUMP);
    let first_row = start & !15;
    let end = start as u64 + shown as u64;
    let kind_at = |a: Addr| {
        spans
            .iter()
            .find(|s| a >= s.addr && (a as u64) < s.addr as u64 + s.len as u64)
            .map(|s| s.kind.as_str())
    };
    let mut rows = Vec::new();
    let mut row = first_row as u64;
    while row < end {
        let cells = (0..16u64).map(|i| {
            let a = row + i;
            if a < start as u64 || a >= end || a > u32::MAX as u64 {
                return html! { <span class="byte out">{ "  " }</span> };
            }
            let a = a as Addr;
            let byte = ram.read_u8(a).ok();
            let label = frame.labels.at(a);
            let bad = corrupted.iter().find(|(c, _)| *c == a);
            let title = match (label, bad) {
                (_, Some((_, expected))) => {
                    format!("{a:#010x}: corrupted, expected {expected:#04x}")
                }
                (Some((at, l)), None) => {
                    format!("{a:#010x}: {} (from {at:#010x})", l.field.as_str())
                }
                (None, None) => format!("{a:#010x}"),
            };
            html! {
                <span class={classes!("byte", kind_at(a), label.is_some().then_some("named"),
                                      bad.is_some().then_some("corrupt"))}
                      title={title}>
                    { byte.map(|b| format!("{b:02x}")).unwrap_or_else(|| "??".into()) }
                </span>
            }
        });
        let ascii: String = (0..16u64)
            .map(|i| {
                let a = row + i;
                if a < start as u64 || a >= end {
                    ' '
                } else {
                    match ram.read_u8(a as Addr) {
                        Ok(b) if b.is_ascii_graphic() => b as char,
                        _ => '.',
                    }
                }
            })
            .collect();
        rows.push(html! {
            <div class="row">
                <span class="addr">{ format!("{row:08x}") }</span>
                <span class="bytes">{ for cells }</span>
                <span class="ascii">{ ascii }</span>
            </div>
        });
        row += 16;
    }
    let owner = spans
        .iter()
        .map(|s| s.owner)
        .find(|o| *o != memplay_engine::allocator::Owner::NONE);
    let kinds: Vec<&str> = {
        let mut k: Vec<&str> = spans.iter().map(|s| s.kind.as_str()).collect();
        k.dedup();
        k
    };
    let field_rows = fields(frame, &spans, start, shown);
    html! {
        <div class="inspector" data-testid="inspector">
            <p class="summary">
                if spans.is_empty() {
                    <span class="raw">{ t.raw_bytes }</span>
                    { format!(" · {start:#010x} · {len} bytes") }
                } else {
                    <code>{ pool }</code>
                    { format!(" · {start:#010x} · {len} bytes · {}", kinds.join(" + ")) }
                }
                if let Some(o) = owner { { format!(" · owner {o}") } }
                if len > shown { { format!(" · first {shown} bytes") } }
            </p>
            <div class="hex" data-testid="hex">{ for rows }</div>
            if !field_rows.is_empty() {
                <table class="fields">
                    <caption>{ t.fields }</caption>
                    { for field_rows.iter().map(|f| html! {
                        <tr class={classes!(f.corrupt.then_some("corrupt"))}>
                            <td class="mono">{ format!("{:#010x}", f.addr) }</td>
                            <td>{ f.name }</td>
                            <td class="mono">{ &f.value }</td>
                            <td>{ if f.corrupt { t.corrupted } else { "" } }</td>
                        </tr>
                    }) }
                </table>
            }
        </div>
    }
}
