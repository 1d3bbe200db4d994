//! Workspace-level end-to-end tests: the built plugin in real hosts.
//!
//! - `tests/clap_host.rs`: the built `.clap` loaded with `clack-host` (pass-through, latency,
//!   deactivate/reactivate, state save/restore).
//! - `tests/analysis.rs`: committed CC-licensed music through the plugin's own analysis path.
//! - `tests/standalone.rs`: the standalone binary headless (`--backend dummy`).
//!
//! The pedalboard (VST3) check is `tests/pedalboard_check.py`, run by `.ci/run`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

pub fn profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Builds the plugin package (library and standalone, default features, this test's profile)
/// once per test process. A no-op when it is up to date.
pub fn build_plugin() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.current_dir(workspace_root())
            .args(["build", "-p", "genre-tagger", "--lib", "--bins"]);
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("running cargo build");
        assert!(status.success(), "cargo build -p genre-tagger failed");
        target_dir().join(profile())
    })
}

/// The built CLAP plugin (nice-plug's `.clap` bundle is this shared library, renamed).
pub fn clap_library() -> PathBuf {
    build_plugin().join("libgenre_tagger.so")
}

pub fn standalone_binary() -> PathBuf {
    build_plugin().join("genre_tagger")
}

pub fn fixture(name: &str) -> PathBuf {
    workspace_root().join("fixtures/cc-music").join(name)
}
