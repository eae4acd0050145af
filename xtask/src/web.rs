//! The playground's browser stages of `cargo xtask test`:
//!
//! - `web-browser`: the components' wasm-bindgen tests in headless Chromium (Debian's
//!   chromium and chromium-driver, installed with apt when missing; web/webdriver.json);
//! - `e2e`: Playwright (playwright-core from e2e/package-lock.json, driving
//!   /usr/bin/chromium) against the release site in dist/, served on 127.0.0.1 with
//!   python3's http.server. Screenshots and figures go to artifacts/ (gitignored), with
//!   the wasm's size, raw and gzipped.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::sh::{bail, Error, Result, Sh};
use crate::Stage;

pub fn stages() -> Vec<Stage> {
    vec![
        Stage {
            id: "web-browser",
            title: "web components in headless Chromium (wasm-bindgen-test)",
            run: browser_tests,
        },
        Stage {
            id: "e2e",
            title: "end to end: Playwright against the release site on 127.0.0.1",
            run: end_to_end,
        },
    ]
}

/// Debian's packages the browser stages need, and a file each provides.
const PACKAGES: [(&str, &str); 3] = [
    ("chromium", "/usr/bin/chromium"),
    ("chromium-driver", "/usr/bin/chromedriver"),
    // Chinese text in the screenshots (the language toggle).
    (
        "fonts-noto-cjk",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    ),
];

/// Installs Chromium, its driver and CJK fonts with apt when one is missing.
fn ensure_chromium(sh: &Sh) -> Result<()> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(_, file)| !Path::new(file).exists())
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() {
        println!("chromium, chromium-driver and CJK fonts present");
        return Ok(());
    }
    println!("installing {} with apt", missing.join(", "));
    let sudo = sh.probe(sh.cmd("id").arg("-u")).map(|u| u.trim() != "0") == Some(true);
    let apt = |args: &[&str]| {
        let mut cmd = if sudo {
            let mut c = sh.cmd("sudo");
            c.arg("-n").arg("apt-get");
            c
        } else {
            sh.cmd("apt-get")
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    sh.run(&mut apt(&["update", "-qq"]))?;
    sh.run(apt(&["install", "-y", "-qq", "--no-install-recommends"]).args(&missing))?;
    for (package, file) in PACKAGES {
        if package != "fonts-noto-cjk" && !Path::new(file).exists() {
            bail!("{package} is installed but {file} is missing");
        }
    }
    Ok(())
}

fn browser_tests(sh: &Sh) -> Result<()> {
    ensure_chromium(sh)?;
    crate::tools::ensure_web_tools(sh)?;
    // The runner (.cargo/config.toml) finds chromedriver through CHROMEDRIVER and reads
    // web/webdriver.json (Chromium's path and headless flags) from the crate's directory.
    sh.run(
        sh.cargo()
            .args([
                "test",
                "-p",
                "memplay-web",
                "--target",
                "wasm32-unknown-unknown",
                "--test",
                "browser",
            ])
            .env("CHROMEDRIVER", "/usr/bin/chromedriver")
            .env("WASM_BINDGEN_TEST_TIMEOUT", "180"),
    )
}

fn end_to_end(sh: &Sh) -> Result<()> {
    ensure_chromium(sh)?;
    let dist = sh.root.join("dist");
    if !dist.join("index.html").is_file() {
        println!("dist/ is not built yet: building the release site first");
        crate::tools::ensure_web_tools(sh)?;
        crate::build_site(sh)?;
    }
    report_wasm_size(sh, &dist)?;

    // playwright-core only (no browser download), exactly as e2e/package-lock.json says;
    // npm's cache goes under ~/.cache so that CI machines keep it.
    let e2e = sh.root.join("e2e");
    let mut npm = sh.cmd("npm");
    npm.current_dir(&e2e)
        .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
    if let Some(home) = std::env::var_os("HOME") {
        npm.env(
            "npm_config_cache",
            Path::new(&home).join(".cache").join("npm"),
        );
    }
    sh.run(&mut npm)?;

    let port = free_port()?;
    let server = Server::start(sh, &dist, port)?;
    let mut node = sh.cmd("node");
    node.current_dir(&e2e)
        .arg("run.mjs")
        .env("BASE_URL", format!("http://127.0.0.1:{port}/"))
        .env("ARTIFACTS", sh.root.join("artifacts"))
        .env("CHROMIUM", "/usr/bin/chromium");
    let result = sh.run(&mut node);
    drop(server);
    result
}

/// Prints the release wasm's size, raw and gzipped (`gzip -9`), and writes it to
/// artifacts/wasm-size.txt.
fn report_wasm_size(sh: &Sh, dist: &Path) -> Result<()> {
    let wasm = std::fs::read_dir(dist)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "wasm"));
    let Some(wasm) = wasm else {
        bail!("dist/ has no .wasm file");
    };
    let raw = std::fs::metadata(&wasm)?.len();
    let out = sh
        .cmd("gzip")
        .args(["-9", "-c"])
        .arg(&wasm)
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        bail!("gzip failed on {}", wasm.display());
    }
    let gz = out.stdout.len();
    let line = format!(
        "release wasm: {raw} bytes raw, {gz} bytes gzipped ({:.1} KiB)",
        gz as f64 / 1024.0
    );
    println!("{line}");
    let artifacts = sh.root.join("artifacts");
    std::fs::create_dir_all(&artifacts)?;
    std::fs::write(artifacts.join("wasm-size.txt"), format!("{line}\n"))?;
    Ok(())
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// `python3 -m http.server` over dist/, stopped when dropped.
struct Server(Child);

impl Server {
    fn start(sh: &Sh, dir: &Path, port: u16) -> Result<Server> {
        let mut cmd = sh.cmd("python3");
        cmd.current_dir(dir)
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        crate::sh::echo(&cmd);
        let child = cmd
            .spawn()
            .map_err(|e| Error(format!("cannot start python3's http.server: {e}")))?;
        let server = Server(child);
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(20) {
                bail!("the http server did not start on port {port}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        println!("serving {} on http://127.0.0.1:{port}/", dir.display());
        Ok(server)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
