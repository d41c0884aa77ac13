//! The parts of firewall and mirror-filter rules shared by several resource kinds: the
//! protocol selector ([`RuleProtocol`]) and the port range ([`PortSpec`]).

use serde::{Deserialize, Serialize};

/// An IP protocol selector as written: a name (`tcp`, `udp`, `icmp`, `icmpv6`, `all`; any
/// case), `-1` (all), or an IANA protocol number 0..=255 as an integer or a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleProtocol {
    /// Every protocol (`-1`, `all`).
    All,
    /// One IANA protocol number.
    Number(u8),
}

/// IANA protocol number of ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IANA protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IANA protocol number of UDP.
pub const PROTO_UDP: u8 = 17;
/// IANA protocol number of ICMPv6.
pub const PROTO_ICMPV6: u8 = 58;

impl RuleProtocol {
    /// Parses the string form (names, `-1`, numbers).
    pub fn parse(s: &str) -> Option<RuleProtocol> {
        let t = s.trim();
        match t.to_ascii_lowercase().as_str() {
            "all" | "-1" => Some(RuleProtocol::All),
            "tcp" => Some(RuleProtocol::Number(PROTO_TCP)),
            "udp" => Some(RuleProtocol::Number(PROTO_UDP)),
            "icmp" => Some(RuleProtocol::Number(PROTO_ICMP)),
            "icmpv6" => Some(RuleProtocol::Number(PROTO_ICMPV6)),
            n if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                n.parse::<u8>().ok().map(RuleProtocol::Number)
            }
            _ => None,
        }
    }

    /// Whether ports apply (TCP or UDP).
    pub fn has_ports(self) -> bool {
        matches!(self, RuleProtocol::Number(PROTO_TCP | PROTO_UDP))
    }

    /// Whether ICMP type/code apply (ICMP or ICMPv6).
    pub fn is_icmp(self) -> bool {
        matches!(self, RuleProtocol::Number(PROTO_ICMP | PROTO_ICMPV6))
    }

    /// The data plane's form.
    pub fn to_config(self) -> dataplane::vpc::config::Protocol {
        match self {
            RuleProtocol::All => dataplane::vpc::config::Protocol::All,
            RuleProtocol::Number(n) => dataplane::vpc::config::Protocol::Number(n),
        }
    }
}

impl std::fmt::Display for RuleProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuleProtocol::All => f.write_str("all"),
            RuleProtocol::Number(PROTO_TCP) => f.write_str("tcp"),
            RuleProtocol::Number(PROTO_UDP) => f.write_str("udp"),
            RuleProtocol::Number(PROTO_ICMP) => f.write_str("icmp"),
            RuleProtocol::Number(PROTO_ICMPV6) => f.write_str("icmpv6"),
            RuleProtocol::Number(n) => write!(f, "{n}"),
        }
    }
}

/// What a `protocol` may be, for error messages.
const PROTOCOL_EXPECTED: &str =
    "tcp, udp, icmp, icmpv6, all, -1, or an IANA protocol number 0..=255";

serialize_as_display!(RuleProtocol);

impl<'de> Deserialize<'de> for RuleProtocol {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = RuleProtocol;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(PROTOCOL_EXPECTED)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RuleProtocol, E> {
                match v {
                    -1 => Ok(RuleProtocol::All),
                    _ => u8::try_from(v).map(RuleProtocol::Number).map_err(|_| {
                        E::custom(format!("protocol {v}: expected {PROTOCOL_EXPECTED}"))
                    }),
                }
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RuleProtocol, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RuleProtocol, E> {
                RuleProtocol::parse(v).ok_or_else(|| {
                    E::custom(format!("protocol `{v}`: expected {PROTOCOL_EXPECTED}"))
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// A port range as written: `80`, `"80"` or `"1024-65535"` (inclusive). Bounds and order
/// are checked by [`crate::validate::validate`] (0..=65535, from <= to); `"0-65535"` means
/// all ports, like leaving `ports` out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortSpec {
    /// First port.
    pub from: u32,
    /// Last port (inclusive).
    pub to: u32,
}

impl std::fmt::Display for PortSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{}-{}", self.from, self.to)
        }
    }
}

/// What `ports` may be, for error messages.
const PORTS_EXPECTED: &str = "a port or an inclusive range: 80, \"80\" or \"1024-65535\"";

serialize_as_display!(PortSpec);

impl<'de> Deserialize<'de> for PortSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = PortSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(PORTS_EXPECTED)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<PortSpec, E> {
                let p = u32::try_from(v)
                    .map_err(|_| E::custom(format!("ports {v}: expected {PORTS_EXPECTED}")))?;
                Ok(PortSpec { from: p, to: p })
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<PortSpec, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(-1))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PortSpec, E> {
                let bad = || E::custom(format!("ports `{v}`: expected {PORTS_EXPECTED}"));
                let num = |s: &str| -> Result<u32, E> {
                    let s = s.trim();
                    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(bad());
                    }
                    s.parse::<u32>().map_err(|_| bad())
                };
                match v.split_once('-') {
                    Some((a, b)) => Ok(PortSpec {
                        from: num(a)?,
                        to: num(b)?,
                    }),
                    None => {
                        let p = num(v)?;
                        Ok(PortSpec { from: p, to: p })
                    }
                }
            }
        }
        d.deserialize_any(V)
    }
}
