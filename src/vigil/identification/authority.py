"""The proof that identification is authorised: :class:`ActiveDeployment` handles.

A handle says "this deployment authorises matching on these cameras until then". The matcher
(:mod:`vigil.identification.matcher`) accepts nothing else and re-checks the handle before every
comparison. Handles are issued by :class:`vigil.governance.deployments.DeploymentService` only: the
constructor checks an issuing token that exactly one module may claim, once per process
(:func:`claim_issuer`; the deployment service claims it when it is imported). The handle lives
here, below governance, so identification needs nothing from the layer above it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

from vigil.core.domain import DeploymentRow
from vigil.errors import PolicyViolationError

_ISSUER = object()
_claimed = threading.Event()


def claim_issuer() -> object:
    """The issuing token, handed out once per process; a second claim is refused."""
    if _claimed.is_set():
        raise PolicyViolationError(
            "the deployment issuing token was already claimed: only DeploymentService issues "
            "ActiveDeployment handles"
        )
    _claimed.set()
    return _ISSUER


@dataclass(frozen=True)
class ActiveDeployment:
    """Proof that identification is authorised now, on these cameras, against these watchlists.

    Only :class:`DeploymentService` makes these; constructing one elsewhere raises
    :class:`PolicyViolationError`.
    """

    row: DeploymentRow
    camera_ids: frozenset[str]
    valid_until: datetime
    _token: object = field(repr=False, compare=False)
    _stopped: threading.Event = field(repr=False, compare=False, default_factory=threading.Event)

    def __post_init__(self) -> None:
        if self._token is not _ISSUER:
            raise PolicyViolationError(
                "an ActiveDeployment can only be issued by DeploymentService.activate"
            )

    @property
    def id(self) -> str:
        return self.row.id

    @property
    def watchlists(self) -> tuple[tuple[str, str], ...]:
        return self.row.watchlists

    def stop(self) -> None:
        self._stopped.set()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def covers(self, camera_id: str, at: datetime) -> bool:
        return (
            not self.stopped
            and camera_id in self.camera_ids
            and self.row.starts_at <= at < self.valid_until
        )

    def ensure(self, camera_id: str, at: datetime) -> None:
        """Raise :class:`PolicyViolationError` unless this authorises matching here and now."""
        if self.stopped:
            raise PolicyViolationError(f"deployment {self.id} has been stopped")
        if not self.row.starts_at <= at < self.valid_until:
            raise PolicyViolationError(
                f"deployment {self.id} is not active at {at.isoformat()} "
                f"(window {self.row.starts_at.isoformat()} to {self.valid_until.isoformat()})"
            )
        if camera_id not in self.camera_ids:
            raise PolicyViolationError(f"deployment {self.id} does not cover camera {camera_id}")
