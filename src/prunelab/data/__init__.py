"""Datasets as in-memory tensors (or, for ImageNet-sized image folders, streamed from disk) with fixed,
seeded train/validation/test splits.

Every dataset, embedded or from torchvision, is turned into the same :class:`~prunelab.data.tensors.TensorData`:
float tensors on the training device, standardised per channel with statistics of the training split,
plus a fingerprint of the raw bytes for provenance. Batches come from
:class:`~prunelab.data.batches.EpochPlan`, which augments on the device.

Layer: may import ``records``, ``config`` and the shared modules; ``catalog`` and ``files`` stay torch-free
for planning. Independent of ``models``.
"""
