//! The standalone runs headless with the dummy backend (silence, `process()` on time) for a
//! few seconds and exits 0 on SIGINT; a backend that cannot start makes it exit non-zero.
//! Never the default `auto` backend here: it picks ALSA and hangs without a sound card.

use std::process::Command;
use std::time::{Duration, Instant};
use workspace_tests::standalone_binary;

fn headless(cmd: &mut Command) -> &mut Command {
    cmd.env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("JACK_NO_START_SERVER", "1")
}

#[test]
fn runs_headless_with_the_dummy_backend_and_exits_0() {
    let bin = standalone_binary();
    let t = Instant::now();
    let out = headless(
        Command::new("timeout")
            .args(["--preserve-status", "-s", "INT", "-k", "10", "4"])
            .arg(&bin),
    )
    .args([
        "--backend",
        "dummy",
        "--sample-rate",
        "48000",
        "--period-size",
        "512",
    ])
    .output()
    .expect("run timeout");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "standalone exited with {:?}\n{stderr}",
        out.status
    );
    assert!(
        t.elapsed() >= Duration::from_secs(3),
        "standalone stopped early\n{stderr}"
    );
}

#[test]
fn exits_non_zero_when_the_backend_fails() {
    let bin = standalone_binary();
    // No JACK server runs here (and JACK_NO_START_SERVER stops libjack from starting one).
    let out = headless(Command::new("timeout").args(["-s", "KILL", "20"]).arg(&bin))
        .args(["--backend", "jack"])
        .output()
        .expect("run");
    assert_ne!(out.status.code(), Some(124), "timed out instead of failing");
    assert!(
        !out.status.success(),
        "expected a failure exit, got {:?}",
        out.status
    );
}
