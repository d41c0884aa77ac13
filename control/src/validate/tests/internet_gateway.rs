//! Internet gateways: schema, ids, VPC, route targets, internet side.

use super::*;

#[test]
fn gateways_accept_the_documented_schema() {
    let (t, w) = ok(&format!(
        "{}{}{}{}{}",
        igw("igw-a", INET),
        eni("eni-a", "10.0.1.10"),
        eni_pub("eni-b", "10.0.1.11", "198.51.100.41"),
        eip(
            "eipalloc-a",
            "198.51.100.40",
            "eni = \"eni-a\"\nprivate_ip = \"10.0.1.10\"\n"
        ),
        eip("eipalloc-free", "198.51.100.50", ""),
    ));
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(t.internet_gateways.len(), 1);
    assert_eq!(t.elastic_ips.len(), 2);
}

#[test]
fn gateway_ids_carry_their_prefix_and_are_unique() {
    expect(&igw("gw-a", ""), "gw-a.id:", "must start with `igw-`");
    expect(
        &eip("eip-a", "198.51.100.40", ""),
        "eip-a.id:",
        "must start with `eipalloc-`",
    );
    expect(
        &format!("{}{}", igw("igw-a", ""), igw("igw-a", "")),
        "igw-a.id:",
        "internet_gateway[1] reuses the id of internet_gateway[0]",
    );
    expect(
        &format!(
            "{}{}",
            eip("eipalloc-a", "198.51.100.40", ""),
            eip("eipalloc-a", "198.51.100.41", "")
        ),
        "eipalloc-a.id:",
        "elastic_ip[1] reuses the id of elastic_ip[0]",
    );
    let e = errors("[[internet_gateway]]\nvpc = \"vpc-demo\"\n");
    assert!(
        e.iter().any(|e| e.starts_with("internet_gateway[0].id:")),
        "{e:?}"
    );
}

#[test]
fn internet_gateway_vpc_must_exist() {
    expect(
        "[[internet_gateway]]\nid = \"igw-a\"\nvpc = \"vpc-nope\"\n",
        "igw-a.vpc:",
        "no VPC with id `vpc-nope`",
    );
    expect(
        "[[internet_gateway]]\nid = \"igw-a\"\n",
        "igw-a.vpc:",
        "missing vpc",
    );
}

#[test]
fn one_internet_gateway_per_vpc() {
    expect(
        &format!("{}{}", igw("igw-a", ""), igw("igw-b", "")),
        "igw-b.vpc:",
        "vpc-demo already has an internet gateway (igw-a)",
    );
    // A VPC may have none, and another VPC its own.
    ok(&format!(
        "{OTHER_VPC}{}[[internet_gateway]]\nid = \"igw-b\"\nvpc = \"vpc-b\"\n",
        igw("igw-a", "")
    ));
}

#[test]
fn igw_route_target_must_exist() {
    expect(
        &rtb(r#"{ destination = "0.0.0.0/0", target = "igw-nope" }"#),
        "rtb-x.routes[0].target:",
        "no internet gateway with id `igw-nope`",
    );
    let (t, _) = ok(&format!(
        "{}{}",
        igw("igw-a", ""),
        rtb(r#"{ destination = "0.0.0.0/0", target = "igw-a" }"#)
    ));
    assert_eq!(
        t.route_tables[0].routes[0].target_ref(),
        RouteTargetRef::InternetGateway("igw-a")
    );
}

#[test]
fn igw_route_target_must_be_of_the_same_vpc() {
    expect(
        &format!(
            "{OTHER_VPC}[[internet_gateway]]\nid = \"igw-b\"\nvpc = \"vpc-b\"\n{}",
            rtb(r#"{ destination = "0.0.0.0/0", target = "igw-b" }"#)
        ),
        "rtb-x.routes[0].target:",
        "igw-b is attached to vpc-b, but this route table belongs to vpc-demo",
    );
}

#[test]
fn igw_is_not_a_target_for_routes_inside_the_vpc() {
    for dest in ["10.0.0.0/16", "10.0.1.0/24", "10.0.1.128/25"] {
        let src = format!(
            "{}{}",
            igw("igw-a", ""),
            rtb(&format!(
                "{{ destination = \"{dest}\", target = \"igw-a\" }}"
            ))
        );
        let errs = errors(&src);
        assert!(
            errs.iter().any(|e| e.contains(
                "not a valid target for routes more specific than or equal to the local route"
            )),
            "{dest}: {errs:?}"
        );
    }
}

#[test]
fn ipv6_routes_to_an_igw_are_not_supported_yet() {
    expect(
        &format!(
            "{}{}",
            igw("igw-a", ""),
            rtb(r#"{ destination = "::/0", target = "igw-a" }"#)
        ),
        "rtb-x.routes[0].destination:",
        "IPv6 through an internet gateway is not supported yet",
    );
}

#[test]
fn internet_cidr_is_8_to_30_and_normalised() {
    for (cidr, good) in [
        ("12.0.0.0/7", false),
        ("12.0.0.0/8", true),
        ("203.0.113.0/30", true),
        ("203.0.113.0/31", false),
    ] {
        let net: Ipv4Net = cidr.parse().unwrap();
        let gw = Ipv4Addr::from(u32::from(net.network()) + 1);
        let host = Ipv4Addr::from(u32::from(net.network()) + 2);
        let src = igw(
            "igw-a",
            &format!(
                "netns = \"inet\", cidr = \"{cidr}\", gateway = \"{gw}\", hosts = [\"{host}\"]"
            ),
        );
        if good {
            ok(&src);
        } else {
            expect(&src, "igw-a.internet.cidr:", "/8 to /30");
        }
    }
    warns(
        &igw(
            "igw-a",
            r#"netns = "inet", cidr = "203.0.113.7/24", gateway = "203.0.113.1", hosts = ["203.0.113.5"]"#,
        ),
        "igw-a.internet.cidr:",
        "host bits set; using 203.0.113.0/24",
    );
    expect(
        &igw(
            "igw-a",
            r#"netns = "inet", cidr = "10.0.0.0/8", gateway = "10.0.0.1", hosts = ["10.0.0.5"]"#,
        ),
        "igw-a.internet.cidr:",
        "overlaps vpc-demo's CIDR 10.0.0.0/16",
    );
}

#[test]
fn internet_gateway_address_is_a_usable_address_of_the_cidr() {
    for (gw, needle) in [
        ("198.51.100.1", "outside internet.cidr 203.0.113.0/24"),
        ("203.0.113.0", "network address"),
        ("203.0.113.255", "broadcast address"),
    ] {
        expect(
            &igw(
                "igw-a",
                &format!(
                    "netns = \"inet\", cidr = \"203.0.113.0/24\", gateway = \"{gw}\", hosts = [\"203.0.113.5\"]"
                ),
            ),
            "igw-a.internet.gateway:",
            needle,
        );
    }
    // The internet side is public: the gateway drops private sources and destinations.
    expect(
        &igw(
            "igw-a",
            r#"netns = "inet", cidr = "192.168.0.0/24", gateway = "192.168.0.1", hosts = ["192.168.0.5"]"#,
        ),
        "igw-a.internet.gateway:",
        "RFC 1918",
    );
}

#[test]
fn internet_hosts_are_distinct_usable_addresses_other_than_the_gateway() {
    let with_hosts = |hosts: &str| {
        igw(
            "igw-a",
            &format!("netns = \"inet\", cidr = \"203.0.113.0/24\", gateway = \"203.0.113.1\", hosts = [{hosts}]"),
        )
    };
    expect(&with_hosts(""), "igw-a.internet.hosts:", "at least one");
    expect(
        &igw(
            "igw-a",
            r#"netns = "inet", cidr = "203.0.113.0/24", gateway = "203.0.113.1""#,
        ),
        "igw-a.internet.hosts:",
        "at least one",
    );
    expect(
        &with_hosts(r#""203.0.113.5", "198.51.100.5""#),
        "igw-a.internet.hosts[1]:",
        "outside internet.cidr",
    );
    expect(
        &with_hosts(r#""203.0.113.255""#),
        "igw-a.internet.hosts[0]:",
        "broadcast address",
    );
    expect(
        &with_hosts(r#""203.0.113.5", "203.0.113.1""#),
        "igw-a.internet.hosts[1]:",
        "the gateway's own address",
    );
    expect(
        &with_hosts(r#""203.0.113.5", "203.0.113.6", "203.0.113.5""#),
        "igw-a.internet.hosts[2]:",
        "already internet.hosts[0]",
    );
}

#[test]
fn internet_mtu_is_576_to_1500() {
    for (mtu, good) in [(575, false), (576, true), (1500, true), (1501, false)] {
        let src = igw("igw-a", &format!("{INET}, mtu = {mtu}"));
        if good {
            ok(&src);
        } else {
            expect(&src, "igw-a.internet.mtu:", "576..=1500");
        }
    }
}

#[test]
fn internet_netns_and_ifname_are_valid_names() {
    expect(
        &igw(
            "igw-a",
            r#"netns = "in ternet", cidr = "203.0.113.0/24", gateway = "203.0.113.1", hosts = ["203.0.113.5"]"#,
        ),
        "igw-a.internet.netns:",
        "not a usable namespace name",
    );
    expect(
        &igw("igw-a", &format!("{INET}, ifname = \"a/b\"")),
        "igw-a.internet.ifname:",
        "not a valid Linux interface name",
    );
}

#[test]
fn internet_netns_is_its_own() {
    expect(
        &format!(
            "{}netns = \"internet\"\n{}",
            eni_unattached("eni-a", "10.0.1.10"),
            igw("igw-a", INET)
        ),
        "igw-a.internet.netns:",
        "`internet` is the namespace of eni-a",
    );
    expect(
        &format!(
            "{OTHER_VPC}{}[[internet_gateway]]\nid = \"igw-b\"\nvpc = \"vpc-b\"\ninternet = {{ {INET} }}\n",
            igw("igw-a", INET)
        ),
        "igw-b.internet.netns:",
        "already the internet namespace of igw-a",
    );
}

#[test]
fn generated_gateway_macs_are_claimed() {
    let m = crate::names::igw_mac("igw-a");
    expect(
        &format!(
            "{}{}mac = \"{m}\"\n",
            igw("igw-a", ""),
            eni("eni-a", "10.0.1.10")
        ),
        "eni-a.mac:",
        "already used by internet gateway igw-a",
    );
}

#[test]
fn gateway_errors_are_reported_together() {
    let src = format!(
        "{}{}{}{}",
        igw(
            "igw-a",
            r#"netns = "inet", cidr = "203.0.113.0/24", gateway = "203.0.113.0", hosts = []"#
        ),
        igw("igw-b", ""),
        eip("eipalloc-a", "10.1.2.3", "eni = \"eni-nope\"\n"),
        rtb(r#"{ destination = "10.0.0.0/16", target = "igw-a" }"#),
    );
    let e = errors(&src);
    for prefix in [
        "igw-a.internet.gateway:",
        "igw-a.internet.hosts:",
        "igw-b.vpc:",
        "eipalloc-a.public_ip:",
        "eipalloc-a.eni:",
        "rtb-x.routes[0].target:",
    ] {
        assert!(e.iter().any(|e| e.starts_with(prefix)), "{prefix}: {e:?}");
    }
    let e = check_str(&format!(
        "{BASE}[[elastic_ip]]\nid = \"eipalloc-a\"\npublic_ip = \"nope\"\n[[internet_gateway]]\nid = \"igw-a\"\nvpc = \"vpc-demo\"\ninternet = {{ netns = \"x\" }}\n"
    ))
    .unwrap_err();
    assert!(
        e.iter().any(|e| e.starts_with("eipalloc-a.public_ip:")),
        "{e:?}"
    );
    // A field missing from the inline table is named without its table (as for
    // the other kinds' nested tables).
    assert!(
        e.iter()
            .any(|e| e.starts_with("igw-a.cidr:") && e.contains("missing field `cidr`")),
        "{e:?}"
    );
}
