//! Runs the status-light app on a PC: the same `sse-embedded-app` code as the firmware, on
//! embassy's std executor and time driver, with embassy-net speaking Ethernet over a Linux TAP.
//!
//! Run (as root; everything stays inside a network namespace):
//! ```sh
//! ip netns add sse; ip netns exec sse ip link set lo up
//! ip netns exec sse ip tuntap add name tap99 mode tap
//! ip netns exec sse ip link set tap99 up
//! ip netns exec sse ip addr add 192.168.69.100/24 dev tap99
//! ip netns exec sse sse-host serve --bind 192.168.69.100:8000 --demo &
//! ip netns exec sse env TAP=tap99 cargo run -p sse-desktop
//! ```
//! Expected output: one `status ...` line per change and one `message idx=N ...` line per
//! message; the process exits 0 when the server ends the session.
//!
//! Environment: `TAP` (default `tap99`), `SSE_SERVER` (`192.168.69.100:8000`), `SSE_PATH`
//! (`/stream`), `SSE_IP` (the app's address, `192.168.69.2`), `SSE_SEED` (jitter seed),
//! `SSE_IDLE_TIMEOUT_MS` (watchdog; sse-core's default 45 s otherwise), `SSE_TOKEN` (bearer
//! token sent as `Authorization: Bearer …` on the stream request; empty or unset sends none).

use std::io::Write as _;
use std::net::Ipv4Addr;
use std::process::ExitCode;

use embassy_executor::{Executor, Spawner};
use embassy_net::{Ipv4Cidr, Runner, StackResources, StaticConfigV4};
use embassy_net_tuntap::TunTapDevice;
use sse_embedded_app::{Duration, End, Note, Policy, Server, StatusDisplay, View};
use static_cell::StaticCell;

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, TunTapDevice>) -> ! {
    runner.run().await
}

/// Prints what a status light would show, one line per change, as the QEMU board does.
struct Stdout;

impl StatusDisplay for Stdout {
    fn show(&mut self, view: &View) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{view}");
        let _ = out.flush();
    }

    fn note(&mut self, note: &Note<'_>) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{note}");
        let _ = out.flush();
    }
}

fn env_or(name: &str, default: &str) -> &'static str {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_owned())
        .leak()
}

#[embassy_executor::task]
async fn main_task(spawner: Spawner) {
    let code = match follow(spawner).await {
        Ok(end) => {
            println!("end {end}");
            if end == End::SessionEnded { 0 } else { 2 }
        }
        Err(e) => {
            eprintln!("sse-desktop: {e}");
            1
        }
    };
    std::process::exit(code);
}

async fn follow(spawner: Spawner) -> Result<End, String> {
    let tap = env_or("TAP", "tap99");
    let server = Server::parse(
        env_or("SSE_SERVER", "192.168.69.100:8000"),
        env_or("SSE_PATH", "/stream"),
    )
    .map_err(|e| format!("SSE_SERVER: {e}"))?;
    let token = env_or("SSE_TOKEN", "");
    if !sse_embedded_app::bearer_token_ok(token) {
        return Err(format!(
            "SSE_TOKEN: expected at most {} of A-Z a-z 0-9 - . _ ~ + / then = padding \
             (an RFC 6750 bearer token)",
            sse_embedded_app::TOKEN_LEN
        ));
    }
    let server = Server { token, ..server };
    let ip: Ipv4Addr = env_or("SSE_IP", "192.168.69.2")
        .parse()
        .map_err(|e| format!("SSE_IP: {e}"))?;
    let seed: u64 = env_or("SSE_SEED", "1")
        .parse()
        .map_err(|e| format!("SSE_SEED: {e}"))?;
    let mut policy = Policy::DEFAULT;
    if let Ok(ms) = std::env::var("SSE_IDLE_TIMEOUT_MS") {
        let ms = ms
            .parse()
            .map_err(|e| format!("SSE_IDLE_TIMEOUT_MS: {e}"))?;
        policy.idle_timeout = Duration::from_millis(ms);
    }

    let device = TunTapDevice::new(tap)
        .map_err(|e| format!("open TAP {tap}: {e} (run as root, inside the netns)"))?;
    let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(ip, 24),
        gateway: None,
        dns_servers: heapless::Vec::new(),
    });
    static RESOURCES: StaticCell<StackResources<3>> = StaticCell::new();
    let (stack, runner) =
        embassy_net::new(device, config, RESOURCES.init(StackResources::new()), seed);
    spawner.spawn(net_task(runner).map_err(|e| format!("spawn: {e:?}"))?);
    Ok(sse_embedded_app::run(stack, &server, policy, seed, &mut Stdout).await)
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    static EXECUTOR: StaticCell<Executor> = StaticCell::new();
    EXECUTOR.init(Executor::new()).run(|spawner| {
        if let Ok(token) = main_task(spawner) {
            spawner.spawn(token);
        }
    })
}
