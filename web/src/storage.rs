//! localStorage, for the effects of the app component (never the reducer). Every call
//! tolerates a browser without storage (private mode, a full quota): the page works the
//! same, it just forgets on reload.

pub const LANG: &str = "memplay.lang";
pub const LESSON: &str = "memplay.lesson";
pub const DONE: &str = "memplay.done";

/// The key of the learner's edit of a lesson's script (`None`: the free playground).
pub fn edit_key(lesson: Option<&str>) -> String {
    format!("memplay.edit.{}", lesson.unwrap_or("_playground"))
}

fn local() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

pub fn get(key: &str) -> Option<String> {
    local()?.get_item(key).ok()?
}

pub fn set(key: &str, value: &str) {
    if let Some(s) = local() {
        let _ = s.set_item(key, value);
    }
}

pub fn remove(key: &str) {
    if let Some(s) = local() {
        let _ = s.remove_item(key);
    }
}
