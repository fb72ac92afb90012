//! Saving a sampler's state across epochs, so that a checkpointed run resumes bit-identically.
//!
//! Samplers that keep state ([`crate::NegativeSampler::keeps_state`]: SRNS's memory and score
//! history, DENS's gates and their optimizer) write it through [`StateWriter`] and read it back
//! through [`StateReader`]: a small little-endian format, tagged with the sampler's name and a
//! format version, so that a state handed to the wrong sampler or cut short is an error that
//! says so rather than a panic or a silent mix-up. Arrays are written whole (SRNS's varsets can
//! be hundreds of MB on gowalla); a serde format would triple that.
//!
//! [`write_sampler_states`] and [`read_sampler_states`] keep several samplers' states (a
//! supernet's candidates) in one file, each under its spec.

use std::path::Path;

use crate::{Result, SamplerError};

/// The file and state format's version.
const VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"ASSTATE1";

fn bad(sampler: &'static str, message: impl Into<String>) -> SamplerError {
    SamplerError::InvalidState {
        sampler,
        message: message.into(),
    }
}

/// Writes one sampler's state.
pub struct StateWriter {
    buf: Vec<u8>,
}

impl StateWriter {
    /// A state of sampler `name`.
    pub fn new(name: &str) -> Self {
        let mut w = Self { buf: Vec::new() };
        w.u32(VERSION);
        w.bytes(name.as_bytes());
        w
    }

    /// The encoded state.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }

    /// A `u32`.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// A `u64`.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// A `usize` (as `u64`).
    pub fn usize(&mut self, v: usize) {
        self.u64(v as u64);
    }

    /// A `bool`.
    pub fn bool(&mut self, v: bool) {
        self.buf.push(u8::from(v));
    }

    /// An optional `usize`.
    pub fn opt_usize(&mut self, v: Option<usize>) {
        self.bool(v.is_some());
        self.usize(v.unwrap_or(0));
    }

    /// Raw bytes, length first.
    pub fn bytes(&mut self, v: &[u8]) {
        self.usize(v.len());
        self.buf.extend_from_slice(v);
    }

    /// `f32`s, length first.
    pub fn f32s(&mut self, v: &[f32]) {
        self.usize(v.len());
        self.buf.reserve(4 * v.len());
        for x in v {
            self.buf.extend_from_slice(&x.to_le_bytes());
        }
    }

    /// `u32`s, length first.
    pub fn u32s(&mut self, v: &[u32]) {
        self.usize(v.len());
        self.buf.reserve(4 * v.len());
        for x in v {
            self.buf.extend_from_slice(&x.to_le_bytes());
        }
    }

    /// `u64`s, length first.
    pub fn u64s(&mut self, v: &[u64]) {
        self.usize(v.len());
        self.buf.reserve(8 * v.len());
        for x in v {
            self.buf.extend_from_slice(&x.to_le_bytes());
        }
    }

    /// `bool`s, length first.
    pub fn bools(&mut self, v: &[bool]) {
        self.usize(v.len());
        self.buf.extend(v.iter().map(|&b| u8::from(b)));
    }
}

/// Reads a state written by [`StateWriter`], checking every length against what is left.
pub struct StateReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    sampler: &'static str,
}

impl<'a> StateReader<'a> {
    /// Reads the header of a state that must be sampler `name`'s.
    ///
    /// # Errors
    /// [`SamplerError::InvalidState`] for another version, another sampler, or a short state.
    pub fn new(bytes: &'a [u8], name: &'static str) -> Result<Self> {
        let mut r = Self {
            bytes,
            pos: 0,
            sampler: name,
        };
        let version = r.u32()?;
        if version != VERSION {
            return Err(bad(
                name,
                format!("state format version {version}, this build reads {VERSION}"),
            ));
        }
        let tag = r.take_len(1)?;
        if tag != name.as_bytes() {
            return Err(bad(
                name,
                format!(
                    "the state belongs to sampler `{}`",
                    String::from_utf8_lossy(tag)
                ),
            ));
        }
        Ok(r)
    }

    /// Checks that the whole state was read.
    ///
    /// # Errors
    /// [`SamplerError::InvalidState`] if bytes are left over.
    pub fn finish(self) -> Result<()> {
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(bad(
                self.sampler,
                format!("{} unread bytes at the end", self.bytes.len() - self.pos),
            ))
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| {
                bad(
                    self.sampler,
                    format!(
                        "the state is cut short: {n} bytes wanted at offset {} of {}",
                        self.pos,
                        self.bytes.len()
                    ),
                )
            })?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// A length, then that many elements of `width` bytes.
    fn take_len(&mut self, width: usize) -> Result<&'a [u8]> {
        let n = self.usize()?;
        let bytes = n
            .checked_mul(width)
            .ok_or_else(|| bad(self.sampler, format!("length {n} overflows")))?;
        self.take(bytes)
    }

    /// A `u32`.
    ///
    /// # Errors
    /// [`SamplerError::InvalidState`] if the state is cut short (likewise below).
    pub fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A `u64`.
    pub fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A `usize`.
    pub fn usize(&mut self) -> Result<usize> {
        let v = self.u64()?;
        usize::try_from(v).map_err(|_| bad(self.sampler, format!("{v} does not fit a usize")))
    }

    /// A `bool`.
    pub fn bool(&mut self) -> Result<bool> {
        match self.take(1)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(bad(self.sampler, format!("byte {b} is not a bool"))),
        }
    }

    /// An optional `usize`.
    pub fn opt_usize(&mut self) -> Result<Option<usize>> {
        let some = self.bool()?;
        let v = self.usize()?;
        Ok(some.then_some(v))
    }

    /// Raw bytes.
    pub fn bytes(&mut self) -> Result<Vec<u8>> {
        Ok(self.take_len(1)?.to_vec())
    }

    /// `f32`s.
    pub fn f32s(&mut self) -> Result<Vec<f32>> {
        Ok(self
            .take_len(4)?
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    /// `u32`s.
    pub fn u32s(&mut self) -> Result<Vec<u32>> {
        Ok(self
            .take_len(4)?
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    /// `u64`s.
    pub fn u64s(&mut self) -> Result<Vec<u64>> {
        Ok(self
            .take_len(8)?
            .chunks_exact(8)
            .map(|b| {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                u64::from_le_bytes(a)
            })
            .collect())
    }

    /// `bool`s.
    pub fn bools(&mut self) -> Result<Vec<bool>> {
        self.take_len(1)?
            .iter()
            .map(|&b| match b {
                0 => Ok(false),
                1 => Ok(true),
                b => Err(bad(self.sampler, format!("byte {b} is not a bool"))),
            })
            .collect()
    }
}

/// Writes `(spec, state)` pairs, several samplers' states, to `path` (atomically: a temporary
/// file renamed into place).
///
/// # Errors
/// [`SamplerError::InvalidState`] naming the path if it cannot be written.
pub fn write_sampler_states<S: AsRef<str>, B: AsRef<[u8]>>(
    path: &Path,
    states: &[(S, B)],
) -> Result<()> {
    let mut w = StateWriter { buf: Vec::new() };
    w.buf.extend_from_slice(MAGIC);
    w.usize(states.len());
    for (spec, state) in states {
        w.bytes(spec.as_ref().as_bytes());
        w.bytes(state.as_ref());
    }
    autosample_data::write_atomic(path, &w.buf).map_err(|e| {
        bad(
            "state file",
            format!("{}: could not write: {e}", path.display()),
        )
    })
}

/// Reads what [`write_sampler_states`] wrote.
///
/// # Errors
/// [`SamplerError::InvalidState`] naming the path if it is unreadable or not such a file.
pub fn read_sampler_states(path: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    parse_sampler_states(&read_state_file(path)?, path)
}

/// The bytes of the state file at `path`.
fn read_state_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        bad(
            "state file",
            format!("{}: could not read: {e}", path.display()),
        )
    })
}

/// The `(spec, state)` pairs in `bytes`, a state file read from `path` (named in errors).
fn parse_sampler_states(bytes: &[u8], path: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let wrap = |e: SamplerError| bad("state file", format!("{}: {e}", path.display()));
    if !bytes.starts_with(MAGIC) {
        return Err(bad(
            "state file",
            format!("{}: not a sampler state file", path.display()),
        ));
    }
    let mut r = StateReader {
        bytes,
        pos: MAGIC.len(),
        sampler: "state file",
    };
    let n = r.usize().map_err(wrap)?;
    let mut out = Vec::new();
    for _ in 0..n {
        let spec = String::from_utf8(r.bytes().map_err(wrap)?).map_err(|_| {
            bad(
                "state file",
                format!("{}: a spec is not UTF-8", path.display()),
            )
        })?;
        out.push((spec, r.bytes().map_err(wrap)?));
    }
    r.finish().map_err(wrap)?;
    Ok(out)
}

/// Writes one sampler's state to `path`, under its spec: the trainer's and successive
/// halving's checkpoints, which hold one sampler each, use the same file format as the
/// supernet's ([`write_sampler_states`]), so that a state handed to another sampler is caught.
///
/// # Errors
/// As [`write_sampler_states`].
pub fn write_sampler_state(path: &Path, spec: &str, state: &[u8]) -> Result<()> {
    write_sampler_states(path, &[(spec, state)])
}

/// Reads what [`write_sampler_state`] wrote for the sampler `spec`.
///
/// A file without the state-file header is taken as a bare state, which is how checkpoints
/// before this format kept one sampler's state: the sampler's own `load_state` still checks
/// that it is its own.
///
/// # Errors
/// [`SamplerError::InvalidState`] naming the path if it is unreadable, broken, or holds
/// another sampler's state.
pub fn read_sampler_state(path: &Path, spec: &str) -> Result<Vec<u8>> {
    let bytes = read_state_file(path)?;
    if !bytes.starts_with(MAGIC) {
        return Ok(bytes);
    }
    let mut states = parse_sampler_states(&bytes, path)?;
    match states.iter().position(|(s, _)| s == spec) {
        Some(i) => Ok(states.swap_remove(i).1),
        None => Err(bad(
            "state file",
            format!(
                "{}: holds the state of {:?}, not of `{spec}`; remove the run directory's \
                 checkpoint to start over",
                path.display(),
                states.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_round_trips_and_a_wrong_or_short_one_is_an_error() {
        let mut w = StateWriter::new("srns");
        w.usize(7);
        w.bool(true);
        w.opt_usize(None);
        w.opt_usize(Some(3));
        w.f32s(&[1.5, -0.25]);
        w.u32s(&[4, 5, 6]);
        w.u64s(&[u64::MAX]);
        w.bools(&[true, false]);
        let bytes = w.finish();

        let mut r = StateReader::new(&bytes, "srns").unwrap();
        assert_eq!(r.usize().unwrap(), 7);
        assert!(r.bool().unwrap());
        assert_eq!(r.opt_usize().unwrap(), None);
        assert_eq!(r.opt_usize().unwrap(), Some(3));
        assert_eq!(r.f32s().unwrap(), vec![1.5, -0.25]);
        assert_eq!(r.u32s().unwrap(), vec![4, 5, 6]);
        assert_eq!(r.u64s().unwrap(), vec![u64::MAX]);
        assert_eq!(r.bools().unwrap(), vec![true, false]);
        r.finish().unwrap();

        let err = StateReader::new(&bytes, "dens").err().unwrap();
        assert!(
            err.to_string().contains("belongs to sampler `srns`"),
            "{err}"
        );
        let mut short = StateReader::new(&bytes[..bytes.len() - 3], "srns").unwrap();
        short.usize().unwrap();
        short.bool().unwrap();
        short.opt_usize().unwrap();
        short.opt_usize().unwrap();
        short.f32s().unwrap();
        short.u32s().unwrap();
        short.u64s().unwrap();
        let err = short.bools().err().unwrap();
        assert!(err.to_string().contains("cut short"), "{err}");
    }

    #[test]
    fn a_state_file_round_trips_and_names_itself_when_broken() {
        let dir = std::env::temp_dir().join(format!("autosample-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.state");
        let states = vec![
            ("srns:s1=8".to_owned(), vec![1, 2, 3]),
            ("dens:candidates=6".to_owned(), vec![]),
        ];
        write_sampler_states(&path, &states).unwrap();
        assert_eq!(read_sampler_states(&path).unwrap(), states);
        std::fs::write(&path, b"junk").unwrap();
        let err = read_sampler_states(&path).err().unwrap();
        assert!(
            err.to_string().contains("not a sampler state file"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_single_state_file_checks_its_spec_and_reads_a_bare_legacy_state() {
        let dir = std::env::temp_dir().join(format!("autosample-state1-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("one.state");
        write_sampler_state(&path, "srns", &[9, 8]).unwrap();
        assert_eq!(read_sampler_state(&path, "srns").unwrap(), vec![9, 8]);
        let err = read_sampler_state(&path, "dens").err().unwrap();
        assert!(err.to_string().contains("not of `dens`"), "{err}");
        let legacy = StateWriter::new("srns").finish();
        std::fs::write(&path, &legacy).unwrap();
        assert_eq!(read_sampler_state(&path, "srns").unwrap(), legacy);
        let err = read_sampler_state(&dir.join("missing"), "srns")
            .err()
            .unwrap();
        assert!(err.to_string().contains("could not read"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
