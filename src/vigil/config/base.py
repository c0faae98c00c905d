"""The base of every config section (its own module so that section modules can share it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Base for every config section: unknown keys are errors; values are re-validated on set."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)
