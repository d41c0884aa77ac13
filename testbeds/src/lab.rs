//! A running lab: a topology file brought up on a private `vpcd`, with one namespace per
//! ENI that names one and one per internet gateway's internet side (renamed with the run
//! prefix, so parallel labs never collide).
//! Dropping the lab stops `vpcd` (its TAPs vanish) and deletes the namespaces.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use control::dhcp_client::{self, ClientOptions, ClientProcess, Lease};
use control::model::{Addressing, Topology};
use dataplane::observe::stats::{PortCounters, StatsReport};
use dataplane::vpc::config::{DataplaneConfig, EniConfig};
use dataplane::vpc::verdict::DropReason;

use control::segment::SegmentPlan;

use crate::{
    Error, MacAddr, Netns, NsChild, Result, RunPrefix, Scratch, Vpcctl, Vpcd, VpcdOptions,
};

/// A topology running on its own `vpcd` with its own namespaces.
pub struct Lab {
    // Field order is drop order: vpcd first (TAPs go), then the namespaces (the host
    // services are stopped in `Drop` before any field goes).
    vpcd: Vpcd,
    namespaces: BTreeMap<String, Netns>,
    eni_netns: BTreeMap<String, String>,
    igw_netns: BTreeMap<String, String>,
    host_netns: BTreeMap<String, String>,
    // Host services: stopped before the namespaces go.
    services: BTreeMap<String, NsChild>,
    prefix: RunPrefix,
    /// The leases of the ENIs with `addressing = "dhcp"`, by ENI id.
    leases: BTreeMap<String, Lease>,
    /// Their DHCP clients, running in the background (stopped in `Drop`).
    dhcp_clients: BTreeMap<String, ClientProcess>,
    /// The DHCP clients' scripts and records (removed with the lab).
    dhcp_dir: Option<Scratch>,
    /// The topology as applied (namespace names prefixed).
    pub topology: Topology,
}

impl Lab {
    /// Starts `vpcd`, creates the namespaces the topology names (prefixed), applies it.
    pub fn start(toml: &str) -> Result<Lab> {
        Self::start_with(toml, VpcdOptions::default())
    }

    /// [`Lab::start`] with `vpcd` started with `opts` (e.g. extra arguments such as
    /// `--metrics 127.0.0.1:0`).
    pub fn start_with(toml: &str, opts: VpcdOptions) -> Result<Lab> {
        let prefix = RunPrefix::new()?;
        let vpcd = Vpcd::start_with(&prefix, opts)?;
        let mut lab = Lab {
            vpcd,
            namespaces: BTreeMap::new(),
            eni_netns: BTreeMap::new(),
            igw_netns: BTreeMap::new(),
            host_netns: BTreeMap::new(),
            services: BTreeMap::new(),
            prefix,
            leases: BTreeMap::new(),
            dhcp_clients: BTreeMap::new(),
            dhcp_dir: None,
            topology: Topology::default(),
        };
        lab.apply(toml).map_err(Error::Topology)?;
        Ok(lab)
    }

    /// Rewrites the namespace names of `toml` with this lab's prefix, creates missing
    /// namespaces, validates, compiles and applies. Returns the new epoch, or every
    /// error (validation or vpcd's rejection) as text.
    pub fn apply(&mut self, toml: &str) -> std::result::Result<u64, Vec<String>> {
        let (topo, config) = self.compile(toml)?;
        for eni in &topo.enis {
            if let Some(ns) = &eni.netns {
                if !self.namespaces.contains_key(ns) {
                    let n = Netns::create(ns).map_err(|e| vec![e.to_string()])?;
                    self.namespaces.insert(ns.to_string(), n);
                }
                self.eni_netns.insert(eni.id.clone(), ns.to_string());
            }
        }
        for igw in &topo.internet_gateways {
            if let Some(inet) = &igw.internet {
                let ns = &inet.netns;
                if !self.namespaces.contains_key(ns) {
                    let n = Netns::create(ns).map_err(|e| vec![e.to_string()])?;
                    self.namespaces.insert(ns.to_string(), n);
                }
                self.igw_netns.insert(igw.id.clone(), ns.to_string());
            }
        }
        if let Some(seg) = SegmentPlan::of(&topo) {
            self.build_segment(&seg).map_err(|e| vec![e.to_string()])?;
        }
        let epoch = self.apply_config(&config)?;
        self.obtain_leases(&topo).map_err(|e| vec![e.to_string()])?;
        self.topology = topo;
        Ok(epoch)
    }

    /// Runs a DHCP client (udhcpc) in the namespace of every attached ENI with
    /// `addressing = "dhcp"` (the default) that has none running on an interface with its
    /// lease (an apply that recreated the interface needs a new one), and waits for each
    /// to be bound. The clients stay in the background and renew; the lease's
    /// `resolv.conf` goes to `/etc/netns/<namespace>/` for `ip netns exec`.
    fn obtain_leases(&mut self, topo: &Topology) -> Result<()> {
        for eni in &topo.enis {
            let Some(ns) = &eni.netns else { continue };
            // Only a TAP in a namespace is the instance's NIC; behind an existing
            // interface, the guest configures itself.
            if eni.addressing != Addressing::Dhcp
                || eni.attachment_kind() != Some(control::model::EniAttachment::Namespace)
            {
                continue;
            }
            if let Some(c) = self.dhcp_clients.get(&eni.id) {
                if c.netns == *ns
                    && c.is_alive()
                    && dhcp_client::has_address(ns, &eni.ifname, eni.private_ip)
                {
                    continue;
                }
                c.stop(Duration::from_secs(5)).map_err(Error::Control)?;
                self.dhcp_clients.remove(&eni.id);
            }
            if self.dhcp_dir.is_none() {
                self.dhcp_dir = Some(Scratch::new(self.prefix.as_str())?.keep_on_panic(true));
            }
            let Some(dir) = &self.dhcp_dir else { continue };
            let opts = ClientOptions {
                secondary_ips: eni.secondary_ips.clone(),
                netns_etc: Some(dhcp_client::netns_etc_dir(ns)),
            };
            let (lease, client) =
                dhcp_client::start(&eni.id, ns, &eni.ifname, &dir.path().join(&eni.id), &opts)
                    .map_err(|e| Error::Control(format!("{}: {e}", eni.id)))?;
            self.leases.insert(eni.id.clone(), lease);
            self.dhcp_clients.insert(eni.id.clone(), client);
        }
        Ok(())
    }

    /// The lease ENI `eni` (with `addressing = "dhcp"`) got from the VPC router when its
    /// client was bound.
    pub fn lease(&self, eni: &str) -> Option<&Lease> {
        self.leases.get(eni)
    }

    /// The DHCP client running for ENI `eni` (its events, its latest lease).
    pub fn dhcp_client(&self, eni: &str) -> Option<&ClientProcess> {
        self.dhcp_clients.get(eni)
    }

    /// Creates the internet segment's namespaces, builds it, and starts the hosts'
    /// services (waiting for each to say `ready`).
    fn build_segment(&mut self, seg: &SegmentPlan) -> Result<()> {
        for ns in seg.namespaces() {
            if !self.namespaces.contains_key(ns) {
                let n = Netns::create(ns)?;
                self.namespaces.insert(ns.to_string(), n);
            }
        }
        seg.build().map_err(|e| Error::Control(e.to_string()))?;
        for h in &seg.hosts {
            self.host_netns.insert(h.id.clone(), h.netns.clone());
            let args = control::segment::serve_args(h);
            if args.is_empty() || self.services.contains_key(&h.id) {
                continue;
            }
            let bin = Vpcctl::binary_path()?;
            let bin = bin.to_string_lossy();
            let argv: Vec<&str> = std::iter::once(bin.as_ref())
                .chain(args.iter().map(String::as_str))
                .collect();
            let mut child = self.namespaces[&h.netns].spawn(&argv)?;
            child.wait_for_line(|_, l| l.starts_with("ready"), Duration::from_secs(10))?;
            self.services.insert(h.id.clone(), child);
        }
        Ok(())
    }

    /// Parses `toml`, prefixes its namespace names, validates and compiles it, without
    /// creating namespaces or talking to vpcd. Errors are every validation problem as text.
    pub fn compile(
        &self,
        toml: &str,
    ) -> std::result::Result<(Topology, DataplaneConfig), Vec<String>> {
        let texts = |e: control::ValidationErrors| -> Vec<String> {
            e.iter().map(|e| e.to_string()).collect()
        };
        let mut topo = control::validate::parse(toml).map_err(texts)?;
        topo.rename_namespaces(&|n| self.prefix.ns_name(n));
        control::validate::validate(&mut topo).map_err(texts)?;
        let config = control::compile::compile(&topo).map_err(texts)?;
        Ok((topo, config))
    }

    /// Sends a compiled configuration to this lab's vpcd as is (no namespaces are created,
    /// [`Lab::topology`] is not updated). Returns the new epoch, or vpcd's rejection.
    pub fn apply_config(&self, config: &DataplaneConfig) -> std::result::Result<u64, Vec<String>> {
        match control::client::apply(self.vpcd.socket_path(), config) {
            Ok(a) if a.warnings.is_empty() => Ok(a.epoch),
            // Committed, but an attachment is incomplete: a failure for a test.
            Ok(a) => Err(a
                .warnings
                .into_iter()
                .map(|w| format!("committed as epoch {}, but: {w}", a.epoch))
                .collect()),
            Err(control::client::ClientError::Rejected(errs)) => Err(errs),
            Err(other) => Err(vec![other.to_string()]),
        }
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

    /// The internet namespace of internet gateway `igw` (its id, e.g. `igw-demo`).
    pub fn internet(&self, igw: &str) -> &Netns {
        self.igw_netns
            .get(igw)
            .and_then(|ns| self.namespaces.get(ns))
            .unwrap_or_else(|| panic!("lab has no internet namespace for {igw}"))
    }

    /// The namespace of internet host `host` (its id).
    pub fn host(&self, host: &str) -> &Netns {
        self.host_netns
            .get(host)
            .and_then(|ns| self.namespaces.get(ns))
            .unwrap_or_else(|| panic!("lab has no internet host {host}"))
    }

    /// The namespace of the shared internet segment (where `inet0` is).
    pub fn segment(&self) -> &Netns {
        self.topology
            .internet
            .as_ref()
            .and_then(|s| self.namespaces.get(&s.netns))
            .unwrap_or_else(|| panic!("lab has no internet segment"))
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

    /// Polls the counters of ENI `eni` until `done` holds for them or `timeout` passes, and
    /// returns the last counters read either way (the caller asserts on them).
    ///
    /// For conditions without a readiness signal, e.g. a drop counter catching up with
    /// packets a namespace has sent: vpcd counts a frame when it processes it, not before.
    pub fn wait_counters(
        &self,
        eni: &str,
        timeout: Duration,
        mut done: impl FnMut(&PortCounters) -> bool,
    ) -> Result<PortCounters> {
        let deadline = Instant::now() + timeout;
        let mut step = Duration::from_millis(2);
        loop {
            let c = self.counters(eni)?;
            let now = Instant::now();
            if done(&c) || now >= deadline {
                return Ok(c);
            }
            std::thread::sleep(step.min(deadline - now));
            step = (step * 2).min(Duration::from_millis(50));
        }
    }

    /// [`Lab::wait_counters`] for one drop counter to reach `at_least`; returns its last value.
    pub fn wait_drops(
        &self,
        eni: &str,
        reason: DropReason,
        at_least: u64,
        timeout: Duration,
    ) -> Result<u64> {
        let c = self.wait_counters(eni, timeout, |c| c.drops[reason.index()] >= at_least)?;
        Ok(c.drops[reason.index()])
    }

    /// The MAC address vpcd runs ENI `eni` with (from [`Lab::show`]'s configuration).
    pub fn eni_mac(&self, eni: &str) -> Result<MacAddr> {
        let r = self.show()?;
        let e = find_eni(&r, eni)?;
        Ok(MacAddr(e.mac.0))
    }

    /// The VPC router's MAC address in ENI `eni`'s subnet (from [`Lab::show`]'s configuration).
    pub fn router_mac(&self, eni: &str) -> Result<MacAddr> {
        let r = self.show()?;
        let e = find_eni(&r, eni)?;
        let s = r.config.subnets.get(e.subnet.idx()).ok_or_else(|| {
            Error::Control(format!("{eni}: subnet index {} out of range", e.subnet))
        })?;
        Ok(MacAddr(s.router_mac.0))
    }

    /// The TAP vpcd runs ENI `eni` on (its name in vpcd's report), if attached.
    pub fn tap(&self, eni: &str) -> Result<Option<String>> {
        let r = self.show()?;
        r.enis
            .into_iter()
            .find(|e| e.id == eni)
            .map(|e| e.tap)
            .ok_or_else(|| Error::Control(format!("vpcd reports no ENI {eni}")))
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

fn find_eni<'a>(r: &'a StatsReport, eni: &str) -> Result<&'a EniConfig> {
    r.config
        .enis
        .iter()
        .find(|e| e.id == eni)
        .ok_or_else(|| Error::Control(format!("vpcd runs no ENI {eni}")))
}

impl Drop for Lab {
    fn drop(&mut self) {
        for (_, c) in std::mem::take(&mut self.dhcp_clients) {
            if let Err(e) = c.stop(Duration::from_secs(2)) {
                tracing::warn!(%e, "stopping a DHCP client");
            }
        }
        for (_, mut s) in std::mem::take(&mut self.services) {
            s.terminate(Duration::from_secs(2));
        }
    }
}
