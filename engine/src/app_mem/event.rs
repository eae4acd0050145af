//! The trace events of MTK's application memory: the stages the allocator events
//! (`alloc`, `free`, `meta`...) cannot tell.

use core::fmt;

use crate::name::Name;
use crate::ram::Addr;

/// The popups of AppMemMgr.c, by the string they show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PopupMsg {
    /// `STR_ID_APPMEM_OUT_OF_MEMORY`: a prompt was asked for while one is open.
    OutOfMemory,
    /// `STR_ID_APPMEM_NOTIFY_STARTING_NEW`: enough memory is free; the request is retried.
    StartingNew,
    /// `STR_ID_APPMEM_NOTIFY_STOPPED`: an app stopped but more memory is needed.
    Stopped,
    /// `STR_ID_APPMEM_NOTIFY_STOP_FAILED`: the app could not stop.
    StopFailed,
}

impl PopupMsg {
    pub fn as_str(self) -> &'static str {
        match self {
            PopupMsg::OutOfMemory => "out of memory",
            PopupMsg::StartingNew => "starting new",
            PopupMsg::Stopped => "stopped",
            PopupMsg::StopFailed => "stop failed",
        }
    }
}

/// One stage of ADM or ASM, as `EventKind::Asm`. The canonical line is
/// `<source>.<word> <fields>`; the source is the ADM's name for the first two, the ASM's
/// for the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsmEvent {
    /// `kal_adm_delete` removed the empty ADM over `[base, base + size)`.
    Delete { base: Addr, size: u32 },
    /// `kal_adm_delete` was refused: `live` blocks remain, the first at `first`.
    DeleteRefused { live: u32, first: Addr },
    /// `applib_mem_ap_register`: the app's registry entry was written.
    Register {
        app: u16,
        name: Name,
        icon: u32,
        handler: u32,
    },
    /// `applib_mem_ap_alloc_full_pool`: `app` took the whole pool at `addr`.
    FullPool { app: u16, addr: Addr, size: u32 },
    /// One row of `applib_mem_ap_get_current_usage`, as the prompt lists it.
    Usage {
        app: u16,
        name: Name,
        icon: u32,
        size: u32,
        stopping: bool,
    },
    /// `mmi_frm_appmem_prompt_to_release_mem`: the out-of-memory screen lists `listed`
    /// background apps; `app` needs `required` bytes.
    Prompt {
        app: u16,
        name: Name,
        required: u32,
        listed: u32,
    },
    /// A popup was shown.
    Popup { msg: PopupMsg },
    /// The user highlighted `app` and pressed Stop: the confirm screen.
    Choose { app: u16 },
    /// The user confirmed stopping `app`.
    Confirm { app: u16 },
    /// The user declined on the confirm screen; the prompt returns.
    Decline { app: u16 },
    /// The user left the prompt; `app`'s request is dropped (there is no failure callback).
    Dismiss { app: u16 },
    /// `applib_mem_ap_stop_app_by_MMI_task`: `app`'s stop handler runs; it plans to take
    /// `ticks` ticks.
    Stop { app: u16, ticks: u16 },
    /// The stop did not finish inside the handler: the progressing screen waits.
    Waiting { app: u16 },
    /// Tick `tick` of `app`'s stop freed `freed` blocks.
    StopTick { app: u16, tick: u16, freed: u32 },
    /// `applib_mem_ap_notify_stop_finished(app, result)`.
    StopFinished { app: u16, result: bool },
    /// The success callback retried `app`'s request of `size` bytes and got `addr`.
    Retry { app: u16, size: u32, addr: Addr },
}

impl AsmEvent {
    /// The event's word in the canonical line.
    pub fn word(&self) -> &'static str {
        match self {
            AsmEvent::Delete { .. } => "delete",
            AsmEvent::DeleteRefused { .. } => "delete_refused",
            AsmEvent::Register { .. } => "register",
            AsmEvent::FullPool { .. } => "full_pool",
            AsmEvent::Usage { .. } => "usage",
            AsmEvent::Prompt { .. } => "prompt",
            AsmEvent::Popup { .. } => "popup",
            AsmEvent::Choose { .. } => "choose",
            AsmEvent::Confirm { .. } => "confirm",
            AsmEvent::Decline { .. } => "decline",
            AsmEvent::Dismiss { .. } => "dismiss",
            AsmEvent::Stop { .. } => "stop",
            AsmEvent::Waiting { .. } => "waiting",
            AsmEvent::StopTick { .. } => "stop_tick",
            AsmEvent::StopFinished { .. } => "stop_finished",
            AsmEvent::Retry { .. } => "retry",
        }
    }

    /// Every stage closes a step of its own, except the usage rows that precede their
    /// prompt.
    pub fn is_summary(&self) -> bool {
        !matches!(self, AsmEvent::Usage { .. })
    }
}

/// The fields, without the leading space.
impl fmt::Display for AsmEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AsmEvent::Delete { base, size } => write!(f, "base={base:#010x} size={size}"),
            AsmEvent::DeleteRefused { live, first } => {
                write!(f, "live={live} first={first:#010x}")
            }
            AsmEvent::Register {
                app,
                name,
                icon,
                handler,
            } => write!(f, "app={app} name={name} icon={icon} handler={handler}"),
            AsmEvent::FullPool { app, addr, size } => {
                write!(f, "app={app} addr={addr:#010x} size={size}")
            }
            AsmEvent::Usage {
                app,
                name,
                icon,
                size,
                stopping,
            } => write!(
                f,
                "app={app} name={name} icon={icon} size={size} stopping={stopping}"
            ),
            AsmEvent::Prompt {
                app,
                name,
                required,
                listed,
            } => write!(
                f,
                "app={app} name={name} required={required} listed={listed}"
            ),
            AsmEvent::Popup { msg } => write!(f, "msg=\"{}\"", msg.as_str()),
            AsmEvent::Choose { app }
            | AsmEvent::Confirm { app }
            | AsmEvent::Decline { app }
            | AsmEvent::Dismiss { app }
            | AsmEvent::Waiting { app } => write!(f, "app={app}"),
            AsmEvent::Stop { app, ticks } => write!(f, "app={app} ticks={ticks}"),
            AsmEvent::StopTick { app, tick, freed } => {
                write!(f, "app={app} tick={tick} freed={freed}")
            }
            AsmEvent::StopFinished { app, result } => write!(f, "app={app} result={result}"),
            AsmEvent::Retry { app, size, addr } => {
                write!(f, "app={app} size={size} addr={addr:#010x}")
            }
        }
    }
}
