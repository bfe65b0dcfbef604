"""Sends KServe v2 gRPC requests to a Confide server with tritonclient.grpc, a client nobody here wrote.

Usage: python3 tritonclient_grpc.py HOST:PORT ECHO_MODEL [EMBEDDING_MODEL REFERENCE.jsonl]
Checks the echo model with FP32, INT64, BOOL, FP16 and BYTES tensors and an unknown model; with an embedding model,
sends the reference texts as BYTES and compares the embeddings with the reference (FP32 cosine >= 0.99999).
Exits 0 when every check passes; prints what failed otherwise.
"""
import json
import sys

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException


def check_echo(client: grpcclient.InferenceServerClient, model: str) -> None:
    assert client.is_server_live(), "server is not live"
    assert client.is_server_ready(), "server is not ready"
    assert client.is_model_ready(model), f"model {model} is not ready"
    metadata = client.get_model_metadata(model)
    assert metadata.name == model, metadata
    assert client.get_server_metadata().name == "confide"

    floats = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    ints = np.array([[-3, 0, 2**40]], dtype=np.int64)
    texts = np.array([b"hello", "h\u00e9llo \u4e16\u754c".encode(), b""], dtype=np.object_)
    flags = np.array([True, False, True], dtype=bool)
    halves = np.array([1.5, -2.25], dtype=np.float16)
    inputs = []
    for name, array, datatype in [("FLOATS", floats, "FP32"), ("INTS", ints, "INT64"), ("TEXTS", texts, "BYTES"),
                                  ("FLAGS", flags, "BOOL"), ("HALVES", halves, "FP16")]:
        tensor = grpcclient.InferInput(name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array)  # raw_input_contents, tritonclient's only way
        inputs.append(tensor)
    result = client.infer(model, inputs)
    np.testing.assert_array_equal(result.as_numpy("FLOATS"), floats)
    np.testing.assert_array_equal(result.as_numpy("INTS"), ints)
    assert list(result.as_numpy("TEXTS")) == list(texts), result.as_numpy("TEXTS")
    np.testing.assert_array_equal(result.as_numpy("FLAGS"), flags)
    np.testing.assert_array_equal(result.as_numpy("HALVES"), halves)

    outputs = [grpcclient.InferRequestedOutput("TEXTS"), grpcclient.InferRequestedOutput("FLOATS")]
    result = client.infer(model, inputs, outputs=outputs, request_id="req-7")
    response = result.get_response()
    assert response.id == "req-7", response.id
    assert [output.name for output in response.outputs] == ["TEXTS", "FLOATS"], response.outputs
    assert result.as_numpy("INTS") is None
    np.testing.assert_array_equal(result.as_numpy("FLOATS"), floats)

    try:
        client.infer("no-such-model", inputs)
        raise AssertionError("an unknown model was accepted")
    except InferenceServerException as error:
        assert "unknown model 'no-such-model'" in error.message(), error
        assert error.status() == "StatusCode.NOT_FOUND", error.status()
    print("tritonclient.grpc echo: all checks passed")


def check_embeddings(client: grpcclient.InferenceServerClient, model: str, reference: str) -> None:
    with open(reference, encoding="utf-8") as file:
        rows = [json.loads(line) for line in file if line.strip()]
    worst = 1.0
    for start in range(0, len(rows), 16):
        batch = rows[start:start + 16]
        texts = np.array([row["text"].encode() for row in batch], dtype=np.object_)
        tensor = grpcclient.InferInput("text", [len(batch)], "BYTES")
        tensor.set_data_from_numpy(texts)
        result = client.infer(model, [tensor], outputs=[grpcclient.InferRequestedOutput("embedding")])
        embeddings = result.as_numpy("embedding")
        assert embeddings.shape == (len(batch), 384), embeddings.shape
        assert embeddings.dtype == np.float32, embeddings.dtype
        for row, embedding in zip(batch, embeddings):
            expected = np.array(row["embedding"], dtype=np.float64)
            got = embedding.astype(np.float64)
            cosine = float(got @ expected / (np.linalg.norm(got) * np.linalg.norm(expected)))
            worst = min(worst, cosine)
            assert cosine >= 0.99999, f"cosine {cosine} for {row['text'][:60]!r}"
    print(f"tritonclient.grpc embeddings: {len(rows)} texts, lowest cosine {worst:.7f}")


def main() -> int:
    url, echo = sys.argv[1], sys.argv[2]
    client = grpcclient.InferenceServerClient(url=url)
    check_echo(client, echo)
    if len(sys.argv) == 5:
        check_embeddings(client, sys.argv[3], sys.argv[4])
    print("tritonclient.grpc: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
