//! The protocol, port and ICMP fields shared by network ACL and security group rules.

use crate::model::{PortSpec, RuleProtocol, PROTO_ICMPV6};

use super::context::Report;

/// The protocol, ports and ICMP fields of one rule, and the family of its CIDR when known.
pub(super) struct TrafficFields<'a> {
    pub(super) protocol: RuleProtocol,
    pub(super) ports: Option<PortSpec>,
    pub(super) icmp_type: Option<i64>,
    pub(super) icmp_code: Option<i64>,
    /// `Some(true)` for an IPv4 CIDR, `Some(false)` for IPv6, `None` for other peers.
    pub(super) ipv4: Option<bool>,
    /// `inbound[3]`, for the field names.
    pub(super) field: &'a str,
}

/// Protocol/port/ICMP rules shared by network ACL and security group rules.
///
/// Ports: TCP/UDP only (bounds 0..=65535, from <= to); with ICMP/ICMPv6 an error; with
/// `-1` or another protocol number AWS ignores them, so they are accepted with a warning.
/// ICMP type/code: -1..=255 (-1 = any); ICMP/ICMPv6 only (an error with TCP/UDP, ignored
/// with a warning for `-1` and other protocols); a code needs a type; ICMPv6 with an IPv4
/// CIDR matches every type in AWS, so a type/code there is ignored with a warning.
pub(super) fn check_traffic(r: &mut Report, res: &str, f: &TrafficFields<'_>) {
    let field = f.field;
    let proto = f.protocol;
    let proto_text = match proto {
        RuleProtocol::All => "all (-1)".to_string(),
        p => format!("{p}"),
    };
    if let Some(p) = f.ports {
        let pfield = format!("{field}.ports");
        if proto.has_ports() {
            if p.from > 65_535 || p.to > 65_535 {
                r.err(res, &pfield, format!("ports {p}: a port is 0..=65535"));
            } else if p.from > p.to {
                r.err(
                    res,
                    &pfield,
                    format!("ports {p}: the range must go from the lower port to the higher"),
                );
            }
        } else if proto.is_icmp() {
            r.err(
                res,
                &pfield,
                format!("ports do not apply to protocol {proto}; use icmp_type/icmp_code"),
            );
        } else {
            r.warnings.push(format!(
                "{res}.{pfield}: ports are ignored for protocol {proto_text}; the rule matches all of its traffic (as in AWS)"
            ));
        }
    }
    let given = [("icmp_type", f.icmp_type), ("icmp_code", f.icmp_code)];
    if given.iter().all(|(_, v)| v.is_none()) {
        return;
    }
    let mut in_range = true;
    for (name, v) in given {
        if let Some(v) = v {
            if !(-1..=255).contains(&v) {
                in_range = false;
                r.err(
                    res,
                    format!("{field}.{name}"),
                    format!("{v} is outside 0..=255 (-1 or leaving it out means any)"),
                );
            }
        }
    }
    let specific = |v: Option<i64>| matches!(v, Some(x) if x >= 0);
    if proto.has_ports() {
        let name = if f.icmp_type.is_some() {
            "icmp_type"
        } else {
            "icmp_code"
        };
        r.err(
            res,
            format!("{field}.{name}"),
            format!("icmp_type/icmp_code only apply to icmp and icmpv6, not {proto}; use ports"),
        );
    } else if !proto.is_icmp() {
        r.warnings.push(format!(
            "{res}.{field}: icmp_type/icmp_code are ignored for protocol {proto_text}; the rule matches all of its traffic (as in AWS)"
        ));
    } else if in_range && specific(f.icmp_code) && !specific(f.icmp_type) {
        r.err(
            res,
            format!("{field}.icmp_code"),
            "an icmp_code needs an icmp_type (any type means any code)",
        );
    } else if proto == RuleProtocol::Number(PROTO_ICMPV6)
        && f.ipv4 == Some(true)
        && (specific(f.icmp_type) || specific(f.icmp_code))
    {
        r.warnings.push(format!(
            "{res}.{field}: icmpv6 with an IPv4 CIDR matches all ICMP types and codes (as in AWS); icmp_type/icmp_code are ignored"
        ));
    }
}
