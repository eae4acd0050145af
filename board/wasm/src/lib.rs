//! The board's cases on wasm32: the same suite (same cases, same frames) the firmware
//! runs, built for `wasm32-unknown-unknown` and driven by `run.mjs` under node.
//!
//! Exports (no wasm-bindgen; plain numbers):
//! - `run_all() -> u32`: runs every case; 1 iff all passed;
//! - `out_ptr() -> *const u8`, `out_len() -> usize`: the UTF-8 output in linear memory.

use std::sync::Mutex;

use memplay_board::suite;

/// Simulated RAM for the cases: as much as the QEMU build has.
const SIM_RAM: usize = 3 * 1024 * 1024;

static OUT: Mutex<String> = Mutex::new(String::new());

#[no_mangle]
pub extern "C" fn run_all() -> u32 {
    let mut ram = vec![0u8; SIM_RAM];
    let mut out = String::new();
    let tally = suite::run_all(&mut ram, &mut out);
    let ok = tally.failed == 0;
    out.push_str(if ok {
        "=== exit 0 ===\n"
    } else {
        "=== exit 1 ===\n"
    });
    if let Ok(mut slot) = OUT.lock() {
        *slot = out;
    }
    ok as u32
}

#[no_mangle]
pub extern "C" fn out_ptr() -> *const u8 {
    OUT.lock().map(|s| s.as_ptr()).unwrap_or(core::ptr::null())
}

#[no_mangle]
pub extern "C" fn out_len() -> usize {
    OUT.lock().map(|s| s.len()).unwrap_or(0)
}
