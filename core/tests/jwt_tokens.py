#!/usr/bin/env python3
"""Makes test tokens, JWKs and custom-authorizer signatures for core/tests/jwt.rs with an
implementation independent of mqward: PyJWT and pyca/cryptography.

Reads a JSON list of jobs on stdin and writes a JSON list of results (one per job) on stdout.
Jobs:
  {"op": "sign", "alg": "RS256", "key": "<private PEM path>" | null, "secret_hex": "..",
   "claims": {...}, "headers": {...}}            -> PyJWT token (alg "none": no key)
  {"op": "forge_hmac", "secret_file": "<path>", "claims": {...}, "headers": {...}}
                                                 -> HS256 token whose HMAC secret is the file's
                                                    bytes (PyJWT refuses PEM keys as secrets)
  {"op": "es256_der", "key": "<path>", "claims": {...}, "headers": {...}}
                                                 -> ES256 token with a DER signature (wrong form)
  {"op": "jwk", "alg": "RS256", "kid": "k", "key": "<public PEM path>" | null, "secret_hex": ".."}
                                                 -> JWK object (PyJWT's to_jwk)
  {"op": "aws_sign", "key": "<private PEM path>", "data": "..."}
                                                 -> base64 RSA PKCS#1 v1.5 SHA-256 signature
"""

import base64
import hashlib
import hmac
import json
import sys

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from jwt.algorithms import get_default_algorithms


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(headers, claims):
    header = b64url(json.dumps(headers, separators=(",", ":")).encode())
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return header + "." + payload


def read(path):
    with open(path, "rb") as f:
        return f.read()


def private_key(path):
    return serialization.load_pem_private_key(read(path), password=None)


def run(job):
    op = job["op"]
    if op == "sign":
        alg = job["alg"]
        if alg == "none":
            key = None
        elif "secret_hex" in job:
            key = bytes.fromhex(job["secret_hex"])
        else:
            key = private_key(job["key"])
        return jwt.encode(job["claims"], key, algorithm=alg, headers=job.get("headers"))
    if op == "forge_hmac":
        headers = dict(job.get("headers", {}), alg="HS256")
        signing_input = compact(headers, job["claims"])
        tag = hmac.new(read(job["secret_file"]), signing_input.encode(), hashlib.sha256)
        return signing_input + "." + b64url(tag.digest())
    if op == "es256_der":
        headers = dict(job.get("headers", {}), alg="ES256")
        signing_input = compact(headers, job["claims"])
        der = private_key(job["key"]).sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        return signing_input + "." + b64url(der)
    if op == "jwk":
        algorithm = get_default_algorithms()[job["alg"]]
        if "secret_hex" in job:
            key = bytes.fromhex(job["secret_hex"])
        else:
            key = serialization.load_pem_public_key(read(job["key"]))
        jwk = json.loads(algorithm.to_jwk(key))
        jwk["kid"] = job["kid"]
        if job.get("with_alg", True):
            jwk["alg"] = job["alg"]
        return jwk
    if op == "aws_sign":
        signature = private_key(job["key"]).sign(
            job["data"].encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        return base64.b64encode(signature).decode()
    raise ValueError("unknown op " + op)


def main():
    jobs = json.load(sys.stdin)
    json.dump([run(job) for job in jobs], sys.stdout)


if __name__ == "__main__":
    main()
