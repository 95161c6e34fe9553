//! A small Lean 4 lexer and outliner, sorryfill's one reader of Lean text: the hole scanner,
//! the soundness gate, the splicer, the model-output parser and the sketch scanner use it
//! (lean-sim reads Lean with its own reader, on purpose, so that the two cross-check).
//!
//! - [`lex`] turns any text into tokens that cover every byte (it never panics).
//! - [`outline`] splits a file into its header and top-level commands (see [`outline`] module
//!   docs for the line-start simplification).
//! - [`parse_declaration`] reads a declaration's name, binders, type and value range.
//! - [`word_spans`] finds a keyword (`sorry`, `have`) as the first component of a name.
//! - [`LineIndex`] converts between byte offsets and LSP positions (UTF-16 columns), also as
//!   `lsp_types` values: the one such conversion for plain text in sorryfill.

mod declaration;
mod lexer;
mod line_index;
pub mod outline;

pub use declaration::{Binder, BinderKind, Declaration, parse_declaration};
pub use lexer::{
    Lexer, SYMBOLS, Token, TokenKind, closes_bracket, is_id_rest, is_id_start, lex,
    lex_interpolating_every_string, opens_bracket, word_spans,
};
pub use line_index::{LineIndex, Position, floor_char_boundary};
pub use outline::{
    Command, CommandKind, InPrefix, Outline, Scopes, SplitCommands, in_prefixes, outline,
    outline_tokens, split_commands,
};
