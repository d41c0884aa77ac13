//! Flow logs: in file order, each with the interfaces of its scope (the ENI or NAT
//! gateway interface itself, or every ENI and NAT gateway interface of the subnet, or of
//! every subnet of the VPC: ENIs in ENI order, then NAT gateways' interfaces in NAT gateway
//! order), the fields of `log_format` or the default version 2 fields
//! ([`dataplane::observe::flowlog::DEFAULT_FIELDS`]), and the interval of
//! [`flow_log_interval_ms`].

use dataplane::vpc::config::{
    EniConfig, FlowLogConfig, Interface, NatGatewayConfig, SubnetConfig, SubnetIdx, VpcConfig,
};

use super::units::{idx, secs_to_ms};
use crate::model::{FlowLog, FlowLogScope, LabSettings, Topology};
use crate::report::ValidationError;

/// The interval of flow log `f` in milliseconds: its `lab_interval` when set, else
/// `[lab] flow_log_interval` when set, else its `max_aggregation_interval`.
pub fn flow_log_interval_ms(f: &FlowLog, lab: Option<&LabSettings>) -> u64 {
    match f
        .lab_interval
        .map(|s| s.0)
        .or_else(|| lab.and_then(|l| l.flow_log_interval))
    {
        Some(secs) => secs_to_ms(secs),
        None => u64::try_from(f.max_aggregation_interval)
            .unwrap_or(1)
            .saturating_mul(1000)
            .max(1),
    }
}

/// Flow logs in file order, each with the interfaces of its scope (ENIs by index in
/// `enis`, in ENI order, then NAT gateways' interfaces by index in `nats`), its fields
/// (`log_format`, else the default version 2 fields) and interval.
pub(super) fn flow_logs(
    t: &Topology,
    vpcs: &[VpcConfig],
    subnets: &[SubnetConfig],
    (enis, nats): (&[EniConfig], &[NatGatewayConfig]),
    errors: &mut Vec<ValidationError>,
) -> Vec<FlowLogConfig> {
    let mut out = Vec::new();
    for f in &t.flow_logs {
        let mut fail = |field: &str, message: String| {
            errors.push(ValidationError::new(&f.id, field, message));
        };
        let of_subnets = |keep: &dyn Fn(&SubnetConfig) -> bool| -> Vec<Interface> {
            let kept = |s: SubnetIdx| subnets.get(s.idx()).is_some_and(keep);
            let enis = (0..enis.len())
                .filter(|&ei| kept(enis[ei].subnet))
                .map(|ei| Interface::Eni(idx(ei)));
            let nats = (0..nats.len())
                .filter(|&ni| kept(nats[ni].subnet))
                .map(|ni| Interface::NatGateway(idx(ni)));
            enis.chain(nats).collect()
        };
        let covered = match f.scope() {
            FlowLogScope::Eni(id) => enis
                .iter()
                .position(|e| e.id == id)
                .map(|ei| vec![Interface::Eni(idx(ei))])
                .or_else(|| {
                    nats.iter()
                        .position(|n| n.interface_id == id)
                        .map(|ni| vec![Interface::NatGateway(idx(ni))])
                }),
            FlowLogScope::Subnet(id) => subnets
                .iter()
                .any(|s| s.id == id)
                .then(|| of_subnets(&|s| s.id == id)),
            FlowLogScope::Vpc(id) => vpcs
                .iter()
                .position(|v| v.id == id)
                .map(|vi| of_subnets(&|s| s.vpc.idx() == vi)),
            FlowLogScope::Other(_) => None,
        };
        let Some(covered) = covered else {
            fail(
                "resource",
                format!("no ENI, subnet or VPC with id `{}`", f.resource),
            );
            continue;
        };
        let Some(traffic) = f.traffic_type else {
            fail("traffic_type", "missing traffic_type".to_string());
            continue;
        };
        let fields: Vec<String> = match f.format_tokens() {
            None => dataplane::observe::flowlog::DEFAULT_FIELDS
                .iter()
                .map(|n| n.to_string())
                .collect(),
            Some(tokens) => {
                let known = |n: &str| {
                    dataplane::observe::flowlog::FIELDS
                        .iter()
                        .any(|(k, _)| *k == n)
                };
                match tokens
                    .iter()
                    .map(|(_, name)| name.filter(|n| known(n)).map(str::to_string))
                    .collect::<Option<Vec<String>>>()
                {
                    Some(v) if !v.is_empty() => v,
                    _ => {
                        fail(
                            "log_format",
                            "not a list of known `${field}` tokens".to_string(),
                        );
                        continue;
                    }
                }
            }
        };
        out.push(FlowLogConfig {
            id: f.id.clone(),
            interfaces: covered,
            traffic: traffic.to_config(),
            interval_ms: flow_log_interval_ms(f, t.lab.as_ref()),
            path: f.log_destination.clone(),
            fields,
        });
    }
    out
}
