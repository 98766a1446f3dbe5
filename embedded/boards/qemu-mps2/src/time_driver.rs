//! embassy-time driver on the Cortex-M SysTick: a 1 kHz tick counted in a `u64`, and the
//! generic timer queue checked on every tick.
//!
//! The MPS2 boards run the core at 25 MHz (`SYSCLK`), so the reload value is `25_000 - 1`. The
//! tick also polls the LAN9118 (see [`crate::lan9118::on_tick`]): a 1 ms receive latency is fine
//! for a status light and saves an interrupt handler without a PAC.

use core::cell::{Cell, RefCell};
use core::task::Waker;

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::exception;
use critical_section::Mutex;
use embassy_time_driver::Driver;
use embassy_time_queue_utils::Queue;

/// Core clock of the MPS2 FPGA images emulated by QEMU (AN385/AN386).
const SYSCLK_HZ: u32 = 25_000_000;
const TICK_HZ: u32 = 1_000; // must match the `tick-hz-1_000` feature of embassy-time-driver

struct SysTickDriver {
    ticks: Mutex<Cell<u64>>,
    /// Next tick at which the queue has something to wake (`u64::MAX` = nothing).
    alarm: Mutex<Cell<u64>>,
    queue: Mutex<RefCell<Queue>>,
}

impl Driver for SysTickDriver {
    fn now(&self) -> u64 {
        critical_section::with(|cs| self.ticks.borrow(cs).get())
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        critical_section::with(|cs| {
            let mut queue = self.queue.borrow(cs).borrow_mut();
            if queue.schedule_wake(at, waker) {
                let now = self.ticks.borrow(cs).get();
                self.alarm.borrow(cs).set(queue.next_expiration(now));
            }
        });
    }
}

embassy_time_driver::time_driver_impl!(static DRIVER: SysTickDriver = SysTickDriver {
    ticks: Mutex::new(Cell::new(0)),
    alarm: Mutex::new(Cell::new(u64::MAX)),
    queue: Mutex::new(RefCell::new(Queue::new())),
});

/// Starts the 1 kHz tick. Call once, before the executor runs.
pub fn init(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(SYSCLK_HZ / TICK_HZ - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

#[exception]
fn SysTick() {
    critical_section::with(|cs| {
        let ticks = DRIVER.ticks.borrow(cs);
        let now = ticks.get() + 1;
        ticks.set(now);
        let alarm = DRIVER.alarm.borrow(cs);
        if now >= alarm.get() {
            alarm.set(DRIVER.queue.borrow(cs).borrow_mut().next_expiration(now));
        }
    });
    crate::lan9118::on_tick();
}
