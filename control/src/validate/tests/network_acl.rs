//! Network ACLs (and the firewall ids): rule numbers, actions, CIDRs, subnets, defaults, quotas.

use super::*;

#[test]
fn firewall_ids_carry_their_prefix() {
    expect(
        &nacl("nacl-x", "", ""),
        "nacl-x.id:",
        "must start with `acl-`",
    );
    expect(
        &sg("group-x", "", ""),
        "group-x.id:",
        "must start with `sg-`",
    );
    expect(
        "[[prefix_list]]\nid = \"list-x\"\nentries = [\"10.9.0.0/16\"]\n",
        "list-x.id:",
        "must start with `pl-`",
    );
}

#[test]
fn firewall_ids_are_unique_across_kinds() {
    expect(
        &format!("{}{}", nacl("acl-x", "", ""), nacl("acl-x", "", "")),
        "acl-x.id:",
        "network_acl[1] reuses the id of network_acl[0]",
    );
    expect(
        &format!("{}{}", sg("sg-x", "", ""), sg("sg-x", "", "")),
        "sg-x.id:",
        "security_group[1] reuses the id of security_group[0]",
    );
}

#[test]
fn nacl_rule_numbers_are_1_to_32766() {
    for (n, good) in [
        (0, false),
        (1, true),
        (32766, true),
        (32767, false),
        (-5, false),
    ] {
        let src = nacl(
            "acl-x",
            "",
            &format!(
                "{{ rule = {n}, protocol = \"-1\", cidr = \"0.0.0.0/0\", action = \"allow\" }}"
            ),
        );
        if good {
            ok(&src);
        } else {
            expect(&src, "acl-x.inbound[0].rule:", "outside 1..=32766");
        }
    }
}

#[test]
fn nacl_rule_numbers_are_unique_per_direction() {
    let r = "{ rule = 100, protocol = \"-1\", cidr = \"0.0.0.0/0\", action = \"allow\" }";
    expect(
        &nacl("acl-x", "", &format!("{r}, {r}")),
        "acl-x.inbound[1].rule:",
        "already used by inbound[0]",
    );
    // The same number in the other direction is fine.
    ok(&nacl("acl-x", &format!("outbound = [{r}]\n"), r));
}

#[test]
fn nacl_action_is_allow_or_deny() {
    expect(
        &nacl(
            "acl-x",
            "",
            "{ rule = 1, protocol = \"-1\", cidr = \"0.0.0.0/0\", action = \"permit\" }",
        ),
        "acl-x.inbound[0].action:",
        "unknown variant `permit`",
    );
    expect(
        &nacl(
            "acl-x",
            "",
            "{ rule = 1, protocol = \"-1\", cidr = \"0.0.0.0/0\" }",
        ),
        "acl-x.action:",
        "missing field",
    );
}

#[test]
fn nacl_cidr_must_parse_and_is_normalised() {
    expect(
        &nacl(
            "acl-x",
            "",
            "{ rule = 1, protocol = \"-1\", cidr = \"10.0.0.0/33\", action = \"allow\" }",
        ),
        "acl-x.inbound[0].cidr:",
        "invalid",
    );
    warns(
        &nacl(
            "acl-x",
            "",
            "{ rule = 1, protocol = \"-1\", cidr = \"10.0.3.4/16\", action = \"allow\" }",
        ),
        "acl-x.inbound[0].cidr:",
        "using 10.0.0.0/16",
    );
}

#[test]
fn nacl_subnets_exist_and_belong_to_its_vpc() {
    expect(
        &nacl("acl-x", "subnets = [\"subnet-nope\"]\n", ""),
        "acl-x.subnets[0]:",
        "no subnet with id `subnet-nope`",
    );
    expect(
        &format!(
            "{OTHER_VPC}{}",
            nacl("acl-x", "subnets = [\"subnet-b\"]\n", "")
        ),
        "acl-x.subnets[0]:",
        "subnet-b is in vpc-b, but this network ACL belongs to vpc-demo",
    );
}

#[test]
fn a_subnet_has_one_nacl() {
    expect(
        &format!(
            "{}{}",
            nacl("acl-x", "subnets = [\"subnet-a\"]\n", ""),
            nacl("acl-y", "subnets = [\"subnet-a\"]\n", "")
        ),
        "acl-y.subnets[0]:",
        "already associated with acl-x",
    );
    expect(
        &nacl("acl-x", "subnets = [\"subnet-a\", \"subnet-a\"]\n", ""),
        "acl-x.subnets[1]:",
        "listed twice",
    );
}

#[test]
fn one_default_nacl_per_vpc() {
    expect(
        &format!(
            "{}{}",
            nacl("acl-x", "default = true\n", ""),
            nacl("acl-y", "default = true\n", "")
        ),
        "acl-y.default:",
        "already has a default network ACL (acl-x)",
    );
}

#[test]
fn nacl_rule_quota_warns_beyond_20_and_rejects_beyond_40() {
    let rules = |n: usize| {
        (1..=n)
            .map(|i| format!("{{ rule = {i}, protocol = \"-1\", cidr = \"10.{i}.0.0/16\", action = \"deny\" }}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (_, w) = ok(&nacl("acl-x", "", &rules(20)));
    assert!(w.is_empty(), "{w:?}");
    warns(
        &nacl("acl-x", "", &rules(21)),
        "acl-x.inbound:",
        "default quota of 20",
    );
    ok(&nacl("acl-x", "", &rules(40)));
    expect(
        &nacl("acl-x", "", &rules(41)),
        "acl-x.inbound:",
        "at most 40",
    );
}

#[test]
fn implicit_default_ids_must_be_free() {
    expect(
        &nacl("acl-default-demo", "", ""),
        "vpc-demo:",
        "`acl-default-demo`, is taken",
    );
    expect(
        &sg("sg-default-demo", "", ""),
        "vpc-demo:",
        "`sg-default-demo`, is taken",
    );
    // Declared as the default, the id is fine.
    ok(&sg("sg-default-demo", "default = true\n", ""));
}
