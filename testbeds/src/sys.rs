//! The only place with `unsafe`: tiny libc wrappers.

use std::io;

/// The effective user id of this process.
#[allow(unsafe_code)]
pub(crate) fn geteuid() -> u32 {
    // SAFETY: geteuid(2) takes no arguments, touches no memory of ours and cannot fail.
    unsafe { libc::geteuid() }
}

/// Sends `sig` to exactly the process `pid`.
///
/// Refuses pid 0 and anything that does not fit a positive `pid_t`, so it can never signal a
/// process group or every process (`kill(0, …)`, `kill(-1, …)`).
#[allow(unsafe_code)]
pub(crate) fn kill(pid: u32, sig: libc::c_int) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "refusing to signal pid <= 0")
        })?;
    // SAFETY: kill(2) takes two plain integers and touches no memory of ours; `pid > 0` means the
    // signal targets exactly one process, which the callers own (an unreaped child of ours, so the
    // pid cannot have been recycled).
    let rc = unsafe { libc::kill(pid, sig) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Makes the child started by `cmd` get SIGKILL when the *thread* that spawns it exits
/// (`PR_SET_PDEATHSIG`), so a test process killed with SIGKILL leaves no orphans behind.
///
/// Linux ties this to the spawning thread, not the process: only use it when the child is
/// owned (and reaped) by the thread that starts it.
#[allow(unsafe_code)]
pub(crate) fn die_with_parent(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: getpid takes no arguments and cannot fail.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the closure runs in the forked child before exec and only makes the async-signal-safe
    // syscalls prctl(2) and getppid(2); it allocates nothing and touches no shared state.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect: then do not run at all.
            if libc::getppid() != parent {
                return Err(io::Error::other("parent exited before exec"));
            }
            Ok(())
        });
    }
}

/// The kernel's clock ticks per second (`sysconf(_SC_CLK_TCK)`), the unit of the CPU times in
/// `/proc/<pid>/stat`; `None` if sysconf reports no positive value.
#[allow(unsafe_code)]
pub(crate) fn clock_ticks_per_sec() -> Option<u64> {
    // SAFETY: sysconf(3) takes a plain integer name, touches no memory of ours and only returns
    // a value (-1 for an unknown name).
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(t).ok().filter(|t| *t > 0)
}
