//! The evaluation protocol's clip sets that `zoo` and `decisions` share: the four CC
//! pieces (the sanity bar) and the two halves of the Emotify folder. The halves rule lives
//! here alone; `cargo xtask emotify-halves` (and `scripts/emotify-halves`, which calls it)
//! lays it out as folders for `train --extra` and `eval --labelled`.

use anyhow::{Context, Result};
use model::train::Clip;
use model::GENRES;
use std::path::Path;

/// The four CC pieces (fixtures/cc-music/README.md) and the genre each is.
pub const CC_PIECES: [(&str, &str); 4] = [
    ("brahms_hungarian_dance_5.ogg", "classical"),
    ("tchaikovsky_sugar_plum_fairy.ogg", "classical"),
    ("vibe_ace.ogg", "jazz"),
    ("lets_go_fishin.ogg", "country"),
];

/// The CC pieces under `dir` as labelled clips, in [`CC_PIECES`]' order.
pub fn cc_pieces(dir: &Path) -> Result<Vec<Clip>> {
    CC_PIECES
        .iter()
        .enumerate()
        .map(|(i, (file, genre))| {
            let path = dir.join(file);
            anyhow::ensure!(path.is_file(), "CC piece {} is missing", path.display());
            Ok(Clip {
                path,
                genre: genre_index(genre),
                index: i as u32,
            })
        })
        .collect()
}

/// The position of a GTZAN genre's name in [`GENRES`].
///
/// # Panics
/// On a name that is not a GTZAN genre: callers pass this module's constants.
pub fn genre_index(name: &str) -> usize {
    GENRES
        .iter()
        .position(|g| *g == name)
        .unwrap_or_else(|| panic!("{name} is not a GTZAN genre"))
}

/// Which Emotify half a file belongs to: within each genre, files sorted by name
/// alternate train, held out, train, … The split is by file number, not by artist
/// (Emotify lists no artists), so an artist may appear in both halves.
pub fn emotify_trains(index_in_genre: u32) -> bool {
    index_in_genre.is_multiple_of(2)
}

/// The two halves of the Emotify folder (`<genre>/<file>`): (train, held out).
pub fn emotify_halves(dir: &Path) -> Result<(Vec<Clip>, Vec<Clip>)> {
    let all = model::train::discover_labelled(dir)
        .with_context(|| format!("reading the Emotify folder {}", dir.display()))?;
    // discover_labelled numbers each genre's sorted files from 0.
    Ok(all.into_iter().partition(|c| emotify_trains(c.index)))
}

/// Lays the halves out as folders of symlinks, `<dest>/train/<genre>/` and
/// `<dest>/heldout/<genre>/`, replacing any earlier ones; returns how many files each has.
pub fn write_emotify_halves(src: &Path, dest: &Path) -> Result<(usize, usize)> {
    let src = src
        .canonicalize()
        .with_context(|| format!("no Emotify folder {}", src.display()))?;
    let (train, heldout) = emotify_halves(&src)?;
    for (half, clips) in [("train", &train), ("heldout", &heldout)] {
        let dir = dest.join(half);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("removing the old {}", dir.display()))?;
        }
        for c in clips {
            let genre_dir = dir.join(GENRES[c.genre]);
            std::fs::create_dir_all(&genre_dir)
                .with_context(|| format!("creating {}", genre_dir.display()))?;
            let link = genre_dir.join(c.path.file_name().expect("a file"));
            symlink(&c.path, &link)
                .with_context(|| format!("linking {} to {}", link.display(), c.path.display()))?;
        }
    }
    Ok((train.len(), heldout.len()))
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::fs::copy(target, link).map(|_| ())
}

/// `cargo xtask emotify-halves`: the halves as folders (what `scripts/emotify-halves` did
/// in shell, now the same rule as `zoo` and `decisions` read).
#[derive(clap::Args)]
pub struct HalvesArgs {
    /// The Emotify folder (`<genre>/<file>`).
    #[arg(default_value = "../shared/data/emotify")]
    src: std::path::PathBuf,
    /// Where train/ and heldout/ go.
    #[arg(default_value = "target/emotify-halves")]
    dest: std::path::PathBuf,
}

pub fn run_halves(args: HalvesArgs) -> Result<std::process::ExitCode> {
    let dest = crate::paths::from_root(&args.dest);
    let (train, heldout) = write_emotify_halves(&crate::paths::from_root(&args.src), &dest)?;
    for (half, n) in [("train", train), ("heldout", heldout)] {
        println!("{}: {n} files", dest.join(half).display());
    }
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake Emotify folder: `n` empty .ogg files per genre, plus a stray text file.
    fn emotify(root: &Path, genres: &[&str], n: usize) {
        for g in genres {
            let d = root.join(g);
            std::fs::create_dir_all(&d).unwrap();
            for i in 1..=n {
                std::fs::write(d.join(format!("emotify_{g}_{i:03}.ogg")), b"").unwrap();
            }
            std::fs::write(d.join("notes.txt"), b"").unwrap();
        }
    }

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("xtask-protocol-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn halves_alternate_by_file_name_within_each_genre() {
        let root = tmp("halves");
        emotify(&root, &["pop", "rock"], 5);
        let (train, heldout) = emotify_halves(&root).unwrap();
        let names = |c: &[Clip]| -> Vec<String> {
            c.iter()
                .map(|c| c.path.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            names(&train),
            [
                "emotify_pop_001.ogg",
                "emotify_pop_003.ogg",
                "emotify_pop_005.ogg",
                "emotify_rock_001.ogg",
                "emotify_rock_003.ogg",
                "emotify_rock_005.ogg"
            ]
        );
        assert_eq!(
            names(&heldout),
            [
                "emotify_pop_002.ogg",
                "emotify_pop_004.ogg",
                "emotify_rock_002.ogg",
                "emotify_rock_004.ogg"
            ]
        );
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn halves_as_folders_hold_the_same_files_as_the_rule() {
        let (src, dest) = (tmp("src"), tmp("dest"));
        emotify(&src, &["classical", "pop"], 4);
        // A stale file from an earlier layout is gone afterwards.
        std::fs::create_dir_all(dest.join("train/pop")).unwrap();
        std::fs::write(dest.join("train/pop/stale.ogg"), b"").unwrap();
        assert_eq!(write_emotify_halves(&src, &dest).unwrap(), (4, 4));
        let (train, heldout) = emotify_halves(&src).unwrap();
        for (half, clips) in [("train", train), ("heldout", heldout)] {
            let laid = model::train::discover_labelled(&dest.join(half)).unwrap();
            let names = |c: &[Clip]| -> Vec<(usize, std::ffi::OsString)> {
                c.iter()
                    .map(|c| (c.genre, c.path.file_name().unwrap().to_owned()))
                    .collect()
            };
            assert_eq!(names(&laid), names(&clips), "{half}");
        }
        assert!(!dest.join("train/pop/stale.ogg").exists());
        std::fs::remove_dir_all(src).unwrap();
        std::fs::remove_dir_all(dest).unwrap();
    }

    #[test]
    fn a_missing_cc_piece_is_named() {
        let dir = tmp("cc");
        std::fs::create_dir_all(&dir).unwrap();
        let e = cc_pieces(&dir).unwrap_err().to_string();
        assert!(e.contains("brahms_hungarian_dance_5.ogg"), "{e}");
        std::fs::remove_dir(dir).unwrap();
    }

    #[test]
    fn the_committed_cc_pieces_are_labelled_as_their_readme_says() {
        let dir = crate::paths::workspace_root().join("fixtures/cc-music");
        let clips = cc_pieces(&dir).unwrap();
        let genres: Vec<&str> = clips.iter().map(|c| GENRES[c.genre]).collect();
        assert_eq!(genres, ["classical", "classical", "jazz", "country"]);
    }
}
