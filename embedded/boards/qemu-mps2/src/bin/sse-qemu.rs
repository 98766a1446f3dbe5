#![no_std]
#![no_main]
use sse_board_qemu_mps2 as _;
#[cortex_m_rt::entry]
fn main() -> ! { sse_board_qemu_mps2::semihosting::exit(true) }
