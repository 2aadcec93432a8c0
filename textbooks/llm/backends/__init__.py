"""Backends of `LLMClient`: each has `async generate(works, sink)` (see textbooks/llm/client.py)."""
