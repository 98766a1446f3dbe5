//! The size baseline: the same board, executor, network stack and one TCP socket as `sse-qemu`,
//! without the SSE app and sse-core. It GETs `/stream` once, counts the bytes until the server
//! closes, prints `RESULT bytes=N` and exits. `embedded/size-check.sh` subtracts its size from
//! `sse-qemu`'s to check the app's budget.
#![no_std]
#![no_main]

use embassy_executor::Spawner;
use embassy_net::tcp::TcpSocket;
use embassy_net::{IpEndpoint, Ipv4Address, Runner, StackResources};
use sse_board_qemu_mps2::{lan9118::Lan9118, semihosting, time_driver};
use static_cell::StaticCell;

type Device = Lan9118;

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, Device>) -> ! {
    runner.run().await
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let Some(cp) = cortex_m::Peripherals::take() else {
        semihosting::exit(false)
    };
    time_driver::init(cp.SYST);
    // SAFETY: the MPS2 LAN9118 window is used by this driver only.
    #[allow(unsafe_code)]
    let device = match unsafe {
        Lan9118::new(
            sse_board_qemu_mps2::lan9118::MPS2_BASE,
            sse_board_qemu_mps2::MAC,
        )
    } {
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
    stack.wait_config_up().await;
    semihosting::line(format_args!(
        "net up at {} ms",
        embassy_time::Instant::now().as_millis()
    ));

    let mut rx = [0u8; 2048];
    let mut tx = [0u8; 512];
    let mut socket = TcpSocket::new(stack, &mut rx, &mut tx);
    let server = IpEndpoint::new(Ipv4Address::new(192, 168, 69, 100).into(), 8000);
    if let Err(e) = socket.connect(server).await {
        semihosting::line(format_args!("connect failed: {e:?}"));
        semihosting::exit(false);
    }
    let request = b"GET /stream HTTP/1.1\r\nHost: 192.168.69.100\r\nConnection: close\r\n\r\n";
    if embedded_io_async::Write::write_all(&mut socket, request)
        .await
        .is_err()
    {
        semihosting::exit(false);
    }
    let mut buf = [0u8; 256];
    let mut total = 0usize;
    loop {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
    semihosting::line(format_args!(
        "RESULT bytes={total} at {} ms",
        embassy_time::Instant::now().as_millis()
    ));
    semihosting::exit(true)
}
