//! TLS against a real server with a certificate for localhost/127.0.0.1 from a test CA: every
//! sslmode, right and wrong roots, right and wrong host names, and (after switching pg_hba.conf
//! to hostssl only) sslmode=allow's retry with TLS. One server for all cases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // in tests a panic is a failed test with a line number; a scenario reads top to bottom

mod common;

use common::{connect_err, connect_ok, query_one, uses_tls};
use pg::{ConnSettings, ErrorKind, SslMode};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use std::path::{Path, PathBuf};
use std::time::Duration;
use testkit::{PgCluster, PgOptions};

/// PEM texts: a CA, and a server certificate it signed for localhost and 127.0.0.1.
struct Pki {
    ca: String,
    server_cert: String,
    server_key: String,
}

fn test_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn pki() -> Pki {
    let ca = test_ca("schema-restore test CA");
    let mut params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    Pki {
        ca: ca.pem(),
        server_cert: cert.pem(),
        server_key: key.serialize_pem(),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

struct Server {
    cluster: PgCluster,
    port: u16,
    /// The right CA's PEM file, and another CA's.
    ca: String,
    other_ca: String,
}

impl Server {
    fn settings(&self, dsn: &str) -> ConnSettings {
        let dsn = format!("port={} user=postgres dbname=postgres {dsn}", self.port);
        common::settings(Some(&dsn), &[("PGHOST", "127.0.0.1")])
    }

    /// Connects and says whether the session is encrypted.
    async fn tls_of(&self, dsn: &str) -> bool {
        let client = connect_ok(&self.settings(dsn)).await;
        assert_eq!(query_one(&client, "SELECT 1").await, "1");
        uses_tls(&client).await
    }

    async fn fails(&self, dsn: &str) -> pg::ConnectError {
        connect_err(&self.settings(dsn)).await
    }
}

#[tokio::test]
async fn sslmodes_against_a_tls_server() {
    let pki = pki();
    let options = PgOptions {
        tcp: true,
        tls: Some((pki.server_cert.clone(), pki.server_key.clone())),
        ..PgOptions::default()
    };
    let cluster = PgCluster::start_with(16, &options);
    let dir = tempfile::tempdir().unwrap();
    let server = Server {
        port: cluster.port,
        cluster,
        ca: write(dir.path(), "ca.pem", &pki.ca).display().to_string(),
        other_ca: write(dir.path(), "other-ca.pem", &test_ca("some other CA").pem())
            .display()
            .to_string(),
    };

    without_root_certificate(&server).await;
    with_the_right_ca(&server).await;
    wrong_names_and_wrong_cas(&server).await;
    uri_socket_and_child(&server).await;
    hostssl_only(&server).await;
}

/// Without a root certificate: encrypted, certificate not checked.
async fn without_root_certificate(server: &Server) {
    assert!(server.tls_of("sslmode=require").await);
    assert!(
        server.tls_of("").await,
        "prefer is the default and the server offers TLS"
    );
    assert!(
        !server.tls_of("sslmode=disable").await,
        "disable still reaches a server that allows plain text"
    );
    assert!(
        !server.tls_of("sslmode=allow").await,
        "allow starts in plain text"
    );
}

async fn with_the_right_ca(server: &Server) {
    let ca = &server.ca;
    assert!(
        server
            .tls_of(&format!(
                "host=localhost sslmode=verify-full sslrootcert={ca}"
            ))
            .await
    );
    assert!(
        server
            .tls_of(&format!(
                "host=127.0.0.1 sslmode=verify-full sslrootcert={ca}"
            ))
            .await
    );
    assert!(
        server
            .tls_of(&format!(
                "host=127.0.0.1 sslmode=verify-ca sslrootcert={ca}"
            ))
            .await
    );
    assert!(
        server
            .tls_of(&format!("sslmode=require sslrootcert={ca}"))
            .await
    );
    // verify-ca does not look at the name: reach the server under a name its certificate lacks.
    let unnamed = format!(
        "host=db.not-in-cert.invalid hostaddr=127.0.0.1 sslmode=verify-ca sslrootcert={ca}"
    );
    assert!(server.tls_of(&unnamed).await);
}

async fn wrong_names_and_wrong_cas(server: &Server) {
    let (ca, other_ca) = (&server.ca, &server.other_ca);
    // verify-full with a name the certificate does not have.
    let e = server
        .fails(&format!(
            "host=db.not-in-cert.invalid hostaddr=127.0.0.1 sslmode=verify-full sslrootcert={ca}"
        ))
        .await;
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.is_could_not_run());
    assert!(
        e.to_string()
            .starts_with("connecting to postgres@db.not-in-cert.invalid(127.0.0.1):"),
        "{e}"
    );
    assert!(
        e.message().contains("TLS handshake failed") && e.message().contains("not valid for name"),
        "{e}"
    );

    // verify-full and verify-ca with another CA.
    for mode in ["verify-full", "verify-ca"] {
        let e = server
            .fails(&format!(
                "host=localhost sslmode={mode} sslrootcert={other_ca}"
            ))
            .await;
        assert_eq!(e.kind(), ErrorKind::Tls, "{mode}: {e}");
        assert!(e.message().contains("UnknownIssuer"), "{mode}: {e}");
    }
    // libpq: with a root certificate file present, require checks the chain like verify-ca...
    let e = server
        .fails(&format!("sslmode=require sslrootcert={other_ca}"))
        .await;
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    // ...and prefer, whose TLS then fails, falls back to plain text.
    assert!(
        !server
            .tls_of(&format!("sslmode=prefer sslrootcert={other_ca}"))
            .await
    );
    // The system's roots do not know our test CA.
    let e = server.fails("host=localhost sslrootcert=system").await;
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.message().contains("UnknownIssuer"), "{e}");
}

async fn uri_socket_and_child(server: &Server) {
    // The URI form, with the root certificate in the query.
    let uri = format!(
        "postgresql://postgres@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}",
        server.port, server.ca
    );
    let client = connect_ok(&common::settings(Some(&uri), &[("X", "")])).await;
    assert!(uses_tls(&client).await);

    // TLS settings mean nothing on the Unix socket: no TLS there, whatever the mode.
    let sock = server.cluster.socket_dir().display().to_string();
    let dsn = format!(
        "host={sock} port={} user=postgres sslmode=require",
        server.port
    );
    let s = common::settings(Some(&dsn), &[("X", "")]);
    assert!(!uses_tls(&connect_ok(&s).await).await);

    // A child psql given child_env() verifies the same way and is encrypted.
    let s = server.settings(&format!(
        "host=localhost sslmode=verify-full sslrootcert={}",
        server.ca
    ));
    assert_eq!(s.sslmode(), SslMode::VerifyFull);
    let mut psql = std::process::Command::new(server.cluster.install.bin("psql"));
    let sql = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
    s.child_env()
        .apply(&mut psql)
        .args(["-X", "-A", "-t", "-c", sql]);
    let out = psql.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "t");
}

/// The server now takes TCP sessions only over TLS: allow retries with TLS.
async fn hostssl_only(server: &Server) {
    let hba = server
        .cluster
        .socket_dir()
        .parent()
        .unwrap()
        .join("data")
        .join("pg_hba.conf");
    let rules =
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n";
    std::fs::write(&hba, rules).unwrap();
    server.cluster.psql("postgres", "SELECT pg_reload_conf()");
    let mut refused = None;
    for _ in 0..50 {
        match pg::connect(&server.settings("sslmode=disable")).await {
            Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let e = refused.expect("the server still takes plain-text sessions after the reload");
    assert_eq!(e.kind(), ErrorKind::Rejected, "{e}");
    assert!(
        e.message().contains("no pg_hba.conf entry") && e.message().contains("no encryption"),
        "{e}"
    );
    assert!(
        server.tls_of("sslmode=allow").await,
        "refused in plain text, allow retries with TLS"
    );
    assert!(server.tls_of("sslmode=prefer").await);
}
