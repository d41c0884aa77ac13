//! Tests of the tracer: header summaries, explanation codes, and trace verdicts against
//! what the same packets really do.

mod unit {
    use crate::observe::trace::*;

    #[test]
    fn headers_print_like_tcpdump_would_summarise_them() {
        let h = Header {
            src: "10.0.1.10".parse().unwrap(),
            dst: "203.0.113.5".parse().unwrap(),
            protocol: 6,
            src_port: 40000,
            dst_port: 443,
        };
        assert_eq!(h.to_string(), "tcp 10.0.1.10:40000 → 203.0.113.5:443");
        let i = Header {
            protocol: 1,
            src_port: 7,
            dst_port: 8 << 8,
            ..h
        };
        assert_eq!(
            i.to_string(),
            "icmp 10.0.1.10 → 203.0.113.5 type 8 code 0 id 7"
        );
    }

    #[test]
    fn every_drop_reason_has_a_code() {
        for r in DropReason::ALL {
            assert!(!explanation_code(r).is_empty());
        }
        assert_eq!(
            explanation_code(DropReason::NaclDeny),
            "SUBNET_ACL_RESTRICTION"
        );
    }
}

mod matrix {
    //! Trace verdicts against what the same packets really do, on one data plane.
    use crate::datapath::Dataplane;
    use crate::engine::port::MemPort;
    use crate::fixtures::{self, behind_nat_gateway, INTERNET_HOST, NAT_EIP, UPLINK};
    use crate::observe::trace::*;
    use crate::vpc::config::{
        NetworkAclConfig, PortRange, Protocol, SecurityGroupConfig, SgPeer, SgRule, TrafficMatch,
        VpcIdx,
    };
    use crate::wire::vnet::VNET_HDR_LEN;

    /// The NAT fixture, plus: B (10.0.2.20) in a group admitting TCP 22 from the VPC,
    /// subnet 1 (B's) behind an ACL that denies UDP, and A2 (10.0.1.11) with the Elastic
    /// IP 198.51.100.41 (a hairpin target).
    fn config() -> crate::vpc::config::DataplaneConfig {
        let mut c = behind_nat_gateway((1024, 65535));
        c.internet_gateways[0]
            .mappings
            .push(crate::vpc::config::PublicMapping {
                public: std::net::Ipv4Addr::new(198, 51, 100, 41),
                target: crate::vpc::config::MappingTarget::Eni(fixtures::A2),
                private: std::net::Ipv4Addr::new(10, 0, 1, 11),
                source: "eipalloc-a2".into(),
            });
        let all = TrafficMatch {
            protocol: Protocol::All,
            ports: None,
            icmp: None,
        };
        c.security_groups = vec![SecurityGroupConfig {
            id: "sg-b".into(),
            vpc: VpcIdx(0),
            inbound: vec![SgRule {
                traffic: TrafficMatch {
                    protocol: Protocol::Number(6),
                    ports: Some(PortRange { from: 22, to: 22 }),
                    icmp: None,
                },
                peer: SgPeer::Cidr("10.0.0.0/16".parse().unwrap()),
            }],
            outbound: vec![SgRule {
                traffic: all,
                peer: SgPeer::Cidr("0.0.0.0/0".parse().unwrap()),
            }],
        }];
        c.enis[fixtures::B.idx()].security_groups = Some(vec![SgIdx(0)]);
        let entry = |n, proto, allow| crate::vpc::config::NaclEntry {
            rule_number: n,
            traffic: TrafficMatch {
                protocol: proto,
                ports: None,
                icmp: None,
            },
            cidr: "0.0.0.0/0".parse().unwrap(),
            allow,
        };
        c.network_acls = vec![NetworkAclConfig {
            id: "acl-b".into(),
            vpc: VpcIdx(0),
            inbound: vec![
                entry(90, Protocol::Number(17), false),
                entry(100, Protocol::All, true),
            ],
            outbound: vec![entry(100, Protocol::All, true)],
        }];
        c.subnets[1].network_acl = Some(NaclIdx(0));
        c
    }

    fn spec(from: &str, dst: [u8; 4], protocol: TraceProtocol, dport: u16) -> TraceSpec {
        TraceSpec {
            from: from.into(),
            src: None,
            dst: IpAddr::from(dst),
            protocol,
            src_port: None,
            dst_port: Some(dport),
            icmp_type: None,
            icmp_code: None,
            tcp_flags: None,
            return_path: false,
        }
    }

    #[derive(Debug, PartialEq)]
    enum Seen {
        Delivered(String),
        Dropped(String),
        Answered,
    }

    fn from_trace(o: &Outcome) -> Seen {
        match o {
            Outcome::Delivered { to, .. } => Seen::Delivered(to.clone()),
            Outcome::Dropped { reason, .. } => Seen::Dropped(reason.clone()),
            Outcome::Answered { .. } => Seen::Answered,
        }
    }

    /// Sends the traced packet for real and reports what happened to it.
    fn for_real(dp: &mut Dataplane<MemPort>, s: &TraceSpec) -> Seen {
        let report = dp.trace(s).unwrap();
        let port = if s.from.starts_with("igw-") {
            UPLINK
        } else {
            dp.tables()
                .config
                .enis
                .iter()
                .position(|e| e.id == s.from)
                .map(|i| PortIdx::from(EniIdx(i as u32)))
                .unwrap()
        };
        // The trace's own injected frame, rebuilt from its header and the same MACs.
        let t = dp.tables();
        let (src_mac, dst_mac) = if port == UPLINK {
            (t.igws[0].host_mac, t.igws[0].mac)
        } else {
            let e = &t.enis[port.idx()];
            (e.mac, t.subnets[e.subnet.idx()].router_mac)
        };
        let mut f = build_frame(
            VNET_HDR_LEN,
            src_mac.0,
            dst_mac.0,
            &report.forward.header,
            0x02,
        )
        .unwrap();
        let before = dp.engine_counters().drops;
        dp.process(port, &mut f);
        let after = dp.engine_counters().drops;
        let ports: Vec<PortIdx> = dp.ports().map(|(i, _)| i).collect();
        let mut seen = None;
        for p in ports {
            if !std::mem::take(&mut dp.port_mut(p).unwrap().tx).is_empty() {
                seen = Some(if p == port {
                    Seen::Answered
                } else {
                    Seen::Delivered(Names::port_name(dp.tables(), p))
                });
            }
        }
        seen.unwrap_or_else(|| {
            let r = DropReason::ALL
                .iter()
                .find(|r| after[r.index()] > before[r.index()])
                .expect("neither forwarded nor counted as a drop");
            Seen::Dropped(r.name().into())
        })
    }

    #[test]
    fn trace_verdicts_agree_with_real_traffic() {
        use TraceProtocol::{Icmp, Tcp, Udp};
        let mut dp = crate::fixtures::mem_dataplane(config(), 1024, true).unwrap();
        dp.set_now(1);
        let matrix = [
            (spec("eni-0", INTERNET_HOST, Tcp, 443), "delivered"),
            (spec("eni-0", [10, 0, 2, 20], Tcp, 22), "delivered"),
            (spec("eni-0", [10, 0, 2, 20], Tcp, 80), "sg_no_match"),
            (spec("eni-0", [10, 0, 2, 20], Udp, 53), "nacl_deny"),
            (spec("eni-2", [10, 0, 1, 10], Tcp, 80), "delivered"),
            (spec("eni-2", INTERNET_HOST, Tcp, 80), "blackhole"),
            (spec("eni-0", [10, 0, 1, 1], Icmp, 0), "answered"),
            (spec("eni-0", [10, 0, 2, 99], Tcp, 80), "no_eni_for_address"),
            (spec("eni-0", [10, 0, 2, 40], Tcp, 22), "eni_not_attached"),
            (spec("eni-3", INTERNET_HOST, Tcp, 80), "igw_no_public_ip"),
            (
                spec("eni-0", [10, 0, 3, 220], Icmp, 0),
                "nat_no_translation",
            ),
            (spec("igw-1", NAT_EIP, Tcp, 22), "nat_no_translation"),
            (
                spec("igw-1", [198, 51, 100, 99], Tcp, 22),
                "igw_no_public_mapping",
            ),
            (spec("eni-0", INTERNET_HOST, Icmp, 0), "delivered"),
            // Hairpins: through the NAT gateway and back in at A2's Elastic IP; from an
            // instance without a public address, dropped at the gateway.
            (spec("eni-0", [198, 51, 100, 41], Tcp, 80), "delivered"),
            (
                spec("eni-3", [198, 51, 100, 41], Tcp, 80),
                "igw_no_public_ip",
            ),
        ];
        for (s, expect) in matrix {
            let traced = from_trace(&dp.trace(&s).unwrap().forward.outcome);
            let real = for_real(&mut dp, &s);
            assert_eq!(traced, real, "{s:?}");
            let kind = match &traced {
                Seen::Delivered(_) => "delivered",
                Seen::Answered => "answered",
                Seen::Dropped(r) => r.as_str(),
            };
            assert_eq!(kind, expect, "{s:?}");
        }
    }

    #[test]
    fn a_trace_changes_nothing_and_explains_the_nat_path_both_ways() {
        let mut dp = crate::fixtures::mem_dataplane(config(), 1024, true).unwrap();
        dp.set_now(1);
        let mut s = spec("eni-0", INTERNET_HOST, TraceProtocol::Tcp, 443);
        s.return_path = true;
        let r = dp.trace(&s).unwrap();
        let Outcome::Delivered { to, header } = &r.forward.outcome else {
            panic!("{r}")
        };
        assert_eq!(to, "igw-1 (internet)");
        assert_eq!(header.src, IpAddr::from(NAT_EIP));
        let kinds: Vec<&str> = r.forward.steps.iter().map(|s| s.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "eni",
                "route-table",
                "nat-gateway",
                "route-table",
                "internet-gateway",
                "eni"
            ]
        );
        assert!(r.forward.steps[2].rewrite.is_some());
        // The reply comes back through both gateways to A's own port.
        let reply = r.reply.as_ref().unwrap();
        let Outcome::Delivered { to, header } = &reply.outcome else {
            panic!("{r}")
        };
        assert_eq!(to, "eni-0");
        assert_eq!(
            (header.dst, header.dst_port),
            ("10.0.1.10".parse().unwrap(), 40000)
        );
        // Nothing was left behind: no translation, no connection, no counter.
        let m = dp.report(|_| None);
        assert_eq!(m.nat_gateways[0].metrics.translations, 0);
        assert_eq!(m.nat_gateways[0].metrics.connection_attempt_count, 0);
        assert_eq!(dp.tracked_connections(), 0);
        assert_eq!(dp.engine_counters().flow_misses, 0);
        // The text form names each component and the outcome.
        let text = r.to_string();
        assert!(text.contains("nat-1"), "{text}");
        assert!(text.contains("DELIVERED to eni-0"), "{text}");
    }

    /// A traced UDP packet from port 68 to port 67 is a DISCOVER: the router answers it
    /// with an OFFER, before any ACL or group.
    #[test]
    fn a_dhcp_discover_is_answered_by_the_router() {
        let dp = crate::fixtures::mem_dataplane(config(), 1024, true).unwrap();
        let mut s = spec("eni-0", [255, 255, 255, 255], TraceProtocol::Udp, 67);
        s.src = Some(IpAddr::from([0, 0, 0, 0]));
        s.src_port = Some(68);
        let r = dp.trace(&s).unwrap();
        assert_eq!(
            r.forward.outcome,
            Outcome::Answered {
                by: "the VPC router (DHCP)".into()
            }
        );
        assert!(
            r.forward
                .steps
                .iter()
                .any(|st| st.component == "VPC router (DHCP)" && st.detail.contains("OFFER")),
            "{:?}",
            r.forward.steps
        );
        assert_eq!(dp.counters(crate::fixtures::A).unwrap().dhcp_replies, 0);
    }

    #[test]
    fn a_drop_names_the_rule_and_the_code() {
        let mut dp = crate::fixtures::mem_dataplane(config(), 1024, true).unwrap();
        dp.set_now(1);
        let r = dp
            .trace(&spec("eni-0", [10, 0, 2, 20], TraceProtocol::Udp, 53))
            .unwrap();
        assert_eq!(
            r.forward.outcome,
            Outcome::Dropped {
                reason: "nacl_deny".into(),
                code: "SUBNET_ACL_RESTRICTION".into(),
                component: "acl-b inbound rule 90".into(),
            }
        );
        let r = dp
            .trace(&spec("eni-0", [10, 0, 2, 20], TraceProtocol::Tcp, 80))
            .unwrap();
        let Outcome::Dropped {
            code, component, ..
        } = &r.forward.outcome
        else {
            panic!("{r}")
        };
        assert_eq!(code, "ENI_SG_RULES_MISMATCH");
        assert_eq!(component, "sg-b of eni-2");
        // A NAT gateway's refusal names the gateway, not the ACL that let the packet in.
        let r = dp
            .trace(&spec("igw-1", NAT_EIP, TraceProtocol::Tcp, 22))
            .unwrap();
        let Outcome::Dropped {
            reason, component, ..
        } = &r.forward.outcome
        else {
            panic!("{r}")
        };
        assert_eq!(
            (reason.as_str(), component.as_str()),
            ("nat_no_translation", "nat-1"),
            "{r}"
        );
        assert!(dp
            .trace(&spec("eni-9", [10, 0, 2, 20], TraceProtocol::Tcp, 80))
            .is_err());
    }

    #[test]
    fn a_route_to_a_deleted_target_is_a_blackhole_that_names_it() {
        use crate::vpc::config::RouteTarget;
        let mut c = config();
        // rtb-private's default route, whose NAT gateway was deleted (state blackhole).
        let route = &mut c.route_tables[2].routes[1];
        assert_eq!(
            route.target,
            RouteTarget::NatGateway(crate::vpc::config::NatIdx(0))
        );
        route.target = RouteTarget::Blackhole;
        route.deleted_target = Some("nat-gone".into());
        let mut dp = crate::fixtures::mem_dataplane(c, 1024, true).unwrap();
        dp.set_now(1);
        let s = spec("eni-0", INTERNET_HOST, TraceProtocol::Tcp, 443);
        let r = dp.trace(&s).unwrap();
        assert_eq!(
            r.forward.outcome,
            Outcome::Dropped {
                reason: "blackhole".into(),
                code: "BAD_STATE_ROUTE".into(),
                component: "rtb-private".into(),
            },
            "{r}"
        );
        let route_step = r.forward.steps.iter().find(|s| s.kind == "route-table");
        assert_eq!(
            route_step.map(|s| s.detail.as_str()),
            Some("203.0.113.5: 0.0.0.0/0 → nat-gone (blackhole: target deleted)"),
            "{r}"
        );
        // The real packet agrees.
        assert_eq!(for_real(&mut dp, &s), Seen::Dropped("blackhole".into()));
        // An explicit blackhole route (rtb-b's default) stays `blackhole`.
        let r = dp
            .trace(&spec("eni-2", INTERNET_HOST, TraceProtocol::Tcp, 80))
            .unwrap();
        assert!(
            r.forward
                .steps
                .iter()
                .any(|s| s.detail == "203.0.113.5: 0.0.0.0/0 → blackhole"),
            "{r}"
        );
    }

    #[test]
    fn a_query_to_the_resolver_is_answered_by_it_past_the_filters() {
        let mut dp = crate::fixtures::mem_dataplane(config(), 1024, true).unwrap();
        dp.set_now(1);
        for dst in [[10, 0, 0, 2], [169, 254, 169, 253]] {
            let s = spec("eni-0", dst, TraceProtocol::Udp, 53);
            let r = dp.trace(&s).unwrap();
            assert_eq!(
                r.forward.outcome,
                Outcome::Answered {
                    by: "the VPC resolver (NXDOMAIN, 0 answers)".into()
                },
                "{r}"
            );
            assert!(r.forward.steps.iter().any(|s| s.kind == "resolver"), "{r}");
            assert_eq!(for_real(&mut dp, &s), Seen::Answered);
        }
        // A trace counts nothing and spends no token of the rate limit.
        assert_eq!(
            dp.counters(PortIdx::from(EniIdx(0))).unwrap().dns_answers,
            2
        );
    }

    #[test]
    fn a_connection_to_the_metadata_service_is_answered_by_it_past_the_filters() {
        let mut c = config();
        let mut dp = crate::fixtures::mem_dataplane(c.clone(), 1024, true).unwrap();
        dp.set_now(1);
        let s = spec("eni-0", [169, 254, 169, 254], TraceProtocol::Tcp, 80);
        let r = dp.trace(&s).unwrap();
        assert_eq!(
            r.forward.outcome,
            Outcome::Answered {
                by: "the instance metadata service".into()
            },
            "{r}"
        );
        assert!(r.forward.steps.iter().any(|s| s.kind == "metadata"), "{r}");
        // Another port, or an instance whose endpoint is disabled: dropped.
        let r = dp
            .trace(&spec(
                "eni-0",
                [169, 254, 169, 254],
                TraceProtocol::Tcp,
                443,
            ))
            .unwrap();
        assert!(
            matches!(&r.forward.outcome, Outcome::Dropped { reason, .. } if reason == "metadata_disabled"),
            "{r}"
        );
        c.enis[0].instance.metadata.endpoint_enabled = false;
        let dp = crate::fixtures::mem_dataplane(c, 1024, true).unwrap();
        let r = dp.trace(&s).unwrap();
        assert!(
            matches!(&r.forward.outcome, Outcome::Dropped { reason, .. } if reason == "metadata_disabled"),
            "{r}"
        );
    }
}
