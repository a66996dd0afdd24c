//! A cuttable edge of the local lab: a loopback TCP relay between one service and one backend, with a
//! switch that turns it into a blackhole — the local stand-in for the scenarios' NetworkPolicy cut
//! (`cut: { from, to }` / `restore`), opt-in (only `Lab::start_with_cuts` puts relays in the lab).
//!
//! Why this models the NetworkPolicy: a policy denying egress makes the kernel *drop* the packets —
//! the client gets no RST, no answer, nothing; its own timeouts are what end each attempt, and when
//! the policy goes, TCP's retransmissions carry the held bytes through. The relay does the same at
//! the byte level: while cut it reads nothing and writes nothing (the kernel's buffers fill and the
//! sender stalls, exactly as under retransmission), new connections are accepted but held unanswered
//! (no upstream connection, not a byte back), and on restore every held connection proceeds. The one
//! difference: a dropped SYN makes `connect()` itself hang, while here the loopback handshake
//! completes and the client hangs on its first read (the PostgreSQL startup message, Redis' HELLO)
//! — the same client-side timeouts (pool acquire, response timeout) fire either way.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// One relay: listens on a free loopback port and forwards to `upstream` while not cut.
pub struct Relay {
    port: u16,
    cut: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Relay {
    /// Starts forwarding `127.0.0.1:<free port>` → `upstream` (on the current tokio runtime).
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (cut, open) = watch::channel(false);
        let task = tokio::spawn(async move {
            // Accepting ends with the relay (the task is aborted on drop): bounded by its owner.
            while let Ok((client, _)) = listener.accept().await {
                let open = open.clone();
                tokio::spawn(async move {
                    let _ = connection(client, upstream, open).await;
                });
            }
        });
        Ok(Self { port, cut, task })
    }

    /// The port the service is pointed at instead of the backend's.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Blackhole (`true`) or forward (`false`).
    pub fn set_cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }

    pub fn is_cut(&self) -> bool {
        *self.cut.borrow()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Waits while the edge is cut; `Err` once the relay is gone.
async fn wait_open(open: &mut watch::Receiver<bool>) -> Result<(), watch::error::RecvError> {
    open.wait_for(|cut| !*cut).await.map(|_| ())
}

/// One client connection: held until the edge is open, then forwarded in both directions, each
/// chunk only while the edge is open (a cut stalls established connections too).
async fn connection(
    client: TcpStream,
    upstream: SocketAddr,
    mut open: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    wait_open(&mut open).await?;
    let server = TcpStream::connect(upstream).await?;
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = tokio::spawn(pump(cr, sw, open.clone()));
    let down = tokio::spawn(pump(sr, cw, open));
    let _ = tokio::join!(up, down);
    Ok(())
}

/// Copies `from` → `to` until EOF or an error, waiting for the edge to be open around every read
/// and write.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut open: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        wait_open(&mut open).await?;
        let n = from.read(&mut buf).await?;
        if n == 0 {
            to.shutdown().await?;
            return Ok(());
        }
        wait_open(&mut open).await?;
        to.write_all(&buf[..n]).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// An echo server on loopback.
    async fn echo() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut b = [0u8; 64];
                    while let Ok(n) = s.read(&mut b).await {
                        if n == 0 || s.write_all(&b[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    async fn round_trip(s: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
        s.write_all(b"ping").await.ok()?;
        let mut b = [0u8; 4];
        tokio::time::timeout(within, s.read_exact(&mut b))
            .await
            .ok()?
            .ok()?;
        Some(b.to_vec())
    }

    #[tokio::test]
    async fn a_cut_holds_old_and_new_connections_and_a_restore_lets_them_through() {
        let relay = Relay::start(echo().await).await.unwrap();
        let addr = ("127.0.0.1", relay.port());
        let mut old = TcpStream::connect(addr).await.unwrap();
        let short = Duration::from_millis(300);
        assert_eq!(round_trip(&mut old, short).await.unwrap(), b"ping");

        relay.set_cut(true);
        assert!(relay.is_cut());
        assert!(
            round_trip(&mut old, short).await.is_none(),
            "cut: no answer"
        );
        let mut new = TcpStream::connect(addr).await.unwrap();
        assert!(round_trip(&mut new, short).await.is_none(), "cut: new held");

        relay.set_cut(false);
        // The bytes written during the cut arrive now, like retransmitted segments.
        let mut b = [0u8; 4];
        for s in [&mut old, &mut new] {
            tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut b))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(&b, b"ping");
        }
        assert_eq!(
            round_trip(&mut new, Duration::from_secs(2)).await.unwrap(),
            b"ping"
        );
    }
}
