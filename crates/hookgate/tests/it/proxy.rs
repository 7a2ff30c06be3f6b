//! A TCP proxy the tests can cut and restore, standing between the gateway and Postgres
//! or RabbitMQ to simulate an outage without touching the shared services.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Forwards connections to `upstream` while up; while cut, closes new and existing ones.
pub struct Proxy {
    addr: SocketAddr,
    generation: Arc<Mutex<Option<CancellationToken>>>,
    stop: CancellationToken,
}

impl Proxy {
    /// Listen on an ephemeral loopback port.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let generation = Arc::new(Mutex::new(Some(CancellationToken::new())));
        let stop = CancellationToken::new();
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
                tokio::spawn(pump(client, upstream, token));
            }
        });
        Self {
            addr,
            generation,
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
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.stop.cancel();
    }
}

async fn pump(mut client: TcpStream, upstream: SocketAddr, token: CancellationToken) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        () = token.cancelled() => {}
    }
}
