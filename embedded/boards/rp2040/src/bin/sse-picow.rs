//! The agent status light on a Raspberry Pi Pico W.
//!
//! Joins `WIFI_SSID`, follows `http://SSE_SERVER/stream` and shows the agent's state on the
//! on-board LED (patterns in `sse_embedded_app::led`); logs over defmt RTT.
//!
//! Run: `WIFI_SSID=.. WIFI_PASSWORD=.. SSE_SERVER=192.168.1.10:8000 cargo run --release` with a
//! debug probe attached (see `embedded/README.md`). Expected log: `wifi: joined ..`, then
//! `connected · idle · messages 12 ...` lines as the agent works.
#![no_std]
#![no_main]

use embassy_executor::Spawner;
use sse_board_pico::Module;

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let p = embassy_rp::init(Default::default());
    sse_board_pico::run_status_light(spawner, p, Module::PicoW).await
}
