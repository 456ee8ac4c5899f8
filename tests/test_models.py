"""The model registry (names, presets, overrides) and the two architectures."""

from __future__ import annotations

import pytest
import torch

from atlasbench.errors import AtlasbenchError
from atlasbench.models.architectures import ARCHITECTURES, PRESETS, build_model, count_parameters, model_params
from atlasbench.models.architectures.deeptopic_cnn import DeepTopicCNN, _ConvBlock
from atlasbench.models.architectures.dilated_cnn import DilatedCNN
from atlasbench.models.architectures.layers import OUTPUT_ACTIVATIONS, Dropout, make_activation


def random_one_hot(n: int, length: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 4, (n, length), generator=gen)
    return torch.nn.functional.one_hot(codes, 4).permute(0, 2, 1).float()


def test_registry_names() -> None:
    assert set(ARCHITECTURES) == {"dilated_cnn", "deeptopic_cnn"}
    assert ARCHITECTURES["dilated_cnn"] is DilatedCNN
    assert ARCHITECTURES["deeptopic_cnn"] is DeepTopicCNN
    for name in ARCHITECTURES:
        assert set(PRESETS[name]) == {"tiny", "paper"}


# Small lengths keep forward passes cheap; the dilated stacks need more than
# 2 * (k - 1) * (2 ** n - 1) bp: 252 bp for tiny (6 layers), 1020 bp for paper (8 layers).
@pytest.mark.parametrize(
    ("architecture", "preset", "length", "params"),
    [
        ("dilated_cnn", "tiny", 300, {"filters": 8}),
        ("dilated_cnn", "paper", 1030, {"filters": 8}),
        ("deeptopic_cnn", "tiny", 200, {"filters": 8, "dense": 8}),
        ("deeptopic_cnn", "paper", 200, {"filters": 8, "dense": 8}),
    ],
)
def test_output_shapes_and_softplus_non_negative(architecture: str, preset: str, length: int, params: dict) -> None:
    torch.manual_seed(0)
    model = build_model(architecture, 3, length, preset, params)
    assert isinstance(model, ARCHITECTURES[architecture])
    assert model.training  # built in training mode
    x = random_one_hot(4, length)
    out = model(x)
    assert out.shape == (4, 3)
    model.eval()
    with torch.no_grad():
        out = model(x)
    assert out.shape == (4, 3)
    assert torch.isfinite(out).all()
    assert (out >= 0).all()
    assert isinstance(model.out, torch.nn.Softplus)


def test_linear_output_can_be_negative() -> None:
    torch.manual_seed(1)
    model = build_model("dilated_cnn", 16, 300, "tiny", {"filters": 8, "output_activation": "linear"}).eval()
    with torch.no_grad():
        out = model(random_one_hot(8, 300))
    assert (out < 0).any()


def test_sigmoid_output_in_unit_interval() -> None:
    torch.manual_seed(2)
    model = build_model("deeptopic_cnn", 5, 120, "tiny", {"filters": 8, "dense": 8, "output_activation": "sigmoid"})
    with torch.no_grad():
        out = model.eval()(random_one_hot(3, 120))
    assert ((out > 0) & (out < 1)).all()


def test_paper_parameters_resolve() -> None:
    assert model_params("dilated_cnn", "paper") == {
        "filters": 512, "first_kernel_size": 5, "kernel_size": 3, "n_dil_layers": 8, "dropout": 0.1,
        "output_activation": "softplus",
    }
    deeptopic = model_params("deeptopic_cnn", "paper")
    assert deeptopic["filters"] == 512
    assert deeptopic["dense"] == 1024
    assert deeptopic["conv_dropout"] == 0.5
    # not in the preset: the constructor default
    assert deeptopic["dense_dropout"] == 0.5
    assert deeptopic["output_activation"] == "softplus"


def test_override_wins_over_preset() -> None:
    params = model_params("dilated_cnn", "tiny", {"filters": 8, "dropout": 0.0})
    assert params["filters"] == 8
    assert params["dropout"] == 0.0
    assert params["n_dil_layers"] == PRESETS["dilated_cnn"]["tiny"]["n_dil_layers"]
    model = build_model("dilated_cnn", 2, 300, "tiny", {"filters": 8, "n_dil_layers": 3})
    assert model.head.in_features == 8
    assert len(model.body) == 3
    # the preset itself is left untouched
    assert PRESETS["dilated_cnn"]["tiny"]["filters"] == 32


def test_presets_name_only_constructor_parameters() -> None:
    for architecture, presets in PRESETS.items():
        for preset, values in presets.items():
            resolved = model_params(architecture, preset)
            assert {k: resolved[k] for k in values} == values


def test_unknown_architecture_lists_valid_names() -> None:
    with pytest.raises(AtlasbenchError, match="unknown model architecture 'resnet'") as info:
        model_params("resnet")
    assert "dilated_cnn" in str(info.value) and "deeptopic_cnn" in str(info.value)
    with pytest.raises(AtlasbenchError, match="dilated_cnn, deeptopic_cnn"):
        build_model("resnet", 2, 300)


def test_unknown_preset_lists_valid_names() -> None:
    with pytest.raises(AtlasbenchError, match="unknown preset 'huge'") as info:
        model_params("deeptopic_cnn", "huge")
    assert "tiny" in str(info.value) and "paper" in str(info.value)


def test_unknown_parameter_lists_valid_names() -> None:
    with pytest.raises(AtlasbenchError, match="unknown parameter\\(s\\) filter, units") as info:
        model_params("dilated_cnn", "tiny", {"filter": 8, "units": 3, "dropout": 0.2})
    message = str(info.value)
    for name in ("filters", "first_kernel_size", "kernel_size", "n_dil_layers", "dropout", "output_activation"):
        assert name in message
    # n_outputs and input_length are not width/depth parameters
    assert "n_outputs" not in message and "input_length" not in message
    with pytest.raises(AtlasbenchError, match="unknown parameter"):
        model_params("dilated_cnn", "tiny", {"input_length": 100})


def test_too_short_input_for_dilated_layers() -> None:
    # 6 layers of kernel 3 shrink the track by 2 * (2 ** 7 - 2) = 252 bp
    build_model("dilated_cnn", 2, 253, "tiny", {"filters": 4})
    with pytest.raises(AtlasbenchError, match="too short") as info:
        build_model("dilated_cnn", 2, 252, "tiny", {"filters": 4})
    assert "252" in str(info.value)
    assert "cannot build model dilated_cnn" in str(info.value)


def test_minimal_length_dilated_cnn_runs() -> None:
    model = build_model("dilated_cnn", 2, 253, "tiny", {"filters": 4}).eval()
    with torch.no_grad():
        assert model(random_one_hot(2, 253)).shape == (2, 2)


def test_even_dilated_kernel_is_refused() -> None:
    with pytest.raises(AtlasbenchError, match="kernel_size must be odd"):
        build_model("dilated_cnn", 2, 300, "tiny", {"filters": 4, "kernel_size": 4})


def test_bad_output_activation() -> None:
    assert OUTPUT_ACTIVATIONS == ("softplus", "sigmoid", "linear")
    with pytest.raises(ValueError, match="unknown output activation 'relu'"):
        make_activation("relu")
    with pytest.raises(AtlasbenchError, match="unknown output activation"):
        build_model("deeptopic_cnn", 2, 100, "tiny", {"filters": 4, "dense": 4, "output_activation": "relu"})


@pytest.mark.parametrize("kernel", [2, 4, 16, 17])
def test_deeptopic_same_padding_keeps_length(kernel: int) -> None:
    block = _ConvBlock(4, 3, kernel, pool=1, activation=torch.nn.ReLU(), dropout=0.0, residual=False).eval()
    # Keras "same": the extra base for an even kernel goes on the right
    left = (kernel - 1) // 2
    assert block.pad.padding == (left, kernel - 1 - left)
    with torch.no_grad():
        assert block(random_one_hot(2, 37)).shape == (2, 3, 37)
    model = DeepTopicCNN(2, 50, filters=6, first_kernel_size=kernel, pool_size=1, dense=4).eval()
    with torch.no_grad():
        assert model.conv(random_one_hot(2, 50)).shape == (2, 3, 50)
        assert model(random_one_hot(2, 50)).shape == (2, 2)


def test_even_kernel_padding_shifts_as_keras() -> None:
    # One channel in, one out, kernel [0, 1]: output[t] = x[t + 1] (the right pad is the extra base).
    block = _ConvBlock(1, 1, 2, pool=1, activation=torch.nn.Identity(), dropout=0.0, residual=False).eval()
    with torch.no_grad():
        block.conv.weight.copy_(torch.tensor([[[0.0, 1.0]]]))
        x = torch.arange(1.0, 6.0)[None, None, :]
        out = block(x)
    norm = block.norm
    expected = torch.tensor([2.0, 3.0, 4.0, 5.0, 0.0])
    expected = (expected - norm.running_mean) / torch.sqrt(norm.running_var + norm.eps)
    torch.testing.assert_close(out[0, 0], expected)


def test_deeptopic_pooling_length() -> None:
    # 4 pools of 4 with ceil: 500 -> 125 -> 32 -> 8 -> 2
    model = DeepTopicCNN(3, 500, filters=8, pool_size=4, dense=4).eval()
    assert model.head[2].in_features == 4 * 2
    with torch.no_grad():
        assert model.conv(random_one_hot(2, 500)).shape == (2, 4, 2)


def test_paper_dilated_cnn_matches_crested_parameter_count() -> None:
    n_outputs, filters, first_kernel, kernel, layers = 19, 512, 5, 3, 8
    model = build_model("dilated_cnn", n_outputs, 2114, "paper")
    # CREsted's dilated_cnn (Keras): first conv without bias, batch norm (gamma and beta
    # trainable), n_dil_layers dilated convs without bias each with batch norm, dense with bias.
    first = 4 * filters * first_kernel + 2 * filters
    dilated = layers * (filters * filters * kernel + 2 * filters)
    dense = filters * n_outputs + n_outputs
    assert count_parameters(model) == first + dilated + dense
    assert len(model.body) == layers
    assert [block.conv.dilation[0] for block in model.body] == [2**i for i in range(1, layers + 1)]


def test_count_parameters_skips_frozen() -> None:
    model = build_model("dilated_cnn", 2, 300, "tiny", {"filters": 4})
    total = count_parameters(model)
    assert total == sum(p.numel() for p in model.parameters())
    model.head.weight.requires_grad_(False)
    assert count_parameters(model) == total - model.head.weight.numel()


def test_seeded_builds_are_identical() -> None:
    torch.manual_seed(5)
    a = build_model("dilated_cnn", 2, 300, "tiny", {"filters": 4})
    torch.manual_seed(5)
    b = build_model("dilated_cnn", 2, 300, "tiny", {"filters": 4})
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name


def test_fast_dropout_drops_at_the_asked_rate_and_keeps_the_mean() -> None:
    layer = Dropout(0.1).train()
    x = torch.ones(200, 50, 100)
    torch.manual_seed(0)
    y = layer(x)
    dropped = float((y == 0).float().mean())
    assert dropped == pytest.approx(0.1, abs=0.002)  # 1e6 draws: SD 0.0003
    assert float(y.mean()) == pytest.approx(1.0, abs=0.005)
    assert torch.allclose(y[y != 0], torch.full_like(y[y != 0], 1 / 0.9))
    torch.manual_seed(0)
    assert torch.equal(layer(x), y)  # reproducible from the global seed
    assert torch.equal(layer.eval()(x), x)
    with pytest.raises(ValueError, match="dropout"):
        Dropout(1.0)
