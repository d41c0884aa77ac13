//! The lab verbs: `vpcctl up` (vpcd, namespaces, the internet segment, host services,
//! DHCP clients), `vpcctl exec` and `vpcctl down`.

use super::*;

/// `vpcctl up`: 0 up, 1 the file is invalid (nothing touched), 2 anything else failed
/// (what this call created is removed again) or vpcd could not finish an attachment (the
/// lab is up regardless).
pub(super) fn up(
    socket: &Path,
    file: &Path,
    vpcd: Option<PathBuf>,
    metrics: Option<std::net::SocketAddr>,
    json: bool,
) -> Result<ExitKind> {
    let mut progress = Progress::stderr_if_terminal("up");
    // Fail before touching anything.
    if let Some(addr) = metrics {
        dataplane::daemon::metrics_http::check_addr(addr, false)?;
    }
    let mut vpcd_status = json::VpcdStatus::default();
    let c = match load(file)? {
        Ok(c) => c,
        Err(errors) => {
            if json {
                print_json(&UpReport {
                    apply: ApplyReport::invalid(file, &errors),
                    vpcd: vpcd_status,
                    namespaces_created: Vec::new(),
                    dhcp: Vec::new(),
                });
            } else {
                print_problems(file, &errors);
            }
            return Ok(ExitKind::Failed);
        }
    };
    let mut warnings = c.warnings.clone();
    if !json {
        print_warnings(&warnings);
    }
    let state_path = lab::state_path(socket);
    let previous = UpState::load(&state_path)?;
    lab::create_private_dir(&lab::socket_dir(socket))?;

    let mut started = None;
    if client::is_listening(socket) {
        if !json {
            println!("vpcd already running on {}", socket.display());
        }
        if metrics.is_some() {
            let w =
                "--metrics ignored: vpcd is already running (restart it with `vpcctl down` first)";
            if !json {
                eprintln!("warning: {w}");
            }
            warnings.push(w.to_string());
        }
    } else {
        progress.step("starting vpcd");
        let bin = vpcd_binary(vpcd);
        let args: Vec<std::ffi::OsString> = metrics
            .map(|a| vec!["--metrics".into(), a.to_string().into()])
            .unwrap_or_default();
        let (child, ready) = lab::start_vpcd_with(&bin, socket, &args)
            .with_context(|| format!("starting {}", bin.display()))?;
        let log = lab::log_path(socket);
        let url = lab::ready_field(&ready, "metrics");
        if !json {
            println!("started vpcd (pid {}), log {}", child.id(), log.display());
            if let Some(url) = url {
                println!("metrics at {url}");
            }
        }
        vpcd_status = json::VpcdStatus {
            started: true,
            pid: Some(child.id()),
            log: Some(log.display().to_string()),
            metrics: url.map(str::to_string),
        };
        started = Some(child);
    }

    let segment = SegmentPlan::of(&c.topology);
    let mut created = Vec::new();
    let mut namespaces: Vec<&str> = c
        .config
        .enis
        .iter()
        .filter_map(|e| e.attachment.as_ref())
        .filter(|a| a.is_namespace())
        .chain(
            c.config
                .internet_gateways
                .iter()
                .filter_map(|g| g.uplink.as_ref().map(|u| &u.attachment)),
        )
        .map(|a| a.netns.as_str())
        .chain(segment.iter().flat_map(SegmentPlan::namespaces))
        .collect();
    namespaces.sort_unstable();
    namespaces.dedup();
    let mut failure: Option<anyhow::Error> = None;
    if namespaces.iter().any(|ns| !ip::netns_exists(ns)) {
        progress.step("creating namespaces");
    }
    for ns in namespaces {
        if ip::netns_exists(ns) {
            continue;
        }
        // A fresh namespace's loopback is down; bring it up like a host's.
        match ip::netns_add(ns).and_then(|()| Ip::link_up(Some(ns), "lo").run().map(drop)) {
            Ok(()) => created.push(ns.to_string()),
            Err(e) => {
                failure = Some(anyhow::Error::new(e).context(format!("creating namespace {ns}")));
                break;
            }
        }
    }

    let mut services = Vec::new();
    if let (None, Some(seg)) = (&failure, &segment) {
        progress.step("building the internet segment");
        match build_segment(seg, socket, &mut progress) {
            Ok(started) => services = started,
            Err(e) => failure = Some(e),
        }
    }

    let mut state = previous.clone();
    if let Some(seg) = &segment {
        for h in &seg.hosts {
            state.internet_hosts.insert(h.id.clone(), h.netns.clone());
        }
    }
    state.services.extend(services.iter().cloned());
    if let Some(child) = &started {
        state.vpcd_pid = Some(child.id());
        state.vpcd_start_time = lab::pid_start_time(child.id());
    }
    for ns in &created {
        if !state.namespaces_created.contains(ns) {
            state.namespaces_created.push(ns.clone());
        }
    }
    if failure.is_none() {
        if let Err(e) = state.save(&state_path) {
            failure = Some(e.into());
        }
    }

    if failure.is_none() {
        progress.step("applying");
    }
    let outcome =
        match failure {
            Some(e) => Err(e),
            None => {
                match client::apply(socket, &c.config) {
                    Ok(client::Applied {
                        epoch,
                        warnings: post_commit,
                    }) => {
                        if c.config
                            .enis
                            .iter()
                            .any(|e| e.attachment.as_ref().is_some_and(|a| a.dhcp))
                        {
                            progress.step("running DHCP clients");
                        }
                        let dhcp = dhcp_clients(&c.config, socket, &mut state);
                        let dhcp_failed = dhcp.iter().any(|d| d.error.is_some());
                        if let Err(e) = state.save(&state_path) {
                            eprintln!("error: recording the DHCP clients: {e}");
                            return Ok(ExitKind::Failed);
                        }
                        if json {
                            let mut apply = ApplyReport::applied(file, &c, epoch, &post_commit);
                            apply.file.warnings = warnings;
                            print_json(&UpReport {
                                apply,
                                vpcd: vpcd_status,
                                namespaces_created: created,
                                dhcp,
                            });
                        } else {
                            println!(
                                "up: epoch {epoch} ({}); namespaces created: {}",
                                render::summary(&c.config),
                                if created.is_empty() {
                                    "none".to_string()
                                } else {
                                    created.join(", ")
                                }
                            );
                            report_post_commit(epoch, &post_commit);
                            for d in &dhcp {
                                match (&d.address, &d.error) {
                                    (_, Some(e)) => eprintln!("error: {}: DHCP: {e}", d.eni),
                                    (Some(a), None) => println!(
                                "{}: DHCP lease {a} via {} (dns {}; domain {}; mtu {}; {} s)",
                                d.eni,
                                d.router.as_deref().unwrap_or("-"),
                                if d.dns.is_empty() { "-".to_string() } else { d.dns.join(",") },
                                d.domain.as_deref().unwrap_or("-"),
                                d.mtu.map_or("-".to_string(), |m| m.to_string()),
                                d.lease_secs.unwrap_or(0),
                            ),
                                    (None, None) => {}
                                }
                            }
                        }
                        // Committed: nothing is undone, even with warnings or a DHCP failure
                        // (the namespaces stay for a look; `vpcctl up` again retries).
                        if dhcp_failed {
                            return Ok(ExitKind::Failed);
                        }
                        return Ok(post_commit_exit(&post_commit));
                    }
                    Err(ClientError::Rejected(errors)) => Err(anyhow::anyhow!(
                        "vpcd rejected the configuration:\n  {}",
                        errors.join("\n  ")
                    )),
                    Err(e) => Err(e.into()),
                }
            }
        };

    // Undo what this call did, and only that.
    print_warnings(&stop_services(&services));
    for ns in &created {
        if let Err(e) = ip::netns_delete_if_exists(ns) {
            eprintln!("warning: could not delete namespace {ns}: {e}");
        }
    }
    if let Some(mut child) = started {
        lab::stop_child(&mut child, Duration::from_secs(5));
    }
    if previous == UpState::default() {
        let _ = UpState::remove(&state_path);
    } else {
        let _ = previous.save(&state_path);
    }
    outcome.context("vpcctl up failed; what this call created has been removed")
}

/// Runs a DHCP client (busybox udhcpc) in the namespace of every attached ENI with
/// `addressing = "dhcp"` (the default), one after the other, each until it is bound or
/// gives up; once bound each stays in the background to renew, recorded in `state` for
/// `down`. A client a previous `up` started that still runs on an interface holding its
/// lease is kept (and its lease reported). The scripts, lease records and pid files go
/// under the socket's directory (`dhcp/<eni>/`); the lease's `resolv.conf` also goes to
/// `/etc/netns/<namespace>/`, so `vpcctl exec` and `ip netns exec` use the VPC's resolver.
fn dhcp_clients(
    config: &DataplaneConfig,
    socket: &Path,
    state: &mut UpState,
) -> Vec<DhcpLeaseReport> {
    use control::dhcp_client::{self, ClientOptions};
    let dir = lab::socket_dir(socket).join("dhcp");
    let mut reports = Vec::new();
    for (e, a) in config
        .enis
        .iter()
        .filter_map(|e| Some((e, e.attachment.as_ref().filter(|a| a.dhcp)?)))
    {
        let primary = e.ipv4.first().copied();
        let running = state.dhcp_clients.iter().position(|c| c.eni == e.id);
        let mut lease = None;
        if let Some(i) = running {
            let c = &state.dhcp_clients[i];
            let kept = c.netns == a.netns
                && c.is_alive()
                && primary.is_some_and(|ip| dhcp_client::has_address(&a.netns, &a.ifname, ip));
            if kept {
                lease = Some(dhcp_client::read_lease(&c.dir).ok_or_else(|| {
                    format!("its running client (pid {}) has no lease record", c.pid)
                }));
            } else {
                if let Err(w) = c.stop(Duration::from_secs(5)) {
                    eprintln!("warning: {w}");
                }
                state.dhcp_clients.remove(i);
            }
        }
        let lease = lease.unwrap_or_else(|| {
            let opts = ClientOptions {
                secondary_ips: e.ipv4.iter().skip(1).copied().collect(),
                netns_etc: Some(dhcp_client::netns_etc_dir(&a.netns)),
            };
            dhcp_client::start(&e.id, &a.netns, &a.ifname, &dir.join(&e.id), &opts)
                .map(|(l, c)| {
                    state.dhcp_clients.push(c);
                    l
                })
                .map_err(|err| err.to_string())
        });
        reports.push(match lease {
            Ok(l) => DhcpLeaseReport {
                eni: e.id.clone(),
                address: Some(format!("{}/{}", l.ip, l.prefix_len)),
                router: l.routers.first().map(|r| r.to_string()),
                dns: l.dns.iter().map(|d| d.to_string()).collect(),
                domain: l.domain.clone(),
                mtu: l.mtu,
                lease_secs: Some(l.lease_secs),
                elapsed_ms: l.elapsed.map(|d| d.as_millis() as u64),
                error: None,
            },
            Err(err) => DhcpLeaseReport {
                eni: e.id.clone(),
                address: None,
                router: None,
                dns: Vec::new(),
                domain: None,
                mtu: None,
                lease_secs: None,
                elapsed_ms: None,
                error: Some(err),
            },
        });
    }
    reports
}

/// Builds the internet segment and its hosts, and starts the hosts' services that are
/// not running yet (those a previous `up` started and that still run are kept).
fn build_segment(
    seg: &SegmentPlan,
    socket: &Path,
    progress: &mut Progress<std::io::Stderr>,
) -> Result<Vec<lab::ServiceProcess>> {
    seg.build()?;
    let running = UpState::load(&lab::state_path(socket))?.services;
    let me = std::env::current_exe().context("finding the vpcctl binary for host services")?;
    let log = lab::socket_dir(socket).join("services.log");
    let mut started = Vec::new();
    for h in &seg.hosts {
        let args = control::segment::serve_args(h);
        if args.is_empty() || running.iter().any(|p| p.host == h.id && p.is_alive()) {
            continue;
        }
        progress.step(&format!("starting the services of {}", h.id));
        match lab::start_in_netns(&me, &h.netns, &args, &log) {
            Ok(child) => started.push(lab::ServiceProcess {
                host: h.id.clone(),
                pid: child.id(),
                start_time: lab::pid_start_time(child.id()),
            }),
            Err(e) => {
                print_warnings(&stop_services(&started));
                return Err(
                    anyhow::Error::new(e).context(format!("starting the services of {}", h.id))
                );
            }
        }
    }
    Ok(started)
}

/// Stops host services by PID (only while each PID is still that process); returns
/// what went wrong.
fn stop_services(services: &[lab::ServiceProcess]) -> Vec<String> {
    let mut warnings = Vec::new();
    for p in services.iter().filter(|p| p.is_alive()) {
        if let Err(e) = lab::terminate(p.pid) {
            warnings.push(format!(
                "could not stop the services of {} (pid {}): {e}",
                p.host, p.pid
            ));
        } else if !lab::wait_for_exit(p.pid, Duration::from_secs(5)) {
            warnings.push(format!(
                "the services of {} (pid {}) did not exit",
                p.host, p.pid
            ));
        }
    }
    warnings
}

/// `vpcctl exec`: runs the command in the target's namespace and exits with its status,
/// unchanged; vpcctl's own failures (unknown target, vpcd unreachable) are errors (2).
pub(super) fn exec(socket: &Path, eni: &str, command: &[String], json: bool) -> Result<ExitKind> {
    let netns = exec_netns(socket, eni)?;
    if !json {
        let status = Ip::netns_exec(&netns, command).status()?;
        return Ok(ExitKind::passthrough(lab::exit_code(status)));
    }
    let ip = Ip::netns_exec(&netns, command);
    let out = ip.command().output().map_err(|e| ip.spawn_error(e))?;
    let status = lab::exit_code(out.status);
    print_json(&json::ExecReport {
        ok: status == 0,
        target: eni.to_string(),
        netns,
        status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    });
    Ok(ExitKind::passthrough(status))
}

/// The namespace `vpcctl exec TARGET` runs in: an internet host's, an internet gateway's
/// outside, or an attached ENI's.
fn exec_netns(socket: &Path, eni: &str) -> Result<String> {
    let up = UpState::load(&lab::state_path(socket))?;
    if let Some(ns) = up.internet_hosts.get(eni) {
        return Ok(ns.clone());
    }
    let report = client::show(socket)?;
    if let Some(g) = report.config.internet_gateways.iter().find(|g| g.id == eni) {
        let Some(up) = &g.uplink else {
            bail!(
                "{eni} has no internet side; set `internet` on it in the topology and apply again"
            );
        };
        return Ok(up.attachment.netns.clone());
    }
    if report.config.nat_gateways.iter().any(|n| n.id == eni) {
        bail!("{eni} is a NAT gateway: it runs inside vpcd and has no namespace to run a command in; exec into an ENI behind it instead");
    }
    let Some(e) = report.config.enis.iter().find(|e| e.id == eni) else {
        let known: Vec<&str> = report
            .config
            .enis
            .iter()
            .map(|e| e.id.as_str())
            .chain(up.internet_hosts.keys().map(String::as_str))
            .collect();
        bail!(
            "no ENI or internet host `{eni}` in the running lab; known: {}",
            if known.is_empty() {
                "(none)".to_string()
            } else {
                known.join(", ")
            }
        );
    };
    let Some(att) = e.attachment.as_ref().filter(|a| a.is_namespace()) else {
        if let Some(a) = &e.attachment {
            bail!(
                "{eni} is attached to a QEMU guest ({}), not a namespace; use the guest's console",
                a.kind.as_str()
            );
        }
        bail!("{eni} is not attached to a namespace; set `netns` on it in the topology and apply again");
    };
    Ok(att.netns.clone())
}

/// `vpcctl down`: 0 when everything `up` created is gone, 2 otherwise.
pub(super) fn down(socket: &Path, json: bool) -> Result<ExitKind> {
    let say = |line: &str| {
        if !json {
            println!("{line}");
        }
    };
    let mut report = json::DownReport::default();
    let warn = |report: &mut json::DownReport, w: String| {
        if !json {
            eprintln!("warning: {w}");
        }
        report.warnings.push(w);
    };
    match client::shutdown(socket) {
        Ok(()) => {
            say("vpcd is shutting down");
            report.vpcd = "stopped".to_string();
        }
        Err(e) if e.is_not_running() => {
            say(&format!("vpcd is not running on {}", socket.display()));
            report.vpcd = "not running".to_string();
        }
        Err(e) => {
            report.vpcd = format!("shutdown request failed: {e}");
            warn(&mut report, format!("shutdown request failed: {e}"));
        }
    }
    let state_path = lab::state_path(socket);
    let state = UpState::load(&state_path)?;
    if let Some(pid) = state.vpcd_pid {
        if !lab::wait_for_exit(pid, Duration::from_secs(5)) {
            // Only signal the PID we recorded, and only while it is still that process.
            if lab::is_recorded_vpcd(&state, pid) {
                if !json {
                    eprintln!("vpcd (pid {pid}) did not exit; sending SIGTERM");
                }
                lab::terminate(pid)?;
                if !lab::wait_for_exit(pid, Duration::from_secs(5)) {
                    bail!("vpcd (pid {pid}) is still running after SIGTERM; stop it by hand (kill -KILL {pid}) and run `vpcctl down` again");
                }
                report.vpcd = "stopped".to_string();
            }
        }
    }
    for w in stop_services(&state.services) {
        warn(&mut report, w);
    }
    for c in &state.dhcp_clients {
        if let Err(w) = c.stop(Duration::from_secs(5)) {
            warn(&mut report, w);
        }
    }
    for ns in &state.namespaces_created {
        match ip::netns_delete_if_exists(ns) {
            Ok(()) => {
                say(&format!("deleted namespace {ns}"));
                report.namespaces_deleted.push(ns.clone());
            }
            Err(e) => {
                warn(&mut report, e.to_string());
                report.namespaces_failed.push(ns.clone());
            }
        }
    }
    if report.namespaces_failed.is_empty() {
        UpState::remove(&state_path)?;
        say("down");
        report.ok = true;
        if json {
            print_json(&report);
        }
        return Ok(ExitKind::Success);
    }
    UpState {
        namespaces_created: report.namespaces_failed.clone(),
        ..UpState::default()
    }
    .save(&state_path)?;
    let msg = "some namespaces could not be deleted; fix the cause and run `vpcctl down` again";
    if !json {
        bail!(msg);
    }
    report.warnings.push(msg.to_string());
    print_json(&report);
    Ok(ExitKind::Error)
}
