//! `vm-initramfs`: builds the test VMs' initramfs and prints the QEMU command that boots it, for
//! booting a test VM by hand (the same command line `testbeds::vm::Vm` runs, without its
//! `vm.harness=1`, so the console echoes as usual).
//!
//! ```text
//! vm-initramfs DIR [tcg|kvm|auto]
//!     writes DIR/initramfs.cpio.gz (busybox, iperf3, the virtio-net modules of the newest
//!     installed kernel) and prints `qemu-system-x86_64 …` on stdout. `auto` (the default)
//!     runs the KVM probe and picks KVM only when a guest really boots with it.
//! ```
//!
//! In the guest: a root shell on the serial console; Ctrl-A X quits QEMU under `-nographic`
//! when the serial port is muxed (here it is plain stdio: `poweroff -f` in the guest, or kill QEMU).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use testbeds::vm::{qemu_argv, Accel, Initramfs, VmOptions};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vm-initramfs: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dir, accel) = match args.as_slice() {
        [dir] => (dir, Accel::Auto),
        [dir, a] => (
            dir,
            match a.as_str() {
                "tcg" => Accel::Tcg,
                "kvm" => Accel::Kvm,
                "auto" => Accel::Auto,
                other => bail!("unknown accelerator {other:?} (tcg, kvm or auto)"),
            },
        ),
        _ => bail!("usage: vm-initramfs DIR [tcg|kvm|auto]"),
    };
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let initramfs = Initramfs::build(&dir)?;
    let opts = VmOptions::new("byhand", &initramfs);
    let argv = qemu_argv(&opts, "testbeds-vm", accel.resolve());
    let line: Vec<String> = argv.iter().map(|a| shell_quote(a)).collect();
    println!("{}", line.join(" "));
    Ok(())
}

/// Quotes `s` for a POSIX shell when it has anything but safe characters.
fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=,:@%+".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
