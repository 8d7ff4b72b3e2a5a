"""NT-Xent with the CLIP-guided edits as the released losses compute them (`amf.experiments.ntxent`): on a hand-made
batch of 8 views the masks are the ones the released rules select (worked out by hand below), and every loss and
its gradient equal a direct numpy restatement (loops over rows, finite differences)."""

import jax
import numpy as np
import pytest

from amf.errors import InputError
from amf.experiments import ntxent

# Two views of 4 sources: view i and i + 4 are partners (0-4, 1-5, 2-6, 3-7). CLIP similarities in 32nds (exact
# in float32); row 0 ties at 5/32 (columns 3 and 6); the partners 1-5 are each other's most similar view.
SIM = np.array([[32, 27, 29, 5, 12, 17, 5, 28],
                [27, 32, 20, 15, 2, 30, 13, 10],
                [29, 20, 32, 11, 19, 8, 3, 4],
                [5, 15, 11, 32, 25, 18, 16, 6],
                [12, 2, 19, 25, 32, 9, 24, 7],
                [17, 30, 8, 18, 9, 32, 23, 21],
                [5, 13, 3, 16, 24, 23, 32, 26],
                [28, 10, 4, 6, 7, 21, 26, 32]]) / 32.0
N = 8
RATIO = 0.25  # int(0.25 x 8) = 2 entries per row

# DropFalseNegative, rank 2: remove c_ij >= the row's 2nd largest (self, 32, is the largest), put the partner back
FALSE_NEGATIVE_DENOMINATORS = [{1, 3, 4, 5, 6, 7}, {0, 2, 3, 4, 5, 6, 7}, {1, 3, 4, 5, 6, 7}, {0, 1, 2, 5, 6, 7},
                               {0, 1, 2, 5, 6, 7}, {0, 1, 2, 3, 4, 6, 7}, {0, 1, 2, 3, 4, 5}, {1, 2, 3, 4, 5, 6}]
# DropEasyNegative, rank 2: remove c_ij <= the row's 2nd smallest (row 0: 5, 5 tie, both go), put the partner back
EASY_NEGATIVE_DENOMINATORS = [{1, 2, 4, 5, 7}, {0, 2, 3, 5, 6}, {0, 1, 3, 4, 5, 6}, {1, 2, 4, 5, 6, 7},
                              {0, 2, 3, 5, 6}, {0, 1, 3, 6, 7}, {1, 2, 3, 4, 5, 7}, {0, 1, 3, 4, 5, 6}]
# AddNewPositive: the most similar view other than self and partner
NEW_POSITIVES = [2, 0, 0, 4, 3, 6, 7, 0]
# DropFalsePositive: positive similarities by row 12, 30, 3, 6, 12, 30, 3, 6 (sorted 3 3 6 6 12 12 30 30)
KEPT_POSITIVES = {0.25: [0, 1, 3, 4, 5, 7],  # rank 2: t = 3, rows 2 and 6 go
                  0.375: [0, 1, 4, 5]}  # rank 3: t = 6, rows 2, 3, 6, 7 go


def as_mask(sets):
    mask = np.zeros((N, N), dtype=bool)
    for i, row in enumerate(sets):
        mask[i, sorted(row)] = True
    return mask


def test_masks_are_the_released_rules_on_a_hand_made_batch():
    np.testing.assert_array_equal(ntxent.partners(N), [4, 5, 6, 7, 0, 1, 2, 3])
    np.testing.assert_array_equal(ntxent.denominators("drop_false_negative", SIM, RATIO),
                                  as_mask(FALSE_NEGATIVE_DENOMINATORS))
    np.testing.assert_array_equal(ntxent.denominators("drop_easy_negative", SIM, RATIO),
                                  as_mask(EASY_NEGATIVE_DENOMINATORS))
    for method in ("baseline", "add_new_positive", "drop_false_positive", "drop_false_positive_released"):
        np.testing.assert_array_equal(ntxent.denominators(method, SIM, RATIO), ~np.eye(N, dtype=bool))
    np.testing.assert_array_equal(ntxent.new_positives(SIM), NEW_POSITIVES)
    for ratio, kept in KEPT_POSITIVES.items():
        np.testing.assert_array_equal(np.flatnonzero(ntxent.kept_positives(SIM, ratio)), kept)


# ---- a direct numpy restatement: one row at a time ----------------------------------------------------------------


def reference_denominator(method, c, i, ratio):
    row = c[i]
    others = [j for j in range(N) if j != i]
    m = int(ratio * N)
    if method == "drop_false_negative":
        t = np.sort(row)[::-1][m - 1]
        keep = [j for j in others if row[j] < t]
    elif method == "drop_easy_negative":
        t = np.sort(row)[m - 1]
        keep = [j for j in others if row[j] > t]
    else:
        keep = others
    return sorted(set(keep) | {(i + N // 2) % N})


def reference_loss(method, z, c, tau, parameter):
    u = z / np.linalg.norm(z, axis=1, keepdims=True)
    logits = u @ u.T / tau
    terms, news, kept = [], [], []
    positive_sims = [c[i, (i + N // 2) % N] for i in range(N)]
    for i in range(N):
        d = reference_denominator(method, c, i, parameter)
        top = logits[i, d].max()
        log_z = top + np.log(np.sum(np.exp(logits[i, d] - top)))
        p = (i + N // 2) % N
        terms.append(logits[i, p] - log_z)
        candidates = [j for j in range(N) if j not in (i, p)]
        news.append(logits[i, max(candidates, key=lambda j: c[i, j])] - log_z)
        kept.append(c[i, p] > np.sort(positive_sims)[int(parameter * N) - 1])
    terms, news = np.array(terms), np.array(news)
    if method == "add_new_positive":
        return -(1 - parameter) * terms.mean() - parameter * news.mean()
    if method == "drop_false_positive":
        return -terms[kept].sum() / np.sum(kept)
    return -terms.mean()


PARAMETERS = {"baseline": None, "add_new_positive": 0.5, "drop_false_positive": 0.375,
              "drop_false_positive_released": 0.375, "drop_false_negative": RATIO, "drop_easy_negative": RATIO}


@pytest.mark.parametrize("method", [  # the baseline is the fast subset's; each edit's batch is slow
    method if method == "baseline" else pytest.param(method, marks=pytest.mark.slow) for method in ntxent.METHODS])
def test_loss_and_gradient_equal_a_numpy_restatement(method):
    z = np.random.default_rng(1).standard_normal((N, 3))
    tau, parameter = 0.2, PARAMETERS[method]
    numeric_parameter = 0.5 if parameter is None else parameter
    value, grad = jax.value_and_grad(lambda z: ntxent.loss(method, z, SIM, tau, parameter))(z)
    assert float(value) == pytest.approx(reference_loss(method, z, SIM, tau, numeric_parameter), rel=1e-12)
    h = 1e-6
    fd = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        step = np.zeros_like(z)
        step[idx] = h
        fd[idx] = (reference_loss(method, z + step, SIM, tau, numeric_parameter)
                   - reference_loss(method, z - step, SIM, tau, numeric_parameter)) / (2 * h)
    np.testing.assert_allclose(np.asarray(grad), fd, atol=1e-7)


@pytest.mark.slow  # every edit's batch (~1 s)
def test_each_edit_changes_the_loss_and_the_released_drop_false_positive_does_not():
    z = np.random.default_rng(2).standard_normal((N, 3))
    plain = float(ntxent.loss("baseline", z, SIM, 1.0))
    assert float(ntxent.loss("drop_false_positive_released", z, SIM, 1.0, 0.375)) == plain
    for method in ("add_new_positive", "drop_false_positive", "drop_false_negative", "drop_easy_negative"):
        assert abs(float(ntxent.loss(method, z, SIM, 1.0, PARAMETERS[method])) - plain) > 1e-3, method


def test_bad_batches_and_ratios_are_refused():
    z = np.ones((N, 2))
    with pytest.raises(InputError, match="at least 1"):
        ntxent.loss("drop_false_negative", z, SIM, 0.1, 0.05)  # int(0.05 x 8) = 0: the released topk fails
    with pytest.raises(InputError, match="n even"):
        ntxent.loss("baseline", z[:7], SIM[:7, :7], 0.1)
    with pytest.raises(InputError, match="unknown method"):
        ntxent.loss("drop_everything", z, SIM, 0.1)
