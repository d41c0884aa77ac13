//! The whole per-frame path: a data plane on in-memory ports, built from a seeded
//! topology (byte 0 picks it), fed several frames per input on arbitrary ports (see
//! [`vpcd_fuzz::pipeline_record`] for the record format), with the clock advanced and
//! state expired between frames, so connection tracking, NAT, the router's services
//! (DHCP, DNS, metadata) and the flow cache all see sequences.
#![no_main]

use dataplane::engine::port::PortIdx;
use dataplane::wire::vnet::VNET_HDR_LEN;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, mut rest)) = data.split_first() else {
        return;
    };
    let Ok(mut dp) = dataplane::fixtures::mem_dataplane(vpcd_fuzz::config(which & 1), 1024, false)
    else {
        return;
    };
    let ports = (0u32..16)
        .take_while(|&i| dp.port(PortIdx(i)).is_some())
        .count() as u32;
    let mut now = 1_000u64;
    dp.set_now(now);
    let mut frames = 0;
    while let [op, l0, l1, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*l0, *l1])).min(tail.len());
        let (bytes, next) = tail.split_at(len);
        rest = next;
        if op & 0x80 != 0 {
            now += 8u64.pow(u32::from((op >> 4) & 7));
            dp.set_now(now);
            dp.expire();
        }
        let port = PortIdx(u32::from(op & 7) % (ports + 1));
        let frame = if op & 8 != 0 {
            bytes.to_vec()
        } else {
            let mut f = vec![0u8; VNET_HDR_LEN];
            f.extend_from_slice(bytes);
            f
        };
        match dp.port_mut(port) {
            Some(p) => {
                p.rx.push_back(frame);
                let _ = dp.poll(port);
            }
            None => {
                // Not a port: the engine must ignore it.
                let mut buf = vec![0u8; dataplane::engine::buf::BUF_SIZE];
                let n = frame.len().min(buf.len());
                buf[..n].copy_from_slice(&frame[..n]);
                dp.process_in(port, &mut buf, n);
            }
        }
        frames += 1;
        if frames >= 64 {
            break;
        }
    }
    now += 3_600_000;
    dp.set_now(now);
    dp.expire();
});
