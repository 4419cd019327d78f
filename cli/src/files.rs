//! Reading the files the commands name, and replacing the ones they change.

use std::io;
use std::path::Path;

use mqward_core::authn::x509::Fingerprint;
use mqward_core::{Builder, Config, Document, Engine, Snapshot};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use x509_cert::der::Decode;
use x509_cert::Certificate;

use crate::atomic;
use crate::error::Error;
use crate::random;

/// Reads a whole file.
pub fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })
}

/// Reads a whole file, or `None` if there is no file of that name.
pub fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Replaces (or creates) a file atomically, keeping its mode and owner.
pub fn save(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    atomic::write(path, bytes).map_err(|source| Error::Save {
        path: path.to_owned(),
        source,
    })
}

/// An exclusive advisory lock (`flock`) on the directory of a file that several writers change
/// (the certificate registry, the token store): each writer takes it around its
/// read-modify-write, so none replaces the file with contents that miss another's change. The
/// directory is locked rather than a `.lock` file beside it so that nothing is left behind.
/// Released when dropped.
#[derive(Debug)]
pub struct Lock {
    _dir: std::fs::File,
}

/// Waits for and takes the lock for `path`.
pub fn lock(path: &Path) -> Result<Lock, Error> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let failed = |source| Error::Save {
        path: path.to_owned(),
        source,
    };
    let handle = std::fs::File::open(dir).map_err(failed)?;
    handle.lock().map_err(failed)?;
    Ok(Lock { _dir: handle })
}

/// Reads a whole file as UTF-8 text.
pub fn read_text(path: &Path) -> Result<String, Error> {
    String::from_utf8(read(path)?).map_err(|_| Error::NotUtf8 {
        path: path.to_owned(),
    })
}

/// Wraps a core error with the file it came from.
pub fn invalid(path: &Path, e: &mqward_core::Error) -> Error {
    Error::Invalid {
        path: path.to_owned(),
        problems: e.problems().to_vec(),
    }
}

/// Reads a policy document (native or Greengrass JSON) and compiles it.
pub fn load_policy(path: &Path) -> Result<(Document, Snapshot), Error> {
    let bytes = read(path)?;
    let doc = Document::from_json(&bytes).map_err(|e| invalid(path, &e))?;
    let snapshot = Builder::new().build(&doc).map_err(|e| invalid(path, &e))?;
    Ok((doc, snapshot))
}

/// Reads an engine configuration and every file it names, and builds the engine. A relative
/// name in the configuration is read from the configuration's directory. Returns the warnings
/// the engine wants logged (declared identities, anonymous access).
pub fn load_engine(path: &Path) -> Result<(Engine, Vec<String>), Error> {
    let config = Config::from_json(&read(path)?).map_err(|e| invalid(path, &e))?;
    let base = path.parent().unwrap_or(Path::new(""));
    let mut read_named = |name: &str| {
        let file = base.join(name);
        std::fs::read(&file).map_err(|e| format!("cannot read `{}`: {e}", file.display()))
    };
    let cache_key = random::bytes::<32>()?;
    Engine::from_config(&config, &mut read_named, &cache_key).map_err(|e| invalid(path, &e))
}

/// The SHA-256 fingerprint of the certificate in a file (PEM or DER), and how many certificates
/// the file holds. Of a PEM bundle (leaf first, as clients present them) the first is taken.
pub fn certificate_fingerprint(path: &Path, bytes: &[u8]) -> Result<(Fingerprint, usize), Error> {
    let not = |reason: &str| Error::NotCertificate {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(not("the file is empty"));
    }
    // DER certificates are SEQUENCEs (first byte 0x30); PEM text never starts with `0`.
    let (der, count) = if bytes.first() == Some(&0x30) {
        (bytes.to_vec(), 1)
    } else {
        let sections = CertificateDer::pem_slice_iter(bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| not("a PEM section is malformed"))?;
        let count = sections.len();
        let first = sections
            .into_iter()
            .next()
            .ok_or_else(|| not("no `CERTIFICATE` PEM section, and not DER"))?;
        (first.as_ref().to_vec(), count)
    };
    Certificate::from_der(&der).map_err(|_| not("not a valid X.509 certificate encoding"))?;
    Ok((Fingerprint::of(&der), count))
}
