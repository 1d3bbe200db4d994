//! What xtask's integration tests share: running the built `xtask` binary from the
//! workspace root, and reading what it said.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The workspace root, where `cargo xtask` runs.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs `xtask ARGS` from the workspace root.
pub fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// How a refused command must end.
#[derive(Debug, Clone, Copy)]
pub enum Exit {
    /// This exit code (1: the command failed; 2: clap refused the arguments).
    Code(i32),
    /// Any failure.
    Fails,
}

/// One refusal: the arguments, how it exits, and what its stderr must say (every string).
pub type Refusal<'a> = (&'a [&'a str], Exit, &'a [&'a str]);

/// Runs every case and reports all that went wrong at once, each with its arguments.
pub fn check_refusals(cases: &[Refusal]) {
    let mut wrong = Vec::new();
    for (args, exit, says) in cases {
        let o = xtask(args);
        let err = stderr(&o);
        let code_ok = match exit {
            Exit::Code(c) => o.status.code() == Some(*c),
            Exit::Fails => !o.status.success(),
        };
        if !code_ok {
            wrong.push(format!(
                "{args:?}: exit {:?}, want {exit:?}: {err}",
                o.status.code()
            ));
        }
        for s in *says {
            if !err.contains(s) {
                wrong.push(format!("{args:?}: stderr lacks {s:?}: {err}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
