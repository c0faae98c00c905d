"""The layer map: which top-level parts of ``vigil`` may import which.

Data flows one way (source -> decode -> perceive -> track -> identify/analyse -> decide -> store ->
notify), and imports follow it downwards: a module may import its own top-level package, any
package in a lower layer, and a package in its own layer as long as no cycle forms. Nothing
imports upwards. ``tests/unit/test_layers.py`` reads every module under ``src/vigil`` with
``ast`` and holds the code to this map, so the map is the architecture as the code has it, not
a drawing that drifts.

Why this order, bottom first:

* ``core`` (records and domain types), ``config``, ``errors``, ``logs``, this module and the root
  package (``__version__``) are what everything else speaks; they know no Vigil feature.
* ``storage`` persists those records and nothing else: SQL lives here and only here.
* The pure stages: ``sources`` (decode), ``models`` (the registry and installer of model files),
  ``perception``, ``tracking``, ``analytics``. A stage is meant to run in any process, so it may
  read and write through ``storage`` but knows nothing of who authorised it.
* ``recording`` (footage segments, clips, privacy masks) sits beside ``sources``: the source
  hands it packets through a protocol of its own, so neither imports the other.
* ``identification`` matches faces and plates against what is enrolled.
* ``governance`` decides what may happen: deployments, verification, purge, the audit chain.
* ``notify`` delivers what governance let through (webhooks, MQTT, the event hub).
* ``eval`` measures the stages on data sets (it drives them, nothing drives it).
* ``system`` is the composition root that builds and starts all of the above.
* ``cluster`` runs the composition root's per-camera part as Ray actors across machines.
* ``api`` serves it over HTTP; ``cli`` is the command line over everything; ``docsgen`` and
  ``__main__`` are entry points above the command line.

The trade-off of one strict order: a helper two layers need must live in the lower one (or in
``core``), which sometimes means moving code down rather than importing up; in return any layer
can be read, tested and later split across machines (cluster mode) without the ones above it.
"""

from __future__ import annotations

LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"__init__", "core", "config", "errors", "logs", "layers"}),
    frozenset({"storage"}),
    frozenset({"sources", "models", "perception", "tracking", "analytics", "recording"}),
    frozenset({"identification"}),
    frozenset({"governance"}),
    frozenset({"notify"}),
    frozenset({"eval"}),
    frozenset({"system"}),
    frozenset({"cluster"}),
    frozenset({"api"}),
    frozenset({"cli"}),
    frozenset({"docsgen", "__main__"}),
)
"""The top-level modules and packages of ``vigil``, bottom layer first. ``__init__`` stands for
the root package itself (``from vigil import __version__``)."""
