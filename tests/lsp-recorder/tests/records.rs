//! The recorder itself, driven over real pipes: the proxy tests trust its recording and its
//! scripted answers, so both are checked here. (This test also makes `cargo test --workspace`
//! build the `lsp-recorder` binary that sorryfill's integration tests start.)

use std::io::{Read, Write};
use std::process::{Command, Stdio};

fn frame(body: &str) -> Vec<u8> {
    format!("Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

#[test]
fn it_records_every_frame_byte_for_byte_and_emits_what_it_is_told() {
    let dir = std::env::temp_dir().join(format!("lsp-recorder-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let record = dir.join("record.bin");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lsp-recorder"))
        .args(["--record", record.to_str().expect("a UTF-8 path"), "--echo"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the recorder starts");
    let request = r#"{"jsonrpc":"2.0","id":"x-1","method":"unknown/method","params":{"ü":[1,2]}}"#;
    let emit = r#"{"jsonrpc":"2.0","method":"$/recorder/emit","params":{"bodies":["{\"n\":1}"]}}"#;
    let mut input = child.stdin.take().expect("stdin is piped");
    input.write_all(&frame(request)).expect("write");
    input.write_all(&frame(emit)).expect("write");
    drop(input);
    let mut output = String::new();
    child
        .stdout
        .take()
        .expect("stdout is piped")
        .read_to_string(&mut output)
        .expect("read");
    assert!(
        child.wait().expect("it exits").success(),
        "end of input ends it cleanly"
    );

    let recorded = std::fs::read(&record).expect("the record file");
    assert_eq!(recorded, [frame(request), frame(emit)].concat());
    assert!(
        output.contains(r#""id":"x-1""#),
        "the echo keeps the id: {output}"
    );
    assert!(
        output.ends_with("Content-Length: 7\r\n\r\n{\"n\":1}"),
        "{output}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
