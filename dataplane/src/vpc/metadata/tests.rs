//! The metadata service: answers from the catalog and the token rules, then whole HTTP
//! exchanges through the data plane on an in-memory port, the client being smoltcp's
//! own TCP (a real stack on the instance's side, not byte fixtures).

use std::net::Ipv4Addr;

use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address};

use super::catalog::{Catalog, Entry};
use super::http::{parse, Parsed};
use super::token::Tokens;
use super::*;
use crate::datapath::Dataplane;
use crate::engine::port::{MemPort, PortIdx};
use crate::fixtures::{self, eni_mac, A, B};
use crate::vpc::config::{DataplaneConfig, MappingTarget, PublicMapping};
use crate::vpc::verdict::DropReason;
use crate::wire::vnet::VNET_HDR_LEN;

/// The NAT-gateway fixture (an internet gateway) with a public IP on A, A in
/// `eu-west-1b`, and no security-group rule on A at all.
fn config() -> DataplaneConfig {
    let mut c = fixtures::behind_nat_gateway((1024, 65535));
    c.region = "eu-west-1".into();
    c.subnets[0].availability_zone = "eu-west-1b".into();
    c.enis[A.idx()].security_groups = Some(vec![]);
    c.enis[A.idx()].instance.id = "i-0123456789abcdef0".into();
    c.internet_gateways[0].mappings.push(PublicMapping {
        public: Ipv4Addr::new(198, 51, 100, 10),
        target: MappingTarget::Eni(A),
        private: Ipv4Addr::new(10, 0, 1, 10),
        source: "eipalloc-a".into(),
    });
    c
}

fn tables(c: DataplaneConfig) -> Tables {
    Tables::build(c).expect("fixture builds")
}

fn get(path: &str, token: Option<&str>) -> Request {
    Request {
        method: Method::Get,
        path: path.into(),
        token: token.map(Into::into),
        token_ttl: None,
        forwarded: false,
        close: false,
    }
}

fn put_token(ttl: &str) -> Request {
    Request {
        method: Method::Put,
        path: "/latest/api/token".into(),
        token: None,
        token_ttl: Some(ttl.into()),
        forwarded: false,
        close: false,
    }
}

fn body(r: &Reply) -> String {
    let s = String::from_utf8_lossy(&r.bytes).to_string();
    s.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

#[test]
fn the_catalog_describes_the_instance_and_its_interfaces() {
    let t = tables(config());
    let c = Catalog::of(&t, A).unwrap();
    let leaf = |p: &str| match c.get(p) {
        Some(Entry::Leaf(v)) => v,
        other => panic!("{p}: {other:?}"),
    };
    assert_eq!(leaf("meta-data/local-ipv4"), "10.0.1.10");
    assert_eq!(leaf("meta-data/instance-id"), "i-0123456789abcdef0");
    assert_eq!(leaf("meta-data/mac"), eni_mac(A).to_string());
    assert_eq!(leaf("meta-data/public-ipv4"), "198.51.100.10");
    assert_eq!(
        leaf("meta-data/public-hostname"),
        "ec2-198-51-100-10.eu-west-1.compute.amazonaws.com"
    );
    assert_eq!(leaf("meta-data/placement/availability-zone"), "eu-west-1b");
    assert_eq!(leaf("meta-data/placement/region"), "eu-west-1");
    let mac = format!("meta-data/network/interfaces/macs/{}", eni_mac(A));
    assert_eq!(leaf(&format!("{mac}/subnet-id")), "subnet-0");
    assert_eq!(leaf(&format!("{mac}/vpc-id")), "vpc-1");
    assert_eq!(
        leaf(&format!("{mac}/subnet-ipv4-cidr-block")),
        "10.0.1.0/24"
    );
    assert_eq!(leaf(&format!("{mac}/vpc-ipv4-cidr-block")), "10.0.0.0/16");
    assert_eq!(leaf(&format!("{mac}/interface-id")), "eni-0");
    assert_eq!(
        leaf(&format!("{mac}/ipv4-associations/198.51.100.10")),
        "10.0.1.10"
    );
    let Some(Entry::Dir(top)) = c.get("meta-data/") else {
        panic!()
    };
    for want in ["instance-id", "local-ipv4", "network/", "placement/", "mac"] {
        assert!(top.lines().any(|l| l == want), "{want} in {top}");
    }
    let doc: serde_json::Value =
        serde_json::from_str(&leaf("dynamic/instance-identity/document")).unwrap();
    assert_eq!(doc["instanceId"], "i-0123456789abcdef0");
    assert_eq!(doc["privateIp"], "10.0.1.10");
    assert_eq!(doc["availabilityZone"], "eu-west-1b");
    assert_eq!(doc["region"], "eu-west-1");
    assert!(c.get("meta-data/nothing-here").is_none());
    // B has no public address and an instance id of its own.
    let b = Catalog::of(&t, B).unwrap();
    assert!(b.get("meta-data/public-ipv4").is_none());
    assert!(
        matches!(b.get("meta-data/instance-id"), Some(Entry::Leaf(id)) if id.starts_with("i-0") && id.len() == 19)
    );
}

#[test]
fn imdsv1_answers_unless_tokens_are_required() {
    let mut c = config();
    let t = tables(c.clone());
    let mut tokens = Tokens::default();
    let opts = t.config.enis[A.idx()].instance.metadata;
    let r = respond(
        &get("/latest/meta-data/local-ipv4", None),
        Catalog::of(&t, A).as_ref(),
        opts,
        &mut tokens,
        0,
    );
    assert_eq!((r.status, body(&r).as_str()), (200, "10.0.1.10"));
    let r = respond(
        &get("/latest/meta-data/nope", None),
        Catalog::of(&t, A).as_ref(),
        opts,
        &mut tokens,
        0,
    );
    assert_eq!(r.status, 404);
    let r = respond(
        &get("/", None),
        Catalog::of(&t, A).as_ref(),
        opts,
        &mut tokens,
        0,
    );
    assert_eq!(body(&r), "latest");
    let r = respond(
        &get("/latest/", None),
        Catalog::of(&t, A).as_ref(),
        opts,
        &mut tokens,
        0,
    );
    assert_eq!(body(&r), "dynamic\nmeta-data");

    c.enis[A.idx()].instance.metadata.tokens_required = true;
    let t = tables(c);
    let opts = t.config.enis[A.idx()].instance.metadata;
    let r = respond(
        &get("/latest/meta-data/local-ipv4", None),
        Catalog::of(&t, A).as_ref(),
        opts,
        &mut tokens,
        0,
    );
    assert_eq!(r.status, 401, "IMDSv1 refused when tokens are required");
    let r = respond(
        &put_token("60"),
        Catalog::of(&t, A).as_ref(),
        opts,
        &mut tokens,
        1_000,
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.hop_limit,
        Some(1),
        "the token answer carries the hop limit"
    );
    assert!(String::from_utf8_lossy(&r.bytes).contains("X-Aws-Ec2-Metadata-Token-Ttl-Seconds: 60"));
    let tok = body(&r);
    let r = respond(
        &get("/latest/meta-data/local-ipv4", Some(&tok)),
        Catalog::of(&t, A).as_ref(),
        opts,
        &mut tokens,
        2_000,
    );
    assert_eq!((r.status, body(&r).as_str()), (200, "10.0.1.10"));
    assert_eq!(r.hop_limit, None, "only the token answer is hop-limited");
    // Expired, forged.
    let r = respond(
        &get("/latest/meta-data/local-ipv4", Some(&tok)),
        Catalog::of(&t, A).as_ref(),
        opts,
        &mut tokens,
        61_000,
    );
    assert_eq!(r.status, 401);
    let r = respond(
        &get("/latest/meta-data/", Some("AQAEAforged")),
        Catalog::of(&t, A).as_ref(),
        opts,
        &mut tokens,
        2_000,
    );
    assert_eq!(r.status, 401);
}

#[test]
fn token_requests_are_checked() {
    let t = tables(config());
    let mut tokens = Tokens::default();
    let opts = t.config.enis[A.idx()].instance.metadata;
    for bad in ["0", "21601", "x", ""] {
        assert_eq!(
            respond(
                &put_token(bad),
                Catalog::of(&t, A).as_ref(),
                opts,
                &mut tokens,
                0
            )
            .status,
            400,
            "ttl {bad:?}"
        );
    }
    let mut no_ttl = put_token("1");
    no_ttl.token_ttl = None;
    assert_eq!(
        respond(&no_ttl, Catalog::of(&t, A).as_ref(), opts, &mut tokens, 0).status,
        400
    );
    let mut proxied = put_token("60");
    proxied.forwarded = true;
    assert_eq!(
        respond(&proxied, Catalog::of(&t, A).as_ref(), opts, &mut tokens, 0).status,
        403
    );
    let mut get_token = put_token("60");
    get_token.method = Method::Get;
    assert_eq!(
        respond(
            &get_token,
            Catalog::of(&t, A).as_ref(),
            opts,
            &mut tokens,
            0
        )
        .status,
        405
    );
    let mut delete = get("/latest/meta-data/", None);
    delete.method = Method::Other;
    assert_eq!(
        respond(&delete, Catalog::of(&t, A).as_ref(), opts, &mut tokens, 0).status,
        405
    );
    assert_eq!(tokens.issued(), 0, "no refused request issued a token");
}

/// Workers each hold their own service: a token issued by one is valid on another
/// holding a clone of the key, for the same instance only, until it expires.
#[test]
fn a_token_validates_on_every_worker_sharing_the_key() {
    let mut c = config();
    c.enis[A.idx()].instance.metadata.tokens_required = true;
    c.enis[B.idx()].instance.metadata.tokens_required = true;
    let t = tables(c);
    let key = TokenKey::random();
    let mut workers: Vec<MetadataService> = (0..3).map(|_| MetadataService::default()).collect();
    for w in &mut workers[..2] {
        w.set_token_key(key.clone());
    }
    let (ia, ib) = (catalog::instance_id(&t, A), catalog::instance_id(&t, B));
    assert_ne!(ia, ib);
    let ask = |w: &mut MetadataService,
               eni: crate::vpc::config::EniIdx,
               instance: &str,
               req: &Request,
               now: u64| {
        w.tokens.serve(instance);
        let opts = t.config.enis[eni.idx()].instance.metadata;
        respond(req, Catalog::of(&t, eni).as_ref(), opts, &mut w.tokens, now)
    };
    let r = ask(&mut workers[0], A, &ia, &put_token("60"), 1_000);
    assert_eq!(r.status, 200);
    let tok = body(&r);
    assert_eq!(tok.len(), token::TOKEN_LEN);
    let read = get("/latest/meta-data/local-ipv4", Some(&tok));
    for (w, eni, instance, now, status, why) in [
        (0, A, &ia, 2_000, 200, "the worker that issued it"),
        (1, A, &ia, 2_000, 200, "another worker with the key"),
        (2, A, &ia, 2_000, 401, "a worker with another key"),
        (1, B, &ib, 2_000, 401, "another instance"),
        (0, B, &ib, 2_000, 401, "another instance, same worker"),
        (1, A, &ia, 60_999, 200, "just before expiry"),
        (1, A, &ia, 61_000, 401, "expired"),
    ] {
        assert_eq!(
            ask(&mut workers[w], eni, instance, &read, now).status,
            status,
            "{why}"
        );
    }
    // Two workers, one key, one instance: their tokens differ.
    let other = body(&ask(&mut workers[1], A, &ia, &put_token("60"), 1_000));
    assert_ne!(other, tok);
    assert_eq!(
        ask(
            &mut workers[0],
            A,
            &ia,
            &get("/latest/meta-data/local-ipv4", Some(&other)),
            2_000
        )
        .status,
        200
    );
}

/// Whatever a guest puts in the token header, the answer is 401, never a panic.
#[test]
fn garbage_tokens_are_refused() {
    let t = tables(config());
    let mut tokens = Tokens::default();
    tokens.serve(&catalog::instance_id(&t, A));
    let opts = t.config.enis[A.idx()].instance.metadata;
    let cat = Catalog::of(&t, A);
    let tok = body(&respond(
        &put_token("60"),
        cat.as_ref(),
        opts,
        &mut tokens,
        0,
    ));
    let mut flipped = tok.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).expect("ascii");
    for bad in [
        String::new(),
        "AQAEAforged".into(),
        format!("BQAEA{}", &tok[5..]),
        tok[..tok.len() - 2].to_string(),
        format!("{tok}00"),
        format!("{}zz", &tok[..tok.len() - 2]),
        flipped,
        "f".repeat(100_000),
    ] {
        let r = respond(
            &get("/latest/meta-data/", Some(&bad)),
            cat.as_ref(),
            opts,
            &mut tokens,
            1,
        );
        assert_eq!(r.status, 401, "{bad:.80}");
    }
    let r = respond(
        &get("/latest/meta-data/", Some(&tok)),
        cat.as_ref(),
        opts,
        &mut tokens,
        1,
    );
    assert_eq!(r.status, 200);
}

// ---- whole exchanges through the data plane ----

/// The instance's side: smoltcp's Ethernet interface whose wire is the ENI's in-memory
/// port.
#[derive(Default)]
struct Wire {
    to_dp: Vec<Vec<u8>>,
    from_dp: std::collections::VecDeque<Vec<u8>>,
}

struct WRx(Vec<u8>);
impl RxToken for WRx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}
struct WTx<'a>(&'a mut Vec<Vec<u8>>);
impl TxToken for WTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut b = vec![0u8; len];
        let r = f(&mut b);
        self.0.push(b);
        r
    }
}
impl Device for Wire {
    type RxToken<'a> = WRx;
    type TxToken<'a> = WTx<'a>;
    fn receive(&mut self, _: Instant) -> Option<(WRx, WTx<'_>)> {
        let f = self.from_dp.pop_front()?;
        Some((WRx(f), WTx(&mut self.to_dp)))
    }
    fn transmit(&mut self, _: Instant) -> Option<WTx<'_>> {
        Some(WTx(&mut self.to_dp))
    }
    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ethernet;
        c.max_transmission_unit = 1514;
        c
    }
}

struct Instance {
    iface: Interface,
    wire: Wire,
    sockets: SocketSet<'static>,
    now: u64,
}

impl Instance {
    fn new(dp: &mut Dataplane<MemPort>) -> Instance {
        let mut wire = Wire::default();
        let mac = EthernetAddress(eni_mac(A).0);
        let now = dp.now();
        let mut iface = Interface::new(
            Config::new(HardwareAddress::Ethernet(mac)),
            &mut wire,
            Instant::from_millis(now as i64),
        );
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(IpAddress::v4(10, 0, 1, 10), 24));
        });
        iface
            .routes_mut()
            .add_default_ipv4_route(Ipv4Address::new(10, 0, 1, 1))
            .unwrap();
        Instance {
            iface,
            wire,
            sockets: SocketSet::new(Vec::new()),
            now,
        }
    }

    /// Moves frames both ways until nothing moves, advancing time 1 ms per round.
    fn pump(&mut self, dp: &mut Dataplane<MemPort>) {
        for _ in 0..200 {
            self.now += 1;
            dp.set_now(self.now);
            self.iface.poll(
                Instant::from_millis(self.now as i64),
                &mut self.wire,
                &mut self.sockets,
            );
            let out: Vec<_> = self.wire.to_dp.drain(..).collect();
            let port = dp.port_mut(A).unwrap();
            let mut moved = !out.is_empty();
            for f in out {
                let mut b = vec![0u8; VNET_HDR_LEN];
                b.extend_from_slice(&f);
                port.rx.push_back(b);
            }
            dp.poll(A).unwrap();
            dp.expire();
            let back: Vec<_> = dp.port_mut(A).unwrap().tx.drain(..).collect();
            moved |= !back.is_empty();
            for f in back {
                self.wire.from_dp.push_back(f[VNET_HDR_LEN..].to_vec());
            }
            if !moved && self.now.is_multiple_of(50) {
                break;
            }
        }
    }

    /// Connects to 169.254.169.254:80 from `local_port`, waits for the handshake, and
    /// queues `first` on the connection (not yet sent: the caller pumps).
    fn open(
        &mut self,
        dp: &mut Dataplane<MemPort>,
        local_port: u16,
        first: &[u8],
    ) -> smoltcp::iface::SocketHandle {
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; 16384]),
            tcp::SocketBuffer::new(vec![0; 16384]),
        );
        s.connect(
            self.iface.context(),
            (Ipv4Address::new(169, 254, 169, 254), 80),
            local_port,
        )
        .unwrap();
        let h = self.sockets.add(s);
        self.pump(dp);
        self.sockets
            .get_mut::<tcp::Socket>(h)
            .send_slice(first)
            .unwrap();
        h
    }

    /// One HTTP exchange on a new connection; the whole response, as text.
    fn http(&mut self, dp: &mut Dataplane<MemPort>, request: &str) -> String {
        let port = 49_152 + (self.now % 10_000) as u16;
        let h = self.open(dp, port, request.as_bytes());
        let mut got = Vec::new();
        for _ in 0..20 {
            self.pump(dp);
            let s = self.sockets.get_mut::<tcp::Socket>(h);
            while s.can_recv() {
                s.recv(|d| {
                    got.extend_from_slice(d);
                    (d.len(), ())
                })
                .unwrap();
            }
            if !s.may_recv() {
                break;
            }
        }
        self.sockets.get_mut::<tcp::Socket>(h).close();
        self.pump(dp);
        self.sockets.remove(h);
        String::from_utf8_lossy(&got).to_string()
    }
}

fn dataplane(c: DataplaneConfig) -> Dataplane<MemPort> {
    let mut dp = fixtures::mem_dataplane(c, 1024, true).unwrap();
    dp.set_now(1_000);
    dp
}

#[test]
fn a_real_tcp_client_reads_metadata_through_the_data_plane() {
    let mut dp = dataplane(config());
    let mut inst = Instance::new(&mut dp);
    let r = inst.http(
        &mut dp,
        "GET /latest/meta-data/local-ipv4 HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n",
    );
    assert!(r.starts_with("HTTP/1.1 200 OK"), "{r}");
    assert!(r.ends_with("\r\n\r\n10.0.1.10"), "{r}");
    // Keep-alive: two requests on one connection, then the client closes.
    let r = inst.http(
        &mut dp,
        "GET /latest/meta-data/instance-id HTTP/1.1\r\n\r\nGET /latest/meta-data/placement/availability-zone HTTP/1.1\r\n\r\n",
    );
    assert_eq!(r.matches("HTTP/1.1 200 OK").count(), 2, "{r}");
    assert!(
        r.contains("i-0123456789abcdef0") && r.ends_with("eu-west-1b"),
        "{r}"
    );
    let c = dp.counters(PortIdx::from(A)).unwrap();
    assert_eq!((c.metadata_requests, c.metadata_errors), (3, 0));
    assert_eq!(
        c.drops.iter().sum::<u64>(),
        0,
        "nothing dropped: {:?}",
        c.drops
    );
}

#[test]
fn imdsv2_through_the_data_plane_and_the_hop_limit() {
    let mut c = config();
    c.enis[A.idx()].instance.metadata.tokens_required = true;
    c.enis[A.idx()].instance.metadata.hop_limit = 2;
    let mut dp = dataplane(c);
    let mut inst = Instance::new(&mut dp);
    let r = inst.http(&mut dp, "GET /latest/meta-data/local-ipv4 HTTP/1.1\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    let r = inst.http(
        &mut dp,
        "PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\n\r\n",
    );
    assert!(r.starts_with("HTTP/1.1 200 OK"), "{r}");
    let token = r.split_once("\r\n\r\n").unwrap().1.to_string();
    let r = inst.http(
        &mut dp,
        &format!("GET /latest/meta-data/local-ipv4 HTTP/1.1\r\nX-aws-ec2-metadata-token: {token}\r\n\r\n"),
    );
    assert!(r.ends_with("\r\n\r\n10.0.1.10"), "{r}");
    let c = dp.counters(PortIdx::from(A)).unwrap();
    assert_eq!((c.metadata_requests, c.metadata_errors), (3, 1));
}

/// The token answer leaves with the hop limit as its TTL (captured on the port).
#[test]
fn the_token_answer_has_the_hop_limit_as_ttl() {
    let mut c = config();
    c.enis[A.idx()].instance.metadata.hop_limit = 3;
    let mut dp = dataplane(c);
    let mut inst = Instance::new(&mut dp);
    // Watch what the data plane sends: the exchange is pumped by hand below.
    let req = "PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 10\r\n\r\n";
    inst.open(&mut dp, 40_000, req.as_bytes());
    let mut ttls = Vec::new();
    for _ in 0..50 {
        inst.now += 1;
        dp.set_now(inst.now);
        inst.iface.poll(
            Instant::from_millis(inst.now as i64),
            &mut inst.wire,
            &mut inst.sockets,
        );
        for f in inst.wire.to_dp.drain(..) {
            let mut b = vec![0u8; VNET_HDR_LEN];
            b.extend_from_slice(&f);
            dp.port_mut(A).unwrap().rx.push_back(b);
        }
        dp.poll(A).unwrap();
        for f in dp.port_mut(A).unwrap().tx.drain(..) {
            let ip = &f[VNET_HDR_LEN + 14..];
            // Payload-carrying segments from the service.
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let doff = usize::from(ip[ihl + 12] >> 4) * 4;
            let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
            if total > ihl + doff {
                ttls.push(ip[8]);
            }
            inst.wire.from_dp.push_back(f[VNET_HDR_LEN..].to_vec());
        }
    }
    assert!(!ttls.is_empty() && ttls.iter().all(|&t| t == 3), "{ttls:?}");
}

#[test]
fn disabled_endpoints_other_ports_and_garbage_are_counted() {
    let mut c = config();
    c.enis[B.idx()].instance.metadata.endpoint_enabled = false;
    let mut dp = dataplane(c);
    let udp = |eni: crate::vpc::config::EniIdx, src: [u8; 4], dport: u16| {
        let mut out = vec![0u8; VNET_HDR_LEN];
        let b = etherparse::PacketBuilder::ethernet2(
            eni_mac(eni).0,
            fixtures::router_mac(if eni == A { 0 } else { 1 }).0,
        )
        .ipv4(src, [169, 254, 169, 254], 64)
        .tcp(40_000, dport, 1, 1024)
        .ack(7);
        b.write(&mut out, b"GET / HTTP/1.1\r\n\r\n").unwrap();
        out
    };
    // B's endpoint is disabled.
    dp.process(B, &mut udp(B, [10, 0, 2, 20], 80));
    // A: port 443 is not the service.
    dp.process(A, &mut udp(A, [10, 0, 1, 10], 443));
    let drops = |dp: &Dataplane<MemPort>, e, r: DropReason| {
        dp.counters(PortIdx::from(e)).unwrap().drops[r.index()]
    };
    assert_eq!(drops(&dp, B, DropReason::MetadataDisabled), 1);
    assert_eq!(drops(&dp, A, DropReason::MetadataDisabled), 1);
    // Data on no connection: the stack answers a RST, no request is counted.
    dp.process(A, &mut udp(A, [10, 0, 1, 10], 80));
    let c = dp.counters(PortIdx::from(A)).unwrap();
    assert_eq!(c.metadata_requests, 0);
    let tx = &dp.port(A).unwrap().tx;
    assert_eq!(tx.len(), 1, "one RST");
    let ip = &tx[0][VNET_HDR_LEN + 14..];
    assert_eq!(&ip[12..16], &[169, 254, 169, 254]);
    assert_ne!(ip[20 + 13] & 0x04, 0, "RST");
}

#[test]
fn a_slow_client_is_reset_and_an_oversized_request_refused() {
    let mut dp = dataplane(config());
    let mut inst = Instance::new(&mut dp);
    // Oversized header: 431 and close.
    let big = format!(
        "GET / HTTP/1.1\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(http::MAX_REQUEST)
    );
    let r = inst.http(&mut dp, &big);
    assert!(r.starts_with("HTTP/1.1 431"), "{r}");
    // Half a request, then silence past the slow-client limit: reset, counted.
    let h = inst.open(&mut dp, 41_000, b"GET /lat");
    inst.pump(&mut dp);
    let before = dp.counters(PortIdx::from(A)).unwrap().metadata_errors;
    inst.now += stack::SLOW_CLIENT_MS + 1;
    inst.pump(&mut dp);
    assert_eq!(
        dp.counters(PortIdx::from(A)).unwrap().metadata_errors,
        before + 1
    );
    assert!(
        !inst.sockets.get::<tcp::Socket>(h).is_open(),
        "the client saw the reset"
    );
    // Bounded: the parse of what remained never grows past the limit.
    assert!(matches!(parse(b"GET /lat"), Parsed::Partial));
}
