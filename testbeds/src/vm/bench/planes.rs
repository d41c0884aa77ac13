//! Wiring two guests and a namespace per plane (a vpcd lab, or the Linux bridge peer), and
//! measuring one direction on it.

use super::*;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{Accel, Initramfs, Nic, Vm, VmOptions, DEFAULT_BOOT_TIMEOUT};
use crate::error::{Error, Result};
use crate::{veth_pair, Lab, MacAddr, Netns, RunPrefix, Scratch, Vpcctl};

/// What every plane shares within one run.
pub(super) struct Env {
    pub(super) prefix: RunPrefix,
    pub(super) initramfs: Initramfs,
    pub(super) accel: Accel,
    pub(super) vhost_net: bool,
}

/// The guard of the bridge plane: the namespaces `{prefix}-br` (bridge, TAPs, one veth end)
/// and `{prefix}-bns` (the other end, the namespace endpoint). Dropping it deletes both
/// namespaces ([`Netns`] guards), and with them every interface of the plane.
pub(super) struct BridgeNet {
    pub(super) br: Netns,
    pub(super) bns: Netns,
}

/// What keeps a plane alive besides its guests.
pub(super) enum PlaneGuard {
    /// A vpcd plane: the lab (vpcd, its namespaces), then the directory of its sockets.
    Vpcd { _lab: Box<Lab>, _dir: Scratch },
    /// The bridge plane.
    Bridge { _net: BridgeNet },
}

/// A plane with its two guests up and addressed. Field order is drop order: the guests
/// (QEMU killed by PID), the endpoint namespace's handle, then the plane itself.
pub(super) struct Pair {
    pub(super) vm1: Vm,
    pub(super) vm2: Vm,
    pub(super) ns: Netns,
    pub(super) ns_ip: Ipv4Addr,
    pub(super) vm2_ip: Ipv4Addr,
    pub(super) vpcd_pid: Option<u32>,
    pub(super) _guard: PlaneGuard,
}

/// One iperf3 run with the CPU it cost.
pub(super) struct Measurement {
    pub(super) iperf: IperfSummary,
    pub(super) vpcd_cpu_s: Option<f64>,
    pub(super) qemu_cpu_s: f64,
}

/// The vpcd planes' addresses.
pub(super) const VPC_VM1: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 10);
pub(super) const VPC_VM2: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 10);
pub(super) const VPC_NS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 20);
/// The bridge plane's addresses (one /24).
pub(super) const BR_VM1: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 10);
pub(super) const BR_VM2: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 11);
pub(super) const BR_NS: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 20);

/// The hypervisor TAPs of the `interface` plane (in the endpoint's namespace `ns`).
pub(super) const IF_TAPS: [&str; 2] = ["vif1", "vif2"];

/// `eni`'s attachment fields on `plane`.
pub(super) fn attachment(plane: Plane, n: usize, dir: &Path) -> String {
    match plane {
        Plane::Interface => format!(
            "attachment = \"interface\"\ninterface = \"{}\"\nnetns = \"ns\"\n",
            IF_TAPS[n - 1]
        ),
        kind => format!(
            "attachment = \"{kind}\"\nsocket = \"{}\"\n",
            dir.join(format!("vm{n}.sock")).display()
        ),
    }
}

/// The vpcd planes' topology; `attached`: the guests' ENIs with their attachment.
pub(super) fn topology(plane: Plane, dir: &Path, attached: bool) -> String {
    let att = |n| {
        if attached {
            attachment(plane, n, dir)
        } else {
            String::new()
        }
    };
    format!(
        r#"
[[vpc]]
id = "vpc-bench"
cidr = "10.0.0.0/16"

[[subnet]]
id = "subnet-a"
vpc = "vpc-bench"
cidr = "10.0.1.0/24"

[[subnet]]
id = "subnet-b"
vpc = "vpc-bench"
cidr = "10.0.2.0/24"

[[security_group]]
id = "sg-bench"
vpc = "vpc-bench"
inbound = [{{ protocol = "-1", source = "10.0.0.0/16" }}]
outbound = [{{ protocol = "-1", destination = "10.0.0.0/16" }}]

[[eni]]
id = "eni-vm1"
subnet = "subnet-a"
private_ip = "{VPC_VM1}"
security_groups = ["sg-bench"]
{}
[[eni]]
id = "eni-vm2"
subnet = "subnet-b"
private_ip = "{VPC_VM2}"
security_groups = ["sg-bench"]
{}
[[eni]]
id = "eni-ns"
subnet = "subnet-b"
private_ip = "{VPC_NS}"
security_groups = ["sg-bench"]
netns = "ns"
"#,
        att(1),
        att(2)
    )
}

/// The value after `flag` in `args`, mutably.
pub(super) fn arg_after<'a>(args: &'a mut [String], flag: &str) -> Result<&'a mut String> {
    let i = args
        .iter()
        .position(|a| a == flag)
        .ok_or_else(|| Error::parse("vpcctl vm-args", format!("no {flag} in {args:?}")))?;
    let desc = format!("nothing after {flag}");
    args.get_mut(i + 1)
        .ok_or_else(|| Error::parse("vpcctl vm-args", desc))
}

impl Env {
    /// The guest options shared by every plane.
    pub(super) fn vm_options(&self, name: &str) -> VmOptions {
        let mut o = VmOptions::new(name, &self.initramfs)
            .prefix(&self.prefix)
            .accel(self.accel);
        o.memory_mib = VM_MEMORY_MIB;
        o.cpus = 1;
        o
    }

    /// `vpcctl vm-args ENI --json --memory MIB` against `lab`'s vpcd, adjusted for this host:
    /// `vectors=0` on a vhost-user device under TCG (QEMU 7.2 under TCG, without irqfd,
    /// crashes in `msix_set_vector_notifiers` when a vhost back end starts; see
    /// tests/vpc11_stream_e2e.rs), `vhost=on` on an `interface` TAP where vhost-net exists.
    pub(super) fn vm_args(&self, lab: &Lab, plane: Plane, eni: &str) -> Result<Vec<String>> {
        let mem = VM_MEMORY_MIB.to_string();
        let ctl = Vpcctl::new(lab.vpcd().socket_path())?;
        let argv = ["vm-args", eni, "--json", "--memory", &mem];
        let out = ctl.run(&argv, HOST_CMD)?;
        if !out.status.success() {
            return Err(Error::Command {
                cmd: format!("vpcctl {}", argv.join(" ")),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        let mut args: Vec<String> = serde_json::from_slice(&out.stdout)
            .map_err(|e| Error::parse("vpcctl vm-args --json", e.to_string()))?;
        if plane == Plane::VhostUser && self.accel == Accel::Tcg {
            arg_after(&mut args, "-device")?.push_str(",vectors=0");
        }
        if plane == Plane::Interface && self.vhost_net {
            arg_after(&mut args, "-netdev")?.push_str(",vhost=on");
        }
        Ok(args)
    }

    /// A vpcd plane: the lab, both guests booted (in parallel) on `kind` and addressed by DHCP.
    pub(super) fn vpcd_plane(&self, kind: Plane) -> Result<Pair> {
        let dir = Scratch::new(&self.prefix.ns_name(kind.as_str()))?;
        let lab = if kind == Plane::Interface {
            // The TAPs must exist before the ENIs are attached to them: the VPC first (which
            // creates the namespace `ns`), then the TAPs in it, then the attachments.
            let mut lab = Lab::start(&topology(kind, dir.path(), false))?;
            let ns = lab
                .try_ns("eni-ns")
                .ok_or_else(|| Error::Control("the lab has no namespace for eni-ns".into()))?;
            for tap in IF_TAPS {
                create_tap(ns, tap, None)?;
            }
            lab.apply(&topology(kind, dir.path(), true))
                .map_err(Error::Topology)?;
            lab
        } else {
            Lab::start(&topology(kind, dir.path(), true))?
        };
        let ns = lab
            .try_ns("eni-ns")
            .ok_or_else(|| Error::Control("the lab has no namespace for eni-ns".into()))?
            .clone();
        let qemu_ns = (kind == Plane::Interface).then(|| ns.name().to_owned());
        let mut opts = Vec::new();
        for (n, eni) in [(1, "eni-vm1"), (2, "eni-vm2")] {
            let args = self.vm_args(&lab, kind, eni)?;
            let mut o = self.vm_options(&format!("{kind}-vm{n}")).args(args);
            if let Some(q) = &qemu_ns {
                o = o.netns(q.clone());
            }
            opts.push(o);
        }
        let [o1, o2] = <[VmOptions; 2]>::try_from(opts)
            .map_err(|_| Error::Control("two guests' options expected".into()))?;
        let (mut vm1, mut vm2) = boot_pair(o1, o2)?;
        for (vm, ip) in [(&mut vm1, VPC_VM1), (&mut vm2, VPC_VM2)] {
            let lease = vm.run_ok(
                "udhcpc -i eth0 -n -q -t 10 -T 2 && cat /run/udhcpc.lease",
                VM_CMD,
            )?;
            if !lease.contains(&format!("ip={ip}")) {
                return Err(Error::parse(
                    format!("DHCP lease of {}", vm.name()),
                    format!("expected ip={ip}: {lease}"),
                ));
            }
        }
        let vpcd_pid = Some(lab.vpcd().pid());
        let mut pair = Pair {
            vm1,
            vm2,
            ns,
            ns_ip: VPC_NS,
            vm2_ip: VPC_VM2,
            vpcd_pid,
            _guard: PlaneGuard::Vpcd {
                _lab: Box::new(lab),
                _dir: dir,
            },
        };
        pair.check_reachable()?;
        Ok(pair)
    }

    /// The bridge plane: namespaces, bridge, TAPs, veth; both guests booted (in parallel) on
    /// the TAPs (QEMU in `{prefix}-br`) and addressed statically.
    pub(super) fn bridge_plane(&self) -> Result<Pair> {
        let net = BridgeNet {
            br: self.prefix.netns("br")?,
            bns: self.prefix.netns("bns")?,
        };
        let mtu = MTU.to_string();
        net.br.ip(&["link", "add", "br0", "type", "bridge"])?;
        net.br
            .ip(&["link", "set", "dev", "br0", "mtu", &mtu, "up"])?;
        for tap in ["tap1", "tap2"] {
            create_tap(&net.br, tap, Some("br0"))?;
        }
        veth_pair(&net.br, "vbr", &net.bns, "vns")?;
        net.br
            .ip(&["link", "set", "dev", "vbr", "mtu", &mtu, "master", "br0"])?;
        net.bns.ip(&["link", "set", "dev", "vns", "mtu", &mtu])?;
        net.bns
            .ip(&["addr", "add", &format!("{BR_NS}/24"), "dev", "vns"])?;
        // Ports joined after the bridge's MTU was set may have lowered it: set it again.
        net.br.ip(&["link", "set", "dev", "br0", "mtu", &mtu])?;
        let vhost = if self.vhost_net { ",vhost=on" } else { "" };
        let mut opts = Vec::new();
        for n in 1..=2u8 {
            let backend = format!("tap,ifname=tap{n},script=no,downscript=no{vhost}");
            let mac = MacAddr([0x02, 0x00, 0x0a, 0x00, 0x01, 0x10 + n]);
            opts.push(
                self.vm_options(&format!("bridge-vm{n}"))
                    .netns(net.br.name())
                    .nic(Nic::virtio("n0", &backend, Some(mac))),
            );
        }
        let [o1, o2] = <[VmOptions; 2]>::try_from(opts)
            .map_err(|_| Error::Control("two guests' options expected".into()))?;
        let (mut vm1, mut vm2) = boot_pair(o1, o2)?;
        for (vm, ip) in [(&mut vm1, BR_VM1), (&mut vm2, BR_VM2)] {
            vm.run_ok(
                &format!("ip addr add {ip}/24 dev eth0 && ip link set eth0 mtu {MTU} up"),
                VM_CMD,
            )?;
        }
        let ns = net.bns.clone();
        let mut pair = Pair {
            vm1,
            vm2,
            ns,
            ns_ip: BR_NS,
            vm2_ip: BR_VM2,
            vpcd_pid: None,
            _guard: PlaneGuard::Bridge { _net: net },
        };
        pair.check_reachable()?;
        Ok(pair)
    }
}

/// Creates the TAP `name` in `ns` (with a vnet header, MTU [`MTU`], no addresses), on the
/// bridge `master` if given, and sets it up; QEMU opens it by name.
pub(super) fn create_tap(ns: &Netns, name: &str, master: Option<&str>) -> Result<()> {
    let mtu = MTU.to_string();
    ns.ip(&["tuntap", "add", "dev", name, "mode", "tap", "vnet_hdr"])?;
    ns.ip(&[
        "link",
        "set",
        "dev",
        name,
        "mtu",
        &mtu,
        "addrgenmode",
        "none",
    ])?;
    if let Some(br) = master {
        ns.ip(&["link", "set", "dev", name, "master", br])?;
    }
    ns.ip(&["link", "set", "dev", name, "up"])?;
    Ok(())
}

/// Launches both guests, then waits for both shells (they boot in parallel).
pub(super) fn boot_pair(o1: VmOptions, o2: VmOptions) -> Result<(Vm, Vm)> {
    let mut vm1 = Vm::launch(o1)?;
    let mut vm2 = Vm::launch(o2)?;
    vm1.wait_ready(DEFAULT_BOOT_TIMEOUT)?;
    vm2.wait_ready(DEFAULT_BOOT_TIMEOUT)?;
    Ok((vm1, vm2))
}

/// Waits until something listens on TCP `port` in `ns` (`ss -Hltn`, polled, bounded).
pub(super) fn wait_listening_ns(ns: &Netns, port: u16) -> Result<()> {
    let filter = format!("sport = :{port}");
    let deadline = Instant::now() + LISTEN_TIMEOUT;
    loop {
        let out = ns.exec_ok(&["ss", "-Hltn", &filter], HOST_CMD)?;
        if !out.trim().is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout {
                cmd: format!("[{}] waiting for a listener on :{port}", ns.name()),
                timeout: LISTEN_TIMEOUT,
                stderr: String::new(),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until something listens on TCP `port` in the guest (`netstat -ltn`, polled, bounded).
pub(super) fn wait_listening_vm(vm: &mut Vm, port: u16) -> Result<()> {
    let deadline = Instant::now() + LISTEN_TIMEOUT;
    let needle = format!(":{port} ");
    loop {
        let out = vm.run_ok("netstat -ltn", VM_CMD)?;
        if out.lines().any(|l| l.contains(&needle)) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout {
                cmd: format!("waiting for a listener on :{port} in {}", vm.name()),
                timeout: LISTEN_TIMEOUT,
                stderr: out,
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Pair {
    /// CPU seconds so far of vpcd (if any) and of both QEMU processes together.
    pub(super) fn cpu(&self) -> Result<(Option<f64>, f64)> {
        let vpcd = self.vpcd_pid.map(process_cpu_seconds).transpose()?;
        let qemu = process_cpu_seconds(self.vm1.pid())? + process_cpu_seconds(self.vm2.pid())?;
        Ok((vpcd, qemu))
    }

    /// VM1 pings the namespace endpoint and VM2 (the first frames also resolve ARP and set
    /// up vpcd's flows before anything is measured).
    pub(super) fn check_reachable(&mut self) -> Result<()> {
        for ip in [self.ns_ip, self.vm2_ip] {
            self.vm1.run_ok(&format!("ping -c 2 -w 20 {ip}"), VM_CMD)?;
        }
        Ok(())
    }

    /// One iperf3 run in `direction` (client in VM1, `secs` long) with its CPU costs.
    pub(super) fn measure(&mut self, direction: Direction, secs: u32) -> Result<Measurement> {
        let port = IPERF3_PORT.to_string();
        let mut server = None;
        let server_ip = match direction {
            Direction::VmToNs => {
                let ip = self.ns_ip.to_string();
                server = Some(
                    self.ns
                        .spawn(&["iperf3", "-s", "-1", "-B", &ip, "-p", &port])?,
                );
                wait_listening_ns(&self.ns, IPERF3_PORT)?;
                ip
            }
            Direction::VmToVm => {
                self.vm2
                    .run_ok(&format!("iperf3 -s -1 -D -p {port}"), VM_CMD)?;
                wait_listening_vm(&mut self.vm2, IPERF3_PORT)?;
                self.vm2_ip.to_string()
            }
        };
        let cmd = format!("iperf3 -c {server_ip} -p {port} -t {secs} -f m");
        let timeout = Duration::from_secs(u64::from(secs)) + IPERF_SLACK;
        let (vpcd0, qemu0) = self.cpu()?;
        let out = self.vm1.run_ok(&cmd, timeout)?;
        let (vpcd1, qemu1) = self.cpu()?;
        let iperf = parse_iperf3_receiver(&out)?;
        if let Some(mut s) = server {
            if let Err(e) = s.wait_timeout(Duration::from_secs(5)) {
                tracing::warn!(%e, "iperf3 server did not exit after its one test");
            }
        }
        Ok(Measurement {
            iperf,
            vpcd_cpu_s: vpcd0.zip(vpcd1).map(|(a, b)| b - a),
            qemu_cpu_s: qemu1 - qemu0,
        })
    }
}
