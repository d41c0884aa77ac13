//! The control socket's request (one JSON object) as `vpcd` handles it: deserialised,
//! and an `apply`'s configuration built into tables (what the daemon does before it
//! installs one).
#![no_main]

use dataplane::daemon::proto::Request;
use dataplane::vpc::tables::Tables;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(req) = serde_json::from_slice::<Request>(data) else {
        return;
    };
    if let Request::Apply { config } = req {
        let _ = Tables::build(*config);
    }
});
