"""The one place that chooses where tensors live (CPU first; a GPU only when asked for or available).

Nothing else in streamrec checks for CUDA: models take a ``device`` argument and resolve it here.

>>> choose_device("cpu")
device(type='cpu')
>>> choose_device("auto").type in {"cpu", "cuda", "mps"}
True
"""
from __future__ import annotations

import torch


def choose_device(pref: str = "auto") -> torch.device:
    """The torch device for ``pref``: ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda[:n]"``, ``"mps"``.

    Raises ``ValueError`` when an explicitly requested accelerator is not available, so a misconfigured
    worker fails at start rather than silently running on the CPU.
    """
    pref = (pref or "auto").strip().lower()
    if pref == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    device = torch.device(pref)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {pref!r} requested but CUDA is not available")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device {pref!r} requested but MPS is not available")
    return device
