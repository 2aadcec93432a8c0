"""One client for every teacher, judge and generator: OpenAI-compatible HTTP, vLLM, transformers, our checkpoints.

    from textbooks.llm import LLMClient, LLMConfig, Request
    client = LLMClient(LLMConfig(base_url="http://127.0.0.1:8000/v1", model="m", cache_path="teacher.sqlite"))
    results = client.run([Request(id="a", prompt="def add(a, b):", max_tokens=64)])

Light to import (stdlib only); backends import httpx / torch / transformers / vllm when first used.
"""

from textbooks.llm.client import LLMClient
from textbooks.llm.config import LLMConfig, LLMError, LLMFatalError, Request, Result, Usage

__all__ = ["LLMClient", "LLMConfig", "Request", "Result", "Usage", "LLMError", "LLMFatalError"]
