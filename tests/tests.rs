//! Integration tests, compiled into one binary: a real server on a free port (or the real
//! `contactdex` binary) over a temp data dir, exercised over HTTP.

mod common;

mod access;
mod bad_input;
mod cli;
mod crash;
mod http;
mod import;
mod merge;
mod privacy;
mod props;
mod relevance;
