"""The phi-1 model: `PhiConfig` (shapes, presets), `Phi` (the network), HF import/export.

`Phi` and `KVCache` are imported on first use so that `textbooks --help` and config parsing do not pay
for importing torch.
"""

from textbooks.model.config import PhiConfig

__all__ = ["Phi", "PhiConfig", "KVCache"]


def __getattr__(name: str):
    if name in ("Phi", "KVCache"):
        from textbooks.model import phi

        return getattr(phi, name)
    raise AttributeError(f"module 'textbooks.model' has no attribute {name!r}")
