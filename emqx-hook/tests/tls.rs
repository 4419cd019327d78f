//! The gRPC listener over TLS, with certificates made at test time by rcgen: a client that
//! trusts the CA is served, a plain-text client is not; with `clientCa`, EMQX's side must
//! present a certificate too; off loopback, plain gRPC is refused unless `insecure`.

mod common;

use common::*;
use mqward_emqx::{Error, HookConfig, Server};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca(cn: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let pem = params.self_signed(&key).unwrap().pem();
    Ca {
        pem,
        issuer: Issuer::new(params, key),
    }
}

/// A leaf certificate and its key, PEM, for `names` (DNS names or IP addresses).
fn leaf(ca: &Ca, names: &[&str], usage: ExtendedKeyUsagePurpose) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "mqward-exhook");
    params.extended_key_usages = vec![usage];
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A setup whose listener uses a server certificate from `server_ca`.
fn tls_setup(server_ca: &Ca, client_ca: Option<&Ca>) -> Scratch {
    let extra = match client_ca {
        Some(_) => {
            r#", "tls": {"cert": "server.pem", "key": "server.key", "clientCa": "emqx-ca.pem"}"#
        }
        None => r#", "tls": {"cert": "server.pem", "key": "server.key"}"#,
    };
    let s = setup(extra);
    let (cert, key) = leaf(
        server_ca,
        &["localhost", "127.0.0.1"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    s.write("server.pem", &cert);
    s.write("server.key", &key);
    if let Some(ca) = client_ca {
        s.write("emqx-ca.pem", &ca.pem);
    }
    s
}

async fn tls_client(
    server: &Server,
    ca: &Ca,
    identity: Option<(String, String)>,
) -> Result<Client, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&ca.pem))
        .domain_name("localhost");
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    let url = format!("https://localhost:{}", server.local_addr().port());
    let channel = Channel::from_shared(url)
        .unwrap()
        .tls_config(tls)?
        .connect()
        .await?;
    Ok(Client::over(channel, Version::V3))
}

#[tokio::test]
async fn tls_listener_serves_clients_that_trust_it() {
    let server_ca = ca("exhook CA");
    let s = tls_setup(&server_ca, None);
    let (server, _) = Server::start(&config(&s)).await.unwrap();
    assert!(server.is_tls());
    let mut c = tls_client(&server, &server_ca, None).await.unwrap();
    let alice = client("alice", "alice", "correct horse");
    assert_eq!(c.authenticate(alice.clone()).await, stop(true));
    assert_eq!(c.publish(&alice, "devices/alice/t").await, stop(true));

    // A client that trusts another CA, and a plain-text client, get nothing.
    assert!(tls_client(&server, &ca("other CA"), None).await.is_err());
    let url = format!("http://{}", server.local_addr());
    let plain = Channel::from_shared(url).unwrap().connect().await;
    if let Ok(channel) = plain {
        let answer = Client::over(channel, Version::V2).try_loaded().await;
        assert!(answer.is_err(), "plain text served over the TLS listener");
    }
}

#[tokio::test]
async fn client_ca_makes_emqx_present_a_certificate() {
    let server_ca = ca("exhook CA");
    let emqx_ca = ca("EMQX CA");
    let s = tls_setup(&server_ca, Some(&emqx_ca));
    let (server, _) = Server::start(&config(&s)).await.unwrap();

    let emqx = leaf(&emqx_ca, &["emqx"], ExtendedKeyUsagePurpose::ClientAuth);
    let mut c = tls_client(&server, &server_ca, Some(emqx)).await.unwrap();
    assert_eq!(c.loaded().await.hooks.len(), 4);

    // Without a certificate, or with one from another CA, no call succeeds.
    let stranger = leaf(&ca("other"), &["x"], ExtendedKeyUsagePurpose::ClientAuth);
    for identity in [None, Some(stranger)] {
        if let Ok(mut c) = tls_client(&server, &server_ca, identity).await {
            let answer = c.try_loaded().await;
            assert!(
                answer.is_err(),
                "served a client without EMQX's certificate"
            );
        }
    }
}

#[tokio::test]
async fn plain_text_off_loopback_needs_insecure() {
    let s = setup("");
    let engine = s.path("engine.json");
    let json = |extra: &str| {
        format!(
            r#"{{"version": 1, "listen": "0.0.0.0:0", "engine": "{}"{extra}}}"#,
            engine.display()
        )
    };
    let refused = HookConfig::from_json(json("").as_bytes(), &s.0).unwrap();
    match Server::start(&refused).await {
        Err(Error::PlainText(_)) => {}
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    }
    let insecure = HookConfig::from_json(json(r#", "insecure": true"#).as_bytes(), &s.0).unwrap();
    let (server, _) = Server::start(&insecure).await.unwrap();
    assert!(!server.is_tls());
}

#[tokio::test]
async fn unusable_tls_files_are_named() {
    let s = setup(r#", "tls": {"cert": "server.pem", "key": "server.key"}"#);
    s.write("server.pem", "not a certificate\n");
    s.write("server.key", "not a key\n");
    let err = Server::start(&config(&s)).await.err().unwrap().to_string();
    assert!(err.contains("server.pem"), "{err}");
    let (cert, _) = leaf(
        &ca("x"),
        &["localhost"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    s.write("server.pem", &cert);
    let err = Server::start(&config(&s)).await.err().unwrap().to_string();
    assert!(
        err.contains("server.key") && !err.contains("not a key"),
        "{err}"
    );
}
