"""Cross-camera batching in the embedded mode: one inference queue per face embedding model.

With ``runtime.batching.enabled``, every embedding model of the face pipeline (each member of the
fusion, so the cascade's cheap member has its own queue) is wrapped in a :class:`SharedEmbedder`:
an analysis thread serving camera A and one serving camera B each submit their frame's aligned
faces, and one model thread runs them as one batch. The queue is the cluster pools'
:class:`~vigil.cluster.batching.BatchQueue` (bounded, two priorities, fixed-size statistics), so
the batching rules are the same in both modes:

* a batch goes to the model when ``max_batch`` requests wait or the oldest has waited
  ``max_wait_ms`` (the latency bound);
* when ``capacity`` requests wait, a normal request is refused (the frame is dropped and counted
  as a ``saturation_drop``), a high one (identification inside a live deployment) evicts the
  newest normal one.

Trade-off: batching only pays when several requests are in flight, so the analysis pool runs
``runtime.batching.analysis_threads`` threads; on a CPU with one thread per model the wait is pure
added latency, which is why it is off by default. On a GPU (``runtime.device: cuda``) one call of
64 faces costs little more than one of 1.

Which camera and priority a request carries comes from :func:`camera_context`, set by the
analysis pool around each frame (the embedder interface itself takes only faces).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import numpy as np

from vigil.config.performance import BatchingConfig
from vigil.errors import InferenceSaturatedError
from vigil.perception.batching import BatchQueue, Dropped, Priority, Ticket
from vigil.perception.faces.cascade import make_cascade
from vigil.perception.faces.embedders import FaceEmbedder, Faces, Float32, FusionEmbedder
from vigil.perception.faces.pipeline import FacePipeline

log = logging.getLogger(__name__)

_CONTEXT: ContextVar[tuple[str, Priority]] = ContextVar(
    "vigil_camera", default=("(unknown)", Priority.NORMAL)
)
ANSWER_TIMEOUT_S = 60.0
"""Longest a camera waits for its batch's answer before failing the frame (a stuck model thread
must surface as failures, never as a silent hang)."""


@contextlib.contextmanager
def camera_context(camera_id: str, priority: Priority = Priority.NORMAL) -> Iterator[None]:
    """Tag the embedding requests made inside the block with a camera and a priority."""
    token = _CONTEXT.set((camera_id, priority))
    try:
        yield
    finally:
        _CONTEXT.reset(token)


class SharedEmbedder:
    """A :class:`FaceEmbedder` whose calls from every camera go through one batch queue.

    Args:
        inner: the model (its own ``batch_size`` still splits a large batch into calls).
        config: the queue's bounds and latency bound.
    """

    def __init__(self, inner: FaceEmbedder, config: BatchingConfig) -> None:
        self.inner = inner
        self.name, self.dim = inner.name, inner.dim
        self.queue: BatchQueue[Faces] = BatchQueue(
            config.capacity, config.max_batch, config.max_wait_ms / 1000
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, name=f"vigil-batch-{inner.name}", daemon=True
        )
        self._thread.start()

    def embed(self, faces: Faces) -> Float32:
        if len(faces) == 0:
            return np.zeros((0, self.dim), np.float32)
        camera_id, priority = _CONTEXT.get()
        ticket = self.queue.submit(camera_id, priority, faces)
        try:
            out: Float32 = ticket.wait(ANSWER_TIMEOUT_S)
        except Dropped as exc:
            raise InferenceSaturatedError(str(exc)) from exc
        return out

    def _serve(self) -> None:
        while not self._stop.is_set():
            batch = self.queue.take(0.2)
            if batch:
                self.run_batch(batch)

    def run_batch(self, batch: list[Ticket[Faces]]) -> None:
        """One model call for every request of ``batch``, answers split back per request."""
        try:
            sizes = [len(t.payload) for t in batch]
            emb = self.inner.embed(np.concatenate([t.payload for t in batch]))
            bounds = np.cumsum([0, *sizes])
            results = [emb[a:b] for a, b in itertools.pairwise(bounds)]
        except Exception as exc:  # every waiting camera gets the error, loudly
            log.exception("embedding batch of %d requests failed in %s", len(batch), self.name)
            self.queue.fail(batch, exc)
            return
        self.queue.complete(batch, results)

    def snapshot(self) -> dict[str, Any]:
        return {"model": self.name, **self.queue.snapshot()}

    def close(self) -> None:
        self._stop.set()
        self.queue.close()
        self._thread.join(2.0)


class SharedModels:
    """The shared queues of one face pipeline (see the module docstring)."""

    def __init__(self, embedders: list[SharedEmbedder]) -> None:
        self.embedders = embedders

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Per model: batches, mean batch size, batch-size histogram, waits, drops."""
        return {e.name: e.snapshot() for e in self.embedders}

    def close(self) -> None:
        for e in self.embedders:
            e.close()


def share_models(pipeline: FacePipeline, config: BatchingConfig) -> SharedModels:
    """Put every embedding model of ``pipeline`` behind a shared queue (in place).

    A fusion's members are wrapped one by one (one queue per model) and the cascade is rebuilt
    around the wrapped fusion, so its cheap member uses its own queue.
    """
    shared: list[SharedEmbedder] = []
    embedder = pipeline.embedder
    if isinstance(embedder, FusionEmbedder):
        embedder.members = [SharedEmbedder(m, config) for m in embedder.members]
        shared.extend(m for m in embedder.members if isinstance(m, SharedEmbedder))
        if pipeline.cascade is not None:
            pipeline.cascade = make_cascade(embedder, pipeline.cascade.cheap.name)
    else:
        wrapped = SharedEmbedder(embedder, config)
        pipeline.embedder = wrapped
        shared.append(wrapped)
    log.info(
        "cross-camera batching: %s (max batch %d, latency bound %.1f ms)",
        ", ".join(e.name for e in shared),
        config.max_batch,
        config.max_wait_ms,
    )
    return SharedModels(shared)
