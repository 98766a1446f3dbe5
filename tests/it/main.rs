//! The integration tests, one module per concern.

mod tidy;
