//! Reference resolution and transport choice, without contacting anything
//! but 127.0.0.1: Docker Hub names resolve to registry-1.docker.io over
//! HTTPS (the client is built, never used), loopback registries go over
//! plain HTTP when nothing speaks TLS there, and credentials come from
//! docker's config file. See: issue 5.

use std::io::Write;

use strata_oci::Reference;
use strata_registry::RegistryOptions;
use strata_registry::client::RegistryClient;
use strata_registry::runtime::with_runtime;

fn opts_with_config(dir: &std::path::Path) -> RegistryOptions {
    RegistryOptions {
        docker_config: Some(dir.join("config.json")),
        ..RegistryOptions::default()
    }
}

#[test]
fn docker_hub_names_resolve_to_registry_1_over_https() {
    let t = tempfile::tempdir().unwrap();
    let opts = opts_with_config(t.path());
    let r = Reference::parse("node").unwrap();
    assert_eq!(r.to_string(), "docker.io/library/node:latest");
    let (base, url) = with_runtime(|rt| {
        let c = rt.block_on(RegistryClient::connect(r.domain(), &opts))?;
        Ok((
            c.base().to_string(),
            c.url(r.path(), "manifests/latest")?.to_string(),
        ))
    })
    .unwrap();
    assert_eq!(base, "https://registry-1.docker.io/");
    assert_eq!(
        url,
        "https://registry-1.docker.io/v2/library/node/manifests/latest"
    );
    let user = Reference::parse("user/app:1").unwrap();
    assert_eq!((user.domain(), user.path()), ("docker.io", "user/app"));
}

#[test]
fn non_loopback_hosts_need_tls_unless_listed() {
    let t = tempfile::tempdir().unwrap();
    let mut opts = opts_with_config(t.path());
    let base = |o: &RegistryOptions, d: &str| {
        let d = d.to_string();
        with_runtime(|rt| {
            Ok(rt
                .block_on(RegistryClient::connect(&d, o))?
                .base()
                .to_string())
        })
        .unwrap()
    };
    assert_eq!(
        base(&opts, "registry.example:5000"),
        "https://registry.example:5000/"
    );
    // A loopback port where nothing listens: no TLS there, so plain HTTP.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    assert_eq!(
        base(&opts, &format!("127.0.0.1:{port}")),
        format!("http://127.0.0.1:{port}/")
    );
    // --insecure-registry entries widen the rule (checked without contacting them).
    opts.insecure.add("10.0.0.0/8").unwrap();
    assert!(opts.insecure.allows("10.1.2.3:5000"));
    assert!(!opts.insecure.allows("registry.example:5000"));
}

#[test]
fn credentials_come_from_docker_config() {
    let t = tempfile::tempdir().unwrap();
    let mut f = std::fs::File::create(t.path().join("config.json")).unwrap();
    // base64("u:p")
    f.write_all(br#"{"auths":{"127.0.0.1:5999":{"auth":"dTpw"}},"credsStore":""}"#)
        .unwrap();
    let opts = opts_with_config(t.path());
    let (with, without) = with_runtime(|rt| {
        let a = rt.block_on(RegistryClient::connect("127.0.0.1:5999", &opts))?;
        let b = rt.block_on(RegistryClient::connect("127.0.0.1:5998", &opts))?;
        Ok((a.has_credentials(), b.has_credentials()))
    })
    .unwrap();
    assert!(with);
    assert!(!without);
    // A helper that does not exist does not stop anonymous access.
    std::fs::write(
        t.path().join("config.json"),
        r#"{"credsStore":"strata-no-such-helper"}"#,
    )
    .unwrap();
    let ok = with_runtime(|rt| {
        Ok(rt
            .block_on(RegistryClient::connect("127.0.0.1:5999", &opts))?
            .has_credentials())
    });
    assert!(!ok.unwrap());
}
