//! Attaching an ENI's TAP to its instance: the kernel end goes into the ENI's network
//! namespace and gets the ENI's MAC, MTU, addresses and a default route via the subnet
//! router (until DHCP arrives). Done with `ip(8)`: this is control-plane work, run at
//! apply time, never on the forwarding path.

use std::net::Ipv4Addr;
use std::process::Command;

use crate::config::{Attachment, EniConfig};
use crate::wire::MacAddr;

/// Why an attachment step failed.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// The namespace named by the ENI does not exist.
    #[error("{eni}: network namespace `{netns}` does not exist (create it with `ip netns add {netns}`, or use `vpcctl up`)")]
    NoNamespace {
        /// The ENI id.
        eni: String,
        /// The namespace.
        netns: String,
    },
    /// `ip` could not be run.
    #[error("cannot run `ip`: {0}")]
    Spawn(#[source] std::io::Error),
    /// `ip` failed.
    #[error("{eni}: `ip {args}` failed: {stderr}")]
    Ip {
        /// The ENI id.
        eni: String,
        /// The arguments.
        args: String,
        /// What `ip` said.
        stderr: String,
    },
}

fn ip(eni: &str, args: &[&str]) -> Result<(), AttachError> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(AttachError::Spawn)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(AttachError::Ip {
            eni: eni.to_string(),
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// Whether network namespace `name` exists.
pub fn netns_exists(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('/')
        && std::path::Path::new("/run/netns").join(name).exists()
}

/// Step 1, before commit: set the TAP's MAC and MTU and move it into the namespace under
/// its unique TAP name (so it cannot clash with an interface the ENI still has there).
pub fn prepare(tap: &str, eni: &EniConfig, att: &Attachment) -> Result<(), AttachError> {
    if !netns_exists(&att.netns) {
        return Err(AttachError::NoNamespace {
            eni: eni.id.clone(),
            netns: att.netns.clone(),
        });
    }
    let mac = eni.mac.to_string();
    let mtu = eni.mtu.to_string();
    ip(
        &eni.id,
        &["link", "set", "dev", tap, "address", &mac, "mtu", &mtu],
    )?;
    ip(&eni.id, &["link", "set", "dev", tap, "netns", &att.netns])?;
    Ok(())
}

/// Step 2, after commit (the ENI's previous TAP, if any, is gone): rename to the final
/// interface name, add the addresses, bring it up, and route via the subnet router.
pub fn finish(
    tap: &str,
    eni: &EniConfig,
    att: &Attachment,
    prefix_len: u8,
    router: Ipv4Addr,
) -> Result<(), AttachError> {
    let ns = att.netns.as_str();
    let id = eni.id.as_str();
    ip(
        id,
        &["-n", ns, "link", "set", "dev", tap, "name", &att.ifname],
    )?;
    for a in &eni.ipv4 {
        let cidr = format!("{a}/{prefix_len}");
        ip(id, &["-n", ns, "addr", "add", &cidr, "dev", &att.ifname])?;
    }
    ip(id, &["-n", ns, "link", "set", "dev", "lo", "up"])?;
    ip(id, &["-n", ns, "link", "set", "dev", &att.ifname, "up"])?;
    let gw = router.to_string();
    ip(
        id,
        &[
            "-n",
            ns,
            "route",
            "replace",
            "default",
            "via",
            &gw,
            "dev",
            &att.ifname,
        ],
    )?;
    Ok(())
}

/// Whether interface `ifname` exists in namespace `netns`.
pub fn ifname_in_use(netns: &str, ifname: &str) -> bool {
    Command::new("ip")
        .args(["-n", netns, "link", "show", "dev", ifname])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The unique name of the `n`-th TAP this daemon creates.
pub fn tap_name(prefix: &str, n: u64) -> String {
    format!("{prefix}-{n}")
}

/// Whether `mac` could be set on a Linux interface (unicast).
pub fn usable_mac(mac: MacAddr) -> bool {
    !mac.is_multicast() && mac.0 != [0; 6]
}
