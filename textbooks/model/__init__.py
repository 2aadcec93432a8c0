"""The phi-1 model: `PhiConfig` (shapes, presets), `Phi` (the network), HF import/export."""

from textbooks.model.config import PhiConfig
from textbooks.model.phi import KVCache, Phi

__all__ = ["Phi", "PhiConfig", "KVCache"]
