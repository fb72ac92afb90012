//! [`TrainingState`]: everything a model needs to continue training exactly where it stopped
//! (parameters, optimizer moments, step counters), in one file written atomically.
//!
//! File layout: the magic line `AUTOSAMPLE-STATE 1\n`, a little-endian `u64` byte length, that
//! many bytes of JSON (caller metadata, tensor names and lengths, counters), then every tensor's
//! `f32` values little-endian, in order. Readers check the magic, the lengths and the total size,
//! so a truncated or foreign file is an error, never a silently partial state.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{ModelError, Result};

const MAGIC: &[u8] = b"AUTOSAMPLE-STATE 1\n";

/// Named tensors and counters of a model's training state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainingState {
    /// Tensors by name, in a fixed order.
    pub tensors: Vec<(String, Vec<f32>)>,
    /// Step counters by name.
    pub counters: BTreeMap<String, u64>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    meta: serde_json::Value,
    tensors: Vec<(String, usize)>,
    counters: BTreeMap<String, u64>,
}

fn err(path: &Path, message: impl Into<String>) -> ModelError {
    ModelError::Checkpoint {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

impl TrainingState {
    /// The same parameters with every optimizer's state reset: moments zeroed and update
    /// counts set to 0, as a fresh optimizer would have them. A warm start that keeps the
    /// learned parameters but not the search stage's optimizer uses it. Optimizer state is what
    /// [`crate::RowSparseOptimizer::save_state`] writes: tensors named `<prefix>.m` and
    /// `<prefix>.v`, counters `<prefix>.step`; everything else (the parameters, the model's own
    /// step counter) is kept.
    pub fn with_fresh_optimizer(mut self) -> Self {
        for (name, values) in &mut self.tensors {
            if name.ends_with(".m") || name.ends_with(".v") {
                values.fill(0.0);
            }
        }
        for (name, count) in &mut self.counters {
            if name.ends_with(".step") {
                *count = 0;
            }
        }
        self
    }

    /// The tensor called `name`, checked to have `len` values.
    pub fn take(&mut self, name: &str, len: usize) -> Result<Vec<f32>> {
        let pos = self
            .tensors
            .iter()
            .position(|(n, _)| n == name)
            .ok_or_else(|| ModelError::Config(format!("training state has no tensor {name:?}")))?;
        let (_, data) = self.tensors.swap_remove(pos);
        if data.len() != len {
            return Err(ModelError::Config(format!(
                "training state tensor {name:?} has {} values, expected {len}: the run's data or \
                 model changed",
                data.len()
            )));
        }
        Ok(data)
    }

    /// The counter called `name` (0 if absent).
    pub fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    /// Writes the state and `meta` to `path` atomically.
    pub fn write(&self, path: &Path, meta: &serde_json::Value) -> Result<()> {
        let header = Header {
            meta: meta.clone(),
            tensors: self
                .tensors
                .iter()
                .map(|(n, d)| (n.clone(), d.len()))
                .collect(),
            counters: self.counters.clone(),
        };
        let json = serde_json::to_vec(&header).map_err(|e| err(path, e.to_string()))?;
        let floats: usize = self.tensors.iter().map(|(_, d)| d.len()).sum();
        let mut bytes = Vec::with_capacity(MAGIC.len() + 8 + json.len() + 4 * floats);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&json);
        for (_, data) in &self.tensors {
            for v in data {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
        }
        autosample_data::write_atomic(path, &bytes)
            .map_err(|e| err(path, format!("could not write: {e}")))
    }

    /// Reads a state written by [`TrainingState::write`], returning it and its metadata.
    pub fn read(path: &Path) -> Result<(Self, serde_json::Value)> {
        let bytes = std::fs::read(path).map_err(|e| err(path, format!("could not read: {e}")))?;
        let bad = |m: &str| err(path, format!("not a complete training state ({m})"));
        let rest = bytes
            .strip_prefix(MAGIC)
            .ok_or_else(|| bad("wrong magic"))?;
        if rest.len() < 8 {
            return Err(bad("truncated header"));
        }
        let (len, rest) = rest.split_at(8);
        let len = u64::from_le_bytes(len.try_into().map_err(|_| bad("header length"))?) as usize;
        if rest.len() < len {
            return Err(bad("truncated header"));
        }
        let (json, mut data) = rest.split_at(len);
        let header: Header =
            serde_json::from_slice(json).map_err(|e| err(path, format!("bad header: {e}")))?;
        let total: usize = header.tensors.iter().map(|(_, n)| n).sum();
        if data.len() != 4 * total {
            return Err(bad("tensor data size does not match the header"));
        }
        let mut tensors = Vec::with_capacity(header.tensors.len());
        for (name, n) in header.tensors {
            let (chunk, tail) = data.split_at(4 * n);
            data = tail;
            let values = chunk
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            tensors.push((name, values));
        }
        Ok((
            Self {
                tensors,
                counters: header.counters,
            },
            header.meta,
        ))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_fresh_optimizer_keeps_the_parameters_and_zeroes_the_moments() {
        let mut s = TrainingState::default();
        s.tensors.push(("ego".into(), vec![1.0, 2.0]));
        s.tensors.push(("opt.m".into(), vec![0.5, 0.5]));
        s.tensors.push(("opt.v".into(), vec![0.25, 0.25]));
        s.counters.insert("opt.step".into(), 9);
        s.counters.insert("step".into(), 9);
        let f = s.with_fresh_optimizer();
        assert_eq!(f.tensors[0], ("ego".into(), vec![1.0, 2.0]));
        assert_eq!(f.tensors[1].1, vec![0.0, 0.0]);
        assert_eq!(f.tensors[2].1, vec![0.0, 0.0]);
        assert_eq!(f.counters["opt.step"], 0);
        assert_eq!(f.counters["step"], 9, "the model's own counter is kept");
    }

    use super::*;

    #[test]
    fn round_trips_and_rejects_truncation() {
        let dir = std::env::temp_dir().join(format!("autosample-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.bin");
        let mut s = TrainingState::default();
        s.tensors.push(("a".into(), vec![1.0, -2.5, 3.25]));
        s.tensors.push(("b".into(), vec![]));
        s.counters.insert("step".into(), 42);
        // Resume metadata's floats come back bit for bit: a best validation value read one
        // ULP low would make a later tie count as an improvement (serde_json's default
        // parser rounds 17-digit floats twice; the workspace enables float_roundtrip).
        for value in [0.23661700534065394f64, 0.1 + 0.2, 1.0 / 3.0, 2.0e-308] {
            s.write(&path, &serde_json::json!({ "best": value }))
                .unwrap();
            let (_, meta) = TrainingState::read(&path).unwrap();
            assert_eq!(
                meta["best"].as_f64().unwrap().to_bits(),
                value.to_bits(),
                "{value:e}"
            );
        }
        s.write(&path, &serde_json::json!({"epoch": 7})).unwrap();
        let (mut back, meta) = TrainingState::read(&path).unwrap();
        assert_eq!(meta["epoch"], 7);
        assert_eq!(back.counter("step"), 42);
        assert_eq!(back.take("a", 3).unwrap(), vec![1.0, -2.5, 3.25]);
        assert!(back.take("b", 1).is_err());
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 2]).unwrap();
        assert!(TrainingState::read(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
