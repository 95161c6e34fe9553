//! The proxy's own stdin and stdout as non-blocking async streams.
//!
//! `tokio::io::stdin`/`stdout` hand every read and write to a blocking thread, which adds
//! a thread hop to each frame. Editors connect the server's stdio through pipes (VS Code)
//! or socket pairs (libuv, so Neovim), both of which the reactor can drive directly;
//! anything else (a terminal, a file) falls back to tokio's blocking handles.

use tokio::io::{AsyncRead, AsyncWrite};

/// An owned async reader.
pub type BoxedReader = Box<dyn AsyncRead + Unpin + Send>;
/// An owned async writer.
pub type BoxedWriter = Box<dyn AsyncWrite + Unpin + Send>;

/// The pipe buffer asked for: one common large frame fits, so a big message moves in one
/// write and one read instead of sixteen wake-ups at the default 64 KiB.
#[cfg(target_os = "linux")]
const PIPE_BUFFER_BYTES: usize = 1024 * 1024;

/// Enlarges the kernel buffer of `fd` when it is a pipe (Linux); anything else, or a
/// refusal (the limit in `/proc/sys/fs/pipe-max-size`), leaves it as it is.
#[cfg(unix)]
pub fn enlarge_pipe_buffer<Fd: std::os::fd::AsFd>(fd: Fd) {
    #[cfg(target_os = "linux")]
    {
        let _ = rustix::pipe::fcntl_setpipe_size(fd, PIPE_BUFFER_BYTES);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = fd;
}

/// The process's stdin as an async reader. Must be called inside a tokio runtime.
pub fn stdin() -> BoxedReader {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(reader) = unix::reader(std::io::stdin().as_fd()) {
            return reader;
        }
    }
    Box::new(tokio::io::stdin())
}

/// The process's stdout as an async writer. Must be called inside a tokio runtime.
pub fn stdout() -> BoxedWriter {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(writer) = unix::writer(std::io::stdout().as_fd()) {
            return writer;
        }
    }
    Box::new(tokio::io::stdout())
}

#[cfg(unix)]
mod unix {
    use std::fs::File;
    use std::io;
    use std::os::fd::{BorrowedFd, OwnedFd};
    use std::os::unix::fs::FileTypeExt;

    use tokio::net::unix::pipe;

    use super::{BoxedReader, BoxedWriter};

    enum Kind {
        Pipe(File),
        Socket(tokio::net::UnixStream),
    }

    /// Classifies a duplicate of `fd`; errors when it is neither a pipe nor a socket.
    fn classify(fd: BorrowedFd<'_>) -> io::Result<Kind> {
        let file = File::from(fd.try_clone_to_owned()?);
        let kind = file.metadata()?.file_type();
        if kind.is_fifo() {
            super::enlarge_pipe_buffer(&file);
            return Ok(Kind::Pipe(file));
        }
        if kind.is_socket() {
            let socket = std::os::unix::net::UnixStream::from(OwnedFd::from(file));
            socket.set_nonblocking(true)?;
            return Ok(Kind::Socket(tokio::net::UnixStream::from_std(socket)?));
        }
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "neither a pipe nor a socket",
        ))
    }

    pub(super) fn reader(fd: BorrowedFd<'_>) -> io::Result<BoxedReader> {
        Ok(match classify(fd)? {
            Kind::Pipe(file) => Box::new(pipe::Receiver::from_file(file)?),
            Kind::Socket(socket) => Box::new(socket),
        })
    }

    pub(super) fn writer(fd: BorrowedFd<'_>) -> io::Result<BoxedWriter> {
        Ok(match classify(fd)? {
            Kind::Pipe(file) => Box::new(pipe::Sender::from_file(file)?),
            Kind::Socket(socket) => Box::new(socket),
        })
    }
}
