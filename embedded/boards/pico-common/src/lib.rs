//! What the Pico W (RP2040) and Pico 2 W (RP2350) firmwares share: bringing up the CYW43439 over
//! PIO SPI, joining Wi-Fi with retry and re-joining after a loss, DHCP, the LED task, and the two `main`s (the SSE status
//! light and the bare-stack size baseline). The chip is chosen by the board workspace
//! (`embassy-rp/rp2040` or `embassy-rp/rp235xa`); pins are the same on both boards.
#![no_std]

pub mod led;
pub mod settings;

use cyw43::{A4, Aligned, JoinOptions};
use cyw43_pio::PioSpi;
use defmt::{info, unwrap, warn};
use embassy_executor::Spawner;
use embassy_futures::select::select;
use embassy_net::{Stack, StackResources};
use embassy_rp::clocks::RoscRng;
use embassy_rp::gpio::{Level, Output};
use embassy_rp::peripherals::{DMA_CH0, PIO0};
use embassy_rp::pio::Pio;
use embassy_rp::{Peripherals, bind_interrupts, dma, pio};
use embassy_time::{Duration, with_timeout};
use sse_embedded_app::led::Pattern;
use static_cell::StaticCell;
use {defmt_rtt as _, panic_probe as _};

bind_interrupts!(struct Irqs {
    PIO0_IRQ_0 => pio::InterruptHandler<PIO0>;
    DMA_IRQ_0 => dma::InterruptHandler<DMA_CH0>;
});

// The CYW43439 firmware, country database and board NVRAM, read at build time from
// `$CYW43_FIRMWARE_DIR` (never committed; Infineon Permissive Binary License).
static FIRMWARE: &Aligned<A4, [u8]> =
    cyw43::aligned_bytes!(concat!(env!("CYW43_FIRMWARE_DIR"), "/43439A0.bin"));
static CLM: &Aligned<A4, [u8]> =
    cyw43::aligned_bytes!(concat!(env!("CYW43_FIRMWARE_DIR"), "/43439A0_clm.bin"));
static NVRAM: &Aligned<A4, [u8]> =
    cyw43::aligned_bytes!(concat!(env!("CYW43_FIRMWARE_DIR"), "/nvram_rp2040.bin"));

/// Sockets: DHCP, DNS and the one TCP connection.
const SOCKETS: usize = 3;
/// Wait between Wi-Fi join attempts (not SSE reconnects: those follow sse-core's policy).
const JOIN_RETRY: Duration = Duration::from_secs(5);

/// Which wireless module, for its SPI clock.
#[derive(Clone, Copy)]
pub enum Module {
    /// Raspberry Pi Pico W.
    PicoW,
    /// Raspberry Pi Pico 2 W (RM2 module, slower SPI clock).
    Pico2W,
}

type Cyw43Spi = PioSpi<'static, PIO0, 0>;

#[embassy_executor::task]
async fn cyw43_task(runner: cyw43::Runner<'static, cyw43::SpiBus<Output<'static>, Cyw43Spi>>) -> ! {
    runner.run().await
}

#[embassy_executor::task]
async fn net_task(mut runner: embassy_net::Runner<'static, cyw43::NetDriver<'static>>) -> ! {
    runner.run().await
}

/// A board whose Wi-Fi task is running and that has an IPv4 address.
pub struct Board {
    /// The network stack, configured by DHCP.
    pub stack: Stack<'static>,
    /// Hardware randomness for the reconnect jitter.
    pub seed: u64,
}

/// Powers the CYW43439, starts the network stack and the Wi-Fi task (`led` picks the one that
/// also plays the status light), and waits for the first join and DHCP.
async fn bring_up(spawner: Spawner, p: Peripherals, module: Module, led: bool) -> Board {
    let pwr = Output::new(p.PIN_23, Level::Low);
    let cs = Output::new(p.PIN_25, Level::High);
    let mut pio = Pio::new(p.PIO0, Irqs);
    let divider = match module {
        Module::PicoW => cyw43_pio::DEFAULT_CLOCK_DIVIDER,
        Module::Pico2W => cyw43_pio::RM2_CLOCK_DIVIDER,
    };
    let spi = PioSpi::new(
        &mut pio.common,
        pio.sm0,
        divider,
        pio.irq0,
        cs,
        p.PIN_24,
        p.PIN_29,
        dma::Channel::new(p.DMA_CH0, Irqs),
    );

    static STATE: StaticCell<cyw43::State> = StaticCell::new();
    let (device, mut control, runner) =
        cyw43::new(STATE.init(cyw43::State::new()), pwr, spi, FIRMWARE, NVRAM).await;
    spawner.spawn(unwrap!(cyw43_task(runner)));
    control.init(CLM).await;
    control
        .set_power_management(cyw43::PowerManagementMode::PowerSave)
        .await;

    let seed = RoscRng.next_u64();
    static RESOURCES: StaticCell<StackResources<SOCKETS>> = StaticCell::new();
    let config = embassy_net::Config::dhcpv4(Default::default());
    let (stack, runner) =
        embassy_net::new(device, config, RESOURCES.init(StackResources::new()), seed);
    spawner.spawn(unwrap!(net_task(runner)));
    if led {
        spawner.spawn(unwrap!(led::wifi_led_task(control, stack)));
    } else {
        spawner.spawn(unwrap!(wifi_task(control, stack)));
    }

    stack.wait_config_up().await;
    if let Some(cfg) = stack.config_v4() {
        info!("wifi: address {}", cfg.address);
    }
    Board { stack, seed }
}

/// Joins `settings::WIFI_SSID`, retrying every [`JOIN_RETRY`] until it works. The LED blinks
/// the "connecting" pattern while waiting between attempts; during an attempt the CYW43 is busy
/// and the LED holds its level.
async fn join(control: &mut cyw43::Control<'static>) {
    let mut attempt: u32 = 0;
    loop {
        attempt = attempt.saturating_add(1);
        let options = if settings::WIFI_PASSWORD.is_empty() {
            JoinOptions::new_open()
        } else {
            JoinOptions::new(settings::WIFI_PASSWORD.as_bytes())
        };
        control.gpio_set(0, true).await;
        match control.join(settings::WIFI_SSID, options).await {
            Ok(()) => {
                info!("wifi: joined {}", settings::WIFI_SSID);
                return;
            }
            Err(e) => {
                warn!(
                    "wifi: join {} failed (attempt {}): {}",
                    settings::WIFI_SSID,
                    attempt,
                    e
                );
                let _ = with_timeout(JOIN_RETRY, led::play(control, Pattern::Connecting)).await;
            }
        }
    }
}

/// Keeps Wi-Fi joined: joins, waits for the link to drop (the CYW43 reports deauthentication,
/// disassociation and link loss), leaves and joins again with the same retry policy.
async fn keep_joined(
    control: &mut cyw43::Control<'static>,
    stack: Stack<'static>,
    while_up: impl AsyncFnMut(&mut cyw43::Control<'static>),
) -> ! {
    let mut while_up = while_up;
    loop {
        join(control).await;
        select(stack.wait_link_down(), while_up(control)).await;
        warn!("wifi: link lost, joining again");
        control.leave().await;
    }
}

/// The Wi-Fi task of the size baseline: joins and re-joins, no status light.
#[embassy_executor::task]
async fn wifi_task(mut control: cyw43::Control<'static>, stack: Stack<'static>) -> ! {
    keep_joined(
        &mut control,
        stack,
        async |_: &mut cyw43::Control<'static>| core::future::pending::<()>().await,
    )
    .await
}

/// The status light: follow the server and show its state on the LED until the session ends.
pub async fn run_status_light(spawner: Spawner, p: Peripherals, module: Module) -> ! {
    let board = bring_up(spawner, p, module, true).await;
    let mut display = led::LedDisplay;
    match sse_embedded_app::Server::parse(settings::SSE_SERVER, settings::SSE_PATH) {
        Ok(server) => {
            let server = sse_embedded_app::Server {
                token: settings::SSE_TOKEN,
                ..server
            };
            let end = sse_embedded_app::run(
                board.stack,
                &server,
                sse_embedded_app::Policy::DEFAULT,
                board.seed,
                &mut display,
            )
            .await;
            info!("stopped: {}", end);
        }
        Err(e) => warn!(
            "SSE_SERVER {} is not host:port: {}",
            settings::SSE_SERVER,
            e
        ),
    }
    core::future::pending().await
}

/// The size baseline: the same bring-up and one TCP socket without the SSE app. Resolves
/// `SSE_SERVER` like the app does (an IPv4 literal, or a DNS query: embassy-net's resolver is
/// part of the network stack, not of the SSE app), GETs the stream once and logs how many bytes
/// arrived.
pub async fn run_bare(spawner: Spawner, p: Peripherals, module: Module) -> ! {
    let board = bring_up(spawner, p, module, false).await;
    let Some((host, port)) = settings::SSE_SERVER
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
    else {
        warn!("bare: SSE_SERVER must be host:port");
        core::future::pending().await
    };
    let addr = match host.parse::<core::net::Ipv4Addr>() {
        Ok(ip) => Some(ip.into()),
        Err(_) => board
            .stack
            .dns_query(host, embassy_net::dns::DnsQueryType::A)
            .await
            .ok()
            .and_then(|found| found.first().copied()),
    };
    let Some(addr) = addr else {
        warn!("bare: cannot resolve {}", host);
        core::future::pending().await
    };
    let mut rx = [0u8; 2048];
    let mut tx = [0u8; 512];
    let mut socket = embassy_net::tcp::TcpSocket::new(board.stack, &mut rx, &mut tx);
    if socket.connect((addr, port)).await.is_ok() {
        let request = b"GET /stream HTTP/1.1\r\nHost: sse\r\nConnection: close\r\n\r\n";
        if embedded_io_async::Write::write_all(&mut socket, request)
            .await
            .is_ok()
        {
            let mut buf = [0u8; 256];
            let mut total = 0usize;
            while let Ok(n @ 1..) = socket.read(&mut buf).await {
                total += n;
            }
            info!("bare: {} bytes", total);
        }
    }
    core::future::pending().await
}
