//! memplay's engine: the memory systems of small real-time systems (MediaTek's KAL on
//! Nucleus, AWTK, Huawei LiteOS) simulated over a simulated RAM.
//!
//! The engine does no I/O, reads no clock and needs no heap. All allocator metadata lives
//! in the simulated [`ram::Ram`]; the only way to observe a change is the [`trace`].
//! Every allocator implements [`allocator::Allocator`].

#![no_std]
#![forbid(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod allocator;
pub mod error;
pub mod name;
pub mod prng;
pub mod ram;
pub mod script;
pub mod trace;

pub mod adm;
pub mod app_mem;
pub mod awtk;
pub mod ctrl_buffer;
pub mod dynmem;
pub mod evshed;
pub mod machine;
pub mod partition;
pub mod policy_lab;
pub mod scenarios;
pub mod sysmem;
pub mod task;
pub mod tlsf;

pub mod pages;
pub mod vm;

pub use allocator::{Allocator, Block, BlockKind, Ctx, Owner, Stats};
pub use error::{AllocError, ConfigError};
pub use name::Name;
pub use ram::{Addr, Fault, Ram, RegionKind, Storage};
pub use trace::{Event, EventKind, Field, Op, Sink};
