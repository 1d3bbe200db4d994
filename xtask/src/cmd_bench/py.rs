//! The persistent Python reference process (`bench/reference.py`): one JSON command per
//! line on its stdin, one JSON reply per line on its stdout.

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
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
