//! The connection under hyper, watched: hyper reports a failed exchange in
//! its own words ("connection closed before message completed", "invalid
//! HTTP version parsed"), while etcdctl prints Go's (`EOF`, `unexpected
//! EOF`, `read tcp 127.0.0.1:5->127.0.0.1:2379: read: connection reset by
//! peer`, `malformed HTTP response "..."`). Go's wording depends on what
//! the socket did, which this wrapper records for the caller to word the
//! error with: whether anything was read, the first line of the answer,
//! and the first read or write that failed.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The first status line bytes kept (Go quotes the line in its error).
const FIRST_LINE_LIMIT: usize = 1024;

/// What the socket did, as far as Go's wording needs it.
#[derive(Debug, Default)]
pub struct Trace {
    /// Bytes read so far.
    pub read: usize,
    /// The answer's first bytes, up to the end of its first line.
    pub first_line: Vec<u8>,
    /// The first failed operation (`"read"` or `"write"`) and its error.
    pub failed: Option<(&'static str, io::Error)>,
}

impl Trace {
    /// The answer's first line, without its line end.
    pub fn status_line(&self) -> String {
        let line = self.first_line.split(|b| *b == b'\n').next().unwrap_or(&[]);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        String::from_utf8_lossy(line).into_owned()
    }

    fn record_read(&mut self, data: &[u8]) {
        self.read += data.len();
        if !self.first_line.contains(&b'\n') && self.first_line.len() < FIRST_LINE_LIMIT {
            let room = FIRST_LINE_LIMIT - self.first_line.len();
            self.first_line
                .extend_from_slice(&data[..data.len().min(room)]);
        }
    }

    fn record_failure(&mut self, op: &'static str, e: &io::Error) {
        if self.failed.is_none() {
            // io::Error is not Clone: keep what the wording needs.
            let kept = match e.raw_os_error() {
                Some(code) => io::Error::from_raw_os_error(code),
                None => io::Error::new(e.kind(), e.to_string()),
            };
            self.failed = Some((op, kept));
        }
    }
}

/// A byte stream under hyper: TCP, or TLS over TCP for `https://`.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A stream (TCP, or TLS, whose plaintext is what is recorded) that
/// records its reads and failures in a shared [`Trace`].
pub struct Traced {
    stream: Box<dyn Io>,
    trace: Arc<Mutex<Trace>>,
}

impl Traced {
    pub fn new(stream: Box<dyn Io>) -> (Traced, Arc<Mutex<Trace>>) {
        let trace = Arc::new(Mutex::new(Trace::default()));
        let traced = Traced {
            stream,
            trace: Arc::clone(&trace),
        };
        (traced, trace)
    }

    fn trace(&self) -> std::sync::MutexGuard<'_, Trace> {
        self.trace.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl AsyncRead for Traced {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        match &polled {
            Poll::Ready(Ok(())) => self.trace().record_read(&buf.filled()[before..]),
            Poll::Ready(Err(e)) => self.trace().record_failure("read", e),
            Poll::Pending => {}
        }
        polled
    }
}

impl AsyncWrite for Traced {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, data);
        if let Poll::Ready(Err(e)) = &polled {
            self.trace().record_failure("write", e);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_flush(cx);
        if let Poll::Ready(Err(e)) = &polled {
            self.trace().record_failure("write", e);
        }
        polled
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_line_is_the_first_line_read() {
        let mut t = Trace::default();
        t.record_read(b"HTTP/1.1 20");
        t.record_read(b"0 OK\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(t.status_line(), "HTTP/1.1 200 OK");
        assert_eq!(t.read, 38);
    }

    #[test]
    fn only_the_first_failure_is_kept() {
        let mut t = Trace::default();
        t.record_failure("write", &io::Error::from_raw_os_error(32));
        t.record_failure("read", &io::Error::from_raw_os_error(104));
        let (op, e) = t.failed.as_ref().unwrap();
        assert_eq!((*op, e.raw_os_error()), ("write", Some(32)));
    }
}
