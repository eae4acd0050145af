//! memplay on a Cortex-M board.
//!
//! The firmware (`src/main.rs`) runs the engine's golden scenarios and every embedded
//! script on a simulated RAM carved from a static array, prints each canonical trace
//! between markers, and exits with status 0 iff every expectation held. It also makes the
//! engine's TLSF its real heap ([`heap::TlsfHeap`]): `Vec` and `Box` are served by the
//! allocator the lessons teach.
//!
//! This library holds everything that is not tied to the chip, so it also builds for the
//! host (unit tests) and for wasm32 (the node runner in `wasm/` prints the same frames):
//!
//! - [`arena`]: a static byte array handed out once, without `static mut`;
//! - [`console`]: a line-buffered `fmt::Write` over any output (semihosting, defmt);
//! - [`suite`]: the cases and the output frames `cargo xtask board` parses;
//! - [`heap`]: the `#[global_allocator]` on the engine's TLSF;
//! - [`repl`]: a console session where each typed script line runs as one step.
//!
//! `unsafe` is allowed in this crate only (the engine forbids it); every unsafe block says
//! why it is sound in a `// Safety:` comment.

#![no_std]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

#[cfg(test)]
extern crate std;

pub mod arena;
pub mod console;
pub mod heap;
pub mod repl;
pub mod suite;

/// The engine's state outside the simulated RAM, in bytes, on the target this is built
/// for: what each Rust struct holds (configuration and root addresses; every header, link
/// and bitmap is in the simulated RAM). The firmware prints it; docs/performance.md
/// records it.
pub fn engine_sizes() -> [(&'static str, usize); 14] {
    use core::mem::size_of;
    use memplay_engine as e;
    [
        (
            "Ram<&mut [u8]> (region table)",
            size_of::<e::Ram<&mut [u8]>>(),
        ),
        ("Tlsf", size_of::<e::tlsf::Tlsf>()),
        ("DynMem (LiteOS bestfit)", size_of::<e::dynmem::DynMem>()),
        ("PartitionPool", size_of::<e::partition::PartitionPool>()),
        ("CtrlBuffer", size_of::<e::ctrl_buffer::CtrlBuffer>()),
        ("SystemMemory", size_of::<e::sysmem::SystemMemory>()),
        ("Adm", size_of::<e::adm::Adm>()),
        ("PolicyLab", size_of::<e::policy_lab::PolicyLab>()),
        ("Event (one trace event)", size_of::<e::Event>()),
        (
            "Machine<&mut [u8], &str> (script interpreter)",
            size_of::<e::machine::Machine<&mut [u8], &str>>(),
        ),
        ("heap: TlsfHeap state (Ram + Tlsf + tape)", heap::STATE_SIZE),
        ("heap: Tape of the latest events", size_of::<heap::Tape>()),
        (
            "console: Lines buffer",
            size_of::<console::Lines<console::NoConsole>>(),
        ),
        ("repl: Repl session", size_of::<repl::Repl<'static>>()),
    ]
}
