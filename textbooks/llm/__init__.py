"""One client for every teacher, judge and generator: OpenAI-compatible HTTP, vLLM, transformers, our checkpoints.

    from textbooks.llm import LLMClient, LLMConfig, Request
    client = LLMClient(LLMConfig(base_url="http://127.0.0.1:8000/v1", model="m", cache_path="teacher.sqlite"))
    results = client.run([Request(id="a", prompt="def add(a, b):", max_tokens=64)])

Light to import: the names below are loaded on first use (PEP 562), so the CLI modules in this package
(`textbooks llm ...`) do not pay for the client's asyncio/sqlite3/ssl imports; backends import httpx /
torch / transformers / vllm when first used.
"""

__all__ = ["LLMClient", "LLMConfig", "Request", "Result", "Usage", "LLMError", "LLMFatalError"]

_CONFIG_NAMES = {"LLMConfig", "LLMError", "LLMFatalError", "Request", "Result", "Usage"}


def __getattr__(name: str):
    if name == "LLMClient":
        from textbooks.llm.client import LLMClient

        return LLMClient
    if name in _CONFIG_NAMES:
        from textbooks.llm import config

        return getattr(config, name)
    raise AttributeError(f"module 'textbooks.llm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
