//! State shared by the main loop, the writer and the document workers.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::config::{Config, Dialect};
use crate::oracle::Oracle;

/// What the client declared in `initialize` that changes what Lean sends.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientCapabilities {
    /// `capabilities.lean.silentDiagnosticSupport`.
    pub silent_diagnostics: bool,
    /// `capabilities.lean.incrementalDiagnosticSupport`.
    pub incremental_diagnostics: bool,
}

/// Elaboration counters of one document.
#[derive(Debug, Clone, Default)]
pub struct FileStats {
    /// How often the header (imports) was loaded.
    pub header_loads: u64,
    /// How many declarations were elaborated (each costs `--decl-ms`).
    pub declarations_elaborated: u64,
    /// How many commands were reused from the previous version.
    pub commands_reused: u64,
    /// How many versions finished elaborating.
    pub versions_finished: u64,
    /// How often a header change restarted the worker.
    pub worker_restarts: u64,
}

/// Everything the tasks of the server share.
pub struct Shared {
    /// The command line.
    pub config: Config,
    /// Message spellings of the simulated Lean version.
    pub dialect: Dialect,
    /// The verdicts.
    pub oracle: Oracle,
    /// Set once by `initialize`.
    pub client: ClientCapabilities,
    out: mpsc::UnboundedSender<Value>,
    stats: Mutex<BTreeMap<String, FileStats>>,
    log: Option<Mutex<std::fs::File>>,
    next_server_request_id: AtomicU64,
    /// `--imports-out-of-date`, until a Lake build made them fresh.
    stale_imports: std::sync::atomic::AtomicBool,
}

impl Shared {
    /// Builds the shared state; `out` feeds the writer task.
    pub fn new(
        config: Config,
        oracle: Oracle,
        client: ClientCapabilities,
        out: mpsc::UnboundedSender<Value>,
        log: Option<std::fs::File>,
    ) -> Self {
        let stale_imports = config.imports_out_of_date;
        Shared {
            dialect: config.dialect(),
            config,
            oracle,
            client,
            out,
            stats: Mutex::new(BTreeMap::new()),
            log: log.map(Mutex::new),
            next_server_request_id: AtomicU64::new(0),
            stale_imports: std::sync::atomic::AtomicBool::new(stale_imports),
        }
    }

    /// Queues a message for the client. A closed writer means the server is exiting, so the
    /// message is dropped.
    pub fn send(&self, message: Value) {
        let _ = self.out.send(message);
    }

    /// Sends a notification.
    pub fn notify(&self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a server → client request with the next numeric id (counting from 0, as Lean's
    /// watchdog does).
    pub fn request(&self, method: &str) {
        let id = self.next_server_request_id.fetch_add(1, Ordering::Relaxed);
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method}));
    }

    /// Whether the imports need a Lake build.
    pub fn imports_out_of_date(&self) -> bool {
        self.stale_imports.load(Ordering::SeqCst)
    }

    /// A Lake build brought the imports up to date.
    pub fn mark_imports_built(&self) {
        self.stale_imports.store(false, Ordering::SeqCst);
    }

    /// Whether diagnostics are published incrementally (`isIncremental`).
    pub fn incremental_diagnostics(&self) -> bool {
        self.client.incremental_diagnostics && self.dialect.incremental_diagnostics
    }

    /// Whether silent "Goals accomplished!" diagnostics are sent.
    pub fn silent_diagnostics(&self) -> bool {
        self.client.silent_diagnostics && self.dialect.silent_diagnostics
    }

    /// Updates one document's counters.
    pub fn count(&self, uri: &str, update: impl FnOnce(&mut FileStats)) {
        if let Ok(mut stats) = self.stats.lock() {
            update(stats.entry(uri.to_owned()).or_default());
        }
    }

    /// Appends one line to the `--log` file.
    pub fn log(&self, line: &str) {
        if let Some(file) = &self.log
            && let Ok(mut file) = file.lock()
        {
            // The log is a test aid; a failed write must not disturb the protocol.
            let _ = writeln!(file, "{line}");
        }
    }

    /// The `$/leanSim/stats` result.
    pub fn stats_json(&self) -> Value {
        let stats = self.stats.lock().map(|s| s.clone()).unwrap_or_default();
        let mut files = serde_json::Map::new();
        let mut totals = FileStats::default();
        for (uri, file) in &stats {
            totals.header_loads += file.header_loads;
            totals.declarations_elaborated += file.declarations_elaborated;
            totals.commands_reused += file.commands_reused;
            totals.versions_finished += file.versions_finished;
            totals.worker_restarts += file.worker_restarts;
            files.insert(uri.clone(), file_stats_json(file));
        }
        let mut result = file_stats_json(&totals);
        if let Some(object) = result.as_object_mut() {
            object.insert("files".to_owned(), Value::Object(files));
        }
        result
    }
}

fn file_stats_json(stats: &FileStats) -> Value {
    json!({
        "headerLoads": stats.header_loads,
        "declarationsElaborated": stats.declarations_elaborated,
        "commandsReused": stats.commands_reused,
        "versionsFinished": stats.versions_finished,
        "workerRestarts": stats.worker_restarts,
    })
}
