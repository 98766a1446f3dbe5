//! `sse-embedded-app`: the board-agnostic firmware logic of the agent status light.
#![no_std]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[macro_use]
mod fmt;

pub mod http;
