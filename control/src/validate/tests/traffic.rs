//! Protocol, port and ICMP fields of firewall rules (network ACLs and security groups).

use super::*;

#[test]
fn ports_with_icmp_are_an_error() {
    expect(
        &nacl(
            "acl-x",
            "",
            "{ rule = 1, protocol = \"icmp\", ports = \"80\", cidr = \"0.0.0.0/0\", action = \"allow\" }",
        ),
        "acl-x.inbound[0].ports:",
        "use icmp_type/icmp_code",
    );
    expect(
        &sg(
            "sg-x",
            "",
            "{ protocol = \"icmpv6\", ports = 80, source = \"::/0\" }",
        ),
        "sg-x.inbound[0].ports:",
        "use icmp_type/icmp_code",
    );
}

#[test]
fn scenario_17_ports_of_other_protocols_are_ignored_with_a_warning() {
    warns(
        &nacl(
            "acl-x",
            "",
            "{ rule = 1, protocol = 47, ports = \"80-80\", cidr = \"0.0.0.0/0\", action = \"allow\" }",
        ),
        "acl-x.inbound[0].ports:",
        "ignored for protocol 47",
    );
    warns(
        &sg(
            "sg-x",
            "",
            "{ protocol = \"-1\", ports = \"22\", source = \"10.0.0.0/16\" }",
        ),
        "sg-x.inbound[0].ports:",
        "ignored for protocol all (-1)",
    );
}

#[test]
fn port_ranges_are_ordered_and_bounded() {
    for (ports, needle) in [
        ("\"2000-1000\"", "lower port to the higher"),
        ("\"1-65536\"", "0..=65535"),
        ("70000", "0..=65535"),
    ] {
        expect(
            &sg(
                "sg-x",
                "",
                &format!("{{ protocol = \"tcp\", ports = {ports}, source = \"0.0.0.0/0\" }}"),
            ),
            "sg-x.inbound[0].ports:",
            needle,
        );
    }
    for bad in ["\"80-\"", "\"x\"", "-1", "\"1-2-3\""] {
        expect(
            &sg(
                "sg-x",
                "",
                &format!("{{ protocol = \"tcp\", ports = {bad}, source = \"0.0.0.0/0\" }}"),
            ),
            "sg-x.inbound[0].ports:",
            "expected a port",
        );
    }
    ok(&sg(
        "sg-x",
        "",
        "{ protocol = \"udp\", ports = \"0-65535\", source = \"0.0.0.0/0\" }, { protocol = \"tcp\", ports = 443, source = \"0.0.0.0/0\" }",
    ));
}

#[test]
fn icmp_fields_only_with_icmp() {
    expect(
        &sg(
            "sg-x",
            "",
            "{ protocol = \"tcp\", icmp_type = 8, source = \"0.0.0.0/0\" }",
        ),
        "sg-x.inbound[0].icmp_type:",
        "only apply to icmp and icmpv6",
    );
    warns(
        &sg(
            "sg-x",
            "",
            "{ protocol = \"all\", icmp_type = 8, source = \"0.0.0.0/0\" }",
        ),
        "sg-x.inbound[0]:",
        "icmp_type/icmp_code are ignored for protocol all",
    );
    expect(
        &sg(
            "sg-x",
            "",
            "{ protocol = \"icmp\", icmp_type = 256, source = \"0.0.0.0/0\" }",
        ),
        "sg-x.inbound[0].icmp_type:",
        "outside 0..=255",
    );
    expect(
        &sg(
            "sg-x",
            "",
            "{ protocol = \"icmp\", icmp_code = 4, source = \"0.0.0.0/0\" }",
        ),
        "sg-x.inbound[0].icmp_code:",
        "needs an icmp_type",
    );
    ok(&sg(
        "sg-x",
        "",
        "{ protocol = \"icmp\", icmp_type = 3, icmp_code = 4, source = \"0.0.0.0/0\" }, { protocol = \"icmp\", icmp_type = -1, icmp_code = -1, source = \"0.0.0.0/0\" }",
    ));
}

#[test]
fn icmpv6_with_an_ipv4_cidr_warns() {
    warns(
        &nacl(
            "acl-x",
            "",
            "{ rule = 1, protocol = \"icmpv6\", icmp_type = 128, cidr = \"0.0.0.0/0\", action = \"allow\" }",
        ),
        "acl-x.inbound[0]:",
        "matches all ICMP types",
    );
    let (_, w) = ok(&nacl(
        "acl-x",
        "",
        "{ rule = 1, protocol = \"icmpv6\", icmp_type = 128, cidr = \"::/0\", action = \"allow\" }",
    ));
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn protocols_by_name_number_or_minus_one() {
    for p in [
        "\"TCP\"",
        "\"Udp\"",
        "\"icmp\"",
        "\"ICMPv6\"",
        "\"all\"",
        "\"-1\"",
        "-1",
        "47",
        "\"47\"",
        "0",
        "255",
    ] {
        ok(&sg(
            "sg-x",
            "",
            &format!("{{ protocol = {p}, source = \"0.0.0.0/0\" }}"),
        ));
    }
    for p in ["256", "-2", "\"gre\"", "\"\"", "\"4 7\""] {
        expect(
            &sg(
                "sg-x",
                "",
                &format!("{{ protocol = {p}, source = \"0.0.0.0/0\" }}"),
            ),
            "sg-x.inbound[0].protocol:",
            "IANA protocol number",
        );
    }
}
