//! The script language: one consistent grammar that configures the machine, allocates and
//! frees through every subsystem, pokes bytes, runs seeded random workloads and states
//! expectations. `docs/script.md` is its reference page.
//!
//! A script is read line by line with fixed capacities, so the board runs it too: a line is
//! lexed into at most [`MAX_TOKENS`] tokens that borrow the text ([`lexer`]), parsed and
//! evaluated against an [`Env`] into a [`Stmt`] ([`parser`]), and executed by
//! [`crate::machine::Machine`]. Nothing is copied out of the source: a `repeat` block is a
//! pair of byte offsets into it ([`interp`]). Before the first step, [`check`] reads the
//! whole text once, so a typo on the last line is reported before anything runs.
//!
//! One statement is one step. Errors ([`ScriptError`]) carry a line, a column, a length,
//! a message and a hint, and render as a `line:col: message` block with a caret.
//!
//! # Adding a subsystem
//!
//! 1. an entry in [`ast::KINDS`] (keyword, singleton name or named pools, its operations);
//! 2. a [`ast::Config`] variant and its parsing in `parser::Parser::config`;
//! 3. a [`crate::machine::Pool`] variant and its construction in the machine's `configure`;
//! 4. new operations: a [`ast::Verb`] and a [`ast::Call`] variant, parsed in
//!    `parser::Parser::call` and executed in the machine's `call`; new fault kinds go in
//!    [`ast::FAULT_KINDS`].
//!
//! A subsystem with much grammar of its own keeps it in a child module of the parser and of
//! the machine (as `parser/heaps.rs` and `machine/heaps.rs` do for `dyn`, `tlsf`, `adm`,
//! `asm`, `screen` and `awtk`), called from marked points: `Parser::config`,
//! `Parser::heap_call`-style hooks before the general verbs, `Core::configure`'s last arm,
//! `Core::call`'s first line, `Env::query`, `expect` and `tick`. Names a configuration
//! defines besides its pool (ASM's apps) come from [`ast::Config::vars`]; figures that take
//! an argument are [`ast::Query`] variants filled in by the parser; a machine preset is an
//! entry of [`ast::PRESETS`] (its script lines).
//!
//! The kernel subsystems (physical pages, virtual memory, tasks and timers) follow the
//! same steps with their types in [`kernel`]: `pages` is a pool (its buddy allocator is an
//! allocator); `vm` answers to `vm.verb` but is kept beside the pools; the task table is
//! built by statements of its own (`task`, `behaviour`, `on`, `boot`...). A fault of any
//! subsystem is a [`StepFault`].

pub mod ast;
pub mod errors;
pub mod interp;
pub mod lexer;
pub mod parser;
// pages, vm, tasks, timers
pub mod fault;
pub mod kernel;

pub use ast::{PoolKind, Stmt};
pub use errors::{ErrorKind, Hint, ScriptError};
pub use interp::{check, ScriptInfo, MAX_DEPTH, MAX_POOLS, MAX_VARS};
pub use lexer::MAX_TOKENS;
pub use parser::{parse_line, Env};
// pages, vm, tasks, timers
pub use fault::StepFault;
