//! The command line: parses flags, builds ready-made state, hands it to the engine or the
//! HTTP service.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::api::{self, AppState};
use crate::config::Config;
use crate::engine::Engine;
use crate::search::SearchRequest;

#[derive(Parser, Debug)]
#[command(name = "contactdex", version, about = "Search-and-dedup engine for contact records")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Args, Debug, Clone)]
pub struct Common {
    /// Data directory (sled store + tantivy index). Default: the config's server.data_dir (./data).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Config file. Default: index-config/default.toml if present, else built-in defaults.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP service.
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to listen on (default 127.0.0.1:7700).
        #[arg(long)]
        addr: Option<String>,
        /// Master key; required to listen on a non-loopback address.
        #[arg(long, env = "CONTACTDEX_MASTER_KEY", hide_env_values = true)]
        master_key: Option<String>,
    },
    /// Import contacts from an NDJSON file (one contact per line), with a progress bar.
    Import {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        workspace: String,
        /// The file (`.ndjson` or `.csv`); `-` reads standard input.
        file: PathBuf,
        /// `ndjson` or `csv`; by default taken from the file's extension (`-`: ndjson).
        #[arg(long)]
        format: Option<String>,
        /// Hide the progress bar.
        #[arg(long)]
        quiet: bool,
        /// Merge the index into one segment before exiting. Without it, the segments a large
        /// import leaves are merged by `serve` in the background once writes pause.
        #[arg(long)]
        compact: bool,
    },
    /// Search from the shell; prints the JSON answer.
    Search {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        workspace: String,
        /// The query text.
        query: String,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// A filter tree as JSON.
        #[arg(long)]
        filter: Option<String>,
    },
    /// Export a workspace's contacts (optionally filtered) as NDJSON or CSV to stdout, in id order.
    Export {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        workspace: String,
        /// ndjson or csv.
        #[arg(long, default_value = "ndjson")]
        format: String,
        #[arg(long)]
        filter: Option<String>,
    },
    /// Batch duplicate detection over a workspace, with a progress bar; writes the pairs
    /// (`id_a,id_b,score`) and clusters (`id,cluster_id`) as CSV and stores the proposals.
    Dedup {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        workspace: String,
        /// Pairs CSV (default: pairs.csv).
        #[arg(long, default_value = "pairs.csv")]
        out: PathBuf,
        /// Clusters CSV (default: clusters.csv).
        #[arg(long, default_value = "clusters.csv")]
        clusters: PathBuf,
        /// Match probability for proposals (default: the config's dedup.threshold).
        #[arg(long)]
        threshold: Option<f64>,
        /// Also write pairs scoring from this probability up (for precision/recall curves).
        #[arg(long)]
        min_score: Option<f64>,
        #[arg(long)]
        quiet: bool,
        /// Rayon threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Rebuild the index from the store.
    Reindex {
        #[command(flatten)]
        common: Common,
    },
}

/// Errors of the command line, printed once by `main`.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}

fn load(common: &Common) -> Result<(Config, PathBuf), CliError> {
    let cfg = Config::load_or_default(common.config.as_deref())?;
    let dir = common.data_dir.clone().unwrap_or_else(|| cfg.server.data_dir.clone());
    Ok((cfg, dir))
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CONTACTDEX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs the command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    init_tracing();
    match cli.command {
        Command::Serve {
            common,
            addr,
            master_key,
        } => serve(&common, addr, master_key),
        Command::Import {
            common,
            workspace,
            file,
            format,
            quiet,
            compact,
        } => import(&common, &workspace, &file, format.as_deref(), quiet, compact),
        Command::Search {
            common,
            workspace,
            query,
            limit,
            filter,
        } => {
            let (cfg, dir) = load(&common)?;
            let engine = open_ready(&dir, cfg)?;
            let req = SearchRequest {
                q: Some(query),
                filter: parse_filter_arg(filter.as_deref())?,
                limit: Some(limit),
                ..Default::default()
            };
            let res = engine.search(&workspace, &req)?;
            println!("{}", serde_json::to_string_pretty(&res).unwrap_or_default());
            engine.shutdown()?;
            Ok(())
        }
        Command::Export {
            common,
            workspace,
            format,
            filter,
        } => {
            if format != "ndjson" && format != "csv" {
                return Err(CliError::Usage(format!("--format {format}: use csv or ndjson")));
            }
            let (cfg, dir) = load(&common)?;
            let engine = open_ready(&dir, cfg)?;
            let filter = parse_filter_arg(filter.as_deref())?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let io = |e: std::io::Error| CliError::Io("stdout".into(), e);
            let mut cursor = None;
            let mut first = true;
            loop {
                let (contacts, defs, next) = engine.export_page(
                    &workspace,
                    None,
                    filter.clone(),
                    cursor.take(),
                    1000,
                    Default::default(),
                )?;
                if format == "csv" {
                    let mut rows = Vec::with_capacity(contacts.len() + 1);
                    if first {
                        rows.push(crate::transfer::csv_header(&defs));
                    }
                    rows.extend(contacts.iter().map(|c| crate::transfer::csv_row(c, &defs)));
                    out.write_all(&crate::transfer::csv_bytes(&rows)).map_err(io)?;
                } else {
                    for c in &contacts {
                        writeln!(out, "{}", c.to_api()).map_err(io)?;
                    }
                }
                first = false;
                match next {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            out.flush().map_err(io)?;
            engine.shutdown()?;
            Ok(())
        }
        Command::Dedup {
            common,
            workspace,
            out,
            clusters,
            threshold,
            min_score,
            quiet,
            threads,
        } => {
            let (cfg, dir) = load(&common)?;
            if let Some(t) = threads {
                let _ = rayon::ThreadPoolBuilder::new().num_threads(t.max(1)).build_global();
            }
            let engine = open_ready(&dir, cfg)?;
            let progress = crate::dedup::Progress::default();
            let cancel = std::sync::atomic::AtomicBool::new(false);
            let pb = if quiet {
                ProgressBar::hidden()
            } else {
                ProgressBar::new(1000)
            };
            pb.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {percent}% {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let run = std::thread::scope(|sc| {
                let h = sc.spawn(|| engine.run_dedup(&workspace, threshold, min_score, &progress, &cancel));
                while !h.is_finished() {
                    pb.set_position((progress.fraction() * 1000.0) as u64);
                    pb.set_message(progress.stage_name());
                    std::thread::sleep(Duration::from_millis(100));
                }
                h.join()
                    .unwrap_or_else(|_| Err(crate::engine::EngineError::Unavailable("dedup panicked".into())))
            })?;
            pb.finish_and_clear();
            let mut w = csv::Writer::from_path(&out).map_err(|e| CliError::Io(out.display().to_string(), e.into()))?;
            let _ = w.write_record(["id_a", "id_b", "score"]);
            for p in &run.result.pairs {
                let _ = w.write_record([
                    run.records[p.a as usize].id.as_str(),
                    run.records[p.b as usize].id.as_str(),
                    &p.scored.score.to_string(),
                ]);
            }
            w.flush().map_err(|e| CliError::Io(out.display().to_string(), e))?;
            let mut w = csv::Writer::from_path(&clusters)
                .map_err(|e| CliError::Io(clusters.display().to_string(), e.into()))?;
            let _ = w.write_record(["id", "cluster_id"]);
            for (ci, members) in run.result.clusters.iter().enumerate() {
                for m in members {
                    let _ = w.write_record([run.records[*m as usize].id.as_str(), &format!("k{ci:07}")]);
                }
            }
            w.flush().map_err(|e| CliError::Io(clusters.display().to_string(), e))?;
            engine.shutdown()?;
            println!("{}", run.summary);
            Ok(())
        }
        Command::Reindex { common } => {
            let (cfg, dir) = load(&common)?;
            let start = Instant::now();
            let index_dir = dir.join("index");
            if index_dir.exists() {
                std::fs::remove_dir_all(&index_dir).map_err(|e| CliError::Io(index_dir.display().to_string(), e))?;
            }
            // an offline rebuild: no merges while it runs, then one into a single segment
            let mut cfg = cfg;
            cfg.index.bulk_load = true;
            let engine = open_ready(&dir, cfg)?;
            let n = engine.indexed_docs();
            let wall = start.elapsed().as_secs_f64();
            let compact = compact_after_import(&engine, true, &ProgressBar::hidden())?;
            engine.shutdown()?;
            println!(
                "{}",
                serde_json::json!({"reindexed": n, "wall_s": (wall * 1000.0).round() / 1000.0,
                                   "compacted_segments": compact.0, "compact_s": compact.1})
            );
            Ok(())
        }
    }
}

fn parse_filter_arg(f: Option<&str>) -> Result<Option<serde_json::Value>, CliError> {
    f.map(|s| serde_json::from_str(s).map_err(|e| CliError::Usage(format!("--filter is not valid JSON: {e}"))))
        .transpose()
}

fn open_ready(dir: &Path, cfg: Config) -> Result<Engine, CliError> {
    let engine = Engine::open(dir, cfg)?;
    while !engine.is_ready() {
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(engine)
}

fn serve(common: &Common, addr: Option<String>, master_key: Option<String>) -> Result<(), CliError> {
    let (cfg, dir) = load(common)?;
    let addr_s = addr.unwrap_or_else(|| cfg.server.addr.clone());
    let addr: SocketAddr = addr_s
        .parse()
        .map_err(|_| CliError::Usage(format!("--addr {addr_s:?} is not an address like 127.0.0.1:7700")))?;
    let master_key = master_key.filter(|k| !k.is_empty());
    if !addr.ip().is_loopback() && master_key.is_none() {
        return Err(CliError::Usage(format!(
            "refusing to serve on the non-loopback address {addr} without a master key: pass --master-key or set CONTACTDEX_MASTER_KEY"
        )));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Io("tokio runtime".into(), e))?;
    let engine = Arc::new(Engine::open(&dir, cfg)?);
    tracing::info!(%addr, data_dir = %dir.display(), "contactdex serving");
    let state = AppState {
        engine: engine.clone(),
        master_key: master_key.map(Arc::from),
    };
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| CliError::Io(format!("cannot listen on {addr}"), e))?;
        api::serve(listener, state, shutdown_signal(), Duration::from_secs(8))
            .await
            .map_err(|e| CliError::Io("server".into(), e))
    })?;
    tracing::info!("draining done; flushing the store and committing the index");
    engine.shutdown()?;
    tracing::info!("stopped cleanly");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received");
}

/// Least interval between index commits during `contactdex import` (see [`import`]).
/// Each commit makes small segments that must be merged again: at 1M contacts, 500 ms
/// commits cost ~8 % of the import's CPU (154 against 141 CPU-s).
const IMPORT_COMMIT_INTERVAL_MS: u64 = 30_000;

fn import(
    common: &Common,
    ws: &str,
    file: &Path,
    format: Option<&str>,
    quiet: bool,
    compact: bool,
) -> Result<(), CliError> {
    let (cfg, dir) = load(common)?;
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let csv = match format.map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => true,
        Some("ndjson") | Some("jsonl") => false,
        Some(other) => return Err(CliError::Usage(format!("--format {other}: use ndjson or csv"))),
        None => ext == "csv",
    };
    let origin = crate::audit::Origin::system("cli import");
    let start = Instant::now();
    // An import runs alone on its data dir (sled's lock keeps a server out), so nobody
    // searches while it runs: the index commits at the end, and otherwise only every
    // IMPORT_COMMIT_INTERVAL_MS so a crash replays at most that much of the change log.
    let mut cfg = cfg;
    cfg.index.commit_interval_ms = cfg.index.commit_interval_ms.max(IMPORT_COMMIT_INTERVAL_MS);
    // no background merges: the segments are merged once, later (see compact_after_import)
    cfg.index.bulk_load = true;
    let engine = Engine::open(&dir, cfg)?;
    let (reader, size): (Box<dyn Read>, u64) = if file == Path::new("-") {
        (Box::new(std::io::stdin()), 0)
    } else {
        let f = std::fs::File::open(file).map_err(|e| CliError::Io(file.display().to_string(), e))?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        (Box::new(f), size)
    };
    let pb = if quiet || size == 0 {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(size)
    };
    pb.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {bytes}/{total_bytes} ({eta}) {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    if csv {
        let out = engine.import_csv(ws, pb.wrap_read(reader), &origin)?;
        for r in out.rejected.iter().take(50) {
            pb.suspend(|| {
                eprintln!(
                    "row {} (line {}){}{}: {}",
                    r.line,
                    r.at_line.unwrap_or(r.line),
                    r.id.as_deref().map(|i| format!(" [{i}]")).unwrap_or_default(),
                    r.column.as_deref().map(|c| format!(" column {c}")).unwrap_or_default(),
                    r.error
                )
            });
        }
        if out.rejected.len() > 50 {
            eprintln!("… and {} more rejected rows", out.rejected.len() - 50);
        }
        engine.wait_durable(out.seq)?;
        engine.wait_visible_blocking(out.seq)?;
        pb.finish_and_clear();
        let wall = start.elapsed().as_secs_f64();
        let compact = compact_after_import(&engine, compact, &pb)?;
        let segments = engine.index_segments();
        engine.shutdown()?;
        println!(
            "{}",
            serde_json::json!({"imported": out.accepted, "rejected": out.rejected.len(),
                               "wall_s": (wall * 1000.0).round() / 1000.0,
                               "docs_per_s": (out.accepted as f64 / wall).round(),
                               "segments": segments, "compacted_segments": compact.0, "compact_s": compact.1})
        );
        return Ok(());
    }
    let rd = BufReader::with_capacity(1 << 20, pb.wrap_read(reader));
    let bad_utf8 = std::cell::Cell::new(0usize);
    let read_error: std::cell::RefCell<Option<std::io::Error>> = std::cell::RefCell::new(None);
    let lines = rd.split(b'\n').enumerate().map_while(|(i, r)| match r {
        Ok(bytes) => Some((i + 1, bytes)),
        Err(e) => {
            *read_error.borrow_mut() = Some(e);
            None
        }
    });
    let lines = lines.filter_map(|(n, bytes)| match String::from_utf8(bytes) {
        Ok(s) => Some((n, s)),
        Err(_) => {
            bad_utf8.set(bad_utf8.get() + 1);
            pb.suspend(|| eprintln!("line {n}: not valid UTF-8"));
            None
        }
    });
    let out = engine.bulk(ws, lines, &origin)?;
    if let Some(e) = read_error.take() {
        return Err(CliError::Io(file.display().to_string(), e));
    }
    let accepted = out.accepted;
    let rejected = out.rejected.len() + bad_utf8.get();
    for r in out.rejected.iter().take(50) {
        pb.suspend(|| {
            eprintln!(
                "line {}: {}{}",
                r.line,
                r.id.as_deref().map(|i| format!("[{i}] ")).unwrap_or_default(),
                r.error
            )
        });
    }
    if out.rejected.len() > 50 {
        eprintln!("… and {} more rejected lines", out.rejected.len() - 50);
    }
    let last_seq = out.seq;
    engine.wait_durable(last_seq)?;
    engine.wait_visible_blocking(last_seq)?;
    pb.finish_and_clear();
    let wall = start.elapsed().as_secs_f64();
    let compact = compact_after_import(&engine, compact, &pb)?;
    let segments = engine.index_segments();
    engine.shutdown()?;
    let (store_b, index_b) = engine.disk_usage(&dir);
    println!(
        "{}",
        serde_json::json!({"imported": accepted, "rejected": rejected, "wall_s": (wall * 1000.0).round() / 1000.0,
                           "docs_per_s": (accepted as f64 / wall).round(), "store_bytes": store_b, "index_bytes": index_b,
                           "segments": segments, "compacted_segments": compact.0, "compact_s": compact.1})
    );
    Ok(())
}

/// With `--compact`, merges the index into one segment and returns (segments merged,
/// seconds). The import's `wall_s` and `docs_per_s` end before it: the contacts are durable
/// and searchable by then. Without it, a layout of several large segments (a 1M import
/// leaves 8–10, over which the search mix took 2.4× the median time) is merged by `serve` in
/// the background once writes pause (`Indexer::consolidate`); a 1M merge takes ~15 s.
fn compact_after_import(engine: &Engine, compact: bool, pb: &ProgressBar) -> Result<(usize, f64), CliError> {
    let docs = engine.indexed_docs();
    if !compact || engine.index_segments() < 2 {
        return Ok((0, 0.0));
    }
    let start = Instant::now();
    if !pb.is_hidden() {
        pb.suspend(|| eprintln!("compacting the index ({docs} contacts)…"));
    }
    let n = engine.compact_index()?;
    Ok((n, (start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0))
}
