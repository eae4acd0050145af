//! `memplay`: run and trace memplay scripts, and demo the allocators, from the command line.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod check;
mod demo;
mod malloclab;
mod map;
mod practice;
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
    /// An exam-style problem generated from a seed, answered by the engine.
    Practice {
        /// The topic (`list` lists them).
        #[arg(long)]
        topic: String,
        /// The seed: the same seed gives the same problem.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print the answers too.
        #[arg(long)]
        reveal: bool,
    },
    /// Replay a CS:APP malloclab trace on one allocator: utilization, failures, ops/s.
    ImportMalloclab {
        /// The trace file.
        file: PathBuf,
        /// dyn, tlsf, lab-first, lab-best, lab-next, lab-worst, awtk-simple or adm.
        #[arg(long)]
        allocator: String,
        /// The pool size in bytes (default: the trace header's heap size).
        #[arg(long)]
        pool: Option<u32>,
        /// Run check() after every operation, not only at the end.
        #[arg(long)]
        check_each: bool,
    },
}

fn print_result(result: Result<String, String>) -> ExitCode {
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprint!("memplay: {e}");
            if !e.ends_with('\n') {
                eprintln!();
            }
            ExitCode::FAILURE
        }
    }
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
        Command::Practice {
            topic,
            seed,
            reveal,
        } => print_result(if topic == "list" {
            Ok(practice::list())
        } else {
            practice::generate(&topic, seed).map(|p| practice::render(&topic, seed, &p, reveal))
        }),
        Command::ImportMalloclab {
            file,
            allocator,
            pool,
            check_each,
        } => print_result(malloclab::run(&file, &allocator, pool, check_each)),
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
