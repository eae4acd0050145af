//! Making sure the tools are there: rustup targets and components, Trunk and
//! wasm-bindgen-cli at pinned versions. Everything here is idempotent and skips what is
//! already installed at the right version; tools go to `$CARGO_HOME/bin`, which persists.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::sh::{bail, Error, Result, Sh};

/// Trunk's version. 0.22.x needs a newer rustc than the pinned 1.95.
pub const TRUNK_VERSION: &str = "0.21.14";

// wasm-opt is deliberately absent: Debian's binaryen (108) and the crates.io `wasm-opt`
// (116) cannot parse what Rust 1.95 emits (`table.fill`); npm's `binaryen` 132 can, but
// gains at most 2 KB gzipped on the site's wasm (docs/performance.md, Web), so index.html
// builds with `data-wasm-opt="0"`.

/// What `rust-toolchain.toml` pins.
#[derive(Debug)]
pub struct Toolchain {
    pub channel: String,
    pub targets: Vec<String>,
    pub components: Vec<String>,
}

/// Reads the few keys of `rust-toolchain.toml` that matter here. A line-based reader is
/// enough for this file and keeps xtask free of dependencies.
pub fn toolchain(root: &Path) -> Result<Toolchain> {
    let path = root.join("rust-toolchain.toml");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error(format!("cannot read {}: {e}", path.display())))?;
    let mut channel = None;
    let mut targets = Vec::new();
    let mut components = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let strings = quoted(value);
        match key.trim() {
            "channel" => channel = strings.into_iter().next(),
            "targets" => targets = strings,
            "components" => components = strings,
            _ => {}
        }
    }
    match channel {
        Some(channel) => Ok(Toolchain {
            channel,
            targets,
            components,
        }),
        None => bail!("{} has no `channel = \"...\"` line", path.display()),
    }
}

/// The double-quoted strings in `text`.
fn quoted(text: &str) -> Vec<String> {
    text.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Installs the targets and components `rust-toolchain.toml` lists but rustup lacks.
/// (`RUSTUP_AUTO_INSTALL=0` on our machines: the toolchain file installs nothing itself.)
pub fn ensure_rust(sh: &Sh) -> Result<()> {
    let tc = toolchain(&sh.root)?;
    let installed = sh.read(sh.cmd("rustup").args(["target", "list", "--installed"]))?;
    let installed: Vec<&str> = installed.lines().map(str::trim).collect();
    let missing: Vec<&str> = tc
        .targets
        .iter()
        .map(String::as_str)
        .filter(|t| !installed.contains(t))
        .collect();
    if missing.is_empty() {
        println!("targets present: {}", tc.targets.join(", "));
    } else {
        sh.run(sh.cmd("rustup").args(["target", "add"]).args(&missing))?;
    }

    // Installed components are listed with their host triple: `clippy-x86_64-unknown-...`.
    let installed = sh.read(sh.cmd("rustup").args(["component", "list", "--installed"]))?;
    let missing: Vec<&str> = tc
        .components
        .iter()
        .map(String::as_str)
        .filter(|c| {
            !installed
                .lines()
                .any(|line| line.trim() == *c || line.starts_with(&format!("{c}-")))
        })
        .collect();
    if missing.is_empty() {
        println!("components present: {}", tc.components.join(", "));
    } else {
        sh.run(sh.cmd("rustup").args(["component", "add"]).args(&missing))?;
    }
    Ok(())
}

/// The version of `package` in Cargo.lock; an error if it is absent or locked twice.
pub fn locked_version(root: &Path, package: &str) -> Result<String> {
    let path = root.join("Cargo.lock");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error(format!("cannot read {}: {e}", path.display())))?;
    let wanted = format!("name = \"{package}\"");
    let mut versions = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() == wanted {
            if let Some(v) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = "))
            {
                versions.push(v.trim_matches('"').to_owned());
            }
        }
    }
    match versions.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!("{package} is not in Cargo.lock"),
        many => bail!(
            "Cargo.lock holds {package} at several versions ({}); the web build needs exactly one",
            many.join(", ")
        ),
    }
}

/// Checks that `Trunk.toml` pins wasm-bindgen at `version` (Trunk runs offline, so a
/// mismatch would only surface as a build error later).
pub fn check_trunk_pin(root: &Path, version: &str) -> Result<()> {
    let path = root.join("Trunk.toml");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error(format!("cannot read {}: {e}", path.display())))?;
    let pinned = text.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "wasm_bindgen").then(|| quoted(value).into_iter().next())?
    });
    match pinned {
        Some(p) if p == version => Ok(()),
        Some(p) => bail!(
            "Trunk.toml pins wasm_bindgen = \"{p}\" but Cargo.lock has wasm-bindgen {version}; \
             set Trunk.toml's [tools] wasm_bindgen to \"{version}\""
        ),
        None => bail!("Trunk.toml has no [tools] wasm_bindgen = \"{version}\" line"),
    }
}

/// A tool installed with `cargo install` at an exact version.
struct Pin<'a> {
    krate: &'a str,
    version: &'a str,
    /// The executables it provides; each must answer `--version` with `<name> <version>`.
    bins: &'a [&'a str],
}

/// Makes sure Trunk and wasm-bindgen-cli (at Cargo.lock's wasm-bindgen version) are
/// installed, and that Trunk.toml agrees with Cargo.lock.
pub fn ensure_web_tools(sh: &Sh) -> Result<()> {
    let bindgen = locked_version(&sh.root, "wasm-bindgen")?;
    check_trunk_pin(&sh.root, &bindgen)?;
    ensure_pin(
        sh,
        &Pin {
            krate: "wasm-bindgen-cli",
            version: &bindgen,
            // The test runner comes with it; the headless-browser wasm tests use it.
            bins: &["wasm-bindgen", "wasm-bindgen-test-runner"],
        },
    )?;
    ensure_pin(
        sh,
        &Pin {
            krate: "trunk",
            version: TRUNK_VERSION,
            bins: &["trunk"],
        },
    )
}

fn ensure_pin(sh: &Sh, pin: &Pin) -> Result<()> {
    let stale: Vec<String> = pin
        .bins
        .iter()
        .filter_map(|bin| {
            let out = sh.probe(sh.cmd(bin).arg("--version"));
            let found = out.as_deref().and_then(|o| o.split_whitespace().nth(1));
            match found {
                Some(v) if v == pin.version => None,
                Some(v) => Some(format!("{bin} is {v}")),
                None => Some(format!("{bin} is missing")),
            }
        })
        .collect();
    if stale.is_empty() {
        println!("{} {} present", pin.krate, pin.version);
        return Ok(());
    }
    println!(
        "installing {} {} ({}); cached in {}",
        pin.krate,
        pin.version,
        stale.join(", "),
        sh.cargo_home.join("bin").display()
    );
    install(sh, pin)?;
    for bin in pin.bins {
        let out = sh.probe(sh.cmd(bin).arg("--version")).unwrap_or_default();
        if out.split_whitespace().nth(1) != Some(pin.version) {
            bail!(
                "{bin} still does not report version {} after installing (got {:?})",
                pin.version,
                out.trim()
            );
        }
    }
    Ok(())
}

/// `cargo install KRATE --version V --locked`, and when the registry mirror lacks a
/// version the published lockfile names (it can lag upstream by a patch release), the
/// workaround: unpack the downloaded `.crate`, move each missing dependency to the newest
/// version the mirror has (`cargo update -p DEP@LOCKED --precise AVAILABLE`) and
/// `cargo install --path . --locked`.
fn install(sh: &Sh, pin: &Pin) -> Result<()> {
    let mut first = sh.cargo();
    first.args(["install", pin.krate, "--version", pin.version, "--locked"]);
    let (status, stderr) = sh.run_tee_stderr(&mut first)?;
    if status.success() {
        return Ok(());
    }
    if missing_dependency(&stderr).is_none() {
        bail!("`cargo install {} --locked` failed ({status})", pin.krate);
    }
    println!(
        "the registry lacks a version {}'s lockfile names; installing from the unpacked crate \
         with that dependency moved to a version the registry has",
        pin.krate
    );
    let crate_file = cached_crate(&sh.cargo_home, pin.krate, pin.version)?;
    let tc = toolchain(&sh.root)?;
    let work = std::env::temp_dir().join(format!(
        "xtask-install-{}-{}-{}",
        pin.krate,
        pin.version,
        std::process::id()
    ));
    let result = install_unpacked(sh, &tc, &crate_file, &work, pin, stderr);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn install_unpacked(
    sh: &Sh,
    tc: &Toolchain,
    crate_file: &Path,
    work: &Path,
    pin: &Pin,
    mut stderr: String,
) -> Result<()> {
    let _ = std::fs::remove_dir_all(work);
    std::fs::create_dir_all(work)?;
    sh.run(
        sh.cmd("tar")
            .arg("-xzf")
            .arg(crate_file)
            .arg("-C")
            .arg(work),
    )?;
    let dir = work.join(format!("{}-{}", pin.krate, pin.version));
    // Outside the repository rust-toolchain.toml does not apply; name the toolchain.
    let in_dir = |program: &str| {
        let mut cmd = sh.cmd(program);
        cmd.current_dir(&dir).env("RUSTUP_TOOLCHAIN", &tc.channel);
        cmd
    };
    // Each round fixes one missing dependency; a handful is plenty.
    for _ in 0..8 {
        let Some(missing) = missing_dependency(&stderr) else {
            bail!(
                "installing {} from {} failed; see the errors above",
                pin.krate,
                dir.display()
            );
        };
        let spec = format!("{}@{}", missing.name, missing.locked);
        sh.run(in_dir("cargo").args(["update", "-p", &spec, "--precise", &missing.available]))?;
        let (status, err) = sh.run_tee_stderr(
            in_dir("cargo")
                .args(["install", "--path", ".", "--locked", "--root"])
                .arg(&sh.cargo_home),
        )?;
        if status.success() {
            return Ok(());
        }
        stderr = err;
    }
    bail!("gave up installing {} after 8 dependency pins", pin.krate)
}

/// A locked dependency the registry does not have, and the newest version it does.
#[derive(Debug, PartialEq, Eq)]
struct MissingDependency {
    name: String,
    locked: String,
    available: String,
}

/// Reads cargo's resolver error:
///
/// ```text
/// error: failed to select a version for the requirement `webpki-roots = "^1.0.10"` (locked to 1.0.11)
/// candidate versions found which didn't match: 1.0.10, 1.0.9, 1.0.8, ...
/// ```
fn missing_dependency(stderr: &str) -> Option<MissingDependency> {
    let after = |text: &str, marker: &str| -> Option<String> {
        let start = text.find(marker)? + marker.len();
        Some(text[start..].to_owned())
    };
    let requirement = after(stderr, "failed to select a version for the requirement `")?;
    let name = requirement.split(" = ").next()?.trim().to_owned();
    let locked = after(&requirement, "(locked to ")?;
    let locked = locked.split(')').next()?.trim().to_owned();
    let candidates = after(
        &requirement,
        "candidate versions found which didn't match: ",
    )?;
    let available = candidates.split([',', '\n']).next()?.trim().to_owned();
    let valid = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-+_".contains(c))
    };
    (valid(&name) && valid(&locked) && valid(&available)).then_some(MissingDependency {
        name,
        locked,
        available,
    })
}

/// The `.crate` that `cargo install` downloaded into `$CARGO_HOME/registry/cache/*/`.
fn cached_crate(cargo_home: &Path, krate: &str, version: &str) -> Result<PathBuf> {
    let cache = cargo_home.join("registry").join("cache");
    let file = format!("{krate}-{version}.crate");
    if let Ok(entries) = std::fs::read_dir(&cache) {
        for entry in entries.flatten() {
            let candidate = entry.path().join(&file);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    bail!(
        "{file} is not in {}; `cargo install {krate} --version {version}` should have put it there",
        cache.display()
    )
}

/// `trunk` with the options every invocation wants: no update check (Trunk.toml's
/// `offline = true` keeps tool downloads off, but only the command-line flag skips the
/// check for a newer Trunk).
pub fn trunk(sh: &Sh) -> Command {
    let mut cmd = sh.cmd("trunk");
    cmd.arg("--skip-version-check");
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cargos_resolver_error() {
        let stderr = "    Updating crates.io index\n\
            error: failed to select a version for the requirement `webpki-roots = \"^1.0.10\"` (locked to 1.0.11)\n\
            candidate versions found which didn't match: 1.0.10, 1.0.9, 1.0.8, ...\n\
            location searched: crates.io index\n";
        assert_eq!(
            missing_dependency(stderr),
            Some(MissingDependency {
                name: "webpki-roots".into(),
                locked: "1.0.11".into(),
                available: "1.0.10".into(),
            })
        );
        assert_eq!(missing_dependency("error: could not compile `foo`"), None);
    }

    #[test]
    fn reads_the_repository_pins() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let tc = toolchain(root).unwrap();
        assert!(tc.targets.iter().any(|t| t == "wasm32-unknown-unknown"));
        assert!(tc.targets.iter().any(|t| t == "thumbv7em-none-eabihf"));
        let bindgen = locked_version(root, "wasm-bindgen").unwrap();
        check_trunk_pin(root, &bindgen).unwrap();
    }

    #[test]
    fn quoted_strings() {
        assert_eq!(quoted(r#" ["a", "b"]"#), ["a", "b"]);
        assert!(quoted(" 3").is_empty());
    }
}
