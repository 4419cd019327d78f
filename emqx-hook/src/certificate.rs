//! Certificate identities from EMQX's ClientInfo, for the listeners the operator declared mTLS.
//!
//! ExHook carries no certificate: only the common name (`cn`) and the subject (`dn`) EMQX read
//! from the client certificate its TLS listener verified. On a declared listener they become an
//! identity of kind `certificate`: `cert.subject.cn` and the thing name from `cn` (the AWS IoT
//! and Greengrass convention), and `cert.subject.o`, `cert.subject.ou` and
//! `cert.subject.serialnumber` from `dn` where the subject holds each once. Values follow the
//! engine's rule for certificate fields: not empty, no control character, none of `*`, `$`,
//! `+`, `?`, `#`; a value that breaks it is left out (a `cn` that breaks it refuses the client).

use mqward_core::{CertField, Identity, IdentityKind, Rejection};

/// Characters that make a value unusable as an identity attribute (the engine's own list).
const RESERVED: &[char] = &['*', '$', '+', '?', '#'];

fn usable(value: &str) -> bool {
    !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_ascii_control() || RESERVED.contains(&c))
}

/// The identity of a client whose certificate EMQX verified.
pub fn identity(
    cn: &str,
    dn: Option<&str>,
    client_id: &str,
    require_client_id_match: bool,
) -> Result<Identity, Rejection> {
    if !usable(cn) {
        return Err(Rejection::MissingField("cert.subject.cn".to_owned()));
    }
    if require_client_id_match && client_id != cn {
        return Err(Rejection::ClientIdMismatch);
    }
    let mut identity = Identity::new(IdentityKind::Certificate)
        .with_client_id(client_id)
        .with_thing_name(cn)
        .with_cert_field(CertField::SubjectCn, cn);
    if let Some(dn) = dn {
        let attributes = attributes(dn);
        if let Some(subject_cn) = single(&attributes, "cn") {
            if subject_cn != cn {
                return Err(Rejection::Malformed(
                    "the subject's common name differs from `cn`".to_owned(),
                ));
            }
        }
        for (key, field) in [
            ("o", CertField::SubjectO),
            ("ou", CertField::SubjectOu),
            ("serialnumber", CertField::SubjectSerialNumber),
        ] {
            if let Some(value) = single(&attributes, key).filter(|v| usable(v)) {
                identity = identity.with_cert_field(field, value);
            }
        }
    }
    Ok(identity)
}

/// `KEY=value` pairs of a subject written `C=SE,O=Acme,CN=x` (or with `, `), keys lowercased.
/// A pair holding a backslash escape keeps its key with no usable value, so that an escaped
/// separator can never shift one attribute's text into another.
fn attributes(dn: &str) -> Vec<(String, Option<&str>)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, b) in dn.bytes().enumerate() {
        match b {
            b'\\' => escaped = !escaped,
            b',' if !escaped => {
                // `start` and `i` sit next to ASCII commas: in range and on char boundaries.
                out.push(pair(dn.get(start..i).unwrap_or_default()));
                start = i + 1;
            }
            _ => escaped = false,
        }
    }
    out.push(pair(dn.get(start..).unwrap_or_default()));
    out.into_iter().flatten().collect()
}

fn pair(part: &str) -> Option<(String, Option<&str>)> {
    let (key, value) = part.trim().split_once('=')?;
    let value = value.trim();
    Some((
        key.trim().to_ascii_lowercase(),
        (!value.contains('\\')).then_some(value),
    ))
}

/// The value of an attribute the subject holds exactly once.
fn single<'a>(attributes: &[(String, Option<&'a str>)], key: &str) -> Option<&'a str> {
    let mut matching = attributes.iter().filter(|(k, _)| k == key);
    let (_, value) = matching.next()?;
    if matching.next().is_some() {
        return None;
    }
    *value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cn_is_the_thing_name() {
        let id = identity("sensor-1", None, "client-9", false).unwrap();
        assert_eq!(id.kind(), IdentityKind::Certificate);
        assert_eq!(id.thing_name(), Some("sensor-1"));
        assert_eq!(id.client_id(), Some("client-9"));
        assert_eq!(id.cert_field(CertField::SubjectCn), Some("sensor-1"));
        assert_eq!(id.username(), None);
    }

    #[test]
    fn client_id_rule() {
        assert_eq!(
            identity("sensor-1", None, "sensor-2", true),
            Err(Rejection::ClientIdMismatch)
        );
        assert!(identity("sensor-1", None, "sensor-1", true).is_ok());
    }

    #[test]
    fn unusable_cn_refuses() {
        for cn in ["", "+", "a/#", "x*", "a\u{0}b", "$SYS"] {
            assert_eq!(
                identity(cn, None, "c", false),
                Err(Rejection::MissingField("cert.subject.cn".to_owned())),
                "{cn:?}"
            );
        }
    }

    #[test]
    fn subject_fields_from_dn() {
        let id = identity(
            "sensor-1",
            Some("C=SE, O=Acme, OU=fleet-7, serialNumber=42, CN=sensor-1"),
            "c",
            false,
        )
        .unwrap();
        assert_eq!(id.cert_field(CertField::SubjectO), Some("Acme"));
        assert_eq!(id.cert_field(CertField::SubjectOu), Some("fleet-7"));
        assert_eq!(id.cert_field(CertField::SubjectSerialNumber), Some("42"));
        let compact = identity("s", Some("O=Acme,CN=s"), "c", false).unwrap();
        assert_eq!(compact.cert_field(CertField::SubjectO), Some("Acme"));
    }

    #[test]
    fn ambiguous_dn_values_are_left_out() {
        let id = identity(
            "s",
            Some(r"OU=a,OU=b,O=Acme\, Inc,CN=s,serialNumber=+"),
            "c",
            false,
        )
        .unwrap();
        assert_eq!(id.cert_field(CertField::SubjectOu), None);
        assert_eq!(id.cert_field(CertField::SubjectO), None);
        assert_eq!(id.cert_field(CertField::SubjectSerialNumber), None);
        // An escaped separator never makes an attribute of its own.
        let id = identity("s", Some(r"O=x\,OU=admin,CN=s"), "c", false).unwrap();
        assert_eq!(id.cert_field(CertField::SubjectOu), None);
    }

    #[test]
    fn dn_must_agree_with_cn() {
        assert!(matches!(
            identity("sensor-1", Some("CN=sensor-2"), "c", false),
            Err(Rejection::Malformed(_))
        ));
    }
}
