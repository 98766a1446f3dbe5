//! The integration tests, one module per concern.

mod encode;
mod seq;
