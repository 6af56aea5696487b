//! The site configuration: a TOML file describing a site's setup and its detection settings.
//!
//! ```toml
//! [detection.criterion]
//! absent_run = 8
//!
//! [detection.conditioning]
//! mains = "60"
//! ```
//!
//! Unknown keys are rejected (a misspelt key must not silently keep a default), and one
//! validation pass reports everything that is wrong, naming the file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::settings::Settings;

/// A site's configuration file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiteConfig {
    /// Detection settings (every threshold and criterion).
    pub detection: Settings,
}

/// Why a configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file '{path}': {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration file '{path}' is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("the configuration file '{path}' has {problems}")]
    Invalid { path: PathBuf, problems: String },
}

impl SiteConfig {
    /// Reads, parses and validates a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates configuration text (`path` is only used in messages).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let cfg: Self = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        cfg.detection.validate().map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            problems: e.to_string(),
        })?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_file_and_the_key() {
        let p = Path::new("site.toml");
        let e = SiteConfig::parse("[detection.criterion]\nabsent_rn = 3\n", p).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("site.toml") && msg.contains("absent_rn"),
            "{msg}"
        );
        let e = SiteConfig::parse("[detection.judge]\nabsent_snr = 9.0\n", p).unwrap_err();
        assert!(e.to_string().contains("absent_snr"), "{e}");
        let ok = SiteConfig::parse("[detection.conditioning]\nmains = \"60\"\n", p).unwrap();
        assert_eq!(
            ok.detection.conditioning.mains,
            crate::settings::Mains::Hz60
        );
    }
}
