//! Index checks of the resources that observers read from a configuration (flow logs,
//! packet captures, traffic-mirroring sessions): part of [`crate::vpc::tables::Tables::build`],
//! so a malformed message is an error before any observer sees it.

use crate::vpc::config::{DataplaneConfig, Interface};
use crate::vpc::tables::TableError;

/// Flow logs: every interface they cover exists (an ENI, or a NAT gateway's interface).
pub(crate) fn flow_logs(c: &DataplaneConfig) -> Result<(), TableError> {
    for f in &c.flow_logs {
        for &i in &f.interfaces {
            let (len, index, field) = match i {
                Interface::Eni(e) => (c.enis.len(), e.0, "interfaces.eni"),
                Interface::NatGateway(n) => (c.nat_gateways.len(), n.0, "interfaces.nat_gateway"),
            };
            if index as usize >= len {
                return Err(TableError::BadIndex {
                    resource: f.id.clone(),
                    field,
                    index,
                });
            }
        }
    }
    Ok(())
}

/// Captures: Checks the captures' references and ids (a malformed message is an error).
pub(crate) fn captures(c: &DataplaneConfig) -> Result<(), TableError> {
    let mut ids = std::collections::HashSet::new();
    for cap in &c.captures {
        if !ids.insert(cap.id.as_str()) {
            return Err(TableError::DuplicateId(cap.id.clone()));
        }
        if cap.eni.idx() >= c.enis.len() {
            return Err(TableError::BadIndex {
                resource: cap.id.clone(),
                field: "eni",
                index: cap.eni.0,
            });
        }
    }
    Ok(())
}

/// Checks the sessions' references and ids (a malformed message is an error).
pub(crate) fn mirror_sessions(c: &DataplaneConfig) -> Result<(), TableError> {
    let mut ids = std::collections::HashSet::new();
    for s in &c.mirror_sessions {
        if !ids.insert(s.id.as_str()) {
            return Err(TableError::DuplicateId(s.id.clone()));
        }
        for (field, i) in [("source", s.source), ("target", s.target)] {
            if i.idx() >= c.enis.len() {
                return Err(TableError::BadIndex {
                    resource: s.id.clone(),
                    field,
                    index: i.0,
                });
            }
        }
    }
    Ok(())
}
