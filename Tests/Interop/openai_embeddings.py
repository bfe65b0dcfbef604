"""Asks a Confide server for embeddings with the `openai` Python package, a client nobody here wrote, unchanged.

Usage: python3 openai_embeddings.py BASE_URL MODEL REFERENCE_JSONL API_KEY
BASE_URL is the server's OpenAI base, e.g. http://127.0.0.1:8080/v1. REFERENCE_JSONL holds rows of `text`,
`input_ids` (the model's tokenizer, [CLS] and [SEP] included) and `embedding` (FP32).
Exits 0 when every check passes; prints what failed otherwise.
"""
import base64
import json
import math
import struct
import sys

import openai
from openai import OpenAI


def cosine(left, right) -> float:
    dot = sum(a * b for a, b in zip(left, right))
    return dot / (math.sqrt(sum(a * a for a in left)) * math.sqrt(sum(b * b for b in right)))


def vector(embedding) -> list:
    """The floats of an embedding: a list, or, when base64 was asked for explicitly, the little-endian FP32 bytes in
    base64, which the client hands over as they came."""
    if isinstance(embedding, str):
        data = base64.b64decode(embedding, validate=True)
        return list(struct.unpack(f"<{len(data) // 4}f", data))
    return embedding


def check(response, rows, model: str, label: str) -> None:
    assert response.model == model, (label, response.model)
    assert [item.index for item in response.data] == list(range(len(rows))), label
    for item, row in zip(response.data, rows):
        values = vector(item.embedding)
        assert len(values) == len(row["embedding"]), (label, len(values))
        similarity = cosine(values, row["embedding"])
        assert similarity >= 0.99999, f"{label}: cosine {similarity:.7f} for {row['text'][:40]!r}"
    tokens = sum(len(row["input_ids"]) for row in rows)
    assert response.usage.prompt_tokens == tokens, (label, response.usage.prompt_tokens, tokens)
    assert response.usage.total_tokens == tokens, (label, response.usage.total_tokens, tokens)


def main() -> int:
    base_url, model, reference, api_key = sys.argv[1:5]
    with open(reference, encoding="utf-8") as file:
        rows = [row for row in map(json.loads, file) if row["text"]]  # OpenAI refuses empty strings
    client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=300)

    listed = [entry.id for entry in client.models.list()]
    assert model in listed, listed
    assert client.models.retrieve(model).id == model

    # Every text as one list, as numbers; the client's default asks for base64 and decodes it itself.
    check(client.embeddings.create(model=model, input=[row["text"] for row in rows], encoding_format="float"),
          rows, model, "float")
    check(client.embeddings.create(model=model, input=[row["text"] for row in rows[:32]]), rows[:32], model, "base64")
    check(client.embeddings.create(model=model, input=rows[5]["text"], encoding_format="base64"),
          rows[5:6], model, "single string as base64")
    check(client.embeddings.create(model=model, input=rows[7]["text"], encoding_format="float", user="someone"),
          rows[7:8], model, "single string as numbers")

    try:
        client.embeddings.create(model="no-such-model", input="hello")
        raise AssertionError("an unknown model was accepted")
    except openai.NotFoundError as error:
        assert "does not exist" in str(error), error
    try:
        client.embeddings.create(model=model, input="")
        raise AssertionError("an empty string was accepted")
    except openai.BadRequestError as error:
        assert error.body["param"] == "input", error.body
    try:
        OpenAI(base_url=base_url, api_key="wrong", max_retries=0).embeddings.create(model=model, input="x")
        raise AssertionError("a wrong key was accepted")
    except openai.AuthenticationError:
        pass
    print(f"openai {openai.__version__}: all checks passed ({len(rows)} texts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
