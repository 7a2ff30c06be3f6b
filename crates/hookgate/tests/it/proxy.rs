//! A TCP proxy the tests can cut and restore, standing between the gateway and Postgres
//! or RabbitMQ to simulate an outage without touching the shared services. It can also
//! hold back what the upstream sends (a broker that takes publishes but does not confirm
//! them) while the connections stay open: one chunk waits in the proxy and the rest in the
//! socket buffers, so a hold suits small volumes. Either side's end of stream (or a cut)
//! closes both directions of that connection; no half-closed connection is kept.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::watch,
};
use tokio_util::sync::CancellationToken;

/// Forwards connections to `upstream` while up; while cut, closes new and existing ones.
/// While held, what the upstream sends waits in the proxy (the client's bytes still go
/// through).
pub struct Proxy {
    addr: SocketAddr,
    generation: Arc<Mutex<Option<CancellationToken>>>,
    held: watch::Sender<bool>,
    stop: CancellationToken,
}

impl Proxy {
    /// Listen on an ephemeral loopback port.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let generation = Arc::new(Mutex::new(Some(CancellationToken::new())));
        let stop = CancellationToken::new();
        let (held, held_) = watch::channel(false);
        let (gen_, stop_) = (generation.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    () = stop_.cancelled() => return,
                };
                let Ok((client, _)) = accepted else { continue };
                let current = gen_.lock().expect("lock").clone();
                let Some(token) = current else {
                    drop(client); // cut: refuse by closing at once
                    continue;
                };
                tokio::spawn(pump(client, upstream, token, held_.clone()));
            }
        });
        Self {
            addr,
            generation,
            held,
            stop,
        }
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Close every connection and refuse new ones.
    pub fn cut(&self) {
        if let Some(token) = self.generation.lock().expect("lock").take() {
            token.cancel();
        }
    }

    /// Accept and forward again.
    pub fn restore(&self) {
        *self.generation.lock().expect("lock") = Some(CancellationToken::new());
    }

    /// Stop passing on what the upstream sends, keeping every connection open.
    pub fn hold(&self) {
        self.held.send_replace(true);
    }

    /// Pass on what was held, and everything after it.
    pub fn release(&self) {
        self.held.send_replace(false);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.stop.cancel();
    }
}

async fn pump(
    client: TcpStream,
    upstream: SocketAddr,
    token: CancellationToken,
    held: watch::Receiver<bool>,
) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut client_in, mut client_out) = client.into_split();
    let (mut server_in, mut server_out) = server.into_split();
    tokio::select! {
        _ = tokio::io::copy(&mut client_in, &mut server_out) => {}
        () = back(&mut server_in, &mut client_out, held) => {}
        () = token.cancelled() => {}
    }
}

/// Upstream to client, each chunk waiting while the proxy is held.
async fn back(
    from: &mut (impl AsyncReadExt + Unpin),
    to: &mut (impl AsyncWriteExt + Unpin),
    mut held: watch::Receiver<bool>,
) {
    let mut chunk = vec![0; 16 << 10];
    loop {
        let n = match from.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if held.wait_for(|h| !h).await.is_err() || to.write_all(&chunk[..n]).await.is_err() {
            return;
        }
    }
}
