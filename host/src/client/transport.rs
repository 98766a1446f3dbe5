//! HTTP for the client: build the request, open it, and map the response head onto what the core
//! needs to hear (open, or a [`Disconnect`] reason). No SSE semantics here.
//!
//! reqwest (hyper underneath, rustls for `https`) does HTTP/1.1 chunked and close-delimited bodies,
//! HTTP/2 over TLS, and bounded redirects. There is deliberately no reqwest timeout: a stream has
//! no end, and the connect timeout and the idle watchdog are the core's (the shell drops the
//! request or body future when the core says `Close`).

use std::future::Future;
use std::pin::Pin;

use reqwest::Url;
use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

use super::ClientError;

/// Redirects followed per connection attempt before it counts as a failed attempt. Browsers use
/// 20; 10 is plenty for a proxy plus a login hop and stops a loop quickly.
pub const MAX_REDIRECTS: usize = 10;

/// An in-flight request.
pub(crate) type Opening = Pin<Box<dyn Future<Output = reqwest::Result<reqwest::Response>> + Send>>;

/// Everything needed to (re)open the stream.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    http: reqwest::Client,
    url: Url,
    events: Option<String>,
    headers: HeaderMap,
}

impl Transport {
    /// A transport for `url` with extra request `headers` (`("K", "V")`), trusting the
    /// certificates in `ca_pem` besides the bundled web roots, and presenting the client
    /// certificate and key in `identity_pem` to servers that ask for one.
    pub(crate) fn new(
        url: &str,
        events: &[String],
        headers: &[(String, String)],
        max_redirects: usize,
        ca_pem: Option<&[u8]>,
        identity_pem: Option<&[u8]>,
    ) -> Result<Self, ClientError> {
        let url = Url::parse(url).map_err(|e| ClientError::Url(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ClientError::Url(format!(
                "unsupported scheme `{}` (use http or https)",
                url.scheme()
            )));
        }
        let mut map = HeaderMap::new();
        map.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        map.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        for (k, v) in headers {
            let name = HeaderName::from_bytes(k.trim().as_bytes())
                .map_err(|_| ClientError::Header(k.clone()))?;
            if name.as_str() == "last-event-id" {
                // The session sends the resume point itself, once per request: a second header
                // would contradict it after the first reconnect.
                return Err(ClientError::Header(format!(
                    "{k}: the client sends Last-Event-ID itself; seed it with last_event_id \
                     (--last-event-id)"
                )));
            }
            let value =
                HeaderValue::from_str(v.trim()).map_err(|_| ClientError::Header(k.clone()))?;
            map.append(name, value);
        }
        let mut builder = reqwest::Client::builder();
        if let Some(pem) = ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| ClientError::Ca(e.to_string()))?;
            if certs.is_empty() {
                return Err(ClientError::Ca("no PEM certificate in it".into()));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let Some(pem) = identity_pem {
            let identity = reqwest::Identity::from_pem(pem)
                .map_err(|e| ClientError::Identity(super::innermost(&e)))?;
            builder = builder.identity(identity);
        }
        let http = builder
            .redirect(reqwest::redirect::Policy::limited(max_redirects))
            // One stream at a time; a pooled connection could be a dead one from before a cut.
            .pool_max_idle_per_host(0)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| ClientError::Http(e.to_string()))?;
        let events = (!events.is_empty()).then(|| events.join(","));
        Ok(Transport {
            http,
            url,
            events,
            headers: map,
        })
    }

    /// The URL of one attempt: the user's URL with `from` (when resuming), the `epoch` of the
    /// client's copy (when known, with `from`) and `events` set.
    pub(crate) fn url_for(&self, from: Option<u64>, epoch: Option<&str>) -> Url {
        let epoch = epoch.filter(|_| from.is_some());
        if from.is_none() && self.events.is_none() {
            return self.url.clone();
        }
        let mut url = self.url.clone();
        let kept: Vec<(String, String)> = self
            .url
            .query_pairs()
            .filter(|(k, _)| {
                !((from.is_some() && k == "from")
                    || (epoch.is_some() && k == "epoch")
                    || (self.events.is_some() && k == "events"))
            })
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        {
            let mut q = url.query_pairs_mut();
            q.clear();
            for (k, v) in &kept {
                q.append_pair(k, v);
            }
            if let Some(from) = from {
                q.append_pair("from", &from.to_string());
            }
            if let Some(epoch) = epoch {
                q.append_pair("epoch", epoch);
            }
            if let Some(events) = &self.events {
                q.append_pair("events", events);
            }
        }
        url
    }

    /// Starts one attempt. `last_event_id` is sent as `Last-Event-ID` when not empty.
    pub(crate) fn open(
        &self,
        from: Option<u64>,
        epoch: Option<&str>,
        last_event_id: &str,
    ) -> Opening {
        let mut req = self
            .http
            .get(self.url_for(from, epoch))
            .headers(self.headers.clone());
        if !last_event_id.is_empty() {
            // The core's parser only keeps ids without NUL, CR or LF, so this cannot fail; if it
            // did, the request simply goes without the header.
            if let Ok(v) = HeaderValue::from_str(last_event_id) {
                req = req.header("Last-Event-ID", v);
            }
        }
        Box::pin(req.send())
    }
}

impl Transport {
    /// The URL of one Durable Streams SSE read (`PROTOCOL.md` §5.8): the user's URL with
    /// `offset`, `live=sse` and, once the server sent one, `cursor` set (URL-encoded).
    pub(crate) fn durable_url(&self, offset: &str, cursor: Option<&str>) -> Url {
        let mut url = self.url.clone();
        let kept: Vec<(String, String)> = self
            .url
            .query_pairs()
            .filter(|(k, _)| !matches!(&**k, "offset" | "live" | "cursor"))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        {
            let mut q = url.query_pairs_mut();
            q.clear();
            for (k, v) in &kept {
                q.append_pair(k, v);
            }
            q.append_pair("offset", offset);
            q.append_pair("live", "sse");
            if let Some(cursor) = cursor {
                q.append_pair("cursor", cursor);
            }
        }
        url
    }

    /// A `HEAD` of the user's URL (Durable Streams metadata), with the user's headers.
    pub(crate) fn head(&self) -> Opening {
        Box::pin(
            self.http
                .head(self.url.clone())
                .headers(self.headers.clone())
                .send(),
        )
    }

    /// Starts one Durable Streams SSE read (no `Last-Event-ID`: the offset is the resume point).
    pub(crate) fn open_durable(&self, offset: &str, cursor: Option<&str>) -> Opening {
        let req = self
            .http
            .get(self.durable_url(offset, cursor))
            .headers(self.headers.clone());
        Box::pin(req.send())
    }
}

/// Whether a Durable Streams SSE response says its data events are base64
/// (`stream-sse-data-encoding: base64`, case ignored).
pub(crate) fn is_base64(resp: &reqwest::Response) -> bool {
    resp.headers()
        .get("stream-sse-data-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("base64"))
}

/// Whether the response says `Content-Type: text/event-stream` (parameters and case ignored).
/// The core decides what the status and this flag mean.
pub(crate) fn is_event_stream(resp: &reqwest::Response) -> bool {
    resp.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/event-stream"))
}

#[cfg(test)]
mod tests {
    use super::Transport;

    #[test]
    fn a_resume_carries_from_and_the_epoch_of_the_copy() {
        let t = Transport::new(
            "http://127.0.0.1:1/stream?epoch=user&x=1",
            &[],
            &[],
            0,
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            t.url_for(Some(5), Some("e1")).as_str(),
            "http://127.0.0.1:1/stream?x=1&from=5&epoch=e1"
        );
        // Without a resume point there is no copy to protect: the user's URL as given.
        assert_eq!(
            t.url_for(None, Some("e1")).as_str(),
            "http://127.0.0.1:1/stream?epoch=user&x=1"
        );
        assert_eq!(
            t.url_for(Some(5), None).as_str(),
            "http://127.0.0.1:1/stream?epoch=user&x=1&from=5"
        );
    }

    #[test]
    fn a_durable_read_carries_offset_live_and_cursor_encoded() {
        let t = Transport::new(
            "http://127.0.0.1:1/v1/stream/a?offset=7&x=1&live=long-poll",
            &[],
            &[],
            0,
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            t.durable_url("-1", None).as_str(),
            "http://127.0.0.1:1/v1/stream/a?x=1&offset=-1&live=sse"
        );
        assert_eq!(
            t.durable_url("0_5&a", Some("12")).as_str(),
            "http://127.0.0.1:1/v1/stream/a?x=1&offset=0_5%26a&live=sse&cursor=12"
        );
    }
}
