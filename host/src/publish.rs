//! `sse-host publish`: one HTTP request to a running server, from a shell script.

use crate::cli::{PublishArgs, PublishWhat};
use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::io::Read;

/// Sends what `args` says; returns the server's JSON answer.
///
/// # Errors
/// Bad JSON argument, connection failure, or a non-2xx answer (its error body included).
pub async fn run(args: &PublishArgs) -> anyhow::Result<String> {
    let (method, path, body) = match &args.what {
        PublishWhat::Message {
            json,
            kind,
            content,
        } => {
            let body = match (json, kind, content) {
                (Some(j), _, _) => read_json_arg(j)?,
                (None, Some(k), Some(c)) => json!({"type": k, "content": c}),
                _ => bail!("give the message as JSON or with --type and --content"),
            };
            ("POST", "/api/messages", body)
        }
        PublishWhat::State { json } => ("PATCH", "/api/state", read_json_arg(json)?),
    };
    let uri: hyper::Uri = format!("{}{}", args.url.trim_end_matches('/'), path)
        .parse()
        .context("bad --url")?;
    if uri.scheme_str() != Some("http") {
        bail!("only http:// URLs are supported");
    }
    let host = uri.host().context("--url has no host")?.to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .with_context(|| format!("connecting to {host}:{port}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(uri.path())
        .header("host", format!("{host}:{port}"))
        .header("content-type", "application/json");
    if let Some(t) = args.token.as_ref().or(args.token_file.as_ref()) {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = req.body(Full::new(Bytes::from(body.to_string())))?;
    let res = sender.send_request(req).await?;
    let status = res.status();
    let bytes = res.into_body().collect().await?.to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if !status.is_success() {
        bail!("server answered {status}: {text}");
    }
    Ok(text)
}

fn read_json_arg(arg: &str) -> anyhow::Result<Value> {
    let text = if arg == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    } else {
        arg.to_owned()
    };
    serde_json::from_str(&text).context("the argument is not valid JSON")
}
