//! JWT verification and the custom-authorizer forms against tokens, JWKs and signatures made
//! at test time by PyJWT and pyca/cryptography, with keys made by openssl.

mod jwt_support;

use std::sync::OnceLock;

use mqward_core::authn::custom_authorizer::{CustomAuthorizer, PasswordUsername};
use mqward_core::authn::jwt::{Algorithm, ClaimMapping, JwtVerifier, VerifiedToken};
use mqward_core::{Error, IdentityKind, Location, Rejection};
use proptest::prelude::*;
use serde_json::{json, Value};

use jwt_support::{claims, hex, key_name, keys, python, sign, sign_job, token, NOW};

/// A verifier with one key per algorithm, each under the algorithm's name as `kid`.
fn all_keys() -> JwtVerifier {
    let keys = keys();
    let mut b = JwtVerifier::builder();
    for alg in Algorithm::ALL {
        let name = key_name(alg.as_str());
        b = if alg.is_hmac() {
            b.hmac_secret(alg.as_str(), alg, &keys.read(&format!("{name}.secret")))
        } else {
            let file = format!("{name}.pub");
            b.key_pem(alg.as_str(), alg, &file, &keys.read(&file))
        }
        .expect("key loads");
    }
    b.build().expect("verifier builds")
}

fn verifier() -> &'static JwtVerifier {
    static V: OnceLock<JwtVerifier> = OnceLock::new();
    V.get_or_init(all_keys)
}

fn rejection(result: Result<VerifiedToken, Error>) -> Rejection {
    match result {
        Err(Error::Rejected(r)) => r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn kid(alg: &str) -> Value {
    json!({ "kid": alg })
}

#[test]
fn every_algorithm_verifies() {
    let jobs: Vec<Value> = Algorithm::ALL
        .iter()
        .map(|alg| {
            let name = alg.as_str();
            sign_job(
                name,
                key_name(name),
                &claims(json!({"alg_used": name})),
                &kid(name),
            )
        })
        .collect();
    let tokens = python(Value::Array(jobs));
    for (alg, token) in Algorithm::ALL.iter().zip(&tokens) {
        let token = token.as_str().unwrap();
        let v = verifier()
            .verify(token, NOW)
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(v.algorithm(), *alg);
        assert_eq!(v.key_id(), alg.as_str());
        assert_eq!(v.expires_at(), NOW + 3600);
        assert_eq!(v.identity().kind(), IdentityKind::Jwt);
        assert_eq!(v.identity().thing_name(), Some("sensor-1"));
        assert_eq!(v.identity().claim("alg_used"), Some(alg.as_str()));
        assert_eq!(v.identity().claim("exp"), Some(&*(NOW + 3600).to_string()));
    }
}

#[test]
fn rsa_public_key_pem_in_pkcs1_form() {
    let keys = keys();
    let v = JwtVerifier::builder()
        .key_pem(
            "r",
            Algorithm::Rs256,
            "rsa.pkcs1.pub",
            &keys.read("rsa.pkcs1.pub"),
        )
        .unwrap()
        .build()
        .unwrap();
    assert!(String::from_utf8(keys.read("rsa.pkcs1.pub"))
        .unwrap()
        .starts_with("-----BEGIN RSA PUBLIC KEY-----"));
    let t = sign("RS256", &claims(json!({})), &kid("r"));
    assert!(v.verify(&t, NOW).is_ok());
}

#[test]
fn es256_signatures_in_der_form_are_refused() {
    let t = token(json!({"op": "es256_der", "key": keys().arg("p256.key"),
        "claims": claims(json!({})), "headers": kid("ES256")}));
    assert_eq!(
        rejection(verifier().verify(&t, NOW)),
        Rejection::BadSignature
    );
}

#[test]
fn expiry_with_and_without_leeway() {
    let tokens = python(json!([
        sign_job(
            "HS256",
            "hs256",
            &claims(json!({"exp": NOW - 30})),
            &kid("HS256")
        ),
        sign_job(
            "HS256",
            "hs256",
            &claims(json!({"exp": NOW - 61})),
            &kid("HS256")
        ),
        sign_job(
            "HS256",
            "hs256",
            &claims(json!({"exp": NOW})),
            &kid("HS256")
        ),
    ]));
    let t = |i: usize| tokens[i].as_str().unwrap();
    assert!(
        verifier().verify(t(0), NOW).is_ok(),
        "30 s late is within 60 s leeway"
    );
    assert_eq!(rejection(verifier().verify(t(1), NOW)), Rejection::Expired);
    let strict = JwtVerifier::builder()
        .hmac_secret("HS256", Algorithm::Hs256, &keys().read("hs256.secret"))
        .unwrap()
        .leeway(0)
        .build()
        .unwrap();
    assert_eq!(rejection(strict.verify(t(0), NOW)), Rejection::Expired);
    assert_eq!(rejection(strict.verify(t(2), NOW)), Rejection::Expired);
    assert!(strict.verify(t(2), NOW - 1).is_ok());
}

#[test]
fn not_yet_valid() {
    let tokens = python(json!([
        sign_job(
            "ES256",
            "p256",
            &claims(json!({"nbf": NOW + 30})),
            &kid("ES256")
        ),
        sign_job(
            "ES256",
            "p256",
            &claims(json!({"nbf": NOW + 120})),
            &kid("ES256")
        ),
        sign_job(
            "ES256",
            "p256",
            &claims(json!({"iat": NOW + 120})),
            &kid("ES256")
        ),
    ]));
    let t = |i: usize| tokens[i].as_str().unwrap();
    assert!(verifier().verify(t(0), NOW).is_ok());
    assert_eq!(
        rejection(verifier().verify(t(1), NOW)),
        Rejection::NotYetValid
    );
    assert_eq!(
        rejection(verifier().verify(t(2), NOW)),
        Rejection::NotYetValid
    );
    assert!(verifier().verify(t(1), NOW + 60).is_ok());
}

#[test]
fn issuer_and_audience() {
    let v = JwtVerifier::builder()
        .key_pem(
            "k",
            Algorithm::EdDsa,
            "ed25519.pub",
            &keys().read("ed25519.pub"),
        )
        .unwrap()
        .issuer("https://idp.test")
        .audience("mqtt")
        .build()
        .unwrap();
    let cases = [
        (json!({"iss": "https://idp.test", "aud": "mqtt"}), None),
        (
            json!({"iss": "https://idp.test", "aud": ["web", "mqtt"]}),
            None,
        ),
        (
            json!({"iss": "https://evil.test", "aud": "mqtt"}),
            Some(Rejection::WrongIssuer),
        ),
        (
            json!({"iss": "https://idp.test", "aud": "web"}),
            Some(Rejection::WrongAudience),
        ),
        (
            json!({"iss": "https://idp.test", "aud": ["web", "app"]}),
            Some(Rejection::WrongAudience),
        ),
        (
            json!({"iss": "https://idp.test"}),
            Some(Rejection::MissingClaim("aud".into())),
        ),
        (
            json!({"aud": "mqtt"}),
            Some(Rejection::MissingClaim("iss".into())),
        ),
    ];
    let jobs: Vec<Value> = cases
        .iter()
        .map(|(extra, _)| sign_job("EdDSA", "ed25519", &claims(extra.clone()), &kid("k")))
        .collect();
    for ((extra, want), t) in cases.iter().zip(python(Value::Array(jobs))) {
        let got = v.verify(t.as_str().unwrap(), NOW);
        match want {
            None => assert!(got.is_ok(), "{extra}: {got:?}"),
            Some(want) => assert_eq!(&rejection(got), want, "{extra}"),
        }
    }
    // A verifier with no audience refuses tokens addressed to one.
    let t = sign("EdDSA", &claims(json!({"aud": "mqtt"})), &kid("EdDSA"));
    assert_eq!(
        rejection(verifier().verify(&t, NOW)),
        Rejection::WrongAudience
    );
}

/// Replaces the character at `index` with another base64url character.
fn flip(token: &str, index: usize) -> String {
    let mut bytes = token.as_bytes().to_vec();
    bytes[index] = if bytes[index] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

#[test]
fn tampered_payload_and_signature() {
    for alg in ["HS256", "RS256", "ES256", "EdDSA"] {
        let good = sign(alg, &claims(json!({"role": "reader"})), &kid(alg));
        let other = sign(alg, &claims(json!({"role": "admin"})), &kid(alg));
        let parts: Vec<&str> = good.split('.').collect();
        let swapped = format!(
            "{}.{}.{}",
            parts[0],
            other.split('.').nth(1).unwrap(),
            parts[2]
        );
        assert_eq!(
            rejection(verifier().verify(&swapped, NOW)),
            Rejection::BadSignature,
            "{alg}"
        );
        let sig_start = parts[0].len() + parts[1].len() + 2;
        let bad_sig = flip(&good, sig_start + parts[2].len() / 2);
        assert_eq!(
            rejection(verifier().verify(&bad_sig, NOW)),
            Rejection::BadSignature,
            "{alg}"
        );
        let bad_payload = flip(&good, parts[0].len() + 1 + parts[1].len() / 2);
        assert_eq!(
            rejection(verifier().verify(&bad_payload, NOW)),
            Rejection::BadSignature,
            "{alg}"
        );
        let no_sig = format!("{}.{}.", parts[0], parts[1]);
        assert_eq!(
            rejection(verifier().verify(&no_sig, NOW)),
            Rejection::BadSignature,
            "{alg}"
        );
    }
}

#[test]
fn alg_none_is_refused() {
    let with_kid = token(
        json!({"op": "sign", "alg": "none", "claims": claims(json!({})),
        "headers": kid("RS256")}),
    );
    let without_kid = token(json!({"op": "sign", "alg": "none", "claims": claims(json!({}))}));
    assert!(with_kid.ends_with('.'), "PyJWT leaves the signature empty");
    assert_eq!(
        rejection(verifier().verify(&with_kid, NOW)),
        Rejection::WrongAlgorithm
    );
    assert_eq!(
        rejection(verifier().verify(&without_kid, NOW)),
        Rejection::WrongAlgorithm
    );
    let single = JwtVerifier::builder()
        .key_pem("only", Algorithm::Rs256, "rsa.pub", &keys().read("rsa.pub"))
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(
        rejection(single.verify(&without_kid, NOW)),
        Rejection::WrongAlgorithm
    );
}

#[test]
fn hmac_with_the_rsa_public_key_is_refused() {
    let keys = keys();
    // The classic confusion: HS256 with the PEM text of the RSA public key as the secret.
    let forged = python(json!([
        {"op": "forge_hmac", "secret_file": keys.arg("rsa.pub"), "claims": claims(json!({})),
         "headers": kid("RS256")},
        {"op": "forge_hmac", "secret_file": keys.arg("rsa.pub"), "claims": claims(json!({}))},
    ]));
    let with_kid = forged[0].as_str().unwrap();
    let without_kid = forged[1].as_str().unwrap();
    assert_eq!(
        rejection(verifier().verify(with_kid, NOW)),
        Rejection::WrongAlgorithm
    );
    let single = JwtVerifier::builder()
        .key_pem("only", Algorithm::Rs256, "rsa.pub", &keys.read("rsa.pub"))
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(
        rejection(single.verify(without_kid, NOW)),
        Rejection::WrongAlgorithm
    );
    // Nor can an RSA public key be configured as an HMAC key.
    let err = JwtVerifier::builder()
        .key_pem("k", Algorithm::Hs256, "rsa.pub", &keys.read("rsa.pub"))
        .unwrap_err();
    assert!(err.to_string().contains("shared secret"), "{err}");
}

#[test]
fn header_alg_must_equal_the_pinned_alg() {
    // Same RSA key, other RSA algorithms, presented under the RS256 key id.
    for alg in ["RS512", "PS256", "RS384"] {
        let t = token(sign_job(alg, "rsa", &claims(json!({})), &kid("RS256")));
        assert_eq!(
            rejection(verifier().verify(&t, NOW)),
            Rejection::WrongAlgorithm,
            "{alg}"
        );
    }
    let t = token(sign_job("ES256", "p256", &claims(json!({})), &kid("ES384")));
    assert_eq!(
        rejection(verifier().verify(&t, NOW)),
        Rejection::WrongAlgorithm
    );
}

#[test]
fn unknown_kid_and_crit() {
    let unknown = sign("RS256", &claims(json!({})), &kid("nobody"));
    assert_eq!(
        rejection(verifier().verify(&unknown, NOW)),
        Rejection::UnknownIdentity
    );
    let crit = sign(
        "RS256",
        &claims(json!({})),
        &json!({"kid": "RS256", "crit": ["exp"]}),
    );
    assert_eq!(
        rejection(verifier().verify(&crit, NOW)),
        Rejection::UnsupportedCritical
    );
    let b64 = sign(
        "RS256",
        &claims(json!({})),
        &json!({"kid": "RS256", "b64": false, "crit": ["b64"]}),
    );
    assert_eq!(
        rejection(verifier().verify(&b64, NOW)),
        Rejection::UnsupportedCritical
    );
}

#[test]
fn exp_missing_or_not_whole_seconds() {
    let cases = [
        (json!({"exp": null}), "missing"),
        (json!({"exp": (NOW + 3600).to_string()}), "string"),
        (json!({"exp": NOW as f64 + 3600.5}), "fraction"),
        (json!({"exp": -1}), "negative"),
        (json!({"nbf": NOW.to_string()}), "nbf string"),
        (json!({"iat": "yesterday"}), "iat string"),
    ];
    let jobs: Vec<Value> = cases
        .iter()
        .map(|(extra, _)| sign_job("HS512", "hs512", &claims(extra.clone()), &kid("HS512")))
        .collect();
    let tokens = python(Value::Array(jobs));
    assert_eq!(
        rejection(verifier().verify(tokens[0].as_str().unwrap(), NOW)),
        Rejection::MissingClaim("exp".into())
    );
    for ((_, what), t) in cases.iter().zip(&tokens).skip(1) {
        let r = rejection(verifier().verify(t.as_str().unwrap(), NOW));
        assert!(matches!(r, Rejection::Malformed(_)), "{what}: {r:?}");
    }
}

#[test]
fn oversize_tokens_are_refused_before_decoding() {
    let big = sign(
        "HS256",
        &claims(json!({"pad": "x".repeat(9000)})),
        &kid("HS256"),
    );
    assert!(big.len() > 8 * 1024);
    assert_eq!(rejection(verifier().verify(&big, NOW)), Rejection::TooLarge);
    let roomy = JwtVerifier::builder()
        .hmac_secret("HS256", Algorithm::Hs256, &keys().read("hs256.secret"))
        .unwrap()
        .max_len(16 * 1024)
        .build()
        .unwrap();
    assert!(roomy.verify(&big, NOW).is_ok());
    // The cap holds for bytes that are not a token at all.
    assert_eq!(
        rejection(verifier().verify(vec![0xff; 9000], NOW)),
        Rejection::TooLarge
    );
}

#[test]
fn garbage_gets_a_clear_error() {
    for input in [
        &b""[..],
        b"abc",
        b"a.b",
        b"a.b.c",
        b"....",
        b"Bearer eyJ.eyJ.sig",
        b"eyJhbGciOiJIUzI1NiJ9",
        b"\x00\x01\x02.\xff.\xfe",
        b"e30.e30.e30",
        b"W10.e30.",
        b"eyJhbGciOiJIUzI1NiJ9.!!.x",
    ] {
        let e = verifier().verify(input, NOW).unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("rejected: "), "{text}");
        assert!(
            matches!(e.rejection(), Some(Rejection::Malformed(_))),
            "{input:?}: {text}"
        );
    }
}

#[test]
fn claims_become_identity_attributes() {
    let v = JwtVerifier::builder()
        .hmac_secret("k", Algorithm::Hs256, &keys().read("hs256.secret"))
        .unwrap()
        .claim_mapping(
            ClaimMapping::new()
                .client_id(Some("cid"))
                .username(Some("preferred_username"))
                .alias("https://example.com/tenant", "tenant"),
        )
        .build()
        .unwrap();
    let key = |extra| sign_job("HS256", "hs256", &claims(extra), &kid("k"));
    let tokens = python(json!([
        key(
            json!({"sub": "dev/+/#", "cid": "c-$1", "preferred_username": "alice",
            "role": "ops*", "level": 3, "admin": false, "groups": ["a"], "meta": {"x": 1},
            "https://example.com/tenant": "acme"})
        ),
        key(json!({"sub": null, "preferred_username": "alice", "cid": "c"})),
        key(json!({"sub": "s", "cid": "", "preferred_username": "alice"})),
    ]));
    let got = v.verify(tokens[0].as_str().unwrap(), NOW).unwrap();
    let id = got.identity();
    assert_eq!(id.thing_name(), Some("dev/+/#"));
    assert_eq!(id.client_id(), Some("c-$1"));
    assert_eq!(id.username(), Some("alice"));
    assert_eq!(id.claim("role"), Some("ops*"));
    assert_eq!(id.claim("level"), Some("3"));
    assert_eq!(id.claim("admin"), Some("false"));
    assert_eq!(id.claim("tenant"), Some("acme"));
    assert_eq!(id.claim("groups"), None);
    assert_eq!(id.claim("meta"), None);
    assert_eq!(got.claims()["groups"], json!(["a"]));
    assert_eq!(
        rejection(v.verify(tokens[1].as_str().unwrap(), NOW)),
        Rejection::MissingClaim("sub".into())
    );
    assert_eq!(
        rejection(v.verify(tokens[2].as_str().unwrap(), NOW)),
        Rejection::MissingClaim("cid".into())
    );
}

#[test]
fn policy_claim_when_allowed() {
    let v = JwtVerifier::builder()
        .key_pem("k", Algorithm::Es384, "p384.pub", &keys().read("p384.pub"))
        .unwrap()
        .policy_claim("acl")
        .build()
        .unwrap();
    let acl = json!({"pub": ["devices/${clientid}/#"], "sub": ["cmd/#"]});
    let t = sign("ES384", &claims(json!({"acl": acl})), &kid("k"));
    let got = v.verify(&t, NOW).unwrap();
    assert_eq!(got.policy(), Some(&acl));
    assert!(!got.claims().contains_key("acl"));
    let plain = JwtVerifier::builder()
        .key_pem("k", Algorithm::Es384, "p384.pub", &keys().read("p384.pub"))
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(plain.verify(&t, NOW).unwrap().policy(), None);
}

fn jwk_job(alg: &str, kid: &str, file: &str) -> Value {
    let keys = keys();
    if file.ends_with(".secret") {
        json!({"op": "jwk", "alg": alg, "kid": kid, "secret_hex": hex(&keys.read(file))})
    } else {
        json!({"op": "jwk", "alg": alg, "kid": kid, "key": keys.arg(file)})
    }
}

#[test]
fn jwks_with_several_keys_selected_by_kid() {
    let jwks = python(json!([
        jwk_job("RS256", "rsa-1", "rsa.pub"),
        jwk_job("PS256", "rsa-2", "rsa2.pub"),
        jwk_job("ES256", "ec", "p256.pub"),
        jwk_job("EdDSA", "ed", "ed25519.pub"),
        jwk_job("HS384", "oct", "hs384.secret"),
    ]));
    let doc = json!({ "keys": jwks });
    let v = JwtVerifier::builder()
        .jwks("idp.jwks", doc.to_string().as_bytes())
        .unwrap()
        .build()
        .unwrap();
    let ids: Vec<_> = v.keys().collect();
    assert_eq!(ids.len(), 5);
    let tokens = python(json!([
        sign_job("RS256", "rsa", &claims(json!({})), &kid("rsa-1")),
        sign_job("PS256", "rsa2", &claims(json!({})), &kid("rsa-2")),
        sign_job("ES256", "p256", &claims(json!({})), &kid("ec")),
        sign_job("EdDSA", "ed25519", &claims(json!({})), &kid("ed")),
        sign_job("HS384", "hs384", &claims(json!({})), &kid("oct")),
        // The right algorithm, the other RSA key's id.
        sign_job("RS256", "rsa2", &claims(json!({})), &kid("rsa-1")),
    ]));
    for (t, want) in tokens.iter().zip(["rsa-1", "rsa-2", "ec", "ed", "oct"]) {
        let got = v.verify(t.as_str().unwrap(), NOW).unwrap();
        assert_eq!(got.key_id(), want);
    }
    assert_eq!(
        rejection(v.verify(tokens[5].as_str().unwrap(), NOW)),
        Rejection::BadSignature
    );
}

#[test]
fn jwks_key_without_alg_is_a_load_error() {
    let mut jwk = python(json!([jwk_job("RS256", "no-alg", "rsa.pub")])).remove(0);
    jwk.as_object_mut().unwrap().remove("alg");
    let doc = json!({ "keys": [jwk] }).to_string();
    let err = JwtVerifier::builder()
        .jwks("idp.jwks", doc.as_bytes())
        .unwrap_err();
    let problem = &err.problems()[0];
    assert_eq!(
        problem.location,
        Location::FileLine {
            file: "idp.jwks".into(),
            line: 1
        }
    );
    assert!(
        problem.message.contains("key `no-alg`: has no `alg`"),
        "{err}"
    );
}

#[test]
fn rsa_1024_keys_are_refused_at_load() {
    let keys = keys();
    let pem = keys.read("rsa1024.pub");
    let err = JwtVerifier::builder()
        .key_pem("weak", Algorithm::Rs256, "rsa1024.pub", &pem)
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("`rsa1024.pub`: key `weak`: RSA key has 1024 bits"),
        "{text}"
    );
    let body = String::from_utf8(pem).unwrap();
    let body_line = body.lines().nth(1).unwrap();
    assert!(!text.contains(body_line), "{text}");
    let jwk = python(json!([jwk_job("RS256", "weak", "rsa1024.pub")])).remove(0);
    let err = JwtVerifier::builder()
        .jwks("weak.jwks", json!({ "keys": [jwk] }).to_string().as_bytes())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("key `weak`: RSA key has 1024 bits"),
        "{err}"
    );
}

#[test]
fn load_errors_name_the_key_and_hide_the_secret() {
    let keys = keys();
    let short = [0x41u8; 20];
    let err = JwtVerifier::builder()
        .hmac_secret("tiny", Algorithm::Hs256, &short)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("HMAC key `tiny`: HS256 secret has 20 bytes"),
        "{err}"
    );
    assert!(!err.contains("AAAA"), "{err}");
    let err = JwtVerifier::builder()
        .key_pem("ec", Algorithm::Es256, "rsa.pub", &keys.read("rsa.pub"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("ES256 cannot use an RSA key"), "{err}");
    let err = JwtVerifier::builder()
        .key_pem("ec", Algorithm::Es256, "p256.key", &keys.read("p256.key"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("found `PRIVATE KEY`"), "{err}");
    let jwk = python(json!([jwk_job("HS256", "oct", "hs256.secret")])).remove(0);
    let k = jwk["k"].as_str().unwrap().to_owned();
    let mut bad = jwk.clone();
    bad["alg"] = json!("RS256");
    let err = JwtVerifier::builder()
        .jwks("s.jwks", json!({ "keys": [bad] }).to_string().as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("key `oct`: key type `oct` cannot be used with RS256"),
        "{err}"
    );
    assert!(!err.contains(&k), "{err}");
}

// ---- custom authorizer ----

/// Percent-encodes what a query value must not carry raw.
fn encode(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            '+' => "%2B".to_owned(),
            '/' => "%2F".to_owned(),
            '=' => "%3D".to_owned(),
            '&' => "%26".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn authorizer() -> CustomAuthorizer {
    CustomAuthorizer::builder()
        .authorizer_pem("signer", "token", "rsa2.pub", &keys().read("rsa2.pub"))
        .unwrap()
        .build()
        .unwrap()
}

fn aws_sign(key: &str, data: &str) -> Value {
    json!({"op": "aws_sign", "key": keys().arg(key), "data": data})
}

#[test]
fn custom_authorizer_accepts_a_signed_token() {
    let t = sign("RS256", &claims(json!({})), &kid("RS256"));
    let sig = python(json!([aws_sign("rsa2.key", &t)])).remove(0);
    let sig = sig.as_str().unwrap();
    let auth = authorizer();
    for username in [
        format!(
            "sensor-1?x-amz-customauthorizer-name=signer&x-amz-customauthorizer-signature={}&token={t}",
            encode(sig)
        ),
        format!(
            "?token={t}&x-amz-customauthorizer-signature={}&x-amz-customauthorizer-name=signer&extra=1",
            encode(sig)
        ),
        // An unencoded base64 signature reads the same: `+` is not a space here.
        format!("?x-amz-customauthorizer-name=signer&x-amz-customauthorizer-signature={sig}&token={t}"),
    ] {
        let got = auth
            .verify(&username, NOW, verifier())
            .unwrap_or_else(|e| panic!("{username}: {e}"));
        assert_eq!(got.identity().thing_name(), Some("sensor-1"));
        let got = auth.verify_connect(Some(&username), None, NOW, verifier()).unwrap();
        assert_eq!(got.key_id(), "RS256");
    }
}

#[test]
fn custom_authorizer_refusals() {
    let t = sign("RS256", &claims(json!({})), &kid("RS256"));
    let other = sign("RS256", &claims(json!({"sub": "sensor-2"})), &kid("RS256"));
    let sigs = python(json!([
        aws_sign("rsa2.key", &t),
        aws_sign("rsa.key", &t),
        aws_sign("rsa2.key", &other),
        aws_sign("rsa2.key", "not-a-jwt"),
    ]));
    let sig = |i: usize| encode(sigs[i].as_str().unwrap());
    let auth = authorizer();
    let user = |name: &str, sig: &str, token: &str| {
        format!("u?x-amz-customauthorizer-name={name}&x-amz-customauthorizer-signature={sig}&token={token}")
    };
    let check = |username: String| rejection(auth.verify(&username, NOW, verifier()));
    // Signed by a key that is not the authorizer's.
    assert_eq!(check(user("signer", &sig(1), &t)), Rejection::BadSignature);
    // A genuine signature over another token.
    assert_eq!(check(user("signer", &sig(2), &t)), Rejection::BadSignature);
    assert_eq!(
        check(user("other", &sig(0), &t)),
        Rejection::UnknownIdentity
    );
    // The signature is checked before the token is read: an unsigned garbage token fails on
    // the signature, a signed one on the token.
    assert_eq!(
        check(user("signer", &sig(0), "not-a-jwt")),
        Rejection::BadSignature
    );
    assert!(matches!(
        check(user("signer", &sig(3), "not-a-jwt")),
        Rejection::Malformed(_)
    ));
    for malformed in [
        format!("{}&token={t}", user("signer", &sig(0), &t)),
        format!(
            "{}&x-amz-customauthorizer-name=signer",
            user("signer", &sig(0), &t)
        ),
        format!("u?x-amz-customauthorizer-name=signer&token={t}"),
        format!(
            "u?x-amz-customauthorizer-name=signer&x-amz-customauthorizer-signature={}",
            sig(0)
        ),
        format!("u?x-amz-customauthorizer-signature={}&token={t}", sig(0)),
        user("signer", "%zz", &t),
        user("signer", "***", &t),
        format!("{}&", user("signer", &sig(0), &t)),
        "u".to_owned(),
    ] {
        let r = check(malformed.clone());
        assert!(matches!(r, Rejection::Malformed(_)), "{malformed}: {r:?}");
    }
}

#[test]
fn custom_authorizer_keys_are_checked_at_load() {
    let keys = keys();
    let weak = CustomAuthorizer::builder()
        .authorizer_pem("a", "token", "rsa1024.pub", &keys.read("rsa1024.pub"))
        .unwrap_err()
        .to_string();
    assert!(
        weak.contains("`rsa1024.pub`: authorizer `a`: RSA key has 1024 bits"),
        "{weak}"
    );
    let ec = CustomAuthorizer::builder()
        .authorizer_pem("a", "token", "p256.pub", &keys.read("p256.pub"))
        .unwrap_err()
        .to_string();
    assert!(ec.contains("must be an RSA key"), "{ec}");
    let twice = CustomAuthorizer::builder()
        .authorizer_pem("a", "token", "rsa.pub", &keys.read("rsa.pub"))
        .unwrap()
        .authorizer_pem("a", "tok", "rsa2.pub", &keys.read("rsa2.pub"))
        .unwrap_err()
        .to_string();
    assert!(twice.contains("given twice"), "{twice}");
}

#[test]
fn token_as_password() {
    let t = sign("ES256", &claims(json!({})), &kid("ES256"));
    let any = CustomAuthorizer::builder().build().unwrap();
    assert!(any
        .verify_password(Some("whatever"), t.as_bytes(), NOW, verifier())
        .is_ok());
    assert!(any
        .verify_password(None, t.as_bytes(), NOW, verifier())
        .is_ok());
    assert!(any
        .verify_connect(Some("x"), Some(t.as_bytes()), NOW, verifier())
        .is_ok());
    assert!(matches!(
        rejection(any.verify_connect(Some("x"), None, NOW, verifier())),
        Rejection::Malformed(_)
    ));
    let strict = CustomAuthorizer::builder()
        .password_username(PasswordUsername::ThingName)
        .build()
        .unwrap();
    assert!(strict
        .verify_password(Some("sensor-1"), t.as_bytes(), NOW, verifier())
        .is_ok());
    for username in [Some("sensor-2"), None, Some("")] {
        assert_eq!(
            rejection(strict.verify_password(username, t.as_bytes(), NOW, verifier())),
            Rejection::WrongSecret,
            "{username:?}"
        );
    }
    // The token itself is still verified.
    let expired = sign("ES256", &claims(json!({"exp": NOW - 3600})), &kid("ES256"));
    assert_eq!(
        rejection(strict.verify_password(Some("sensor-1"), expired.as_bytes(), NOW, verifier())),
        Rejection::Expired
    );
}

// ---- never panic ----

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let e = verifier().verify(&bytes, NOW).unwrap_err();
        prop_assert!(e.rejection().is_some());
    }

    #[test]
    fn random_compact_tokens_are_refused(
        h in "[A-Za-z0-9_-]{0,80}", p in "[A-Za-z0-9_-]{0,80}", s in "[A-Za-z0-9_-]{0,400}",
    ) {
        let t = format!("{h}.{p}.{s}");
        prop_assert!(verifier().verify(&t, NOW).is_err());
    }

    #[test]
    fn random_headers_are_refused(header in "\\PC{0,60}", s in "[A-Za-z0-9_-]{0,90}") {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let t = format!("{}.{}.{s}", b64.encode(header), b64.encode(r#"{"exp":1}"#));
        prop_assert!(verifier().verify(&t, NOW).is_err());
    }

    #[test]
    fn random_usernames_are_refused(u in "\\PC{0,200}", q in "[a-z=&%0-9-]{0,200}") {
        let auth = authorizer();
        let username = format!("{u}?{q}");
        prop_assert!(auth.verify(&username, NOW, verifier()).is_err());
        prop_assert!(auth.verify(&u, NOW, verifier()).is_err());
    }

    #[test]
    fn random_key_files_do_not_load(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        prop_assert!(JwtVerifier::builder().jwks("x", &bytes).is_err());
        prop_assert!(JwtVerifier::builder().key_pem("k", Algorithm::Rs256, "x", &bytes).is_err());
        let mut pem = b"-----BEGIN PUBLIC KEY-----\n".to_vec();
        use base64::Engine;
        pem.extend(base64::engine::general_purpose::STANDARD.encode(&bytes).as_bytes());
        pem.extend(b"\n-----END PUBLIC KEY-----\n");
        prop_assert!(JwtVerifier::builder().key_pem("k", Algorithm::Es256, "x", &pem).is_err());
    }
}
