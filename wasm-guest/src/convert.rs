//! Values between the WIT interface and `mqward-core`, both ways: the guest turns WIT
//! arguments into core values and core results into WIT values; the host
//! (`mqward-wasmtime`) does the reverse with the same names, so a WIT value means exactly one
//! core value.

use mqward_core::authn::registry::StateChange;
use mqward_core::authn::x509::Fingerprint;
use mqward_core::{
    Attribute, Authenticated, Credentials, Effect, EndReason, Error, Event, Explanation, Identity,
    IdentityKind, Location, Operation, Problem, Rejection, Request, SessionToken,
};

use crate::bindings::exports::mqward::engine::engine as wit;

/// The version of the WIT contract (`abi-version`).
pub const ABI_VERSION: u32 = 1;

/// WIT credentials borrowed as core credentials.
pub fn credentials(c: &wit::Credentials) -> Credentials<'_> {
    Credentials {
        client_id: c.client_id.as_deref(),
        username: c.username.as_deref(),
        password: c.password.as_deref(),
        certificate: c.certificate.as_deref(),
        psk_identity: c.psk_identity.as_deref(),
    }
}

/// A WIT token as core's.
pub fn token_in(t: wit::Token) -> SessionToken {
    SessionToken::from_halves(t.first, t.last)
}

/// Core's token as WIT.
pub fn token_out(t: &SessionToken) -> wit::Token {
    let (first, last) = t.halves();
    wit::Token { first, last }
}

/// A decision as a verdict: an ended session is told apart, every other error is `failed`.
pub fn verdict(decided: Result<Effect, Error>) -> wit::Verdict {
    match decided {
        Ok(Effect::Allow) => wit::Verdict::Allow,
        Ok(Effect::Deny) => wit::Verdict::Deny,
        Err(e) if e.rejection() == Some(&Rejection::UnknownSession) => wit::Verdict::UnknownSession,
        Err(_) => wit::Verdict::Failed,
    }
}

/// A request as the decision functions take it, flat.
pub fn request(
    operation: wit::Operation,
    target: &[u8],
    qos: Option<u8>,
    retain: Option<bool>,
) -> Request<'_> {
    let operation = match operation {
        wit::Operation::Connect => Operation::Connect,
        wit::Operation::Publish => Operation::Publish,
        wit::Operation::Subscribe => Operation::Subscribe,
        wit::Operation::Receive => Operation::Receive,
        wit::Operation::Unsubscribe => Operation::Unsubscribe,
    };
    Request {
        operation,
        resource: target,
        qos,
        retain,
    }
}

/// A core identity as WIT attributes, by the names selection rules use.
pub fn identity_out(identity: &Identity) -> wit::Identity {
    wit::Identity {
        kind: identity.kind().as_str().to_owned(),
        attributes: identity
            .attributes()
            .into_iter()
            .map(|(a, v)| (a.to_string(), v.to_owned()))
            .collect(),
    }
}

/// A WIT identity as a core identity; an unknown kind or attribute name is an error.
pub fn identity_in(identity: &wit::Identity) -> Result<Identity, wit::Error> {
    let kind = IdentityKind::parse(&identity.kind).ok_or_else(|| {
        wit::Error::InvalidArgument(format!("unknown identity kind `{}`", identity.kind))
    })?;
    let mut out = Identity::new(kind);
    for (name, value) in &identity.attributes {
        let attribute = Attribute::parse(name)
            .filter(|a| *a != Attribute::Kind)
            .ok_or_else(|| wit::Error::InvalidArgument(format!("unknown attribute `{name}`")))?;
        out = out.with_attribute(&attribute, value.clone());
    }
    Ok(out)
}

/// A core authentication result as WIT.
pub fn authenticated(a: &Authenticated) -> wit::Authenticated {
    wit::Authenticated {
        identity: identity_out(&a.identity),
        expires_at: a.expires_at,
        fingerprint: a.fingerprint.as_ref().map(Fingerprint::to_string),
    }
}

/// A core explanation as WIT.
pub fn explanation(e: &Explanation) -> wit::Explanation {
    wit::Explanation {
        allowed: e.effect == Effect::Allow,
        deciding: e.deciding.clone(),
        malformed: e.malformed.map(|m| m.to_string()),
        groups: e.groups.clone(),
        matched: e
            .matched
            .iter()
            .map(|(effect, s)| (*effect == Effect::Allow, s.clone()))
            .collect(),
        notes: e.notes.clone(),
        text: e.to_string(),
    }
}

/// A state change as WIT.
pub fn state_change(c: &StateChange) -> wit::StateChange {
    wit::StateChange {
        fingerprint: c.fingerprint.to_string(),
        from: c.from.map(|s| s.as_str().to_owned()),
        to: c.to.as_str().to_owned(),
    }
}

/// A core event as WIT; `None` for an event this interface version does not know.
pub fn event(e: &Event) -> Option<wit::Event> {
    Some(match e {
        Event::StateChanged(c) => wit::Event::StateChanged(state_change(c)),
        Event::Disconnect {
            session,
            client_id,
            reason,
        } => wit::Event::Disconnect(wit::Disconnect {
            session: token_out(session),
            client_id: client_id.clone(),
            reason: match reason {
                EndReason::Suspended => wit::EndReason::Suspended,
                EndReason::Revoked => wit::EndReason::Revoked,
                EndReason::Expired => wit::EndReason::Expired,
                EndReason::TrustExpired => wit::EndReason::TrustExpired,
                // A reason added to core later still ends the session: the host disconnects.
                _ => wit::EndReason::Expired,
            },
        }),
        _ => return None,
    })
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn location(l: &Location) -> wit::Location {
    match l {
        Location::Document => wit::Location::Document,
        Location::File(f) => wit::Location::File(f.clone()),
        Location::FileLine { file, line } => wit::Location::FileLine((file.clone(), count(*line))),
        Location::Json { line, column } => wit::Location::Json((count(*line), count(*column))),
        Location::Line(line) => wit::Location::Line(count(*line)),
        Location::Group(g) => wit::Location::Group(g.clone()),
        Location::Policy(p) => wit::Location::Policy(p.clone()),
        Location::Statement { policy, statement } => {
            wit::Location::Statement((policy.clone(), statement.clone()))
        }
        Location::Resource {
            policy,
            statement,
            index,
        } => wit::Location::Resource((policy.clone(), statement.clone(), count(*index))),
        // A location added to core later: keep its words.
        other => wit::Location::File(other.to_string()),
    }
}

fn problem(p: &Problem) -> wit::Problem {
    wit::Problem {
        location: location(&p.location),
        message: p.message.clone(),
    }
}

/// A core rejection as WIT; `None` for one this interface version does not know.
pub fn rejection(r: &Rejection) -> Option<wit::Rejection> {
    use wit::Rejection as W;
    Some(match r {
        Rejection::Malformed(s) => W::Malformed(s.clone()),
        Rejection::TooLarge => W::TooLarge,
        Rejection::UnknownIdentity => W::UnknownIdentity,
        Rejection::WrongSecret => W::WrongSecret,
        Rejection::BadSignature => W::BadSignature,
        Rejection::UnknownIssuer => W::UnknownIssuer,
        Rejection::WrongUsage => W::WrongUsage,
        Rejection::WrongAlgorithm => W::WrongAlgorithm,
        Rejection::WeakKey => W::WeakKey,
        Rejection::Expired => W::Expired,
        Rejection::NotYetValid => W::NotYetValid,
        Rejection::Revoked => W::Revoked,
        Rejection::Suspended => W::Suspended,
        Rejection::WrongIssuer => W::WrongIssuer,
        Rejection::WrongAudience => W::WrongAudience,
        Rejection::UnsupportedCritical => W::UnsupportedCritical,
        Rejection::MissingClaim(s) => W::MissingClaim(s.clone()),
        Rejection::ClientIdMismatch => W::ClientIdMismatch,
        Rejection::Disabled => W::Disabled,
        Rejection::UnknownSession => W::UnknownSession,
        Rejection::TooManySessions => W::TooManySessions,
        Rejection::ConnectDenied => W::ConnectDenied,
        Rejection::MissingField(s) => W::MissingField(s.clone()),
        Rejection::StaleRevocationList => W::StaleRevocationList,
        _ => return None,
    })
}

/// A core error as WIT.
pub fn error(e: &Error) -> wit::Error {
    match e {
        Error::Invalid(problems) => wit::Error::Invalid(problems.iter().map(problem).collect()),
        Error::Rejected(r) => match rejection(r) {
            Some(r) => wit::Error::Rejected(r),
            // Still a refusal: a malformed credential keeps the host's answer a denial.
            None => wit::Error::Rejected(wit::Rejection::Malformed(r.to_string())),
        },
        other => wit::Error::Internal(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqward_core::CertField;

    #[test]
    fn identities_round_trip() {
        let id = Identity::new(IdentityKind::Certificate)
            .with_client_id("c/+#")
            .with_username("u")
            .with_thing_name("sensor-7")
            .with_cert_field(CertField::SubjectCn, "sensor-7")
            .with_claim("role", "reader");
        let out = identity_out(&id);
        assert_eq!(out.kind, "certificate");
        assert!(out
            .attributes
            .contains(&("cert.subject.cn".to_owned(), "sensor-7".to_owned())));
        assert_eq!(identity_in(&out).unwrap(), id);
    }

    #[test]
    fn tokens_round_trip() {
        let t = SessionToken::from_bytes(*b"0123456789abcdef");
        assert_eq!(token_in(token_out(&t)), t);
        assert_eq!(token_out(&t).first, u64::from_le_bytes(*b"01234567"));
    }

    #[test]
    fn bad_identities_are_errors() {
        let bad = |kind: &str, name: &str| {
            identity_in(&wit::Identity {
                kind: kind.to_owned(),
                attributes: vec![(name.to_owned(), "x".to_owned())],
            })
        };
        assert!(matches!(
            bad("wizard", "clientId"),
            Err(wit::Error::InvalidArgument(_))
        ));
        assert!(matches!(
            bad("psk", "cert.nope"),
            Err(wit::Error::InvalidArgument(_))
        ));
        assert!(matches!(
            bad("psk", "kind"),
            Err(wit::Error::InvalidArgument(_))
        ));
        assert!(bad("psk", "clientId").is_ok());
    }

    #[test]
    fn errors_keep_their_meaning() {
        let e = Error::from(Rejection::MissingClaim("exp".into()));
        assert!(matches!(
            error(&e),
            wit::Error::Rejected(wit::Rejection::MissingClaim(c)) if c == "exp"
        ));
        let e = Error::single(
            Location::Statement {
                policy: "p".into(),
                statement: "s".into(),
            },
            "bad",
        );
        match error(&e) {
            wit::Error::Invalid(p) => {
                assert_eq!(p.len(), 1);
                assert_eq!(p[0].message, "bad");
                assert!(
                    matches!(&p[0].location, wit::Location::Statement((a, b)) if a == "p" && b == "s")
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
