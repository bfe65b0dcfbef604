#!/usr/bin/env python3
"""The models the peer benchmarks run, built the same way for every peer.

- all-MiniLM-L6-v2 from its Hugging Face folder (`scripts/fetch-minilm --cache-only`), and a BERT-Large-shaped
  encoder (24 layers, 1024 hidden, 4096 intermediate, 16 heads) with seeded random weights;
- wrapped as `Embedder`: the encoder, mean pooling over the attention mask and L2 normalisation, as
  sentence-transformers does (inputs `input_ids` and `attention_mask`, int64; output `embedding` [batch, hidden]);
- exported to ONNX (ONNX Runtime's transformer optimiser applied, dynamic INT8 with `quantize_dynamic`) and to
  OpenVINO IR (FP32, and static INT8 with NNCF calibrated on real sentences), cached on disk.

Also a command line, used by bench/compare to prepare what the servers load before timing their start:

    python models.py openvino-ir --model-dir DIR --precision fp32|bf16|int8 --out DIR [--calibration FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import sys
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # every model is local; never try a hub
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars in logs
warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", message=".*quantize.*deprecated.*")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MODEL_DIR = Path(os.environ.get("CONFIDE_MINILM_CACHE",
                                        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                                        / "confide" / "all-MiniLM-L6-v2"))
DEFAULT_CACHE = Path(os.environ.get("CONFIDE_PEERS_CACHE", Path.home() / ".cache" / "confide" / "peers"))
DEFAULT_SENTENCES = REPO.parent / "shared" / "testdata" / "bench" / "sentences.txt"
BERT_LARGE = {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096,
              "max_position_embeddings": 512, "vocab_size": 30522, "type_vocab_size": 2, "hidden_act": "gelu"}
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2

log = logging.getLogger("peers")


def versions(*names: str) -> dict[str, str]:
    return {name: metadata.version(name) for name in names}


# ---------------------------------------------------------------------------------------------------------------
# Tokenizer and inputs


def tokenizer(model_dir: Path):
    """The model's fast tokenizer (tokenizer.json), truncating at 256 tokens, no padding."""
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.enable_truncation(MAX_TOKENS)
    tok.no_padding()
    return tok


ENGINE_WORD = "a"  # one token in BERT's vocabulary, and in the synthetic one of Confide's random-weight models


def sequence_of(model_dir: Path, length: int) -> np.ndarray:
    """A `length`-token sequence: [CLS], "a" × (length − 2), [SEP] — what `confide bench model` runs."""
    ids = tokenizer(model_dir).encode(" ".join([ENGINE_WORD] * (length - 2))).ids
    assert len(ids) == length, f"expected {length} tokens, got {len(ids)}"
    return np.asarray(ids, dtype=np.int64)


def batch_inputs(ids: np.ndarray, batch: int) -> dict[str, np.ndarray]:
    input_ids = np.tile(ids, (batch, 1))
    return {"input_ids": input_ids, "attention_mask": np.ones_like(input_ids)}


def sentences(path: Path, count: int | None = None) -> list[str]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line]
    return lines[:count] if count else lines


def calibration_inputs(model_dir: Path, texts: Iterable[str]) -> list[dict[str, np.ndarray]]:
    """One input per text at its real length (batch 1, no padding), as the servers run them."""
    tok = tokenizer(model_dir)
    result = []
    for text in texts:
        ids = np.asarray([tok.encode(text).ids], dtype=np.int64)
        result.append({"input_ids": ids, "attention_mask": np.ones_like(ids)})
    return result


# ---------------------------------------------------------------------------------------------------------------
# PyTorch


def embedder(model: str, model_dir: Path, seed: int = 7, attention: str = "sdpa"):
    """The PyTorch `Embedder` for "minilm" (weights from `model_dir`) or "bert-large" (random, seeded)."""
    import torch
    from transformers import BertConfig, BertModel
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()

    class Embedder(torch.nn.Module):
        """Encoder, mean pooling over the mask, L2 normalisation (sentence-transformers' pipeline)."""

        def __init__(self, encoder: torch.nn.Module):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    if model == "minilm":
        encoder = BertModel.from_pretrained(str(model_dir), add_pooling_layer=False, attn_implementation=attention,
                                            local_files_only=True)
    elif model == "bert-large":
        torch.manual_seed(seed)
        config = BertConfig(**BERT_LARGE)
        config._attn_implementation = attention
        encoder = BertModel(config, add_pooling_layer=False)
    else:
        raise ValueError(f"unknown model {model!r}")
    return Embedder(encoder.float()).eval()


def torch_for(model: str, model_dir: Path, precision: str, variant: str = "cast"):
    """(module, dtype context) for a PyTorch precision: fp32; bf16 as weights cast to bfloat16 ("cast") or
    autocast ("autocast"); int8 as dynamic quantisation of every Linear layer (qint8 weights, per tensor)."""
    import contextlib
    import torch
    module = embedder(model, model_dir)
    context: Any = contextlib.nullcontext
    if precision == "bf16" and variant == "cast":
        module = module.to(torch.bfloat16)
    elif precision == "bf16":
        context = lambda: torch.autocast("cpu", dtype=torch.bfloat16)  # noqa: E731
    elif precision == "int8":
        from torch.ao.quantization import quantize_dynamic
        module = quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8)
    elif precision != "fp32":
        raise ValueError(precision)
    return module, context


# ---------------------------------------------------------------------------------------------------------------
# ONNX and ONNX Runtime


def _cache_dir(cache: Path, model: str, what: str, *keys: str) -> Path:
    digest = hashlib.sha256("|".join(keys).encode()).hexdigest()[:12]
    return cache / model / f"{what}-{digest}"


def onnx_model(model: str, model_dir: Path, precision: str, cache: Path = DEFAULT_CACHE) -> Path:
    """The ONNX file for ONNX Runtime: exported from PyTorch (TorchScript exporter, opset 17, dynamic batch and
    sequence), optimised by onnxruntime.transformers (attention, layer norm and GELU fusion), and for int8
    quantised with `quantize_dynamic` (QInt8 weights). Cached."""
    v = versions("torch", "transformers", "onnx", "onnxruntime")
    folder = _cache_dir(cache, model, "onnx", json.dumps(v, sort_keys=True), str(model_dir.resolve()))
    fp32 = folder / "model-fp32.onnx"
    final = folder / f"model-{precision}.onnx"
    if final.exists():
        return final
    folder.mkdir(parents=True, exist_ok=True)
    if not fp32.exists():
        import torch
        raw = folder / "exported.onnx"
        module = embedder(model, model_dir, attention="eager")  # the attention pattern ORT's optimiser fuses
        example = {k: torch.from_numpy(v) for k, v in batch_inputs(sequence_of(model_dir, 16), 2).items()}
        log.info("exporting %s to ONNX", model)
        with torch.inference_mode():
            torch.onnx.export(module, (example["input_ids"], example["attention_mask"]), str(raw), dynamo=False,
                              input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                              dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                            "attention_mask": {0: "batch", 1: "sequence"}, "embedding": {0: "batch"}},
                              opset_version=17, do_constant_folding=True)
        try:
            from onnxruntime.transformers import optimizer
            config = module.encoder.config
            optimized = optimizer.optimize_model(str(raw), model_type="bert", num_heads=config.num_attention_heads,
                                                 hidden_size=config.hidden_size, opt_level=1)
            log.info("onnxruntime.transformers fusions: %s", optimized.get_fused_operator_statistics())
            optimized.save_model_to_file(str(fp32))
        except Exception as error:  # the unoptimised graph still runs: say so and go on
            log.warning("onnxruntime.transformers optimiser failed (%s); using the exported graph", error)
            shutil.copy(raw, fp32)
        raw.unlink(missing_ok=True)
    if precision == "int8" and not final.exists():
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
        log.info("quantising %s to dynamic INT8 (onnxruntime)", model)
        # The fused contrib operators (Attention, SkipLayerNormalization) have no ONNX shape inference: their
        # outputs are FP32.
        quantize_dynamic(str(fp32), str(final), weight_type=QuantType.QInt8,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    if precision not in ("fp32", "int8"):
        raise ValueError(f"ONNX Runtime: no {precision} model")
    return final


def ort_session(path: Path, threads: int):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


# ---------------------------------------------------------------------------------------------------------------
# OpenVINO


def openvino_ir(model: str, model_dir: Path, precision: str, cache: Path = DEFAULT_CACHE,
                calibration: Path = DEFAULT_SENTENCES, calibration_size: int = 300) -> Path:
    """The OpenVINO IR (.xml beside its .bin): converted from PyTorch with `ov.convert_model` (dynamic batch and
    sequence, weights kept FP32), and for int8 quantised statically by NNCF (transformer preset) on
    `calibration_size` sentences of `calibration` at their real lengths. BF16 is the FP32 IR run with the
    bf16 inference-precision hint. Cached."""
    import openvino as ov
    v = versions("torch", "transformers", "openvino", "nncf")
    key = [json.dumps(v, sort_keys=True), str(model_dir.resolve())]
    folder = _cache_dir(cache, model, "openvino", *key)
    fp32 = folder / "model-fp32.xml"
    if precision == "int8":
        final = folder / f"model-int8-{hashlib.sha256(f'{calibration.resolve()}|{calibration_size}'.encode()).hexdigest()[:8]}.xml"
    else:
        final = fp32
    if final.exists():
        return final
    folder.mkdir(parents=True, exist_ok=True)
    if not fp32.exists():
        import torch
        module = embedder(model, model_dir)
        example = {k: torch.from_numpy(v) for k, v in batch_inputs(sequence_of(model_dir, 16), 2).items()}
        log.info("converting %s to OpenVINO IR", model)
        with torch.inference_mode():
            converted = ov.convert_model(module, example_input=example,
                                         input=[("input_ids", [-1, -1], ov.Type.i64),
                                                ("attention_mask", [-1, -1], ov.Type.i64)])
        converted.outputs[0].get_tensor().set_names({"embedding"})
        ov.save_model(converted, str(fp32), compress_to_fp16=False)
    if precision == "int8":
        import nncf
        core = ov.Core()
        source = core.read_model(str(fp32))
        data = calibration_inputs(model_dir, sentences(calibration, calibration_size))
        log.info("quantising %s to static INT8 with NNCF on %d sentences", model, len(data))
        quantized = nncf.quantize(source, nncf.Dataset(data), model_type=nncf.ModelType.TRANSFORMER,
                                  subset_size=len(data))
        ov.save_model(quantized, str(final), compress_to_fp16=False)
    elif precision not in ("fp32", "bf16"):
        raise ValueError(precision)
    return final


def openvino_config(precision: str, threads: int) -> dict[str, Any]:
    """Compile options: `threads` inference threads, one stream, latency hint, and the precision hint (FP32 set
    explicitly: on CPUs with AVX512_BF16 or AMX OpenVINO otherwise runs FP32 models in BF16). INT8 models run
    their non-quantised operations in FP32, as Confide's INT8 does."""
    return {"INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32"}


def openvino_compiled(path: Path, precision: str, threads: int):
    import openvino as ov
    core = ov.Core()
    return core.compile_model(core.read_model(str(path)), "CPU", openvino_config(precision, threads))


# ---------------------------------------------------------------------------------------------------------------
# Command line


def main() -> None:
    parser = argparse.ArgumentParser(description="Prepare the peers' model files (cached).")
    sub = parser.add_subparsers(dest="command", required=True)
    ir = sub.add_parser("openvino-ir", help="write the OpenVINO IR of all-MiniLM-L6-v2 for the KServe server")
    ir.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    ir.add_argument("--precision", choices=["fp32", "bf16", "int8"], required=True,
                    help="bf16 is the FP32 IR served with OpenVINO's bf16 inference-precision hint")
    ir.add_argument("--out", type=Path, required=True, help="folder to write model.xml/model.bin and the tokenizer into")
    ir.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ir.add_argument("--calibration", type=Path, default=DEFAULT_SENTENCES)
    ir.add_argument("--calibration-size", type=int, default=300)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    if args.command == "openvino-ir":
        xml = openvino_ir("minilm", args.model_dir, args.precision, args.cache, args.calibration, args.calibration_size)
        args.out.mkdir(parents=True, exist_ok=True)
        shutil.copy(xml, args.out / "model.xml")
        shutil.copy(xml.with_suffix(".bin"), args.out / "model.bin")
        shutil.copy(args.model_dir / "tokenizer.json", args.out / "tokenizer.json")
        (args.out / "precision").write_text(args.precision + "\n")
        print(args.out)


if __name__ == "__main__":
    sys.exit(main())
