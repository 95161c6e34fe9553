//! Answers to the requests a document's worker serves, computed from a finished version.

use crate::syntax::{LineIndex, Position};
use serde_json::{Value, json};

use crate::elab::{self, CommandResult, DeclView};
use crate::shared::Shared;
use crate::worker::{DocState, lsp_range};

/// The `initialize` result of Lean 4 Server 0.3.0 (lean-protocol README §2).
pub fn initialize_result() -> Value {
    json!({
        "capabilities": {
            "callHierarchyProvider": true,
            "codeActionProvider": {"codeActionKinds": ["quickfix", "refactor", "source.organizeImports"], "resolveProvider": true, "workDoneProgress": false},
            "colorProvider": {"workDoneProgress": false},
            "completionProvider": {"resolveProvider": true, "triggerCharacters": ["."]},
            "declarationProvider": true,
            "definitionProvider": true,
            "documentHighlightProvider": true,
            "documentSymbolProvider": true,
            "experimental": {"moduleHierarchyProvider": {}, "rpcProvider": {"highlightMatchesProvider": {}, "rpcWireFormat": "v1"}},
            "foldingRangeProvider": true,
            "hoverProvider": true,
            "inlayHintProvider": {"resolveProvider": false, "workDoneProgress": false},
            "referencesProvider": true,
            "renameProvider": {"prepareProvider": true},
            "semanticTokensProvider": {"full": true, "range": true, "legend": {
                "tokenTypes": ["keyword", "variable", "property", "function", "namespace", "type", "class", "enum", "interface", "struct", "typeParameter", "parameter", "enumMember", "event", "method", "macro", "modifier", "comment", "string", "number", "regexp", "operator", "decorator", "leanSorryLike"],
                "tokenModifiers": ["declaration", "definition", "readonly", "static", "deprecated", "abstract", "async", "modification", "documentation", "defaultLibrary"]}},
            "signatureHelpProvider": {"triggerCharacters": [" "], "workDoneProgress": false},
            "textDocumentSync": {"change": 2, "openClose": true, "save": {"includeText": true}, "willSave": false, "willSaveWaitUntil": false},
            "typeDefinitionProvider": true,
            "workspaceSymbolProvider": true
        },
        "serverInfo": {"name": "Lean 4 Server", "version": "0.3.0"}
    })
}

const HANDLED: [&str; 15] = [
    "textDocument/documentColor",
    "textDocument/definition",
    "textDocument/declaration",
    "textDocument/waitForDiagnostics",
    "$/lean/plainGoal",
    "$/lean/plainTermGoal",
    "textDocument/codeAction",
    "codeAction/resolve",
    "textDocument/hover",
    "textDocument/documentSymbol",
    "textDocument/foldingRange",
    "textDocument/completion",
    "textDocument/documentHighlight",
    "textDocument/inlayHint",
    "$/lean/rpc/call",
];

/// Whether a document request has a handler (others get -32601).
pub fn handles(method: &str) -> bool {
    HANDLED.contains(&method) || method.starts_with("textDocument/semanticTokens/")
}

struct Located<'a> {
    text: &'a str,
    tokens: Vec<crate::syntax::Token>,
    index: LineIndex,
    byte: usize,
}

fn locate<'a>(state: &'a DocState, params: &Value) -> Located<'a> {
    let text = state.text.as_str();
    let index = LineIndex::new(text);
    let field = |name: &str| {
        params
            .pointer(&format!("/position/{name}"))
            .and_then(Value::as_u64)
            .unwrap_or(0) as u32
    };
    let byte = index.offset(Position::new(field("line"), field("character")));
    Located {
        text,
        tokens: crate::syntax::lex(text),
        index,
        byte,
    }
}

impl Located<'_> {
    /// The identifier under the position.
    fn identifier(&self) -> Option<&crate::syntax::Token> {
        self.tokens.iter().find(|t| {
            t.kind == crate::syntax::TokenKind::Ident
                && t.span.start <= self.byte
                && self.byte < t.span.end
        })
    }
}

/// The declaration containing `byte`, with its result.
fn declaration_at<'a>(
    located: &Located<'_>,
    results: &'a [CommandResult],
) -> Option<(DeclView, Option<&'a CommandResult>)> {
    let commands = elab::commands(located.text, &located.tokens);
    let command = commands
        .iter()
        .find(|command| command.span.start <= located.byte && located.byte <= command.span.end)?;
    let view = elab::view_declaration(located.text, &located.tokens, command)?;
    let result = results.iter().find(|result| result.span == command.span);
    Some((view, result))
}

/// Computes the result of `method` on a finished version.
pub fn answer(shared: &Shared, method: &str, params: &Value, uri: &str, state: &DocState) -> Value {
    match method {
        "textDocument/waitForDiagnostics" => json!({}),
        "$/lean/plainGoal" => plain_goal(shared, state, params),
        "$/lean/plainTermGoal" => plain_term_goal(shared, state, params),
        "textDocument/hover" => hover(state, params),
        // Lean's color provider always answers an empty list.
        "textDocument/documentColor" => json!([]),
        "textDocument/definition" | "textDocument/declaration" => definition(state, params, uri),
        "textDocument/documentSymbol" => document_symbols(state),
        "$/lean/rpc/call" => rpc_call(shared, state, params),
        "textDocument/codeAction" => code_actions(shared, state, params, uri),
        "textDocument/foldingRange"
        | "textDocument/documentHighlight"
        | "textDocument/inlayHint" => json!([]),
        "textDocument/completion" => json!({"isIncomplete": false, "items": []}),
        "codeAction/resolve" => params.clone(),
        _ if method.starts_with("textDocument/semanticTokens/") => json!({"data": []}),
        _ => {
            let _ = uri;
            Value::Null
        }
    }
}

fn goals_json(goals: Vec<String>) -> Value {
    if goals.is_empty() {
        return json!({"rendered": "no goals", "goals": []});
    }
    let rendered = goals
        .iter()
        .map(|goal| format!("```lean\n{goal}\n```"))
        .collect::<Vec<_>>()
        .join("\n---\n");
    json!({"rendered": rendered, "goals": goals})
}

fn plain_goal(shared: &Shared, state: &DocState, params: &Value) -> Value {
    let located = locate(state, params);
    let Some((view, result)) = declaration_at(&located, &state.results) else {
        return Value::Null;
    };
    let failed = result.is_some_and(|result| result.diagnostics.iter().any(|d| d.severity == 1));
    elab::goals_at(
        located.text,
        &located.tokens,
        &view,
        &shared.oracle,
        failed,
        located.byte,
    )
    .map_or(Value::Null, goals_json)
}

fn plain_term_goal(shared: &Shared, state: &DocState, params: &Value) -> Value {
    let located = locate(state, params);
    let Some((view, _)) = declaration_at(&located, &state.results) else {
        return Value::Null;
    };
    match elab::term_goal_at(
        located.text,
        &located.tokens,
        &view,
        &shared.oracle,
        located.byte,
    ) {
        Some((goal, range)) => json!({"goal": goal, "range": lsp_range(&located.index, &range)}),
        None => Value::Null,
    }
}

/// `LocationLink[]` to the declaration of the name under the cursor when it is declared in
/// this document; `[]` otherwise (other files and the library are not modelled).
fn definition(state: &DocState, params: &Value, uri: &str) -> Value {
    let located = locate(state, params);
    let Some(token) = located.identifier() else {
        return json!([]);
    };
    let name = token.text(located.text);
    let links: Vec<Value> = elab::commands(located.text, &located.tokens)
        .iter()
        .filter_map(|command| {
            let (declared, selection) = command.name.as_ref()?;
            (command.kind == crate::syntax::CommandKind::Declaration && declared == name).then(|| {
                json!({"originSelectionRange": lsp_range(&located.index, &token.span),
                       "targetUri": uri,
                       "targetRange": lsp_range(&located.index, &(command.span.start..command.syntax_end)),
                       "targetSelectionRange": lsp_range(&located.index, selection)})
            })
        })
        .collect();
    Value::Array(links)
}

fn hover(state: &DocState, params: &Value) -> Value {
    let located = locate(state, params);
    let Some(token) = located.identifier() else {
        return Value::Null;
    };
    let name = token.text(located.text);
    let commands = elab::commands(located.text, &located.tokens);
    let declared = commands.iter().find_map(|command| {
        let view = elab::view_declaration(located.text, &located.tokens, command)?;
        (view.name.as_deref() == Some(name)).then_some(view)
    });
    match declared {
        Some(view) => {
            let signature = if view.binders_text.is_empty() {
                format!("{name} : {}", view.type_text)
            } else {
                format!("{name} {} : {}", view.binders_text, view.type_text)
            };
            json!({"range": lsp_range(&located.index, &token.span),
                   "contents": {"kind": "markdown", "value": format!("```lean\n{signature}\n```")}})
        }
        None => Value::Null,
    }
}

/// `textDocument/documentSymbol` as Lean's `handleDocumentSymbol` answers it (protocol §6.6):
/// hierarchical; `namespace`/`section` are kind 3 with `children` (named by their full name, an
/// anonymous section `<section>`, the range from the opening command to its `end`, or to the end
/// of the file when unclosed; `end A.B` closes as many name parts); each declaration command is
/// kind 6 named by its declared name, `example` by its keyword, an anonymous instance
/// `instance <signature>`; `range` is the whole command syntax (doc comment and attributes
/// included, trailing whitespace and comments not), `selectionRange` the name. Like Lean, a
/// `mutual` block, a command under an `… in` prefix, Mathlib's `lemma` and compfiles' `problem`
/// are not declaration syntax and give no symbol. Where a command ends is lean-sim's own reading ([`crate::syntax::commands`]).
fn document_symbols(state: &DocState) -> Value {
    use crate::syntax::CommandKind;
    use std::ops::Range;
    struct Scope {
        name: String,
        parts: usize,
        start: usize,
        selection: Range<usize>,
        siblings: Vec<Value>,
    }
    let text = state.text.as_str();
    let index = LineIndex::new(text);
    let tokens = crate::syntax::lex(text);
    let symbol = |name: &str, kind: u8, range: Range<usize>, selection: &Range<usize>| {
        json!({"name": name, "kind": kind,
               "range": lsp_range(&index, &range),
               "selectionRange": lsp_range(&index, selection)})
    };
    let close = |scope: Scope, end: usize, children: Vec<Value>| {
        let mut value = symbol(&scope.name, 3, scope.start..end, &scope.selection);
        value["children"] = Value::Array(children);
        value
    };
    let first_code = |range: &Range<usize>| {
        tokens
            .iter()
            .find(|t| {
                t.span.start >= range.start
                    && t.span.end <= range.end
                    && !t.is_trivia()
                    && !t.is_comment()
            })
            .map(|t| (t.text(text), t.span.clone()))
    };
    let mut stack: Vec<Scope> = Vec::new();
    let mut current: Vec<Value> = Vec::new();
    let mut in_mutual = false;
    for command in elab::commands(text, &tokens) {
        let whole = command.span.start..command.syntax_end;
        match command.kind {
            _ if in_mutual => in_mutual = command.kind != CommandKind::End,
            CommandKind::Other if command.keyword == "mutual" => in_mutual = true,
            CommandKind::Namespace | CommandKind::Section => {
                let (name, selection) = match &command.name {
                    Some((name, range)) => (name.clone(), range.clone()),
                    None => ("<section>".to_owned(), whole.clone()),
                };
                stack.push(Scope {
                    parts: if command.name.is_some() {
                        name.split('.').count()
                    } else {
                        1
                    },
                    name,
                    start: command.span.start,
                    selection,
                    siblings: std::mem::take(&mut current),
                });
            }
            CommandKind::End => {
                let mut parts = tokens
                    .iter()
                    .filter(|t| {
                        t.span.start >= whole.start && t.span.end <= whole.end && t.is_code()
                    })
                    .nth(1)
                    .map_or(1, |name| name.text(text).split('.').count());
                while parts > 0 {
                    let Some(mut scope) = stack.pop() else { break };
                    if scope.parts > parts {
                        // `end B` closes only the last parts of `namespace A.B`.
                        let kept: Vec<&str> = scope.name.split('.').collect();
                        let (outer, inner) = kept.split_at(scope.parts - parts);
                        let inner_scope = Scope {
                            name: inner.join("."),
                            parts,
                            start: scope.start,
                            selection: scope.selection.clone(),
                            siblings: Vec::new(),
                        };
                        let closed = close(inner_scope, whole.end, std::mem::take(&mut current));
                        current = vec![closed];
                        scope.name = outer.join(".");
                        scope.parts -= parts;
                        stack.push(scope);
                        break;
                    }
                    parts -= scope.parts;
                    let children = std::mem::take(&mut current);
                    let siblings = std::mem::take(&mut scope.siblings);
                    let closed = close(scope, whole.end, children);
                    current = siblings;
                    current.push(closed);
                }
            }
            CommandKind::Declaration => {
                let Some((first, _)) = first_code(&whole) else {
                    continue;
                };
                if matches!(
                    first,
                    "set_option" | "open" | "attribute" | "omit" | "include"
                ) || first.starts_with("#guard")
                {
                    continue;
                }
                // Mathlib's `lemma` and compfiles' `problem` are syntaxes of their own that
                // elaborate as `theorem`; `handleDocumentSymbol` lists only
                // `Lean.Parser.Command.declaration` nodes of the unexpanded syntax, so neither
                // gets a symbol (lean4#10190).
                if matches!(command.keyword.as_str(), "lemma" | "problem") {
                    continue;
                }
                let (name, selection) = match (&command.name, command.keyword.as_str()) {
                    (Some((name, range)), _) => (name.clone(), range.clone()),
                    (None, "instance") => {
                        let declaration = crate::syntax::parse_declaration(text, &tokens, &command);
                        let keyword_end = tokens
                            .iter()
                            .find(|t| t.span.start >= whole.start && t.text(text) == "instance")
                            .map_or(whole.start, |t| t.span.end);
                        let signature_end = declaration.map_or(whole.end, |d| d.header.end);
                        let signature = keyword_end..signature_end.max(keyword_end);
                        let shown = text[signature.clone()].trim();
                        let start = signature.start
                            + (text[signature.clone()].len()
                                - text[signature.clone()].trim_start().len());
                        (format!("instance {shown}"), start..start + shown.len())
                    }
                    (None, keyword) => {
                        let at = tokens
                            .iter()
                            .find(|t| t.span.start >= whole.start && t.text(text) == keyword)
                            .map_or(whole.clone(), |t| t.span.clone());
                        (keyword.to_owned(), at)
                    }
                };
                current.push(symbol(&name, 6, whole, &selection));
            }
            _ => {}
        }
    }
    // Scopes left open run to the end of the file.
    while let Some(mut scope) = stack.pop() {
        let children = std::mem::take(&mut current);
        let siblings = std::mem::take(&mut scope.siblings);
        let closed = close(scope, text.len(), children);
        current = siblings;
        current.push(closed);
    }
    Value::Array(current)
}

fn rpc_call(shared: &Shared, state: &DocState, params: &Value) -> Value {
    let method = params.get("method").and_then(Value::as_str).unwrap_or("");
    match method {
        // An array, as Lean answers (the VS Code infoview reads its `.length`); messages are
        // plain tagged text.
        "Lean.Widget.getInteractiveDiagnostics" => {
            let index = LineIndex::new(&state.text);
            let line_range = params.pointer("/params/lineRange");
            let all: Vec<Value> = state
                .results
                .iter()
                .flat_map(|result| result.diagnostics.iter())
                .map(|diagnostic| crate::worker::diagnostic_json(&index, diagnostic))
                .filter(|diagnostic| in_line_range(diagnostic, line_range))
                .map(|mut value| {
                    if let Some(object) = value.as_object_mut() {
                        let text = object.remove("message").unwrap_or(Value::Null);
                        object.insert("message".to_owned(), json!({"text": text}));
                    }
                    value
                })
                .collect();
            Value::Array(all)
        }
        "Lean.Widget.getInteractiveGoals" => {
            let goal = plain_goal(shared, state, params);
            let goals: Vec<Value> = goal
                .get("goals")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(interactive_goal)
                .collect();
            json!({"goals": goals})
        }
        _ => Value::Null,
    }
}

/// Whether a diagnostic belongs to `lineRange` `{start, end}` as Lean decides
/// (`Lean.Server.FileWorker`): lines `[start, end)` meet the diagnostic's lines, where a full
/// range ending at column 0 does not include its last line. No range: every diagnostic.
fn in_line_range(diagnostic: &Value, line_range: Option<&Value>) -> bool {
    let Some(range) = line_range else {
        return true;
    };
    let number = |value: &Value, pointer: &str| value.pointer(pointer).and_then(Value::as_u64);
    let (Some(start), Some(end)) = (number(range, "/start"), number(range, "/end")) else {
        return true;
    };
    let full = diagnostic.get("fullRange").unwrap_or(&diagnostic["range"]);
    let first = number(full, "/start/line").unwrap_or(0);
    let last_line = number(full, "/end/line").unwrap_or(first);
    let past_last = if number(full, "/end/character") == Some(0) {
        last_line
    } else {
        last_line + 1
    };
    (start <= first && first < end) || (first <= start && start < past_last)
}

/// One goal of `plainGoal`'s text as an `InteractiveGoal`: the hypotheses before `⊢` (a line
/// indented further continues the one above, as Lean breaks long types), the target after it,
/// and `case` names, all as plain tagged text.
fn interactive_goal(goal: &str) -> Value {
    let (context, target) = goal.rsplit_once("⊢ ").unwrap_or(("", goal));
    let mut lines: Vec<String> = Vec::new();
    for line in context.lines() {
        match lines.last_mut() {
            Some(previous) if line.starts_with(' ') => {
                previous.push('\n');
                previous.push_str(line);
            }
            _ if !line.is_empty() => lines.push(line.to_owned()),
            _ => {}
        }
    }
    let mut user_name = None;
    let hyps: Vec<Value> = lines
        .iter()
        .filter_map(|line| {
            if let Some(name) = line.strip_prefix("case ") {
                user_name = Some(name.trim().to_owned());
                return None;
            }
            let (names, ty) = line.split_once(" : ")?;
            let names: Vec<&str> = names.split_whitespace().collect();
            Some(json!({"names": names, "type": {"text": ty}}))
        })
        .collect();
    let mut value = json!({"hyps": hyps, "type": {"text": target.trim_end()}, "goalPrefix": "⊢ "});
    if let (Some(name), Some(object)) = (user_name, value.as_object_mut()) {
        object.insert("userName".to_owned(), Value::String(name));
    }
    value
}

/// "Try this" quick fixes for the suggestions whose lines overlap the requested range's lines.
fn code_actions(shared: &Shared, state: &DocState, params: &Value, uri: &str) -> Value {
    let text = state.text.as_str();
    let index = LineIndex::new(text);
    let tokens = crate::syntax::lex(text);
    let line = |pointer: &str| params.pointer(pointer).and_then(Value::as_u64).unwrap_or(0) as u32;
    let (first_line, last_line) = (line("/range/start/line"), line("/range/end/line"));
    let mut actions = Vec::new();
    for command in elab::commands(text, &tokens) {
        let Some(view) = elab::view_declaration(text, &tokens, &command) else {
            continue;
        };
        for (range, suggestion) in elab::suggestions(text, &tokens, &view, &shared.oracle) {
            let (start, end) = (
                index.position(range.start).line,
                index.position(range.end).line,
            );
            if start > last_line || end < first_line {
                continue;
            }
            let mut action = json!({
                "title": format!("Try this: {suggestion}"),
                "kind": "quickfix",
                "edit": {"documentChanges": [{
                    "textDocument": {"uri": uri, "version": state.version},
                    "edits": [{"range": lsp_range(&index, &range), "newText": suggestion}],
                }]},
            });
            if actions.is_empty()
                && let Some(object) = action.as_object_mut()
            {
                object.insert("isPreferred".to_owned(), Value::Bool(true));
            }
            actions.push(action);
        }
    }
    Value::Array(actions)
}
