//! Stage: the source/destination check of an ENI.
//!
//! With the check on (the default), an ENI may only send frames from its own MAC and
//! addresses, and only receive packets for its own addresses. Turning it off is what
//! NAT instances and middleboxes need.

use std::net::IpAddr;

use super::{Action, StageResult};
use crate::vpc::tables::EniTable;
use crate::vpc::verdict::DropReason;
use crate::wire::MacAddr;

/// Checks a frame an ENI sends: its source MAC and source IP must be the ENI's own.
#[inline]
pub fn egress(eni: &EniTable, src_mac: MacAddr, src_ip: Option<IpAddr>) -> StageResult {
    if !eni.source_dest_check {
        return Ok(());
    }
    if src_mac != eni.mac {
        return Err(Action::drop(DropReason::SourceMacSpoofed));
    }
    match src_ip {
        Some(ip) if !eni.owns(ip) => Err(Action::drop(DropReason::SourceIpSpoofed)),
        _ => Ok(()),
    }
}

/// Checks a packet about to be delivered to an ENI: its destination must be the ENI's.
#[inline]
pub fn ingress(eni: &EniTable, dst_ip: IpAddr) -> StageResult {
    if eni.source_dest_check && !eni.owns(dst_ip) {
        Err(Action::drop(DropReason::DestinationNotOwned))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vpc::config::{SubnetIdx, VpcIdx};

    fn eni(check: bool) -> EniTable {
        EniTable {
            subnet: SubnetIdx(0),
            vpc: VpcIdx(0),
            mac: MacAddr([2, 0, 0, 0, 0, 1]),
            addrs: vec!["10.0.1.10".parse().unwrap(), "10.0.1.11".parse().unwrap()],
            source_dest_check: check,
            sg: None,
        }
    }

    #[test]
    fn egress_checks_mac_and_ip() {
        let e = eni(true);
        let own = Some("10.0.1.11".parse().unwrap());
        assert_eq!(egress(&e, e.mac, own), Ok(()));
        assert_eq!(
            egress(&e, MacAddr([2, 0, 0, 0, 0, 9]), own),
            Err(Action::drop(DropReason::SourceMacSpoofed))
        );
        assert_eq!(
            egress(&e, e.mac, Some("10.0.1.99".parse().unwrap())),
            Err(Action::drop(DropReason::SourceIpSpoofed))
        );
        let off = eni(false);
        assert_eq!(
            egress(
                &off,
                MacAddr([2, 0, 0, 0, 0, 9]),
                Some("8.8.8.8".parse().unwrap())
            ),
            Ok(())
        );
    }

    #[test]
    fn ingress_checks_destination() {
        assert_eq!(ingress(&eni(true), "10.0.1.10".parse().unwrap()), Ok(()));
        assert_eq!(
            ingress(&eni(true), "10.0.2.5".parse().unwrap()),
            Err(Action::drop(DropReason::DestinationNotOwned))
        );
        assert_eq!(ingress(&eni(false), "10.0.2.5".parse().unwrap()), Ok(()));
    }
}
