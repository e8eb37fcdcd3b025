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
    pub dedup: DedupConfig,
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
            dedup: DedupConfig::default(),
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
    /// Writes are refused (507) while the data dir's file system has less free space.
    pub min_free_bytes: u64,
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
            min_free_bytes: 256 << 20,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IndexConfig {
    pub commit_interval_ms: u64,
    pub writer_memory_mb: usize,
    pub writer_threads: usize,
    /// Set by `contactdex import` and `reindex` (not a config key): no background merges while
    /// they run; their segments are merged once at the end (`--compact`, `reindex`, see
    /// `Engine::compact_index`) or by a later `serve` once writes pause.
    #[serde(skip)]
    pub bulk_load: bool,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            commit_interval_ms: 500,
            writer_memory_mb: 256,
            writer_threads: 2,
            bulk_load: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    pub default_limit: usize,
    pub max_limit: usize,
    pub exact_total_up_to: usize,
    /// A query word found in at least this many documents is taken as typed (no typo
    /// expansion; prefix expansion only as the last word).
    pub common_term_df: u64,
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
            common_term_df: 1000,
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

/// One comparison level: m = P(level | same person), u = P(level | different people).
/// Its weight is log2(m / u).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    pub m: f64,
    pub u: f64,
}

const fn lv(m: f64, u: f64) -> Level {
    Level { m, u }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NameLevels {
    /// Same words in any order (u is raised to the share of contacts with its rarest word).
    pub exact: Level,
    /// Jaro-Winkler of the sorted words ≥ `typo_jw`.
    pub typo: Level,
    /// One name's words all within the other's (first name only, nickname).
    pub partial: Level,
    /// Jaro-Winkler ≥ `similar_jw`.
    pub similar: Level,
    pub different: Level,
    pub typo_jw: f64,
    pub similar_jw: f64,
}

impl Default for NameLevels {
    fn default() -> Self {
        NameLevels {
            exact: lv(0.55, 0.002),
            typo: lv(0.15, 0.002),
            partial: lv(0.15, 0.01),
            similar: lv(0.08, 0.02),
            different: lv(0.005, 0.967),
            typo_jw: 0.93,
            similar_jw: 0.85,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PhoneLevels {
    /// A shared E.164 (u is multiplied by how many other contacts share it).
    pub exact: Level,
    /// Same last 8 digits (one side unparsed or without country code).
    pub last8: Level,
    pub different: Level,
}

impl Default for PhoneLevels {
    fn default() -> Self {
        PhoneLevels {
            exact: lv(0.7, 0.00001),
            last8: lv(0.25, 0.00002),
            different: lv(0.1, 0.99),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailLevels {
    /// Same canonical address (case, gmail dots and +tags ignored).
    pub exact: Level,
    /// Same local part at another domain.
    pub local: Level,
    pub different: Level,
}

impl Default for EmailLevels {
    fn default() -> Self {
        EmailLevels {
            exact: lv(0.6, 0.00001),
            local: lv(0.03, 0.01),
            different: lv(0.15, 0.99),
        }
    }
}

/// A custom field compared for dedup (`custom.<key>`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomRule {
    pub key: String,
    /// `exact` or `jaro_winkler`.
    #[serde(default = "default_comparator")]
    pub comparator: String,
    /// Also use the value as a blocking key (for identifiers: document numbers, CPF).
    #[serde(default)]
    pub block: bool,
    pub exact: Level,
    #[serde(default = "default_similar")]
    pub similar: Level,
    pub different: Level,
    #[serde(default = "default_similar_jw")]
    pub similar_jw: f64,
}

fn default_comparator() -> String {
    "exact".into()
}
fn default_similar() -> Level {
    lv(0.1, 0.01)
}
fn default_similar_jw() -> f64 {
    0.9
}

/// Duplicate detection rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DedupConfig {
    /// Match probability at or above which a pair is proposed.
    pub threshold: f64,
    /// The on-demand check lists candidates from this probability up.
    pub suggest_threshold: f64,
    /// Prior probability that a candidate pair is the same person.
    pub prior: f64,
    /// Blocks larger than this are compared by sorted neighbourhood, not all pairs.
    pub max_block: usize,
    /// Neighbourhood size inside a huge block.
    pub window: usize,
    /// Largest cluster proposed.
    pub max_cluster: usize,
    pub name: NameLevels,
    pub phone: PhoneLevels,
    pub email: EmailLevels,
    pub custom: Vec<CustomRule>,
}

impl Default for DedupConfig {
    fn default() -> Self {
        DedupConfig {
            threshold: 0.9,
            suggest_threshold: 0.5,
            prior: 0.01,
            max_block: 64,
            window: 8,
            max_cluster: 20,
            name: NameLevels::default(),
            phone: PhoneLevels::default(),
            email: EmailLevels::default(),
            custom: Vec::new(),
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
        let d = &self.dedup;
        let ok = (0.0..=1.0).contains(&d.threshold)
            && d.prior > 0.0
            && d.prior < 1.0
            && d.max_block >= 2
            && d.max_cluster >= 2;
        if !ok {
            return Err(ConfigError::Invalid(
                "dedup: threshold must be in [0, 1], prior in (0, 1), max_block and max_cluster ≥ 2".into(),
            ));
        }
        for r in &d.custom {
            if r.comparator != "exact" && r.comparator != "jaro_winkler" {
                return Err(ConfigError::Invalid(format!(
                    "dedup.custom {}: comparator {:?} is not exact or jaro_winkler",
                    r.key, r.comparator
                )));
            }
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
    fn built_in_defaults_match_the_shipped_file() {
        let shipped = Config::from_toml(include_str!("../index-config/default.toml")).expect("default.toml");
        let built_in = Config::default();
        assert_eq!(format!("{:?}", built_in.dedup), format!("{:?}", shipped.dedup));
        assert_eq!(
            format!("{:?}", built_in.search.boosts),
            format!("{:?}", shipped.search.boosts)
        );
        assert_eq!(format!("{:?}", built_in.server), format!("{:?}", shipped.server));
        assert_eq!(format!("{:?}", built_in.index), format!("{:?}", shipped.index));
        assert_eq!(built_in.workspace_defaults, shipped.workspace_defaults);
        assert_eq!(built_in.search.common_term_df, shipped.search.common_term_df);
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
