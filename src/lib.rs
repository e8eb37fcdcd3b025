//! contactdex: a search-and-dedup engine for contact records.
//!
//! sled is the source of truth ([`store`]); tantivy is a derived, rebuildable full-text index
//! ([`index`]); the [`engine`] ties them together and is the only thing the HTTP [`api`] and
//! the [`cli`] call. See ARCHITECTURE.md for the map.

pub mod access;
pub mod api;
pub mod audit;
pub mod cli;
pub mod config;
pub mod dedup;
pub mod engine;
pub mod index;
pub mod merge;
pub mod metrics;
pub mod model;
pub mod normalize;
pub mod search;
pub mod store;
pub mod transfer;

pub use config::Config;
pub use engine::{Engine, EngineError};
