//! Who may call what, in one place for the router (`routes.rs`) and the fast `/stream` path
//! (`fast_stream.rs`):
//!
//! - **Host** (DNS rebinding): on a loopback bind only loopback names (`localhost`,
//!   `*.localhost`, `127.0.0.0/8`, `[::1]`) and `--allowed-host` names are served; a page on
//!   `evil.example` whose name was re-pointed at 127.0.0.1 gets 421.
//! - **Cross-site writes** (CSRF): a write whose `Sec-Fetch-Site` is not `same-origin`/`none`,
//!   or whose `Origin` is neither the request's own host nor `--cors-origin`, gets 403; a body
//!   that is not `Content-Type: application/json` gets 415 (a browser cannot send that type
//!   cross-site without a CORS preflight, which we do not grant).
//! - **Tokens**: `--token` on writes, and on reads unless `--open-reads`; `--read-token` on
//!   reads only. Reads take `Authorization: Bearer` or `?access_token=` (RFC 6750 §2.3, for
//!   `EventSource`, which cannot set headers); writes take the header only.
//! - **Headers**: [`SECURITY_HEADERS`] on every response.

use super::{ApiError, ServerConfig};
use axum::http::{HeaderMap, StatusCode, header};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Sent on every response: the UI loads only its own files, is never framed, leaks no
/// referrer, and no response is sniffed into another type.
pub(super) const SECURITY_HEADERS: [(&str, &str); 4] = [
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; connect-src 'self'; \
         img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
];

/// The host part of an authority (`host`, `host:port`, `[v6]:port`), without brackets;
/// `None` when it is malformed.
fn hostname(authority: &str) -> Option<&str> {
    let is_port = |p: &str| p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = authority.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        let port_ok = after.is_empty() || after.strip_prefix(':').is_some_and(is_port);
        return port_ok.then_some(ip);
    }
    let host = match authority.rsplit_once(':') {
        Some((h, p)) => is_port(p).then_some(h)?,
        None => authority,
    };
    (!host.is_empty() && !host.contains(['/', '@', '[', ']', ' ', ':'])).then_some(host)
}

/// `localhost`, `*.localhost` (RFC 6761 §6.3), `127.0.0.0/8` or `::1`.
fn is_loopback_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    host.eq_ignore_ascii_case("localhost")
        || host
            .len()
            .checked_sub(".localhost".len())
            .and_then(|i| host.get(i..))
            .is_some_and(|tail| tail.eq_ignore_ascii_case(".localhost"))
        || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
        || host.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether this server answers a request for `host` (the `Host` header, or the authority of
/// an absolute-form request target). `None`: the request named no host.
///
/// # Errors
/// 400 for a missing or malformed host, 421 for a host this server does not serve.
pub(super) fn check_host(config: &ServerConfig, host: Option<&str>) -> Result<(), ApiError> {
    let Some(authority) = host else {
        return Err(ApiError::bad_request("missing Host header"));
    };
    let Some(name) = hostname(authority) else {
        return Err(ApiError::bad_request(format!(
            "malformed Host header {authority:?}"
        )));
    };
    let restricted = config.bind.ip().is_loopback() || !config.allowed_hosts.is_empty();
    if !restricted
        || is_loopback_name(name)
        || config.allowed_hosts.iter().any(|a| {
            a.trim_end_matches('.')
                .eq_ignore_ascii_case(name.trim_end_matches('.'))
        })
    {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::MISDIRECTED_REQUEST,
        format!(
            "this server does not serve the host {name:?} (only loopback names{}); \
             start it with --allowed-host {name} to allow it",
            if config.allowed_hosts.is_empty() {
                ""
            } else {
                " and --allowed-host names"
            }
        ),
    ))
}

/// Refuses a write sent by a page of another site.
///
/// # Errors
/// 403 when `Sec-Fetch-Site` says cross-site or same-site, or `Origin` is another origin,
/// unless that origin is `--cors-origin`.
pub(crate) fn check_same_origin(
    config: &ServerConfig,
    headers: &HeaderMap,
    host: Option<&str>,
) -> Result<(), ApiError> {
    let origin = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or(""));
    if let (Some(origin), Some(allowed)) = (origin, &config.cors_origin)
        && origin.eq_ignore_ascii_case(allowed.trim_end_matches('/'))
    {
        return Ok(());
    }
    let forbidden = |why: String| {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("cross-site request refused: {why} (allow an origin with --cors-origin)"),
        ))
    };
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("");
        if !site.eq_ignore_ascii_case("same-origin") && !site.eq_ignore_ascii_case("none") {
            return forbidden(format!("Sec-Fetch-Site is {site:?}"));
        }
    }
    if let Some(origin) = origin
        && !same_authority(origin, host.unwrap_or(""))
    {
        return forbidden(format!("Origin {origin:?} is not this server"));
    }
    Ok(())
}

/// `http://h:80` and `https://h:443` are `h`; compared without regard to case.
fn same_authority(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false; // `null`, or not an origin
    };
    let default = match scheme.to_ascii_lowercase().as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => return false,
    };
    let strip = |a: &str| -> String {
        let a = a.to_ascii_lowercase();
        match a.strip_suffix(default) {
            Some(rest) => rest.to_owned(),
            None => a,
        }
    };
    !authority.contains('/') && strip(authority) == strip(host)
}

/// A write's body must be JSON.
///
/// # Errors
/// 415 for any other (or no) `Content-Type`.
pub(super) fn check_json_body(headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("?"));
    let essence = given.map(|t| t.split(';').next().unwrap_or("").trim());
    if essence.is_some_and(|e| e.eq_ignore_ascii_case("application/json")) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        match given {
            Some(t) => format!("Content-Type {t:?} refused: send application/json"),
            None => "no Content-Type: send application/json".to_owned(),
        },
    ))
}

/// Whether reads (`/stream`, `/state`, `/messages`, `/download`, `/metrics`) need a token.
pub(crate) fn reads_protected(config: &ServerConfig) -> bool {
    (config.token.is_some() || config.read_token.is_some()) && !config.open_reads
}

/// The credential of `Authorization: Bearer <credential>` (the scheme in any case).
pub(crate) fn bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| rest.trim_ascii())
}

/// A read is allowed with either token, from the header or from `access_token`.
pub(crate) fn read_allowed(
    config: &ServerConfig,
    authorization: Option<&[u8]>,
    access_token: Option<&[u8]>,
) -> bool {
    if !reads_protected(config) {
        return true;
    }
    let tokens = [&config.token, &config.read_token];
    [authorization.and_then(bearer), access_token]
        .into_iter()
        .flatten()
        .any(|given| {
            tokens
                .iter()
                .filter_map(|t| t.as_deref())
                .any(|t| constant_time_eq(given, t.as_bytes()))
        })
}

/// A write is allowed with the write token, from the header only.
pub(crate) fn write_allowed(config: &ServerConfig, authorization: Option<&[u8]>) -> bool {
    match &config.token {
        None => true,
        Some(t) => authorization
            .and_then(bearer)
            .is_some_and(|given| constant_time_eq(given, t.as_bytes())),
    }
}

/// 401 with `WWW-Authenticate: Bearer`.
pub(crate) fn unauthorized(read: bool) -> axum::response::Response {
    use axum::http::HeaderValue;
    use axum::response::IntoResponse;
    let message = if read {
        "missing or wrong token: send Authorization: Bearer TOKEN (or ?access_token=TOKEN on GET)"
    } else {
        "missing or wrong bearer token: send Authorization: Bearer TOKEN"
    };
    let mut res = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
    res.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    res
}

/// Equal contents, in time that depends on the length only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn config(bind: [u8; 4], allowed: &[&str]) -> ServerConfig {
        ServerConfig {
            bind: (bind, 8080).into(),
            allowed_hosts: allowed.iter().map(|s| (*s).to_owned()).collect(),
            ..ServerConfig::default()
        }
    }

    #[test]
    fn loopback_bind_serves_loopback_names_and_allowed_hosts_only() {
        let c = config([127, 0, 0, 1], &["agent.lan"]);
        for ok in [
            "localhost",
            "LOCALHOST:8080",
            "localhost.",
            "app.localhost:1",
            "127.0.0.1:8080",
            "127.9.9.9",
            "[::1]:8080",
            "[::1]",
            "agent.lan:8080",
            "Agent.LAN",
        ] {
            assert!(check_host(&c, Some(ok)).is_ok(), "{ok}");
        }
        for (bad, status) in [
            ("evil.example", 421),
            ("evil.example:8080", 421),
            ("localhost.evil.example", 421),
            ("10.0.0.1", 421),
            ("[::2]", 421),
            ("127.0.0.1:80:80", 400),
            ("[::1", 400),
            ("", 400),
            ("a@localhost", 400),
        ] {
            let err = check_host(&c, Some(bad)).expect_err(bad);
            assert_eq!(err.status.as_u16(), status, "{bad}");
        }
        let err = check_host(&c, Some("evil.example")).expect_err("foreign");
        assert!(
            err.message.contains("--allowed-host evil.example"),
            "{err:?}"
        );
        assert_eq!(check_host(&c, None).expect_err("none").status, 400);
    }

    #[test]
    fn wide_bind_serves_any_host_unless_names_are_given() {
        assert!(check_host(&config([0, 0, 0, 0], &[]), Some("evil.example")).is_ok());
        let c = config([0, 0, 0, 0], &["agent.lan"]);
        assert!(check_host(&c, Some("agent.lan")).is_ok());
        assert!(check_host(&c, Some("localhost")).is_ok());
        assert!(check_host(&c, Some("evil.example")).is_err());
    }

    #[test]
    fn cross_site_writes_are_refused_unless_the_origin_is_allowed() {
        let mut c = config([127, 0, 0, 1], &[]);
        let host = Some("127.0.0.1:8080");
        let check = |c: &ServerConfig, pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_static(v));
            }
            check_same_origin(c, &h, host).map_err(|e| e.status.as_u16())
        };
        assert_eq!(check(&c, &[]), Ok(()), "curl sends neither header");
        assert_eq!(check(&c, &[("sec-fetch-site", "same-origin")]), Ok(()));
        assert_eq!(check(&c, &[("sec-fetch-site", "none")]), Ok(()));
        assert_eq!(check(&c, &[("origin", "http://127.0.0.1:8080")]), Ok(()));
        assert_eq!(check(&c, &[("sec-fetch-site", "cross-site")]), Err(403));
        assert_eq!(check(&c, &[("sec-fetch-site", "same-site")]), Err(403));
        assert_eq!(check(&c, &[("origin", "http://127.0.0.1:9999")]), Err(403));
        assert_eq!(check(&c, &[("origin", "null")]), Err(403));
        let cross = [
            ("origin", "https://ui.example"),
            ("sec-fetch-site", "cross-site"),
        ];
        assert_eq!(check(&c, &cross), Err(403));
        c.cors_origin = Some("https://ui.example".into());
        assert_eq!(check(&c, &cross), Ok(()));
        assert!(same_authority("http://h", "h:80"));
        assert!(same_authority("https://H:443", "h"));
        assert!(!same_authority("https://h", "h:80"));
    }

    #[test]
    fn only_json_bodies_are_writes() {
        let with = |t: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(t));
            check_json_body(&h).map_err(|e| e.status.as_u16())
        };
        assert_eq!(with("application/json"), Ok(()));
        assert_eq!(with("Application/JSON; charset=utf-8"), Ok(()));
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
        ] {
            assert_eq!(with(bad), Err(415), "{bad}");
        }
        assert_eq!(
            check_json_body(&HeaderMap::new()).map_err(|e| e.status.as_u16()),
            Err(415)
        );
    }

    #[test]
    fn tokens_for_reads_and_writes() {
        let mut c = ServerConfig {
            token: Some("w".into()),
            read_token: Some("r".into()),
            ..ServerConfig::default()
        };
        assert!(read_allowed(&c, Some(b"Bearer w"), None));
        assert!(read_allowed(&c, Some(b"bearer r"), None));
        assert!(read_allowed(&c, None, Some(b"r")));
        assert!(!read_allowed(&c, None, None));
        assert!(!read_allowed(&c, Some(b"Bearer x"), Some(b"")));
        assert!(!read_allowed(&c, Some(b"Basic w"), None));
        assert!(write_allowed(&c, Some(b"Bearer w")));
        assert!(
            !write_allowed(&c, Some(b"Bearer r")),
            "the read token reads only"
        );
        assert!(!write_allowed(&c, None));
        c.open_reads = true;
        assert!(read_allowed(&c, None, None));
        let open = ServerConfig::default();
        assert!(read_allowed(&open, None, None) && write_allowed(&open, None));
    }

    #[test]
    fn the_fast_stream_head_carries_the_security_headers() {
        let head = std::str::from_utf8(super::super::fast_stream::RESPONSE_HEAD).unwrap();
        for (name, value) in SECURITY_HEADERS {
            assert!(head.contains(&format!("{name}: {value}\r\n")), "{name}");
        }
    }
}
