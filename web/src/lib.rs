//! The parts of the playground that are plain functions of the engine's state, as a
//! library so that the binary (`main.rs`) and the host tests share them:
//!
//! - [`panels`]: one panel per configured subsystem, over the view models of
//!   [`panels::model`] (plain Rust, tested on the host);
//! - [`charts`]: the figures of every pool over the steps, and the churn heat map.
//!
//! The binary uses them as `memplay_web::panels::view(&machine)` and
//! `memplay_web::charts::{History, view}`, and adds [`panels::CSS`] and [`charts::CSS`] to
//! the page.

pub mod charts;
pub mod panels;
