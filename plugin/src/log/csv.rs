//! The log as CSV: the editor's export and the standalone's `--log FILE`, one format.
//!
//! ```text
//! time_s,utc,hops,span_s,top,confidence,silent_hops,level_db,bpm,key,camelot,blues,…,rock[,style:<name>,…]
//! ```
//! One line per row (per hop, or per summary row in an export of a long session). `bpm`,
//! `key` ("A minor") and `camelot` ("8A") are empty where the trackers showed none. The
//! `csv` crate does the quoting: style names such as AudioSet's may contain commas.

use super::{utc, GenreLog, Hop, LogHeader, Row};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// The fixed columns before the per-label ones.
pub const FIXED_COLUMNS: [&str; 11] = [
    "time_s",
    "utc",
    "hops",
    "span_s",
    "top",
    "confidence",
    "silent_hops",
    "level_db",
    "bpm",
    "key",
    "camelot",
];

/// Prefix of the style columns (keeps them apart from genre labels of the same name).
pub const STYLE_PREFIX: &str = "style:";

pub fn columns(header: &LogHeader) -> Vec<String> {
    FIXED_COLUMNS
        .iter()
        .map(|s| s.to_string())
        .chain(header.labels.iter().cloned())
        .chain(header.styles.iter().map(|s| format!("{STYLE_PREFIX}{s}")))
        .collect()
}

fn record(row: &Row, labels: &[String]) -> Vec<String> {
    let top = row
        .top
        .and_then(|t| labels.get(t))
        .cloned()
        .unwrap_or_default();
    [
        format!("{:.3}", row.time_s),
        super::utc(row.unix_ms),
        row.hops.to_string(),
        format!("{:.3}", row.span_s),
        top,
        format!("{:.4}", row.confidence),
        row.silent_hops.to_string(),
        format!("{:.1}", row.level_db),
        row.bpm.map_or(String::new(), |b| format!("{b:.1}")),
        row.key.map_or(String::new(), |k| k.name()),
        row.key.map_or(String::new(), |k| k.camelot_code()),
    ]
    .into_iter()
    .chain(row.distribution.iter().map(|p| format!("{p:.4}")))
    .chain(row.styles.iter().map(|p| format!("{p:.4}")))
    .collect()
}

/// One hop as a row of its own.
pub fn hop_row(hop: &Hop, header: &LogHeader) -> Row {
    let fit = |v: &[f32], n: usize| {
        (0..n)
            .map(|i| v.get(i).copied().unwrap_or(0.0))
            .collect::<Vec<_>>()
    };
    Row {
        time_s: hop.time_s,
        unix_ms: hop.unix_ms,
        hops: 1,
        span_s: 0.0,
        top: hop.top.filter(|&t| t < header.labels.len()),
        confidence: hop.confidence,
        silent_hops: hop.silent as u32,
        level_db: hop.level_db,
        distribution: fit(&hop.distribution, header.labels.len()),
        styles: fit(&hop.styles, header.styles.len()),
        bpm: hop.tempo.map(|t| t.bpm),
        key: hop.key,
    }
}

fn line(fields: &[String]) -> io::Result<Vec<u8>> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record(fields).map_err(io::Error::other)?;
    w.into_inner().map_err(|e| io::Error::other(e.to_string()))
}

/// The whole log: header line, then every row oldest first.
pub fn write_log(log: &GenreLog, out: impl Write) -> io::Result<()> {
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record(columns(log.header()))
        .map_err(io::Error::other)?;
    for row in log.rows() {
        w.write_record(record(&row, &log.header().labels))
            .map_err(io::Error::other)?;
    }
    w.flush()
}

/// Why a `--log` file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LogFileError {
    #[error("cannot open the log file {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error(
        "the log file {path} already holds a log with other columns (its header is \
         \"{found}\"; this model writes \"{want}\"): use a new file"
    )]
    OtherColumns {
        path: PathBuf,
        found: String,
        want: String,
    },
}

/// Appends one CSV line per hop to a file and flushes it at once, so that killing the
/// process loses at most the line being written. A new or empty file gets the header line
/// first; an existing log is continued only if its header is the same.
pub struct CsvAppender {
    file: File,
    path: PathBuf,
    header: LogHeader,
}

impl CsvAppender {
    pub fn open(path: impl AsRef<Path>, header: &LogHeader) -> Result<Self, LogFileError> {
        let path = path.as_ref().to_path_buf();
        let open_err = |source| LogFileError::Open {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .map_err(open_err)?;
        let want = line(&columns(header)).map_err(open_err)?;
        let len = file.metadata().map_err(open_err)?.len();
        if len == 0 {
            file.write_all(&want).map_err(open_err)?;
        } else {
            let mut first = String::new();
            BufReader::new(File::open(&path).map_err(open_err)?)
                .read_line(&mut first)
                .map_err(open_err)?;
            let want = String::from_utf8_lossy(&want);
            if first.trim_end() != want.trim_end() {
                return Err(LogFileError::OtherColumns {
                    path,
                    found: first.trim_end().to_string(),
                    want: want.trim_end().to_string(),
                });
            }
        }
        Ok(Self {
            file,
            path,
            header: header.clone(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&self) -> &LogHeader {
        &self.header
    }

    /// Writes one hop's line with a single `write` and syncs it to the OS.
    pub fn append(&mut self, hop: &Hop) -> io::Result<()> {
        let bytes = line(&record(&hop_row(hop, &self.header), &self.header.labels))?;
        self.file.write_all(&bytes)?;
        self.file.flush()
    }
}

/// A timestamp for export file names: `20261130-210405` (UTC).
pub fn file_stamp(unix_ms: u64) -> String {
    let s = utc(unix_ms); // 2026-11-30T21:04:05.123Z
    let digits: String = s.chars().take(19).filter(|c| c.is_ascii_digit()).collect();
    format!(
        "{}-{}",
        &digits[..8.min(digits.len())],
        &digits[8.min(digits.len())..]
    )
}
