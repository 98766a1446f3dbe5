//! Board support for QEMU's MPS2-AN386 (Cortex-M4F at 25 MHz): the SysTick time driver, the
//! LAN9118 network driver and a semihosting status display, shared by the `sse-qemu` firmware
//! and the `bare-qemu` size baseline.
#![no_std]

pub mod lan9118;
pub mod semihosting;
pub mod time_driver;

use embassy_net::{Ipv4Address, Ipv4Cidr, StaticConfigV4};

/// The board's address in the test network namespace (`embedded/run-e2e.sh`); the server side of
/// the tap is 192.168.69.100.
pub const IP: Ipv4Address = Ipv4Address::new(192, 168, 69, 2);
/// A locally administered MAC address.
pub const MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];

/// Static IPv4 configuration: the test network has no DHCP server.
pub fn net_config() -> embassy_net::Config {
    embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(IP, 24),
        gateway: None,
        dns_servers: heapless::Vec::new(),
    })
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    semihosting::line(format_args!("PANIC {info}"));
    semihosting::exit(false)
}
