"""Model folders: save, load, and the errors for damaged or mismatched files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from atlasbench.errors import AtlasbenchError
from atlasbench.models.architectures import build_model, model_params
from atlasbench.models.trained import (
    DESCRIPTION,
    REGIONS,
    TRAINING_LOG,
    WEIGHTS,
    TrainedModel,
    is_trained,
    load_trained,
    save_trained,
)

LENGTH = 300
PARAMS = {"filters": 8, "n_dil_layers": 4}


def make_spec(architecture: str = "dilated_cnn", cell_types: tuple[str, ...] = ("B", "T", "NK"), **extra) -> dict:
    params = PARAMS if architecture == "dilated_cnn" else {"filters": 8, "dense": 8}
    return {
        "architecture": architecture,
        "preset": "tiny",
        "params": model_params(architecture, "tiny", params),
        "input_length": LENGTH,
        "cell_types": list(cell_types),
        **extra,
    }


def make_module(spec: dict, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    module = build_model(spec["architecture"], len(spec["cell_types"]), spec["input_length"], spec["preset"],
                         spec["params"])
    # move the batch-norm statistics away from their defaults so they are checked too
    module.train()
    with torch.no_grad():
        module(random_input(6, seed + 100))
    return module.eval()


def random_input(n: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 4, (n, LENGTH), generator=gen)
    return torch.nn.functional.one_hot(codes, 4).permute(0, 2, 1).float()


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, torch.nn.Module, dict]:
    spec = make_spec(normalization="log1p_cpm", fold=2, seed=7)
    module = make_module(spec)
    regions = pd.DataFrame({
        "name": ["r0", "r1", "r2"], "chrom": ["2L", "X", "4"], "start": [10, 500, 7],
        "end": [510, 1000, 507], "fold": [0, 1, 2], "split": ["train", "val", "test"],
    })
    history = pd.DataFrame({"epoch": [1, 2], "train_loss": [0.5, 0.25]})
    out = save_trained(tmp_path / "model", module, spec, regions, history)
    return out, module, spec


def test_round_trip(saved: tuple[Path, torch.nn.Module, dict]) -> None:
    directory, module, spec = saved
    assert directory.is_dir()
    assert {p.name for p in directory.iterdir()} == {WEIGHTS, DESCRIPTION, REGIONS, TRAINING_LOG}
    assert is_trained(directory)
    trained = load_trained(directory)
    assert isinstance(trained, TrainedModel)
    assert trained.path == directory
    assert trained.spec == spec
    assert trained.cell_types == ["B", "T", "NK"]
    assert trained.input_length == LENGTH
    assert not trained.module.training
    x = random_input(5, 1)
    with torch.no_grad():
        assert torch.equal(trained.module(x), module.eval()(x))
    for key, value in module.state_dict().items():
        assert torch.equal(trained.module.state_dict()[key], value), key
    assert trained.regions is not None
    assert trained.regions["chrom"].tolist() == ["2L", "X", "4"]
    assert trained.regions["split"].tolist() == ["train", "val", "test"]
    assert trained.regions["start"].tolist() == [10, 500, 7]
    history = pd.read_csv(directory / TRAINING_LOG, sep="\t")
    assert history["train_loss"].tolist() == [0.5, 0.25]


def test_load_from_model_json_path(saved: tuple[Path, torch.nn.Module, dict]) -> None:
    directory, _, spec = saved
    assert load_trained(directory / DESCRIPTION).spec == spec


def test_round_trip_deeptopic_without_regions(tmp_path: Path) -> None:
    spec = make_spec("deeptopic_cnn", ("a", "b"))
    module = make_module(spec, seed=3)
    save_trained(tmp_path, module, spec)
    trained = load_trained(tmp_path)
    assert trained.regions is None
    x = random_input(4, 2)
    with torch.no_grad():
        assert torch.equal(trained.module(x), module(x))


def test_is_trained_needs_model_json(saved: tuple[Path, torch.nn.Module, dict], tmp_path: Path) -> None:
    directory, _, _ = saved
    assert not is_trained(tmp_path / "absent")
    (directory / DESCRIPTION).unlink()
    assert not is_trained(directory)
    with pytest.raises(AtlasbenchError, match=f"{DESCRIPTION} is missing") as info:
        load_trained(directory)
    assert str(directory) in str(info.value)


def test_save_needs_the_rebuild_fields(tmp_path: Path) -> None:
    spec = make_spec()
    module = make_module(spec)
    del spec["cell_types"]
    with pytest.raises(AtlasbenchError, match="cell_types"):
        save_trained(tmp_path / "m", module, spec)
    assert not is_trained(tmp_path / "m")


def test_missing_weights(saved: tuple[Path, torch.nn.Module, dict]) -> None:
    directory, _, _ = saved
    (directory / WEIGHTS).unlink()
    assert not is_trained(directory)
    with pytest.raises(AtlasbenchError, match="model weights are missing") as info:
        load_trained(directory)
    assert str(directory / WEIGHTS) in str(info.value)


@pytest.mark.parametrize("keep", [0.5, 0.02])
def test_truncated_weights(saved: tuple[Path, torch.nn.Module, dict], keep: float) -> None:
    directory, _, _ = saved
    weights = directory / WEIGHTS
    data = weights.read_bytes()
    weights.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(AtlasbenchError, match="damaged model weights") as info:
        load_trained(directory)
    assert str(weights) in str(info.value)


def test_garbage_weights(saved: tuple[Path, torch.nn.Module, dict]) -> None:
    directory, _, _ = saved
    (directory / WEIGHTS).write_bytes(b"not a safetensors file at all")
    with pytest.raises(AtlasbenchError, match="damaged model weights") as info:
        load_trained(directory)
    assert str(directory / WEIGHTS) in str(info.value)


def test_corrupted_json(saved: tuple[Path, torch.nn.Module, dict]) -> None:
    directory, _, _ = saved
    description = directory / DESCRIPTION
    description.write_text(description.read_text()[:40])
    with pytest.raises(AtlasbenchError, match="damaged model description") as info:
        load_trained(directory)
    assert str(description) in str(info.value)


def test_json_lacking_fields(saved: tuple[Path, torch.nn.Module, dict]) -> None:
    directory, _, spec = saved
    description = directory / DESCRIPTION
    description.write_text(json.dumps({k: v for k, v in spec.items() if k != "input_length"}))
    with pytest.raises(AtlasbenchError, match="lacks \\['input_length'\\]") as info:
        load_trained(directory)
    assert str(description) in str(info.value)


def test_weights_of_another_architecture(saved: tuple[Path, torch.nn.Module, dict]) -> None:
    directory, _, _ = saved
    other = make_spec("deeptopic_cnn")
    (directory / DESCRIPTION).write_text(json.dumps(other))
    with pytest.raises(AtlasbenchError, match=r"weights do not fit the model described in model\.json") as info:
        load_trained(directory)
    assert str(directory / WEIGHTS) in str(info.value)


def test_weights_for_other_number_of_outputs(saved: tuple[Path, torch.nn.Module, dict]) -> None:
    directory, _, _ = saved
    fewer = make_spec(cell_types=("B", "T"))
    (directory / DESCRIPTION).write_text(json.dumps(fewer))
    with pytest.raises(AtlasbenchError, match="weights do not fit") as info:
        load_trained(directory)
    assert str(directory / WEIGHTS) in str(info.value)


def test_weights_for_other_width(saved: tuple[Path, torch.nn.Module, dict]) -> None:
    directory, _, spec = saved
    wider = {**spec, "params": {**spec["params"], "filters": 16}}
    (directory / DESCRIPTION).write_text(json.dumps(wider))
    with pytest.raises(AtlasbenchError, match="weights do not fit"):
        load_trained(directory)


def test_save_overwrites(saved: tuple[Path, torch.nn.Module, dict]) -> None:
    directory, _, spec = saved
    replacement = make_module(spec, seed=9)
    save_trained(directory, replacement, spec)
    x = random_input(3, 4)
    with torch.no_grad():
        assert torch.equal(load_trained(directory).module(x), replacement(x))
