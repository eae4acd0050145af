//! `memplay`: run and trace memplay scripts, and demo the allocators, from the command line.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod check;
mod demo;
mod map;
mod run;

#[derive(Parser)]
#[command(
    name = "memplay",
    version,
    about = "Learn how small real-time systems manage memory"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a script step by step: each line, its trace events and a memory map.
    Run {
        /// The script (`.mem`).
        file: PathBuf,
        /// Print the canonical trace (step-numbered lines) instead of the step-by-step view.
        #[arg(long)]
        trace: bool,
        /// Leave out the memory maps.
        #[arg(long)]
        no_map: bool,
        /// Stop after this many steps.
        #[arg(long, default_value_t = run::DEFAULT_MAX_STEPS)]
        max_steps: u32,
    },
    /// Print a script's canonical trace only (for golden files and board comparison).
    Trace {
        /// The script (`.mem`).
        file: PathBuf,
        /// Stop after this many steps.
        #[arg(long, default_value_t = run::DEFAULT_MAX_STEPS)]
        max_steps: u32,
    },
    /// Check lessons: run every script and exercise of every lesson, in every language.
    Check {
        /// The lessons folder (or one lesson's folder).
        #[arg(default_value = "lessons")]
        path: PathBuf,
    },
    /// Run a seeded random workload on one allocator: its canonical trace, figures and map.
    Demo {
        /// Which allocator.
        #[arg(long, value_enum, default_value = "lab")]
        allocator: demo::Kind,
        /// The seed of the workload; the same seed gives the same run on every machine.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// How many alloc or free steps.
        #[arg(long, default_value_t = 16)]
        ops: u32,
        /// Never colour the map.
        #[arg(long)]
        no_color: bool,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run {
            file,
            trace,
            no_map,
            max_steps,
        } => run::run(&file, trace, !no_map, max_steps),
        Command::Trace { file, max_steps } => run::trace(&file, max_steps),
        Command::Check { path } => check::check(&path),
        Command::Demo {
            allocator,
            seed,
            ops,
            no_color,
        } => {
            let opts = demo::Options {
                kind: allocator,
                seed,
                ops,
                color: !no_color && std::io::stdout().is_terminal(),
            };
            match demo::run(&opts) {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("memplay: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
