//! `mqward explain`: decide one request for one identity and say why.

use std::ffi::OsStr;
use std::sync::Arc;

use mqward_core::{Identity, IdentityKind, Operation, Request};

use crate::args::ExplainArgs;
use crate::error::Error;
use crate::files::load_policy;
use crate::report;

/// Decides the request, prints the explanation, and returns 0 for allow, 1 for deny.
pub fn run(args: &ExplainArgs) -> Result<u8, Error> {
    let resource = resource(args)?;
    let (_, snapshot) = load_policy(&args.policy)?;
    let principal = Arc::new(snapshot).bind(identity(args));
    let mut request = Request::new(args.action, &resource);
    // PUBLISH and SUBSCRIBE packets always carry a QoS, and messages a retain flag: absent
    // flags mean 0 and false there, as a broker would report them.
    let carries_qos = matches!(
        args.action,
        Operation::Publish | Operation::Receive | Operation::Subscribe
    );
    match (args.qos, carries_qos) {
        (Some(qos), _) => request = request.with_qos(qos),
        (None, true) => request = request.with_qos(0),
        (None, false) => {}
    }
    match (args.retain, args.action) {
        (true, _) => request = request.with_retain(true),
        (false, Operation::Publish | Operation::Receive) => request = request.with_retain(false),
        (false, _) => {}
    }
    let explanation = principal.explain(&request);
    report::out(&explanation.to_string())?;
    Ok(if explanation.effect == mqward_core::Effect::Allow {
        crate::EXIT_OK
    } else {
        crate::EXIT_DENY
    })
}

/// The identity the flags describe; `--attr` values are applied last.
fn identity(args: &ExplainArgs) -> Identity {
    let kind = args.kind.unwrap_or(if args.username.is_some() {
        IdentityKind::Password
    } else {
        IdentityKind::Certificate
    });
    let mut identity = Identity::new(kind);
    if let Some(id) = &args.client_id {
        identity = identity.with_client_id(id);
    }
    if let Some(u) = &args.username {
        identity = identity.with_username(u);
    }
    if let Some(t) = &args.thing {
        identity = identity.with_thing_name(t);
    }
    for (attribute, value) in &args.attrs {
        identity = identity.with_attribute(attribute, value);
    }
    identity
}

/// The request's resource bytes: `--topic`, or for `connect` the client id.
fn resource(args: &ExplainArgs) -> Result<Vec<u8>, Error> {
    match (&args.topic, args.action) {
        (Some(topic), _) => Ok(os_bytes(topic)),
        (None, Operation::Connect) => args
            .client_id
            .as_ref()
            .map(|id| id.as_bytes().to_vec())
            .ok_or_else(|| Error::Usage("`connect` needs `--client-id` (or `--topic`)".into())),
        (None, op) => Err(Error::Usage(format!("`{op}` needs `--topic`"))),
    }
}

/// The argument's bytes as given, so that invalid UTF-8 reaches the engine (and is denied).
#[cfg(unix)]
fn os_bytes(s: &OsStr) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    s.as_bytes().to_vec()
}

/// The argument's bytes; elsewhere the platform's encoding of unpaired surrogates is not UTF-8
/// either, so such input is still denied.
#[cfg(not(unix))]
fn os_bytes(s: &OsStr) -> Vec<u8> {
    s.as_encoded_bytes().to_vec()
}
