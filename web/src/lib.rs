//! memplay in the browser: the playground. Step through a script or a lesson, forward and
//! back, and watch the simulated RAM change.
//!
//! Layout follows Yew's function_todomvc example: [`state`] owns the model and its reducer
//! and [`session`] the engine side (both plain Rust, tested on the host); [`view`] holds
//! components that get plain data and callbacks; [`app`] lays them out and owns the side
//! effects. [`panels`] (one panel per configured subsystem) and [`charts`] (figures over
//! the steps, the churn heat map) are plain functions of the machine, drawn in the app's
//! panel area.

pub mod app;
pub mod charts;
pub mod i18n;
pub mod lessons;
pub mod mapmodel;
pub mod num;
pub mod oom;
pub mod panels;
pub mod panic;
pub mod session;
pub mod share;
pub mod state;
pub mod storage;
pub mod view;

pub use app::{start, App};
