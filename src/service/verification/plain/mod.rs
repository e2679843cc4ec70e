//! The HTTP/1.1 client of StatusCallbacks to plain-HTTP receivers. A callback is one small
//! request whose answer only matters for its status, so the request is written as one buffer
//! and the answer read on the delivery's own task: no connection task, no channel between the
//! two, no header map. Connections are kept alive per receiver (host and port); one the
//! receiver closed while it was idle is noticed when it is used again, and the request goes
//! once more on a new connection, as a pooling client does.

use std::io;
use std::net::{Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::client::{timed_out, Callout, Outcome};
use body::drain;
use pool::{Pool, Receiver};

mod body;
mod pool;

/// The longest response head read; a longer one fails the attempt.
const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 64;

/// The client, with its kept-alive connections.
#[derive(Default)]
pub struct Plain {
    pool: Pool,
}

/// Why an exchange ended without an answer.
enum Failure {
    /// No connection could be made.
    Connect(io::Error),
    /// A kept connection was closed by the receiver before any of an answer came back.
    Stale,
    Other(String),
}

/// An answer's status, and how its body ends.
struct Answer {
    status: u16,
    body: Body,
    /// The connection may carry another request once the body is read.
    reusable: bool,
}

enum Body {
    Empty,
    Length(u64),
    Chunked,
    /// Delimited by the receiver closing the connection.
    UntilClose,
}

impl Plain {
    /// Sends `callout` to its receiver within `timeout`: the answer's status, its body read
    /// and dropped within what is left of the timeout so that the connection can be kept.
    pub async fn send(&self, callout: &Callout<'_>, timeout: Duration) -> Outcome {
        let deadline = Instant::now() + timeout;
        let (Some(host), Some(port)) =
            (callout.url.host_str(), callout.url.port_or_known_default())
        else {
            return Outcome::Failed {
                refused: false,
                error: "request failed: the URL has no host".to_string(),
            };
        };
        let receiver: Receiver = (host.to_string(), port);
        let request = encode(callout);
        let exchange = async {
            if let Some(stream) = self.pool.take(&receiver) {
                match exchange(stream, &request, true).await {
                    Err(Failure::Stale) => {}
                    done => return done,
                }
            }
            let stream = connect(host, port).await.map_err(Failure::Connect)?;
            exchange(stream, &request, false).await
        };
        match tokio::time::timeout_at(deadline, exchange).await {
            Err(_) => timed_out(timeout),
            Ok(Err(Failure::Connect(e))) => Outcome::Failed {
                refused: true,
                error: format!("could not connect: tcp connect error: {e}"),
            },
            Ok(Err(Failure::Stale)) => Outcome::Failed {
                refused: false,
                error: "request failed: the connection closed before an answer".to_string(),
            },
            Ok(Err(Failure::Other(error))) => Outcome::Failed {
                refused: false,
                error: format!("request failed: {error}"),
            },
            Ok(Ok((answer, stream, rest))) => {
                let status = answer.status;
                if let Ok(Some(stream)) =
                    tokio::time::timeout_at(deadline, drain(answer, stream, rest)).await
                {
                    self.pool.put(receiver, stream);
                }
                Outcome::Answered(status)
            }
        }
    }
}

/// A connection to `host` (a name, an IPv4 address or a bracketed IPv6 one, as a URL has it).
async fn connect(host: &str, port: u16) -> io::Result<TcpStream> {
    let v6 = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| h.parse::<Ipv6Addr>().ok());
    let stream = match v6 {
        Some(ip) => TcpStream::connect(SocketAddr::from((ip, port))).await?,
        None => TcpStream::connect((host, port)).await?,
    };
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// The request as sent: request line, `Host`, the callout's headers (one whose value would
/// break the head is left out), `Content-Length` for a POST, and the body.
pub(super) fn encode(callout: &Callout<'_>) -> Vec<u8> {
    let url = callout.url;
    let body = callout.body.unwrap_or_default();
    let mut out = Vec::with_capacity(256 + url.as_str().len() + body.len());
    out.extend_from_slice(callout.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(url.path().as_bytes());
    if let Some(query) = url.query() {
        out.push(b'?');
        out.extend_from_slice(query.as_bytes());
    }
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(url.host_str().unwrap_or_default().as_bytes());
    if let Some(port) = url.port() {
        out.push(b':');
        out.extend_from_slice(itoa::Buffer::new().format(port).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    for (name, value) in callout.headers {
        if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if callout.body.is_some() {
        out.extend_from_slice(b"Content-Length: ");
        out.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body.as_bytes());
    out
}

/// Writes `request` and reads the head of its answer (past any interim 1xx answers): the
/// answer, the connection, and what was read past the head.
async fn exchange(
    mut stream: TcpStream,
    request: &[u8],
    reused: bool,
) -> Result<(Answer, TcpStream, Vec<u8>), Failure> {
    let lost = |e: io::Error| {
        if reused {
            Failure::Stale
        } else {
            Failure::Other(e.to_string())
        }
    };
    stream.write_all(request).await.map_err(lost)?;
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    // Whether any of an answer came (an interim one included): after that, a closed
    // connection is a failure of this request and not a stale connection.
    let mut answered = false;
    loop {
        if let Some((answer, used)) = parse_head(&buf)? {
            buf.drain(..used);
            match answer {
                Some(answer) => return Ok((answer, stream, buf)),
                None => continue,
            }
        }
        if buf.len() >= MAX_HEAD {
            return Err(Failure::Other("the answer's head is too long".to_string()));
        }
        buf.reserve(4096);
        match stream.read_buf(&mut buf).await {
            Ok(0) if !answered && reused => return Err(Failure::Stale),
            Ok(0) => {
                return Err(Failure::Other(
                    "the connection closed before an answer".to_string(),
                ))
            }
            Ok(_) => answered = true,
            Err(e) if !answered => return Err(lost(e)),
            Err(e) => return Err(Failure::Other(e.to_string())),
        }
    }
}

/// Parses a response head at the start of `buf`: `None` while it is incomplete; otherwise the
/// bytes it took and the answer, `None` for an interim (1xx) answer, which is skipped.
fn parse_head(buf: &[u8]) -> Result<Option<(Option<Answer>, usize)>, Failure> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let used = match response.parse(buf) {
        Ok(httparse::Status::Complete(used)) => used,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(Failure::Other(format!("the answer is not HTTP: {e}"))),
    };
    let status = response.code.unwrap_or_default();
    if (100..200).contains(&status) && status != 101 {
        return Ok(Some((None, used)));
    }
    let mut length = None;
    let mut chunked = false;
    let mut close = response.version != Some(1);
    for header in response.headers.iter() {
        // Values that are not text say nothing about framing.
        let Ok(value) = std::str::from_utf8(header.value) else {
            continue;
        };
        let value = value.trim();
        if header.name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<u64>().ok());
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
            close |= !chunked;
        } else if header.name.eq_ignore_ascii_case("connection") {
            close |= value
                .split(',')
                .any(|token| token.trim().eq_ignore_ascii_case("close"));
        }
    }
    let body = if status == 101 {
        close = true;
        Body::Empty
    } else if status == 204 || status == 304 {
        Body::Empty
    } else if chunked {
        Body::Chunked
    } else {
        match length {
            Some(Some(0)) => Body::Empty,
            Some(Some(n)) => Body::Length(n),
            // A length that does not parse: read to the end, and do not reuse.
            Some(None) | None => {
                close = true;
                Body::UntilClose
            }
        }
    };
    Ok(Some((
        Some(Answer {
            status,
            body,
            reusable: !close,
        }),
        used,
    )))
}

#[cfg(test)]
mod tests;
