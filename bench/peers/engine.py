#!/usr/bin/env python3
"""Engine-level peer benchmark: sequences per second of 128-token sequences through PyTorch, ONNX Runtime and
OpenVINO, no server, on a fixed number of threads.

Runs all-MiniLM-L6-v2 at batch 1, 8 and 32 and a BERT-Large-shaped encoder (random weights, seeded) at batch 8,
at each precision each peer supports:

    pytorch      fp32; bf16 (weights cast to bfloat16, and autocast: both are reported); int8 (dynamic
                 quantisation of the Linear layers)
    onnxruntime  fp32; int8 (quantize_dynamic); both after onnxruntime.transformers' fusions; no bf16 on the CPU
    openvino     fp32 and bf16 (the inference-precision hint on the FP32 IR); int8 (static, NNCF, calibrated
                 on real sentences)

The sequence is the one `confide bench model` uses ([CLS], "a" × 126, [SEP]), every batch row the same, no
padding. The model includes mean pooling and L2 normalisation; tokenisation is not timed (Confide's
figure includes it: well under 1 % of the time). Each (peer, model) runs in its own process so that thread
pools and memory do not carry over. One JSON object per line on stdout:

    {"peer": "openvino", "version": "2026.4.1", "model": "minilm", "precision": "int8", "variant": "nncf-static",
     "batch": 8, "sequence": 128, "threads": 2, "sequences_per_s": 131.2, "batches": 165, "seconds": 10.05,
     "p50_batch_ms": 60.8}

and {"peer": ..., "skipped": "why"} for a combination a peer does not support or that failed.

    python engine.py [--seconds 10] [--peers pytorch,onnxruntime,openvino] [--models minilm,bert-large]
                     [--precisions fp32,bf16,int8] [--batches 1,8,32] [--large-batch 8] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
PEERS = ("pytorch", "onnxruntime", "openvino")
MODELS = ("minilm", "bert-large")
PRECISIONS = ("fp32", "bf16", "int8")


def measure(run: Callable[[], object], seconds: float, warmup: float) -> dict[str, float]:
    """Calls `run` (one batch) for `warmup` seconds (at least twice), then for `seconds`; per-batch timings."""
    start = time.perf_counter()
    calls = 0
    while calls < 2 or time.perf_counter() - start < warmup:
        run()
        calls += 1
    times: list[float] = []
    start = time.perf_counter()
    while not times or time.perf_counter() - start < seconds:
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - start
    times.sort()
    return {"batches": len(times), "seconds": round(elapsed, 3), "p50_batch_ms": round(times[len(times) // 2] * 1e3, 2)}


def runners(peer: str, model: str, precision: str, args: argparse.Namespace):
    """Yields (variant, version, make_runner) where make_runner(inputs) returns a zero-argument batch call."""
    import models
    if peer == "pytorch":
        import torch
        torch.set_num_threads(args.threads)
        variants = ["cast", "autocast"] if precision == "bf16" else ["dynamic" if precision == "int8" else "eager"]
        for variant in variants:
            module, context = models.torch_for(model, args.model_dir, precision, variant)

            def make(inputs, module=module, context=context):
                ids = torch.from_numpy(inputs["input_ids"])
                mask = torch.from_numpy(inputs["attention_mask"])

                def call():
                    with torch.inference_mode(), context():
                        return module(ids, mask)
                return call
            yield variant, torch.__version__, make
    elif peer == "onnxruntime":
        import onnxruntime
        if precision == "bf16":
            raise NotImplementedError("ONNX Runtime's CPU execution provider has no BF16 kernels for these layers")
        session = models.ort_session(models.onnx_model(model, args.model_dir, precision, args.cache), args.threads)
        yield ("dynamic" if precision == "int8" else "optimized"), onnxruntime.__version__, \
            lambda inputs: (lambda: session.run(None, inputs))
    elif peer == "openvino":
        import openvino
        path = models.openvino_ir(model, args.model_dir, precision, args.cache, args.calibration, args.calibration_size)
        compiled = models.openvino_compiled(path, precision, args.threads)
        request = compiled.create_infer_request()
        yield ("nncf-static" if precision == "int8" else "hint"), openvino.__version__.split("-")[0], \
            lambda inputs: (lambda: request.infer(inputs))
    else:
        raise ValueError(peer)


def worker(args: argparse.Namespace) -> None:
    """Runs one peer on one model, every requested precision and batch, printing JSON lines."""
    # stdout carries the JSON lines alone: whatever the libraries print (NNCF's progress bars) goes to stderr.
    results = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    import models
    peer, model = args.worker
    ids = models.sequence_of(args.model_dir, args.sequence)
    batches = args.batches if model == "minilm" else [args.large_batch]
    for precision in args.precisions:
        base = {"peer": peer, "model": model, "precision": precision, "sequence": args.sequence, "threads": args.threads}
        try:
            for variant, version, make in runners(peer, model, precision, args):
                for batch in batches:
                    result = measure(make(models.batch_inputs(ids, batch)), args.seconds, args.warmup)
                    rate = result["batches"] * batch / result["seconds"]
                    print(json.dumps({**base, "version": version, "variant": variant, "batch": batch,
                                      "sequences_per_s": round(rate, 2), **result}), file=results, flush=True)
        except NotImplementedError as reason:
            print(json.dumps({**base, "skipped": str(reason)}), file=results, flush=True)
        except Exception as error:  # report and go on with the next precision
            traceback.print_exc()
            print(json.dumps({**base, "skipped": f"failed: {type(error).__name__}: {error}"}), file=results, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    import models
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per configuration (default 10)")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured seconds before each (default 2)")
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--precisions", default=",".join(PRECISIONS))
    parser.add_argument("--batches", default="1,8,32", help="all-MiniLM-L6-v2 batch sizes (default 1,8,32)")
    parser.add_argument("--large-batch", type=int, default=8, help="BERT-Large batch size (default 8)")
    parser.add_argument("--sequence", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model-dir", type=Path, default=models.DEFAULT_MODEL_DIR,
                        help="the all-MiniLM-L6-v2 Hugging Face folder (default: scripts/fetch-minilm's cache)")
    parser.add_argument("--cache", type=Path, default=models.DEFAULT_CACHE,
                        help="where exported models are kept (default $CONFIDE_PEERS_CACHE or ~/.cache/confide/peers)")
    parser.add_argument("--calibration", type=Path, default=models.DEFAULT_SENTENCES,
                        help="sentences for OpenVINO's INT8 calibration (default ../shared/testdata/bench/sentences.txt)")
    parser.add_argument("--calibration-size", type=int, default=300)
    parser.add_argument("--worker", nargs=2, metavar=("PEER", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.precisions = [p for p in args.precisions.split(",") if p]
    args.batches = [int(b) for b in args.batches.split(",") if b]
    logging.basicConfig(level=logging.INFO, format="engine: %(message)s", stream=sys.stderr)
    if args.worker:
        return worker(args)
    for name, allowed in (("peers", PEERS), ("models", MODELS)):
        bad = set(getattr(args, name).split(",")) - set(allowed)
        if bad:
            parser.error(f"--{name}: unknown {', '.join(sorted(bad))} (known: {', '.join(allowed)})")
    # One process per (peer, model): separate thread pools and memory, and a crash loses one row group only.
    forwarded = [a for a in sys.argv[1:]]
    for model in args.models.split(","):
        for peer in args.peers.split(","):
            env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
            logging.info("%s on %s", peer, model)
            code = subprocess.run([sys.executable, str(Path(__file__).resolve()), *forwarded, "--worker", peer, model],
                                  env=env).returncode
            if code != 0:
                print(json.dumps({"peer": peer, "model": model, "skipped": f"worker exited with status {code}"}),
                      flush=True)


if __name__ == "__main__":
    main()
