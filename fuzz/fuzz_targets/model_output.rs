//! The model-output parser never panics on anything a model may send, and a block it offers
//! as a candidate is a closed block of the output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sorryfill::models::parse::parse_output;

fuzz_target!(|data: (&str, &str)| {
    let (raw, theorem) = data;
    let parsed = parse_output(raw, theorem);
    for (index, block) in parsed.blocks.iter().enumerate() {
        let _ = parsed.block_text(raw, index);
        let _ = block.is_closed();
    }
});
