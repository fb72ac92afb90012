//! [`RunDir`]: the directory a run writes, with atomic file writes.
//!
//! Layout (names in [`RunFiles`]):
//! - `config.json`: the resolved configuration (training config, data source and load options)
//! - `metrics.jsonl`: one JSON object per epoch (loss, timing, validation metrics when evaluated)
//! - `best.bpk`: the best checkpoint so far (burnpack)
//! - `summary.json`: seed, versions, commit, best epoch, validation and test metrics, timing
//!
//! Every whole-file write goes to a temporary file that is renamed into place, so an
//! interrupted run never leaves a truncated `summary.json` or checkpoint.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::{Result, TrainError};

/// File names inside a run directory.
pub struct RunFiles;

impl RunFiles {
    /// The resolved configuration.
    pub const CONFIG: &'static str = "config.json";
    /// Per-epoch records.
    pub const METRICS: &'static str = "metrics.jsonl";
    /// The best checkpoint.
    pub const BEST: &'static str = "best.bpk";
    /// The final summary.
    pub const SUMMARY: &'static str = "summary.json";
    /// The best parameters with everything needed to rebuild the model (layer weights of
    /// NGCF, optimizer state), written with `best.bpk`.
    pub const BEST_STATE: &'static str = "best.state";
    /// Training state at the last evaluation, for `--resume`.
    pub const STATE: &'static str = "resume.bin";
}

/// A run directory being written.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    metrics: File,
    resuming: bool,
}

fn io_err(path: &Path, what: &str, e: std::io::Error) -> TrainError {
    TrainError::Io {
        path: path.to_path_buf(),
        message: format!("{what}: {e}"),
    }
}

/// Deletes what an earlier run left in `path` besides the files [`RunDir::create`] rewrites
/// at once: its checkpoints, resume state, sampler states and summary. Left in place, a new
/// run killed before its first evaluation would resume from the old run's state under the new
/// config, and `evaluate`/`export` would serve the old best checkpoint meanwhile. A search
/// replacing a run (`search --overwrite`) calls it too.
pub fn remove_run_files(path: &Path) -> Result<()> {
    let entries = std::fs::read_dir(path).map_err(|e| io_err(path, "cannot list", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_err(path, "cannot list", e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let stale = [
            RunFiles::STATE,
            RunFiles::BEST,
            RunFiles::BEST_STATE,
            RunFiles::SUMMARY,
        ]
        .contains(&name.as_ref())
            || (name.starts_with("sampler-e") && name.ends_with(".state"));
        if stale {
            let file = entry.path();
            std::fs::remove_file(&file).map_err(|e| io_err(&file, "cannot remove", e))?;
        }
    }
    Ok(())
}

impl RunDir {
    /// Creates `path` (and its parents). Refuses a directory that already holds a run unless
    /// `overwrite`, so that an earlier run is never clobbered by accident.
    pub fn create(path: &Path, overwrite: bool) -> Result<Self> {
        if path.join(RunFiles::CONFIG).exists() && !overwrite {
            return Err(TrainError::Io {
                path: path.to_path_buf(),
                message: "already holds a run; pick another --out or pass --overwrite".into(),
            });
        }
        std::fs::create_dir_all(path).map_err(|e| io_err(path, "cannot create directory", e))?;
        if overwrite {
            remove_run_files(path)?;
        }
        let metrics_path = path.join(RunFiles::METRICS);
        let metrics = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&metrics_path)
            .map_err(|e| io_err(&metrics_path, "cannot create", e))?;
        Ok(Self {
            path: path.to_path_buf(),
            metrics,
            resuming: false,
        })
    }

    /// Opens an interrupted run to continue it: it must hold a config and a saved state.
    pub fn resume(path: &Path) -> Result<Self> {
        for name in [RunFiles::CONFIG, RunFiles::STATE, RunFiles::BEST_STATE] {
            if !path.join(name).exists() {
                return Err(TrainError::Io {
                    path: path.join(name),
                    message: "missing, so the run cannot be resumed (it ended before its first \
                              evaluation, or is not a run directory); start it again"
                        .into(),
                });
            }
        }
        let metrics_path = path.join(RunFiles::METRICS);
        let metrics = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&metrics_path)
            .map_err(|e| io_err(&metrics_path, "cannot open", e))?;
        Ok(Self {
            path: path.to_path_buf(),
            metrics,
            resuming: true,
        })
    }

    /// Whether this directory was opened to continue an interrupted run.
    pub fn is_resuming(&self) -> bool {
        self.resuming
    }

    /// Replaces `metrics.jsonl` by `records` (the epochs up to the saved state; later lines of
    /// an interrupted run are dropped because those epochs are trained again).
    pub fn rewrite_metrics<T: Serialize>(&mut self, records: &[T]) -> Result<()> {
        let path = self.file(RunFiles::METRICS);
        let mut text = String::new();
        for r in records {
            let line = serde_json::to_string(r).map_err(|e| TrainError::Io {
                path: path.clone(),
                message: e.to_string(),
            })?;
            text.push_str(&line);
            text.push('\n');
        }
        autosample_data::write_atomic(&path, text.as_bytes())
            .map_err(|e| io_err(&path, "cannot write", e))?;
        self.metrics = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| io_err(&path, "cannot open", e))?;
        Ok(())
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Path of a file inside the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `value` as pretty JSON to `name`, atomically.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        write_json_atomic(&self.file(name), value)
    }

    /// Appends one line of JSON to `metrics.jsonl` and flushes it.
    pub fn append_metrics<T: Serialize>(&mut self, record: &T) -> Result<()> {
        let path = self.file(RunFiles::METRICS);
        let line = serde_json::to_string(record).map_err(|e| TrainError::Io {
            path: path.clone(),
            message: e.to_string(),
        })?;
        writeln!(self.metrics, "{line}")
            .and_then(|_| self.metrics.flush())
            .map_err(|e| io_err(&path, "cannot append", e))
    }
}

/// Writes `value` as pretty JSON to `path` via a temporary file and a rename.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| TrainError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    text.push('\n');
    autosample_data::write_atomic(path, text.as_bytes())
        .map_err(|e| io_err(path, "cannot write", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_to_clobber_an_existing_run() {
        let dir = std::env::temp_dir().join(format!("autosample-rundir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut run = RunDir::create(&dir, false).unwrap();
        run.write_json(RunFiles::CONFIG, &serde_json::json!({"a": 1}))
            .unwrap();
        run.append_metrics(&serde_json::json!({"epoch": 0}))
            .unwrap();
        run.append_metrics(&serde_json::json!({"epoch": 1}))
            .unwrap();
        let lines = std::fs::read_to_string(dir.join(RunFiles::METRICS)).unwrap();
        assert_eq!(lines.lines().count(), 2);
        let err = RunDir::create(&dir, false).unwrap_err().to_string();
        assert!(err.contains("--overwrite"), "{err}");
        assert!(RunDir::create(&dir, true).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn overwrite_removes_the_earlier_runs_state_so_it_cannot_be_resumed() {
        let dir = std::env::temp_dir().join(format!("autosample-rundir-ow-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let run = RunDir::create(&dir, false).unwrap();
        run.write_json(RunFiles::CONFIG, &serde_json::json!({"a": 1}))
            .unwrap();
        let earlier = [
            RunFiles::STATE,
            RunFiles::BEST,
            RunFiles::BEST_STATE,
            RunFiles::SUMMARY,
            "sampler-e4.state",
        ];
        for name in earlier {
            std::fs::write(dir.join(name), b"old").unwrap();
        }
        std::fs::write(dir.join("notes.txt"), b"the user's").unwrap();
        assert!(RunDir::resume(&dir).is_ok(), "the earlier run is resumable");
        drop(run);
        let _ = RunDir::create(&dir, true).unwrap();
        for name in earlier {
            assert!(!dir.join(name).exists(), "{name} survived --overwrite");
        }
        assert!(
            dir.join("notes.txt").exists(),
            "only the run's own files go"
        );
        assert!(
            RunDir::resume(&dir).is_err(),
            "a new run must not resume the earlier one's state"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
