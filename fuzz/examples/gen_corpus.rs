//! Writes the seed corpus under `fuzz/corpus/<target>/`: real frames built with
//! `etherparse`, hand-built DNS and DHCP messages, control requests and the example
//! topologies. Run from the repository: `cargo run --manifest-path fuzz/Cargo.toml
//! --example gen_corpus`.

use std::net::Ipv4Addr;
use std::path::Path;

use dataplane::daemon::proto::Request;
use dataplane::fixtures::{self, eni_mac, router_mac, A, B, IGW_MAC, INTERNET_HOST_MAC};
use dataplane::wire::vnet::{VnetHdr, F_NEEDS_CSUM, GSO_TCPV4, VNET_HDR_LEN};
use dataplane::wire::MacAddr;
use etherparse::PacketBuilder;
use vpcd_fuzz::*;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir).expect("corpus directory");
    std::fs::write(dir.join(name), bytes).expect("corpus file");
}

/// A DNS query for `name` (type `qtype`), with an EDNS OPT record when `edns`.
fn dns_query(id: u16, name: &str, qtype: u16, edns: bool) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns)]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    if edns {
        m.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    }
    m
}

/// A DHCP client message of type `ty` from `chaddr`, with extra options.
fn dhcp_message(ty: u8, chaddr: MacAddr, extra: &[u8]) -> Vec<u8> {
    let mut m = vec![0u8; 236];
    m[0] = 1; // BOOTREQUEST
    m[1] = 1;
    m[2] = 6;
    m[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    m[10] = 0x80; // broadcast
    m[28..34].copy_from_slice(&chaddr.0);
    m.extend_from_slice(&[99, 130, 83, 99, 53, 1, ty]);
    m.extend_from_slice(extra);
    m.extend_from_slice(&[55, 4, 1, 3, 6, 15, 255]);
    m
}

fn arp_request(src_mac: MacAddr, src: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&src_mac.0);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&src_mac.0);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target.octets());
    f
}

fn icmp_echo(src_mac: MacAddr, dst_mac: MacAddr, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(src_mac.0, dst_mac.0)
        .ipv4(src.octets(), dst.octets(), 64)
        .icmpv4_echo_request(7, 1);
    let mut out = Vec::new();
    let _ = b.write(&mut out, b"ping");
    out
}

/// A TCP super-frame (GSO TCPv4, checksum pending) after its `virtio_net_hdr`.
fn gso_frame() -> Vec<u8> {
    let payload = vec![0x5a; 3000];
    let f = tcp_from_a(Ipv4Addr::new(10, 0, 2, 20), 40000, 80, 1, 1, 0x18, &payload);
    let h = VnetHdr {
        flags: F_NEEDS_CSUM,
        gso_type: GSO_TCPV4,
        hdr_len: 54,
        gso_size: 1448,
        csum_start: 34,
        csum_offset: 16,
    };
    let mut v = vec![0u8; VNET_HDR_LEN];
    h.emit(&mut v).expect("vnet header");
    v.extend_from_slice(&f);
    v
}

/// One split-ring descriptor (`addr`, `len`, `flags`, `next`), little-endian.
fn desc(image: &mut [u8], table: u64, i: u16, addr: u64, len: u32, flags: u16, next: u16) {
    let at = table as usize + usize::from(i) * 16;
    image[at..at + 8].copy_from_slice(&addr.to_le_bytes());
    image[at + 8..at + 12].copy_from_slice(&len.to_le_bytes());
    image[at + 12..at + 14].copy_from_slice(&flags.to_le_bytes());
    image[at + 14..at + 16].copy_from_slice(&next.to_le_bytes());
}

/// An avail ring at `at`: flags 0, `idx`, then `heads`.
fn avail(image: &mut [u8], at: u64, idx: u16, heads: &[u16]) {
    let at = at as usize;
    image[at + 2..at + 4].copy_from_slice(&idx.to_le_bytes());
    for (i, h) in heads.iter().enumerate() {
        image[at + 4 + 2 * i..at + 6 + 2 * i].copy_from_slice(&h.to_le_bytes());
    }
}

/// A `vhost_user` ring input: the header (queue size `1 << log2`, `flags`, next avail
/// indices 0, a few frame lengths), then `image`.
fn vu_rings(log2: u8, flags: u8, image: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8, log2, flags, 0, 0, 0, 0, 1, 15, 40, 0, 0, 0, 0, 0, 0];
    v.extend_from_slice(image);
    v
}

/// A vhost-user message: request, flags (version 1), size, payload.
fn vu_msg(req: u32, payload: &[u8]) -> Vec<u8> {
    let mut m = req.to_le_bytes().to_vec();
    m.extend_from_slice(&1u32.to_le_bytes());
    m.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    m.extend_from_slice(payload);
    m
}

/// The `vhost_user` target's seeds: real ring layouts (a frame in one descriptor, split
/// over a chain, behind an indirect table; receive buffers; a loop, an address in the
/// hole, an avail index far ahead) and QEMU's opening message sequence.
fn vhost_user_seeds() {
    const F_NEXT: u16 = 1;
    const F_WRITE: u16 = 2;
    const F_INDIRECT: u16 = 4;
    let frame_at = VU_BUFS;
    let mut img = vec![0u8; (VU_BUFS + 0x1000) as usize];
    // A 12-byte header and an Ethernet frame in the buffers.
    let eth = arp_request(eni_mac(A), ADDR_A, ROUTER_A);
    let off = (frame_at + 12) as usize;
    img[off..off + eth.len()].copy_from_slice(&eth);
    let flen = 12 + eth.len() as u32;
    // Transmit: 0 = whole frame; 1 → 2 = header, then frame; 3 = indirect table at 0x1c00.
    desc(&mut img, VU_TX_DESC, 0, frame_at, flen, 0, 0);
    desc(&mut img, VU_TX_DESC, 1, frame_at, 12, F_NEXT, 2);
    desc(&mut img, VU_TX_DESC, 2, frame_at + 12, flen - 12, 0, 0);
    desc(&mut img, VU_TX_DESC, 3, 0x1c00, 32, F_INDIRECT, 0);
    desc(&mut img, 0x1c00, 0, frame_at, 12, F_NEXT, 1);
    desc(&mut img, 0x1c00, 1, frame_at + 12, flen - 12, 0, 0);
    avail(&mut img, VU_TX_AVAIL, 3, &[0, 1, 3]);
    // Receive: four 1,536-byte buffers in the second region.
    for i in 0..4u16 {
        desc(
            &mut img,
            VU_RX_DESC,
            i,
            0x9800 + u64::from(i) * 0x600,
            1536,
            F_WRITE,
            0,
        );
    }
    avail(&mut img, VU_RX_AVAIL, 4, &[0, 1, 2, 3]);
    write(
        "vhost_user",
        "rings_mrg",
        &vu_rings(3, VU_F_HDR12 | VU_F_MRG, &img),
    );
    write("vhost_user", "rings_hdr10", &vu_rings(3, 0, &img));
    write(
        "vhost_user",
        "rings_event_idx",
        &vu_rings(3, VU_F_HDR12 | VU_F_EVENT_IDX, &img),
    );
    // A loop (4 → 5 → 4), an address in the hole, a length past the end of memory.
    let mut bad = img.clone();
    desc(&mut bad, VU_TX_DESC, 4, frame_at, 8, F_NEXT, 5);
    desc(&mut bad, VU_TX_DESC, 5, frame_at, 8, F_NEXT, 4);
    desc(&mut bad, VU_TX_DESC, 6, 0x8800, 100, 0, 0);
    desc(&mut bad, VU_TX_DESC, 7, 0x10000, 0x8000, 0, 0);
    avail(&mut bad, VU_TX_AVAIL, 4, &[4, 6, 7, 9]);
    write(
        "vhost_user",
        "rings_garbage",
        &vu_rings(3, VU_F_HDR12, &bad),
    );
    // The avail index far ahead of the ring.
    let mut ahead = img.clone();
    avail(&mut ahead, VU_TX_AVAIL, 0x8000, &[0]);
    avail(&mut ahead, VU_RX_AVAIL, 0xffff, &[0]);
    write(
        "vhost_user",
        "rings_ahead",
        &vu_rings(3, VU_F_HDR12 | VU_F_MRG, &ahead),
    );

    // Messages: QEMU's opening (GET_FEATURES, GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES,
    // GET_QUEUE_NUM, SET_OWNER, SET_FEATURES, GET_CONFIG, SET_VRING_NUM/BASE/ADDR/ENABLE).
    let mut m = vec![3u8];
    m.extend(vu_msg(1, &[]));
    m.extend(vu_msg(15, &[]));
    m.extend(vu_msg(16, &0x8203u64.to_le_bytes()));
    m.extend(vu_msg(17, &[]));
    m.extend(vu_msg(3, &[]));
    m.extend(vu_msg(18, &[0, 0, 0, 0, 1, 0, 0, 0]));
    m.extend(vu_msg(
        2,
        &((1u64 << 32) | (1 << 30) | (1 << 15)).to_le_bytes(),
    ));
    let mut cfg = vec![0u8; 12];
    cfg[4..8].copy_from_slice(&6u32.to_le_bytes());
    cfg.extend_from_slice(&[0; 6]);
    m.extend(vu_msg(24, &cfg));
    m.extend(vu_msg(8, &[0, 0, 0, 0, 0, 1, 0, 0]));
    m.extend(vu_msg(10, &[0; 8]));
    let mut addr = vec![0u8; 40];
    addr[8..16].copy_from_slice(&0x1000u64.to_le_bytes());
    addr[16..24].copy_from_slice(&0x2000u64.to_le_bytes());
    addr[24..32].copy_from_slice(&0x3000u64.to_le_bytes());
    m.extend(vu_msg(9, &addr));
    m.extend(vu_msg(18, &[0, 0, 0, 0, 1, 0, 0, 0]));
    write("vhost_user", "messages_opening", &m);
    // A memory table without its file descriptors; an unknown request; a short header.
    let mut t = vec![3u8];
    t.extend(vu_msg(1, &[]));
    let mut table = vec![1u8, 0, 0, 0, 0, 0, 0, 0];
    table.extend_from_slice(&0u64.to_le_bytes());
    table.extend_from_slice(&0x1_0000u64.to_le_bytes());
    table.extend_from_slice(&0x7f00_0000_0000u64.to_le_bytes());
    table.extend_from_slice(&0u64.to_le_bytes());
    t.extend(vu_msg(5, &table));
    t.extend(vu_msg(0xdead, &[1, 2, 3]));
    t.extend_from_slice(&[1, 0, 0]);
    write("vhost_user", "messages_garbage", &t);
}

fn main() {
    let addr_b = Ipv4Addr::new(10, 0, 2, 20);
    let host = Ipv4Addr::from(fixtures::INTERNET_HOST);
    let eip = Ipv4Addr::from(fixtures::NAT_EIP);
    let query = dns_query(0x4242, "db.corp.internal", 1, false);
    let discover = dhcp_message(1, eni_mac(A), &[]);
    let request = dhcp_message(3, eni_mac(A), &[50, 4, 10, 0, 1, 10, 54, 4, 10, 0, 1, 1]);
    let get = b"GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n";
    let put = b"PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\nContent-Length: 0\r\n\r\n";

    // frame_parse: frames as they come off a port (no virtio_net_hdr), and a super-frame.
    write(
        "frame_parse",
        "udp",
        &udp_from_a(addr_b, 5000, 6000, b"hello"),
    );
    write(
        "frame_parse",
        "tcp_syn",
        &tcp_from_a(addr_b, 40000, 80, 1, 0, 2, &[]),
    );
    write(
        "frame_parse",
        "arp",
        &arp_request(eni_mac(A), ADDR_A, ROUTER_A),
    );
    write(
        "frame_parse",
        "icmp",
        &icmp_echo(eni_mac(A), router_mac(0), ADDR_A, addr_b),
    );
    write("frame_parse", "gso_vnet", &gso_frame());

    // pipeline: byte 0 picks the fixture, then records (see `pipeline_record`).
    let tcp_conv = |fixture: u8, dst: Ipv4Addr| {
        let mut v = vec![fixture];
        v.extend(pipeline_record(
            0,
            &tcp_from_a(dst, 40000, 80, 100, 0, 2, &[]),
        ));
        v.extend(pipeline_record(
            0,
            &tcp_from_a(dst, 40000, 80, 101, 1, 16, &[]),
        ));
        v.extend(pipeline_record(
            0,
            &tcp_from_a(dst, 40000, 80, 101, 1, 24, b"GET / HTTP/1.0\r\n\r\n"),
        ));
        v.extend(pipeline_record(
            0x80 | 0x50,
            &tcp_from_a(dst, 40000, 80, 119, 1, 17, &[]),
        ));
        v
    };
    write("pipeline", "nat_tcp", &{
        let mut v = tcp_conv(0, host);
        // The answer from the internet on the uplink, to the NAT's Elastic IP.
        let back = PacketBuilder::ethernet2(INTERNET_HOST_MAC.0, IGW_MAC.0)
            .ipv4(host.octets(), eip.octets(), 64)
            .tcp(80, 1024, 5000, 64240)
            .syn()
            .ack(101);
        let mut f = Vec::new();
        let _ = back.write(&mut f, &[]);
        v.extend(pipeline_record(5, &f));
        v
    });
    write("pipeline", "east_west_tcp", &tcp_conv(1, addr_b));
    write("pipeline", "metadata_http", &{
        let mut v = vec![1];
        v.extend(pipeline_record(
            0,
            &tcp_from_a(METADATA, 40001, 80, 7, 0, 2, &[]),
        ));
        v.extend(pipeline_record(
            0,
            &tcp_from_a(METADATA, 40001, 80, 8, 1, 24, put),
        ));
        v.extend(pipeline_record(
            0,
            &tcp_from_a(METADATA, 40001, 80, 8 + put.len() as u32, 1, 24, get),
        ));
        v
    });
    write("pipeline", "services", &{
        let mut v = vec![1];
        v.extend(pipeline_record(
            0,
            &arp_request(eni_mac(A), ADDR_A, ROUTER_A),
        ));
        v.extend(pipeline_record(
            0,
            &udp(
                eni_mac(A),
                MacAddr([0xff; 6]),
                Ipv4Addr::UNSPECIFIED,
                Ipv4Addr::BROADCAST,
                68,
                67,
                &discover,
            ),
        ));
        v.extend(pipeline_record(
            0,
            &udp(
                eni_mac(A),
                MacAddr([0xff; 6]),
                Ipv4Addr::UNSPECIFIED,
                Ipv4Addr::BROADCAST,
                68,
                67,
                &request,
            ),
        ));
        v.extend(pipeline_record(0, &udp_from_a(RESOLVER, 53000, 53, &query)));
        v.extend(pipeline_record(
            0,
            &icmp_echo(eni_mac(A), router_mac(0), ADDR_A, ROUTER_A),
        ));
        v.extend(pipeline_record(
            2,
            &icmp_echo(eni_mac(B), router_mac(1), addr_b, ADDR_A),
        ));
        v.extend(pipeline_record(8, &gso_frame()));
        v
    });

    // dns: byte 0 (bit 7: TCP, bits 0..=4: its flags), then the DNS payload.
    let with_mode = |mode: u8, p: &[u8]| [&[mode][..], p].concat();
    write("dns", "a", &with_mode(0, &query));
    write(
        "dns",
        "a_edns",
        &with_mode(0, &dns_query(1, "www.corp.internal", 1, true)),
    );
    write(
        "dns",
        "ptr",
        &with_mode(0, &dns_query(2, "10.1.0.10.in-addr.arpa", 12, false)),
    );
    write(
        "dns",
        "instance",
        &with_mode(0, &dns_query(3, "ip-10-0-1-10.ec2.internal", 1, false)),
    );
    let mut tcp = (query.len() as u16).to_be_bytes().to_vec();
    tcp.extend_from_slice(&query);
    write("dns", "tcp", &with_mode(0x80 | 0x18, &tcp));
    write("dns", "tcp_syn", &with_mode(0x80 | 0x02, &[]));

    // dhcp: byte 0 (bit 0: to the router rather than broadcast), then the message.
    write("dhcp", "discover", &with_mode(0, &discover));
    write("dhcp", "request", &with_mode(0, &request));
    write(
        "dhcp",
        "inform",
        &with_mode(1, &dhcp_message(8, eni_mac(A), &[])),
    );

    write("metadata_http", "get", get);
    write("metadata_http", "put_token", put);
    write(
        "metadata_http",
        "post_body",
        b"POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
    );

    // stream_framing: length-prefixed frames, then a bad length or a partial one.
    let f1 = udp_from_a(addr_b, 1, 2, b"one");
    let f2 = icmp_echo(eni_mac(A), router_mac(0), ADDR_A, addr_b);
    let prefixed = |f: &[u8]| [&(f.len() as u32).to_be_bytes()[..], f].concat();
    write(
        "stream_framing",
        "two",
        &[prefixed(&f1), prefixed(&f2)].concat(),
    );
    write(
        "stream_framing",
        "garbage",
        &[prefixed(&f1), vec![0, 0, 0, 3, 1, 2, 3]].concat(),
    );
    write(
        "stream_framing",
        "partial",
        &[prefixed(&f1), prefixed(&f2)[..20].to_vec()].concat(),
    );

    // control_request: each request kind; an apply of both fixtures.
    write("control_request", "show", br#"{"op":"show"}"#);
    write("control_request", "shutdown", br#"{"op":"shutdown"}"#);
    write("control_request", "trace", br#"{"op":"trace","spec":{"from":"eni-a","dst":"10.0.2.20","protocol":"tcp","dst_port":80,"return_path":false}}"#);
    for (name, which) in [("apply_nat", 0), ("apply_middlebox", 1)] {
        let req = Request::Apply {
            config: Box::new(config(which)),
        };
        write(
            "control_request",
            name,
            &serde_json::to_vec(&req).expect("json"),
        );
    }

    // topology: the example topologies.
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    for dir in [examples.clone(), examples.join("tests")] {
        for e in std::fs::read_dir(&dir).expect("examples").flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".toml") && !name.ends_with(".test.toml") {
                write(
                    "topology",
                    &name,
                    &std::fs::read(e.path()).expect("example"),
                );
            }
        }
    }

    vhost_user_seeds();
}
