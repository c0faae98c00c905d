"""Apply ``runtime:`` to this process: where models run and where video is decoded.

Called once by the composition root (:func:`vigil.system.assembly.assemble`) and by the commands
that run models without it (``vigil eval``, the benchmarks), before any session is opened. Every
fallback to the CPU is logged with its reason by the modules that detect it.
"""

from __future__ import annotations

from vigil.config.performance import RuntimeConfig
from vigil.perception import runtime
from vigil.sources import hwdecode


def apply_runtime(config: RuntimeConfig) -> dict[str, str]:
    """Configure the model runtime and the decoder; returns what was chosen, for status views."""
    runtime.configure(config.device, config.fp16)
    decode = hwdecode.configure(config.device, config.hw_decode)
    return {"device": runtime.current_device(), "decode": decode}
