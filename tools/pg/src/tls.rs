//! TLS through rustls, with libpq's rules for what is checked (fe-secure-openssl.c):
//!
//! - the root certificates are `sslrootcert`, else `~/.postgresql/root.crt`; `system` means the
//!   system's trust store;
//! - if that file exists it is loaded and the server's chain is checked against it, whatever
//!   the sslmode (so `require` with a root.crt behaves as verify-ca, and so does `prefer`,
//!   which then falls back to plain text on failure, as libpq does);
//! - if it does not exist, verify-ca and verify-full fail before connecting; the other modes
//!   encrypt without checking the certificate;
//! - only verify-full checks that the certificate names the host.
//!
//! The handshake's signatures are always checked, so even an unchecked certificate proves the
//! server holds its key. libpq's certificate host-name check also falls back to the Common
//! Name when a certificate has no subjectAltName; rustls (like browsers) does not.

use crate::error::ConnectError;
use crate::settings::{ConnSettings, SslMode, SslRootCert};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres_rustls::MakeRustlsConnect;

/// What the server's certificate is checked for.
#[derive(Debug)]
enum Check {
    /// Nothing but the handshake signature (no root certificate, not verify-*).
    Nothing,
    /// The chain leads to one of these roots.
    Chain(Arc<RootCertStore>),
    /// The chain, and that the certificate names the host (verify-full).
    ChainAndName(Arc<RootCertStore>),
}

/// The TLS side of one [`crate::connect`] call.
pub(crate) struct TlsSetup {
    connector: Connector,
    /// Set when a server sent a certificate: TLS got as far as the handshake. libpq's
    /// sslmode=prefer retries in plain text after a failure that happened inside TLS.
    handshake_seen: Arc<AtomicBool>,
}

impl TlsSetup {
    pub(crate) fn new(settings: &ConnSettings) -> Result<Self, ConnectError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls_possible = settings.sslmode() != SslMode::Disable
            && settings.targets().iter().any(|t| !t.is_socket());
        let check = if tls_possible {
            check_for(settings)?
        } else {
            Check::Nothing
        };
        let handshake_seen = Arc::new(AtomicBool::new(false));
        let verifier = PgVerifier {
            check,
            provider: Arc::clone(&provider),
            seen: Arc::clone(&handshake_seen),
        };
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ConnectError::settings(format!("setting up TLS: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        // What libpq 17+ sends; servers before 17 ignore it.
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        Ok(Self {
            connector: Connector(MakeRustlsConnect::new(config)),
            handshake_seen,
        })
    }

    pub(crate) fn connector(&self) -> Connector {
        self.connector.clone()
    }

    pub(crate) fn reset(&self) {
        self.handshake_seen.store(false, Ordering::SeqCst);
    }

    pub(crate) fn handshake_seen(&self) -> bool {
        self.handshake_seen.load(Ordering::SeqCst)
    }
}

/// tokio-postgres asks for a TLS connector for every connection, even on a Unix socket or with
/// sslmode=disable, where it passes an empty host name and never uses the connector. rustls
/// refuses to make one for a name that is not a DNS name or an IP address, which would fail
/// such connections; so those get a placeholder name. When TLS does happen with one (a host
/// alias that is not a valid DNS name), verify-full fails on the placeholder, as it should.
#[derive(Clone)]
pub(crate) struct Connector(MakeRustlsConnect);

const PLACEHOLDER_NAME: &str = "invalid-host-name.invalid";

impl<S> MakeTlsConnect<S> for Connector
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = <MakeRustlsConnect as MakeTlsConnect<S>>::Stream;
    type TlsConnect = <MakeRustlsConnect as MakeTlsConnect<S>>::TlsConnect;
    type Error = <MakeRustlsConnect as MakeTlsConnect<S>>::Error;

    fn make_tls_connect(&mut self, hostname: &str) -> Result<Self::TlsConnect, Self::Error> {
        let name = if ServerName::try_from(hostname).is_ok() {
            hostname
        } else {
            PLACEHOLDER_NAME
        };
        MakeTlsConnect::<S>::make_tls_connect(&mut self.0, name)
    }
}

fn check_for(settings: &ConnSettings) -> Result<Check, ConnectError> {
    let mode = settings.sslmode();
    let verify = matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull);
    let with_roots = |roots: RootCertStore| {
        let roots = Arc::new(roots);
        if mode == SslMode::VerifyFull {
            Check::ChainAndName(roots)
        } else {
            Check::Chain(roots)
        }
    };
    match settings.sslrootcert() {
        Some(SslRootCert::System) => Ok(with_roots(system_roots())),
        Some(SslRootCert::File(path)) if path.exists() => Ok(with_roots(load_roots(path)?)),
        Some(SslRootCert::File(path)) if verify => Err(ConnectError::settings(format!(
            "root certificate file \"{}\" does not exist (provide it, use sslrootcert=system for the \
             system's trusted roots, or choose an sslmode that does not verify the server)",
            path.display()
        ))),
        None if verify => Err(ConnectError::settings(
            "no home directory to find ~/.postgresql/root.crt in, and sslmode needs root certificates \
             (give sslrootcert or PGSSLROOTCERT)",
        )),
        _ => Ok(Check::Nothing),
    }
}

fn load_roots(path: &Path) -> Result<RootCertStore, ConnectError> {
    let fail = |why: String| {
        ConnectError::settings(format!(
            "could not read root certificate file \"{}\": {why}",
            path.display()
        ))
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("no certificates in it".to_owned()));
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| fail(e.to_string()))?;
    }
    Ok(roots)
}

/// The system's trust store; Mozilla's list (webpki-roots) when the system has none, so that
/// `sslrootcert=system` means the usual public roots even in a bare container.
fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if roots.is_empty() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    roots
}

#[derive(Debug)]
struct PgVerifier {
    check: Check,
    provider: Arc<CryptoProvider>,
    seen: Arc<AtomicBool>,
}

impl ServerCertVerifier for PgVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.seen.store(true, Ordering::SeqCst);
        let (roots, check_name) = match &self.check {
            Check::Nothing => return Ok(ServerCertVerified::assertion()),
            Check::Chain(roots) => (roots, false),
            Check::ChainAndName(roots) => (roots, true),
        };
        let cert = ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        if check_name {
            rustls::client::verify_server_name(&cert, server_name)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Environment;

    fn settings(dsn: &str) -> ConnSettings {
        ConnSettings::resolve(
            Some(dsn),
            &Environment::from_pairs([("X", "y")]).with_os_user(Some("u")),
        )
        .unwrap()
    }

    #[test]
    fn verify_modes_need_the_root_file() {
        for mode in ["verify-ca", "verify-full"] {
            let e = check_for(&settings(&format!(
                "host=h sslmode={mode} sslrootcert=/nonexistent/ca.pem"
            )))
            .unwrap_err();
            assert!(e.is_usage());
            assert!(
                e.message()
                    .contains("\"/nonexistent/ca.pem\" does not exist"),
                "{e}"
            );
            // No sslrootcert and no home directory either.
            let e = check_for(&settings(&format!("host=h sslmode={mode}"))).unwrap_err();
            assert!(e.message().contains("no home directory"), "{e}");
        }
    }

    #[test]
    fn weaker_modes_do_without_a_root_file() {
        for mode in ["allow", "prefer", "require"] {
            let check = check_for(&settings(&format!(
                "host=h sslmode={mode} sslrootcert=/nonexistent/ca.pem"
            )))
            .unwrap();
            assert!(matches!(check, Check::Nothing), "{mode}");
        }
    }

    #[test]
    fn an_unreadable_root_file_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let e = check_for(&settings(&format!(
            "host=h sslmode=require sslrootcert={}",
            path.display()
        )))
        .unwrap_err();
        assert!(
            e.message().contains("could not read root certificate file"),
            "{e}"
        );
    }

    #[test]
    fn an_existing_root_file_is_checked_in_every_tls_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        let ca = rcgen::generate_simple_self_signed(vec!["ca".to_owned()]).unwrap();
        std::fs::write(&path, ca.cert.pem()).unwrap();
        for (mode, name) in [
            ("allow", false),
            ("prefer", false),
            ("require", false),
            ("verify-ca", false),
            ("verify-full", true),
        ] {
            let check = check_for(&settings(&format!(
                "host=h sslmode={mode} sslrootcert={}",
                path.display()
            )))
            .unwrap();
            match check {
                Check::Chain(_) => assert!(!name, "{mode}"),
                Check::ChainAndName(_) => assert!(name, "{mode}"),
                Check::Nothing => panic!("{mode}: root file not used"),
            }
        }
    }

    #[test]
    fn no_tls_no_files() {
        // sslmode=disable, or only Unix sockets: a bad root file does not matter.
        assert!(
            TlsSetup::new(&settings("host=h sslmode=disable sslrootcert=/nonexistent")).is_ok()
        );
        assert!(
            TlsSetup::new(&settings(
                "host=/tmp sslmode=verify-full sslrootcert=/nonexistent"
            ))
            .is_ok()
        );
    }

    #[test]
    fn system_roots_are_never_empty() {
        assert!(!system_roots().is_empty());
    }
}
