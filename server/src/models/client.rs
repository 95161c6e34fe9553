//! A lenient client for OpenAI-compatible `POST {base_url}/chat/completions` (vLLM, SGLang,
//! Ollama, llama.cpp's server, hosted APIs).
//!
//! Invariants:
//! - The API key is sent only in the `Authorization` header (marked sensitive) to the
//!   configured host, and is scrubbed from any server text that reaches an error.
//! - Retries (429, 5xx) happen only before a response was accepted: never after the first
//!   streamed byte, so a generation is never paid for twice.
//! - An endpoint that cannot be connected to (refused, unknown host) is not retried: it is
//!   marked down for [`DOWN_FOR`], logged once, and every request meanwhile fails at once
//!   naming it, so a hole goes on with what is left instead of waiting on every sample.
//! - Cancelling is dropping the request's future, the one way every caller cancels: it drops
//!   the connection, so the server stops generating.
//! - A long generation is not a timeout while tokens flow: streaming uses an idle timeout
//!   between chunks; non-streaming requests wait `timeout` for the whole answer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use super::Secret;
use super::prompt::ChatMessage;

/// Where and how to reach one model endpoint.
#[derive(Debug, Clone)]
pub struct EndpointSettings {
    /// Base URL, e.g. `http://127.0.0.1:8000/v1`; `/chat/completions` is appended.
    pub base_url: String,
    /// The `model` field of requests.
    pub model: String,
    /// The API key, if the endpoint needs one.
    pub api_key: Option<Secret>,
    /// The name of the environment variable the key came from, for error messages.
    pub api_key_env: Option<String>,
    /// How long to wait for a TCP/TLS connection.
    pub connect_timeout: Duration,
    /// How long the server may stay silent: between streamed chunks, or for the whole answer
    /// when not streaming.
    pub idle_timeout: Duration,
    /// Retries after a connect error, 429 or 5xx.
    pub max_retries: u32,
    /// First backoff delay; doubled on each retry unless the server sends `Retry-After`.
    pub backoff: Duration,
    /// Longest `Retry-After` honoured; longer waits fail with a rate-limit error instead.
    pub max_retry_after: Duration,
    /// How several samples are asked for.
    pub sample_mode: SampleMode,
    /// Requests in flight at once to this endpoint.
    pub concurrency: usize,
}

impl EndpointSettings {
    /// Settings with sensible defaults for an endpoint at `base_url` serving `model`.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            api_key_env: None,
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            max_retries: 3,
            backoff: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(60),
            sample_mode: SampleMode::Auto,
            concurrency: 4,
        }
    }
}

/// How several samples are obtained from a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SampleMode {
    /// Ask with `n`; when fewer choices come back, fill the rest with parallel requests and
    /// go parallel from then on (Ollama ignores `n`).
    #[default]
    Auto,
    /// Ask with `n` only; take what the server returns.
    N,
    /// Always send parallel single-sample requests.
    Parallel,
}

/// One chat completion request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// Samples wanted.
    pub n: u32,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    pub top_p: Option<f64>,
    /// Token limit of each answer.
    pub max_tokens: Option<u32>,
    /// Stream the answer (recommended: a long generation then never looks like a timeout).
    pub stream: bool,
}

impl ChatRequest {
    /// A streaming request for one sample.
    pub fn new(messages: Vec<ChatMessage>) -> Self {
        Self {
            messages,
            n: 1,
            temperature: None,
            top_p: None,
            max_tokens: None,
            stream: true,
        }
    }
}

/// One sample of a model's answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Completion {
    /// The answer text.
    pub content: String,
    /// Reasoning that the server split off (`reasoning_content`), if any.
    pub reasoning: Option<String>,
    /// Why generation stopped (`stop`, `length`, …), if the server said.
    pub finish_reason: Option<String>,
}

impl Completion {
    /// Whether the server says the answer was cut off by the token limit.
    pub fn hit_token_limit(&self) -> bool {
        self.finish_reason.as_deref() == Some("length")
    }
}

/// What can go wrong talking to a model server. Messages say what to check; none contains
/// the API key.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// No connection could be made (after retries).
    #[error(
        "cannot connect to the model server at {url}: {detail} (is it running? check base_url)"
    )]
    Connect {
        /// The endpoint.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The server refused the credentials.
    #[error(
        "the model server at {url} refused the request with HTTP {status}: check the API key {}",
        key_hint(.api_key_env.as_deref())
    )]
    Unauthorized {
        /// The endpoint.
        url: String,
        /// 401 or 403.
        status: u16,
        /// The environment variable the key was read from.
        api_key_env: Option<String>,
    },
    /// Still rate-limited after every retry.
    #[error(
        "the model server at {url} is rate-limiting requests (HTTP 429) after {attempts} attempts; lower concurrency or try later"
    )]
    RateLimited {
        /// The endpoint.
        url: String,
        /// Attempts made.
        attempts: u32,
    },
    /// Any other HTTP error status.
    #[error("the model server at {url} answered HTTP {status}: {body}")]
    Status {
        /// The endpoint.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the response body (API key scrubbed).
        body: String,
    },
    /// The server stayed silent too long.
    #[error(
        "the model server at {url} sent nothing for {seconds} s (raise timeout_s if the model is just slow)"
    )]
    Timeout {
        /// The endpoint.
        url: String,
        /// The timeout that expired.
        seconds: u64,
    },
    /// The connection broke in the middle of an answer.
    #[error("the model server at {url} closed the connection mid-answer: {detail}")]
    Interrupted {
        /// The endpoint.
        url: String,
        /// What happened.
        detail: String,
    },
    /// The body is not an OpenAI-compatible chat completion.
    #[error(
        "the model server at {url} did not answer with an OpenAI chat completion ({detail}); is base_url the OpenAI-compatible endpoint (often ending in /v1)?"
    )]
    BadBody {
        /// The endpoint.
        url: String,
        /// The parse error and the start of the body (API key scrubbed).
        detail: String,
    },
    /// The endpoint could not be connected to a moment ago; it is not tried again yet.
    #[error(
        "the model server at {url} is unreachable ({detail}); sorryfill tries it again in at most {} s (is it running? check base_url)",
        DOWN_FOR.as_secs()
    )]
    Down {
        /// The endpoint.
        url: String,
        /// Why the last connection failed.
        detail: String,
    },
    /// The configured key variable is not set.
    #[error("the environment variable {0} named by api_key_env is not set")]
    MissingKey(String),
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
}

fn key_hint(env: Option<&str>) -> String {
    match env {
        Some(name) => format!("in the environment variable {name}"),
        None => "(set api_key_env to the name of the variable that holds it)".to_owned(),
    }
}

impl ModelError {
    /// Whether the error is worth retrying before any answer was accepted.
    fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Status { status: 500.., .. }
        )
    }
}

/// How long an endpoint that refused a connection (or whose host is unknown) is left alone.
pub const DOWN_FOR: Duration = Duration::from_secs(30);

/// When an endpoint was found unreachable, and why (shared by a client's clones).
#[derive(Debug, Default)]
struct Reachability {
    /// Requests fail at once until then.
    down_until: Option<std::time::Instant>,
    /// The last connection failure.
    detail: String,
    /// Whether it was ever down in this process (for a run's summary).
    ever_down: bool,
    /// The status (401 or 403) of a refused key; requests fail at once with it until then,
    /// since asking again with the same key only meets the same refusal.
    refused: Option<(u16, std::time::Instant)>,
}

/// The wire form of a request.
#[derive(Serialize)]
struct WireRequest<'a> {
    model: &'a str,
    messages: &'a [ChatMessage],
    #[serde(skip_serializing_if = "is_one")]
    n: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    stream: bool,
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

#[derive(Deserialize, Default)]
struct WireResponse {
    #[serde(default)]
    choices: Vec<WireChoice>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
struct WireChoice {
    #[serde(default)]
    index: Option<usize>,
    #[serde(default)]
    message: Option<WireMessage>,
    #[serde(default)]
    delta: Option<WireMessage>,
    /// Some servers put plain text here (legacy completions shape).
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
    /// Ollama and some proxies call it `reasoning`.
    #[serde(default)]
    reasoning: Option<String>,
}

/// The client of one endpoint. Cheap to clone; clones share the connection pool, the
/// concurrency limit and what was learnt about `n`.
#[derive(Clone)]
pub struct ChatClient {
    http: reqwest::Client,
    settings: Arc<EndpointSettings>,
    url: Arc<str>,
    slots: Arc<Semaphore>,
    /// Set once the server returned fewer choices than asked: later requests go parallel.
    ignores_n: Arc<AtomicBool>,
    reachability: Arc<std::sync::Mutex<Reachability>>,
}

impl std::fmt::Debug for ChatClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatClient")
            .field("url", &self.url)
            .field("model", &self.settings.model)
            .field("api_key", &self.settings.api_key)
            .finish()
    }
}

impl ChatClient {
    /// A client for one endpoint.
    pub fn new(settings: EndpointSettings) -> Result<Self, ModelError> {
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .build()
            .map_err(|e| ModelError::Setup(e.to_string()))?;
        let url = format!(
            "{}/chat/completions",
            settings.base_url.trim_end_matches('/')
        );
        Ok(Self {
            http,
            slots: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            settings: Arc::new(settings),
            url: url.into(),
            ignores_n: Arc::new(AtomicBool::new(false)),
            reachability: Arc::default(),
        })
    }

    /// Why the endpoint could not be reached, if it was ever found down in this process.
    pub fn unreachable(&self) -> Option<String> {
        let reachability = self.reachability();
        reachability.ever_down.then(|| {
            format!(
                "the model server at {} could not be reached ({})",
                self.url, reachability.detail
            )
        })
    }

    fn reachability(&self) -> std::sync::MutexGuard<'_, Reachability> {
        self.reachability
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `Down` while the endpoint is marked down, `Unauthorized` while its key is refused.
    fn check_reachable(&self) -> Result<(), ModelError> {
        let reachability = self.reachability();
        if let Some((status, until)) = reachability.refused
            && std::time::Instant::now() < until
        {
            return Err(ModelError::Unauthorized {
                url: self.url.to_string(),
                status,
                api_key_env: self.settings.api_key_env.clone(),
            });
        }
        match reachability.down_until {
            Some(until) if std::time::Instant::now() < until => Err(ModelError::Down {
                url: self.url.to_string(),
                detail: reachability.detail.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// Marks the endpoint down after a connection failure; logs only the first of a row.
    fn mark_down(&self, detail: &str) {
        let mut reachability = self.reachability();
        let now = std::time::Instant::now();
        let was_down = reachability.down_until.is_some_and(|until| now < until);
        reachability.down_until = Some(now + DOWN_FOR);
        reachability.detail = detail.to_owned();
        reachability.ever_down = true;
        if !was_down {
            tracing::warn!(
                url = %self.url,
                "the model server is unreachable ({detail}); requests to it fail at once for {} s",
                DOWN_FOR.as_secs()
            );
        }
    }

    /// Stops requests after the server refused the key; logs only the first of a row.
    fn mark_refused(&self, status: u16) {
        let mut reachability = self.reachability();
        let now = std::time::Instant::now();
        let was_refused = reachability.refused.is_some_and(|(_, until)| now < until);
        reachability.refused = Some((status, now + DOWN_FOR));
        if !was_refused {
            tracing::warn!(
                url = %self.url,
                "the model server refused the API key (HTTP {status}); requests to it fail at once for {} s",
                DOWN_FOR.as_secs()
            );
        }
    }

    /// The full URL requests go to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Asks for `request.n` samples. Uses `n` where the server honours it and parallel
    /// single-sample requests where it does not. Dropping the returned future cancels the
    /// call: every connection of it is dropped.
    pub async fn complete(&self, request: &ChatRequest) -> Result<Vec<Completion>, ModelError> {
        let wanted = request.n.max(1) as usize;
        let mode = self.settings.sample_mode;
        let go_parallel = wanted > 1
            && (mode == SampleMode::Parallel
                || (mode == SampleMode::Auto && self.ignores_n.load(Ordering::Relaxed)));
        let mut samples = if go_parallel {
            Vec::new()
        } else {
            self.one_request(request, wanted as u32).await?
        };
        // An empty answer to a one-sample request is not a sign that `n` is ignored.
        let fill = go_parallel || (!samples.is_empty() && samples.len() < wanted);
        if fill && mode != SampleMode::N {
            if wanted > 1 && !samples.is_empty() {
                tracing::debug!(
                    url = %self.url,
                    asked = wanted,
                    got = samples.len(),
                    "the server ignores n; filling with parallel requests"
                );
                self.ignores_n.store(true, Ordering::Relaxed);
            }
            let missing = wanted - samples.len();
            let more =
                futures::future::try_join_all((0..missing).map(|_| self.one_request(request, 1)))
                    .await?;
            samples.extend(more.into_iter().flatten());
        }
        samples.truncate(wanted);
        Ok(samples)
    }

    /// One HTTP request (with retries before the answer is accepted).
    async fn one_request(
        &self,
        request: &ChatRequest,
        n: u32,
    ) -> Result<Vec<Completion>, ModelError> {
        self.check_reachable()?;
        // The semaphore is never closed, so waiting for a slot cannot fail.
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|error| ModelError::Interrupted {
                url: self.url.to_string(),
                detail: error.to_string(),
            })?;
        // Requests queued behind the one that found the endpoint down fail at once too.
        self.check_reachable()?;
        let body = WireRequest {
            model: &self.settings.model,
            messages: &request.messages,
            n,
            temperature: request.temperature,
            top_p: request.top_p,
            max_tokens: request.max_tokens,
            stream: request.stream,
        };
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            tracing::debug!(url = %self.url, model = %self.settings.model, n, attempt, stream = request.stream, "model request");
            let delay = match self.send(&body).await {
                Ok(response) => {
                    // From here on the server is generating: never retry.
                    return if request.stream {
                        self.read_stream(response).await
                    } else {
                        self.read_whole(response).await
                    };
                }
                Err((error, retry_after)) => {
                    match &error {
                        ModelError::Connect { detail, .. } => self.mark_down(detail),
                        ModelError::Unauthorized { status, .. } => self.mark_refused(*status),
                        _ => {}
                    }
                    if !error.is_retryable() || attempt > self.settings.max_retries {
                        return Err(match error {
                            ModelError::RateLimited { url, .. } => ModelError::RateLimited {
                                url,
                                attempts: attempt,
                            },
                            other => other,
                        });
                    }
                    match retry_after {
                        Some(wait) if wait > self.settings.max_retry_after => {
                            return Err(ModelError::RateLimited {
                                url: self.url.to_string(),
                                attempts: attempt,
                            });
                        }
                        Some(wait) => wait,
                        None => self
                            .settings
                            .backoff
                            .saturating_mul(2u32.saturating_pow(attempt - 1)),
                    }
                }
            };
            tracing::debug!(url = %self.url, attempt, delay_ms = delay.as_millis() as u64, "retrying model request");
            tokio::time::sleep(delay).await;
        }
    }

    /// Sends the request and checks the status. Errors carry the server's `Retry-After`.
    async fn send(
        &self,
        body: &WireRequest<'_>,
    ) -> Result<reqwest::Response, (ModelError, Option<Duration>)> {
        let mut builder = self.http.post(&*self.url).json(body);
        if let Some(key) = &self.settings.api_key {
            builder = builder.bearer_auth(key.expose());
        }
        if !body.stream {
            builder = builder.timeout(self.settings.idle_timeout);
        }
        let response = tokio::time::timeout(self.settings.idle_timeout, builder.send())
            .await
            .map_err(|_| (self.timeout(), None))?
            .map_err(|e| (self.transport_error(&e), None))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let code = status.as_u16();
        let error = match code {
            401 | 403 => ModelError::Unauthorized {
                url: self.url.to_string(),
                status: code,
                api_key_env: self.settings.api_key_env.clone(),
            },
            429 => ModelError::RateLimited {
                url: self.url.to_string(),
                attempts: 1,
            },
            _ => {
                let text = tokio::time::timeout(self.settings.idle_timeout, response.text())
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default();
                ModelError::Status {
                    url: self.url.to_string(),
                    status: code,
                    body: self.scrub(&text, 300),
                }
            }
        };
        Err((error, retry_after))
    }

    async fn read_whole(&self, response: reqwest::Response) -> Result<Vec<Completion>, ModelError> {
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let wire: WireResponse =
            serde_json::from_slice(&bytes).map_err(|e| ModelError::BadBody {
                url: self.url.to_string(),
                detail: format!(
                    "{e}; body starts {:?}",
                    self.scrub(&String::from_utf8_lossy(&bytes), 200)
                ),
            })?;
        if let Some(error) = wire.error {
            return Err(self.server_error_in_body(&error));
        }
        let mut by_index: BTreeMap<usize, Completion> = BTreeMap::new();
        for (position, choice) in wire.choices.into_iter().enumerate() {
            let slot = by_index
                .entry(choice.index.unwrap_or(position))
                .or_default();
            let message = choice.message.or(choice.delta).unwrap_or_default();
            slot.content = message.content.or(choice.text).unwrap_or_default();
            slot.reasoning = message.reasoning_content.or(message.reasoning);
            slot.finish_reason = choice.finish_reason.filter(|r| !r.is_empty());
        }
        Ok(by_index.into_values().collect())
    }

    async fn read_stream(
        &self,
        response: reqwest::Response,
    ) -> Result<Vec<Completion>, ModelError> {
        let mut events = response.bytes_stream().eventsource();
        let mut by_index: BTreeMap<usize, Completion> = BTreeMap::new();
        let mut done = false;
        loop {
            let next = tokio::time::timeout(self.settings.idle_timeout, events.next())
                .await
                .map_err(|_| self.timeout())?;
            let Some(event) = next else { break };
            let event = event.map_err(|e| ModelError::Interrupted {
                url: self.url.to_string(),
                detail: e.to_string(),
            })?;
            let data = event.data.trim();
            if data == "[DONE]" {
                done = true;
                break;
            }
            if data.is_empty() {
                continue;
            }
            let chunk: WireResponse =
                serde_json::from_str(data).map_err(|e| ModelError::BadBody {
                    url: self.url.to_string(),
                    detail: format!("{e}; event starts {:?}", self.scrub(data, 200)),
                })?;
            if let Some(error) = chunk.error {
                return Err(self.server_error_in_body(&error));
            }
            for (position, choice) in chunk.choices.into_iter().enumerate() {
                let slot = by_index
                    .entry(choice.index.unwrap_or(position))
                    .or_default();
                let delta = choice.delta.or(choice.message).unwrap_or_default();
                if let Some(text) = delta.content.or(choice.text) {
                    slot.content.push_str(&text);
                }
                if let Some(text) = delta.reasoning_content.or(delta.reasoning) {
                    slot.reasoning
                        .get_or_insert_with(String::new)
                        .push_str(&text);
                }
                if let Some(reason) = choice.finish_reason.filter(|r| !r.is_empty()) {
                    slot.finish_reason = Some(reason);
                }
            }
        }
        // Without `[DONE]`, trust the stream only if every sample says it finished.
        if !done && (by_index.is_empty() || by_index.values().any(|c| c.finish_reason.is_none())) {
            return Err(ModelError::Interrupted {
                url: self.url.to_string(),
                detail: "the stream ended before the answer was complete".to_owned(),
            });
        }
        Ok(by_index.into_values().collect())
    }

    fn server_error_in_body(&self, error: &serde_json::Value) -> ModelError {
        let message = error
            .get("message")
            .and_then(serde_json::Value::as_str)
            .map_or_else(|| error.to_string(), str::to_owned);
        let status = error
            .get("code")
            .and_then(serde_json::Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(200);
        ModelError::Status {
            url: self.url.to_string(),
            status,
            body: self.scrub(&message, 300),
        }
    }

    fn timeout(&self) -> ModelError {
        ModelError::Timeout {
            url: self.url.to_string(),
            seconds: self.settings.idle_timeout.as_secs(),
        }
    }

    fn transport_error(&self, error: &reqwest::Error) -> ModelError {
        let detail = self.scrub(&error_chain(error), 300);
        if error.is_timeout() {
            self.timeout()
        } else if error.is_connect() {
            ModelError::Connect {
                url: self.url.to_string(),
                detail,
            }
        } else {
            ModelError::Interrupted {
                url: self.url.to_string(),
                detail,
            }
        }
    }

    /// Server text for an error message: cut to `limit` characters, with the API key removed
    /// (a server may echo the key it rejected).
    fn scrub(&self, text: &str, limit: usize) -> String {
        // Scrub before cutting, so a key split by the cut cannot leak in part.
        let scrubbed = match &self.settings.api_key {
            Some(key) if !key.expose().is_empty() => text.replace(key.expose(), "***"),
            _ => text.to_owned(),
        };
        scrubbed.chars().take(limit).collect()
    }
}

/// The error and its sources, joined: reqwest's top-level message alone rarely says why.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
