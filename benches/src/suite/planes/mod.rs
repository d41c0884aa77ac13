//! The data planes the suite compares. Each builds the same topology: a client namespace
//! (10.0.1.10) that reaches a server namespace at [`Plane::server_ip`], every link at the
//! same MTU ([`MTU`]), and tears it down when the [`Plane`] is dropped.
//!
//! One module per kind of data plane: [`vpcd`] (the full pipeline, and through the NAT
//! gateway), [`kernel`] (the kernel with nftables, and with masquerade), [`ovs`] (Open
//! vSwitch's userspace datapath with conntrack, a private instance) and [`tapfwd`] (a bare
//! TAP-to-TAP copy loop with offloads: the ceiling of TAP I/O). The runner lists them in
//! [`crate::suite::runner::catalogue`].

pub mod kernel;
pub mod ovs;
pub mod tapfwd;
pub mod vpcd;

use std::net::Ipv4Addr;

/// The MTU of every link of every plane (the VPC's ENIs have 9001).
pub const MTU: u32 = 9001;

/// A data plane under test, set up and ready for traffic from [`Plane::client_ns`] to
/// [`Plane::server_ip`] in [`Plane::server_ns`].
pub struct Plane {
    /// Short label for tables and plots (`vpcd`, `kernel+nft`, `ovs`, `tapfwd`, …).
    pub label: String,
    /// The traffic source's network namespace (its address is 10.0.1.10).
    pub client_ns: String,
    /// The traffic sink's network namespace.
    pub server_ns: String,
    /// The sink's address, reachable from the client.
    pub server_ip: Ipv4Addr,
    /// Processes whose CPU time is the data plane's own (`vpcd`, `ovs-vswitchd`, the TAP
    /// forwarder); empty when the data plane is the kernel.
    pub dataplane_pids: Vec<u32>,
    /// Whatever keeps the plane up (processes, namespaces, a lab); dropping it tears the
    /// plane down.
    pub guard: Box<dyn std::any::Any + Send>,
}

impl std::fmt::Debug for Plane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plane")
            .field("label", &self.label)
            .field("client_ns", &self.client_ns)
            .field("server_ns", &self.server_ns)
            .field("server_ip", &self.server_ip)
            .field("dataplane_pids", &self.dataplane_pids)
            .finish_non_exhaustive()
    }
}
