//! The agent status light on QEMU's MPS2-AN386: follows `SSE_SERVER` (build-time, default
//! `192.168.69.100:8000`) over the emulated LAN9118 and prints every status change and note on
//! semihosting stdout. Exits 0 when the server ends the session, 1 if it refuses the stream.
//!
//! Run: `embedded/run-e2e.sh qemu` (creates the netns and tap, starts a server, checks the
//! output), or by hand as in `embedded/README.md`. Expected output:
//! `status link=connecting ...`, `connect from=0 last_event_id=none`, `message idx=0 ...`, ...
#![no_std]
#![no_main]

use embassy_executor::Spawner;
use embassy_net::{Runner, StackResources};
use sse_board_qemu_mps2::lan9118::{self, Lan9118};
use sse_board_qemu_mps2::{semihosting, time_driver};
use sse_embedded_app::{End, Note, Policy, Server, StatusDisplay, View};
use static_cell::StaticCell;

const SERVER: &str = match option_env!("SSE_SERVER") {
    Some(s) => s,
    None => "192.168.69.100:8000",
};
const PATH: &str = match option_env!("SSE_PATH") {
    Some(s) => s,
    None => "/stream",
};
/// Bearer token for the stream request (`Authorization: Bearer …`); empty sends none.
const TOKEN: &str = match option_env!("SSE_TOKEN") {
    Some(s) => s,
    None => "",
};
const _: () = assert!(
    sse_embedded_app::bearer_token_ok(TOKEN),
    "SSE_TOKEN: at most 128 of A-Z a-z 0-9 - . _ ~ + / then = padding (RFC 6750 b64token)"
);
/// Watchdog: no bytes for this long closes the stream. The emulated board is a test rig whose
/// server beats every second, so `.cargo/config.toml` sets 3000 (3 heartbeats).
const IDLE_TIMEOUT_MS: &str = match option_env!("SSE_IDLE_TIMEOUT_MS") {
    Some(s) => s,
    None => "45000",
};

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, Lan9118>) -> ! {
    runner.run().await
}

struct Semihosting;

impl StatusDisplay for Semihosting {
    fn show(&mut self, view: &View) {
        semihosting::line(format_args!("{view}"));
    }
    fn note(&mut self, note: &Note<'_>) {
        semihosting::line(format_args!("{note}"));
    }
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let Some(cp) = cortex_m::Peripherals::take() else {
        semihosting::exit(false)
    };
    time_driver::init(cp.SYST);
    // SAFETY: the MPS2 LAN9118 window is used by this driver only.
    #[allow(unsafe_code)]
    let device = match unsafe { Lan9118::new(lan9118::MPS2_BASE, sse_board_qemu_mps2::MAC) } {
        Ok(d) => d,
        Err(e) => {
            semihosting::line(format_args!("lan9118 init failed: {e:?}"));
            semihosting::exit(false)
        }
    };
    static RESOURCES: StaticCell<StackResources<2>> = StaticCell::new();
    let (stack, runner) = embassy_net::new(
        device,
        sse_board_qemu_mps2::net_config(),
        RESOURCES.init(StackResources::new()),
        0x5eed,
    );
    let Ok(token) = net_task(runner) else {
        semihosting::exit(false)
    };
    spawner.spawn(token);

    let server = match Server::parse(SERVER, PATH) {
        Ok(s) => Server { token: TOKEN, ..s },
        Err(e) => {
            semihosting::line(format_args!("SSE_SERVER {SERVER}: {e}"));
            semihosting::exit(false)
        }
    };
    let mut policy = Policy::DEFAULT;
    policy.idle_timeout = sse_core_duration(IDLE_TIMEOUT_MS);
    stack.wait_config_up().await;
    // No hardware RNG on the MPS2: the jitter seed is fixed (tests want determinism anyway).
    let end = sse_embedded_app::run(stack, &server, policy, 0x5eed, &mut Semihosting).await;
    semihosting::line(format_args!(
        "end {end} at {} ms",
        embassy_time::Instant::now().as_millis()
    ));
    semihosting::exit(end == End::SessionEnded)
}

/// Parses the build-time millisecond setting; a malformed value keeps the default.
fn sse_core_duration(ms: &str) -> sse_embedded_app::Duration {
    sse_embedded_app::Duration::from_millis(ms.parse().unwrap_or(45_000))
}
