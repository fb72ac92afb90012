//! [`DataError`]: everything that can go wrong while reading, splitting or generating data.
//!
//! Every message is written for the person at the command line: it names the file (and the
//! 1-based line, when there is one), says what was expected and what was found, and says how to
//! fix it. Nothing in this crate panics on user input; malformed input is always a `DataError`.

use std::path::{Path, PathBuf};

/// What can go wrong while loading, splitting or generating a dataset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file or directory could not be read (missing, unreadable, not UTF-8 …).
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The path we tried to read.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line of a data file could not be understood.
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What was expected, what was found, and how to fix it.
        message: String,
    },
    /// A directory (or file set) whose layout we cannot interpret.
    #[error("{}: {message}", path.display())]
    Layout {
        /// The directory.
        path: PathBuf,
        /// What we looked for, what we found, and what to do.
        message: String,
    },
    /// A data file (or a whole dataset) holds no interactions.
    #[error(
        "{}: no interactions found (the file is empty, or every line is blank, a header, or \
         below the rating threshold); check the path and --rating-threshold",
        path.display()
    )]
    Empty {
        /// The file or directory.
        path: PathBuf,
    },
    /// A given valid or test file whose split would be empty: the file holds no interactions,
    /// or every pair of it is already in an earlier split (a copy of train, say). Training
    /// could not early-stop on such a valid split, and test metrics would all be 0.
    #[error("{}: {message}", path.display())]
    EmptySplit {
        /// The valid or test file.
        path: PathBuf,
        /// Why the split is empty, and what to do.
        message: String,
    },
    /// An option value is impossible (e.g. a fraction outside (0, 1)).
    #[error("invalid option: {message}")]
    Config {
        /// Which option, what value, what is allowed.
        message: String,
    },
}

impl DataError {
    /// A [`DataError::Parse`] at `path:line`.
    pub fn parse(path: &Path, line: usize, message: impl Into<String>) -> Self {
        Self::Parse {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    /// A [`DataError::Layout`] for `path`.
    pub fn layout(path: &Path, message: impl Into<String>) -> Self {
        Self::Layout {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    /// A [`DataError::Io`] for `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A [`DataError::Config`].
    pub fn config(message: impl Into<String>) -> Self {
        Self::Config {
            message: message.into(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, DataError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_and_line() {
        let e = DataError::parse(
            Path::new("gowalla/train.txt"),
            17,
            "expected a number (rating) in column 3, found \"x\"; fix the line or pass --format",
        );
        assert_eq!(
            e.to_string(),
            "gowalla/train.txt:17: expected a number (rating) in column 3, found \"x\"; fix the \
             line or pass --format"
        );
        let e = DataError::config("--valid-fraction must be in (0, 1), got 1.5");
        assert_eq!(
            e.to_string(),
            "invalid option: --valid-fraction must be in (0, 1), got 1.5"
        );
    }
}
