//! The out-of-memory prompt of MTK's app-shared memory, as the learner sees it on the phone:
//! read from the machine's `asm` pool (its protocol state and app registry). The learner
//! plays the user: each button writes the statement that the real key press is
//! (`asm.choose APP`, `asm.confirm`, `asm.decline`, `asm.dismiss`, `tick 1`) into the script
//! after the current line, and steps to it. Plain Rust, tested on the host.

use memplay_engine::allocator::Owner;
use memplay_engine::app_mem::{OomState, MAX_APPS};
use memplay_engine::machine::{AsmPool, Pool};

use crate::session::Frame;

/// One background app the prompt lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppRow {
    pub id: u16,
    /// The app's title in the registry ("Music").
    pub name: String,
    /// What the script calls it: the variable of `asm pool ... apps` that holds its id
    /// ("music"), or the id itself.
    pub script: String,
    /// Bytes the app holds in the pool (its chunks with their headers and guards).
    pub bytes: u32,
    pub stopping: bool,
}

/// Which screen the phone shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Screen {
    /// "Not enough memory: stop an app" with the list.
    Prompt,
    /// "Stop `victim`?"
    Confirm { victim: String },
    /// The progressing screen while `victim` stops, `elapsed` ticks so far.
    Stopping { victim: String, elapsed: u16 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    /// The app whose request failed, and the bytes it asked for.
    pub app: String,
    pub size: u32,
    pub full_pool: bool,
    pub screen: Screen,
    /// Every other registered app holding memory.
    pub apps: Vec<AppRow>,
}

/// The prompt the machine shows at this frame, if any.
pub fn prompt(frame: &Frame) -> Option<Prompt> {
    let machine = &frame.machine;
    let ram = machine.ram();
    let pool = machine.pools().find_map(|p| match p {
        Pool::Asm(AsmPool { mem, .. }) => Some((p, mem)),
        _ => None,
    })?;
    let (pool, mem) = pool;
    let state = mem.oom_state();
    let request = state.request()?;
    let name = |id: u16| -> String {
        match mem.app_info(ram, id) {
            Ok(Some(info)) => info.name.to_string(),
            _ => format!("app{id}"),
        }
    };
    // The script names an app by the variable `asm pool ... apps` set to its id.
    let script_name = |id: u16, title: &str| -> String {
        let mut fallback = None;
        for (var, value) in machine.vars() {
            if value == id as u32 {
                if var.as_str().eq_ignore_ascii_case(title) {
                    return var.to_string();
                }
                fallback.get_or_insert(var.to_string());
            }
        }
        fallback.unwrap_or_else(|| id.to_string())
    };
    let mut held = [0u32; MAX_APPS as usize];
    let _ = pool.walk(ram, &mut |span| {
        if span.owner != Owner::NONE {
            if let Some(slot) = held.get_mut(span.owner.0 as usize) {
                *slot = slot.saturating_add(span.len);
            }
        }
    });
    let apps = (0..MAX_APPS)
        .filter(|id| *id != request.app)
        .filter_map(|id| {
            let info = mem.app_info(ram, id).ok()??;
            let bytes = held.get(id as usize).copied().unwrap_or(0);
            (bytes > 0 || info.stopping).then(|| AppRow {
                id,
                name: info.name.to_string(),
                script: script_name(id, info.name.as_str()),
                bytes,
                stopping: info.stopping,
            })
        })
        .collect();
    let screen = match state {
        OomState::Idle => return None,
        OomState::Prompt { .. } => Screen::Prompt,
        OomState::Confirm { victim, .. } => Screen::Confirm {
            victim: name(victim),
        },
        OomState::Stopping {
            victim, elapsed, ..
        } => Screen::Stopping {
            victim: name(victim),
            elapsed,
        },
    };
    Some(Prompt {
        app: name(request.app),
        size: request.size,
        full_pool: request.full_pool,
        screen,
        apps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Timeline, MAX_STEPS};

    pub const OOM: &str = "\
ram extsram 0x08000000 256K
asm pool 100K on extsram apps camera:\"Camera\" music:\"Music\"
asm.plan music frees 1 ticks 2 ok
m1 = asm.alloc music 40K
m2 = asm.alloc music 40K
c = asm.alloc_or_prompt camera 50K
";

    #[test]
    fn the_prompt_lists_the_background_apps() {
        let t = Timeline::build(OOM, MAX_STEPS).unwrap();
        assert!(prompt(&t.frame_at(5)).is_none());
        let p = prompt(&t.frame_at(6)).unwrap();
        assert_eq!(p.app, "Camera");
        assert_eq!(p.size, 50 * 1024);
        assert_eq!(p.screen, Screen::Prompt);
        assert_eq!(p.apps.len(), 1);
        assert_eq!(p.apps[0].name, "Music");
        assert_eq!(p.apps[0].script, "music");
        assert!(p.apps[0].bytes >= 80 * 1024);
    }
}
