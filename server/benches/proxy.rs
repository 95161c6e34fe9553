//! What the proxy costs: request/response round-trip latency and 1 MiB-frame throughput
//! through `sorryfill serve`, each against a direct connection to the same server, measured
//! in the same run (the machine is noisy). The client is this bench process, the proxy
//! and the server are separate processes (the server is this bench binary re-executed as a
//! minimal echo server), so every figure includes the pipes and wake-ups a real editor
//! pays. Latency is measured twice: on the machine as it is ("idle"; the load average is
//! printed so the reader can judge), and under a load this bench makes itself (one busy
//! process per core, each stopping after a fixed time at most).
//!
//! A third connection, the byte relay, is the reference for a proxy like sorryfill: the same
//! single-threaded runtime and non-blocking stdio, copying bytes both ways and looking at none
//! of them. It adds the two process wake-ups and two pipe copies to every round trip that any
//! proxy in its own process adds; what sorryfill adds beyond it is the cost of routing
//! (framing, JSON validation, the router), which is what sorryfill's own code can reduce.
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
        Ok("relay") => return byte_relay(),
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
    let relayed = || {
        let mut command = Command::new(&me);
        command.env(ROLE, "relay");
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
    // `SORRYFILL_BENCH_PHASE=throughput` skips the latency phases (for profiling one part).
    if std::env::var("SORRYFILL_BENCH_PHASE").as_deref() != Ok("throughput") {
        latency_phase(
            "idle (the machine as it is)",
            [direct(), relayed(), proxied()],
        );
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
            [direct(), relayed(), proxied()],
        );
        for mut child in load {
            let _ = child.kill();
            let _ = child.wait();
        }
        on_one_core(|| {
            latency_phase(
                "on one core (every process pinned to one core, so no wake-up crosses cores: \
                 what the relay and the proxy add is their hop and their own work)",
                [direct(), relayed(), proxied()],
            )
        });
    }

    // Each round measures all three, in an order that turns from round to round, and the
    // ratios are taken within the round, so a burst of load from other processes on the
    // machine moves the numbers of a round together instead of deciding a ratio; the round
    // with the median proxied/direct ratio is reported.
    let mut rounds = Vec::with_capacity(THROUGHPUT_ROUNDS);
    println!("throughput ({BIG_FRAMES} frames of 1 MiB per run):");
    for round in 0..THROUGHPUT_ROUNDS {
        let mut rates = [0.0; 3];
        for turn in 0..3 {
            let which = (round + turn) % 3;
            let command = match which {
                0 => direct(),
                1 => relayed(),
                _ => proxied(),
            };
            rates[which] = throughput(command);
        }
        let [direct_rate, relay_rate, proxied_rate] = rates;
        println!(
            "  round {round}  direct {direct_rate:>8.1}  relay {relay_rate:>8.1}  proxied {proxied_rate:>8.1} MiB/s   proxied/direct {:>5.1} %   proxied/relay {:>5.1} %",
            100.0 * proxied_rate / direct_rate,
            100.0 * proxied_rate / relay_rate,
        );
        rounds.push(rates);
    }
    rounds.sort_by(|a, b| (a[2] / a[0]).total_cmp(&(b[2] / b[0])));
    let [direct_rate, relay_rate, proxied_rate] = rounds[rounds.len() / 2];
    println!("  median round of {THROUGHPUT_ROUNDS}:");
    println!("  direct   {direct_rate:>8.1} MiB/s");
    println!("  relay    {relay_rate:>8.1} MiB/s   (the same hop, no routing)");
    println!("  proxied  {proxied_rate:>8.1} MiB/s");
    println!(
        "  ratio    {:>8.1} % of direct (target: >= 90 %), {:.1} % of the relay",
        100.0 * proxied_rate / direct_rate,
        100.0 * proxied_rate / relay_rate
    );
    println!("load average after the run: {}", load_average());
}

/// Measures round trips on a direct, a relayed and a proxied connection, in batches whose
/// order turns, and prints the three distributions, what the relay and the proxy add, and
/// the ratios.
fn latency_phase(name: &str, commands: [Command; 3]) {
    println!("round trip, {name}; load average {}:", load_average());
    let mut peers = commands.map(Peer::start);
    for peer in &mut peers {
        pings(peer, WARMUP);
    }
    let mut samples: [Vec<Duration>; 3] = Default::default();
    for batch in 0..ROUND_TRIPS / BATCH {
        for turn in 0..3 {
            let which = (batch + turn) % 3;
            samples[which].extend(pings(&mut peers[which], BATCH));
        }
    }
    for peer in peers {
        peer.finish();
    }
    let [p50, p99] = [0.50, 0.99].map(|q| {
        samples.each_mut().map(|s| {
            s.sort_unstable();
            percentile(s, q)
        })
    });
    for (which, label) in ["direct ", "relay  ", "proxied"].iter().enumerate() {
        println!(
            "  {label}  p50 {:>8.1} µs   p99 {:>8.1} µs",
            micros(p50[which]),
            micros(p99[which])
        );
    }
    let added = |which: usize, over: usize| {
        (
            micros(p50[which].saturating_sub(p50[over])),
            p50[which].as_secs_f64() / p50[over].as_secs_f64(),
        )
    };
    let (relay_added, relay_ratio) = added(1, 0);
    let (proxy_added, proxy_ratio) = added(2, 0);
    let (over_relay, over_relay_ratio) = added(2, 1);
    println!(
        "  relay adds   p50 {relay_added:>8.1} µs   ratio {relay_ratio:.2}x   (the hop any proxy in its own process adds)"
    );
    println!(
        "  proxy adds   p50 {proxy_added:>8.1} µs   ratio {proxy_ratio:.2}x   (target when idle: <= 50 µs and <= 1.2x)"
    );
    println!(
        "  over relay   p50 {over_relay:>8.1} µs   ratio {over_relay_ratio:.2}x   (routing's own cost; 0 when the relay is slower)"
    );
}

/// Runs `phase` with this thread, and so every process it starts, pinned to the first core it
/// may run on; where pinning is not possible the phase is skipped with one line.
fn on_one_core(phase: impl FnOnce()) {
    #[cfg(target_os = "linux")]
    {
        use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};
        let Ok(allowed) = sched_getaffinity(None) else {
            println!("round trip on one core: skipped (the affinity cannot be read)");
            return;
        };
        let Some(first) = (0..CpuSet::MAX_CPU).find(|&cpu| allowed.is_set(cpu)) else {
            return;
        };
        let mut one = CpuSet::new();
        one.set(first);
        if sched_setaffinity(None, &one).is_err() {
            println!("round trip on one core: skipped (the affinity cannot be set)");
            return;
        }
        phase();
        // The throughput rounds that follow run on every core again.
        if sched_setaffinity(None, &allowed).is_err() {
            println!("the affinity could not be restored: the throughput below ran on one core");
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = phase;
        println!("round trip on one core: skipped (pinning is implemented for Linux only)");
    }
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

/// The reference for a proxy like sorryfill: the same single-threaded runtime, the same
/// non-blocking stdio and the same enlarged pipes to the echo server, copying bytes both ways
/// through a 64 KiB buffer and reading none of them. What sorryfill adds beyond this is
/// routing: framing, JSON validation and the router.
fn byte_relay() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime starts");
    runtime.block_on(async {
        let me = std::env::current_exe().expect("the bench knows its own path");
        let mut child = tokio::process::Command::new(me)
            .env(ROLE, "echo")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the echo server starts");
        let to_server = child.stdin.take().expect("piped");
        let from_server = child.stdout.take().expect("piped");
        sorryfill::transport::stdio::enlarge_pipe_buffer(&to_server);
        sorryfill::transport::stdio::enlarge_pipe_buffer(&from_server);
        let upstream = relay_bytes(sorryfill::transport::stdio::stdin(), to_server);
        let downstream = relay_bytes(from_server, sorryfill::transport::stdio::stdout());
        // The editor's end of input closes the server's, which ends its output.
        tokio::join!(upstream, downstream);
        let _ = child.wait().await;
    });
}

/// Copies `from` to `to` until the end of input or a broken pipe, then closes `to`.
async fn relay_bytes(
    mut from: impl tokio::io::AsyncRead + Unpin,
    mut to: impl tokio::io::AsyncWrite + Unpin,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0; 64 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buffer).await {
        if to.write_all(&buffer[..n]).await.is_err() || to.flush().await.is_err() {
            return;
        }
    }
    let _ = to.shutdown().await;
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
