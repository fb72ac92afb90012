//! Search spaces: which samplers a search starts from, and where each hyperparameter may go.
//!
//! A file is NNI-style JSON (`{"_type": "choice", "_value": [...]}`, nested choices carry a
//! `_name`), with a top-level `version`:
//!
//! ```json
//! {
//!   "version": 1,
//!   "samplers": {"_type": "choice", "_value": [
//!     {"_name": "uniform"},
//!     {"_name": "dns", "candidates": {"_type": "choice", "_value": [8, 32]}},
//!     {"_name": "popularity", "beta": {"_type": "uniform", "_value": [0.25, 1.0]}}
//!   ]}
//! }
//! ```
//!
//! Parsing checks everything before any training: the structure, each family's keys against
//! the sampler's (the same rules as a `--sampler` spec), each domain's bounds, and every initial
//! candidate's values. Errors name the file and the key path (`samplers._value[1].candidates`)
//! and say what to write instead. The kinds, exactly:
//!
//! | kind | `_value` | initial points | neighbours (for expansion) |
//! |---|---|---|---|
//! | a plain value | — | that value | none |
//! | `choice` | non-empty list of distinct scalars | every value | the adjacent values in the list |
//! | `randint` | `[low, high]`, integers, `low < high` | one | `x ± 1` |
//! | `uniform` | `[low, high]`, `low < high` | one | `x ± (high − low)/4` |
//! | `quniform` | `[low, high, q]`, `q > 0` | one | `x ± q` |
//! | `loguniform` | `[low, high]`, `0 < low < high` | one | `x·2`, `x/2` |
//! | `qloguniform` | `[low, high, q]`, `0 < low`, `q > 0` | one | `x·2`, `x/2`, rounded to `q` |
//!
//! Ranges follow NNI: `randint` draws `low ≤ x < high`; `uniform`/`loguniform` span
//! `[low, high]`; the q-kinds round to a multiple of `q` (`round(x/q)·q`) clipped to
//! `[low, high]`. A range contributes **one** initial point: the sampler's default when it lies
//! in the domain, else the domain's centre (`(low + high)/2`, or `√(low·high)` for the log
//! kinds; `randint`: `⌊(low + high − 1)/2⌋`), rounded as the kind says. Neighbours leave the
//! domain never: they are clipped to it, and a neighbour equal to the point is dropped.
//! Initial candidates are the product, per family, of its keys' initial points: families in
//! file order, keys in alphabetical order (as are neighbours); at most
//! [`MAX_INITIAL_CANDIDATES`] in all, and no candidate twice.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use autosample_samplers::SamplerConfig;
use serde_json::Value as Json;

/// The format version this build reads.
pub const SPACE_VERSION: u64 = 1;

/// Upper bound on the initial candidates of a space: each one trains in every supernet step.
pub const MAX_INITIAL_CANDIDATES: usize = 64;

/// A search-space error: where (file and key path) and what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{source_name}: {key}: {message}")]
pub struct SpaceError {
    /// The file (or `<string>`).
    pub source_name: String,
    /// The key path, e.g. `samplers._value[2].beta`; or `line L, column C` for a JSON syntax
    /// error.
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// A scalar hyperparameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number.
    Number(f64),
    /// A string (e.g. MixGCF's `pool`).
    Text(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(x) => write!(f, "{x}"),
            Value::Text(s) => f.write_str(s),
        }
    }
}

/// Where one hyperparameter may take values.
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    /// One value.
    Fixed(Value),
    /// One of these values.
    Choice(Vec<Value>),
    /// Integers `low ≤ x < high`.
    RandInt {
        /// Inclusive lower bound.
        low: i64,
        /// Exclusive upper bound.
        high: i64,
    },
    /// Reals in `[low, high]`; `log` spaces them geometrically; `q > 0` rounds to multiples.
    Range {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
        /// Rounding step (`None`: no rounding).
        q: Option<f64>,
        /// Geometric (the log kinds) rather than arithmetic.
        log: bool,
    },
}

/// One sampler family of a space and its hyperparameter domains (in file order).
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The sampler's name ([`SamplerConfig::name`]).
    pub name: String,
    /// Key and domain per hyperparameter given in the file, keys in alphabetical order; keys
    /// not given keep the sampler's defaults.
    pub params: Vec<(String, Domain)>,
}

/// A validated search space.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchSpace {
    /// The families, in file order.
    pub families: Vec<Family>,
    candidates: Vec<SamplerConfig>,
}

struct Ctx<'a> {
    source: &'a str,
}

impl Ctx<'_> {
    fn err(&self, key: &str, message: impl Into<String>) -> SpaceError {
        SpaceError {
            source_name: self.source.to_owned(),
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

impl SearchSpace {
    /// Reads and validates a search-space file.
    ///
    /// # Errors
    /// [`SpaceError`] naming the file and the key (or line) at fault.
    pub fn load(path: &Path) -> Result<Self, SpaceError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| SpaceError {
            source_name: name.clone(),
            key: "file".to_owned(),
            message: format!("cannot read it ({e}); give the path of a search-space JSON file"),
        })?;
        Self::parse(&text, &name)
    }

    /// Parses and validates search-space JSON; `source_name` names it in errors.
    ///
    /// # Errors
    /// [`SpaceError`] naming `source_name` and the key (or line) at fault.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, SpaceError> {
        let ctx = Ctx {
            source: source_name,
        };
        let json: Json = serde_json::from_str(text).map_err(|e| {
            ctx.err(
                &format!("line {}, column {}", e.line(), e.column()),
                format!("not valid JSON: {e}"),
            )
        })?;
        let Json::Object(top) = json else {
            return Err(ctx.err(
                "(top level)",
                "expected an object with `version` and `samplers`",
            ));
        };
        for key in top.keys() {
            if !matches!(key.as_str(), "version" | "samplers" | "description") {
                return Err(ctx.err(
                    key,
                    "unknown key; a search space has `version`, `samplers` and an optional \
                     `description`",
                ));
            }
        }
        match top.get("version") {
            Some(Json::Number(n)) if n.as_u64() == Some(SPACE_VERSION) => {}
            Some(v) => {
                return Err(ctx.err(
                    "version",
                    format!("this build reads version {SPACE_VERSION}, the file says {v}"),
                ));
            }
            None => {
                return Err(ctx.err(
                    "version",
                    format!("missing; add \"version\": {SPACE_VERSION}"),
                ));
            }
        }
        let samplers = top.get("samplers").ok_or_else(|| {
            ctx.err(
                "samplers",
                "missing; add {\"_type\": \"choice\", \"_value\": [{\"_name\": \"uniform\"}, ...]}",
            )
        })?;
        let items = choice_list(&ctx, "samplers", samplers)?;
        if items.is_empty() {
            return Err(ctx.err("samplers._value", "lists no sampler; give at least one"));
        }
        let mut families = Vec::with_capacity(items.len());
        for (f, item) in items.iter().enumerate() {
            families.push(parse_family(&ctx, &format!("samplers._value[{f}]"), item)?);
        }
        let mut candidates: Vec<SamplerConfig> = Vec::new();
        for (f, family) in families.iter().enumerate() {
            let key = format!("samplers._value[{f}]");
            let defaults = default_values(&family.name);
            let mut points: Vec<Vec<(String, Value)>> = vec![Vec::new()];
            for (k, domain) in &family.params {
                let inits = initial_points(domain, defaults.get(k));
                points = points
                    .into_iter()
                    .flat_map(|p| {
                        inits.iter().map(move |v| {
                            let mut p = p.clone();
                            p.push((k.clone(), v.clone()));
                            p
                        })
                    })
                    .collect();
                if candidates.len() + points.len() > MAX_INITIAL_CANDIDATES {
                    return Err(ctx.err(
                        &key,
                        format!(
                            "the space starts from more than {MAX_INITIAL_CANDIDATES} candidates; \
                             every candidate trains in every step, so use fewer `choice` values \
                             (ranges start from one point)"
                        ),
                    ));
                }
            }
            for p in points {
                let config = build(&family.name, &p).map_err(|m| ctx.err(&key, m))?;
                if candidates.contains(&config) {
                    return Err(ctx.err(
                        &key,
                        format!("candidate `{}` appears twice; list it once", config.spec()),
                    ));
                }
                candidates.push(config);
            }
        }
        Ok(Self {
            families,
            candidates,
        })
    }

    /// The candidates a search starts from, in file order.
    pub fn initial_candidates(&self) -> &[SamplerConfig] {
        &self.candidates
    }

    /// The configurations next to `config` in this space: for each hyperparameter of its
    /// family, one step each way (see the module docs), the others unchanged. Empty for a
    /// config whose family is not in the space.
    pub fn neighbours(&self, config: &SamplerConfig) -> Vec<SamplerConfig> {
        let Some(family) = self.families.iter().find(|f| f.name == config.name()) else {
            return Vec::new();
        };
        let current = spec_values(config);
        let mut out: Vec<SamplerConfig> = Vec::new();
        for (k, domain) in &family.params {
            let Some(v) = current.get(k) else { continue };
            for n in neighbour_values(domain, v) {
                let mut p: Vec<(String, Value)> = family
                    .params
                    .iter()
                    .filter_map(|(key, _)| current.get(key).map(|x| (key.clone(), x.clone())))
                    .collect();
                for entry in &mut p {
                    if &entry.0 == k {
                        entry.1 = n.clone();
                    }
                }
                if let Ok(c) = build(&family.name, &p)
                    && &c != config
                    && !out.contains(&c)
                {
                    out.push(c);
                }
            }
        }
        out
    }
}

/// The `_value` list of a `{"_type": "choice", ...}` object.
fn choice_list<'j>(ctx: &Ctx<'_>, key: &str, v: &'j Json) -> Result<&'j Vec<Json>, SpaceError> {
    let obj = v
        .as_object()
        .ok_or_else(|| ctx.err(key, "expected {\"_type\": \"choice\", \"_value\": [...]}"))?;
    match obj.get("_type").and_then(Json::as_str) {
        Some("choice") => {}
        Some(other) => {
            return Err(ctx.err(
                &format!("{key}._type"),
                format!("`{other}` here; the sampler list is a `choice`"),
            ));
        }
        None => return Err(ctx.err(key, "missing `_type`: write \"_type\": \"choice\"")),
    }
    for k in obj.keys() {
        if k != "_type" && k != "_value" {
            return Err(ctx.err(
                &format!("{key}.{k}"),
                "unknown key; use `_type` and `_value`",
            ));
        }
    }
    obj.get("_value")
        .and_then(Json::as_array)
        .ok_or_else(|| ctx.err(&format!("{key}._value"), "missing or not a list"))
}

fn parse_family(ctx: &Ctx<'_>, key: &str, v: &Json) -> Result<Family, SpaceError> {
    let obj = v.as_object().ok_or_else(|| {
        ctx.err(
            key,
            "expected an object such as {\"_name\": \"dns\", \"candidates\": 32}",
        )
    })?;
    let raw = obj.get("_name").and_then(Json::as_str).ok_or_else(|| {
        ctx.err(
            &format!("{key}._name"),
            "missing: name the sampler, e.g. \"_name\": \"dns\"",
        )
    })?;
    // The canonical name (aliases such as `rns` accepted), and the keys the sampler takes.
    let defaults = SamplerConfig::default_for(raw).map_err(|_| {
        ctx.err(
            &format!("{key}._name"),
            format!(
                "unknown sampler `{raw}`; known: {}",
                SamplerConfig::NAMES.join(", ")
            ),
        )
    })?;
    let name = defaults.name().to_owned();
    let allowed = default_values(&name);
    let mut params = Vec::new();
    for (k, dv) in obj {
        if k == "_name" {
            continue;
        }
        let pkey = format!("{key}.{k}");
        let k_lower = k.to_ascii_lowercase();
        if !allowed.contains_key(&k_lower) {
            let keys: Vec<&str> = allowed.keys().map(String::as_str).collect();
            return Err(ctx.err(
                &pkey,
                if keys.is_empty() {
                    format!("`{name}` takes no hyperparameters")
                } else {
                    format!("`{name}` has no `{k}`; its keys: {}", keys.join(", "))
                },
            ));
        }
        params.push((k_lower, parse_domain(ctx, &pkey, dv)?));
    }
    Ok(Family { name, params })
}

fn scalar(ctx: &Ctx<'_>, key: &str, v: &Json) -> Result<Value, SpaceError> {
    match v {
        Json::Number(n) => n
            .as_f64()
            .filter(|x| x.is_finite())
            .map(Value::Number)
            .ok_or_else(|| ctx.err(key, "not a finite number")),
        Json::String(s) => Ok(Value::Text(s.clone())),
        _ => Err(ctx.err(key, "expected a number or a string")),
    }
}

fn parse_domain(ctx: &Ctx<'_>, key: &str, v: &Json) -> Result<Domain, SpaceError> {
    let Json::Object(obj) = v else {
        return Ok(Domain::Fixed(scalar(ctx, key, v)?));
    };
    for k in obj.keys() {
        if k != "_type" && k != "_value" {
            return Err(ctx.err(
                &format!("{key}.{k}"),
                "unknown key; use `_type` and `_value`",
            ));
        }
    }
    let kind = obj.get("_type").and_then(Json::as_str).ok_or_else(|| {
        ctx.err(
            &format!("{key}._type"),
            "missing: e.g. \"_type\": \"choice\"",
        )
    })?;
    let vkey = format!("{key}._value");
    let list = obj
        .get("_value")
        .and_then(Json::as_array)
        .ok_or_else(|| ctx.err(&vkey, "missing or not a list"))?;
    let numbers = |n: usize| -> Result<Vec<f64>, SpaceError> {
        if list.len() != n {
            return Err(ctx.err(
                &vkey,
                format!(
                    "`{kind}` takes {n} numbers ({}), got {}",
                    range_form(kind),
                    list.len()
                ),
            ));
        }
        list.iter()
            .enumerate()
            .map(|(i, x)| {
                x.as_f64()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| ctx.err(&format!("{vkey}[{i}]"), "not a finite number"))
            })
            .collect()
    };
    let bad = |m: String| Err(ctx.err(&vkey, m));
    match kind {
        "choice" => {
            if list.is_empty() {
                return bad("an empty choice; list at least one value".to_owned());
            }
            let mut values = Vec::with_capacity(list.len());
            for (i, x) in list.iter().enumerate() {
                let v = scalar(ctx, &format!("{vkey}[{i}]"), x)?;
                if values.contains(&v) {
                    return Err(ctx.err(&format!("{vkey}[{i}]"), format!("{v} is listed twice")));
                }
                values.push(v);
            }
            Ok(Domain::Choice(values))
        }
        "randint" => {
            let v = numbers(2)?;
            if v.iter().any(|x| x.fract() != 0.0) || v[0] >= v[1] {
                return bad(format!("`randint` needs integers low < high, got {:?}", v));
            }
            // Beyond 2^53 a JSON number no longer holds every integer, and the midpoint
            // arithmetic below could overflow.
            if v.iter().any(|x| x.abs() > RANDINT_LIMIT) {
                return bad(format!(
                    "`randint` bounds must lie within ±2^53 ({RANDINT_LIMIT}), got {:?}",
                    v
                ));
            }
            Ok(Domain::RandInt {
                low: v[0] as i64,
                high: v[1] as i64,
            })
        }
        "uniform" | "loguniform" | "quniform" | "qloguniform" => {
            let q = kind.starts_with('q');
            let log = kind.contains("log");
            let v = numbers(if q { 3 } else { 2 })?;
            if v[0] >= v[1] {
                return bad(format!("low must be below high, got {} and {}", v[0], v[1]));
            }
            if log && v[0] <= 0.0 {
                return bad(format!("`{kind}` needs low > 0, got {}", v[0]));
            }
            if q && v[2] <= 0.0 {
                return bad(format!("q must be > 0, got {}", v[2]));
            }
            Ok(Domain::Range {
                low: v[0],
                high: v[1],
                q: q.then(|| v[2]),
                log,
            })
        }
        other => Err(ctx.err(
            &format!("{key}._type"),
            format!(
                "unknown kind `{other}`; use choice, randint, uniform, quniform, loguniform or \
                 qloguniform (search-spaces/README.md)"
            ),
        )),
    }
}

fn range_form(kind: &str) -> &'static str {
    if kind.starts_with('q') {
        "low, high, q"
    } else {
        "low, high"
    }
}

/// The hyperparameters of `name` with their default values, from its canonical spec.
fn default_values(name: &str) -> BTreeMap<String, Value> {
    SamplerConfig::default_for(name)
        .map(|c| spec_values(&c))
        .unwrap_or_default()
}

/// A config's hyperparameters, read back from its canonical spec.
fn spec_values(config: &SamplerConfig) -> BTreeMap<String, Value> {
    let spec = config.spec();
    let Some((_, args)) = spec.split_once(':') else {
        return BTreeMap::new();
    };
    args.split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let value = v
                .parse::<f64>()
                .map(Value::Number)
                .unwrap_or_else(|_| Value::Text(v.to_owned()));
            (k.to_owned(), value)
        })
        .collect()
}

/// Builds and validates `name:key=value,...`.
fn build(name: &str, params: &[(String, Value)]) -> Result<SamplerConfig, String> {
    let spec = if params.is_empty() {
        name.to_owned()
    } else {
        let args: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{name}:{}", args.join(","))
    };
    spec.parse::<SamplerConfig>().map_err(|e| match e {
        autosample_samplers::SamplerError::InvalidSpec { message, .. } => {
            format!("candidate `{spec}`: {message}")
        }
        other => format!("candidate `{spec}`: {other}"),
    })
}

fn round_clip(x: f64, low: f64, high: f64, q: Option<f64>) -> f64 {
    let x = match q {
        Some(q) => (x / q).round() * q,
        None => x,
    };
    x.clamp(low, high)
}

/// The largest `randint` bound: 2^53, below which every integer is exact in an f64.
const RANDINT_LIMIT: f64 = 9_007_199_254_740_992.0;

fn initial_points(domain: &Domain, default: Option<&Value>) -> Vec<Value> {
    let default = match default {
        Some(Value::Number(x)) => Some(*x),
        _ => None,
    };
    match domain {
        Domain::Fixed(v) => vec![v.clone()],
        Domain::Choice(values) => values.clone(),
        Domain::RandInt { low, high } => {
            let x = match default {
                Some(d) if d.fract() == 0.0 && (*low as f64..*high as f64).contains(&d) => d as i64,
                _ => (low + high - 1).div_euclid(2),
            };
            vec![Value::Number(x as f64)]
        }
        Domain::Range { low, high, q, log } => {
            let centre = if *log {
                (low * high).sqrt()
            } else {
                (low + high) / 2.0
            };
            let x = match default {
                Some(d) if (*low..=*high).contains(&d) => d,
                _ => centre,
            };
            vec![Value::Number(round_clip(x, *low, *high, *q))]
        }
    }
}

fn neighbour_values(domain: &Domain, v: &Value) -> Vec<Value> {
    let num = match v {
        Value::Number(x) => Some(*x),
        Value::Text(_) => None,
    };
    let out: Vec<Value> = match (domain, num) {
        (Domain::Fixed(_), _) => Vec::new(),
        (Domain::Choice(values), _) => match values.iter().position(|x| x == v) {
            Some(i) => [i.checked_sub(1), Some(i + 1)]
                .into_iter()
                .flatten()
                .filter_map(|j| values.get(j).cloned())
                .collect(),
            None => Vec::new(),
        },
        (Domain::RandInt { low, high }, Some(x)) => [x - 1.0, x + 1.0]
            .into_iter()
            .filter(|y| (*low as f64..*high as f64).contains(y))
            .map(Value::Number)
            .collect(),
        (Domain::Range { low, high, q, log }, Some(x)) => {
            let steps = if *log {
                [x * 2.0, x / 2.0]
            } else {
                let s = q.unwrap_or((high - low) / 4.0);
                [x + s, x - s]
            };
            steps
                .into_iter()
                .map(|y| Value::Number(round_clip(y, *low, *high, *q)))
                .collect()
        }
        _ => Vec::new(),
    };
    let mut unique: Vec<Value> = Vec::new();
    for o in out {
        if &o != v && !unique.contains(&o) {
            unique.push(o);
        }
    }
    unique
}
