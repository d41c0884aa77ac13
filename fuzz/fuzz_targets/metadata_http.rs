//! The instance metadata service's HTTP request parser on arbitrary bytes.
#![no_main]

use dataplane::vpc::metadata::http;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = format!("{:?}", http::parse(data));
});
