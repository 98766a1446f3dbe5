//! The real `sse-host` binary, for tests that run it as a user would.
//!
//! Cargo sets `CARGO_BIN_EXE_<name>` only for a binary's own package, so this builds the binary
//! (once per test process; a no-op when it is fresh) with the same cargo and profile as the
//! running test and returns the path cargo reports.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// Path to a freshly built `sse-host`. Panics (test code) if it cannot be built.
pub fn path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(build).clone()
}

fn build() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let release = std::env::current_exe()
        .ok()
        .is_some_and(|exe| exe.components().any(|c| c.as_os_str() == "release"));
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--quiet",
        "--message-format=json",
        "-p",
        "sse-host",
        "--bin",
        "sse-host",
    ])
    .args(["--manifest-path", manifest]);
    if release {
        cmd.arg("--release");
    }
    let out = cmd.output().expect("run cargo build");
    assert!(
        out.status.success(),
        "cargo build sse-host failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|msg| msg["reason"] == "compiler-artifact" && msg["target"]["name"] == "sse-host")
        .filter(|msg| {
            msg["target"]["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bin"))
        })
        .find_map(|msg| msg["executable"].as_str().map(PathBuf::from))
        .expect("cargo reported no sse-host executable")
}
