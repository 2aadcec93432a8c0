"""`textbooks eval ...`: generate -> execute -> judge -> report, with files between the stages."""

from textbooks.cli import add_subcommands

SUBCOMMANDS = {
    "generate": ("textbooks.eval.generate", "sample completions for HumanEval/MBPP tasks from any model (samples.jsonl)"),
    "execute": ("textbooks.eval.execute", "run samples in the sandbox and score pass@k (results.jsonl + summary)"),
    "judge": ("textbooks.eval.judge", "LLM-grade solutions to unconventional problems (paper §4)"),
    "report": ("textbooks.eval.report", "Markdown + JSON report: pass@k, settings, failures, similar/non-similar split"),
    "run": ("textbooks.eval.run", "generate -> execute -> report in one command (same flags and files), resumable"),
    "nll": ("textbooks.eval.nll", "mean per-token NLL of the canonical solutions given their prompts (HumanEval, MBPP, exercises)"),
}


def configure(parser) -> None:
    add_subcommands(parser, SUBCOMMANDS, dest="eval_command")
