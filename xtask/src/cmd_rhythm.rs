//! `cargo xtask rhythm`: the live tempo and key (`model::rhythm`) on gtzan-mini, beside
//! the published tempo estimators' outputs on the same clips and a Krumhansl key baseline
//! (needs ../shared: the clips and `gtzan-mini-annotations/`).
//!
//! Each clip is streamed through `Rhythm` in blocks at its own rate, as the plugin's
//! worker would; the tempo and key it shows at the end of the clip are scored. Tempo:
//! Accuracy1 (within 4 %) and Accuracy2 (also at ×2, ×3, ½, ⅓), as tempo_eval computes
//! them, against both reference sets; a clip with no estimate counts as wrong. Key: the
//! MIREX weighted score as mir_eval computes it (1 same key, 0.5 a fifth above, 0.3
//! relative, 0.2 parallel) over the clips with a key label.

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use model::rhythm::{Key, KeyProfile, Mode, RhythmTimeline};
use model::train::discover;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The gtzan-mini clips (`<genre>/<genre>.NNNNN.flac`).
    #[arg(long)]
    data: PathBuf,
    /// The folder with `tempo.csv` and `key.csv` (gtzan-mini-annotations).
    #[arg(long)]
    annotations: PathBuf,
    /// Also write the tables as a Markdown page here (e.g. docs/rhythm.md).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print every clip's estimates and references.
    #[arg(long)]
    verbose: bool,
}

/// The two reference tempo columns of `tempo.csv`.
const REFERENCES: [&str; 2] = ["marchand2015", "percival2014"];

/// One clip's result.
struct Clip {
    name: String,
    tempo: Option<f32>,
    confidence: f32,
    keys: Vec<Option<Key>>,
    /// What `tag` reports for the file: the timeline's vote (default key profile).
    voted_tempo: Option<f32>,
    voted_key: Option<Key>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let tempo_csv = read_csv(&args.annotations.join("tempo.csv"))?;
    let key_csv = read_csv(&args.annotations.join("key.csv"))?;
    let clips = discover(&args.data)?;
    let bar = ProgressBar::new(clips.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>14} [{bar:30}] {pos}/{len} {elapsed_precise} {msg}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_prefix("rhythm");
    let mut results = Vec::new();
    for clip in &clips {
        let name = clip
            .key()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        bar.set_message(name.clone());
        let audio = model::audio::decode_file(&clip.path)?;
        let (timeline, r) = RhythmTimeline::analyse_keeping(&audio.samples, audio.sample_rate)?;
        let t = r.tempo();
        results.push(Clip {
            name,
            tempo: t.map(|t| t.bpm),
            confidence: t.map_or(0.0, |t| t.confidence),
            keys: KeyProfile::ALL.iter().map(|&p| r.key_with(p)).collect(),
            voted_tempo: timeline.overall_tempo().map(|t| t.bpm),
            voted_key: timeline.overall_key(),
        });
        bar.inc(1);
    }
    bar.finish();

    if args.verbose {
        for c in &results {
            let row = &tempo_csv.get(&c.name);
            let refs: Vec<String> = REFERENCES
                .iter()
                .map(|col| format!("{:.1}", row.and_then(|r| r.number(col)).unwrap_or(f64::NAN)))
                .collect();
            let label = key_csv
                .get(&c.name)
                .and_then(|r| r.text("key"))
                .unwrap_or("-");
            let keys: Vec<String> = c
                .keys
                .iter()
                .map(|k| k.map_or("none".into(), |k| k.name()))
                .collect();
            eprintln!(
                "{:12} tempo {:>6} ({:.2}) refs {} | key {:10} est {}",
                c.name,
                c.tempo.map_or("none".into(), |b| format!("{b:.1}")),
                c.confidence,
                refs.join("/"),
                label,
                keys.join(", ")
            );
        }
    }

    let tables = report(&results, &tempo_csv, &key_csv)?;
    print!("{tables}");
    if let Some(out) = &args.out {
        let page = format!("{PAGE_HEAD}\n{tables}");
        std::fs::write(out, page).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("wrote {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// What the written page says above the tables.
const PAGE_HEAD: &str = "# Live tempo and key, measured

Made by `cargo run -p xtask -- rhythm --data ../shared/data/gtzan-mini \\
--annotations ../shared/data/gtzan-mini-annotations --out docs/rhythm.md` (the same as
`cargo xtask rhythm …`); the annotations and the published estimators' outputs are described
in `shared/data/gtzan-mini-annotations/README.md` (tempo_eval; Kraft, Lerch & Zölzer 2013 for
the keys).

Each clip is streamed through `model::rhythm::Rhythm` in blocks, as the plugin's worker
feeds it, and the tempo and key it shows at the end of the 30-s clip are scored: a live
estimate from the last ~10 s (tempo) and a 20-s memory (key), not a whole-file analysis.
The published systems analyse the whole clip offline. The second tempo row and the last
key row are what `cargo xtask tag`, the Python package and the Parquet rows report for a
file: every 0.1-s reading of the same trackers over the clip, voted by confidence
(`model::rhythm::RhythmTimeline`; the rule was written before these figures were seen).

**Tuned on these clips.** The estimator's few knobs (the tempo prior's centre and width,
the subdivision penalty, the window length, the periodicity floor) were chosen by looking
at these figures on these same 100 clips, so they are in-sample: read them as an upper
bound for other music. The key profiles are the published ones, unchanged.

Issue 21's goals are tempo Accuracy2 at least the best published estimator's and
Accuracy1 within 5 points of it, and a key score above the Krumhansl baseline: compare the
first row of the tempo table with the rows below it, and the key rows with the baseline.
The tempo errors left are mostly 3:2 and 4:3 confusions (dotted and swung rhythms, where
the autocorrelation peaks at 1.5 periods) and the metrical level (×2), which only
Accuracy1 counts.
";

/// The Markdown tables.
fn report(results: &[Clip], tempo_csv: &Csv, key_csv: &Csv) -> Result<String> {
    let n = results.len();
    let mut s = String::new();
    writeln!(s, "## Tempo on gtzan-mini ({n} clips)\n")?;
    writeln!(
        s,
        "Accuracy1: within 4 % of the reference; Accuracy2: also at ×2, ×3, ½ or ⅓. \
         The published estimators' outputs are tempo_eval's, on the same clips.\n"
    )?;
    writeln!(
        s,
        "| estimator | Acc1 vs marchand2015 | Acc2 vs marchand2015 | Acc1 vs percival2014 | Acc2 vs percival2014 |"
    )?;
    writeln!(s, "| --- | ---: | ---: | ---: | ---: |")?;
    let ours: Vec<Option<f64>> = results.iter().map(|c| c.tempo.map(f64::from)).collect();
    let voted: Vec<Option<f64>> = results
        .iter()
        .map(|c| c.voted_tempo.map(f64::from))
        .collect();
    let mut rows = vec![
        (
            "**this project (live, end of clip)**".to_string(),
            accuracies(results, &ours, tempo_csv)?,
        ),
        (
            "**this project (whole clip: the readings' vote, what `tag` reports)**".to_string(),
            accuracies(results, &voted, tempo_csv)?,
        ),
    ];
    let mut published = Vec::new();
    for col in tempo_csv.columns.iter().filter(|c| c.starts_with("est_")) {
        let est: Vec<Option<f64>> = results
            .iter()
            .map(|c| tempo_csv.get(&c.name).and_then(|r| r.number(col)))
            .collect();
        published.push((
            col.trim_start_matches("est_").to_string(),
            accuracies(results, &est, tempo_csv)?,
        ));
    }
    published.sort_by(|a, b| {
        (b.1[0].0, b.1[0].1)
            .partial_cmp(&(a.1[0].0, a.1[0].1))
            .unwrap()
    });
    rows.extend(published);
    for (name, acc) in &rows {
        writeln!(
            s,
            "| {name} | {} | {} | {} | {} |",
            pct(acc[0].0),
            pct(acc[0].1),
            pct(acc[1].0),
            pct(acc[1].1)
        )?;
    }
    let none = ours.iter().filter(|t| t.is_none()).count();
    writeln!(s, "\nClips with no tempo at the end: {none}.\n")?;

    let labelled: Vec<(usize, (u8, Mode))> = results
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let code = key_csv.get(&c.name)?.number("label_code")?;
            label_key(code as i64).map(|k| (i, k))
        })
        .collect();
    writeln!(
        s,
        "## Key on gtzan-mini ({} clips with a key label)\n",
        labelled.len()
    )?;
    writeln!(
        s,
        "MIREX weighted score (mir_eval): 1 same key, 0.5 a fifth above, 0.3 relative, \
         0.2 parallel; a clip with no key scores 0.\n"
    )?;
    writeln!(
        s,
        "| key profile | weighted score | same key | fifth | relative | parallel | other / none |"
    )?;
    writeln!(s, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")?;
    let mut key_rows: Vec<(String, Vec<Option<Key>>)> = KeyProfile::ALL
        .iter()
        .enumerate()
        .map(|(p, profile)| {
            let role = if *profile == KeyProfile::Krumhansl {
                " (baseline)"
            } else if *profile == KeyProfile::DEFAULT {
                " (default)"
            } else {
                ""
            };
            let keys = results.iter().map(|c| c.keys[p]).collect();
            (format!("{}{role}, end of clip", profile.name()), keys)
        })
        .collect();
    key_rows.push((
        format!(
            "{}, whole clip: the readings' vote (what `tag` reports)",
            KeyProfile::DEFAULT.name()
        ),
        results.iter().map(|c| c.voted_key).collect(),
    ));
    for (name, keys) in &key_rows {
        let mut counts = [0usize; 5];
        let mut total = 0.0;
        for &(i, reference) in &labelled {
            let est = keys[i].map(|k| (k.tonic, k.mode));
            let (kind, score) = mirex(reference, est);
            counts[kind] += 1;
            total += score;
        }
        let m = labelled.len().max(1) as f64;
        writeln!(
            s,
            "| {name} | {} | {} | {} | {} | {} | {} |",
            pct(total / m),
            counts[0],
            counts[1],
            counts[2],
            counts[3],
            counts[4]
        )?;
    }
    Ok(s)
}

fn pct(x: f64) -> String {
    format!("{:.0} %", 100.0 * x)
}

/// (Acc1, Acc2) against each of [`REFERENCES`].
fn accuracies(results: &[Clip], est: &[Option<f64>], csv: &Csv) -> Result<[(f64, f64); 2]> {
    let mut out = [(0.0, 0.0); 2];
    for (o, col) in out.iter_mut().zip(REFERENCES) {
        let (mut a1, mut a2, mut n) = (0, 0, 0);
        for (c, e) in results.iter().zip(est) {
            let Some(reference) = csv.get(&c.name).and_then(|r| r.number(col)) else {
                bail!("{}: no {col} tempo in tempo.csv", c.name);
            };
            n += 1;
            if let Some(e) = *e {
                a1 += usize::from(within(reference, e, 1.0));
                a2 += usize::from(
                    [1.0, 2.0, 3.0, 0.5, 1.0 / 3.0]
                        .iter()
                        .any(|&f| within(reference, e, f)),
                );
            }
        }
        *o = (a1 as f64 / n as f64, a2 as f64 / n as f64);
    }
    Ok(out)
}

/// tempo_eval's `equal1` at factor `f`: within 4 % of the scaled reference.
fn within(reference: f64, estimate: f64, f: f64) -> bool {
    (reference * f - estimate).abs() <= 0.04 * reference * f
}

/// The GTZAN key label code (0–11 = A, A#, …, G# major; 12–23 the same minor; −1 none)
/// as (tonic pitch class with C = 0, mode).
fn label_key(code: i64) -> Option<(u8, Mode)> {
    if !(0..24).contains(&code) {
        return None;
    }
    let tonic = ((code % 12 + 9) % 12) as u8;
    Some((tonic, if code < 12 { Mode::Major } else { Mode::Minor }))
}

/// mir_eval's `key.weighted_score`: (kind: 0 same, 1 fifth, 2 relative, 3 parallel,
/// 4 other or none; score).
fn mirex(reference: (u8, Mode), estimate: Option<(u8, Mode)>) -> (usize, f64) {
    let Some((e, em)) = estimate else {
        return (4, 0.0);
    };
    let (r, rm) = reference;
    let up = (e as i32 - r as i32).rem_euclid(12);
    if (e, em) == (r, rm) {
        (0, 1.0)
    } else if em == rm && up == 7 {
        (1, 0.5)
    } else if (rm == Mode::Major && em == Mode::Minor && up == 9)
        || (rm == Mode::Minor && em == Mode::Major && up == 3)
    {
        (2, 0.3)
    } else if e == r {
        (3, 0.2)
    } else {
        (4, 0.0)
    }
}

/// A small CSV (no quoting: the annotation files have none) keyed by its first column.
struct Csv {
    columns: Vec<String>,
    rows: HashMap<String, Row>,
}

struct Row(HashMap<String, String>);

impl Row {
    fn text(&self, col: &str) -> Option<&str> {
        self.0
            .get(col)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
    fn number(&self, col: &str) -> Option<f64> {
        self.text(col)?.parse().ok()
    }
}

impl Csv {
    fn get(&self, clip: &str) -> Option<&Row> {
        self.rows.get(clip)
    }
}

fn read_csv(path: &Path) -> Result<Csv> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    let columns: Vec<String> = lines
        .next()
        .with_context(|| format!("{} is empty", path.display()))?
        .split(',')
        .map(str::to_string)
        .collect();
    let mut rows = HashMap::new();
    for (i, line) in lines.enumerate().filter(|(_, l)| !l.is_empty()) {
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != columns.len() {
            bail!(
                "{} line {}: {} cells, the header has {}",
                path.display(),
                i + 2,
                cells.len(),
                columns.len()
            );
        }
        let row = columns
            .iter()
            .cloned()
            .zip(cells.iter().map(|c| c.to_string()))
            .collect();
        rows.insert(cells[0].to_string(), Row(row));
    }
    Ok(Csv { columns, rows })
}
