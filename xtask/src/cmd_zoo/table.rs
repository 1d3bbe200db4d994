//! zoo.md: the table the README shows.

use super::{SetScore, SystemResult, Zoo};

/// What each system's paper reported (on its own protocol), for the table's second column.
pub fn paper_figure(name: &str) -> &'static str {
    match name {
        "seed-2block" => "48 %",
        "seed-128chunk" => "82 % (chunks split at random)",
        "seed-4block" => "71 %",
        "crnn" => "86.7 % (as the fifth paper reports it)",
        "features-svm" => "72 % (the fifth paper's features + SVM)",
        "features-logistic" | "features-knn" | "features-forest" => "— (the same features)",
        "seed-cnn" => "— (this project's CNN)",
        "musicnn-mtt" => "— (this project's previous default)",
        _ => "",
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}", 100.0 * x)
}

fn mean_std(s: &SetScore) -> String {
    format!(
        "{} ± {} ({} ± {})",
        pct(s.clip.mean),
        pct(s.clip.std),
        pct(s.window.mean),
        pct(s.window.std)
    )
}

fn single(s: &SetScore) -> String {
    format!("{} ({})", pct(s.clip.mean), pct(s.window.mean))
}

fn cc(r: &SystemResult) -> String {
    let right = r.cc.iter().filter(|p| p.got == p.expected).count();
    let got: Vec<String> = r.cc.iter().map(|p| p.got.clone()).collect();
    format!("{right}/{} ({})", r.cc.len(), got.join(", "))
}

fn params(n: usize) -> String {
    if n >= 1_000_000 {
        format!("{:.1} M", n as f64 / 1e6)
    } else {
        format!("{:.0} k", n as f64 / 1e3)
    }
}

pub fn markdown(zoo: &Zoo) -> String {
    let mut s = String::new();
    let test = zoo.systems.iter().any(|r| r.gtzan_test.is_some());
    s.push_str(
        "| system | paper's figure | gtzan-mini, 5-fold CV by clip: clip (window) accuracy % ⚠ artist-overlapping | Emotify held-out half: clip (window) % | CC pieces right (top genre each) |",
    );
    if test {
        s.push_str(" GTZAN artist-filtered test: clip (window) % |");
    }
    s.push_str(" parameters | training, s per run | ms per window, one core | settings |\n");
    s.push_str("|---|---|---|---|---|");
    if test {
        s.push_str("---|");
    }
    s.push_str("---|---|---|---|\n");
    for r in &zoo.systems {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |",
            r.name,
            paper_figure(&r.name),
            mean_std(&r.cv),
            single(&r.emotify_heldout),
            cc(r)
        ));
        if test {
            s.push_str(&format!(
                " {} |",
                r.gtzan_test.as_ref().map_or("–".into(), single)
            ));
        }
        s.push_str(&format!(
            " {} | {:.0} | {:.2} ({:.2}-s window) | {} |\n",
            params(r.cost.parameters),
            r.cost.train_seconds,
            r.cost.ms_per_window,
            r.cost.window_seconds,
            r.settings
        ));
    }
    // The cells after the third, left empty.
    let blank = if test {
        " | | | | | | |"
    } else {
        " | | | | | |"
    };
    for name in &zoo.not_run {
        s.push_str(&format!(
            "| {name} | {} | not run yet: `cargo xtask zoo --systems {name}` adds it |{blank}\n",
            paper_figure(name)
        ));
    }
    s.push_str(&format!(
        "| ImageNet transfer (ResNet50 / Xception) | 73 % (the third paper) | not run: no ImageNet weights can be reached from here. The rows that transfer do so from audio networks instead: musicnn-mtt (MagnaTagATune) here, and EfficientAT (AudioSet), the default model now, compared in its own table (\"How the decision was chosen\") |{blank}\n"
    ));
    if let Some(l) = &zoo.leak {
        s.push_str(&format!(
            "\n**The leak.** seed-128chunk on the {} non-overlapping 128 × 128 chunks of gtzan-mini, 5 folds each way ({}): chunks split at random, as its paper did — chunk accuracy **{} ± {} %**; the same chunks split by clip (every chunk of a clip on one side) — **{} ± {} %**. The gap, **{:.1} points**, is what chunks of the same song on both sides of the split add.\n",
            l.chunks,
            l.settings,
            pct(l.random_chunks.mean),
            pct(l.random_chunks.std),
            pct(l.by_clip.mean),
            pct(l.by_clip.std),
            100.0 * (l.random_chunks.mean - l.by_clip.mean)
        ));
    }
    s.push_str(&format!(
        "\n`cargo xtask {}` (seed {}), {:.0} s for this invocation. Clip accuracy: the top genre of the mean of a clip's window distributions; windows every 3 s. CV: fold k scores clips 2k and 2k+1 of every genre (20 clips), clip 9 (7 in the last fold) validates, seven train; mean ± standard deviation over the five folds. Emotify and CC: one model trained on gtzan-mini (clip 9 of each genre validating) plus the Emotify train half (files 1, 3, 5, … of each genre), scored on the other half (105 excerpts of classical, pop and rock, 10-way) and the four CC pieces (Brahms and Tchaikovsky: classical, Vibe Ace: jazz, Let's Go Fishin': country).\n",
        zoo.command, zoo.seed, zoo.seconds
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::super::{Cost, Leak, Score, SetScore, SystemResult, Zoo};
    use super::*;

    fn set(v: f64) -> SetScore {
        SetScore {
            clip: Score::of(vec![v, v + 0.1]),
            window: Score::of(vec![v]),
            clips: 20,
        }
    }

    #[test]
    fn every_row_has_the_headers_cells_and_the_leak_gap_is_stated() {
        for test in [false, true] {
            let zoo = Zoo {
                command: "zoo".into(),
                data: "d".into(),
                seed: 1,
                systems: vec![SystemResult {
                    name: "seed-128chunk".into(),
                    fingerprint: String::new(),
                    settings: "s".into(),
                    cv: set(0.5),
                    emotify_heldout: set(0.4),
                    cc: Vec::new(),
                    gtzan_test: test.then(|| set(0.3)),
                    cost: Cost {
                        parameters: 1_500,
                        train_seconds: 2.0,
                        ms_per_window: 1.0,
                        window_seconds: 3.0,
                    },
                    runs: Vec::new(),
                }],
                not_run: vec!["crnn".into()],
                leak: Some(Leak {
                    fingerprint: String::new(),
                    settings: "s".into(),
                    chunks: 300,
                    random_chunks: Score::of(vec![0.6]),
                    by_clip: Score::of(vec![0.25]),
                }),
                seconds: 1.0,
            };
            let md = markdown(&zoo);
            let rows: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
            assert_eq!(rows.len(), 5, "{md}");
            let cells = |l: &str| l.matches('|').count();
            assert!(rows.iter().all(|r| cells(r) == cells(rows[0])), "{md}");
            assert!(md.contains("55.0 ± 5.0 (50.0 ± 0.0)"), "{md}");
            assert!(
                md.contains("not run yet: `cargo xtask zoo --systems crnn`"),
                "{md}"
            );
            assert!(md.contains("**35.0 points**"), "{md}");
        }
    }

    /// The committed zoo.json (`cargo xtask zoo --out DIR`, copied to docs/) still reads as
    /// the command's `Zoo` and renders a table row per system, in the zoo's order.
    #[test]
    fn the_committed_zoo_json_parses_and_renders() {
        let path = crate::paths::workspace_root().join("docs/zoo.json");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let zoo: Zoo = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} no longer parses: {e}", path.display()));
        assert!(!zoo.systems.is_empty(), "{}", path.display());
        let md = markdown(&zoo);
        let mut at = 0;
        for s in &zoo.systems {
            let line = md[at..]
                .find(&format!("\n| {} |", s.name))
                .unwrap_or_else(|| panic!("no row for {} in\n{md}", s.name));
            at += line + 1;
        }
    }
}
