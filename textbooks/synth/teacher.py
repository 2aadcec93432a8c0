"""Teachers: who answers a synthesis request. Both return answer *text*, parsed and verified the same way.

- `LLMTeacher`: any OpenAI-compatible endpoint (vLLM's `vllm serve`, `textbooks serve`, a hosted API)
  through the one LLM client (`textbooks.llm`): its SQLite cache holds every finished answer, so a killed
  run relaunched sends no finished request again; pacing (rpm/tpm), concurrency and retries on 429/5xx/
  dropped connections are the client's.
- `OfflineTeacher`: the embedded stand-in (no network, deterministic): exercises from the procedural
  families (`textbooks.synth.offline.families`) or mined from a code corpus (`offline.mine`), lessons from
  `offline.lessons`. It answers in the format an LLM is asked for, so the parser and the sandbox check
  everything it says too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Job:
    """One request. id: unique in the run ("ex-<seed>-<index>"); spec: what to write (topic, audience,
    function name, family, ...); messages: the conversation (the rendered prompt, then any re-asks)."""

    id: str
    spec: dict[str, Any]
    messages: list[dict[str, str]] = field(default_factory=list)
    seed: int = 0


@dataclass
class Answer:
    text: str | None
    error: str | None = None
    cached: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    meta: dict = field(default_factory=dict)  # what the teacher says about its answer (the offline lessons' families)


class LLMTeacher:
    """Answers through `textbooks.llm.LLMClient` (one client for the run, so usage accumulates)."""

    kind = "llm"

    def __init__(self, client, section):
        self.client = client
        self.section = section
        self.name = f"llm:{client.config.model}"
        self.model = client.config.model

    def answer(self, jobs: list[Job]) -> list[Answer]:
        from textbooks.llm import Request

        s = self.section
        requests = []
        for j in jobs:
            sampling = dict(max_tokens=s.max_tokens, temperature=s.temperature, top_p=s.top_p, seed=j.seed)
            if s.mode == "chat":
                requests.append(Request(id=j.id + f"#{len(j.messages)}", messages=j.messages, **sampling))
            else:  # completions: the conversation flattened (a re-ask appends the bad answer and the reminder)
                prompt = "\n\n".join(m["content"] for m in j.messages) + "\n\n"
                requests.append(Request(id=j.id + f"#{len(j.messages)}", prompt=prompt, **sampling))
        results = self.client.run(requests)
        return [Answer(r.text if r.ok else None, r.error, bool(r.cached), int(r.usage.get("prompt_tokens", 0)),
                       int(r.usage.get("completion_tokens", 0))) for r in results]

    @property
    def usage(self) -> dict:
        return self.client.usage.to_dict()


class OfflineTeacher:
    """The procedural stand-in. A job's spec names what to write: {"family": name} or {"mined": index} for
    exercises, a textbook spec for lessons (see `textbooks.synth.diversity`)."""

    kind = "offline"
    name = "offline"
    model = "offline-v1"

    def __init__(self, families: dict, vocab=None, mined: list | None = None):
        self.families = families
        self.vocab = vocab
        self.mined = mined or []

    def restricted(self, families: dict) -> "OfflineTeacher":
        """The same teacher with only `families` (what --holdout-families / --families leave)."""
        return OfflineTeacher(families, self.vocab, self.mined)

    def answer(self, jobs: list[Job]) -> list[Answer]:
        return [self._one(j) for j in jobs]

    def _one(self, job: Job) -> Answer:
        from textbooks.synth.offline.family import render_answer

        spec = job.spec
        if spec.get("kind") == "textbook":
            from textbooks.synth.offline.lessons import lesson

            try:
                out = lesson(spec, self.families, self.vocab)
            except Exception as e:  # as for exercises: one lost item, counted, never a crashed run
                return Answer(None, f"lesson for {spec.get('topic')} could not be written: {type(e).__name__}: {e}"[:500])
            return Answer(out.text, meta={"families": list(out.families)})
        if "mined" in spec:
            from textbooks.synth.offline.mine import mined_answer

            m = self.mined[spec["mined"]]
            return Answer(mined_answer(m), meta={"entry_point": m.entry_point})
        fam = self.families[spec["family"]]
        try:
            made = fam.make(random.Random(f"{job.seed}:{job.id}"))
        except Exception as e:  # a family's bug must cost one item (counted as `no answer`), not the run
            return Answer(None, f"family {fam.name} could not make an exercise: {type(e).__name__}: {e}"[:500])
        # the entry point is named to the parser, as a requested name is: a family whose tests use two classes
        # (a base and a subclass) is otherwise ambiguous
        return Answer(render_answer(made), meta={"entry_point": made.entry_point})

    @property
    def usage(self) -> dict:
        return {}
