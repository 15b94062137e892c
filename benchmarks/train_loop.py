"""prunelab's Trainer against a minimal hand-written loop and against a conventional DataLoader loop.

All three train the same model from the same init for the same epochs at batch 128 with the same SGD, and
evaluate on the validation and test splits after every epoch:

* ``single_model`` — :class:`prunelab.training.single_model.Trainer` (device-resident tensors, EpochPlan batches,
  schedule, divergence checks, history);
* ``hand`` — the least code that does the same work on the same device tensors (randperm, index, crop and
  flip by index arithmetic, step), i.e. the floor for this approach; target trainer/hand ≤ 1.2;
* ``dataloader`` — torchvision transforms on PIL images in a ``DataLoader(num_workers=4)``, copied to the
  device per batch; target dataloader/trainer ≥ 3 on a GPU (docs/architecture.md §7: 5× for LeNet on an H100).

LeNet-300-100 runs on digits at 1×28×28 without augmentation, ResNet-20 on digits at 3×32×32 with
random crop (padding 4) and flip. Prints one line.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from common import TRAIN, data_for, describe, device, interleaved, model_for, subset
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from prunelab.training.single_model import Trainer, build_optimizer, evaluate

EPOCHS = {"lenet300": 2, "resnet20": 1}
REPEATS = {"lenet300": 5, "resnet20": 3}
# ResNet-20 costs about a second per step on 2 CPU cores: an epoch of 4 batches and 200 evaluation examples
# keeps the CPU run short; on a GPU the whole digits set is used
CPU_SUBSET = {"resnet20": (512, 100)}


def run_trainer(name, data, epochs):
    model = model_for(name, data.input_shape, data.train_x.device)
    Trainer(model, data, {**TRAIN, "epochs": epochs}, data_seed=0, label=name, log=lambda _: None).run()


def run_hand(name, data, epochs):
    model = model_for(name, data.input_shape, data.train_x.device)
    opt = build_optimizer(model, TRAIN)
    x, y, dev = data.train_x, data.train_y, data.train_x.device
    pad = data.augment.get("crop_padding", 0)
    gen = torch.Generator(device=dev).manual_seed(0)
    n, (_, h, w) = len(y), x.shape[1:]
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(n, device=dev, generator=gen)
        for start in range(0, n, TRAIN["batch_size"]):
            idx = perm[start : start + TRAIN["batch_size"]]
            xb = x[idx]
            if pad:
                b = len(idx)
                off = torch.randint(0, 2 * pad + 1, (b, 2), device=dev, generator=gen)
                rows = (off[:, :1] + torch.arange(h, device=dev)).unsqueeze(2)
                cols = (off[:, 1:] + torch.arange(w, device=dev)).unsqueeze(1)
                xb = F.pad(xb, (pad,) * 4).permute(0, 2, 3, 1)[torch.arange(b, device=dev).view(-1, 1, 1), rows, cols]
                xb = xb.permute(0, 3, 1, 2).contiguous()  # NCHW, as EpochPlan yields
                flip = torch.rand(b, device=dev, generator=gen) < 0.5
                xb = torch.where(flip.view(-1, 1, 1, 1), xb.flip(-1), xb)
            loss = F.cross_entropy(model(xb), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        evaluate(model, data.val_x, data.val_y)
        evaluate(model, data.test_x, data.test_y)


class PILDigits(Dataset):
    """The same images as uint8 PIL images, decoded and transformed per example as torchvision users do."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, transform):
        low, high = x.amin(), x.amax()
        array = ((x - low) / (high - low) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
        self.images = [Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a) for a in array]
        self.labels = y.cpu().tolist()
        self.transform = transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(self.images[i]), self.labels[i]


def conventional_loaders(data):
    from torchvision import transforms as T

    channels = data.train_x.shape[1]
    normalize = [T.ToTensor(), T.Normalize([0.5] * channels, [0.25] * channels)]
    augment = (
        [T.RandomCrop(data.train_x.shape[-1], padding=data.augment["crop_padding"]), T.RandomHorizontalFlip()]
        if data.augment.get("crop_padding")
        else []
    )
    pin = data.train_x.device.type == "cuda"
    train = DataLoader(
        PILDigits(data.train_x, data.train_y, T.Compose(augment + normalize)),
        batch_size=TRAIN["batch_size"],
        shuffle=True,
        num_workers=4,
        pin_memory=pin,
    )
    evals = [
        DataLoader(PILDigits(x, y, T.Compose(normalize)), batch_size=1000, num_workers=4, pin_memory=pin)
        for x, y in ((data.val_x, data.val_y), (data.test_x, data.test_y))
    ]
    return train, evals


def run_dataloader(name, data, epochs, loaders):
    train, evals = loaders
    model = model_for(name, data.input_shape, data.train_x.device)
    opt = build_optimizer(model, TRAIN)
    dev = data.train_x.device
    for _ in range(epochs):
        model.train()
        for xb, yb in train:
            xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            for loader in evals:
                for xb, yb in loader:
                    model(xb.to(dev, non_blocking=True)).argmax(1).eq(yb.to(dev)).sum()


def main() -> None:
    dev = device()
    parts = []
    for name, epochs in EPOCHS.items():
        data = data_for(name, dev)
        if dev.type == "cpu" and name in CPU_SUBSET:
            data = subset(data, *CPU_SUBSET[name])
        loaders = conventional_loaders(data)
        candidates = {
            "trainer": lambda: run_trainer(name, data, epochs),
            "hand": lambda: run_hand(name, data, epochs),
            "dataloader": lambda: run_dataloader(name, data, epochs, loaders),
        }
        interleaved(candidates, dev, 1)  # warm-up round: allocator, oneDNN/cuDNN kernels, worker imports
        t = interleaved(candidates, dev, REPEATS[name])
        parts.append(
            f"{name}: trainer/hand {t.ratio('trainer', 'hand', dev)} (target <=1.2), dataloader/trainer "
            f"{t.ratio('dataloader', 'trainer', dev)} (target >=3 on GPU), "
            f"trainer {t['trainer'] / epochs:.2f}s per epoch of {len(data.train_y)}"
        )
    print(f"train_loop [{describe(dev)}] " + " | ".join(parts))


if __name__ == "__main__":
    main()
