//! Exporting the session log from the editor. A native file dialog would need GTK (or a
//! D-Bus portal that a DAW's machine may not run), so the editor writes to one folder it
//! shows — `~/genre-tagger/` (or `$GENRE_TAGGER_EXPORT_DIR`) — with a timestamped name.

use crate::log::csv::file_stamp;
use crate::log::{now_unix_ms, GenreLog};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
        }
    }
}

/// Where exports go.
pub fn export_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("GENRE_TAGGER_EXPORT_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join("genre-tagger")
}

/// Writes `log` into [`export_dir`]; returns the file's path or a message naming what failed.
pub fn export(log: &GenreLog, format: Format) -> Result<PathBuf, String> {
    let dir = export_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(format!(
        "genre-log-{}.{}",
        file_stamp(now_unix_ms()),
        format.extension()
    ));
    let write = || -> std::io::Result<()> {
        let mut out = BufWriter::new(File::create(&path)?);
        match format {
            Format::Csv => crate::log::csv::write_log(log, &mut out)?,
            Format::Json => crate::log::json::write_log(log, &mut out)?,
        }
        out.flush()
    };
    write().map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Writes the taught model (what the saved state holds, refitted) into [`export_dir`] as a
/// model file for `tag --model`, Python and other instances; returns its path or what
/// failed. Runs on the GUI thread: a fit and a model file take well under a second.
pub fn export_taught(state: &crate::teach::TaughtState) -> Result<PathBuf, String> {
    let mut session = state.session()?.ok_or("nothing has been taught yet")?;
    let bytes = session
        .export()
        .map_err(|e| format!("the taught model could not be made: {e}"))?
        .ok_or("nothing has been taught yet")?;
    let dir = export_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(format!(
        "taught-model-{}.safetensors",
        file_stamp(now_unix_ms())
    ));
    std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}
