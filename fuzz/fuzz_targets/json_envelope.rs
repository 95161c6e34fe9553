//! The one-pass JSON validator behind `Frame::envelope` agrees with serde_json as the router
//! uses it (skipping values it does not read, so numbers are not range-checked) plus valid
//! UTF-8: whatever it accepts serde_json parses, and valid JSON that is not an object (so has
//! no `id` or `method` to refuse) it accepts.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use serde::de::IgnoredAny;
use sorryfill::transport::Frame;

fuzz_target!(|body: &[u8]| {
    let frame = Frame::new(Bytes::copy_from_slice(body));
    let ours = frame.envelope().is_ok();
    let reference =
        std::str::from_utf8(body).is_ok() && serde_json::from_slice::<IgnoredAny>(body).is_ok();
    if ours {
        assert!(
            reference,
            "the validator accepted what serde_json refuses: {body:?}"
        );
    }
    let is_object = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{');
    if reference && !is_object {
        assert!(ours, "the validator refused valid JSON: {body:?}");
    }
});
