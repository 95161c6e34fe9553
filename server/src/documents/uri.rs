//! `file://` URIs of local paths and back, through the `url` crate (RFC 8089), so that every
//! URI the proxy makes is percent-encoded the one same way.

use std::path::{Path, PathBuf};

use url::Url;

/// The `file://` URI of a local path. A relative path is taken from the current folder first,
/// since a file URI names an absolute path.
pub fn file_uri(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match Url::from_file_path(&absolute) {
        Ok(url) => url.into(),
        // Only an empty path has no absolute form; the root is the nearest folder it can name.
        Err(()) => "file:///".to_owned(),
    }
}

/// The local path a `file://` URI names, percent-decoded; `None` for any other URI.
pub fn file_path(uri: &str) -> Option<PathBuf> {
    Url::parse(uri).ok()?.to_file_path().ok()
}

/// `folder_uri` (a `file://` URI of a folder) with the relative path `relative` below it, each
/// component percent-encoded as [`file_uri`] would.
pub fn join_uri(folder_uri: &str, relative: &Path) -> Option<String> {
    let mut url = Url::parse(folder_uri).ok()?;
    url.path_segments_mut()
        .ok()?
        .pop_if_empty()
        .extend(relative.iter().map(|part| part.to_string_lossy()));
    Some(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip_through_their_uri() {
        for path in [
            "/home/me/my proj/A.lean",
            "/p/Issue#12/A.lean",
            "/p/100%/A.lean",
            "/p/Gödel/Ünvollständig 𝔽.lean",
            "/p/a?b/c&d=e+f@g/[x]/A.lean",
        ] {
            let uri = file_uri(Path::new(path));
            assert!(uri.starts_with("file:///"), "{uri}");
            assert!(
                !uri[7..].contains([' ', '#', '?']) && uri.is_ascii(),
                "{path} is encoded in {uri}"
            );
            assert_eq!(file_path(&uri).as_deref(), Some(Path::new(path)), "{uri}");
        }
    }

    #[test]
    fn uris_are_percent_encoded() {
        assert_eq!(
            file_uri(Path::new("/home/me/my proj")),
            "file:///home/me/my%20proj"
        );
        assert_eq!(file_uri(Path::new("/p/#1%")), "file:///p/%231%25");
        assert_eq!(file_uri(Path::new("/é")), "file:///%C3%A9");
    }

    #[test]
    fn a_percent_encoded_editor_uri_names_the_same_path() {
        // VS Code encodes more than it must (`:` and `@`, say); the path is the same.
        assert_eq!(
            file_path("file:///p/a%40b/C%3AD.lean").as_deref(),
            Some(Path::new("/p/a@b/C:D.lean"))
        );
        assert_eq!(file_path("untitled:Untitled-1"), None);
    }

    #[test]
    fn a_relative_path_joins_below_a_folder_uri() {
        let folder = file_uri(Path::new("/p/my proj/.lake/shadow-0"));
        let joined = join_uri(&format!("{folder}/"), Path::new("Sub Dir/A#.lean"));
        assert_eq!(
            joined.as_deref(),
            Some("file:///p/my%20proj/.lake/shadow-0/Sub%20Dir/A%23.lean")
        );
        assert_eq!(
            file_uri(Path::new("/p/my proj/.lake/shadow-0/Sub Dir/A#.lean")),
            joined.unwrap_or_default()
        );
    }
}
