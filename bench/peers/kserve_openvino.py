#!/usr/bin/env python3
"""all-MiniLM-L6-v2 served by the KServe Python model server with OpenVINO: the peer of `confide serve` that
bench/compare measures.

Speaks KServe's Open Inference Protocol v2 at /v2/models/{name}/infer: a BYTES input (any name, any shape) of
texts in, an FP32 output `embedding` [count, 384] out (mean pooling, L2-normalised, as sentence-transformers).
Each text runs alone at its real length (no padding), on one of --streams OpenVINO infer requests, so with
--streams 2 two requests run at once on one core each, as Confide's two workers of one core do; with
--streams 1 one request at a time uses --threads threads.

The model folder is what `models.py openvino-ir` writes: model.xml/model.bin (FP32, or static INT8 from NNCF),
tokenizer.json and a `precision` file.

    python kserve_openvino.py --model_dir DIR [--model_name minilm] [--http_port 8080] [--streams 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, Optional

import kserve
import numpy as np
import openvino as ov
from kserve import InferOutput, InferRequest, InferResponse
from kserve.errors import InvalidInput
from tokenizers import Tokenizer

MAX_TOKENS = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2


class MiniLM(kserve.Model):
    def __init__(self, name: str, model_dir: Path, streams: int, threads: int, precision: Optional[str] = None):
        super().__init__(name)
        self.model_dir = model_dir
        self.streams = streams
        self.threads = threads
        self.precision = precision or (model_dir / "precision").read_text().strip()
        self.local = threading.local()
        self.load()

    def load(self) -> bool:
        self.tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        core = ov.Core()
        # FP32 is asked for explicitly: on CPUs with AVX512_BF16 or AMX OpenVINO would otherwise run it in BF16.
        # An INT8 model runs its quantised layers in INT8 and the rest in FP32.
        config = {"INFERENCE_NUM_THREADS": self.threads, "NUM_STREAMS": self.streams,
                  "PERFORMANCE_HINT": "LATENCY" if self.streams == 1 else "THROUGHPUT",
                  "INFERENCE_PRECISION_HINT": "bf16" if self.precision == "bf16" else "f32"}
        self.compiled = core.compile_model(core.read_model(str(self.model_dir / "model.xml")), "CPU", config)
        self.pool = ThreadPoolExecutor(max_workers=self.streams, thread_name_prefix="openvino")
        self.ready = True
        return self.ready

    def embed(self, text: str) -> np.ndarray:
        """One text at its real length, on this thread's own infer request."""
        request = getattr(self.local, "request", None)
        if request is None:
            request = self.local.request = self.compiled.create_infer_request()
        ids = np.asarray([self.tokenizer.encode(text).ids], dtype=np.int64)
        request.infer({"input_ids": ids, "attention_mask": np.ones_like(ids)})
        return request.get_output_tensor(0).data[0].copy()

    async def predict(self, payload: InferRequest, headers: Optional[Dict[str, str]] = None,
                      response_headers: Optional[Dict[str, str]] = None) -> InferResponse:
        texts = []
        for tensor in payload.inputs:
            if tensor.datatype != "BYTES":
                continue
            values = tensor.as_numpy().reshape(-1) if tensor.data is None else np.asarray(tensor.data).reshape(-1)
            texts += [value.decode("utf-8") if isinstance(value, bytes) else str(value) for value in values]
            break
        else:
            raise InvalidInput("expected a BYTES input holding texts")
        loop = asyncio.get_running_loop()
        rows = await asyncio.gather(*(loop.run_in_executor(self.pool, self.embed, text) for text in texts))
        embeddings = np.stack(rows).astype(np.float32) if rows else np.zeros((0, 384), np.float32)
        output = InferOutput(name="embedding", shape=list(embeddings.shape), datatype="FP32")
        output.set_data_from_numpy(embeddings, binary_data=False)
        return InferResponse(response_id=payload.id or str(uuid.uuid4()), model_name=self.name, infer_outputs=[output])


def main() -> None:
    parser = argparse.ArgumentParser(parents=[kserve.model_server.parser], description=__doc__.split("\n\n")[0])
    parser.add_argument("--model_dir", type=Path, required=True, help="from `models.py openvino-ir`")
    parser.add_argument("--streams", type=int, default=2, help="requests run at once (default 2)")
    parser.add_argument("--threads", type=int, default=2, help="OpenVINO inference threads in all (default 2)")
    args, _ = parser.parse_known_args()
    model = MiniLM(args.model_name, args.model_dir, args.streams, args.threads)
    logging.getLogger("kserve").info("serving %s (%s) with %d stream(s), %d thread(s)", args.model_name,
                                     model.precision, args.streams, args.threads)
    kserve.ModelServer(http_port=args.http_port, grpc_port=args.grpc_port, enable_grpc=False, workers=1,
                       enable_latency_logging=False).start([model])


if __name__ == "__main__":
    main()
