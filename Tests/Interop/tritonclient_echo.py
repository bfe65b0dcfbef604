"""Sends inference requests to a Confide server with tritonclient.http, a client nobody here wrote.

Usage: python3 tritonclient_echo.py HOST:PORT MODEL
Exits 0 when every check passes; prints what failed otherwise.
"""
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException


def main() -> int:
    url, model = sys.argv[1], sys.argv[2]
    client = httpclient.InferenceServerClient(url=url)
    assert client.is_server_live(), "server is not live"
    assert client.is_server_ready(), "server is not ready"
    assert client.is_model_ready(model), f"model {model} is not ready"
    metadata = client.get_model_metadata(model)
    assert metadata["name"] == model, metadata

    floats = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    ints = np.array([[-3, 0, 2**40]], dtype=np.int64)
    texts = np.array([b"hello", "h\u00e9llo \u4e16\u754c".encode(), b""], dtype=np.object_)
    flags = np.array([True, False, True], dtype=bool)
    halves = np.array([1.5, -2.25], dtype=np.float16)

    for binary in (True, False):
        inputs = []
        for name, array, datatype in [("FLOATS", floats, "FP32"), ("INTS", ints, "INT64"),
                                      ("TEXTS", texts, "BYTES"), ("FLAGS", flags, "BOOL"),
                                      ("HALVES", halves, "FP16")]:
            tensor = httpclient.InferInput(name, list(array.shape), datatype)
            tensor.set_data_from_numpy(array, binary_data=binary)
            inputs.append(tensor)
        # Default request: tritonclient asks for every output in binary form.
        result = client.infer(model, inputs)
        np.testing.assert_array_equal(result.as_numpy("FLOATS"), floats)
        np.testing.assert_array_equal(result.as_numpy("INTS"), ints)
        assert list(result.as_numpy("TEXTS")) == list(texts), result.as_numpy("TEXTS")
        np.testing.assert_array_equal(result.as_numpy("FLAGS"), flags)
        np.testing.assert_array_equal(result.as_numpy("HALVES"), halves)
        # Named outputs, one as JSON and one binary.
        outputs = [httpclient.InferRequestedOutput("FLOATS", binary_data=False),
                   httpclient.InferRequestedOutput("TEXTS", binary_data=True)]
        result = client.infer(model, inputs, outputs=outputs, request_id="req-7")
        np.testing.assert_allclose(result.as_numpy("FLOATS"), floats, rtol=1e-6)
        assert list(result.as_numpy("TEXTS")) == list(texts)
        assert result.as_numpy("INTS") is None
        assert result.get_response()["id"] == "req-7"

    try:
        client.infer("no-such-model", inputs)
        raise AssertionError("an unknown model was accepted")
    except InferenceServerException as error:
        assert "unknown model" in str(error), error
    print("tritonclient: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
