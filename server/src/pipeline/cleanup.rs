//! Proof cleanup: shorter variants of a verified proof (one top-level tactic or `have`
//! block dropped), each of which the pipeline re-verifies before keeping it.

use super::sketch::dedent;

/// The proof's top-level blocks: a line at the proof's base indentation with the more
/// indented lines that follow it.
fn blocks(lines: &[String]) -> Vec<std::ops::Range<usize>> {
    let indent = |line: &String| line.len() - line.trim_start().len();
    let base = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(indent)
        .min()
        .unwrap_or(0);
    let mut found: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match found.last_mut() {
            Some(block) if indent(line) > base => block.end = i + 1,
            _ => found.push(i..i + 1),
        }
    }
    found
}

/// Variants of `proof` with one top-level block removed, `have` blocks first, the last
/// block (which usually closes the goal) never.
pub fn shorter_variants(proof: &str) -> Vec<String> {
    let lines = dedent(proof);
    let blocks = blocks(&lines);
    let Some((_, removable)) = blocks.split_last() else {
        return Vec::new();
    };
    let is_have = |block: &std::ops::Range<usize>| {
        let head = lines[block.start].trim_start();
        head.starts_with("have ") || head.starts_with("have:")
    };
    let mut ordered: Vec<&std::ops::Range<usize>> =
        removable.iter().filter(|b| is_have(b)).collect();
    ordered.extend(removable.iter().filter(|b| !is_have(b)));
    ordered
        .into_iter()
        .map(|block| {
            lines
                .iter()
                .enumerate()
                .filter(|(i, _)| !block.contains(i))
                .map(|(_, line)| line.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn have_blocks_are_dropped_first_and_the_closer_never() {
        let proof = "norm_num\nhave h : x = x := by\n  rfl\nnlinarith [sq_nonneg x]";
        assert_eq!(
            shorter_variants(proof),
            [
                "norm_num\nnlinarith [sq_nonneg x]",
                "have h : x = x := by\n  rfl\nnlinarith [sq_nonneg x]",
            ]
        );
    }

    #[test]
    fn a_one_line_proof_has_no_shorter_variant() {
        assert!(shorter_variants("omega").is_empty());
        assert!(shorter_variants("  simp\n    [foo]").is_empty());
    }
}
