//! The `Flow logs` section of `vpcctl show`.

use dataplane::vpc::config::{DataplaneConfig, Interface, SubnetIdx};

use super::names::interface_name;
use super::text::{duration_text, ids_or_dash, idx32, plural, section};

/// The scope of a flow log as the running configuration shows it (it keeps the covered
/// interfaces, not the resource named): the interface (an ENI, or a NAT gateway's) when
/// there is one, else the subnet or the VPC whose interfaces are exactly these, else
/// their number.
pub(super) fn flow_log_scope(c: &DataplaneConfig, ifaces: &[Interface]) -> String {
    let covered = |keep: &dyn Fn(SubnetIdx, &dataplane::vpc::config::SubnetConfig) -> bool| {
        let kept = |s: SubnetIdx| c.subnets.get(s.idx()).is_some_and(|sc| keep(s, sc));
        c.enis
            .iter()
            .enumerate()
            .filter(|(_, e)| kept(e.subnet))
            .map(|(i, _)| Interface::Eni(idx32(i)))
            .chain(
                c.nat_gateways
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| kept(n.subnet))
                    .map(|(i, _)| Interface::NatGateway(idx32(i))),
            )
            .collect::<Vec<Interface>>()
    };
    if let [i] = ifaces {
        if let Some(name) = match *i {
            Interface::Eni(e) => c.enis.get(e.idx()).map(|e| e.id.clone()),
            Interface::NatGateway(n) => c.nat_gateways.get(n.idx()).map(|n| n.interface_id.clone()),
        } {
            return name;
        }
    }
    if ifaces.is_empty() {
        return "- (no ENIs)".to_string();
    }
    if let Some(s) = (0..c.subnets.len()).find(|&si| covered(&|i, _| i.idx() == si) == ifaces) {
        return c.subnets[s].id.clone();
    }
    if let Some(v) = (0..c.vpcs.len()).find(|&vi| covered(&|_, s| s.vpc.idx() == vi) == ifaces) {
        return c.vpcs[v].id.clone();
    }
    plural(ifaces.len(), "ENI", "ENIs")
}

/// The `Flow logs` section of `vpcctl show`: each flow log with its scope (see
/// `flow_log_scope`), interfaces (ENIs, NAT gateways' interfaces), traffic type, aggregation interval, destination file and
/// record format (its version; `default` for the version 2 fields).
pub fn flow_logs(c: &DataplaneConfig) -> String {
    let rows: Vec<Vec<String>> = c
        .flow_logs
        .iter()
        .map(|f| {
            let enis: Vec<String> = f.interfaces.iter().map(|&i| interface_name(c, i)).collect();
            let version = dataplane::observe::flowlog::format_version(&f.fields);
            let format = if f.fields == dataplane::observe::flowlog::DEFAULT_FIELDS {
                format!("v{version} default")
            } else {
                format!(
                    "v{version} custom ({})",
                    plural(f.fields.len(), "field", "fields")
                )
            };
            vec![
                f.id.clone(),
                flow_log_scope(c, &f.interfaces),
                ids_or_dash(enis).replace(", ", ","),
                match f.traffic {
                    dataplane::vpc::config::FlowLogTraffic::All => "ALL",
                    dataplane::vpc::config::FlowLogTraffic::Accept => "ACCEPT",
                    dataplane::vpc::config::FlowLogTraffic::Reject => "REJECT",
                }
                .to_string(),
                duration_text(f.interval_ms),
                f.path.clone(),
                format,
            ]
        })
        .collect();
    section(
        "Flow logs (one record per flow, ENI and aggregation interval, appended to a file on vpcd's host)",
        &[
            "ID",
            "SCOPE",
            "ENIS",
            "TRAFFIC",
            "INTERVAL",
            "DESTINATION",
            "FORMAT",
        ],
        &rows,
    )
}
