//! A VM's serial console as seen from the host: everything QEMU's stdout carried, with waits for
//! text to appear (a condition variable, no polling).

use std::fs::File;
use std::io::{Read, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Instant;

/// How much console output is kept in memory (older output stays in the log file only).
const KEEP: usize = 4 * 1024 * 1024;

#[derive(Debug, Default)]
struct State {
    /// Output with `\r` removed; `text[0]` is byte number `base` of the whole stream.
    text: Vec<u8>,
    base: usize,
    eof: bool,
}

/// Shared between the reader thread and [`super::Vm`].
#[derive(Debug, Default)]
pub(crate) struct Console {
    state: Mutex<State>,
    grew: Condvar,
}

/// What a wait ended with.
pub(crate) enum Found {
    /// The pattern ends at this stream offset (exclusive) and starts at `.1`.
    At(usize, usize),
    /// The stream ended first.
    Eof,
    /// The deadline passed first.
    Deadline,
}

impl Console {
    /// Starts the thread that copies `stdout` into the buffer and into `log`.
    pub(crate) fn start<R: Read + Send + 'static>(
        stdout: R,
        log: Option<File>,
    ) -> (Arc<Console>, JoinHandle<()>) {
        let console = Arc::new(Console::default());
        let c = console.clone();
        let handle = thread::spawn(move || c.pump(stdout, log));
        (console, handle)
    }

    fn pump<R: Read>(&self, mut stdout: R, mut log: Option<File>) {
        let mut buf = [0u8; 4096];
        loop {
            let n = match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if let Some(f) = log.as_mut() {
                if f.write_all(&buf[..n]).is_err() {
                    log = None;
                }
            }
            let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            st.text.extend(buf[..n].iter().filter(|&&b| b != b'\r'));
            if st.text.len() > KEEP {
                let cut = st.text.len() - KEEP;
                st.text.drain(..cut);
                st.base += cut;
            }
            drop(st);
            self.grew.notify_all();
        }
        self.state.lock().unwrap_or_else(|p| p.into_inner()).eof = true;
        self.grew.notify_all();
    }

    /// The current end of the stream (an offset to search from).
    pub(crate) fn end(&self) -> usize {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.base + st.text.len()
    }

    /// Waits until `pattern` appears at or after stream offset `from`.
    pub(crate) fn wait_for(&self, pattern: &[u8], from: usize, deadline: Instant) -> Found {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let start = from.saturating_sub(st.base).min(st.text.len());
            if let Some(i) = find(&st.text[start..], pattern) {
                let at = st.base + start + i;
                return Found::At(at + pattern.len(), at);
            }
            if st.eof {
                return Found::Eof;
            }
            let now = Instant::now();
            if now >= deadline {
                return Found::Deadline;
            }
            st = self
                .grew
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// The text between two stream offsets (lossy UTF-8; empty if it fell out of memory).
    pub(crate) fn slice(&self, from: usize, to: usize) -> String {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let a = from.saturating_sub(st.base).min(st.text.len());
        let b = to.saturating_sub(st.base).min(st.text.len()).max(a);
        String::from_utf8_lossy(&st.text[a..b]).into_owned()
    }

    /// The last `n` lines of the output.
    pub(crate) fn tail(&self, n: usize) -> String {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        crate::process::last_lines(&String::from_utf8_lossy(&st.text), n)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}
