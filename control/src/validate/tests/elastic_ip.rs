//! Public addresses: Elastic IPs and the ENIs' public IPs.

use super::*;

#[test]
fn public_addresses_must_be_public_unicast() {
    for (bad, why) in [
        ("0.1.2.3", "0.0.0.0/8"),
        ("10.9.9.9", "RFC 1918"),
        ("172.16.0.1", "RFC 1918"),
        ("172.31.255.254", "RFC 1918"),
        ("192.168.1.1", "RFC 1918"),
        ("100.64.0.1", "RFC 6598"),
        ("100.127.255.254", "RFC 6598"),
        ("127.0.0.1", "loopback"),
        ("169.254.1.1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.255", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "broadcast"),
    ] {
        expect(&eip("eipalloc-a", bad, ""), "eipalloc-a.public_ip:", why);
        expect(&eni_pub("eni-a", "10.0.1.10", bad), "eni-a.public_ip:", why);
    }
    for good in [
        "172.15.0.1",
        "172.32.0.1",
        "100.63.0.1",
        "100.128.0.1",
        "198.51.100.40",
    ] {
        assert_eq!(
            non_public_ipv4_reason(good.parse().unwrap()),
            None,
            "{good}"
        );
    }
}

#[test]
fn public_addresses_must_be_outside_every_vpc() {
    // A VPC may use public space (AWS allows it); its addresses are not public IPs then.
    let vpc = "[[vpc]]\nid = \"vpc-pub\"\ncidr = \"198.51.100.0/24\"\n";
    expect(
        &format!("{vpc}{}", eip("eipalloc-a", "198.51.100.40", "")),
        "eipalloc-a.public_ip:",
        "inside vpc-pub's CIDR 198.51.100.0/24",
    );
}

#[test]
fn public_addresses_are_unique_across_vpcs() {
    // Each VPC has its own internet gateway, but a public address is used once.
    let other = "[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.0.0.0/16\"\n[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-b\"\ncidr = \"10.0.1.0/24\"\n[[internet_gateway]]\nid = \"igw-b\"\nvpc = \"vpc-b\"\n[[eni]]\nid = \"eni-b\"\nsubnet = \"subnet-b\"\nprivate_ip = \"10.0.1.10\"\npublic_ip = \"198.51.100.40\"\n";
    ok(&format!(
        "{other}{}{}",
        igw("igw-a", ""),
        eni_pub("eni-a", "10.0.1.10", "198.51.100.41")
    ));
    expect(
        &format!(
            "{other}{}{}",
            igw("igw-a", ""),
            eni_pub("eni-a", "10.0.1.10", "198.51.100.40")
        ),
        "eni-a.public_ip:",
        "already the public address of eni-b.public_ip",
    );
}

#[test]
fn public_addresses_are_unique() {
    expect(
        &format!(
            "{}{}",
            eip("eipalloc-a", "198.51.100.40", ""),
            eip("eipalloc-b", "198.51.100.40", "")
        ),
        "eipalloc-b.public_ip:",
        "already the public address of eipalloc-a.public_ip",
    );
    expect(
        &format!(
            "{}{}",
            eip("eipalloc-a", "198.51.100.40", ""),
            eni_pub("eni-a", "10.0.1.10", "198.51.100.40")
        ),
        "eni-a.public_ip:",
        "already the public address of eipalloc-a.public_ip",
    );
    expect(
        &format!(
            "{}{}",
            eni_pub("eni-a", "10.0.1.10", "198.51.100.40"),
            eni_pub("eni-b", "10.0.1.11", "198.51.100.40")
        ),
        "eni-b.public_ip:",
        "already the public address of eni-a.public_ip",
    );
}

#[test]
fn public_addresses_are_outside_the_internet_segments() {
    expect(
        &format!(
            "{}{}",
            igw("igw-a", INET),
            eip("eipalloc-a", "203.0.113.40", "")
        ),
        "eipalloc-a.public_ip:",
        "inside igw-a's internet.cidr 203.0.113.0/24",
    );
}

#[test]
fn eip_eni_must_exist() {
    expect(
        &eip("eipalloc-a", "198.51.100.40", "eni = \"eni-nope\"\n"),
        "eipalloc-a.eni:",
        "no ENI with id `eni-nope`",
    );
}

#[test]
fn eip_private_ip_must_be_one_of_the_enis() {
    let base = format!(
        "{}secondary_ips = [\"10.0.1.11\"]\n",
        eni("eni-a", "10.0.1.10")
    );
    ok(&format!(
        "{base}{}",
        eip(
            "eipalloc-a",
            "198.51.100.40",
            "eni = \"eni-a\"\nprivate_ip = \"10.0.1.11\"\n"
        )
    ));
    expect(
        &format!(
            "{base}{}",
            eip(
                "eipalloc-a",
                "198.51.100.40",
                "eni = \"eni-a\"\nprivate_ip = \"10.0.1.12\"\n"
            )
        ),
        "eipalloc-a.private_ip:",
        "10.0.1.12 is not a private IPv4 of eni-a (10.0.1.10, 10.0.1.11)",
    );
    expect(
        &eip(
            "eipalloc-a",
            "198.51.100.40",
            "private_ip = \"10.0.1.10\"\n",
        ),
        "eipalloc-a.private_ip:",
        "needs an `eni`",
    );
}

#[test]
fn two_eips_on_one_private_ip() {
    // The second one names the primary explicitly, the first one by default.
    expect(
        &format!(
            "{}{}{}",
            eni("eni-a", "10.0.1.10"),
            eip("eipalloc-a", "198.51.100.40", "eni = \"eni-a\"\n"),
            eip(
                "eipalloc-b",
                "198.51.100.41",
                "eni = \"eni-a\"\nprivate_ip = \"10.0.1.10\"\n"
            )
        ),
        "eipalloc-b.private_ip:",
        "10.0.1.10 of eni-a already has Elastic IP eipalloc-a",
    );
}

#[test]
fn eni_public_ip_and_an_eip_on_its_primary_conflict() {
    expect(
        &format!(
            "{}{}",
            eni_pub("eni-a", "10.0.1.10", "198.51.100.41"),
            eip("eipalloc-a", "198.51.100.40", "eni = \"eni-a\"\n")
        ),
        "eni-a.public_ip:",
        "also has Elastic IP eipalloc-a",
    );
    // An EIP on a secondary address is fine.
    ok(&format!(
        "{}secondary_ips = [\"10.0.1.11\"]\n{}",
        eni_pub("eni-a", "10.0.1.10", "198.51.100.41"),
        eip(
            "eipalloc-a",
            "198.51.100.40",
            "eni = \"eni-a\"\nprivate_ip = \"10.0.1.11\"\n"
        )
    ));
}

#[test]
fn public_addresses_without_an_internet_gateway_warn() {
    let src = format!(
        "{}{}",
        eni_pub("eni-a", "10.0.1.10", "198.51.100.41"),
        eip("eipalloc-b", "198.51.100.40", "eni = \"eni-b\"\n")
    ) + &eni("eni-b", "10.0.1.11");
    warns(&src, "eipalloc-b.eni:", "vpc-demo has no internet gateway");
    warns(&src, "eni-a.public_ip:", "unreachable (as in AWS)");
    let (_, w) = ok(&format!("{src}{}", igw("igw-a", "")));
    assert!(w.is_empty(), "{w:?}");
}
