//! The internet segment and its hosts: schema, ids, addresses, gateways, namespaces,
//! services.

use super::*;

/// An internet host with the given TOML body after its id.
fn host(id: &str, body: &str) -> String {
    format!("[[internet_host]]\nid = \"{id}\"\n{body}\n")
}

#[test]
fn hosts_accept_the_documented_schema() {
    let (t, w) = ok(&format!(
        "{}[internet]\nnetns = \"inet\"\nmtu = 1400\n{}{}",
        igw("igw-a", ""),
        host(
            "client",
            "name = \"a client\"\naddresses = [\"198.51.100.10\", \"203.0.113.77\"]\ninternet_gateways = [\"igw-a\"]\nservices = [{ kind = \"http\", port = 80 }, { kind = \"echo\", protocol = \"udp\", port = 7 }]"
        ),
        host("bogon", "addresses = [\"10.99.0.5\"]\nnetns = \"bogon-ns\""),
    ));
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(t.internet_hosts.len(), 2);
    assert_eq!(t.internet_hosts[0].netns(), "client");
    assert_eq!(t.internet_hosts[1].netns(), "bogon-ns");
    assert_eq!(t.internet.as_ref().map(|s| s.mtu), Some(1400));
}

#[test]
fn host_ids_are_plain_and_unique_across_kinds() {
    expect(
        &host("", "addresses = [\"198.51.100.10\"]"),
        "internet_host[0].id:",
        "missing id",
    );
    expect(
        &host("a b", "addresses = [\"198.51.100.10\"]"),
        "a b.id:",
        "letters, digits",
    );
    expect(
        &format!(
            "{}{}",
            igw("igw-a", ""),
            host("igw-a", "addresses = [\"198.51.100.10\"]")
        ),
        "igw-a.id:",
        "reuses the id",
    );
}

#[test]
fn host_addresses_are_unicast_distinct_and_not_public_addresses_of_the_vpcs() {
    expect(&host("h", "addresses = []"), "h.addresses:", "at least one");
    for (a, why) in [
        ("127.0.0.1", "loopback"),
        ("224.0.0.5", "multicast"),
        ("255.255.255.255", "reserved or broadcast"),
        ("0.1.2.3", "this network"),
        ("169.254.1.1", "link-local"),
    ] {
        expect(
            &host("h", &format!("addresses = [\"{a}\"]")),
            "h.addresses[0]:",
            why,
        );
    }
    expect(
        &format!(
            "{}{}",
            host("h1", "addresses = [\"198.51.100.10\"]"),
            host("h2", "addresses = [\"198.51.100.10\"]")
        ),
        "h2.addresses[0]:",
        "is already h1.addresses[0]",
    );
    expect(
        &format!(
            "{}{}{}",
            igw("igw-a", ""),
            eip("eipalloc-a", "198.51.100.40", ""),
            host("h", "addresses = [\"198.51.100.40\"]")
        ),
        "h.addresses[0]:",
        "is the public address eipalloc-a.public_ip",
    );
}

#[test]
fn host_gateways_exist_and_sit_on_the_segment() {
    expect(
        &host(
            "h",
            "addresses = [\"198.51.100.10\"]\ninternet_gateways = [\"igw-nope\"]",
        ),
        "h.internet_gateways[0]:",
        "no internet gateway with id `igw-nope`",
    );
    expect(
        &format!(
            "{}{}",
            igw("igw-a", INET),
            host(
                "h",
                "addresses = [\"198.51.100.10\"]\ninternet_gateways = [\"igw-a\"]"
            )
        ),
        "h.internet_gateways[0]:",
        "an internet namespace of its own",
    );
    expect(
        &format!(
            "{}{}",
            igw("igw-a", ""),
            host(
                "h",
                "addresses = [\"198.51.100.10\"]\ninternet_gateways = [\"igw-a\", \"igw-a\"]"
            )
        ),
        "h.internet_gateways[1]:",
        "listed twice",
    );
    warns(
        &host("h", "addresses = [\"198.51.100.10\"]"),
        "internet_host:",
        "no internet gateway is on the internet segment",
    );
}

#[test]
fn namespaces_are_the_hosts_own() {
    let enins = "[[eni]]\nid = \"eni-a\"\nsubnet = \"subnet-a\"\nprivate_ip = \"10.0.1.10\"\nnetns = \"web\"\n";
    expect(
        &format!(
            "{}{enins}{}",
            igw("igw-a", ""),
            host("web", "addresses = [\"198.51.100.10\"]")
        ),
        "web.netns:",
        "already the namespace of eni-a",
    );
    expect(
        &format!(
            "{}{}{}",
            igw("igw-a", ""),
            host("h1", "addresses = [\"198.51.100.10\"]\nnetns = \"x\""),
            host("h2", "addresses = [\"198.51.100.11\"]\nnetns = \"x\"")
        ),
        "h2.netns:",
        "already the namespace of h1",
    );
    expect(
        &format!(
            "{}{}",
            igw("igw-a", ""),
            host("internet", "addresses = [\"198.51.100.10\"]")
        ),
        "internet.netns:",
        "already the namespace of the internet segment",
    );
    // A gateway with a namespace of its own called `internet` and one on the segment.
    expect(
        &format!("{}{}", igw("igw-a", INET), igw_in("igw-b", "vpc-b")),
        "internet.netns:",
        "set `[internet] netns` to another name",
    );
    expect(
        &format!("{}[internet]\nmtu = 9000\n", igw("igw-a", "")),
        "internet.mtu:",
        "576..=1500",
    );
}

#[test]
fn services_use_distinct_ports_and_http_is_tcp() {
    let h = |services: &str| {
        format!(
            "{}{}",
            igw("igw-a", ""),
            host(
                "h",
                &format!("addresses = [\"198.51.100.10\"]\nservices = [{services}]")
            )
        )
    };
    expect(
        &h("{ kind = \"http\", protocol = \"udp\", port = 80 }"),
        "h.services[0].protocol:",
        "over tcp",
    );
    expect(
        &h("{ kind = \"echo\", port = 0 }"),
        "h.services[0].port:",
        "not a port",
    );
    expect(
        &h("{ kind = \"echo\", port = 80 }, { kind = \"http\", port = 80 }"),
        "h.services[1].port:",
        "tcp/80 is already services[0]",
    );
    // The same port over UDP is another service.
    ok(&h(
        "{ kind = \"echo\", port = 7 }, { kind = \"echo\", protocol = \"udp\", port = 7 }",
    ));
}

/// An internet gateway of another VPC (declared here), on the segment.
fn igw_in(id: &str, vpc: &str) -> String {
    format!("[[vpc]]\nid = \"{vpc}\"\ncidr = \"10.9.0.0/16\"\n[[internet_gateway]]\nid = \"{id}\"\nvpc = \"{vpc}\"\n")
}
