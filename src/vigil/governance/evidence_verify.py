"""Checking an evidence bundle with nothing but the bundle and the signer's public key.

A bundle (written by :mod:`vigil.governance.evidence`) is a zip file:

* ``manifest.json`` - what was exported, by whom, why, whether redacted; the SHA-256 of every
  other file; per alert the model, watchlist and threshold versions, its calibrated false-alert
  rate and both verifiers' decisions; per item the audit entries that concern it; the audit head
  ``(seq, hash)`` at export time;
* ``manifest.sig`` - the Ed25519 signature over the exact bytes of ``manifest.json`` (base64);
* ``audit/chain.jsonl`` - the audit entries from the oldest one concerning an item up to the
  head, one JSON object per line, each with every field its hash covers;
* ``clips/*.mp4`` and ``stills/*.jpg`` - the footage and images.

:func:`verify_bundle` needs no database, no configuration and no Vigil data directory: a court's
expert can run it in a fresh virtual environment. It checks, and reports **every** failure by
name (not only the first): the signature; each listed file's presence and SHA-256, and any file
in the zip the manifest does not list; each audit entry's hash over its content and its link to
the entry before it; that the segment ends at the manifest's head and contains every entry the
manifest cites for each item; and, with ``expect`` heads (published by an oversight body with
``vigil audit head``), that the segment agrees with each one it reaches.

What it cannot prove alone: that the head in the manifest is the system's real head. Prove that
on the system with ``vigil audit verify --expect-head SEQ:HASH`` using the bundle's head (the
system's chain must still contain it), or by comparing with a head an oversight body recorded.
The segment also shows the other audit entries between the oldest cited one and the head (their
content is needed to recompute the links; audit entries carry no biometric data by design).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from vigil.governance.audit import Anchor, canonical_bytes

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
CHAIN = "audit/chain.jsonl"
SCHEMA = "vigil.evidence/1"
MAX_MEMBER = 4 * 1024**3  # a listed file larger than this is refused unread


@dataclass
class BundleReport:
    """The result of :func:`verify_bundle`: ``ok``, or every problem, each naming its part."""

    problems: list[str] = field(default_factory=list)
    checked_files: int = 0
    checked_entries: int = 0
    head: Anchor | None = None
    case_id: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        if self.ok:
            head = "-" if self.head is None else f"{self.head.seq}:{self.head.entry_hash}"
            return (
                f"bundle verified: case {self.case_id}, signature good, {self.checked_files} "
                f"files match their SHA-256, {self.checked_entries} audit entries link up to "
                f"head {head}"
            )
        return "bundle FAILED verification:\n" + "\n".join(f"- {p}" for p in self.problems)


def sha256_of(zf: zipfile.ZipFile, name: str) -> str:
    digest = hashlib.sha256()
    with zf.open(name) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_bundle(
    path: Path, public_key: Ed25519PublicKey, *, expect: Sequence[Anchor] = ()
) -> BundleReport:
    """Check a bundle (see the module doc); never raises on a bad bundle, reports it."""
    report = BundleReport()
    try:
        zf = zipfile.ZipFile(path)
    except Exception as exc:
        report.problems.append(f"bundle: not a readable zip file ({exc})")
        return report
    with zf:
        names = set(zf.namelist())
        for needed in (MANIFEST, SIGNATURE):
            if needed not in names:
                report.problems.append(f"{needed}: missing from the bundle")
        if report.problems:
            return report
        raw, sig = _read(zf, MANIFEST, report), _read(zf, SIGNATURE, report)
        if raw is None or sig is None:
            return report
        _check_signature(report, public_key, raw, sig)
        try:
            manifest = json.loads(raw)
            files: dict[str, str] = dict(manifest["files"])
        except (ValueError, KeyError, TypeError) as exc:
            report.problems.append(f"{MANIFEST}: unreadable ({exc})")
            return report
        report.case_id = str(manifest.get("case", {}).get("id", ""))
        _check_files(report, zf, names, files)
        if CHAIN in names:
            chain = _read(zf, CHAIN, report)
            if chain is not None:
                _check_chain(report, chain, manifest, expect)
        elif manifest.get("audit"):
            report.problems.append(f"{CHAIN}: missing from the bundle")
    return report


def _read(zf: zipfile.ZipFile, name: str, report: BundleReport) -> bytes | None:
    """A member's bytes, or ``None`` with the problem named (a changed byte in a member's header
    or its compressed data makes it unreadable rather than different)."""
    try:
        return zf.read(name)
    except Exception as exc:
        report.problems.append(f"{name}: unreadable in the zip ({exc})")
        return None


def _check_signature(
    report: BundleReport, key: Ed25519PublicKey, manifest: bytes, sig_text: bytes
) -> None:
    try:
        signature = base64.b64decode(sig_text.strip(), validate=True)
        key.verify(signature, manifest)
    except (InvalidSignature, binascii.Error, ValueError):
        report.problems.append(
            f"{SIGNATURE}: the signature does not verify over {MANIFEST} with this public key "
            "(the manifest or the signature was changed, or another key signed it)"
        )


def _check_files(
    report: BundleReport, zf: zipfile.ZipFile, names: set[str], files: dict[str, str]
) -> None:
    for name, expected in sorted(files.items()):
        if name not in names:
            report.problems.append(f"{name}: listed in the manifest but missing from the bundle")
            continue
        if zf.getinfo(name).file_size > MAX_MEMBER:
            report.problems.append(f"{name}: larger than {MAX_MEMBER} bytes; not read")
            continue
        try:
            actual = sha256_of(zf, name)
        except Exception as exc:
            report.problems.append(f"{name}: unreadable in the zip ({exc})")
            continue
        if actual != expected:
            report.problems.append(f"{name}: SHA-256 {actual[:16]}... differs from the manifest's")
        else:
            report.checked_files += 1
    for extra in sorted(names - set(files) - {MANIFEST, SIGNATURE}):
        if not extra.endswith("/"):
            report.problems.append(f"{extra}: in the bundle but not listed in the manifest")


def _entry_hash(doc: dict[str, Any]) -> str:
    raw = canonical_bytes(
        int(doc["seq"]),
        datetime.fromisoformat(str(doc["at"])),
        str(doc["actor"]),
        str(doc["action"]),
        str(doc["target"]),
        str(doc["reason"]),
        str(doc["prev_hash"]),
        [(str(k), str(v)) for k, v in doc["details"]],
    )
    return hashlib.sha256(raw).hexdigest()


def _check_chain(
    report: BundleReport, data: bytes, manifest: dict[str, Any], expect: Sequence[Anchor]
) -> None:
    audit = manifest.get("audit") or {}
    seen: dict[int, str] = {}
    prev: str | None = None
    for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        try:
            doc = json.loads(line)
            seq, stored = int(doc["seq"]), str(doc["entry_hash"])
            recomputed = _entry_hash(doc)
        except (ValueError, KeyError, TypeError) as exc:
            report.problems.append(f"{CHAIN} line {n}: unreadable audit entry ({exc})")
            prev = None
            continue
        if recomputed != stored:
            report.problems.append(
                f"audit entry seq {seq}: its content does not match its hash (entry edited)"
            )
        elif prev is not None and doc["prev_hash"] != prev:
            report.problems.append(
                f"audit entry seq {seq}: prev_hash is not the previous entry's hash (chain broken)"
            )
        else:
            report.checked_entries += 1
        seen[seq] = stored
        prev = stored
    head = audit.get("head") or {}
    if head:
        anchor = Anchor(int(head["seq"]), str(head["entry_hash"]))
        report.head = anchor
        if seen.get(anchor.seq) != anchor.entry_hash or max(seen, default=-1) != anchor.seq:
            report.problems.append(
                f"audit head seq {anchor.seq}: the chain in the bundle does not end at the "
                "manifest's head"
            )
    for item, cited in sorted((audit.get("items") or {}).items()):
        for ref in cited:
            if seen.get(int(ref["seq"])) != ref["entry_hash"]:
                report.problems.append(
                    f"audit entry seq {ref['seq']} (cited for {item}): missing from the chain "
                    "or different from the manifest's hash"
                )
    for known in expect:
        if report.head is not None and known.seq > report.head.seq:
            report.problems.append(
                f"expected head seq {known.seq} is after the bundle's head {report.head.seq}: "
                "prove the bundle's head on the system with `vigil audit verify --expect-head`"
            )
        elif seen.get(known.seq) not in (None, known.entry_hash):
            report.problems.append(f"audit entry seq {known.seq}: differs from the expected head")
        elif known.seq not in seen:
            report.problems.append(f"expected head seq {known.seq} is not in the bundle's chain")
