//! Size baseline for the Pico 2 W: Wi-Fi, DHCP and one TCP GET, without the SSE app and sse-core
//! (`embedded/size-check.sh` compares it with `sse-pico2w`).
#![no_std]
#![no_main]

use embassy_executor::Spawner;
use sse_board_pico::Module;

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let p = embassy_rp::init(Default::default());
    sse_board_pico::run_bare(spawner, p, Module::Pico2W).await
}
