//! Finding GTZAN clips on disk and splitting them.

use crate::{Error, Result, GENRES};
use std::path::{Path, PathBuf};

/// The artist-filtered split of Kereliuk, Sturm & Larsen (2015): no artist in two sets.
const TRAIN_FILTERED: &str = include_str!("../../splits/train_filtered.txt");
const VALID_FILTERED: &str = include_str!("../../splits/valid_filtered.txt");
const TEST_FILTERED: &str = include_str!("../../splits/test_filtered.txt");

const AUDIO_EXTS: [&str; 5] = ["wav", "au", "flac", "mp3", "ogg"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clip {
    pub path: PathBuf,
    pub genre: usize,
    /// GTZAN's clip number (`blues.00042` → 42).
    pub index: u32,
}

impl Clip {
    /// `blues/blues.00042`: how the split lists name a clip, whatever its extension.
    pub fn key(&self) -> String {
        format!("{0}/{0}.{1:05}", GENRES[self.genre], self.index)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitKind {
    /// The artist-filtered lists (full GTZAN copies).
    Filtered,
    /// Clips 0–6 of every ten train, 7–9 validate (partial copies such as gtzan-mini).
    ByIndex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subset {
    Train,
    Valid,
    Test,
}

#[derive(Debug, Clone, Default)]
pub struct Split {
    pub train: Vec<Clip>,
    pub valid: Vec<Clip>,
    pub test: Vec<Clip>,
}

impl Split {
    pub fn subset(&self, s: Subset) -> &[Clip] {
        match s {
            Subset::Train => &self.train,
            Subset::Valid => &self.valid,
            Subset::Test => &self.test,
        }
    }
}

/// Finds `<genre>.<NNNNN>.<ext>` files anywhere under `dir` (so `genres_original/`,
/// `genres/` and flat `<genre>/` layouts all work). The genre comes from the file name,
/// which GTZAN always carries, not from the folder.
pub fn discover(dir: &Path) -> Result<Vec<Clip>> {
    if !dir.is_dir() {
        return Err(Error::Data(format!("{} is not a directory", dir.display())));
    }
    let mut clips = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Some(clip) = parse_name(&path) {
                clips.push(clip);
            }
        }
    }
    clips.sort_by(|a, b| (a.genre, a.index, &a.path).cmp(&(b.genre, b.index, &b.path)));
    clips.dedup_by(|a, b| a.genre == b.genre && a.index == b.index);
    if clips.is_empty() {
        return Err(Error::Data(format!(
            "no GTZAN clips (<genre>.<NNNNN>.wav|au|flac|mp3|ogg) found under {}",
            dir.display()
        )));
    }
    Ok(clips)
}

/// Extra labelled music laid out as `<genre>/<any name>.<audio ext>` (e.g. the Emotify
/// excerpts): the genre comes from the folder. Used to add other artists and recordings
/// to training so the network cannot get by on GTZAN's recording quirks.
pub fn discover_labelled(dir: &Path) -> Result<Vec<Clip>> {
    if !dir.is_dir() {
        return Err(Error::Data(format!("{} is not a directory", dir.display())));
    }
    let mut clips = Vec::new();
    for (genre, name) in GENRES.iter().enumerate() {
        let sub = dir.join(name);
        if !sub.is_dir() {
            continue;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&sub)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| AUDIO_EXTS.contains(&e.to_ascii_lowercase().as_str()))
            })
            .collect();
        files.sort();
        clips.extend(files.into_iter().enumerate().map(|(i, path)| Clip {
            path,
            genre,
            index: i as u32,
        }));
    }
    if clips.is_empty() {
        return Err(Error::Data(format!(
            "no <genre>/<file> audio found under {}",
            dir.display()
        )));
    }
    Ok(clips)
}

fn parse_name(path: &Path) -> Option<Clip> {
    let name = path.file_name()?.to_str()?;
    let mut parts = name.split('.');
    let (g, n, ext) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || !AUDIO_EXTS.contains(&ext.to_ascii_lowercase().as_str())
        || n.len() != 5
    {
        return None;
    }
    let genre = GENRES.iter().position(|x| *x == g)?;
    Some(Clip {
        path: path.to_path_buf(),
        genre,
        index: n.parse().ok()?,
    })
}

fn list_keys(list: &str) -> std::collections::HashSet<String> {
    list.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.rsplit_once('.').map_or(l, |(stem, _)| stem).to_string())
        .collect()
}

/// Splits clips. `None` picks `Filtered` when the data holds at least half of the
/// filtered train and validation lists, else `ByIndex`; returns the kind chosen.
pub fn split(clips: &[Clip], kind: Option<SplitKind>) -> Result<(SplitKind, Split)> {
    let (train, valid, test) = (
        list_keys(TRAIN_FILTERED),
        list_keys(VALID_FILTERED),
        list_keys(TEST_FILTERED),
    );
    let kind = kind.unwrap_or_else(|| {
        let have = |set: &std::collections::HashSet<String>| {
            clips.iter().filter(|c| set.contains(&c.key())).count()
        };
        if have(&train) * 2 >= train.len() && have(&valid) * 2 >= valid.len() {
            SplitKind::Filtered
        } else {
            SplitKind::ByIndex
        }
    });
    let mut s = Split::default();
    for c in clips {
        match kind {
            SplitKind::Filtered => {
                let k = c.key();
                if train.contains(&k) {
                    s.train.push(c.clone());
                } else if valid.contains(&k) {
                    s.valid.push(c.clone());
                } else if test.contains(&k) {
                    s.test.push(c.clone());
                } // else: a clip the filtered split excludes (duplicates, mislabels)
            }
            SplitKind::ByIndex => {
                if c.index % 10 < 7 {
                    s.train.push(c.clone())
                } else {
                    s.valid.push(c.clone())
                }
            }
        }
    }
    if s.train.is_empty() || s.valid.is_empty() {
        return Err(Error::Data(format!(
            "the {kind:?} split leaves {} training and {} validation clips; need both",
            s.train.len(),
            s.valid.len()
        )));
    }
    Ok((kind, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gtzan_names_only() {
        let c = parse_name(Path::new("/x/genres/blues/blues.00042.au")).unwrap();
        assert_eq!(
            (c.genre, c.index, c.key().as_str()),
            (0, 42, "blues/blues.00042")
        );
        assert!(parse_name(Path::new("rock.00001.flac")).is_some());
        for bad in [
            "rock.1.wav",
            "polka.00001.wav",
            "rock.00001.txt",
            "rock.00001.wav.bak",
            "notes.txt",
        ] {
            assert!(parse_name(Path::new(bad)).is_none(), "{bad}");
        }
    }

    #[test]
    fn filtered_lists_are_disjoint_and_complete() {
        let (a, b, c) = (
            list_keys(TRAIN_FILTERED),
            list_keys(VALID_FILTERED),
            list_keys(TEST_FILTERED),
        );
        assert_eq!((a.len(), b.len(), c.len()), (443, 197, 290));
        assert!(a.is_disjoint(&b) && a.is_disjoint(&c) && b.is_disjoint(&c));
    }

    #[test]
    fn split_choice_follows_coverage() {
        let mk = |g: usize, i: u32| Clip {
            path: PathBuf::from(format!("{}.{i:05}.wav", GENRES[g])),
            genre: g,
            index: i,
        };
        let mini: Vec<Clip> = (0..10)
            .flat_map(|g| (0..10).map(move |i| mk(g, i)))
            .collect();
        let (kind, s) = split(&mini, None).unwrap();
        assert_eq!(kind, SplitKind::ByIndex);
        assert_eq!((s.train.len(), s.valid.len(), s.test.len()), (70, 30, 0));
        let full: Vec<Clip> = (0..10)
            .flat_map(|g| (0..100).map(move |i| mk(g, i)))
            .collect();
        let (kind, s) = split(&full, None).unwrap();
        assert_eq!(kind, SplitKind::Filtered);
        assert_eq!(
            (s.train.len(), s.valid.len(), s.test.len()),
            (443, 197, 290)
        );
    }
}
