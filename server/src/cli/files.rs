//! Which files a CLI command works on: the paths the user named, with folders expanded to every
//! `.lean` file below them.
//!
//! Invariants: the result is sorted and free of duplicates (the same file named twice, or named
//! and also found under a named folder, appears once); folders are walked honouring
//! `.gitignore`, `.ignore` and git's global excludes even outside a git repository, and never
//! enter `.lake/` (Lake's build and package folder) or hidden folders. A file the user names
//! explicitly is taken even when an ignore file would have skipped it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Why the files could not be listed; each message names the path.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// A named path does not exist.
    #[error("{path}: no such file or folder")]
    Missing {
        /// The path as the user gave it.
        path: PathBuf,
    },
    /// A named file is not a `.lean` file.
    #[error("{path}: not a Lean file (expected a .lean file or a folder)")]
    NotLean {
        /// The path as the user gave it.
        path: PathBuf,
    },
    /// A folder could not be read.
    #[error("cannot read {path}: {message}")]
    Walk {
        /// The folder being walked.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// Lists the Lean files named by `paths`: files as given, folders expanded to every `.lean`
/// file below them. Sorted, duplicates removed.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, DiscoverError> {
    let mut found = Vec::new();
    for path in paths {
        let metadata =
            std::fs::metadata(path).map_err(|_| DiscoverError::Missing { path: path.clone() })?;
        if metadata.is_dir() {
            walk(path, &mut found)?;
        } else if is_lean_file(path) {
            found.push(path.clone());
        } else {
            return Err(DiscoverError::NotLean { path: path.clone() });
        }
    }
    found.sort();
    // The same file can be reached through different spellings (`./A.lean` and `A.lean`):
    // compare canonical paths, keep the first spelling.
    let mut seen = HashSet::new();
    found.retain(|path| seen.insert(std::fs::canonicalize(path).unwrap_or_else(|_| path.clone())));
    Ok(found)
}

fn walk(root: &Path, found: &mut Vec<PathBuf>) -> Result<(), DiscoverError> {
    let walker = ignore::WalkBuilder::new(root)
        // Users keep a .gitignore in folders that are not (yet) git repositories too.
        .require_git(false)
        .filter_entry(|entry| entry.file_name() != ".lake")
        .build();
    for entry in walker {
        let entry = entry.map_err(|error| DiscoverError::Walk {
            path: root.to_path_buf(),
            message: error.to_string(),
        })?;
        let is_file = entry.file_type().is_some_and(|kind| kind.is_file());
        if is_file && is_lean_file(entry.path()) {
            found.push(entry.into_path());
        }
    }
    Ok(())
}

fn is_lean_file(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "lean")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("test folder is writable");
        }
        std::fs::write(path, "theorem t : True := trivial\n").expect("test file is writable");
    }

    #[test]
    fn folders_expand_to_lean_files_and_skip_lake() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        touch(&root.join("B.lean"));
        touch(&root.join("A/C.lean"));
        touch(&root.join("A/notes.md"));
        touch(&root.join(".lake/packages/mathlib/Mathlib.lean"));
        let files = discover(&[root.to_path_buf()]).expect("discover");
        assert_eq!(files, vec![root.join("A/C.lean"), root.join("B.lean")]);
    }

    #[test]
    fn a_file_named_twice_is_listed_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("A.lean");
        touch(&file);
        let files =
            discover(&[file.clone(), dir.path().to_path_buf(), file.clone()]).expect("discover");
        assert_eq!(files, vec![file]);
    }

    #[test]
    fn missing_and_non_lean_paths_are_errors_naming_them() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("Nope.lean");
        let error = discover(std::slice::from_ref(&missing)).expect_err("missing path");
        assert!(error.to_string().contains("Nope.lean"), "{error}");
        let text = dir.path().join("README.md");
        touch(&text);
        let error = discover(&[text]).expect_err("not a Lean file");
        assert!(error.to_string().contains("README.md"), "{error}");
    }
}
