//! `vpcctl vm-args ENI`: the QEMU arguments that attach a guest to a `qemu-stream` or
//! `vhost-user` ENI — a `-netdev stream` client on the ENI's socket, or a `-chardev socket`
//! with a `-netdev vhost-user` on it — and a `virtio-net-pci` device with the ENI's MAC
//! (any other MAC is dropped by the source check).
//!
//! vhost-user needs the guest's RAM shared with vpcd: the arguments include
//! `-object memory-backend-memfd,id=mem,size=<RAM>M,share=on -numa node,memdev=mem`, whose
//! size must equal QEMU's `-m` (QEMU refuses to start otherwise). One such backend per VM:
//! a VM with two vhost-user ENIs keeps one copy of those two options.
//!
//! Under TCG (no KVM), QEMU 7.2 crashes when a vhost back end starts on a device with
//! MSI-X (`msix_set_vector_notifiers` without irqfd); appending `,vectors=0` to the
//! `-device` value (legacy INTx) avoids it. That is a workaround for the emulator, not part
//! of the ENI's arguments, so it is not printed.

use dataplane::vpc::config::{AttachmentKind, EniConfig};

/// Why an ENI has no QEMU arguments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VmArgsError {
    /// The configuration has no such ENI.
    #[error("no ENI `{0}` in the configuration")]
    NoSuchEni(String),
    /// The ENI is not attached through a socket a guest connects to.
    #[error("{0} is not attached to a QEMU guest (set attachment = \"qemu-stream\" or \"vhost-user\" on it)")]
    NotGuest(String),
}

/// The guest RAM `vpcctl vm-args` sizes the shared memory of a vhost-user ENI for when
/// not told otherwise (MiB; QEMU's `-m` must be the same).
pub const DEFAULT_MEMORY_MIB: u32 = 256;

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

/// The QEMU arguments for ENI `eni` (a `,` in the socket's path doubled, as QEMU's option
/// syntax wants):
/// - `qemu-stream`: `-netdev stream,id=ID,server=off,addr.type=unix,addr.path=SOCKET
///   -device virtio-net-pci,netdev=ID,mac=MAC,romfile=`;
/// - `vhost-user`: `-chardev socket,id=ID-chr,path=SOCKET -netdev
///   vhost-user,id=ID,chardev=ID-chr -device virtio-net-pci,netdev=ID,mac=MAC,romfile=
///   -object memory-backend-memfd,id=mem,size=<memory_mib>M,share=on -numa node,memdev=mem`
///   (the guest's `-m` must be `memory_mib`).
pub fn qemu_args(
    enis: &[EniConfig],
    eni: &str,
    memory_mib: u32,
) -> Result<Vec<String>, VmArgsError> {
    let e = enis
        .iter()
        .find(|e| e.id == eni)
        .ok_or_else(|| VmArgsError::NoSuchEni(eni.to_string()))?;
    let id = netdev_id(&e.id);
    let device = format!("virtio-net-pci,netdev={id},mac={},romfile=", e.mac);
    let path = |socket: &std::path::Path| socket.display().to_string().replace(',', ",,");
    match e.attachment.as_ref().map(|a| &a.kind) {
        Some(AttachmentKind::QemuStream { socket }) => Ok(vec![
            "-netdev".into(),
            format!(
                "stream,id={id},server=off,addr.type=unix,addr.path={}",
                path(socket)
            ),
            "-device".into(),
            device,
        ]),
        Some(AttachmentKind::VhostUser { socket }) => Ok(vec![
            "-chardev".into(),
            format!("socket,id={id}-chr,path={}", path(socket)),
            "-netdev".into(),
            format!("vhost-user,id={id},chardev={id}-chr"),
            "-device".into(),
            device,
            "-object".into(),
            format!("memory-backend-memfd,id=mem,size={memory_mib}M,share=on"),
            "-numa".into(),
            "node,memdev=mem".into(),
        ]),
        // The hypervisor's TAP that vpcd reads: QEMU opens it by name (created
        // beforehand, or by QEMU itself when it runs as root), without scripts.
        Some(AttachmentKind::Interface { name }) => Ok(vec![
            "-netdev".into(),
            format!("tap,id={id},ifname={name},script=no,downscript=no"),
            "-device".into(),
            device,
        ]),
        _ => Err(VmArgsError::NotGuest(eni.to_string())),
    }
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
        let args = qemu_args(&c.enis, &id, DEFAULT_MEMORY_MIB).unwrap();
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
            qemu_args(&c.enis, &other, DEFAULT_MEMORY_MIB),
            Err(VmArgsError::NotGuest(other))
        );
        assert!(matches!(
            qemu_args(&c.enis, "eni-none", DEFAULT_MEMORY_MIB),
            Err(VmArgsError::NoSuchEni(_))
        ));
        assert_eq!(netdev_id("1 x"), "n1_x");
        assert_eq!(
            shell_line(&["-a".into(), "b c".into(), "it's".into()]),
            r"-a 'b c' 'it'\''s'"
        );
    }

    #[test]
    fn vhost_user_args_connect_a_chardev_and_share_the_guests_memory() {
        let mut c = dataplane::fixtures::two_subnets_and_middlebox();
        c.enis[0].attachment = Some(Attachment::vhost_user("/run/vpcd/a,b.sock"));
        let id = c.enis[0].id.clone();
        let n = netdev_id(&id);
        let args = qemu_args(&c.enis, &id, 512).unwrap();
        assert_eq!(
            args,
            vec![
                "-chardev".to_string(),
                format!("socket,id={n}-chr,path=/run/vpcd/a,,b.sock"),
                "-netdev".into(),
                format!("vhost-user,id={n},chardev={n}-chr"),
                "-device".into(),
                format!("virtio-net-pci,netdev={n},mac={},romfile=", c.enis[0].mac),
                "-object".into(),
                "memory-backend-memfd,id=mem,size=512M,share=on".into(),
                "-numa".into(),
                "node,memdev=mem".into(),
            ]
        );
    }
}
