"""The training data pipeline: compact sequences on the device, served as augmented batches.

Sequences are kept as one byte per base (codes 0-3 for A, C, G, T and 4 for N, see
:func:`atlasbench.io.genome.base_codes`), a quarter of their one-hot size, in one tensor on
the training device: on a GPU, batches are cut, augmented and one-hot encoded there, so
the GPU never waits on Python or on host-to-device copies. Each stored window is
``input_length + 2 * max_shift`` bp, centred on its region, so a random shift of up to
``max_shift`` bp either way stays inside real sequence.

Augmentation, as in CREsted's peak regression: a random shift per sequence and, with
probability 1/2, its reverse complement (the same regulatory element read from the other
strand). Evaluation uses the centred window, unaugmented.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

# Code -> complementary code (A<->T, C<->G, N stays N).
_COMPLEMENT = torch.tensor([3, 2, 1, 0, 4], dtype=torch.uint8)


def one_hot(codes: torch.Tensor) -> torch.Tensor:
    """One-hot encode base codes ``(n, L)`` into float32 ``(n, 4, L)`` (N: all zeros)."""
    channels = torch.arange(4, device=codes.device, dtype=codes.dtype)
    return (codes[:, None, :] == channels[None, :, None]).float()


def reverse_complement_codes(codes: torch.Tensor) -> torch.Tensor:
    """Reverse complement of base codes ``(n, L)``."""
    return _COMPLEMENT.to(codes.device)[codes.long()].flip(-1)


class SequenceData:
    """Sequences and their targets on one device, served as batches.

    Parameters
    ----------
    codes
        uint8 ``(n, input_length + 2 * max_shift)`` base codes, windows centred on the
        regions (a NumPy array or memory map; copied to ``device`` once).
    targets
        float ``(n, n_outputs)`` targets.
    input_length
        The model's input length in bp; ``codes.shape[1] - input_length`` must be even
        (twice the largest shift).
    device
        Where the data is kept and batches are made.
    """

    def __init__(self, codes: np.ndarray, targets: np.ndarray, input_length: int, device: torch.device | str) -> None:
        margin = codes.shape[1] - input_length
        if margin < 0 or margin % 2:
            raise ValueError(
                f"sequence windows of {codes.shape[1]} bp cannot serve input length {input_length} "
                "(need input_length + 2 * max_shift)"
            )
        if len(codes) != len(targets):
            raise ValueError(f"{len(codes)} sequences but {len(targets)} rows of targets")
        self.device = torch.device(device)
        self.codes = torch.as_tensor(np.ascontiguousarray(codes, dtype=np.uint8)).to(self.device)
        self.targets = torch.as_tensor(np.asarray(targets, dtype=np.float32)).to(self.device)
        self.input_length = input_length
        self.max_shift = margin // 2

    def __len__(self) -> int:
        return len(self.codes)

    def centred(self, index: torch.Tensor) -> torch.Tensor:
        """Base codes of the centred (unshifted) windows of the sequences in ``index``."""
        s = self.max_shift
        return self.codes[index, s : s + self.input_length]

    def batches(
        self,
        index: np.ndarray,
        batch_size: int,
        *,
        generator: torch.Generator | None = None,
        shift: int = 0,
        reverse_complement: bool = False,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(one_hot (b, 4, L), targets (b, n_outputs))`` batches of the sequences in ``index``.

        Parameters
        ----------
        index
            Rows to serve.
        batch_size
            Sequences per batch (the last batch may be smaller).
        generator
            CPU random generator for order and augmentation; None serves ``index`` in
            order without augmentation.
        shift
            Largest random shift in bp (at most ``max_shift``); needs ``generator``.
        reverse_complement
            Reverse-complement a random half of the sequences; needs ``generator``.

        Yields
        ------
        tuple of torch.Tensor
            One-hot float32 inputs and float32 targets, on the data's device.
        """
        if shift > self.max_shift:
            raise ValueError(f"shift {shift} exceeds the stored margin of {self.max_shift} bp")
        order = torch.as_tensor(np.asarray(index, dtype=np.int64))
        if generator is not None:
            order = order[torch.randperm(len(order), generator=generator)]
        positions = torch.arange(self.input_length, device=self.device)
        for first in range(0, len(order), batch_size):
            rows = order[first : first + batch_size]
            if generator is None or (shift == 0 and not reverse_complement):
                codes = self.centred(rows.to(self.device))
            else:
                offsets = self.max_shift + torch.randint(-shift, shift + 1, (len(rows),), generator=generator)
                flip = torch.rand(len(rows), generator=generator) < 0.5
                windows = self.codes[rows.to(self.device)]
                codes = torch.gather(windows, 1, offsets.to(self.device)[:, None] + positions[None, :])
                if reverse_complement:
                    codes = torch.where(flip.to(self.device)[:, None], reverse_complement_codes(codes), codes)
            yield one_hot(codes), self.targets[rows.to(self.device)]
