//! The instance metadata service (IMDS) at `http://169.254.169.254/`, as EC2 runs it:
//! `latest/meta-data/…`, `latest/dynamic/instance-identity/document`, IMDSv2 session
//! tokens (`PUT latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds`, then
//! `X-aws-ec2-metadata-token`), `http_tokens = "required"` refusing requests without a
//! token (401), and the token answer's IP hop limit (1 by default, so a token does not
//! reach a container behind the instance's bridge).
//!
//! The data plane terminates these TCP connections itself: each ENI that talks to the
//! service gets a [`stack::Stack`] (smoltcp's TCP on an in-process interface fed by the
//! pipeline, created on the first packet and dropped when idle). The pipeline sends it
//! what an ENI addresses to 169.254.169.254 (ahead of security groups and network ACLs,
//! never in flow logs, as AWS documents); what the stack answers leaves by the ENI's port
//! from the subnet router's MAC.
//!
//! Content ([`catalog`]) is read from the running tables at each request. Tokens
//! ([`token`]) are stateless: sealed with a [`TokenKey`] and checked by recomputing the
//! seal, so a token issued by one forwarding worker is valid on any worker whose service
//! holds a clone of the same key ([`MetadataService::set_token_key`]), it costs no
//! memory, and it survives an apply. It stays valid only on the instance that asked.

pub mod catalog;
pub mod http;
pub mod stack;
pub mod token;

use std::collections::HashMap;
use std::net::Ipv4Addr;

use crate::vpc::config::{EniIdx, MetadataOptions};
use crate::vpc::tables::Tables;

use catalog::{Catalog, Entry};
use http::{Method, Request};
use stack::{Activity, Reply, Stack};
use token::{Tokens, MAX_TTL_SECS};

pub use token::TokenKey;

/// The service's address.
pub const METADATA_IP: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
/// Endpoints (ENIs with a stack) at most; a new one beyond it is refused.
pub const MAX_STACKS: usize = 4096;
/// A stack without open connections and without traffic this long is dropped (ms).
pub const STACK_IDLE_MS: u64 = 30_000;

/// IP packets the service sends, with the ENI each goes to.
pub type Output = Vec<(EniIdx, Vec<u8>)>;

/// Every ENI's metadata endpoint, and the key its tokens are sealed with.
#[derive(Default)]
pub struct MetadataService {
    /// Stacks by ENI id (ids survive an apply; indexes may not).
    stacks: HashMap<String, Stack>,
    /// Issues and checks tokens (a key, random unless set; no per-token state).
    tokens: Tokens,
}

/// Why the service did not take a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No such ENI.
    NoEni,
    /// Too many endpoints, or the ENI's queue is full.
    Busy,
}

impl MetadataService {
    /// Takes the IP packet `packet` that ENI `eni` sent to 169.254.169.254:80, runs its
    /// stack at `now` (ms), and appends what the stack sends to `out`.
    pub fn input(
        &mut self,
        (t, epoch): (&Tables, u64),
        eni: EniIdx,
        packet: &[u8],
        now: u64,
        out: &mut Output,
    ) -> Result<Activity, Refused> {
        let cfg = t.config.enis.get(eni.idx()).ok_or(Refused::NoEni)?;
        if !self.stacks.contains_key(&cfg.id) {
            if self.stacks.len() >= MAX_STACKS {
                return Err(Refused::Busy);
            }
            let mtu = usize::try_from(cfg.mtu).unwrap_or(1500);
            self.stacks.insert(cfg.id.clone(), Stack::new(mtu, now));
        }
        let stack = self.stacks.get_mut(&cfg.id).ok_or(Refused::NoEni)?;
        if !stack.push(packet, now) {
            return Err(Refused::Busy);
        }
        let tokens = &mut self.tokens;
        tokens.serve(&catalog::instance_id(t, eni));
        let opts = cfg.instance.metadata;
        let cat = stack.catalog(t, epoch, eni);
        let act = stack.run(now, &mut |req| {
            respond(req, cat.as_ref(), opts, tokens, now)
        });
        stack.keep_catalog(epoch, cat);
        out.extend(stack.take_output().into_iter().map(|p| (eni, p)));
        Ok(act)
    }

    /// Runs every stack's timers (retransmissions, slow clients, closing), drops idle
    /// stacks, and appends what the stacks send to `out` and what they
    /// did, per ENI, to `acts`.
    pub fn poll(
        &mut self,
        (t, epoch): (&Tables, u64),
        now: u64,
        out: &mut Output,
        acts: &mut Vec<(EniIdx, Activity)>,
    ) {
        let tokens = &mut self.tokens;
        self.stacks.retain(|id, stack| {
            let Some(i) = t.config.enis.iter().position(|e| &e.id == id) else {
                return false;
            };
            let eni = EniIdx(i as u32);
            let opts = t.config.enis[i].instance.metadata;
            tokens.serve(&catalog::instance_id(t, eni));
            let cat = stack.catalog(t, epoch, eni);
            let a = stack.run(now, &mut |req| {
                respond(req, cat.as_ref(), opts, tokens, now)
            });
            stack.keep_catalog(epoch, cat);
            if a != Activity::default() {
                acts.push((eni, a));
            }
            out.extend(stack.take_output().into_iter().map(|p| (eni, p)));
            !(stack.idle() && now.saturating_sub(stack.last_seen) > STACK_IDLE_MS)
        });
    }

    /// Seals and checks tokens with `key` from now on. The daemon gives every forwarding
    /// worker's service a clone of one key, so a token issued by one worker is valid on
    /// all; without it each service has its own random key.
    pub fn set_token_key(&mut self, key: TokenKey) {
        self.tokens.set_key(key);
    }

    /// How many ENIs have an endpoint now.
    pub fn endpoints(&self) -> usize {
        self.stacks.len()
    }
}

/// The answer to one request of an instance whose metadata is `catalog` (as seen from
/// the ENI the request came in on); `tokens` serves that instance ([`Tokens::serve`]).
pub fn respond(
    req: &Request,
    catalog: Option<&Catalog>,
    opts: MetadataOptions,
    tokens: &mut Tokens,
    now: u64,
) -> Reply {
    let head = req.method == Method::Head;
    let plain = |status: u16, body: String| Reply {
        bytes: http::response(status, &body, head, req.close, &[]),
        status,
        hop_limit: None,
    };
    let error = |status: u16| plain(status, http::error_body(status));
    let path = req.path.trim_start_matches('/');
    if path == "latest/api/token" {
        if req.method != Method::Put {
            return error(405);
        }
        // A proxied request (X-Forwarded-For) gets no token: IMDSv2's guard against
        // open proxies on the instance.
        if req.forwarded {
            return error(403);
        }
        let ttl = match req.token_ttl.as_deref().map(str::parse::<u64>) {
            Some(Ok(s)) if (1..=MAX_TTL_SECS).contains(&s) => s,
            _ => return error(400),
        };
        let token = tokens.issue(now, ttl);
        return Reply {
            bytes: http::response(
                200,
                &token,
                false,
                req.close,
                &[("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", ttl.to_string())],
            ),
            status: 200,
            hop_limit: Some(opts.hop_limit.max(1)),
        };
    }
    if !matches!(req.method, Method::Get | Method::Head) {
        return error(405);
    }
    match req.token.as_deref() {
        Some(tok) if !tokens.valid(tok, now) => return error(401),
        None if opts.tokens_required => return error(401),
        _ => {}
    }
    if path.is_empty() {
        return plain(200, "latest".into());
    }
    let Some(rest) = path.strip_prefix("latest") else {
        return error(404);
    };
    let rest = rest.trim_matches('/');
    if rest.is_empty() {
        return plain(200, "dynamic\nmeta-data".into());
    }
    let Some(cat) = catalog else {
        return error(404);
    };
    match cat.get(rest) {
        Some(Entry::Leaf(v)) | Some(Entry::Dir(v)) => plain(200, v),
        None => error(404),
    }
}

#[cfg(test)]
mod tests;
