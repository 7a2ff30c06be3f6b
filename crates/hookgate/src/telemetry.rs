//! `tracing` set-up, written to stderr: JSON lines when stderr is not a terminal
//! (production), pretty text on a terminal (development). `RUST_LOG` overrides the default filter.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt};

/// Install the global subscriber (once; later calls are ignored).
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,lapin=warn,actix_server=warn"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if std::io::stderr().is_terminal() {
        builder.try_init()
    } else {
        builder.json().flatten_event(true).try_init()
    };
}
