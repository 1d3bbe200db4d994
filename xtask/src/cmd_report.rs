//! `cargo xtask report DIR…`: redraws a training report's pictures from its
//! `metrics.json`, without retraining (after a change to how reports are drawn).

use crate::report;
use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Report folders, each with the `metrics.json` `cargo xtask train` wrote.
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    for dir in &args.dirs {
        report::draw_folder(&dir.join("metrics.json"), dir)?;
        eprintln!("redrew {}", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}
