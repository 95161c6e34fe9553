//! The HTTP client against real local servers: wiremock for request/response shapes, axum for
//! true streaming and to observe a dropped connection, a raw socket for a server that hangs up.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sorryfill::models::client::{EndpointSettings, ModelError, SampleMode};
use sorryfill::models::{ChatClient, ChatRequest, PromptFormat, ProofTask, Secret};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk-test-5f1e9c0ddeadbeef";

fn settings(base_url: &str) -> EndpointSettings {
    let mut settings = EndpointSettings::new(base_url, "test-model");
    settings.connect_timeout = Duration::from_secs(2);
    settings.idle_timeout = Duration::from_secs(5);
    settings.backoff = Duration::from_millis(10);
    settings
}

fn client(settings: EndpointSettings) -> ChatClient {
    ChatClient::new(settings).expect("the client builds")
}

fn task() -> ProofTask {
    ProofTask {
        header: "import Mathlib\n\nopen Real".into(),
        theorem: "theorem t (x : ℝ) (h : x = 2) : x + x = 4 := by\n  sorry".into(),
        informal: None,
        feedback: None,
    }
}

fn completion_body(contents: &[&str]) -> Value {
    json!({
        "id": "cmpl-1",
        "object": "chat.completion",
        "choices": contents.iter().enumerate().map(|(i, c)| json!({
            "index": i,
            "message": {"role": "assistant", "content": c},
            "finish_reason": "stop"
        })).collect::<Vec<_>>()
    })
}

async fn completions_mock(server: &MockServer, template: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(template)
        .mount(server)
        .await;
}

async fn request_bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("requests are JSON"))
        .collect()
}

fn non_streaming(format: &PromptFormat) -> ChatRequest {
    let mut request = ChatRequest::new(format.messages(&task()));
    request.stream = false;
    request
}

#[tokio::test]
async fn each_format_sends_its_exact_request_body() {
    let server = MockServer::start().await;
    completions_mock(
        &server,
        ResponseTemplate::new(200).set_body_json(completion_body(&["ok"])),
    )
    .await;
    let client = client(settings(&format!("{}/v1", server.uri())));
    let lean =
        "import Mathlib\n\nopen Real\n\ntheorem t (x : ℝ) (h : x = 2) : x + x = 4 := by\n  sorry";
    let plan = "Before producing the Lean 4 code to formally prove the given theorem, provide a detailed proof plan outlining the main proof steps and strategies.\nThe plan should highlight key ideas, intermediate lemmas, and proof structures that will guide the construction of the final formal proof.";
    let cases = [
        (
            PromptFormat::DeepSeekProverV2,
            json!([{"role": "user", "content": format!("Complete the following Lean 4 code:\n\n```lean4\n{lean}\n```")}]),
        ),
        (
            PromptFormat::DeepSeekProverV2Cot,
            json!([{"role": "user", "content": format!("Complete the following Lean 4 code:\n\n```lean4\n{lean}\n```\n\n{plan}")}]),
        ),
        (
            PromptFormat::GoedelProverV2,
            json!([{"role": "user", "content": format!("Complete the following Lean 4 code:\n\n```lean4\n{lean}\n```\n\n{plan}")}]),
        ),
        (
            PromptFormat::Kimina,
            json!([
                {"role": "system", "content": "You are an expert programmer and mathematician who helps formalizing mathematical problems in Lean 4."},
                {"role": "user", "content": format!("Think about and solve the following problems step by step in Lean 4.\n\n{lean}")}
            ]),
        ),
        (
            PromptFormat::from_name("chat", Some("Prove this:\n{lean}"), Some("Be brief."))
                .expect("valid"),
            json!([
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": format!("Prove this:\n{lean}")}
            ]),
        ),
    ];
    for (format, messages) in &cases {
        let mut request = non_streaming(format);
        request.temperature = Some(0.6);
        request.max_tokens = Some(8192);
        let samples = client.complete(&request).await.expect("a completion");
        assert_eq!(samples[0].content, "ok");
        let sent = request_bodies(&server)
            .await
            .pop()
            .expect("one request sent");
        assert_eq!(
            sent,
            json!({"model": "test-model", "messages": messages, "temperature": 0.6, "max_tokens": 8192, "stream": false}),
            "format {}",
            format.name()
        );
    }
    // The decomposer asks for a plan and one sketch block that keeps the statement.
    let decomposer = PromptFormat::Decomposer.messages(&task());
    let user = &decomposer.last().expect("a user message").content;
    assert!(user.contains(lean) && user.contains("have name : statement := by sorry"));
}

#[tokio::test]
async fn lenient_responses_missing_fields_and_reasoning_content() {
    let server = MockServer::start().await;
    let body = json!({"choices": [{"message": {"content": "```lean4\nx\n```", "reasoning_content": "think"}, "finish_reason": ""}]});
    completions_mock(&server, ResponseTemplate::new(200).set_body_json(body)).await;
    let client = client(settings(&format!("{}/v1", server.uri())));
    let samples = client
        .complete(&non_streaming(&PromptFormat::DeepSeekProverV2))
        .await
        .expect("lenient parsing");
    assert_eq!(samples.len(), 1);
    assert_eq!(samples[0].reasoning.as_deref(), Some("think"));
    assert_eq!(samples[0].finish_reason, None);
}

#[tokio::test]
async fn n_is_used_when_honoured_and_parallel_requests_fill_when_not() {
    let honouring = MockServer::start().await;
    completions_mock(
        &honouring,
        ResponseTemplate::new(200).set_body_json(completion_body(&["a", "b", "c"])),
    )
    .await;
    let mut request = non_streaming(&PromptFormat::DeepSeekProverV2);
    request.n = 3;
    let samples = client(settings(&format!("{}/v1", honouring.uri())))
        .complete(&request)
        .await
        .expect("samples");
    assert_eq!(
        samples
            .iter()
            .map(|s| s.content.as_str())
            .collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    let sent = request_bodies(&honouring).await;
    assert_eq!(sent.len(), 1, "one request with n");
    assert_eq!(sent[0]["n"], 3);

    // Like Ollama: one choice whatever n says.
    let ignoring = MockServer::start().await;
    completions_mock(
        &ignoring,
        ResponseTemplate::new(200).set_body_json(completion_body(&["one"])),
    )
    .await;
    let client = client(settings(&format!("{}/v1", ignoring.uri())));
    let samples = client.complete(&request).await.expect("samples");
    assert_eq!(samples.len(), 3, "missing samples are filled");
    let sent = request_bodies(&ignoring).await;
    assert_eq!(sent.len(), 3, "one request with n, then two single ones");
    assert_eq!(sent[0]["n"], 3);
    assert!(sent[1..].iter().all(|b| b.get("n").is_none()));
    // Learnt: the next call goes parallel straight away.
    client.complete(&request).await.expect("samples");
    let sent = request_bodies(&ignoring).await;
    assert_eq!(sent.len(), 6);
    assert!(sent[3..].iter().all(|b| b.get("n").is_none()));

    // `sample_mode = "n"` takes what the server gives.
    let mut only_n = settings(&format!("{}/v1", ignoring.uri()));
    only_n.sample_mode = SampleMode::N;
    let samples = self::client(only_n)
        .complete(&request)
        .await
        .expect("samples");
    assert_eq!(samples.len(), 1);
}

#[tokio::test]
async fn unauthorized_is_one_clear_error_without_retries() {
    let server = MockServer::start().await;
    completions_mock(
        &server,
        ResponseTemplate::new(401).set_body_string(format!("{{\"error\":\"invalid key {KEY}\"}}")),
    )
    .await;
    let mut settings = settings(&format!("{}/v1", server.uri()));
    settings.api_key = Some(Secret::new(KEY));
    settings.api_key_env = Some("PROVER_KEY".into());
    let error = client(settings)
        .complete(&non_streaming(&PromptFormat::Kimina))
        .await
        .expect_err("refused");
    assert!(matches!(
        error,
        ModelError::Unauthorized { status: 401, .. }
    ));
    let message = error.to_string();
    assert!(message.contains("PROVER_KEY"), "{message}");
    assert!(!message.contains(KEY));
    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 1, "no retry storm on 401");
    assert_eq!(
        requests[0]
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap_or("")),
        Some(format!("Bearer {KEY}").as_str()),
        "the key goes to the configured host"
    );
}

#[tokio::test]
async fn rate_limit_honours_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    completions_mock(
        &server,
        ResponseTemplate::new(200).set_body_json(completion_body(&["fine"])),
    )
    .await;
    let started = Instant::now();
    let samples = client(settings(&format!("{}/v1", server.uri())))
        .complete(&non_streaming(&PromptFormat::DeepSeekProverV2))
        .await
        .expect("succeeds after waiting");
    assert_eq!(samples[0].content, "fine");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited for Retry-After"
    );
    assert_eq!(request_bodies(&server).await.len(), 2);
}

#[tokio::test]
async fn a_server_error_is_retried_then_succeeds_and_persistent_errors_give_up() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("overloaded"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    completions_mock(
        &server,
        ResponseTemplate::new(200).set_body_json(completion_body(&["fine"])),
    )
    .await;
    let samples = client(settings(&format!("{}/v1", server.uri())))
        .complete(&non_streaming(&PromptFormat::DeepSeekProverV2))
        .await
        .expect("retried");
    assert_eq!(samples[0].content, "fine");
    assert_eq!(request_bodies(&server).await.len(), 2);

    let broken = MockServer::start().await;
    completions_mock(
        &broken,
        ResponseTemplate::new(503).set_body_string("model not loaded"),
    )
    .await;
    let error = client(settings(&format!("{}/v1", broken.uri())))
        .complete(&non_streaming(&PromptFormat::DeepSeekProverV2))
        .await
        .expect_err("gives up");
    assert!(error.to_string().contains("503") && error.to_string().contains("model not loaded"));
    assert_eq!(
        request_bodies(&broken).await.len(),
        4,
        "first try plus max_retries = 3"
    );
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_clear_error() {
    let server = MockServer::start().await;
    completions_mock(
        &server,
        ResponseTemplate::new(200).set_body_raw("<html>Welcome to nginx</html>", "text/html"),
    )
    .await;
    let error = client(settings(&format!("{}/v1", server.uri())))
        .complete(&non_streaming(&PromptFormat::DeepSeekProverV2))
        .await
        .expect_err("not JSON");
    assert!(matches!(error, ModelError::BadBody { .. }));
    assert!(error.to_string().contains("Welcome to nginx"));
    assert_eq!(request_bodies(&server).await.len(), 1);
}

#[tokio::test]
async fn a_connection_refused_marks_the_endpoint_down_and_later_requests_fail_at_once() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let client = client(settings(&format!("http://{address}/v1")));
    assert_eq!(client.unreachable(), None);
    let error = client
        .complete(&non_streaming(&PromptFormat::DeepSeekProverV2))
        .await
        .expect_err("nothing listens");
    assert!(matches!(error, ModelError::Connect { .. }), "{error}");
    assert!(error.to_string().contains("is it running?"));
    // Something listens now, but the endpoint is marked down: no connection is even tried.
    let listener = std::net::TcpListener::bind(address).expect("the port is free again");
    listener.set_nonblocking(true).expect("non-blocking");
    let again = client
        .complete(&non_streaming(&PromptFormat::DeepSeekProverV2))
        .await
        .expect_err("marked down");
    assert!(matches!(again, ModelError::Down { .. }), "{again}");
    assert!(again.to_string().contains(&address.to_string()), "{again}");
    assert!(
        listener.accept().is_err(),
        "no connection was made to an endpoint marked down"
    );
    let summary = client.unreachable().expect("it was down");
    assert!(summary.contains(&address.to_string()), "{summary}");
}

// ---- True streaming with axum ----------------------------------------------------------------

fn sse(content: &str) -> String {
    format!(
        "data: {}\n\n",
        json!({"choices": [{"index": 0, "delta": {"content": content}}]})
    )
}

/// Sets a flag when dropped: axum drops the response body when the client's connection goes.
struct DropSignal(Arc<tokio::sync::Notify>, Arc<AtomicUsize>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0.notify_one();
    }
}

/// A streaming server: each request gets `chunks` (delay before each), then `[DONE]` when
/// `finish`, else it stalls forever. Returns the base URL, a drop notifier and request count.
async fn streaming_server(
    chunks: Vec<(Duration, String)>,
    finish: bool,
) -> (
    String,
    Arc<tokio::sync::Notify>,
    Arc<AtomicUsize>,
    Arc<AtomicUsize>,
) {
    let dropped = Arc::new(tokio::sync::Notify::new());
    let drops = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let (dropped2, drops2, requests2) = (dropped.clone(), drops.clone(), requests.clone());
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move || {
            let chunks = chunks.clone();
            let guard = DropSignal(dropped2.clone(), drops2.clone());
            requests2.fetch_add(1, Ordering::SeqCst);
            async move {
                let stream = futures::stream::unfold((0usize, guard), move |(i, guard)| {
                    let chunks = chunks.clone();
                    async move {
                        if let Some((delay, text)) = chunks.get(i) {
                            tokio::time::sleep(*delay).await;
                            return Some((Ok::<_, std::io::Error>(text.clone()), (i + 1, guard)));
                        }
                        if i == chunks.len() && finish {
                            return Some((Ok("data: [DONE]\n\n".to_owned()), (i + 1, guard)));
                        }
                        if finish {
                            return None;
                        }
                        std::future::pending::<()>().await;
                        None
                    }
                });
                axum::response::Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(axum::body::Body::from_stream(stream))
                    .expect("a valid response")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/v1"), dropped, drops, requests)
}

#[tokio::test]
async fn streaming_assembles_tokens_and_a_long_generation_is_not_a_timeout() {
    let tick = Duration::from_millis(100);
    let chunks: Vec<(Duration, String)> =
        ["```lean4\n", "theorem t : 1 = 1 := by\n", "  rfl\n", "```"]
            .iter()
            .map(|c| (tick, sse(c)))
            .chain(std::iter::once((
                tick,
                format!(
                    "data: {}\n\n",
                    json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                ),
            )))
            .collect();
    let (url, _, _, _) = streaming_server(chunks, true).await;
    let mut settings = settings(&url);
    // The whole answer takes 500 ms; only silence longer than 300 ms is a timeout.
    settings.idle_timeout = Duration::from_millis(300);
    let samples = client(settings)
        .complete(&ChatRequest::new(
            PromptFormat::DeepSeekProverV2.messages(&task()),
        ))
        .await
        .expect("streamed");
    assert_eq!(
        samples[0].content,
        "```lean4\ntheorem t : 1 = 1 := by\n  rfl\n```"
    );
    assert_eq!(samples[0].finish_reason.as_deref(), Some("stop"));
}

#[tokio::test]
async fn a_silent_server_hits_the_idle_timeout() {
    let (url, _, _, requests) =
        streaming_server(vec![(Duration::ZERO, sse("theorem"))], false).await;
    let mut settings = settings(&url);
    settings.idle_timeout = Duration::from_millis(300);
    let started = Instant::now();
    let error = client(settings)
        .complete(&ChatRequest::new(PromptFormat::Kimina.messages(&task())))
        .await
        .expect_err("stalls");
    assert!(matches!(error, ModelError::Timeout { .. }), "{error}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        requests.load(Ordering::SeqCst),
        1,
        "never retried after the first streamed byte"
    );
}

#[tokio::test]
async fn dropping_the_request_mid_stream_drops_the_connection() {
    let chunks = vec![(Duration::ZERO, sse("have h : "))];
    let (url, dropped, drops, _) = streaming_server(chunks, false).await;
    let client = client(settings(&url));
    let request = ChatRequest::new(PromptFormat::DeepSeekProverV2.messages(&task()));
    // The one way a request is cancelled: its future is dropped (here by the timeout, in the
    // pipeline when the job stops).
    let outcome = tokio::time::timeout(Duration::from_millis(300), client.complete(&request)).await;
    assert!(
        outcome.is_err(),
        "the stream never ends, so only the drop ends the request"
    );
    tokio::time::timeout(Duration::from_secs(3), dropped.notified())
        .await
        .expect("the server sees the connection dropped");
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_server_hanging_up_mid_stream_is_an_error_without_retry() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            read_request(&mut socket).await;
            let chunk = sse("theorem t");
            let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
            let body = format!("{:x}\r\n{chunk}\r\n", chunk.len());
            let _ = socket.write_all(format!("{head}{body}").as_bytes()).await;
            let _ = socket.flush().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(socket);
        }
    });
    let error = client(settings(&format!("http://{address}/v1")))
        .complete(&ChatRequest::new(
            PromptFormat::DeepSeekProverV2.messages(&task()),
        ))
        .await
        .expect_err("hung up");
    assert!(matches!(error, ModelError::Interrupted { .. }), "{error}");
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "no retry after the first byte"
    );
}

/// Reads one HTTP request (headers and a content-length body).
async fn read_request(socket: &mut tokio::net::TcpStream) {
    let mut data = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let Ok(read) = socket.read(&mut buffer).await else {
            return;
        };
        if read == 0 {
            return;
        }
        data.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&data);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                return;
            }
        }
    }
}

// ---- The API key never leaks ----------------------------------------------------------------

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("the log buffer is not poisoned")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_api_key_appears_in_no_log_line_error_or_debug_output() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start().await;
    // Servers that echo the key they were given, in every kind of answer.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_string(format!("bad key {KEY}")))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string(format!("crash with key {KEY}")))
        .up_to_n_times(4)
        .with_priority(2)
        .mount(&server)
        .await;
    completions_mock(
        &server,
        ResponseTemplate::new(200).set_body_raw(format!("not json {KEY}"), "text/plain"),
    )
    .await;

    let mut settings = settings(&format!("{}/v1", server.uri()));
    settings.api_key = Some(Secret::new(KEY));
    settings.api_key_env = Some("PROVER_KEY".into());
    let client = client(settings.clone());
    let request = non_streaming(&PromptFormat::DeepSeekProverV2);
    let mut texts = vec![
        format!("{settings:?}"),
        format!("{client:?}"),
        format!("{}", Secret::new(KEY)),
    ];
    // A fresh client each time: after a 401 a client stops asking that endpoint for a while.
    for _ in 0..3 {
        let error = self::client(settings.clone())
            .complete(&request)
            .await
            .expect_err("every answer is an error");
        tracing::error!(%error, ?error, "model request failed");
        texts.push(error.to_string());
        texts.push(format!("{error:?}"));
    }
    let log = String::from_utf8_lossy(&captured.0.lock().expect("not poisoned")).into_owned();
    assert!(
        log.contains("model request"),
        "TRACE output was captured: {log}"
    );
    texts.push(log);
    for text in &texts {
        assert!(!text.contains(KEY), "the key leaked into: {text}");
        assert!(
            !text.contains(&KEY[3..15]),
            "part of the key leaked into: {text}"
        );
    }
    assert!(
        texts.iter().any(|t| t.contains("crash with key ***")),
        "server text is kept, key scrubbed"
    );
    // The key was really sent, so the test would catch a leak.
    let requests = server.received_requests().await.expect("recorded");
    assert!(
        requests
            .iter()
            .all(|r| r.headers.get("authorization").is_some())
    );
}

#[tokio::test]
async fn a_refused_key_stops_requests_to_that_endpoint_instead_of_asking_again() {
    let server = MockServer::start().await;
    completions_mock(
        &server,
        ResponseTemplate::new(401).set_body_string("bad key"),
    )
    .await;
    let mut settings = settings(&format!("{}/v1", server.uri()));
    settings.api_key_env = Some("PROVER_KEY".into());
    let client = client(settings);
    let request = non_streaming(&PromptFormat::DeepSeekProverV2);
    for _ in 0..5 {
        let error = client
            .complete(&request)
            .await
            .expect_err("a refused key is an error");
        assert!(
            error.to_string().contains("check the API key PROVER_KEY")
                || error.to_string().contains("PROVER_KEY"),
            "the error says which key: {error}"
        );
    }
    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(
        requests.len(),
        1,
        "the same key is not sent again and again"
    );
}
