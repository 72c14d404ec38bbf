//! Seccomp filters compiled once, loaded as BPF.
//!
//! Compiling docker's default profile with libseccomp (≈400 rules, with
//! argument filters) costs a few milliseconds of CPU in every container
//! start — more than anything else the container's init does. The program
//! libseccomp makes depends only on the `linux.seccomp` document, the
//! libseccomp version and the running kernel, so it is compiled once
//! ([`cached`]: `/run/strata/seccomp/<key>.bpf`, on tmpfs, so a new kernel
//! means a new cache) and loaded with `seccomp(SECCOMP_SET_MODE_FILTER)`
//! ([`Bpf::load`]) — what libseccomp's own `seccomp_load` ends with.
//!
//! The translation from the OCI document to libseccomp's calls follows
//! libcontainer's (and runc's): actions and comparisons one to one, a rule
//! whose action is the default one skipped, names libseccomp does not
//! know skipped (they get the default action), a rule comparing one
//! argument twice split into one rule per comparison, `no_new_privs` left
//! to the spec (never set by the load). Profiles with `SCMP_ACT_NOTIFY`
//! need libseccomp's listener and are not handled here ([`compilable`]).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
    ScmpVersion,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};
use sha2::{Digest, Sha256};

use crate::error::{IoContext, Result, RuntimeError};

/// A compiled filter: the `sock_filter` program and the flags to load it
/// with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bpf {
    /// `struct sock_filter[]`, native byte order (8 bytes per instruction).
    pub program: Vec<u8>,
    /// `SECCOMP_FILTER_FLAG_*`.
    pub flags: u32,
}

/// The cache directory: `seccomp/` of the run dir (root: `/run/strata`;
/// rootless, where the process is root of its user namespace but may not
/// write `/run`: the user's, [`strata_store::userns::run_dir`]).
fn cache_dir() -> Option<PathBuf> {
    Some(strata_store::userns::run_dir().join("seccomp"))
}

/// Whether `seccomp` can be compiled here (no notify action).
pub fn compilable(seccomp: &LinuxSeccomp) -> bool {
    let notify = LinuxSeccompAction::ScmpActNotify;
    seccomp.default_action() != notify
        && seccomp
            .syscalls()
            .iter()
            .flatten()
            .all(|s| s.action() != notify)
}

/// The compiled `seccomp`, from the cache or compiled now (and cached).
pub fn cached(seccomp: &LinuxSeccomp) -> Result<Bpf> {
    let Some(dir) = cache_dir() else {
        return compile(seccomp);
    };
    let path = dir.join(format!("{}.bpf", cache_key(seccomp)?));
    if let Ok(bytes) = fs::read(&path)
        && let Some(bpf) = Bpf::decode(&bytes)
    {
        return Ok(bpf);
    }
    let bpf = compile(seccomp)?;
    // A cache that cannot be written costs the next start a compile, no more.
    if let Err(e) = store(&dir, &path, &bpf) {
        tracing::debug!("seccomp cache {}: {e}", path.display());
    }
    Ok(bpf)
}

/// sha256 of what the program depends on: the document, the libseccomp
/// version, the kernel.
fn cache_key(seccomp: &LinuxSeccomp) -> Result<String> {
    let doc = serde_json::to_vec(seccomp).map_err(|e| RuntimeError::Invalid(e.to_string()))?;
    let v = ScmpVersion::current().map_err(seccomp_err)?;
    let kernel = nix::sys::utsname::uname()
        .map(|u| format!("{:?} {:?}", u.release(), u.version()))
        .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(
        format!(
            "strata-bpf-1 {}.{}.{} {kernel}\n",
            v.major, v.minor, v.micro
        )
        .as_bytes(),
    );
    h.update(&doc);
    Ok(hex::encode(h.finalize()))
}

/// Writes `bpf` to `path` atomically (a private file renamed into place).
fn store(dir: &Path, path: &Path, bpf: &Bpf) -> std::io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let tmp = dir.join(format!(".{}.tmp", std::process::id()));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(&bpf.encode())?;
    drop(f);
    fs::rename(&tmp, path)
}

fn seccomp_err(e: libseccomp::error::SeccompError) -> RuntimeError {
    RuntimeError::Invalid(format!("seccomp: {e}"))
}

/// Compiles `seccomp` with libseccomp (no cache).
pub fn compile(seccomp: &LinuxSeccomp) -> Result<Bpf> {
    if !compilable(seccomp) {
        return Err(RuntimeError::Invalid(
            "seccomp: SCMP_ACT_NOTIFY is not supported".into(),
        ));
    }
    let default = action(seccomp.default_action(), seccomp.default_errno_ret())?;
    let mut ctx = ScmpFilterContext::new(default).map_err(seccomp_err)?;
    let mut flags = 0u32;
    for f in seccomp.flags().iter().flatten() {
        flags |= match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
            }
            // Only meaningful with a notify listener.
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => 0,
        } as u32;
    }
    for a in seccomp.architectures().iter().flatten() {
        ctx.add_arch(arch(*a)).map_err(seccomp_err)?;
    }
    ctx.set_ctl_nnp(false).map_err(seccomp_err)?;
    for rule in seccomp.syscalls().iter().flatten() {
        let act = action(rule.action(), rule.errno_ret())?;
        if act == default {
            continue;
        }
        for name in rule.names() {
            let Ok(sc) = ScmpSyscall::from_name(name) else {
                continue; // unknown to libseccomp: the default action
            };
            let Some(args) = rule.args() else {
                ctx.add_rule(act, sc).map_err(seccomp_err)?;
                continue;
            };
            let cmps: Vec<ScmpArgCompare> = args
                .iter()
                .map(|a| {
                    ScmpArgCompare::new(a.index() as u32, op(a.op(), a.value_two()), a.value())
                })
                .collect();
            let mut seen = std::collections::HashSet::new();
            if args.iter().all(|a| seen.insert(a.index())) {
                ctx.add_rule_conditional(act, sc, &cmps)
                    .map_err(seccomp_err)?;
            } else {
                for c in &cmps {
                    ctx.add_rule_conditional(act, sc, std::slice::from_ref(c))
                        .map_err(seccomp_err)?;
                }
            }
        }
    }
    // libseccomp 2.5 exports to a descriptor only: an anonymous file.
    let mut file = memfd()?;
    ctx.export_bpf(&file).map_err(seccomp_err)?;
    use std::io::{Read, Seek};
    let mut program = Vec::new();
    file.seek(std::io::SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut program))
        .ctx("read", "seccomp program")?;
    if program.is_empty() || program.len() % 8 != 0 {
        return Err(RuntimeError::Invalid(format!(
            "seccomp: libseccomp exported a program of {} bytes",
            program.len()
        )));
    }
    Ok(Bpf { program, flags })
}

fn memfd() -> Result<fs::File> {
    let fd = nix::sys::memfd::memfd_create(
        c"strata-seccomp",
        nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC,
    )
    .map_err(|e| RuntimeError::Invalid(format!("seccomp: memfd_create: {e}")))?;
    Ok(fs::File::from(fd))
}

impl Bpf {
    /// `flags` (u32, little endian), then the program.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.flags.to_le_bytes().to_vec();
        out.extend_from_slice(&self.program);
        out
    }

    /// The inverse of [`Bpf::encode`]; `None` for anything malformed.
    pub fn decode(bytes: &[u8]) -> Option<Bpf> {
        let (flags, program) = bytes.split_first_chunk::<4>()?;
        if program.is_empty() || program.len() % 8 != 0 {
            return None;
        }
        Some(Bpf {
            program: program.to_vec(),
            flags: u32::from_le_bytes(*flags),
        })
    }

    /// Reads a filter written with [`Bpf::write`].
    pub fn read(path: &Path) -> Result<Bpf> {
        let bytes = fs::read(path).ctx("read", path)?;
        Bpf::decode(&bytes).ok_or_else(|| {
            RuntimeError::Invalid(format!("{}: not a seccomp program", path.display()))
        })
    }

    /// Writes the filter to `path` (private to its owner).
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .ctx("create", path)?;
        f.write_all(&self.encode()).ctx("write", path)
    }

    /// Loads the filter into the calling thread (it needs `CAP_SYS_ADMIN`
    /// or `no_new_privs`). Allocation-free, for a forked child.
    pub fn load(&self) -> std::io::Result<()> {
        let prog = libc::sock_fprog {
            len: (self.program.len() / 8) as libc::c_ushort,
            filter: self.program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: `prog` points at `len` instructions of `self.program`,
        // which outlives the call; the kernel copies the program.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                self.flags as libc::c_ulong,
                &prog as *const libc::sock_fprog,
            )
        };
        if rc < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
}

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<ScmpAction> {
    let errno = errno.map_or(libc::EPERM, |e| e as i32);
    Ok(match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(errno),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(
            u16::try_from(errno)
                .map_err(|_| RuntimeError::Invalid(format!("seccomp: trace value {errno}")))?,
        ),
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
    })
}

fn op(o: LinuxSeccompOperator, datum_b: Option<u64>) -> ScmpCompareOp {
    match o {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        LinuxSeccompOperator::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(datum_b.unwrap_or(0)),
    }
}

fn arch(a: Arch) -> ScmpArch {
    match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::seccomp::{DEFAULT_PROFILE, Target, parse};

    fn default_filter() -> LinuxSeccomp {
        let target = Target::host(vec!["CAP_CHOWN".into()]);
        parse(DEFAULT_PROFILE)
            .unwrap()
            .resolve(&target)
            .unwrap()
            .unwrap()
    }

    #[test]
    fn the_default_profile_compiles_and_round_trips() {
        let bpf = compile(&default_filter()).unwrap();
        assert!(bpf.program.len() > 8 * 100, "{} bytes", bpf.program.len());
        assert_eq!(Bpf::decode(&bpf.encode()).unwrap(), bpf);
        assert!(Bpf::decode(&[1, 2, 3]).is_none());
        assert!(Bpf::decode(&[0, 0, 0, 0, 1]).is_none());
        // The same document, the same program.
        assert_eq!(compile(&default_filter()).unwrap(), bpf);
    }

    #[test]
    fn the_key_follows_the_document() {
        let a = default_filter();
        let mut b = a.clone();
        b.set_default_errno_ret(Some(libc::ENOSYS as u32));
        assert_eq!(cache_key(&a).unwrap(), cache_key(&a).unwrap());
        assert_ne!(cache_key(&a).unwrap(), cache_key(&b).unwrap());
    }

    #[test]
    fn a_loaded_program_refuses_what_the_profile_refuses() {
        let bpf = compile(&default_filter()).unwrap();
        // In a child: the filter stays with the process that loads it.
        // SAFETY: the child only makes raw syscalls and exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                // SAFETY: prctl and syscall on the child's own state.
                let code = unsafe {
                    libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
                    if bpf.load().is_err() {
                        10
                    } else if libc::syscall(libc::SYS_keyctl, 0, 0, 0, 0, 0) != -1
                        || *libc::__errno_location() != libc::EPERM
                    {
                        11
                    } else if libc::getpid() <= 0 {
                        12
                    } else {
                        0
                    }
                };
                // SAFETY: leaving the forked child at once.
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let st = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(st, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }
}
