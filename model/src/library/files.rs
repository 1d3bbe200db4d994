//! Which files a folder gives to tag: the extensions of the formats the decoder reads
//! (one list for the CLI and, through `AUDIO_EXTENSIONS`, the Python package and its Ray
//! pipeline) and a recursive walk that finds them in a stable, sorted order, so that a
//! run over a folder reports its files in the same order every time.

use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// File extensions taken from a folder: the formats
/// [`decode_file`](crate::audio::decode_file) reads.
pub const AUDIO_EXTENSIONS: [&str; 8] = ["wav", "wave", "flac", "mp3", "ogg", "oga", "au", "snd"];

/// Whether `path` has one of the [`AUDIO_EXTENSIONS`] (any case).
pub fn is_audio_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.iter().any(|a| a.eq_ignore_ascii_case(e)))
}

/// Every audio file under `dir`, recursively, sorted by path. Links to files are taken;
/// links to folders are not followed (they could loop).
pub fn audio_files_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let open = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Open { path, source }
    };
    let mut found = Vec::new();
    let mut folders = vec![dir.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).map_err(open(&folder))? {
            let entry = entry.map_err(open(&folder))?;
            let path = entry.path();
            if entry.file_type().map_err(open(&path))?.is_dir() {
                folders.push(path);
            } else if is_audio_file(&path) && path.is_file() {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::tests::temp_dir;

    #[test]
    fn folders_give_their_audio_files_recursively_in_order() {
        let dir = temp_dir("walk");
        for f in [
            "b.flac",
            "a/z.MP3",
            "a/y.txt",
            "a/b/c.ogg",
            "c.au",
            "notes",
            "d.Wav",
            "a/.x.wav",
        ] {
            let p = dir.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, b"x").unwrap();
        }
        std::fs::create_dir_all(dir.join("e.wav")).unwrap(); // a folder, not a file
        let got: Vec<String> = audio_files_in(&dir)
            .unwrap()
            .iter()
            .map(|p| p.strip_prefix(&dir).unwrap().display().to_string())
            .collect();
        assert_eq!(
            got,
            [
                "a/.x.wav",
                "a/b/c.ogg",
                "a/z.MP3",
                "b.flac",
                "c.au",
                "d.Wav"
            ]
        );
        let e = audio_files_in(&dir.join("missing")).unwrap_err();
        assert!(e.to_string().contains("missing: cannot open"), "{e}");
    }
}
