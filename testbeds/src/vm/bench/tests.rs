//! Unit tests of the pure parts.

use super::*;

const IPERF_OUT: &str = "\
Connecting to host 10.0.2.20, port 5201
[  5] local 10.0.1.10 port 40112 connected to 10.0.2.20 port 5201
[ ID] Interval           Transfer     Bitrate         Retr  Cwnd
[  5]   0.00-1.00   sec  37.5 MBytes   314 Mbits/sec    0   1.02 MBytes
[  5]   1.00-2.00   sec  36.2 MBytes   304 Mbits/sec    0   1.02 MBytes
- - - - - - - - - - - - - - - - - - - - - - - - -
[ ID] Interval           Transfer     Bitrate         Retr
[  5]   0.00-3.00   sec   112 MBytes   313 Mbits/sec    0             sender
[  5]   0.00-3.04   sec   111 MBytes   307 Mbits/sec                  receiver

iperf Done.
";

#[test]
fn iperf3_receiver_line_is_parsed() {
    let r = parse_iperf3_receiver(IPERF_OUT).unwrap();
    assert_eq!(r.mbps, 307.0);
    assert_eq!(r.bytes, 111 * 1024 * 1024);
}

#[test]
fn iperf3_units_are_scaled() {
    let line = "[  5]   0.00-5.00   sec  10.2 GBytes  17.5 Gbits/sec   receiver";
    let r = parse_iperf3_receiver(line).unwrap();
    assert_eq!(r.mbps, 17_500.0);
    assert_eq!(
        r.bytes,
        (10.2 * 1024.0 * 1024.0 * 1024.0_f64).round() as u64
    );
    let line = "[  5]   0.00-1.00   sec   512 KBytes  4.19 Mbits/sec   receiver";
    let r = parse_iperf3_receiver(line).unwrap();
    assert_eq!(r.bytes, 512 * 1024);
    let line = "[  5]   0.00-1.00   sec  1000 Bytes  8000 bits/sec   receiver";
    let r = parse_iperf3_receiver(line).unwrap();
    assert_eq!((r.mbps, r.bytes), (0.008, 1000));
}

#[test]
fn iperf3_errors_are_parse_errors() {
    let e = parse_iperf3_receiver("iperf3: error - unable to connect to server\n");
    assert!(matches!(e, Err(Error::Parse { .. })), "{e:?}");
    let e = parse_iperf3_receiver("[  5] 0.00-1.00 sec 1 MBytes lots Mbits/sec receiver");
    assert!(matches!(e, Err(Error::Parse { .. })), "{e:?}");
    let e = parse_iperf3_receiver("[  5] 0.00-1.00 sec 1 PBytes 3 Mbits/sec receiver");
    assert!(matches!(e, Err(Error::Parse { .. })), "{e:?}");
}

#[test]
fn proc_stat_cpu_ticks() {
    // A command name with spaces and a ')' inside, as /proc allows.
    let stat = "4242 (qemu (x) 1) S 1 4242 4242 0 -1 4194560 900 0 0 0 \
                150 75 0 0 20 0 3 0 100 1000000 500 18446744073709551615";
    assert_eq!(parse_proc_stat_ticks(stat).unwrap(), 225);
    assert!(parse_proc_stat_ticks("4242 (short) S 1 2").is_err());
    assert!(parse_proc_stat_ticks("garbage").is_err());
}

#[test]
fn own_cpu_time_is_readable() {
    let s = process_cpu_seconds(std::process::id()).unwrap();
    assert!(s.is_finite() && s >= 0.0);
}

#[test]
fn median_ratio_and_per_gb() {
    assert_eq!(median(&[]), None);
    assert_eq!(median(&[3.0]), Some(3.0));
    assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
    assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    assert_eq!(ratio(2.0, 4.0), Some(0.5));
    assert_eq!(ratio(2.0, 0.0), None);
    assert_eq!(cpu_per_gb(1.5, 3_000_000_000), Some(0.5));
    assert_eq!(cpu_per_gb(1.5, 0), None);
}

#[test]
fn scratch_names_of_this_process() {
    assert!(is_scratch_of("testbeds-vt000n81-interface-vm1-836-6", 836));
    assert!(is_scratch_of("testbeds-vt000n83-836-4", 836));
    assert!(!is_scratch_of("testbeds-vt000n83-8360-4", 836));
    assert!(!is_scratch_of("testbeds-vt000n83-836-x", 836));
    assert!(!is_scratch_of("testbeds-836-4", 836));
    assert!(!is_scratch_of("other-vt000n83-836-4", 836));
}

#[test]
fn planes_parse() {
    assert_eq!(
        Plane::parse_list("vhost-user, bridge,vhost-user").unwrap(),
        vec![Plane::VhostUser, Plane::Bridge]
    );
    assert!(Plane::parse_list("bridge,tap").is_err());
    assert!(Plane::parse_list(",").is_err());
    for p in Plane::ALL {
        assert_eq!(p.as_str().parse::<Plane>().unwrap(), p);
    }
}

fn sample(round: u32, plane: Plane, direction: Direction, mbps: f64) -> Sample {
    Sample {
        round,
        plane,
        direction,
        iperf: IperfSummary {
            mbps,
            bytes: 1_000_000_000,
        },
        vpcd_cpu_s: plane.is_vpcd().then_some(0.5),
        qemu_cpu_s: 2.0,
    }
}

#[test]
fn summary_takes_the_median_of_per_round_ratios() {
    let mut samples = Vec::new();
    // Round figures chosen so that the median of ratios (0.5) differs from the ratio of
    // medians (200 / 300).
    for (round, v, b) in [(1, 100.0, 200.0), (2, 200.0, 400.0), (3, 300.0, 300.0)] {
        samples.push(sample(round, Plane::VhostUser, Direction::VmToNs, v));
        samples.push(sample(round, Plane::Bridge, Direction::VmToNs, b));
    }
    let report = BenchReport {
        accel: Accel::Tcg,
        vhost_net: false,
        secs: 3,
        rounds: 3,
        planes: vec![Plane::VhostUser, Plane::Bridge],
        samples,
    };
    let rows = report.summary();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let v = &rows[0];
    assert_eq!(
        (v.plane, v.direction),
        (Plane::VhostUser, Direction::VmToNs)
    );
    assert_eq!(
        (v.median_mbps, v.min_mbps, v.max_mbps),
        (200.0, 100.0, 300.0)
    );
    assert_eq!(v.ratio_to_bridge, Some(0.5));
    assert_eq!(v.vpcd_s_per_gb, Some(0.5));
    assert_eq!(v.qemu_s_per_gb, Some(2.0));
    assert_eq!(rows[1].vpcd_s_per_gb, None);
    let md = report.markdown();
    assert!(md.starts_with("VM throughput: iperf3 TCP, 1 stream, 3 s x 3 rounds; accelerator tcg"));
    assert!(
        md.contains("| vhost-user | VM → namespace | 200 (100–300) | 0.50 | 0.50 | 2.0 |"),
        "{md}"
    );
    assert!(
        md.contains("| bridge | VM → namespace | 300 (200–400) | 1 | — | 2.0 |"),
        "{md}"
    );
    let csv = report.csv();
    assert_eq!(csv.lines().count(), 7);
    assert!(
        csv.contains("\n1,vhost-user,vm-ns,100.0,1000000000,0.5000,2.0000,0.5000,2.0000\n"),
        "{csv}"
    );
    assert!(
        csv.contains("\n1,bridge,vm-ns,200.0,1000000000,,2.0000,,2.0000\n"),
        "{csv}"
    );
}

#[test]
fn topology_attaches_per_kind() {
    let dir = Path::new("/tmp/x");
    let t = topology(Plane::VhostUser, dir, true);
    assert!(t.contains("attachment = \"vhost-user\"\nsocket = \"/tmp/x/vm2.sock\""));
    let t = topology(Plane::Interface, dir, true);
    assert!(t.contains("interface = \"vif1\"\nnetns = \"ns\""));
    let t = topology(Plane::Interface, dir, false);
    assert!(!t.contains("attachment"));
    control::validate::parse(&topology(Plane::QemuStream, dir, true)).unwrap();
}
