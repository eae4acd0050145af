//! Embeds the scripts (see `collect.rs`) and, for the firmware, picks the board's memory
//! map and passes cortex-m-rt's linker script.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

#[path = "collect.rs"]
mod collect;

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let root = manifest
        .parent()
        .expect("board/ sits in the repository")
        .to_path_buf();

    embed_scripts(&root, &out);
    if env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("arm") {
        link_firmware(&manifest, &out);
    }
}

/// Writes `$OUT_DIR/scripts.rs`: `pub static SCRIPTS: &[(&str, &str)]`, name and text,
/// each text an `include_str!` of a copy in `$OUT_DIR/scripts/`.
fn embed_scripts(root: &std::path::Path, out: &std::path::Path) {
    println!("cargo:rerun-if-changed=collect.rs");
    for dir in ["engine/tests/scripts", "lessons"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    let scripts = collect::collect(root).unwrap_or_else(|e| panic!("collecting scripts: {e}"));
    let dir = out.join("scripts");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create $OUT_DIR/scripts");
    let mut list = String::from(
        "/// Every embedded script: (name, text).\npub static SCRIPTS: &[(&str, &str)] = &[\n",
    );
    for (i, script) in scripts.iter().enumerate() {
        println!("cargo:rerun-if-changed={}", script.origin.display());
        let copy = dir.join(format!("{i:04}.mem"));
        fs::write(&copy, &script.text).expect("write script copy");
        let copy = copy.to_str().expect("OUT_DIR is UTF-8");
        writeln!(list, "    ({:?}, include_str!({copy:?})),", script.name).unwrap();
    }
    list.push_str("];\n");
    fs::write(out.join("scripts.rs"), list).expect("write scripts.rs");
}

/// Copies the selected board's memory map to `$OUT_DIR/memory.x` and links the bins with
/// cortex-m-rt's `link.x` (and defmt's `defmt.x` when defmt is on).
fn link_firmware(manifest: &std::path::Path, out: &std::path::Path) {
    let boards = [
        ("CARGO_FEATURE_QEMU", "memory/qemu-mps2-an386.x"),
        ("CARGO_FEATURE_STM32F4_DISCOVERY", "memory/stm32f407vg.x"),
        ("CARGO_FEATURE_NRF52840_DK", "memory/nrf52840.x"),
    ];
    let chosen: Vec<_> = boards
        .iter()
        .filter(|(feature, _)| env::var_os(feature).is_some())
        .collect();
    let memory = match chosen.as_slice() {
        [(_, memory)] => manifest.join(memory),
        _ => panic!(
            "select exactly one board feature: qemu (the default), stm32f4-discovery or \
             nrf52840-dk (with --no-default-features)"
        ),
    };
    let semihosting = env::var_os("CARGO_FEATURE_SEMIHOSTING").is_some();
    let defmt = env::var_os("CARGO_FEATURE_DEFMT").is_some();
    if semihosting == defmt {
        panic!("select exactly one output: semihosting (QEMU's default) or defmt (real boards)");
    }
    fs::copy(&memory, out.join("memory.x")).expect("copy memory.x");
    println!("cargo:rerun-if-changed={}", memory.display());
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    if defmt {
        println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
    }
}
