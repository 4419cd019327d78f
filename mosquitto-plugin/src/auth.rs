//! What a client presents, turned into an engine session; and the name Mosquitto should know
//! the client by.

use mqward_core::{Credentials, Engine, Error, IdentityKind, Rejection, SessionToken};

use crate::clock;

/// A client's credentials as the broker shows them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Presented<'a> {
    /// The MQTT client id.
    pub client_id: &'a str,
    /// The CONNECT username.
    pub username: Option<&'a str>,
    /// The CONNECT password.
    pub password: Option<&'a [u8]>,
    /// The leaf certificate (DER) when the listener requires one.
    pub certificate: Option<&'a [u8]>,
    /// The TLS-PSK identity of the handshake.
    pub psk_identity: Option<&'a str>,
}

impl<'a> Presented<'a> {
    fn credentials(&self) -> Credentials<'a> {
        Credentials {
            client_id: Some(self.client_id),
            username: self.username,
            password: self.password,
            certificate: self.certificate,
            psk_identity: self.psk_identity,
        }
    }
}

/// Opens a session: authentication, then the `connect` permission for the client id. When the
/// session table is full, `make_room` is asked for a session to close (an offline client's)
/// and the open is tried again.
pub fn open(
    engine: &Engine,
    presented: &Presented<'_>,
    now: u64,
    mut make_room: impl FnMut() -> Option<SessionToken>,
) -> Result<SessionToken, Error> {
    loop {
        let random = clock::random::<16>()
            .map_err(|e| Error::from(Rejection::Malformed(format!("session token: {e}"))))?;
        match engine.open_session(&presented.credentials(), now, random) {
            Err(e) if matches!(e.rejection(), Some(Rejection::TooManySessions)) => {
                match make_room() {
                    Some(old) => {
                        engine.close_session(&old);
                    }
                    None => return Err(e),
                }
            }
            other => return other,
        }
    }
}

/// The name to give the client with `mosquitto_set_username`, when its own username does not
/// name it: the PSK identity, or for a certificate (or a token without a username) the
/// username, thing name or client id the credential maps to. `None` keeps the client's username
/// (a password or token client: the broker sends it again on SIGHUP, and the AWS signed form
/// carries the signature in it) and leaves anonymous clients alone.
///
/// Mosquitto disconnects a client without a username on SIGHUP when `allow_anonymous` is false,
/// before asking any plugin; a mapped name keeps it connected and shows who it is in the
/// broker's own log lines.
pub fn mapped_name(engine: &Engine, presented: &Presented<'_>, now: u64) -> Option<String> {
    if let Some(identity) = presented.psk_identity {
        return Some(identity.to_owned());
    }
    if presented.certificate.is_none() && presented.username.is_some() {
        return None;
    }
    // The session was opened a moment ago, so this succeeds; a certificate is verified from
    // the engine's cache. (Core's `open_session` returns only the token.)
    let identity = engine
        .authenticate(&presented.credentials(), now)
        .ok()?
        .identity;
    if identity.kind() == IdentityKind::Anonymous {
        return None;
    }
    identity
        .username()
        .or(identity.thing_name())
        .or(identity.client_id())
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqward_core::Config;

    fn engine(max: usize, anonymous: bool) -> Engine {
        let config = format!(
            r#"{{"version":1,"policy":"p.json","allowAnonymous":{anonymous},
                "psk":[{{"file":"psk.txt"}}],"sessions":{{"max":{max}}}}}"#
        );
        let config = Config::from_json(config.as_bytes()).unwrap();
        let mut read = |name: &str| -> Result<Vec<u8>, String> {
            Ok(match name {
                "p.json" => br#"{"version":1,"groups":[{"name":"all","selectionRule":"*","policies":["p"]}],
                    "policies":{"p":[{"id":"c","effect":"allow","operations":["connect"],"resources":["*"]}]}}"#
                    .to_vec(),
                "psk.txt" => b"dev-1:00112233445566778899aabbccddeeff\n".to_vec(),
                _ => return Err("no such file".to_owned()),
            })
        };
        Engine::from_config(&config, &mut read, &[7; 32]).unwrap().0
    }

    fn psk(id: &'static str) -> Presented<'static> {
        Presented {
            client_id: id,
            psk_identity: Some("dev-1"),
            ..Presented::default()
        }
    }

    #[test]
    fn a_full_table_makes_room_or_refuses() {
        let engine = engine(1, false);
        let first = open(&engine, &psk("a"), 100, || None).unwrap();
        let err = open(&engine, &psk("b"), 100, || None).unwrap_err();
        assert_eq!(err.rejection(), Some(&Rejection::TooManySessions));
        let mut offered = Some(first);
        let second = open(&engine, &psk("b"), 100, || offered.take()).unwrap();
        assert_ne!(first, second);
        assert_eq!(engine.session_count(), 1);
        let bad = Presented {
            psk_identity: Some("nobody"),
            ..psk("c")
        };
        assert!(open(&engine, &bad, 100, || None).is_err());
    }

    #[test]
    fn mapped_names() {
        let engine = engine(10, true);
        assert_eq!(mapped_name(&engine, &psk("a"), 1).as_deref(), Some("dev-1"));
        let password = Presented {
            client_id: "c",
            username: Some("user"),
            password: Some(b"pw"),
            ..Presented::default()
        };
        assert_eq!(mapped_name(&engine, &password, 1), None);
        let anonymous = Presented {
            client_id: "c",
            ..Presented::default()
        };
        assert_eq!(mapped_name(&engine, &anonymous, 1), None);
    }
}
