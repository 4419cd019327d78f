//! Certificate revocation lists, checked once when loaded and then kept as sets of revoked
//! serial numbers per issuer.
//!
//! webpki can check CRLs itself, but it verifies each list's signature again on every
//! certificate (rustls/webpki#81), which doubles the cost of a cold authentication. Here a list's
//! signature is verified once, when the [`CertificateVerifier`](super::x509::CertificateVerifier)
//! is built, against the configured trust anchors and intermediates; a list that does not verify,
//! or that no configured CA issued, is a load error naming its file.
//!
//! What a loaded list means:
//! - a certificate (leaf or intermediate of the verified path) whose serial number its issuer's
//!   list names is [`Rejection::Revoked`]; several lists of one issuer are merged;
//! - an issuer without a list is not checked for revocation (the operator state registry still
//!   applies);
//! - a list past its `nextUpdate` is stale: by default ([`StaleCrl::Reject`]) every certificate
//!   of that issuer is then [`Rejection::StaleRevocationList`], as OpenSSL (and so Mosquitto's
//!   `crlfile`) rejects with an expired CRL; [`StaleCrl::Accept`] keeps using the last list
//!   (its serials stay revoked) for operators who refresh lists out of band and prefer
//!   availability. With several lists of one issuer the latest `nextUpdate` counts; a list
//!   without `nextUpdate` never goes stale.
//!
//! Supported: v1 and v2 lists, complete for their issuer. Refused at load, because treating them
//! as complete would let revoked certificates through or misattribute entries: delta lists,
//! indirect lists (entries for other issuers), lists partitioned by revocation reason, and any
//! unknown critical extension.

use rustc_hash::{FxHashMap, FxHashSet};
use rustls_pki_types::CertificateRevocationListDer;
use x509_cert::crl::{CertificateList, TbsCertList};
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::crl::dp::IssuingDistributionPoint;
use x509_cert::ext::Extension;

use super::x509::{input, keys};
use crate::{Error, Location, Rejection};

/// What to do with certificates whose issuer's revocation list is past its `nextUpdate`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StaleCrl {
    /// Reject them with [`Rejection::StaleRevocationList`] (the default).
    #[default]
    Reject,
    /// Keep using the stale list: its serials stay revoked, the others pass.
    Accept,
}

/// A list read from a file, structure checked, signature not yet verified.
#[derive(Debug, Clone)]
pub(crate) struct LoadedCrl {
    /// The file name the configuration gives.
    file: String,
    /// Which list of the file (from 1), for messages when a file holds several.
    number: usize,
    /// The issuer Name, DER.
    issuer: Vec<u8>,
    /// The whole list, DER, for the signature check.
    der: CertificateRevocationListDer<'static>,
    /// `nextUpdate`, seconds since the Unix epoch.
    next_update: Option<u64>,
    /// Revoked serial numbers, leading zero bytes trimmed.
    serials: Vec<Box<[u8]>>,
}

impl LoadedCrl {
    fn problem(&self, message: impl Into<String>) -> Error {
        located(&self.file, self.number, message)
    }
}

fn located(file: &str, number: usize, message: impl Into<String>) -> Error {
    let message = message.into();
    let message = if number > 1 {
        format!("revocation list {number}: {message}")
    } else {
        message
    };
    Error::single(Location::File(file.to_owned()), message)
}

/// Reads every list in a PEM or DER file and checks its structure.
pub(crate) fn parse(file: &str, bytes: &[u8]) -> Result<Vec<LoadedCrl>, Error> {
    let lists = input::revocation_lists(bytes).map_err(|e| located(file, 1, e.message()))?;
    lists
        .into_iter()
        .enumerate()
        .map(|(i, der)| parse_one(file, i + 1, der))
        .collect()
}

fn parse_one(
    file: &str,
    number: usize,
    der: CertificateRevocationListDer<'static>,
) -> Result<LoadedCrl, Error> {
    let fail = |message: &str| located(file, number, message);
    let list = CertificateList::from_der(der.as_ref())
        .map_err(|e| located(file, number, format!("not a revocation list: {e}")))?;
    let tbs: &TbsCertList = &list.tbs_cert_list;
    if tbs.signature != list.signature_algorithm {
        return Err(fail("the signed and the outer signature algorithms differ"));
    }
    for extension in tbs.crl_extensions.iter().flatten() {
        check_list_extension(extension).map_err(|m| fail(&m))?;
    }
    let mut serials = Vec::new();
    for entry in tbs.revoked_certificates.iter().flatten() {
        for extension in entry.crl_entry_extensions.iter().flatten() {
            check_entry_extension(extension).map_err(|m| fail(&m))?;
        }
        let serial = super::x509::trim_serial(entry.serial_number.as_bytes());
        serials.push(Box::<[u8]>::from(serial));
    }
    let issuer = tbs
        .issuer
        .to_der()
        .map_err(|_| fail("issuer name does not encode"))?;
    Ok(LoadedCrl {
        file: file.to_owned(),
        number,
        issuer,
        next_update: tbs.next_update.map(|t| t.to_unix_duration().as_secs()),
        der,
        serials,
    })
}

fn check_list_extension(extension: &Extension) -> Result<(), String> {
    use const_oid::db::rfc5280 as oids;
    match extension.extn_id {
        oids::ID_CE_DELTA_CRL_INDICATOR => Err("delta revocation lists are not supported".into()),
        oids::ID_CE_ISSUING_DISTRIBUTION_POINT => {
            let point = IssuingDistributionPoint::from_der(extension.extn_value.as_bytes())
                .map_err(|e| format!("issuing distribution point does not decode: {e}"))?;
            if point.indirect_crl {
                Err("indirect revocation lists are not supported".into())
            } else if point.only_some_reasons.is_some() {
                Err("revocation lists partitioned by reason are not supported".into())
            } else {
                Ok(())
            }
        }
        oid if extension.critical
            && oid != oids::ID_CE_CRL_NUMBER
            && oid != oids::ID_CE_AUTHORITY_KEY_IDENTIFIER =>
        {
            Err(format!("unsupported critical extension `{oid}`"))
        }
        _ => Ok(()),
    }
}

fn check_entry_extension(extension: &Extension) -> Result<(), String> {
    use const_oid::db::rfc5280 as oids;
    match extension.extn_id {
        oids::ID_CE_CERTIFICATE_ISSUER => {
            Err("entries for other issuers (indirect lists) are not supported".into())
        }
        oid if extension.critical => Err(format!("unsupported critical entry extension `{oid}`")),
        _ => Ok(()),
    }
}

/// A configured CA that may have signed revocation lists.
#[derive(Debug, Clone)]
pub(crate) struct CrlSigner {
    /// The CA's subject Name, DER.
    pub(crate) subject: Vec<u8>,
    /// The CA's key.
    pub(crate) key: keys::SignerKey,
    /// False when the CA has a keyUsage extension without `cRLSign`.
    pub(crate) may_sign_crls: bool,
}

/// The revoked serials of one issuer.
#[derive(Debug, Clone, Default)]
struct IssuerList {
    serials: FxHashSet<Box<[u8]>>,
    /// The latest `nextUpdate` of the issuer's lists; `None` if one has none.
    next_update: Option<u64>,
}

/// Where an issuer's list sits in [`RevocationLists`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IssuerIndex(usize);

/// The verified revocation lists, by issuer.
#[derive(Debug, Clone, Default)]
pub(crate) struct RevocationLists {
    by_issuer: FxHashMap<Box<[u8]>, IssuerIndex>,
    lists: Vec<IssuerList>,
}

impl RevocationLists {
    /// Verifies each list's signature against the signers (once) and merges lists by issuer.
    /// Every list that fails is reported, each naming its file.
    pub(crate) fn build(
        loaded: Vec<LoadedCrl>,
        signers: &[CrlSigner],
    ) -> Result<RevocationLists, Error> {
        let mut problems = Vec::new();
        let mut lists = RevocationLists::default();
        for crl in loaded {
            match verify(&crl, signers) {
                Ok(()) => lists.add(crl),
                Err(e) => problems.extend(e.problems().iter().cloned()),
            }
        }
        if problems.is_empty() {
            Ok(lists)
        } else {
            Err(Error::from_problems(problems))
        }
    }

    fn add(&mut self, crl: LoadedCrl) {
        let next = IssuerIndex(self.lists.len());
        let index = *self
            .by_issuer
            .entry(crl.issuer.into_boxed_slice())
            .or_insert(next);
        if index == next {
            self.lists.push(IssuerList {
                serials: FxHashSet::default(),
                next_update: crl.next_update,
            });
        } else if let Some(list) = self.lists.get_mut(index.0) {
            list.next_update = match (list.next_update, crl.next_update) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
        }
        if let Some(list) = self.lists.get_mut(index.0) {
            list.serials.extend(crl.serials);
        }
    }

    /// The list of the issuer with this subject Name (DER), if one was loaded.
    pub(crate) fn issuer(&self, name: &[u8]) -> Option<IssuerIndex> {
        self.by_issuer.get(name).copied()
    }

    /// Whether no list was loaded.
    pub(crate) fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }

    /// Checks one certificate, by its issuer's list and its trimmed serial number, at `now`.
    pub(crate) fn check(
        &self,
        issuer: IssuerIndex,
        serial: &[u8],
        now: u64,
        stale: StaleCrl,
    ) -> Result<(), Rejection> {
        // An index only ever comes from `issuer` on these same lists; a miss fails closed.
        let list = self.lists.get(issuer.0).ok_or(Rejection::Revoked)?;
        if list.serials.contains(serial) {
            return Err(Rejection::Revoked);
        }
        match (stale, list.next_update) {
            (StaleCrl::Reject, Some(next)) if now > next => Err(Rejection::StaleRevocationList),
            _ => Ok(()),
        }
    }
}

fn verify(crl: &LoadedCrl, signers: &[CrlSigner]) -> Result<(), Error> {
    let signed = input::Signed::parse(crl.der.as_ref())
        .ok_or_else(|| crl.problem("not a signed revocation list"))?;
    let mut problem = None;
    for signer in signers.iter().filter(|s| s.subject == crl.issuer) {
        if !signer.may_sign_crls {
            problem.get_or_insert("the issuer's key usage does not allow signing revocation lists");
            continue;
        }
        match signer
            .key
            .verify(signed.algorithm, signed.message, signed.signature)
        {
            Ok(()) => return Ok(()),
            Err(e) => problem = Some(e.message()),
        }
    }
    Err(crl.problem(
        problem.unwrap_or("no configured trust anchor or intermediate issued this revocation list"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(serials: &[&[u8]], next_update: Option<u64>) -> LoadedCrl {
        LoadedCrl {
            file: "a.crl".into(),
            number: 1,
            issuer: b"issuer".to_vec(),
            der: CertificateRevocationListDer::from(Vec::new()),
            next_update,
            serials: serials.iter().map(|s| Box::<[u8]>::from(*s)).collect(),
        }
    }

    #[test]
    fn merges_lists_of_one_issuer() {
        let mut lists = RevocationLists::default();
        lists.add(list(&[b"\x01"], Some(100)));
        lists.add(list(&[b"\x02"], Some(200)));
        let issuer = lists.issuer(b"issuer").unwrap();
        assert_eq!(lists.issuer(b"other"), None);
        for serial in [b"\x01", b"\x02"] {
            assert_eq!(
                lists.check(issuer, serial, 0, StaleCrl::Reject),
                Err(Rejection::Revoked)
            );
        }
        assert_eq!(lists.check(issuer, b"\x03", 200, StaleCrl::Reject), Ok(()));
        assert_eq!(
            lists.check(issuer, b"\x03", 201, StaleCrl::Reject),
            Err(Rejection::StaleRevocationList)
        );
        assert_eq!(lists.check(issuer, b"\x03", 201, StaleCrl::Accept), Ok(()));
        assert_eq!(
            lists.check(issuer, b"\x01", 201, StaleCrl::Accept),
            Err(Rejection::Revoked)
        );
        lists.add(list(&[], None));
        assert_eq!(
            lists.check(issuer, b"\x03", u64::MAX, StaleCrl::Reject),
            Ok(())
        );
    }

    #[test]
    fn unknown_issuer_is_a_load_error() {
        let err = RevocationLists::build(vec![list(&[], None)], &[]).unwrap_err();
        assert_eq!(err.problems()[0].location, Location::File("a.crl".into()));
    }

    #[test]
    fn garbage_is_a_load_error_naming_the_file() {
        for bytes in [
            &b""[..],
            b"\x30\x03\x02\x01\x05",
            b"-----BEGIN X509 CRL-----\n",
        ] {
            let err = parse("bad.crl", bytes).unwrap_err();
            assert_eq!(err.problems()[0].location, Location::File("bad.crl".into()));
        }
    }
}
