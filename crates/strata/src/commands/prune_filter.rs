//! The `--filter` of `system prune`, as docker's daemon reads it:
//! `until=<time>` (a timestamp, or a duration back from now: objects
//! created before it), `label=<key>[=<value>]` (objects with the label;
//! every label filter must hold) and `label!=<key>[=<value>]` (objects
//! without it). Each per-kind prune takes [`PruneFilter::matches`] as its
//! selection.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::exit::ExitError;

/// A filter key prunes do not know (docker's message).
#[derive(Debug, thiserror::Error)]
#[error("Invalid filter '{0}'")]
pub struct InvalidFilter(pub String);

/// A parsed prune filter; empty accepts everything.
#[derive(Debug, Clone, Default)]
pub struct PruneFilter {
    until: Option<DateTime<Utc>>,
    labels: Vec<(String, Option<String>)>,
    not_labels: Vec<(String, Option<String>)>,
    shown: Vec<String>,
}

fn label(v: &str) -> (String, Option<String>) {
    match v.split_once('=') {
        Some((k, v)) => (k.to_string(), Some(v.to_string())),
        None => (v.to_string(), None),
    }
}

fn has(labels: &BTreeMap<String, String>, (k, v): &(String, Option<String>)) -> bool {
    match (labels.get(k), v) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(have), Some(want)) => have == want,
    }
}

impl PruneFilter {
    /// Parses `--filter` values (docker's errors for a malformed one or
    /// an unknown key, printed as the CLI prints a daemon's).
    pub fn parse(list: &[String]) -> anyhow::Result<PruneFilter> {
        PruneFilter::parse_api(list).map_err(|e| match e.downcast_ref::<InvalidFilter>() {
            Some(bad) => {
                eprintln!("Error response from daemon: {bad}");
                ExitError::new(1, "").into()
            }
            None => e,
        })
    }

    /// [`PruneFilter::parse`] for the API: an unknown key is an
    /// [`InvalidFilter`] error.
    pub fn parse_api(list: &[String]) -> anyhow::Result<PruneFilter> {
        let mut f = PruneFilter::default();
        let now = Utc::now();
        for item in list {
            let (k, v) = crate::commands::filter_pair(item)?;
            match k {
                "label" => f.labels.push(label(v)),
                "label!" => f.not_labels.push(label(v)),
                "until" => {
                    let t = crate::commands::container::logs::parse_time(v, now)?;
                    f.until = Some(f.until.map_or(t, |u| u.min(t)));
                }
                other => return Err(InvalidFilter(other.to_string()).into()),
            }
            f.shown.push(format!("{k}={v}"));
        }
        f.shown.sort();
        Ok(f)
    }

    /// The filters as the prompt lists them (`label=a`, `until=1h`).
    pub fn shown(&self) -> &[String] {
        &self.shown
    }

    /// True when an `until` filter is given.
    pub fn has_until(&self) -> bool {
        self.until.is_some()
    }

    /// True if an object created at `created` (RFC 3339; unknown: never
    /// too new) with `labels` is selected.
    pub fn matches(&self, created: Option<&str>, labels: &BTreeMap<String, String>) -> bool {
        if let (Some(until), Some(t)) = (
            self.until,
            created.and_then(|c| DateTime::parse_from_rfc3339(c).ok()),
        ) && t.with_timezone(&Utc) >= until
        {
            return false;
        }
        self.labels.iter().all(|l| has(labels, l))
            && !self.not_labels.iter().any(|l| has(labels, l))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_as_dockers_daemon_applies_them() {
        let f = PruneFilter::parse(&["label=team".into(), "label!=keep=yes".into()]).unwrap();
        let mut l = BTreeMap::new();
        assert!(!f.matches(None, &l));
        l.insert("team".to_string(), "x".to_string());
        assert!(f.matches(None, &l));
        l.insert("keep".to_string(), "yes".to_string());
        assert!(!f.matches(None, &l));
        let f = PruneFilter::parse(&["until=2020-01-01T00:00:00Z".into()]).unwrap();
        assert!(f.matches(Some("2019-06-01T00:00:00Z"), &l));
        assert!(!f.matches(Some("2021-06-01T00:00:00.5Z"), &l));
        assert_eq!(f.shown(), ["until=2020-01-01T00:00:00Z"]);
        assert!(PruneFilter::parse(&["bogus=1".into()]).is_err());
        assert!(PruneFilter::default().matches(Some("2021-01-01T00:00:00Z"), &l));
    }
}
