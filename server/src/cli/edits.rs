//! Changing the user's files: splicing proofs into a file's text, showing the change as a
//! git-style unified diff, and writing it back atomically.
//!
//! Invariants:
//! - A file is only written when its content is still exactly what was read (same SHA-256, same
//!   length): an edit the user saved meanwhile is never overwritten. The check is repeated right
//!   before the rename to keep the window as small as the file system allows.
//! - A write is all or nothing: the new text goes to a temporary file in the same folder
//!   (`tempfile`'s `NamedTempFile`, removed on any failure), is synced to disk, takes the
//!   original file's permissions, and replaces the original by `persist` (a rename). An
//!   interrupted run leaves either the old file or the new one, never a mix.

use std::fs;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

/// Errors reading, editing or writing a file; each message names the file.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not UTF-8 text.
    #[error("{path} is not UTF-8 text")]
    NotUtf8 {
        /// The file.
        path: PathBuf,
    },
    /// The file changed on disk since it was read.
    #[error(
        "{path} changed on disk since sorryfill read it; it was left untouched (run again to prove the current version)"
    )]
    ChangedMeanwhile {
        /// The file.
        path: PathBuf,
    },
    /// The new text could not be written or moved into place.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A replacement does not fit the text (out of bounds, inside a character, or overlapping
    /// another replacement). This is a bug in the caller, reported instead of corrupting the file.
    #[error("invalid replacement at bytes {start}..{end}: {reason}")]
    BadReplacement {
        /// Start byte.
        start: usize,
        /// End byte.
        end: usize,
        /// What is wrong.
        reason: &'static str,
    },
}

/// What a file's content was when it was read, to detect changes before writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// Length in bytes.
    pub len: u64,
    /// Modification time, when the file system reports one (informative: the hash decides).
    pub modified: Option<SystemTime>,
    /// SHA-256 of the content.
    pub sha256: [u8; 32],
}

impl Fingerprint {
    /// The fingerprint of `bytes` with the given modification time.
    pub fn of(bytes: &[u8], modified: Option<SystemTime>) -> Self {
        Self {
            len: bytes.len() as u64,
            modified,
            sha256: Sha256::digest(bytes).into(),
        }
    }

    /// Whether `bytes` is the content this fingerprint was taken of.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        self.len == bytes.len() as u64 && self.sha256 == <[u8; 32]>::from(Sha256::digest(bytes))
    }
}

/// A Lean file as read from disk.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path it was read from.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
    /// Its content at read time.
    pub fingerprint: Fingerprint,
}

impl SourceFile {
    /// Reads a UTF-8 file and fingerprints it.
    pub fn read(path: &Path) -> Result<Self, EditError> {
        let read_error = |source| EditError::Read {
            path: path.to_path_buf(),
            source,
        };
        let modified = fs::metadata(path).map_err(read_error)?.modified().ok();
        let bytes = fs::read(path).map_err(read_error)?;
        let fingerprint = Fingerprint::of(&bytes, modified);
        let text = String::from_utf8(bytes).map_err(|_| EditError::NotUtf8 {
            path: path.to_path_buf(),
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            text,
            fingerprint,
        })
    }
}

/// One change: the bytes `range` of the original text become `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    /// Byte range in the original text.
    pub range: Range<usize>,
    /// The new text for that range.
    pub text: String,
}

/// Applies `replacements` (byte ranges of the original `text`, in any order, not overlapping) and
/// returns the new text.
pub fn apply_replacements(text: &str, replacements: &[Replacement]) -> Result<String, EditError> {
    let mut sorted: Vec<&Replacement> = replacements.iter().collect();
    sorted.sort_by_key(|r| (r.range.start, r.range.end));
    let mut out = String::with_capacity(text.len());
    let mut copied_up_to = 0;
    for replacement in sorted {
        let Range { start, end } = replacement.range;
        let bad = |reason| EditError::BadReplacement { start, end, reason };
        if start > end || end > text.len() {
            return Err(bad("out of the text's bounds"));
        }
        if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            return Err(bad("not on a character boundary"));
        }
        if start < copied_up_to {
            return Err(bad("overlaps another replacement"));
        }
        out.push_str(&text[copied_up_to..start]);
        out.push_str(&replacement.text);
        copied_up_to = end;
    }
    out.push_str(&text[copied_up_to..]);
    Ok(out)
}

/// A unified diff from `old` to `new` with git's `a/…` and `b/…` headers, three lines of
/// context; empty when the texts are equal. `display_path` is the path shown in the headers.
pub fn unified_diff(display_path: &Path, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    // Diffs are read on every platform: always show forward slashes.
    let shown = display_path.to_string_lossy().replace('\\', "/");
    let shown = shown.strip_prefix("./").unwrap_or(&shown);
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{shown}"), &format!("b/{shown}"))
        .to_string()
}

/// Replaces the content of `path` with `new_text`, but only if the file still has the content
/// `original` was taken of. See the module docs for the guarantees.
pub fn write_atomically(
    path: &Path,
    original: &Fingerprint,
    new_text: &str,
) -> Result<(), EditError> {
    ensure_unchanged(path, original)?;
    let write_error = |source| EditError::Write {
        path: path.to_path_buf(),
        source,
    };
    let permissions = fs::metadata(path).map_err(write_error)?.permissions();
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // A fresh hidden file next to the target, named after it; it is removed when dropped
    // unless it replaced the target.
    let stem = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{stem}.sorryfill-"))
        .suffix(".tmp")
        .tempfile_in(&folder)
        .map_err(write_error)?;
    let written = (|| {
        temp.write_all(new_text.as_bytes())?;
        temp.as_file().set_permissions(permissions)?;
        temp.as_file().sync_all()
    })();
    written.map_err(write_error)?;
    // The user may have saved while the temporary file was written.
    ensure_unchanged(path, original)?;
    temp.persist(path)
        .map_err(|refused| write_error(refused.error))?;
    sync_folder(&folder);
    Ok(())
}

fn ensure_unchanged(path: &Path, original: &Fingerprint) -> Result<(), EditError> {
    let current = fs::read(path).map_err(|source| EditError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if original.matches(&current) {
        Ok(())
    } else {
        Err(EditError::ChangedMeanwhile {
            path: path.to_path_buf(),
        })
    }
}

/// Makes the rename durable; best effort, since not every platform can sync a folder.
fn sync_folder(folder: &Path) {
    if let Ok(handle) = fs::File::open(folder) {
        let _ = handle.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replacement(range: Range<usize>, text: &str) -> Replacement {
        Replacement {
            range,
            text: text.to_owned(),
        }
    }

    #[test]
    fn replacements_apply_in_any_order() {
        let text = "a := sorry\nb := sorry\n";
        let new = apply_replacements(
            text,
            &[replacement(16..21, "rfl"), replacement(5..10, "by simp")],
        )
        .expect("valid replacements");
        assert_eq!(new, "a := by simp\nb := rfl\n");
    }

    #[test]
    fn overlapping_or_split_character_replacements_are_refused() {
        let text = "h : α := sorry";
        assert!(
            apply_replacements(text, &[replacement(0..3, "x"), replacement(2..4, "y")]).is_err()
        );
        // `α` is two bytes starting at byte 4.
        assert!(apply_replacements(text, &[replacement(5..6, "x")]).is_err());
        assert!(apply_replacements(text, &[replacement(10..99, "x")]).is_err());
    }

    #[test]
    fn diff_has_git_headers_and_only_changed_hunks() {
        let old = "theorem t : 1 = 1 := by\n  sorry\n";
        let new = "theorem t : 1 = 1 := by\n  rfl\n";
        let diff = unified_diff(Path::new("./Foo/Bar.lean"), old, new);
        assert!(
            diff.starts_with("--- a/Foo/Bar.lean\n+++ b/Foo/Bar.lean\n@@"),
            "{diff}"
        );
        assert!(diff.contains("\n-  sorry\n+  rfl\n"), "{diff}");
        assert_eq!(unified_diff(Path::new("x.lean"), old, old), "");
    }

    #[test]
    fn write_keeps_permissions_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("A.lean");
        fs::write(&path, "old\n").expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
        }
        let file = SourceFile::read(&path).expect("read");
        write_atomically(&path, &file.fingerprint, "new\n").expect("write");
        assert_eq!(fs::read_to_string(&path).expect("read back"), "new\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("metadata").permissions().mode();
            assert_eq!(mode & 0o777, 0o640);
        }
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("A.lean")]);
    }

    #[test]
    fn a_same_length_change_with_the_same_mtime_is_still_detected() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("A.lean");
        fs::write(&path, "sorry\n").expect("write");
        let file = SourceFile::read(&path).expect("read");
        fs::write(&path, "admit\n").expect("write");
        let error = write_atomically(&path, &file.fingerprint, "rfl\n").expect_err("refused");
        assert!(matches!(error, EditError::ChangedMeanwhile { .. }));
        assert!(error.to_string().contains("A.lean"), "{error}");
        assert_eq!(fs::read_to_string(&path).expect("read back"), "admit\n");
    }
}
