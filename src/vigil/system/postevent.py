"""The post-event search worker of the embedded system: one thread, a bounded queue of jobs.

:class:`PostEventRunner` owns the only copies of the probe templates: a job waiting in the queue
or running holds its probe in memory here, and nowhere else (never in the database). At
:meth:`PostEventRunner.stop` the running job finishes its current segment and is ``paused``; jobs
still queued are ``paused`` too; at the next start every ``running`` job left by a crash is
``paused`` (:meth:`PostEventSearch.pause_running`). A paused job needs its probe photo again
(``POST /investigations/jobs/{id}/resume``).

Trade-off: one thread means one job at a time on the CPUs the live cameras also need; a second
job waits in the queue (``queue_size`` of them, then the API answers 503) rather than slowing
every camera down.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from vigil.config import VigilConfig
from vigil.errors import VigilError
from vigil.governance.audit import AuditLog, utc_now
from vigil.governance.deployments import DeploymentService
from vigil.governance.postevent import JobState, PostEventSearch, probe_template
from vigil.perception.image import decode_image
from vigil.perception.plates.profiles import RegionProfile
from vigil.perception.plates.vehicles import VehiclePlateReader
from vigil.storage import Repository
from vigil.storage.postevent import PostEventStore

log = logging.getLogger(__name__)


class JobQueueFullError(VigilError):
    """The post-event worker already has its queue of jobs waiting."""

    code = "job_queue_full"
    http_status = 503


class PostEventRunner:
    """Runs post-event jobs one at a time in a worker thread (module doc).

    Args:
        make_search: builds the search service on first use (it loads the face models).
        queue_size: jobs that may wait behind the running one.
    """

    def __init__(
        self,
        make_search: Callable[[], PostEventSearch],
        store: PostEventStore,
        *,
        queue_size: int = 4,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._make = make_search
        self.store = store
        self.clock = clock
        self._search: PostEventSearch | None = None
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[str, npt.NDArray[np.float32] | None] | None] = queue.Queue(
            maxsize=queue_size
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failed: dict[str, str] = {}  # job id -> error of a job that failed (bounded below)

    @property
    def search(self) -> PostEventSearch:
        with self._lock:
            if self._search is None:
                self._search = self._make()
            return self._search

    def probe(self, data: bytes) -> npt.NDArray[np.float32]:
        """The probe template of an uploaded photo (refused: not an image, no usable face)."""
        return probe_template(self.search.pipeline, decode_image(data, name="probe"))

    def submit(self, job_id: str, probe: npt.NDArray[np.float32] | None = None) -> None:
        """Queue a started (or resumed) job with its probe (``None`` for a plate job, whose
        query is stored with it).

        Raises:
            JobQueueFullError: too many jobs waiting (the job is paused, nothing lost).
        """
        try:
            self._queue.put_nowait((job_id, probe))
        except queue.Full:
            self.store.set_state(job_id, JobState.PAUSED.value, self.clock())
            raise JobQueueFullError(
                "the post-event search worker is busy", hint="resume the job later"
            ) from None

    def start(self) -> None:
        if self._thread is not None:
            return
        for job in self.store.jobs_in_state(JobState.RUNNING.value, limit=10_000):
            self.store.set_state(job.id, JobState.PAUSED.value, self.clock())  # probes were lost
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="postevent", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(None)
            self._thread.join(timeout=30)
            self._thread = None
        self._drain(self.clock())

    def run_once(self, timeout_s: float = 0.0) -> bool:
        """Run the next queued job in the calling thread (tests, CLI); ``False`` when none."""
        try:
            item = self._queue.get(timeout=timeout_s) if timeout_s else self._queue.get_nowait()
        except queue.Empty:
            return False
        if item is None:
            return False
        self._run(*item)
        return True

    def _loop(self) -> None:
        while not self._stop.is_set():
            item = self._queue.get()
            if item is None:
                return
            self._run(*item)

    def _run(self, job_id: str, probe: npt.NDArray[np.float32] | None) -> None:
        try:
            self.search.run(job_id, probe, stop=self._stop)
        except Exception as exc:  # a broken segment must not kill the worker: pause, report
            log.exception("post-event job %s failed", job_id)
            if len(self.failed) >= 100:
                self.failed.pop(next(iter(self.failed)))
            self.failed[job_id] = str(exc)[:500]
            self.store.set_state(job_id, JobState.PAUSED.value, self.clock())

    def _drain(self, now: datetime) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                self.store.set_state(item[0], JobState.PAUSED.value, now)


def postevent_runner(
    config: VigilConfig,
    repo: Repository,
    audit: AuditLog,
    deployments: DeploymentService,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> PostEventRunner:
    """The configured runner: the live face pipeline, ``faces.identification.threshold``, the
    recorded segments, and the calibration file's false-match rates when one is set; for plate
    jobs the live plate reading (NanoDet vehicle boxes, the configured reader and region
    profiles). The models are loaded at the first job that needs them, not at start-up nor when a
    case page lists a job."""
    from vigil.identification.calibration import FalseAlertModel
    from vigil.perception.faces.pipeline import FacePipeline
    from vigil.system.plates import profile_from_config
    from vigil.system.recording import segment_index

    store = PostEventStore(repo.db)
    ident = config.faces.identification

    def make() -> PostEventSearch:
        rates = None
        if ident.calibration_file is not None:
            rates = FalseAlertModel.from_file(ident.calibration_file)
        return PostEventSearch(
            repo,
            store,
            segment_index(config, repo),
            audit,
            deployments,
            lambda: FacePipeline.from_config(config.faces, config.models.dir),
            threshold=ident.threshold,
            rates=rates,
            plates=lambda profile: plate_frame_reader(config, profile),
            plate_profile=lambda name: profile_from_config(config.plates, name),
            plate_min_confidence=config.plates.min_confidence,
            appearance_gap=timedelta(seconds=config.investigation.appearance_gap_s),
            appearance_pad=timedelta(seconds=config.investigation.appearance_pad_s),
            clock=clock,
        )

    return PostEventRunner(make, store, clock=clock)


def plate_frame_reader(config: VigilConfig, profile: RegionProfile) -> VehiclePlateReader:
    """The live path's plate reading for footage: NanoDet vehicle boxes (the detector the people
    stage runs, at its default score) and the configured recogniser with ``profile``."""
    from vigil.perception.objects import NanoDetDetector
    from vigil.system.plates import plate_reader_from_config

    pc = config.plates
    reader = plate_reader_from_config(pc, config.models.dir, profile)
    detector = NanoDetDetector(config.models.dir, tile_grids=config.people.tile_grids)
    return VehiclePlateReader(detector, reader, limit=pc.max_vehicles_per_frame)
