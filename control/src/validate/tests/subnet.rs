//! Subnets: inside their VPC, IPv6 inside the VPC's, overlaps.

use super::*;

#[test]
fn subnet_ipv6_must_fit_the_vpc() {
    expect(
        "[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-demo\"\ncidr = \"10.0.2.0/24\"\nipv6_cidr = \"2600:1f18:aa00:100::/64\"\n",
        "subnet-b.ipv6_cidr:",
        "has no ipv6_cidr",
    );
    let e = check_str(
        "[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\nipv6_cidr = \"2600:1f18:aa00:100::/56\"\n[[subnet]]\nid = \"subnet-x\"\nvpc = \"vpc-x\"\ncidr = \"10.0.0.0/24\"\nipv6_cidr = \"2600:1f18:bb00:100::/64\"\n",
    )
    .unwrap_err();
    assert!(e[0].contains("is not inside"), "{e:?}");
}

#[test]
fn subnet_must_be_inside_a_vpc_cidr() {
    expect(
        "[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-demo\"\ncidr = \"10.1.0.0/24\"\n",
        "subnet-b.cidr:",
        "not inside any IPv4 CIDR of vpc-demo",
    );
    // In a secondary CIDR, or equal to the VPC CIDR: fine.
    check_str(
        "[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\nsecondary_cidrs = [\"10.1.0.0/16\"]\n[[subnet]]\nid = \"subnet-x\"\nvpc = \"vpc-x\"\ncidr = \"10.1.5.0/24\"\n[[subnet]]\nid = \"subnet-y\"\nvpc = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\n",
    )
    .unwrap();
}

#[test]
fn subnets_of_different_vpcs_may_overlap() {
    ok("[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.0.0.0/16\"\n[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-b\"\ncidr = \"10.0.1.0/24\"\n");
}

#[test]
fn availability_zones_belong_to_the_lab_region() {
    let subnet = |az: &str| {
        format!("[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-demo\"\ncidr = \"10.0.2.0/24\"\navailability_zone = \"{az}\"\n")
    };
    let (t, _) = ok(&subnet("us-east-1b"));
    assert_eq!(t.subnets[0].availability_zone, None);
    assert_eq!(
        t.subnets[1].availability_zone.as_deref(),
        Some("us-east-1b")
    );
    for az in ["us-west-2a", "us-east-1", "us-east-1ab", "us-east-1B"] {
        expect(
            &subnet(az),
            "subnet-b.availability_zone:",
            &format!("`{az}` is not a zone of the lab's region us-east-1"),
        );
    }
    ok(&format!(
        "{}[lab]\nregion = \"eu-west-1\"\n",
        subnet("eu-west-1c")
    ));
    expect(
        &format!("{}[lab]\nregion = \"eu-west-1\"\n", subnet("us-east-1a")),
        "subnet-b.availability_zone:",
        "region eu-west-1",
    );
}
