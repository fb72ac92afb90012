//! Readers: one data file → raw records (original ids, optional rating, optional timestamp).
//!
//! # Formats
//!
//! | format | [`FileFormat`] | lines look like |
//! |---|---|---|
//! | LightGCN / NGCF list | `list` | `user item item item …` (space or tab separated); a line with only a user is a user with no items |
//! | pairs / columns | `pairs` | `user item [rating [timestamp]]`, TSV, CSV or space separated, with or without a header |
//! | RecBole atomic file | `recbole` | tab separated, header `user_id:token\titem_id:token\trating:float\ttimestamp:float` (columns found by name, any order, extra columns ignored) |
//! | MovieLens | `movielens` | `u.data`: `user\titem\trating\ttimestamp`; `ratings.dat`: `user::item::rating::timestamp` |
//!
//! Every reader skips blank lines, accepts LF and CRLF line endings and a UTF-8 byte-order
//! mark, and trims whitespace around lines and fields, except tabs that start a line: in a
//! tab-separated file `<TAB>11<TAB>5` has an empty first field (an error), it is not user 11
//! (the delimiter is still sniffed on the fully trimmed line). Ratings and timestamps are parsed as
//! `f64`, so `4`, `4.0` and `3.2466e+05` are all fine. Ids are any non-empty text without the
//! delimiter (integers in practice). CSV fields may be wrapped in double quotes, but a quoted
//! field may not contain a comma: a field that opens a quote and does not close it before the
//! next comma is an error.
//!
//! # Format auto-detection ([`FileFormat::Auto`]), per file, first rule that matches
//!
//! 1. extension `.inter` → RecBole atomic file;
//! 2. file name `u.data` → MovieLens 100K (tab separated);
//! 3. file name `ratings.dat`, or the first non-blank line contains `::` → MovieLens-1M style
//!    (`::` separated);
//! 4. the first non-blank line contains a comma → CSV pairs;
//! 5. the first non-blank line contains a tab → tab-separated pairs;
//! 6. otherwise the file is space separated: with a header (see below) it is a pairs file;
//!    without one, the number of fields on the first 1,000 lines decides:
//!    - the count varies from line to line, or is the same on every line but not 2, 3 or 4 →
//!      LightGCN list;
//!    - exactly 2 fields on every line → pairs (a list with one item per user is the same thing);
//!    - 3 or 4 fields on every line → pairs if column 3 holds a non-integer token somewhere
//!      (`4.0`, `3.2e5`: a rating), or if a user (column 1) starts more than one of those
//!      lines (list files have one line per user); otherwise a list. This case is genuinely
//!      ambiguous: pass `--format` to be sure.
//!
//! `--format` ([`LoadOptions::format`]) skips detection and applies to every file of a dataset;
//! with `--format pairs` or `movielens` the delimiter is still taken from the first line (`::`,
//! comma, tab, else spaces). Without it, the loader detects the format of the train file and
//! reads the valid and test files in the same format (see [`crate::load`]).
//!
//! # Header detection
//!
//! The first non-blank line of a pairs or MovieLens file is a header if any of its fields,
//! lowercased and without a RecBole type suffix, is one of `user`, `user_id`, `userid`, `uid`,
//! `item`, `item_id`, `itemid`, `movieid`, `movie_id`, `iid`, `rating`, `timestamp`, `weight`, or
//! if a field carries a RecBole type annotation (`name:token`, `name:float`, `name:token_seq`,
//! `name:float_seq`). [`LoadOptions::header`] (`--header true|false`) overrides this (and
//! `--header true` also makes a list file skip its first line). A RecBole file always has a
//! header.
//!
//! When a pairs header names both a user column and an item column, columns are found by name
//! (`rating` or `weight` is the rating, `timestamp` the timestamp, other columns are ignored);
//! otherwise columns are positional: user, item, rating, timestamp. When a train file's header
//! names its columns in another order (`item_id,user_id`), a valid or test file beside it
//! without a header is an error at its first line that says to add the header: read by
//! position, its users and items would be swapped without a word.
//!
//! # Rating threshold
//!
//! With [`LoadOptions::rating_threshold`] (`--rating-threshold`), only rows whose rating is at least
//! the threshold are kept (the usual "ratings ≥ 4 are positives" for explicit data). Setting it
//! on a file without a rating column (a list file, or pairs with two columns) is an error; an
//! empty or blank-only file is read as empty whatever the threshold (the loader decides whether
//! an empty file is an error).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::load::{FileFormat, LoadOptions};

/// How the fields of a line are separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delimiter {
    /// Runs of spaces and/or tabs.
    Whitespace,
    /// One tab between fields.
    Tab,
    /// One comma between fields (CSV without embedded commas).
    Comma,
    /// `::`, as in MovieLens-1M `ratings.dat`.
    DoubleColon,
}

impl Delimiter {
    fn describe(self) -> &'static str {
        match self {
            Delimiter::Whitespace => "spaces",
            Delimiter::Tab => "tabs",
            Delimiter::Comma => "commas",
            Delimiter::DoubleColon => "`::`",
        }
    }

    /// The delimiter of a line: `::`, then comma, then tab, else whitespace.
    fn sniff(line: &str) -> Self {
        if line.contains("::") {
            Delimiter::DoubleColon
        } else if line.contains(',') {
            Delimiter::Comma
        } else if line.contains('\t') {
            Delimiter::Tab
        } else {
            Delimiter::Whitespace
        }
    }

    fn split<'a>(self, line: &'a str, out: &mut Vec<&'a str>) {
        out.clear();
        match self {
            Delimiter::Whitespace => out.extend(line.split_ascii_whitespace()),
            Delimiter::Tab => out.extend(line.split('\t').map(str::trim)),
            Delimiter::Comma => out.extend(line.split(',').map(|f| unquote(f.trim()))),
            Delimiter::DoubleColon => out.extend(line.split("::").map(str::trim)),
        }
    }
}

fn unquote(field: &str) -> &str {
    field
        .strip_prefix('"')
        .and_then(|f| f.strip_suffix('"'))
        .map(str::trim)
        .unwrap_or(field)
}

/// A file's format after auto-detection: what the reader actually does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ResolvedFormat {
    /// `user item item …` per line.
    List {
        /// Whether the first line is skipped as a header (only when asked for).
        header: bool,
    },
    /// `user item [rating [timestamp]]` per line.
    Pairs {
        /// Field separator.
        delimiter: Delimiter,
        /// Whether the first non-blank line is a header.
        header: bool,
    },
    /// RecBole atomic `.inter` file: header with `name:type` columns.
    RecBoleInter {
        /// Field separator (tab, unless the header has none).
        delimiter: Delimiter,
    },
    /// MovieLens `u.data` / `ratings.dat`: `user item rating [timestamp]`.
    MovieLens {
        /// Field separator (tab for `u.data`, `::` for `ratings.dat`).
        delimiter: Delimiter,
        /// Whether the first non-blank line is a header.
        header: bool,
    },
}

impl ResolvedFormat {
    /// The [`FileFormat`] that reads a file like this one.
    pub fn file_format(&self) -> FileFormat {
        match self {
            ResolvedFormat::List { .. } => FileFormat::List,
            ResolvedFormat::Pairs { .. } => FileFormat::Pairs,
            ResolvedFormat::RecBoleInter { .. } => FileFormat::RecBoleInter,
            ResolvedFormat::MovieLens { .. } => FileFormat::MovieLens,
        }
    }
}

impl fmt::Display for ResolvedFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = |h: bool| if h { ", with header" } else { "" };
        match *self {
            ResolvedFormat::List { header } => write!(f, "user-item list{}", head(header)),
            ResolvedFormat::Pairs { delimiter, header } => {
                write!(
                    f,
                    "pairs separated by {}{}",
                    delimiter.describe(),
                    head(header)
                )
            }
            ResolvedFormat::RecBoleInter { .. } => write!(f, "RecBole atomic .inter file"),
            ResolvedFormat::MovieLens { delimiter, header } => {
                write!(
                    f,
                    "MovieLens ratings separated by {}{}",
                    delimiter.describe(),
                    head(header)
                )
            }
        }
    }
}

/// One interaction as written in a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawRecord {
    /// Original user id.
    pub user: String,
    /// Original item id.
    pub item: String,
    /// Rating or weight, if the file has one.
    pub rating: Option<f64>,
    /// Timestamp, if the file has one.
    pub timestamp: Option<f64>,
}

/// The contents of one data file, ids as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawFile {
    /// The file.
    pub path: PathBuf,
    /// How it was read.
    pub format: ResolvedFormat,
    /// Interactions in file order (rows below the rating threshold already dropped).
    pub records: Vec<RawRecord>,
    /// Users that appear in the file but have no interaction in it (list lines with only a
    /// user), in order of appearance.
    pub users_without_items: Vec<String>,
    /// Rows dropped by the rating threshold.
    pub below_threshold: usize,
}

/// Reads one data file into raw records (a convenience over the loader's internal reader,
/// e.g. for inspecting a file; [`crate::load_dataset`] does not allocate per record).
///
/// # Errors
/// [`DataError::Io`] if the file cannot be read, [`DataError::Parse`] for a malformed line,
/// [`DataError::Config`] for a rating threshold on a file without ratings.
pub fn read_file(path: &Path, opts: &LoadOptions) -> Result<RawFile> {
    let mut users = Interner::default();
    let mut items = Interner::default();
    let table = read_table(path, opts, None, &mut users, &mut items)?;
    let mut with_items = vec![false; users.len()];
    let records = (0..table.len())
        .map(|k| {
            with_items[table.users[k] as usize] = true;
            RawRecord {
                user: users.name(table.users[k]).to_owned(),
                item: items.name(table.items[k]).to_owned(),
                rating: table.rating(k),
                timestamp: table.timestamp(k),
            }
        })
        .collect();
    let users_without_items = (0..users.len() as u32)
        .filter(|&s| !with_items[s as usize])
        .map(|s| users.name(s).to_owned())
        .collect();
    Ok(RawFile {
        path: table.path,
        format: table.format,
        records,
        users_without_items,
        below_threshold: table.below_threshold,
    })
}

/// Detects the format of one file (see the module docs for the rules).
///
/// # Errors
/// [`DataError::Io`] if the file cannot be read; [`DataError::Parse`] if it is not UTF-8 or a
/// RecBole header is unusable.
pub fn detect_format(path: &Path, opts: &LoadOptions) -> Result<ResolvedFormat> {
    let text = read_text(path)?;
    Ok(resolve(path, &text, opts)?.0)
}

// ---------------------------------------------------------------------------------------------
// Interning: original id text → symbol (order of first appearance), cheap for integer ids.

/// Integer ids below this bound (canonical decimal, no leading zeros) skip the hash map.
const SMALL_ID_DIGITS: usize = 6;

/// Original id text → symbol `0..len` in order of first appearance. Canonical small integers go
/// through a direct-indexed table, so integer-id files need no hashing and no per-token
/// allocation (only one per distinct id).
#[derive(Debug, Default)]
pub(crate) struct Interner {
    /// `small[v]` = symbol + 1 of the canonical integer `v` (0 = not seen).
    small: Vec<u32>,
    map: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

fn small_int(tok: &str) -> Option<usize> {
    let b = tok.as_bytes();
    if b.is_empty() || b.len() > SMALL_ID_DIGITS || (b.len() > 1 && b[0] == b'0') {
        return None;
    }
    let mut v = 0usize;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as usize;
    }
    Some(v)
}

impl Interner {
    pub(crate) fn intern(&mut self, tok: &str) -> u32 {
        if let Some(v) = small_int(tok) {
            if let Some(&s) = self.small.get(v)
                && s != 0
            {
                return s - 1;
            }
            if v >= self.small.len() {
                self.small
                    .resize((v + 1).max(self.small.len() * 2).max(1024), 0);
            }
            let sym = self.names.len() as u32;
            self.names.push(tok.into());
            self.small[v] = sym + 1;
            return sym;
        }
        if let Some(&s) = self.map.get(tok) {
            return s;
        }
        let sym = self.names.len() as u32;
        self.names.push(tok.into());
        self.map.insert(tok.into(), sym);
        sym
    }

    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    pub(crate) fn name(&self, sym: u32) -> &str {
        &self.names[sym as usize]
    }

    pub(crate) fn names(&self) -> &[Box<str>] {
        &self.names
    }
}

// ---------------------------------------------------------------------------------------------
// The table reader.

/// Interactions of one file as interned symbols, in file order.
#[derive(Debug)]
pub(crate) struct RawTable {
    pub(crate) path: PathBuf,
    pub(crate) format: ResolvedFormat,
    pub(crate) users: Vec<u32>,
    pub(crate) items: Vec<u32>,
    /// Per row (NaN = missing); empty when the format has no rating column.
    pub(crate) ratings: Vec<f64>,
    /// Per row (NaN = missing); empty when the format has no timestamp column.
    pub(crate) timestamps: Vec<f64>,
    pub(crate) below_threshold: usize,
    /// The header, when it names columns that a header-less file would not get by position.
    pub(crate) named_header: Option<NamedHeader>,
}

/// A train file's header whose named columns differ from the positional `user item rating
/// timestamp` (e.g. `item_id,user_id`): a header-less valid or test file beside it would be
/// read by position, its users and items swapped, so the loader refuses it.
#[derive(Debug, Clone)]
pub(crate) struct NamedHeader {
    /// The train file.
    pub(crate) file: PathBuf,
    /// Its header line.
    pub(crate) line: String,
}

impl RawTable {
    pub(crate) fn len(&self) -> usize {
        self.users.len()
    }

    pub(crate) fn rating(&self, k: usize) -> Option<f64> {
        self.ratings.get(k).copied().filter(|x| !x.is_nan())
    }

    pub(crate) fn timestamp(&self, k: usize) -> Option<f64> {
        self.timestamps.get(k).copied().filter(|x| !x.is_nan())
    }

    /// Whether every row has a timestamp (false for an empty table).
    pub(crate) fn all_timestamped(&self) -> bool {
        !self.users.is_empty()
            && self.timestamps.len() == self.users.len()
            && self.timestamps.iter().all(|t| !t.is_nan())
    }
}

/// Reads a whole file as UTF-8 text (BOM removed).
pub(crate) fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    match String::from_utf8(bytes) {
        Ok(mut s) => {
            if s.starts_with('\u{feff}') {
                s.drain(..'\u{feff}'.len_utf8());
            }
            Ok(s)
        }
        Err(e)
            if e.as_bytes().starts_with(&[0xff, 0xfe])
                || e.as_bytes().starts_with(&[0xfe, 0xff]) =>
        {
            Err(DataError::parse(
                path,
                1,
                "the file is UTF-16 text (it starts with a UTF-16 byte-order mark), as some \
                 spreadsheet exports are; convert it to UTF-8, e.g. `iconv -f UTF-16 -t UTF-8 \
                 in.txt > out.txt`"
                    .to_owned(),
            ))
        }
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let line = bytes[..valid].iter().filter(|&&b| b == b'\n').count() + 1;
            Err(DataError::parse(
                path,
                line,
                format!(
                    "the file is not UTF-8 text (invalid byte 0x{:02x} at offset {valid}); is it \
                     a data file? Convert it to UTF-8 (and decompress it if it is an archive)",
                    bytes[valid]
                ),
            ))
        }
    }
}

/// Non-blank lines with their 1-based numbers, trimmed by [`trim_line`] (handles CRLF and
/// trailing blanks). A line of only whitespace, tabs included, is blank.
fn data_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split('\n')
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(k, l)| (k + 1, trim_line(l)))
}

/// A line without trailing whitespace and without leading whitespace up to the first tab: in
/// a tab-separated file a leading tab is an empty first field (`\t11\t5` must not read as user
/// 11), while a trailing tab means a missing last field, just as a short row does.
fn trim_line(line: &str) -> &str {
    line.trim_start_matches(|c: char| c.is_whitespace() && c != '\t')
        .trim_end()
}

/// The `no`-th (1-based) line of `text`, trimmed like every data line.
fn nth_line(text: &str, no: usize) -> &str {
    trim_line(text.split('\n').nth(no - 1).unwrap_or_default())
}

/// Words that make a first line a header.
const HEADER_WORDS: &[&str] = &[
    "user",
    "user_id",
    "userid",
    "uid",
    "item",
    "item_id",
    "itemid",
    "movieid",
    "movie_id",
    "iid",
    "rating",
    "timestamp",
    "weight",
];
const USER_WORDS: &[&str] = &["user", "user_id", "userid", "uid"];
const ITEM_WORDS: &[&str] = &["item", "item_id", "itemid", "movieid", "movie_id", "iid"];
const RATING_WORDS: &[&str] = &["rating", "weight"];
const TIME_WORDS: &[&str] = &["timestamp"];
const RECBOLE_TYPES: &[&str] = &["token", "float", "token_seq", "float_seq"];

/// A header field's name: lowercased, RecBole `:type` suffix removed; and whether it had one.
fn header_name(field: &str) -> (String, bool) {
    let lower = field.trim().to_ascii_lowercase();
    if let Some((name, ty)) = lower.rsplit_once(':')
        && RECBOLE_TYPES.contains(&ty)
    {
        return (name.to_owned(), true);
    }
    (lower, false)
}

fn looks_like_header(fields: &[&str]) -> bool {
    fields.iter().any(|f| {
        let (name, typed) = header_name(f);
        typed || HEADER_WORDS.contains(&name.as_str())
    })
}

fn is_integer(tok: &str) -> bool {
    let t = tok.strip_prefix(['+', '-']).unwrap_or(tok);
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())
}

/// Where the columns of a pairs-like file are.
#[derive(Debug, Clone, Copy)]
struct Columns {
    user: usize,
    item: usize,
    rating: Option<usize>,
    timestamp: Option<usize>,
    /// Positional columns: rating and timestamp are present when the line has ≥ 3 / 4 fields.
    positional: bool,
    /// Most fields a positional line may have.
    max_fields: usize,
}

impl Columns {
    /// `user item [rating [timestamp]]`.
    const POSITIONAL: Self = Columns {
        user: 0,
        item: 1,
        rating: Some(2),
        timestamp: Some(3),
        positional: true,
        max_fields: 4,
    };

    /// Columns by header names, if the header names both a user and an item column.
    fn named(header: &[&str]) -> Option<Self> {
        let names: Vec<String> = header.iter().map(|f| header_name(f).0).collect();
        let find = |words: &[&str]| names.iter().position(|n| words.contains(&n.as_str()));
        Some(Columns {
            user: find(USER_WORDS)?,
            item: find(ITEM_WORDS)?,
            rating: find(RATING_WORDS),
            timestamp: find(TIME_WORDS),
            positional: false,
            max_fields: usize::MAX,
        })
    }

    /// Whether reading by position finds the same user, item, rating and timestamp columns
    /// (each of rating and timestamp either unnamed or in its positional place).
    fn agree_with_positions(&self) -> bool {
        self.user == 0
            && self.item == 1
            && self.rating.is_none_or(|r| r == 2)
            && self.timestamp.is_none_or(|t| t == 3)
    }

    fn min_fields(&self) -> usize {
        if self.positional {
            2
        } else {
            [
                Some(self.user),
                Some(self.item),
                self.rating,
                self.timestamp,
            ]
            .into_iter()
            .flatten()
            .max()
            .map_or(2, |m| m + 1)
        }
    }
}

/// Decides the format of `text`. Returns the format and the line number of its header, if any.
fn resolve(path: &Path, text: &str, opts: &LoadOptions) -> Result<(ResolvedFormat, Option<usize>)> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let is_inter = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("inter"));
    let mut lines = data_lines(text);
    let Some((first_no, first)) = lines.next() else {
        // Empty file: any format reads it as empty.
        return Ok((ResolvedFormat::List { header: false }, None));
    };
    // The delimiter is sniffed on the fully trimmed line, so that a stray leading tab does not
    // make a space-separated file tab-separated (`\t1 2`).
    let bare = first.trim();
    let header_of = |delimiter: Delimiter| -> bool {
        opts.header.unwrap_or_else(|| {
            let mut fields = Vec::new();
            delimiter.split(first, &mut fields);
            looks_like_header(&fields)
        })
    };
    let head_line = |h: bool| h.then_some(first_no);
    let format = match opts.format {
        FileFormat::RecBoleInter => FileFormat::RecBoleInter,
        FileFormat::Auto if is_inter => FileFormat::RecBoleInter,
        FileFormat::Auto if name == "u.data" || name == "ratings.dat" || bare.contains("::") => {
            FileFormat::MovieLens
        }
        other => other,
    };
    let resolved = match format {
        FileFormat::RecBoleInter => {
            let delimiter = if bare.contains('\t') {
                Delimiter::Tab
            } else {
                Delimiter::Whitespace
            };
            (ResolvedFormat::RecBoleInter { delimiter }, Some(first_no))
        }
        FileFormat::MovieLens => {
            let delimiter = Delimiter::sniff(bare);
            let header = header_of(delimiter);
            (
                ResolvedFormat::MovieLens { delimiter, header },
                head_line(header),
            )
        }
        FileFormat::Pairs => {
            let delimiter = Delimiter::sniff(bare);
            let header = header_of(delimiter);
            (
                ResolvedFormat::Pairs { delimiter, header },
                head_line(header),
            )
        }
        FileFormat::List => {
            let header = opts.header.unwrap_or(false);
            (ResolvedFormat::List { header }, head_line(header))
        }
        FileFormat::Auto => {
            let delimiter = Delimiter::sniff(bare);
            let header = header_of(delimiter);
            // A detected header names columns, so the file is a pairs file.
            if delimiter != Delimiter::Whitespace || (header && opts.header.is_none()) {
                (
                    ResolvedFormat::Pairs { delimiter, header },
                    head_line(header),
                )
            } else {
                let first = (!header).then_some((first_no, first));
                let list = space_file_is_list(path, first.into_iter().chain(lines));
                if list {
                    (ResolvedFormat::List { header }, head_line(header))
                } else {
                    let f = ResolvedFormat::Pairs {
                        delimiter: Delimiter::Whitespace,
                        header,
                    };
                    (f, head_line(header))
                }
            }
        }
    };
    Ok(resolved)
}

/// Rule 6 of the auto-detection (space-separated files): list or pairs?
fn space_file_is_list<'a>(path: &Path, lines: impl Iterator<Item = (usize, &'a str)>) -> bool {
    const SAMPLE: usize = 1000;
    let mut count: Option<usize> = None;
    let mut varying = false;
    let mut non_integer_col3 = false;
    let mut first_col = std::collections::HashSet::new();
    let mut repeated_user = false;
    for (_, line) in lines.take(SAMPLE) {
        let mut n = 0;
        for (k, tok) in line.split_ascii_whitespace().enumerate() {
            n += 1;
            if k == 0 && !first_col.insert(tok) {
                repeated_user = true;
            }
            if k == 2 && !is_integer(tok) {
                non_integer_col3 = true;
            }
        }
        match count {
            None => count = Some(n),
            Some(c) if c != n => varying = true,
            Some(_) => {}
        }
    }
    let list = match count {
        _ if varying => true,
        None | Some(1) => true,
        Some(2) => false,
        Some(3 | 4) => !(non_integer_col3 || repeated_user),
        Some(_) => true,
    };
    if list && matches!(count, Some(3 | 4)) && !varying {
        tracing::warn!(
            file = %path.display(),
            "every line has {} integer fields and no user starts two lines: reading it as a \
             user-item list (user item item ...); if the columns are user item rating \
             [timestamp], pass --format pairs",
            count.unwrap_or(0)
        );
    }
    list
}

/// Shortens a line for an error message, with tabs and control characters escaped.
fn excerpt(line: &str) -> String {
    const MAX: usize = 60;
    if line.chars().count() <= MAX {
        line.escape_debug().to_string()
    } else {
        let cut: String = line.chars().take(MAX).collect();
        format!("{}…", cut.escape_debug())
    }
}

fn parse_number(
    path: &Path,
    line_no: usize,
    tok: &str,
    column: usize,
    what: &str,
    hint: &str,
) -> Result<f64> {
    match tok.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        _ => Err(DataError::parse(
            path,
            line_no,
            format!(
                "expected a number ({what}) in column {}, found \"{}\"; {hint}",
                column + 1,
                excerpt(tok)
            ),
        )),
    }
}

/// The 0-based column of a CSV line whose field opens a quote that the comma split cuts off
/// (`u1,"Book, The"`): quoted commas are not supported, and the halves would otherwise be read
/// as two fields without a word (silently, when the header names columns and extras are ignored).
fn cut_quote(line: &str) -> Option<usize> {
    if !line.contains('"') {
        return None;
    }
    line.split(',').position(|f| {
        let f = f.trim();
        f.starts_with('"') && (f.len() == 1 || !f.ends_with('"'))
    })
}

fn cut_quote_error(path: &Path, line_no: usize, column: usize, line: &str) -> DataError {
    DataError::parse(
        path,
        line_no,
        format!(
            "the quoted field in column {} holds a comma (\"{}\"), and quoted commas are not \
             supported; remove the comma from the field, or save the file tab-separated",
            column + 1,
            excerpt(line)
        ),
    )
}

/// A file's name as a message names it beside its full path: the last component (the whole
/// path if it has none).
pub(crate) fn file_label(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The error for a header-less file beside a train file whose header names columns in another
/// order than the positional one.
fn missing_named_header(path: &Path, line_no: usize, train: &NamedHeader) -> DataError {
    let train_name = file_label(&train.file);
    DataError::parse(
        path,
        line_no,
        format!(
            "this file has no header, but the header of {train_name} (\"{}\") names its columns \
             in another order than user, item, rating, timestamp, so reading this file by \
             position would mix them up; add that header as the first line of this file",
            excerpt(&train.line)
        ),
    )
}

/// Reads one file into interned records. `users` and `items` are shared across the files of a
/// dataset so that symbols follow first appearance over train, valid, test. `train` is the
/// named header of the train file when `path` is its valid or test file (see [`NamedHeader`]).
pub(crate) fn read_table(
    path: &Path,
    opts: &LoadOptions,
    train: Option<&NamedHeader>,
    users: &mut Interner,
    items: &mut Interner,
) -> Result<RawTable> {
    let text = read_text(path)?;
    let (format, header_line) = resolve(path, &text, opts)?;
    let mut table = RawTable {
        path: path.to_path_buf(),
        format,
        users: Vec::new(),
        items: Vec::new(),
        ratings: Vec::new(),
        timestamps: Vec::new(),
        below_threshold: 0,
        named_header: None,
    };
    let Some((first_no, _)) = data_lines(&text).next() else {
        // Empty or blank-only: nothing to read, and no columns to check a threshold against
        // (the caller says whether an empty file is an error).
        return Ok(table);
    };
    let threshold = opts.rating_threshold;
    let no_rating_error = |what: &str| {
        DataError::config(format!(
            "a rating threshold (--rating-threshold {}) is set, but {} has no rating column ({what}); \
             drop the threshold for this dataset",
            threshold.unwrap_or(f64::NAN),
            path.display()
        ))
    };
    let body = data_lines(&text).filter(|&(no, _)| Some(no) != header_line);
    match format {
        ResolvedFormat::List { .. } => {
            if threshold.is_some() {
                return Err(no_rating_error("it is a user-item list"));
            }
            for (_, line) in body {
                let mut toks = line.split_ascii_whitespace();
                let Some(user) = toks.next() else { continue };
                let u = users.intern(user);
                for tok in toks {
                    table.users.push(u);
                    table.items.push(items.intern(tok));
                }
            }
        }
        ResolvedFormat::Pairs { delimiter, .. }
        | ResolvedFormat::MovieLens { delimiter, .. }
        | ResolvedFormat::RecBoleInter { delimiter } => {
            let mut fields = Vec::new();
            let hint = match format {
                ResolvedFormat::RecBoleInter { .. } => "fix the line",
                _ => "fix the line or pass --format",
            };
            let columns = match (format, header_line) {
                (ResolvedFormat::RecBoleInter { .. }, Some(no)) => {
                    let head = nth_line(&text, no);
                    delimiter.split(head, &mut fields);
                    Columns::named(&fields).ok_or_else(|| {
                        DataError::parse(
                            path,
                            no,
                            format!(
                                "a RecBole .inter header must name user_id and item_id columns \
                                 (e.g. \"user_id:token<TAB>item_id:token<TAB>rating:float\"), \
                                 found \"{}\"; fix the header",
                                excerpt(head)
                            ),
                        )
                    })?
                }
                (ResolvedFormat::Pairs { .. }, Some(no)) => {
                    let head = nth_line(&text, no);
                    delimiter.split(head, &mut fields);
                    let columns = Columns::named(&fields).unwrap_or(Columns::POSITIONAL);
                    if !columns.agree_with_positions() {
                        table.named_header = Some(NamedHeader {
                            file: path.to_path_buf(),
                            line: head.to_owned(),
                        });
                    }
                    columns
                }
                (ResolvedFormat::Pairs { .. }, None) => match train {
                    Some(train) => return Err(missing_named_header(path, first_no, train)),
                    None => Columns::POSITIONAL,
                },
                _ => Columns::POSITIONAL,
            };
            let is_movielens = matches!(format, ResolvedFormat::MovieLens { .. });
            let min_fields = if is_movielens {
                3
            } else {
                columns.min_fields()
            };
            let d = match delimiter {
                Delimiter::Whitespace => " ",
                Delimiter::Tab => "<TAB>",
                Delimiter::Comma => ",",
                Delimiter::DoubleColon => "::",
            };
            let shape = match (columns.positional, is_movielens) {
                (false, _) => "the columns named in the header".to_owned(),
                (true, true) => format!("user{d}item{d}rating[{d}timestamp]"),
                (true, false) => format!("user{d}item[{d}rating[{d}timestamp]]"),
            };
            // File-level check: a threshold needs a rating column.
            let mut body = body.peekable();
            if threshold.is_some() {
                let has_rating = match columns.rating {
                    None => false,
                    Some(_) if !columns.positional => true,
                    Some(r) => body.peek().is_none_or(|&(_, line)| {
                        delimiter.split(line, &mut fields);
                        fields.len() > r
                    }),
                };
                if !has_rating {
                    return Err(no_rating_error("its lines are user-item pairs"));
                }
            }
            // A list file taken for pairs because of its header must keep skipping the header.
            let list_flags = match header_line {
                Some(_) => "--format list --header true",
                None => "--format list",
            };
            let has_rating_col = columns.rating.is_some();
            let has_time_col = columns.timestamp.is_some();
            for (no, line) in body {
                if delimiter == Delimiter::Comma
                    && let Some(col) = cut_quote(line)
                {
                    return Err(cut_quote_error(path, no, col, line));
                }
                delimiter.split(line, &mut fields);
                let n = fields.len();
                if n < min_fields {
                    return Err(DataError::parse(
                        path,
                        no,
                        format!(
                            "expected at least {min_fields} fields ({shape}) separated by {}, \
                             found {n} (\"{}\"); {hint}",
                            delimiter.describe(),
                            excerpt(line)
                        ),
                    ));
                }
                if n > columns.max_fields {
                    return Err(DataError::parse(
                        path,
                        no,
                        format!(
                            "expected at most {} fields ({shape}), found {n} (\"{}\"); if each \
                             line is a user followed by all its items, pass {list_flags}",
                            columns.max_fields,
                            excerpt(line)
                        ),
                    ));
                }
                let user = fields[columns.user];
                let item = fields[columns.item];
                for (tok, col, what) in [(user, columns.user, "user"), (item, columns.item, "item")]
                {
                    if tok.is_empty() {
                        return Err(DataError::parse(
                            path,
                            no,
                            format!("empty {what} id in column {}; fix the line", col + 1),
                        ));
                    }
                }
                let rating = match columns.rating.and_then(|r| fields.get(r).map(|t| (r, *t))) {
                    Some((r, tok)) => {
                        Some(parse_number(path, no, tok, r, "rating or weight", hint)?)
                    }
                    None => None,
                };
                let timestamp = match columns
                    .timestamp
                    .and_then(|c| fields.get(c).map(|t| (c, *t)))
                {
                    Some((c, tok)) => Some(parse_number(
                        path,
                        no,
                        tok,
                        c,
                        "timestamp, e.g. seconds since 1970",
                        hint,
                    )?),
                    None => None,
                };
                if let Some(t) = threshold {
                    match rating {
                        Some(r) if r >= t => {}
                        Some(_) => {
                            table.below_threshold += 1;
                            continue;
                        }
                        None => {
                            return Err(DataError::parse(
                                path,
                                no,
                                format!(
                                    "this line has no rating (column {}), but a rating threshold \
                                     (--rating-threshold {t}) is set; add the rating or drop the \
                                     threshold",
                                    columns.rating.map_or(3, |r| r + 1)
                                ),
                            ));
                        }
                    }
                }
                table.users.push(users.intern(user));
                table.items.push(items.intern(item));
                if has_rating_col {
                    table.ratings.push(rating.unwrap_or(f64::NAN));
                }
                if has_time_col {
                    table.timestamps.push(timestamp.unwrap_or(f64::NAN));
                }
            }
        }
    }
    tracing::debug!(
        file = %path.display(),
        format = %table.format,
        rows = table.len(),
        below_threshold = table.below_threshold,
        "read data file"
    );
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(name: &str, text: &str) -> ResolvedFormat {
        detect_with(name, text, &LoadOptions::default())
    }

    fn detect_with(name: &str, text: &str, opts: &LoadOptions) -> ResolvedFormat {
        resolve(Path::new(name), text, opts).unwrap().0
    }

    const WS: Delimiter = Delimiter::Whitespace;

    #[test]
    fn auto_detection_follows_the_documented_rules() {
        let pairs = |delimiter, header| ResolvedFormat::Pairs { delimiter, header };
        let list = ResolvedFormat::List { header: false };
        // 1–3: name, extension, `::`.
        assert_eq!(
            detect("x.inter", "user_id:token\titem_id:token\n1\t2\n"),
            ResolvedFormat::RecBoleInter {
                delimiter: Delimiter::Tab
            }
        );
        assert_eq!(
            detect("u.data", "1\t2\t3\t4\n"),
            ResolvedFormat::MovieLens {
                delimiter: Delimiter::Tab,
                header: false
            }
        );
        assert_eq!(
            detect("r.txt", "1::2::3::4\n"),
            ResolvedFormat::MovieLens {
                delimiter: Delimiter::DoubleColon,
                header: false
            }
        );
        // 4–5: comma, tab.
        assert_eq!(detect("a.txt", "1,2\n"), pairs(Delimiter::Comma, false));
        assert_eq!(detect("a.txt", "1\t2\t3\n"), pairs(Delimiter::Tab, false));
        // 6: spaces.
        assert_eq!(detect("a.txt", "0 1 2 3\n1 2\n"), list, "varying counts");
        assert_eq!(
            detect("a.txt", "0 1 2 3 4\n1 2 3 4 5\n"),
            list,
            "constant 5"
        );
        assert_eq!(detect("a.txt", "0\n1\n"), list, "users only");
        assert_eq!(
            detect("a.txt", "1 2\n3 4\n"),
            pairs(WS, false),
            "constant 2"
        );
        assert_eq!(
            detect("a.txt", "1 2 3\n2 3 4\n"),
            list,
            "3 integers, one line per user"
        );
        assert_eq!(
            detect("a.txt", "1 2 3\n1 3 4\n"),
            pairs(WS, false),
            "a user repeats"
        );
        assert_eq!(
            detect("a.txt", "1 2 4.0\n2 3 5\n"),
            pairs(WS, false),
            "float column 3"
        );
        assert_eq!(detect("a.txt", "1 2 3.2e5 7\n2 3 5 8\n"), pairs(WS, false));
        assert_eq!(
            detect("a.txt", "user item rating\n1 2 3\n2 3 4\n"),
            pairs(WS, true)
        );
        assert_eq!(detect("empty.txt", "\n\n"), list);
    }

    #[test]
    fn header_detection_and_override() {
        let pairs = |delimiter, header| ResolvedFormat::Pairs { delimiter, header };
        assert_eq!(
            detect("a.csv", "user_id,item_id\n1,2\n"),
            pairs(Delimiter::Comma, true)
        );
        assert_eq!(
            detect("a.tsv", "UserID\tMovieID\n1\t2\n"),
            pairs(Delimiter::Tab, true)
        );
        assert_eq!(
            detect("a.tsv", "uid\tiid\n1\t2\n"),
            pairs(Delimiter::Tab, true)
        );
        assert_eq!(
            detect("a.tsv", "u:token\tv:float\n1\t2\n"),
            pairs(Delimiter::Tab, true)
        );
        assert_eq!(
            detect("a.tsv", "a:b\tc\n1\t2\n"),
            pairs(Delimiter::Tab, false)
        );
        assert_eq!(
            detect("a.tsv", "users\titems\n1\t2\n"),
            pairs(Delimiter::Tab, false)
        );
        let no = LoadOptions {
            header: Some(false),
            ..LoadOptions::default()
        };
        assert_eq!(
            detect_with("a.csv", "user,item\n1,2\n", &no),
            pairs(Delimiter::Comma, false)
        );
        let yes = LoadOptions {
            header: Some(true),
            ..LoadOptions::default()
        };
        assert_eq!(
            detect_with("a.csv", "x,y\n1,2\n", &yes),
            pairs(Delimiter::Comma, true)
        );
        // A forced header on a space-separated file is skipped before sampling.
        assert_eq!(
            detect_with("a.txt", "id things\n0 1 2 3\n1 2\n", &yes),
            ResolvedFormat::List { header: true }
        );
    }

    #[test]
    fn format_option_skips_detection() {
        let opts = LoadOptions {
            format: FileFormat::Pairs,
            ..LoadOptions::default()
        };
        assert_eq!(
            detect_with("a.txt", "1 2 3\n2 3 4\n", &opts),
            ResolvedFormat::Pairs {
                delimiter: WS,
                header: false
            }
        );
        let opts = LoadOptions {
            format: FileFormat::List,
            ..LoadOptions::default()
        };
        assert_eq!(
            detect_with("a.txt", "1 2\n", &opts),
            ResolvedFormat::List { header: false }
        );
        let opts = LoadOptions {
            format: FileFormat::RecBoleInter,
            ..LoadOptions::default()
        };
        assert_eq!(
            detect_with("a.txt", "user_id:token item_id:token\n1 2\n", &opts),
            ResolvedFormat::RecBoleInter { delimiter: WS }
        );
    }

    #[test]
    fn interner_fast_path_and_strings_share_first_appearance_order() {
        let mut n = Interner::default();
        assert_eq!(n.intern("5"), 0);
        assert_eq!(n.intern("abc"), 1);
        assert_eq!(n.intern("05"), 2, "not canonical: a different id");
        assert_eq!(n.intern("1234567"), 3, "beyond the table: hashed");
        assert_eq!(n.intern("5"), 0);
        assert_eq!(n.intern("abc"), 1);
        assert_eq!(n.intern("1234567"), 3);
        assert_eq!(n.len(), 4);
        assert_eq!(n.name(2), "05");
    }

    #[test]
    fn lines_keep_a_leading_tab_but_sniff_without_it() {
        assert_eq!(trim_line(" \t11\t5 \r"), "\t11\t5");
        assert_eq!(trim_line("  1 2\t"), "1 2");
        let lines: Vec<_> = data_lines("1\t2\n\t \r\n\t3\t4\n").collect();
        assert_eq!(
            lines,
            [(1, "1\t2"), (3, "\t3\t4")],
            "a tabs-only line is blank"
        );
        assert_eq!(
            detect("a.txt", "\t1 2\n3 4\n"),
            ResolvedFormat::Pairs {
                delimiter: WS,
                header: false
            },
            "a stray leading tab does not make a space file tab-separated"
        );
    }

    #[test]
    fn fields_split_per_delimiter() {
        let mut out = Vec::new();
        Delimiter::Comma.split(" \"a\" , b,\"\" ", &mut out);
        assert_eq!(out, ["a", "b", ""]);
        Delimiter::Tab.split("a\t\tb", &mut out);
        assert_eq!(out, ["a", "", "b"]);
        Delimiter::Whitespace.split(" a \t b  ", &mut out);
        assert_eq!(out, ["a", "b"]);
        Delimiter::DoubleColon.split("1::2::3", &mut out);
        assert_eq!(out, ["1", "2", "3"]);
    }
}
