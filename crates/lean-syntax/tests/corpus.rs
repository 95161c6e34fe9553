//! The outline and declaration parser on the real Lean files of the shared corpus.

use lean_syntax::{CommandKind, outline, parse_declaration};
use std::path::Path;

#[test]
fn every_theorem_in_the_corpus_has_a_name_type_and_proof() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/lean");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        skip_line(format_args!(
            "skipped: ../shared/corpus is absent (it is only on the developers' machines)"
        ));
        return;
    };
    let mut problems = Vec::new();
    let mut theorems = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "lean") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("corpus files are UTF-8");
        let out = outline(&text);
        for command in out
            .commands
            .iter()
            .filter(|c| c.kind == CommandKind::Declaration)
        {
            let Some(declaration) = parse_declaration(&text, command) else {
                problems.push(format!(
                    "{}: {} does not parse",
                    path.display(),
                    command.keyword
                ));
                continue;
            };
            if matches!(command.keyword.as_str(), "theorem" | "lemma") {
                theorems += 1;
                let line = text[..command.span.start].lines().count() + 1;
                if declaration.name.is_none()
                    || declaration.type_text.is_none()
                    || declaration.value.is_none()
                {
                    problems.push(format!(
                        "{}:{line}: name {:?}, type {:?}, value {:?}",
                        path.display(),
                        declaration.name,
                        declaration.type_text.is_some(),
                        declaration.value.is_some()
                    ));
                }
            }
        }
    }
    assert!(theorems > 50, "the corpus holds theorems ({theorems} seen)");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Prints a skip notice straight to stderr: the test harness captures `eprintln!`, and a skip
/// must be seen in the test log, never silent.
fn skip_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}
