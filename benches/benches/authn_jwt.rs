//! Token verification: one `JwtVerifier::verify` per iteration for each algorithm (a typical
//! 200-byte claim set, a verifier holding one key per algorithm, selected by `kid`), the AWS
//! custom-authorizer check (RSA-2048 signature over an HS256 token, then the token), and
//! loading a four-key JWKS; and, for scale, ring's bare HMAC, RSA and ECDSA checks of the same
//! bytes.
//!
//! Keys: the RSA key comes from openssl (ring cannot generate one); EC and Ed25519 keys and all
//! signatures come from ring. Tokens are checked to verify before they are measured.

use std::hint::black_box;
use std::process::Command;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use criterion::{criterion_group, criterion_main, Criterion};
use mqward_core::authn::custom_authorizer::CustomAuthorizer;
use mqward_core::authn::jwt::{Algorithm, JwtVerifier};
use ring::hmac;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};

const NOW: u64 = 1_700_000_000;

/// An RSA-2048 private key as PKCS#1 DER (what `genpkey -outform DER` writes), made by openssl.
fn openssl_rsa_der() -> Vec<u8> {
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-outform",
            "DER",
        ])
        .output()
        .expect("openssl runs");
    assert!(out.status.success(), "openssl genpkey failed");
    out.stdout
}

fn pem(label: &str, der: &[u8]) -> Vec<u8> {
    let body = STANDARD.encode(der);
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        text.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text.into_bytes()
}

/// The keys that sign the benchmark tokens, and the verifier that holds their public halves.
struct Signers {
    rng: SystemRandom,
    hmac: [hmac::Key; 3],
    rsa: RsaKeyPair,
    p256: EcdsaKeyPair,
    p384: EcdsaKeyPair,
    ed25519: Ed25519KeyPair,
}

impl Signers {
    fn new() -> (Signers, JwtVerifier, Vec<u8>) {
        let rng = SystemRandom::new();
        let secrets: [&[u8]; 3] = [&[0x11; 32], &[0x22; 48], &[0x33; 64]];
        let rsa = RsaKeyPair::from_der(&openssl_rsa_der()).expect("RSA key");
        let p256 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .and_then(|k| {
                EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    k.as_ref(),
                    &rng,
                )
                .map_err(|_| ring::error::Unspecified)
            })
            .expect("P-256 key");
        let p384 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, &rng)
            .and_then(|k| {
                EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                    k.as_ref(),
                    &rng,
                )
                .map_err(|_| ring::error::Unspecified)
            })
            .expect("P-384 key");
        let ed25519 = Ed25519KeyPair::generate_pkcs8(&rng)
            .and_then(|k| {
                Ed25519KeyPair::from_pkcs8(k.as_ref()).map_err(|_| ring::error::Unspecified)
            })
            .expect("Ed25519 key");

        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let ec_jwk = |kid: &str, crv: &str, point: &[u8]| {
            let (x, y) = point[1..].split_at((point.len() - 1) / 2);
            serde_json::json!({"kty": "EC", "kid": kid, "alg": kid, "crv": crv,
                "x": b64(x), "y": b64(y)})
        };
        let jwks = serde_json::json!({"keys": [
            ec_jwk("ES256", "P-256", p256.public_key().as_ref()),
            ec_jwk("ES384", "P-384", p384.public_key().as_ref()),
            {"kty": "OKP", "crv": "Ed25519", "kid": "EdDSA", "alg": "EdDSA",
             "x": b64(ed25519.public_key().as_ref())},
            {"kty": "oct", "kid": "HS256", "alg": "HS256", "k": b64(secrets[0])},
        ]})
        .to_string()
        .into_bytes();

        let rsa_pem = pem("RSA PUBLIC KEY", rsa.public().as_ref());
        let mut builder = JwtVerifier::builder()
            .jwks("bench.jwks", &jwks)
            .expect("JWKS loads")
            .hmac_secret("HS384", Algorithm::Hs384, secrets[1])
            .expect("HS384 secret")
            .hmac_secret("HS512", Algorithm::Hs512, secrets[2])
            .expect("HS512 secret");
        for alg in Algorithm::ALL {
            if matches!(
                alg.as_str(),
                "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512"
            ) {
                builder = builder
                    .key_pem(alg.as_str(), alg, "rsa.pem", &rsa_pem)
                    .expect("RSA key loads");
            }
        }
        let verifier = builder.build().expect("verifier builds");
        let hmac = [
            hmac::Key::new(hmac::HMAC_SHA256, secrets[0]),
            hmac::Key::new(hmac::HMAC_SHA384, secrets[1]),
            hmac::Key::new(hmac::HMAC_SHA512, secrets[2]),
        ];
        let signers = Signers {
            rng,
            hmac,
            rsa,
            p256,
            p384,
            ed25519,
        };
        (signers, verifier, jwks)
    }

    fn sign(&self, alg: Algorithm, input: &[u8]) -> Vec<u8> {
        let rsa = |padding: &'static dyn signature::RsaEncoding| {
            let mut sig = vec![0; self.rsa.public().modulus_len()];
            self.rsa
                .sign(padding, &self.rng, input, &mut sig)
                .expect("RSA signs");
            sig
        };
        match alg.as_str() {
            "HS256" => hmac::sign(&self.hmac[0], input).as_ref().to_vec(),
            "HS384" => hmac::sign(&self.hmac[1], input).as_ref().to_vec(),
            "HS512" => hmac::sign(&self.hmac[2], input).as_ref().to_vec(),
            "RS256" => rsa(&signature::RSA_PKCS1_SHA256),
            "RS384" => rsa(&signature::RSA_PKCS1_SHA384),
            "RS512" => rsa(&signature::RSA_PKCS1_SHA512),
            "PS256" => rsa(&signature::RSA_PSS_SHA256),
            "PS384" => rsa(&signature::RSA_PSS_SHA384),
            "PS512" => rsa(&signature::RSA_PSS_SHA512),
            "ES256" => self
                .p256
                .sign(&self.rng, input)
                .expect("signs")
                .as_ref()
                .to_vec(),
            "ES384" => self
                .p384
                .sign(&self.rng, input)
                .expect("signs")
                .as_ref()
                .to_vec(),
            "EdDSA" => self.ed25519.sign(input).as_ref().to_vec(),
            other => panic!("no signer for {other}"),
        }
    }

    /// Verifies with ring alone (HS256, RS256, ES256).
    fn verify_only(&self, alg: Algorithm, input: &[u8], sig: &[u8]) -> bool {
        match alg.as_str() {
            "HS256" => hmac::verify(&self.hmac[0], input, sig).is_ok(),
            "RS256" => signature::UnparsedPublicKey::new(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                self.rsa.public().as_ref(),
            )
            .verify(input, sig)
            .is_ok(),
            "ES256" => signature::UnparsedPublicKey::new(
                &signature::ECDSA_P256_SHA256_FIXED,
                self.p256.public_key().as_ref(),
            )
            .verify(input, sig)
            .is_ok(),
            other => panic!("no ring-only check for {other}"),
        }
    }

    fn token(&self, alg: Algorithm) -> String {
        let header = format!(r#"{{"alg":"{alg}","kid":"{alg}","typ":"JWT"}}"#);
        let claims = format!(
            r#"{{"sub":"sensor-0042","cid":"sensor-0042","iss":"https://idp.example.com","iat":{},"exp":{},"role":"reader","fleet":"fam-0007","level":3}}"#,
            NOW - 10,
            NOW + 3600
        );
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let sig = self.sign(alg, input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

fn verify(c: &mut Criterion) {
    let (signers, verifier, jwks) = Signers::new();
    let mut group = c.benchmark_group("jwt-verify");
    for alg in Algorithm::ALL {
        let token = signers.token(alg);
        if let Err(e) = verifier.verify(&token, NOW) {
            panic!("{alg} token does not verify: {e}");
        }
        group.bench_function(alg.as_str(), |b| {
            b.iter(|| verifier.verify(black_box(token.as_bytes()), NOW))
        });
    }
    group.finish();

    // The bare ring operations on the same bytes, so that the rows above read as crypto plus
    // our overhead even on a noisy machine.
    let mut group = c.benchmark_group("ring-only");
    for alg in [Algorithm::Hs256, Algorithm::Rs256, Algorithm::Es256] {
        let token = signers.token(alg);
        let (input, sig) = token.rsplit_once('.').expect("three parts");
        let sig = URL_SAFE_NO_PAD.decode(sig).expect("base64url");
        let check = signers.verify_only(alg, input.as_bytes(), &sig);
        assert!(check, "{alg} ring-only check fails");
        group.bench_function(alg.as_str(), |b| {
            b.iter(|| signers.verify_only(alg, black_box(input.as_bytes()), &sig))
        });
    }
    group.finish();

    // Custom authorizer: RSA-2048 PKCS#1 SHA-256 over an HS256 token, then the token.
    let token = signers.token(Algorithm::Hs256);
    let sig = signers.sign(Algorithm::Rs256, token.as_bytes());
    let authorizer = CustomAuthorizer::builder()
        .authorizer_pem(
            "bench",
            "token",
            "rsa.pem",
            &pem("RSA PUBLIC KEY", signers.rsa.public().as_ref()),
        )
        .expect("authorizer key loads")
        .build()
        .expect("authorizer builds");
    let encoded = STANDARD
        .encode(sig)
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let username = format!(
        "sensor-0042?x-amz-customauthorizer-name=bench&x-amz-customauthorizer-signature={encoded}&token={token}"
    );
    if let Err(e) = authorizer.verify(&username, NOW, &verifier) {
        panic!("custom authorizer username does not verify: {e}");
    }
    let mut group = c.benchmark_group("authn");
    group.bench_function("custom-authorizer-rs256+hs256", |b| {
        b.iter(|| authorizer.verify(black_box(&username), NOW, &verifier))
    });
    group.bench_function("jwks-load-4-keys", |b| {
        b.iter(|| JwtVerifier::builder().jwks("bench.jwks", black_box(&jwks)))
    });
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
