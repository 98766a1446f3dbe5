//! TLS for tests: certificates from a throwaway private CA (rcgen), and a tiny `https` SSE
//! server on 127.0.0.1 that answers every request with the same event stream.

use std::net::SocketAddr;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};

/// A server certificate for `127.0.0.1` and `localhost`, a client certificate, and the private
/// CA that signed both.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The CA certificate (PEM and DER): what a client must trust.
    pub ca_pem: String,
    pub ca_der: Vec<u8>,
    /// The server's certificate (PEM and DER) and its PKCS#8 key (PEM and DER).
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    pub key_pem: String,
    pub key_der: Vec<u8>,
    /// A client certificate (for mutual TLS) and its PKCS#8 key, PEM.
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

/// Makes a fresh CA and, signed by it, a server certificate for `127.0.0.1` and `localhost`
/// and a client certificate.
///
/// # Panics
/// When key generation fails (test set-up).
#[must_use]
pub fn issue_for_localhost() -> Issued {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "sse-tests private CA");
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().expect("server key");
    let params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("server params");
    let cert = params.signed_by(&key, &issuer).expect("server certificate");
    let client_key = KeyPair::generate().expect("client key");
    let mut client_params = CertificateParams::new(Vec::<String>::new()).expect("client params");
    client_params
        .distinguished_name
        .push(DnType::CommonName, "sse-host node");
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client_params
        .signed_by(&client_key, &issuer)
        .expect("client certificate");
    Issued {
        client_cert_pem: client_cert.pem(),
        client_key_pem: client_key.serialize_pem(),
        ca_pem: ca_cert.pem(),
        ca_der: ca_cert.der().to_vec(),
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
        key_pem: key.serialize_pem(),
        key_der: key.serialize_der(),
    }
}

/// Starts an `https` server on 127.0.0.1 (certificate from [`issue_for_localhost`]) that reads
/// each request head and answers `200 text/event-stream` with `body`, then holds the
/// connection open until the client goes. Runs until the runtime stops.
///
/// # Panics
/// When it cannot bind or the certificate is refused (test set-up).
pub async fn sse_server(body: &'static [u8]) -> (SocketAddr, Issued) {
    serve(body, false).await
}

/// As [`sse_server`], and the handshake requires a client certificate signed by the same CA
/// ([`Issued::client_cert_pem`]).
///
/// # Panics
/// As [`sse_server`].
pub async fn sse_server_requiring_client_cert(body: &'static [u8]) -> (SocketAddr, Issued) {
    serve(body, true).await
}

async fn serve(body: &'static [u8], client_auth: bool) -> (SocketAddr, Issued) {
    let issued = issue_for_localhost();
    let builder = ServerConfig::builder();
    let builder = if client_auth {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from(issued.ca_der.clone()))
            .expect("the CA as a client root");
        let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
            .build()
            .expect("client verifier");
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let config = builder
        .with_single_cert(
            vec![CertificateDer::from(issued.cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(issued.key_der.clone())),
        )
        .expect("server certificate and key");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A failed handshake (a client that does not trust us) just ends here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 << 10 {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let reply = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\r\n";
                if tls.write_all(reply).await.is_err() || tls.write_all(body).await.is_err() {
                    return;
                }
                let _ = tls.flush().await;
                // Hold the stream open until the client closes it.
                while matches!(tls.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
    });
    (addr, issued)
}
