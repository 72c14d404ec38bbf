//! Unit tests of [`super::networks`]: predefined networks, pools,
//! docker's rules for endpoints, and IPAM over the records.

use super::*;

fn store() -> (tempfile::TempDir, Store) {
    let t = tempfile::tempdir().unwrap();
    let s = Store::open(t.path()).unwrap();
    (t, s)
}

fn opts(name: &str) -> CreateNetwork {
    CreateNetwork {
        name: name.into(),
        ..CreateNetwork::default()
    }
}

#[test]
fn predefined_networks_and_pools() {
    let (_t, s) = store();
    let names: Vec<String> = list(&s).unwrap().into_iter().map(|n| n.name).collect();
    assert_eq!(names, ["bridge", "host", "none"]);
    let bridge = lookup(&s, "bridge").unwrap();
    assert_eq!(bridge.spec.subnet.as_deref(), Some("172.17.0.0/16"));
    assert_eq!(bridge.spec.interface, "docker0");
    assert!(!bridge.dns_enabled());
    assert!(
        remove(&s, &bridge)
            .unwrap_err()
            .to_string()
            .contains("pre-defined")
    );
    let n1 = create(&s, &opts("n1")).unwrap();
    assert_eq!(n1.spec.subnet.as_deref(), Some("172.18.0.0/16"));
    assert_eq!(n1.spec.gateway.as_deref(), Some("172.18.0.1"));
    assert_eq!(n1.spec.interface, format!("br-{}", n1.short_id()));
    assert!(n1.dns_enabled());
    let n2 = create(&s, &opts("n2")).unwrap();
    assert_eq!(n2.spec.subnet.as_deref(), Some("172.19.0.0/16"));
    let err = create(&s, &opts("n1")).unwrap_err().to_string();
    assert_eq!(err, "network with name n1 already exists");
    let mut o = opts("n3");
    o.subnet = vec!["172.18.4.0/24".into()];
    assert_eq!(
        create(&s, &o).unwrap_err().to_string(),
        "Pool overlaps with other one on this address space"
    );
    o.subnet = vec!["10.5.0.0/24".into()];
    o.gateway = vec!["10.6.0.1".into()];
    assert!(
        create(&s, &o)
            .unwrap_err()
            .to_string()
            .contains("no matching subnet")
    );
    o.gateway = vec!["10.5.0.254".into()];
    o.ip_range = vec!["10.5.0.128/25".into()];
    let n3 = create(&s, &o).unwrap();
    assert!(n3.spec.user_subnet && n3.spec.user_gateway);
    assert_eq!(lookup(&s, &n3.id[..6]).unwrap().name, "n3");
    assert!(matches!(
        lookup(&s, "nope"),
        Err(RuntimeError::NoSuchNetwork(_))
    ));
    let pruned = prune(&s).unwrap();
    assert_eq!(pruned, ["n1", "n2", "n3"]);
}

fn container_row(s: &Store, id: &str) {
    use strata_store::db::containers::{self as cq, ContainerRow};
    s.db()
        .write(|tx| {
            cq::insert(
                tx,
                &ContainerRow {
                    id: id.into(),
                    name: format!("c-{id}"),
                    image_id: "sha256:x".into(),
                    image_name: "x".into(),
                    created_at: "2024".into(),
                    spec: "{}".into(),
                    state: "{}".into(),
                    running: false,
                },
            )
        })
        .unwrap();
}

#[test]
fn addresses_are_handed_out_once_and_released() {
    let (_t, s) = store();
    let bridge = lookup(&s, "bridge").unwrap();
    let mut o = opts("st");
    o.subnet = vec!["10.9.0.0/29".into()];
    let st = create(&s, &o).unwrap();
    for id in ["a", "b", "c"] {
        container_row(&s, id);
    }
    attach(&s, "a", &[(bridge.clone(), EndpointConfig::default())]).unwrap();
    attach(&s, "b", &[(bridge, EndpointConfig::default())]).unwrap();
    let fixed = EndpointConfig {
        aliases: vec![],
        ipv4: Some("10.9.0.5".into()),
    };
    attach(&s, "a", &[(st.clone(), fixed.clone())]).unwrap();
    attach(&s, "c", &[(st.clone(), fixed)]).unwrap();
    let a = allocate(&s, "a", None).unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].ip, Some("172.17.0.2".parse().unwrap()));
    assert_eq!(a[0].mac.as_deref(), Some("02:42:ac:11:00:02"));
    assert_eq!(a[1].ip, Some("10.9.0.5".parse().unwrap()));
    let b = allocate(&s, "b", None).unwrap();
    assert_eq!(b[0].ip, Some("172.17.0.3".parse().unwrap()));
    let err = allocate(&s, "c", None).unwrap_err().to_string();
    assert!(err.contains("Address already in use"), "{err}");
    assert!(in_use(&s, &st).unwrap());
    assert!(remove(&s, &st).is_err());
    release(&s, "a", None).unwrap();
    assert_eq!(allocate(&s, "c", None).unwrap()[0].ip, a[1].ip);
    // Round-robin: .2 is free again, the next one is .4.
    release(&s, "b", None).unwrap();
    assert_eq!(
        allocate(&s, "b", None).unwrap()[0].ip,
        Some("172.17.0.4".parse().unwrap())
    );
    let all = all_attachments(&s).unwrap();
    assert_eq!(all["a"].len(), 2);
    assert!(all["a"].iter().all(|x| x.ip.is_none()));
}

#[test]
fn endpoint_rules() {
    let (_t, s) = store();
    let bridge = lookup(&s, "bridge").unwrap();
    let n1 = create(&s, &opts("n1")).unwrap();
    let ip = EndpointConfig {
        aliases: vec![],
        ipv4: Some("172.18.0.9".into()),
    };
    assert!(check_endpoint(&bridge, &ip, false).is_ok());
    assert!(check_endpoint(&bridge, &ip, true).is_err());
    assert!(
        check_endpoint(&n1, &ip, true)
            .unwrap_err()
            .to_string()
            .contains("user configured subnets")
    );
    let host = lookup(&s, "host").unwrap();
    assert!(check_endpoint(&host, &EndpointConfig::default(), true).is_err());
}
