"""The plain-text chat template used where a model has none of its own (our checkpoints, `textbooks serve`).

phi-1 is a base code model, not a chat model, so the template is deliberately plain text that needs no
special tokens:

    ### System:
    You are a careful Python teacher.

    ### User:
    Write a function that reverses a list.

    ### Assistant:
    <the model continues here>

Generation stops before the model starts a new "### User:" / "### System:" turn (`CHAT_STOP`).
"""

from __future__ import annotations

from typing import Any

ROLE_HEADERS = {"system": "### System:", "user": "### User:", "assistant": "### Assistant:"}
CHAT_STOP = ["\n### User:", "\n### System:"]


def render_chat(messages: list[dict[str, Any]]) -> str:
    """messages [{"role": "system"|"user"|"assistant", "content": str}] -> the prompt text."""
    parts = []
    for i, message in enumerate(messages):
        role = message.get("role")
        if role not in ROLE_HEADERS:
            raise ValueError(f"messages[{i}].role must be one of {', '.join(ROLE_HEADERS)}, got {role!r}")
        content = message.get("content")
        if not isinstance(content, str):
            raise ValueError(f"messages[{i}].content must be a string, got {type(content).__name__}")
        parts.append(f"{ROLE_HEADERS[role]}\n{content}\n")
    return "\n".join(parts) + "\n" + ROLE_HEADERS["assistant"] + "\n"


def chat_stop(stop: list[str] | None) -> list[str]:
    """The caller's stop strings plus the template's turn markers."""
    return list(dict.fromkeys([*(stop or []), *CHAT_STOP]))
