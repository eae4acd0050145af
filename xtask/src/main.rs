//! memplay's automation, in Rust: `cargo xtask <command>` (the alias is in
//! .cargo/config.toml).
//!
//! - `test`  runs every check, stage by stage, stopping at the first failure.
//! - `serve` builds the site and serves it with Trunk, rebuilding on change.
//! - `dist`  builds the release site into dist/.
//! - `bench` runs the benchmarks and prints one table (see bench.rs).
//!
//! Tools are installed on first use and cached in `$CARGO_HOME/bin`.

mod bench;
mod board;
mod sh;
mod tools;

use std::path::Path;
use std::time::{Duration, Instant};

use sh::{bail, Result, Sh};

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  test [--list] [--only STAGE]...   run every check, stopping at the first failure
                                    (--list shows the stages; --only runs just those)
  serve [--port N]                  build and serve the playground at http://127.0.0.1:N/
                                    (default 8080), rebuilding on change
  dist                              release build of the site into dist/
  bench [--markdown] [ARGS]...      benchmarks: the engine's allocators against real ones,
                                    one table (ARGS go to criterion, e.g. a filter)
  board [--no-wasm] [--timeout SECS]
                                    the firmware under QEMU (mps2-an386): every trace
                                    compared byte for byte with the host's and wasm's
  help                              this text
";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = dispatch(&args) {
        eprintln!("\nerror: {e}");
        std::process::exit(1);
    }
}

fn dispatch(args: &[String]) -> Result<()> {
    let (command, rest) = match args.split_first() {
        Some((c, rest)) => (c.as_str(), rest),
        None => {
            print!("{USAGE}");
            bail!("no command given");
        }
    };
    match command {
        "test" => test(rest),
        "serve" => serve(rest),
        "dist" => {
            no_options("dist", rest)?;
            dist()
        }
        "bench" => bench::run(rest).map_err(|e| sh::Error(e.to_string())),
        "board" => board::command(rest),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => {
            print!("{USAGE}");
            bail!("unknown command `{other}`")
        }
    }
}

fn no_options(command: &str, rest: &[String]) -> Result<()> {
    match rest.first() {
        None => Ok(()),
        Some(arg) => bail!("`{command}` takes no options (got `{arg}`)"),
    }
}

// ---------------------------------------------------------------------------------------
// test

/// One step of `cargo xtask test`.
struct Stage {
    /// Short id for `--only`.
    id: &'static str,
    /// What it proves, for the header.
    title: &'static str,
    run: fn(&Sh) -> Result<()>,
}

/// Every stage of `cargo xtask test`, in order. Cheap checks come first so that a
/// formatting slip fails in seconds; tools that take minutes to install the first time
/// are fetched just before the stage that needs them.
///
/// To add a stage (the wasm tests in headless Chromium, the Playwright end-to-end tests,
/// the board under QEMU), write a `fn(&Sh) -> Result<()>` and list it here.
fn stages() -> Vec<Stage> {
    vec![
        Stage {
            id: "toolchain",
            title: "rustup targets and components from rust-toolchain.toml",
            run: tools::ensure_rust,
        },
        Stage {
            id: "fmt",
            title: "formatting (cargo fmt --check)",
            run: |sh| sh.run(sh.cargo().args(["fmt", "--all", "--", "--check"])),
        },
        Stage {
            id: "clippy",
            title: "lints on the host, all crates and targets, warnings denied",
            run: |sh| {
                sh.run(sh.cargo().args([
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ]))
            },
        },
        Stage {
            id: "test",
            title: "unit, property and integration tests on the host",
            run: |sh| sh.run(sh.cargo().args(["test", "--workspace"])),
        },
        Stage {
            id: "lessons",
            title: "every lesson's scripts and exercises, in both languages (memplay check)",
            run: |sh| {
                sh.run(sh.cargo().args([
                    "run",
                    "--quiet",
                    "-p",
                    "memplay-cli",
                    "--",
                    "check",
                    "lessons",
                ]))
            },
        },
        Stage {
            id: "engine-thumbv7em",
            title: "engine for the board: thumbv7em-none-eabihf, no_std, no alloc",
            run: |sh| {
                sh.run(sh.cargo().args([
                    "build",
                    "-p",
                    "memplay-engine",
                    "--target",
                    "thumbv7em-none-eabihf",
                    "--no-default-features",
                ]))
            },
        },
        Stage {
            id: "engine-wasm32",
            title: "engine for the browser: wasm32-unknown-unknown",
            run: |sh| {
                sh.run(sh.cargo().args([
                    "build",
                    "-p",
                    "memplay-engine",
                    "--target",
                    "wasm32-unknown-unknown",
                ]))
            },
        },
        Stage {
            id: "web-wasm32",
            title: "web front end for wasm32: lints (warnings denied) and build",
            run: |sh| {
                let wasm = ["-p", "memplay-web", "--target", "wasm32-unknown-unknown"];
                sh.run(
                    sh.cargo()
                        .arg("clippy")
                        .args(wasm)
                        .args(["--", "-D", "warnings"]),
                )?;
                // The dev profile, as `trunk serve` builds it: a later serve starts warm.
                sh.run(sh.cargo().arg("build").args(wasm))
            },
        },
        Stage {
            id: "tools",
            title: "web tools: wasm-bindgen-cli (= Cargo.lock) and Trunk",
            run: tools::ensure_web_tools,
        },
        Stage {
            id: "site",
            title: "release site build with Trunk into dist/ (proves `serve` and `dist` work)",
            run: build_site,
        },
        Stage {
            id: "board",
            title: "firmware under QEMU mps2-an386: traces identical to host and wasm",
            run: board::stage,
        },
        // Later stages: wasm tests in headless Chromium (wasm-bindgen-test-runner comes
        // with the `tools` stage), Playwright against dist/.
    ]
}

fn test(rest: &[String]) -> Result<()> {
    let all = stages();
    let mut only: Vec<String> = Vec::new();
    let mut args = rest.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--list" => {
                for (i, stage) in all.iter().enumerate() {
                    println!("{:>2}. {:<18} {}", i + 1, stage.id, stage.title);
                }
                return Ok(());
            }
            "--only" => match args.next() {
                Some(id) => only.push(id.clone()),
                None => bail!("--only needs a stage id (see `cargo xtask test --list`)"),
            },
            other => bail!("unknown option `{other}` for `test`"),
        }
    }
    for id in &only {
        if !all.iter().any(|s| s.id == id) {
            bail!("no stage `{id}` (see `cargo xtask test --list`)");
        }
    }
    let chosen: Vec<&Stage> = all
        .iter()
        .filter(|s| only.is_empty() || only.iter().any(|id| id == s.id))
        .collect();

    let sh = Sh::new()?;
    let started = Instant::now();
    let mut done: Vec<(&str, Duration)> = Vec::new();
    for (i, stage) in chosen.iter().enumerate() {
        header(&format!(
            "[{}/{}] {}: {}",
            i + 1,
            chosen.len(),
            stage.id,
            stage.title
        ));
        let t = Instant::now();
        let result = (stage.run)(&sh);
        done.push((stage.id, t.elapsed()));
        if let Err(e) = result {
            summary(&done, started.elapsed());
            bail!("stage `{}` failed: {e}", stage.id);
        }
    }
    summary(&done, started.elapsed());
    println!(
        "\nxtask test: all {} stages passed in {}",
        done.len(),
        sh::duration(started.elapsed())
    );
    Ok(())
}

fn header(text: &str) {
    let rule = "=".repeat(88);
    println!("\n{rule}\n== {text}\n{rule}");
}

fn summary(done: &[(&str, Duration)], total: Duration) {
    println!("\nstage timings:");
    for (id, d) in done {
        println!("  {id:<18} {:>8}", sh::duration(*d));
    }
    println!("  {:<18} {:>8}", "total", sh::duration(total));
}

// ---------------------------------------------------------------------------------------
// site

/// Everything a Trunk build needs: targets, web tools, and every crate downloaded
/// (Trunk.toml's `offline = true` also makes Trunk pass `--offline` to cargo).
fn prepare_site(sh: &Sh) -> Result<()> {
    tools::ensure_rust(sh)?;
    tools::ensure_web_tools(sh)?;
    sh.run(sh.cargo().arg("fetch"))
}

fn build_site(sh: &Sh) -> Result<()> {
    sh.run(sh.cargo().arg("fetch"))?;
    sh.run(tools::trunk(sh).args(["build", "--release"]))?;
    report_dist(&sh.root.join("dist"))
}

/// Lists what dist/ holds and checks the page and its wasm are there.
fn report_dist(dist: &Path) -> Result<()> {
    let mut files: Vec<(String, u64)> = std::fs::read_dir(dist)
        .map_err(|e| sh::Error(format!("cannot read {}: {e}", dist.display())))?
        .flatten()
        .filter_map(|e| {
            let len = e.metadata().ok()?.len();
            Some((e.file_name().to_string_lossy().into_owned(), len))
        })
        .collect();
    files.sort();
    println!("{}:", dist.display());
    for (name, len) in &files {
        println!("  {name:<48} {len:>9} bytes");
    }
    if !files.iter().any(|(n, _)| n == "index.html") {
        bail!("dist/ has no index.html");
    }
    if !files.iter().any(|(n, _)| n.ends_with(".wasm")) {
        bail!("dist/ has no .wasm file");
    }
    Ok(())
}

fn dist() -> Result<()> {
    let sh = Sh::new()?;
    header("dist: release build of the site into dist/");
    prepare_site(&sh)?;
    build_site(&sh)?;
    println!("\nthe site is in {}", sh.root.join("dist").display());
    Ok(())
}

fn serve(rest: &[String]) -> Result<()> {
    let mut port: u16 = 8080;
    let mut args = rest.iter();
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "--port" | "-p" => args.next().map(String::as_str),
            other => match other.strip_prefix("--port=") {
                Some(v) => Some(v),
                None => bail!("unknown option `{other}` for `serve`"),
            },
        };
        port = match value.map(str::parse) {
            Some(Ok(p)) => p,
            _ => bail!("--port needs a port number"),
        };
    }
    let sh = Sh::new()?;
    header("serve: preparing tools");
    prepare_site(&sh)?;
    let url = format!("http://127.0.0.1:{port}/");
    header(&format!("serve: memplay at {url} (Ctrl-C stops)"));
    println!("open {url} once Trunk reports the build is done");
    let mut cmd = tools::trunk(&sh);
    cmd.args([
        "serve",
        "--address",
        "127.0.0.1",
        "--port",
        &port.to_string(),
    ]);
    // A foreground job: give Trunk our terminal (Sh::cmd defaults to no stdin).
    cmd.stdin(std::process::Stdio::inherit());
    sh.run(&mut cmd)
}
