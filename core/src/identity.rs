//! Who is asking: the attributes an authenticated client brings to every decision.
//!
//! Authentication (certificates, PSK, tokens, passwords) produces an [`Identity`]; policies select
//! identities through these attributes (`thingName: sensor-*`) and substitute them into resource
//! patterns (`${clientid}`). An identity is plain data: building one authenticates nothing.

use std::collections::BTreeMap;
use std::fmt;

/// How an identity was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum IdentityKind {
    /// An X.509 client certificate that chained to a trust anchor.
    Certificate,
    /// A TLS pre-shared key identity.
    Psk,
    /// A verified JSON Web Token.
    Jwt,
    /// A username and password checked against a password file.
    Password,
    /// An opaque identity token (`IDENTITY-TOKEN//...`).
    Token,
    /// A declared identity (`SYSTEM//<name>`): not authentication, only enabled explicitly.
    Declared,
    /// A client that presented no credentials.
    Anonymous,
}

impl IdentityKind {
    /// Every kind, in a stable order.
    pub const ALL: [IdentityKind; 7] = [
        IdentityKind::Certificate,
        IdentityKind::Psk,
        IdentityKind::Jwt,
        IdentityKind::Password,
        IdentityKind::Token,
        IdentityKind::Declared,
        IdentityKind::Anonymous,
    ];

    /// The name used in selection rules (`kind: certificate`) and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Certificate => "certificate",
            IdentityKind::Psk => "psk",
            IdentityKind::Jwt => "jwt",
            IdentityKind::Password => "password",
            IdentityKind::Token => "token",
            IdentityKind::Declared => "declared",
            IdentityKind::Anonymous => "anonymous",
        }
    }

    /// Parses the name used in selection rules.
    pub fn parse(name: &str) -> Option<IdentityKind> {
        IdentityKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for IdentityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A field of the client certificate that policies may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CertField {
    /// Subject common name (`cert.subject.cn`).
    SubjectCn,
    /// Subject organization (`cert.subject.o`).
    SubjectO,
    /// Subject organizational unit (`cert.subject.ou`).
    SubjectOu,
    /// Subject serial number attribute (`cert.subject.serialnumber`).
    SubjectSerialNumber,
    /// Issuer common name (`cert.issuer.cn`).
    IssuerCn,
    /// First DNS subject alternative name (`cert.san.dns`).
    SanDns,
    /// First URI subject alternative name (`cert.san.uri`).
    SanUri,
    /// First e-mail subject alternative name (`cert.san.email`).
    SanEmail,
    /// Certificate serial number, lowercase hex (`cert.serial`).
    Serial,
    /// SHA-256 fingerprint of the DER certificate, lowercase hex (`cert.fingerprint`).
    Fingerprint,
}

impl CertField {
    /// Every certificate field, in a stable order.
    pub const ALL: [CertField; 10] = [
        CertField::SubjectCn,
        CertField::SubjectO,
        CertField::SubjectOu,
        CertField::SubjectSerialNumber,
        CertField::IssuerCn,
        CertField::SanDns,
        CertField::SanUri,
        CertField::SanEmail,
        CertField::Serial,
        CertField::Fingerprint,
    ];

    /// The dotted name used in variables and selection rules, without the `cert.` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            CertField::SubjectCn => "subject.cn",
            CertField::SubjectO => "subject.o",
            CertField::SubjectOu => "subject.ou",
            CertField::SubjectSerialNumber => "subject.serialnumber",
            CertField::IssuerCn => "issuer.cn",
            CertField::SanDns => "san.dns",
            CertField::SanUri => "san.uri",
            CertField::SanEmail => "san.email",
            CertField::Serial => "serial",
            CertField::Fingerprint => "fingerprint",
        }
    }

    /// Parses a name without the `cert.` prefix (`subject.cn`).
    pub fn parse(name: &str) -> Option<CertField> {
        CertField::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// An identity attribute that selection rules test and variables substitute.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Attribute {
    /// The MQTT client id.
    ClientId,
    /// The MQTT username.
    Username,
    /// The thing (device) name the authentication mapped the client to.
    ThingName,
    /// How the identity was established (`kind`).
    Kind,
    /// A client certificate field.
    Cert(CertField),
    /// A token claim, by name.
    Claim(String),
}

impl Attribute {
    /// Parses an attribute name as written in selection rules and `--attr` flags:
    /// `clientId`, `username`, `thingName`, `kind`, `cert.<field>`, `claim.<name>`.
    pub fn parse(name: &str) -> Option<Attribute> {
        match name {
            "clientId" | "clientid" => Some(Attribute::ClientId),
            "username" => Some(Attribute::Username),
            "thingName" => Some(Attribute::ThingName),
            "kind" => Some(Attribute::Kind),
            _ => {
                if let Some(field) = name.strip_prefix("cert.") {
                    CertField::parse(field).map(Attribute::Cert)
                } else if let Some(claim) = name.strip_prefix("claim.") {
                    valid_claim_name(claim).then(|| Attribute::Claim(claim.to_owned()))
                } else {
                    None
                }
            }
        }
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Attribute::ClientId => f.write_str("clientId"),
            Attribute::Username => f.write_str("username"),
            Attribute::ThingName => f.write_str("thingName"),
            Attribute::Kind => f.write_str("kind"),
            Attribute::Cert(field) => write!(f, "cert.{}", field.as_str()),
            Attribute::Claim(name) => write!(f, "claim.{name}"),
        }
    }
}

/// Whether `name` may follow `claim.`: ASCII letters, digits, `_`, `-` and `.` (for
/// namespaced claims such as `https://example.com/role` use a mapping in the token settings).
pub(crate) fn valid_claim_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The attributes of an authenticated client.
///
/// Every value is data: a client id of `+` or `a/b` is matched literally, never as a wildcard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    kind: IdentityKind,
    client_id: Option<String>,
    username: Option<String>,
    thing_name: Option<String>,
    cert: BTreeMap<CertField, String>,
    claims: BTreeMap<String, String>,
}

impl Identity {
    /// A new identity of the given kind with no attributes.
    pub fn new(kind: IdentityKind) -> Identity {
        Identity {
            kind,
            client_id: None,
            username: None,
            thing_name: None,
            cert: BTreeMap::new(),
            claims: BTreeMap::new(),
        }
    }

    /// Sets the MQTT client id.
    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Identity {
        self.client_id = Some(client_id.into());
        self
    }

    /// Sets the MQTT username.
    pub fn with_username(mut self, username: impl Into<String>) -> Identity {
        self.username = Some(username.into());
        self
    }

    /// Sets the thing name.
    pub fn with_thing_name(mut self, thing_name: impl Into<String>) -> Identity {
        self.thing_name = Some(thing_name.into());
        self
    }

    /// Sets a certificate field.
    pub fn with_cert_field(mut self, field: CertField, value: impl Into<String>) -> Identity {
        self.cert.insert(field, value.into());
        self
    }

    /// Sets a token claim (scalar claims only; the caller renders numbers and booleans as text).
    pub fn with_claim(mut self, name: impl Into<String>, value: impl Into<String>) -> Identity {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// Sets any attribute. `Kind` takes the kind's name and is ignored when the name is unknown.
    pub fn with_attribute(mut self, attribute: &Attribute, value: impl Into<String>) -> Identity {
        let value = value.into();
        match attribute {
            Attribute::ClientId => self.client_id = Some(value),
            Attribute::Username => self.username = Some(value),
            Attribute::ThingName => self.thing_name = Some(value),
            Attribute::Kind => {
                if let Some(kind) = IdentityKind::parse(&value) {
                    self.kind = kind;
                }
            }
            Attribute::Cert(field) => {
                self.cert.insert(*field, value);
            }
            Attribute::Claim(name) => {
                self.claims.insert(name.clone(), value);
            }
        }
        self
    }

    /// How the identity was established.
    pub fn kind(&self) -> IdentityKind {
        self.kind
    }

    /// The MQTT client id, if known.
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// The MQTT username, if any.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The thing name, if the authentication mapped one.
    pub fn thing_name(&self) -> Option<&str> {
        self.thing_name.as_deref()
    }

    /// A certificate field, if present.
    pub fn cert_field(&self, field: CertField) -> Option<&str> {
        self.cert.get(&field).map(String::as_str)
    }

    /// A token claim, if present.
    pub fn claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).map(String::as_str)
    }

    /// All claims, by name.
    pub fn claims(&self) -> impl Iterator<Item = (&str, &str)> {
        self.claims.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// All certificate fields that are present.
    pub fn cert_fields(&self) -> impl Iterator<Item = (CertField, &str)> {
        self.cert.iter().map(|(k, v)| (*k, v.as_str()))
    }

    /// Every attribute that is present but the kind, as (attribute, value): client id,
    /// username, thing name, certificate fields, claims. With [`Identity::with_attribute`] it
    /// rebuilds the identity (how hosts pass identities across a boundary).
    pub fn attributes(&self) -> Vec<(Attribute, &str)> {
        let mut out = Vec::new();
        let plain = [
            (Attribute::ClientId, self.client_id()),
            (Attribute::Username, self.username()),
            (Attribute::ThingName, self.thing_name()),
        ];
        out.extend(plain.into_iter().filter_map(|(a, v)| Some((a, v?))));
        out.extend(self.cert_fields().map(|(f, v)| (Attribute::Cert(f), v)));
        out.extend(
            self.claims()
                .map(|(n, v)| (Attribute::Claim(n.to_owned()), v)),
        );
        out
    }

    /// The value of any attribute, if present.
    pub fn attribute(&self, attribute: &Attribute) -> Option<&str> {
        match attribute {
            Attribute::ClientId => self.client_id(),
            Attribute::Username => self.username(),
            Attribute::ThingName => self.thing_name(),
            Attribute::Kind => Some(self.kind.as_str()),
            Attribute::Cert(field) => self.cert_field(*field),
            Attribute::Claim(name) => self.claim(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_rebuild_the_identity() {
        let id = Identity::new(IdentityKind::Jwt)
            .with_client_id("+")
            .with_thing_name("t")
            .with_cert_field(CertField::SubjectCn, "cn")
            .with_claim("role", "r");
        let rebuilt = id
            .attributes()
            .into_iter()
            .fold(Identity::new(id.kind()), |i, (a, v)| {
                i.with_attribute(&a, v)
            });
        assert_eq!(rebuilt, id);
        assert_eq!(id.attributes().len(), 4);
    }

    #[test]
    fn attribute_names_round_trip() {
        for name in [
            "clientId",
            "username",
            "thingName",
            "kind",
            "cert.subject.cn",
            "cert.san.uri",
            "claim.role",
        ] {
            let attr = Attribute::parse(name).unwrap();
            assert_eq!(attr.to_string(), name);
        }
        assert_eq!(Attribute::parse("clientid"), Some(Attribute::ClientId));
        assert_eq!(Attribute::parse("cert.nope"), None);
        assert_eq!(Attribute::parse("claim."), None);
        assert_eq!(Attribute::parse("claim.a b"), None);
    }

    #[test]
    fn identity_attributes() {
        let id = Identity::new(IdentityKind::Jwt)
            .with_client_id("c1")
            .with_claim("role", "admin")
            .with_attribute(&Attribute::Kind, "certificate");
        assert_eq!(id.kind(), IdentityKind::Certificate);
        assert_eq!(id.attribute(&Attribute::ClientId), Some("c1"));
        assert_eq!(
            id.attribute(&Attribute::Claim("role".into())),
            Some("admin")
        );
        assert_eq!(id.attribute(&Attribute::Username), None);
        assert_eq!(id.attribute(&Attribute::Kind), Some("certificate"));
    }
}
