//! `lean_syntax::lex` is total: its tokens cover every byte of any text, in order, each on
//! character boundaries, and it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|src: &str| {
    let tokens = lean_syntax::lex(src);
    let mut at = 0;
    for token in &tokens {
        let text = token.text(src);
        assert_eq!(token.span.start, at, "a gap or overlap before {text:?}");
        assert!(token.span.end > token.span.start, "an empty token at {at}");
        at = token.span.end;
    }
    assert_eq!(at, src.len(), "the tokens stop before the end");
    let _ = lean_syntax::outline_tokens(src, &tokens);
});
