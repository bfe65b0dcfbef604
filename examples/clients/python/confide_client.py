#!/usr/bin/env python3
"""Sends one KServe v2 inference request (or any JSON request of the inference API) to a Confide server, end to end
encrypted with Oblivious HTTP.

    python3 confide_client.py --url http://127.0.0.1:8080 --accept-simulated --text "hello" echo
    python3 confide_client.py --url http://10.0.0.5:8080 --measurement <MRTD hex> --confide confide \\
        --policy policy.json --text "A cat sat on the mat." minilm
    python3 confide_client.py --url http://127.0.0.1:8080 --accept-simulated --path /v1/embeddings \\
        --body '{"model": "minilm", "input": ["A cat sat on the mat."]}'

Steps (see docs/CLIENTS.md, docs/ENCRYPTION.md and docs/MEASUREMENTS.md):
  1. GET /attestation?nonce=<fresh 32 bytes>: evidence, the gateway's key configurations and the server's
     measurement log (what it runs: executable, plugins, models, access settings).
  2. Check that the evidence's report data is the binding v2, SHA-512(frame("confide-attestation-v2") ||
     frame(key configurations) || frame(nonce) || frame(log digest)) with frame(x) = u32be(len(x)) || x and the log
     digest the replay of its events; that the measurement is one the caller trusts and that the guest is not
     debuggable; verify the evidence's signatures: simulated evidence here (integrity only: it proves nothing about
     the machine, and is refused without --accept-simulated); TDX quotes and SEV-SNP reports with
     `confide attest verify` (--confide), because their certificate chains are not verified by this script.
  3. Check that the log replays to the register the evidence reports (simulated RTMR3; a TDX quote's RTMR3 when
     the policy says "rtmr3": "replay") and, with --policy FILE, that the policy allows every event of the log and
     the settings it requires; print what runs on the server.
  4. Encrypt a Binary HTTP (RFC 9292) request to the attested key with HPKE (pyhpke), POST it as
     message/ohttp-req (RFC 9458), decrypt and decode the response.

Needs: pip install pyhpke (which brings cryptography). Exits 0 when the inner response is 200, 1 for another inner
status, 2 when it refuses the server.
"""
from __future__ import annotations

import argparse
import base64
import email.utils
import hashlib
import hmac
import json
import math
import os
import re
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

BINDING_LABEL = b"confide-attestation-v2"
NONCE_LENGTH = 32  # the server accepts 16 to 64 bytes
EVENT_LABEL = b"confide-measurement-event-v1"
# The measurement log's event types, by their served names (docs/MEASUREMENTS.md).
EVENT_KINDS = {"executable": 1, "plugin-file": 2, "plugin": 3, "model-loaded": 4, "model-unloaded": 5, "setting": 6}
MAXIMUM_EVENTS, MAXIMUM_DESCRIPTOR_LENGTH, MAXIMUM_JSON_DEPTH = 65_536, 4_096, 128
SIMULATED_SIZE, SIMULATED_SIGNED = 300, 236
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

# Seconds each HTTP exchange may take; CONFIDE_CLIENT_TIMEOUT overrides it (a slow link, a loaded test machine).
HTTP_TIMEOUT = float(os.environ.get("CONFIDE_CLIENT_TIMEOUT", "60"))

def http(url: str, method: str = "GET", body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


# ---- Strict JSON -------------------------------------------------------------------------------------------------

def _nesting_depth(text: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for character in text:
        if in_string:
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == '"':
                in_string = False
        elif character == '"':
            in_string = True
        elif character in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif character in "]}":
            depth -= 1
    return deepest


def _unique_members(pairs: list[tuple[str, object]]) -> dict:
    members = {}
    for key, value in pairs:
        if key in members:
            raise ValueError(f'duplicate key "{key}"')
        members[key] = value
    return members


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def strict_json(data: bytes | str) -> object:
    """Parses JSON as the server's and the Swift clients' parser does: UTF-8 only, no duplicate keys, no NaN or
    infinite numbers, no unpaired surrogates, at most 128 levels of nesting. Raises ValueError."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    if _nesting_depth(text) > MAXIMUM_JSON_DEPTH:
        raise ValueError(f"nesting deeper than {MAXIMUM_JSON_DEPTH}")
    value = json.loads(text, object_pairs_hook=_unique_members, parse_float=_finite, parse_constant=_no_constant)
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a string holds an unpaired surrogate escape") from None
    return value


def _hex(text: object, length: int) -> bytes | None:
    """The bytes of `text` when it is exactly `length` bytes of hex digits (either case), else None."""
    if not isinstance(text, str) or len(text) != 2 * length or not re.fullmatch(r"[0-9a-fA-F]*", text):
        return None
    return bytes.fromhex(text)


# ---- The measurement log (docs/MEASUREMENTS.md) ----------------------------------------------------------------------

class Event:
    """One event of a server's measurement log: its type, its descriptor's exact UTF-8 bytes and its digest."""

    def __init__(self, kind: str, descriptor: bytes, digest: bytes) -> None:
        self.kind, self.descriptor, self.digest = kind, descriptor, digest

    @property
    def event_digest(self) -> bytes:
        """SHA-384(label || 0x00 || u16be(type) || u32be(len(descriptor)) || descriptor || u32be(48) || digest):
        what the server extends its register with."""
        return hashlib.sha384(EVENT_LABEL + b"\x00" + EVENT_KINDS[self.kind].to_bytes(2, "big") + frame(self.descriptor)
                              + frame(self.digest)).digest()

    @property
    def fields(self) -> dict[str, str]:
        """The descriptor's string members; empty when it is not a JSON object."""
        try:
            value = strict_json(self.descriptor)
        except (ValueError, UnicodeError):
            return {}
        if not isinstance(value, dict):
            return {}
        return {key: text for key, text in value.items() if isinstance(text, str)}


def frame(data: bytes) -> bytes:
    """u32be(len(data)) || data."""
    if len(data) > 0xFFFF_FFFF:
        raise Refused("a field is too long to frame")
    return len(data).to_bytes(4, "big") + data


def log_digest(events: list[Event]) -> bytes:
    """The register replaying every event gives: r = SHA-384(r || event digest) from 48 zero bytes."""
    register = bytes(48)
    for event in events:
        register = hashlib.sha384(register + event.event_digest).digest()
    return register


def binding(keys: bytes, nonce: bytes, digest: bytes) -> bytes:
    """The report data binding v2 of the key configurations, the client's nonce and the log's digest."""
    return hashlib.sha512(frame(BINDING_LABEL) + frame(keys) + frame(nonce) + frame(digest)).digest()


def parse_measurement_log(value: object) -> tuple[list[Event], str]:
    """Reads the `measurements` member of an attestation document: its events and the register it names."""
    if not isinstance(value, dict):
        raise Refused("the measurement log is not a JSON object")
    register, items = value.get("register"), value.get("events")
    if not isinstance(register, str):
        raise Refused("the measurement log names no register")
    if not isinstance(items, list):
        raise Refused("the measurement log has no events array")
    if len(items) > MAXIMUM_EVENTS:
        raise Refused(f"the measurement log has {len(items)} events, more than {MAXIMUM_EVENTS}")
    events = []
    for index, item in enumerate(items):
        entry = item if isinstance(item, dict) else {}
        kind, descriptor, digest = entry.get("type"), entry.get("descriptor"), entry.get("digest")
        if not (isinstance(kind, str) and isinstance(descriptor, str) and isinstance(digest, str)):
            raise Refused(f"measurement event {index} lacks a type, descriptor or digest string")
        if kind not in EVENT_KINDS:
            raise Refused(f"measurement event {index} has the unknown type '{kind}'")
        descriptor_bytes = descriptor.encode("utf-8")
        if len(descriptor_bytes) > MAXIMUM_DESCRIPTOR_LENGTH:
            raise Refused(f"measurement event {index}'s descriptor is longer than {MAXIMUM_DESCRIPTOR_LENGTH} bytes")
        digest_bytes = _hex(digest, 48)
        if digest_bytes is None:
            raise Refused(f"measurement event {index}'s digest is not 48 bytes of hexadecimal")
        events.append(Event(kind, descriptor_bytes, digest_bytes))
    return events, register


class MeasuredState:
    """What a log says is live: the executable, the plugins accepted and the plugin files opened, the model versions
    loaded and not unloaded since, and each setting's last value."""

    def __init__(self, events: list[Event]) -> None:
        self.executable: tuple[str, bytes] | None = None
        self.plugins: list[dict] = []
        self.plugin_files: list[tuple[str, bytes]] = []
        self.models: list[dict] = []
        self.settings: dict[str, str] = {}
        for event in events:
            fields = event.fields
            if event.kind == "executable":
                self.executable = (fields.get("path", ""), event.digest)
            elif event.kind == "plugin-file":
                self.plugin_files.append((fields.get("file", ""), event.digest))
            elif event.kind == "plugin":
                self.plugins.append({key: fields.get(key, "") for key in ("name", "version", "abi", "kind", "file")}
                                    | {"digest": event.digest})
            elif event.kind in ("model-loaded", "model-unloaded"):
                model = {"name": fields.get("model", "")} | {
                    key: fields.get(key, "") for key in ("version", "handler", "source")} | {"digest": event.digest}
                if event.kind == "model-loaded":
                    self.models.append(model)
                elif model in self.models:
                    self.models.remove(model)
            elif event.kind == "setting" and "name" in fields:
                self.settings[fields["name"]] = fields.get("value", "")


_MISSING = object()


class Policy:
    """A policy file (docs/MEASUREMENTS.md): the executables, plugins, models and settings a client accepts, whether
    a TDX quote's RTMR3 must replay the log, and the evidence measurements it accepts. Unknown members are errors,
    so that a misspelt requirement is not ignored."""

    def __init__(self, data: bytes) -> None:
        try:
            value = strict_json(data)
        except (ValueError, UnicodeError) as error:
            raise Refused(f"the policy is not JSON: {error}") from None
        if not isinstance(value, dict):
            raise Refused("the policy is not a JSON object")
        known = ("executables", "plugins", "models", "settings", "rtmr3", "evidence")
        unknown = next((key for key in value if key not in known), None)
        if unknown is not None:
            raise Refused(f"the policy has an unknown member '{unknown}'")
        self.executables = self._digests(value.get("executables", _MISSING), "executables")
        self.plugins: list[tuple[str, bytes]] = []
        for index, item in enumerate(self._array(value.get("plugins", _MISSING), "plugins")):
            entry = self._entry(item, f"plugins[{index}]", ("name", "digest"))
            self.plugins.append((self._string(entry.get("name", _MISSING), f"plugins[{index}].name"),
                                 self._digest(entry.get("digest", _MISSING), f"plugins[{index}].digest")))
        self.models: list[tuple[str, str | None, bytes]] = []
        for index, item in enumerate(self._array(value.get("models", _MISSING), "models")):
            entry = self._entry(item, f"models[{index}]", ("name", "version", "digest"))
            name = self._string(entry.get("name", _MISSING), f"models[{index}].name")
            version = self._string(entry["version"], f"models[{index}].version") if "version" in entry else None
            self.models.append((name, version, self._digest(entry.get("digest", _MISSING), f"models[{index}].digest")))
        self.settings: dict[str, str] = {}
        if "settings" in value:
            if not isinstance(value["settings"], dict):
                raise Refused("the policy's settings is not an object")
            for name, text in value["settings"].items():
                self.settings[name] = self._string(text, f"settings.{name}")
        self.rtmr3 = "replay"
        if "rtmr3" in value:
            if value["rtmr3"] not in ("replay", "ignore"):
                raise Refused('the policy\'s rtmr3 must be "replay" or "ignore"')
            self.rtmr3 = value["rtmr3"]
        self.mrtd: list[bytes] = []
        self.measurements: list[bytes] = []
        self.accept_simulated = False
        if "evidence" in value:
            entry = self._entry(value["evidence"], "evidence", ("mrtd", "measurements", "accept_simulated"))
            self.mrtd = self._digests(entry.get("mrtd", _MISSING), "evidence.mrtd")
            self.measurements = self._digests(entry.get("measurements", _MISSING), "evidence.measurements")
            if "accept_simulated" in entry:
                if not isinstance(entry["accept_simulated"], bool):
                    raise Refused("the policy's evidence.accept_simulated is not true or false")
                self.accept_simulated = entry["accept_simulated"]

    def check(self, events: list[Event]) -> MeasuredState:
        """Refuses, naming the first event or setting that breaks the policy, unless every event is allowed and
        every setting the policy lists has that value; returns what is live."""
        if not events or events[0].kind != "executable":
            raise Refused("the measurement log does not start with the executable")
        for index, event in enumerate(events):
            fields, digest = event.fields, event.digest.hex()
            if event.kind == "executable":
                if index != 0:
                    raise Refused(f"event {index}: a second executable event")
                if event.digest not in self.executables:
                    raise Refused(f"event {index}: the executable {fields.get('path', '?')} (sha384 {digest}) is not "
                                  "in the policy's executables")
            elif event.kind == "plugin-file":
                if not any(allowed == event.digest for _, allowed in self.plugins):
                    raise Refused(f"event {index}: the plugin file {fields.get('file', '?')} (sha384 {digest}) is not "
                                  "in the policy's plugins")
            elif event.kind == "plugin":
                name = fields.get("name", "")
                if (name, event.digest) not in self.plugins:
                    raise Refused(f"event {index}: the plugin '{name}' (sha384 {digest}) is not in the policy's "
                                  "plugins")
            elif event.kind == "model-loaded":
                name, version = fields.get("model", ""), fields.get("version", "")
                if not any(allowed_name == name and allowed == event.digest and allowed_version in (None, version)
                           for allowed_name, allowed_version, allowed in self.models):
                    raise Refused(f"event {index}: model '{name}' version {version} (digest {digest}) is not in the "
                                  "policy's models")
        state = MeasuredState(events)
        for name in sorted(self.settings):
            if name not in state.settings:
                raise Refused(f"the measurement log records no setting '{name}'; the policy requires it")
            if state.settings[name] != self.settings[name]:
                raise Refused(f"the setting '{name}' is '{state.settings[name]}'; the policy requires "
                              f"'{self.settings[name]}'")
        return state

    @staticmethod
    def _array(value: object, name: str) -> list:
        if value is _MISSING:
            return []
        if not isinstance(value, list):
            raise Refused(f"the policy's {name} is not an array")
        return value

    @staticmethod
    def _entry(value: object, name: str, members: tuple[str, ...]) -> dict:
        if not isinstance(value, dict):
            raise Refused(f"the policy's {name} is not an object")
        unknown = next((key for key in value if key not in members), None)
        if unknown is not None:
            raise Refused(f"the policy's {name} has an unknown member '{unknown}'")
        return value

    @staticmethod
    def _string(value: object, name: str) -> str:
        if not isinstance(value, str):
            raise Refused(f"the policy's {name} is not a string")
        return value

    @classmethod
    def _digest(cls, value: object, name: str) -> bytes:
        digest = _hex(cls._string(value, name), 48)
        if digest is None:
            raise Refused(f"the policy's {name} is not 48 bytes of hexadecimal")
        return digest

    @classmethod
    def _digests(cls, value: object, name: str) -> list[bytes]:
        return [cls._digest(item, f"{name}[{index}]") for index, item in enumerate(cls._array(value, name))]


# ---- Attestation -------------------------------------------------------------------------------------------------

class Document:
    """A server's answer to GET /attestation, parsed; nothing in it is trusted until `attest` has checked it."""

    def __init__(self, body: bytes) -> None:
        try:
            value = strict_json(body)
        except (ValueError, UnicodeError) as error:
            raise Refused(f"the attestation document is not JSON: {error}") from None
        if not isinstance(value, dict):
            raise Refused("the attestation document is not a JSON object")
        self.kind = value.get("evidence_type")
        if self.kind not in ("tdx-quote", "sev-snp-report", "simulated"):
            raise Refused("the attestation document names no known evidence type")
        self.evidence, self.keys = self._base64(value, "evidence"), self._base64(value, "key_configurations")
        endorsements = value.get("endorsements", {})
        if not isinstance(endorsements, dict):
            raise Refused("the attestation document's endorsements is not an object")
        self.tdx_collateral = self._base64(endorsements, "tdx_collateral") if "tdx_collateral" in endorsements \
            else None
        self.snp_certificates = self._base64(endorsements, "snp_certificates") \
            if "snp_certificates" in endorsements else None
        if "measurements" not in value:
            raise Refused("the attestation document has no measurement log")
        try:
            self.events, self.register = parse_measurement_log(value["measurements"])
        except Refused as error:
            raise Refused(f"the attestation document: {error}") from None

    @staticmethod
    def _base64(value: dict, key: str) -> bytes:
        try:
            return base64.b64decode(value[key], validate=True)
        except (KeyError, TypeError, ValueError):
            raise Refused(f"the attestation document's {key} is not base64") from None


def fetch_attestation(base: str) -> tuple[Document, bytes]:
    nonce = os.urandom(NONCE_LENGTH)
    status, _, body = http(f"{base}/attestation?nonce={nonce.hex()}", headers={"Accept": "application/json"})
    if status != 200:
        raise Refused(f"GET /attestation answered {status}: {body[:200]!r}")
    return Document(body), nonce


def check_measurement(name: str, value: bytes, allowed: list[bytes]) -> None:
    if value not in allowed:
        raise Refused(f"{name} {value.hex()} is not among the trusted measurements (--measurement)")


def verify_simulated(evidence: bytes, allowed: list[bytes], accept: bool) -> tuple[bytes, bytes, bytes]:
    """Parses and checks simulated evidence (version 2, 300 bytes); returns (measurement, RTMR3, report data)."""
    if not accept:
        raise Refused("the server serves SIMULATED evidence, which proves nothing; refused (--accept-simulated "
                      "accepts it, for development only)")
    if len(evidence) != SIMULATED_SIZE or evidence[:8] != b"CFDSIMUL":
        raise Refused("malformed simulated evidence")
    if evidence[8:10] != b"\x02\x00":
        raise Refused(f"simulated evidence version {int.from_bytes(evidence[8:10], 'little')} is not 2")
    if evidence[10:12] != b"\x00\x00":
        raise Refused("simulated evidence reserved field is not zero")
    measurement, rtmr3, report_data = evidence[12:60], evidence[60:108], evidence[108:172]
    public_key, signature = evidence[172:236], evidence[236:300]
    try:
        key = ec.EllipticCurvePublicNumbers(int.from_bytes(public_key[:32], "big"),
                                            int.from_bytes(public_key[32:], "big"), ec.SECP256R1()).public_key()
    except ValueError:
        raise Refused("simulated evidence key is not a P-256 point") from None
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        key.verify(der, evidence[:SIMULATED_SIGNED], ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise Refused("the simulated evidence's signature does not verify") from None
    check_measurement("simulated measurement", measurement, allowed or [SIMULATED_MEASUREMENT])
    print("WARNING: SIMULATED evidence: integrity checked, but it proves nothing about the server's machine",
          file=sys.stderr)
    return measurement, rtmr3, report_data


def parse_tdx(quote: bytes) -> tuple[bytes, bytes, bool, bytes]:
    """MRTD, REPORTDATA, the debug attribute and RTMR3 of a TDX quote v4 or v5 (fields only; nothing is verified)."""
    if len(quote) < 48 or int.from_bytes(quote[4:8], "little") != 0x81:
        raise Refused("malformed TDX quote")
    version = int.from_bytes(quote[0:2], "little")
    if version not in (4, 5):
        raise Refused("malformed TDX quote")
    body = 48 if version == 4 else 54
    if len(quote) < body + 584:
        raise Refused("truncated TDX quote")
    return (quote[body + 136:body + 184], quote[body + 520:body + 584], quote[body + 120] & 1 == 1,
            quote[body + 472:body + 520])


def parse_snp(report: bytes) -> tuple[bytes, bytes, bool, None]:
    """MEASUREMENT, REPORT_DATA and whether the guest policy allows debugging (fields only); SEV-SNP has no RTMR."""
    if len(report) != 1184:
        raise Refused("malformed SEV-SNP report")
    policy = int.from_bytes(report[8:16], "little")
    return report[144:192], report[80:144], policy & (1 << 19) != 0, None


def verify_with_confide(evidence: bytes, kind: str, measurement: bytes, report_data: bytes,
                        args: argparse.Namespace, tdx_collateral: bytes | None = None,
                        served_certificates: bytes | None = None) -> None:
    """Runs `confide attest verify`, which checks the quote's signatures and certificate chain (TDX: up to the
    pinned Intel SGX Root CA, and the TCB status and revocation from the collateral the server served) or the
    report's signature and its VCEK or VLEK chain up to AMD's pinned root (SEV-SNP: the chain given with --vcek,
    else the one the server served)."""
    if not args.confide:
        raise Refused(f"{kind} evidence needs its signatures verified, which this script does not do: give "
                      "--confide PATH (the confide command line), or verify with a TDX/SEV-SNP library instead")
    with tempfile.NamedTemporaryFile(suffix=".bin") as file, \
            tempfile.NamedTemporaryFile(suffix=".json") as collateral, \
            tempfile.NamedTemporaryFile(suffix=".pem") as chain:
        file.write(evidence)
        file.flush()
        command = [args.confide, "attest", "verify", file.name, "--type", kind,
                   "--measurement", measurement.hex(), "--report-data", report_data.hex()]
        if args.accept_debug:
            command.append("--accept-debug")
        if kind == "tdx" and tdx_collateral is not None:
            collateral.write(tdx_collateral)
            collateral.flush()
            command += ["--tdx-collateral", collateral.name]
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


def report(document: Document, state: MeasuredState, nonce: bytes, measurement: bytes, verbose: bool) -> None:
    """Prints, on standard error, what the log says runs on the server (and, verbose, what was attested)."""
    def line(label: str, text: str) -> None:
        print(f"{label + ':':<14}{text}", file=sys.stderr)

    if verbose:
        line("evidence", f"{document.kind}, {len(document.evidence)} bytes, verified")
        line("measurement", measurement.hex())
        line("nonce", nonce.hex())
        for config in parse_key_configurations(document.keys):
            suites = " ".join(AEADS[aead][0] if aead in AEADS else f"{kdf:#06x}/{aead:#06x}"
                              for kdf, aead in config["suites"])
            line("key", f"id {config['key_id']}, KEM {KEM_X25519:#06x}, suites {suites}")
    anchoring = ("bound through the report data only" if document.register == "none"
                 else f"replayed into {document.register}")
    line("log", f"{len(document.events)} events, digest {log_digest(document.events).hex()}, {anchoring}")
    if state.executable:
        line("executable", f"{state.executable[0]} sha384 {state.executable[1].hex()}")
    for plugin in state.plugins:
        line("plugin", f"{plugin['name']} {plugin['version']} ({plugin['kind']}, ABI {plugin['abi']}, "
                       f"{plugin['file']}) sha384 {plugin['digest'].hex()}")
    for model in state.models:
        line("model", f"{model['name']} version {model['version']} ({model['handler']}, {model['source']}) "
                      f"digest {model['digest'].hex()}")
    for name in sorted(state.settings):
        line("setting", f"{name} = {state.settings[name]}")


def attest(base: str, args: argparse.Namespace) -> bytes:
    """Returns the key configurations the server's evidence binds to a fresh nonce and its measurement log, after
    checking everything, in the order the Swift client does (ObliviousClient.verify): the document, the evidence
    and its binding, the log against the register, the log against the policy."""
    document, nonce = fetch_attestation(base)
    policy: Policy | None = args.policy
    replayed = log_digest(document.events)
    expected = binding(document.keys, nonce, replayed)
    if document.kind == "simulated":
        allowed = (args.measurement or []) + (policy.measurements if policy else [])
        accept = args.accept_simulated or (policy is not None and policy.accept_simulated)
        measurement, rtmr3, report_data = verify_simulated(document.evidence, allowed, accept)
    else:
        tdx = document.kind == "tdx-quote"
        measurement, report_data, debug, rtmr3 = (parse_tdx if tdx else parse_snp)(document.evidence)
        if debug and not args.accept_debug:
            raise Refused("the guest is debuggable (its memory is readable by the host); refused (--accept-debug)")
        allowed = (args.measurement or []) + ((policy.mrtd if tdx else policy.measurements) if policy else [])
        if not allowed:
            raise Refused("give the measurement you trust (--measurement HEX: the MRTD for TDX, the launch "
                          "measurement for SEV-SNP, or the policy file's evidence member)")
        check_measurement("measurement", measurement, allowed)
        verify_with_confide(document.evidence, "tdx" if tdx else "snp", measurement, report_data, args,
                            document.tdx_collateral, document.snp_certificates)
        if not (tdx and policy is not None and policy.rtmr3 == "replay"):
            rtmr3 = None  # only simulated evidence, and TDX when the policy asks, are compared with the replay
    if not hmac.compare_digest(report_data, expected):
        raise Refused("the evidence's report data does not bind these key configurations, our nonce and the "
                      "measurement log")
    if rtmr3 is not None and rtmr3 != replayed:
        what = "the simulated RTMR3" if document.kind == "simulated" else "RTMR3"
        raise Refused(f"{what} {rtmr3.hex()} is not the replay of the measurement log ({replayed.hex()})")
    try:
        state = policy.check(document.events) if policy else MeasuredState(document.events)
    except Refused as error:
        raise Refused(f"the server's measurement log breaks the policy: {error}") from None
    report(document, state, nonce, measurement, args.verbose)
    return document.keys


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
    if args.json:
        with (sys.stdin.buffer if args.json == "-" else open(args.json, "rb")) as file:
            body = file.read()
    elif args.body is not None:
        body = args.body.encode()
    else:
        body = json.dumps({"inputs": [{"name": args.input_name, "datatype": "BYTES", "shape": [len(args.text)],
                                       "data": args.text}]}).encode()
    if args.path:
        return {"method": "POST", "path": args.path, "body": body}
    path = f"/v2/models/{urllib.parse.quote(args.model, safe='')}"
    if args.model_version:
        path += f"/versions/{urllib.parse.quote(args.model_version, safe='')}"
    return {"method": "POST", "path": path + "/infer", "body": body}


def hex_bytes(text: str) -> bytes:
    value = bytes.fromhex(text)
    if len(value) != 48:
        raise argparse.ArgumentTypeError("a measurement is 48 bytes (96 hex digits)")
    return value


def read_policy(path: str) -> Policy:
    try:
        with open(path, "rb") as file:
            return Policy(file.read())
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot read the policy file {path}: {error.strerror}") from None
    except Refused as error:
        raise argparse.ArgumentTypeError(f"the policy file {path}: {error}") from None


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Send a KServe v2 inference request (or, with --path, another JSON request of the inference API) "
                    "to a Confide server, end to end encrypted (Oblivious HTTP) "
                    "to a key its attestation evidence binds.")
    parser.add_argument("model", nargs="?", help="the model's name (for a KServe v2 request; not with --path)")
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the server's base URL (default: %(default)s)")
    parser.add_argument("--path", help="POST the JSON body to this path of the inference API instead of a model's "
                                       "KServe v2 infer, e.g. /v1/embeddings")
    inputs = parser.add_mutually_exclusive_group(required=True)
    inputs.add_argument("--text", action="append", help="a text input (repeat for several); sent as a BYTES tensor")
    inputs.add_argument("--json", metavar="FILE", help="a file holding the request body ('-': standard input)")
    inputs.add_argument("--body", metavar="JSON", help="the request body, given inline")
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
    policy.add_argument("--policy", type=read_policy, metavar="FILE",
                        help="a policy file (JSON, docs/MEASUREMENTS.md): the executables, plugins, models and "
                             "settings allowed; the server is refused when its measurement log holds anything else. "
                             "Its evidence member adds measurements (and may accept simulated evidence)")
    parser.add_argument("--aead", choices=[name for name, *_ in AEADS.values()],
                        help="the AEAD to use (default: the first the server offers)")
    parser.add_argument("--pad", type=int, default=0, metavar="N",
                        help="pad the encrypted request to a multiple of N bytes")
    parser.add_argument("--verbose", action="store_true",
                        help="print the evidence, nonce and keys attested to standard error, besides what runs")
    args = parser.parse_args()
    if args.path is not None:
        if args.model or args.text is not None or not args.path.startswith("/"):
            parser.error("--path takes a path starting with '/' and a --json or --body request, and no model")
    elif not args.model:
        parser.error("give the model's name, or --path with a request body")

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
