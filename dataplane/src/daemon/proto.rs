//! The control protocol between `vpcctl` and `vpcd`: one JSON object per line over a Unix
//! stream socket (mode 0600), one request and one response per connection. Every message
//! carries the protocol version (`"version": 1`, [`VERSION`]) next to its fields; a peer of
//! another version is refused with a message that says which versions meet.

use serde::{Deserialize, Serialize};

use crate::observe::stats::StatsReport;
use crate::observe::trace::{TraceReport, TraceSpec};
use crate::vpc::config::DataplaneConfig;

/// The protocol version this build speaks.
pub const VERSION: u32 = 1;

/// A message with its protocol version (absent: an unversioned peer, version 0).
#[derive(Debug, Serialize, Deserialize)]
struct Envelope<T> {
    #[serde(default)]
    version: u32,
    #[serde(flatten)]
    body: T,
}

/// Why a message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    /// The peer speaks another protocol version.
    #[error("protocol version {theirs} (this {side} speaks {VERSION}): use vpcctl and vpcd from the same build")]
    Version {
        /// The peer's version (0: none given).
        theirs: u32,
        /// Which side is reading (`vpcd` or `vpcctl`).
        side: &'static str,
    },
    /// Not a message of the protocol.
    #[error("malformed message: {0}")]
    Malformed(#[from] serde_json::Error),
}

/// The version a JSON object gives (0 when it has none); an error when the line is not
/// JSON at all.
fn version_of(line: &[u8]) -> Result<u32, serde_json::Error> {
    #[derive(Deserialize)]
    struct V {
        #[serde(default)]
        version: u32,
    }
    serde_json::from_slice::<V>(line).map(|v| v.version)
}

fn decode<T: serde::de::DeserializeOwned>(
    line: &[u8],
    side: &'static str,
) -> Result<T, ProtoError> {
    let theirs = version_of(line)?;
    if theirs != VERSION {
        return Err(ProtoError::Version { theirs, side });
    }
    Ok(serde_json::from_slice::<Envelope<T>>(line)?.body)
}

fn encode<T: Serialize>(body: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string(&Envelope {
        version: VERSION,
        body,
    })
}

/// A request as one JSON line (without the newline).
pub fn encode_request(r: &Request) -> Result<String, serde_json::Error> {
    encode(r)
}

/// The request in `line` (vpcd's side); a message error names what is wrong.
pub fn decode_request(line: &[u8]) -> Result<Request, String> {
    decode(line, "vpcd").map_err(|e| match e {
        ProtoError::Malformed(e) => format!("malformed request: {e}"),
        e => e.to_string(),
    })
}

/// A response as one JSON line (without the newline).
pub fn encode_response(r: &Response) -> Result<String, serde_json::Error> {
    encode(r)
}

/// The response in `line` (vpcctl's side).
pub fn decode_response(line: &[u8]) -> Result<Response, ProtoError> {
    decode(line, "vpcctl")
}

/// A request from `vpcctl` to `vpcd`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Replace the running configuration atomically.
    Apply {
        /// The compiled topology.
        config: Box<DataplaneConfig>,
    },
    /// Report the running configuration, ports and counters.
    Show,
    /// Trace a described packet through the pipeline without disturbing anything.
    Trace {
        /// The packet.
        spec: TraceSpec,
    },
    /// Stop forwarding, remove every TAP and exit.
    Shutdown,
}

/// The answer of `vpcd` to a [`Request`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Response {
    /// The configuration was applied; traffic now runs under this epoch.
    Applied {
        /// The new configuration epoch.
        epoch: u64,
        /// Problems found after the commit (an attachment that could not be finished);
        /// the configuration runs regardless, and the next apply retries them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<String>,
    },
    /// The request was refused; the running configuration is unchanged.
    Rejected {
        /// Why, one line per problem.
        errors: Vec<String>,
    },
    /// The running state.
    State(Box<StatsReport>),
    /// The answer to [`Request::Trace`].
    Trace(Box<TraceReport>),
    /// Done (shutdown acknowledged).
    Ok,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_the_version_and_round_trip() {
        let line = encode_request(&Request::Show).unwrap();
        assert!(line.contains("\"version\":1"), "{line}");
        assert!(matches!(decode_request(line.as_bytes()), Ok(Request::Show)));
        let line = encode_response(&Response::Applied {
            epoch: 3,
            warnings: vec!["w".into()],
        })
        .unwrap();
        match decode_response(line.as_bytes()).unwrap() {
            Response::Applied { epoch, warnings } => {
                assert_eq!((epoch, warnings.len()), (3, 1));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn another_version_or_garbage_is_refused_with_a_message() {
        let e = decode_request(br#"{"op":"show"}"#).unwrap_err();
        assert!(
            e.contains("protocol version 0") && e.contains("same build"),
            "{e}"
        );
        let e = decode_request(br#"{"version":2,"op":"show"}"#).unwrap_err();
        assert!(e.contains("protocol version 2"), "{e}");
        let e = decode_request(br#"{"version":1,"op":"dance"}"#).unwrap_err();
        assert!(e.starts_with("malformed request"), "{e}");
        for junk in [&b""[..], b"\xff\xfe", b"[1,2", b"hello", b"{\"version\":1}"] {
            let e = decode_request(junk).unwrap_err();
            assert!(e.starts_with("malformed request"), "{e}");
        }
    }
}
