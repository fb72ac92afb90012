//! [`SamplerConfig`]: samplers as data, parsed from a CLI spec (`uniform`) or from JSON.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{NegativeSampler, SamplerError, UniformSampler};

/// A sampler and its hyperparameters. The `type` tag is the sampler's [`NegativeSampler::name`].
///
/// CLI spec syntax: `name` or `name:key=value,key=value` (e.g. `uniform`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum SamplerConfig {
    /// RNS: uniform over the user's non-positive items. No hyperparameters.
    #[serde(alias = "rns")]
    Uniform,
}

impl SamplerConfig {
    /// Builds the sampler.
    pub fn build(&self) -> Box<dyn NegativeSampler> {
        match self {
            SamplerConfig::Uniform => Box::new(UniformSampler),
        }
    }

    /// The canonical spec string, which parses back to `self`.
    pub fn spec(&self) -> String {
        match self {
            SamplerConfig::Uniform => "uniform".to_owned(),
        }
    }
}

impl FromStr for SamplerConfig {
    type Err = SamplerError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let invalid = |message: String| SamplerError::InvalidSpec {
            spec: spec.to_owned(),
            message,
        };
        let (name, args) = match spec.split_once(':') {
            Some((n, a)) => (n.trim(), a.trim()),
            None => (spec.trim(), ""),
        };
        match name.to_ascii_lowercase().as_str() {
            "uniform" | "rns" => {
                if !args.is_empty() {
                    return Err(invalid("`uniform` takes no parameters".to_owned()));
                }
                Ok(SamplerConfig::Uniform)
            }
            other => Err(invalid(format!(
                "unknown sampler `{other}`; known samplers: uniform"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
