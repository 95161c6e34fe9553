//! Cache keys: what makes two holes "the same problem" for the proof cache.
//!
//! A key is built from Lean's goal, the surrounding context, the imports, the Lean toolchain,
//! the Mathlib revision, and the model and prompt format that produced the proof. Before hashing,
//! every text field is normalised so that cosmetic differences do not cause a miss:
//! - runs of spaces and tabs collapse to one space and lines are trimmed; a line that starts with
//!   whitespace continues the previous one (Lean's pretty printer wraps long types that way), so
//!   wrapping differences vanish while hypothesis boundaries and their order are kept;
//! - inaccessible names (`x✝`, `inst✝¹`) are renamed `✝0`, `✝1`, … in order of first appearance,
//!   because a proof can never mention them by name, so their spelling cannot matter.
//!
//! Invariant: two keys whose normalised fields are equal have the same [`KeyHash`], and any change
//! to the toolchain, Mathlib revision, model or prompt format changes it.

use std::fmt;
use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};

/// The identity of a proof problem in the cache.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CacheKey {
    /// Lean's goal at the hole, as `plainGoal` renders it (hypotheses, then `⊢ target`).
    pub goal: String,
    /// The commands before the declaration that change how the goal reads (`open`, `namespace`,
    /// `variable`, `set_option`, …).
    pub context: String,
    /// The file's `import` lines.
    pub imports: String,
    /// Contents of the project's `lean-toolchain` file.
    pub toolchain: String,
    /// Mathlib's git revision from `lake-manifest.json`, when the project depends on Mathlib.
    pub mathlib_rev: Option<String>,
    /// The model that produced the proof; `None` for the model-free tactic portfolio.
    pub model: Option<String>,
    /// The prompt format the model was asked in; `None` when no model was involved.
    pub prompt_format: Option<String>,
}

/// The SHA-256 digest of a normalised [`CacheKey`], as 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyHash(String);

impl KeyHash {
    /// The hex digest, as stored in the database.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl CacheKey {
    /// A key for `goal` in `context` under the project's `fingerprint`, with no model
    /// (set [`CacheKey::model`] and [`CacheKey::prompt_format`] for model-produced proofs).
    pub fn new(
        goal: impl Into<String>,
        context: impl Into<String>,
        imports: impl Into<String>,
        fingerprint: &ProjectFingerprint,
    ) -> Self {
        CacheKey {
            goal: goal.into(),
            context: context.into(),
            imports: imports.into(),
            toolchain: fingerprint.toolchain.clone(),
            mathlib_rev: fingerprint.mathlib_rev.clone(),
            model: None,
            prompt_format: None,
        }
    }

    /// The same key for proofs produced by `model` asked in `prompt_format`.
    pub fn with_model(
        mut self,
        model: impl Into<String>,
        prompt_format: impl Into<String>,
    ) -> Self {
        self.model = Some(model.into());
        self.prompt_format = Some(prompt_format.into());
        self
    }

    /// Hashes the normalised fields. Each field is length-prefixed and tagged, so no two
    /// different field tuples can produce the same byte stream.
    pub fn hash(&self) -> KeyHash {
        let mut hasher = Sha256::new();
        // The version tag lets a future change of the normalisation invalidate old keys.
        hasher.update(b"sorryfill-cache-key-v1");
        let fields: [(&str, Option<String>); 7] = [
            ("goal", Some(normalise_lean_text(&self.goal))),
            ("context", Some(normalise_lean_text(&self.context))),
            ("imports", Some(normalise_lean_text(&self.imports))),
            ("toolchain", Some(self.toolchain.trim().to_owned())),
            (
                "mathlib",
                self.mathlib_rev.as_deref().map(|rev| rev.trim().to_owned()),
            ),
            (
                "model",
                self.model.as_deref().map(|model| model.trim().to_owned()),
            ),
            (
                "format",
                self.prompt_format
                    .as_deref()
                    .map(|format| format.trim().to_owned()),
            ),
        ];
        for (name, value) in fields {
            hasher.update(name.as_bytes());
            match value {
                None => hasher.update([0u8]),
                Some(value) => {
                    hasher.update([1u8]);
                    hasher.update((value.len() as u64).to_le_bytes());
                    hasher.update(value.as_bytes());
                }
            }
        }
        KeyHash(to_hex(&hasher.finalize()))
    }
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    hex
}

/// Normalises Lean text for hashing: continuation lines are joined to the line they continue,
/// whitespace runs collapse to one space, blank lines go, and inaccessible names are renamed
/// canonically (see the module docs).
pub fn normalise_lean_text(text: &str) -> String {
    let mut logical_lines: Vec<String> = Vec::new();
    for line in text.lines() {
        let continues_previous = line.starts_with([' ', '\t']) && !logical_lines.is_empty();
        let words = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if words.is_empty() {
            continue;
        }
        match logical_lines.last_mut() {
            Some(previous) if continues_previous => {
                previous.push(' ');
                previous.push_str(&words);
            }
            _ => logical_lines.push(words),
        }
    }
    rename_inaccessible(&logical_lines.join("\n"), |_base, index| {
        format!("✝{index}")
    })
}

/// The dagger Lean appends to names a proof cannot refer to.
const DAGGER: char = '✝';

fn is_superscript_digit(c: char) -> bool {
    matches!(c, '⁰' | '¹' | '²' | '³' | '⁴' | '⁵' | '⁶' | '⁷' | '⁸' | '⁹')
}

/// Characters that may appear in the name part before a dagger. Lean identifiers are broad, so
/// this errs on the side of "part of the name" for anything that is not punctuation or space.
fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '\'' | '!' | '?' | '.') || ('₀'..='₉').contains(&c)
}

/// Replaces every inaccessible name (`base✝` plus optional superscript digits) with
/// `rename(base, index)`, where `index` numbers distinct names in order of first appearance.
pub(crate) fn rename_inaccessible(text: &str, rename: impl Fn(&str, usize) -> String) -> String {
    let mut seen: Vec<String> = Vec::new();
    let mut out = String::with_capacity(text.len());
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut copied_up_to = 0;
    let mut i = 0;
    while i < chars.len() {
        let (dagger_at, c) = chars[i];
        if c != DAGGER {
            i += 1;
            continue;
        }
        let mut start = i;
        while start > 0 && is_name_char(chars[start - 1].1) {
            start -= 1;
        }
        let mut end = i + 1;
        while end < chars.len() && is_superscript_digit(chars[end].1) {
            end += 1;
        }
        let name_start = chars[start].0;
        // The name may only start at or after what has already been copied, which holds because
        // a previous replacement always ends right after its own dagger and superscripts.
        let name_start = name_start.max(copied_up_to);
        let name_end = chars.get(end).map_or(text.len(), |(at, _)| *at);
        let whole = &text[name_start..name_end];
        let base = &text[name_start..dagger_at];
        let index = match seen.iter().position(|known| known == whole) {
            Some(index) => index,
            None => {
                seen.push(whole.to_owned());
                seen.len() - 1
            }
        };
        out.push_str(&text[copied_up_to..name_start]);
        out.push_str(&rename(base, index));
        copied_up_to = name_end;
        i = end;
    }
    out.push_str(&text[copied_up_to..]);
    out
}

/// What a project pins that changes whether a proof checks: the Lean toolchain and Mathlib.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProjectFingerprint {
    /// Trimmed contents of `lean-toolchain`, or empty when the file is missing.
    pub toolchain: String,
    /// The `rev` of the `mathlib` package in `lake-manifest.json`, when there is one.
    pub mathlib_rev: Option<String>,
}

impl ProjectFingerprint {
    /// Reads `lean-toolchain` and `lake-manifest.json` under `project_root`. Missing or
    /// unreadable files give empty values rather than errors: a project without them can still be
    /// proved, its cache entries simply cannot be told apart by toolchain.
    pub fn read(project_root: &Path) -> Self {
        let toolchain = fs::read_to_string(project_root.join("lean-toolchain"))
            .map(|text| text.trim().to_owned())
            .unwrap_or_default();
        let mathlib_rev = fs::read_to_string(project_root.join("lake-manifest.json"))
            .ok()
            .and_then(|text| mathlib_rev_from_manifest(&text));
        ProjectFingerprint {
            toolchain,
            mathlib_rev,
        }
    }
}

/// Finds Mathlib's revision in a Lake manifest. Lake 4.x manifests (version 7 and later) list
/// packages as `{"type": "git", "name": …, "rev": …}`; older ones nest them as
/// `{"git": {"name": …, "rev": …}}`. Both are accepted.
pub fn mathlib_rev_from_manifest(manifest: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(manifest).ok()?;
    let packages = value.get("packages")?.as_array()?;
    packages.iter().find_map(|package| {
        let entry = package.get("git").unwrap_or(package);
        let name = entry.get("name")?.as_str()?;
        if !name.eq_ignore_ascii_case("mathlib") {
            return None;
        }
        entry.get("rev")?.as_str().map(str::to_owned)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(goal: &str) -> CacheKey {
        CacheKey {
            goal: goal.to_owned(),
            context: "open Nat".to_owned(),
            imports: "import Mathlib".to_owned(),
            toolchain: "leanprover/lean4:v4.21.0".to_owned(),
            mathlib_rev: Some("abc".to_owned()),
            model: None,
            prompt_format: None,
        }
    }

    #[test]
    fn whitespace_and_wrapping_do_not_change_the_hash() {
        let compact = key("x y : ℕ\nh : x < y\n⊢ x + 1 ≤ y");
        let spaced = key("  x   y : ℕ\r\nh :\tx < y\n\n⊢ x +\n    1 ≤ y\n");
        // The spaced version starts with indentation: the first line has nothing to continue.
        assert_eq!(compact.hash(), spaced.hash());
    }

    #[test]
    fn hypothesis_order_and_boundaries_matter() {
        let original = key("h : P\nq : Q\n⊢ R");
        assert_ne!(original.hash(), key("q : Q\nh : P\n⊢ R").hash());
        // A line break that starts a new hypothesis is not the same as a wrapped type.
        assert_ne!(
            key("h : f\nq : Q\n⊢ R").hash(),
            key("h : f q : Q\n⊢ R").hash()
        );
    }

    #[test]
    fn inaccessible_names_are_renamed_in_order_of_appearance() {
        assert_eq!(
            normalise_lean_text("x✝ : ℕ\ninst✝¹ : Foo\n⊢ x✝ = x✝"),
            "✝0 : ℕ\n✝1 : Foo\n⊢ ✝0 = ✝0"
        );
        assert_eq!(
            key("a✝ : ℕ\n⊢ a✝ = a✝").hash(),
            key("n✝ : ℕ\n⊢ n✝ = n✝").hash()
        );
        // Two distinct inaccessible names stay distinct.
        assert_ne!(
            key("a✝¹ a✝ : ℕ\n⊢ a✝¹ = a✝").hash(),
            key("a✝¹ a✝ : ℕ\n⊢ a✝ = a✝").hash()
        );
    }

    #[test]
    fn toolchain_mathlib_model_and_format_change_the_hash() {
        let base = key("⊢ True");
        let mut other_toolchain = base.clone();
        other_toolchain.toolchain = "leanprover/lean4:v4.22.0".to_owned();
        let mut other_mathlib = base.clone();
        other_mathlib.mathlib_rev = Some("def".to_owned());
        let mut no_mathlib = base.clone();
        no_mathlib.mathlib_rev = None;
        let with_model = base.clone().with_model("prover-7b", "deepseek-prover-v2");
        let other_format = base
            .clone()
            .with_model("prover-7b", "deepseek-prover-v2-cot");
        let hashes = [
            base.hash(),
            other_toolchain.hash(),
            other_mathlib.hash(),
            no_mathlib.hash(),
            with_model.hash(),
            other_format.hash(),
        ];
        for (i, a) in hashes.iter().enumerate() {
            for b in &hashes[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(base.hash().as_str().len(), 64);
    }

    #[test]
    fn reads_both_manifest_formats() {
        let current = r#"{"version": "1.1.0", "packages": [
            {"type": "git", "name": "batteries", "rev": "111"},
            {"type": "git", "name": "mathlib", "rev": "9837ca9d", "inputRev": "v4.15.0"}]}"#;
        let old = r#"{"version": 5, "packages": [
            {"git": {"name": "std", "rev": "222"}},
            {"git": {"name": "mathlib", "rev": "fa63371f"}}]}"#;
        let without =
            r#"{"version": 7, "packages": [{"type": "git", "name": "batteries", "rev": "1"}]}"#;
        assert_eq!(
            mathlib_rev_from_manifest(current).as_deref(),
            Some("9837ca9d")
        );
        assert_eq!(mathlib_rev_from_manifest(old).as_deref(), Some("fa63371f"));
        assert_eq!(mathlib_rev_from_manifest(without), None);
        assert_eq!(mathlib_rev_from_manifest("not json"), None);
    }

    #[test]
    fn fingerprint_tolerates_missing_files() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        assert_eq!(
            ProjectFingerprint::read(dir.path()),
            ProjectFingerprint::default()
        );
        fs::write(
            dir.path().join("lean-toolchain"),
            "leanprover/lean4:v4.21.0\n",
        )?;
        fs::write(
            dir.path().join("lake-manifest.json"),
            r#"{"packages": [{"type": "git", "name": "mathlib", "rev": "cafe"}]}"#,
        )?;
        let fingerprint = ProjectFingerprint::read(dir.path());
        assert_eq!(fingerprint.toolchain, "leanprover/lean4:v4.21.0");
        assert_eq!(fingerprint.mathlib_rev.as_deref(), Some("cafe"));
        Ok(())
    }
}
