//! Configuration: `index-config/default.toml`, deserialised strictly (unknown keys are an
//! error) and validated once into [`Config`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::model::{FieldDef, FieldType, WorkspaceSettings};

/// Errors reading or validating the configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config value is not valid: {0}")]
    Invalid(String),
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub version: u32,
    pub server: ServerConfig,
    pub workspace_defaults: WorkspaceSettings,
    pub index: IndexConfig,
    pub search: SearchConfig,
    /// Custom field definitions every workspace starts with.
    pub fields: BTreeMap<String, FieldDefConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            version: 1,
            server: ServerConfig::default(),
            workspace_defaults: WorkspaceSettings::default(),
            index: IndexConfig::default(),
            search: SearchConfig::default(),
            fields: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub addr: String,
    pub data_dir: PathBuf,
    pub max_body_bytes: usize,
    pub max_bulk_bytes: usize,
    pub max_query_bytes: usize,
    pub request_timeout_secs: u64,
    pub header_read_timeout_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: "127.0.0.1:7700".into(),
            data_dir: PathBuf::from("./data"),
            max_body_bytes: 1 << 20,
            max_bulk_bytes: 256 << 20,
            max_query_bytes: 64 << 10,
            request_timeout_secs: 60,
            header_read_timeout_secs: 10,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IndexConfig {
    pub commit_interval_ms: u64,
    pub writer_memory_mb: usize,
    pub writer_threads: usize,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            commit_interval_ms: 1000,
            writer_memory_mb: 256,
            writer_threads: 2,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    pub default_limit: usize,
    pub max_limit: usize,
    pub exact_total_up_to: usize,
    pub boosts: Boosts,
    /// Formal name → its nicknames and short forms (`robert = ["bob", "rob"]`). A query word
    /// matches names by the other side of the table, ranked below real name matches.
    pub nicknames: BTreeMap<String, Vec<String>>,
    /// Folded lookup built from `nicknames`, both directions (not nickname ↔ nickname).
    #[serde(skip)]
    pub nickname_map: std::collections::HashMap<String, Vec<String>>,
}

impl SearchConfig {
    fn build_nicknames(&mut self) {
        let mut m: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
        for (formal, nicks) in &self.nicknames {
            let f = crate::normalize::fold(formal.trim());
            for n in nicks {
                let n = crate::normalize::fold(n.trim());
                if n.is_empty() || f.is_empty() || n == f {
                    continue;
                }
                let e = m.entry(f.clone()).or_default();
                if !e.contains(&n) {
                    e.push(n.clone());
                }
                let e = m.entry(n).or_default();
                if !e.contains(&f) {
                    e.push(f.clone());
                }
            }
        }
        self.nickname_map = m;
    }
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            default_limit: 20,
            max_limit: 1000,
            exact_total_up_to: 10_000,
            boosts: Boosts::default(),
            nicknames: BTreeMap::new(),
            nickname_map: Default::default(),
        }
    }
}

/// Ranking weights: one per (field, kind of match).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Boosts {
    pub name_exact: f32,
    pub name_prefix: f32,
    pub name_typo: f32,
    pub name_nickname: f32,
    pub email_exact: f32,
    pub email_prefix: f32,
    pub phone_exact: f32,
    pub phone_suffix: f32,
    pub tag_exact: f32,
    pub tag_prefix: f32,
    pub custom_exact: f32,
    pub custom_prefix: f32,
    pub custom_typo: f32,
}

impl Default for Boosts {
    fn default() -> Self {
        Boosts {
            name_exact: 12.0,
            name_prefix: 8.0,
            name_typo: 4.0,
            name_nickname: 5.0,
            email_exact: 10.0,
            email_prefix: 6.0,
            phone_exact: 20.0,
            phone_suffix: 8.0,
            tag_exact: 5.0,
            tag_prefix: 3.0,
            custom_exact: 2.0,
            custom_prefix: 1.5,
            custom_typo: 0.8,
        }
    }
}

/// A default custom field definition as written in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldDefConfig {
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub options: Vec<String>,
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })
    }

    /// Loads `path` if given; else `index-config/default.toml` if it exists; else built-in
    /// defaults.
    pub fn load_or_default(path: Option<&Path>) -> Result<Config, ConfigError> {
        match path {
            Some(p) => Self::load(p),
            None => {
                let p = Path::new("index-config/default.toml");
                if p.exists() {
                    Self::load(p)
                } else {
                    Ok(Config::default())
                }
            }
        }
    }

    /// Parses and validates config text.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("<text>"),
            message: e.to_string(),
        })?;
        cfg.validate()?;
        cfg.search.build_nicknames();
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.version != 1 {
            return Err(ConfigError::Invalid(format!(
                "version {} is not supported (expected 1)",
                self.version
            )));
        }
        self.workspace_defaults
            .validate()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        for key in self.fields.keys() {
            self.default_field(key)?;
        }
        if self.index.writer_threads == 0 || self.index.writer_memory_mb < 16 {
            return Err(ConfigError::Invalid(
                "index.writer_threads must be ≥ 1 and index.writer_memory_mb ≥ 16".into(),
            ));
        }
        if self.search.max_limit == 0 || self.search.default_limit > self.search.max_limit {
            return Err(ConfigError::Invalid(
                "search.default_limit must be ≤ search.max_limit (and max_limit > 0)".into(),
            ));
        }
        Ok(())
    }

    fn default_field(&self, key: &str) -> Result<FieldDef, ConfigError> {
        let f = &self.fields[key];
        FieldDef::new(key, f.field_type, f.label.clone(), f.options.clone())
            .map_err(|e| ConfigError::Invalid(format!("fields.{key}: {e}")))
    }

    /// The default custom field definitions, validated.
    pub fn default_fields(&self) -> Vec<FieldDef> {
        self.fields.keys().filter_map(|k| self.default_field(k).ok()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_default_config_is_valid() {
        let text = include_str!("../index-config/default.toml");
        let cfg = Config::from_toml(text).expect("default.toml must parse");
        assert_eq!(cfg.server.addr, "127.0.0.1:7700");
        assert_eq!(cfg.workspace_defaults.default_region, "US");
        assert!(cfg.default_fields().len() >= 5);
        assert!(cfg.search.nickname_map["bob"].contains(&"robert".to_string()));
        assert!(cfg.search.nickname_map["robert"].contains(&"bob".to_string()));
        assert!(cfg.search.nickname_map["ze"].contains(&"jose".to_string()));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = Config::from_toml("[server]\nadress = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("adress"), "{err}");
    }

    #[test]
    fn bad_field_type_is_rejected() {
        let err = Config::from_toml("[fields.x]\ntype = \"money\"\n").unwrap_err();
        assert!(err.to_string().contains("money"), "{err}");
    }
}
