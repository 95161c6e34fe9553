//! Capturing a session's raw frames, both ways, with timestamps (`--capture DIR`), so a
//! user with a real Lean toolchain can send a transcript that becomes a lean-sim test.
//!
//! The format (documented for users in `docs/capture.md`) is a text header line, then one
//! record per frame: a line `<micros> <direction> <length>` followed by exactly `<length>`
//! body bytes and a newline. Bodies are written byte for byte, so a capture is exact
//! whatever the frames contain.
//!
//! Invariants: recording never blocks or fails the proxy: the pipes' tasks only clone a
//! `Bytes` handle and push it on a channel, and a thread of its own writes the file (a
//! write error ends the capture, logged once). A frame waiting for that thread keeps its
//! read-budget charge, so a slow disk slows the readers instead of growing memory. The
//! session ends with [`Capture::flushed`], so the last frames (an `exit`, Lean's last words)
//! are on disk before the process exits. Without `--capture` nothing of this runs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

/// The first line of every capture; the number is the format's version.
pub const CAPTURE_MAGIC: &str = "sorryfill-capture 1";

/// Which way a captured frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Read from the editor.
    FromEditor,
    /// Written to Lean.
    ToLean,
    /// Read from Lean.
    FromLean,
    /// Written to the editor.
    ToEditor,
}

impl Direction {
    /// The direction's word in the capture file.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::FromEditor => "from-editor",
            Direction::ToLean => "to-lean",
            Direction::FromLean => "from-lean",
            Direction::ToEditor => "to-editor",
        }
    }
}

struct Record {
    micros: u128,
    direction: Direction,
    body: Bytes,
}

/// What the writer thread receives: a frame, or a request to say when everything before it
/// is on disk.
enum Message {
    Record(Record),
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// A capture being written; clones write to the same file.
#[derive(Debug, Clone)]
pub struct Capture {
    records: mpsc::Sender<Message>,
    started: Instant,
    path: PathBuf,
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.micros,
            self.direction.as_str(),
            self.body.len()
        )
    }
}

impl Capture {
    /// Starts a new capture file in `dir` (created if missing), named after the time and
    /// the process, so sessions never overwrite each other.
    pub fn create(dir: &Path) -> std::io::Result<Capture> {
        std::fs::create_dir_all(dir)?;
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let pid = std::process::id();
        let path = dir.join(format!("sorryfill-{}-{pid}.capture", wall.as_millis()));
        let file = std::fs::OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(&path)?;
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, file);
        writeln!(
            out,
            "{CAPTURE_MAGIC} started-unix-ms={} pid={pid}",
            wall.as_millis()
        )?;
        out.flush()?;
        let (records, incoming) = mpsc::channel::<Message>();
        let shown = path.clone();
        std::thread::Builder::new()
            .name("sorryfill-capture".into())
            .spawn(move || {
                if let Err(error) = write_records(&mut out, &incoming) {
                    tracing::error!(%error, path = %shown.display(), "the capture stopped");
                }
            })?;
        tracing::info!(path = %path.display(), "capturing every frame");
        Ok(Capture {
            records,
            started: Instant::now(),
            path,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records one frame body.
    pub fn record(&self, direction: Direction, body: &Bytes) {
        let record = Record {
            micros: self.started.elapsed().as_micros(),
            direction,
            body: body.clone(),
        };
        // A stopped capture thread has logged why; the session goes on.
        let _ = self.records.send(Message::Record(record));
    }

    /// Waits until every frame recorded so far is written and flushed, at most `within`;
    /// false when the writer did not confirm in time (or has stopped, and logged why).
    pub async fn flushed(&self, within: std::time::Duration) -> bool {
        let (done, written) = tokio::sync::oneshot::channel();
        if self.records.send(Message::Flush(done)).is_err() {
            return false;
        }
        matches!(tokio::time::timeout(within, written).await, Ok(Ok(())))
    }
}

/// Writes records until every sender is gone, flushing whenever none is waiting and before
/// answering a flush request.
fn write_records(out: &mut impl Write, incoming: &mpsc::Receiver<Message>) -> std::io::Result<()> {
    while let Ok(first) = incoming.recv() {
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Record(record) => {
                    writeln!(
                        out,
                        "{} {} {}",
                        record.micros,
                        record.direction.as_str(),
                        record.body.len()
                    )?;
                    out.write_all(&record.body)?;
                    out.write_all(b"\n")?;
                }
                Message::Flush(done) => {
                    out.flush()?;
                    let _ = done.send(());
                }
            }
            next = incoming.try_recv().ok();
        }
        out.flush()?;
    }
    out.flush()
}

/// One record read back from a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedFrame {
    /// Microseconds since the capture started.
    pub micros: u64,
    /// The direction's word (`from-editor`, `to-lean`, `from-lean`, `to-editor`).
    pub direction: String,
    /// The body, byte for byte.
    pub body: Vec<u8>,
}

/// Why a capture could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file does not start with [`CAPTURE_MAGIC`].
    #[error("not a sorryfill capture (the first line is not `{CAPTURE_MAGIC} ...`)")]
    NotACapture,
    /// A record line or body is cut or malformed.
    #[error("record {index} is malformed at byte {offset}")]
    Malformed {
        /// The record's number, from 0.
        index: usize,
        /// Where in the file.
        offset: usize,
    },
}

/// Reads a whole capture. A record cut by the end of the file (the proxy was killed while
/// writing) is an error naming it, so a truncated transcript is never taken as complete.
pub fn read_capture(bytes: &[u8]) -> Result<Vec<CapturedFrame>, CaptureError> {
    let header_end = memchr::memchr(b'\n', bytes).ok_or(CaptureError::NotACapture)?;
    if !bytes[..header_end].starts_with(CAPTURE_MAGIC.as_bytes()) {
        return Err(CaptureError::NotACapture);
    }
    let mut offset = header_end + 1;
    let mut frames = Vec::new();
    while offset < bytes.len() {
        let malformed = CaptureError::Malformed {
            index: frames.len(),
            offset,
        };
        let line_end = match memchr::memchr(b'\n', &bytes[offset..]) {
            Some(end) => offset + end,
            None => return Err(malformed),
        };
        let line =
            std::str::from_utf8(&bytes[offset..line_end]).map_err(|_| CaptureError::Malformed {
                index: frames.len(),
                offset,
            })?;
        let mut fields = line.split(' ');
        let (Some(micros), Some(direction), Some(len), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(malformed);
        };
        let (Ok(micros), Ok(len)) = (micros.parse::<u64>(), len.parse::<usize>()) else {
            return Err(malformed);
        };
        let body_start = line_end + 1;
        let body_end = body_start.saturating_add(len);
        if bytes.get(body_end) != Some(&b'\n') {
            return Err(malformed);
        }
        frames.push(CapturedFrame {
            micros,
            direction: direction.to_owned(),
            body: bytes[body_start..body_end].to_vec(),
        });
        offset = body_end + 1;
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_reads_back_byte_for_byte_in_order() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let capture = Capture::create(dir.path()).expect("the capture starts");
        let path = capture.path().to_path_buf();
        let bodies = [
            (Direction::FromEditor, Bytes::from_static(b"{\"id\":1}")),
            (
                Direction::ToLean,
                Bytes::from_static(b"{\"a\":\"line\\nbreak\"}\n\n"),
            ),
            (Direction::FromLean, Bytes::from_static(b"")),
            (Direction::ToEditor, Bytes::from(vec![0xff, b'\n', 0])),
        ];
        for (direction, body) in &bodies {
            capture.record(*direction, body);
        }
        // The proxy's end of session: everything recorded is on disk once this returns true.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime");
        assert!(runtime.block_on(capture.flushed(std::time::Duration::from_secs(10))));
        let bytes = std::fs::read(&path).expect("the capture exists");
        let frames = read_capture(&bytes).expect("a whole capture");
        assert_eq!(frames.len(), bodies.len());
        for ((direction, body), frame) in bodies.iter().zip(&frames) {
            assert_eq!(frame.direction, direction.as_str());
            assert_eq!(frame.body, body.to_vec());
        }
        assert!(frames.windows(2).all(|w| w[0].micros <= w[1].micros));
    }

    #[test]
    fn a_cut_or_foreign_file_is_refused() {
        assert!(matches!(
            read_capture(b"hello\n"),
            Err(CaptureError::NotACapture)
        ));
        let cut = format!("{CAPTURE_MAGIC}\n12 to-lean 10\n{{}}");
        assert!(matches!(
            read_capture(cut.as_bytes()),
            Err(CaptureError::Malformed { index: 0, .. })
        ));
        let whole = format!("{CAPTURE_MAGIC} x\n12 to-lean 2\n{{}}\n");
        assert_eq!(read_capture(whole.as_bytes()).expect("whole").len(), 1);
    }
}
