//! Build-time settings, from environment variables read when the firmware is compiled, with
//! defaults that let CI build without secrets (the firmware then simply fails to join).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `WIFI_SSID` | `sse-status` | network to join |
//! | `WIFI_PASSWORD` | empty | WPA2/WPA3 passphrase; empty joins an open network |
//! | `SSE_SERVER` | `192.168.1.10:8000` | `host:port` of `sse-host serve` (an IPv4 literal or a DNS name) |
//! | `SSE_PATH` | `/stream` | path of the event stream |
//! | `SSE_TOKEN` | empty | bearer token sent as `Authorization: Bearer …` on the stream request; empty sends none (checked while compiling: RFC 6750 `b64token`, at most 128 bytes) |
//! | `CYW43_FIRMWARE_DIR` | `../shared/firmware/cyw43` beside the repository (`.cargo/config.toml`) | directory holding `43439A0.bin`, `43439A0_clm.bin`, `nvram_rp2040.bin` |

/// Wi-Fi network name.
pub const WIFI_SSID: &str = match option_env!("WIFI_SSID") {
    Some(s) => s,
    None => "sse-status",
};
/// Wi-Fi passphrase; empty means an open network.
pub const WIFI_PASSWORD: &str = match option_env!("WIFI_PASSWORD") {
    Some(s) => s,
    None => "",
};
/// `host:port` of the server.
pub const SSE_SERVER: &str = match option_env!("SSE_SERVER") {
    Some(s) => s,
    None => "192.168.1.10:8000",
};
/// Path of the event stream.
pub const SSE_PATH: &str = match option_env!("SSE_PATH") {
    Some(s) => s,
    None => "/stream",
};
/// Bearer token for the stream request; empty sends none.
pub const SSE_TOKEN: &str = match option_env!("SSE_TOKEN") {
    Some(s) => s,
    None => "",
};
const _: () = assert!(
    sse_embedded_app::bearer_token_ok(SSE_TOKEN),
    "SSE_TOKEN: at most 128 of A-Z a-z 0-9 - . _ ~ + / then = padding (RFC 6750 b64token)"
);
