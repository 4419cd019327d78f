//! Which certificate fields become the thing name and the client id.

use crate::{CertField, Error, Identity, Location, Rejection};

/// How an authenticated certificate names the client.
///
/// Each of the thing name and the client id may come from any [`CertField`] the certificate
/// offers (subject CN, a SAN, the fingerprint...). A mapped field the certificate does not offer
/// (absent, repeated, or holding `*`, `$`, `+`, `?`, `#` or a control character) rejects the
/// certificate with [`Rejection::MissingField`]: an identity is never built with a name missing
/// or silently taken from elsewhere.
///
/// A mapped client id replaces the one the client sent in the identity (as Mosquitto's
/// `use_identity_as_username` or EMQX's `peer_cert_as_clientid` do); hosts that cannot assign the
/// client id themselves should also set [`IdentityMapping::require_client_id_match`]. Without a
/// client id mapping the identity carries the client id the client sent.
///
/// The default maps nothing: the identity offers the certificate fields only
/// (`cert.subject.cn`...), and the client id is the one sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdentityMapping {
    thing_name: Option<CertField>,
    client_id: Option<CertField>,
    require_match: bool,
}

impl IdentityMapping {
    /// A mapping that maps nothing.
    pub fn new() -> IdentityMapping {
        IdentityMapping::default()
    }

    /// Takes the thing name from `field`.
    pub fn thing_name(mut self, field: CertField) -> IdentityMapping {
        self.thing_name = Some(field);
        self
    }

    /// Takes the client id from `field`.
    pub fn client_id(mut self, field: CertField) -> IdentityMapping {
        self.client_id = Some(field);
        self
    }

    /// Rejects ([`Rejection::ClientIdMismatch`]) a client whose MQTT client id differs from the
    /// mapped client id, or from the mapped thing name when no client id is mapped. Needs at
    /// least one of them mapped.
    pub fn require_client_id_match(mut self, require: bool) -> IdentityMapping {
        self.require_match = require;
        self
    }

    /// The field the thing name comes from, if any.
    pub fn thing_name_field(&self) -> Option<CertField> {
        self.thing_name
    }

    /// The field the client id comes from, if any.
    pub fn client_id_field(&self) -> Option<CertField> {
        self.client_id
    }

    /// Whether the MQTT client id must equal the mapped name.
    pub fn requires_client_id_match(&self) -> bool {
        self.require_match
    }

    /// Checks that the settings make sense together.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.require_match && self.thing_name.is_none() && self.client_id.is_none() {
            return Err(Error::single(
                Location::Document,
                "the client id rule needs a mapped thing name or client id to compare with",
            ));
        }
        Ok(())
    }

    /// Adds the mapped names to an identity holding the certificate's fields.
    pub(crate) fn apply(&self, identity: Identity) -> Result<Identity, Rejection> {
        let mut identity = identity;
        if let Some(field) = self.thing_name {
            let value = mapped(&identity, field)?;
            identity = identity.with_thing_name(value);
        }
        if let Some(field) = self.client_id {
            let value = mapped(&identity, field)?;
            identity = identity.with_client_id(value);
        }
        Ok(identity)
    }

    /// The name the MQTT client id must equal, if the rule is on.
    pub(crate) fn required_client_id<'a>(&self, identity: &'a Identity) -> Option<&'a str> {
        if !self.require_match {
            return None;
        }
        if self.client_id.is_some() {
            identity.client_id()
        } else {
            identity.thing_name()
        }
    }
}

fn mapped(identity: &Identity, field: CertField) -> Result<String, Rejection> {
    identity
        .cert_field(field)
        .map(str::to_owned)
        .ok_or_else(|| Rejection::MissingField(format!("cert.{}", field.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IdentityKind;

    fn cert_identity() -> Identity {
        Identity::new(IdentityKind::Certificate)
            .with_cert_field(CertField::SubjectCn, "sensor-1")
            .with_cert_field(CertField::Fingerprint, "ab")
    }

    #[test]
    fn maps_fields() {
        let mapping = IdentityMapping::new()
            .thing_name(CertField::SubjectCn)
            .client_id(CertField::Fingerprint);
        let id = mapping.apply(cert_identity()).unwrap();
        assert_eq!(id.thing_name(), Some("sensor-1"));
        assert_eq!(id.client_id(), Some("ab"));
        assert_eq!(mapping.required_client_id(&id), None);
        let strict = mapping.require_client_id_match(true);
        assert_eq!(strict.required_client_id(&id), Some("ab"));
        let by_thing = IdentityMapping::new()
            .thing_name(CertField::SubjectCn)
            .require_client_id_match(true);
        let id = by_thing.apply(cert_identity()).unwrap();
        assert_eq!(by_thing.required_client_id(&id), Some("sensor-1"));
    }

    #[test]
    fn missing_field_rejects() {
        let mapping = IdentityMapping::new().thing_name(CertField::SanUri);
        assert_eq!(
            mapping.apply(cert_identity()),
            Err(Rejection::MissingField("cert.san.uri".to_owned()))
        );
    }

    #[test]
    fn rule_needs_a_mapped_name() {
        assert!(IdentityMapping::new()
            .require_client_id_match(true)
            .validate()
            .is_err());
        assert!(IdentityMapping::new().validate().is_ok());
    }
}
