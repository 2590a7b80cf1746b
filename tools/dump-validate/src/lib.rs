//! dump-validate (being written).
pub mod objects;
pub mod size;
pub mod timing;
