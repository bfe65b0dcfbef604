"""Sends Oblivious HTTP (RFC 9458) requests to a Confide server with pyhpke, an HPKE implementation nobody here wrote.

Usage: python3 pyhpke_ohttp.py HOST:PORT MODEL
Fetches the key configuration (and checks that /attestation binds it), encrypts KServe v2 infer requests for the echo
model in every suite the server offers, and decrypts and checks the answers. Binary HTTP (RFC 9292) is coded here.
Exits 0 when every check passes; prints what failed otherwise.
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import urllib.error
import urllib.request

from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from pyhpke import AEADId, CipherSuite, KDFId, KEMId

AEADS = {1: (AEADId.AES128_GCM, 16, 12, AESGCM), 2: (AEADId.AES256_GCM, 32, 12, AESGCM),
         3: (AEADId.CHACHA20_POLY1305, 32, 12, ChaCha20Poly1305)}


# Binary HTTP (RFC 9292), known-length messages.

def varint(value: int) -> bytes:
    for length, prefix in ((1, 0x00), (2, 0x40), (4, 0x80), (8, 0xC0)):
        if value < 1 << (8 * length - 2):
            encoded = bytearray(value.to_bytes(length, "big"))
            encoded[0] |= prefix
            return bytes(encoded)
    raise ValueError("value too large for a varint")


def read_varint(data: bytes, offset: int) -> tuple[int, int]:
    length = 1 << (data[offset] >> 6)
    value = int.from_bytes(data[offset:offset + length], "big") & ((1 << (8 * length - 2)) - 1)
    if offset + length > len(data):
        raise ValueError("truncated varint")
    return value, offset + length


def prefixed(data: bytes) -> bytes:
    return varint(len(data)) + data


def encode_request(method: str, path: str, headers: list[tuple[str, str]], content: bytes) -> bytes:
    fields = b"".join(prefixed(name.lower().encode()) + prefixed(value.encode()) for name, value in headers)
    return (varint(0) + prefixed(method.encode()) + prefixed(b"https") + prefixed(b"confide")
            + prefixed(path.encode()) + prefixed(fields) + prefixed(content) + varint(0))


def read_prefixed(data: bytes, offset: int) -> tuple[bytes, int]:
    length, offset = read_varint(data, offset)
    if offset + length > len(data):
        raise ValueError("truncated binary HTTP section")
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
    assert framing == 1, f"framing indicator {framing} is not a known-length response"
    status, offset = read_varint(data, offset)
    while status < 200:
        _, offset = read_fields(data, offset)
        status, offset = read_varint(data, offset)
    headers, offset = read_fields(data, offset)
    content = b""
    if offset < len(data):
        content, offset = read_prefixed(data, offset)
    return status, headers, content


# Oblivious HTTP (RFC 9458) on pyhpke.

def parse_key_configurations(data: bytes) -> list[dict]:
    configurations, offset = [], 0
    while offset < len(data):
        length = int.from_bytes(data[offset:offset + 2], "big")
        config = data[offset + 2:offset + 2 + length]
        offset += 2 + length
        key_id, kem = config[0], int.from_bytes(config[1:3], "big")
        assert kem == 0x0020, f"KEM {kem:#x} is not X25519"
        public_key = config[3:35]
        suites_length = int.from_bytes(config[35:37], "big")
        suites = [(int.from_bytes(config[37 + i:39 + i], "big"), int.from_bytes(config[39 + i:41 + i], "big"))
                  for i in range(0, suites_length, 4)]
        configurations.append({"key_id": key_id, "public_key": public_key, "suites": suites})
    return configurations


def hkdf_sha256(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()[:length]


def encapsulate(config: dict, aead: int, request: bytes):
    aead_id, key_length, nonce_length, _ = AEADS[aead]
    suite = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, aead_id)
    header = bytes([config["key_id"]]) + (0x0020).to_bytes(2, "big") + (1).to_bytes(2, "big") \
        + aead.to_bytes(2, "big")
    public_key = suite.kem.deserialize_public_key(config["public_key"])
    enc, sender = suite.create_sender_context(public_key, info=b"message/bhttp request\x00" + header)
    secret = sender.export(b"message/bhttp response", max(key_length, nonce_length))
    return header + enc + sender.seal(request), (enc, secret, aead)


def decapsulate(context, response: bytes) -> bytes:
    enc, secret, aead = context
    _, key_length, nonce_length, cipher = AEADS[aead]
    response_nonce = response[:max(key_length, nonce_length)]
    salt = enc + response_nonce
    prk = hmac.new(salt, secret, hashlib.sha256).digest()
    key = hmac.new(prk, b"key\x01", hashlib.sha256).digest()[:key_length]
    nonce = hmac.new(prk, b"nonce\x01", hashlib.sha256).digest()[:nonce_length]
    return cipher(key).decrypt(nonce, response[len(response_nonce):], b"")


def http(url: str, method: str = "GET", body: bytes | None = None, content_type: str | None = None):
    request = urllib.request.Request(url, data=body, method=method)
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("Content-Type"), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type"), error.read()


def main() -> int:
    base, model = "http://" + sys.argv[1], sys.argv[2]
    status, content_type, keys = http(base + "/.well-known/ohttp-gateway")
    assert status == 200 and content_type == "application/ohttp-keys", (status, content_type)
    configurations = parse_key_configurations(keys)
    assert len(configurations) == 1, configurations

    # The attestation evidence binds these keys and our nonce (simulated evidence: report data at offset 60).
    nonce = os.urandom(32)
    status, _, body = http(base + "/attestation?nonce=" + nonce.hex())
    assert status == 200, body
    document = json.loads(body)
    assert base64.b64decode(document["key_configurations"]) == keys
    expected = hashlib.sha512(b"confide-attestation-v1\x00" + keys + nonce).digest()
    evidence = base64.b64decode(document["evidence"])
    assert document["evidence_type"] == "simulated" and evidence[60:124] == expected, "the binding does not match"

    config = configurations[0]
    text = "h\u00e9llo from pyhpke"
    infer = json.dumps({"id": "py-1", "inputs": [
        {"name": "text", "datatype": "BYTES", "shape": [1], "data": [text]},
        {"name": "x", "datatype": "FP32", "shape": [2], "data": [1.5, -2.0]}]}).encode()
    for kdf, aead in config["suites"]:
        assert kdf == 1, f"KDF {kdf:#x} is not HKDF-SHA256"
        request = encode_request("POST", f"/v2/models/{model}/infer", [("Content-Type", "application/json")], infer)
        encapsulated, context = encapsulate(config, aead, request)
        status, content_type, body = http(base + "/.well-known/ohttp-gateway", "POST", encapsulated,
                                          "message/ohttp-req")
        assert status == 200 and content_type == "message/ohttp-res", (status, content_type, body)
        inner_status, headers, content = decode_response(decapsulate(context, body))
        assert inner_status == 200, (inner_status, content)
        assert headers.get("content-type") == "application/json", headers
        answer = json.loads(content)
        assert answer["id"] == "py-1" and answer["model_name"] == model, answer
        outputs = {output["name"]: output["data"] for output in answer["outputs"]}
        assert outputs == {"text": [text], "x": [1.5, -2.0]}, outputs

    # An error of the inner request comes back encrypted.
    request = encode_request("GET", "/v2/models/no-such-model", [], b"")
    encapsulated, context = encapsulate(config, 1, request)
    status, _, body = http(base + "/.well-known/ohttp-gateway", "POST", encapsulated, "message/ohttp-req")
    assert status == 200, (status, body)
    inner_status, _, content = decode_response(decapsulate(context, body))
    assert inner_status == 404 and b"unknown model" in content, (inner_status, content)

    # A key identifier the server does not hold is refused in the clear with the ohttp-key problem type.
    wrong = dict(config, key_id=(config["key_id"] + 1) % 256)
    encapsulated, _ = encapsulate(wrong, 1, request)
    status, content_type, body = http(base + "/.well-known/ohttp-gateway", "POST", encapsulated,
                                      "message/ohttp-req")
    assert status == 400 and content_type == "application/problem+json", (status, content_type)
    assert json.loads(body)["type"] == "https://iana.org/assignments/http-problem-types#ohttp-key", body
    print(f"pyhpke: all checks passed ({len(config['suites'])} suites)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
