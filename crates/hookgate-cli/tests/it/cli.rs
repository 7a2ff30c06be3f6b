//! Running the real binary without services: a scratch directory per test with a config
//! file, and `hookgate` run to completion with its exit status and output.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// A directory removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// A fresh directory under the system temp dir.
    pub fn new(prefix: &str) -> Self {
        let dir = std::env::temp_dir().join(crate::helpers::unique(prefix));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }

    /// Write `name` in the directory; returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a finished `hookgate` run printed.
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Run `hookgate --config <config> <args>` to completion.
pub fn hookgate(config: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("HOOKGATE_CONFIG")
        .env_remove("HOOKGATE_PRESETS_DIR")
        .env("RUST_LOG", "error")
        .output()
        .expect("run hookgate");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The `[database]` and `[amqp]` tables every config needs (never connected to here).
pub const SERVICES: &str = "[database]\nurl = \"postgres://unused@127.0.0.1:1/x\"\n[amqp]\nurl = \"amqp://unused@127.0.0.1:1/%2f\"\n";

/// `openssl` run with `args`; its stdout.
pub fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
