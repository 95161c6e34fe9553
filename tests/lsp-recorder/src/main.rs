//! `lsp-recorder`: a stand-in for Lean in sorryfill's proxy tests.
//!
//! It appends every frame it receives, exactly as received (body bytes, with a fresh
//! `Content-Length` header), to `--record FILE`, and obeys control notifications that the
//! test client sends THROUGH the proxy (they are recorded too):
//! - `$/recorder/emit {"bodies": [string]}`: writes each string verbatim as a frame body;
//! - `$/recorder/raw {"bytes": string}`: writes the string's bytes raw (broken framing);
//! - `$/recorder/burst {"count": n, "bytes": m}`: writes `n` notifications `$/burst` of
//!   `m` bytes each (`params.i` counts from 0, `params.pad` fills), as fast as the pipe
//!   takes them (a large burst that blocks when nobody reads);
//! - `$/recorder/exit {"code": n}`: exits with status `n` (a crash);
//! - `$/recorder/hang`: from now on ignores `exit` and end of input (a stuck server).
//!
//! With `--echo` it answers every request with `{"id": <same id>, "result": <params>}`.
//! `exit` or end of input ends it with status 0. `--pid-file FILE` records its pid.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};

fn main() {
    let mut record: Option<File> = None;
    let mut echo = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--record" => {
                let path = args.next().expect("--record needs a path");
                record = Some(File::create(path).expect("the record file can be created"));
            }
            "--pid-file" => {
                let path = args.next().expect("--pid-file needs a path");
                std::fs::write(path, std::process::id().to_string())
                    .expect("the pid file can be written");
            }
            "--echo" => echo = true,
            other => panic!("unknown argument {other}"),
        }
    }
    let stdin = std::io::stdin();
    let mut input = BufReader::new(stdin.lock());
    let stdout = std::io::stdout();
    let mut output = stdout.lock();
    let mut hang = false;
    while let Some(body) = read_frame(&mut input) {
        if let Some(file) = record.as_mut() {
            write_frame(file, &body);
            file.flush().expect("the record file is writable");
        }
        let Ok(message) = serde_json::from_slice::<serde_json::Value>(&body) else {
            continue;
        };
        let method = message.get("method").and_then(|m| m.as_str()).unwrap_or("");
        let params = message
            .get("params")
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        match method {
            "$/recorder/emit" => {
                for body in params["bodies"].as_array().into_iter().flatten() {
                    write_frame(&mut output, body.as_str().unwrap_or("").as_bytes());
                }
            }
            "$/recorder/raw" => {
                let bytes = params["bytes"].as_str().unwrap_or("");
                output
                    .write_all(bytes.as_bytes())
                    .expect("stdout is writable");
            }
            "$/recorder/exit" => {
                output.flush().expect("stdout is writable");
                std::process::exit(params["code"].as_i64().unwrap_or(1) as i32);
            }
            "$/recorder/burst" => {
                let count = params["count"].as_u64().unwrap_or(0);
                let bytes = params["bytes"].as_u64().unwrap_or(0) as usize;
                for i in 0..count {
                    write_frame(&mut output, &burst_body(i, bytes));
                }
            }
            "$/recorder/hang" => hang = true,
            "exit" if !hang => break,
            _ => {
                if echo
                    && let Some(id) = message.get("id")
                    && !method.is_empty()
                {
                    let reply = serde_json::json!({"id": id, "jsonrpc": "2.0", "result": params});
                    write_frame(&mut output, reply.to_string().as_bytes());
                }
            }
        }
        output.flush().expect("stdout is writable");
    }
    if hang {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(60));
        }
    }
}

/// One frame of a burst: `{"jsonrpc":"2.0","method":"$/burst","params":{"i":i,"pad":"ab…"}}`
/// padded to `bytes` bytes (or as short as it can be), the pad cycling through the alphabet
/// so a reordered or mangled chunk shows.
fn burst_body(i: u64, bytes: usize) -> Vec<u8> {
    let head = format!(r#"{{"jsonrpc":"2.0","method":"$/burst","params":{{"i":{i},"pad":""#);
    let tail = "\"}}";
    let pad = bytes.saturating_sub(head.len() + tail.len());
    let mut body = Vec::with_capacity(bytes);
    body.extend_from_slice(head.as_bytes());
    body.extend((0..pad).map(|k| b'a' + ((k as u64 + i) % 26) as u8));
    body.extend_from_slice(tail.as_bytes());
    body
}

fn write_frame(out: &mut impl Write, body: &[u8]) {
    write!(out, "Content-Length: {}\r\n\r\n", body.len()).expect("the output is writable");
    out.write_all(body).expect("the output is writable");
}

/// Reads one frame body; `None` at end of input.
fn read_frame(input: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if input.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            if length.is_some() {
                break;
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    input.read_exact(&mut body).ok()?;
    Some(body)
}
