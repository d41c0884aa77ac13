//! VPCs: CIDR bounds and normalisation, link-local, secondary CIDRs, IPv6 sizes.

use super::*;

#[test]
fn scenario_2_cidr_bounds() {
    // VPC /15 → error; /16 ok.
    let e = check_str("[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/15\"\n").unwrap_err();
    assert!(
        e[0].starts_with("vpc-x.cidr:") && e[0].contains("/16 to /28"),
        "{e:?}"
    );
    check_str("[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\n").unwrap();
    // Subnet /29 → error; /28 ok.
    expect(
        "[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-demo\"\ncidr = \"10.0.2.0/29\"\n",
        "subnet-b.cidr:",
        "/16 to /28",
    );
    ok("[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-demo\"\ncidr = \"10.0.2.0/28\"\n");
    // Overlapping subnet → error.
    expect(
        "[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-demo\"\ncidr = \"10.0.1.128/25\"\n",
        "subnet-b.cidr:",
        "overlaps subnet-a",
    );
    // 10.0.1.7/24 is stored as 10.0.1.0/24.
    let (t, w) = check_str(
        "[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\n[[subnet]]\nid = \"subnet-x\"\nvpc = \"vpc-x\"\ncidr = \"10.0.1.7/24\"\n",
    )
    .unwrap();
    assert_eq!(t.subnets[0].cidr.to_string(), "10.0.1.0/24");
    assert_eq!(w.len(), 1);
    assert!(w[0].starts_with("subnet-x.cidr:"), "{w:?}");
}

#[test]
fn vpc_prefix_too_long() {
    let e = check_str("[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/29\"\n").unwrap_err();
    assert!(e[0].starts_with("vpc-x.cidr:"), "{e:?}");
}

#[test]
fn ipv6_sizes() {
    let e = check_str(
        "[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\nipv6_cidr = \"2600:1f18:aa00::/48\"\n",
    )
    .unwrap_err();
    assert!(
        e[0].starts_with("vpc-x.ipv6_cidr:") && e[0].contains("/56"),
        "{e:?}"
    );
    let e = check_str(
        "[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\nipv6_cidr = \"2600:1f18:aa00:100::/56\"\n[[subnet]]\nid = \"subnet-x\"\nvpc = \"vpc-x\"\ncidr = \"10.0.0.0/24\"\nipv6_cidr = \"2600:1f18:aa00:100::/60\"\n",
    )
    .unwrap_err();
    assert!(
        e[0].starts_with("subnet-x.ipv6_cidr:") && e[0].contains("/64"),
        "{e:?}"
    );
}

#[test]
fn host_bits_are_normalised_with_warnings() {
    let (t, w) = check_str(
        "[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.3.4/16\"\nipv6_cidr = \"2600:1f18:aa00:1ff::/56\"\n[[route_table]]\nid = \"rtb-x\"\nvpc = \"vpc-x\"\nroutes = [{ destination = \"0.0.0.1/0\", target = \"blackhole\" }]\n",
    )
    .unwrap();
    assert_eq!(t.vpcs[0].cidr.to_string(), "10.0.0.0/16");
    assert_eq!(
        t.vpcs[0].ipv6_cidr.unwrap().to_string(),
        "2600:1f18:aa00:100::/56"
    );
    assert_eq!(
        t.route_tables[0].routes[0].destination.to_string(),
        "0.0.0.0/0"
    );
    assert!(w.iter().any(|w| w.starts_with("vpc-x.cidr:")));
    assert!(w.iter().any(|w| w.starts_with("vpc-x.ipv6_cidr:")));
    assert!(w
        .iter()
        .any(|w| w.starts_with("rtb-x.routes[0].destination:")));
}

#[test]
fn link_local_vpc_cidr_is_rejected() {
    let e = check_str("[[vpc]]\nid = \"vpc-x\"\ncidr = \"169.254.0.0/16\"\n").unwrap_err();
    assert!(
        e[0].starts_with("vpc-x.cidr:") && e[0].contains("link-local"),
        "{e:?}"
    );
    let e = check_str(
        "[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\nsecondary_cidrs = [\"169.254.10.0/24\"]\n",
    )
    .unwrap_err();
    assert!(e[0].starts_with("vpc-x.secondary_cidrs[0]:"), "{e:?}");
}

#[test]
fn secondary_cidrs_must_not_overlap() {
    let e = check_str(
        "[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\nsecondary_cidrs = [\"10.0.128.0/17\", \"10.1.0.0/16\", \"10.1.2.0/24\", \"10.2.0.0/30\"]\n",
    )
    .unwrap_err();
    assert!(
        e.iter()
            .any(|e| e.starts_with("vpc-x.secondary_cidrs[0]:") && e.contains("primary")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|e| e.starts_with("vpc-x.secondary_cidrs[2]:")
                && e.contains("secondary_cidrs[1]")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|e| e.starts_with("vpc-x.secondary_cidrs[3]:") && e.contains("/16 to /28")),
        "{e:?}"
    );
    assert_eq!(e.len(), 3, "{e:?}");
}

#[test]
fn vpc_without_subnets_is_fine() {
    check_str("[[vpc]]\nid = \"vpc-empty\"\ncidr = \"10.9.0.0/16\"\n").unwrap();
}
