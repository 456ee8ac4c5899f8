"""Training losses: CREsted's CosineMSELogLoss transcribed to NumPy, MSE and Poisson."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from atlasbench.models.losses import LOSSES, cosine_mse_log, cosine_mse_log_settings, make_loss


def _keras_normalize(x: np.ndarray) -> np.ndarray:
    """keras.utils.normalize(x, axis=-1) on NumPy input."""
    norm = np.atleast_1d(np.linalg.norm(x, 2, -1))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, -1)


def crested_cosine_mse_log(y_true: np.ndarray, y_pred: np.ndarray, multiplier: float, max_weight: float) -> float:
    """CREsted's CosineMSELogLoss.call, line by line, then Keras' sum_over_batch_size reduction."""
    y_true = y_true.astype(np.float64)
    y_pred = y_pred.astype(np.float64)
    y_true1 = _keras_normalize(y_true)
    y_pred1 = _keras_normalize(y_pred)
    log_y_pred_pos = np.log(1 + multiplier * np.maximum(y_pred, 0))
    log_y_pred_neg = -np.log(1 + np.abs(multiplier * np.minimum(y_pred, 0)))
    log_y_pred = log_y_pred_pos + log_y_pred_neg
    log_y_true = np.log(1 + multiplier * y_true)
    mse_loss = np.mean(np.square(log_y_pred - log_y_true))
    weight = np.abs(mse_loss)
    weight = np.minimum(np.maximum(weight, 1.0), max_weight)
    cosine_loss = -np.sum(y_true1 * y_pred1, axis=-1)
    total_loss = weight * cosine_loss + mse_loss  # one value per sample
    return float(np.mean(total_loss))


@pytest.mark.parametrize("multiplier", [1.0, 1000.0])
@pytest.mark.parametrize("max_weight", [1.0, 100.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cosine_mse_log_equals_crested(multiplier: float, max_weight: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    target = rng.gamma(0.5, 0.3, size=(16, 7)).astype(np.float32)
    target[0] = 0.0  # an all-zero target row: normalised to zeros by Keras
    pred = rng.normal(0.2, 0.5, size=(16, 7)).astype(np.float32)  # many negative predictions
    assert (pred < 0).any()
    expected = crested_cosine_mse_log(target, pred, multiplier, max_weight)
    got = cosine_mse_log(torch.from_numpy(pred), torch.from_numpy(target), multiplier, max_weight)
    assert got.shape == ()
    np.testing.assert_allclose(got.item(), expected, rtol=1e-5, atol=1e-6)
    via_make = make_loss("cosine_mse_log", multiplier, max_weight)(torch.from_numpy(pred), torch.from_numpy(target))
    assert via_make.item() == got.item()


def test_weight_is_clipped() -> None:
    rng = np.random.default_rng(3)
    target = rng.gamma(2.0, 5.0, size=(8, 4)).astype(np.float32)
    pred = rng.gamma(2.0, 0.01, size=(8, 4)).astype(np.float32)
    # heights far off: MSE above 1, so the weight differs between max_weight 1 and 100
    low = cosine_mse_log(torch.from_numpy(pred), torch.from_numpy(target), 1000.0, 1.0).item()
    high = cosine_mse_log(torch.from_numpy(pred), torch.from_numpy(target), 1000.0, 100.0).item()
    assert low != pytest.approx(high)
    for max_weight, value in ((1.0, low), (100.0, high)):
        assert value == pytest.approx(crested_cosine_mse_log(target, pred, 1000.0, max_weight), rel=1e-5)


@pytest.mark.parametrize("multiplier", [1.0, 1000.0])
def test_perfect_prediction_gives_minus_one(multiplier: float) -> None:
    target = torch.tensor([[0.5, 1.0, 0.0], [2.0, 0.1, 3.0]])
    loss = cosine_mse_log(target.clone(), target, multiplier, 100.0)
    # cosine term -1 per sample with weight clip(0, 1, max) = 1, MSE term 0
    assert loss.item() == pytest.approx(-1.0, abs=1e-6)
    assert crested_cosine_mse_log(target.numpy(), target.numpy(), multiplier, 100.0) == pytest.approx(-1.0, abs=1e-6)


def test_scaled_profile_keeps_cosine_term() -> None:
    target = torch.tensor([[1.0, 2.0, 3.0]])
    pred = 2 * target
    expected_mse = torch.mean((torch.log1p(pred) - torch.log1p(target)) ** 2).item()
    assert expected_mse < 1
    assert cosine_mse_log(pred, target, 1.0, 100.0).item() == pytest.approx(-1.0 + expected_mse, rel=1e-5)


def test_cosine_mse_log_is_differentiable() -> None:
    pred = torch.tensor([[0.3, -0.2, 1.0]], requires_grad=True)
    target = torch.tensor([[0.5, 0.1, 0.8]])
    cosine_mse_log(pred, target).backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_mse_and_poisson_match_references() -> None:
    rng = np.random.default_rng(4)
    target = rng.poisson(3.0, size=(10, 5)).astype(np.float32)
    pred = rng.gamma(2.0, 1.5, size=(10, 5)).astype(np.float32)
    p, t = torch.from_numpy(pred), torch.from_numpy(target)
    mse = make_loss("mse")(p, t)
    assert mse.item() == pytest.approx(float(np.mean((pred.astype(np.float64) - target) ** 2)), rel=1e-6)
    assert mse.item() == pytest.approx(torch.nn.MSELoss()(p, t).item(), rel=1e-7)
    poisson = make_loss("poisson")(p, t)
    # Poisson NLL without the constant log(y!) term, predictions as rates (torch adds eps=1e-8 in the log)
    hand = np.mean(pred.astype(np.float64) - target * np.log(pred.astype(np.float64) + 1e-8))
    assert poisson.item() == pytest.approx(float(hand), rel=1e-5)
    assert poisson.item() == pytest.approx(torch.nn.PoissonNLLLoss(log_input=False)(p, t).item(), rel=1e-7)
    # the multiplier only concerns cosine_mse_log
    assert make_loss("mse", 1000.0, 1.0)(p, t).item() == mse.item()


def test_poisson_is_minimised_at_the_target() -> None:
    target = torch.tensor([[2.0, 5.0]])
    loss = make_loss("poisson")
    assert loss(target.clone(), target) < loss(target * 1.1, target)
    assert loss(target.clone(), target) < loss(target * 0.9, target)


def test_make_loss_unknown_name() -> None:
    assert LOSSES == ("cosine_mse_log", "mse", "poisson")
    with pytest.raises(ValueError, match="unknown loss 'mae'; valid: cosine_mse_log, mse, poisson"):
        make_loss("mae")


def test_cosine_mse_log_settings() -> None:
    assert cosine_mse_log_settings("mean_cpm", 500) == (500.0, 1.0)
    assert cosine_mse_log_settings("mean_cpm", 1000) == (1000.0, 1.0)
    for normalization in ("cpm", "counts", "log1p_cpm"):
        assert cosine_mse_log_settings(normalization, 500) == (1.0, 100.0)
    multiplier, max_weight = cosine_mse_log_settings("mean_cpm", 250)
    assert isinstance(multiplier, float) and isinstance(max_weight, float)


def test_cosine_mse_log_settings_given_by_the_study_replace_the_defaults() -> None:
    # the demo's weighting (training.loss_multiplier: 1, loss_max_weight: 100) on mean_cpm targets
    assert cosine_mse_log_settings("mean_cpm", 1000, 1, 100) == (1.0, 100.0)
    assert cosine_mse_log_settings("mean_cpm", 1000, max_weight=100) == (1000.0, 100.0)
    assert cosine_mse_log_settings("counts", 500, multiplier=2) == (2.0, 100.0)
