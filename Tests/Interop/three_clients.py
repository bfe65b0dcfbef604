"""Three clients nobody here wrote -- tritonclient.http, tritonclient.grpc and openai -- ask one Confide server for the
embeddings of the same texts, and must get the same vectors, each close to the reference.

Usage: python3 three_clients.py HOST:HTTP_PORT HOST:GRPC_PORT MODEL REFERENCE.jsonl
Each client sends the texts in batches of 16: KServe v2 REST with binary tensors, KServe v2 gRPC with raw contents,
and the OpenAI embeddings API (the openai package's default, explicit base64, and float). Every float32 vector must be
bit-identical across the clients (all paths carry FP32 exactly) and have cosine >= 0.99999 with the reference.
Exits 0 when every check passes.
"""
import base64
import json
import sys

import numpy as np
import openai
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient


def by_http(client, model, texts):
    tensor = httpclient.InferInput("text", [len(texts)], "BYTES")
    tensor.set_data_from_numpy(np.array([text.encode() for text in texts], dtype=np.object_))
    result = client.infer(model, [tensor], outputs=[httpclient.InferRequestedOutput("embedding", binary_data=True)])
    return result.as_numpy("embedding")


def by_grpc(client, model, texts):
    tensor = grpcclient.InferInput("text", [len(texts)], "BYTES")
    tensor.set_data_from_numpy(np.array([text.encode() for text in texts], dtype=np.object_))
    result = client.infer(model, [tensor], outputs=[grpcclient.InferRequestedOutput("embedding")])
    return result.as_numpy("embedding")


def by_openai(client, model, texts, encoding):
    options = {"encoding_format": encoding} if encoding else {}
    response = client.embeddings.create(model=model, input=texts, **options)
    assert [item.index for item in response.data] == list(range(len(texts))), response.data
    assert response.usage.prompt_tokens > len(texts), response.usage
    if encoding == "base64":  # the package leaves base64 undecoded when asked for it explicitly
        return np.stack([np.frombuffer(base64.b64decode(item.embedding), dtype="<f4") for item in response.data])
    return np.array([item.embedding for item in response.data], dtype=np.float32)


def main() -> None:
    http_url, grpc_url, model, reference = sys.argv[1:5]
    with open(reference, encoding="utf-8") as file:
        rows = [json.loads(line) for line in file if line.strip()]
    rows = [row for row in rows if row["text"]]  # OpenAI refuses empty strings
    http = httpclient.InferenceServerClient(url=http_url)
    grpc = grpcclient.InferenceServerClient(url=grpc_url)
    oai = openai.OpenAI(base_url=f"http://{http_url}/v1", api_key="unused", max_retries=0)
    worst = 1.0
    for start in range(0, len(rows), 16):
        batch = rows[start:start + 16]
        texts = [row["text"] for row in batch]
        answers = {
            "tritonclient.http": by_http(http, model, texts),
            "tritonclient.grpc": by_grpc(grpc, model, texts),
            "openai (default: base64, decoded by the package)": by_openai(oai, model, texts, None),
            "openai (base64)": by_openai(oai, model, texts, "base64"),
            "openai (float)": by_openai(oai, model, texts, "float"),
        }
        first = answers["tritonclient.http"]
        for name, vectors in answers.items():
            assert vectors.dtype == np.float32 and vectors.shape == first.shape, (name, vectors.dtype, vectors.shape)
            differing = int(np.sum(np.any(vectors != first, axis=1)))
            assert differing == 0, f"{name}: {differing} of {len(texts)} vectors differ from tritonclient.http's"
        for row, vector in zip(batch, first):
            expected = np.array(row["embedding"], dtype=np.float64)
            got = vector.astype(np.float64)
            cosine = float(got @ expected / (np.linalg.norm(got) * np.linalg.norm(expected)))
            worst = min(worst, cosine)
            assert cosine >= 0.99999, f"cosine {cosine} for {row['text'][:60]!r}"
    print(f"three clients: {len(rows)} texts, identical vectors from all clients, lowest cosine {worst:.7f}")


if __name__ == "__main__":
    main()
