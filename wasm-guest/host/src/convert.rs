//! Values between `mqward-core` and the WIT interface, the host's side: the reverse of the
//! guest's `convert` module, so that a value crosses the boundary unchanged.

use mqward_core::authn::registry::{CertState, StateChange};
use mqward_core::authn::x509::Fingerprint;
use mqward_core::{
    Attribute, Credentials, Effect, EndReason, Error as CoreError, Event, Identity, IdentityKind,
    Location, Operation, Problem, Rejection, SessionToken,
};

use crate::error::Error;
use crate::wit;
use crate::Explanation;

/// Core credentials as WIT.
pub fn credentials(c: &Credentials<'_>) -> wit::Credentials {
    wit::Credentials {
        client_id: c.client_id.map(str::to_owned),
        username: c.username.map(str::to_owned),
        password: c.password.map(<[u8]>::to_vec),
        certificate: c.certificate.map(<[u8]>::to_vec),
        psk_identity: c.psk_identity.map(str::to_owned),
    }
}

/// A core operation as WIT.
pub fn operation(o: Operation) -> wit::Operation {
    match o {
        Operation::Connect => wit::Operation::Connect,
        Operation::Publish => wit::Operation::Publish,
        Operation::Subscribe => wit::Operation::Subscribe,
        Operation::Receive => wit::Operation::Receive,
        Operation::Unsubscribe => wit::Operation::Unsubscribe,
    }
}

/// A core identity as WIT.
pub fn identity(identity: &Identity) -> wit::Identity {
    wit::Identity {
        kind: identity.kind().as_str().to_owned(),
        attributes: identity
            .attributes()
            .into_iter()
            .map(|(a, v)| (a.to_string(), v.to_owned()))
            .collect(),
    }
}

/// A WIT identity as core; `None` when a name is unknown to this build's core.
pub fn identity_in(identity: &wit::Identity) -> Option<Identity> {
    let kind = IdentityKind::parse(&identity.kind)?;
    identity
        .attributes
        .iter()
        .try_fold(Identity::new(kind), |id, (name, value)| {
            Some(id.with_attribute(&Attribute::parse(name)?, value.clone()))
        })
}

/// A WIT fingerprint (hex) as core.
pub fn fingerprint(hex: &str) -> Result<Fingerprint, Error> {
    Fingerprint::parse(hex)
        .ok_or_else(|| Error::Wasm(format!("the guest sent a bad fingerprint `{hex}`")))
}

fn state(name: &str) -> Result<CertState, Error> {
    CertState::parse(name)
        .ok_or_else(|| Error::Wasm(format!("the guest sent an unknown state `{name}`")))
}

/// A WIT state change as core.
pub fn state_change(c: &wit::StateChange) -> Result<StateChange, Error> {
    Ok(StateChange {
        fingerprint: fingerprint(&c.fingerprint)?,
        from: c.from.as_deref().map(state).transpose()?,
        to: state(&c.to)?,
    })
}

/// A WIT event as core.
pub fn event(e: &wit::Event) -> Result<Event, Error> {
    Ok(match e {
        wit::Event::StateChanged(c) => Event::StateChanged(state_change(c)?),
        wit::Event::Disconnect(d) => Event::Disconnect {
            session: token_in(d.session),
            client_id: d.client_id.clone(),
            reason: match d.reason {
                wit::EndReason::Suspended => EndReason::Suspended,
                wit::EndReason::Revoked => EndReason::Revoked,
                wit::EndReason::Expired => EndReason::Expired,
                wit::EndReason::TrustExpired => EndReason::TrustExpired,
            },
        },
    })
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

/// A WIT explanation as the host's.
pub fn explanation(e: wit::Explanation) -> Explanation {
    let effect = |allowed: bool| if allowed { Effect::Allow } else { Effect::Deny };
    Explanation {
        effect: effect(e.allowed),
        deciding: e.deciding,
        malformed: e.malformed,
        groups: e.groups,
        matched: e.matched.into_iter().map(|(a, s)| (effect(a), s)).collect(),
        notes: e.notes,
        text: e.text,
    }
}

fn location(l: wit::Location) -> Location {
    let n = |v: u32| usize::try_from(v).unwrap_or(usize::MAX);
    match l {
        wit::Location::Document => Location::Document,
        wit::Location::File(f) => Location::File(f),
        wit::Location::FileLine((file, line)) => Location::FileLine {
            file,
            line: n(line),
        },
        wit::Location::Json((line, column)) => Location::Json {
            line: n(line),
            column: n(column),
        },
        wit::Location::Line(line) => Location::Line(n(line)),
        wit::Location::Group(g) => Location::Group(g),
        wit::Location::Policy(p) => Location::Policy(p),
        wit::Location::Statement((policy, statement)) => Location::Statement { policy, statement },
        wit::Location::Resource((policy, statement, index)) => Location::Resource {
            policy,
            statement,
            index: n(index),
        },
    }
}

fn rejection(r: wit::Rejection) -> Rejection {
    use wit::Rejection as W;
    match r {
        W::Malformed(s) => Rejection::Malformed(s),
        W::TooLarge => Rejection::TooLarge,
        W::UnknownIdentity => Rejection::UnknownIdentity,
        W::WrongSecret => Rejection::WrongSecret,
        W::BadSignature => Rejection::BadSignature,
        W::UnknownIssuer => Rejection::UnknownIssuer,
        W::WrongUsage => Rejection::WrongUsage,
        W::WrongAlgorithm => Rejection::WrongAlgorithm,
        W::WeakKey => Rejection::WeakKey,
        W::Expired => Rejection::Expired,
        W::NotYetValid => Rejection::NotYetValid,
        W::Revoked => Rejection::Revoked,
        W::Suspended => Rejection::Suspended,
        W::WrongIssuer => Rejection::WrongIssuer,
        W::WrongAudience => Rejection::WrongAudience,
        W::UnsupportedCritical => Rejection::UnsupportedCritical,
        W::MissingClaim(s) => Rejection::MissingClaim(s),
        W::ClientIdMismatch => Rejection::ClientIdMismatch,
        W::Disabled => Rejection::Disabled,
        W::UnknownSession => Rejection::UnknownSession,
        W::TooManySessions => Rejection::TooManySessions,
        W::ConnectDenied => Rejection::ConnectDenied,
        W::MissingField(s) => Rejection::MissingField(s),
        W::StaleRevocationList => Rejection::StaleRevocationList,
    }
}

/// A WIT error as the host's.
pub fn error(e: wit::Error) -> Error {
    match e {
        wit::Error::Invalid(problems) => Error::Engine(CoreError::from_problems(
            problems
                .into_iter()
                .map(|p| Problem::new(location(p.location), p.message))
                .collect(),
        )),
        wit::Error::Rejected(r) => Error::Engine(rejection(r).into()),
        wit::Error::InvalidArgument(why) => Error::InvalidArgument(why),
        wit::Error::NotLoaded => Error::NotLoaded,
        wit::Error::Internal(why) => Error::Wasm(format!("the guest failed: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_cross_unchanged() {
        let id = Identity::new(IdentityKind::Certificate)
            .with_client_id("#")
            .with_thing_name("sensor-7")
            .with_claim("role", "r");
        assert_eq!(identity_in(&identity(&id)), Some(id));
        let unknown = wit::Identity {
            kind: "wizard".into(),
            attributes: vec![],
        };
        assert_eq!(identity_in(&unknown), None);
    }

    #[test]
    fn errors_cross_unchanged() {
        let e = error(wit::Error::Rejected(wit::Rejection::MissingClaim(
            "exp".into(),
        )));
        assert_eq!(
            e,
            Error::Engine(Rejection::MissingClaim("exp".into()).into())
        );
        let e = error(wit::Error::Invalid(vec![wit::Problem {
            location: wit::Location::Json((3, 7)),
            message: "expected `,`".into(),
        }]));
        assert_eq!(
            e.to_string(),
            Error::Engine(CoreError::single(
                Location::Json { line: 3, column: 7 },
                "expected `,`"
            ))
            .to_string()
        );
        let t = SessionToken::from_bytes(*b"0123456789abcdef");
        assert_eq!(token_in(token_out(&t)), t);
    }
}
