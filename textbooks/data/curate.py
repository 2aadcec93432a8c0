"""`data filter`, `data dedup` and `data curate`: the stages of phi-1's code curation as datatrove runs.

    data filter   INPUT... -> heuristic code filters (textbooks.data.filters)            -> DIR/output
    data dedup    INPUT... -> exact + MinHash near-duplicates (textbooks.data.dedup)     -> DIR/output
    data curate   INPUT... -> filters -> dedup -> educational value (annotate a sample, train the random
                              forest, apply it to every document; textbooks.data.quality) -> DIR/output

The order of `curate` is deliberate: dedup runs before the educational-value stage, so the judge (an LLM
costs money) never scores two copies of a file and no file can sit in both the classifier's training
and held-out splits through a duplicate. Every stage is a datatrove pipeline of the runner
(textbooks.data.pipeline), resumable task by task; the annotation and training between the dedup and
apply stages resume too: annotations go through the LLM client's cache, and the trained model is
reused when its annotations and settings are unchanged (`DIR/quality/`).

Settings: `CurateConfig`, the sections of configs/data/curate.yaml (`read`, `filters`, `dedup`,
`quality`, `executor`), each a typed dataclass whose fields say where their defaults come from.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from textbooks.data import pipeline as pl
from textbooks.data.decontam.detect import DecontaminateConfig
from textbooks.data.dedup import DedupConfig
from textbooks.data.filters import FilterConfig
from textbooks.data.quality.config import QualityConfig
from textbooks.data.verbs import ReadConfig, VerbRun, execute_verb

SHIPPED_CONFIG = "configs/data/curate.yaml"


@dataclass
class CurateConfig:
    read: ReadConfig = field(default_factory=ReadConfig)
    filters: FilterConfig = field(default_factory=FilterConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    decontaminate: DecontaminateConfig = field(default_factory=DecontaminateConfig)  # `data decontaminate`
    executor: pl.ExecutorConfig = field(default_factory=pl.ExecutorConfig)


def load_curate_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> CurateConfig:
    from textbooks.train.config import load_dataclass_config

    return load_dataclass_config(CurateConfig, path, overrides, shipped="configs/data/",
                                 example="filters.max_line_length=1000")


def default_config_path() -> Path | None:
    """configs/data/curate.yaml of a source checkout (None in an installed wheel: dataclass defaults)."""
    path = Path(__file__).resolve().parents[2] / SHIPPED_CONFIG
    return path if path.is_file() else None


# --- stage builders ---------------------------------------------------------------------------------


def filter_stage(run: VerbRun, cfg: CurateConfig, write) -> pl.Stage:
    from textbooks.data.filters import filter_steps

    return pl.Stage("filter", [run.reader(), *run.with_exclusions(filter_steps(cfg.filters)), write()], run.tasks)


def dedup_stages(run: VerbRun, cfg: CurateConfig, read, write) -> list[pl.Stage]:
    from textbooks.data import dedup

    if cfg.dedup.minhash:
        pl._log(dedup.describe_lsh(cfg.dedup))  # the b/r S-curve and the threshold it implies (users confuse b and r)

    return dedup.dedup_stages(read, run.work("dedup"), write, run.removed_writer, cfg.dedup, run.tasks)


def quality_stage(run: VerbRun, cfg: CurateConfig, model_dir: Path, read, write) -> pl.Stage:
    from textbooks.data.quality.classifier import EducationalValueFilter

    step = EducationalValueFilter(model_dir, batch_size=cfg.quality.batch_size, device=cfg.quality.device)
    return pl.Stage("quality", [read(), *run.with_exclusions([step]), write()], run.tasks)


# --- the verbs ----------------------------------------------------------------------------------------


def run_filter(inputs, out_dir, cfg: CurateConfig, *, overwrite: bool = False) -> dict:
    run = VerbRun("filter", inputs, out_dir, read=cfg.read, executor=cfg.executor,
                  settings={"filters": pl.config_dict(cfg.filters)}, overwrite=overwrite)
    return _with_plots(run, execute_verb(run, lambda r: [filter_stage(r, cfg, r.output_writer)]))


def run_dedup(inputs, out_dir, cfg: CurateConfig, *, overwrite: bool = False) -> dict:
    run = VerbRun("dedup", inputs, out_dir, read=cfg.read, executor=cfg.executor,
                  settings={"dedup": pl.config_dict(cfg.dedup)}, overwrite=overwrite)
    return _with_plots(run, execute_verb(run, lambda r: dedup_stages(r, cfg, r.reader, r.output_writer), after=_dedup_extra))


def run_curate(inputs, out_dir, cfg: CurateConfig, *, overwrite: bool = False) -> dict:
    """The whole chain; see the module docstring. Returns stats.json's content."""
    run = VerbRun("curate", inputs, out_dir, read=cfg.read, executor=cfg.executor,
                  settings={k: pl.config_dict(getattr(cfg, k)) for k in ("filters", "dedup", "quality")},
                  overwrite=overwrite)
    filtered, deduped = run.work("filtered"), run.work("deduped")
    quality_dir = run.out_dir / "quality"
    state: dict = {}

    def build(r: VerbRun) -> list[pl.Stage]:
        # Stages before the classifier exists run first; then annotate + train; then the apply stage.
        first = [filter_stage(r, cfg, lambda: pl.jsonl_writer(filtered))]
        first += dedup_stages(r, cfg, lambda: pl.jsonl_reader(filtered), lambda: pl.jsonl_writer(deduped))
        if not cfg.dedup.exact and not cfg.dedup.minhash:
            first = [filter_stage(r, cfg, lambda: pl.jsonl_writer(deduped))]
        if not pl.run_stages(first, r.out_dir, r.executor):
            raise pl.PipelineError("data curate with --executor slurm runs its stages one submission at a time: "
                                   "rerun the command when the submitted jobs have finished")
        if not any(_read_shards(deduped)):
            # Nothing survived the filters and dedup (e.g. only non-code inputs): no sample to label, no classifier.
            state["quality_skipped"] = "no documents left after the filters and dedup"
            r.output_dir.mkdir(parents=True, exist_ok=True)
            return first
        state["model"] = train_quality_model(deduped, quality_dir, cfg.quality)
        return first + [quality_stage(r, cfg, state["model"], lambda: pl.jsonl_reader(deduped), r.output_writer)]

    def after(r: VerbRun) -> dict:
        extra = _dedup_extra(r, work="dedup")
        if "quality_skipped" in state:
            extra["quality"] = {"skipped": state["quality_skipped"]}
        report = quality_dir / "model" / "report.json"
        if report.is_file():
            rep = json.loads(report.read_text())
            extra["quality"] = {k: rep.get(k) for k in ("kind", "featurizer", "featurizer_fingerprint", "threshold",
                                                       "n_train", "n_test", "positive_fraction", "held_out", "baselines",
                                                       "warning") if k in rep}
            annotations = quality_dir / "annotations.summary.json"
            if annotations.is_file():
                extra["quality"]["annotation"] = json.loads(annotations.read_text())
        return extra

    return _with_plots(run, execute_verb(run, build, after=after))


def train_quality_model(corpus: Path, quality_dir: Path, q: QualityConfig) -> Path:
    """Annotate a sample of `corpus` (shards of the previous stage) and train the classifier on it.

    Reused on a relaunch: the model dir is kept when its recorded settings match (annotation through the
    LLM client is cached anyway). Returns the model directory.
    """
    from textbooks.data.quality.annotate import OfflineRubricAnnotator, sample_documents
    from textbooks.data.quality.classifier import TrainSettings, train_classifier
    from textbooks.data.quality.featurize import load_featurizer
    from textbooks.data.quality.plots import write_training_plots
    from textbooks.jsonl import write_json_atomic, write_jsonl

    quality_dir.mkdir(parents=True, exist_ok=True)
    model_dir = quality_dir / "model"
    settings = pl.config_dict(q)
    done = quality_dir / "model.settings.json"
    if done.is_file() and json.loads(done.read_text()) == settings and (model_dir / "classifier.json").is_file():
        return model_dir
    docs = sample_documents(_read_shards(corpus), q.sample or None, q.seed)
    if not docs:
        raise pl.PipelineError(f"nothing left to annotate after filtering and dedup ({corpus} is empty)")
    if q.annotator == "offline":
        annotator = OfflineRubricAnnotator(budget_chars=q.sample_tokens * q.chars_per_token)
        records = annotator.annotate(docs)
        usage = None
    else:
        from textbooks.data.quality.annotate import LLMAnnotator
        from textbooks.llm import LLMClient, LLMConfig

        config = LLMConfig(base_url=q.annotator, model=q.model, api_key_env=q.api_key_env or None,
                           cache_path=str(quality_dir / "annotations.cache.sqlite"), concurrency=q.concurrency)
        with LLMClient(config) as client:
            annotator = LLMAnnotator(client, prompt_version=q.prompt_version, max_sample_tokens=q.sample_tokens,
                                     max_answer_tokens=q.max_answer_tokens, retries=q.retries, temperature=q.temperature)
            records = annotator.annotate(docs)
            usage = client.usage.to_dict()
    write_jsonl(quality_dir / "annotations.jsonl", records)
    write_json_atomic(quality_dir / "annotations.summary.json",
                      {"annotator": annotator.name, **annotator.stats.to_dict(), "usage": usage})
    scored = [(r["id"], r["text"], r["score"]) for r in records if r.get("score") is not None]
    if not scored:
        raise pl.PipelineError(f"the annotator gave no scores ({quality_dir / 'annotations.jsonl'}): check its answers")
    featurizer = load_featurizer(q.featurizer, device=q.device, max_tokens=q.max_tokens, dtype=q.dtype)
    ts = TrainSettings(kind=q.classifier, threshold=q.threshold, keep_probability=q.keep_probability,
                       test_fraction=q.test_fraction, n_estimators=q.n_estimators, seed=q.seed)
    clf, report = train_classifier([t for _, t, _ in scored], [s for _, _, s in scored], featurizer, ts,
                                   featurizer_spec=q.featurizer, ids=[i for i, _, _ in scored])
    held, majority = report["held_out"], report["baselines"]["majority"]
    if held["f1"] <= majority["f1"] and held["accuracy"] <= majority["accuracy"]:
        # Applying it anyway is the paper's recipe; but a user should know the labels were not learnt.
        report["warning"] = (f"the classifier does not beat the majority class on held-out labels (F1 {held['f1']:.3f} vs "
                             f"{majority['f1']:.3f}, accuracy {held['accuracy']:.3f} vs {majority['accuracy']:.3f}): "
                             f"annotate more (quality.sample) or use a model featurizer (quality.featurizer)")
        pl._log(f"warning: {report['warning']}")
    clf.save(model_dir, report=report)
    write_training_plots(report, model_dir / "plots")
    write_json_atomic(done, settings)
    return model_dir


def _read_shards(folder: Path):
    from textbooks.jsonl import iter_jsonl
    from datatrove.data import Document

    for path in sorted(Path(folder).glob("*.jsonl.gz")):
        for _, row in iter_jsonl(path, objects=True):
            yield Document(text=row["text"], id=row["id"], metadata=row.get("metadata") or {})


def _dedup_extra(run: VerbRun, work: str = "dedup") -> dict:
    from textbooks.data import dedup

    report = dedup.dedup_report(run.work(work))
    return {"dedup": report} if report else {}


def _with_plots(run: VerbRun, stats: dict) -> dict:
    """The funnel (and dedup cluster sizes) as PNG + JSON in DIR/plots/, once stats.json exists."""
    if stats.get("steps") is None:  # slurm: submitted, no stats yet
        return stats
    from textbooks.data import plots

    out = run.out_dir / "plots"
    out.mkdir(exist_ok=True)
    plots.write_funnel(stats, out)
    sizes = (stats.get("dedup") or {}).get("cluster_size_histogram")
    if sizes:
        plots.write_cluster_sizes(sizes, out)
    return stats


def config_as_yaml(cfg: CurateConfig) -> str:
    import yaml

    return yaml.safe_dump(dataclasses.asdict(cfg), sort_keys=False)
