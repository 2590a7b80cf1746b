//! dump-validate (being written).
pub mod size;
pub mod timing;
