//! Scale figures (issue VPC-12): what a topology of 10 to 10,000 ENIs costs to validate,
//! compile and install, and the memory it takes; the memory of one tracked connection and
//! of one NAT translation; and how the flow cache holds its established flows under a
//! scan of a million new flows. All in memory (ENIs on in-memory ports), in this process;
//! `vpcd`'s own apply over the socket is measured by `benches/run`.

use std::time::{Duration, Instant};

use dataplane::engine::port::MemPort;
use dataplane::fixtures::{self, eni_mac, router_mac, A};
use dataplane::vpc::config::ConntrackConfig;
use dataplane::vpc::conntrack::{ConnKey, ConnTable, Origin};
use dataplane::wire::vnet::VNET_HDR_LEN;

/// A generated topology: `enis` ENIs, 200 per `/24` subnet of one `/16` VPC, each subnet
/// behind a network ACL of 20 entries per direction, each ENI in 5 of 20 security groups
/// of 10 rules per direction, 10 ENIs per namespace (instances with several ENIs).
pub fn topology(enis: usize) -> String {
    topology_with(enis, "")
}

/// [`topology`] with `extra` (more fields) in every `[[eni]]`.
pub fn topology_with(enis: usize, extra: &str) -> String {
    use std::fmt::Write;
    let mut s = String::from("[[vpc]]\nid = \"vpc-scale\"\ncidr = \"10.0.0.0/16\"\n");
    let subnets = enis.div_ceil(200).max(1);
    for g in 0..20 {
        let _ = write!(
            s,
            "\n[[security_group]]\nid = \"sg-{g}\"\nvpc = \"vpc-scale\"\ninbound = ["
        );
        for r in 0..10 {
            let _ = write!(
                s,
                "{{ protocol = \"tcp\", ports = \"{}\", source = \"10.{}.0.0/16\" }}, ",
                1000 + g * 10 + r,
                r
            );
        }
        s.push_str("]\noutbound = [{ protocol = \"all\", destination = \"0.0.0.0/0\" }]\n");
    }
    s.push_str("\n[[network_acl]]\nid = \"acl-scale\"\nvpc = \"vpc-scale\"\nsubnets = [");
    for n in 0..subnets {
        let _ = write!(s, "\"subnet-{n}\", ");
    }
    s.push_str("]\ninbound = [");
    for r in 0..19 {
        let _ = write!(
            s,
            "{{ rule = {}, protocol = \"tcp\", ports = \"{}\", cidr = \"192.168.{r}.0/24\", action = \"deny\" }}, ",
            10 + r * 5,
            20000 + r
        );
    }
    s.push_str("{ rule = 200, protocol = \"-1\", cidr = \"0.0.0.0/0\", action = \"allow\" }]\n");
    s.push_str("outbound = [{ rule = 100, protocol = \"-1\", cidr = \"0.0.0.0/0\", action = \"allow\" }]\n");
    for n in 0..subnets {
        let _ = write!(
            s,
            "\n[[subnet]]\nid = \"subnet-{n}\"\nvpc = \"vpc-scale\"\ncidr = \"10.0.{n}.0/24\"\n"
        );
    }
    for i in 0..enis {
        let (n, h) = (i / 200, i % 200 + 10);
        let groups: Vec<String> = (0..5)
            .map(|k| format!("\"sg-{}\"", (i + k * 4) % 20))
            .collect();
        let _ = write!(
            s,
            "\n[[eni]]\nid = \"eni-{i}\"\nsubnet = \"subnet-{n}\"\nprivate_ip = \"10.0.{n}.{h}\"\nsecurity_groups = [{}]\nnetns = \"ns{}\"\nifname = \"eth{}\"\n{extra}",
            groups.join(", "),
            i / 10,
            i % 10
        );
    }
    s
}

/// The resident memory of this process, in bytes (0 if /proc cannot tell).
pub fn rss_bytes() -> u64 {
    testbeds::process::resident_bytes("self").unwrap_or(0)
}

/// What a topology of [`ApplyFigures::enis`] ENIs cost.
#[derive(Debug, Clone)]
pub struct ApplyFigures {
    /// ENIs in the topology.
    pub enis: usize,
    /// Bytes of the topology file.
    pub toml_bytes: usize,
    /// Parsing and validating the file (`vpcctl validate`).
    pub validate: Duration,
    /// Compiling the model to the data plane's configuration.
    pub compile: Duration,
    /// Building the tables and installing them on a data plane with a port per ENI.
    pub install: Duration,
    /// Installing the same configuration again over the running one (an apply that
    /// changes nothing: every port and counter kept).
    pub reapply: Duration,
    /// Resident memory the installed data plane added (tables, ports' counters, caches).
    pub memory: u64,
}

/// Why a scale figure could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    /// The generated topology was refused (a bug of the generator).
    #[error("generated topology of {enis} ENIs refused: {detail}")]
    Topology {
        /// Its size.
        enis: usize,
        /// The validation or install error.
        detail: String,
    },
}

/// Validates, compiles and installs a topology of `enis` ENIs in memory.
pub fn apply_figures(enis: usize, flow_capacity: usize) -> Result<ApplyFigures, ScaleError> {
    let refused = |detail: String| ScaleError::Topology { enis, detail };
    let toml = topology(enis);
    let t = Instant::now();
    let (model, _) = control::validate::check(&toml).map_err(|e| refused(e.to_string()))?;
    let validate = t.elapsed();
    let t = Instant::now();
    let config = control::compile::compile(&model).map_err(|e| refused(e.to_string()))?;
    let compile = t.elapsed();
    let before = rss_bytes();
    let t = Instant::now();
    let mut dp = fixtures::mem_dataplane(config.clone(), flow_capacity, false)
        .map_err(|e| refused(e.to_string()))?;
    let install = t.elapsed();
    let memory = rss_bytes().saturating_sub(before);
    let keep = (0..config.enis.len() + config.internet_gateways.len())
        .map(|i| dataplane::datapath::EniPlan::<MemPort> {
            previous: Some(dataplane::engine::port::PortIdx(i as u32)),
            port: dataplane::datapath::PortChange::Keep,
        })
        .collect();
    let t = Instant::now();
    dp.install(config, keep)
        .map_err(|e| refused(e.error.to_string()))?;
    let reapply = t.elapsed();
    Ok(ApplyFigures {
        enis,
        toml_bytes: toml.len(),
        validate,
        compile,
        install,
        reapply,
        memory,
    })
}

/// Bytes of resident memory per entry of a connection table holding `n` UDP connections.
pub fn memory_per_connection(n: u32) -> f64 {
    let cfg = ConntrackConfig {
        max_entries: n,
        ..ConntrackConfig::default()
    };
    let before = rss_bytes();
    let mut t = ConnTable::new(cfg);
    for i in 0..n {
        let key = ConnKey {
            proto: 17,
            local: std::net::Ipv4Addr::new(10, 0, 1, 10).into(),
            remote: std::net::Ipv4Addr::from(0x0b00_0000 | (i >> 8)).into(),
            local_port: 1024 + (i & 0xff) as u16,
            remote_port: 53,
        };
        let _ = t.insert(key, Origin::Local, 0, 1_000);
    }
    let used = rss_bytes().saturating_sub(before);
    let per = used as f64 / f64::from(n.max(1));
    drop(t);
    per
}

/// How the flow cache fared under a scan: frames of `hot` established flows interleaved
/// with a scan of new flows (one per frame).
#[derive(Debug, Clone)]
pub struct ScanFigures {
    /// Flow-cache capacity.
    pub capacity: usize,
    /// New flows in the scan.
    pub scanned: u32,
    /// Share of the established flows' frames that hit the cache.
    pub hot_hit_rate: f64,
    /// Share of all frames that hit.
    pub overall_hit_rate: f64,
    /// Frames per second through the pipeline during the scan (this machine, one core).
    pub frames_per_sec: f64,
}

/// A scan of `scanned` new UDP flows from A to B, one frame of one of 64 established
/// flows after every scan frame, through a data plane with `capacity` cached flows.
pub fn scan_figures(capacity: usize, scanned: u32) -> Result<ScanFigures, ScaleError> {
    let mut dp = fixtures::mem_dataplane(fixtures::two_subnets_and_middlebox(), capacity, false)
        .map_err(|e| ScaleError::Topology {
            enis: 5,
            detail: e.to_string(),
        })?;
    dp.set_now(1_000);
    let frame = |sport: u16, dport: u16| {
        let mut v = vec![0u8; VNET_HDR_LEN];
        let built = etherparse::PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
            .ipv4([10, 0, 1, 10], [10, 0, 2, 20], 64)
            .udp(sport, dport)
            .write(&mut v, &[0u8; 18]);
        built.map(|()| v)
    };
    let bad = |e: etherparse::err::packet::BuildWriteError| ScaleError::Topology {
        enis: 5,
        detail: e.to_string(),
    };
    let hot: Vec<Vec<u8>> = (0..64)
        .map(|i| frame(50_000 + i, 5001))
        .collect::<Result<_, _>>()
        .map_err(bad)?;
    let scan = frame(1, 1).map_err(bad)?;
    for h in &hot {
        dp.process(A, &mut h.clone());
    }
    let mut buf = scan.clone();
    let (h0, m0) = {
        let e = dp.engine_counters();
        (e.flow_hits, e.flow_misses)
    };
    let mut hot_hits = 0u64;
    let t = Instant::now();
    for n in 0..scanned {
        buf.copy_from_slice(&scan);
        let (sport, dport) = ((n & 0xffff) as u16, 1 + (n >> 16) as u16);
        buf[VNET_HDR_LEN + 34..VNET_HDR_LEN + 36].copy_from_slice(&sport.to_be_bytes());
        buf[VNET_HDR_LEN + 36..VNET_HDR_LEN + 38].copy_from_slice(&dport.to_be_bytes());
        dp.process(A, &mut buf);
        let before = dp.engine_counters().flow_hits;
        buf.copy_from_slice(&hot[(n % 64) as usize]);
        dp.process(A, &mut buf);
        hot_hits += dp.engine_counters().flow_hits - before;
    }
    let secs = t.elapsed().as_secs_f64();
    let e = dp.engine_counters();
    let (hits, misses) = (e.flow_hits - h0, e.flow_misses - m0);
    Ok(ScanFigures {
        capacity,
        scanned,
        hot_hit_rate: hot_hits as f64 / f64::from(scanned.max(1)),
        overall_hit_rate: hits as f64 / (hits + misses).max(1) as f64,
        frames_per_sec: 2.0 * f64::from(scanned) / secs.max(1e-9),
    })
}

/// Throughput of `workers` forwarding workers on in-memory ports, each a thread with its
/// own shard of the data plane (flow cache, connection tables, NAT translations), fed
/// frames that steer to it ([`dataplane::engine::steer`]).
#[derive(Debug, Clone)]
pub struct WorkerFigures {
    /// Workers (threads).
    pub workers: usize,
    /// Frames per second of all workers together on established flows (flow-cache hits,
    /// the realistic rule set).
    pub hit_fps: f64,
    /// New connections per second of all workers together through the NAT gateway (the
    /// slow path, a public port allocated per connection).
    pub nat_new_per_sec: f64,
}

/// Runs `frames` frames per worker on each of the two workloads of [`WorkerFigures`].
pub fn worker_figures(workers: usize, frames: u32) -> Result<WorkerFigures, ScaleError> {
    use dataplane::engine::steer::{flow_hash, steers_to, worker_of};
    let bad = |detail: String| ScaleError::Topology { enis: 5, detail };
    let udp = |dst: [u8; 4], sport: u16, dport: u16| {
        let mut v = vec![0u8; VNET_HDR_LEN];
        etherparse::PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
            .ipv4([10, 0, 1, 10], dst, 64)
            .udp(sport, dport)
            .write(&mut v, &[0u8; 18])
            .map(|()| v)
            .map_err(|e| bad(e.to_string()))
    };
    // Each worker's flows: source ports that steer to it.
    let ports_of = |w: usize, n: usize| -> Vec<u16> {
        (1024..=u16::MAX)
            .filter(|&p| worker_of(flow_hash(17, p, 5001), workers) == w)
            .take(n)
            .collect()
    };
    let run = |nat: bool| -> Result<f64, ScaleError> {
        let mut jobs = Vec::new();
        for w in 0..workers {
            let config = if nat {
                fixtures::behind_nat_gateway((1024, 65535))
            } else {
                crate::realistic_firewall(1 << 20)
            };
            let mut dp =
                fixtures::mem_dataplane(config, 65_536, false).map_err(|e| bad(e.to_string()))?;
            dp.set_now(1_000);
            dp.set_nat_shard(w, workers);
            let dst = if nat {
                fixtures::INTERNET_HOST
            } else {
                [10, 0, 2, 20]
            };
            let frames_of: Vec<Vec<u8>> = ports_of(w, 64)
                .into_iter()
                .map(|p| udp(dst, p, 5001))
                .collect::<Result<_, _>>()?;
            jobs.push((dp, frames_of));
        }
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(workers + 1));
        let handles: Vec<_> = jobs
            .into_iter()
            .enumerate()
            .map(|(w, (mut dp, templates))| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    let mut now = 1_000u64;
                    let mut buf = templates[0].clone();
                    // Warm the flow cache, the buffers and the CPU outside the timing.
                    for t in templates.iter().cycle().take(200_000) {
                        buf.copy_from_slice(t);
                        dp.process(A, &mut buf);
                    }
                    // Frames that left (the port the flows go out of) before the timing.
                    let out = if nat {
                        fixtures::UPLINK
                    } else {
                        fixtures::B.into()
                    };
                    let warm = dp.port(out).map_or(0, |p| p.sent);
                    barrier.wait();
                    for n in 0..frames {
                        buf.copy_from_slice(&templates[(n % 64) as usize]);
                        if nat {
                            // Past the idle timeout every 32,768 translations, so expiry
                            // is part of the cost and the tables stay below their bounds.
                            if n % 32_768 == 32_767 {
                                now += 31_000;
                                dp.set_now(now);
                                dp.expire();
                            }
                            // A new destination port each frame (a new translation),
                            // and a source port that keeps the flow on this worker.
                            let dport = 1 + (n % 60_000) as u16;
                            let mut sport = 1024 + (n / 60_000) as u16 * 64;
                            while !steers_to(17, sport, dport, w, workers) {
                                sport = sport.wrapping_add(1).max(1024);
                            }
                            buf[VNET_HDR_LEN + 34..VNET_HDR_LEN + 36]
                                .copy_from_slice(&sport.to_be_bytes());
                            buf[VNET_HDR_LEN + 36..VNET_HDR_LEN + 38]
                                .copy_from_slice(&dport.to_be_bytes());
                        }
                        dp.process(A, &mut buf);
                    }
                    dp.port(out).map_or(0, |p| p.sent).saturating_sub(warm)
                })
            })
            .collect();
        barrier.wait();
        let t = Instant::now();
        let mut forwarded = 0u64;
        for h in handles {
            forwarded += h.join().map_err(|_| bad("worker panicked".into()))?;
        }
        let secs = t.elapsed().as_secs_f64().max(1e-9);
        let want = u64::from(frames) * workers as u64;
        if forwarded != want {
            return Err(bad(format!("{forwarded} of {want} frames forwarded")));
        }
        Ok(forwarded as f64 / secs)
    };
    Ok(WorkerFigures {
        workers,
        hit_fps: run(false)?,
        nat_new_per_sec: run(true)?,
    })
}

/// What an apply costs a running `vpcd` with real TAPs (root): `enis` ENIs, 10 per
/// namespace, addressed statically by vpcd.
#[derive(Debug, Clone)]
pub struct VpcdApplyFigures {
    /// ENIs in the topology.
    pub enis: usize,
    /// The first apply through the harness: namespaces created, then vpcd's apply
    /// (TAPs created and moved, addresses written).
    pub first: Duration,
    /// The same configuration again (nothing changes; every port kept).
    pub noop: Duration,
    /// One security group rule changed (every ENI's programs recompiled, ports kept).
    pub change: Duration,
    /// Every ENI detached (TAPs closed).
    pub detach: Duration,
    /// Every ENI attached again into the existing namespaces: vpcd's own attach cost.
    pub attach: Duration,
    /// vpcd's resident memory after it (bytes).
    pub vpcd_rss: u64,
}

/// Measures [`VpcdApplyFigures`] for `enis` ENIs on a `vpcd` of its own (a
/// [`testbeds::Lab`], removed afterwards). Root only.
pub fn vpcd_apply_figures(enis: usize) -> Result<VpcdApplyFigures, ScaleError> {
    let refused = |detail: String| ScaleError::Topology { enis, detail };
    let joined = |e: Vec<String>| refused(e.join("; "));
    let toml = topology_with(enis, "addressing = \"static\"\n");
    let first_eni = toml
        .find("\n[[eni]]")
        .map_or(toml.as_str(), |i| &toml[..i])
        .to_string();
    let mut lab = testbeds::Lab::start(&first_eni).map_err(|e| refused(e.to_string()))?;
    let t = Instant::now();
    lab.apply(&toml).map_err(joined)?;
    let first = t.elapsed();
    let (_, config) = lab.compile(&toml).map_err(joined)?;
    let timed = |config: &dataplane::vpc::config::DataplaneConfig| {
        let t = Instant::now();
        lab.apply_config(config)
            .map(|_| t.elapsed())
            .map_err(joined)
    };
    let noop = timed(&config)?;
    let changed_toml = toml.replacen("ports = \"1000\"", "ports = \"999\"", 1);
    let (_, changed) = lab.compile(&changed_toml).map_err(joined)?;
    let change = timed(&changed)?;
    let mut detached = changed.clone();
    for e in &mut detached.enis {
        e.attachment = None;
    }
    let detach = timed(&detached)?;
    let attach = timed(&changed)?;
    let vpcd_rss = testbeds::process::resident_bytes(&lab.vpcd().pid().to_string())
        .map_err(|e| refused(e.to_string()))?;
    Ok(VpcdApplyFigures {
        enis,
        first,
        noop,
        change,
        detach,
        attach,
        vpcd_rss,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_topologies_validate_and_install() {
        for n in [1, 10, 201] {
            let f = apply_figures(n, 1024).expect("valid");
            assert_eq!(f.enis, n);
            assert!(f.toml_bytes > 0);
        }
    }

    #[test]
    fn established_flows_stay_cached_under_a_small_scan() {
        let f = scan_figures(1024, 20_000).expect("scan");
        assert!(f.hot_hit_rate > 0.9, "{f:?}");
        assert!(f.overall_hit_rate < 0.6, "scan frames all miss: {f:?}");
    }

    #[test]
    fn workers_forward_their_shards() {
        let f = worker_figures(2, 40_000).expect("workers");
        assert!(f.hit_fps > 0.0 && f.nat_new_per_sec > 0.0, "{f:?}");
    }

    #[test]
    fn rss_is_read() {
        assert!(rss_bytes() > 0);
    }
}
