//! The decision table as `cargo xtask decisions` writes it: Markdown (printed, and with
//! `--out` the committed docs/decisions.md) and JSON.

use super::rows::Row;
use model::dj_mix::{MixScore, Segment};
use model::GENRES;
use serde_json::json;

/// The table's header row, which a committed table must keep ([`crate::md_table`]).
pub const HEADER: &str = "| decision | fitted parameters | gtzan-mini valid, clip (window) | Emotify held-out half, clip (classical/pop/rock of 35) | Brahms (classical) | Tchaikovsky (classical) | Vibe Ace (jazz) | Let's Go Fishin' (country) | DJ mix, no smoothing: windows right, changes found, median delay | DJ mix, smoothing 4 s | cost per 3-s window, one thread |";

fn pct(x: f64) -> String {
    format!("{:.0} %", x * 100.0)
}

fn mix_cell(m: &MixScore) -> String {
    format!(
        "{}, {}/{}, {}",
        pct(m.accuracy()),
        m.found(),
        m.changes,
        m.median_delay_s()
            .map_or("–".into(), |d| format!("{d:.1} s"))
    )
}

/// The table, one line per row, then the mix's pieces.
pub fn markdown(rows: &[Row], segments: &[Segment]) -> String {
    let mut md = format!("{HEADER}\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        let cc: Vec<String> =
            r.cc.iter()
                .map(|(_, g, p, ok)| {
                    let cell = format!("{g} {:.0} %", p * 100.0);
                    if *ok {
                        format!("**{cell}**")
                    } else {
                        cell
                    }
                })
                .collect();
        md += &format!(
            "| {} | {}{} | {:.3}{} | {:.3} ({}) | {} | {} | {} | {:.1} ms |\n",
            r.name,
            r.fitted,
            r.epochs
                .map_or(String::new(), |(b, n)| format!(" (epoch {b} of {n})")),
            r.valid_clip,
            r.valid_window
                .map_or(String::new(), |w| format!(" ({w:.3})")),
            r.heldout_clip,
            r.heldout_per_genre
                .iter()
                .map(|(_, right, _)| right.to_string())
                .collect::<Vec<_>>()
                .join("/"),
            cc.join(" | "),
            mix_cell(&r.mix_raw),
            mix_cell(&r.mix_smoothed),
            r.ms_per_window
        );
    }
    md += &format!(
        "\nDJ mix: {}\n",
        segments
            .iter()
            .map(|s| format!(
                "{} ({}, {:.0}–{:.0} s)",
                s.name, GENRES[s.label], s.start_s, s.end_s
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    md
}

pub fn rows_json(rows: &[Row], segments: &[Segment]) -> serde_json::Value {
    let mix = |m: &MixScore| {
        json!({ "windows": m.windows, "right": m.right, "accuracy": m.accuracy(), "changes": m.changes,
                "found": m.found(), "delays_s": m.delays_s, "median_delay_s": m.median_delay_s() })
    };
    json!({
        "rows": rows.iter().map(|r| json!({
            "decision": r.name, "fitted_parameters": r.fitted,
            "best_epoch": r.epochs.map(|e| e.0), "epochs_run": r.epochs.map(|e| e.1),
            "gtzan_valid_clip": r.valid_clip, "gtzan_valid_window": r.valid_window,
            "emotify_heldout_clip": r.heldout_clip,
            "emotify_heldout_per_genre": r.heldout_per_genre.iter().map(|(g, k, n)| json!({"genre": g, "right": k, "of": n})).collect::<Vec<_>>(),
            "cc": r.cc.iter().map(|(f, g, p, ok)| json!({"piece": f, "genre": g, "probability": p, "right": ok})).collect::<Vec<_>>(),
            "mix_no_smoothing": mix(&r.mix_raw), "mix_smoothed": mix(&r.mix_smoothed),
            "ms_per_window": r.ms_per_window,
        })).collect::<Vec<_>>(),
        "mix": segments.iter().map(|s| json!({"piece": s.name, "genre": GENRES[s.label], "start_s": s.start_s, "end_s": s.end_s})).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::md_table::tables;

    fn mix(right: usize, delays_s: Vec<f64>) -> MixScore {
        MixScore {
            windows: 10,
            right,
            changes: 2,
            delays_s,
        }
    }

    fn row(name: &str, epochs: Option<(usize, usize)>) -> Row {
        Row {
            name: name.into(),
            fitted: 11,
            epochs,
            valid_clip: 0.8,
            valid_window: Some(0.7061),
            heldout_clip: 0.5142,
            heldout_per_genre: vec![
                ("classical".into(), 34, 35),
                ("pop".into(), 6, 35),
                ("rock".into(), 14, 35),
            ],
            cc: vec![
                ("a".into(), "classical".into(), 0.83, true),
                ("b".into(), "classical".into(), 0.69, true),
                ("c".into(), "pop".into(), 0.34, false),
                ("d".into(), "country".into(), 0.38, true),
            ],
            mix_raw: mix(5, vec![3.0]),
            mix_smoothed: mix(6, vec![]),
            ms_per_window: 3.12,
        }
    }

    #[test]
    fn the_table_has_a_row_per_candidate_and_reads_back() {
        let segments = [Segment {
            name: "brahms".into(),
            label: 1,
            start_s: 0.0,
            end_s: 30.0,
        }];
        let md = markdown(&[row("(a)", None), row("(b)", Some((1, 41)))], &segments);
        let t = tables(&md, HEADER).unwrap();
        assert_eq!(t.len(), 1);
        let rows = &t[0];
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][1], "11");
        assert_eq!(rows[1][1], "11 (epoch 1 of 41)");
        assert_eq!(rows[0][2], "0.800 (0.706)");
        assert_eq!(rows[0][3], "0.514 (34/6/14)");
        // Right answers in bold, wrong ones plain.
        assert_eq!(
            &rows[0][4..8],
            [
                "**classical 83 %**",
                "**classical 69 %**",
                "pop 34 %",
                "**country 38 %**"
            ]
        );
        assert_eq!(rows[0][8], "50 %, 1/2, 3.0 s");
        assert_eq!(rows[0][9], "60 %, 0/2, –");
        assert_eq!(rows[0][10], "3.1 ms");
        assert!(
            md.ends_with("\nDJ mix: brahms (classical, 0–30 s)\n"),
            "{md}"
        );
    }

    /// The committed table (`cargo xtask decisions --out docs/decisions.md`) still has the
    /// command's header and a cell per column.
    #[test]
    fn the_committed_table_parses() {
        let path = crate::paths::workspace_root().join("docs/decisions.md");
        let md =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let t = tables(&md, HEADER).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            t[0].len() >= 6,
            "{}: every decision has a row",
            path.display()
        );
    }
}
