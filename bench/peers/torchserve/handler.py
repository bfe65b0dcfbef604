"""TorchServe handler for all-MiniLM-L6-v2 sentence embeddings: the TorchServe peer of bench/compare.

The model archive (built by bench/compare with torch-model-archiver) holds this file and, as extra files, the
Hugging Face folder's config.json, model.safetensors and tokenizer.json, plus setup_config.json:

    {"precision": "fp32" | "bf16" | "int8", "threads": 1}

A request's body is one text (text/plain), or JSON: {"text": "..."} or a JSON string. TorchServe hands the
handler a batch of requests (batchSize / maxBatchDelay in config.properties); their texts are padded to the
longest, run as one batch through BertModel (PyTorch eager: FP32; BF16 with the weights cast to bfloat16; or
INT8 by dynamic quantisation of the Linear layers), mean-pooled over the attention mask and L2-normalised, as sentence-transformers does. Each response is
the embedding as a JSON list of 384 floats.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the workers already use the cores
warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", message=".*quantize.*deprecated.*")

import torch  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from transformers import BertModel  # noqa: E402
from ts.torch_handler.base_handler import BaseHandler  # noqa: E402

log = logging.getLogger(__name__)
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2


class MiniLMHandler(BaseHandler):
    def initialize(self, context) -> None:
        model_dir = Path(context.system_properties["model_dir"])
        setup = json.loads((model_dir / "setup_config.json").read_text())
        self.precision = setup.get("precision", "fp32")
        torch.set_num_threads(int(setup.get("threads", 1)))
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        model = BertModel.from_pretrained(str(model_dir), add_pooling_layer=False, local_files_only=True).eval()
        if self.precision == "int8":
            from torch.ao.quantization import quantize_dynamic
            model = quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        elif self.precision == "bf16":
            model = model.to(torch.bfloat16)
        elif self.precision != "fp32":
            raise ValueError(f"unsupported precision {self.precision!r}")
        self.model = model
        self.initialized = True
        log.info("all-MiniLM-L6-v2 %s on %d thread(s)", self.precision, torch.get_num_threads())

    @staticmethod
    def text_of(row: dict) -> str:
        body = row.get("data") if row.get("data") is not None else row.get("body")
        if isinstance(body, (bytes, bytearray)):
            body = body.decode("utf-8")
        if isinstance(body, str):
            stripped = body.lstrip()
            if stripped.startswith(("{", '"')):
                try:
                    body = json.loads(body)
                except ValueError:
                    return body
            else:
                return body
        if isinstance(body, dict):
            body = body.get("text", "")
        return body if isinstance(body, str) else json.dumps(body)

    def preprocess(self, data: list[dict]) -> dict[str, torch.Tensor]:
        encodings = self.tokenizer.encode_batch([self.text_of(row) for row in data])
        ids = torch.tensor([e.ids for e in encodings], dtype=torch.long)
        mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.long)
        return {"input_ids": ids, "attention_mask": mask}

    def inference(self, inputs: dict[str, torch.Tensor], *args, **kwargs) -> torch.Tensor:
        with torch.inference_mode():
            hidden = self.model(**inputs).last_hidden_state
            mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled.float(), p=2.0, dim=1)

    def postprocess(self, embeddings: torch.Tensor) -> list[list[float]]:
        return embeddings.tolist()
