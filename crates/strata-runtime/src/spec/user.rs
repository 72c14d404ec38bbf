//! `-u user[:group]` resolved through the image's `/etc/passwd` and
//! `/etc/group`, with runc's rules (`libcontainer/user.GetExecUser`, which
//! docker uses): names must exist; a numeric UID need not (then GID 0 and
//! HOME `/`); a group, when given, replaces the passwd entry's primary
//! group; supplementary groups are the groups that list the user by name,
//! plus `--group-add`. A numeric ID not in the files must lie in
//! `0..=2147483647` (runc's `ErrRange`): `-u 4294967295` would otherwise
//! become "no change" (-1) in `setresuid` and leave the process root.

use serde::{Deserialize, Serialize};

use crate::error::{Result, RuntimeError};

/// The largest UID/GID runc accepts (`math.MaxInt32`).
pub const MAX_ID: i64 = i32::MAX as i64;

/// A numeric ID (`strconv.Atoi`: any `i64`), or `None` for a name.
fn numeric(s: &str) -> Option<i64> {
    s.parse::<i64>().ok()
}

/// A numeric ID not found in the files, checked against runc's range.
fn in_range(id: i64) -> Result<u32> {
    if (0..=MAX_ID).contains(&id) {
        Ok(id as u32)
    } else {
        Err(RuntimeError::IdOutOfRange)
    }
}

/// A resolved user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedUser {
    /// UID.
    pub uid: u32,
    /// Primary GID.
    pub gid: u32,
    /// Supplementary GIDs.
    pub additional_gids: Vec<u32>,
    /// Home directory (for `HOME` when the environment lacks it).
    pub home: String,
}

impl Default for ResolvedUser {
    fn default() -> Self {
        ResolvedUser {
            uid: 0,
            gid: 0,
            additional_gids: Vec::new(),
            home: "/root".to_string(),
        }
    }
}

#[derive(Debug)]
struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

#[derive(Debug)]
struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn passwd_entries(text: &str) -> Vec<PasswdEntry<'_>> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?,
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                home: f.get(5).copied().unwrap_or(""),
            })
        })
        .collect()
}

fn group_entries(text: &str) -> Vec<GroupEntry<'_>> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(GroupEntry {
                name: f.first()?,
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| m.split(',').filter(|s| !s.is_empty()).collect())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Resolves `spec` (`""`, `user`, `uid`, `user:group`, `uid:gid`, …)
/// against the image's passwd and group files (`None` when absent), then
/// adds `group_add` (names or GIDs).
pub fn resolve_user(
    spec: &str,
    passwd: Option<&str>,
    group: Option<&str>,
    group_add: &[String],
) -> Result<ResolvedUser> {
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let users = passwd.map(passwd_entries).unwrap_or_default();
    let groups = group.map(group_entries).unwrap_or_default();

    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let entry = match numeric(user_part) {
        Some(uid) => users.iter().find(|e| i64::from(e.uid) == uid),
        None => Some(
            users
                .iter()
                .find(|e| e.name == user_part)
                .ok_or_else(|| RuntimeError::UnknownUser(user_part.to_string()))?,
        ),
    };
    let uid = match (entry, numeric(user_part)) {
        (Some(e), _) => e.uid,
        (None, Some(uid)) => in_range(uid)?,
        (None, None) => return Err(RuntimeError::UnknownUser(user_part.to_string())),
    };
    let mut gid = entry.map_or(0, |e| e.gid);
    let home = entry
        .map(|e| e.home)
        .filter(|h| !h.is_empty())
        .unwrap_or("/")
        .to_string();

    let mut additional = Vec::new();
    match group_part.filter(|g| !g.is_empty()) {
        Some(g) => {
            gid = match numeric(g) {
                Some(n) => match groups.iter().find(|e| i64::from(e.gid) == n) {
                    Some(e) => e.gid,
                    None => in_range(n)?,
                },
                None => {
                    groups
                        .iter()
                        .find(|e| e.name == g)
                        .ok_or_else(|| RuntimeError::UnknownGroup(g.to_string()))?
                        .gid
                }
            };
        }
        None => {
            if let Some(e) = entry {
                for g in &groups {
                    if g.members.contains(&e.name) && !additional.contains(&g.gid) {
                        additional.push(g.gid);
                    }
                }
            }
        }
    }
    // Like docker (runc's setgroups), the primary group is also a
    // supplementary one: `id` shows `groups=<gid>(…)`.
    if !additional.contains(&gid) {
        additional.insert(0, gid);
    }
    for g in group_add {
        let id = match groups
            .iter()
            .find(|e| e.name == *g || e.gid.to_string() == *g)
        {
            Some(e) => e.gid,
            None => match numeric(g) {
                Some(n) => in_range(n)?,
                None => return Err(RuntimeError::UnknownGroup(g.clone())),
            },
        };
        if !additional.contains(&id) {
            additional.push(id);
        }
    }
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids: additional,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        nobody:x:65534:65534:nobody:/home:/bin/false\n\
        app:x:1000:1000::/srv/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nwheel:x:10:app,root\nnobody:x:65534:\napp:x:1000:\n";

    fn r(spec: &str) -> Result<ResolvedUser> {
        resolve_user(spec, Some(PASSWD), Some(GROUP), &[])
    }

    #[test]
    fn default_is_root() {
        let u = r("").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/root"));
        assert_eq!(u.additional_gids, vec![0, 10]);
    }

    #[test]
    fn names_and_numbers() {
        let u = r("app").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (1000, 1000, "/srv/app"));
        assert_eq!(u.additional_gids, vec![1000, 10]);
        let u = r("1000").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1000));
        let u = r("4242").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (4242, 0, "/"));
        let u = r("nobody:wheel").unwrap();
        assert_eq!((u.uid, u.gid), (65534, 10));
        assert_eq!(u.additional_gids, vec![10]);
        let u = r("app:55").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 55));
    }

    #[test]
    fn unknown_names_fail_like_docker() {
        assert_eq!(
            r("xyz").unwrap_err().to_string(),
            "unable to find user xyz: no matching entries in passwd file"
        );
        assert_eq!(
            r("0:xyz").unwrap_err().to_string(),
            "unable to find group xyz: no matching entries in group file"
        );
        let e = resolve_user("root", None, None, &[]).unwrap_err();
        assert!(matches!(e, RuntimeError::UnknownUser(_)));
        assert_eq!(resolve_user("7", None, None, &[]).unwrap().uid, 7);
    }

    #[test]
    fn ids_outside_runcs_range_are_refused() {
        // See: issue 9 (`-u 4294967295` ran as root).
        let range = "uids and gids must be in range 0-2147483647";
        for spec in [
            "4294967295",
            "4294967294",
            "2147483648",
            "-1",
            "99999999999",
            "0:4294967295",
            "1000:-5",
        ] {
            assert_eq!(r(spec).unwrap_err().to_string(), range, "{spec}");
        }
        assert_eq!(r("2147483647").unwrap().uid, 2147483647);
        assert_eq!(r("1000:2147483647").unwrap().gid, 2147483647);
        let e = resolve_user("0", Some(PASSWD), Some(GROUP), &["4294967295".into()]);
        assert_eq!(e.unwrap_err().to_string(), range);
    }

    #[test]
    fn group_add() {
        let u = resolve_user(
            "nobody",
            Some(PASSWD),
            Some(GROUP),
            &["wheel".into(), "77".into()],
        )
        .unwrap();
        assert_eq!(u.additional_gids, vec![65534, 10, 77]);
        assert!(resolve_user("nobody", Some(PASSWD), Some(GROUP), &["nope".into()]).is_err());
    }
}
