"""Fine-tuning PP-OCRv4 on plates (training/plates/finetune.py): conversion, slicing, export.

Needs the `train` extra (torch, onnx2torch) and the installed PP-OCRv4 recogniser; skips with a
message otherwise. The export check is the one that matters: the shipped file is PP-OCRv4's own
graph with new constants, so at step 0 it must read as PP-OCRv4 does over 0-9A-Z.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the train extra (torch) is not installed")
if importlib.util.find_spec("onnx2torch") is None:  # importing it imports torchvision: not here
    pytest.skip("the train extra (onnx2torch) is not installed", allow_module_level=True)

from training.plates import finetune  # noqa: E402

from vigil.errors import ModelNotInstalledError  # noqa: E402
from vigil.models.builtin_plates import PPOCR_REC  # noqa: E402
from vigil.models.installer import model_path  # noqa: E402


@pytest.fixture(scope="module")
def source() -> Path:
    try:
        return model_path(PPOCR_REC)
    except ModelNotInstalledError:
        pytest.skip(f"{PPOCR_REC} is not installed (vigil models install)")


def _session(path: Path):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def test_batches_are_reproducible_and_shaped_like_the_readers_input() -> None:
    x1, y1, n1 = finetune.make_batch(21, 7, 4)
    x2, y2, n2 = finetune.make_batch(21, 7, 4)
    assert torch.equal(x1, x2) and torch.equal(y1, y2) and torch.equal(n1, n2)
    assert x1.shape[:3] == (4, 3, finetune.HEIGHT) and x1.shape[3] <= finetune.MAX_WIDTH
    assert float(x1.min()) >= -1.0 and float(x1.max()) <= 1.0
    assert int(n1.sum()) == len(y1) and int(y1.min()) >= 1  # no blank in a label
    assert not torch.equal(x1, finetune.make_batch(21, 8, 4)[0])


def test_colour_crops_keep_the_first_samples_label_and_are_not_grey() -> None:
    rng_grey, rng_colour = np.random.default_rng([21, 3]), np.random.default_rng([21, 3])
    grey, label = finetune.crop(rng_grey)
    colour, same = finetune.crop(rng_colour, colour=True)
    assert same == label and colour.shape == (*grey.shape, 3)
    x = finetune.to_input(colour)
    assert x.shape[:2] == (3, finetune.HEIGHT)
    assert float(np.abs(x[0] - x[2]).max()) > 0.01  # channels differ: colour reached the input


def test_step_zero_export_reads_as_ppocr_over_the_plate_alphabet(
    source: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "step0.onnx"
    finetune.export(source, None, dest)
    ours, theirs = _session(dest), _session(source)
    meta = ours.get_modelmeta().custom_metadata_map
    assert meta["character"].splitlines() == list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    chars = ["<blank>", *theirs.get_modelmeta().custom_metadata_map["character"].splitlines()]
    idx = [0, *(chars.index(c) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")]
    rng = np.random.default_rng(0)
    for width in (96, 320):  # the width stays dynamic after the export
        x = rng.uniform(-1, 1, (2, 3, finetune.HEIGHT, width)).astype(np.float32)
        p = ours.run(None, {"x": x})[0]
        q = theirs.run(None, {theirs.get_inputs()[0].name: x})[0][..., idx]
        assert p.shape == (2, width // 8, 37)
        np.testing.assert_allclose(p, q / q.sum(-1, keepdims=True), rtol=1e-3, atol=1e-5)


def test_only_the_neck_and_output_layer_train_and_the_split_matches_the_whole(
    source: Path,
) -> None:
    net = finetune.build(source)
    trained = net.train_only_head(0)
    total = sum(p.numel() for p in net.parameters())
    assert 0 < sum(p.numel() for p in trained) < total / 2
    backbone = net.split(source)
    x, _, _ = finetune.make_batch(21, 0, 2)
    feats = torch.from_numpy(backbone.run(None, {backbone.get_inputs()[0].name: x.numpy()})[0])
    with torch.no_grad():
        whole, split = net(x), net.forward_features(feats)
    torch.testing.assert_close(split, whole, rtol=1e-2, atol=1e-2)


def test_a_split_across_a_residual_connection_is_a_clear_error(source: Path) -> None:
    net = finetune.build(source)
    net.train_only_head(6)  # the sixth-last convolution sits inside a residual block
    with pytest.raises(ValueError, match="residual connection"):
        net.split(source)


def test_a_missing_source_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        finetune.build(tmp_path / "absent.onnx")


def test_training_writes_checkpoints_and_resumes_where_it_stopped(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(until: int) -> None:
        finetune.train(
            argparse.Namespace(
                out=str(tmp_path),
                source=str(source),
                seed=3,
                steps=10,
                until=until,
                batch=2,
                lr=1e-4,
                warmup=1,
                unfreeze=0,
                threads=1,
                save_every=1,
                separate=True,
                detector_crops=True,
                colour=True,
            )
        )

    run(1)
    first = torch.load(tmp_path / "model-000001.pt", weights_only=True)
    start = torch.load(tmp_path / "model-000000.pt", weights_only=True)
    assert not torch.equal(first["fc.weight"], start["fc.weight"])  # the output layer trained
    frozen = next(k for k in start if k.endswith("Conv/0.weight"))
    assert torch.equal(first[frozen], start[frozen])  # the backbone did not
    run(2)
    assert "resumed at step 1" in capsys.readouterr().out
    assert (tmp_path / "model-000002.pt").is_file()
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == 2
