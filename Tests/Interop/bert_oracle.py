"""Builds seeded random-weight BERT-family checkpoints with transformers and records what transformers computes on
them, for Confide's oracle tests (Tests/BertHandlerTests/BertOracleTests.swift).

    python bert_oracle.py REFERENCE_JSONL OUTPUT_FOLDER

REFERENCE_JSONL holds the texts (one JSON object with a "text" per line). OUTPUT_FOLDER receives one model folder
per architecture and task (config.json, model.safetensors, tokenizer.json, ...) and expected.json: the texts, the
pairs made from them, and per model transformers' FP32 outputs (token ids, token types, offsets, logits,
probabilities, labels, entities as the token-classification pipeline groups them, or embeddings).
"""

import json
import os
import sys

import torch
import transformers
from tokenizers import BertWordPieceTokenizer
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
    BertTokenizerFast,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    DistilBertForTokenClassification,
    DistilBertModel,
    pipeline,
)

MAX_LENGTH = 64
TOKEN_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def tokenizer_for(folder, texts):
    """A small uncased WordPiece vocabulary trained on the texts; some rare characters stay unknown."""
    trainer = BertWordPieceTokenizer(lowercase=True)
    trainer.train_from_iterator(
        texts, vocab_size=1200, min_frequency=2, limit_alphabet=120,
        special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    os.makedirs(folder, exist_ok=True)
    trainer.save_model(folder)
    return BertTokenizerFast.from_pretrained(folder, model_max_length=MAX_LENGTH)


def randomize(model, seed):
    """Every parameter drawn again from a seeded normal distribution: biases and layer norms too, heads wider."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            if "LayerNorm.weight" in name or "layer_norm.weight" in name:
                parameter.copy_(1 + 0.1 * noise)
            elif "classifier" in name:
                parameter.copy_(0.5 * noise)
            else:
                parameter.copy_(0.1 * noise)
    return model.eval()


def bert_config(vocab, **task):
    return BertConfig(
        vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=MAX_LENGTH, type_vocab_size=2, **task)


def distilbert_config(vocab, **task):
    return DistilBertConfig(
        vocab_size=vocab, dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=MAX_LENGTH, **task)


def labelled(labels):
    return {"id2label": dict(enumerate(labels)), "label2id": {label: i for i, label in enumerate(labels)}}


def main():
    reference, out = sys.argv[1], sys.argv[2]
    with open(reference, encoding="utf-8") as file:
        texts = [json.loads(line)["text"] for line in file if line.strip()]
    # Pairs from texts far apart in the file: short with long, long with long (both truncated), empty ones.
    pairs = [(texts[i], texts[(i * 7 + 3) % len(texts)]) for i in range(len(texts))]
    tokenizer = tokenizer_for(os.path.join(out, "vocabulary"), texts[::2])
    vocab = tokenizer.vocab_size

    models = [
        ("bert-embedding-cls", BertModel, bert_config(vocab), "embedding", {"pooling": "cls", "normalize": False}),
        ("bert-embedding-mean", BertModel, bert_config(vocab), "embedding", {"pooling": "mean", "normalize": True}),
        ("bert-classification", BertForSequenceClassification,
         bert_config(vocab, problem_type="single_label_classification", **labelled(["negative", "neutral", "positive"])),
         "classification", {}),
        ("bert-multilabel", BertForSequenceClassification,
         bert_config(vocab, problem_type="multi_label_classification", **labelled(["a", "b", "c", "d"])),
         "classification", {}),
        ("bert-cross-encoder", BertForSequenceClassification, bert_config(vocab, num_labels=1), "rerank", {}),
        ("bert-token-classification", BertForTokenClassification, bert_config(vocab, **labelled(TOKEN_LABELS)),
         "token_classification", {}),
        ("distilbert-embedding", DistilBertModel, distilbert_config(vocab), "embedding",
         {"pooling": "mean", "normalize": True}),
        ("distilbert-classification", DistilBertForSequenceClassification,
         distilbert_config(vocab, **labelled(["spam", "ham"])), "classification", {}),
        ("distilbert-cross-encoder", DistilBertForSequenceClassification, distilbert_config(vocab, num_labels=1),
         "rerank", {}),
        ("distilbert-token-classification", DistilBertForTokenClassification,
         distilbert_config(vocab, **labelled(TOKEN_LABELS)), "token_classification", {}),
    ]
    expected = {"texts": texts, "pairs": pairs, "max_length": MAX_LENGTH, "transformers": transformers.__version__,
                "torch": torch.__version__, "models": []}
    for seed, (name, cls, config, task, options) in enumerate(models):
        torch.manual_seed(seed)
        model = randomize(cls(config), seed)
        folder = os.path.join(out, name)
        model.save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)
        record = {"name": name, "task": task}
        if task == "embedding":
            write_sentence_transformers(folder, options)
            record["embedding"] = embed(model, tokenizer, texts, options)
        elif task == "token_classification":
            record.update(token_classification(model, tokenizer, texts))
        else:
            inputs = pairs if task == "rerank" else texts
            record.update(classification(model, tokenizer, inputs, pairs=task == "rerank"))
        expected["models"].append(record)
    with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as file:
        json.dump(expected, file)
    # For the rerank benchmark: an embedding model and a cross-encoder of all-MiniLM-L6-v2's shape, same vocabulary.
    for name, cls, task in [("bench-embedding", BertModel, {}), ("bench-cross-encoder", BertForSequenceClassification,
                                                                 {"num_labels": 1})]:
        config = BertConfig(vocab_size=vocab, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                            intermediate_size=1536, max_position_embeddings=512, **task)
        torch.manual_seed(99)
        folder = os.path.join(out, name)
        cls(config).eval().save_pretrained(folder, safe_serialization=True)
        BertTokenizerFast.from_pretrained(os.path.join(out, "vocabulary"), model_max_length=256).save_pretrained(folder)
        if name == "bench-embedding":
            write_sentence_transformers(folder, {"pooling": "mean", "normalize": True})


def write_sentence_transformers(folder, options):
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if options["normalize"]:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
    with open(os.path.join(folder, "modules.json"), "w") as file:
        json.dump(modules, file)
    os.makedirs(os.path.join(folder, "1_Pooling"), exist_ok=True)
    with open(os.path.join(folder, "1_Pooling", "config.json"), "w") as file:
        json.dump({"word_embedding_dimension": 32, "pooling_mode_cls_token": options["pooling"] == "cls",
                   "pooling_mode_mean_tokens": options["pooling"] == "mean", "pooling_mode_max_tokens": False,
                   "pooling_mode_mean_sqrt_len_tokens": False}, file)


def encode(tokenizer, inputs, pairs, offsets=False):
    if pairs:
        first, second = [a for a, _ in inputs], [b for _, b in inputs]
        return tokenizer(first, second, truncation=True, padding=True, return_tensors="pt")
    return tokenizer(inputs, truncation=True, padding=True, return_tensors="pt", return_offsets_mapping=offsets)


def model_inputs(model, batch):
    """The tokenizer's outputs the model takes: DistilBERT has no token types."""
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if model.config.model_type == "bert" else [])
    return {name: batch[name] for name in names if name in batch}


def unpadded(batch, row):
    length = int(batch["attention_mask"][row].sum())
    ids = batch["input_ids"][row][:length].tolist()
    types = batch["token_type_ids"][row][:length].tolist() if "token_type_ids" in batch else [0] * length
    return length, ids, types


def embed(model, tokenizer, texts, options):
    batch = encode(tokenizer, texts, pairs=False)
    with torch.no_grad():
        states = model(**model_inputs(model, batch)).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    if options["pooling"] == "cls":
        pooled = states[:, 0]
    else:
        pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    if options["normalize"]:
        pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
    return pooled.tolist()


def classification(model, tokenizer, inputs, pairs):
    batch = encode(tokenizer, inputs, pairs)
    with torch.no_grad():
        logits = model(**model_inputs(model, batch)).logits
    problem = model.config.problem_type
    if problem == "regression":
        probabilities = logits
    elif problem == "multi_label_classification" or model.config.num_labels == 1:
        probabilities = torch.sigmoid(logits)
    else:
        probabilities = torch.softmax(logits, dim=-1)
    labels = [model.config.id2label[int(i)] for i in probabilities.argmax(-1)]
    rows = [unpadded(batch, row) for row in range(len(inputs))]
    return {"ids": [ids for _, ids, _ in rows], "type_ids": [types for _, _, types in rows],
            "logits": logits.tolist(), "probabilities": probabilities.tolist(), "labels": labels}


def token_classification(model, tokenizer, texts):
    batch = encode(tokenizer, texts, pairs=False, offsets=True)
    with torch.no_grad():
        logits = model(**model_inputs(model, batch)).logits
    classifier = pipeline("token-classification", model=model, tokenizer=tokenizer, aggregation_strategy="simple",
                          device=-1)
    tokens, entities, all_logits, all_ids = [], [], [], []
    for row, text in enumerate(texts):
        length, ids, _ = unpadded(batch, row)
        scores = torch.softmax(logits[row][:length], dim=-1)
        offsets = batch["offset_mapping"][row][:length].tolist()
        found = []
        for index in range(1, length - 1):
            best = int(scores[index].argmax())
            start, end = offsets[index]
            token = tokenizer.convert_ids_to_tokens(ids[index])
            if ids[index] == tokenizer.unk_token_id:
                token = text[start:end]
            found.append({"index": index, "token": token, "label": model.config.id2label[best],
                          "score": float(scores[index][best]), "start": start, "end": end})
        tokens.append(found)
        all_logits.append(logits[row][:length].tolist())
        all_ids.append(ids)
        entities.append([{"entity_group": e["entity_group"], "score": float(e["score"]), "word": e["word"],
                          "start": e["start"], "end": e["end"]} for e in classifier(text)] if text else [])
    return {"ids": all_ids, "logits": all_logits, "tokens": tokens, "entities": entities}


if __name__ == "__main__":
    main()
