"""The TF.js → ONNX converter against its numpy reference of TF semantics, op by op."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from vigil.models import tfjs

RNG = np.random.default_rng(0)


def _const(name: str, value: np.ndarray) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    dtype = "int32" if value.dtype.kind in "iu" else "float32"
    node = {"name": name, "op": "Const", "attr": {"value": {"tensor": {}}}}
    stored = value.astype(np.int32 if dtype == "int32" else np.float16)
    entry: dict[str, Any] = {"name": name, "shape": list(value.shape), "dtype": dtype}
    if dtype == "float32":
        entry["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
    return node, entry, stored.tobytes()


def _s(text: str) -> dict[str, str]:
    return {"s": base64.b64encode(text.encode()).decode()}


def _ints(*v: int) -> dict[str, Any]:
    return {"list": {"i": [str(i) for i in v]}}


def _model() -> tuple[bytes, dict[str, bytes]]:
    """A graph touching every supported op, including the shape arithmetic NanoDet folds."""
    consts = {
        "w1": RNG.normal(size=(3, 3, 3, 8)).astype(np.float32),
        "b1": RNG.normal(size=(8,)).astype(np.float32),
        "w2": RNG.normal(size=(3, 3, 4, 8)).astype(np.float32),  # grouped (2 groups)
        "pads": np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32),
        "pv": np.array(0.5, np.float32).reshape(()),
        "perm": np.array([0, 2, 3, 1], np.int32),
        "size": np.array([12, 12], np.int32),
        "splits": np.array([3, -1], np.int32),
        "axis": np.array(3, np.int32).reshape(()),
        "where": np.zeros((0, 1), np.int32),
        "dense_shape": np.array([3], np.int32),
        "vals": np.zeros((0,), np.int32),
        "zero": np.array(0, np.int32).reshape(()),
        "base_shape": np.array([1, -1, 8], np.int32),
    }
    nodes, weights, blobs = [], [], []
    for name, value in consts.items():
        n, w, b = _const(name, value)
        nodes.append(n)
        weights.append(w)
        blobs.append(b)
    conv = {"strides": _ints(1, 1, 1, 1), "dilations": _ints(1, 1, 1, 1)}
    nodes += [
        {"name": "x", "op": "Placeholder",
         "attr": {"shape": {"shape": {"dim": [{"size": "1"}, {"size": "3"}, {"size": "12"},
                                              {"size": "12"}]}}}},
        {"name": "t", "op": "Transpose", "input": ["x", "perm"]},
        {"name": "c1", "op": "Conv2D", "input": ["t", "w1"],
         "attr": {**conv, "padding": _s("SAME"), "data_format": _s("NHWC")}},
        {"name": "a1", "op": "Add", "input": ["c1", "b1"]},
        {"name": "l1", "op": "LeakyRelu", "input": ["a1"], "attr": {"alpha": {"f": 0.1}}},
        {"name": "p1", "op": "PadV2", "input": ["l1", "pads", "pv"]},
        {"name": "c2", "op": "Conv2D", "input": ["p1", "w2"],
         "attr": {**conv, "strides": _ints(1, 2, 2, 1), "padding": _s("VALID")}},
        {"name": "mp", "op": "MaxPool", "input": ["c2"],
         "attr": {"ksize": _ints(1, 3, 3, 1), "strides": _ints(1, 2, 2, 1),
                  "padding": _s("SAME")}},
        {"name": "rs", "op": "ResizeBilinear", "input": ["mp", "size"],
         "attr": {"half_pixel_centers": {"b": True}, "align_corners": {"b": False}}},
        {"name": "sp", "op": "SplitV", "input": ["rs", "splits", "axis"],
         "attr": {"num_split": {"i": "2"}}},
        {"name": "sg", "op": "Sigmoid", "input": ["sp"]},
        {"name": "cat", "op": "ConcatV2", "input": ["sg", "sp:1", "axis"]},
        {"name": "sd", "op": "SparseToDense", "input": ["where", "dense_shape", "vals", "zero"]},
        {"name": "shape", "op": "AddV2", "input": ["base_shape", "sd"]},
        {"name": "pd", "op": "Pad", "input": ["cat", "pads"]},
        {"name": "r", "op": "Reshape", "input": ["pd", "shape"]},
        {"name": "Identity", "op": "Identity", "input": ["r"]},
    ]  # fmt: skip
    doc = {
        "format": "graph-model",
        "signature": {"outputs": {"Identity:0": {"name": "Identity:0"}}},
        "modelTopology": {"node": nodes},
        "weightsManifest": [{"paths": ["w.bin"], "weights": weights}],
    }
    return json.dumps(doc).encode(), {"w.bin": b"".join(blobs)}


def test_converted_model_matches_the_numpy_reference() -> None:
    model_json, shards = _model()
    graph = tfjs.parse_graph(model_json, shards)
    data = tfjs.convert(model_json, shards)
    x = RNG.normal(size=(1, 3, 12, 12)).astype(np.float32)
    ref = tfjs.evaluate(graph, {"x": x})
    (got,) = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})
    assert got.shape == ref["Identity"].shape == (1, 14 * 14, 8)
    np.testing.assert_allclose(got, ref["Identity"], rtol=1e-4, atol=1e-4)


def test_conversion_is_deterministic() -> None:
    model_json, shards = _model()
    first = hashlib.sha256(tfjs.convert(model_json, shards)).hexdigest()
    assert first == hashlib.sha256(tfjs.convert(model_json, shards)).hexdigest()


def test_reference_conv_matches_a_direct_loop() -> None:
    x = RNG.normal(size=(1, 5, 6, 2)).astype(np.float32)
    w = RNG.normal(size=(3, 3, 2, 4)).astype(np.float32)
    node = tfjs.TfjsNode("c", "Conv2D", (), {"padding": "VALID", "strides": [1, 1, 1, 1]})
    out = tfjs._conv2d(node, x, w)
    direct = np.zeros((1, 3, 4, 4), np.float64)
    for i in range(3):
        for j in range(4):
            direct[0, i, j] = np.einsum("hwc,hwco->o", x[0, i : i + 3, j : j + 3], w)
    np.testing.assert_allclose(out, direct, rtol=1e-5, atol=1e-5)


def test_unsupported_op_is_named() -> None:
    doc = {
        "modelTopology": {"node": [{"name": "n", "op": "NonMaxSuppressionV5", "input": []}]},
        "weightsManifest": [],
    }
    with pytest.raises(tfjs.TfjsConversionError, match="NonMaxSuppressionV5"):
        tfjs.parse_graph(json.dumps(doc).encode(), {})


def test_truncated_shard_is_rejected() -> None:
    model_json, shards = _model()
    with pytest.raises(tfjs.TfjsConversionError, match="past the end"):
        tfjs.parse_graph(model_json, {"w.bin": shards["w.bin"][:-4]})
