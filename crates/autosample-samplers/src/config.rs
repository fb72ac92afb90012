//! [`SamplerConfig`]: samplers as data, parsed from a CLI spec (`dns:candidates=32`) or from
//! JSON (`{"type": "dns", "candidates": 32}`).
//!
//! # Spec syntax
//!
//! `name` or `name:key=value,key=value` — names and keys are case-insensitive, spaces around
//! items are ignored, omitted keys take their defaults, unknown or repeated keys are errors.
//! [`SamplerConfig::spec`] writes the canonical form (every key, in a fixed order), which parses
//! back to the same config.
//!
//! | name (alias) | keys (defaults) |
//! |---|---|
//! | `uniform` (`rns`) | — |
//! | `popularity` (`pns`) | `beta=0.75`, `smoothing=0` |
//! | `dns` | `candidates=32` |
//! | `dns_mn` | `candidates=32`, `top=1` |
//! | `cns` | `candidates=32` |
//! | `ahns` | `candidates=32`, `alpha=1`, `beta=0.1`, `p=-2` |
//! | `srns` | `s1=8`, `s2_div_s1=8`, `alpha=5`, `warmup=50`, `temperature=10`, `varset=3000` (`0` = memory-only mode) |
//! | `mixgcf` | `candidates=64`, `pool=mean` (`mean` or `concat`) |
//! | `dens` | `candidates=6`, `warmup=100`, `gamma=0.3` |

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{
    AhnsSampler, CnsSampler, DensSampler, DnsMnSampler, DnsSampler, MixGcfSampler, MixPool,
    NegativeKind, NegativeSampler, Negatives, PairBatch, PopularitySampler, Result, SampleContext,
    SamplerError, SamplerRng, SrnsSampler, UniformSampler,
};

/// Upper bound on candidate and memory counts: far above any published setting, low enough to
/// catch a typo before it allocates gigabytes per batch.
pub const MAX_CANDIDATES: usize = 1 << 16;

/// Upper bound on SRNS's `varset` (a typo guard; the memory limit is checked against the data
/// when the sampler starts, see [`crate::SRNS_MEMORY_LIMIT`]).
pub const MAX_VARSET: usize = 1 << 20;

/// Defaults of the sampler hyperparameters, with their sources (see each sampler's module).
pub mod defaults {
    use crate::MixPool;

    /// PNS exponent β (word2vec's 0.75).
    pub const POPULARITY_BETA: f64 = 0.75;
    /// PNS additive smoothing of the degrees.
    pub const POPULARITY_SMOOTHING: f64 = 0.0;
    /// Candidates `M` of DNS, DNS(M,N), CNS and AHNS (AHNS parser `--n_negs`).
    pub const CANDIDATES: usize = 32;
    /// `N` of DNS(M,N) (AHNS parser `--topk`).
    pub const DNS_MN_TOP: usize = 1;
    /// AHNS `α`.
    pub const AHNS_ALPHA: f64 = 1.0;
    /// AHNS `β`.
    pub const AHNS_BETA: f64 = 0.1;
    /// AHNS `p`.
    pub const AHNS_P: i32 = -2;
    /// SRNS memory size `S1` (ML-1M `run.sh`).
    pub const SRNS_S1: usize = 8;
    /// SRNS `S2 / S1` (ML-1M `run.sh`).
    pub const SRNS_S2_DIV_S1: usize = 8;
    /// SRNS variance weight `α` (ML-1M `run.sh`).
    pub const SRNS_ALPHA: f64 = 5.0;
    /// SRNS warm-up epochs (ML-1M `run.sh`).
    pub const SRNS_WARMUP: f64 = 50.0;
    /// SRNS softmax temperature `τ` (ML-1M `run.sh`).
    pub const SRNS_TEMPERATURE: f64 = 10.0;
    /// SRNS candidate array size (parser default `--varset_size`, kept by `run.sh`); 0 would
    /// select the memory-only mode.
    pub const SRNS_VARSET: usize = crate::DEFAULT_VARSET;
    /// MixGCF candidates `M` (MixGCF parser `--n_negs`).
    pub const MIXGCF_CANDIDATES: usize = 64;
    /// MixGCF user embedding for hop mixing (README LightGCN commands: `--pool mean`).
    pub const MIXGCF_POOL: MixPool = MixPool::Mean;
    /// DENS candidates `M` (DENS parser `--n_negs`).
    pub const DENS_CANDIDATES: usize = 6;
    /// DENS warm-up epochs (DENS parser `--warmup`).
    pub const DENS_WARMUP: f64 = 100.0;
    /// DENS auxiliary-loss weight γ (DENS parser `--gamma`).
    pub const DENS_GAMMA: f64 = 0.3;

    pub(crate) fn popularity_beta() -> f64 {
        POPULARITY_BETA
    }
    pub(crate) fn popularity_smoothing() -> f64 {
        POPULARITY_SMOOTHING
    }
    pub(crate) fn candidates() -> usize {
        CANDIDATES
    }
    pub(crate) fn dns_mn_top() -> usize {
        DNS_MN_TOP
    }
    pub(crate) fn ahns_alpha() -> f64 {
        AHNS_ALPHA
    }
    pub(crate) fn ahns_beta() -> f64 {
        AHNS_BETA
    }
    pub(crate) fn ahns_p() -> i32 {
        AHNS_P
    }
    pub(crate) fn srns_s1() -> usize {
        SRNS_S1
    }
    pub(crate) fn srns_s2_div_s1() -> usize {
        SRNS_S2_DIV_S1
    }
    pub(crate) fn srns_alpha() -> f64 {
        SRNS_ALPHA
    }
    pub(crate) fn srns_warmup() -> f64 {
        SRNS_WARMUP
    }
    pub(crate) fn srns_temperature() -> f64 {
        SRNS_TEMPERATURE
    }
    pub(crate) fn srns_varset() -> usize {
        SRNS_VARSET
    }
    pub(crate) fn mixgcf_candidates() -> usize {
        MIXGCF_CANDIDATES
    }
    pub(crate) fn mixgcf_pool() -> MixPool {
        MIXGCF_POOL
    }
    pub(crate) fn dens_candidates() -> usize {
        DENS_CANDIDATES
    }
    pub(crate) fn dens_warmup() -> f64 {
        DENS_WARMUP
    }
    pub(crate) fn dens_gamma() -> f64 {
        DENS_GAMMA
    }
}

/// A sampler and its hyperparameters. The `type` tag is the sampler's [`NegativeSampler::name`].
///
/// CLI spec syntax: `name` or `name:key=value,key=value` (see the [module docs](self)). JSON:
/// `{"type": "name", "key": value, ...}`; omitted keys take their defaults, unknown keys are
/// rejected. JSON deserialization checks types only: call [`SamplerConfig::validate`] on
/// configs read from files (a spec string is validated when parsed, and
/// [`SamplerConfig::build`] of an invalid config returns a sampler that reports the problem on
/// its first call).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum SamplerConfig {
    /// RNS: uniform over the user's non-positive items. No hyperparameters.
    // serde ignores `deny_unknown_fields` for unit variants of internally tagged enums.
    #[serde(alias = "rns", deserialize_with = "no_parameters")]
    Uniform,
    /// PNS: `P(j) ∝ (f_j + smoothing)^β` over non-positives, `f_j` the training degree.
    #[serde(alias = "pns")]
    Popularity {
        /// Exponent β ≥ 0 (default 0.75; 1 = proportional to popularity).
        #[serde(default = "defaults::popularity_beta")]
        beta: f64,
        /// Added to every degree before the power (default 0: items without a training
        /// interaction are never drawn; 1 gives them weight 1).
        #[serde(default = "defaults::popularity_smoothing")]
        smoothing: f64,
    },
    /// DNS: the highest-scoring of `candidates` uniform non-positives.
    Dns {
        /// Candidates `M ≥ 1` per negative (default 32).
        #[serde(default = "defaults::candidates")]
        candidates: usize,
    },
    /// DNS(M,N): uniform among the `top` highest-scoring of `candidates`.
    DnsMn {
        /// Candidates `M ≥ 1` per negative (default 32).
        #[serde(default = "defaults::candidates")]
        candidates: usize,
        /// `N`, `1 ≤ N ≤ M` (default 1 = DNS; `N = M` = RNS).
        #[serde(default = "defaults::dns_mn_top")]
        top: usize,
    },
    /// CNS: DNS over the first `max(1, ⌊(1 − t/T)·M⌋)` candidates at epoch `t` of `T`.
    Cns {
        /// Candidates `M ≥ 1` per negative (default 32).
        #[serde(default = "defaults::candidates")]
        candidates: usize,
    },
    /// AHNS: `argmin_m |s(u,m) − β·(s(u,i) + α)^(p+1)|` over `candidates`.
    Ahns {
        /// Candidates `M ≥ 1` per negative (default 32).
        #[serde(default = "defaults::candidates")]
        candidates: usize,
        /// `α` (default 1.0).
        #[serde(default = "defaults::ahns_alpha")]
        alpha: f64,
        /// `β` (default 0.1).
        #[serde(default = "defaults::ahns_beta")]
        beta: f64,
        /// Integer power `p` (default −2).
        #[serde(default = "defaults::ahns_p")]
        p: i32,
    },
    /// SRNS: per-user memory, likelihood + α·std selection, softmax memory refresh.
    ///
    /// `varset > s1` (default 3000): the official algorithm, memory indices into a per-user
    /// candidate array redrawn every epoch, scores of the last 5 epochs from embedding
    /// snapshots; `varset = 0`: memory-only simplification. See `docs/samplers/srns.md`.
    Srns {
        /// Memory slots `S1 ≥ 1` per user (default 8).
        #[serde(default = "defaults::srns_s1")]
        s1: usize,
        /// Fresh candidates per update as a multiple of `S1`, ≥ 1 (default 8).
        #[serde(default = "defaults::srns_s2_div_s1")]
        s2_div_s1: usize,
        /// Weight of the score std (default 5; < 0 selects by std alone).
        #[serde(default = "defaults::srns_alpha")]
        alpha: f64,
        /// Epochs over which the std weight ramps up, ≥ 0 (default 50).
        #[serde(default = "defaults::srns_warmup")]
        warmup: f64,
        /// Softmax temperature `τ > 0` of the memory update (default 10).
        #[serde(default = "defaults::srns_temperature")]
        temperature: f64,
        /// Per-user candidate array size `V` (default 3000): `0` = memory-only mode, else
        /// `s1 < V ≤ 2^20`. Varset-mode memory ≈ `4·n_users·V` bytes (limit 2 GiB).
        #[serde(default = "defaults::srns_varset")]
        varset: usize,
    },
    /// MixGCF: positive mixing and hop mixing over `candidates`; synthetic negatives.
    #[serde(rename = "mixgcf")]
    MixGcf {
        /// Candidates `M ≥ 1` per negative (default 64).
        #[serde(default = "defaults::mixgcf_candidates")]
        candidates: usize,
        /// User embedding the mixed candidates are scored against (default `mean`).
        #[serde(default = "defaults::mixgcf_pool")]
        pool: MixPool,
    },
    /// DENS: gated per-layer selection over `candidates`, with its own trainable gates.
    Dens {
        /// Candidates `M ≥ 1` per negative (default 6).
        #[serde(default = "defaults::dens_candidates")]
        candidates: usize,
        /// Epochs over which selection moves from DNS to the irrelevant factor, ≥ 0
        /// (default 100).
        #[serde(default = "defaults::dens_warmup")]
        warmup: f64,
        /// Weight γ ≥ 0 of the auxiliary disentangling loss (default 0.3; 0 = gates untrained).
        #[serde(default = "defaults::dens_gamma")]
        gamma: f64,
    },
}

impl SamplerConfig {
    /// Canonical names of every sampler, in documentation order.
    pub const NAMES: &'static [&'static str] = &[
        "uniform",
        "popularity",
        "dns",
        "dns_mn",
        "cns",
        "ahns",
        "srns",
        "mixgcf",
        "dens",
    ];

    /// The sampler's name (the `type` tag and the spec name).
    pub fn name(&self) -> &'static str {
        match self {
            SamplerConfig::Uniform => "uniform",
            SamplerConfig::Popularity { .. } => "popularity",
            SamplerConfig::Dns { .. } => "dns",
            SamplerConfig::DnsMn { .. } => "dns_mn",
            SamplerConfig::Cns { .. } => "cns",
            SamplerConfig::Ahns { .. } => "ahns",
            SamplerConfig::Srns { .. } => "srns",
            SamplerConfig::MixGcf { .. } => "mixgcf",
            SamplerConfig::Dens { .. } => "dens",
        }
    }

    /// Whether the sampler reads the model ([`SampleContext::scorer`] must be set).
    pub fn needs_scorer(&self) -> bool {
        !matches!(
            self,
            SamplerConfig::Uniform | SamplerConfig::Popularity { .. }
        )
    }

    /// What the sampler writes.
    pub fn kind(&self) -> NegativeKind {
        match self {
            SamplerConfig::MixGcf { .. } | SamplerConfig::Dens { .. } => NegativeKind::Mixed,
            _ => NegativeKind::Items,
        }
    }

    /// The config of `name` (canonical or alias) with default hyperparameters.
    pub fn default_for(name: &str) -> Result<Self> {
        name.parse()
    }

    /// Checks the hyperparameters; the error names the offending key and its allowed range.
    pub fn validate(&self) -> Result<()> {
        let fail = |message: String| {
            Err(SamplerError::InvalidSpec {
                spec: self.spec(),
                message,
            })
        };
        let check_count = |key: &str, value: usize| -> std::result::Result<(), String> {
            if value == 0 || value > MAX_CANDIDATES {
                Err(format!(
                    "`{key}` must be between 1 and {MAX_CANDIDATES}, got {value}"
                ))
            } else {
                Ok(())
            }
        };
        let check = |r: std::result::Result<(), String>| match r {
            Ok(()) => Ok(()),
            Err(m) => fail(m),
        };
        match *self {
            SamplerConfig::Uniform => Ok(()),
            SamplerConfig::Popularity { beta, smoothing } => {
                if !(beta.is_finite() && beta >= 0.0) {
                    return fail(format!(
                        "`beta` must be a finite number ≥ 0 (0.75 or 1 are usual), got {beta}"
                    ));
                }
                if !(smoothing.is_finite() && smoothing >= 0.0) {
                    return fail(format!(
                        "`smoothing` must be a finite number ≥ 0, got {smoothing}"
                    ));
                }
                Ok(())
            }
            SamplerConfig::Dns { candidates } | SamplerConfig::Cns { candidates } => {
                check(check_count("candidates", candidates))
            }
            SamplerConfig::DnsMn { candidates, top } => {
                check(check_count("candidates", candidates))?;
                if top == 0 || top > candidates {
                    return fail(format!(
                        "`top` must be between 1 and `candidates` ({candidates}), got {top}"
                    ));
                }
                Ok(())
            }
            SamplerConfig::Ahns {
                candidates,
                alpha,
                beta,
                p,
            } => {
                check(check_count("candidates", candidates))?;
                if !alpha.is_finite() {
                    return fail(format!("`alpha` must be a finite number, got {alpha}"));
                }
                if !beta.is_finite() {
                    return fail(format!("`beta` must be a finite number, got {beta}"));
                }
                if !(-64..=64).contains(&p) {
                    return fail(format!("`p` must be an integer in −64..=64, got {p}"));
                }
                Ok(())
            }
            SamplerConfig::Srns {
                s1,
                s2_div_s1,
                alpha,
                warmup,
                temperature,
                varset,
            } => {
                check(check_count("s1", s1))?;
                if s2_div_s1 == 0 || s1.saturating_mul(s2_div_s1) > MAX_CANDIDATES {
                    return fail(format!(
                        "`s2_div_s1` must be ≥ 1 with s1 · s2_div_s1 ≤ {MAX_CANDIDATES}, got \
                         {s2_div_s1}"
                    ));
                }
                if !alpha.is_finite() {
                    return fail(format!("`alpha` must be a finite number, got {alpha}"));
                }
                if !(warmup.is_finite() && warmup >= 0.0) {
                    return fail(format!(
                        "`warmup` must be a finite number of epochs ≥ 0, got {warmup}"
                    ));
                }
                if !(temperature.is_finite() && temperature > 0.0) {
                    return fail(format!(
                        "`temperature` must be a finite number > 0, got {temperature}"
                    ));
                }
                if varset != 0 && (varset <= s1 || varset > MAX_VARSET) {
                    return fail(format!(
                        "`varset` must be 0 (memory-only mode) or between s1 + 1 = {} and \
                         {MAX_VARSET}, got {varset}",
                        s1 + 1
                    ));
                }
                Ok(())
            }
            SamplerConfig::MixGcf { candidates, .. } => {
                check(check_count("candidates", candidates))
            }
            SamplerConfig::Dens {
                candidates,
                warmup,
                gamma,
            } => {
                check(check_count("candidates", candidates))?;
                if !(warmup.is_finite() && warmup >= 0.0) {
                    return fail(format!(
                        "`warmup` must be a finite number of epochs ≥ 0, got {warmup}"
                    ));
                }
                if !(gamma.is_finite() && gamma >= 0.0) {
                    return fail(format!(
                        "`gamma` must be a finite number ≥ 0 (0.3 is the reference's), got \
                         {gamma}"
                    ));
                }
                Ok(())
            }
        }
    }

    /// Builds the sampler. An invalid config (see [`SamplerConfig::validate`]) gives a
    /// sampler whose every call returns the validation error; use
    /// [`SamplerConfig::try_build`] to get the error at once.
    pub fn build(&self) -> Box<dyn NegativeSampler> {
        match self.try_build() {
            Ok(sampler) => sampler,
            Err(error) => Box::new(InvalidSampler {
                name: self.name(),
                spec: self.spec(),
                message: match error {
                    SamplerError::InvalidSpec { message, .. } => message,
                    other => other.to_string(),
                },
            }),
        }
    }

    /// Validates, then builds the sampler.
    pub fn try_build(&self) -> Result<Box<dyn NegativeSampler>> {
        self.validate()?;
        Ok(match *self {
            SamplerConfig::Uniform => Box::new(UniformSampler),
            SamplerConfig::Popularity { beta, smoothing } => {
                Box::new(PopularitySampler::new(beta, smoothing))
            }
            SamplerConfig::Dns { candidates } => Box::new(DnsSampler::new(candidates)),
            SamplerConfig::DnsMn { candidates, top } => {
                Box::new(DnsMnSampler::new(candidates, top))
            }
            SamplerConfig::Cns { candidates } => Box::new(CnsSampler::new(candidates)),
            SamplerConfig::Ahns {
                candidates,
                alpha,
                beta,
                p,
            } => Box::new(AhnsSampler::new(candidates, alpha, beta, p)),
            SamplerConfig::Srns {
                s1,
                s2_div_s1,
                alpha,
                warmup,
                temperature,
                varset,
            } => Box::new(
                SrnsSampler::new(s1, s2_div_s1, alpha, warmup, temperature).with_varset(varset),
            ),
            SamplerConfig::MixGcf { candidates, pool } => {
                Box::new(MixGcfSampler::new(candidates, pool))
            }
            SamplerConfig::Dens {
                candidates,
                warmup,
                gamma,
            } => Box::new(DensSampler::new(candidates, warmup, gamma)),
        })
    }

    /// The epochs over which the sampler's rule ramps in from its start (SRNS's std weight,
    /// DENS's move from the whole candidate to its gated factors), if it has such a warm-up
    /// and it is not 0. A search's evidence from before it ends measures the ramp, not the
    /// rule (the evidence rule's `hold_in_warmup`).
    pub fn schedule_warmup(&self) -> Option<f64> {
        match *self {
            SamplerConfig::Srns { warmup, alpha, .. } if alpha >= 0.0 => Some(warmup),
            SamplerConfig::Dens { warmup, .. } => Some(warmup),
            _ => None,
        }
        .filter(|&w| w > 0.0)
    }

    /// The canonical spec string (every key, fixed order), which parses back to `self`.
    pub fn spec(&self) -> String {
        match self {
            SamplerConfig::Uniform => "uniform".to_owned(),
            SamplerConfig::Popularity { beta, smoothing } => {
                format!("popularity:beta={beta},smoothing={smoothing}")
            }
            SamplerConfig::Dns { candidates } => format!("dns:candidates={candidates}"),
            SamplerConfig::DnsMn { candidates, top } => {
                format!("dns_mn:candidates={candidates},top={top}")
            }
            SamplerConfig::Cns { candidates } => format!("cns:candidates={candidates}"),
            SamplerConfig::Ahns {
                candidates,
                alpha,
                beta,
                p,
            } => format!("ahns:candidates={candidates},alpha={alpha},beta={beta},p={p}"),
            SamplerConfig::Srns {
                s1,
                s2_div_s1,
                alpha,
                warmup,
                temperature,
                varset,
            } => format!(
                "srns:s1={s1},s2_div_s1={s2_div_s1},alpha={alpha},warmup={warmup},\
                 temperature={temperature},varset={varset}"
            ),
            SamplerConfig::MixGcf { candidates, pool } => {
                format!("mixgcf:candidates={candidates},pool={}", pool.as_str())
            }
            SamplerConfig::Dens {
                candidates,
                warmup,
                gamma,
            } => format!("dens:candidates={candidates},warmup={warmup},gamma={gamma}"),
        }
    }
}

/// Deserializes the (empty) content of a parameterless variant, rejecting any field.
fn no_parameters<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<(), D::Error> {
    struct NoFields;
    impl<'de> serde::de::Visitor<'de> for NoFields {
        type Value = ();

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("no parameters")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> std::result::Result<(), A::Error> {
            match map.next_key::<String>()? {
                Some(key) => Err(serde::de::Error::custom(format!(
                    "unknown field `{key}`: `uniform` takes no parameters"
                ))),
                None => Ok(()),
            }
        }

        fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<(), E> {
            Ok(())
        }
    }
    d.deserialize_any(NoFields)
}

/// The `key=value` arguments of a spec, consumed by typed getters.
struct Args {
    sampler: &'static str,
    allowed: &'static [&'static str],
    values: BTreeMap<String, String>,
}

impl Args {
    fn parse(
        sampler: &'static str,
        allowed: &'static [&'static str],
        args: &str,
    ) -> std::result::Result<Self, String> {
        let mut values = BTreeMap::new();
        let takes = if allowed.is_empty() {
            "it takes no parameters".to_owned()
        } else {
            format!("allowed: {}", allowed.join(", "))
        };
        for item in args.split(',').map(str::trim) {
            if item.is_empty() {
                if args.trim().is_empty() {
                    continue;
                }
                return Err("empty parameter (a stray `,`?); use key=value,key=value".to_owned());
            }
            let Some((key, value)) = item.split_once('=') else {
                return Err(format!(
                    "parameter `{item}` of `{sampler}` has no value; write `{item}=value`"
                ));
            };
            let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
            if !allowed.contains(&key.as_str()) {
                return Err(format!(
                    "unknown parameter `{key}` for `{sampler}` ({takes})"
                ));
            }
            if value.is_empty() {
                return Err(format!(
                    "parameter `{key}` of `{sampler}` has an empty value"
                ));
            }
            if values.insert(key.clone(), value.to_owned()).is_some() {
                return Err(format!("parameter `{key}` of `{sampler}` is given twice"));
            }
        }
        Ok(Self {
            sampler,
            allowed,
            values,
        })
    }

    fn get<T: FromStr>(
        &self,
        key: &'static str,
        default: T,
        what: &str,
    ) -> std::result::Result<T, String> {
        debug_assert!(self.allowed.contains(&key));
        match self.values.get(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                format!(
                    "parameter `{key}` of `{}` must be {what}, got `{v}`",
                    self.sampler
                )
            }),
        }
    }

    fn count(&self, key: &'static str, default: usize) -> std::result::Result<usize, String> {
        self.get(key, default, "a positive integer")
    }

    fn number(&self, key: &'static str, default: f64) -> std::result::Result<f64, String> {
        self.get(key, default, "a number")
    }
}

impl FromStr for MixPool {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "mean" => Ok(MixPool::Mean),
            "concat" => Ok(MixPool::Concat),
            _ => Err(format!("unknown pool `{s}`")),
        }
    }
}

impl FromStr for SamplerConfig {
    type Err = SamplerError;

    fn from_str(spec: &str) -> std::result::Result<Self, Self::Err> {
        let invalid = |message: String| SamplerError::InvalidSpec {
            spec: spec.to_owned(),
            message,
        };
        let (name, args) = match spec.split_once(':') {
            Some((n, a)) => (n.trim(), a.trim()),
            None => (spec.trim(), ""),
        };
        let name = name.to_ascii_lowercase();
        let config = match name.as_str() {
            "uniform" | "rns" => {
                Args::parse("uniform", &[], args).map_err(invalid)?;
                SamplerConfig::Uniform
            }
            "popularity" | "pns" => {
                let a = Args::parse("popularity", &["beta", "smoothing"], args).map_err(invalid)?;
                SamplerConfig::Popularity {
                    beta: a
                        .number("beta", defaults::POPULARITY_BETA)
                        .map_err(invalid)?,
                    smoothing: a
                        .number("smoothing", defaults::POPULARITY_SMOOTHING)
                        .map_err(invalid)?,
                }
            }
            "dns" => {
                let a = Args::parse("dns", &["candidates"], args).map_err(invalid)?;
                SamplerConfig::Dns {
                    candidates: a
                        .count("candidates", defaults::CANDIDATES)
                        .map_err(invalid)?,
                }
            }
            "dns_mn" => {
                let a = Args::parse("dns_mn", &["candidates", "top"], args).map_err(invalid)?;
                SamplerConfig::DnsMn {
                    candidates: a
                        .count("candidates", defaults::CANDIDATES)
                        .map_err(invalid)?,
                    top: a.count("top", defaults::DNS_MN_TOP).map_err(invalid)?,
                }
            }
            "cns" => {
                let a = Args::parse("cns", &["candidates"], args).map_err(invalid)?;
                SamplerConfig::Cns {
                    candidates: a
                        .count("candidates", defaults::CANDIDATES)
                        .map_err(invalid)?,
                }
            }
            "ahns" => {
                let a = Args::parse("ahns", &["candidates", "alpha", "beta", "p"], args)
                    .map_err(invalid)?;
                SamplerConfig::Ahns {
                    candidates: a
                        .count("candidates", defaults::CANDIDATES)
                        .map_err(invalid)?,
                    alpha: a.number("alpha", defaults::AHNS_ALPHA).map_err(invalid)?,
                    beta: a.number("beta", defaults::AHNS_BETA).map_err(invalid)?,
                    p: a.get(
                        "p",
                        defaults::AHNS_P,
                        "an integer (the reference parses it with type=int)",
                    )
                    .map_err(invalid)?,
                }
            }
            "srns" => {
                let a = Args::parse(
                    "srns",
                    &[
                        "s1",
                        "s2_div_s1",
                        "alpha",
                        "warmup",
                        "temperature",
                        "varset",
                    ],
                    args,
                )
                .map_err(invalid)?;
                SamplerConfig::Srns {
                    s1: a.count("s1", defaults::SRNS_S1).map_err(invalid)?,
                    s2_div_s1: a
                        .count("s2_div_s1", defaults::SRNS_S2_DIV_S1)
                        .map_err(invalid)?,
                    alpha: a.number("alpha", defaults::SRNS_ALPHA).map_err(invalid)?,
                    warmup: a.number("warmup", defaults::SRNS_WARMUP).map_err(invalid)?,
                    temperature: a
                        .number("temperature", defaults::SRNS_TEMPERATURE)
                        .map_err(invalid)?,
                    varset: a
                        .get(
                            "varset",
                            defaults::SRNS_VARSET,
                            "a non-negative integer (0 = memory-only mode)",
                        )
                        .map_err(invalid)?,
                }
            }
            "mixgcf" => {
                let a = Args::parse("mixgcf", &["candidates", "pool"], args).map_err(invalid)?;
                SamplerConfig::MixGcf {
                    candidates: a
                        .count("candidates", defaults::MIXGCF_CANDIDATES)
                        .map_err(invalid)?,
                    pool: a
                        .get("pool", defaults::MIXGCF_POOL, "`mean` or `concat`")
                        .map_err(invalid)?,
                }
            }
            "dens" => {
                let a = Args::parse("dens", &["candidates", "warmup", "gamma"], args)
                    .map_err(invalid)?;
                SamplerConfig::Dens {
                    candidates: a
                        .count("candidates", defaults::DENS_CANDIDATES)
                        .map_err(invalid)?,
                    warmup: a.number("warmup", defaults::DENS_WARMUP).map_err(invalid)?,
                    gamma: a.number("gamma", defaults::DENS_GAMMA).map_err(invalid)?,
                }
            }
            other => {
                return Err(invalid(format!(
                    "unknown sampler `{other}`; known samplers: {} (aliases: rns, pns)",
                    Self::NAMES.join(", ")
                )));
            }
        };
        config.validate().map_err(|e| match e {
            SamplerError::InvalidSpec { message, .. } => invalid(message),
            other => other,
        })?;
        Ok(config)
    }
}

/// What [`SamplerConfig::build`] returns for an invalid config: every call fails with the
/// validation message.
struct InvalidSampler {
    name: &'static str,
    spec: String,
    message: String,
}

impl InvalidSampler {
    fn error(&self) -> SamplerError {
        SamplerError::InvalidSpec {
            spec: self.spec.clone(),
            message: self.message.clone(),
        }
    }
}

impl NegativeSampler for InvalidSampler {
    fn name(&self) -> &'static str {
        self.name
    }

    fn start_epoch(&mut self, _ctx: &SampleContext<'_>) -> Result<()> {
        Err(self.error())
    }

    fn sample_batch(
        &mut self,
        _batch: &PairBatch<'_>,
        _k: usize,
        _ctx: &SampleContext<'_>,
        _rng: &mut SamplerRng,
        _out: &mut Negatives,
    ) -> Result<()> {
        Err(self.error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmups_are_those_of_the_ramping_rules() {
        let w = |spec: &str| spec.parse::<SamplerConfig>().unwrap().schedule_warmup();
        assert_eq!(w("srns"), Some(50.0), "the official default");
        assert_eq!(w("dens"), Some(100.0));
        assert_eq!(w("srns:warmup=7"), Some(7.0));
        assert_eq!(w("srns:warmup=0"), None, "no ramp");
        assert_eq!(w("srns:alpha=-1"), None, "std alone: nothing ramps");
        for spec in ["uniform", "pns", "dns", "dns_mn", "cns", "ahns", "mixgcf"] {
            assert_eq!(w(spec), None, "{spec}");
        }
    }

    #[test]
    fn parses_specs_and_json() {
        assert_eq!(
            "uniform".parse::<SamplerConfig>().unwrap(),
            SamplerConfig::Uniform
        );
        assert_eq!(
            "RNS".parse::<SamplerConfig>().unwrap(),
            SamplerConfig::Uniform
        );
        assert!("uniform:x=1".parse::<SamplerConfig>().is_err());
        let err = "bogus".parse::<SamplerConfig>().unwrap_err().to_string();
        assert!(err.contains("unknown sampler `bogus`"), "{err}");
        let json = serde_json::to_string(&SamplerConfig::Uniform).unwrap();
        assert_eq!(json, r#"{"type":"uniform"}"#);
        assert_eq!(
            serde_json::from_str::<SamplerConfig>(&json).unwrap(),
            SamplerConfig::Uniform
        );
        assert_eq!(
            SamplerConfig::Uniform
                .spec()
                .parse::<SamplerConfig>()
                .unwrap(),
            SamplerConfig::Uniform
        );
    }

    #[test]
    fn defaults_aliases_and_canonical_specs() {
        let c: SamplerConfig = "pns".parse().unwrap();
        assert_eq!(
            c,
            SamplerConfig::Popularity {
                beta: 0.75,
                smoothing: 0.0
            }
        );
        assert_eq!(c.spec(), "popularity:beta=0.75,smoothing=0");
        let c: SamplerConfig = " DNS_MN : Top = 4 , candidates=16 ".parse().unwrap();
        assert_eq!(
            c,
            SamplerConfig::DnsMn {
                candidates: 16,
                top: 4
            }
        );
        assert_eq!(
            "srns".parse::<SamplerConfig>().unwrap().spec(),
            "srns:s1=8,s2_div_s1=8,alpha=5,warmup=50,temperature=10,varset=3000"
        );
        assert_eq!(
            "srns:varset=0".parse::<SamplerConfig>().unwrap().spec(),
            "srns:s1=8,s2_div_s1=8,alpha=5,warmup=50,temperature=10,varset=0"
        );
        assert_eq!(
            "ahns".parse::<SamplerConfig>().unwrap().spec(),
            "ahns:candidates=32,alpha=1,beta=0.1,p=-2"
        );
        assert_eq!(
            "mixgcf:pool=CONCAT"
                .parse::<SamplerConfig>()
                .unwrap()
                .spec(),
            "mixgcf:candidates=64,pool=concat"
        );
        // JSON defaults and aliases.
        let c: SamplerConfig = serde_json::from_str(r#"{"type":"pns","beta":1.0}"#).unwrap();
        assert_eq!(
            c,
            SamplerConfig::Popularity {
                beta: 1.0,
                smoothing: 0.0
            }
        );
        let c: SamplerConfig = serde_json::from_str(r#"{"type":"mixgcf"}"#).unwrap();
        assert_eq!(c, "mixgcf".parse().unwrap());
        for name in SamplerConfig::NAMES {
            assert_eq!(SamplerConfig::default_for(name).unwrap().name(), *name);
        }
    }

    #[test]
    fn invalid_json_config_builds_a_sampler_that_reports_it() {
        let c: SamplerConfig =
            serde_json::from_str(r#"{"type":"dns_mn","candidates":4,"top":9}"#).unwrap();
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("`top`"), "{err}");
        assert!(c.try_build().is_err());
        let mut s = c.build();
        let train = autosample_data::Interactions::from_pairs(1, 3, &[(0, 0)]);
        let err = s
            .start_epoch(&SampleContext::new(&train))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`top`"), "{err}");
    }
}
