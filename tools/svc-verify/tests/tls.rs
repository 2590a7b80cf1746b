//! HTTPS: a service with a certificate from a private CA is refused until --cacert names it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in tests a panic is a failed test with a line number

use assert_cmd::Command;
use http_body_util::Full;
use hyper::body::Bytes;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use serde_json::Value;
use std::sync::Arc;
use testkit::schema::assert_valid_record;

/// The CA's PEM, and a TLS server config for localhost signed by it.
fn pki() -> (String, rustls::ServerConfig) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "svc-verify test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    (ca.pem(), config)
}

/// Serves 200 "ok" over TLS on 127.0.0.1 until the test process ends.
fn serve_tls(config: rustls::ServerConfig) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A client that refuses our certificate ends the handshake: nothing to serve.
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(|_request| async {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            Bytes::from("ok"),
                        )))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
    });
    port
}

fn run(args: &[&str]) -> (i32, Value, String) {
    let output = Command::cargo_bin("svc-verify")
        .unwrap()
        .env("NO_COLOR", "1")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .args(args)
        .arg("--new-record")
        .write_stdin("")
        .output()
        .unwrap();
    let record = assert_valid_record(&output.stdout);
    (
        output.status.code().unwrap(),
        record,
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn a_private_ca_is_refused_until_cacert_names_it() {
    let (ca_pem, config) = pki();
    let port = serve_tls(config);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let check = format!("GET https://localhost:{port}/healthz regex=^ok$");

    let (code, record, stderr) = run(&["--check", &check]);
    assert_eq!(code, 1, "{stderr}");
    let detail = record["services"]["checks"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("TLS: the server's certificate was refused") && detail.contains("--cacert"),
        "{detail}"
    );

    let (code, record, stderr) = run(&["--check", &check, "--cacert", ca.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(record["services"]["endpoints"][0]["status"], 200);
    assert_eq!(
        record["services"]["endpoints"][0]["url"],
        format!("https://localhost:{port}/healthz")
    );
}
