"""Shared fixtures. Stage-specific fixtures live in tests/<stage>/conftest.py."""

import os

# Tests never reach a model/dataset hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
