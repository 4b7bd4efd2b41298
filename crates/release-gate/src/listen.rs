//! The accept loop under `release-gate serve`: HTTP/1 connections with
//! limits a public webhook endpoint needs, so idle, slow or piled-up
//! connections never starve `/healthz` or a real delivery.
//!
//! - **Idle**: a connection that moves no byte for `idle` is closed.
//! - **Slow**: a request's headers must arrive within `idle`, and a
//!   connection lives at most `lifetime` (then it is asked to close and,
//!   a few seconds later, dropped), so a client dribbling a byte at a time
//!   holds its socket for a bounded time.
//! - **Per peer**: at most `per_peer` connections from one address; more are
//!   closed at once (behind a proxy every connection is the proxy's: raise
//!   it, or cap there).
//! - **In all**: at most `total`; beyond, new connections are closed at
//!   once, so the process stays under its file limit (`LimitNOFILE` in the
//!   shipped unit) and can still accept.
//! - An accept error (out of file descriptors) pauses accepting briefly
//!   instead of spinning.
//! - On shutdown, accepting stops and every connection is asked to close
//!   after the request it is answering.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Connection limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// No byte for this long closes a connection; a request's headers must arrive within it.
    pub idle: Duration,
    /// The longest a connection lives.
    pub lifetime: Duration,
    /// Connections at once from one address.
    pub per_peer: usize,
    /// Connections at once in all.
    pub total: usize,
}

/// A stream that remembers when it last moved a byte.
struct Tracked {
    inner: TcpStream,
    start: Instant,
    last: Arc<AtomicU64>,
}

impl Tracked {
    fn touch(&self) {
        self.last.store(u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

impl AsyncRead for Tracked {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Open connections, by peer and in all.
#[derive(Default)]
struct Counts {
    by_peer: HashMap<IpAddr, usize>,
    total: usize,
}

/// A connection's place in [`Counts`], given back when it closes.
struct Slot {
    counts: Arc<Mutex<Counts>>,
    peer: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.by_peer.get_mut(&self.peer) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.by_peer.remove(&self.peer);
            }
        }
    }
}

/// Why a connection was not taken.
fn admit(counts: &Arc<Mutex<Counts>>, peer: IpAddr, limits: &Limits) -> Result<Slot, &'static str> {
    let mut c = counts.lock().unwrap_or_else(|e| e.into_inner());
    if c.total >= limits.total {
        return Err("max-connections");
    }
    let n = c.by_peer.entry(peer).or_insert(0);
    if *n >= limits.per_peer {
        return Err("max-connections-per-peer");
    }
    *n += 1;
    c.total += 1;
    Ok(Slot { counts: counts.clone(), peer })
}

/// Serves `router` on `listener` under `limits` until `shutdown` resolves,
/// then waits (at most `drain`) for the open connections to finish.
pub async fn run(
    listener: TcpListener,
    router: axum::Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
    drain: Duration,
) -> io::Result<()> {
    let counts = Arc::new(Mutex::new(Counts::default()));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let mut refused_logged = Instant::now().checked_sub(Duration::from_secs(60)).unwrap_or_else(Instant::now);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before accept: pause, go on.
                    eprintln!("release-gate serve: accept failed: {e}; pausing 100 ms");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // Reap finished connections so the set does not grow.
        while tasks.try_join_next().is_some() {}
        let slot = match admit(&counts, peer.ip(), &limits) {
            Ok(s) => s,
            Err(limit) => {
                if refused_logged.elapsed() > Duration::from_secs(10) {
                    eprintln!("release-gate serve: connection from {} closed: {limit} reached", peer.ip());
                    refused_logged = Instant::now();
                }
                drop(stream);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let start = Instant::now();
        let last = Arc::new(AtomicU64::new(0));
        let io = hyper_util::rt::TokioIo::new(Tracked { inner: stream, start, last: last.clone() });
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let mut stop = stop_rx.clone();
        tasks.spawn(async move {
            let _slot = slot;
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.idle)
                .serve_connection(io, service);
            tokio::pin!(conn);
            let mut asked_to_close: Option<Instant> = None;
            let tick = (limits.idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = conn.as_mut() => return,
                    _ = stop.changed() => {
                        conn.as_mut().graceful_shutdown();
                        asked_to_close.get_or_insert_with(Instant::now);
                    }
                    () = tokio::time::sleep(tick) => {
                        let idle = start.elapsed().saturating_sub(Duration::from_millis(last.load(Ordering::Relaxed)));
                        if idle >= limits.idle {
                            return; // dropped: closed
                        }
                        if start.elapsed() >= limits.lifetime && asked_to_close.is_none() {
                            conn.as_mut().graceful_shutdown();
                            asked_to_close = Some(Instant::now());
                        }
                        if asked_to_close.is_some_and(|t| t.elapsed() >= Duration::from_secs(5)) {
                            return;
                        }
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(drain, async { while tasks.join_next().await.is_some() {} }).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_capped_per_peer_and_in_all_and_given_back_when_they_close() {
        let limits = Limits { idle: Duration::from_secs(1), lifetime: Duration::from_secs(1), per_peer: 2, total: 3 };
        let counts = Arc::new(Mutex::new(Counts::default()));
        let (a, b) = (IpAddr::from([127, 0, 0, 1]), IpAddr::from([127, 0, 0, 2]));
        let a1 = admit(&counts, a, &limits).expect("first");
        let _a2 = admit(&counts, a, &limits).expect("second");
        assert_eq!(admit(&counts, a, &limits).err(), Some("max-connections-per-peer"));
        let _b1 = admit(&counts, b, &limits).expect("another peer");
        assert_eq!(admit(&counts, b, &limits).err(), Some("max-connections"), "three in all");
        drop(a1);
        let _a3 = admit(&counts, a, &limits).expect("a closed connection gives its place back");
    }
}
