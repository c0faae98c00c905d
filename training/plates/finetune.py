"""Fine-tune PP-OCRv4's recogniser on synthetic plates, restricted to the plate alphabet.

    nice -n 19 python -m training.plates.finetune --out runs/plates-ft --seed 21  # the recipe
    python -m training.plates.finetune --out runs/plates-ft --export plate-rec-ft.onnx

PP-OCRv4 (the recogniser Vigil already installs, ``ppocr-v4-rec``) reads plates well but was
trained mostly on Chinese text lines: its misses on plates are one-character confusions of plate
fonts. Training from scratch on a CPU cannot match what it already knows, so this script keeps its
weights and adapts them: the ONNX graph is converted to PyTorch with ``onnx2torch``, its output
layer (6,625 characters) is sliced to ``blank + 0-9A-Z`` (the same rows of the same weights, so
step 0 reads as PP-OCRv4 does, minus the characters a plate cannot hold), and only the layers
after the backbone (the SVTR neck and the output layer; ``--unfreeze`` more of the backbone's last
convolutions) are trained with a low learning rate on crops from :mod:`training.plates.synth`.
The backbone still runs forward every step, so a step costs about as much as PP-OCRv4 reading the
batch; the backward pass stays cheap. Batch norm stays in inference mode (batches are small).

Crops are drawn as the reader hands them to the recogniser (:mod:`vigil.perception.plates.text`):
the warped character row, BGR, 48 px high, ``STRETCH`` times its aspect ratio wide (the reader's
``PlateRules.stretch``). Crops in a batch are padded on the right by repeating their last column.

The exported ONNX file has the same input as PP-OCRv4 (``[N, 3, 48, W]`` BGR, ``(x/255-0.5)/0.5``)
and outputs ``[N, W/8, 37]`` probabilities; its ``character`` metadata lists ``0-9A-Z``, so
:class:`vigil.perception.plates.text.TextRecognizer` reads it unchanged.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import types
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from training.plates import synth
from training.plates.train import CHARSET

HEIGHT = 48
STRETCH = 1.3  # vigil.perception.plates.reader.PlateRules.stretch
MAX_WIDTH = 320  # as PP-OCR's own training; wider crops are squeezed
NECK_BATCH_NORMS = 5


def _stub_torchvision() -> None:
    """Let ``onnx2torch`` import where torchvision's compiled operators do not load.

    onnx2torch imports torchvision at module level for two converters only (NonMaxSuppression,
    RoiAlign); the recogniser's graph has neither. A torchvision wheel built against another
    torch (the case on these machines) raises at import, so a placeholder stands in for it.
    """
    try:
        import torchvision  # noqa: F401

        return
    except (ImportError, RuntimeError):
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
    tv = types.ModuleType("torchvision")
    ops = types.ModuleType("torchvision.ops")
    ops.nms = ops.roi_align = None  # type: ignore[attr-defined]
    tv.ops = ops  # type: ignore[attr-defined]
    sys.modules["torchvision"], sys.modules["torchvision.ops"] = tv, ops


def convert_ppocr(path: Path) -> tuple[torch.fx.GraphModule, list[str]]:
    """PP-OCRv4's recogniser as a PyTorch graph module, and its character list.

    The Paddle export stores every weight as a ``Constant`` node; onnx2torch wants initializers,
    so they are moved first. Shape inference loses the rank after the neck's dynamic reshape,
    and onnx2torch's batch norm needs it: those inputs are marked 4-D (they are conv outputs).
    """
    import onnx

    _stub_torchvision()
    from onnx2torch import convert

    model = onnx.load(str(path))
    chars = next(p.value for p in model.metadata_props if p.key == "character").splitlines()
    graph = model.graph
    kept = []
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute[0].name == "value":
            t = onnx.TensorProto()
            t.CopyFrom(node.attribute[0].t)
            t.name = node.output[0]
            graph.initializer.append(t)
        else:
            kept.append(node)
    del graph.node[:]
    graph.node.extend(kept)
    del graph.value_info[:]
    model = onnx.shape_inference.infer_shapes(model)
    info = {v.name: v for v in model.graph.value_info}
    for node in model.graph.node:
        v = info.get(node.input[0]) if node.op_type == "BatchNormalization" else None
        if v is not None and not v.type.tensor_type.shape.dim:
            for _ in range(4):
                v.type.tensor_type.shape.dim.add()
    return convert(model, attach_onnx_mapping=True), ["<blank>", *chars, " "]


def onnx_sources(body: torch.fx.GraphModule, path: Path) -> dict[str, str]:
    """Which ONNX constant each float tensor of ``body`` came from (torch name -> ONNX name).

    onnx2torch adds one module per ONNX node, in the graph's order: a convolution or batch norm
    holds its weights, other nodes take theirs as ``get_attr`` arguments in input order.
    """
    import onnx

    nodes = [n for n in onnx.load(str(path)).graph.node if n.op_type != "Constant"]
    calls = [n for n in body.graph.nodes if n.op == "call_module"]
    if len(nodes) != len(calls):
        raise ValueError(f"{len(calls)} converted nodes for {len(nodes)} ONNX nodes")
    out: dict[str, str] = {}
    for proto, call in zip(nodes, calls, strict=True):
        mod = body.get_submodule(str(call.target))
        if isinstance(mod, nn.Conv2d):
            names = ["weight", "bias"]
        elif isinstance(mod, nn.modules.batchnorm._BatchNorm):
            names = ["weight", "bias", "running_mean", "running_var"]
        else:
            inputs = mod.onnx_mapping.inputs  # type: ignore[union-attr]
            for value, arg in zip(inputs, call.args, strict=False):
                if isinstance(arg, torch.fx.Node) and arg.op == "get_attr":
                    out[str(arg.target)] = value
            continue
        for name, value in zip(names, proto.input[1:], strict=False):
            out[f"{call.target}.{name}"] = value
    return out


class PlateOCR(nn.Module):
    """PP-OCRv4's graph up to its features, then a linear layer over ``blank + 0-9A-Z``.

    ``forward`` returns logits ``[N, T, 37]``; :func:`export` writes the trained weights back
    into PP-OCRv4's own graph, whose output layer already applies the softmax.
    """

    def __init__(self, body: torch.fx.GraphModule, charset: list[str]) -> None:
        super().__init__()
        nodes = {n.name: n for n in body.graph.nodes}
        out = next(n for n in body.graph.nodes if n.op == "output")
        softmax = out.args[0]
        add = softmax.args[0]
        matmul, bias_node = add.args
        feats, weight_node = matmul.args
        w = body.get_buffer(str(weight_node.target))
        b = body.get_buffer(str(bias_node.target))
        idx = [0, *(charset.index(c) for c in synth.ALPHABET)]
        self.fc = nn.Linear(w.shape[0], len(idx))
        with torch.no_grad():
            self.fc.weight.copy_(w[:, idx].T)
            self.fc.bias.copy_(b[idx])
        out.args = (feats,)
        for n in (softmax, add, matmul, weight_node, bias_node):
            body.graph.erase_node(n)
        body.graph.lint()
        body.recompile()
        _params_from_buffers(body)
        self.body = body
        self.order = [n for n in body.graph.nodes if n.op in ("call_module", "get_attr")]
        self.sources: dict[str, str] = {}  # torch tensor -> ONNX constant (onnx_sources)
        self.split_at: torch.fx.Node | None = None  # first trained node (train_only_head)
        object.__setattr__(self, "head", None)  # the trained part (split), not a submodule
        self.head: torch.fx.GraphModule | None
        del nodes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x))

    def forward_features(self, feats: torch.Tensor) -> torch.Tensor:
        """Logits from the frozen part's output (:meth:`split` first)."""
        if self.head is None:
            raise RuntimeError("call split() first")
        return self.fc(self.head(feats))

    def split(self, source: Path) -> Any:
        """An ONNX Runtime session for the frozen part; the trained part becomes ``self.head``.

        The frozen backbone costs most of a step and needs no gradient, so it runs in ONNX
        Runtime (several times faster than the converted graph on a CPU); the trained part is a
        copy of the graph from the first trained node on, sharing this module's parameters (so
        the state dict and :func:`export` are unchanged).
        """
        import onnx
        import onnxruntime as ort

        if self.split_at is None:
            raise RuntimeError("call train_only_head() first")
        first = self.split_at
        feats = first.args[0]
        if not isinstance(feats, torch.fx.Node):
            raise ValueError("the first trained node takes no tensor input")
        module = self.body.get_submodule(str(first.target))
        name = module.onnx_mapping.inputs[0]  # type: ignore[union-attr]
        graph = torch.fx.Graph()
        env: dict[torch.fx.Node, torch.fx.Node] = {feats: graph.placeholder("feats")}
        nodes = list(self.body.graph.nodes)
        for n in nodes:
            if n.op == "get_attr":
                env[n] = graph.node_copy(n)
        for n in nodes[nodes.index(first) :]:
            if n.op == "get_attr":
                continue
            outside = [a for a in n.all_input_nodes if a not in env]
            if outside:  # a skip connection from before the split: one tensor cannot carry it
                raise ValueError(
                    f"the split before {first.target} is crossed by a residual connection "
                    f"({outside[0]} feeds {n}): unfreeze fewer or more backbone convolutions"
                )
            env[n] = graph.node_copy(n, lambda a: env[a])
        head = torch.fx.GraphModule(self.body, graph)
        head.graph.eliminate_dead_code()
        head.recompile()
        object.__setattr__(self, "head", head)  # not a submodule: its tensors are the body's
        model = onnx.utils.Extractor(onnx.shape_inference.infer_shapes(onnx.load(str(source))))
        backbone = model.extract_model([model.graph.input[0].name], [name])
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = torch.get_num_threads()
        opts.inter_op_num_threads = 1
        return ort.InferenceSession(
            backbone.SerializeToString(), sess_options=opts, providers=["CPUExecutionProvider"]
        )

    def train_only_head(self, unfreeze: int = 0) -> list[nn.Parameter]:
        """Freeze the backbone; the neck, the output layer and the last ``unfreeze`` backbone
        convolutions train. Returns the trainable parameters.

        The neck is found by its batch norms: the Paddle export folded the backbone's into its
        convolutions, and the SVTR neck's five convolutions (two in, two out, one 1x1) kept
        theirs, the last five of the graph.
        """
        bns = [i for i, n in enumerate(self.order) if "BatchNormalization" in str(n.target)]
        neck = bns[-NECK_BATCH_NORMS]
        convs = [i for i, n in enumerate(self.order[:neck]) if "/Conv/" in str(n.target)]
        start = convs[-1 - unfreeze] if convs else neck
        self.split_at = self.order[start]
        for p in self.body.parameters():
            p.requires_grad_(False)
        trainable: list[nn.Parameter] = list(self.fc.parameters())
        seen: set[int] = set()
        for node in self.order[start:]:
            owner = self.body.get_submodule(node.target) if node.op == "call_module" else None
            params = (
                list(owner.parameters())
                if owner is not None
                else [self.body.get_parameter(str(node.target))]
                if _is_param(self.body, str(node.target))
                else []
            )
            for p in params:
                if id(p) not in seen and p.dtype.is_floating_point:
                    seen.add(id(p))
                    p.requires_grad_(True)
                    trainable.append(p)
        return trainable


def _is_param(body: nn.Module, target: str) -> bool:
    try:
        body.get_parameter(target)
    except AttributeError:
        return False
    return True


def _params_from_buffers(body: nn.Module) -> None:
    """onnx2torch keeps initializers as buffers; float ones become parameters (trainable)."""
    inits = body.get_submodule("initializers")
    for name, buf in list(inits.named_buffers(recurse=False)):
        if buf.dtype.is_floating_point and buf.numel() > 1:
            delattr(inits, name)
            inits.register_parameter(name, nn.Parameter(buf.clone()))


def crop(
    rng: np.random.Generator,
    separate: bool = False,
    detector_like: bool = False,
    colour: bool = False,
) -> tuple[npt.NDArray[np.uint8], str]:
    """One synthetic crop as the reader hands it over (native size) and its label.

    Grey (``[H, W]``), or BGR (``[H, W, 3]``) with ``colour`` (:func:`synth.colourise`, drawn
    after everything else, so the grey recipes stay bit-identical).
    ``separate``: unlabelled marks kept clear of the row (:func:`synth.render_plate`);
    ``detector_like``: crop extents as the text detector gives them (:func:`synth._crop_row`).
    """
    region = synth.REGIONS[int(rng.integers(len(synth.REGIONS)))]
    text = synth.random_text(rng, region)
    plate, row = synth.render_plate(rng, text, region, separate)
    scene = bool(rng.random() < 0.5)
    if scene:
        plate, row = synth._in_scene(rng, plate, row)
    box = synth._crop_row(rng, plate, row, wide=scene, detector_like=detector_like)
    grey = synth.degrade(rng, box)
    return (synth.colourise(rng, grey) if colour else grey), text


def to_input(img: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """``[3, 48, W]`` in [-1, 1] as :class:`~vigil.perception.plates.text.TextRecognizer`
    prepares a crop (grey or BGR) at the reader's stretch."""
    h, w = img.shape[:2]
    nw = int(np.clip(np.ceil(HEIGHT * STRETCH * w / h), 16, MAX_WIDTH))
    bgr = img if img.ndim == 3 else cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    x = cv2.resize(bgr, (nw, HEIGHT)).astype(np.float32)
    return np.asarray(((x / 255.0 - 0.5) / 0.5).transpose(2, 0, 1), np.float32)


def make_batch(
    seed: int,
    step: int,
    n: int,
    *,
    separate: bool = False,
    detector_like: bool = False,
    colour: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images (padded by repeating the last column), targets and target lengths of ``step``."""
    rng = np.random.default_rng([seed, step])
    xs, labels = [], []
    for _ in range(n):
        g, text = crop(rng, separate, detector_like, colour)
        xs.append(to_input(g))
        labels.append(text)
    width = max(x.shape[2] for x in xs)
    x = np.stack([np.pad(a, ((0, 0), (0, 0), (0, width - a.shape[2])), mode="edge") for a in xs])
    targets = [CHARSET.index(c) for t in labels for c in t]
    return torch.from_numpy(x), torch.tensor(targets), torch.tensor([len(t) for t in labels])


def build(source: Path) -> PlateOCR:
    body, charset = convert_ppocr(source)
    sources = onnx_sources(body, source)  # before the output layer is replaced
    net = PlateOCR(body, charset)
    net.sources = sources
    net.eval()  # batch norm in inference mode throughout; the graph has no dropout
    return net


def train(args: argparse.Namespace) -> None:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    net = build(Path(args.source))
    params = net.train_only_head(args.unfreeze)
    backbone = net.split(Path(args.source))
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=1e-4)
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    step = 0
    ckpt = out / "checkpoint.pt"
    if ckpt.is_file():
        state = torch.load(ckpt, weights_only=True)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step = int(state["step"])
        print(f"resumed at step {step}", flush=True)
    else:
        torch.save(net.state_dict(), out / "model-000000.pt")
    log = (out / "log.jsonl").open("a")
    t0, running = time.time(), None
    until = args.until or args.steps
    while step < until:
        for group in opt.param_groups:  # warm-up, then linear decay to a tenth
            warm = min(1.0, (step + 1) / max(1, args.warmup))
            group["lr"] = args.lr * warm * (1.0 - 0.9 * step / args.steps)
        x, y, lens = make_batch(
            args.seed,
            step,
            args.batch,
            separate=args.separate,
            detector_like=args.detector_crops,
            colour=args.colour,
        )
        feats = torch.from_numpy(backbone.run(None, {backbone.get_inputs()[0].name: x.numpy()})[0])
        logp = net.forward_features(feats).log_softmax(-1).permute(1, 0, 2)  # T, N, C
        inp = torch.full((x.shape[0],), logp.shape[0], dtype=torch.long)
        loss = ctc(logp, y, inp, lens)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        step += 1
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if step % args.save_every == 0 or step == until:
            rec = {"step": step, "loss": round(running, 4), "s": round(time.time() - t0, 1)}
            print(json.dumps(rec), flush=True)
            log.write(json.dumps(rec) + "\n")
            log.flush()
            state = {"model": net.state_dict(), "opt": opt.state_dict(), "step": step}
            torch.save(state, out / "checkpoint.tmp")
            (out / "checkpoint.tmp").replace(ckpt)
            torch.save(net.state_dict(), out / f"model-{step:06d}.pt")


def export(source: Path, weights: Path | None, dest: Path) -> None:
    """Write the trained weights into PP-OCRv4's own ONNX graph; ``character`` is ``0-9A-Z``.

    Tracing the converted module would fix the input width (its reshapes read shapes as
    numbers), so the original graph, whose width is dynamic, is kept and only its constants
    change: every converted tensor goes back to the constant it came from, and the output
    layer's weight and bias become the 37 sliced rows.
    """
    import onnx
    from onnx import numpy_helper

    net = build(source)
    if weights is not None:
        state: dict[str, Any] = torch.load(weights, weights_only=True)
        state = state.get("model", state)
        net.load_state_dict({k: v for k, v in state.items() if not k.startswith("head.")})
    values: dict[str, npt.NDArray[np.float32]] = {}
    for tname, oname in net.sources.items():
        t = net.body.get_parameter(tname) if _is_param(net.body, tname) else None
        t = t if t is not None else net.body.get_buffer(tname)
        values.setdefault(oname, t.detach().numpy())
    model = onnx.load(str(source))
    nodes = list(model.graph.node)
    matmul = next(n for n in reversed(nodes) if n.op_type == "MatMul")
    add = next(n for n in reversed(nodes) if n.op_type == "Add")
    values[matmul.input[1]] = net.fc.weight.detach().numpy().T.copy()
    values[add.input[1]] = net.fc.bias.detach().numpy().copy()
    for node in nodes:
        if node.op_type == "Constant" and node.output[0] in values:
            old = node.attribute[0].t
            new = values[node.output[0]].astype(numpy_helper.to_array(old).dtype)
            old.CopyFrom(numpy_helper.from_array(new, old.name))
    # The graph still declares PP-OCR's 6,625 classes on its output and on intermediate shapes;
    # ONNX Runtime warns on every load and falls back to what it infers. Declare the 37 classes
    # and drop the stale intermediate shapes (the runtime infers them again).
    out_dim = model.graph.output[0].type.tensor_type.shape.dim[-1]
    out_dim.ClearField("dim_param")
    out_dim.dim_value = len(synth.ALPHABET) + 1
    del model.graph.value_info[:]
    del model.metadata_props[:]
    for key, value in (
        ("character", "\n".join(synth.ALPHABET)),
        ("input", f"BGR [N,3,{HEIGHT},W] (x/255-0.5)/0.5"),
        ("base", "PP-OCRv4 rec (ch_PP-OCRv4_rec_infer.onnx, rapidocr-onnxruntime 1.4.4)"),
    ):
        meta = model.metadata_props.add()
        meta.key, meta.value = key, value
    model.producer_name = "vigil training/plates/finetune"
    onnx.save(model, str(dest))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--source", default=str(Path.home() / ".cache/vigil/models/ppocr-v4-rec.onnx"))
    p.add_argument("--seed", type=int, default=21)
    p.add_argument("--steps", type=int, default=1500, help="length of the learning-rate decay")
    p.add_argument("--until", type=int, default=400, help="stop after this step (the shipped one)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--unfreeze", type=int, default=0, help="last backbone convolutions trained")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--separate",
        action="store_true",
        help="keep unlabelled marks (stacked characters, EU band) clear of the row",
    )
    p.add_argument(
        "--detector-crops",
        action="store_true",
        help="crop extents as PP-OCRv4's detector gives them (taller boxes, cut end characters)",
    )
    p.add_argument(
        "--colour",
        action="store_true",
        help="colour crops (plate and lettering colours) instead of grey ones",
    )
    p.add_argument("--save-every", type=int, default=25)
    p.add_argument("--export", help="write ONNX here from --weights (or the checkpoint)")
    p.add_argument("--weights", help="a model-NNNNNN.pt to export instead of the checkpoint")
    args = p.parse_args()
    if args.export:
        ckpt = Path(args.out) / "checkpoint.pt"
        w = Path(args.weights) if args.weights else ckpt if ckpt.is_file() else None
        export(Path(args.source), w, Path(args.export))
    else:
        train(args)


if __name__ == "__main__":
    main()
