//! The web UI's static files, compiled into the binary: nothing to build or install at run time.
//!
//! The page is served at `GET /` ([`INDEX`]) and loads its other files with relative URLs under
//! `web/` (so it works under a path prefix): route `GET /web/{name}` to [`asset`].

/// One embedded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    /// The `Content-Type` to send.
    pub content_type: &'static str,
    /// The file's bytes.
    pub body: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const WASM: &str = "application/wasm";

/// The page itself, for `GET /`.
pub const INDEX: Asset = Asset {
    content_type: HTML,
    body: include_bytes!("../web/index.html"),
};

/// Every file under `web/` by name, for `GET /web/{name}`.
const FILES: &[(&str, Asset)] = &[
    (
        "app.js",
        Asset {
            content_type: JS,
            body: include_bytes!("../web/app.js"),
        },
    ),
    (
        "timeline.js",
        Asset {
            content_type: JS,
            body: include_bytes!("../web/timeline.js"),
        },
    ),
    (
        "share.js",
        Asset {
            content_type: JS,
            body: include_bytes!("../web/share.js"),
        },
    ),
    (
        "sse-wasm.js",
        Asset {
            content_type: JS,
            body: include_bytes!("../web/sse-wasm.js"),
        },
    ),
    (
        "sse_core.wasm",
        Asset {
            content_type: WASM,
            body: include_bytes!("../web/sse_core.wasm"),
        },
    ),
    (
        "attention.js",
        Asset {
            content_type: JS,
            body: include_bytes!("../web/attention.js"),
        },
    ),
    (
        "render.js",
        Asset {
            content_type: JS,
            body: include_bytes!("../web/render.js"),
        },
    ),
    (
        "markdown-it.js",
        Asset {
            content_type: JS,
            body: include_bytes!("../web/vendor/markdown-it.esm.min.mjs"),
        },
    ),
    (
        "style.css",
        Asset {
            content_type: CSS,
            body: include_bytes!("../web/style.css"),
        },
    ),
];

/// The file served at `web/{name}`, or `None` (a `404`).
#[must_use]
pub fn asset(name: &str) -> Option<Asset> {
    FILES.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `web/...` URL the page or a module refers to must be served.
    #[test]
    fn every_referenced_file_is_served() {
        let mut referenced = Vec::new();
        for (text, prefix) in [
            (INDEX.body, "\"web/"),
            (asset("app.js").unwrap().body, "'./"),
            (asset("timeline.js").unwrap().body, "'./"),
            (asset("render.js").unwrap().body, "'./"),
        ] {
            let text = std::str::from_utf8(text).unwrap();
            for piece in text.split(prefix).skip(1) {
                let name = piece.split(['"', '\'']).next().unwrap();
                referenced.push(name.to_owned());
            }
        }
        assert!(referenced.len() >= 4, "{referenced:?}");
        for name in &referenced {
            assert!(
                asset(name).is_some(),
                "web/{name} is referenced but not served"
            );
        }
        assert!(asset("nope.js").is_none());
    }
}
