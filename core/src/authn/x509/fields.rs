//! The identity attributes a certificate offers ([`CertField`]), read with `x509-cert`.
//!
//! A value is offered only when it is unambiguous and safe to substitute into policies:
//! - single-valued: a subject with two CNs (or two O, OU, serialNumber attributes) offers none;
//!   for subject alternative names the first of each kind is offered;
//! - a string type `x509-cert` decodes (UTF8String, PrintableString, TeletexString, BMPString;
//!   IA5String for SANs);
//! - not empty, no ASCII control character (a NUL would cut the value short in C hosts), and
//!   none of `*`, `$`, `+`, `?`, `#` (the characters AWS IoT also refuses to substitute, so a
//!   CN of `+` can never act as an MQTT wildcard or a glob).
//!
//! The serial number and the fingerprint are always offered, as lowercase hex.

use const_oid::db::rfc4519;
use const_oid::ObjectIdentifier;
use x509_cert::ext::pkix::name::{DirectoryString, GeneralName};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::name::Name;
use x509_cert::Certificate;

use super::fingerprint::{push_hex, Fingerprint};
use crate::{CertField, Identity, IdentityKind};

/// Characters that make a value unusable as an identity attribute.
const RESERVED: &[char] = &['*', '$', '+', '?', '#'];

/// Whether a certificate value may be offered as an identity attribute.
pub(crate) fn usable(value: &str) -> bool {
    !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_ascii_control() || RESERVED.contains(&c))
}

/// The lowercase hex of a serial number's magnitude, leading zero bytes dropped (one kept for
/// zero).
pub(crate) fn serial_hex(serial: &[u8]) -> String {
    let mut hex = String::new();
    push_hex(&mut hex, trim_serial(serial));
    hex
}

/// A serial number's bytes without leading zero bytes (one kept for zero): the form CRL entries
/// and certificates are compared in.
pub(crate) fn trim_serial(mut serial: &[u8]) -> &[u8] {
    while let [0, rest @ ..] = serial {
        if rest.is_empty() {
            break;
        }
        serial = rest;
    }
    serial
}

/// The one value of attribute `oid` in `name`, if there is exactly one and it decodes.
fn single_attribute(name: &Name, oid: ObjectIdentifier) -> Option<String> {
    let mut values = name.iter().filter(|atv| atv.oid == oid);
    let first = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let text = DirectoryString::try_from(&first.value).ok()?;
    Some(text.value().into_owned())
}

/// The one common name of `name`, if there is exactly one (for messages about CA certificates).
pub(crate) fn common_name(name: &Name) -> Option<String> {
    single_attribute(name, rfc4519::COMMON_NAME)
}

/// An identity of kind certificate holding every usable field of `cert`.
pub(crate) fn identity(cert: &Certificate, fingerprint: &Fingerprint) -> Identity {
    let tbs = cert.tbs_certificate();
    let subject = tbs.subject();
    let mut fields: Vec<(CertField, String)> = Vec::with_capacity(CertField::ALL.len());
    for (field, oid) in [
        (CertField::SubjectCn, rfc4519::COMMON_NAME),
        (CertField::SubjectO, rfc4519::ORGANIZATION_NAME),
        (CertField::SubjectOu, rfc4519::ORGANIZATIONAL_UNIT_NAME),
        (CertField::SubjectSerialNumber, rfc4519::SERIAL_NUMBER),
    ] {
        if let Some(value) = single_attribute(subject, oid) {
            fields.push((field, value));
        }
    }
    if let Some(value) = single_attribute(tbs.issuer(), rfc4519::COMMON_NAME) {
        fields.push((CertField::IssuerCn, value));
    }
    if let Ok(Some((_critical, SubjectAltName(names)))) = tbs.get_extension::<SubjectAltName>() {
        let (mut dns, mut uri, mut email) = (None, None, None);
        for name in &names {
            let slot = match name {
                GeneralName::DnsName(s) => (&mut dns, s),
                GeneralName::UniformResourceIdentifier(s) => (&mut uri, s),
                GeneralName::Rfc822Name(s) => (&mut email, s),
                _ => continue,
            };
            slot.0.get_or_insert_with(|| slot.1.as_str().to_owned());
        }
        for (field, value) in [
            (CertField::SanDns, dns),
            (CertField::SanUri, uri),
            (CertField::SanEmail, email),
        ] {
            if let Some(value) = value {
                fields.push((field, value));
            }
        }
    }
    fields.push((
        CertField::Serial,
        serial_hex(tbs.serial_number().as_bytes()),
    ));
    fields.push((CertField::Fingerprint, fingerprint.to_string()));

    fields.into_iter().filter(|(_, value)| usable(value)).fold(
        Identity::new(IdentityKind::Certificate),
        |id, (field, value)| id.with_cert_field(field, value),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usable_values() {
        for good in ["sensor-1", "a/b", "ü", "a b", "x.y@z"] {
            assert!(usable(good), "{good}");
        }
        for bad in ["", "a*", "$aws", "+", "a?b", "#", "a\0b", "a\nb", "\u{7f}"] {
            assert!(!usable(bad), "{bad:?}");
        }
    }

    #[test]
    fn serials() {
        assert_eq!(serial_hex(&[0x00, 0x80, 0x01]), "8001");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(serial_hex(&[0x00, 0x00]), "00");
        assert_eq!(serial_hex(&[0x7f, 0xab]), "7fab");
        assert_eq!(trim_serial(&[]), &[] as &[u8]);
        assert_eq!(trim_serial(&[0, 0, 5]), &[5]);
    }
}
