//! A topology file (arbitrary UTF-8 TOML) through `vpcctl`'s pipeline: parse, validate,
//! compile, then the data plane's table build of what compiled.
#![no_main]

use dataplane::vpc::tables::Tables;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut topo) = control::validate::parse(src) else {
        return;
    };
    if control::validate::validate(&mut topo).is_err() {
        return;
    }
    let Ok(config) = control::compile::compile(&topo) else {
        return;
    };
    if let Err(e) = Tables::build(config) {
        // A topology that validates must compile into tables the data plane accepts.
        panic!("validated topology rejected by Tables::build: {e}");
    }
});
