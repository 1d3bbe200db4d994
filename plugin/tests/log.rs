//! The session log: exact recent hops, change events, bounded memory with summaries of the
//! oldest (nothing silently lost: summarised rows still count their hops), and the CSV/JSON
//! formats, including the standalone's append-and-flush `--log` file.

use genre_tagger::log::csv::{columns, write_log as write_csv, CsvAppender, LogFileError};
use genre_tagger::log::json::write_log as write_json;
use genre_tagger::log::{describe_change, GenreLog, Hop, LogHeader, LogLimits};
use model::rhythm::{Key, Tempo};

fn header(n_labels: usize, n_styles: usize) -> LogHeader {
    LogHeader {
        model: "test model".into(),
        labels: (0..n_labels).map(|i| format!("genre{i}")).collect(),
        styles: (0..n_styles).map(|i| format!("style, {i}")).collect(),
    }
}

/// A minor (Camelot 8A): every test hop's key.
const A_MINOR: u8 = 21;

/// A hop whose top genre is `top`, at `time_s`, at 120 BPM in A minor.
fn hop(time_s: f64, top: usize, n_labels: usize, n_styles: usize) -> Hop {
    let mut distribution = vec![0.5 / (n_labels - 1) as f32; n_labels];
    distribution[top] = 0.5;
    Hop {
        time_s,
        unix_ms: 1_790_000_000_000 + (time_s * 1000.0) as u64,
        top: Some(top),
        confidence: 0.5,
        silent: false,
        level_db: -20.0,
        distribution,
        styles: (0..n_styles).map(|i| i as f32 / n_styles as f32).collect(),
        tempo: Some(Tempo {
            bpm: 120.0,
            confidence: 0.4,
        }),
        key: Key::from_index(A_MINOR, 0.6),
    }
}

#[test]
fn recent_hops_are_kept_exactly_and_changes_are_events() {
    let h = LogHeader {
        model: "m".into(),
        labels: ["blues", "hiphop", "reggae"].map(String::from).to_vec(),
        styles: vec![],
    };
    let mut log = GenreLog::new(h.clone());
    let tops = [1, 1, 1, 2, 2, 0];
    for (i, &t) in tops.iter().enumerate() {
        log.push(&hop(749.0 + i as f64, t, 3, 0));
    }
    assert_eq!(log.hops(), 6);
    let rows: Vec<_> = log.rows().collect();
    assert_eq!(rows.len(), 6);
    for (r, &t) in rows.iter().zip(&tops) {
        assert_eq!(r.top, Some(t));
        assert_eq!(r.hops, 1);
        assert!((r.distribution[t] - 0.5).abs() < 1.0 / 65535.0);
    }
    let changes: Vec<_> = log.changes().copied().collect();
    assert_eq!(changes.len(), 3, "{changes:?}");
    assert_eq!((changes[0].from, changes[0].to), (None, 1));
    assert_eq!((changes[1].from, changes[1].to), (Some(1), 2));
    assert_eq!(
        describe_change(&changes[1], &h.labels),
        "hiphop → reggae at 00:12:32"
    );
    assert_eq!(
        describe_change(&changes[0], &h.labels),
        "hiphop at 00:12:29"
    );
}

#[test]
fn silence_before_the_first_genre_is_logged_without_a_top() {
    let mut log = GenreLog::new(header(4, 0));
    log.push(&Hop {
        time_s: 3.0,
        unix_ms: 0,
        top: None,
        confidence: 0.0,
        silent: true,
        level_db: -90.0,
        distribution: vec![0.0; 4],
        styles: vec![],
        tempo: None,
        key: None,
    });
    log.push(&hop(4.0, 2, 4, 0));
    let rows: Vec<_> = log.rows().collect();
    assert_eq!((rows[0].top, rows[0].silent_hops), (None, 1));
    assert_eq!((rows[0].bpm, rows[0].key), (None, None));
    assert_eq!(rows[1].bpm, Some(120.0));
    assert_eq!(rows[1].key.map(|k| k.camelot_code()), Some("8A".into()));
    assert_eq!(rows[1].top, Some(2));
    assert_eq!(log.changes().len(), 1);
}

#[test]
fn beyond_the_bound_the_oldest_are_summarised_and_memory_stays_bounded() {
    let h = header(10, 5);
    let limits = LogLimits {
        recent: 100,
        fold: 10,
        summaries: 16,
        changes: 20,
    };
    let mut log = GenreLog::with_limits(h.clone(), limits);
    let total = 100_000u64;
    let mut peak = 0;
    for i in 0..total {
        // The top genre changes every 50 hops.
        log.push(&hop(i as f64, (i / 50 % 10) as usize, 10, 5));
        peak = peak.max(log.bytes());
    }
    assert_eq!(log.hops(), total);
    assert!(
        log.len() <= limits.recent + limits.summaries,
        "{} rows",
        log.len()
    );
    assert!(
        peak <= GenreLog::max_bytes(&h, limits),
        "{peak} B > bound {}",
        GenreLog::max_bytes(&h, limits)
    );
    let rows: Vec<_> = log.rows().collect();
    // Nothing vanished: summary rows count the hops they stand for.
    assert_eq!(rows.iter().map(|r| r.hops as u64).sum::<u64>(), total);
    // Oldest first, summaries cover their span, the newest 100 are exact.
    assert!(rows.windows(2).all(|w| w[0].time_s < w[1].time_s));
    assert!(rows[0].hops > 1 && rows[0].span_s > 0.0);
    let exact = &rows[rows.len() - 100..];
    assert!(exact.iter().all(|r| r.hops == 1 && r.span_s == 0.0));
    assert_eq!(exact.last().unwrap().time_s, (total - 1) as f64);
    // A summary's distribution is the mean of its hops': it sums to 1 like theirs.
    for r in &rows {
        let s: f32 = r.distribution.iter().sum();
        assert!(
            (s - 1.0).abs() < 1e-3,
            "row at {} sums to {s}: {r:?}",
            r.time_s
        );
    }
    // Changes are bounded too, and the forgotten ones are counted.
    assert_eq!(log.changes().len(), 20);
    assert_eq!(log.forgotten_changes() + 20, total / 50);
}

#[test]
fn hours_at_a_one_second_hop_fit_in_a_few_megabytes() {
    // Ten genres and fifty styles, six hours at 1 s: past the exact four hours.
    let h = header(10, 50);
    let mut log = GenreLog::new(h.clone());
    for i in 0..6 * 3600 {
        log.push(&hop(i as f64, i / 600 % 10, 10, 50));
    }
    let mb = log.bytes() as f64 / 1e6;
    assert!(mb < 5.0, "{mb:.2} MB for 6 h");
    assert!(GenreLog::max_bytes(&h, LogLimits::default()) < 12_000_000);
    assert_eq!(log.rows().map(|r| r.hops as u64).sum::<u64>(), 6 * 3600);
}

#[test]
fn csv_export_has_the_documented_columns_and_one_line_per_row() {
    let h = header(3, 2);
    let mut log = GenreLog::new(h.clone());
    for i in 0..5 {
        log.push(&hop(i as f64, i % 3, 3, 2));
    }
    let mut out = Vec::new();
    write_csv(&log, &mut out).unwrap();
    let mut r = csv::Reader::from_reader(&out[..]);
    let head: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(head, columns(&h));
    assert_eq!(
        &head[..13],
        [
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
            "genre0",
            "genre1"
        ]
    );
    assert_eq!(
        head[14], "style:style, 0",
        "style names keep their commas, quoted"
    );
    let records: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
    assert_eq!(records.len(), 5);
    assert_eq!(&records[2][4], "genre2");
    assert_eq!(&records[2][1], "2026-09-21T14:13:22.000Z");
    assert_eq!(records[2][13].parse::<f32>().unwrap(), 0.5);
    assert_eq!(
        (&records[2][8], &records[2][9], &records[2][10]),
        ("120.0", "A minor", "8A")
    );
}

#[test]
fn json_export_is_one_document_with_rows_and_changes() {
    let h = header(3, 0);
    let mut log = GenreLog::new(h);
    for i in 0..4 {
        log.push(&hop(60.0 * i as f64, i % 2, 3, 0));
    }
    let mut out = Vec::new();
    write_json(&log, &mut out).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["format"], "genre-tagger log");
    assert_eq!(v["version"], 2);
    assert_eq!(v["rows"][1]["bpm"], 120.0);
    assert_eq!(v["rows"][1]["key"], "A minor");
    assert_eq!(v["rows"][1]["camelot"], "8A");
    assert_eq!(v["labels"].as_array().unwrap().len(), 3);
    assert_eq!(v["rows"].as_array().unwrap().len(), 4);
    assert_eq!(v["rows"][1]["top"], "genre1");
    assert_eq!(v["rows"][1]["distribution"].as_array().unwrap().len(), 3);
    let changes = v["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 4);
    assert_eq!(changes[2]["from"], "genre1");
    assert_eq!(changes[2]["clock"], "00:02:00");
}

#[test]
fn the_log_file_gets_a_line_per_hop_as_it_comes_and_refuses_other_columns() {
    let dir = std::env::temp_dir().join(format!("genre-tagger-log-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("set.csv");
    let _ = std::fs::remove_file(&path);
    let h = header(3, 0);
    let mut f = CsvAppender::open(&path, &h).unwrap();
    for i in 0..3 {
        f.append(&hop(i as f64, i, 3, 0)).unwrap();
        // Readable at once, without closing or dropping the writer.
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2 + i, "{text}");
        assert!(text.ends_with('\n'));
    }
    drop(f);
    // The same columns: appended after what is there, no second header.
    let mut f = CsvAppender::open(&path, &h).unwrap();
    f.append(&hop(3.0, 0, 3, 0)).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 5);
    assert_eq!(text.matches("time_s").count(), 1);
    // Other labels: refused, naming the file, and the file is left alone.
    let err = CsvAppender::open(&path, &header(4, 0))
        .err()
        .expect("other columns refused");
    assert!(matches!(err, LogFileError::OtherColumns { .. }), "{err}");
    assert!(err.to_string().contains("set.csv"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    // A folder is not a file.
    let err = CsvAppender::open(&dir, &h).err().expect("a folder refused");
    assert!(
        err.to_string().contains("cannot open the log file"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_summary_keeps_the_mean_tempo_of_its_hops_and_the_key_most_of_them_had() {
    let limits = LogLimits {
        recent: 40,
        fold: 40,
        summaries: 16,
        changes: 20,
    };
    let mut log = GenreLog::with_limits(header(3, 0), limits);
    // 40 hops: 20 at 100 BPM in A minor, 10 at 130 BPM in C major, 10 with neither.
    for i in 0..40 {
        let mut h = hop(i as f64, 0, 3, 0);
        (h.tempo, h.key) = match i {
            0..20 => (
                Some(Tempo {
                    bpm: 100.0,
                    confidence: 0.5,
                }),
                Key::from_index(A_MINOR, 0.5),
            ),
            20..30 => (
                Some(Tempo {
                    bpm: 130.0,
                    confidence: 0.5,
                }),
                Key::from_index(0, 0.5),
            ),
            _ => (None, None),
        };
        log.push(&h);
    }
    // One more hop folds the forty into a summary.
    log.push(&hop(40.0, 0, 3, 0));
    let rows: Vec<_> = log.rows().collect();
    assert_eq!(rows[0].hops, 40);
    assert_eq!(rows[0].bpm, Some(110.0), "(20 × 100 + 10 × 130) / 30");
    assert_eq!(rows[0].key.map(|k| k.index()), Some(A_MINOR));
    // Summaries of summaries weigh by the hops they stand for, and one without a key does
    // not vote: 30 hops at 100 BPM without a key (and 10 with nothing), then 80 at 130 BPM
    // in C major, folded 40 at a time; the first two summaries merge.
    let mut merged = GenreLog::with_limits(
        header(3, 0),
        LogLimits {
            summaries: 2,
            ..limits
        },
    );
    for i in 0..40 {
        let mut h = hop(i as f64, 0, 3, 0);
        h.tempo = (i < 30).then_some(Tempo {
            bpm: 100.0,
            confidence: 0.5,
        });
        h.key = None;
        merged.push(&h);
    }
    for i in 40..121 {
        let mut h = hop(i as f64, 0, 3, 0);
        h.tempo = Some(Tempo {
            bpm: 130.0,
            confidence: 0.5,
        });
        h.key = Key::from_index(0, 0.5);
        merged.push(&h);
    }
    let rows: Vec<_> = merged.rows().collect();
    assert_eq!(
        rows[0].hops,
        80,
        "{:?}",
        rows.iter().map(|r| r.hops).collect::<Vec<_>>()
    );
    let want = (100.0 * 30.0 + 130.0 * 40.0) / 70.0;
    assert!(
        (rows[0].bpm.unwrap() - want).abs() < 1e-3,
        "{:?}",
        rows[0].bpm
    );
    assert_eq!(rows[0].key.map(|k| k.index()), Some(0), "C major");
}

#[test]
fn a_log_follows_a_model_with_a_taught_label_by_name_and_keeps_its_past() {
    let base = header(3, 2);
    let mut log = GenreLog::new(base.clone());
    for i in 0..3 {
        log.push(&hop(i as f64, 1, 3, 2));
    }
    // A taught label appended: the log gains its column and goes on.
    let mut taught = base.clone();
    taught.labels.push("my wedding set".into());
    taught.model = "taught model".into();
    assert!(log.follow(&taught));
    assert_eq!(log.header().labels, taught.labels);
    assert_eq!(log.header().model, "taught model");
    let mut h = hop(3.0, 3, 4, 2);
    h.distribution = vec![0.1, 0.1, 0.1, 0.7];
    log.push(&h);
    let rows: Vec<_> = log.rows().collect();
    assert_eq!(rows.len(), 4, "the past stays");
    assert_eq!(rows[0].distribution.len(), 4);
    assert_eq!(
        rows[0].distribution[3], 0.0,
        "no value for the new label before it existed"
    );
    assert!((rows[0].distribution[1] - 0.5).abs() < 1e-4);
    assert_eq!(rows[0].styles.len(), 2, "styles stay after the labels");
    assert_eq!(rows[3].top, Some(3));
    assert!((rows[3].distribution[3] - 0.7).abs() < 1e-4);
    let changes: Vec<_> = log.changes().copied().collect();
    assert_eq!((changes[1].from, changes[1].to), (Some(1), 3));

    // The label forgotten (the model has the three again, in another order): its column
    // stays, zero from now on; the others are matched by name.
    let mut reordered = base.clone();
    reordered.labels.reverse();
    assert!(log.follow(&reordered));
    let mut h = hop(4.0, 0, 3, 2); // top: reordered[0] = genre2
    h.distribution = vec![0.6, 0.3, 0.1];
    log.push(&h);
    let last = log.rows().last().unwrap();
    assert_eq!(last.top, Some(2), "genre2 by name");
    let want = [0.1, 0.3, 0.6, 0.0];
    assert!(
        last.distribution
            .iter()
            .zip(want)
            .all(|(p, w)| (p - w).abs() <= 1.0 / 65535.0),
        "{:?}",
        last.distribution
    );

    // Other styles: another model, not followed.
    assert!(!log.follow(&header(3, 1)));
    assert_eq!(log.header().labels.len(), 4);
}
