//! SIGINT, SIGTERM and SIGHUP cancel a command, as they cancel docker's.
//!
//! ```text
//! signal ─handler─> self-pipe ─> watcher thread ─> Cancel::global().cancel(sig)
//!                                     │              (operations unwind: kill their
//!                                     │               steps, unmount, drop partial work)
//!                                     ├─ watchdog: still running after GRACE?
//!                                     │    print, exit 128+sig (helpers die with us:
//!                                     │    PDEATHSIG; the store is crash-safe)
//!                                     └─ a second signal: the same, at once
//! ```
//! A signal the command was started with ignored (`nohup`) stays ignored.
//! The handler only writes a byte (async-signal-safe); everything else runs
//! on the watcher thread. Handlers, not a blocked mask: helpers and
//! containers spawned from here must not inherit blocked signals, and
//! caught signals reset to their defaults on `execve`.
//!
//! An attached `run`/`start -a` proxies signals to its container instead
//! (docker's `--sig-proxy`): it calls [`hand_over`] before relaying, which
//! disarms the watchdog; the relay delivers a signal that came before.

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

use strata_store::cancel::{Cancel, signal_name};

/// How long an operation gets to unwind after a signal before the process
/// exits anyway (docker cancels within a second).
pub const GRACE: Duration = Duration::from_millis(900);

const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

static PIPE_W: AtomicI32 = AtomicI32::new(-1);
static HANDED_OVER: AtomicBool = AtomicBool::new(false);
static WHAT: Mutex<String> = Mutex::new(String::new());

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = PIPE_W.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; the write end is
        // non-blocking, so a full pipe drops the byte instead of blocking.
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
}

/// Installs the handlers and the watcher thread; `what` names the command
/// in the message printed when it is cancelled (`build`, `pull busybox`).
pub fn install(what: &str) {
    *WHAT.lock().unwrap_or_else(|e| e.into_inner()) = what.to_string();
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 fills two descriptors on success.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return;
    }
    // SAFETY: both descriptors were just created and are ours.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let fl = libc::fcntl(write.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(write.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
    // The write end lives as long as the process (the handler uses it).
    PIPE_W.store(
        std::mem::ManuallyDrop::new(write).as_raw_fd(),
        Ordering::SeqCst,
    );
    for sig in SIGNALS {
        // SAFETY: a zeroed sigaction with a valid handler and an empty mask;
        // the first call only reads the current action.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction == libc::SIG_IGN
            {
                // Started with it ignored (`nohup`, a background job of a
                // script): whoever started us decided.
                continue;
            }
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
    let _ = std::thread::Builder::new()
        .name("strata-signals".into())
        .spawn(move || watch(read));
}

fn watch(read: OwnedFd) {
    let mut first: Option<i32> = None;
    loop {
        let mut b = [0u8; 1];
        // SAFETY: reading into a valid one-byte buffer from our descriptor.
        let n = unsafe { libc::read(read.as_raw_fd(), b.as_mut_ptr().cast(), 1) };
        if n <= 0 {
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        let sig = i32::from(b[0]);
        match first {
            None => {
                first = Some(sig);
                Cancel::global().cancel(sig);
                if !HANDED_OVER.load(Ordering::SeqCst) {
                    let _ = std::thread::Builder::new()
                        .name("strata-watchdog".into())
                        .spawn(move || {
                            std::thread::sleep(GRACE);
                            if !HANDED_OVER.load(Ordering::SeqCst) {
                                hard_exit(sig);
                            }
                        });
                }
            }
            // A second signal: no more waiting. Everything the command
            // started dies with it, and the store is crash-safe.
            Some(s) if !HANDED_OVER.load(Ordering::SeqCst) => hard_exit(s),
            Some(_) => {}
        }
    }
}

/// The message of a cancelled command.
pub fn message(sig: i32) -> String {
    let what = WHAT.lock().unwrap_or_else(|e| e.into_inner()).clone();
    format!("{what} cancelled ({})", signal_name(sig))
}

/// docker's exit code for a command cancelled by `sig`.
pub fn exit_code(sig: i32) -> i32 {
    128 + sig
}

fn hard_exit(sig: i32) -> ! {
    let _ = writeln!(std::io::stderr(), "Error: {}", message(sig));
    // SAFETY: _exit ends the process at once, without running exit
    // handlers that other threads' state could make hang.
    unsafe { libc::_exit(exit_code(sig)) }
}

/// The signal that cancelled this command, if one did (and it was not
/// handed over to a container).
pub fn cancelled() -> Option<i32> {
    if HANDED_OVER.load(Ordering::SeqCst) {
        return None;
    }
    Cancel::global().signal()
}

/// Stops treating signals as cancellation: the caller proxies them to a
/// container from now on (a signal that came just before is in the token,
/// and the relay delivers it).
pub fn hand_over() {
    HANDED_OVER.store(true, Ordering::SeqCst);
}
