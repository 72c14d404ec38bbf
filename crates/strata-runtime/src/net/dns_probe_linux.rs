//! Waits, after netavark set a container up on a user network, until
//! aardvark-dns answers the container's own name from the container's own
//! address.
//!
//! netavark rewrites aardvark-dns's entries and signals it (SIGHUP);
//! aardvark-dns 1.4 (Debian 12's) then rebuilds its listeners, so for a
//! moment after `setup` returns a query is refused or answered from the
//! old entries — a container that resolves a peer as its first act saw
//! "bad address". docker's embedded DNS has no such window; so the
//! container starts only once its name resolves. The query is sent from
//! inside the container's network namespace because aardvark-dns answers
//! by the asking address (it forwards a stranger's query upstream).
//!
//! The query is a single A question built here: one fixed-shape packet
//! does not justify a DNS library.

use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::sched::{CloneFlags, setns};

/// How long to wait for aardvark-dns before starting the container anyway.
const LIMIT: Duration = Duration::from_secs(3);
/// How long one query waits for its answer.
const ATTEMPT: Duration = Duration::from_millis(50);

/// Blocks until `server` answers `name` with an address when asked from
/// the network namespace at `netns`; gives up (with a warning) after
/// [`LIMIT`]. Returns whether it answered.
pub fn wait_for_name(netns: &str, server: Ipv4Addr, name: &str) -> bool {
    let (netns, name) = (netns.to_string(), name.to_string());
    // setns moves only the calling thread: a thread of its own.
    let probe = std::thread::spawn(move || -> std::io::Result<bool> {
        let ns = std::fs::File::open(&netns)?;
        setns(ns.as_fd(), CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)?;
        let sock = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        sock.connect((server, 53))?;
        sock.set_read_timeout(Some(ATTEMPT))?;
        let t0 = Instant::now();
        let mut id: u16 = std::process::id() as u16;
        while t0.elapsed() < LIMIT {
            id = id.wrapping_add(1);
            let Some(q) = query(id, &name) else {
                return Ok(false);
            };
            if sock.send(&q).is_err() {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            let mut buf = [0u8; 512];
            let until = Instant::now() + ATTEMPT;
            while Instant::now() < until {
                match sock.recv(&mut buf) {
                    Ok(n) if answered(&buf[..n], id) => {
                        tracing::debug!(ms = t0.elapsed().as_millis() as u64, "aardvark-dns ready");
                        return Ok(true);
                    }
                    Ok(_) => continue,
                    // Refused (listener being rebuilt) or timed out.
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(5));
                        break;
                    }
                }
            }
        }
        Ok(false)
    });
    match probe.join() {
        Ok(Ok(true)) => true,
        Ok(Ok(false)) => {
            tracing::warn!("aardvark-dns did not answer for {server} in {LIMIT:?}");
            false
        }
        Ok(Err(e)) => {
            tracing::warn!("aardvark-dns probe: {e}");
            false
        }
        Err(_) => false,
    }
}

/// A recursive A query for `name` with `id`; `None` for a name that is no
/// DNS name (an empty label or one over 63 bytes).
fn query(id: u16, name: &str) -> Option<Vec<u8>> {
    let mut q = Vec::with_capacity(18 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return None;
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&[0, 1, 0, 1]);
    Some(q)
}

/// Whether `reply` answers query `id` with no error and at least one record.
fn answered(reply: &[u8], id: u16) -> bool {
    reply.len() >= 12
        && reply[0..2] == id.to_be_bytes()
        && reply[2] & 0x80 != 0
        && reply[3] & 0x0f == 0
        && u16::from_be_bytes([reply[6], reply[7]]) > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_has_the_labels_and_an_a_question() {
        let q = query(0x1234, "web.app").unwrap();
        assert_eq!(
            q,
            [
                0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'e', b'b', 3, b'a', b'p', b'p',
                0, 0, 1, 0, 1
            ]
        );
        assert!(query(1, "a..b").is_none());
        assert!(query(1, &"x".repeat(64)).is_none());
    }

    #[test]
    fn only_a_matching_successful_answer_counts() {
        let mut r = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        assert!(answered(&r, 0x1234));
        assert!(!answered(&r, 0x1235));
        r[3] = 0x83; // NXDOMAIN
        assert!(!answered(&r, 0x1234));
        r[3] = 0x80;
        r[7] = 0; // no answer records
        assert!(!answered(&r, 0x1234));
        assert!(!answered(&r[..5], 0x1234));
    }
}
