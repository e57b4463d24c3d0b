//! The witness's parsers over arbitrary bytes: an `add-checkpoint` body (what a
//! witness reads from anyone on the network), the origin of a note, and a witness
//! policy file. None may panic; a body that parses re-encodes to the same bytes
//! (canonical encoding: one way to write each request). On stable,
//! `evident-tlog`'s `witness::tests::mutated_inputs_never_panic` runs the same checks
//! over mutations of valid inputs.
#![no_main]

use evident_tlog::witness::{checkpoint_origin, AddCheckpoint, WitnessPolicy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = AddCheckpoint::parse(data) {
        assert_eq!(request.to_body().as_bytes(), data);
        let _ = checkpoint_origin(&request.checkpoint);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = WitnessPolicy::parse(text);
        let _ = checkpoint_origin(text);
    }
});
