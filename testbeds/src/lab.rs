//! A running lab: a topology file brought up on a private `vpcd`, with one namespace per
//! ENI that names one (renamed with the run prefix, so parallel labs never collide).
//! Dropping the lab stops `vpcd` (its TAPs vanish) and deletes the namespaces.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use control::model::Topology;
use dataplane::stats::{PortCounters, StatsReport};
use dataplane::verdict::DropReason;

use crate::{Error, Netns, Result, RunPrefix, Vpcd};

/// A topology running on its own `vpcd` with its own namespaces.
pub struct Lab {
    // Field order is drop order: vpcd first (TAPs go), then the namespaces.
    vpcd: Vpcd,
    namespaces: BTreeMap<String, Netns>,
    eni_netns: BTreeMap<String, String>,
    prefix: RunPrefix,
    /// The topology as applied (namespace names prefixed).
    pub topology: Topology,
}

impl Lab {
    /// Starts `vpcd`, creates the namespaces the topology names (prefixed), applies it.
    pub fn start(toml: &str) -> Result<Lab> {
        let prefix = RunPrefix::new()?;
        let vpcd = Vpcd::start(&prefix)?;
        let mut lab = Lab {
            vpcd,
            namespaces: BTreeMap::new(),
            eni_netns: BTreeMap::new(),
            prefix,
            topology: Topology::default(),
        };
        lab.apply(toml).map_err(Error::Topology)?;
        Ok(lab)
    }

    /// Rewrites the namespace names of `toml` with this lab's prefix, creates missing
    /// namespaces, validates, compiles and applies. Returns the new epoch, or every
    /// error (validation or vpcd's rejection) as text.
    pub fn apply(&mut self, toml: &str) -> std::result::Result<u64, Vec<String>> {
        let mut topo = control::validate::parse(toml)
            .map_err(|e| e.iter().map(|e| e.to_string()).collect::<Vec<_>>())?;
        for eni in &mut topo.enis {
            if let Some(ns) = &eni.netns {
                eni.netns = Some(self.prefix.ns_name(ns));
            }
        }
        control::validate::validate(&mut topo)
            .map_err(|e| e.iter().map(|e| e.to_string()).collect::<Vec<_>>())?;
        let config = control::compile::compile(&topo)
            .map_err(|e| e.iter().map(|e| e.to_string()).collect::<Vec<_>>())?;
        for eni in &topo.enis {
            if let Some(ns) = &eni.netns {
                if !self.namespaces.contains_key(ns) {
                    let n = Netns::create(ns).map_err(|e| vec![e.to_string()])?;
                    self.namespaces.insert(ns.to_string(), n);
                }
                self.eni_netns.insert(eni.id.clone(), ns.to_string());
            }
        }
        let epoch =
            control::client::apply(self.vpcd.socket_path(), &config).map_err(|e| match e {
                control::client::ClientError::Rejected(errs) => errs,
                other => vec![other.to_string()],
            })?;
        self.topology = topo;
        Ok(epoch)
    }

    /// The namespace of ENI `eni` (its id, e.g. `eni-web1`).
    pub fn ns(&self, eni: &str) -> &Netns {
        self.try_ns(eni)
            .unwrap_or_else(|| panic!("lab has no namespace for {eni}"))
    }

    /// The namespace of ENI `eni`, if it has one.
    pub fn try_ns(&self, eni: &str) -> Option<&Netns> {
        self.namespaces.get(self.eni_netns.get(eni)?)
    }

    /// The primary private IPv4 of ENI `eni`.
    pub fn ip(&self, eni: &str) -> IpAddr {
        self.topology
            .enis
            .iter()
            .find(|e| e.id == eni)
            .map(|e| IpAddr::V4(e.private_ip))
            .unwrap_or_else(|| panic!("lab has no ENI {eni}"))
    }

    /// The running state from `vpcd`.
    pub fn show(&self) -> Result<StatsReport> {
        control::client::show(self.vpcd.socket_path()).map_err(|e| Error::Control(e.to_string()))
    }

    /// The counters of ENI `eni`.
    pub fn counters(&self, eni: &str) -> Result<PortCounters> {
        let r = self.show()?;
        r.enis
            .into_iter()
            .find(|e| e.id == eni)
            .map(|e| e.counters)
            .ok_or_else(|| Error::Control(format!("vpcd reports no ENI {eni}")))
    }

    /// The drop counter of ENI `eni` for `reason`.
    pub fn drops(&self, eni: &str, reason: DropReason) -> Result<u64> {
        Ok(self.counters(eni)?.drops[reason.index()])
    }

    /// Pings `dst` from ENI `eni`'s namespace: `(transmitted, received)`.
    pub fn ping(&self, eni: &str, dst: IpAddr, count: u32) -> Result<(u32, u32)> {
        let r = self
            .ns(eni)
            .ping(dst, count, Duration::from_secs(u64::from(count) + 3))?;
        Ok((r.transmitted, r.received))
    }

    /// The daemon (socket, log).
    pub fn vpcd(&self) -> &Vpcd {
        &self.vpcd
    }

    /// This lab's run prefix.
    pub fn prefix(&self) -> &RunPrefix {
        &self.prefix
    }
}
