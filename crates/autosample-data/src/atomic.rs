//! Atomic file writes, shared by every crate that saves something a crash must not corrupt
//! (checkpoints, sampler states, run records): the bytes go to a temporary file in the same
//! directory, which is then renamed over the final name, so that a reader (or a resume after
//! `kill -9`) sees either the old file or the new one, never half of one.
//!
//! It lives in the lowest crate so that the samplers crate (which cannot depend on the models
//! crate) and the models crate share one implementation.

use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically (temporary file in the same directory, then rename).
///
/// # Errors
/// The I/O error of the write or the rename; the temporary file may then be left behind, and
/// the file under `path` is untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = tmp_path(path);
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// `<name>.<pid>.tmp` beside `path`: the process id keeps two processes writing the same
/// file from sharing a temporary.
fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("autosample-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.bin");
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("f.bin")]);
        assert!(write_atomic(&dir.join("missing").join("f.bin"), b"x").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
