//! The persistent Python reference process (`bench/reference.py`): one JSON command per
//! line on its stdin, one JSON reply per line on its stdout; large arrays go both ways as
//! raw little-endian f32 files.

use super::{say, Args};
use crate::paths;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

pub struct Python {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    log: PathBuf,
}

/// How to get the references, for when they are missing.
pub fn install_hint(root: &Path, python: &Path) -> String {
    let venv = python
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("target/bench-venv"));
    let rel = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    format!(
        "To add librosa and PyTorch references (optional; about 6 GB on disk: PyPI has no \
         CPU-only torch wheel\nfor Linux x86_64, so pip also fetches torch's CUDA libraries, \
         which the benchmark never loads):\n    \
         python3 -m venv {venv}\n    {venv}/bin/pip install -r bench/requirements.txt\n\
         then run `cargo xtask bench` again (or pass --python PATH to use another interpreter).",
        venv = rel(venv)
    )
}

impl Python {
    /// Starts the reference process with `threads` threads everywhere (torch, BLAS,
    /// OpenMP, Numba) and without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE, which pin OpenBLAS
    /// to a slow kernel on some machines. Its stderr goes to `log`.
    pub fn start(python: &Path, script: &Path, threads: usize, log: &Path) -> Result<Self> {
        if !python.exists() {
            bail!("{} does not exist", python.display());
        }
        let t = threads.to_string();
        let log_file =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let mut child = Command::new(python)
            .arg(script)
            .env("BENCH_THREADS", &t)
            .env("OMP_NUM_THREADS", &t)
            .env("MKL_NUM_THREADS", &t)
            .env("OPENBLAS_NUM_THREADS", &t)
            .env("NUMBA_NUM_THREADS", &t)
            .env("PYTHONUNBUFFERED", "1")
            .env_remove("OPENBLAS_CORETYPE")
            .env_remove("OPENBLAS_L2_SIZE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .with_context(|| format!("starting {}", python.display()))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut py = Self {
            child,
            stdin,
            stdout,
            log: log.to_path_buf(),
        };
        let hello = py.read()?;
        if let Some(e) = hello.get("error") {
            bail!("{}", e.as_str().unwrap_or("unknown error"));
        }
        Ok(py)
    }

    fn read(&mut self) -> Result<Value> {
        let mut line = String::new();
        let n = self.stdout.read_line(&mut line)?;
        if n == 0 {
            bail!(
                "the Python reference process exited (its messages: {})",
                self.log.display()
            );
        }
        serde_json::from_str(&line).with_context(|| format!("bad reply from Python: {line}"))
    }

    /// Sends one command and returns its reply; an `error` reply becomes an error.
    pub fn call(&mut self, cmd: Value) -> Result<Value> {
        writeln!(self.stdin, "{cmd}")?;
        self.stdin.flush()?;
        let reply = self.read()?;
        match reply.get("error") {
            Some(e) => Err(anyhow!("Python: {}", e.as_str().unwrap_or("unknown error"))),
            None => Ok(reply),
        }
    }

    /// One timed sample: seconds per call over `iters` calls, timed inside Python.
    pub fn sample(&mut self, mut cmd: Value, iters: usize) -> Result<f64> {
        cmd["iters"] = iters.into();
        let r = self.call(cmd)?;
        r["seconds"]
            .as_f64()
            .ok_or_else(|| anyhow!("Python reply without seconds: {r}"))
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        // Our own child, ended by its handle; wait so no zombie is left behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the Python references (unless `--no-reference`); what happened goes in the
/// JSON's `reference` entry, and a failure only leaves them out.
pub fn start_references(
    args: &Args,
    root: &Path,
    target: &Path,
) -> Result<(Option<Python>, Value)> {
    let mut info = json!({ "available": false });
    if args.no_reference {
        info["skipped"] = "--no-reference".into();
        return Ok((None, info));
    }
    let python = paths::from_root(&args.python);
    let log = target.join("bench-python.log");
    match Python::start(
        &python,
        &root.join("bench/reference.py"),
        args.threads,
        &log,
    ) {
        Ok(mut p) => {
            let hello = p.call(json!({"cmd": "hello"}))?;
            let python = python.display().to_string();
            info = json!({ "available": true, "python": python, "hello": hello });
            say(args.json, references_line(&info["hello"]));
            Ok((Some(p), info))
        }
        Err(e) => {
            let hint = install_hint(root, &python);
            eprintln!("Python references not run: {e:#}\n{hint}");
            info["error"] = format!("{e:#}").into();
            Ok((None, info))
        }
    }
}

/// One line naming the reference tools and their thread pools.
fn references_line(hello: &Value) -> String {
    let pools: Vec<String> = hello["threadpools"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            format!(
                "{} {} ({} threads{})",
                p["internal_api"].as_str().unwrap_or("?"),
                p["version"].as_str().unwrap_or(""),
                p["num_threads"],
                p["architecture"]
                    .as_str()
                    .map(|a| format!(", kernel {a}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    let version = |k: &str| hello["versions"][k].as_str().unwrap_or("?").to_string();
    format!(
        "references: Python {}, librosa {}, numpy {}, PyTorch {} ({} threads); native pools: {}",
        hello["python"].as_str().unwrap_or("?"),
        version("librosa"),
        version("numpy"),
        version("torch"),
        hello["torch_threads"],
        pools.join(", ")
    )
}

pub fn write_f32(path: &Path, v: &[f32]) -> Result<()> {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

pub fn read_f32(path: &Path) -> Result<Vec<f32>> {
    let b = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// A JSON array of arrays of numbers, flattened (a non-number reads as NaN).
pub fn json_matrix(v: &Value) -> Vec<f32> {
    v.as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| {
            r.as_array()
                .into_iter()
                .flatten()
                .map(|x| x.as_f64().unwrap_or(f64::NAN) as f32)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_files_round_trip() {
        let p = std::env::temp_dir().join(format!("xtask-bench-{}.f32", std::process::id()));
        write_f32(&p, &[1.5, -2.25, 0.0]).unwrap();
        assert_eq!(read_f32(&p).unwrap(), vec![1.5, -2.25, 0.0]);
        std::fs::remove_file(p).unwrap();
    }

    #[test]
    fn json_matrices_flatten_row_by_row() {
        assert_eq!(
            json_matrix(&json!([[1.0, 2.0], [3.5]])),
            vec![1.0, 2.0, 3.5]
        );
        assert!(json_matrix(&json!([["x"]]))[0].is_nan());
        assert!(json_matrix(&json!("not a matrix")).is_empty());
    }
}
