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
}

impl<'a> Server<'a> {
    /// Splits `host:port` and checks `path`.
    ///
    /// # Errors
    /// [`AddrError`] for a missing host, port or leading `/`.
    pub fn parse(addr: &'a str, path: &'a str) -> Result<Self, AddrError> {
        let (host, port) = addr.rsplit_once(':').ok_or(AddrError::BadPort)?;
        let port: u16 = port.parse().map_err(|_| AddrError::BadPort)?;
        if port == 0 {
            return Err(AddrError::BadPort);
        }
        if host.is_empty() {
            return Err(AddrError::NoHost);
        }
        if !path.starts_with('/') {
            return Err(AddrError::BadPath);
        }
        Ok(Self { host, port, path })
    }
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
                path: "/stream"
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
    }
}
