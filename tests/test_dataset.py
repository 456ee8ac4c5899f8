"""The on-device training data: one-hot encoding, reverse complement and augmented batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from atlasbench.io.genome import codes_one_hot, reverse_complement
from atlasbench.models.dataset import SequenceData, one_hot, reverse_complement_codes

INPUT = 20
SHIFT = 3


def random_codes(n: int, length: int, seed: int = 0, with_n: bool = True) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 5 if with_n else 4, size=(n, length), dtype=np.uint8)


@pytest.fixture
def data() -> SequenceData:
    codes = random_codes(11, INPUT + 2 * SHIFT, seed=1)
    targets = np.arange(11 * 2, dtype=np.float64).reshape(11, 2)
    return SequenceData(codes, targets, INPUT, "cpu")


def test_one_hot_matches_genome() -> None:
    codes = random_codes(5, 13)
    assert (codes == 4).any()
    got = one_hot(torch.from_numpy(codes))
    assert got.dtype == torch.float32
    assert got.shape == (5, 4, 13)
    np.testing.assert_array_equal(got.numpy(), codes_one_hot(codes).astype(np.float32))
    # N is an all-zero column
    assert (got.sum(dim=1).numpy() == (codes != 4)).all()


def test_reverse_complement_codes_matches_genome() -> None:
    codes = random_codes(6, 17, seed=2)
    rc = reverse_complement_codes(torch.from_numpy(codes))
    assert rc.dtype == torch.uint8
    np.testing.assert_array_equal(codes_one_hot(rc.numpy()), reverse_complement(codes_one_hot(codes)))
    np.testing.assert_array_equal(reverse_complement_codes(rc).numpy(), codes)
    # ACGTN -> NACGT reversed and complemented
    np.testing.assert_array_equal(
        reverse_complement_codes(torch.tensor([[0, 1, 2, 3, 4]], dtype=torch.uint8)).numpy(), [[4, 0, 1, 2, 3]]
    )


def test_batches_without_generator_are_centred_and_in_order(data: SequenceData) -> None:
    assert len(data) == 11
    assert data.max_shift == SHIFT
    index = np.array([4, 0, 7, 2, 9, 10, 1])
    batches = list(data.batches(index, 3))
    assert [len(x) for x, _ in batches] == [3, 3, 1]
    x = torch.cat([b[0] for b in batches])
    y = torch.cat([b[1] for b in batches])
    stored = data.codes.numpy()
    expected = codes_one_hot(stored[index, SHIFT : SHIFT + INPUT]).astype(np.float32)
    np.testing.assert_array_equal(x.numpy(), expected)
    assert y.dtype == torch.float32
    np.testing.assert_array_equal(y.numpy(), np.arange(22, dtype=np.float32).reshape(11, 2)[index])
    np.testing.assert_array_equal(data.centred(torch.tensor([3])).numpy(), stored[[3], SHIFT : SHIFT + INPUT])


def test_generator_without_augmentation_shuffles_centred_windows(data: SequenceData) -> None:
    index = np.arange(11)
    batches = list(data.batches(index, 4, generator=torch.Generator().manual_seed(0)))
    x = torch.cat([b[0] for b in batches]).numpy()
    y = torch.cat([b[1] for b in batches]).numpy()
    rows = (y[:, 0] // 2).astype(int)
    assert sorted(rows) == list(range(11))
    stored = data.codes.numpy()
    np.testing.assert_array_equal(x, codes_one_hot(stored[rows, SHIFT : SHIFT + INPUT]).astype(np.float32))


@pytest.mark.parametrize("shift", [0, 1, SHIFT])
def test_augmented_rows_are_shifted_windows_of_their_sequence(shift: int) -> None:
    n = 64
    codes = random_codes(n, INPUT + 2 * SHIFT, seed=3, with_n=False)
    targets = np.arange(n, dtype=np.float32)[:, None]
    data = SequenceData(codes, targets, INPUT, "cpu")
    gen = torch.Generator().manual_seed(7)
    seen_rows, orientations, offsets = [], set(), set()
    for x, y in data.batches(np.arange(n), 10, generator=gen, shift=shift, reverse_complement=True):
        assert x.shape[1:] == (4, INPUT)
        for one, target in zip(x.numpy().astype(np.uint8), y.numpy()):
            row = int(target[0])
            seen_rows.append(row)
            matches = []
            for offset in range(SHIFT - shift, SHIFT + shift + 1):
                window = codes_one_hot(codes[row, offset : offset + INPUT])
                if np.array_equal(one, window):
                    matches.append(("forward", offset))
                if np.array_equal(one, reverse_complement(window)):
                    matches.append(("reverse", offset))
            assert matches, f"row {row} is no window of its sequence within shift {shift}"
            orientations.update(kind for kind, _ in matches)
            offsets.update(offset for _, offset in matches)
    assert sorted(seen_rows) == list(range(n))
    assert orientations == {"forward", "reverse"}
    if shift:
        assert offsets == set(range(SHIFT - shift, SHIFT + shift + 1))


def test_shift_without_reverse_complement_is_forward_only(data: SequenceData) -> None:
    gen = torch.Generator().manual_seed(3)
    stored = data.codes.numpy()
    for x, y in data.batches(np.arange(11), 5, generator=gen, shift=2):
        for one, target in zip(x.numpy().astype(np.uint8), y.numpy()):
            row = int(target[0]) // 2
            assert any(
                np.array_equal(one, codes_one_hot(stored[row, o : o + INPUT])) for o in range(SHIFT - 2, SHIFT + 3)
            )


def test_same_seed_same_batches(data: SequenceData) -> None:
    def run(seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        gen = torch.Generator().manual_seed(seed)
        return list(data.batches(np.arange(11), 4, generator=gen, shift=SHIFT, reverse_complement=True))

    first, second, other = run(11), run(11), run(12)
    assert len(first) == len(second) == 3
    for (xa, ya), (xb, yb) in zip(first, second):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert not all(torch.equal(xa, xb) for (xa, _), (xb, _) in zip(first, other))


def test_shift_larger_than_margin(data: SequenceData) -> None:
    with pytest.raises(ValueError, match=f"shift {SHIFT + 1} exceeds the stored margin of {SHIFT} bp"):
        next(data.batches(np.arange(3), 2, generator=torch.Generator(), shift=SHIFT + 1))


@pytest.mark.parametrize("width", [INPUT + 1, INPUT + 5, INPUT - 2])
def test_bad_margin(width: int) -> None:
    with pytest.raises(ValueError, match=f"sequence windows of {width} bp cannot serve input length {INPUT}"):
        SequenceData(random_codes(3, width), np.zeros((3, 1)), INPUT, "cpu")


def test_target_rows_must_match() -> None:
    with pytest.raises(ValueError, match="3 sequences but 2 rows of targets"):
        SequenceData(random_codes(3, INPUT), np.zeros((2, 1)), INPUT, "cpu")


def test_zero_margin_serves_whole_sequences() -> None:
    codes = random_codes(4, INPUT, seed=9)
    data = SequenceData(codes, np.zeros((4, 1)), INPUT, "cpu")
    assert data.max_shift == 0
    (x, _), = data.batches(np.arange(4), 8)
    np.testing.assert_array_equal(x.numpy(), codes_one_hot(codes).astype(np.float32))
