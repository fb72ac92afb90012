//! Dense id maps: original (string) ids ↔ dense `0..n` ids.
//!
//! Dense ids start at 0 with no padding id (RecBole reserves 0; we do not). The loader decides
//! their order (see [`crate::load`]): ascending numeric order when every original id of a kind is
//! an integer, otherwise order of first appearance (train, then valid, then test). An `IdMap`
//! itself assigns ids in insertion order. The map is saved with every run so that results and
//! exported models speak the user's ids.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// A bijection between original ids (as written in the data files) and dense ids `0..len`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMap {
    originals: Vec<String>,
    #[serde(skip)]
    index: HashMap<String, u32>,
}

impl IdMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The identity map over `0..n` (original id `"k"` ↔ dense id `k`), used by the synthetic
    /// generator.
    pub fn identity(n: usize) -> Self {
        let mut map = Self::new();
        for k in 0..n {
            map.get_or_insert(&k.to_string());
        }
        map
    }

    /// The dense id of `original`, assigning the next free one if it is new.
    pub fn get_or_insert(&mut self, original: &str) -> u32 {
        if let Some(&id) = self.index.get(original) {
            return id;
        }
        let id = self.originals.len() as u32;
        self.originals.push(original.to_owned());
        self.index.insert(original.to_owned(), id);
        id
    }

    /// The dense id of `original`, if known.
    pub fn get(&self, original: &str) -> Option<u32> {
        self.index.get(original).copied()
    }

    /// The original id of dense id `id`, if in range.
    pub fn original(&self, id: u32) -> Option<&str> {
        self.originals.get(id as usize).map(String::as_str)
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.originals.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.originals.is_empty()
    }

    /// Original ids in dense order.
    pub fn originals(&self) -> &[String] {
        &self.originals
    }

    /// Rebuilds the lookup index after deserialising (the index is not stored).
    pub fn rebuild_index(&mut self) {
        self.index = self
            .originals
            .iter()
            .enumerate()
            .map(|(k, s)| (s.clone(), k as u32))
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assigns_in_order_of_first_appearance() {
        let mut m = IdMap::new();
        assert_eq!(m.get_or_insert("b"), 0);
        assert_eq!(m.get_or_insert("a"), 1);
        assert_eq!(m.get_or_insert("b"), 0);
        assert_eq!(m.original(1), Some("a"));
        assert_eq!(m.get("zz"), None);
        let json = serde_json::to_string(&m).unwrap();
        let mut back: IdMap = serde_json::from_str(&json).unwrap();
        back.rebuild_index();
        assert_eq!(back.get("a"), Some(1));
    }
}
