//! Reading an answer's body to its end, so that its connection can carry the next request:
//! by its length, in chunks, or up to the receiver closing the connection.

use std::io;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::{Answer, Body, MAX_HEAD};

/// Reads the answer's body (`rest` is what came with its head) and drops it; the connection
/// when it can carry another request.
pub(super) async fn drain(
    answer: Answer,
    mut stream: TcpStream,
    mut rest: Vec<u8>,
) -> Option<TcpStream> {
    let done = match answer.body {
        Body::Empty => rest.is_empty(),
        Body::Length(n) => skip(&mut stream, rest, n).await.ok()?,
        Body::Chunked => chunks(&mut stream, &mut rest).await.ok()?,
        Body::UntilClose => {
            let mut sink = [0u8; 4096];
            while stream.read(&mut sink).await.ok()? > 0 {}
            false
        }
    };
    (done && answer.reusable).then_some(stream)
}

/// Skips `n` bytes of body, `rest` first; whether the connection ended exactly there.
async fn skip(stream: &mut TcpStream, rest: Vec<u8>, n: u64) -> io::Result<bool> {
    let had = rest.len() as u64;
    if had >= n {
        return Ok(had == n);
    }
    let mut left = n - had;
    let mut sink = [0u8; 4096];
    while left > 0 {
        let want = sink.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let got = stream.read(&mut sink[..want]).await?;
        if got == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        left -= got as u64;
    }
    Ok(true)
}

/// Reads a chunked body to its end (its trailers included) from `buf` and then `stream`;
/// whether nothing came after it.
async fn chunks(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<bool> {
    let invalid = || io::Error::new(io::ErrorKind::InvalidData, "a chunk size is not valid");
    loop {
        match httparse::parse_chunk_size(buf).map_err(|_| invalid())? {
            httparse::Status::Complete((used, 0)) => {
                buf.drain(..used);
                return trailers(stream, buf).await;
            }
            httparse::Status::Complete((used, size)) => {
                buf.drain(..used);
                let size = size.checked_add(2).ok_or_else(invalid)?;
                let had = buf.len() as u64;
                if had >= size {
                    buf.drain(..usize::try_from(size).map_err(|_| invalid())?);
                } else {
                    buf.clear();
                    if !skip(stream, Vec::new(), size - had).await? {
                        return Err(invalid());
                    }
                }
                continue;
            }
            httparse::Status::Partial => {}
        }
        if buf.len() > MAX_HEAD {
            return Err(invalid());
        }
        fill(stream, buf).await?;
    }
}

/// Reads the trailer section after the last chunk, up to its empty line.
async fn trailers(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<bool> {
    loop {
        if buf.starts_with(b"\r\n") {
            return Ok(buf.len() == 2);
        }
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(buf.len() == at + 4);
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the trailers are too long",
            ));
        }
        fill(stream, buf).await?;
    }
}

async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.reserve(4096);
    if stream.read_buf(buf).await? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}
