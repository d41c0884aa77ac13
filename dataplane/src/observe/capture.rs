//! Packet capture: per-ENI pcap files that `tcpdump -r` and `tshark -r` read.
//!
//! A capture ([`CaptureConfig`]) sees an ENI's port the way `tcpdump` on the instance's
//! interface would: every frame the instance sends (as read from its port, also frames
//! the pipeline then drops) and every frame delivered to it (forwarded traffic, the VPC
//! router's answers, mirror copies when the ENI is a mirror target). Frames that pass
//! the capture's filter are written, cut to its snap length, as classic pcap records
//! (`LINKTYPE_ETHERNET`, microsecond timestamps, little-endian), without the
//! `virtio_net_hdr`. A GSO super-frame is written as the one (up to 64 KB) frame it is,
//! so its IP length is the super-frame's and its L4 checksum may be the partial one the
//! kernel left for offload (as `tcpdump` shows on a host with offloads on).
//!
//! Records collect in memory, whole; the engine hands them to the [`Writer`] thread, which
//! owns the file, from [`crate::datapath::Dataplane::expire`] (every 50 ms in `vpcd`) and
//! whenever a capture holds about half a megabyte. When the writer's queue is full the
//! batch is dropped and counted (the stats report's `capture_packets_dropped`; the
//! capture's own counters leave it out). When a configuration replaces or removes a
//! capture, or the engine is dropped, its last records wait for room in the queue, and an
//! apply that closes a capture returns once its file is complete. The file is created (and
//! its header written) when the capture starts, so that an apply reports a file that
//! cannot be opened at once. A file that cannot be opened or written is reported
//! (`tracing::warn!` once, and in `vpcctl show`) and the capture stops writing;
//! forwarding never fails because of a capture.

use std::fs::File;
use std::io::{self, Write};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::observe::writer::{Delivery, FileId, FileStatus, Kind, Writer};
use crate::vpc::config::{CaptureConfig, CaptureFilter, DataplaneConfig, EniIdx};
use crate::wire::ipv4::{PROTO_TCP, PROTO_UDP};
use crate::wire::{parse_frame, L3};

/// The pcap magic number (microsecond timestamps), written little-endian.
pub const PCAP_MAGIC: u32 = 0xa1b2_c3d4;
/// pcap format version 2.4.
pub const PCAP_VERSION: (u16, u16) = (2, 4);
/// `LINKTYPE_ETHERNET`.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Length of the pcap file header.
pub const FILE_HEADER_LEN: usize = 24;
/// Length of a pcap record header.
pub const RECORD_HEADER_LEN: usize = 16;
/// The largest snap length (libpcap's `MAXIMUM_SNAPLEN`, also the default).
pub const MAX_SNAPLEN: u32 = 262_144;
/// Most bytes of records a capture holds before handing them to the writer thread: twice
/// the largest record. Records go to the file whole, a batch in one write (a reader of
/// the growing file never sees half a record, except in the middle of that write).
const WRITE_BUFFER: usize = 2 * (RECORD_HEADER_LEN + MAX_SNAPLEN as usize);

/// The pcap file header for `snaplen`.
pub fn file_header(snaplen: u32) -> [u8; FILE_HEADER_LEN] {
    let mut h = [0u8; FILE_HEADER_LEN];
    h[0..4].copy_from_slice(&PCAP_MAGIC.to_le_bytes());
    h[4..6].copy_from_slice(&PCAP_VERSION.0.to_le_bytes());
    h[6..8].copy_from_slice(&PCAP_VERSION.1.to_le_bytes());
    // thiszone (8..12) and sigfigs (12..16) are 0.
    h[16..20].copy_from_slice(&snaplen.to_le_bytes());
    h[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    h
}

/// Writes one pcap record: `frame` (an Ethernet frame) cut to `snaplen`, stamped with
/// `ts_us` microseconds since the Unix epoch. Returns the bytes of the frame written.
pub fn write_record(
    w: &mut impl Write,
    ts_us: u64,
    frame: &[u8],
    snaplen: u32,
) -> io::Result<usize> {
    let incl = frame.len().min(snaplen as usize);
    let mut h = [0u8; RECORD_HEADER_LEN];
    h[0..4].copy_from_slice(&((ts_us / 1_000_000) as u32).to_le_bytes());
    h[4..8].copy_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
    h[8..12].copy_from_slice(&(incl as u32).to_le_bytes());
    h[12..16].copy_from_slice(&(u32::try_from(frame.len()).unwrap_or(u32::MAX)).to_le_bytes());
    w.write_all(&h)?;
    w.write_all(&frame[..incl])?;
    Ok(incl)
}

/// Whether `frame` (an Ethernet frame) passes `filter`: every field that is set must
/// match. A filter with a field set only matches IP packets; `port` only matches TCP and
/// UDP (a fragment after the first has no ports and does not match it).
pub fn filter_matches(filter: Option<&CaptureFilter>, frame: &[u8]) -> bool {
    let Some(f) = filter else { return true };
    if f.protocol.is_none() && f.host.is_none() && f.port.is_none() {
        return true;
    }
    let Ok(meta) = parse_frame(frame) else {
        return false;
    };
    let L3::Ip(ip) = meta.l3 else { return false };
    if f.protocol.is_some_and(|p| p != ip.proto) {
        return false;
    }
    if f.host
        .is_some_and(|h| !h.contains(&ip.src) && !h.contains(&ip.dst))
    {
        return false;
    }
    if let Some(p) = f.port {
        let ported = matches!(ip.proto, PROTO_TCP | PROTO_UDP) && !ip.later_fragment;
        if !ported || (ip.src_port != p && ip.dst_port != p) {
            return false;
        }
    }
    true
}

/// What `vpcctl show` reports of one capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureReport {
    /// The capture id.
    pub id: String,
    /// The ENI id.
    pub eni: String,
    /// The pcap file.
    pub path: String,
    /// Packets written (handed to the writer thread; not those it dropped because its
    /// queue was full).
    pub packets: u64,
    /// Frame bytes written (after the snap length).
    pub bytes: u64,
    /// Times the file could not be opened or written (each stops the capture until an
    /// apply opens it again).
    #[serde(default)]
    pub errors: u64,
    /// Why the capture stopped writing (the file could not be opened or written).
    pub error: Option<String>,
}

/// One running capture.
struct Capture {
    config: CaptureConfig,
    /// The ENI's id, to recognise the same capture in a new configuration.
    eni_id: String,
    /// The file, owned by the writer thread (`None`: it could not be opened).
    out: Option<FileId>,
    /// Failures opening or writing the file (the writer thread records its own).
    status: Arc<FileStatus>,
    writer: Writer,
    /// Records not yet handed to the writer thread, with their packets and frame bytes.
    pending: Vec<u8>,
    pending_packets: u64,
    pending_bytes: u64,
    packets: u64,
    bytes: u64,
}

impl Capture {
    /// Creates (truncates) the file, writes its header and hands it to `writer`.
    fn open(config: CaptureConfig, eni_id: String, writer: &Writer) -> Capture {
        let mut c = Capture {
            config,
            eni_id,
            out: None,
            status: Arc::new(FileStatus::default()),
            writer: writer.clone(),
            pending: Vec::new(),
            pending_packets: 0,
            pending_bytes: 0,
            packets: 0,
            bytes: 0,
        };
        let snaplen = c.snaplen();
        let opened = File::create(&c.config.path)
            .and_then(|mut f| {
                f.write_all(&file_header(snaplen))?;
                Ok(f)
            })
            .and_then(|f| {
                writer
                    .open(
                        f,
                        Kind::Capture,
                        &c.config.id,
                        &c.config.path,
                        Some(c.status.clone()),
                    )
                    .map_err(io::Error::other)
            });
        match opened {
            Ok(id) => c.out = Some(id),
            Err(e) => c.fail_to_open(&e),
        }
        c
    }

    fn snaplen(&self) -> u32 {
        match self.config.snaplen {
            0 => MAX_SNAPLEN,
            n => n.min(MAX_SNAPLEN),
        }
    }

    fn fail_to_open(&mut self, e: &io::Error) {
        tracing::warn!(
            capture = %self.config.id,
            path = %self.config.path,
            error = %e,
            "packet capture stopped: opening the file failed"
        );
        self.status
            .fail(format!("opening {}: {e}", self.config.path));
    }

    /// Whether frames are recorded: the file is open and no write failed.
    #[inline]
    fn writing(&self) -> bool {
        self.out.is_some() && !self.status.failed()
    }

    fn write(&mut self, ts_us: u64, frame: &[u8]) {
        let snaplen = self.snaplen();
        let need = RECORD_HEADER_LEN + frame.len().min(snaplen as usize);
        if self.pending.len() + need > WRITE_BUFFER {
            self.hand_over(Delivery::DropIfFull);
        }
        // Writing to a Vec cannot fail.
        if let Ok(n) = write_record(&mut self.pending, ts_us, frame, snaplen) {
            self.packets += 1;
            self.bytes += n as u64;
            self.pending_packets += 1;
            self.pending_bytes += n as u64;
        }
    }

    /// Hands the pending records to the writer thread; dropped ones leave the counters.
    fn hand_over(&mut self, how: Delivery) {
        if self.pending.is_empty() {
            return;
        }
        let bytes = std::mem::take(&mut self.pending);
        let (packets, frame_bytes) = (self.pending_packets, self.pending_bytes);
        self.pending_packets = 0;
        self.pending_bytes = 0;
        let queued = match self.out {
            Some(id) if !self.status.failed() => self.writer.pcap_bytes(id, bytes, packets, how),
            _ => false,
        };
        if !queued {
            self.packets -= packets;
            self.bytes -= frame_bytes;
        }
    }

    fn flush(&mut self) {
        self.hand_over(Delivery::DropIfFull);
    }

    /// Whether `new` (for ENI `eni_id`) can keep writing this capture's file: same
    /// file, same snap length (the file header holds it), same ENI.
    fn continues_as(&self, new: &CaptureConfig, eni_id: &str) -> bool {
        self.config.path == new.path
            && self.config.snaplen == new.snaplen
            && self.eni_id == eni_id
            && self.writing()
    }
}

impl Drop for Capture {
    /// Hands the last records over (waiting for room in the queue) and closes the file.
    fn drop(&mut self) {
        self.hand_over(Delivery::Wait);
        if let Some(id) = self.out.take() {
            self.writer.close(id);
        }
    }
}

/// Every capture of the running configuration, indexed by ENI.
#[derive(Default)]
pub struct Captures {
    list: Vec<Capture>,
    /// Per ENI index: the captures on it (indices into `list`).
    by_eni: Vec<Vec<u32>>,
}

impl Captures {
    /// The captures of `config`, written by `writer`'s thread. A capture of `old` with the
    /// same id, ENI, file and snap length goes on writing its file with its counters (a
    /// new filter applies from now); every other capture of `old` is closed, its file
    /// complete when this returns, and new ones create (truncate) their files. Indices
    /// must have been checked (`Tables::build` does).
    pub fn rebuild(mut old: Captures, config: &DataplaneConfig, writer: &Writer) -> Captures {
        let eni_id = |i: EniIdx| {
            config
                .enis
                .get(i.idx())
                .map_or_else(String::new, |e| e.id.clone())
        };
        let mut list = Vec::with_capacity(config.captures.len());
        for c in &config.captures {
            let id = eni_id(c.eni);
            let kept = old
                .list
                .iter()
                .position(|o| o.config.id == c.id && o.continues_as(c, &id))
                .map(|i| old.list.swap_remove(i));
            list.push(match kept {
                Some(mut k) => {
                    k.config = c.clone();
                    k
                }
                None => {
                    // Close an old capture of the same file first (a changed snap length
                    // or ENI): its buffered records land before the file is truncated.
                    if let Some(i) = old.list.iter().position(|o| o.config.path == c.path) {
                        let o = old.list.swap_remove(i);
                        let w = o.writer.clone();
                        drop(o);
                        w.sync();
                    }
                    Capture::open(c.clone(), id, writer)
                }
            });
        }
        // The rest is closed: complete files when the apply returns.
        if !old.list.is_empty() {
            let writers: Vec<Writer> = old.list.iter().map(|o| o.writer.clone()).collect();
            old.list.clear();
            for w in writers {
                w.sync();
            }
        }
        let mut by_eni = vec![Vec::new(); config.enis.len()];
        for (i, c) in list.iter().enumerate() {
            if let Some(v) = by_eni.get_mut(c.config.eni.idx()) {
                v.push(i as u32);
            }
        }
        Captures { list, by_eni }
    }

    /// Whether any capture is configured.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Records `frame` (an Ethernet frame, without the `virtio_net_hdr`) in the captures
    /// of ENI `eni` whose filter it passes.
    pub fn frame(&mut self, eni: EniIdx, frame: &[u8]) {
        let Some(caps) = self.by_eni.get(eni.idx()) else {
            return;
        };
        if caps.is_empty() {
            return;
        }
        let mut ts_us = None;
        for &i in caps {
            let Some(c) = self.list.get_mut(i as usize) else {
                continue;
            };
            if !c.writing() || !filter_matches(c.config.filter.as_ref(), frame) {
                continue;
            }
            let ts = *ts_us.get_or_insert_with(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_micros() as u64)
            });
            c.write(ts, frame);
        }
    }

    /// Hands the records collected so far to the writer thread (never waits: what does
    /// not fit in its queue is dropped and counted).
    pub fn flush(&mut self) {
        for c in &mut self.list {
            c.flush();
        }
    }

    /// The captures' state, in configuration order.
    pub fn report(&self) -> Vec<CaptureReport> {
        self.list
            .iter()
            .map(|c| CaptureReport {
                id: c.config.id.clone(),
                eni: c.eni_id.clone(),
                path: c.config.path.clone(),
                packets: c.packets,
                bytes: c.bytes,
                errors: c.status.errors(),
                error: c.status.error(),
            })
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One record of a pcap file.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) struct Record {
        pub ts_us: u64,
        pub orig_len: u32,
        pub data: Vec<u8>,
    }

    /// A small pcap reader: (snaplen, linktype, records); checks the header.
    pub(crate) fn read_pcap(b: &[u8]) -> (u32, u32, Vec<Record>) {
        let u32le = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        let u16le = |o: usize| u16::from_le_bytes(b[o..o + 2].try_into().unwrap());
        assert!(b.len() >= FILE_HEADER_LEN, "no pcap header");
        assert_eq!(u32le(0), 0xa1b2_c3d4, "magic");
        assert_eq!((u16le(4), u16le(6)), (2, 4), "version");
        assert_eq!(u32le(8), 0, "thiszone");
        assert_eq!(u32le(12), 0, "sigfigs");
        let (snaplen, linktype) = (u32le(16), u32le(20));
        let mut out = Vec::new();
        let mut o = FILE_HEADER_LEN;
        while o < b.len() {
            assert!(o + RECORD_HEADER_LEN <= b.len(), "truncated record header");
            let (sec, usec, incl, orig) = (u32le(o), u32le(o + 4), u32le(o + 8), u32le(o + 12));
            assert!(usec < 1_000_000);
            assert!(incl <= orig && incl <= snaplen);
            let start = o + RECORD_HEADER_LEN;
            let end = start + incl as usize;
            assert!(end <= b.len(), "truncated record");
            out.push(Record {
                ts_us: u64::from(sec) * 1_000_000 + u64::from(usec),
                orig_len: orig,
                data: b[start..end].to_vec(),
            });
            o = end;
        }
        (snaplen, linktype, out)
    }

    fn udp_frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, len: usize) -> Vec<u8> {
        let mut v = Vec::new();
        etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [6, 0, 0, 0, 1, 1])
            .ipv4(src, dst, 64)
            .udp(sport, dport)
            .write(&mut v, &vec![0xab; len])
            .unwrap();
        v
    }

    #[test]
    fn records_round_trip_and_are_cut_to_the_snap_length() {
        let mut b = file_header(64).to_vec();
        let f = udp_frame([10, 0, 1, 10], [10, 0, 2, 20], 1000, 53, 100);
        assert_eq!(
            write_record(&mut b, 1_700_000_000_123_456, &f, 64).unwrap(),
            64
        );
        write_record(&mut b, 1_700_000_001_000_000, &f[..40], 64).unwrap();
        let (snap, link, recs) = read_pcap(&b);
        assert_eq!((snap, link), (64, LINKTYPE_ETHERNET));
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].ts_us, 1_700_000_000_123_456);
        assert_eq!(recs[0].orig_len as usize, f.len());
        assert_eq!(recs[0].data, f[..64]);
        assert_eq!(recs[1].orig_len, 40);
        assert_eq!(recs[1].data, f[..40]);
        // The exact bytes of the header (what libpcap expects on a little-endian file).
        assert_eq!(
            &b[..24],
            &[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 1, 0, 0, 0]
        );
    }

    #[test]
    fn filters_match_every_field_that_is_set() {
        let f = udp_frame([10, 0, 1, 10], [10, 0, 2, 20], 1000, 53, 10);
        let flt = |protocol, host: Option<&str>, port| CaptureFilter {
            protocol,
            host: host.map(|h| h.parse().unwrap()),
            port,
        };
        assert!(filter_matches(None, &f));
        assert!(filter_matches(Some(&flt(None, None, None)), &f));
        assert!(filter_matches(Some(&flt(Some(17), None, None)), &f));
        assert!(!filter_matches(Some(&flt(Some(6), None, None)), &f));
        assert!(filter_matches(
            Some(&flt(None, Some("10.0.2.0/24"), None)),
            &f
        ));
        assert!(filter_matches(
            Some(&flt(None, Some("10.0.1.10/32"), None)),
            &f
        ));
        assert!(!filter_matches(
            Some(&flt(None, Some("10.0.3.0/24"), None)),
            &f
        ));
        assert!(filter_matches(Some(&flt(None, None, Some(53))), &f));
        assert!(filter_matches(Some(&flt(None, None, Some(1000))), &f));
        assert!(!filter_matches(Some(&flt(None, None, Some(80))), &f));
        assert!(filter_matches(
            Some(&flt(Some(17), Some("10.0.0.0/16"), Some(53))),
            &f
        ));
        assert!(!filter_matches(
            Some(&flt(Some(17), Some("10.9.0.0/16"), Some(53))),
            &f
        ));
        // ARP passes an empty filter only.
        let mut arp = Vec::new();
        etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [0xff; 6])
            .arp(
                etherparse::ArpPacket::new(
                    etherparse::ArpHardwareId::ETHERNET,
                    etherparse::EtherType::IPV4,
                    etherparse::ArpOperation::REQUEST,
                    &[2, 0, 0, 0, 0, 1],
                    &[10, 0, 1, 10],
                    &[0; 6],
                    &[10, 0, 1, 1],
                )
                .unwrap(),
            )
            .write(&mut arp)
            .unwrap();
        assert!(filter_matches(None, &arp));
        assert!(!filter_matches(Some(&flt(None, None, Some(53))), &arp));
        assert!(!filter_matches(
            Some(&flt(None, Some("0.0.0.0/0"), None)),
            &arp
        ));
        // ICMP has no ports, whatever its type/code field says.
        let mut icmp = Vec::new();
        etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [6, 0, 0, 0, 1, 1])
            .ipv4([10, 0, 1, 10], [10, 0, 2, 20], 64)
            .icmpv4_echo_request(0x0050, 0x0050)
            .write(&mut icmp, b"x")
            .unwrap();
        assert!(!filter_matches(Some(&flt(None, None, Some(0x0050))), &icmp));
        assert!(!filter_matches(Some(&flt(None, None, Some(0x0800))), &icmp));
    }

    #[test]
    fn an_unwritable_file_is_reported_not_fatal() {
        let mut c = crate::fixtures::two_subnets_and_middlebox();
        c.captures.push(CaptureConfig {
            id: "cap-x".into(),
            eni: EniIdx(0),
            path: "/nonexistent-dir-for-vpcd-tests/x.pcap".into(),
            snaplen: 100,
            filter: None,
        });
        let mut caps = Captures::rebuild(Captures::default(), &c, &Writer::default());
        caps.frame(
            EniIdx(0),
            &udp_frame([10, 0, 1, 10], [10, 0, 2, 20], 1, 2, 3),
        );
        let r = caps.report();
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].packets, r[0].errors), (0, 1));
        assert!(r[0].error.as_deref().unwrap().contains("opening"), "{r:?}");
    }
}
