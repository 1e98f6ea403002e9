//! A throwaway CA and a server certificate for localhost / 127.0.0.1, made with the `openssl`
//! CLI so the fakes can serve HTTPS. A CA signs the leaf (rather than one self-signed cert)
//! because webpki refuses a CA certificate used as the server's own.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub struct TlsIdentity {
    /// The server certificate (leaf), PEM.
    pub cert_pem_path: PathBuf,
    /// The server's private key (PKCS#8), PEM.
    pub key_pem_path: PathBuf,
    /// The CA a client must trust, PEM.
    pub ca_pem_path: PathBuf,
    pub dir: PathBuf,
}

impl TlsIdentity {
    /// Generates a fresh identity; `None` when the `openssl` CLI is missing or fails.
    pub fn localhost() -> Option<TlsIdentity> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "hermes-test-tls-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).ok()?;
        let id = TlsIdentity {
            cert_pem_path: dir.join("cert.pem"),
            key_pem_path: dir.join("key.pem"),
            ca_pem_path: dir.join("ca.pem"),
            dir,
        };
        let ext = "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
                   keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n";
        fs::write(id.dir.join("leaf.ext"), ext).ok()?;
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        let steps: [Vec<&str>; 3] = [
            [
                &["req", "-x509"][..],
                &ec,
                &["-keyout", "ca.key", "-out", "ca.pem", "-days", "3", "-subj", "/CN=hermes-test-ca"],
            ]
            .concat(),
            [&["req"][..], &ec, &["-keyout", "key.pem", "-out", "leaf.csr", "-subj", "/CN=localhost"]].concat(),
            vec![
                "x509",
                "-req",
                "-in",
                "leaf.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "cert.pem",
                "-days",
                "3",
                "-extfile",
                "leaf.ext",
            ],
        ];
        for args in steps {
            let ok = Command::new("openssl")
                .args(&args)
                .current_dir(&id.dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return None;
            }
        }
        Some(id)
    }

    /// The CA certificate as PEM text (for a client's trust store).
    pub fn ca_pem(&self) -> String {
        fs::read_to_string(&self.ca_pem_path).unwrap_or_default()
    }

    pub(crate) fn server_config(&self) -> Arc<ServerConfig> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&self.cert_pem_path)
            .expect("read cert.pem")
            .collect::<Result<_, _>>()
            .expect("parse cert.pem");
        let key = PrivateKeyDer::from_pem_file(&self.key_pem_path).expect("read key.pem");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server cert");
        Arc::new(cfg)
    }
}

impl Drop for TlsIdentity {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}
