//! Slow clients at the connection: once the first byte of a request has arrived, the
//! rest of its head (request line and headers) must follow within a deadline, or the
//! connection is closed. The stream sees bytes arrive; the request middleware
//! (`crate::observe`) sees each head completed. They meet in a table keyed by the
//! client's address and port, which name one TCP connection.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use poem::http::uri::Scheme;
use poem::listener::{Acceptor, TcpAcceptor};
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::time::Sleep;

/// What the request middleware tells a connection.
#[derive(Default)]
struct Connection {
    /// Heads completed on this connection.
    heads: AtomicU64,
    /// A request is being answered (its body, if any, is the body timeout's business).
    answering: AtomicBool,
}

fn table() -> &'static Mutex<HashMap<SocketAddr, Arc<Connection>>> {
    static TABLE: OnceLock<Mutex<HashMap<SocketAddr, Arc<Connection>>>> = OnceLock::new();
    TABLE.get_or_init(Mutex::default)
}

/// Marks a request from `peer` as answered until the guard is dropped.
pub fn answering(peer: Option<SocketAddr>) -> Option<Answering> {
    let connection = table()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&peer?)
        .cloned()?;
    connection.heads.fetch_add(1, Ordering::SeqCst);
    connection.answering.store(true, Ordering::SeqCst);
    Some(Answering(connection))
}

pub struct Answering(Arc<Connection>);

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.answering.store(false, Ordering::SeqCst);
    }
}

/// Connections the kernel completes for the server before it accepts them (capped by
/// `net.core.somaxconn`). The usual 128 is too few for a burst: the handshakes beyond it
/// are dropped, and their clients wait a second or more before trying again.
const ACCEPT_BACKLOG: u32 = 1024;

/// Listens on `address` with room for a burst of new connections.
pub fn listen(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(ACCEPT_BACKLOG)
}

/// Accepts TCP connections whose request heads must arrive within `timeout`.
pub struct HeadDeadline {
    inner: TcpAcceptor,
    timeout: Duration,
}

impl HeadDeadline {
    pub fn new(inner: TcpAcceptor, timeout: Duration) -> Self {
        Self { inner, timeout }
    }
}

impl Acceptor for HeadDeadline {
    type Io = Guarded;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Guarded, LocalAddr, RemoteAddr, Scheme)> {
        let (stream, local, remote, scheme) = self.inner.accept().await?;
        let peer = remote.as_socket_addr().copied();
        let connection = Arc::new(Connection::default());
        if let Some(peer) = peer {
            table()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(peer, Arc::clone(&connection));
        }
        let guarded = Guarded {
            stream,
            peer,
            connection,
            timeout: self.timeout,
            deadline: None,
        };
        Ok((guarded, local, remote, scheme))
    }
}

/// A connection whose request heads run against a deadline.
pub struct Guarded {
    stream: TcpStream,
    peer: Option<SocketAddr>,
    connection: Arc<Connection>,
    timeout: Duration,
    /// Armed by the first byte of a head, with the number of heads completed then.
    deadline: Option<(Pin<Box<Sleep>>, u64)>,
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if let Some(peer) = self.peer {
            table()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&peer);
        }
    }
}

impl Guarded {
    /// Whether the armed deadline is for a head that has since arrived.
    fn head_arrived(&self) -> bool {
        let heads = self.connection.heads.load(Ordering::SeqCst);
        self.connection.answering.load(Ordering::SeqCst)
            || self.deadline.as_ref().is_some_and(|(_, at)| *at != heads)
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        if self.head_arrived() {
            self.deadline = None;
        }
        match read {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                if self.deadline.is_none() && !self.connection.answering.load(Ordering::SeqCst) {
                    let heads = self.connection.heads.load(Ordering::SeqCst);
                    self.deadline = Some((Box::pin(tokio::time::sleep(self.timeout)), heads));
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                let expired = self
                    .deadline
                    .as_mut()
                    .is_some_and(|(deadline, _)| deadline.as_mut().poll(cx).is_ready());
                if expired {
                    Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the request head did not arrive in time",
                    )))
                } else {
                    Poll::Pending
                }
            }
            other => other,
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
