//! Certificates and revocation lists as they arrive: PEM (any number of sections, text around
//! them ignored) or DER (one or more encodings back to back), told apart by the first byte.

use der::{Decode, Encode, Header, Reader, SliceReader, Tag};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};

/// The most bytes a client may present (leaf plus intermediates).
pub(crate) const MAX_PRESENTED: usize = 64 * 1024;

/// The most certificates a client may present (leaf plus intermediates).
pub(crate) const MAX_CERTIFICATES: usize = 8;

/// Why input could not be split into DER items; the text names no input bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InputError {
    /// No bytes at all.
    Empty,
    /// Neither DER (which starts with a SEQUENCE) nor text with a PEM section.
    Unrecognized,
    /// PEM with no section of the wanted kind.
    NoSection(&'static str),
    /// A PEM section without its END line.
    MissingEnd,
    /// A malformed BEGIN line.
    BadBegin,
    /// A PEM section whose body is not base64.
    BadBase64,
    /// DER that is not a sequence or whose length runs past the end.
    BadDer,
}

impl InputError {
    /// The problem in plain words.
    pub(crate) fn message(self) -> String {
        match self {
            InputError::Empty => "empty input".to_owned(),
            InputError::Unrecognized => "neither PEM nor DER".to_owned(),
            InputError::NoSection(label) => format!("no `{label}` section in the PEM text"),
            InputError::MissingEnd => "a PEM section has no END line".to_owned(),
            InputError::BadBegin => "a PEM BEGIN line is malformed".to_owned(),
            InputError::BadBase64 => "a PEM section is not valid base64".to_owned(),
            InputError::BadDer => "not a DER encoding (bad tag or length)".to_owned(),
        }
    }
}

/// Whether `bytes` is PEM text rather than DER: DER certificates and lists are SEQUENCEs, so
/// they start with byte 0x30; PEM text may start with anything (bundles often carry
/// `subject=` or `Bag Attributes` lines before each section) but not with the digit `0`.
fn is_pem(bytes: &[u8]) -> bool {
    bytes.first() != Some(&0x30)
}

/// Splits DER encodings that follow each other; each must be a SEQUENCE.
fn split_der(mut bytes: &[u8]) -> Result<Vec<&[u8]>, InputError> {
    let mut items = Vec::new();
    while !bytes.is_empty() {
        let mut reader = SliceReader::new(bytes).map_err(|_| InputError::BadDer)?;
        let header = Header::decode(&mut reader).map_err(|_| InputError::BadDer)?;
        if header.tag() != Tag::Sequence {
            return Err(InputError::BadDer);
        }
        let total = header
            .encoded_len()
            .and_then(|head| head + header.length())
            .map_err(|_| InputError::BadDer)?;
        let total = usize::try_from(total).map_err(|_| InputError::BadDer)?;
        let (item, rest) = bytes.split_at_checked(total).ok_or(InputError::BadDer)?;
        items.push(item);
        bytes = rest;
    }
    Ok(items)
}

fn pem_error(e: pem::Error) -> InputError {
    match e {
        pem::Error::MissingSectionEnd { .. } => InputError::MissingEnd,
        pem::Error::IllegalSectionStart { .. } => InputError::BadBegin,
        _ => InputError::BadBase64,
    }
}

/// PEM or DER input split into items: DER borrows, PEM decodes into owned values.
enum Items<'a, T> {
    Der(Vec<&'a [u8]>),
    Pem(Vec<T>),
}

/// Splits PEM or DER input into the DER items it holds (at least one).
fn split<'a, T: PemObject>(
    bytes: &'a [u8],
    label: &'static str,
) -> Result<Items<'a, T>, InputError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(InputError::Empty);
    }
    if !is_pem(bytes) {
        return split_der(bytes).map(Items::Der);
    }
    let items = T::pem_slice_iter(bytes)
        .collect::<Result<Vec<T>, _>>()
        .map_err(pem_error)?;
    if items.is_empty() {
        let has_pem = memchr::memmem::find(bytes, b"-----BEGIN").is_some();
        return Err(if has_pem {
            InputError::NoSection(label)
        } else {
            InputError::Unrecognized
        });
    }
    Ok(Items::Pem(items))
}

/// The certificates in PEM or DER input, in the order given (at least one).
pub(crate) fn certificates(bytes: &[u8]) -> Result<Vec<CertificateDer<'_>>, InputError> {
    Ok(
        match split::<CertificateDer<'static>>(bytes, "CERTIFICATE")? {
            Items::Der(items) => items.into_iter().map(CertificateDer::from).collect(),
            Items::Pem(items) => items,
        },
    )
}

/// The revocation lists in PEM or DER input, owned (at least one).
pub(crate) fn revocation_lists(
    bytes: &[u8],
) -> Result<Vec<CertificateRevocationListDer<'static>>, InputError> {
    Ok(
        match split::<CertificateRevocationListDer<'static>>(bytes, "X509 CRL")? {
            Items::Der(items) => items
                .into_iter()
                .map(|der| CertificateRevocationListDer::from(der.to_vec()))
                .collect(),
            Items::Pem(items) => items,
        },
    )
}

/// The DER encoding of a value, or `None` if it cannot be encoded (never for parsed input).
pub(crate) fn to_der(value: &impl Encode) -> Option<Vec<u8>> {
    value.to_der().ok()
}

/// The parts of a signed structure (`SEQUENCE { tbs, algorithm, BIT STRING }`, the shape of
/// certificates and CRLs): the exact signed bytes, the algorithm identifier's contents, and the
/// signature.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Signed<'a> {
    /// The to-be-signed encoding, tag and length included.
    pub(crate) message: &'a [u8],
    /// The contents of the signature AlgorithmIdentifier (without its SEQUENCE header), the form
    /// `rustls_pki_types::AlgorithmIdentifier` compares.
    pub(crate) algorithm: &'a [u8],
    /// The signature bits.
    pub(crate) signature: &'a [u8],
}

impl<'a> Signed<'a> {
    /// Splits a signed structure; `None` if it does not have that shape.
    pub(crate) fn parse(der: &'a [u8]) -> Option<Signed<'a>> {
        let mut reader = SliceReader::new(der).ok()?;
        let signed = reader
            .sequence(|inner: &mut SliceReader<'a>| {
                let message = inner.tlv_bytes()?;
                let algorithm = der::asn1::AnyRef::decode(inner)?;
                let signature = der::asn1::BitStringRef::decode(inner)?;
                Ok::<_, der::Error>((message, algorithm, signature))
            })
            .ok()?;
        reader.finish().ok()?;
        let (message, algorithm, signature) = signed;
        if algorithm.header().tag() != Tag::Sequence {
            return None;
        }
        Some(Signed {
            message,
            algorithm: algorithm.value(),
            signature: signature.as_bytes()?,
        })
    }
}

/// The contents of a DER encoding without its tag and length.
pub(crate) fn contents(der: &[u8]) -> Option<&[u8]> {
    der::asn1::AnyRef::from_der(der).ok().map(|any| any.value())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEQ: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x05];

    #[test]
    fn splits_concatenated_der() {
        let mut two = SEQ.to_vec();
        two.extend_from_slice(SEQ);
        let items = certificates(&two).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].as_ref(), SEQ);
        assert_eq!(items[1].as_ref(), SEQ);
    }

    #[test]
    fn rejects_bad_der() {
        assert_eq!(certificates(&[]).unwrap_err(), InputError::Empty);
        assert_eq!(certificates(b"  \n").unwrap_err(), InputError::Empty);
        assert_eq!(
            certificates(&[0x30, 0x05, 0x02]).unwrap_err(),
            InputError::BadDer
        );
        assert_eq!(
            certificates(&[0x02, 0x01, 0x05]).unwrap_err(),
            InputError::Unrecognized
        );
        assert_eq!(certificates(&[0x30]).unwrap_err(), InputError::BadDer);
        assert_eq!(
            certificates(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).unwrap_err(),
            InputError::BadDer
        );
    }

    #[test]
    fn reads_pem_and_reports_pem_problems() {
        let pem =
            b"subject=CN = x\n-----BEGIN CERTIFICATE-----\nMAMCAQU=\n-----END CERTIFICATE-----\n";
        let items = certificates(pem).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].as_ref(), SEQ);

        let truncated = b"-----BEGIN CERTIFICATE-----\nMAMCAQU=\n";
        assert_eq!(certificates(truncated).unwrap_err(), InputError::MissingEnd);
        let bad = b"-----BEGIN CERTIFICATE-----\nM@@@\n-----END CERTIFICATE-----\n";
        assert_eq!(certificates(bad).unwrap_err(), InputError::BadBase64);
        let key_only = b"-----BEGIN PRIVATE KEY-----\nMAMCAQU=\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            certificates(key_only).unwrap_err(),
            InputError::NoSection("CERTIFICATE")
        );
    }

    #[test]
    fn splits_signed_structures() {
        // SEQUENCE { SEQUENCE {}, SEQUENCE { OID 1.2 }, BIT STRING 0 unused: 0xaa }
        let der = [
            0x30, 0x0b, 0x30, 0x00, 0x30, 0x03, 0x06, 0x01, 0x2a, 0x03, 0x02, 0x00, 0xaa,
        ];
        let signed = Signed::parse(&der).unwrap();
        assert_eq!(signed.message, &[0x30, 0x00]);
        assert_eq!(signed.algorithm, &[0x06, 0x01, 0x2a]);
        assert_eq!(signed.signature, &[0xaa]);
        assert!(Signed::parse(&der[..12]).is_none());
        let mut trailing = der.to_vec();
        trailing.push(0);
        assert!(Signed::parse(&trailing).is_none());
    }
}
