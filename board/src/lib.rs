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
//! - [`heap`]: the `#[global_allocator]` on the engine's TLSF.
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
