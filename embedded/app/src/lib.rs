//! `sse-embedded-app`: the board-agnostic firmware logic of the agent status light.
#![no_std]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[macro_use]
mod fmt;

mod client;
pub mod config;
pub mod http;
pub mod led;
mod server;
mod view;

pub use client::run;
pub use server::{AddrError, Server, TOKEN_LEN, bearer_token_ok};
pub use sse_core::Duration;
pub use sse_core::reconnect::Policy;
pub use view::{End, Note, StatusDisplay, View, activity_name};
