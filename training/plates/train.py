"""Train Vigil's plate recogniser (a compact CRNN with CTC) on synthetic plates, export ONNX.

    nice -n 19 python -m training.plates.train --out runs/plates --seed 21  # the shipped recipe
    python -m training.plates.train --out runs/plates --export plate-rec.onnx  # the checkpoint

Trade-offs: the network is small (five 3x3 convolutions, one bidirectional LSTM, ~0.32 M
parameters) so it trains from scratch on two CPU threads in under an hour and reads a plate in
about a millisecond; a larger one reads better only with far more steps than a CPU gives.
Samples are drawn on the fly from :mod:`training.plates.synth` in this process (no worker
processes: the machines are shared), from a generator seeded by ``--seed`` and the step, so a
resumed run continues the exact sample stream. A checkpoint (model, optimiser, step) is written
every ``--save-every`` steps; starting again with the same ``--out`` resumes from it.

Input: ``[N, 1, 32, 128]`` grey in [-1, 1]; output: ``[N, 32, 37]`` softmax over
``blank + 0-9A-Z`` per step (greedy CTC decoding, as :func:`vigil.perception.plates.ctc_greedy`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TextIO

import numpy as np
import torch
from torch import nn

from training.plates import synth

CHARSET = ["<blank>", *synth.ALPHABET]
CHANNELS = (16, 32, 64, 64, 96)


class CRNN(nn.Module):
    """Convolutions to a 32-step feature sequence, a BiLSTM, a per-step classifier."""

    def __init__(self, classes: int = len(CHARSET), channels: tuple[int, ...] = CHANNELS) -> None:
        super().__init__()
        c = list(channels)

        def block(i: int, o: int) -> list[nn.Module]:
            return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(True)]

        self.features = nn.Sequential(
            *block(1, c[0]),
            nn.MaxPool2d(2),  # 16 x 64
            *block(c[0], c[1]),
            nn.MaxPool2d(2),  # 8 x 32
            *block(c[1], c[2]),
            *block(c[2], c[3]),
            nn.MaxPool2d((2, 1)),  # 4 x 32
            *block(c[3], c[4]),
            nn.MaxPool2d((2, 1)),  # 2 x 32
        )
        self.proj = nn.Linear(c[4] * 2, 128)
        self.rnn = nn.LSTM(128, 96, bidirectional=True, batch_first=True)
        self.head = nn.Linear(192, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)  # N, C, 2, 32
        n, c, h, w = f.shape
        f = f.permute(0, 3, 1, 2).reshape(n, w, c * h)
        f = torch.relu(self.proj(f))
        f, _ = self.rnn(f)
        return self.head(f)  # N, T, classes (logits)


class Softmaxed(nn.Module):
    """The exported graph: logits to per-step probabilities, what the reader decodes."""

    def __init__(self, net: CRNN) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x), dim=-1)


def make_batch(
    seed: int, step: int, n: int, scene: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images, concatenated targets and target lengths of batch ``step`` (reproducible)."""
    rng = np.random.default_rng([seed, step])
    samples = synth.batch(rng, n, scene)
    x = np.stack([s.image for s in samples]).astype(np.float32)[:, None] / 127.5 - 1.0
    targets = [CHARSET.index(c) for s in samples for c in s.label]
    lengths = [len(s.label) for s in samples]
    return torch.from_numpy(x), torch.tensor(targets), torch.tensor(lengths)


def decode(logits: torch.Tensor) -> list[str]:
    """Greedy CTC decoding of a batch of logits."""
    out = []
    for seq in logits.argmax(-1).tolist():
        prev, s = 0, []
        for k in seq:
            if k not in (prev, 0):
                s.append(CHARSET[k])
            prev = k
        out.append("".join(s))
    return out


def train(args: argparse.Namespace) -> None:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    net = CRNN(channels=tuple(int(c) for c in args.channels.split(",")))
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, total_steps=args.schedule_steps or args.steps, pct_start=0.05
    )
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    step = 0
    ckpt = out / "checkpoint.pt"
    if ckpt.is_file():
        state = torch.load(ckpt, weights_only=True)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step = int(state["step"])
        print(f"resumed at step {step}", flush=True)
    val = make_batch(args.seed + 1_000_000, 0, 512)
    log = (out / "log.jsonl").open("a")
    t0 = time.time()
    running: float | None = None
    net.train()
    while step < args.steps:
        scene = args.scene_from is not None and step >= args.scene_from
        x, y, lens = make_batch(args.seed, step, args.batch, scene)
        logits = net(x)
        logp = logits.log_softmax(-1).permute(1, 0, 2)  # T, N, C
        inp = torch.full((x.shape[0],), logp.shape[0], dtype=torch.long)
        loss = ctc(logp, y, inp, lens)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        step += 1
        if args.decay_from is not None and step > args.decay_from:
            # Linear decay to zero over the last steps (a cut-short one-cycle schedule).
            left = (args.steps - step) / max(1, args.steps - args.decay_from)
            for group in opt.param_groups:
                group["lr"] = sched.get_last_lr()[0] * left
        else:
            sched.step()
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if step % args.save_every == 0 or step == args.steps:
            _checkpoint(
                net,
                opt=opt,
                sched=sched,
                step=step,
                loss=running,
                val=val,
                out=out,
                log=log,
                seconds=time.time() - t0,
            )


def _checkpoint(
    net: CRNN,
    *,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    step: int,
    loss: float,
    val: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    out: Path,
    log: TextIO,
    seconds: float,
) -> None:
    """Exact reads on the fixed synthetic validation batch, logged; checkpoint and weights."""
    net.eval()
    with torch.no_grad():
        pred = decode(net(val[0]))
    net.train()
    truth, k = [], 0
    for n in val[2].tolist():
        truth.append("".join(CHARSET[i] for i in val[1][k : k + n].tolist()))
        k += n
    acc = float(np.mean([p == t for p, t in zip(pred, truth, strict=True)]))
    rec = {
        "step": step,
        "loss": round(loss, 4),
        "synth_val_exact": acc,
        "lr": opt.param_groups[0]["lr"],
        "s": round(seconds, 1),
    }
    print(json.dumps(rec), flush=True)
    log.write(json.dumps(rec) + "\n")
    log.flush()
    state = {
        "model": net.state_dict(),
        "opt": opt.state_dict(),
        "sched": sched.state_dict(),
        "step": step,
    }
    torch.save(state, out / "checkpoint.tmp")
    (out / "checkpoint.tmp").replace(out / "checkpoint.pt")
    torch.save(net.state_dict(), out / f"model-{step:06d}.pt")


def export(args: argparse.Namespace, weights: Path, dest: Path) -> None:
    """Write the ONNX graph (dynamic batch) with the character list in its metadata."""
    import onnx

    net = CRNN(channels=tuple(int(c) for c in args.channels.split(",")))
    state = torch.load(weights, weights_only=True)
    net.load_state_dict(state.get("model", state))
    net.eval()
    dummy = torch.zeros(1, 1, synth.HEIGHT, synth.WIDTH)
    torch.onnx.export(
        Softmaxed(net),
        (dummy,),
        str(dest),
        input_names=["image"],
        output_names=["probs"],
        dynamic_axes={"image": {0: "n"}, "probs": {0: "n"}},
        opset_version=17,
        dynamo=False,
    )
    model = onnx.load(str(dest))
    meta = model.metadata_props.add()
    meta.key, meta.value = "character", "\n".join(synth.ALPHABET)
    meta = model.metadata_props.add()
    meta.key, meta.value = "input", f"grey [N,1,{synth.HEIGHT},{synth.WIDTH}] x/127.5-1"
    model.producer_name = "vigil training/plates"
    onnx.save(model, str(dest))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=21)
    p.add_argument("--steps", type=int, default=1300, help="train up to this step")
    p.add_argument(
        "--schedule-steps",
        type=int,
        default=2400,
        help="length of the one-cycle learning-rate schedule",
    )
    p.add_argument(
        "--scene-from",
        type=int,
        default=600,
        help="from this step, plates sit in a car-like surround (synth.sample(scene=True))",
    )
    p.add_argument(
        "--decay-from",
        type=int,
        default=1200,
        help="from this step, decay the learning rate linearly to zero at --steps",
    )
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--channels", default=",".join(map(str, CHANNELS)))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--save-every", type=int, default=200)
    p.add_argument("--export", help="write ONNX to this path from --weights (or the checkpoint)")
    p.add_argument("--weights", help="a model-NNNNNN.pt to export instead of the checkpoint")
    args = p.parse_args()
    if args.export:
        w = Path(args.weights) if args.weights else Path(args.out) / "checkpoint.pt"
        export(args, w, Path(args.export))
    else:
        train(args)


if __name__ == "__main__":
    main()
