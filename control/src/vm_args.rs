//! `vpcctl vm-args ENI`: the QEMU arguments that attach a guest to a `qemu-stream` ENI —
//! a `-netdev stream` client on the ENI's socket and a `virtio-net-pci` device with the
//! ENI's MAC (any other MAC is dropped by the source check).

use dataplane::vpc::config::{AttachmentKind, EniConfig};

/// Why an ENI has no QEMU arguments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VmArgsError {
    /// The configuration has no such ENI.
    #[error("no ENI `{0}` in the configuration")]
    NoSuchEni(String),
    /// The ENI is not attached through a socket a guest connects to.
    #[error("{0} is not a qemu-stream ENI (set attachment = \"qemu-stream\" on it)")]
    NotStream(String),
}

/// The `-netdev`/`-device` id for ENI `id`: the id itself with characters QEMU does not
/// take in ids replaced by `_`, and a leading `n` when it does not start with a letter.
pub fn netdev_id(id: &str) -> String {
    let mut s: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        s.insert(0, 'n');
    }
    s
}

/// The QEMU arguments for ENI `eni`: `-netdev stream,id=ID,server=off,addr.type=unix,
/// addr.path=SOCKET -device virtio-net-pci,netdev=ID,mac=MAC,romfile=` (a `,` in the path
/// doubled, as QEMU's option syntax wants).
pub fn qemu_args(enis: &[EniConfig], eni: &str) -> Result<Vec<String>, VmArgsError> {
    let e = enis
        .iter()
        .find(|e| e.id == eni)
        .ok_or_else(|| VmArgsError::NoSuchEni(eni.to_string()))?;
    let Some(AttachmentKind::QemuStream { socket }) = e.attachment.as_ref().map(|a| &a.kind) else {
        return Err(VmArgsError::NotStream(eni.to_string()));
    };
    let id = netdev_id(&e.id);
    let path = socket.display().to_string().replace(',', ",,");
    Ok(vec![
        "-netdev".into(),
        format!("stream,id={id},server=off,addr.type=unix,addr.path={path}"),
        "-device".into(),
        format!("virtio-net-pci,netdev={id},mac={},romfile=", e.mac),
    ])
}

/// `args` as one line for a POSIX shell: an argument with characters outside
/// `[A-Za-z0-9_./:=,@%+-]` is single-quoted.
pub fn shell_line(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_./:=,@%+-".contains(c));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataplane::vpc::config::Attachment;

    #[test]
    fn args_name_the_socket_and_the_enis_mac() {
        let mut c = dataplane::fixtures::two_subnets_and_middlebox();
        c.enis[0].attachment = Some(Attachment::qemu_stream("/run/vpcd/a,b.sock"));
        let id = c.enis[0].id.clone();
        let args = qemu_args(&c.enis, &id).unwrap();
        assert_eq!(args[0], "-netdev");
        assert!(args[1].starts_with(&format!("stream,id={},server=off", netdev_id(&id))));
        assert!(
            args[1].ends_with("addr.path=/run/vpcd/a,,b.sock"),
            "{}",
            args[1]
        );
        assert!(args[3].contains(&format!("mac={}", c.enis[0].mac)));
        assert!(args[3].ends_with(",romfile="));
        let other = c.enis[1].id.clone();
        assert_eq!(
            qemu_args(&c.enis, &other),
            Err(VmArgsError::NotStream(other))
        );
        assert!(matches!(
            qemu_args(&c.enis, "eni-none"),
            Err(VmArgsError::NoSuchEni(_))
        ));
        assert_eq!(netdev_id("1 x"), "n1_x");
        assert_eq!(
            shell_line(&["-a".into(), "b c".into(), "it's".into()]),
            r"-a 'b c' 'it'\''s'"
        );
    }
}
