//! The page's components. Each gets plain data and callbacks; none holds the model.

pub mod editor;
pub mod inspector;
pub mod lessons;
pub mod log;
pub mod memmap;
pub mod oom;
pub mod stepper;
pub mod tables;
