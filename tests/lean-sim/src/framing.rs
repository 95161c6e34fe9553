//! LSP base-protocol framing: `Content-Length: N\r\n\r\n<json>`.
//!
//! Lean requires `Content-Length` and parses every header line as `Name: value\r\n`; other
//! headers are accepted and ignored. Reading never panics on malformed input: it reports an error
//! that the server treats as a fatal protocol violation, as Lean does.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The stream ended (cleanly, between frames).
    #[error("end of input")]
    Eof,
    /// The stream broke off or an I/O error happened.
    #[error("i/o error reading a frame: {0}")]
    Io(#[from] std::io::Error),
    /// A header line was not `Name: value`, or `Content-Length` was missing or not a number.
    #[error("malformed header: {0}")]
    Header(String),
}

/// Reads one frame's body. Returns [`FrameError::Eof`] when the input ends before a header.
pub async fn read_frame<R: AsyncBufRead + Unpin>(reader: &mut R) -> Result<Vec<u8>, FrameError> {
    let mut content_length: Option<usize> = None;
    let mut saw_header = false;
    loop {
        let mut line = String::new();
        let read = reader.read_line(&mut line).await?;
        if read == 0 {
            return if saw_header {
                Err(FrameError::Header("input ended inside a header".into()))
            } else {
                Err(FrameError::Eof)
            };
        }
        saw_header = true;
        let trimmed = line.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            break;
        }
        let Some((name, value)) = trimmed.split_once(':') else {
            return Err(FrameError::Header(trimmed.to_owned()));
        };
        if name.trim().eq_ignore_ascii_case("content-length") {
            let length = value
                .trim()
                .parse::<usize>()
                .map_err(|_| FrameError::Header(trimmed.to_owned()))?;
            content_length = Some(length);
        }
    }
    let length =
        content_length.ok_or_else(|| FrameError::Header("missing Content-Length".into()))?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    Ok(body)
}

/// Wraps a JSON body in a frame with the single header Lean writes.
pub fn encode_frame(body: &str) -> Vec<u8> {
    let mut frame = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    frame.extend_from_slice(body.as_bytes());
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_consecutive_frames_and_reports_eof() {
        let mut input: &[u8] =
            b"Content-Length: 2\r\n\r\n{}Content-Type: x\r\nContent-Length: 4\r\n\r\nnull";
        assert_eq!(read_frame(&mut input).await.ok(), Some(b"{}".to_vec()));
        assert_eq!(read_frame(&mut input).await.ok(), Some(b"null".to_vec()));
        assert!(matches!(read_frame(&mut input).await, Err(FrameError::Eof)));
    }

    #[tokio::test]
    async fn rejects_a_frame_without_content_length() {
        let mut input: &[u8] = b"X-Other: 1\r\n\r\n{}";
        assert!(matches!(
            read_frame(&mut input).await,
            Err(FrameError::Header(_))
        ));
    }
}
