//! `[lab]`: conntrack time scale, NAT gateway ports and idle timeout.

use super::*;

#[test]
fn lab_time_scale_is_in_0_to_1() {
    for (scale, good) in [
        ("0.0", false),
        ("-0.5", false),
        ("1.5", false),
        ("nan", false),
        ("0.01", true),
        ("1", true),
    ] {
        let src = format!("[lab]\nconntrack_time_scale = {scale}\n");
        if good {
            ok(&src);
        } else {
            expect(
                &src,
                "lab.conntrack_time_scale:",
                "greater than 0 and at most 1",
            );
        }
    }
    expect("[lab]\nscale = 0.5\n", "lab.scale:", "unknown field");
    expect(
        "[[lab]]\nconntrack_time_scale = 0.5\n",
        "file.lab:",
        "single table",
    );
}

#[test]
fn lab_nat_gateway_ports_are_an_ordered_range_within_1024_to_65535() {
    for (ports, error) in [
        ("[1024, 65535]", None),
        ("[2000, 2000]", None),
        ("[1023, 2000]", Some("must be within 1024..=65535")),
        ("[2000, 65536]", Some("must be within 1024..=65535")),
        ("[3000, 2000]", Some("from the lower port to the higher")),
    ] {
        let src = format!("[lab]\nnat_gateway_ports = {ports}\n");
        match error {
            None => {
                ok(&src);
            }
            Some(needle) => expect(&src, "lab.nat_gateway_ports:", needle),
        }
    }
    expect(
        "[lab]\nnat_gateway_ports = [2000]\n",
        "lab.nat_gateway_ports:",
        "",
    );
}

#[test]
fn lab_nat_gateway_idle_timeout_is_positive() {
    for (secs, good) in [
        ("0.0", false),
        ("-1", false),
        ("nan", false),
        ("inf", false),
        ("0.5", true),
        ("350", true),
    ] {
        let src = format!("[lab]\nnat_gateway_idle_timeout = {secs}\n");
        if good {
            ok(&src);
        } else {
            expect(&src, "lab.nat_gateway_idle_timeout:", "greater than 0");
        }
    }
}

#[test]
fn dns_upstream_is_an_internet_hosts_address_on_the_segment() {
    let host = "[[internet_host]]\nid = \"ns1\"\naddresses = [\"203.0.113.53\"]\nservices = [{ kind = \"dns\" }]\n";
    let (t, w) = ok(&format!(
        "{}{host}[lab]\ndns_upstream = \"203.0.113.53\"\n",
        igw("igw-a", "")
    ));
    assert!(w.is_empty(), "{w:?}");
    let s = t.internet_hosts[0].services[0];
    assert_eq!(
        (s.protocol(), s.port()),
        (crate::model::ServiceProtocol::Udp, 53)
    );
    let c = crate::compile::compile(&t).unwrap();
    let up = c.dns.upstream.unwrap();
    assert_eq!(up.server, std::net::Ipv4Addr::new(203, 0, 113, 53));
    assert_eq!(up.source, std::net::Ipv4Addr::new(192, 0, 2, 53));
    assert_eq!(up.netns, "internet");
    let plan = crate::segment::SegmentPlan::of(&t).unwrap();
    assert_eq!(
        plan.resolver,
        Some((up.source, up.server)),
        "the bridge holds the resolver's address"
    );
    assert_eq!(
        crate::segment::serve_args(&plan.hosts[0]),
        [
            "serve",
            "--name",
            "ns1",
            "--address",
            "203.0.113.53",
            "--service",
            "dns:udp:53"
        ]
    );

    expect(
        &format!(
            "{}{host}[lab]\ndns_upstream = \"203.0.113.54\"\n",
            igw("igw-a", "")
        ),
        "lab.dns_upstream:",
        "no internet host's address",
    );
    expect(
        "[lab]\ndns_upstream = \"203.0.113.53\"\n",
        "lab.dns_upstream:",
        "does not use",
    );
    expect(
        &format!(
            "{}{host}[internet]\nresolver_address = \"203.0.113.53\"\n[lab]\ndns_upstream = \"203.0.113.53\"\n",
            igw("igw-a", "")
        ),
        "internet.resolver_address:",
        "address of its own",
    );
    expect(
        &format!(
            "{}[[internet_host]]\nid = \"h\"\naddresses = [\"203.0.113.9\"]\nservices = [{{ kind = \"dns\", protocol = \"tcp\" }}, {{ kind = \"http\" }}]\n",
            igw("igw-a", "")
        ),
        "h.services[0].protocol:",
        "over udp",
    );
    expect(
        &format!(
            "{}[[internet_host]]\nid = \"h\"\naddresses = [\"203.0.113.9\"]\nservices = [{{ kind = \"http\" }}]\n",
            igw("igw-a", "")
        ),
        "h.services[0].port:",
        "give the port",
    );
    // Without it, no upstream and no address on the bridge.
    let (t, _) = ok(&format!("{}{host}", igw("igw-a", "")));
    assert_eq!(crate::compile::compile(&t).unwrap().dns.upstream, None);
    assert_eq!(crate::segment::SegmentPlan::of(&t).unwrap().resolver, None);
}
