"""Metrics: every function agrees with scikit-learn (the reference, a test-only dependency) on random data, the
batch accumulator equals the one-shot functions on the concatenated data, and results are JSON-safe."""

from __future__ import annotations

import json
import math

import pytest

pytest.importorskip("sklearn")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from sklearn import metrics as skm  # noqa: E402

from nnstudio.core.training import metrics as M  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:A single label was found:UserWarning")
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOL = dict(rel=1e-6, abs=1e-6)


# ---------------------------------------------------------------------------------------------------- strategies

@st.composite
def labelled(draw, min_size: int = 1):
    """(k, y_true, y_pred): labels drawn from random subsets of range(k), so some classes never occur in y_true,
    some are never predicted, and all-one-class data is common."""
    k = draw(st.integers(1, 8))
    n = draw(st.integers(min_size, 60))
    true_classes = draw(st.lists(st.integers(0, k - 1), min_size=1, max_size=k, unique=True))
    pred_classes = draw(st.lists(st.integers(0, k - 1), min_size=1, max_size=k, unique=True))
    y_true = draw(st.lists(st.sampled_from(true_classes), min_size=n, max_size=n))
    if draw(st.booleans()):  # mostly-correct predictions, so precision and recall are not all near zero
        y_pred = [t if draw(st.integers(0, 3)) else draw(st.sampled_from(pred_classes)) for t in y_true]
    else:
        y_pred = draw(st.lists(st.sampled_from(pred_classes), min_size=n, max_size=n))
    return k, np.array(y_true, dtype=np.int64), np.array(y_pred, dtype=np.int64)


VALUES = st.one_of(
    # no tiny magnitudes: their squares underflow, and then scikit-learn's R² is 0/0 territory
    st.floats(-1e3, 1e3, allow_nan=False).filter(lambda v: v == 0 or abs(v) > 1e-6),
    st.integers(-4096, 4096).map(lambda i: i / 16),  # exact grid: ties, repeats and constant columns
)


@st.composite
def regression_data(draw, min_size: int = 1):
    """(y_true, y_pred) of shape (n, d), sometimes with constant target columns and exact predictions."""
    n, d = draw(st.integers(min_size, 25)), draw(st.integers(1, 3))
    y = np.array(draw(st.lists(VALUES, min_size=n * d, max_size=n * d)), dtype=np.float64).reshape(n, d)
    p = np.array(draw(st.lists(VALUES, min_size=n * d, max_size=n * d)), dtype=np.float64).reshape(n, d)
    for j in range(d):
        if draw(st.integers(0, 3)) == 0:
            y[:, j] = draw(VALUES)  # constant target column
        kind = draw(st.integers(0, 3))
        if kind == 0:
            p[:, j] = y[:, j]  # perfect predictions
        elif kind == 1:
            p[:, j] = y[:, j] + draw(st.integers(-64, 64)) / 16  # close predictions: R² near 1
    return y, p


def splits(draw, n: int) -> list[int]:
    """Random batch boundaries 0 = b0 <= b1 <= ... <= n (empty batches included)."""
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=6)))
    return [0, *cuts, n]


def sk_r2(y: np.ndarray, p: np.ndarray) -> float:
    """scikit-learn's uniform-average R², except that a constant column (all targets equal, a single sample
    included) is judged by comparing values: 1 when predicted exactly, else 0. scikit-learn decides this from a
    rounded SS_tot (a constant 0.1 column can have SS_tot 1e-34) and returns NaN for one sample."""
    constant = (y == y[:1]).all(axis=0)
    rule = np.where((y == p).all(axis=0), 1.0, 0.0)
    if len(y) < 2:
        return float(rule.mean())
    raw = skm.r2_score(y, p, multioutput="raw_values")
    return float(np.where(constant, rule, raw).mean())


# ---------------------------------------------------------------------------------------------- classification

@SETTINGS
@given(labelled())
def test_confusion_matrix_matches_sklearn(data):
    k, y, p = data
    cm = M.confusion_matrix(torch.from_numpy(y), torch.from_numpy(p), k)
    assert cm.dtype == torch.int64 and cm.shape == (k, k)
    np.testing.assert_array_equal(cm.numpy(), skm.confusion_matrix(y, p, labels=list(range(k))))


@SETTINGS
@given(labelled())
def test_classification_metrics_match_sklearn(data):
    k, y, p = data
    got = M.classification_metrics(torch.from_numpy(y), torch.from_numpy(p), k)
    labels = list(range(k))
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, p), **TOL)
    prec, rec, f1, support = skm.precision_recall_fscore_support(y, p, labels=labels, zero_division=0)
    mp, mr, mf, _ = skm.precision_recall_fscore_support(y, p, labels=labels, average="macro", zero_division=0)
    assert got["precision_macro"] == pytest.approx(mp, **TOL)
    assert got["recall_macro"] == pytest.approx(mr, **TOL)
    assert got["f1_macro"] == pytest.approx(mf, **TOL)
    assert len(got["per_class"]) == k
    for c, row in enumerate(got["per_class"]):
        assert row == {"precision": pytest.approx(prec[c], **TOL), "recall": pytest.approx(rec[c], **TOL),
                       "f1": pytest.approx(f1[c], **TOL), "support": int(support[c])}
        assert type(row["support"]) is int
    assert got["confusion"] == skm.confusion_matrix(y, p, labels=labels).tolist()
    json.dumps(got, allow_nan=False)


def test_classification_hand_example():
    # class 2 never occurs and is never predicted: its precision, recall and F1 are 0 and still count in the macro
    y, p = torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 1])
    got = M.classification_metrics(y, p, 3)
    assert got["accuracy"] == 0.75
    assert [r["precision"] for r in got["per_class"]] == [1.0, 2 / 3, 0.0]
    assert [r["recall"] for r in got["per_class"]] == [0.5, 1.0, 0.0]
    assert got["per_class"][0]["f1"] == pytest.approx(2 / 3)
    assert got["precision_macro"] == pytest.approx((1 + 2 / 3) / 3)
    assert got["confusion"] == [[1, 1, 0], [0, 2, 0], [0, 0, 0]]


def test_labels_out_of_range_and_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="labels must lie"):
        M.confusion_matrix(torch.tensor([1, 0]), torch.tensor([-1, 0]), 3)  # 1*3 + -1 would alias to cell (0, 2)
    with pytest.raises(ValueError, match="labels must lie"):
        M.classification_metrics(torch.tensor([3]), torch.tensor([0]), 3)
    with pytest.raises(ValueError):
        M.confusion_matrix(torch.tensor([0, 1]), torch.tensor([0]), 2)


# ------------------------------------------------------------------------------------------------- predictions

@SETTINGS
@given(st.integers(1, 30), st.integers(2, 6), st.data())
def test_multiclass_predictions_are_first_argmax(n, k, data):
    scores = np.array(data.draw(st.lists(st.integers(-3, 3), min_size=n * k, max_size=n * k)),
                      dtype=np.float32).reshape(n, k)  # small integers: many ties
    pred = M.predictions_from_scores(torch.from_numpy(scores), "multiclass")
    assert pred.dtype == torch.int64
    np.testing.assert_array_equal(pred.numpy(), np.argmax(scores, axis=1))


@SETTINGS
@given(st.lists(st.one_of(st.just(0.0), st.just(-0.0), st.floats(-50, 50, allow_nan=False)), min_size=1,
                max_size=40), st.booleans())
def test_binary_predictions_threshold_logits_at_zero(logits, column):
    scores = torch.tensor(logits, dtype=torch.float32)
    if column:
        scores = scores[:, None]
    pred = M.predictions_from_scores(scores, "binary")
    assert pred.dtype == torch.int64 and pred.shape == (len(logits),)
    expected = [1 if v > 0 else 0 for v in scores.reshape(-1).tolist()]
    assert pred.tolist() == expected
    clear = scores.reshape(-1).abs() > 1e-6  # sigmoid of a tiny logit rounds to exactly 0.5
    assert pred[clear].tolist() == (torch.sigmoid(scores.reshape(-1)[clear].double()) > 0.5).long().tolist()


def test_prediction_edge_cases():
    assert M.predictions_from_scores(torch.tensor([[0.0], [1e-7], [-1e-7]]), "binary").tolist() == [0, 1, 0]
    with pytest.raises(ValueError):
        M.predictions_from_scores(torch.zeros(4, 2), "binary")
    with pytest.raises(ValueError):
        M.predictions_from_scores(torch.zeros(4, 2), "ranking")
    reg = torch.randn(5, 2)
    assert M.predictions_from_scores(reg, "regression") is reg


# -------------------------------------------------------------------------------------------------- regression

@SETTINGS
@given(regression_data(), st.booleans())
def test_regression_metrics_match_sklearn(data, flat):
    y, p = data
    ty, tp = torch.from_numpy(y), torch.from_numpy(p)
    if flat and y.shape[1] == 1:
        ty, tp = ty[:, 0], tp[:, 0]
    got = M.regression_metrics(ty, tp)
    assert got["mse"] == pytest.approx(skm.mean_squared_error(y, p), **TOL)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, p), **TOL)
    assert got["r2"] == pytest.approx(sk_r2(y, p), **TOL)
    json.dumps(got, allow_nan=False)


def test_regression_constant_target_and_single_sample():
    y = torch.tensor([[0.1, 2.0], [0.1, 3.0], [0.1, 4.0]], dtype=torch.float64)  # mean of 0.1s is inexact
    perfect = M.regression_metrics(y, y)
    assert perfect == {"mse": 0.0, "mae": 0.0, "r2": 1.0}
    off = y.clone()
    off[0, 0] = 0.2
    assert M.regression_metrics(y, off)["r2"] == pytest.approx((0.0 + 1.0) / 2)
    assert M.regression_metrics(torch.tensor([1.5]), torch.tensor([1.5]))["r2"] == 1.0
    assert M.regression_metrics(torch.tensor([1.5]), torch.tensor([2.5])) == {"mse": 1.0, "mae": 1.0, "r2": 0.0}
    # a float32 model output against float64 targets is computed in float64
    assert M.regression_metrics(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 2.0], dtype=torch.float32))["r2"] \
        == pytest.approx(skm.r2_score([1.0, 3.0], [1.0, 2.0]))
    with pytest.raises(ValueError):
        M.regression_metrics(torch.zeros(4, 2), torch.zeros(4, 3))


# ------------------------------------------------------------------------------------------------- accumulator

@SETTINGS
@given(labelled(), st.booleans(), st.data())
def test_accumulator_classification_equals_one_shot(data, binary, draw):
    k, y, _ = data
    if binary:
        k, y = 2, y % 2
    n = len(y)
    if binary:
        scores = torch.tensor(draw.draw(st.lists(st.floats(-5, 5), min_size=n, max_size=n)))[:, None]
    else:
        scores = torch.tensor(draw.draw(st.lists(st.floats(-5, 5), min_size=n * k, max_size=n * k))).reshape(n, k)
    task = "binary" if binary else "multiclass"
    acc = M.MetricAccumulator(task, k)
    bounds = splits(draw.draw, n)
    for a, b in zip(bounds, bounds[1:]):
        acc.update(scores[a:b], torch.from_numpy(y[a:b]))
    expected = M.classification_metrics(torch.from_numpy(y), M.predictions_from_scores(scores, task), k)
    assert acc.compute() == expected
    assert acc.count == n


@SETTINGS
@given(regression_data(), st.data())
def test_accumulator_regression_equals_one_shot(data, draw):
    y, p = data
    acc = M.MetricAccumulator("regression")
    bounds = splits(draw.draw, len(y))
    for a, b in zip(bounds, bounds[1:]):
        acc.update(torch.from_numpy(p[a:b]).float(), torch.from_numpy(y[a:b]))
    got = acc.compute()
    expected = M.regression_metrics(torch.from_numpy(y), torch.from_numpy(p).float())
    assert got == {key: pytest.approx(value, **TOL) for key, value in expected.items()}
    assert got["r2"] == pytest.approx(sk_r2(y, p.astype(np.float32).astype(np.float64)), **TOL)


def test_accumulator_memory_is_constant_and_reset_works():
    acc = M.MetricAccumulator("regression")
    for _ in range(5):
        acc.update(torch.randn(100, 3), torch.randn(100, 3))
    assert all(v.shape == (3,) for v in acc._sums.values())
    with pytest.raises(ValueError):
        acc.update(torch.randn(4, 2), torch.randn(4, 2))
    acc.reset()
    assert acc.compute() == {"mse": 0.0, "mae": 0.0, "r2": 0.0}
    cls = M.MetricAccumulator("multiclass", 4)
    assert cls.compute()["confusion"] == [[0] * 4] * 4 and cls.compute()["accuracy"] == 0.0
    for _ in range(3):
        cls.update(torch.randn(50, 4), torch.randint(0, 4, (50,)))
    assert cls._cm.shape == (4, 4) and int(cls._cm.sum()) == 150
    with pytest.raises(ValueError):
        M.MetricAccumulator("multiclass")
    with pytest.raises(ValueError):
        M.MetricAccumulator("binary", 3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_inputs_give_the_cpu_numbers():
    g = torch.Generator().manual_seed(0)
    scores, y = torch.randn(500, 5, generator=g), torch.randint(0, 5, (500,), generator=g)
    cpu, gpu = M.MetricAccumulator("multiclass", 5), M.MetricAccumulator("multiclass", 5)
    cpu.update(scores, y)
    gpu.update(scores.cuda(), y.cuda())
    assert gpu.compute() == cpu.compute()
    yr, pr = torch.randn(300, 2, generator=g), torch.randn(300, 2, generator=g)
    assert M.regression_metrics(yr.cuda(), pr.cuda()) == pytest.approx(M.regression_metrics(yr, pr), rel=1e-9)


# ------------------------------------------------------------------------------------------------------- names

def test_metric_names_and_direction():
    assert set(M.METRIC_NAMES) == {"multiclass", "binary", "regression"}
    cls = M.classification_metrics(torch.tensor([0, 1]), torch.tensor([1, 1]), 2)
    reg = M.regression_metrics(torch.tensor([0.0, 1.0]), torch.tensor([0.5, 1.0]))
    for task, result in (("multiclass", cls), ("binary", cls), ("regression", reg)):
        for name in M.METRIC_NAMES[task]:
            assert isinstance(result[name], float) and not math.isnan(result[name])
    for name in ("loss", "mse", "mae", "val_loss", "train_mse", "val/mae"):
        assert M.higher_is_better(name) is False
    for name in ("accuracy", "f1_macro", "precision_macro", "recall_macro", "r2", "f1", "val_accuracy", "test_r2"):
        assert M.higher_is_better(name) is True
    with pytest.raises(ValueError):
        M.higher_is_better("speed")
