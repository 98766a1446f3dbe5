//! The real `sse-host` binary, for tests that run it as a user would.
//!
//! Cargo sets `CARGO_BIN_EXE_<name>` only for a binary's own package. `cargo test` on the
//! workspace builds `sse-host` anyway (the host package has integration tests of its own), next to
//! this test executable and with the same features, so that copy is used when it is fresh: newer
//! than every `sse-host` library build and every source file of the host package. Otherwise (say,
//! `cargo test -p sse-tests` after an edit) this builds it with the same cargo and profile. Building
//! it with `-p sse-host` when the workspace copy is fresh would compile most of the dependency
//! graph a second time with other features: ~20 s and several hundred MB per test run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::SystemTime;

/// Path to a fresh `sse-host`. Panics (test code) if it cannot be built.
pub fn path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| fresh_sibling().unwrap_or_else(build))
        .clone()
}

/// `sse-host` in this test executable's profile directory, if nothing it is built from is newer.
fn fresh_sibling() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent()?;
    let bin = deps
        .parent()?
        .join(format!("sse-host{}", std::env::consts::EXE_SUFFIX));
    let built = modified(&bin)?;
    let libs = std::fs::read_dir(deps).ok()?.filter_map(|entry| {
        let path = entry.ok()?.path();
        let name = path.file_name()?.to_str()?;
        (name.starts_with("libsse_host-") && name.ends_with(".rlib")).then_some(path)
    });
    let host = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../host"));
    let mut inputs = vec![host.join("Cargo.toml")];
    collect_files(&host.join("src"), &mut inputs);
    collect_files(&host.join("web"), &mut inputs);
    let newer = libs
        .chain(inputs)
        .any(|p| modified(&p).is_none_or(|t| t > built));
    (!newer).then_some(bin)
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).ok()?.modified().ok()
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
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
