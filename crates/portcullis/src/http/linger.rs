//! A lingering close for refused requests. When the server answers before it has read the
//! whole request (431 for headers past the limit, 413 for a body past it), closing the socket
//! with unread data makes the kernel send a reset, and a client still writing often loses the
//! answer with it. As nginx's `lingering_close`, the connection's shutdown sends FIN, then
//! reads and drops what the client still sends, for at most [`LINGER_TIME`] and
//! [`LINGER_BYTES`], before the socket is closed.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Longest time spent draining a closed connection.
pub const LINGER_TIME: Duration = Duration::from_secs(2);
/// Most bytes drained from a closed connection.
pub const LINGER_BYTES: usize = 2 * 1024 * 1024;

/// An IO whose shutdown lingers; it may hold the connection's slot of the connection limit,
/// given back when the connection is dropped.
pub struct Lingering<T> {
    inner: T,
    linger: Option<(Pin<Box<Sleep>>, usize)>,
    _slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl<T> Lingering<T> {
    /// Wraps a connection.
    pub fn new(inner: T) -> Self {
        Lingering {
            inner,
            linger: None,
            _slot: None,
        }
    }

    /// Holds `slot` for as long as the connection lives.
    pub fn holding(mut self, slot: Option<tokio::sync::OwnedSemaphorePermit>) -> Self {
        self._slot = slot;
        self
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Lingering<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Lingering<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.linger.is_none() {
            ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
            this.linger = Some((Box::pin(tokio::time::sleep(LINGER_TIME)), 0));
        }
        let Some((timer, drained)) = this.linger.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let mut scratch = [0u8; 8192];
        loop {
            if timer.as_mut().poll(cx).is_ready() || *drained >= LINGER_BYTES {
                return Poll::Ready(Ok(()));
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.inner).poll_read(cx, &mut buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(_)) => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => *drained += buf.filled().len(),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn shutdown_drains_what_the_peer_still_sends_then_ends_at_its_eof() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut a = Lingering::new(a);
        let writer = tokio::spawn(async move {
            b.write_all(&[1u8; 10_000]).await.unwrap();
            b.shutdown().await.unwrap();
            let mut rest = Vec::new();
            b.read_to_end(&mut rest).await.unwrap();
            rest
        });
        a.shutdown().await.unwrap();
        assert!(writer.await.unwrap().is_empty());
    }
}
