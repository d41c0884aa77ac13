//! The maps from ids to model indices that the compilers of every resource kind resolve
//! references through.

use std::collections::HashMap;

use crate::model::Topology;
use crate::names::first_index;
use crate::report::ValidationError;

/// The first index of each id of the kinds whose compiled index is their model index
/// (all in file order).
pub(super) struct Index<'a> {
    /// VPCs.
    pub vpc: HashMap<&'a str, usize>,
    /// Subnets.
    pub subnet: HashMap<&'a str, usize>,
    /// ENIs.
    pub eni: HashMap<&'a str, usize>,
    /// Internet gateways.
    pub igw: HashMap<&'a str, usize>,
    /// NAT gateways.
    pub nat: HashMap<&'a str, usize>,
}

impl<'a> Index<'a> {
    /// The maps of topology `t`.
    pub fn new(t: &'a Topology) -> Self {
        Index {
            vpc: first_index(&t.vpcs, |x| x.id.as_str()),
            subnet: first_index(&t.subnets, |x| x.id.as_str()),
            eni: first_index(&t.enis, |x| x.id.as_str()),
            igw: first_index(&t.internet_gateways, |x| x.id.as_str()),
            nat: first_index(&t.nat_gateways, |x| x.id.as_str()),
        }
    }

    /// The index of VPC `vpc`, or `None` after recording that `owner` names no such VPC.
    pub fn vpc_of(
        &self,
        owner: &str,
        vpc: &str,
        errors: &mut Vec<ValidationError>,
    ) -> Option<usize> {
        let vi = self.vpc.get(vpc).copied();
        if vi.is_none() {
            errors.push(ValidationError::new(
                owner,
                "vpc",
                format!("no VPC with id `{vpc}`"),
            ));
        }
        vi
    }

    /// The VPC of ENI `ei` (through its subnet), if both resolve.
    pub fn eni_vpc(&self, t: &Topology, ei: usize) -> Option<usize> {
        let si = self.subnet.get(t.enis[ei].subnet.as_str())?;
        self.vpc.get(t.subnets[*si].vpc.as_str()).copied()
    }
}
