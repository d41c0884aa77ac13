//! The data plane as what the engine's run loop drives: its ports' descriptors, a batch
//! per ready port, and its timers.

use std::os::fd::{AsRawFd, RawFd};

use super::*;
use crate::engine::run::Driven;

impl<P: Port + AsRawFd> Driven for Dataplane<P> {
    type Port = P;

    fn poll(&mut self, port: PortIdx) -> std::io::Result<usize> {
        Dataplane::poll(self, port)
    }

    fn park(&mut self, port: PortIdx) -> Option<std::time::Duration> {
        self.take_pause(port)
    }

    fn housekeeping(&mut self) {
        self.expire();
        self.flush_sent();
    }

    fn port_fds(&self) -> Vec<(PortIdx, RawFd)> {
        // A negative descriptor: a port read by another worker (nothing to watch here).
        self.ports()
            .map(|(i, p)| (i, p.as_raw_fd()))
            .filter(|(_, fd)| *fd >= 0)
            .collect()
    }

    fn detach(&mut self, port: PortIdx) -> Option<P> {
        Dataplane::detach(self, port)
    }

    /// The resolver's upstream socket, number 0.
    fn extra_fds(&self) -> Vec<(u64, RawFd)> {
        self.upstream_fd().map(|fd| (0, fd)).into_iter().collect()
    }

    fn poll_extra(&mut self, id: u64) {
        if id == 0 {
            self.poll_upstream();
            self.flush_sent();
        }
    }
}
