"""Sends Oblivious HTTP (RFC 9458) requests to a Confide server with pyhpke, an HPKE implementation nobody here wrote.

Usage: python3 pyhpke_ohttp.py HOST:PORT MODEL
Fetches the key configuration (and checks that /attestation binds it, our nonce and the measurement log, computing
binding v2 and the log's replay on its own), encrypts KServe v2 infer requests for the echo model in every suite the
server offers, and decrypts and checks the answers, with the example client's Binary HTTP and HPKE code
(examples/clients/python/confide_client.py). Exits 0 when every check passes; prints what failed otherwise.
"""
import base64
import hashlib
import json
import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "examples" / "clients" / "python"))
import confide_client  # noqa: E402
from confide_client import decapsulate, decode_response, encapsulate, parse_key_configurations  # noqa: E402


def encode_request(method: str, path: str, headers: list[tuple[str, str]], content: bytes) -> bytes:
    return confide_client.encode_request(method, "confide", path, headers, content, pad_to=0)


def http(url: str, method: str = "GET", body: bytes | None = None, content_type: str | None = None):
    headers = {"Content-Type": content_type} if content_type else None
    status, headers, content = confide_client.http(url, method, body, headers)
    return status, headers.get("content-type"), content


def frame(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def log_digest(events: list[dict]) -> bytes:
    """Replays the served measurement log: r = SHA-384(r || event digest) from 48 zero bytes, each event digest
    SHA-384("confide-measurement-event-v1" || 0x00 || u16be(type) || frame(descriptor) || frame(digest))."""
    kinds = {"executable": 1, "plugin-file": 2, "plugin": 3, "model-loaded": 4, "model-unloaded": 5, "setting": 6}
    register = bytes(48)
    for event in events:
        event_digest = hashlib.sha384(b"confide-measurement-event-v1\x00" + kinds[event["type"]].to_bytes(2, "big")
                                      + frame(event["descriptor"].encode()) + frame(bytes.fromhex(event["digest"])))
        register = hashlib.sha384(register + event_digest.digest()).digest()
    return register


def main() -> int:
    base, model = "http://" + sys.argv[1], sys.argv[2]
    status, content_type, keys = http(base + "/.well-known/ohttp-gateway")
    assert status == 200 and content_type == "application/ohttp-keys", (status, content_type)
    configurations = parse_key_configurations(keys)
    assert len(configurations) == 1, configurations

    # The attestation evidence binds these keys, our nonce and the measurement log (binding v2; simulated evidence
    # v2: RTMR3 at offset 60, report data at offset 108).
    nonce = os.urandom(32)
    status, _, body = http(base + "/attestation?nonce=" + nonce.hex())
    assert status == 200, body
    document = json.loads(body)
    assert base64.b64decode(document["key_configurations"]) == keys
    evidence = base64.b64decode(document["evidence"])
    assert document["evidence_type"] == "simulated" and len(evidence) == 300 and evidence[8:10] == b"\x02\x00", \
        "not simulated evidence version 2"
    events = document["measurements"]["events"]
    assert events and events[0]["type"] == "executable", events
    digest = log_digest(events)
    assert evidence[60:108] == digest, "the simulated RTMR3 is not the replay of the measurement log"
    expected = hashlib.sha512(frame(b"confide-attestation-v2") + frame(keys) + frame(nonce) + frame(digest)).digest()
    assert evidence[108:172] == expected, "the binding does not match"

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
