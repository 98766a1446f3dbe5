//! Every buffer the app uses, sized here and nowhere else, with the RAM it costs.
//!
//! | buffer | bytes | why this size |
//! |---|---|---|
//! | TCP receive ([`TCP_RX`]) | 2048 | the advertised window: more than one 1460-byte segment, so a burst of small events never stalls the server |
//! | TCP transmit ([`TCP_TX`]) | 512 | carries only the request |
//! | request ([`REQUEST`]) | 448 | `GET` line with `from=` and `events=`, `Host`, `Last-Event-ID` (an `<epoch>-<idx>` id of up to [`LINE`] bytes), `Authorization` (288 bytes at most with a 40-byte host and no token, 440 with a [`TOKEN_LEN`](crate::TOKEN_LEN) token) |
//! | response head ([`HEAD`]) | 512 | our server's head is about 200 bytes; a proxy's extra headers fit, a larger head is an error |
//! | read chunk ([`READ`]) | 256 | one socket read, decoded in place (chunked framing removed); at least this, in the buffer the request is written to first ([`IO`]) |
//! | parser line ([`LINE`]) | 64 | event type, `id` value, comment: our event names are far shorter, and an `<epoch>-<idx>` id is 53 bytes at most |
//! | parser data ([`DATA`]) | 2048 | one `state` JSON (about 600–900 bytes from `sse-host`); longer `message` data is cut and counted, not parsed |
//!
//! Plus the parsed [`sse_core::agent::state::DeviceState`] (about 400 bytes) and the follow session's
//! own state. Everything lives in the `run` future, which the board's executor places in a
//! static task pool, so `arm-none-eabi-size` counts it as `.bss`. `embedded/size-budget.txt` holds
//! the limits CI checks.

/// smoltcp receive buffer of the one TCP socket.
pub const TCP_RX: usize = 2048;
/// smoltcp transmit buffer of the one TCP socket.
pub const TCP_TX: usize = 512;
/// Bytes for the request line and headers.
pub const REQUEST: usize = 448;
/// Largest response head accepted.
pub const HEAD: usize = 512;
/// One socket read.
pub const READ: usize = 256;
/// The one I/O buffer: the request is written to it, then every read goes to it.
pub const IO: usize = if REQUEST > READ { REQUEST } else { READ };
/// sse-core parser: longest field line kept (event type, id, comment).
pub const LINE: usize = 64;
/// sse-core parser: longest joined `data` kept for one event.
pub const DATA: usize = 2048;
