//! The traffic fields shared by network-ACL and security-group rules: the protocol
//! (`"-1"`, `"tcp"`, `"6"`, a number), the port range of TCP/UDP and the ICMP type/code
//! (a NACL's `icmp_type`/`icmp_code`; a security group's `from_port`/`to_port`, as in the
//! EC2 API), with `-1` for "any" and `0-65535` for "all ports".

use serde_json::Value;

use super::super::ImportError;
use super::doc::{kind_of, Obj, Val};
use crate::model::{PortSpec, RuleProtocol};

/// A rule's protocol, ports and ICMP fields in the model's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Traffic {
    /// The protocol.
    pub(super) protocol: RuleProtocol,
    /// The port range (TCP/UDP), `None` for all ports.
    pub(super) ports: Option<PortSpec>,
    /// The ICMP type, `None` for any.
    pub(super) icmp_type: Option<i64>,
    /// The ICMP code, `None` for any.
    pub(super) icmp_code: Option<i64>,
}

/// The protocol in field `k`: a string (`"tcp"`, `"-1"`, `"all"`, `"6"`) or a number.
pub(super) fn protocol(o: &Obj<'_>, k: &str) -> Result<RuleProtocol, ImportError> {
    match o.raw(k) {
        Val::Known(Value::String(s)) => RuleProtocol::parse(s).ok_or_else(|| {
            o.err(
                k,
                format!("`{s}` is not a protocol (tcp, udp, icmp, icmpv6, -1, or 0..=255)"),
            )
        }),
        Val::Known(Value::Number(n)) => match n.as_i64() {
            Some(-1) => Ok(RuleProtocol::All),
            Some(p) => u8::try_from(p)
                .map(RuleProtocol::Number)
                .map_err(|_| o.err(k, format!("protocol {p} is out of range (-1 or 0..=255)"))),
            None => Err(o.err(k, format!("protocol {n} is not an integer"))),
        },
        Val::Known(other) => Err(o.err(
            k,
            format!("expected a protocol string, found {}", kind_of(other)),
        )),
        Val::Unknown => Err(o.err(k, "unknown until apply: the rule's protocol must be known")),
        Val::Absent => Err(o.err(k, "missing")),
    }
}

/// An optional integer field; unknown is an error (rule fields are literals in practice).
fn opt_int(o: &Obj<'_>, k: &str) -> Result<Option<i64>, ImportError> {
    match o.int(k)? {
        Val::Known(v) => Ok(Some(v)),
        Val::Absent => Ok(None),
        Val::Unknown => Err(o.err(k, "unknown until apply: the rule's fields must be known")),
    }
}

/// The traffic of a rule: protocol in `proto`, ports in `from`/`to`, ICMP type/code in
/// `icmp` (`None`: in `from`/`to`, as security groups write them).
pub(super) fn traffic(
    o: &Obj<'_>,
    proto: &str,
    (from, to): (&str, &str),
    icmp: Option<(&str, &str)>,
) -> Result<Traffic, ImportError> {
    let protocol = protocol(o, proto)?;
    let mut t = Traffic {
        protocol,
        ports: None,
        icmp_type: None,
        icmp_code: None,
    };
    if protocol.has_ports() {
        let (f, l) = (opt_int(o, from)?, opt_int(o, to)?);
        let port = |k: &str, v: i64| {
            u32::try_from(v)
                .ok()
                .filter(|&p| p <= 65_535)
                .ok_or_else(|| o.err(k, format!("port {v} is out of range (0..=65535)")))
        };
        t.ports = match (f, l) {
            (None, None) => None,
            (Some(-1), _) | (_, Some(-1)) => None,
            (f, l) => {
                let a = port(from, f.or(l).unwrap_or(0))?;
                let b = port(to, l.or(f).unwrap_or(65_535))?;
                if (a, b) == (0, 65_535) {
                    None
                } else {
                    Some(PortSpec { from: a, to: b })
                }
            }
        };
    } else if protocol.is_icmp() {
        let (tk, ck) = icmp.unwrap_or((from, to));
        let any = |v: Option<i64>| v.filter(|&x| x != -1);
        t.icmp_type = any(opt_int(o, tk)?);
        t.icmp_code = any(opt_int(o, ck)?);
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: &Value) -> Obj<'_> {
        Obj {
            file: "f.json",
            res: "aws_network_acl_rule.x",
            path: String::new(),
            values: v.as_object().expect("an object"),
            unknown: &Value::Null,
        }
    }

    #[test]
    fn protocols_ports_and_icmp_fields_map_to_the_model() {
        let v = json!({"protocol": "tcp", "from_port": 0, "to_port": 65535});
        let t = traffic(&obj(&v), "protocol", ("from_port", "to_port"), None).unwrap();
        assert_eq!((t.protocol, t.ports), (RuleProtocol::Number(6), None));
        let v = json!({"protocol": "6", "from_port": 1024, "to_port": 65535});
        let t = traffic(&obj(&v), "protocol", ("from_port", "to_port"), None).unwrap();
        assert_eq!(
            t.ports,
            Some(PortSpec {
                from: 1024,
                to: 65535
            })
        );
        let v = json!({"protocol": "icmp", "from_port": 8, "to_port": -1});
        let t = traffic(&obj(&v), "protocol", ("from_port", "to_port"), None).unwrap();
        assert_eq!((t.icmp_type, t.icmp_code), (Some(8), None));
        let v = json!({"protocol": "1", "icmp_type": -1, "icmp_code": -1, "from_port": 0, "to_port": 0});
        let t = traffic(
            &obj(&v),
            "protocol",
            ("from_port", "to_port"),
            Some(("icmp_type", "icmp_code")),
        )
        .unwrap();
        assert_eq!((t.icmp_type, t.icmp_code), (None, None));
        let v = json!({"protocol": "-1", "from_port": 0, "to_port": 0});
        let t = traffic(&obj(&v), "protocol", ("from_port", "to_port"), None).unwrap();
        assert_eq!(t.protocol, RuleProtocol::All);
        let v = json!({"protocol": 47});
        assert_eq!(
            protocol(&obj(&v), "protocol").unwrap(),
            RuleProtocol::Number(47)
        );
        let v = json!({"protocol": "bogus"});
        let e = protocol(&obj(&v), "protocol").unwrap_err();
        assert_eq!(e.field, "protocol");
        let v = json!({"protocol": "tcp", "from_port": "x", "to_port": 80});
        let e = traffic(&obj(&v), "protocol", ("from_port", "to_port"), None).unwrap_err();
        assert_eq!(e.field, "from_port");
    }
}
