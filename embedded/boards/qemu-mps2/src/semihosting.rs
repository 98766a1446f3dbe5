//! Output and exit through ARM semihosting (QEMU `-semihosting-config enable=on,target=native`).

use core::fmt::Write as _;

use cortex_m_semihosting::{debug, hio};

/// Writes one line to the host's stdout. Output is best effort: a failed write is ignored.
pub fn line(args: core::fmt::Arguments<'_>) {
    if let Ok(mut out) = hio::hstdout() {
        let _ = out.write_fmt(args);
        let _ = out.write_str("\n");
    }
}

/// Ends the QEMU run: exit status 0 for `true`, 1 otherwise.
pub fn exit(success: bool) -> ! {
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    #[allow(clippy::empty_loop)]
    loop {}
}
