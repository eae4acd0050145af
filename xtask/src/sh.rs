//! Running other programs: one place that sets the working directory and `PATH`, echoes
//! each command before it runs and turns a non-zero exit into an error.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

/// An error with a message for the user; `main` prints it and exits with status 1.
#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Returns early with a formatted [`Error`].
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::sh::Error(format!($($arg)*)))
    };
}
pub(crate) use bail;

/// Where commands run and what they see.
pub struct Sh {
    /// The repository root (the workspace directory).
    pub root: PathBuf,
    /// `$CARGO_HOME`, where `cargo install` puts tools (`$CARGO_HOME/bin`).
    pub cargo_home: PathBuf,
    /// `PATH` with `$CARGO_HOME/bin` first, so freshly installed tools are found.
    path: OsString,
}

impl Sh {
    pub fn new() -> Result<Sh> {
        // xtask/ is one level below the root; CARGO_MANIFEST_DIR is fixed at build time,
        // which is right because `cargo xtask` always builds from this checkout.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .ok_or_else(|| Error("xtask has no parent directory".into()))?
            .to_path_buf();
        let cargo_home = match std::env::var_os("CARGO_HOME") {
            Some(home) if !home.is_empty() => PathBuf::from(home),
            _ => match std::env::var_os("HOME") {
                Some(home) => Path::new(&home).join(".cargo"),
                None => bail!("neither CARGO_HOME nor HOME is set"),
            },
        };
        let mut dirs = vec![cargo_home.join("bin")];
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path));
        }
        let path =
            std::env::join_paths(dirs).map_err(|e| Error(format!("cannot build PATH: {e}")))?;
        Ok(Sh {
            root,
            cargo_home,
            path,
        })
    }

    /// A command in the repository root with the tool-aware `PATH` and no stdin (CI has
    /// none; nothing here may prompt).
    pub fn cmd(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.root)
            .env("PATH", &self.path)
            .stdin(Stdio::null());
        cmd
    }

    /// `cargo` from `PATH` (the rustup proxy, so `rust-toolchain.toml` picks the toolchain).
    pub fn cargo(&self) -> Command {
        self.cmd("cargo")
    }

    /// Runs `cmd` with its output going straight to ours; fails on a non-zero exit.
    pub fn run(&self, cmd: &mut Command) -> Result<()> {
        echo(cmd);
        let status = cmd
            .status()
            .map_err(|e| Error(format!("cannot start `{}`: {e}", display(cmd))))?;
        check(cmd, status)
    }

    /// Runs `cmd` and returns its stdout; stderr goes to ours. Fails on a non-zero exit.
    pub fn read(&self, cmd: &mut Command) -> Result<String> {
        let out = cmd
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| Error(format!("cannot start `{}`: {e}", display(cmd))))?;
        check(cmd, out.status)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs `cmd` quietly and returns its stdout if it starts and succeeds; `None` if the
    /// program is missing or fails. For probing tool versions.
    pub fn probe(&self, cmd: &mut Command) -> Option<String> {
        let out = cmd.stderr(Stdio::null()).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs `cmd`, copying its stderr to ours line by line while keeping a copy, so a
    /// failure can be both shown and analysed. Returns the exit status and the stderr.
    pub fn run_tee_stderr(&self, cmd: &mut Command) -> Result<(ExitStatus, String)> {
        echo(cmd);
        let mut child = cmd
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error(format!("cannot start `{}`: {e}", display(cmd))))?;
        let mut kept = String::new();
        if let Some(stderr) = child.stderr.take() {
            let mut out = std::io::stderr();
            for line in BufReader::new(stderr).lines() {
                let line = line?;
                let _ = writeln!(out, "{line}");
                kept.push_str(&line);
                kept.push('\n');
            }
        }
        let status = child.wait()?;
        Ok((status, kept))
    }
}

fn check(cmd: &Command, status: ExitStatus) -> Result<()> {
    if status.success() {
        Ok(())
    } else {
        bail!("`{}` failed ({status})", display(cmd))
    }
}

/// Prints the command about to run, as a shell would show it.
pub fn echo(cmd: &Command) {
    println!("$ {}", display(cmd));
    let _ = std::io::stdout().flush();
}

/// `program arg arg ...`, plus the directory when it is not the repository root.
pub fn display(cmd: &Command) -> String {
    let mut text = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        text.push(' ');
        let arg = arg.to_string_lossy();
        if arg.is_empty() || arg.contains(char::is_whitespace) {
            text.push_str(&format!("'{arg}'"));
        } else {
            text.push_str(&arg);
        }
    }
    if let Some(dir) = cmd.get_current_dir() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent();
        if Some(dir) != root {
            text.push_str(&format!("    (in {})", dir.display()));
        }
    }
    text
}

/// `1m05s`, `12.3s`.
pub fn duration(d: std::time::Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 60.0 {
        let whole = d.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    } else {
        format!("{secs:.1}s")
    }
}
