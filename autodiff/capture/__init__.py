"""Capture and replay: `ad.compile(step)` records a training step's NumPy calls once per
input signature and replays them without Tensors or graph nodes (see _compiled.py for the
life of a signature, _tracer.py for what is recorded, _program.py for the replay code,
_state.py and _capture.py for the state a step reads and changes)."""
from ._compiled import CaptureWarning, CompiledStep, compile, replay_eagerly
from ._tracer import CaptureError

__all__ = ["compile", "CompiledStep", "CaptureError", "CaptureWarning", "replay_eagerly"]
