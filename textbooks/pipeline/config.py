"""The typed config of `textbooks run`: one section per stage, and the arms of the Figure 2.1 ablation.

    corpus        what stands in for The Stack (default: the Python code already on the machine)
    curate        `data curate` (filters -> dedup -> educational value), its config and executor
    decontaminate `data decontaminate` of the curated code against HumanEval/MBPP; `similar_tau` for Table 3
    synth         `synth textbooks` / `synth exercises` (+ the held-out exercise families for evaluation)
    tokenizer     one byte-level BPE shared by every arm (trained on everything any arm reads)
    pretrain      the train config every pretraining arm uses, and the token budget they all get
    finetune      the train config of finetuning arms, and their token budget
    arms          the ablation: which packed sources each arm pretrains on (with mixture weights), or which
                  arm it finetunes and on what
    eval          benchmarks, held-out exercises, NLL, the Table 3 split, the judge, the generation backend

Arms are equal by construction: every pretraining arm trains on exactly `pretrain.tokens` tokens (the steps
are derived from the budget, the train config's batch and sequence length), so they differ only in data.
Loaded with the same typed loader as the train config (unknown keys name the closest valid key; `--set
section.key=value` overrides), then checked as a whole (`validate`) before any stage runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

from textbooks.train.config import ConfigError, load_dataclass_config

# Packed sources an arm can train on, and the stage that makes each.
SOURCES = ("raw", "filtered", "textbooks", "exercises")


@dataclass
class CorpusSection:
    """`inputs`: directories of .py files, JSONL/Parquet in The Stack's schema, Posts.xml; the word `embedded`
    means the machine's own Python code (stdlib + site-packages), which is the offline default."""

    inputs: list[str] = field(default_factory=lambda: ["embedded"])
    max_files: Optional[int] = 3000  # read.max_units of the curation: the first N files/records


@dataclass
class CurateSection:
    config: Optional[str] = "configs/data/curate.yaml"  # null: the dataclass defaults
    annotator: str = "offline"  # offline rubric, or an OpenAI-compatible base URL (the paper: GPT-4)
    set: list[str] = field(default_factory=list)  # --set overrides of the curation config
    executor: Literal["local", "slurm", "ray"] = "local"
    workers: Optional[int] = None


@dataclass
class DecontaminateSection:
    enabled: bool = True
    benchmarks: list[str] = field(default_factory=lambda: ["humaneval", "mbpp"])
    methods: list[str] = field(default_factory=lambda: ["ngram", "embedding", "ast"])
    tau: float = 0.9  # paper §5.2 pruning rule: AST match rate >= tau (or embedding distance under threshold)
    featurizer: Optional[str] = None  # null: the curation config's (hashed n-grams offline)
    similar_tau: list[float] = field(default_factory=lambda: [0.95, 0.9, 0.85, 0.8])  # Table 3; [] = skip
    report_tau: Optional[float] = 0.9  # the split eval reports show (one of similar_tau); null = none


@dataclass
class SynthSection:
    teacher: str = "offline"  # offline, or an OpenAI-compatible base URL (the paper: GPT-3.5)
    model: Optional[str] = None  # the teacher's model name at that URL
    textbooks: int = 100  # lessons (0 = none: the codetextbook arm then has no textbooks)
    exercises: int = 500
    heldout: int = 0  # held-out exercises for evaluation, from `holdout_families` only (0 = none)
    holdout_families: list[str] = field(default_factory=list)  # family names or topic prefixes
    mine: bool = True  # also mine documented functions with doctests from the curated code (offline teacher)
    seed: int = 0
    set: list[str] = field(default_factory=list)  # --set overrides of the synthesis config


@dataclass
class TokenizerSection:
    vocab_size: int = 4096
    path: Optional[str] = None  # an existing tokenizer directory instead of training one (e.g. codegen's)
    max_files: Optional[int] = None


@dataclass
class TrainStageSection:
    """`config`: a train config (configs/train/*.yaml); the pipeline sets its data, run_dir, init_from and the
    schedule derived from `tokens` (warmup and stop keep the config's fractions of its schedule)."""

    config: str = "configs/train/demo-tiny.yaml"
    tokens: int = 2_000_000
    set: list[str] = field(default_factory=list)
    nproc: int = 1  # > 1: the stage runs under torchrun --nproc_per_node=nproc


@dataclass
class DataEntry:
    source: str = "filtered"  # one of SOURCES
    weight: float = 1.0


@dataclass
class ArmSection:
    """A pretraining arm names `pretrain` sources; a finetuning arm names the arm it starts `from` and its
    `finetune` sources (the paper: phi-1-base finetuned on CodeExercises)."""

    name: str = ""
    pretrain: list[DataEntry] = field(default_factory=list)
    from_arm: Optional[str] = None
    finetune: list[DataEntry] = field(default_factory=list)


@dataclass
class EvalSection:
    benchmarks: list[str] = field(default_factory=lambda: ["humaneval", "mbpp"])
    mbpp_split: str = "test"
    limit: Optional[int] = None  # first N tasks of each benchmark (the report says "N of M tasks")
    limits: dict = field(default_factory=dict)  # per benchmark, over `limit`: e.g. {mbpp: 100, exercises: 50}
    heldout: bool = True  # pass@1 on the held-out synthetic exercises
    nll: bool = True  # mean per-token NLL of the canonical solutions
    nll_limit: Optional[int] = None
    backend: Literal["phi", "hf", "vllm"] = "phi"  # hf/vllm evaluate the arm's Hugging Face export
    max_new_tokens: int = 128
    batch_size: int = 16
    isolation: Literal["auto", "bwrap", "process", "none"] = "auto"
    workers: Optional[int] = None
    judge: Optional[str] = None  # an OpenAI-compatible base URL: grade the unconventional problems (paper §4)
    judge_model: Optional[str] = None
    samples_shown: int = 3  # sample completions per arm in the report


@dataclass
class PipelineConfig:
    name: str = "pipeline"
    out: str = "runs/pipeline"
    description: str = ""
    corpus: CorpusSection = field(default_factory=CorpusSection)
    curate: CurateSection = field(default_factory=CurateSection)
    decontaminate: DecontaminateSection = field(default_factory=DecontaminateSection)
    synth: SynthSection = field(default_factory=SynthSection)
    tokenizer: TokenizerSection = field(default_factory=TokenizerSection)
    pretrain: TrainStageSection = field(default_factory=TrainStageSection)
    finetune: TrainStageSection = field(default_factory=lambda: TrainStageSection(
        config="configs/train/demo-finetune.yaml", tokens=500_000))
    arms: list[ArmSection] = field(default_factory=list)
    eval: EvalSection = field(default_factory=EvalSection)

    # -- derived ----------------------------------------------------------------------------------------
    def arm(self, name: str) -> ArmSection:
        for a in self.arms:
            if a.name == name:
                return a
        raise KeyError(name)

    def sources_used(self) -> list[str]:
        used = {e.source for a in self.arms for e in (a.pretrain + a.finetune)}
        return [s for s in SOURCES if s in used]


def load_pipeline_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> PipelineConfig:
    config = load_dataclass_config(PipelineConfig, path, overrides, shipped="configs/pipeline/",
                                   example="pretrain.tokens=1000000")
    validate(config, source=str(path) if path else "defaults")
    return config


def validate(c: PipelineConfig, source: str = "config") -> None:
    """Checks that need the whole config (the field types were checked while loading)."""
    def bad(key: str, why: str) -> ConfigError:
        return ConfigError(f"{source}: {key}: {why}")

    if not c.arms:
        raise bad("arms", "no arms: give at least one, e.g. [{name: filtered, pretrain: [{source: filtered}]}]")
    names = [a.name for a in c.arms]
    for i, a in enumerate(c.arms):
        key = f"arms[{i}]"
        if not a.name or "/" in a.name or a.name.startswith(".") or a.name != a.name.strip() or len(a.name) > 100 \
                or any(ch in a.name for ch in "\0\n\r\t"):
            raise bad(f"{key}.name", f"{a.name[:120]!r} is not a usable name (it names directories and files: not "
                      "empty, no '/', no leading '.', at most 100 characters)")
        if names.count(a.name) > 1:
            raise bad(f"{key}.name", f"two arms are called {a.name!r}")
        if bool(a.pretrain) == bool(a.from_arm):
            raise bad(key, "an arm either pretrains (`pretrain: [...]`) or finetunes another arm (`from_arm` + "
                      "`finetune: [...]`), not both and not neither")
        if a.from_arm is not None:
            if a.from_arm not in names[:i]:
                raise bad(f"{key}.from_arm", f"{a.from_arm!r} is not an arm listed before {a.name!r} "
                          f"(arms so far: {', '.join(names[:i]) or 'none'})")
            if not a.finetune:
                raise bad(f"{key}.finetune", "a finetuning arm needs its sources, e.g. [{source: exercises}]")
        elif a.finetune:
            raise bad(f"{key}.finetune", "only an arm with `from_arm` finetunes")
        for j, e in enumerate(a.pretrain + a.finetune):
            if e.source not in SOURCES:
                raise bad(f"{key} source {e.source!r}", f"not one of {', '.join(SOURCES)}")
            if not (e.weight > 0 and math.isfinite(e.weight)):
                raise bad(f"{key} source {e.source!r}", f"weight must be a finite number > 0, got {e.weight}")
        weights = [e.weight for e in a.pretrain + a.finetune]
        if not math.isfinite(sum(weights)) or not all(w / sum(weights) > 0 for w in weights):
            raise bad(f"{key}", f"mixture weights {weights} do not make proportions (keep them near 1, e.g. 0.85 and 0.15)")
    for name, section in (("pretrain", c.pretrain), ("finetune", c.finetune)):
        if section.tokens <= 0:
            raise bad(f"{name}.tokens", f"must be > 0, got {section.tokens}")
        if section.nproc < 1:
            raise bad(f"{name}.nproc", f"must be >= 1, got {section.nproc}")
    if c.corpus.max_files is not None and c.corpus.max_files < 1:
        raise bad("corpus.max_files", f"must be >= 1 or null, got {c.corpus.max_files}")
    if not c.corpus.inputs:
        raise bad("corpus.inputs", "give at least one input (or `embedded`)")
    if "textbooks" in c.sources_used() and c.synth.textbooks < 1:
        raise bad("synth.textbooks", "an arm trains on textbooks, so synth.textbooks must be >= 1")
    if "exercises" in c.sources_used() and c.synth.exercises < 1:
        raise bad("synth.exercises", "an arm trains on exercises, so synth.exercises must be >= 1")
    if c.eval.heldout and c.synth.heldout >= 1 and not c.synth.holdout_families:
        raise bad("synth.holdout_families", "eval.heldout needs the families to hold out (names or topic "
                  "prefixes), or set synth.heldout: 0")
    if c.synth.teacher == "offline":
        from textbooks.synth.cli import unknown_name
        from textbooks.synth.offline.families import FAMILIES

        for i, name in enumerate(c.synth.holdout_families):
            problem = unknown_name(name, FAMILIES)
            if problem:
                raise bad(f"synth.holdout_families[{i}]", problem)
        from textbooks.synth.run import _allowed

        held = set(c.synth.holdout_families)
        if held and all(not _allowed(n, f.topic, held, None) for n, f in FAMILIES.items()):
            raise bad("synth.holdout_families", "every offline family is held out: nothing is left to train on "
                      "(hold out a few families or topics, e.g. [lists.clip_all, strings/transforming])")
    if c.synth.heldout < 0 or c.synth.exercises < 0 or c.synth.textbooks < 0:
        raise bad("synth", "counts must be >= 0")
    for t in c.decontaminate.similar_tau:
        if not 0.0 < t <= 1.0:
            raise bad("decontaminate.similar_tau", f"{t} is not in (0, 1]")
    if c.decontaminate.report_tau is not None and c.decontaminate.similar_tau \
            and c.decontaminate.report_tau not in c.decontaminate.similar_tau:
        raise bad("decontaminate.report_tau", f"{c.decontaminate.report_tau} is not one of similar_tau "
                  f"{c.decontaminate.similar_tau}")
    for b in c.eval.benchmarks:
        if b not in ("humaneval", "mbpp", "humaneval+", "mbpp+", "mbpp-sanitized"):
            raise bad("eval.benchmarks", f"{b!r} is not one of humaneval, mbpp, mbpp-sanitized, humaneval+, mbpp+")
    if c.eval.limit is not None and c.eval.limit < 1:
        raise bad("eval.limit", f"must be >= 1 or null, got {c.eval.limit}")
    for b, n in c.eval.limits.items():
        if b not in (*c.eval.benchmarks, "exercises"):
            raise bad(f"eval.limits.{b}", f"not an evaluated benchmark ({', '.join([*c.eval.benchmarks, 'exercises'])})")
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
            raise bad(f"eval.limits.{b}", f"must be an integer >= 1 or null, got {n!r}")
    from textbooks.eval.tasks import MBPP_SPLITS

    if c.eval.mbpp_split not in (*MBPP_SPLITS, "all"):
        raise bad("eval.mbpp_split", f"{c.eval.mbpp_split!r} is not one of {', '.join([*MBPP_SPLITS, 'all'])}")
    if c.eval.judge and not c.eval.judge_model:
        raise bad("eval.judge_model", "eval.judge needs the judge's model name at that URL (the paper: GPT-4)")
    if c.eval.max_new_tokens < 1 or c.eval.batch_size < 1:
        raise bad("eval", "max_new_tokens and batch_size must be >= 1")


def environment_problems(c: PipelineConfig) -> list[str]:
    """What this machine lacks for the config (inputs, packages): `--dry-run` lists them, a run refuses."""
    import importlib.util

    problems = []
    for i, item in enumerate(c.corpus.inputs):
        if item != "embedded" and not Path(item).exists():
            problems.append(f"corpus.inputs[{i}]: {item} does not exist (a directory of .py files, JSONL/Parquet, "
                            "Posts.xml, or `embedded`)")
    if c.tokenizer.path is not None and not (Path(c.tokenizer.path) / "tokenizer.json").is_file():
        problems.append(f"tokenizer.path: {c.tokenizer.path} is not a tokenizer directory (no tokenizer.json)")
    needs = {"vllm": ("vllm", "gpu"), "hf": ("transformers", "hf")}.get(c.eval.backend)
    if needs and importlib.util.find_spec(needs[0]) is None:
        problems.append(f"eval.backend: {c.eval.backend} needs {needs[0]}: pip install 'textbooks[{needs[1]}]' "
                        "(or eval.backend: phi, our checkpoints in-process)")
    return problems
