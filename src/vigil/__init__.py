"""Vigil: city-scale video analytics with safeguards built into the code.

The package is laid out along the one-way data flow of ``DESIGN.md``::

    sources -> perception -> tracking -> identification/analytics -> governance -> storage -> api

``vigil.core`` holds the typed records every stage passes on; ``vigil.config`` the validated
configuration; ``vigil.models`` the model registry and installer. Importing the package has no
side effects (no model loading, no logging configuration, no I/O).
"""

__version__ = "0.1.0"
