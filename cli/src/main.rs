//! `memplay`: run and trace memplay scripts from the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod run;

#[derive(Parser)]
#[command(
    name = "memplay",
    version,
    about = "The memplay playground on the command line"
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            file,
            trace,
            no_map,
            max_steps,
        } => run::run(&file, trace, !no_map, max_steps),
        Command::Trace { file, max_steps } => run::trace(&file, max_steps),
    }
}
