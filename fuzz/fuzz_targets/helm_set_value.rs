//! Any `--set` expression must be applied or refused by Helm's strvals grammar without a
//! panic or a stack overflow, in both typed and string modes, on empty values and on values
//! that already hold maps, lists and scalars where the expression may walk; what comes out
//! is still a map and digests. The first byte picks the mode and the starting values.
#![no_main]

use gitops_core::helm_release::values::{config_digest, set_value};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    // Every `[65536]` makes a list of 65537 items, as in Helm; a short input keeps the
    // memory of one run small.
    if data.len() > 512 {
        return;
    }
    let Some((&mode, rest)) = data.split_first() else { return };
    let expr = String::from_utf8_lossy(rest);
    let mut values = if mode & 2 == 0 {
        json!({})
    } else {
        json!({"a": {"b": [1, {"c": "x"}, [2]], "s": "text"}, "l": [null, true, 1.5], "n": null})
    };
    if set_value(&mut values, &expr, mode & 1 == 1).is_ok() {
        assert!(values.is_object(), "set_value made a non-map from {expr:?}");
        let _ = config_digest(&values);
    }
});
