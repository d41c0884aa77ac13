//! Prefix lists (`describe-managed-prefix-lists`, `get-managed-prefix-list-entries`),
//! security groups (`describe-security-groups`, or `describe-security-group-rules`) and
//! network ACLs (`describe-network-acls`).

use std::collections::HashMap;

use ipnet::IpNet;

use super::input::{EntriesFile, Input, Record};
use super::shapes::{tag_name, IpPermission, ManagedPrefixList, NetworkAcl, NetworkAclEntry};
use super::{Importer, Parent, Ref};
use crate::import::EntryKind;
use crate::model::{self, NaclAction, NaclRule, PortSpec, RulePeer, RuleProtocol, SgRuleSpec};
use crate::validate::{NACL_RULE_MAX, NACL_RULE_MIN};

/// AWS's implicit final rule of every network ACL (`*`): the model's too.
const NACL_DEFAULT_DENY: i64 = 32767;

/// Where a rule comes from, for entries: file, resource (AWS id), JSON path.
type At<'a> = (&'a str, &'a str, &'a str);

/// A rule's protocol, ports and ICMP type/code.
type Traffic = (RuleProtocol, Option<PortSpec>, Option<i64>, Option<i64>);

/// The other end of a security-group rule, as AWS prints it.
enum PeerIn<'a> {
    /// `CidrIp` / `CidrIpv4`.
    Cidr(&'a str),
    /// `CidrIpv6`.
    Cidr6(&'a str),
    /// `PrefixListId`.
    PrefixList(&'a str),
    /// `GroupId` (with `UserId`) and the account of the rule's own group.
    Group(&'a str, Option<&'a str>, Option<&'a str>),
}

impl Importer {
    /// `[[prefix_list]]` from `PrefixLists[]` and the `Entries` files.
    pub(super) fn prefix_lists(
        &mut self,
        lists: &[Record<ManagedPrefixList>],
        entries: &[EntriesFile],
    ) {
        let mut by_pl: HashMap<&str, &EntriesFile> = HashMap::new();
        for ef in entries {
            if let Some(first) = by_pl.get(ef.prefix_list.as_str()) {
                let msg = format!(
                    "the entries of {} again (the first file, {}, is used)",
                    ef.prefix_list, first.file
                );
                self.note(
                    EntryKind::Skipped,
                    &ef.file,
                    &ef.prefix_list,
                    "Entries",
                    msg,
                );
                continue;
            }
            by_pl.insert(&ef.prefix_list, ef);
        }
        for r in lists {
            let (file, path) = (r.file.as_str(), r.path.as_str());
            let Some(orig) = self.required(
                file,
                &r.id,
                &format!("{path}.PrefixListId"),
                &r.v.prefix_list_id,
            ) else {
                continue;
            };
            if self.listed_again(self.pl.contains_key(orig), file, orig, path) {
                continue;
            }
            let state = r.v.state.as_deref().unwrap_or("create-complete");
            if matches!(
                state,
                "create-failed" | "delete-in-progress" | "delete-complete" | "delete-failed"
            ) {
                self.skip(
                    file,
                    orig,
                    &format!("{path}.State"),
                    format!(
                        "the prefix list is {state}: not imported, nor are the rules that name it"
                    ),
                );
                continue;
            }
            let Some(ef) = by_pl.remove(orig) else {
                self.note(
                    EntryKind::Skipped,
                    file,
                    orig,
                    path,
                    format!("its entries are unknown (describe-managed-prefix-lists does not print them) and a prefix list here needs them: not imported, nor are the rules that name it; add `aws ec2 get-managed-prefix-list-entries --prefix-list-id {orig} --output json > {orig}.json`"),
                );
                self.gone
                    .insert(orig.to_string(), "its entries are unknown".to_string());
                continue;
            };
            let cidrs = self.pl_entries(ef);
            let mut max_entries = r.v.max_entries;
            if let Some(m) = max_entries {
                if usize::try_from(m).is_ok_and(|m| cidrs.len() > m) || m < 1 {
                    self.note(
                        EntryKind::Defaulted,
                        file,
                        orig,
                        &format!("{path}.MaxEntries"),
                        format!(
                            "{m} does not hold its {} entries: the number of entries",
                            cidrs.len()
                        ),
                    );
                    max_entries = None;
                }
            }
            let id = self.ids.id("pl-", orig);
            self.add_prefix_list(
                (file, orig, path),
                model::PrefixList {
                    id,
                    name: r.v.prefix_list_name.clone(),
                    entries: cidrs,
                    max_entries,
                },
            );
        }
        for ef in entries {
            if by_pl.remove(ef.prefix_list.as_str()).is_none() {
                continue;
            }
            let cidrs = self.pl_entries(ef);
            self.note(
                EntryKind::Defaulted,
                &ef.file,
                &ef.prefix_list,
                "",
                "not listed by describe-managed-prefix-lists: no name, and max_entries = the number of entries",
            );
            let id = self.ids.id("pl-", &ef.prefix_list);
            self.add_prefix_list(
                (&ef.file, &ef.prefix_list, "Entries"),
                model::PrefixList {
                    id,
                    name: None,
                    entries: cidrs,
                    max_entries: None,
                },
            );
        }
    }

    /// Adds a prefix list, unless it has no entries.
    fn add_prefix_list(&mut self, (file, orig, path): At<'_>, pl: model::PrefixList) {
        if pl.entries.is_empty() {
            self.skip(
                file,
                orig,
                path,
                "no entries: a prefix list here needs at least one; not imported, nor are the rules that name it",
            );
            return;
        }
        self.note(
            EntryKind::Used,
            file,
            orig,
            path,
            format!("[[prefix_list]] {}", pl.id),
        );
        self.pl.insert(orig.to_string(), self.t.prefix_lists.len());
        self.t.prefix_lists.push(pl);
    }

    /// The CIDRs of an `Entries` file.
    fn pl_entries(&mut self, ef: &EntriesFile) -> Vec<IpNet> {
        let mut out = Vec::new();
        for e in &ef.entries {
            let field = format!("{}.Cidr", e.path);
            let Some(s) = self.required(&ef.file, &ef.prefix_list, &field, &e.v.cidr) else {
                continue;
            };
            if let Some(c) = self.parse::<IpNet>(&ef.file, &ef.prefix_list, &field, s, "a CIDR") {
                out.push(c);
            }
        }
        out
    }

    /// `[[security_group]]` from `SecurityGroups[]`, or, without it, from
    /// `SecurityGroupRules[]`.
    pub(super) fn security_groups(&mut self, input: &Input) {
        if input.security_groups.is_empty() {
            if !input.security_group_rules.is_empty() {
                self.groups_from_rules(input);
            }
            return;
        }
        for f in &input.security_group_rule_files {
            self.note(
                EntryKind::Skipped,
                f,
                "SecurityGroupRules",
                "",
                "not needed: describe-security-groups lists the same rules (its IpPermissions are used)",
            );
        }
        // Every group first, so that rules may name groups listed after them.
        let mut todo = Vec::new();
        for r in &input.security_groups {
            let (file, path) = (r.file.as_str(), r.path.as_str());
            let Some(orig) = self.required(file, &r.id, &format!("{path}.GroupId"), &r.v.group_id)
            else {
                continue;
            };
            if self.listed_again(self.sg.contains_key(orig), file, orig, path) {
                continue;
            }
            let vfield = format!("{path}.VpcId");
            let Some(vpc_orig) = r.v.vpc_id.as_deref() else {
                self.skip(file, orig, &vfield, "no VPC (an EC2-Classic group)");
                continue;
            };
            let Some(vi) = self.parent((file, orig, &vfield), Parent::Vpc, vpc_orig) else {
                continue;
            };
            let gi = self.add_group(r.v.group_name.clone(), r.v.description.clone(), orig, vi);
            let g = &self.t.security_groups[gi];
            let msg = format!("[[security_group]] {}", g.id);
            self.note(EntryKind::Used, file, orig, path, msg);
            if let Some(t) = tag_name(&r.v.tags) {
                if r.v.group_name.is_none() {
                    self.t.security_groups[gi].name = Some(t);
                }
            }
            todo.push((r, orig.to_string(), gi));
        }
        for (r, orig, gi) in todo {
            let owner = r.v.owner_id.as_deref();
            for (key, perms, inbound) in [
                ("IpPermissions", &r.v.ip_permissions, true),
                ("IpPermissionsEgress", &r.v.ip_permissions_egress, false),
            ] {
                for (k, p) in perms.iter().enumerate() {
                    let field = format!("{}.{key}[{k}]", r.path);
                    let rules = self.permission((&r.file, &orig, &field), p, owner, inbound);
                    self.push_rules(gi, inbound, rules);
                }
            }
        }
    }

    /// Adds a group without rules (outbound: none yet); returns its index.
    fn add_group(
        &mut self,
        name: Option<String>,
        description: Option<String>,
        orig: &str,
        vi: usize,
    ) -> usize {
        let default = name.as_deref() == Some("default");
        let g = model::SecurityGroup {
            id: self.ids.id("sg-", orig),
            vpc: self.t.vpcs[vi].id.clone(),
            name,
            description,
            default,
            inbound: Vec::new(),
            outbound: Some(Vec::new()),
        };
        let gi = self.t.security_groups.len();
        self.sg.insert(orig.to_string(), gi);
        self.t.security_groups.push(g);
        gi
    }

    /// Appends rules to group `gi`.
    fn push_rules(&mut self, gi: usize, inbound: bool, rules: Vec<SgRuleSpec>) {
        let g = &mut self.t.security_groups[gi];
        if inbound {
            g.inbound.extend(rules);
        } else {
            g.outbound.get_or_insert_with(Vec::new).extend(rules);
        }
    }

    /// The rules of one `IpPermission`: one per peer.
    fn permission(
        &mut self,
        (file, orig, field): At<'_>,
        p: &IpPermission,
        owner: Option<&str>,
        inbound: bool,
    ) -> Vec<SgRuleSpec> {
        let Some(traffic) = self.traffic(
            (file, orig, field),
            p.ip_protocol.as_deref(),
            p.from_port,
            p.to_port,
        ) else {
            return Vec::new();
        };
        let mut peers: Vec<(String, PeerIn<'_>, Option<String>)> = Vec::new();
        for (k, x) in p.ip_ranges.iter().enumerate() {
            if let Some(c) = x.cidr_ip.as_deref() {
                peers.push((
                    format!("{field}.IpRanges[{k}]"),
                    PeerIn::Cidr(c),
                    x.description.clone(),
                ));
            }
        }
        for (k, x) in p.ipv6_ranges.iter().enumerate() {
            if let Some(c) = x.cidr_ipv6.as_deref() {
                peers.push((
                    format!("{field}.Ipv6Ranges[{k}]"),
                    PeerIn::Cidr6(c),
                    x.description.clone(),
                ));
            }
        }
        for (k, x) in p.prefix_list_ids.iter().enumerate() {
            if let Some(c) = x.prefix_list_id.as_deref() {
                peers.push((
                    format!("{field}.PrefixListIds[{k}]"),
                    PeerIn::PrefixList(c),
                    x.description.clone(),
                ));
            }
        }
        for (k, x) in p.user_id_group_pairs.iter().enumerate() {
            if let Some(g) = x.group_id.as_deref() {
                peers.push((
                    format!("{field}.UserIdGroupPairs[{k}]"),
                    PeerIn::Group(g, x.user_id.as_deref(), owner),
                    x.description.clone(),
                ));
            }
        }
        if peers.is_empty() {
            self.note(
                EntryKind::Skipped,
                file,
                orig,
                field,
                "no peer: the permission allows nothing",
            );
        }
        peers
            .into_iter()
            .filter_map(|(f, peer, description)| {
                let peer = self.peer((file, orig, &f), peer)?;
                Some(rule(traffic, peer, description, inbound))
            })
            .collect()
    }

    /// The protocol, ports and ICMP type/code of a rule (`None`, with an entry, when the
    /// protocol is not one this model knows).
    fn traffic(
        &mut self,
        (file, orig, field): At<'_>,
        proto: Option<&str>,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Option<Traffic> {
        let pfield = format!("{field}.IpProtocol");
        let p = self
            .required(file, orig, &pfield, &proto.map(str::to_string))?
            .to_string();
        let Some(protocol) = RuleProtocol::parse(&p) else {
            self.note(
                EntryKind::Skipped,
                file,
                orig,
                &pfield,
                format!("protocol `{p}` is not one this model knows (tcp, udp, icmp, icmpv6, -1 or 0..=255): the rule is not imported"),
            );
            return None;
        };
        Some(self.ports(
            (file, orig, field),
            protocol,
            (from, to),
            ("FromPort", "ToPort"),
        ))
    }

    /// Ports (TCP/UDP) or ICMP type/code (ICMP, ICMPv6) from a `(from, to)` pair, as AWS
    /// prints them in security-group rules (ICMP: type, code; `-1` any).
    fn ports(
        &mut self,
        (file, orig, field): At<'_>,
        protocol: RuleProtocol,
        (from, to): (Option<i64>, Option<i64>),
        names: (&str, &str),
    ) -> Traffic {
        if protocol.has_ports() {
            let ports = match (from, to) {
                (Some(f), Some(t)) if (0..=65535).contains(&f) && (f..=65535).contains(&t) => {
                    let f = u32::try_from(f).unwrap_or(0);
                    let t = u32::try_from(t).unwrap_or(65535);
                    if (f, t) == (0, 65535) {
                        None
                    } else {
                        Some(PortSpec { from: f, to: t })
                    }
                }
                (None | Some(-1), None | Some(-1)) => None,
                (f, t) => {
                    self.note(
                        EntryKind::Defaulted,
                        file,
                        orig,
                        &format!("{field}.{}", names.0),
                        format!("ports {f:?}..{t:?} are not a range: all ports"),
                    );
                    None
                }
            };
            return (protocol, ports, None, None);
        }
        if protocol.is_icmp() {
            let any = |v: Option<i64>| v.filter(|x| (0..=255).contains(x));
            return (protocol, None, any(from), any(to));
        }
        if from.is_some_and(|x| x != -1) || to.is_some_and(|x| x != -1) {
            self.note(
                EntryKind::Skipped,
                file,
                orig,
                &format!("{field}.{}", names.0),
                format!("ports of protocol {protocol}: AWS ignores them"),
            );
        }
        (protocol, None, None, None)
    }

    /// A rule's peer (`None`, with an entry, when it is not imported).
    fn peer(&mut self, (file, orig, field): At<'_>, p: PeerIn<'_>) -> Option<RulePeer> {
        match p {
            PeerIn::Cidr(s) | PeerIn::Cidr6(s) => self
                .parse::<IpNet>(file, orig, field, s, "a CIDR")
                .map(RulePeer::Cidr),
            PeerIn::PrefixList(pl) => match self.lookup(&self.pl, pl) {
                Ref::Found(i) => Some(RulePeer::PrefixList(self.t.prefix_lists[i].id.clone())),
                Ref::Gone(why) => {
                    self.note(
                        EntryKind::Skipped,
                        file,
                        orig,
                        field,
                        format!("{pl} is not imported ({why}): the rule is not imported"),
                    );
                    None
                }
                Ref::Missing => {
                    self.note(
                        EntryKind::Skipped,
                        file,
                        orig,
                        field,
                        format!("{pl} is not in the input (add `aws ec2 describe-managed-prefix-lists` and `get-managed-prefix-list-entries` output): the rule is not imported"),
                    );
                    None
                }
            },
            PeerIn::Group(g, user, owner) => match self.lookup(&self.sg, g) {
                Ref::Found(i) => Some(RulePeer::Group(self.t.security_groups[i].id.clone())),
                Ref::Gone(why) => {
                    self.note(
                        EntryKind::Skipped,
                        file,
                        orig,
                        field,
                        format!("{g} is not imported ({why}): the rule is not imported"),
                    );
                    None
                }
                Ref::Missing => {
                    let msg = match (user, owner) {
                        (Some(u), Some(o)) if u != o => format!("{g} is a group of another account ({u}), not in the input: the rule is not imported"),
                        _ => format!("{g} is not in the input: the rule is not imported"),
                    };
                    self.note(EntryKind::Skipped, file, orig, field, msg);
                    None
                }
            },
        }
    }

    /// Security groups from `describe-security-group-rules` alone: that output does not
    /// print a group's VPC or name, so they come from the ENIs that use the group (and
    /// the VPC from references to it).
    fn groups_from_rules(&mut self, input: &Input) {
        let mut vpc_of: HashMap<String, usize> = HashMap::new();
        for (ei, _, _, groups) in &self.eni_groups {
            let subnet = &self.t.enis[*ei].subnet;
            let vi = self
                .t
                .subnets
                .iter()
                .find(|s| &s.id == subnet)
                .and_then(|s| self.t.vpcs.iter().position(|v| v.id == s.vpc));
            if let Some(vi) = vi {
                for g in groups {
                    vpc_of.entry(g.clone()).or_insert(vi);
                }
            }
        }
        for r in &input.security_group_rules {
            if let Some(rg) = &r.v.referenced_group_info {
                if let (Some(g), Some(v)) = (&rg.group_id, &rg.vpc_id) {
                    if let Some(&vi) = self.vpc.get(v) {
                        vpc_of.entry(g.clone()).or_insert(vi);
                    }
                }
            }
        }
        for r in &input.security_group_rules {
            let (file, path) = (r.file.as_str(), r.path.as_str());
            let Some(g) = self.required(file, &r.id, &format!("{path}.GroupId"), &r.v.group_id)
            else {
                continue;
            };
            if self.sg.contains_key(g) || self.gone.contains_key(g) {
                continue;
            }
            let Some(&vi) = vpc_of.get(g) else {
                self.skip(
                    file,
                    g,
                    &format!("{path}.GroupId"),
                    "describe-security-group-rules does not print a group's VPC, and no imported ENI uses this group: not imported, nor are its rules (add `aws ec2 describe-security-groups` output)",
                );
                continue;
            };
            let name = self.group_names.get(g).cloned();
            let gi = self.add_group(name, None, g, vi);
            let gid = self.t.security_groups[gi].id.clone();
            self.note(
                EntryKind::Used,
                file,
                g,
                "",
                format!("[[security_group]] {gid}, from its rules"),
            );
            self.note(
                EntryKind::Defaulted,
                file,
                g,
                "",
                "its VPC and name come from the ENIs that use it (describe-security-group-rules does not print them)",
            );
        }
        for r in &input.security_group_rules {
            let (file, path) = (r.file.as_str(), r.path.as_str());
            let Some(g) = r.v.group_id.as_deref() else {
                continue;
            };
            let Some(&gi) = self.sg.get(g) else { continue };
            let at = (file, r.id.as_str(), path);
            let Some(traffic) =
                self.traffic(at, r.v.ip_protocol.as_deref(), r.v.from_port, r.v.to_port)
            else {
                continue;
            };
            let rg = r.v.referenced_group_info.as_ref();
            let peer = if let Some(c) = r.v.cidr_ipv4.as_deref() {
                PeerIn::Cidr(c)
            } else if let Some(c) = r.v.cidr_ipv6.as_deref() {
                PeerIn::Cidr6(c)
            } else if let Some(c) = r.v.prefix_list_id.as_deref() {
                PeerIn::PrefixList(c)
            } else if let Some(g) = rg.and_then(|x| x.group_id.as_deref()) {
                PeerIn::Group(
                    g,
                    rg.and_then(|x| x.user_id.as_deref()),
                    r.v.group_owner_id.as_deref(),
                )
            } else {
                self.note(
                    EntryKind::Skipped,
                    file,
                    &r.id,
                    path,
                    "no peer: the rule allows nothing",
                );
                continue;
            };
            let Some(peer) = self.peer(at, peer) else {
                continue;
            };
            let inbound = r.v.is_egress != Some(true);
            let rule = rule(traffic, peer, r.v.description.clone(), inbound);
            self.push_rules(gi, inbound, vec![rule]);
        }
    }

    /// `[[network_acl]]` from `NetworkAcls[]`.
    pub(super) fn network_acls(&mut self, recs: &[Record<NetworkAcl>]) {
        for r in recs {
            let (file, path) = (r.file.as_str(), r.path.as_str());
            let Some(orig) = self.required(
                file,
                &r.id,
                &format!("{path}.NetworkAclId"),
                &r.v.network_acl_id,
            ) else {
                continue;
            };
            if self.listed_again(self.nacl.contains_key(orig), file, orig, path) {
                continue;
            }
            let vfield = format!("{path}.VpcId");
            let Some(vpc_orig) = self.required(file, orig, &vfield, &r.v.vpc_id) else {
                continue;
            };
            let Some(vi) = self.parent((file, orig, &vfield), Parent::Vpc, vpc_orig) else {
                continue;
            };
            let vpc = self.t.vpcs[vi].id.clone();
            let mut acl = model::NetworkAcl {
                id: self.ids.id("acl-", orig),
                name: tag_name(&r.v.tags),
                vpc: vpc.clone(),
                default: r.v.is_default == Some(true),
                subnets: Vec::new(),
                inbound: Vec::new(),
                outbound: Vec::new(),
            };
            for (k, a) in r.v.associations.iter().enumerate() {
                let field = format!("{path}.Associations[{k}].SubnetId");
                let Some(s) = a.subnet_id.as_deref() else {
                    continue;
                };
                match self.lookup(&self.subnet, s) {
                    Ref::Found(si) if self.t.subnets[si].vpc == vpc => {
                        let sid = self.t.subnets[si].id.clone();
                        if let Some(other) = self
                            .t
                            .network_acls
                            .iter()
                            .find(|n| n.subnets.contains(&sid))
                        {
                            let msg = format!("{s} is already associated with {}", other.id);
                            self.note(EntryKind::Skipped, file, orig, &field, msg);
                        } else {
                            acl.subnets.push(sid);
                        }
                    }
                    Ref::Found(_) => self.note(
                        EntryKind::Skipped,
                        file,
                        orig,
                        &field,
                        format!("{s} is in another VPC"),
                    ),
                    Ref::Gone(why) => self.note(
                        EntryKind::Skipped,
                        file,
                        orig,
                        &field,
                        format!("{s} is not imported ({why})"),
                    ),
                    Ref::Missing => self.note(
                        EntryKind::Skipped,
                        file,
                        orig,
                        &field,
                        format!("{s} is not in the input"),
                    ),
                }
            }
            for (k, e) in r.v.entries.iter().enumerate() {
                let field = format!("{path}.Entries[{k}]");
                let Some(rule) = self.nacl_entry((file, orig, &field), e) else {
                    continue;
                };
                if e.egress == Some(true) {
                    acl.outbound.push(rule);
                } else {
                    acl.inbound.push(rule);
                }
            }
            self.note(
                EntryKind::Used,
                file,
                orig,
                path,
                format!("[[network_acl]] {}", acl.id),
            );
            self.nacl
                .insert(orig.to_string(), self.t.network_acls.len());
            self.t.network_acls.push(acl);
        }
    }

    /// One network ACL entry (`None` for the implicit final deny, or with an entry or an
    /// error).
    fn nacl_entry(&mut self, (file, orig, field): At<'_>, e: &NetworkAclEntry) -> Option<NaclRule> {
        let rule = *e.rule_number.as_ref().or_else(|| {
            self.err(file, orig, format!("{field}.RuleNumber"), "missing");
            None
        })?;
        if rule == NACL_DEFAULT_DENY {
            return None;
        }
        if !(NACL_RULE_MIN..=NACL_RULE_MAX).contains(&rule) {
            self.note(
                EntryKind::Skipped,
                file,
                orig,
                &format!("{field}.RuleNumber"),
                format!("rule number {rule} is outside {NACL_RULE_MIN}..={NACL_RULE_MAX}"),
            );
            return None;
        }
        let afield = format!("{field}.RuleAction");
        let action = match self.required(file, orig, &afield, &e.rule_action)? {
            "allow" => NaclAction::Allow,
            "deny" => NaclAction::Deny,
            other => {
                self.err(
                    file,
                    orig,
                    afield,
                    format!("`{other}`: expected allow or deny"),
                );
                return None;
            }
        };
        let pfield = format!("{field}.Protocol");
        let p = self.required(file, orig, &pfield, &e.protocol)?;
        let Some(protocol) = RuleProtocol::parse(p) else {
            self.err(
                file,
                orig,
                pfield,
                format!("`{p}` is not a protocol (-1 or 0..=255)"),
            );
            return None;
        };
        let cidr = match (e.cidr_block.as_deref(), e.ipv6_cidr_block.as_deref()) {
            (Some(c), _) => {
                self.parse::<IpNet>(file, orig, &format!("{field}.CidrBlock"), c, "a CIDR")?
            }
            (None, Some(c)) => {
                self.parse::<IpNet>(file, orig, &format!("{field}.Ipv6CidrBlock"), c, "a CIDR")?
            }
            (None, None) => {
                self.err(
                    file,
                    orig,
                    format!("{field}.CidrBlock"),
                    "missing (and no Ipv6CidrBlock)",
                );
                return None;
            }
        };
        let (ports, icmp_type, icmp_code) = if protocol.has_ports() {
            let range = e.port_range.as_ref().map(|r| (r.from, r.to));
            let (_, ports, _, _) = self.ports(
                (file, orig, field),
                protocol,
                range.unwrap_or((None, None)),
                ("PortRange", "PortRange"),
            );
            (ports, None, None)
        } else if protocol.is_icmp() {
            let any = |v: Option<i64>| v.filter(|x| (0..=255).contains(x));
            let tc = e.icmp_type_code.as_ref();
            (
                None,
                any(tc.and_then(|t| t.r#type)),
                any(tc.and_then(|t| t.code)),
            )
        } else {
            (None, None, None)
        };
        if !protocol.has_ports() && e.port_range.is_some() {
            self.note(
                EntryKind::Skipped,
                file,
                orig,
                &format!("{field}.PortRange"),
                format!("ports of protocol {protocol}: AWS ignores them"),
            );
        }
        if !protocol.is_icmp() && e.icmp_type_code.is_some() {
            self.note(
                EntryKind::Skipped,
                file,
                orig,
                &format!("{field}.IcmpTypeCode"),
                format!("ICMP type/code of protocol {protocol}: AWS ignores them"),
            );
        }
        Some(NaclRule {
            rule,
            protocol,
            ports,
            icmp_type,
            icmp_code,
            cidr,
            action,
        })
    }
}

/// One security-group rule.
fn rule(
    (protocol, ports, icmp_type, icmp_code): Traffic,
    peer: RulePeer,
    description: Option<String>,
    inbound: bool,
) -> SgRuleSpec {
    let (source, destination) = if inbound {
        (Some(peer), None)
    } else {
        (None, Some(peer))
    };
    SgRuleSpec {
        protocol,
        ports,
        icmp_type,
        icmp_code,
        source,
        destination,
        description: description.filter(|d| !d.is_empty()),
    }
}
