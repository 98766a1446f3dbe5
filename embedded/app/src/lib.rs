//! `sse-embedded-app`: the board-agnostic firmware logic of the agent status light.
#![no_std]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[macro_use]
mod fmt;

pub mod config;
pub mod http;
pub mod led;
mod server;
mod view;

pub use server::{AddrError, Server};
pub use view::{End, Link, StatusDisplay, View};

/// Follows `server` until the session ends (provisional Phase A body: one GET).
pub async fn run<D: StatusDisplay>(
    stack: embassy_net::Stack<'_>,
    server: &Server<'_>,
    seed: u64,
    display: &mut D,
) -> End {
    let _ = seed;
    let mut view = View {
        link: Link::Connecting,
    };
    display.show(&view);
    stack.wait_config_up().await;
    let Ok(ip) = server.host.parse::<core::net::Ipv4Addr>() else {
        return End::Stopped;
    };
    let mut rx = [0u8; config::TCP_RX];
    let mut tx = [0u8; config::TCP_TX];
    let mut socket = embassy_net::tcp::TcpSocket::new(stack, &mut rx, &mut tx);
    if socket.connect((ip, server.port)).await.is_err() {
        return End::Stopped;
    }
    view.link = Link::Connected;
    display.show(&view);
    End::SessionEnded
}
