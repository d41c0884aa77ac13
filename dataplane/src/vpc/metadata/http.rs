//! HTTP/1.1 for the metadata service: requests parsed with `httparse` (bounded: at most
//! [`MAX_HEADERS`] headers and [`MAX_REQUEST`] bytes of head and body), responses written
//! here (a status line, four headers and a body need no crate).

/// The most bytes one request (head and body) may take; a longer one gets 431 and the
/// connection is closed.
pub const MAX_REQUEST: usize = 8 * 1024;
/// The most headers one request may carry; more get 431.
pub const MAX_HEADERS: usize = 32;

/// The request methods the service tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`: a `GET` without the body.
    Head,
    /// `PUT` (only `latest/api/token` takes it).
    Put,
    /// Anything else (405).
    Other,
}

/// One parsed request: what the service looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The path, without the query string.
    pub path: String,
    /// `X-aws-ec2-metadata-token`, if sent.
    pub token: Option<String>,
    /// `X-aws-ec2-metadata-token-ttl-seconds`, as sent.
    pub token_ttl: Option<String>,
    /// Whether `X-Forwarded-For` was sent (a proxied request: no token for it).
    pub forwarded: bool,
    /// Whether the connection closes after the answer (`Connection: close`, HTTP/1.0).
    pub close: bool,
}

/// What a look at the bytes received so far found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Not a whole request yet.
    Partial,
    /// A whole request, taking the first `usize` bytes (head and body).
    Request(Request, usize),
    /// Not HTTP, or over a limit: answer this status and close.
    Error(u16),
}

/// Parses the request at the start of `buf`.
pub fn parse(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_REQUEST => return Parsed::Error(431),
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => return Parsed::Error(431),
        Err(_) => return Parsed::Error(400),
    };
    let method = match req.method {
        Some("GET") => Method::Get,
        Some("HEAD") => Method::Head,
        Some("PUT") => Method::Put,
        _ => Method::Other,
    };
    let path = req
        .path
        .unwrap_or("/")
        .split(['?', '#'])
        .next()
        .unwrap_or("/")
        .to_string();
    let mut out = Request {
        method,
        path,
        token: None,
        token_ttl: None,
        forwarded: false,
        close: req.version == Some(0),
    };
    let mut body = 0usize;
    for h in req.headers.iter() {
        let value = || String::from_utf8_lossy(h.value).trim().to_string();
        match h.name.to_ascii_lowercase().as_str() {
            "x-aws-ec2-metadata-token" => out.token = Some(value()),
            "x-aws-ec2-metadata-token-ttl-seconds" => out.token_ttl = Some(value()),
            "x-forwarded-for" => out.forwarded = true,
            "connection" => {
                let v = value().to_ascii_lowercase();
                if v == "close" {
                    out.close = true;
                } else if v == "keep-alive" {
                    out.close = false;
                }
            }
            "content-length" => match value().parse::<usize>() {
                Ok(n) => body = n,
                Err(_) => return Parsed::Error(400),
            },
            "transfer-encoding" => return Parsed::Error(411),
            _ => {}
        }
    }
    let total = head.saturating_add(body);
    if total > MAX_REQUEST {
        return Parsed::Error(413);
    }
    if buf.len() < total {
        return Parsed::Partial;
    }
    Parsed::Request(out, total)
}

/// The reason phrase of the statuses the service sends.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    }
}

/// A whole response: status line, headers (`extra` added), and `body` (left out for
/// `HEAD`, its length kept).
pub fn response(
    status: u16,
    body: &str,
    head_only: bool,
    close: bool,
    extra: &[(&str, String)],
) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nServer: EC2ws\r\nConnection: {}\r\n",
        reason(status),
        body.len(),
        if close { "close" } else { "keep-alive" }
    );
    for (k, v) in extra {
        out.push_str(k);
        out.push_str(": ");
        out.push_str(v);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    if !head_only {
        out.push_str(body);
    }
    out.into_bytes()
}

/// The body of an error status, as plain text.
pub fn error_body(status: u16) -> String {
    format!("{status} - {}\n", reason(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_get_with_a_token_parses() {
        let raw = b"GET /latest/meta-data/local-ipv4?x=1 HTTP/1.1\r\nHost: 169.254.169.254\r\nX-aws-ec2-metadata-token: abc\r\n\r\n";
        let Parsed::Request(r, n) = parse(raw) else {
            panic!("{:?}", parse(raw))
        };
        assert_eq!(n, raw.len());
        assert_eq!(r.method, Method::Get);
        assert_eq!(r.path, "/latest/meta-data/local-ipv4");
        assert_eq!(r.token.as_deref(), Some("abc"));
        assert!(!r.close);
    }

    #[test]
    fn a_put_with_a_body_waits_for_the_body() {
        let raw = b"PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\nContent-Length: 4\r\n\r\nab";
        assert_eq!(parse(raw), Parsed::Partial);
        let mut whole = raw.to_vec();
        whole.extend_from_slice(b"cd");
        let Parsed::Request(r, n) = parse(&whole) else {
            panic!()
        };
        assert_eq!((r.method, n), (Method::Put, whole.len()));
        assert_eq!(r.token_ttl.as_deref(), Some("21600"));
    }

    #[test]
    fn http_1_0_and_connection_close_close() {
        let Parsed::Request(r, _) = parse(b"GET / HTTP/1.0\r\n\r\n") else {
            panic!()
        };
        assert!(r.close);
        let Parsed::Request(r, _) = parse(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n") else {
            panic!()
        };
        assert!(r.close);
    }

    #[test]
    fn oversized_and_garbage_requests_are_errors() {
        let mut big = b"GET / HTTP/1.1\r\nX-Pad: ".to_vec();
        big.resize(MAX_REQUEST + 10, b'a');
        assert_eq!(parse(&big), Parsed::Error(431));
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("H{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(parse(&many), Parsed::Error(431));
        assert_eq!(
            parse(b"\x16\x03\x01\x02\x00garbage\r\n\r\n"),
            Parsed::Error(400)
        );
        assert_eq!(
            parse(b"PUT / HTTP/1.1\r\nContent-Length: 99999\r\n\r\n"),
            Parsed::Error(413)
        );
        assert_eq!(
            parse(b"PUT / HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
            Parsed::Error(400)
        );
        assert_eq!(
            parse(b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Parsed::Error(411)
        );
    }

    #[test]
    fn a_response_has_its_length_and_head_drops_the_body() {
        let r = String::from_utf8(response(200, "10.0.1.10", false, false, &[])).unwrap();
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert!(r.contains("Content-Length: 9\r\n"));
        assert!(r.ends_with("\r\n\r\n10.0.1.10"));
        let h = String::from_utf8(response(200, "10.0.1.10", true, true, &[])).unwrap();
        assert!(h.ends_with("Connection: close\r\n\r\n") && h.contains("Content-Length: 9"));
    }
}
