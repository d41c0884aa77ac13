//! Where the slow path reads and changes connection and translation state: the running
//! tables when forwarding ([`Live`]), or a copy-on-write [`Overlay`] over them when
//! `vpcctl trace` runs a packet, which copies only the tables the packet touches.

use std::collections::HashMap;

use crate::vpc::config::{EniIdx, NatIdx};
use crate::vpc::conntrack::ConnTable;
use crate::vpc::nat::NatState;

/// The connection tables and NAT translations the slow path works on.
pub trait FlowState {
    /// How many ENI connection tables there are ([`super::CtRef::table`] numbers ENIs
    /// first, then NAT gateways).
    fn enis(&self) -> usize;
    /// ENI `e`'s connection table.
    fn conntrack(&mut self, e: EniIdx) -> Option<&mut ConnTable>;
    /// NAT gateway `n`'s translations.
    fn nat(&mut self, n: NatIdx) -> Option<&mut NatState>;
}

/// The running state, changed in place (the forwarding path).
pub struct Live<'a> {
    /// Connection tables, by ENI index.
    pub conntrack: &'a mut [ConnTable],
    /// NAT gateways' translations, by NAT gateway index.
    pub nats: &'a mut [NatState],
}

impl FlowState for Live<'_> {
    fn enis(&self) -> usize {
        self.conntrack.len()
    }

    fn conntrack(&mut self, e: EniIdx) -> Option<&mut ConnTable> {
        self.conntrack.get_mut(e.idx())
    }

    fn nat(&mut self, n: NatIdx) -> Option<&mut NatState> {
        self.nats.get_mut(n.idx())
    }
}

/// A copy-on-write view of the running state: a table is copied ([`ConnTable::fork`],
/// [`NatState::fork`]: by what it holds, not by its capacity) the first time the packet
/// asks for it, and every change stays in the copy. The running state is
/// never written.
pub struct Overlay<'a> {
    base_ct: &'a [ConnTable],
    base_nat: &'a [NatState],
    ct: HashMap<EniIdx, ConnTable>,
    nat: HashMap<NatIdx, NatState>,
}

impl<'a> Overlay<'a> {
    /// An overlay over these tables, with nothing copied yet.
    pub fn new(base_ct: &'a [ConnTable], base_nat: &'a [NatState]) -> Overlay<'a> {
        Overlay {
            base_ct,
            base_nat,
            ct: HashMap::new(),
            nat: HashMap::new(),
        }
    }

    /// How many tables were copied (connection tables, NAT gateways).
    pub fn copied(&self) -> (usize, usize) {
        (self.ct.len(), self.nat.len())
    }
}

impl FlowState for Overlay<'_> {
    fn enis(&self) -> usize {
        self.base_ct.len()
    }

    fn conntrack(&mut self, e: EniIdx) -> Option<&mut ConnTable> {
        let base = self.base_ct.get(e.idx())?;
        Some(self.ct.entry(e).or_insert_with(|| base.fork()))
    }

    fn nat(&mut self, n: NatIdx) -> Option<&mut NatState> {
        let base = self.base_nat.get(n.idx())?;
        Some(self.nat.entry(n).or_insert_with(|| base.fork()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vpc::config::ConntrackConfig;
    use crate::vpc::conntrack::{ConnKey, Origin};
    use crate::wire::ipv4::PROTO_UDP;

    #[test]
    fn an_overlay_copies_only_what_it_changes_and_never_writes_the_base() {
        let base: Vec<ConnTable> = (0..3)
            .map(|_| ConnTable::new(ConntrackConfig::default()))
            .collect();
        let mut overlay = Overlay::new(&base, &[]);
        let key = ConnKey {
            proto: PROTO_UDP,
            local: "10.0.1.10".parse().unwrap(),
            remote: "10.0.2.20".parse().unwrap(),
            local_port: 4000,
            remote_port: 53,
        };
        let t = overlay.conntrack(EniIdx(1)).unwrap();
        t.insert(key, Origin::Local, 0, 0).unwrap();
        assert_eq!(overlay.conntrack(EniIdx(1)).unwrap().len(), 1);
        assert!(overlay.conntrack(EniIdx(7)).is_none());
        assert!(overlay.nat(NatIdx(0)).is_none());
        assert_eq!(overlay.copied(), (1, 0));
        assert!(base.iter().all(ConnTable::is_empty));
        assert_eq!(overlay.enis(), 3);
    }
}
