"""buffer stage: ActivationBuffer = sparse codes + labels + instance ids + window index (+ dense twin)."""

from dnalens.buffer.store import ActivationBuffer

__all__ = ["ActivationBuffer"]
