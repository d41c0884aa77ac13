//! Prefix lists: one address family, within their size.

use super::*;

#[test]
fn prefix_lists_hold_one_family_within_their_size() {
    let pl = |body: &str| format!("[[prefix_list]]\nid = \"pl-x\"\n{body}\n");
    expect(&pl("entries = []"), "pl-x.entries:", "at least one");
    expect(&pl(""), "pl-x.entries:", "at least one");
    expect(
        &pl("entries = [\"10.0.0.0/8\", \"2001:db8::/32\"]"),
        "pl-x.entries[1]:",
        "same address family",
    );
    expect(
        &pl("entries = [\"10.0.0.0/8\", \"192.0.2.0/24\"]\nmax_entries = 1"),
        "pl-x.entries:",
        "do not fit in max_entries = 1",
    );
    expect(
        &pl("entries = [\"10.0.0.0/8\"]\nmax_entries = 0"),
        "pl-x.max_entries:",
        "at least 1",
    );
    expect(&pl("entries = [\"nope\"]"), "pl-x.entries[0]:", "invalid");
    warns(
        &pl("entries = [\"198.51.100.7/24\"]"),
        "pl-x.entries[0]:",
        "using 198.51.100.0/24",
    );
}
