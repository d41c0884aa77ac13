//! VPC-11 groundwork: real QEMU guests boot from the busybox initramfs, answer on their serial
//! console, and talk to each other over virtio-net on a `-netdev stream` Unix socket.
//!
//! Root-only like the namespace tests; needs `scripts/setup` (QEMU, a kernel). No NIC reaches the
//! host's network: the first VM has none, the pair is wired back to back through a socket in the
//! test's scratch directory.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use testbeds::vm::{self, Initramfs, Nic, Vm, VmOptions};
use testbeds::{RunPrefix, Scratch};

const CMD: Duration = Duration::from_secs(30);

fn skip() -> bool {
    testbeds::init_tracing();
    !testbeds::require_root_or_skip() || !vm::require_vm_or_skip()
}

#[test]
fn vm_boots_and_runs_console_commands() {
    if skip() {
        return;
    }
    let prefix = RunPrefix::new().unwrap();
    let scratch = Scratch::new(prefix.as_str()).unwrap();
    let initramfs = Initramfs::build(scratch.path()).unwrap();
    let mut vm = Vm::boot(VmOptions::new("boot", &initramfs).prefix(&prefix)).unwrap();
    let boot = vm.boot_time().unwrap();
    eprintln!(
        "VM {} booted with {} in {boot:.2?} (pid {})",
        vm.name(),
        vm.accel().as_str(),
        vm.pid()
    );

    let (code, out) = vm.run("uname -r", CMD).unwrap();
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.trim(), initramfs.kernel().version);

    let (code, out) = vm
        .run("cat /proc/cpuinfo | grep -c processor", CMD)
        .unwrap();
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.trim(), "1");

    // Exit codes and output without a trailing newline come through.
    assert_eq!(vm.run("printf abc; false", CMD).unwrap(), (1, "abc".into()));
    assert_eq!(
        vm.run("exit_code() { return 7; }; exit_code", CMD)
            .unwrap()
            .0,
        7
    );
    // The tools the later tests need are there.
    let (code, out) = vm
        .run(
            "echo hi | sha256sum && which udhcpc ping nslookup wget ip",
            CMD,
        )
        .unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4"));
    if initramfs.has_iperf3() {
        let (code, out) = vm.run("iperf3 --version", CMD).unwrap();
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("iperf"), "{out}");
    }
    // A command that overruns its deadline is interrupted (Ctrl-C) and the console goes on.
    let err = vm.run("sleep 600", Duration::from_secs(2)).unwrap_err();
    assert!(
        matches!(err, testbeds::Error::Timeout { .. }),
        "expected a timeout: {err}"
    );
    assert_eq!(vm.run_ok("echo after", CMD).unwrap(), "after\n");
    assert_eq!(
        vm.run_ok("pidof sleep || echo none", CMD).unwrap(),
        "none\n"
    );

    let pid = vm.pid();
    drop(vm);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "QEMU {pid} survived Drop"
    );
}

#[test]
fn two_vms_ping_over_a_stream_socket() {
    if skip() {
        return;
    }
    let prefix = RunPrefix::new().unwrap();
    let scratch = Scratch::new(prefix.as_str()).unwrap();
    let initramfs = Initramfs::build(scratch.path()).unwrap();
    let sock = scratch.join("link.sock");
    let mac = |n: u8| Some(testbeds::MacAddr([0x02, 0, 0, 0, 0x11, n]));

    let a = VmOptions::new("a", &initramfs)
        .prefix(&prefix)
        .nic(Nic::stream_unix("n0", &sock, true, mac(1)));
    let timeout = a.boot_timeout;
    let mut a = Vm::launch(a).unwrap();
    // The listening VM creates the socket at start; the other connects to it.
    vm::wait_for_path(&sock, Duration::from_secs(30)).unwrap();
    let b = VmOptions::new("b", &initramfs)
        .prefix(&prefix)
        .nic(Nic::stream_unix("n0", &sock, false, mac(2)));
    let mut b = Vm::launch(b).unwrap();
    a.wait_ready(timeout).unwrap();
    b.wait_ready(timeout).unwrap();
    eprintln!(
        "VMs booted with {}: a in {:.2?}, b in {:.2?}",
        a.accel().as_str(),
        a.boot_time().unwrap(),
        b.boot_time().unwrap()
    );

    for (vm, addr) in [(&mut a, "10.99.0.1/24"), (&mut b, "10.99.0.2/24")] {
        vm.run_ok(
            &format!("ip addr add {addr} dev eth0 && ip link set eth0 up"),
            CMD,
        )
        .unwrap();
    }
    let link = a.run_ok("ip -o link show eth0", CMD).unwrap();
    assert!(link.contains("02:00:00:00:11:01"), "{link}");

    let (code, out) = a.run("ping -c 3 -w 20 10.99.0.2", CMD).unwrap();
    assert_eq!(code, 0, "a → b: {out}");
    assert!(out.contains("3 packets received"), "{out}");
    let (code, out) = b.run("ping -c 3 -w 20 10.99.0.1", CMD).unwrap();
    assert_eq!(code, 0, "b → a: {out}");
    assert!(out.contains("3 packets received"), "{out}");

    // The guest's udhcpc script applies a lease: address, default route, resolv.conf.
    a.run_ok(UDHCPD, CMD).unwrap();
    let lease = b
        .run_ok("udhcpc -i eth0 -n -q -t 5 && cat /run/udhcpc.lease", CMD)
        .unwrap();
    assert!(lease.contains("ip=10.99.0.10"), "{lease}");
    let addr = b.run_ok("ip -4 -o addr show dev eth0", CMD).unwrap();
    assert!(addr.contains("inet 10.99.0.10"), "{addr}");
    assert!(!addr.contains("10.99.0.2/"), "{addr}");
    let route = b.run_ok("ip route show default", CMD).unwrap();
    assert!(route.contains("default via 10.99.0.1 dev eth0"), "{route}");
    let resolv = b.run_ok("cat /etc/resolv.conf", CMD).unwrap();
    assert_eq!(resolv, "search test.internal\nnameserver 10.99.0.1\n");

    // HTTP with busybox httpd and wget, checked with sha256sum.
    a.run_ok(
        "mkdir -p /srv && echo hello-from-a > /srv/index.html && httpd -h /srv -p 80",
        CMD,
    )
    .unwrap();
    let body = b
        .run_ok("wget -q -O - http://10.99.0.1/index.html | sha256sum", CMD)
        .unwrap();
    let want = a.run_ok("sha256sum < /srv/index.html", CMD).unwrap();
    assert_eq!(body, want);

    if initramfs.has_iperf3() {
        // `-1`: one test, then the server exits. Wait (bounded) for it to listen.
        a.run_ok(
            "iperf3 -s -1 -D && for i in $(seq 100); do netstat -ltn | grep -q ':5201 ' && break; sleep 0.1; done; netstat -ltn | grep -q ':5201 '",
            CMD,
        )
        .unwrap();
        let out = b.run_ok("iperf3 -c 10.99.0.1 -t 1", CMD).unwrap();
        assert!(out.contains("receiver"), "{out}");
        eprintln!("iperf3 between the TCG guests:\n{out}");
    }
}

/// busybox udhcpd on VM a, serving 10.99.0.100-110 with router, DNS and domain options.
const UDHCPD: &str = "printf '%s\\n' 'start 10.99.0.100' 'end 10.99.0.110' 'interface eth0' \
    'option subnet 255.255.255.0' 'option router 10.99.0.1' 'option dns 10.99.0.1' \
    'option domain test.internal' 'lease_file /tmp/udhcpd.leases' > /tmp/udhcpd.conf \
    && touch /tmp/udhcpd.leases && udhcpd /tmp/udhcpd.conf";
