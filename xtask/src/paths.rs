//! Where things are: the workspace root and cargo's target folder, worked out one way for
//! every command, whatever the current directory.

use std::path::{Path, PathBuf};

/// The workspace root (the folder above `xtask/`), where `cargo xtask` is meant to run.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

/// cargo's target folder: `$CARGO_TARGET_DIR` when set, else `target/` in the workspace.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| from_root(&p))
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// A path given on the command line or as a default, taken from the workspace root when
/// relative.
pub fn from_root(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        workspace_root().join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_taken_from_the_workspace_root() {
        let root = workspace_root();
        assert!(root.join("Cargo.lock").is_file(), "{}", root.display());
        assert_eq!(from_root(Path::new("a/b")), root.join("a/b"));
        assert_eq!(from_root(Path::new("/x/y")), PathBuf::from("/x/y"));
    }
}
