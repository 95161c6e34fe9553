//! Parsing a declaration command's signature: name, binders, type, and where its value starts.
//!
//! Invariant: only bracket depth is tracked (`( [ { ⟨ ⦃` and their closers), so `:=` nested in
//! a binder default or a `let` inside parentheses never ends the signature.

use crate::lexer::{Token, TokenKind, lex};
use crate::outline::{Command, CommandKind};
use std::ops::Range;

/// A parsed declaration signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    /// Declared name (`None` for `example` and anonymous instances).
    pub name: Option<String>,
    /// Binders before the colon, in order.
    pub binders: Vec<Binder>,
    /// The type after the top-level `:`, trimmed.
    pub type_text: Option<String>,
    /// Byte range of the value: after `:=`, or from `where` / the first `|` alternative, to the
    /// end of the command's code (trailing whitespace and comments excluded).
    pub value: Option<Range<usize>>,
    /// Byte range of the signature, from the start of the command up to the value marker
    /// (`:=`, `where`, `|`) or the end of the command; trailing whitespace excluded.
    pub header: Range<usize>,
}

/// One bracketed (or bare) binder group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binder {
    /// Bound names; empty for an anonymous instance binder `[Foo α]`.
    pub names: Vec<String>,
    /// Type text, trimmed, if given.
    pub ty: Option<String>,
    /// Bracket kind.
    pub kind: BinderKind,
}

/// The bracket of a [`Binder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinderKind {
    /// `(x : α)` or a bare `x`.
    Explicit,
    /// `{x : α}`.
    Implicit,
    /// `⦃x : α⦄` or `{{x : α}}`.
    StrictImplicit,
    /// `[Foo α]` or `[inst : Foo α]`.
    Instance,
}

/// Parses the signature of `cmd` (a command of `src`). Returns `None` unless it is a
/// declaration.
pub fn parse_declaration(src: &str, cmd: &Command) -> Option<Declaration> {
    if cmd.kind != CommandKind::Declaration {
        return None;
    }
    let text = src.get(cmd.span.clone())?;
    let base = cmd.span.start;
    let tokens: Vec<Token> = lex(text)
        .into_iter()
        .filter(|t| !t.is_trivia() && t.kind != TokenKind::DocComment)
        .collect();
    let tok = |i: usize| tokens.get(i).map(|t| t.text(text));
    // Find the keyword token (the first occurrence of cmd.keyword as an identifier after any
    // `open … in` prefix and modifiers).
    let mut i = tokens
        .iter()
        .position(|t| t.kind == TokenKind::Ident && t.text(text) == cmd.keyword)?;
    i += 1;
    if cmd.keyword == "instance" && tok(i) == Some("(") {
        i = skip_group(&tokens, text, i);
    }
    let mut name = None;
    if let Some((n, span)) = &cmd.name
        && tokens
            .get(i)
            .is_some_and(|t| t.span.start + base == span.start)
    {
        name = Some(n.clone());
        i += 1;
    }
    let mut binders = Vec::new();
    let mut type_text = None;
    let mut marker = None;
    while let Some(t) = tok(i) {
        match t {
            "(" | "{" | "[" | "⦃" | "{{" => {
                let end = skip_group(&tokens, text, i);
                let inner_start = tokens[i].span.end;
                let inner_end = tokens
                    .get(end.saturating_sub(1))
                    .filter(|_| end > i + 1)
                    .map_or(text.len(), |close| close.span.start);
                binders.push(parse_binder(
                    t,
                    text.get(inner_start..inner_end).unwrap_or(""),
                ));
                i = end;
            }
            ":" => {
                let (end, found) = find_value_marker(&tokens, text, i + 1);
                let type_end = tokens.get(end).map_or(text.len(), |t| t.span.start);
                let type_start = tokens[i].span.end;
                type_text = Some(
                    text.get(type_start..type_end)
                        .unwrap_or("")
                        .trim()
                        .to_owned(),
                );
                marker = found.then_some(end);
                break;
            }
            ":=" | "where" | "|" => {
                marker = Some(i);
                break;
            }
            "extends" => {
                let (end, found) = find_value_marker(&tokens, text, i + 1);
                marker = found.then_some(end);
                break;
            }
            _ if tokens[i].kind == TokenKind::Ident => {
                binders.push(Binder {
                    names: vec![t.to_owned()],
                    ty: None,
                    kind: BinderKind::Explicit,
                });
                i += 1;
            }
            _ => {
                let (end, found) = find_value_marker(&tokens, text, i);
                marker = found.then_some(end);
                break;
            }
        }
    }
    let code_end = tokens.last().map_or(0, |t| t.span.end);
    let value = marker.map(|m| {
        let token = &tokens[m];
        let start = if token.text(text) == ":=" {
            token.span.end
        } else {
            token.span.start
        };
        base + start..base + code_end.max(start)
    });
    let header_end = marker.map_or(code_end, |m| tokens[m].span.start);
    let header_end = base + text[..header_end].trim_end().len();
    Some(Declaration {
        name,
        binders,
        type_text,
        value,
        header: cmd.span.start..header_end,
    })
}

/// Returns the index just after the group opened at `i` (its matching closer).
fn skip_group(tokens: &[Token], text: &str, i: usize) -> usize {
    let mut depth = 0usize;
    let mut j = i;
    while let Some(t) = tokens.get(j) {
        match t.text(text) {
            open if crate::opens_bracket(open) => depth += 1,
            close if crate::closes_bracket(close) => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    j
}

/// From `i`, finds the first top-level `:=`, `where`, or line-leading `|`; returns its index and
/// whether one was found (else the token count).
fn find_value_marker(tokens: &[Token], text: &str, i: usize) -> (usize, bool) {
    let mut depth = 0usize;
    let mut j = i;
    while let Some(t) = tokens.get(j) {
        let s = t.text(text);
        match s {
            open if crate::opens_bracket(open) => depth += 1,
            close if crate::closes_bracket(close) => depth = depth.saturating_sub(1),
            ":=" | "where" if depth == 0 => return (j, true),
            "|" if depth == 0 && is_alternative(text, t.span.start) => return (j, true),
            _ => {}
        }
        j += 1;
    }
    (j, false)
}

/// A `|` that leads its line and is followed by `=>` on that line starts a match alternative
/// (as opposed to an absolute value `|x| < 1` wrapped onto a new line).
fn is_alternative(text: &str, at: usize) -> bool {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    text[line_start..at].trim().is_empty() && text[at..line_end].contains("=>")
}

fn parse_binder(open: &str, inner: &str) -> Binder {
    let kind = match open {
        "{" => BinderKind::Implicit,
        "[" => BinderKind::Instance,
        "⦃" | "{{" => BinderKind::StrictImplicit,
        _ => BinderKind::Explicit,
    };
    // The first top-level `:` separates names from the type; `:=` starts a default value.
    let tokens: Vec<Token> = lex(inner).into_iter().filter(|t| !t.is_trivia()).collect();
    let mut depth = 0usize;
    let mut colon = None;
    let mut default = None;
    for (j, t) in tokens.iter().enumerate() {
        match t.text(inner) {
            open if crate::opens_bracket(open) => depth += 1,
            close if crate::closes_bracket(close) => depth = depth.saturating_sub(1),
            ":" if depth == 0 && colon.is_none() => colon = Some(j),
            ":=" if depth == 0 && default.is_none() => default = Some(j),
            _ => {}
        }
    }
    match colon {
        Some(c) => {
            // A `:=` before the colon (`(x := v : T)` is not a binder Lean accepts, but the
            // parser must not trust its input) cannot end the type.
            let ty_end = default
                .filter(|&d| d > c)
                .map_or(inner.len(), |d| tokens[d].span.start);
            let names = tokens[..c]
                .iter()
                .map(|t| t.text(inner).to_owned())
                .collect();
            Binder {
                names,
                ty: Some(inner[tokens[c].span.end..ty_end].trim().to_owned()),
                kind,
            }
        }
        None if kind == BinderKind::Instance => Binder {
            names: Vec::new(),
            ty: Some(inner.trim().to_owned()),
            kind,
        },
        None => Binder {
            names: tokens.iter().map(|t| t.text(inner).to_owned()).collect(),
            ty: None,
            kind,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_before_the_colon_does_not_panic() {
        let src = "theorem t (x := 1 : Nat) : True := trivial";
        let outline = crate::outline(src);
        let declaration = parse_declaration(src, &outline.commands[0]).expect("parses");
        assert_eq!(declaration.name.as_deref(), Some("t"));
    }
    use crate::outline::outline;

    fn first_decl(src: &str) -> Declaration {
        let out = outline(src);
        let cmd = out
            .commands
            .iter()
            .find(|c| c.kind == CommandKind::Declaration)
            .expect("test input has a declaration");
        parse_declaration(src, cmd).expect("declaration parses")
    }

    #[test]
    fn a_symbol_ending_in_a_bracket_is_closed_by_its_bracket() {
        // `^[` (Nat.iterate) is one token; its `]` must not close the binder early.
        let src =
            "theorem t (N k : ℕ) (hk : k ≤ log^[k] N) (v : ℕ) : ![k, N] = ![k, N] := by\n  sorry\n";
        let d = first_decl(src);
        assert_eq!(d.binders.len(), 3);
        assert_eq!(
            d.type_text.as_deref().map(str::trim),
            Some("![k, N] = ![k, N]")
        );
        assert!(d.value.is_some());
    }

    #[test]
    fn theorem_signature() {
        let src = "theorem foo {α : Type} [inst : Group α] [Fintype α] (x y : ℕ) ⦃z : ℕ⦄ (h₀ : x ≠ 0 := by simp) :\n    x + y = y + x := by\n  sorry\n";
        let d = first_decl(src);
        assert_eq!(d.name.as_deref(), Some("foo"));
        let kinds: Vec<_> = d.binders.iter().map(|b| b.kind).collect();
        assert_eq!(
            kinds,
            vec![
                BinderKind::Implicit,
                BinderKind::Instance,
                BinderKind::Instance,
                BinderKind::Explicit,
                BinderKind::StrictImplicit,
                BinderKind::Explicit
            ]
        );
        assert_eq!(d.binders[1].names, vec!["inst"]);
        assert!(d.binders[2].names.is_empty());
        assert_eq!(d.binders[2].ty.as_deref(), Some("Fintype α"));
        assert_eq!(d.binders[3].names, vec!["x", "y"]);
        assert_eq!(d.binders[5].ty.as_deref(), Some("x ≠ 0"));
        assert_eq!(d.type_text.as_deref(), Some("x + y = y + x"));
        let value = d.value.expect("has a value");
        assert_eq!(&src[value], " by\n  sorry");
        assert!(src[d.header].ends_with("x + y = y + x"));
    }

    #[test]
    fn where_and_match_alternatives() {
        let d = first_decl("instance : Foo Nat where\n  foo := 1\n");
        assert_eq!(d.name, None);
        assert_eq!(d.type_text.as_deref(), Some("Foo Nat"));
        let src = "def f : ℕ → ℕ\n  | 0 => 1\n  | n + 1 => n\n";
        let d = first_decl(src);
        assert!(src[d.value.expect("alternatives")].starts_with("| 0"));
        let d = first_decl("example (a : ℕ) : a = a := rfl");
        assert_eq!(d.binders.len(), 1);
        assert_eq!(d.type_text.as_deref(), Some("a = a"));
    }
}
