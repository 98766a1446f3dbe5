//! Where the stream is: `host:port` plus a path, given by the board (from build-time settings).

/// Why a server address was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AddrError {
    /// No `:port`, or the port is not a number in 1..=65535.
    BadPort,
    /// Empty host.
    NoHost,
    /// The path does not start with `/`.
    BadPath,
}

impl core::fmt::Display for AddrError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::BadPort => "expected host:port with a port in 1..=65535",
            Self::NoHost => "empty host",
            Self::BadPath => "path must start with '/'",
        })
    }
}

/// The server to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Server<'a> {
    /// IPv4 literal, or a DNS name (needs the `dns` feature).
    pub host: &'a str,
    /// TCP port.
    pub port: u16,
    /// Path of the stream, e.g. `/stream`.
    pub path: &'a str,
    /// Sent as `Authorization: Bearer <token>` on the stream request; empty sends none. Must
    /// pass [`bearer_token_ok`] (the boards check their build-time `SSE_TOKEN` with it at
    /// compile time, the desktop runner at start) and have at most [`TOKEN_LEN`] bytes.
    pub token: &'a str,
}

/// Longest bearer token the request buffer ([`crate::config::REQUEST`]) has room for.
pub const TOKEN_LEN: usize = 128;

/// `token` is empty (no token) or an RFC 6750 `b64token` (ASCII letters, digits and
/// `-._~+/`, then any `=` padding) of at most [`TOKEN_LEN`] bytes: nothing that could end the
/// header line. A `const fn`, so that a board checks its build-time token while compiling and
/// the check costs no flash.
#[must_use]
pub const fn bearer_token_ok(token: &str) -> bool {
    let b = token.as_bytes();
    if b.len() > TOKEN_LEN {
        return false;
    }
    let mut i = 0;
    let mut padding = false;
    while i < b.len() {
        let c = b[i];
        if c == b'=' && i > 0 {
            padding = true;
        } else if padding
            || !(c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/'))
        {
            return false;
        }
        i += 1;
    }
    true
}

impl<'a> Server<'a> {
    /// Splits `host:port` and checks `path`; no token (set [`Server::token`] for one).
    ///
    /// # Errors
    /// [`AddrError`] for a missing host, port or leading `/`.
    pub fn parse(addr: &'a str, path: &'a str) -> Result<Self, AddrError> {
        let (host, port) = addr.rsplit_once(':').ok_or(AddrError::BadPort)?;
        let port = decimal(port)
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)
            .ok_or(AddrError::BadPort)?;
        if host.is_empty() {
            return Err(AddrError::NoHost);
        }
        if !path.starts_with('/') {
            return Err(AddrError::BadPath);
        }
        Ok(Self {
            host,
            port,
            path,
            token: "",
        })
    }
}

/// An IPv4 address in dotted-decimal form (`a.b.c.d`, each 0..=255), as four bytes.
///
/// Hand-written, like [`decimal`]: `core`'s generic address and integer parsers cost several
/// hundred bytes of flash on a device that parses one address.
pub fn ipv4(s: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let (mut filled, mut value, mut digits) = (0, 0u16, 0);
    for b in s.bytes().chain([b'.']) {
        if b == b'.' {
            let slot = out.get_mut(filled).filter(|_| digits > 0)?;
            *slot = u8::try_from(value).ok()?;
            (filled, value, digits) = (filled + 1, 0, 0);
        } else if b.is_ascii_digit() && digits < 3 {
            (value, digits) = (value * 10 + u16::from(b - b'0'), digits + 1);
        } else {
            return None;
        }
    }
    (filled == 4).then_some(out)
}

/// A non-empty run of ASCII digits, at most 9 of them.
fn decimal(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 9 {
        return None;
    }
    s.bytes().try_fold(0u32, |v, b| {
        b.is_ascii_digit().then(|| v * 10 + u32::from(b - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_port_and_path() {
        assert_eq!(
            Server::parse("192.168.69.100:8000", "/stream"),
            Ok(Server {
                host: "192.168.69.100",
                port: 8000,
                path: "/stream",
                token: "",
            })
        );
        assert_eq!(
            Server::parse("agent.local:80", "/s").map(|s| s.host),
            Ok("agent.local")
        );
        assert_eq!(Server::parse("host", "/stream"), Err(AddrError::BadPort));
        assert_eq!(Server::parse("host:0", "/stream"), Err(AddrError::BadPort));
        assert_eq!(
            Server::parse("host:99999", "/stream"),
            Err(AddrError::BadPort)
        );
        assert_eq!(Server::parse(":8000", "/stream"), Err(AddrError::NoHost));
        assert_eq!(
            Server::parse("host:8000", "stream"),
            Err(AddrError::BadPath)
        );
        assert_eq!(Server::parse("host:+80", "/"), Err(AddrError::BadPort));
        assert_eq!(Server::parse("host:", "/"), Err(AddrError::BadPort));
        assert_eq!(Server::parse("host:65535", "/").map(|s| s.port), Ok(65535));
        assert_eq!(Server::parse("host:65536", "/"), Err(AddrError::BadPort));
    }

    #[test]
    fn bearer_tokens() {
        for ok in [
            "",
            "abc",
            "mF_9.B5f-4.1JqM",
            "a+b/c~d==",
            "YWxhZGRpbjpvcGVuc2VzYW1l=",
        ] {
            assert!(bearer_token_ok(ok), "{ok}");
        }
        assert!(bearer_token_ok(&"t".repeat(TOKEN_LEN)));
        for bad in [
            "a b",
            "a\r\nX-Evil: 1",
            "tok\n",
            "=abc",
            "ab=c",
            "tök",
            "a,b",
            "\"a\"",
        ] {
            assert!(!bearer_token_ok(bad), "{bad:?}");
        }
        assert!(!bearer_token_ok(&"t".repeat(TOKEN_LEN + 1)));
        // Usable where the boards use it: in a constant.
        const _: () = assert!(bearer_token_ok("build-time"));
    }

    #[test]
    fn ipv4_literals() {
        assert_eq!(ipv4("192.168.69.100"), Some([192, 168, 69, 100]));
        assert_eq!(ipv4("0.0.0.0"), Some([0, 0, 0, 0]));
        assert_eq!(ipv4("255.255.255.255"), Some([255; 4]));
        for bad in [
            "",
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "1..2.3",
            "a.b.c.d",
            "1.2.3.4 ",
            "agent.local",
            "1.2.3.-4",
            "0001.2.3.4",
        ] {
            assert_eq!(ipv4(bad), None, "{bad}");
        }
    }
}
