#!/usr/bin/env python3
"""Checks that a running server's all-MiniLM-L6-v2 embeddings agree with the sentence-transformers reference,
so that bench/compare compares correct servers.

Sends `--count` reference texts, one per request, the way `confide bench` does (KServe v2 JSON with a BYTES
input, or a plain-text body to TorchServe's /predictions/{model}), and reports the cosine of each embedding to
the reference. Exits 1 when the smallest cosine is under --min-cosine.

    python verify.py --url http://127.0.0.1:8080 --protocol kserve|torchserve [--model minilm] [--count 8]
                     [--min-cosine 0.999] [--reference ../shared/testdata/reference/minilm-public.jsonl]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_REFERENCE = REPO.parent / "shared" / "testdata" / "reference" / "minilm-public.jsonl"
# What each precision must reach: FP32 must match; BF16 loses a little; INT8 is reported, not enforced (PyTorch's
# dynamic INT8 is known to fall far lower on some texts, see ../shared/DESIGN.md).
MIN_COSINE = {"fp32": 0.999, "bf16": 0.99, "int8": 0.0}


def request(url: str, protocol: str, model: str, text: str, timeout: float = 30) -> urllib.request.Request:
    if protocol == "torchserve":
        return urllib.request.Request(f"{url}/predictions/{model}", data=text.encode("utf-8"), method="POST",
                                      headers={"Content-Type": "text/plain"})
    # The body `confide bench --sentences` sends (KServeClient.request, binary: false).
    body = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": [text]}]}
    return urllib.request.Request(f"{url}/v2/models/{model}/infer", data=json.dumps(body).encode(), method="POST",
                                  headers={"Content-Type": "application/json"})


def embed(url: str, protocol: str, model: str, text: str, timeout: float = 30) -> list[float]:
    with urllib.request.urlopen(request(url, protocol, model, text), timeout=timeout) as response:
        answer = json.loads(response.read())
    if protocol == "torchserve":
        return answer[0] if answer and isinstance(answer[0], list) else answer
    output = answer["outputs"][0]
    return output["data"][: output["shape"][-1]]


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)) or 1.0)


def check(url: str, protocol: str, model: str = "minilm", count: int = 8,
          reference: Path = DEFAULT_REFERENCE) -> dict:
    """Cosines of `count` reference texts (non-empty ones, spread over the file) against the reference."""
    rows = [json.loads(line) for line in reference.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [row for row in rows if row["text"].strip()]
    step = max(1, len(rows) // count)
    picked = rows[::step][:count]
    cosines = [cosine(embed(url, protocol, model, row["text"]), row["embedding"]) for row in picked]
    return {"texts": len(cosines), "min_cosine": round(min(cosines), 6),
            "mean_cosine": round(sum(cosines) / len(cosines), 6)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--protocol", choices=["kserve", "torchserve"], default="kserve")
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--min-cosine", type=float, default=MIN_COSINE["fp32"])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    args = parser.parse_args()
    result = check(args.url, args.protocol, args.model, args.count, args.reference)
    result["ok"] = result["min_cosine"] >= args.min_cosine
    print(json.dumps(result))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
