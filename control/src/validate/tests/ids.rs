//! Ids: kind prefixes, uniqueness across kinds, dangling references and references across VPCs.

use super::*;

#[test]
fn duplicate_ids_across_kinds() {
    expect(
        "[[route_table]]\nid = \"rtb-x\"\nvpc = \"vpc-demo\"\n[[route_table]]\nid = \"rtb-x\"\nvpc = \"vpc-demo\"\n",
        "rtb-x.id:",
        "route_table[1] reuses the id of route_table[0]",
    );
    // Same id under different kinds (wrong prefix too, but the duplicate is reported).
    expect(
        "[[eni]]\nid = \"subnet-a\"\nsubnet = \"subnet-a\"\nprivate_ip = \"10.0.1.10\"\n",
        "subnet-a.id:",
        "eni[0] reuses the id of subnet[0]",
    );
}

#[test]
fn ids_carry_their_kind_prefix() {
    expect(
        "[[route_table]]\nid = \"rt-x\"\nvpc = \"vpc-demo\"\n",
        "rt-x.id:",
        "must start with `rtb-`",
    );
    expect(
        &eni("nic-a", "10.0.1.10"),
        "nic-a.id:",
        "must start with `eni-`",
    );
    expect(&eni("eni-", "10.0.1.10"), "eni-.id:", "followed by");
    let e = check_str("[[vpc]]\nid = \"demo\"\ncidr = \"10.0.0.0/16\"\n").unwrap_err();
    assert!(e[0].contains("must start with `vpc-`"), "{e:?}");
}

#[test]
fn dangling_references() {
    expect(
        "[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-nope\"\ncidr = \"10.0.2.0/24\"\n",
        "subnet-b.vpc:",
        "no VPC",
    );
    expect("[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-demo\"\ncidr = \"10.0.2.0/24\"\nroute_table = \"rtb-nope\"\n", "subnet-b.route_table:", "no route table");
    expect(
        "[[route_table]]\nid = \"rtb-x\"\nvpc = \"vpc-nope\"\n",
        "rtb-x.vpc:",
        "no VPC",
    );
    expect(
        "[[eni]]\nid = \"eni-a\"\nsubnet = \"subnet-nope\"\nprivate_ip = \"10.0.1.10\"\n",
        "eni-a.subnet:",
        "no subnet",
    );
    expect(
        "[[route_table]]\nid = \"rtb-x\"\nvpc = \"vpc-demo\"\nroutes = [{ destination = \"0.0.0.0/0\", target = \"eni-nope\" }]\n",
        "rtb-x.routes[0].target:",
        "no ENI",
    );
    expect(
        "[[route_table]]\nid = \"rtb-x\"\n",
        "rtb-x.vpc:",
        "missing vpc",
    );
}

#[test]
fn references_across_vpcs() {
    let other = "[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.1.0.0/16\"\n[[route_table]]\nid = \"rtb-b\"\nvpc = \"vpc-b\"\n[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-b\"\ncidr = \"10.1.1.0/24\"\n[[eni]]\nid = \"eni-b\"\nsubnet = \"subnet-b\"\nprivate_ip = \"10.1.1.10\"\n";
    expect(
        &format!("{other}[[subnet]]\nid = \"subnet-c\"\nvpc = \"vpc-demo\"\ncidr = \"10.0.3.0/24\"\nroute_table = \"rtb-b\"\n"),
        "subnet-c.route_table:",
        "rtb-b belongs to vpc-b",
    );
    expect(
        &format!("{other}[[route_table]]\nid = \"rtb-x\"\nvpc = \"vpc-demo\"\nroutes = [{{ destination = \"0.0.0.0/0\", target = \"eni-b\" }}]\n"),
        "rtb-x.routes[0].target:",
        "eni-b is in vpc-b",
    );
}
