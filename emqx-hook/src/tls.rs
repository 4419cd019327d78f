//! TLS for the gRPC listener. ClientInfo carries each client's password in clear, so a
//! listener off loopback needs TLS, or an explicit `"insecure": true`.

use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

use crate::config::{self, HookConfig, TlsFiles};
use crate::error::Error;

/// The listener's TLS settings: `Some` with `tls` configured, `None` for plain gRPC on
/// loopback or when `insecure` is set; an error for plain gRPC off loopback otherwise.
pub fn listener(config: &HookConfig) -> Result<Option<ServerTlsConfig>, Error> {
    match &config.tls {
        Some(files) => server_config(files).map(Some),
        None if config.is_loopback() || config.insecure => Ok(None),
        None => Err(Error::PlainText(config.listen)),
    }
}

fn tls_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Tls {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// Reads a PEM file of certificates, checking that it holds at least one.
fn certificates(path: &Path) -> Result<Vec<u8>, Error> {
    let pem = config::read(path)?;
    let count = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| tls_error(path, "a PEM section is malformed"))?
        .len();
    if count == 0 {
        return Err(tls_error(path, "no `CERTIFICATE` PEM section"));
    }
    Ok(pem)
}

fn server_config(files: &TlsFiles) -> Result<ServerTlsConfig, Error> {
    let cert = certificates(&files.cert)?;
    let key = config::read(&files.key)?;
    // Checked here so that a wrong file is named; the key's bytes never reach a message.
    PrivateKeyDer::from_pem_slice(&key)
        .map_err(|_| tls_error(&files.key, "no usable private key PEM section"))?;
    let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(cert, key));
    if let Some(ca) = &files.client_ca {
        tls = tls.client_ca_root(Certificate::from_pem(certificates(ca)?));
    }
    Ok(tls)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(listen: &str, extra: &str) -> HookConfig {
        let json = format!(r#"{{"version":1,"listen":"{listen}","engine":"e.json"{extra}}}"#);
        HookConfig::from_json(json.as_bytes(), Path::new("/nowhere")).unwrap()
    }

    #[test]
    fn plain_text_only_on_loopback_or_when_asked() {
        assert!(listener(&config("127.0.0.1:9000", "")).unwrap().is_none());
        assert!(listener(&config("[::1]:9000", "")).unwrap().is_none());
        assert!(matches!(
            listener(&config("0.0.0.0:9000", "")),
            Err(Error::PlainText(_))
        ));
        assert!(matches!(
            listener(&config("192.0.2.1:9000", "")),
            Err(Error::PlainText(_))
        ));
        let insecure = config("0.0.0.0:9000", r#","insecure":true"#);
        assert!(listener(&insecure).unwrap().is_none());
    }

    #[test]
    fn unusable_files_are_named() {
        let dir = std::env::temp_dir().join(format!("mqward-emqx-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("empty.pem"), "nothing here\n").unwrap();
        let c = HookConfig::from_json(
            br#"{"version":1,"listen":"0.0.0.0:1","engine":"e","tls":{"cert":"empty.pem","key":"k"}}"#,
            &dir,
        )
        .unwrap();
        let err = listener(&c).unwrap_err().to_string();
        assert!(
            err.contains("empty.pem") && err.contains("CERTIFICATE"),
            "{err}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
