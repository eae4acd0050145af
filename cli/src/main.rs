//! `memplay`: the engine on the command line.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;
mod map;

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
