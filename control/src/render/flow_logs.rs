//! The `Flow logs` section of `vpcctl show`.

use dataplane::vpc::config::{DataplaneConfig, EniIdx, SubnetIdx};

use super::names::eni_name;
use super::text::{duration_text, ids_or_dash, idx32, plural, section};

/// The scope of a flow log as the running configuration shows it (it keeps the covered
/// ENIs, not the resource named): the ENI when there is one, else the subnet or the VPC
/// whose ENIs are exactly these, else their number.
pub(super) fn flow_log_scope(c: &DataplaneConfig, enis: &[EniIdx]) -> String {
    let covered =
        |keep: &dyn Fn(SubnetIdx, &dataplane::vpc::config::SubnetConfig) -> bool| -> Vec<EniIdx> {
            c.enis
                .iter()
                .enumerate()
                .filter(|(_, e)| {
                    c.subnets
                        .get(e.subnet.idx())
                        .is_some_and(|s| keep(e.subnet, s))
                })
                .map(|(i, _)| idx32(i))
                .collect()
        };
    if let [e] = enis {
        if let Some(eni) = c.enis.get(e.idx()) {
            return eni.id.clone();
        }
    }
    if enis.is_empty() {
        return "- (no ENIs)".to_string();
    }
    if let Some(s) = (0..c.subnets.len()).find(|&si| covered(&|i, _| i.idx() == si) == enis) {
        return c.subnets[s].id.clone();
    }
    if let Some(v) = (0..c.vpcs.len()).find(|&vi| covered(&|_, s| s.vpc.idx() == vi) == enis) {
        return c.vpcs[v].id.clone();
    }
    plural(enis.len(), "ENI", "ENIs")
}

/// The `Flow logs` section of `vpcctl show`: each flow log with its scope (see
/// `flow_log_scope`), ENIs, traffic type, aggregation interval, destination file and
/// record format (its version; `default` for the version 2 fields).
pub fn flow_logs(c: &DataplaneConfig) -> String {
    let rows: Vec<Vec<String>> = c
        .flow_logs
        .iter()
        .map(|f| {
            let enis: Vec<String> = f.enis.iter().map(|&e| eni_name(c, e)).collect();
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
                flow_log_scope(c, &f.enis),
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
