"""Dense weights imported from a file instead of trained (e.g. the released ImageNet ResNet-34 that Liu et
al. prune and fine-tune).

A dense config entry with ``checkpoint: <file>`` names a state dict; the planner reads the file once and puts
its sha256 (and the path that finds it) into the dense run spec (``prunelab.plan.checkpoint_hash``), so a
different file is a different run and a file swapped after planning is refused. The job loads it with
``weights_only=True`` (no pickled code runs), checks every tensor name and shape against the configured model,
then evaluates it through the ordinary training loop with zero iterations. The ``train`` block of such an
entry describes how the weights were trained: Scratch-E/B branches rerun that recipe on the pruned
architecture.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from prunelab.errors import CheckpointError
from prunelab.records.storage import load_tensors, sha256_file

if TYPE_CHECKING:
    from torch import nn

DATA_PARALLEL_PREFIX = "module."  # keys saved from nn.DataParallel / DDP wrappers


def load_into(model: nn.Module, checkpoint: dict) -> None:
    """Load the imported state dict into ``model``; a changed, corrupt or mismatched file is one line."""
    import torch

    path = checkpoint["path"]
    if not Path(path).is_file():
        raise CheckpointError(f"{path}: imported checkpoint not found")
    actual = sha256_file(path)
    if actual != checkpoint["sha256"]:
        raise CheckpointError(
            f"{path}: sha256 {actual[:16]}… differs from the planned {checkpoint['sha256'][:16]}… "
            f"(the file changed after the run was planned)"
        )
    state = load_tensors(path)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: not a state dict of tensors")
    state = {k.removeprefix(DATA_PARALLEL_PREFIX): v for k, v in state.items()}
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: does not fit the configured model ({len(missing)} missing, e.g. "
            f"{missing[:2]}; {len(unexpected)} unexpected, e.g. {unexpected[:2]})"
        )
    for name, tensor in expected.items():
        if state[name].shape != tensor.shape:
            raise CheckpointError(
                f"{path}: {name} has shape {tuple(state[name].shape)}, the configured model needs {tuple(tensor.shape)}"
            )
    model.load_state_dict(state)
