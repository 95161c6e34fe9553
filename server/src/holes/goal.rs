//! Goals as Lean prints them (`$/lean/plainGoal`, `$/lean/plainTermGoal`), and turning one
//! into a standalone lemma statement.
//!
//! A goal string is an optional `case <tag>` line, hypothesis lines `x y : ℕ` (names share a
//! line when they share a type; long types continue on indented lines; `let` values follow
//! ` := `), then `⊢ target` (which may also continue on indented lines).

use lean_syntax::is_id_rest;

/// One hypothesis line of a goal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hypothesis {
    /// The names sharing this type; inaccessible names end in `✝` (maybe with a superscript).
    pub names: Vec<String>,
    /// The type, with continuation lines kept.
    pub ty: String,
    /// The value of a `let`-bound hypothesis (`x : ℕ := 5`).
    pub value: Option<String>,
}

/// One goal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Goal {
    /// The `case` tag, if the goal is named.
    pub case_tag: Option<String>,
    /// Hypotheses in order.
    pub hypotheses: Vec<Hypothesis>,
    /// The target after `⊢`.
    pub target: String,
}

/// Parses one goal string (an element of plainGoal's `goals`, or plainTermGoal's `goal`).
pub fn parse_goal(goal: &str) -> Goal {
    let mut parsed = Goal::default();
    // Each entry is a hypothesis or the target, with its continuation lines.
    let mut entries: Vec<String> = Vec::new();
    for line in goal.lines() {
        let continues = line.starts_with(char::is_whitespace) && !entries.is_empty();
        if continues {
            if let Some(last) = entries.last_mut() {
                last.push('\n');
                last.push_str(line);
            }
        } else if let Some(tag) = line.strip_prefix("case ").filter(|_| entries.is_empty()) {
            parsed.case_tag = Some(tag.trim().to_owned());
        } else {
            entries.push(line.to_owned());
        }
    }
    for entry in entries {
        if let Some(target) = entry.strip_prefix('⊢') {
            parsed.target = target.trim().to_owned();
        } else if let Some((names, rest)) = entry.split_once(" : ") {
            let (ty, value) = match rest.split_once(" := ") {
                Some((ty, value)) => (ty, Some(value.trim().to_owned())),
                None => (rest, None),
            };
            parsed.hypotheses.push(Hypothesis {
                names: names.split_whitespace().map(str::to_owned).collect(),
                ty: ty.trim().to_owned(),
                value,
            });
        }
    }
    parsed
}

/// Parses plainGoal's `rendered` markdown: fenced `lean` blocks joined by `---`; `no goals`
/// gives an empty list.
pub fn parse_rendered_goals(rendered: &str) -> Vec<Goal> {
    rendered
        .split("\n---\n")
        .filter_map(|block| {
            let block = block.trim();
            let inner = block.strip_prefix("```lean")?.strip_suffix("```")?;
            Some(parse_goal(inner.trim_matches('\n')))
        })
        .collect()
}

impl Goal {
    /// States this goal as `theorem NAME (x y : ℕ) [Foo α] : TARGET` (no `:=`).
    ///
    /// Inaccessible names (`n✝`, `a✝¹`) get fresh accessible names everywhere they occur;
    /// anonymous instances (`inst✝ : Foo α`) become `[Foo α]`; universe metavariables (`?u.12`)
    /// and auto-bound universes (`u_1`) become explicit universe parameters. `let` values are
    /// dropped, which states a more general lemma.
    pub fn to_lemma(&self, name: &str) -> String {
        let parts = self.lemma_parts();
        let params = if parts.universes.is_empty() {
            String::new()
        } else {
            format!(".{{{}}}", parts.universes.join(", "))
        };
        let binders: String = parts.binders.iter().map(|b| format!(" {b}")).collect();
        format!("theorem {name}{params}{binders} :\n    {}", parts.target)
    }

    /// The pieces of [`Goal::to_lemma`]: universe parameters, binders (`(x y : ℕ)`, `[Foo α]`)
    /// and the target, with the same renaming, for callers that assemble the statement
    /// themselves (the prompts sent to models).
    pub fn lemma_parts(&self) -> LemmaParts {
        let mut taken: Vec<String> = self
            .hypotheses
            .iter()
            .flat_map(|h| h.names.iter().cloned())
            .collect();
        // Rename longest first so `a✝¹` is not clobbered by a rename of `a✝`.
        let mut inaccessible: Vec<String> = taken
            .iter()
            .filter(|n| is_inaccessible(n))
            .cloned()
            .collect();
        inaccessible.sort_by_key(|n| std::cmp::Reverse(n.len()));
        let mut renames: Vec<(String, String)> = Vec::new();
        for old in inaccessible {
            let base = old.split('✝').next().unwrap_or("x");
            let base = if base.is_empty() { "x" } else { base };
            let fresh = (1..)
                .map(|k| format!("{base}_{k}"))
                .find(|candidate| !taken.contains(candidate))
                .unwrap_or_else(|| format!("{base}_fresh"));
            taken.push(fresh.clone());
            renames.push((old, fresh));
        }
        let rename = |text: &str| {
            renames.iter().fold(text.to_owned(), |acc, (old, new)| {
                replace_ident(&acc, old, new)
            })
        };
        let mut universes = UniverseParams {
            reserved: self
                .hypotheses
                .iter()
                .map(|h| h.ty.as_str())
                .chain([self.target.as_str()])
                .collect::<Vec<_>>()
                .join("\n"),
            ..UniverseParams::default()
        };
        let mut binders = Vec::new();
        for hypothesis in &self.hypotheses {
            let ty = universes.fix(&rename(&hypothesis.ty));
            let anonymous_instance = hypothesis.names.iter().all(|n| n.starts_with("inst✝"));
            if anonymous_instance {
                for _ in &hypothesis.names {
                    binders.push(format!("[{ty}]"));
                }
            } else {
                let names: Vec<String> = hypothesis.names.iter().map(|n| rename(n)).collect();
                binders.push(format!("({} : {ty})", names.join(" ")));
            }
        }
        let target = universes.fix(&rename(&self.target));
        LemmaParts {
            universes: universes.names,
            binders,
            target,
        }
    }
}

/// A goal as the parts of a standalone lemma statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LemmaParts {
    /// Universe parameters the statement must declare (`u_1`).
    pub universes: Vec<String>,
    /// One binder per hypothesis line, in order.
    pub binders: Vec<String>,
    /// The type to prove.
    pub target: String,
}

fn is_inaccessible(name: &str) -> bool {
    name.contains('✝')
}

/// Collects universe parameters a standalone statement must declare.
#[derive(Default)]
struct UniverseParams {
    names: Vec<String>,
    /// Metavariable spelling (`?u.12`) to the parameter name given to it.
    metavariables: Vec<(String, String)>,
    /// The whole goal text, so fresh names never clash with names it already uses.
    reserved: String,
}

impl UniverseParams {
    fn fix(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find("?u") {
            out.push_str(&rest[..at]);
            let after = &rest[at + 2..];
            let len = after
                .char_indices()
                .find(|&(_, c)| !(c.is_ascii_digit() || c == '.' || c == '_'))
                .map_or(after.len(), |(i, _)| i);
            let len = if after[..len].ends_with('.') {
                len - 1
            } else {
                len
            };
            let spelled = &rest[at..at + 2 + len];
            let param = match self.metavariables.iter().find(|(m, _)| m == spelled) {
                Some((_, p)) => p.clone(),
                None => {
                    let p = (1..)
                        .map(|k| format!("u_{k}"))
                        .find(|p| !self.names.contains(p) && !self.reserved.contains(p.as_str()))
                        .unwrap_or_else(|| "u_fresh".to_owned());
                    self.metavariables.push((spelled.to_owned(), p.clone()));
                    self.names.push(p.clone());
                    p
                }
            };
            out.push_str(&param);
            rest = &rest[at + 2 + len..];
        }
        out.push_str(rest);
        // Auto-bound universes print as `u_1`; they must be declared to be used.
        for word in out.split(|c: char| !(is_id_rest(c) || c == '.')) {
            let is_auto_bound = word
                .strip_prefix("u_")
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
            if is_auto_bound && !self.names.iter().any(|n| n == word) {
                self.names.push(word.to_owned());
            }
        }
        out
    }
}

/// Replaces whole-identifier occurrences of `old` in `text`.
fn replace_ident(text: &str, old: &str, new: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut previous: Option<char> = None;
    while let Some(at) = rest.find(old) {
        let before = rest[..at].chars().next_back().or(previous);
        let after = rest[at + old.len()..].chars().next();
        let boundary_before = !before.is_some_and(|c| is_id_rest(c) || c == '.');
        let boundary_after = !after.is_some_and(|c| is_id_rest(c) || c == '✝' || is_superscript(c));
        out.push_str(&rest[..at]);
        out.push_str(if boundary_before && boundary_after {
            new
        } else {
            old
        });
        previous = old.chars().next_back();
        rest = &rest[at + old.len()..];
    }
    out.push_str(rest);
    out
}

fn is_superscript(c: char) -> bool {
    matches!(c, '⁰' | '¹' | '²' | '³' | '⁴' | '⁵' | '⁶' | '⁷' | '⁸' | '⁹')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hypotheses_case_and_continuations() {
        let goal = parse_goal(
            "case succ\nn✝ m : Nat\ninst✝ : Foo n✝\nh : n✝ = m ∧\n    m = 0\nx : ℕ := 5\n⊢ 0 + (n✝ + 1) =\n    n✝ + 1",
        );
        assert_eq!(goal.case_tag.as_deref(), Some("succ"));
        assert_eq!(goal.hypotheses[0].names, vec!["n✝", "m"]);
        assert_eq!(goal.hypotheses[2].ty, "n✝ = m ∧\n    m = 0");
        assert_eq!(goal.hypotheses[3].value.as_deref(), Some("5"));
        assert_eq!(goal.target, "0 + (n✝ + 1) =\n    n✝ + 1");
        let lemma = goal.to_lemma("t");
        assert_eq!(
            lemma,
            "theorem t (n_1 m : Nat) [Foo n_1] (h : n_1 = m ∧\n    m = 0) (x : ℕ) :\n    0 + (n_1 + 1) =\n    n_1 + 1"
        );
    }

    #[test]
    fn renames_respect_identifier_boundaries() {
        let goal = parse_goal("a✝¹ a✝ : ℕ\nba : a✝ = a✝¹\n⊢ a✝¹ + a✝ = ba.x");
        assert_eq!(
            goal.to_lemma("t"),
            "theorem t (a_1 a_2 : ℕ) (ba : a_2 = a_1) :\n    a_1 + a_2 = ba.x"
        );
    }

    #[test]
    fn universe_metavariables_become_parameters() {
        let goal = parse_goal("α : Sort ?u.12\nβ : Type u_1\n⊢ α → α");
        assert_eq!(
            goal.to_lemma("t"),
            "theorem t.{u_2, u_1} (α : Sort u_2) (β : Type u_1) :\n    α → α"
        );
    }
}
