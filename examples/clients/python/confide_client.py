#!/usr/bin/env python3
"""Sends one KServe v2 inference request to a Confide server, end to end encrypted with Oblivious HTTP.

    python3 confide_client.py --url http://127.0.0.1:8080 --accept-simulated --text "hello" echo
    python3 confide_client.py --url http://10.0.0.5:8080 --measurement <MRTD hex> --confide confide \\
        --text "A cat sat on the mat." minilm

Steps (see docs/CLIENTS.md and docs/ENCRYPTION.md):
  1. GET /attestation?nonce=<fresh 32 bytes>: evidence and the gateway's key configurations.
  2. Check that the evidence's report data is SHA-512("confide-attestation-v1" || 0x00 || key configurations ||
     nonce), that the measurement is one the caller trusts and that the guest is not debuggable; verify the
     evidence's signatures: simulated evidence here (integrity only: it proves nothing about the machine, and is
     refused without --accept-simulated); TDX quotes and SEV-SNP reports with `confide attest verify` (--confide),
     because their certificate chains are not verified by this script.
  3. Encrypt a Binary HTTP (RFC 9292) request to the attested key with HPKE (pyhpke), POST it as
     message/ohttp-req (RFC 9458), decrypt and decode the response.

Needs: pip install pyhpke (which brings cryptography). Exits 0 when the inner response is 200.
"""
from __future__ import annotations

import argparse
import base64
import email.utils
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from pyhpke import AEADId, CipherSuite, KDFId, KEMId

BINDING_LABEL = b"confide-attestation-v1"
SIMULATED_MEASUREMENT = hashlib.sha384(b"confide-simulated-measurement-v1").digest()
KEM_X25519, KDF_HKDF_SHA256 = 0x0020, 0x0001
# AEAD id: (name, pyhpke id, Nk, Nn, cipher)
AEADS = {
    0x0001: ("aes128gcm", AEADId.AES128_GCM, 16, 12, AESGCM),
    0x0002: ("aes256gcm", AEADId.AES256_GCM, 32, 12, AESGCM),
    0x0003: ("chacha20poly1305", AEADId.CHACHA20_POLY1305, 32, 12, ChaCha20Poly1305),
}
KEY_PROBLEM = "https://iana.org/assignments/http-problem-types#ohttp-key"


class Refused(Exception):
    """The server cannot be trusted, or refused the request."""


# ---- HTTP --------------------------------------------------------------------------------------------------------

def http(url: str, method: str = "GET", body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


# ---- Attestation -------------------------------------------------------------------------------------------------

def fetch_attestation(base: str) -> tuple[dict, bytes]:
    nonce = os.urandom(32)
    status, _, body = http(f"{base}/attestation?nonce={nonce.hex()}", headers={"Accept": "application/json"})
    if status != 200:
        raise Refused(f"GET /attestation answered {status}: {body[:200]!r}")
    return json.loads(body), nonce


def check_measurement(name: str, value: bytes, allowed: list[bytes]) -> None:
    if value not in allowed:
        raise Refused(f"{name} {value.hex()} is not among the trusted measurements (--measurement)")


def verify_simulated(evidence: bytes, args: argparse.Namespace) -> tuple[bytes, bytes]:
    """Parses and checks simulated evidence; returns (measurement, report data)."""
    if not args.accept_simulated:
        raise Refused("the server serves SIMULATED evidence, which proves nothing; refused (--accept-simulated "
                      "accepts it, for development only)")
    if len(evidence) != 252 or evidence[:8] != b"CFDSIMUL" or evidence[8:12] != b"\x01\x00\x00\x00":
        raise Refused("malformed simulated evidence")
    measurement, report_data, public_key, signature = (evidence[12:60], evidence[60:124], evidence[124:188],
                                                       evidence[188:252])
    key = ec.EllipticCurvePublicNumbers(int.from_bytes(public_key[:32], "big"), int.from_bytes(public_key[32:], "big"),
                                        ec.SECP256R1()).public_key()
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        key.verify(der, evidence[:188], ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise Refused("the simulated evidence's signature does not verify") from None
    check_measurement("simulated measurement", measurement, args.measurement or [SIMULATED_MEASUREMENT])
    print("WARNING: SIMULATED evidence: integrity checked, but it proves nothing about the server's machine",
          file=sys.stderr)
    return measurement, report_data


def parse_tdx(quote: bytes) -> tuple[bytes, bytes, bool]:
    """MRTD, REPORTDATA and the debug attribute of a TDX quote v4 or v5 (fields only; nothing is verified)."""
    version = int.from_bytes(quote[0:2], "little")
    if len(quote) < 48 or int.from_bytes(quote[4:8], "little") != 0x81 or version not in (4, 5):
        raise Refused("malformed TDX quote")
    body = 48 if version == 4 else 54
    if len(quote) < body + 584:
        raise Refused("truncated TDX quote")
    return quote[body + 136:body + 184], quote[body + 520:body + 584], quote[body + 120] & 1 == 1


def parse_snp(report: bytes) -> tuple[bytes, bytes, bool]:
    """MEASUREMENT, REPORT_DATA and whether the guest policy allows debugging (fields only)."""
    if len(report) != 1184:
        raise Refused("malformed SEV-SNP report")
    policy = int.from_bytes(report[8:16], "little")
    return report[144:192], report[80:144], policy & (1 << 19) != 0


def verify_with_confide(evidence: bytes, kind: str, measurement: bytes, report_data: bytes,
                        served_certificates: bytes | None, args: argparse.Namespace) -> None:
    """Runs `confide attest verify`, which checks the quote's signatures and certificate chain (TDX: up to the
    pinned Intel SGX Root CA) or the report's signature and its VCEK or VLEK chain up to AMD's pinned root
    (SEV-SNP: the chain given with --vcek, else the one the server served)."""
    if not args.confide:
        raise Refused(f"{kind} evidence needs its signatures verified, which this script does not do: give "
                      "--confide PATH (the confide command line), or verify with a TDX/SEV-SNP library instead")
    with tempfile.NamedTemporaryFile(suffix=".bin") as file, tempfile.NamedTemporaryFile(suffix=".pem") as chain:
        file.write(evidence)
        file.flush()
        command = [args.confide, "attest", "verify", file.name, "--type", kind,
                   "--measurement", measurement.hex(), "--report-data", report_data.hex()]
        if kind == "snp":
            if args.vcek:
                command += ["--certificates", args.vcek]
            elif served_certificates:
                chain.write(served_certificates)
                chain.flush()
                command += ["--certificates", chain.name]
            else:
                raise Refused("the server served no SEV-SNP certificate chain: give the chip's VCEK (--vcek FILE)")
        result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise Refused(f"confide attest verify refused the evidence:\n{result.stdout}{result.stderr}")


def attest(base: str, args: argparse.Namespace) -> bytes:
    """Returns the key configurations the server's evidence binds to a fresh nonce, after checking everything."""
    document, nonce = fetch_attestation(base)
    evidence = base64.b64decode(document["evidence"])
    keys = base64.b64decode(document["key_configurations"])
    kind = document["evidence_type"]
    if kind == "simulated":
        measurement, report_data = verify_simulated(evidence, args)
    elif kind in ("tdx-quote", "sev-snp-report"):
        measurement, report_data, debug = (parse_tdx if kind == "tdx-quote" else parse_snp)(evidence)
        if debug and not args.accept_debug:
            raise Refused("the guest is debuggable (its memory is readable by the host); refused (--accept-debug)")
        if not args.measurement:
            raise Refused("give the measurement you trust (--measurement HEX: the MRTD for TDX, the launch "
                          "measurement for SEV-SNP)")
        check_measurement("measurement", measurement, args.measurement)
        served = document.get("endorsements", {}).get("snp_certificates")
        verify_with_confide(evidence, "tdx" if kind == "tdx-quote" else "snp", measurement, report_data,
                            base64.b64decode(served) if served else None, args)
    else:
        raise Refused(f"unknown evidence type {kind!r}")
    expected = hashlib.sha512(BINDING_LABEL + b"\x00" + keys + nonce).digest()
    if not hmac.compare_digest(report_data, expected):
        raise Refused("the evidence's report data does not bind these key configurations and our nonce")
    if args.verbose:
        print(f"attested: {kind}, measurement {measurement.hex()}, nonce {nonce.hex()}", file=sys.stderr)
    return keys


def parse_key_configurations(data: bytes) -> list[dict]:
    """Decodes an application/ohttp-keys body (RFC 9540: each configuration prefixed with its 2-byte length)."""
    configurations, offset = [], 0
    while offset + 2 <= len(data):
        length = int.from_bytes(data[offset:offset + 2], "big")
        config = data[offset + 2:offset + 2 + length]
        offset += 2 + length
        if len(config) < 37 or int.from_bytes(config[1:3], "big") != KEM_X25519:
            continue  # a KEM this client does not implement
        suites_length = int.from_bytes(config[35:37], "big")
        suites = [(int.from_bytes(config[37 + i:39 + i], "big"), int.from_bytes(config[39 + i:41 + i], "big"))
                  for i in range(0, suites_length, 4)]
        configurations.append({"key_id": config[0], "public_key": config[3:35], "suites": suites})
    return configurations


def choose(configurations: list[dict], aead_name: str | None) -> tuple[dict, int]:
    for config in configurations:
        for kdf, aead in config["suites"]:
            if kdf == KDF_HKDF_SHA256 and aead in AEADS and (aead_name is None or AEADS[aead][0] == aead_name):
                return config, aead
    wanted = f" with {aead_name}" if aead_name else ""
    raise Refused(f"the attested keys offer no suite this client implements{wanted}")


# ---- Binary HTTP (RFC 9292), known-length messages ----------------------------------------------------------------

def varint(value: int) -> bytes:
    for length, prefix in ((1, 0x00), (2, 0x40), (4, 0x80), (8, 0xC0)):
        if value < 1 << (8 * length - 2):
            encoded = bytearray(value.to_bytes(length, "big"))
            encoded[0] |= prefix
            return bytes(encoded)
    raise ValueError("value too large for a varint")


def prefixed(data: bytes) -> bytes:
    return varint(len(data)) + data


def encode_request(method: str, authority: str, path: str, headers: list[tuple[str, str]], content: bytes,
                   pad_to: int) -> bytes:
    fields = b"".join(prefixed(name.lower().encode()) + prefixed(value.encode()) for name, value in headers)
    message = (varint(0) + prefixed(method.encode()) + prefixed(b"https") + prefixed(authority.encode())
               + prefixed(path.encode()) + prefixed(fields) + prefixed(content) + varint(0))
    if pad_to > 1:
        message += bytes(-len(message) % pad_to)  # zero padding (RFC 9292 §3.8) hides the exact request size
    return message


def read_varint(data: bytes, offset: int) -> tuple[int, int]:
    if offset >= len(data):
        raise Refused("truncated binary HTTP response")
    length = 1 << (data[offset] >> 6)
    if offset + length > len(data):
        raise Refused("truncated binary HTTP response")
    return int.from_bytes(data[offset:offset + length], "big") & ((1 << (8 * length - 2)) - 1), offset + length


def read_prefixed(data: bytes, offset: int) -> tuple[bytes, int]:
    length, offset = read_varint(data, offset)
    if offset + length > len(data):
        raise Refused("truncated binary HTTP response")
    return data[offset:offset + length], offset + length


def read_fields(data: bytes, offset: int) -> tuple[dict[str, str], int]:
    section, offset = read_prefixed(data, offset)
    fields, position = {}, 0
    while position < len(section):
        name, position = read_prefixed(section, position)
        value, position = read_prefixed(section, position)
        fields[name.decode()] = value.decode()
    return fields, offset


def decode_response(data: bytes) -> tuple[int, dict[str, str], bytes]:
    framing, offset = read_varint(data, 0)
    if framing != 1:
        raise Refused(f"framing indicator {framing}: not a known-length binary HTTP response")
    status, offset = read_varint(data, offset)
    while status < 200:  # informational responses
        _, offset = read_fields(data, offset)
        status, offset = read_varint(data, offset)
    headers, offset = read_fields(data, offset)
    content = b""
    if offset < len(data):
        content, offset = read_prefixed(data, offset)
    return status, headers, content


# ---- Oblivious HTTP (RFC 9458) on pyhpke ---------------------------------------------------------------------------

def encapsulate(config: dict, aead: int, request: bytes) -> tuple[bytes, tuple]:
    _, aead_id, key_length, nonce_length, _ = AEADS[aead]
    suite = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, aead_id)
    header = (bytes([config["key_id"]]) + KEM_X25519.to_bytes(2, "big") + KDF_HKDF_SHA256.to_bytes(2, "big")
              + aead.to_bytes(2, "big"))
    public_key = suite.kem.deserialize_public_key(config["public_key"])
    enc, sender = suite.create_sender_context(public_key, info=b"message/bhttp request\x00" + header)
    secret = sender.export(b"message/bhttp response", max(key_length, nonce_length))
    return header + enc + sender.seal(request), (enc, secret, aead)


def decapsulate(context: tuple, response: bytes) -> bytes:
    enc, secret, aead = context
    _, _, key_length, nonce_length, cipher = AEADS[aead]
    response_nonce = response[:max(key_length, nonce_length)]
    prk = hmac.new(enc + response_nonce, secret, hashlib.sha256).digest()  # HKDF-Extract(salt = enc || nonce)
    key = hmac.new(prk, b"key\x01", hashlib.sha256).digest()[:key_length]
    nonce = hmac.new(prk, b"nonce\x01", hashlib.sha256).digest()[:nonce_length]
    return cipher(key).decrypt(nonce, response[len(response_nonce):], b"")


def exchange(base: str, authority: str, keys: bytes, request: dict, args: argparse.Namespace) -> tuple | None:
    """Sends one encrypted request; returns the inner response, or None when the gateway no longer accepts the key."""
    config, aead = choose(parse_key_configurations(keys), args.aead)
    headers = [("content-type", "application/json"), ("date", email.utils.formatdate(usegmt=True))]
    if args.token:
        headers.append(("authorization", f"Bearer {args.token}"))
    inner = encode_request(request["method"], authority, request["path"], headers, request["body"], args.pad)
    encapsulated, context = encapsulate(config, aead, inner)
    status, response_headers, body = http(f"{base}/.well-known/ohttp-gateway", "POST", encapsulated,
                                          {"Content-Type": "message/ohttp-req", "Accept": "message/ohttp-res"})
    if status == 200 and response_headers.get("content-type") == "message/ohttp-res":
        return decode_response(decapsulate(context, body))
    problem = json.loads(body) if response_headers.get("content-type") == "application/problem+json" else {}
    if problem.get("type") == KEY_PROBLEM:
        return None
    raise Refused(f"the gateway answered {status}: {problem.get('detail', body[:200])}")


# ---- The command line ---------------------------------------------------------------------------------------------

def inference_request(args: argparse.Namespace) -> dict:
    path = f"/v2/models/{urllib.parse.quote(args.model, safe='')}"
    if args.model_version:
        path += f"/versions/{urllib.parse.quote(args.model_version, safe='')}"
    if args.json:
        with (sys.stdin.buffer if args.json == "-" else open(args.json, "rb")) as file:
            body = file.read()
    else:
        body = json.dumps({"inputs": [{"name": args.input_name, "datatype": "BYTES", "shape": [len(args.text)],
                                       "data": args.text}]}).encode()
    return {"method": "POST", "path": path + "/infer", "body": body}


def hex_bytes(text: str) -> bytes:
    value = bytes.fromhex(text)
    if len(value) != 48:
        raise argparse.ArgumentTypeError("a measurement is 48 bytes (96 hex digits)")
    return value


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Send a KServe v2 inference request to a Confide server, end to end encrypted (Oblivious HTTP) "
                    "to a key its attestation evidence binds.")
    parser.add_argument("model", help="the model's name")
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the server's base URL (default: %(default)s)")
    inputs = parser.add_mutually_exclusive_group(required=True)
    inputs.add_argument("--text", action="append", help="a text input (repeat for several); sent as a BYTES tensor")
    inputs.add_argument("--json", metavar="FILE", help="a file holding a KServe v2 request body ('-': standard input)")
    parser.add_argument("--input-name", default="text", help="the BYTES input's name for --text (default: %(default)s)")
    parser.add_argument("--model-version", help="the model version (default: the model's default version)")
    parser.add_argument("--token", help="a bearer token, sent inside the encrypted request")
    policy = parser.add_argument_group("attestation policy")
    policy.add_argument("--measurement", action="append", type=hex_bytes, metavar="HEX",
                        help="a trusted measurement, 48 bytes in hex (repeat): the MRTD for TDX, the launch "
                             "measurement for SEV-SNP, or a simulated measurement")
    policy.add_argument("--confide", metavar="PATH",
                        help="the confide command line, run as `confide attest verify` to verify TDX and SEV-SNP "
                             "evidence (required for them)")
    policy.add_argument("--vcek", metavar="FILE",
                        help="the VCEK or VLEK chain (PEM or DER) for SEV-SNP evidence, instead of the server's")
    policy.add_argument("--accept-simulated", action="store_true",
                        help="accept simulated evidence, which proves nothing (development only)")
    policy.add_argument("--accept-debug", action="store_true", help="accept a debuggable guest (never in production)")
    parser.add_argument("--aead", choices=[name for name, *_ in AEADS.values()],
                        help="the AEAD to use (default: the first the server offers)")
    parser.add_argument("--pad", type=int, default=0, metavar="N",
                        help="pad the encrypted request to a multiple of N bytes")
    parser.add_argument("--verbose", action="store_true", help="print what was attested to standard error")
    args = parser.parse_args()

    url = urllib.parse.urlsplit(args.url)
    if url.scheme != "http" or not url.hostname:
        parser.error("--url must look like http://host:port")
    base, authority = f"http://{url.netloc}", url.netloc
    request = inference_request(args)
    try:
        keys = attest(base, args)
        _, _, advertised = http(f"{base}/.well-known/ohttp-gateway")
        if advertised != keys and args.verbose:
            print("note: the advertised keys changed since the evidence was produced; using the attested ones",
                  file=sys.stderr)
        response = exchange(base, authority, keys, request, args)
        if response is None:  # the key was rotated out: attest again, then retry once
            response = exchange(base, authority, attest(base, args), request, args)
            if response is None:
                raise Refused("the gateway refused the freshly attested key")
    except Refused as error:
        print(f"refused: {error}", file=sys.stderr)
        return 2
    status, headers, content = response
    if headers.get("content-type", "").startswith("application/json"):
        print(json.dumps(json.loads(content), ensure_ascii=False))
    else:
        sys.stdout.buffer.write(content + b"\n")
    if status != 200:
        print(f"the server answered {status}", file=sys.stderr)
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
