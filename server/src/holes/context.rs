//! The context a standalone lemma for a hole needs: the file prefix (imports and every scoping
//! command before the declaration, in order, then the declaration's own `… in` parts) and the
//! declaration's own header.
//!
//! Invariant: the prefix only contains commands that change what names and options mean
//! (`open`, `namespace`, `section`, `end`, `variable`, `universe`, `set_option`,
//! `attribute [local …]`), never other declarations, so it elaborates quickly.

use super::{Hole, HoleIndex};
use lean_syntax::{Binder, CommandKind, Outline, parse_declaration};

/// What a prover needs to state a hole's declaration on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoleContext {
    /// Header imports and scoping commands before the declaration, each ending in a newline.
    pub prefix: String,
    /// The declaration text up to (not including) its proof value (`:=`, `where`, `|`).
    pub declaration_header: String,
    /// The declaration's name as written, if it has one.
    pub name: Option<String>,
    /// The declaration's binders.
    pub binders: Vec<Binder>,
}

/// Context for `hole` in `text` (the text the hole was scanned from). `None` when the hole is
/// not inside a declaration.
pub fn context(text: &str, hole: &Hole) -> Option<HoleContext> {
    context_in(text, &lean_syntax::outline(text), hole)
}

impl HoleIndex {
    /// Context for one of this index's holes, without re-lexing the whole file.
    pub fn context(&self, hole: &Hole) -> Option<HoleContext> {
        context_in(self.text(), &self.outline(), hole)
    }
}

fn context_in(text: &str, outline: &Outline, hole: &Hole) -> Option<HoleContext> {
    let index = outline
        .commands
        .iter()
        .position(|c| c.span.start <= hole.span.start && hole.span.start < c.span.end)?;
    let command = &outline.commands[index];
    let declaration = parse_declaration(text, command)?;
    let mut prefix = String::new();
    // Which open scopes are `mutual` blocks: their `end` must not reach the prefix, nor may
    // the `mutual` itself.
    let mut scopes_are_mutual: Vec<bool> = Vec::new();
    for earlier in &outline.commands[..index] {
        let body = text.get(earlier.span.clone()).unwrap_or("").trim_end();
        match earlier.kind {
            CommandKind::Namespace | CommandKind::Section => scopes_are_mutual.push(false),
            CommandKind::Other if earlier.keyword == "mutual" => scopes_are_mutual.push(true),
            CommandKind::End if scopes_are_mutual.pop() == Some(true) => continue,
            _ => {}
        }
        let scoping = match earlier.kind {
            CommandKind::Import
            | CommandKind::Open
            | CommandKind::Namespace
            | CommandKind::Section
            | CommandKind::End
            | CommandKind::Variable
            | CommandKind::Universe
            | CommandKind::SetOption => true,
            CommandKind::Other => earlier.keyword == "attribute" && body.contains("[local"),
            CommandKind::Declaration => false,
        };
        if scoping {
            prefix.push_str(strip_leading_doc(body));
            prefix.push('\n');
        }
    }
    // The declaration's own `open Foo in` parts scope it as the commands before do.
    let (in_prefixes, _) = lean_syntax::in_prefixes(text, command);
    for part in in_prefixes {
        if let Some(body) = text.get(part.command) {
            prefix.push_str(body);
            prefix.push('\n');
        }
    }
    Some(HoleContext {
        prefix,
        declaration_header: text.get(declaration.header.clone())?.to_owned(),
        name: declaration.name,
        binders: declaration.binders,
    })
}

/// Scoping commands may carry a doc comment (`/-- … -/ section`); it adds nothing to a prefix.
fn strip_leading_doc(body: &str) -> &str {
    match lean_syntax::Lexer::new(body, 0).next() {
        Some(doc) if doc.kind == lean_syntax::TokenKind::DocComment => {
            body.get(doc.span.end..).unwrap_or("").trim_start()
        }
        _ => body,
    }
}

/// The modules a file imports (`import A B` lists two; the module system's `public`, `meta`
/// and `all` are not modules). They decide which tactics the portfolio may try.
pub fn imported_modules(text: &str) -> Vec<String> {
    lean_syntax::outline(text)
        .commands
        .iter()
        .filter(|command| command.kind == lean_syntax::CommandKind::Import)
        .flat_map(|command| {
            text.get(command.span.clone())
                .unwrap_or("")
                .split_whitespace()
                .filter(|word| !matches!(*word, "import" | "public" | "meta" | "all"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leading_doc_comment_is_dropped_whole_as_lean_reads_it() {
        assert_eq!(
            strip_leading_doc("/-- a /- nested -/ b -/\nsection"),
            "section"
        );
        assert_eq!(strip_leading_doc("section -- /-- -/"), "section -- /-- -/");
    }

    #[test]
    fn prefix_keeps_scoping_commands_in_order() {
        let src = "import Mathlib\nopen Real\n\nnamespace Foo\nvariable (n : ℕ)\ntheorem helper : True := trivial\nmutual\n  def a : Nat := 0\n  def b : Nat := 1\nend\nnoncomputable section\nattribute [local instance] foo\nset_option maxHeartbeats 0\n/-- doc -/\ntheorem main (h : n > 0) : n ≠ 0 := by\n  sorry\nend\nend Foo\n";
        let holes = super::super::scan(src);
        let ctx = context(src, &holes[0]).expect("the hole is in a declaration");
        assert_eq!(
            ctx.prefix,
            "import Mathlib\nopen Real\nnamespace Foo\nvariable (n : ℕ)\nnoncomputable section\nattribute [local instance] foo\nset_option maxHeartbeats 0\n"
        );
        assert_eq!(
            ctx.declaration_header,
            "/-- doc -/\ntheorem main (h : n > 0) : n ≠ 0"
        );
        assert_eq!(ctx.name.as_deref(), Some("main"));
        assert_eq!(ctx.binders[0].names, vec!["h"]);
        let index = HoleIndex::new(src);
        assert_eq!(index.context(&index.holes()[0]), Some(ctx));
    }

    #[test]
    fn the_declarations_own_in_parts_end_the_prefix() {
        let src = "import Mathlib\nopen Real\nopen Nat in\nset_option maxHeartbeats 0 in\ntheorem t (n : ℕ) : n ≤ n ! := by\n  sorry\n";
        let holes = super::super::scan(src);
        let ctx = context(src, &holes[0]).expect("the hole is in a declaration");
        assert_eq!(
            ctx.prefix,
            "import Mathlib\nopen Real\nopen Nat\nset_option maxHeartbeats 0\n"
        );
    }
}
