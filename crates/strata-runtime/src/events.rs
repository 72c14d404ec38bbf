//! Container events for the store's journal ([`strata_store::events`]),
//! with docker's attributes: the labels, `image` (as the user named it)
//! and `name`, plus what the action adds (`exitCode` of `die`).

use std::collections::BTreeMap;

use strata_store::Store;
use strata_store::events::Event;

use crate::containers::Container;

/// Records `action` of the `kind` object `id` (an image, volume or
/// network) with `attributes`.
pub fn record(store: &Store, kind: &str, action: &str, id: &str, attributes: &[(&str, String)]) {
    let a = attributes
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect();
    store.record_event(&Event::now(kind, action, id, a));
}

/// Records `action` of container `c` (`extra`: more attributes).
pub fn container(store: &Store, c: &Container, action: &str, extra: &[(&str, String)]) {
    let mut a: BTreeMap<String, String> = c.spec.config.labels.clone();
    a.insert("image".into(), c.image_name.clone());
    a.insert("name".into(), c.name.clone());
    for (k, v) in extra {
        a.insert((*k).to_string(), v.clone());
    }
    store.record_event(&Event::now("container", action, &c.id, a));
}
