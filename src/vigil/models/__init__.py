"""Model registry (:mod:`.catalog`), installer (:mod:`.installer`) and conversions."""

from vigil.models import builtin as _builtin  # registers the built-in models
from vigil.models import builtin_objects as _builtin_objects  # noqa: F401  (person+vehicle)
from vigil.models import builtin_plates as _builtin_plates  # noqa: F401  (plate OCR)
from vigil.models.catalog import CATALOG, ModelSpec, default_models, register

del _builtin

__all__ = ["CATALOG", "ModelSpec", "default_models", "register"]
