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
