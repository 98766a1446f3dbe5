extern crate std;
use std::vec::Vec;

use super::*;

fn request(last: Option<&'static str>) -> Request<'static> {
    Request {
        host: "192.168.69.100",
        port: 8000,
        path: "/stream",
        from: Seq(7),
        last_event_id: last,
        token: "",
    }
}

#[test]
fn request_carries_resume_point_and_last_event_id() {
    let mut buf = [0u8; 256];
    let n = request(Some("6")).write(&mut buf).unwrap();
    assert_eq!(
        core::str::from_utf8(&buf[..n]).unwrap(),
        concat!(
            "GET /stream?from=7&events=state,message,heartbeat,reset,session_ended HTTP/1.1\r\n",
            "Host: 192.168.69.100:8000\r\n",
            "Accept: text/event-stream\r\n",
            "Cache-Control: no-cache\r\n",
            "Last-Event-ID: 6\r\n",
            "\r\n",
        )
    );
}

#[test]
fn request_without_last_id_and_default_port() {
    let mut buf = [0u8; 256];
    let req = Request {
        port: 80,
        path: "/s?x=1",
        last_event_id: None,
        ..request(None)
    };
    let n = req.write(&mut buf).unwrap();
    let text = core::str::from_utf8(&buf[..n]).unwrap();
    assert!(text.starts_with("GET /s?x=1&from=7&"));
    assert!(text.contains("Host: 192.168.69.100\r\n"));
    assert!(!text.contains("Last-Event-ID"));
}

#[test]
fn request_with_a_token_authorizes_the_stream() {
    let mut buf = [0u8; 256];
    let req = Request {
        token: "mF_9.B5f-4.1JqM+/~==",
        ..request(Some("6"))
    };
    let n = req.write(&mut buf).unwrap();
    assert_eq!(
        core::str::from_utf8(&buf[..n]).unwrap(),
        concat!(
            "GET /stream?from=7&events=state,message,heartbeat,reset,session_ended HTTP/1.1\r\n",
            "Host: 192.168.69.100:8000\r\n",
            "Authorization: Bearer mF_9.B5f-4.1JqM+/~==\r\n",
            "Accept: text/event-stream\r\n",
            "Cache-Control: no-cache\r\n",
            "Last-Event-ID: 6\r\n",
            "\r\n",
        )
    );
    // No token, no header (the bytes are those of the test above).
    let n = request(None).write(&mut buf).unwrap();
    assert!(
        !core::str::from_utf8(&buf[..n])
            .unwrap()
            .contains("Authorization")
    );
}

#[test]
fn the_longest_request_fits_the_request_buffer() {
    let host = "h".repeat(40);
    let token = "t".repeat(crate::TOKEN_LEN);
    assert!(crate::bearer_token_ok(&token));
    // The longest id the parser keeps: an `<epoch>-<idx>` of `LINE` bytes.
    let id = std::format!(
        "{}-18446744073709551615",
        "e".repeat(crate::config::LINE - 21)
    );
    let req = Request {
        host: &host,
        port: 65535,
        path: "/stream",
        from: Seq(u64::MAX),
        last_event_id: Some(&id),
        token: &token,
    };
    let mut buf = [0u8; crate::config::REQUEST];
    let n = req.write(&mut buf).unwrap();
    assert_eq!(n, 440, "config.rs documents this");
    let plain = Request { token: "", ..req }.write(&mut buf).unwrap();
    assert_eq!(plain, 288, "config.rs documents this");
    assert!(crate::config::IO >= crate::config::REQUEST.max(crate::config::READ));
}

#[test]
fn request_too_long_is_an_error() {
    let mut buf = [0u8; 40];
    assert_eq!(request(Some("1")).write(&mut buf), Err(RequestTooLong));
}

const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\nBODY";

#[test]
fn head_is_parsed_whatever_the_split() {
    for at in 0..HEAD.len() {
        let mut reader = HeadReader::<256>::new();
        let (a, b) = HEAD.split_at(at);
        let mut input = a;
        let first = reader.push(&mut input).unwrap();
        let (head, rest) = match first {
            Some(h) => (h, [input, b].concat()),
            None => {
                assert!(input.is_empty());
                let mut input = b;
                (
                    reader.push(&mut input).unwrap().expect("complete"),
                    input.to_vec(),
                )
            }
        };
        assert_eq!(
            head,
            ResponseHead {
                status: 200,
                event_stream: true,
                framing: Framing::Chunked
            },
            "split {at}"
        );
        assert_eq!(rest, b"BODY", "split {at}");
    }
}

#[test]
fn head_variants() {
    let parse = |bytes: &[u8]| HeadReader::<256>::new().push(&mut &bytes[..]);
    assert_eq!(
        parse(b"HTTP/1.1 404 Not Found\r\nContent-Length: 12\r\n\r\n"),
        Ok(Some(ResponseHead {
            status: 404,
            event_stream: false,
            framing: Framing::Length(12)
        }))
    );
    assert_eq!(
        parse(b"HTTP/1.0 200 OK\nContent-Type: TEXT/Event-Stream\n\n"),
        Ok(Some(ResponseHead {
            status: 200,
            event_stream: true,
            framing: Framing::UntilClose
        }))
    );
    let plain = parse(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-streamx\r\n\r\n")
        .unwrap()
        .unwrap();
    assert!(!plain.event_stream);
    assert_eq!(
        parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"),
        Err(HeadError::Invalid)
    );
    assert_eq!(
        parse(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
        Err(HeadError::Invalid)
    );
    assert_eq!(parse(b"SSH-2.0-OpenSSH\r\n\r\n"), Err(HeadError::Invalid));
}

#[test]
fn head_too_large_is_an_error() {
    let mut reader = HeadReader::<32>::new();
    let long = b"HTTP/1.1 200 OK\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut input = &long[..];
    assert_eq!(reader.push(&mut input), Err(HeadError::TooLarge));
}

fn decode_all(framing: Framing, wire: &[u8], chunk: usize) -> Result<(Vec<u8>, bool), ChunkError> {
    let mut body = Body::new(framing);
    let mut out = Vec::new();
    for piece in wire.chunks(chunk) {
        let mut buf = piece.to_vec();
        let n = body.decode_in_place(&mut buf)?;
        out.extend_from_slice(&buf[..n]);
    }
    Ok((out, body.is_done()))
}

#[test]
fn chunked_body_decodes_at_any_chunking() {
    let wire =
        b"5\r\nhello\r\n1;ext=1\r\n \r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: x\r\n\r\nignored";
    for chunk in 1..wire.len() {
        assert_eq!(
            decode_all(Framing::Chunked, wire, chunk).unwrap(),
            (b"hello 0123456789abcdef".to_vec(), true),
            "chunk {chunk}"
        );
    }
}

#[test]
fn chunked_body_unfinished_is_not_done() {
    assert_eq!(
        decode_all(Framing::Chunked, b"3\r\nabc\r\n", 2).unwrap(),
        (b"abc".to_vec(), false)
    );
}

#[test]
fn chunked_errors() {
    assert_eq!(
        decode_all(Framing::Chunked, b"zz\r\n", 4),
        Err(ChunkError::BadSize)
    );
    assert_eq!(
        decode_all(Framing::Chunked, b"\r\n", 4),
        Err(ChunkError::BadSize)
    );
    assert_eq!(
        decode_all(Framing::Chunked, b"2\r\nabX", 8),
        Err(ChunkError::BadTerminator)
    );
    assert_eq!(
        decode_all(Framing::Chunked, b"11111111111111111\r\n", 32),
        Err(ChunkError::SizeTooLarge)
    );
}

#[test]
fn length_and_close_framing() {
    assert_eq!(
        decode_all(Framing::Length(3), b"abcdef", 2).unwrap(),
        (b"abc".to_vec(), true)
    );
    assert_eq!(
        decode_all(Framing::UntilClose, b"abcdef", 4).unwrap(),
        (b"abcdef".to_vec(), false)
    );
}

#[test]
fn head_edge_cases() {
    let parse = |bytes: &[u8]| HeadReader::<512>::new().push(&mut &bytes[..]);
    let ok = |status, event_stream, framing| {
        Ok(Some(ResponseHead {
            status,
            event_stream,
            framing,
        }))
    };
    // No reason phrase; odd spacing around values; the first of a repeated header counts.
    assert_eq!(
        parse(b"HTTP/1.1 204\r\ncontent-type:text/event-stream\r\nContent-Type: text/html\r\n\r\n"),
        ok(204, true, Framing::UntilClose)
    );
    assert_eq!(
        parse(b"HTTP/1.1 200 OK\r\nContent-Length:  7 \r\nX-Empty:\r\n\r\n"),
        ok(200, false, Framing::Length(7))
    );
    // Transfer-Encoding wins over Content-Length (RFC 9112 6.3).
    assert_eq!(
        parse(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nTransfer-Encoding: Chunked\r\n\r\n"),
        ok(200, false, Framing::Chunked)
    );
    let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
    for _ in 0..MAX_HEADERS {
        many.extend_from_slice(b"X: y\r\n");
    }
    let mut too_many = many.clone();
    many.extend_from_slice(b"\r\n");
    assert_eq!(parse(&many), ok(200, false, Framing::UntilClose));
    too_many.extend_from_slice(b"X: y\r\n\r\n");
    assert_eq!(parse(&too_many), Err(HeadError::Invalid));
    for bad in [
        &b"HTTP/2 200 OK\r\n\r\n"[..],
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"HTTP/1.x 200 OK\r\n\r\n",
        b"\r\nHTTP/1.1 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad name: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: y\r\n folded\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
    ] {
        assert_eq!(
            parse(bad),
            Err(HeadError::Invalid),
            "{:?}",
            std::str::from_utf8(bad)
        );
    }
    // Nothing is taken past the head, and an incomplete head takes everything.
    let mut input = &b"HTTP/1.1 200 OK\n\nrest"[..];
    assert!(HeadReader::<64>::new().push(&mut input).unwrap().is_some());
    assert_eq!(input, b"rest");
    let mut reader = HeadReader::<64>::new();
    let mut input = &b"HTTP/1.1 200 OK\r\n\r"[..];
    assert_eq!(reader.push(&mut input), Ok(None));
    assert!(input.is_empty());
    let mut input = &b"\nX"[..];
    assert_eq!(reader.push(&mut input), ok(200, false, Framing::UntilClose));
    assert_eq!(input, b"X");
}

#[test]
fn request_numbers_are_decimal() {
    let mut buf = [0u8; 256];
    for (from, text) in [
        (0, "from=0&"),
        (10, "from=10&"),
        (u64::MAX, "from=18446744073709551615&"),
    ] {
        let req = Request {
            from: Seq(from),
            port: 65535,
            ..request(None)
        };
        let n = req.write(&mut buf).unwrap();
        let s = core::str::from_utf8(&buf[..n]).unwrap();
        assert!(s.contains(text), "{s}");
        assert!(s.contains("Host: 192.168.69.100:65535\r\n"), "{s}");
    }
}
