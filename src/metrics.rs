//! Prometheus metrics, rendered at `GET /metrics`.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// Every metric the service exports.
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_latency: HistogramVec,
    pub docs_indexed: IntCounter,
    pub docs_deleted: IntCounter,
    pub commit_seconds: Histogram,
    pub visible_seq: IntGauge,
    pub store_seq: IntGauge,
    pub bulk_rejected: IntCounter,
    pub writes: IntCounter,
    /// Contacts re-applied to the index from the change log at start-up (0 after a clean
    /// shutdown; the contacts rebuilt when the index was missing count too).
    pub startup_replayed: IntGauge,
    /// Segments searches walk now (a bulk load leaves several; see `Indexer::consolidate`).
    pub index_segments: IntGauge,
    /// Background merges of a many-segment layout into one, started.
    pub consolidations: IntCounter,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new(
                "contactdex_http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let http_latency = HistogramVec::new(
            HistogramOpts::new(
                "contactdex_http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ]),
            &["route"],
        )
        .expect("valid metric");
        let docs_indexed = IntCounter::new(
            "contactdex_documents_indexed_total",
            "Contact documents added to the index",
        )
        .expect("valid metric");
        let docs_deleted = IntCounter::new(
            "contactdex_documents_deleted_total",
            "Contact documents deleted from the index",
        )
        .expect("valid metric");
        let commit_seconds = Histogram::with_opts(
            HistogramOpts::new("contactdex_index_commit_seconds", "Index commit + reload time")
                .buckets(vec![0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
        )
        .expect("valid metric");
        let visible_seq =
            IntGauge::new("contactdex_index_visible_seq", "Store sequence visible to searches").expect("valid metric");
        let store_seq = IntGauge::new("contactdex_store_seq", "Last store sequence written").expect("valid metric");
        let bulk_rejected = IntCounter::new("contactdex_bulk_rejected_lines_total", "Bulk/import lines rejected")
            .expect("valid metric");
        let writes =
            IntCounter::new("contactdex_store_writes_total", "Contacts written to the store").expect("valid metric");
        let startup_replayed = IntGauge::new(
            "contactdex_startup_replayed_contacts",
            "Contacts re-applied to the index from the store at start-up (0 after a clean shutdown)",
        )
        .expect("valid metric");
        let index_segments = IntGauge::new(
            "contactdex_index_segments",
            "Index segments searches walk (merged in the background once writes pause)",
        )
        .expect("valid metric");
        let consolidations = IntCounter::new(
            "contactdex_index_consolidations_total",
            "Background merges of a many-segment index into one segment, started",
        )
        .expect("valid metric");
        for c in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_latency.clone()),
            Box::new(docs_indexed.clone()),
            Box::new(docs_deleted.clone()),
            Box::new(commit_seconds.clone()),
            Box::new(visible_seq.clone()),
            Box::new(store_seq.clone()),
            Box::new(bulk_rejected.clone()),
            Box::new(writes.clone()),
            Box::new(startup_replayed.clone()),
            Box::new(index_segments.clone()),
            Box::new(consolidations.clone()),
        ] {
            // Names are unique by construction.
            let _ = registry.register(c);
        }
        Metrics {
            registry,
            http_requests,
            http_latency,
            docs_indexed,
            docs_deleted,
            commit_seconds,
            visible_seq,
            store_seq,
            bulk_rejected,
            writes,
            startup_replayed,
            index_segments,
            consolidations,
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
