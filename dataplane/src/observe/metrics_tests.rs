//! Tests of the Prometheus rendering: every family, name and value, on reports of real
//! in-memory data planes.

use std::collections::{BTreeMap, HashMap, HashSet};

use etherparse::PacketBuilder;

use super::*;
use crate::fixtures::{self, eni_mac, router_mac, A, B};
use crate::observe::stats::{NaclDenyReport, NatGatewayReport};
use crate::wire::vnet::VNET_HDR_LEN;

/// A parsed sample line: name, labels, value.
type Parsed = (String, Vec<(String, String)>, f64);

fn is_name(s: &str, colon: bool) -> bool {
    let mut cs = s.chars();
    let first_ok = |c: char| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':');
    cs.next().is_some_and(first_ok)
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
}

/// Parses `name{a="b",…} value`; panics with the line on a syntax error.
fn parse_sample(line: &str) -> Parsed {
    let name_end = line.find(['{', ' ']).unwrap_or_else(|| panic!("{line:?}"));
    let name = &line[..name_end];
    assert!(is_name(name, true), "metric name {name:?} in {line:?}");
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        rest = r;
        loop {
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let eq = rest.find('=').unwrap_or_else(|| panic!("{line:?}"));
            let lname = &rest[..eq];
            assert!(is_name(lname, false), "label name {lname:?} in {line:?}");
            assert!(!lname.starts_with("__"), "reserved label in {line:?}");
            rest = rest[eq + 1..]
                .strip_prefix('"')
                .unwrap_or_else(|| panic!("unquoted label value in {line:?}"));
            let mut value = String::new();
            let mut chars = rest.char_indices();
            let end = loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        other => panic!("bad escape {other:?} in {line:?}"),
                    },
                    Some((i, '"')) => break i,
                    Some((_, '\n')) => panic!("raw newline in {line:?}"),
                    Some((_, c)) => value.push(c),
                    None => panic!("unterminated label value in {line:?}"),
                }
            };
            labels.push((lname.to_string(), value));
            rest = &rest[end + 1..];
            if let Some(r) = rest.strip_prefix(',') {
                rest = r;
            } else {
                assert!(rest.starts_with('}'), "expected , or }} in {line:?}");
            }
        }
    }
    let value = rest
        .strip_prefix(' ')
        .unwrap_or_else(|| panic!("no space before the value in {line:?}"));
    assert!(!value.contains(' '), "timestamps are not used: {line:?}");
    let v: f64 = value
        .parse()
        .unwrap_or_else(|_| panic!("value {value:?} in {line:?}"));
    (name.to_string(), labels, v)
}

/// Checks exposition-format rules line by line and returns every series
/// (`name{sorted labels}` → value).
fn validate(text: &str) -> BTreeMap<String, f64> {
    assert!(text.ends_with('\n'), "output ends with a newline");
    let mut types: HashMap<String, String> = HashMap::new();
    let mut helps: HashSet<String> = HashSet::new();
    let mut finished: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    let mut series = BTreeMap::new();
    for line in text.lines() {
        assert!(!line.is_empty(), "no empty lines");
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            assert!(is_name(name, true), "{line:?}");
            assert!(!help.is_empty(), "empty help: {line:?}");
            assert!(helps.insert(name.to_string()), "second HELP: {line:?}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or_else(|| panic!("{line:?}"));
            assert!(is_name(name, true), "{line:?}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line:?}"
            );
            if kind == "counter" {
                assert!(name.ends_with("_total"), "counter without _total: {line:?}");
            } else {
                assert!(!name.ends_with("_total"), "gauge with _total: {line:?}");
            }
            assert!(
                types.insert(name.to_string(), kind.to_string()).is_none(),
                "second TYPE: {line:?}"
            );
            assert!(helps.contains(name), "TYPE before HELP: {line:?}");
            if let Some(prev) = current.replace(name.to_string()) {
                finished.insert(prev);
            }
            continue;
        }
        assert!(!line.starts_with('#'), "stray comment {line:?}");
        let (name, mut labels, value) = parse_sample(line);
        assert_eq!(
            current.as_deref(),
            Some(name.as_str()),
            "sample outside its family (TYPE first, families contiguous): {line:?}"
        );
        assert!(!finished.contains(&name), "family split: {line:?}");
        assert!(value >= 0.0 && value.fract() == 0.0, "{line:?}");
        labels.sort();
        let n = labels.len();
        labels.dedup_by(|a, b| a.0 == b.0);
        assert_eq!(n, labels.len(), "duplicate label name: {line:?}");
        let key = format!(
            "{name}{{{}}}",
            labels
                .iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert!(
            series.insert(key, value).is_none(),
            "duplicate series: {line:?}"
        );
    }
    series
}

fn get(series: &BTreeMap<String, f64>, key: &str) -> u64 {
    *series
        .get(key)
        .unwrap_or_else(|| panic!("no series {key}; have {:?}", series.keys())) as u64
}

fn ip(s: &str) -> [u8; 4] {
    s.parse::<std::net::Ipv4Addr>().unwrap().octets()
}

fn udp(src_mac: crate::wire::MacAddr, dst: &str) -> Vec<u8> {
    let mut v = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(src_mac.0, router_mac(0).0)
        .ipv4(ip("10.0.1.10"), ip(dst), 64)
        .udp(40000, 7)
        .write(&mut v, b"payload")
        .unwrap();
    v
}

#[test]
fn report_of_a_running_data_plane_renders_valid_text_with_its_counters() {
    let mut dp = fixtures::mem_dataplane(fixtures::two_subnets_and_middlebox(), 64, true).unwrap();
    // A → B twice (a miss, then a flow-cache hit), and one to an address nobody owns.
    for _ in 0..2 {
        let mut f = udp(eni_mac(A), "10.0.2.20");
        dp.process(A, &mut f);
    }
    let mut f = udp(eni_mac(A), "10.0.7.7");
    dp.process(A, &mut f);
    let report = dp.report(|_| Some("tap0".into()));
    let text = render(&report);
    let s = validate(&text);

    let a = &report.enis[A.idx()];
    let b = &report.enis[B.idx()];
    assert_eq!(a.counters.rx_packets, 3);
    assert_eq!(get(&s, r#"vpcd_eni_rx_packets_total{eni="eni-0"}"#), 3);
    assert_eq!(
        get(&s, r#"vpcd_eni_rx_bytes_total{eni="eni-0"}"#),
        a.counters.rx_bytes
    );
    assert_eq!(get(&s, r#"vpcd_eni_tx_packets_total{eni="eni-2"}"#), 2);
    assert_eq!(
        get(&s, r#"vpcd_eni_tx_bytes_total{eni="eni-2"}"#),
        b.counters.tx_bytes
    );
    assert!(b.counters.tx_bytes > 0);
    let nobody = DropReason::NoEniForAddress.name();
    assert_eq!(
        get(
            &s,
            &format!(r#"vpcd_eni_drops_total{{eni="eni-0",reason="{nobody}"}}"#)
        ),
        1
    );
    assert_eq!(
        get(&s, &format!(r#"vpcd_drops_total{{reason="{nobody}"}}"#)),
        1
    );
    assert_eq!(
        get(&s, "vpcd_flow_cache_hits_total{}"),
        report.engine.flow_hits
    );
    assert_eq!(
        get(&s, "vpcd_flow_cache_misses_total{}"),
        report.engine.flow_misses
    );
    assert!(report.engine.flow_hits >= 1 && report.engine.flow_misses >= 1);
    assert_eq!(
        get(&s, "vpcd_flow_cache_evictions_total{}"),
        report.engine.flow_evicted
    );
    assert_eq!(
        get(&s, "vpcd_flow_cache_stale_reclaimed_total{}"),
        report.engine.flow_stale_reclaimed
    );
    assert_eq!(get(&s, "vpcd_flow_cache_flows{}"), report.engine.flows);
    assert_eq!(get(&s, "vpcd_config_epoch{}"), report.epoch);
    assert_eq!(get(&s, "vpcd_flow_log_records_dropped_total{}"), 0);
    assert_eq!(get(&s, "vpcd_capture_packets_dropped_total{}"), 0);
    assert!(text.contains("# TYPE vpcd_capture_packets_dropped_total counter\n"));
    assert_eq!(
        get(&s, r#"vpcd_eni_conntrack_max{eni="eni-0"}"#),
        a.counters.conntrack_max
    );
    assert_eq!(get(&s, r#"vpcd_eni_attached{eni="eni-0"}"#), 1);
    assert_eq!(get(&s, r#"vpcd_eni_attached{eni="eni-4"}"#), 0);
    // Every reason of every ENI, zeros included, so the series exist from the start.
    let drop_series = s
        .keys()
        .filter(|k| k.starts_with("vpcd_eni_drops_total{"))
        .count();
    assert_eq!(drop_series, report.enis.len() * DropReason::COUNT);
    assert!(text.contains("# TYPE vpcd_eni_rx_packets_total counter\n"));
    assert!(text.contains("# TYPE vpcd_eni_conntrack_entries gauge\n"));
    // The series alone, as `vpcctl stats` prints them, are the same values.
    let samples = render_samples(&report, None);
    assert_eq!(
        samples.lines().count(),
        text.lines().filter(|l| !l.starts_with('#')).count()
    );
    let only_b = render_samples(&report, Some("eni-2"));
    assert!(!only_b.is_empty());
    assert!(
        only_b.lines().all(|l| l.contains(r#"eni="eni-2""#)),
        "{only_b}"
    );
    assert!(only_b.contains("vpcd_eni_tx_packets_total{eni=\"eni-2\"} 2\n"));
}

#[test]
fn nat_gateway_and_uplink_families() {
    use crate::fixtures::{INTERNET_HOST, UPLINK};
    let mut dp =
        fixtures::mem_dataplane(fixtures::behind_nat_gateway((1024, 65535)), 64, true).unwrap();
    dp.set_now(1);
    // A SYN from the private ENI to the internet: a NAT translation.
    let mut v = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
        .ipv4(ip("10.0.1.10"), INTERNET_HOST, 64)
        .tcp(40000, 443, 1000, 64000)
        .syn()
        .write(&mut v, b"")
        .unwrap();
    dp.process(A, &mut v);
    let report = dp.report(|_| None);
    let s = validate(&render(&report));
    let m = &report.nat_gateways[0].metrics;
    assert_eq!(m.connection_attempt_count, 1, "{m:?}");
    assert_eq!(
        get(
            &s,
            r#"vpcd_nat_gateway_connection_attempts_total{nat_gateway="nat-1"}"#
        ),
        1
    );
    assert_eq!(
        get(
            &s,
            r#"vpcd_nat_gateway_packets_in_from_source_total{nat_gateway="nat-1"}"#
        ),
        m.packets_in_from_source
    );
    assert_eq!(
        get(
            &s,
            r#"vpcd_nat_gateway_active_connections{nat_gateway="nat-1"}"#
        ),
        m.active_connection_count
    );
    let up = &report.uplinks[0].counters;
    assert_eq!(up.tx_packets, 1, "the SYN left through the uplink");
    assert_eq!(UPLINK.idx(), report.enis.len());
    assert_eq!(get(&s, r#"vpcd_uplink_tx_packets_total{igw="igw-1"}"#), 1);
    assert_eq!(
        s.keys()
            .filter(|k| k.starts_with("vpcd_uplink_drops_total{igw=\"igw-1\","))
            .count(),
        DropReason::COUNT
    );
    // No conntrack gauges for uplinks (they track nothing).
    assert!(!s.keys().any(|k| k.starts_with("vpcd_uplink_conntrack")));
}

#[test]
fn every_nat_metric_is_exported_with_its_value() {
    // Distinct values per field, set through the field names.
    let names: Vec<String> = match serde_json::to_value(NatMetrics::default()).unwrap() {
        serde_json::Value::Object(m) => m.keys().cloned().collect(),
        other => panic!("{other:?}"),
    };
    let obj: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), serde_json::Value::from(1000 + i as u64)))
        .collect();
    let metrics: NatMetrics = serde_json::from_value(serde_json::Value::Object(obj)).unwrap();
    let report = StatsReport {
        workers: Vec::new(),
        epoch: 7,
        config: Default::default(),
        enis: vec![],
        engine: Default::default(),
        nacl_denies: vec![],
        uplinks: vec![],
        nat_gateways: vec![NatGatewayReport {
            id: "nat-x".into(),
            metrics,
        }],
        captures: vec![],
        mirror_sessions: vec![],
    };
    let s = validate(&render(&report));
    let mut values: Vec<u64> = s
        .iter()
        .filter(|(k, _)| k.starts_with("vpcd_nat_gateway_"))
        .map(|(_, v)| *v as u64)
        .collect();
    values.sort_unstable();
    let expected: Vec<u64> = (0..names.len() as u64).map(|i| 1000 + i).collect();
    assert_eq!(values, expected, "one family per NatMetrics field");
    let text = render(&report);
    assert!(text.contains("# TYPE vpcd_nat_gateway_active_connections gauge\n"));
    assert!(text.contains("(ActiveConnectionCount)"));
    assert_eq!(get(&s, "vpcd_config_epoch{}"), 7);
    // Families without series still say what they are.
    assert!(text.contains("# TYPE vpcd_eni_rx_packets_total counter\n"));
}

#[test]
fn labels_are_escaped_and_nacl_denies_exported() {
    let mut report = StatsReport {
        workers: Vec::new(),
        epoch: 1,
        config: Default::default(),
        enis: vec![crate::observe::stats::EniReport {
            id: "eni-\"odd\"\\name\nx".into(),
            tap: None,
            port: None,
            counters: PortCounters {
                rx_packets: 5,
                ..Default::default()
            },
            kernel: None,
        }],
        engine: Default::default(),
        nacl_denies: vec![
            NaclDenyReport {
                nacl: "acl-1".into(),
                direction: "inbound".into(),
                rule: "100".into(),
                packets: 3,
            },
            NaclDenyReport {
                nacl: "acl-1".into(),
                direction: "outbound".into(),
                rule: "*".into(),
                packets: 9,
            },
        ],
        uplinks: vec![],
        nat_gateways: vec![],
        captures: vec![],
        mirror_sessions: vec![],
    };
    report.engine.drops[DropReason::NaclDeny.index()] = 12;
    let text = render(&report);
    assert!(
        text.contains(r#"vpcd_eni_rx_packets_total{eni="eni-\"odd\"\\name\nx"} 5"#),
        "{text}"
    );
    let s = validate(&text);
    assert_eq!(
        get(
            &s,
            r#"vpcd_eni_rx_packets_total{eni="eni-\"odd\"\\name\nx"}"#
        ),
        5
    );
    assert_eq!(
        get(
            &s,
            r#"vpcd_nacl_rule_denies_total{direction="inbound",nacl="acl-1",rule="100"}"#
        ),
        3
    );
    assert_eq!(
        get(
            &s,
            r#"vpcd_nacl_rule_denies_total{direction="outbound",nacl="acl-1",rule="*"}"#
        ),
        9
    );
    assert_eq!(get(&s, r#"vpcd_drops_total{reason="nacl_deny"}"#), 12);
    assert_eq!(escape_label_value("plain"), Cow::Borrowed("plain"));
    assert_eq!(escape_help("a\\b\nc"), "a\\\\b\\nc");
}

#[test]
fn validator_catches_mistakes() {
    let bad = [
        "# HELP x_total h\n# TYPE x_total counter\nx_total 1\nx_total 2\n",
        "# HELP x h\n# TYPE x counter\nx 1\n",
        "# HELP x h\n# TYPE x gauge\n# HELP x h\n",
        "# HELP x h\n# TYPE x gauge\nx{a=\"1} 1\n",
        "# HELP x h\n# TYPE x gauge\nx{a=\"\\q\"} 1\n",
        "# HELP x h\n# TYPE x gauge\ny 1\n",
        "# HELP 1x h\n# TYPE 1x gauge\n",
    ];
    for b in bad {
        assert!(
            std::panic::catch_unwind(|| validate(b)).is_err(),
            "accepted {b:?}"
        );
    }
    validate("# HELP x h\n# TYPE x gauge\nx{a=\"\\\"\"} 1\n");
}

#[test]
fn kernel_counters_of_the_taps_are_exported_per_eni_that_has_them() {
    let eni = |id: &str, kernel| crate::observe::stats::EniReport {
        id: id.into(),
        tap: Some("vpc0".into()),
        port: None,
        counters: PortCounters::default(),
        kernel,
    };
    let k = crate::observe::stats::KernelLinkReport {
        netns: "ns-a".into(),
        ifname: "eth0".into(),
        counters: crate::sys::linkstats::LinkStats {
            tx_dropped: 77,
            rx_dropped: 5,
            tx_packets: 1000,
            ..Default::default()
        },
    };
    let report = StatsReport {
        workers: Vec::new(),
        epoch: 1,
        config: Default::default(),
        enis: vec![eni("eni-a", Some(k)), eni("eni-b", None)],
        engine: Default::default(),
        nacl_denies: vec![],
        uplinks: vec![],
        nat_gateways: vec![],
        captures: vec![],
        mirror_sessions: vec![],
    };
    let text = render(&report);
    let s = validate(&text);
    assert_eq!(
        get(&s, r#"vpcd_eni_kernel_tx_dropped_total{eni="eni-a"}"#),
        77
    );
    assert_eq!(
        get(&s, r#"vpcd_eni_kernel_rx_dropped_total{eni="eni-a"}"#),
        5
    );
    assert_eq!(
        get(&s, r#"vpcd_eni_kernel_tx_packets_total{eni="eni-a"}"#),
        1000
    );
    assert!(!text.contains(r#"vpcd_eni_kernel_tx_dropped_total{eni="eni-b"}"#));
}
