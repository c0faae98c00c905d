"""A small TensorFlow.js graph-model to ONNX converter of the project's own.

Why not TensorFlow + tf2onnx: installing TensorFlow (~600 MB) on an air-gapped install server
to convert one 7 MB detector is a large, moving dependency whose output changes between
versions, which would break the SHA-256 pin of the converted file. A TF.js graph model is a JSON
graph (``modelTopology.node``: op, inputs, attrs) plus binary weight shards described by a
manifest, so converting the handful of ops a pinned model uses is a few hundred lines.

What it does:

* :func:`parse_graph` reads the JSON and the shards (float16 / uint8 / uint16 quantised weights
  are dequantised to float32 exactly as TF.js does: ``q * scale + min`` or a float16 cast).
* :func:`evaluate` is a numpy *reference interpreter* of TF semantics for the supported ops
  (NHWC convolutions with TF's SAME/VALID padding, TF's half-pixel bilinear resize, ...). It
  constant-folds the parts of the graph that do not depend on the input (NanoDet computes its
  reshape targets from ``SparseToDense`` of empty index lists) and is the oracle the tests compare
  the ONNX model against, layer by layer.
* :func:`to_onnx` emits an ONNX graph with :mod:`onnx.helper`: NHWC ops (Conv2D, MaxPool,
  ResizeBilinear) are wrapped in NHWC↔NCHW transposes; ONNX Runtime's transpose optimiser
  cancels the pairs the TF graph already had, so no hand-written layout pass is needed.

Trade-offs and limits: only the ops in :data:`SUPPORTED_OPS` (the 16 NanoDet uses plus a few
trivial ones) are converted; anything else raises :class:`TfjsConversionError` naming the op,
rather than guessing. Shapes are inferred statically from the signature's fixed input shape, so
the ONNX model has the same fixed input size as the TF.js model. Output is deterministic (stable
topological order, fixed names, fixed producer fields, no timestamps) so that the SHA-256 of the
serialised model can be pinned in the model registry.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import onnx
from onnx import ModelProto, TensorProto, helper, numpy_helper

log = logging.getLogger(__name__)

PRODUCER_NAME: Final = "vigil.models.tfjs"
PRODUCER_VERSION: Final = "1"
OPSET: Final = 13
IR_VERSION: Final = 8

Array = npt.NDArray[Any]
Shape = tuple[int, ...]

SUPPORTED_OPS: Final = frozenset(
    {
        "Const", "Placeholder", "Identity", "Add", "AddV2", "Sub", "Mul", "Conv2D", "Pad",
        "PadV2", "Transpose", "LeakyRelu", "Relu", "ConcatV2", "ResizeBilinear", "SplitV",
        "Sigmoid", "Reshape", "MaxPool", "SparseToDense",
    }
)  # fmt: skip

_DTYPES: Final = {
    "float32": np.float32,
    "int32": np.int32,
    "bool": np.bool_,
    "float16": np.float16,
    "uint8": np.uint8,
    "uint16": np.uint16,
}
_TO_NCHW: Final = (0, 3, 1, 2)
_TO_NHWC: Final = (0, 2, 3, 1)


class TfjsConversionError(ValueError):
    """The TF.js graph uses something this converter does not support, or is malformed."""


@dataclass(frozen=True, slots=True)
class TfjsNode:
    """One node of the graph: its op, its data inputs (``name`` or ``name:k``) and attributes."""

    name: str
    op: str
    inputs: tuple[str, ...]
    attrs: Mapping[str, Any]


@dataclass(frozen=True)
class TfjsGraph:
    """A parsed graph model: nodes in topological order, weights, input shapes, outputs."""

    nodes: tuple[TfjsNode, ...]
    weights: Mapping[str, Array]
    inputs: Mapping[str, Shape]
    outputs: tuple[str, ...]


def _ref(name: str) -> str:
    """Canonical tensor name: ``a:0`` and ``a`` are the same tensor."""
    return name[:-2] if name.endswith(":0") else name


def _attr(raw: Mapping[str, Any]) -> Any:
    """Decode one TF.js JSON attribute value into a Python value."""
    if "list" in raw:
        lst = raw["list"]
        if "i" in lst:
            return [int(v) for v in lst["i"]]
        if "f" in lst:
            return [float(v) for v in lst["f"]]
        if "s" in lst:
            return [base64.b64decode(v).decode() for v in lst["s"]]
        return []
    if "s" in raw:
        return base64.b64decode(raw["s"]).decode()
    if "i" in raw:
        return int(raw["i"])
    if "f" in raw:
        return float(raw["f"])
    if "b" in raw:
        return bool(raw["b"])
    if "type" in raw:
        return str(raw["type"])
    return raw


def _decode_weights(
    manifest: Sequence[Mapping[str, Any]], shards: Mapping[str, bytes]
) -> dict[str, Array]:
    weights: dict[str, Array] = {}
    for group in manifest:
        try:
            blob = b"".join(shards[p] for p in group["paths"])
        except KeyError as exc:
            raise TfjsConversionError(f"weight shard {exc.args[0]!r} not supplied") from None
        offset = 0
        for w in group["weights"]:
            shape = tuple(int(d) for d in w["shape"])
            count = int(np.prod(shape, dtype=np.int64))
            quant = w.get("quantization")
            stored = np.dtype(_DTYPES[quant["dtype"] if quant else w["dtype"]])
            nbytes = count * stored.itemsize
            if offset + nbytes > len(blob):
                raise TfjsConversionError(f"weight {w['name']} runs past the end of its shards")
            raw = np.frombuffer(blob, dtype=stored.newbyteorder("<"), count=count, offset=offset)
            offset += nbytes
            if quant and quant["dtype"] != "float16":
                value: Array = raw.astype(np.float32) * np.float32(quant["scale"]) + np.float32(
                    quant["min"]
                )
            else:
                value = raw.astype(_DTYPES[w["dtype"]])
            weights[w["name"]] = value.reshape(shape)
        if offset != len(blob):
            raise TfjsConversionError(f"{len(blob) - offset} unread bytes in weight shards")
    return weights


def _toposort(nodes: Sequence[TfjsNode]) -> tuple[TfjsNode, ...]:
    """Kahn's algorithm, ties broken by file order, so the order is stable across runs."""
    by_name = {n.name: n for n in nodes}
    position = {n.name: i for i, n in enumerate(nodes)}
    deps = {n.name: {_ref(i).split(":")[0] for i in n.inputs} & by_name.keys() for n in nodes}
    users: dict[str, list[str]] = {n.name: [] for n in nodes}
    for name, ds in deps.items():
        for d in ds:
            users[d].append(name)
    ready = sorted((n for n, ds in deps.items() if not ds), key=position.__getitem__)
    out: list[TfjsNode] = []
    pending = {n: len(ds) for n, ds in deps.items()}
    while ready:
        name = ready.pop(0)
        out.append(by_name[name])
        for u in users[name]:
            pending[u] -= 1
            if pending[u] == 0:
                ready.append(u)
        ready.sort(key=position.__getitem__)
    if len(out) != len(nodes):
        raise TfjsConversionError("graph has a cycle or a dangling input")
    return tuple(out)


def parse_graph(model_json: bytes, shards: Mapping[str, bytes]) -> TfjsGraph:
    """Parse a TF.js graph model (``model.json`` bytes and ``{shard file name: bytes}``)."""
    try:
        doc = json.loads(model_json)
        topo = doc["modelTopology"]["node"]
        manifest = doc["weightsManifest"]
    except (ValueError, KeyError, TypeError) as exc:
        raise TfjsConversionError(f"not a TF.js graph model: {exc}") from None
    nodes = []
    for raw in topo:
        refs = tuple(_ref(i) for i in raw.get("input", []) if not i.startswith("^"))
        attrs = {k: _attr(v) for k, v in raw.get("attr", {}).items()}
        nodes.append(TfjsNode(raw["name"], raw["op"], refs, attrs))
    unsupported = sorted({n.op for n in nodes} - SUPPORTED_OPS)
    if unsupported:
        raise TfjsConversionError(f"unsupported TF.js ops: {', '.join(unsupported)}")
    placeholders: dict[str, Shape] = {}
    for n in nodes:
        if n.op == "Placeholder":
            dims = n.attrs["shape"]["shape"]["dim"]
            placeholders[n.name] = tuple(int(d.get("size", -1)) for d in dims)
            if any(d < 0 for d in placeholders[n.name]):
                raise TfjsConversionError(f"input {n.name} has an unknown dimension")
    signature = doc.get("signature", {}).get("outputs", {})
    outputs = tuple(sorted(_ref(v["name"]) for v in signature.values()))
    if not outputs:
        raise TfjsConversionError("the model's signature names no outputs")
    return TfjsGraph(_toposort(nodes), _decode_weights(manifest, shards), placeholders, outputs)


# --------------------------------------------------------------------------- numpy reference


def _tf_same_pads(size: int, k: int, stride: int, dilation: int) -> tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _window_pads(node: TfjsNode, hw: Shape, kernel: Shape) -> tuple[tuple[int, int], ...]:
    strides = node.attrs.get("strides", [1, 1, 1, 1])
    dil = node.attrs.get("dilations", [1, 1, 1, 1])
    if node.attrs.get("padding", "VALID") == "VALID":
        return ((0, 0), (0, 0))
    if node.attrs.get("padding") != "SAME":
        raise TfjsConversionError(f"{node.name}: padding {node.attrs.get('padding')} unsupported")
    return tuple(_tf_same_pads(hw[i], kernel[i], strides[i + 1], dil[i + 1]) for i in range(2))


def _check_nhwc(node: TfjsNode) -> None:
    if node.attrs.get("data_format", "NHWC") != "NHWC":
        raise TfjsConversionError(f"{node.name}: only NHWC data_format is supported")


def _conv2d(node: TfjsNode, x: Array, w: Array) -> Array:
    """TF Conv2D (NHWC input, HWIO filter, grouped when filter in-channels < input channels)."""
    _check_nhwc(node)
    kh, kw, ci, co = w.shape
    groups = x.shape[3] // ci
    (pt, pb), (pl, pr) = _window_pads(node, x.shape[1:3], (kh, kw))
    x = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    _, sh, sw, _ = node.attrs.get("strides", [1, 1, 1, 1])
    _, dh, dw, _ = node.attrs.get("dilations", [1, 1, 1, 1])
    ho = (x.shape[1] - (kh - 1) * dh - 1) // sh + 1
    wo = (x.shape[2] - (kw - 1) * dw - 1) // sw + 1
    out = np.zeros((x.shape[0], ho, wo, co), np.float64)
    cog = co // groups
    for i in range(kh):
        for j in range(kw):
            patch = x[
                :,
                i * dh : i * dh + (ho - 1) * sh + 1 : sh,
                j * dw : j * dw + (wo - 1) * sw + 1 : sw,
            ]
            for g in range(groups):
                out[..., g * cog : (g + 1) * cog] += patch[..., g * ci : (g + 1) * ci].astype(
                    np.float64
                ) @ w[i, j, :, g * cog : (g + 1) * cog].astype(np.float64)
    return out.astype(np.float32)


def _maxpool(node: TfjsNode, x: Array) -> Array:
    _check_nhwc(node)
    _, kh, kw, _ = node.attrs["ksize"]
    _, sh, sw, _ = node.attrs["strides"]
    (pt, pb), (pl, pr) = _window_pads(node, x.shape[1:3], (kh, kw))
    x = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=-np.inf)
    ho = (x.shape[1] - kh) // sh + 1
    wo = (x.shape[2] - kw) // sw + 1
    out = np.full((x.shape[0], ho, wo, x.shape[3]), -np.inf, x.dtype)
    for i in range(kh):
        for j in range(kw):
            out = np.maximum(
                out, x[:, i : i + (ho - 1) * sh + 1 : sh, j : j + (wo - 1) * sw + 1 : sw]
            )
    return out


def _resize_axis(x: Array, axis: int, size: int, node: TfjsNode) -> Array:
    """TF bilinear resize along one axis (half-pixel, align-corners or legacy asymmetric)."""
    n = x.shape[axis]
    dst = np.arange(size, dtype=np.float64)
    if node.attrs.get("align_corners", False):
        src = dst * ((n - 1) / (size - 1) if size > 1 else 0.0)
    elif node.attrs.get("half_pixel_centers", False):
        src = (dst + 0.5) * (n / size) - 0.5
    else:
        src = dst * (n / size)
    lo = np.floor(src)
    frac = (src - lo).reshape([-1 if a == axis else 1 for a in range(x.ndim)])
    i0 = np.clip(lo, 0, n - 1).astype(np.int64)
    i1 = np.clip(np.ceil(src), 0, n - 1).astype(np.int64)
    a, b = np.take(x, i0, axis=axis), np.take(x, i1, axis=axis)
    out: Array = (a + (b - a) * frac).astype(x.dtype)
    return out


def _eval_node(node: TfjsNode, args: list[Array], graph: TfjsGraph) -> list[Array]:
    """TF semantics of one node on numpy inputs (float32 compute, float64 accumulation)."""
    op, a = node.op, node.attrs
    if op == "Const":
        return [graph.weights[node.name]]
    if op == "Identity":
        return [args[0]]
    if op in ("Add", "AddV2"):
        return [np.add(args[0], args[1])]
    if op == "Sub":
        return [np.subtract(args[0], args[1])]
    if op == "Mul":
        return [np.multiply(args[0], args[1])]
    if op == "Conv2D":
        return [_conv2d(node, args[0], args[1])]
    if op in ("Pad", "PadV2"):
        value = args[2].item() if op == "PadV2" else 0
        return [np.pad(args[0], args[1].astype(np.int64), constant_values=value)]
    if op == "Transpose":
        return [np.transpose(args[0], args[1].astype(np.int64))]
    if op == "LeakyRelu":
        alpha = np.float32(a.get("alpha", 0.2))
        return [np.where(args[0] > 0, args[0], args[0] * alpha).astype(args[0].dtype)]
    if op == "Relu":
        return [np.maximum(args[0], 0)]
    if op == "ConcatV2":
        return [np.concatenate(args[:-1], axis=int(args[-1]))]
    if op == "ResizeBilinear":
        h, w = (int(v) for v in args[1])
        return [_resize_axis(_resize_axis(args[0], 1, h, node), 2, w, node)]
    if op == "SplitV":
        x, sizes, axis = args[0], [int(s) for s in args[1]], int(args[2])
        if -1 in sizes:
            sizes[sizes.index(-1)] = x.shape[axis] - (sum(sizes) + 1)
        return list(np.split(x, np.cumsum(sizes)[:-1], axis=axis))
    if op == "Sigmoid":
        return [(1.0 / (1.0 + np.exp(-args[0].astype(np.float64)))).astype(np.float32)]
    if op == "Reshape":
        return [np.reshape(args[0], args[1].astype(np.int64))]
    if op == "MaxPool":
        return [_maxpool(node, args[0])]
    if op == "SparseToDense":
        idx, shape, values, default = args
        out = np.full(shape.astype(np.int64), default, dtype=values.dtype)
        if idx.size:
            out[tuple(idx.reshape(len(idx), -1).T.astype(np.int64))] = values
        return [out]
    raise TfjsConversionError(f"{node.name}: op {op} has no reference implementation")


def _output_names(node: TfjsNode, count: int) -> list[str]:
    return [node.name if k == 0 else f"{node.name}:{k}" for k in range(count)]


def evaluate(
    graph: TfjsGraph, feeds: Mapping[str, Array], *, constants_only: bool = False
) -> dict[str, Array]:
    """Run the graph with the numpy reference; returns every tensor by name.

    With ``constants_only`` nodes that depend on a placeholder are skipped (constant folding).
    Slow (seconds for a 416 × 416 detector): a test oracle and a folding tool, not a runtime.
    """
    values: dict[str, Array] = {}
    for node in graph.nodes:
        if node.op == "Placeholder":
            if not constants_only:
                values[node.name] = np.asarray(feeds[node.name], np.float32)
            continue
        if any(i not in values for i in node.inputs):
            if constants_only:
                continue
            missing = [i for i in node.inputs if i not in values]
            raise TfjsConversionError(f"{node.name}: inputs {missing} not computed")
        outs = _eval_node(node, [values[i] for i in node.inputs], graph)
        values.update(zip(_output_names(node, len(outs)), outs, strict=True))
    return values


# --------------------------------------------------------------------------- shapes


def _infer_shapes(graph: TfjsGraph, consts: Mapping[str, Array]) -> dict[str, Shape]:
    """Static shapes of every tensor from the fixed input shapes (no arithmetic on data)."""
    shapes: dict[str, Shape] = {k: tuple(v.shape) for k, v in consts.items()}
    shapes.update(graph.inputs)
    for node in graph.nodes:
        if node.name in shapes or node.op == "Placeholder":
            continue
        ins = [shapes[i] for i in node.inputs]
        outs = _node_shapes(node, ins, consts)
        shapes.update(zip(_output_names(node, len(outs)), outs, strict=True))
    return shapes


def _window_out(node: TfjsNode, x: Shape, kernel: Shape, channels: int) -> Shape:
    (pt, pb), (pl, pr) = _window_pads(node, x[1:3], kernel)
    _, sh, sw, _ = node.attrs.get("strides", [1, 1, 1, 1])
    _, dh, dw, _ = node.attrs.get("dilations", [1, 1, 1, 1])
    ho = (x[1] + pt + pb - (kernel[0] - 1) * dh - 1) // sh + 1
    wo = (x[2] + pl + pr - (kernel[1] - 1) * dw - 1) // sw + 1
    return (x[0], ho, wo, channels)


def _node_shapes(node: TfjsNode, ins: list[Shape], consts: Mapping[str, Array]) -> list[Shape]:
    op = node.op

    def const(k: int) -> Array:
        name = node.inputs[k]
        if name not in consts:
            raise TfjsConversionError(f"{node.name}: input {k} ({name}) must be constant")
        return consts[name]

    if op in ("Identity", "Sigmoid", "LeakyRelu", "Relu"):
        return [ins[0]]
    if op in ("Add", "AddV2", "Sub", "Mul"):
        return [tuple(np.broadcast_shapes(ins[0], ins[1]))]
    if op == "Conv2D":
        w = ins[1]
        return [_window_out(node, ins[0], (w[0], w[1]), w[3])]
    if op == "MaxPool":
        _, kh, kw, _ = node.attrs["ksize"]
        return [_window_out(node, ins[0], (kh, kw), ins[0][3])]
    if op in ("Pad", "PadV2"):
        p = const(1).astype(np.int64)
        return [tuple(int(d + p[i, 0] + p[i, 1]) for i, d in enumerate(ins[0]))]
    if op == "Transpose":
        return [tuple(ins[0][int(i)] for i in const(1))]
    if op == "ConcatV2":
        axis = int(const(len(ins) - 1)) % len(ins[0])
        total = sum(s[axis] for s in ins[:-1])
        return [tuple(total if i == axis else d for i, d in enumerate(ins[0]))]
    if op == "ResizeBilinear":
        size = [int(v) for v in const(1)]
        return [(ins[0][0], size[0], size[1], ins[0][3])]
    if op == "SplitV":
        sizes, axis = [int(s) for s in const(1)], int(const(2)) % len(ins[0])
        if -1 in sizes:
            sizes[sizes.index(-1)] = ins[0][axis] - (sum(sizes) + 1)
        return [tuple(s if i == axis else d for i, d in enumerate(ins[0])) for s in sizes]
    if op == "Reshape":
        target = [int(v) for v in const(1)]
        if -1 in target:
            known = int(np.prod([t for t in target if t != -1]))
            target[target.index(-1)] = int(np.prod(ins[0])) // max(known, 1)
        return [tuple(target)]
    raise TfjsConversionError(f"{node.name}: no shape rule for op {op}")


# --------------------------------------------------------------------------- ONNX emission


class _Emitter:
    """Accumulates ONNX nodes and initialisers with deterministic, collision-free names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: dict[str, TensorProto] = {}

    def const(self, name: str, value: Array) -> str:
        if name not in self.inits:
            self.inits[name] = numpy_helper.from_array(np.ascontiguousarray(value), name)
        return name

    def node(self, op: str, inputs: Sequence[str], outputs: Sequence[str], **attrs: Any) -> None:
        name = f"{outputs[0]}__{op}"
        self.nodes.append(helper.make_node(op, list(inputs), list(outputs), name=name, **attrs))

    def nchw(self, x: str, out: str, op: str, inputs: Sequence[str], **attrs: Any) -> None:
        """Run an NCHW ONNX op on an NHWC tensor: transpose in, op, transpose back."""
        self.node("Transpose", [x], [f"{out}__nchw_in"], perm=list(_TO_NCHW))
        self.node(op, [f"{out}__nchw_in", *inputs], [f"{out}__nchw_out"], **attrs)
        self.node("Transpose", [f"{out}__nchw_out"], [out], perm=list(_TO_NHWC))


def _operand(em: _Emitter, name: str, consts: Mapping[str, Array]) -> str:
    """A data input: a constant becomes an initialiser (float weights stay float32)."""
    if name in consts:
        value = consts[name]
        if value.dtype == np.float64:
            value = value.astype(np.float32)
        return em.const(name, value)
    return name


def _emit_node(
    em: _Emitter, node: TfjsNode, consts: Mapping[str, Array], shapes: Mapping[str, Shape]
) -> None:
    op, a, ins, out = node.op, node.attrs, node.inputs, node.name
    if op in ("Identity", "Sigmoid", "Relu"):
        em.node(op, [ins[0]], [out])
    elif op == "LeakyRelu":
        em.node("LeakyRelu", [ins[0]], [out], alpha=float(a.get("alpha", 0.2)))
    elif op in ("Add", "AddV2", "Sub", "Mul"):
        onnx_op = {"Add": "Add", "AddV2": "Add", "Sub": "Sub", "Mul": "Mul"}[op]
        em.node(onnx_op, [_operand(em, i, consts) for i in ins[:2]], [out])
    elif op == "Conv2D":
        w = consts[ins[1]]
        groups = shapes[ins[0]][3] // w.shape[2]
        (pt, pb), (pl, pr) = _window_pads(node, shapes[ins[0]][1:3], w.shape[:2])
        weight = em.const(f"{ins[1]}__oihw", np.transpose(w, (3, 2, 0, 1)).astype(np.float32))
        em.nchw(
            ins[0], out, "Conv", [weight],
            kernel_shape=list(w.shape[:2]), strides=list(a.get("strides", [1, 1, 1, 1])[1:3]),
            dilations=list(a.get("dilations", [1, 1, 1, 1])[1:3]), pads=[pt, pl, pb, pr],
            group=int(groups),
        )  # fmt: skip
    elif op == "MaxPool":
        k = a["ksize"][1:3]
        (pt, pb), (pl, pr) = _window_pads(node, shapes[ins[0]][1:3], tuple(k))
        em.nchw(
            ins[0], out, "MaxPool", [], kernel_shape=list(k), strides=list(a["strides"][1:3]),
            pads=[pt, pl, pb, pr],
        )  # fmt: skip
    elif op in ("Pad", "PadV2"):
        p = consts[ins[1]].astype(np.int64)
        pads = em.const(f"{out}__pads", np.concatenate([p[:, 0], p[:, 1]]))
        extra = [_operand(em, ins[2], consts)] if op == "PadV2" else []
        em.node("Pad", [ins[0], pads, *extra], [out], mode="constant")
    elif op == "Transpose":
        em.node("Transpose", [ins[0]], [out], perm=[int(v) for v in consts[ins[1]]])
    elif op == "ConcatV2":
        axis = int(consts[ins[-1]])
        em.node("Concat", [_operand(em, i, consts) for i in ins[:-1]], [out], axis=axis)
    elif op == "ResizeBilinear":
        n, _, _, c = shapes[ins[0]]
        hw = [int(v) for v in consts[ins[1]]]
        sizes = em.const(f"{out}__sizes", np.array([n, c, *hw], np.int64))
        empty = em.const("__empty_f32", np.zeros(0, np.float32))
        mode = (
            "align_corners"
            if a.get("align_corners")
            else "half_pixel"
            if a.get("half_pixel_centers")
            else "asymmetric"
        )
        em.nchw(
            ins[0], out, "Resize", [empty, empty, sizes], mode="linear",
            coordinate_transformation_mode=mode,
        )  # fmt: skip
    elif op == "SplitV":
        outs = _output_names(node, len([k for k in shapes if k.split(":")[0] == out]))
        parts = [shapes[o][int(consts[ins[2]]) % len(shapes[ins[0]])] for o in outs]
        split = em.const(f"{out}__split", np.array(parts, np.int64))
        em.node("Split", [ins[0], split], outs, axis=int(consts[ins[2]]))
    elif op == "Reshape":
        shape = em.const(f"{out}__shape", np.array(shapes[out], np.int64))
        em.node("Reshape", [ins[0], shape], [out])
    else:
        raise TfjsConversionError(f"{node.name}: op {op} cannot be emitted")


def to_onnx(graph: TfjsGraph, *, model_name: str = "tfjs") -> ModelProto:
    """Convert a parsed graph into an ONNX model (opset 13, fixed input shape).

    Input-independent sub-graphs are folded with the numpy reference first, so ops that only
    compute shapes (``SparseToDense``, arithmetic on shape vectors) never reach ONNX.
    """
    consts = evaluate(graph, {}, constants_only=True)
    shapes = _infer_shapes(graph, consts)
    em = _Emitter()
    for node in graph.nodes:
        if node.op in ("Const", "Placeholder") or node.name in consts:
            continue
        _emit_node(em, node, consts, shapes)
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))
        for name, shape in sorted(graph.inputs.items())
    ]
    outputs = [
        helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shapes[name]))
        for name in graph.outputs
    ]
    onnx_graph = helper.make_graph(
        em.nodes, model_name, inputs, outputs, initializer=list(em.inits.values())
    )
    model = helper.make_model(
        onnx_graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=PRODUCER_NAME,
        producer_version=PRODUCER_VERSION,
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def serialize(model: ModelProto) -> bytes:
    """Deterministic bytes of a model (protobuf map-free messages serialise stably)."""
    data: bytes = model.SerializeToString(deterministic=True)
    return data


def convert(model_json: bytes, shards: Mapping[str, bytes], *, model_name: str = "tfjs") -> bytes:
    """TF.js graph model to serialised ONNX bytes (parse, fold, emit, serialise)."""
    graph = parse_graph(model_json, shards)
    model = to_onnx(graph, model_name=model_name)
    log.debug("converted TF.js graph %s: %d ONNX nodes", model_name, len(model.graph.node))
    return serialize(model)
