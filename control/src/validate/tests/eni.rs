//! ENIs: addresses, reserved addresses, MACs, interfaces, MTU, security groups, conntrack.

use super::*;

#[test]
fn eni_ip_outside_subnet() {
    expect(
        &eni("eni-a", "10.0.2.10"),
        "eni-a.private_ip:",
        "outside subnet-a",
    );
    let src = format!(
        "{}secondary_ips = [\"10.0.1.11\", \"10.0.9.9\"]\n",
        eni("eni-a", "10.0.1.10")
    );
    expect(&src, "eni-a.secondary_ips[1]:", "outside subnet-a");
}

#[test]
fn scenario_1_reserved_addresses() {
    for (ip, why) in [
        ("10.0.1.0", "network address"),
        ("10.0.1.1", "VPC router"),
        ("10.0.1.2", "Amazon DNS"),
        ("10.0.1.3", "future use"),
        ("10.0.1.255", "broadcast"),
    ] {
        expect(&eni("eni-a", ip), "eni-a.private_ip:", why);
    }
    ok(&format!(
        "{}{}",
        eni("eni-a", "10.0.1.4"),
        eni("eni-b", "10.0.1.254")
    ));
    // A /28 has exactly 11 assignable addresses.
    let net: Ipv4Net = "10.0.2.16/28".parse().unwrap();
    assert_eq!(assignable_ipv4(net).count(), 11);
    // …and the validator agrees: 16 ENIs, one per address, give 5 errors.
    let mut src = String::from(
        "[[subnet]]\nid = \"subnet-s\"\nvpc = \"vpc-demo\"\ncidr = \"10.0.2.16/28\"\n",
    );
    for (i, ip) in net
        .hosts()
        .chain([net.network(), net.broadcast()])
        .enumerate()
    {
        src.push_str(&format!(
            "[[eni]]\nid = \"eni-{i}\"\nsubnet = \"subnet-s\"\nprivate_ip = \"{ip}\"\n"
        ));
    }
    assert_eq!(errors(&src).len(), 5, "{:?}", errors(&src));
}

#[test]
fn ipv6_reserved_addresses() {
    let net: Ipv6Net = "2600:1f18:aa00:101::/64".parse().unwrap();
    for ip in [
        "2600:1f18:aa00:101::",
        "2600:1f18:aa00:101::1",
        "2600:1f18:aa00:101::3",
        "2600:1f18:aa00:101:ffff:ffff:ffff:ffff",
    ] {
        assert!(
            reserved_ipv6_reason(net, ip.parse().unwrap()).is_some(),
            "{ip}"
        );
    }
    assert!(reserved_ipv6_reason(net, "2600:1f18:aa00:101::4".parse().unwrap()).is_none());
    let src = "[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\nipv6_cidr = \"2600:1f18:aa00:100::/56\"\n[[subnet]]\nid = \"subnet-x\"\nvpc = \"vpc-x\"\ncidr = \"10.0.0.0/24\"\nipv6_cidr = \"2600:1f18:aa00:101::/64\"\n[[eni]]\nid = \"eni-x\"\nsubnet = \"subnet-x\"\nprivate_ip = \"10.0.0.10\"\nipv6_ips = [\"2600:1f18:aa00:101::1\", \"2600:1f18:aa00:101::10\", \"2600:1f18:aa00:102::10\"]\n";
    let e = check_str(src).unwrap_err();
    assert!(
        e.iter()
            .any(|e| e.starts_with("eni-x.ipv6_ips[0]:") && e.contains("router")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|e| e.starts_with("eni-x.ipv6_ips[2]:") && e.contains("outside")),
        "{e:?}"
    );
    assert_eq!(e.len(), 2, "{e:?}");
}

#[test]
fn duplicate_ips_within_a_vpc() {
    expect(
        &format!("{}{}", eni("eni-a", "10.0.1.10"), eni("eni-b", "10.0.1.10")),
        "eni-b.private_ip:",
        "already assigned to eni-a.private_ip",
    );
    expect(
        &format!(
            "{}secondary_ips = [\"10.0.1.10\"]\n",
            eni("eni-a", "10.0.1.10")
        ),
        "eni-a.secondary_ips[0]:",
        "already assigned to eni-a.private_ip",
    );
    // The same address in another VPC is fine.
    ok(&format!(
        "{}[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.0.0.0/16\"\n[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-b\"\ncidr = \"10.0.1.0/24\"\n[[eni]]\nid = \"eni-b\"\nsubnet = \"subnet-b\"\nprivate_ip = \"10.0.1.10\"\n",
        eni("eni-a", "10.0.1.10")
    ));
}

#[test]
fn duplicate_macs_across_the_file() {
    let a = format!("{}mac = \"02:00:00:00:00:01\"\n", eni("eni-a", "10.0.1.10"));
    let b = format!("{}mac = \"02:00:00:00:00:01\"\n", eni("eni-b", "10.0.1.11"));
    expect(&format!("{a}{b}"), "eni-b.mac:", "already used by eni-a");
    // An explicit MAC equal to another ENI's generated one.
    let generated = crate::names::eni_mac("eni-a");
    let b = format!("{}mac = \"{generated}\"\n", eni("eni-b", "10.0.1.11"));
    expect(
        &format!("{}{b}", eni("eni-a", "10.0.1.10")),
        "eni-b.mac:",
        "already used by eni-a",
    );
    // An explicit MAC equal to a subnet router's.
    let router = crate::names::router_mac("subnet-a");
    let b = format!("{}mac = \"{router}\"\n", eni("eni-b", "10.0.1.11"));
    expect(&b, "eni-b.mac:", "router of subnet-a");
}

#[test]
fn group_macs_are_rejected() {
    expect(
        &format!("{}mac = \"01:00:5e:00:00:01\"\n", eni("eni-a", "10.0.1.10")),
        "eni-a.mac:",
        "multicast",
    );
    expect(
        &format!("{}mac = \"ff:ff:ff:ff:ff:ff\"\n", eni("eni-a", "10.0.1.10")),
        "eni-a.mac:",
        "broadcast",
    );
}

#[test]
fn netns_ifname_pairs_are_unique() {
    let a = format!("{}netns = \"ns-1\"\n", eni_unattached("eni-a", "10.0.1.10"));
    let b = format!("{}netns = \"ns-1\"\n", eni_unattached("eni-b", "10.0.1.11"));
    expect(&format!("{a}{b}"), "eni-b.ifname:", "already used by eni-a");
    let c = format!(
        "{}netns = \"ns-1\"\nifname = \"eth1\"\n",
        eni_unattached("eni-c", "10.0.1.12")
    );
    ok(&format!("{a}{c}"));
    // Unattached ENIs never clash.
    ok(&format!(
        "{}{}",
        eni_unattached("eni-a", "10.0.1.10"),
        eni_unattached("eni-b", "10.0.1.11")
    ));
    expect(
        &format!(
            "{}netns = \"../etc\"\n",
            eni_unattached("eni-a", "10.0.1.10")
        ),
        "eni-a.netns:",
        "namespace name",
    );
}

#[test]
fn mtu_bounds() {
    for (mtu, good) in [
        (575, false),
        (576, true),
        (1500, true),
        (9001, true),
        (9002, false),
    ] {
        let src = format!("{}mtu = {mtu}\n", eni("eni-a", "10.0.1.10"));
        if good {
            ok(&src);
        } else {
            expect(&src, "eni-a.mtu:", "576..=9001");
        }
    }
}

#[test]
fn ifname_must_be_a_linux_name() {
    for bad in ["", "sixteen-chars-xx", "a b", "a/b", "a:b", ".", ".."] {
        assert!(!is_valid_ifname(bad), "{bad:?}");
        expect(
            &format!("{}ifname = \"{bad}\"\n", eni("eni-a", "10.0.1.10")),
            "eni-a.ifname:",
            "not a valid Linux interface name",
        );
    }
    assert!(is_valid_ifname("eth0") && is_valid_ifname("fifteen-chars-x"));
}

#[test]
fn eni_security_groups_are_1_to_5_distinct_of_its_vpc() {
    let e = |groups: &str| {
        format!(
            "{}security_groups = [{groups}]\n",
            eni("eni-a", "10.0.1.10")
        )
    };
    let groups: String = (1..=6).map(|i| sg(&format!("sg-{i}"), "", "")).collect();
    expect(
        &e(""),
        "eni-a.security_groups:",
        "at least one security group",
    );
    expect(
        &format!(
            "{groups}{}",
            e("\"sg-1\", \"sg-2\", \"sg-3\", \"sg-4\", \"sg-5\", \"sg-6\"")
        ),
        "eni-a.security_groups:",
        "at most 5",
    );
    ok(&format!(
        "{groups}{}",
        e("\"sg-1\", \"sg-2\", \"sg-3\", \"sg-4\", \"sg-5\"")
    ));
    expect(
        &format!("{groups}{}", e("\"sg-1\", \"sg-1\"")),
        "eni-a.security_groups[1]:",
        "already listed",
    );
    expect(
        &e("\"sg-nope\""),
        "eni-a.security_groups[0]:",
        "no security group",
    );
    expect(
        &format!("{OTHER_VPC}{}", e("\"sg-b\"")),
        "eni-a.security_groups[0]:",
        "sg-b belongs to vpc-b, but this ENI is in vpc-demo",
    );
    // Even when the VPCs are peered.
    expect(
        &format!(
            "{OTHER_VPC}{}{}",
            pcx("pcx-a", "vpc-demo", "vpc-b", ""),
            e("\"sg-b\"")
        ),
        "eni-a.security_groups[0]:",
        "sg-b belongs to vpc-b, but this ENI is in vpc-demo",
    );
    ok(&e("\"sg-default-demo\""));
}

#[test]
fn scenario_27_conntrack_bounds() {
    let e = |ct: &str| format!("{}conntrack = {{ {ct} }}\n", eni("eni-a", "10.0.1.10"));
    for (ct, good) in [
        ("tcp_established_timeout = 59", false),
        ("tcp_established_timeout = 60", true),
        ("tcp_established_timeout = 432000", true),
        ("tcp_established_timeout = 432001", false),
        ("udp_timeout = 29", false),
        ("udp_timeout = 30", true),
        ("udp_timeout = 60", true),
        ("udp_timeout = 61", false),
        ("udp_stream_timeout = 59", false),
        ("udp_stream_timeout = 60", true),
        ("udp_stream_timeout = 180", true),
        ("udp_stream_timeout = 181", false),
        ("max_entries = 0", false),
        ("max_entries = 1", true),
        ("max_entries = 1000000", true),
        ("max_entries = 1000001", false),
    ] {
        if good {
            ok(&e(ct));
        } else {
            let field = ct.split(' ').next().unwrap_or_default();
            expect(
                &e(ct),
                &format!("eni-a.conntrack.{field}:"),
                "outside the allowed range",
            );
        }
    }
    expect(&e("idle = 5"), "eni-a.conntrack.idle:", "unknown field");
}

/// VPC-7: an ENI without `netns` is valid but unattached: a warning naming it, what
/// happens to its traffic (the drop reason) and how to attach it. An attached one is quiet.
#[test]
fn an_eni_without_netns_is_unattached_with_a_warning() {
    let (t, w) = ok(&format!(
        "{}{}",
        eni_unattached("eni-a", "10.0.1.10"),
        eni("eni-b", "10.0.1.11")
    ));
    assert_eq!(t.enis[0].netns, None);
    assert_eq!(
        w,
        ["eni-a.netns: not set, so the ENI is not attached: it has no port, and traffic to it is dropped (`eni_not_attached`); set `netns = \"NAME\"` to attach it to a network namespace (`vpcctl up` creates it)"]
    );
}

/// An ENI in subnet-a in namespace `ns`, with `extra` fields.
fn eni_in(id: &str, ip: &str, ns: &str, extra: &str) -> String {
    format!(
        "{}netns = \"{ns}\"\nifname = \"{id}\"\n{extra}\n",
        eni_unattached(id, ip)
    )
}

#[test]
fn instance_fields_are_optional_and_checked_for_form() {
    let (t, _) = ok(&eni("eni-a", "10.0.1.10"));
    let e = &t.enis[0];
    assert_eq!(
        (
            &e.instance_id,
            e.device_index,
            &e.instance_type,
            &e.image_id,
            e.metadata_options
        ),
        (&None, None, &None, &None, None)
    );
    ok(&eni_in(
        "eni-a",
        "10.0.1.10",
        "a",
        "instance_id = \"i-0123abcd\"\ninstance_type = \"c6gn.16xlarge\"\nimage_id = \"ami-0123456789abcdef0\"",
    ));
    for (extra, field, needle) in [
        (
            "instance_id = \"i-xyz\"",
            "instance_id",
            "not an instance id",
        ),
        (
            "instance_id = \"i-0123ABCD\"",
            "instance_id",
            "lowercase hex",
        ),
        ("instance_id = \"0123456789abcdef0\"", "instance_id", "`i-`"),
        ("image_id = \"ami-12\"", "image_id", "not an image id"),
        ("instance_type = \"large\"", "instance_type", "t3.micro"),
    ] {
        expect(
            &eni_in("eni-a", "10.0.1.10", "a", extra),
            &format!("eni-a.{field}:"),
            needle,
        );
    }
}

#[test]
fn one_instance_lives_in_one_namespace_and_a_namespace_holds_one_instance() {
    let id = "instance_id = \"i-0123456789abcdef0\"";
    expect(
        &format!(
            "{}{}",
            eni_in("eni-a", "10.0.1.10", "a", id),
            eni_in("eni-b", "10.0.1.11", "b", id)
        ),
        "eni-b.instance_id:",
        "also named by eni-a, in netns a, but this ENI is in netns b",
    );
    expect(
        &format!(
            "{}{}{id}\n",
            eni_in("eni-a", "10.0.1.10", "a", id),
            eni_unattached("eni-b", "10.0.1.11")
        ),
        "eni-b.instance_id:",
        "this ENI is in no namespace",
    );
    expect(
        &format!(
            "{}{}",
            eni_in("eni-a", "10.0.1.10", "a", id),
            eni_in("eni-b", "10.0.1.11", "a", "instance_id = \"i-0123abcd\"")
        ),
        "eni-b.instance_id:",
        "netns a is already instance i-0123456789abcdef0 (eni-a)",
    );
    // Naming the instance once is enough: the namespace's other ENIs belong to it.
    ok(&format!(
        "{}{}",
        eni_in("eni-a", "10.0.1.10", "a", ""),
        eni_in("eni-b", "10.0.1.11", "a", id)
    ));
}

#[test]
fn device_indexes_are_unique_per_instance() {
    expect(
        &format!(
            "{}{}",
            eni_in("eni-a", "10.0.1.10", "a", "device_index = 1"),
            eni_in("eni-b", "10.0.1.11", "a", "device_index = 1")
        ),
        "eni-b.device_index:",
        "is already eni-a's",
    );
    // A derived index skips the ones set: eni-a takes 0, eni-b 1, eni-c 2.
    let (t, _) = ok(&format!(
        "{}{}{}",
        eni_in("eni-a", "10.0.1.10", "a", ""),
        eni_in("eni-b", "10.0.1.11", "a", "device_index = 1"),
        eni_in("eni-c", "10.0.1.12", "a", "")
    ));
    let idx: Vec<u32> = crate::names::eni_instances(&t)
        .iter()
        .map(|i| i.device_index)
        .collect();
    assert_eq!(idx, [0, 1, 2]);
    // Other instances have their own indexes.
    ok(&format!(
        "{}{}",
        eni_in("eni-a", "10.0.1.10", "a", "device_index = 0"),
        eni_in("eni-b", "10.0.1.11", "b", "device_index = 0")
    ));
}

#[test]
fn the_enis_of_an_instance_agree_on_its_settings() {
    for (a, b, field) in [
        (
            "metadata_options = { http_tokens = \"required\" }",
            "metadata_options = { http_tokens = \"optional\" }",
            "metadata_options",
        ),
        (
            "instance_type = \"t3.micro\"",
            "instance_type = \"t3.large\"",
            "instance_type",
        ),
        (
            "image_id = \"ami-0123abcd\"",
            "image_id = \"ami-0123abce\"",
            "image_id",
        ),
    ] {
        expect(
            &format!(
                "{}{}",
                eni_in("eni-a", "10.0.1.10", "a", a),
                eni_in("eni-b", "10.0.1.11", "a", b)
            ),
            &format!("eni-b.{field}:"),
            "differs from eni-a's, another ENI of instance i-",
        );
    }
    // Equal settings, once written out and once by default, agree; so does one ENI
    // setting them alone.
    ok(&format!(
        "{}{}{}",
        eni_in(
            "eni-a",
            "10.0.1.10",
            "a",
            "metadata_options = { http_endpoint = \"enabled\", http_put_response_hop_limit = 1 }"
        ),
        eni_in("eni-b", "10.0.1.11", "a", "metadata_options = {}"),
        eni_in("eni-c", "10.0.1.12", "a", "instance_type = \"t3.micro\"")
    ));
}

#[test]
fn metadata_options_are_checked() {
    for hops in [0, 65, -1] {
        expect(
            &eni_in(
                "eni-a",
                "10.0.1.10",
                "a",
                &format!("metadata_options = {{ http_put_response_hop_limit = {hops} }}"),
            ),
            "eni-a.metadata_options.http_put_response_hop_limit:",
            "outside the allowed range 1..=64",
        );
    }
    ok(&eni_in(
        "eni-a",
        "10.0.1.10",
        "a",
        "metadata_options = { http_endpoint = \"disabled\", http_tokens = \"required\", http_put_response_hop_limit = 64 }",
    ));
    for (extra, field, value) in [
        ("http_tokens = \"maybe\"", "http_tokens", "maybe"),
        ("http_endpoint = \"on\"", "http_endpoint", "on"),
        ("hop_limit = 2", "hop_limit", "hop_limit"),
    ] {
        let errs = errors(&eni_in(
            "eni-a",
            "10.0.1.10",
            "a",
            &format!("metadata_options = {{ {extra} }}"),
        ));
        assert!(
            errs.iter().any(|e| e.starts_with("eni-a.metadata_options")
                && e.contains(field)
                && e.contains(value)),
            "{errs:?}"
        );
    }
}

/// VPC-11: a `qemu-stream` ENI has a socket (default `/run/vpcd/<id>.sock`), no
/// namespace or interface name; the socket is absolute, fits `sun_path` and is used once;
/// `socket` belongs to qemu-stream only, and `attachment = "namespace"` needs `netns`.
#[test]
fn qemu_stream_attachments_are_checked() {
    let vm = |id: &str, ip: &str, extra: &str| {
        format!(
            "{}attachment = \"qemu-stream\"\n{extra}\n",
            eni_unattached(id, ip)
        )
    };
    let (t, w) = ok(&vm("eni-a", "10.0.1.10", ""));
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(
        t.enis[0].stream_socket().unwrap(),
        std::path::Path::new("/run/vpcd/eni-a.sock")
    );
    let config = crate::compile::compile(&t).unwrap();
    let a = config.enis[0].attachment.as_ref().unwrap();
    assert_eq!(a.kind.as_str(), "qemu-stream");
    assert_eq!(
        a.kind.socket(),
        Some(std::path::Path::new("/run/vpcd/eni-a.sock"))
    );
    expect(
        &vm("eni-a", "10.0.1.10", "netns = \"ns\""),
        "eni-a.netns:",
        "has no namespace",
    );
    expect(
        &vm("eni-a", "10.0.1.10", "ifname = \"eth1\""),
        "eni-a.ifname:",
        "the guest names its own",
    );
    let long = format!("/run/{}.sock", "x".repeat(100));
    expect(
        &vm("eni-a", "10.0.1.10", &format!("socket = \"{long}\"")),
        "eni-a.socket:",
        "at most 107",
    );
    expect(
        &vm("eni-a", "10.0.1.10", "socket = \"rel.sock\""),
        "eni-a.socket:",
        "absolute",
    );
    expect(
        &format!(
            "{}{}",
            vm("eni-a", "10.0.1.10", "socket = \"/tmp/x.sock\""),
            vm("eni-b", "10.0.1.11", "socket = \"/tmp/x.sock\"")
        ),
        "eni-b.socket:",
        "already used by eni-a",
    );
    expect(
        &format!("{}socket = \"/tmp/x.sock\"\n", eni("eni-a", "10.0.1.10")),
        "eni-a.socket:",
        "only a qemu-stream or vhost-user attachment",
    );
    expect(
        &format!(
            "{}attachment = \"namespace\"\n",
            eni_unattached("eni-a", "10.0.1.10")
        ),
        "eni-a.netns:",
        "needs the namespace",
    );
    // Written out, the default kind changes nothing.
    ok(&format!(
        "{}attachment = \"namespace\"\n",
        eni("eni-a", "10.0.1.10")
    ));
}

/// VPC-11: a `vhost-user` ENI follows the qemu-stream rules (same default socket, no
/// namespace or interface, a socket used once across both kinds) and compiles to its kind.
#[test]
fn vhost_user_attachments_are_checked_like_qemu_stream() {
    let vm = |kind: &str, id: &str, ip: &str, extra: &str| {
        format!(
            "{}attachment = \"{kind}\"\n{extra}\n",
            eni_unattached(id, ip)
        )
    };
    let (t, w) = ok(&vm("vhost-user", "eni-a", "10.0.1.10", ""));
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(
        t.enis[0].stream_socket().unwrap(),
        std::path::Path::new("/run/vpcd/eni-a.sock")
    );
    let config = crate::compile::compile(&t).unwrap();
    let a = config.enis[0].attachment.as_ref().unwrap();
    assert_eq!(
        a,
        &dataplane::vpc::config::Attachment::vhost_user("/run/vpcd/eni-a.sock")
    );
    expect(
        &vm("vhost-user", "eni-a", "10.0.1.10", "netns = \"ns\""),
        "eni-a.netns:",
        "a vhost-user attachment has no namespace",
    );
    expect(
        &vm("vhost-user", "eni-a", "10.0.1.10", "ifname = \"eth1\""),
        "eni-a.ifname:",
        "the guest names its own",
    );
    expect(
        &vm("vhost-user", "eni-a", "10.0.1.10", "socket = \"rel.sock\""),
        "eni-a.socket:",
        "absolute",
    );
    let long = format!("/run/{}.sock", "x".repeat(100));
    expect(
        &vm(
            "vhost-user",
            "eni-a",
            "10.0.1.10",
            &format!("socket = \"{long}\""),
        ),
        "eni-a.socket:",
        "at most 107",
    );
    // One socket, two kinds: still used twice.
    expect(
        &format!(
            "{}{}",
            vm(
                "qemu-stream",
                "eni-a",
                "10.0.1.10",
                "socket = \"/tmp/x.sock\""
            ),
            vm(
                "vhost-user",
                "eni-b",
                "10.0.1.11",
                "socket = \"/tmp/x.sock\""
            )
        ),
        "eni-b.socket:",
        "already used by eni-a",
    );
}

/// `attachment = "interface"`: an existing interface by name, in `netns` when set; no
/// socket, no `ifname`, one ENI per interface.
#[test]
fn interface_attachments_name_an_existing_interface() {
    let vm = |id: &str, ip: &str, extra: &str| {
        format!(
            "{}attachment = \"interface\"\n{extra}\n",
            eni_unattached(id, ip)
        )
    };
    let (t, w) = ok(&vm(
        "eni-a",
        "10.0.1.10",
        "interface = \"vif0\"\nnetns = \"hv\"",
    ));
    assert!(w.is_empty(), "{w:?}");
    let config = crate::compile::compile(&t).unwrap();
    assert_eq!(
        config.enis[0].attachment.as_ref().unwrap(),
        &dataplane::vpc::config::Attachment::interface("vif0", Some("hv".into()))
    );
    let args = crate::vm_args::qemu_args(&config.enis, "eni-a", 256).unwrap();
    assert!(
        args.iter()
            .any(|a| a.starts_with("tap,") && a.contains("ifname=vif0")),
        "{args:?}"
    );
    expect(
        &vm("eni-a", "10.0.1.10", ""),
        "eni-a.interface:",
        "needs the existing interface's name",
    );
    expect(
        &vm("eni-a", "10.0.1.10", "interface = \"a/b\""),
        "eni-a.interface:",
        "not a valid Linux interface name",
    );
    expect(
        &vm(
            "eni-a",
            "10.0.1.10",
            "interface = \"vif0\"\nsocket = \"/run/x.sock\"",
        ),
        "eni-a.socket:",
        "has no socket",
    );
    expect(
        &vm(
            "eni-a",
            "10.0.1.10",
            "interface = \"vif0\"\nifname = \"eth1\"",
        ),
        "eni-a.ifname:",
        "keeps the interface's own name",
    );
    let two = format!(
        "{}{}",
        vm("eni-a", "10.0.1.10", "interface = \"vif0\""),
        vm("eni-b", "10.0.1.11", "interface = \"vif0\"")
    );
    expect(&two, "eni-b.interface:", "already used by eni-a");
}
