//! The local certificate authority: made on first start and kept in the data folder
//! (`callerid-emulator-ca.pem` and its key), so that a client trusts it once; and, from it, at
//! every start, a server certificate for Twilio's API host names, `localhost`, `127.0.0.1` and
//! any names configured.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The CA certificate's file name in the data folder.
pub const CA_FILE: &str = "callerid-emulator-ca.pem";
/// Its private key's, readable by the owner only.
pub const CA_KEY_FILE: &str = "callerid-emulator-ca-key.pem";

/// The regions and edges Twilio's SDKs build host names from (`api.{edge}.{region}.twilio.com`).
const REGIONS: [&str; 8] = ["us1", "us2", "ie1", "de1", "au1", "br1", "jp1", "sg1"];
const EDGES: [&str; 9] = [
    "ashburn",
    "umatilla",
    "dublin",
    "frankfurt",
    "sydney",
    "sao-paulo",
    "tokyo",
    "singapore",
    "roaming",
];

/// Why the CA could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} does not hold a usable certificate authority key: {source}")]
    Key { path: PathBuf, source: rcgen::Error },
    #[error("could not make a certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("could not set up TLS: {0}")]
    Tls(#[from] rustls::Error),
}

/// The CA, loaded or made.
pub struct LocalCa {
    /// The CA certificate, as clients are to trust it.
    pub pem: String,
    /// Where that PEM is written.
    pub path: PathBuf,
    issuer: Issuer<'static, KeyPair>,
}

/// The CA's own certificate parameters. They are the same at every start, so that server
/// certificates issued by a later start chain to the CA certificate written by the first.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "callerid-emulator");
    name.push(DnType::CommonName, "callerid-emulator local CA");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(2045, 1, 1);
    params
}

fn read(path: &Path) -> Result<Option<String>, CaError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CaError::File {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn write(path: &Path, text: &str, private: bool) -> Result<(), CaError> {
    let file_error = |source| CaError::File {
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path).map_err(file_error)?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(file_error)
}

impl LocalCa {
    /// Loads the CA kept in `dir`, or makes one there (creating `dir`) on first start.
    pub fn load_or_create(dir: &Path) -> Result<LocalCa, CaError> {
        std::fs::create_dir_all(dir).map_err(|source| CaError::File {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(CA_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let params = ca_params();
        let (key, pem) = match (read(&key_path)?, read(&path)?) {
            (Some(key_pem), Some(pem)) => {
                let key = KeyPair::from_pem(&key_pem).map_err(|source| CaError::Key {
                    path: key_path.clone(),
                    source,
                })?;
                (key, pem)
            }
            _ => {
                let key = KeyPair::generate()?;
                let pem = params.self_signed(&key)?.pem();
                write(&key_path, &key.serialize_pem(), true)?;
                write(&path, &pem, false)?;
                (key, pem)
            }
        };
        Ok(LocalCa {
            pem,
            path,
            issuer: Issuer::new(params, key),
        })
    }

    /// A server certificate for Twilio's API hosts, `localhost`, `127.0.0.1` and `extra`, as a
    /// rustls configuration (HTTP/1.1).
    pub fn server_config(&self, extra: &[String]) -> Result<Arc<rustls::ServerConfig>, CaError> {
        let mut names: Vec<String> = vec![
            "api.twilio.com".into(),
            "*.twilio.com".into(),
            "localhost".into(),
            "127.0.0.1".into(),
            "::1".into(),
        ];
        for region in REGIONS {
            names.push(format!("*.{region}.twilio.com"));
            for edge in EDGES {
                names.push(format!("*.{edge}.{region}.twilio.com"));
            }
        }
        names.extend(extra.iter().cloned());
        let mut params = CertificateParams::new(names)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "api.twilio.com");
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let day = |offset: i64| {
            use chrono::Datelike;
            let date = (chrono::Utc::now() + chrono::Duration::days(offset)).date_naive();
            rcgen::date_time_ymd(date.year(), date.month() as u8, date.day() as u8)
        };
        params.not_before = day(-1);
        params.not_after = day(365);
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let chain = vec![CertificateDer::from(cert.der().to_vec())];
        let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, private)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_is_made_once_and_loaded_after() {
        let dir = tempfile::tempdir().expect("dir");
        let first = LocalCa::load_or_create(dir.path()).expect("made");
        let again = LocalCa::load_or_create(dir.path()).expect("loaded");
        assert_eq!(first.pem, again.pem);
        assert!(first.pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(again.server_config(&["emulator.test".into()]).is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(CA_KEY_FILE))
                .expect("key file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn an_unreadable_key_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join(CA_FILE), "x").expect("write");
        std::fs::write(dir.path().join(CA_KEY_FILE), "not a key").expect("write");
        let err = LocalCa::load_or_create(dir.path()).err().expect("an error");
        assert!(err.to_string().contains(CA_KEY_FILE), "{err}");
    }
}
