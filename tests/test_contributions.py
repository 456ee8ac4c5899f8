"""Contribution scores (integrated gradients, gradient x input) and their agreement on small
models with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from atlasbench.errors import AtlasbenchError
from atlasbench.models.architectures import build_model
from atlasbench.models.dataset import one_hot, reverse_complement_codes
from atlasbench.readouts.contributions import contribution_agreement, input_gradients, integrated_gradients


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("dilated_cnn", 3, 80, "tiny", {"filters": 8, "n_dil_layers": 3}).eval()


def _codes(n: int = 4, length: int = 80) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 4, (n, length)).astype(np.uint8)


def test_contributions_sum_to_the_prediction_minus_the_baseline() -> None:
    """IG's completeness: summed contributions = f(x) - f(baseline), for both strands averaged."""
    model, codes = _model(), _codes()
    scores, hypothetical = integrated_gradients(model, codes, 1, steps=128, device="cpu")
    with torch.no_grad():
        x = torch.as_tensor(codes)
        zero = model(torch.zeros(1, 4, 80))[0, 1]
        expected = ((model(one_hot(x))[:, 1] - zero) + (model(one_hot(reverse_complement_codes(x)))[:, 1] - zero)) / 2
    np.testing.assert_allclose(scores.sum(axis=(1, 2)), expected.numpy(), rtol=0.05, atol=1e-3)
    onehot = one_hot(torch.as_tensor(codes)).numpy()
    assert np.all(scores[onehot == 0] == 0)  # only the base present carries a contribution
    np.testing.assert_allclose(hypothetical.sum(axis=1), 0, atol=1e-5)  # centred across bases
    np.testing.assert_allclose(scores, hypothetical * onehot, rtol=1e-6)


def test_input_gradients_are_the_centred_gradient_at_the_sequence() -> None:
    """Gradient x input: by hand, the gradient of the output at the one-hot sequence and at its
    reverse complement (mapped back), averaged, centred across bases, times the input."""
    model, codes = _model(), _codes(3)

    def gradient(c: np.ndarray) -> np.ndarray:
        x = one_hot(torch.as_tensor(c)).requires_grad_(True)
        model(x)[:, 2].sum().backward()
        assert x.grad is not None
        return x.grad.numpy()

    rc_codes = reverse_complement_codes(torch.as_tensor(codes)).numpy()
    mean = (gradient(codes) + gradient(rc_codes)[:, ::-1, ::-1]) / 2
    mean -= mean.mean(axis=1, keepdims=True)
    onehot = one_hot(torch.as_tensor(codes)).numpy()
    scores, hypothetical = input_gradients(model, codes, 2, batch_size=2, device="cpu")
    np.testing.assert_allclose(hypothetical, mean, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(scores, mean * onehot, rtol=1e-5, atol=1e-7)
    # a linear model's gradient is its weights: gradient x input is then exact attribution
    linear = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4 * 80, 3))
    weights = linear[1].weight.detach().numpy()[1].reshape(4, 80)
    _, hyp = input_gradients(linear, codes, 1, device="cpu")
    rc_weights = weights[::-1, ::-1]
    expected = (weights + rc_weights) / 2
    np.testing.assert_allclose(hyp[0], expected - expected.mean(axis=0), rtol=1e-5, atol=1e-6)


def test_reverse_complement_gets_mirrored_contributions() -> None:
    model, codes = _model(), _codes(2)
    forward, _ = integrated_gradients(model, codes, 0, steps=8, device="cpu")
    rc_codes = reverse_complement_codes(torch.as_tensor(codes)).numpy()
    reverse, _ = integrated_gradients(model, rc_codes, 0, steps=8, device="cpu")
    np.testing.assert_allclose(reverse, forward[:, ::-1, ::-1], rtol=1e-4, atol=1e-6)


def test_agreement_is_the_per_region_correlation() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 4, 50))
    table = contribution_agreement(a, a, ["x", "y", "z"])
    np.testing.assert_allclose(table["pearson"], 1.0)
    np.testing.assert_allclose(contribution_agreement(a, -a)["pearson"], -1.0)
    b = rng.normal(size=(3, 4, 50))
    expected = [np.corrcoef(a[i].sum(0), b[i].sum(0))[0, 1] for i in range(3)]
    np.testing.assert_allclose(contribution_agreement(a, b)["pearson"], expected)
    with pytest.raises(AtlasbenchError, match="shape"):
        contribution_agreement(a, b[:, :, :10])


def test_explain_command_writes_scores_agreement_and_logo(tmp_path) -> None:
    from click.testing import CliRunner

    from atlasbench.cli import main
    from atlasbench.models.architectures import model_params
    from atlasbench.models.trained import save_trained

    folders = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        params = {"filters": 8, "n_dil_layers": 3}
        module = build_model("dilated_cnn", 2, 80, "tiny", params)
        spec = {"architecture": "dilated_cnn", "preset": "tiny", "params": model_params("dilated_cnn", "tiny", params),
                "input_length": 80, "cell_types": ["a", "b"]}
        folders.append(str(save_trained(tmp_path / f"m{seed}", module, spec)))
    rng = np.random.default_rng(0)
    fasta = tmp_path / "seqs.fa"
    fasta.write_text("".join(f">s{i}\n{''.join(rng.choice(list('ACGT'), 70 + i))}\n" for i in range(3)))
    result = CliRunner().invoke(main, ["explain", *folders, "--regions", str(fasta), "--cell-type", "b",
                                       "--steps", "4", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    saved = np.load(tmp_path / "out" / "contributions.npz")
    assert saved["model1"].shape == saved["model2"].shape == (3, 4, 80)
    assert list(saved["names"]) == ["s0", "s1", "s2"]
    assert (tmp_path / "out" / "agreement.tsv").is_file()
    assert (tmp_path / "out" / "logo.png").stat().st_size > 0
    bad = CliRunner().invoke(main, ["explain", folders[0], "--regions", str(fasta), "--cell-type", "zz",
                                    "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "no output 'zz'" in bad.output
