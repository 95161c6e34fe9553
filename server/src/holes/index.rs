//! The incremental hole index of one document.
//!
//! Invariant: after [`HoleIndex::update`] the index equals `HoleIndex::new` on the same text.
//! An update re-lexes only from the command before the edit to the first unchanged command
//! boundary after it (a command start in the unchanged suffix where the lexer is in a fresh
//! state and the command split does not bind across); commands outside that region keep their
//! per-command scan results, shifted by the edit's length change.

use super::scanner::{LocalHole, scan_command};
use super::{Hole, HoleId};
use lean_syntax::{Command, CommandKind, Lexer, LineIndex, Outline, Scopes, Token, split_commands};
use std::sync::Arc;

/// One command and the holes found in it (relative to its start).
#[derive(Debug, Clone)]
struct ScannedCommand {
    command: Command,
    holes: Arc<[LocalHole]>,
}

/// What the last update did, for benches and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpdateStats {
    /// Bytes of the new text that were lexed again.
    pub relexed_bytes: usize,
    /// Commands whose scan results were reused.
    pub reused_commands: usize,
}

/// Every hole of one document version, updatable cheaply after an edit.
#[derive(Debug, Clone)]
pub struct HoleIndex {
    text: String,
    commands: Vec<ScannedCommand>,
    line_index: LineIndex,
    holes: Vec<Hole>,
    stats: UpdateStats,
}

impl HoleIndex {
    /// Scans `text` from scratch.
    pub fn new(text: &str) -> Self {
        let tokens: Vec<Token> = Lexer::new(text, 0).collect();
        let commands = scan_region(text, &tokens);
        let mut index = HoleIndex {
            text: text.to_owned(),
            commands,
            line_index: LineIndex::new(text),
            holes: Vec::new(),
            stats: UpdateStats {
                relexed_bytes: text.len(),
                reused_commands: 0,
            },
        };
        index.rebuild_holes();
        index
    }

    /// The indexed text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Every hole, in source order.
    pub fn holes(&self) -> &[Hole] {
        &self.holes
    }

    /// The line index of the current text.
    pub fn line_index(&self) -> &LineIndex {
        &self.line_index
    }

    /// What the last [`HoleIndex::update`] (or construction) re-lexed and reused.
    pub fn stats(&self) -> UpdateStats {
        self.stats
    }

    /// The `index`-th command of the current text, without building the whole outline.
    pub fn command(&self, index: usize) -> Option<&Command> {
        self.commands.get(index).map(|scanned| &scanned.command)
    }

    /// The scopes open at the start of the `index`-th command.
    pub fn scopes_before(&self, index: usize) -> Scopes {
        let mut scopes = Scopes::default();
        for scanned in self.commands.iter().take(index) {
            scopes.step(&scanned.command);
        }
        scopes
    }

    /// The outline (header and commands) of the current text.
    pub fn outline(&self) -> Outline {
        Outline::from_commands(self.commands.iter().map(|c| c.command.clone()).collect())
    }

    /// Re-indexes after the document became `new_text`, re-lexing only the changed region.
    pub fn update(&mut self, new_text: &str) {
        let old_text = std::mem::take(&mut self.text);
        let old_len = old_text.len();
        let new_len = new_text.len();
        let prefix = common_prefix(&old_text, new_text);
        let suffix = common_suffix(&old_text[prefix..], &new_text[prefix..]);
        if prefix == old_len && old_len == new_len {
            self.text = old_text;
            self.stats = UpdateStats {
                relexed_bytes: 0,
                reused_commands: self.commands.len(),
            };
            return;
        }
        // Start at the command before the one holding the first changed byte: the edit may
        // change how that earlier command ends (a trailing `in`, a doc comment prefix).
        let containing = self
            .commands
            .iter()
            .position(|c| c.command.span.end > prefix)
            .unwrap_or(self.commands.len());
        let first_redone = containing.saturating_sub(1);
        let region_start = if first_redone == 0 {
            0
        } else {
            self.commands[first_redone].command.span.start
        };
        let old_changed_end = old_len - suffix;
        let shift = |at: usize| at + new_len - old_len;

        let mut lexer = Lexer::new(new_text, region_start);
        let mut tokens: Vec<Token> = Vec::new();
        let mut resume_at = None;
        for (old_index, candidate) in self.commands.iter().enumerate().skip(first_redone + 1) {
            let old_start = candidate.command.span.start;
            if old_start < old_changed_end {
                continue;
            }
            let new_start = shift(old_start);
            while lexer.offset() < new_start {
                match lexer.next() {
                    Some(token) => tokens.push(token),
                    None => break,
                }
            }
            let resyncs = lexer.offset() == new_start
                && lexer.is_fresh()
                && same_line_prefix(&old_text, old_start, new_text, new_start);
            if resyncs {
                let split = split_commands(new_text, &tokens);
                if !split.open_end {
                    resume_at = Some(old_index);
                    break;
                }
            }
        }
        if resume_at.is_none() {
            tokens.extend(lexer);
        }
        let region_end = tokens.last().map_or(region_start, |t| t.span.end);
        // Replace the re-lexed commands in place and shift the reused tail.
        let old_count = self.commands.len();
        let redone_end = resume_at.unwrap_or(old_count);
        let middle = scan_region(new_text, &tokens);
        let middle_len = middle.len();
        self.commands.splice(first_redone..redone_end, middle);
        let tail_start = first_redone + middle_len;
        if new_len != old_len {
            for scanned in &mut self.commands[tail_start..] {
                let command = &mut scanned.command;
                command.span = shift(command.span.start)..shift(command.span.end);
                if let Some((_, range)) = &mut command.name {
                    *range = shift(range.start)..shift(range.end);
                }
            }
        }
        let reused = first_redone + (old_count - redone_end);
        self.text = new_text.to_owned();
        self.line_index = LineIndex::new(new_text);
        self.stats = UpdateStats {
            relexed_bytes: region_end - region_start,
            reused_commands: reused,
        };
        self.rebuild_holes();
    }

    /// Recomputes absolute holes, names and ordinals from the per-command results.
    fn rebuild_holes(&mut self) {
        let mut holes = Vec::new();
        let mut scopes = Scopes::default();
        let mut anonymous_counts: std::collections::HashMap<&str, usize> = Default::default();
        for (command_index, scanned) in self.commands.iter().enumerate() {
            let command = &scanned.command;
            scopes.step(command);
            let declaration_name = match &command.name {
                Some((name, _)) if command.kind == CommandKind::Declaration => scopes.qualify(name),
                _ => {
                    let count = anonymous_counts
                        .entry(command.keyword.as_str())
                        .or_default();
                    let name = format!("{}@{}", command.keyword, count);
                    *count += 1;
                    name
                }
            };
            for (ordinal, local) in scanned.holes.iter().enumerate() {
                let span =
                    command.span.start + local.span.start..command.span.start + local.span.end;
                holes.push(Hole {
                    kind: local.kind,
                    range: self.line_index.lsp_range(span.clone()),
                    span,
                    id: HoleId {
                        declaration: declaration_name.clone(),
                        ordinal: u32::try_from(ordinal).unwrap_or(u32::MAX),
                    },
                    position: local.position,
                    declaration: (command.kind == CommandKind::Declaration)
                        .then_some(command_index),
                    command: command_index,
                });
            }
        }
        self.holes = holes;
    }
}

/// Splits a region's tokens into commands and scans each.
fn scan_region(src: &str, tokens: &[Token]) -> Vec<ScannedCommand> {
    let split = split_commands(src, tokens);
    split
        .commands
        .into_iter()
        .map(|command| {
            let first = tokens.partition_point(|t| t.span.start < command.span.start);
            let last = tokens.partition_point(|t| t.span.start < command.span.end);
            let holes = scan_command(src, &tokens[first..last], command.span.start);
            ScannedCommand {
                command,
                holes: holes.into(),
            }
        })
        .collect()
}

/// Length of the common prefix, on a char boundary.
fn common_prefix(a: &str, b: &str) -> usize {
    let len = a
        .as_bytes()
        .iter()
        .zip(b.as_bytes())
        .take_while(|(x, y)| x == y)
        .count();
    lean_syntax::floor_char_boundary(a, len)
}

/// Length of the common suffix, on a char boundary.
fn common_suffix(a: &str, b: &str) -> usize {
    let len = a
        .as_bytes()
        .iter()
        .rev()
        .zip(b.as_bytes().iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let mut len = len;
    while !a.is_char_boundary(a.len() - len) || !b.is_char_boundary(b.len() - len) {
        len -= 1;
    }
    len
}

/// Whether the text from the line start to a command start is the same in both versions, so
/// the command still starts a line at the same indentation.
fn same_line_prefix(old: &str, old_at: usize, new: &str, new_at: usize) -> bool {
    let old_line = old[..old_at].rfind('\n').map_or(0, |i| i + 1);
    let new_line = new[..new_at].rfind('\n').map_or(0, |i| i + 1);
    (old_line > 0) == (new_line > 0) && old[old_line..old_at] == new[new_line..new_at]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_same_as_fresh(old: &str, new: &str) -> UpdateStats {
        let mut index = HoleIndex::new(old);
        index.update(new);
        let fresh = HoleIndex::new(new);
        assert_eq!(index.holes(), fresh.holes(), "old:\n{old}\nnew:\n{new}");
        assert_eq!(index.outline(), fresh.outline());
        index.stats()
    }

    #[test]
    fn update_matches_a_fresh_scan() {
        let base = "import Mathlib\n\ntheorem a : P := by\n  sorry\n\ntheorem b : Q := by\n  simp\n  sorry\n\nexample : R := sorry\n";
        let stats = assert_same_as_fresh(base, &base.replace("  simp\n", "  simp; ring\n"));
        assert!(stats.reused_commands >= 2, "{stats:?}");
        assert!(stats.relexed_bytes < base.len());
        // Opening a comment swallows the rest of the file.
        assert_same_as_fresh(base, &base.replace("  simp\n", "  /- simp\n"));
        assert_same_as_fresh(base, &base.replace("theorem b", "/-- doc -/\ntheorem b"));
        assert_same_as_fresh(base, &base.replace("\n\ntheorem b", " in\ntheorem b"));
        assert_same_as_fresh(base, &base.replace("\ntheorem b", " theorem b"));
        assert_same_as_fresh(base, "");
        assert_same_as_fresh("", base);
        assert_same_as_fresh(base, &base.replace("sorry", "sorry sorry"));
    }
}
