//! A polled `embassy-net-driver` for the SMSC LAN9118 Ethernet controller as QEMU models it
//! (`hw/net/lan9118.c`), mapped at `0x4020_0000` on the MPS2 boards.
//!
//! Every register is a 32-bit MMIO word. Frames move through FIFOs:
//! * transmit: command A (`FIRST_SEG | LAST_SEG | len`), command B (`len`), then `ceil(len/4)`
//!   little-endian data words; QEMU sends the frame at once and queues one TX status word, which
//!   we drain.
//! * receive: when `RX_FIFO_INF[23:16]` (status count) is non-zero, one `RX_STATUS` word gives the
//!   frame length in bits 29:16 *including the 4-byte FCS*, then `ceil(len/4)` data words follow.
//!
//! Receive readiness is polled from the 1 kHz SysTick ([`on_tick`]), which wakes the embassy-net
//! runner only when a frame is waiting. This driver is written against QEMU's model: on real
//! silicon `TX_FIFO_INF` free space counts bytes (QEMU counts words) and the PHY needs bringing up.

use core::ptr;
use core::task::Context;

use embassy_net_driver::{Capabilities, HardwareAddress, LinkState};
use embassy_sync::waitqueue::AtomicWaker;

/// Base address of the LAN9118 on QEMU mps2-an385/an386.
pub const MPS2_BASE: usize = 0x4020_0000;
/// Largest Ethernet frame without FCS (1500 payload + 14 header).
const MTU: usize = 1514;
/// Receive buffer: a maximal frame plus FCS, rounded up to whole words.
const RX_BUF: usize = (MTU + 4).div_ceil(4) * 4;

// Register offsets (datasheet section 5.3, QEMU lan9118.c).
const RX_DATA_FIFO: usize = 0x00;
const TX_DATA_FIFO: usize = 0x20;
const RX_STATUS_FIFO: usize = 0x40;
const TX_STATUS_FIFO: usize = 0x48;
const BYTE_TEST: usize = 0x64;
const TX_CFG: usize = 0x70;
const HW_CFG: usize = 0x74;
const RX_FIFO_INF: usize = 0x7c;
const TX_FIFO_INF: usize = 0x80;
const MAC_CSR_CMD: usize = 0xa4;
const MAC_CSR_DATA: usize = 0xa8;

const BYTE_TEST_VALUE: u32 = 0x8765_4321;
const HW_CFG_SRST: u32 = 1 << 0;
const TX_CFG_TX_ON: u32 = 1 << 1;
const MAC_CSR_BUSY: u32 = 1 << 31;
const TX_CMD_A_FIRST: u32 = 1 << 13;
const TX_CMD_A_LAST: u32 = 1 << 12;
const RX_STS_ERROR: u32 = 1 << 15;

// MAC registers behind MAC_CSR_CMD/DATA.
const MAC_CR: u32 = 1;
const MAC_ADDRH: u32 = 2;
const MAC_ADDRL: u32 = 3;
const MAC_CR_RXEN: u32 = 1 << 2;
const MAC_CR_TXEN: u32 = 1 << 3;
const MAC_CR_FDPX: u32 = 1 << 20;

/// Bounded spin for self-clearing bits (reset, MAC CSR busy); QEMU clears them at once.
const SPIN_LIMIT: u32 = 100_000;

static RX_WAKER: AtomicWaker = AtomicWaker::new();

/// Why [`Lan9118::new`] refused the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitError {
    /// `BYTE_TEST` did not read `0x87654321`: no LAN9118 at that address.
    NotFound,
    /// A self-clearing bit stayed set.
    Timeout,
}

/// Raw register access at a fixed base address.
#[derive(Clone, Copy)]
struct Regs(usize);

impl Regs {
    fn read(self, off: usize) -> u32 {
        // SAFETY: `Regs` is only built for the LAN9118 MMIO window (see `Lan9118::new`), every
        // offset used is a register inside it, and volatile word reads have no side effect
        // beyond the device's own FIFO semantics.
        #[allow(unsafe_code)]
        unsafe {
            ptr::read_volatile((self.0 + off) as *const u32)
        }
    }

    fn write(self, off: usize, value: u32) {
        // SAFETY: as in `read`; the window is device memory, not Rust-owned memory.
        #[allow(unsafe_code)]
        unsafe {
            ptr::write_volatile((self.0 + off) as *mut u32, value)
        }
    }

    fn wait_clear(self, off: usize, bit: u32) -> Result<(), InitError> {
        for _ in 0..SPIN_LIMIT {
            if self.read(off) & bit == 0 {
                return Ok(());
            }
        }
        Err(InitError::Timeout)
    }

    fn mac_write(self, reg: u32, value: u32) -> Result<(), InitError> {
        self.write(MAC_CSR_DATA, value);
        self.write(MAC_CSR_CMD, MAC_CSR_BUSY | reg);
        self.wait_clear(MAC_CSR_CMD, MAC_CSR_BUSY)
    }

    fn rx_pending(self) -> bool {
        (self.read(RX_FIFO_INF) >> 16) & 0xff != 0
    }
}

/// The LAN9118 as an embassy-net device.
pub struct Lan9118 {
    regs: Regs,
    mac: [u8; 6],
    rx: [u8; RX_BUF],
    tx: [u8; MTU],
}

impl Lan9118 {
    /// Resets the controller at `base`, programs `mac` and enables receive and transmit.
    ///
    /// # Safety
    /// `base` must be the address of a LAN9118 register window that nothing else uses.
    ///
    /// # Errors
    /// [`InitError`] if no controller answers or it does not come out of reset.
    #[allow(unsafe_code)]
    pub unsafe fn new(base: usize, mac: [u8; 6]) -> Result<Self, InitError> {
        let regs = Regs(base);
        if regs.read(BYTE_TEST) != BYTE_TEST_VALUE {
            return Err(InitError::NotFound);
        }
        regs.write(HW_CFG, HW_CFG_SRST);
        regs.wait_clear(HW_CFG, HW_CFG_SRST)?;
        let [m0, m1, m2, m3, m4, m5] = mac;
        regs.mac_write(MAC_ADDRL, u32::from_le_bytes([m0, m1, m2, m3]))?;
        regs.mac_write(MAC_ADDRH, u32::from_le_bytes([m4, m5, 0, 0]))?;
        regs.mac_write(MAC_CR, MAC_CR_RXEN | MAC_CR_TXEN | MAC_CR_FDPX)?;
        regs.write(TX_CFG, TX_CFG_TX_ON);
        Ok(Self {
            regs,
            mac,
            rx: [0; RX_BUF],
            tx: [0; MTU],
        })
    }

    /// Pops one received frame into `self.rx`; returns its length without FCS, or `None` if
    /// nothing is waiting or the frame was bad (it is then drained and dropped).
    fn pop_frame(&mut self) -> Option<usize> {
        while self.regs.rx_pending() {
            let status = self.regs.read(RX_STATUS_FIFO);
            let len = ((status >> 16) & 0x3fff) as usize; // includes the FCS
            let words = len.div_ceil(4);
            let good = status & RX_STS_ERROR == 0 && (4 + 14..=RX_BUF).contains(&len);
            for i in 0..words {
                let word = self.regs.read(RX_DATA_FIFO).to_le_bytes();
                if good {
                    self.rx[i * 4..i * 4 + 4].copy_from_slice(&word);
                }
            }
            if good {
                return Some(len - 4);
            }
        }
        None
    }
}

/// Called from the SysTick handler: wakes the network runner when a frame is waiting.
pub fn on_tick() {
    if Regs(MPS2_BASE).rx_pending() {
        RX_WAKER.wake();
    }
}

/// A received frame, already copied out of the FIFO.
pub struct RxToken<'a> {
    frame: &'a mut [u8],
}

/// Room for one frame to send.
pub struct TxToken<'a> {
    regs: Regs,
    buf: &'a mut [u8; MTU],
}

impl embassy_net_driver::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }
}

impl embassy_net_driver::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let len = len.min(MTU);
        let result = f(&mut self.buf[..len]);
        let regs = self.regs;
        regs.write(TX_DATA_FIFO, TX_CMD_A_FIRST | TX_CMD_A_LAST | len as u32);
        regs.write(TX_DATA_FIFO, len as u32);
        for chunk in self.buf[..len].chunks(4) {
            let mut word = [0u8; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            regs.write(TX_DATA_FIFO, u32::from_le_bytes(word));
        }
        // Drain TX status words so the status FIFO never fills.
        while (regs.read(TX_FIFO_INF) >> 16) & 0xff != 0 {
            let _ = regs.read(TX_STATUS_FIFO);
        }
        result
    }
}

impl embassy_net_driver::Driver for Lan9118 {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, cx: &mut Context<'_>) -> Option<(RxToken<'_>, TxToken<'_>)> {
        RX_WAKER.register(cx.waker());
        let len = self.pop_frame()?;
        let regs = self.regs;
        Some((
            RxToken {
                frame: &mut self.rx[..len],
            },
            TxToken {
                regs,
                buf: &mut self.tx,
            },
        ))
    }

    fn transmit(&mut self, cx: &mut Context<'_>) -> Option<TxToken<'_>> {
        // QEMU transmits each frame as soon as its last word is written, so the FIFO
        // (free space in words in QEMU's model) always has room for one more frame here.
        if (self.regs.read(TX_FIFO_INF) & 0xffff) as usize * 4 < MTU + 8 {
            cx.waker().wake_by_ref(); // no TX interrupt: ask to be polled again
            return None;
        }
        Some(TxToken {
            regs: self.regs,
            buf: &mut self.tx,
        })
    }

    fn link_state(&mut self, _cx: &mut Context<'_>) -> LinkState {
        LinkState::Up // QEMU's PHY reports link up from reset
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.max_transmission_unit = MTU;
        caps.max_burst_size = Some(1);
        caps
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ethernet(self.mac)
    }
}
