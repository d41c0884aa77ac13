//! The QEMU `-netdev stream` framing (4-byte big-endian length, then the frame): the pure
//! parser on arbitrary bytes, and the same bytes sent through a real `StreamPort` (a Unix
//! socket), whose reassembly must return exactly the frames the parser finds, then drop
//! the connection at the first bad length.
#![no_main]

use std::cell::RefCell;
use std::io::Write;
use std::os::unix::net::UnixStream;

use dataplane::sys::stream::{next_frame, Next, StreamPort};
use dataplane::wire::vnet::VNET_HDR_LEN;
use libfuzzer_sys::fuzz_target;

thread_local! {
    static PORT: RefCell<Option<StreamPort>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    // The parser alone.
    let mut frames = Vec::new();
    let mut rest = data;
    let garbage = loop {
        match next_frame(rest) {
            Next::Frame(r) => {
                assert!(r.end <= rest.len() && r.start == 4);
                frames.push(&rest[r.clone()]);
                rest = &rest[r.end..];
            }
            Next::Garbage => break true,
            Next::More => break false,
        }
    };
    // The socket: everything written at once (what fits the socket's buffer unread),
    // then the guest leaves.
    if data.len() > 64 * 1024 {
        return;
    }
    PORT.with(|p| {
        let mut p = p.borrow_mut();
        let port = p.get_or_insert_with(|| {
            let path = std::env::temp_dir().join(format!("vpcd-fuzz-{}.sock", std::process::id()));
            StreamPort::bind(&path).expect("bind a stream socket")
        });
        let before = port.stats();
        let mut guest = UnixStream::connect(port.path()).expect("connect");
        if guest.write_all(data).is_err() {
            return;
        }
        drop(guest);
        let mut buf = vec![0u8; dataplane::engine::buf::BUF_SIZE];
        let mut got = 0;
        for _ in 0..10_000 {
            match port.recv_frame(&mut buf) {
                Ok(Some(n)) => {
                    assert!(got < frames.len(), "more frames than the parser found");
                    assert_eq!(&buf[VNET_HDR_LEN..n], frames[got]);
                    got += 1;
                }
                Ok(None) if port.stats().disconnects > before.disconnects => break,
                Ok(None) | Err(_) => {}
            }
        }
        assert_eq!(got, frames.len(), "frames lost in reassembly");
        assert_eq!(port.stats().garbage > before.garbage, garbage);
    });
});
