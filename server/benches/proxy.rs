//! What the proxy costs: request/response round-trip latency and 1 MiB-frame throughput
//! through `sorryfill serve`, each against a direct connection to the same server, measured
//! in the same run (the machine is noisy). The client is this bench process, the proxy
//! and the server are separate processes (the server is this bench binary re-executed as a
//! minimal echo server), so every figure includes the pipes and wake-ups a real editor
//! pays. Latency is measured twice: on the machine as it is ("idle"; the load average is
//! printed so the reader can judge), and under a load this bench makes itself (one busy
//! process per core, each stopping after a fixed time at most).
#![allow(clippy::print_stdout)]

mod common;

use common::read_frame;
use std::io::{BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use sorryfill::transport::Envelope;

const ROLE: &str = "SORRYFILL_BENCH_ROLE";
const WARMUP: usize = 300;
/// Round trips per connection and phase, in batches that alternate between the two
/// connections so a burst of outside load hits both alike.
const ROUND_TRIPS: usize = 3000;
const BATCH: usize = 250;
const BIG_FRAMES: usize = 64;
const THROUGHPUT_ROUNDS: usize = 7;
/// The longest a load process runs, should the bench die without stopping it.
const LOAD_LIMIT: Duration = Duration::from_secs(120);

fn main() {
    match std::env::var(ROLE).as_deref() {
        Ok("echo") => return echo_server(),
        Ok("load") => return busy_load(),
        _ => {}
    }
    let log_dir = tempfile::tempdir().expect("a temporary folder can be made");
    let me = std::env::current_exe().expect("the bench knows its own path");
    let direct = || {
        let mut command = Command::new(&me);
        command.env(ROLE, "echo");
        command
    };
    let proxied = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sorryfill"));
        // `serve` keeps its store in the working folder: never the repository.
        command
            .current_dir(log_dir.path())
            .env(ROLE, "echo")
            .arg("serve")
            .arg("--log-file")
            .arg(log_dir.path().join("proxy.log"))
            .arg("--")
            .arg(&me);
        command
    };

    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!(
        "machine: {cores} cores, load average before the run: {}",
        load_average()
    );
    latency_phase("idle (the machine as it is)", direct(), proxied());
    let load: Vec<Child> = (0..cores)
        .map(|_| {
            Command::new(&me)
                .env(ROLE, "load")
                .spawn()
                .expect("a load process starts")
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    latency_phase(
        &format!("loaded ({cores} busy processes of this bench)"),
        direct(),
        proxied(),
    );
    for mut child in load {
        let _ = child.kill();
        let _ = child.wait();
    }

    // Each round measures both, in alternating order, and the ratio is taken within the
    // round, so a burst of load from other processes on the machine moves both numbers
    // of a round together instead of deciding the ratio; the median round is reported.
    let mut rounds = Vec::with_capacity(THROUGHPUT_ROUNDS);
    println!("throughput ({BIG_FRAMES} frames of 1 MiB per run):");
    for round in 0..THROUGHPUT_ROUNDS {
        let (direct_rate, proxied_rate) = if round % 2 == 0 {
            let d = throughput(direct());
            (d, throughput(proxied()))
        } else {
            let p = throughput(proxied());
            (throughput(direct()), p)
        };
        let ratio = proxied_rate / direct_rate;
        println!(
            "  round {round}  direct {direct_rate:>8.1} MiB/s   proxied {proxied_rate:>8.1} MiB/s   ratio {:>5.1} %",
            100.0 * ratio
        );
        rounds.push((ratio, direct_rate, proxied_rate));
    }
    rounds.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (ratio, direct_rate, proxied_rate) = rounds[rounds.len() / 2];
    println!("  median round of {THROUGHPUT_ROUNDS}:");
    println!("  direct   {direct_rate:>8.1} MiB/s");
    println!("  proxied  {proxied_rate:>8.1} MiB/s");
    println!("  ratio    {:>8.1} %   (target: >= 90 %)", 100.0 * ratio);
    println!("load average after the run: {}", load_average());
}

/// Measures round trips on a direct and a proxied connection, alternating batches, and
/// prints both distributions, the added latency and the ratio.
fn latency_phase(name: &str, direct: Command, proxied: Command) {
    println!("round trip, {name}; load average {}:", load_average());
    let mut direct = Peer::start(direct);
    let mut proxied = Peer::start(proxied);
    pings(&mut direct, WARMUP);
    pings(&mut proxied, WARMUP);
    let (mut direct_rtt, mut proxied_rtt) = (Vec::new(), Vec::new());
    for batch in 0..ROUND_TRIPS / BATCH {
        if batch % 2 == 0 {
            direct_rtt.extend(pings(&mut direct, BATCH));
            proxied_rtt.extend(pings(&mut proxied, BATCH));
        } else {
            proxied_rtt.extend(pings(&mut proxied, BATCH));
            direct_rtt.extend(pings(&mut direct, BATCH));
        }
    }
    direct.finish();
    proxied.finish();
    direct_rtt.sort_unstable();
    proxied_rtt.sort_unstable();
    let (d50, d99) = (percentile(&direct_rtt, 0.50), percentile(&direct_rtt, 0.99));
    let (p50, p99) = (
        percentile(&proxied_rtt, 0.50),
        percentile(&proxied_rtt, 0.99),
    );
    println!(
        "  direct   p50 {:>8.1} µs   p99 {:>8.1} µs",
        micros(d50),
        micros(d99)
    );
    println!(
        "  proxied  p50 {:>8.1} µs   p99 {:>8.1} µs",
        micros(p50),
        micros(p99)
    );
    println!(
        "  added    p50 {:>8.1} µs   p99 {:>8.1} µs   ratio p50 {:.2}x   (target when idle: <= 50 µs and <= 1.2x)",
        micros(p50.saturating_sub(d50)),
        micros(p99.saturating_sub(d99)),
        p50.as_secs_f64() / d50.as_secs_f64()
    );
}

/// The 1-minute load average, as the kernel reports it.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Keeps one core busy until killed, or until [`LOAD_LIMIT`].
fn busy_load() {
    let started = Instant::now();
    let mut x: u64 = 1;
    while started.elapsed() < LOAD_LIMIT {
        for _ in 0..1_000_000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index]
}

struct Peer {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    next_id: u64,
}

impl Peer {
    fn start(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let input = child.stdin.take().expect("piped");
        let output = BufReader::new(child.stdout.take().expect("piped"));
        let mut peer = Self {
            child,
            input,
            output,
            next_id: 0,
        };
        peer.send(br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}"#);
        peer.receive();
        peer.send(br#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#);
        peer
    }

    fn send(&mut self, body: &[u8]) {
        write!(self.input, "Content-Length: {}\r\n\r\n", body.len()).expect("writable");
        self.input.write_all(body).expect("writable");
        self.input.flush().expect("writable");
    }

    fn receive(&mut self) -> Vec<u8> {
        read_frame(&mut self.output).expect("the server answers")
    }

    fn finish(mut self) {
        self.send(br#"{"jsonrpc":"2.0","method":"exit"}"#);
        drop(self.input);
        let _ = self.child.wait();
    }
}

/// `count` round trips on `peer`, each timed.
fn pings(peer: &mut Peer, count: usize) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        peer.next_id += 1;
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{},"method":"$/lean/plainGoal","params":{{"textDocument":{{"uri":"file:///p/A.lean"}},"position":{{"line":3,"character":7}}}}}}"#,
            peer.next_id
        );
        let started = Instant::now();
        peer.send(body.as_bytes());
        peer.receive();
        samples.push(started.elapsed());
    }
    samples
}

fn throughput(command: Command) -> f64 {
    let mut peer = Peer::start(command);
    let blob = "x".repeat(1 << 20);
    let body = format!(r#"{{"jsonrpc":"2.0","method":"$/bench/blob","params":{{"b":"{blob}"}}}}"#);
    // One warm-up frame so both runs start with the pipes and buffers in use.
    peer.send(body.as_bytes());
    peer.send(br#"{"jsonrpc":"2.0","id":"sync0","method":"bench/sync"}"#);
    peer.receive();
    let started = Instant::now();
    for _ in 0..BIG_FRAMES {
        peer.send(body.as_bytes());
    }
    peer.send(br#"{"jsonrpc":"2.0","id":"sync","method":"bench/sync"}"#);
    peer.receive();
    let elapsed = started.elapsed().as_secs_f64();
    peer.finish();
    (BIG_FRAMES * body.len()) as f64 / (1024.0 * 1024.0) / elapsed
}

/// Answers every request with a `null` result; ends on `exit` or end of input. It reads
/// each message with serde_json, as a server decodes what it receives, and independently
/// of the proxy's own envelope scanner, so "direct" does not change when the proxy does.
fn echo_server() {
    let stdin = std::io::stdin();
    let mut input = BufReader::with_capacity(1 << 20, stdin.lock());
    let stdout = std::io::stdout();
    let mut output = stdout.lock();
    while let Some(body) = read_frame(&mut input) {
        let Ok(envelope) = serde_json::from_slice::<Envelope>(&body) else {
            continue;
        };
        if envelope.method.as_deref() == Some("exit") {
            return;
        }
        if let (Some(id), Some(_)) = (envelope.id_text(), &envelope.method) {
            let reply = format!(r#"{{"id":{id},"jsonrpc":"2.0","result":null}}"#);
            write!(output, "Content-Length: {}\r\n\r\n{reply}", reply.len()).expect("writable");
            output.flush().expect("writable");
        }
    }
}
