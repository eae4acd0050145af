//! (being written)

mod bench;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Minimal dispatch for `cargo xtask bench`; the full command set lands separately.
    if args.first().map(String::as_str) == Some("bench") {
        if let Err(error) = bench::run(&args[1..]) {
            eprintln!("xtask bench: {error}");
            return std::process::ExitCode::FAILURE;
        }
    }
    std::process::ExitCode::SUCCESS
}
