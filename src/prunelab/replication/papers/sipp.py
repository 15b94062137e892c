"""Baykal, Liebenwein et al., "SiPPing Neural Networks": SiPP keeps accuracy at high sparsity, at least as
well as weight thresholding (WT, global magnitude) and SNIP, each of the three SiPP variants tested apart.

The prune→retrain cascade claim, as encoded: after the cascade (iterative prune → retrain over decreasing keep
ratios, every level retrained), at every sparsity ≥ 90 % the SiPP variant's test accuracy is at least WT's.
"""

from __future__ import annotations

from prunelab.replication.claim import AtLeast, Claim, Select, Setting

SIPP = "Baykal, Liebenwein et al., SiPPing Neural Networks (arXiv 2019; SIMODS 2022)"
SETTING = Setting(("mnist", "cifar10"), None, 3, "numNets 3; LeNet 50 epochs, CIFAR ResNet 182 epochs")
PAPER = "P: SIMODS abstract (≥ WT and SNIP at high sparsity); V:S3 for the protocol"
VARIANTS = ("sipp_det", "sipp_rand", "sipp_hybrid")
BASELINES = {"wt": Select.of(method="magnitude", scope="global"), "snip": Select.of(method="snip")}
HIGH = AtLeast(0.9)
PER = ("model", "dataset", "target_sparsity")


def _claims() -> list[Claim]:
    claims = []
    for variant in VARIANTS:
        for name, baseline in BASELINES.items():
            claims.append(
                Claim(
                    f"sipp_{variant.removeprefix('sipp_')}_vs_{name}_pruned",
                    SIPP,
                    "figures: error vs prune ratio, prune only",
                    f"{variant} ≥ {name.upper()} right after pruning a trained net, sparsity ≥ 90 %",
                    "test_acc",
                    "at_least",
                    ((1.0, Select.of(method=variant)), (-1.0, baseline)),
                    0.0,
                    "0: at least as good, decided only when the interval excludes worse",
                    PAPER,
                    SETTING,
                    Select.of(stage="pruned", at="final", level=0, target_sparsity=HIGH),
                    PER,
                )
            )
        claims.append(
            Claim(
                f"sipp_{variant.removeprefix('sipp_')}_vs_wt_cascade",
                SIPP,
                "figures: error vs prune ratio, prune→retrain cascade",
                f"after the prune→retrain cascade, {variant} ≥ WT at sparsity ≥ 90 %",
                "test_acc",
                "at_least",
                ((1.0, Select.of(method=variant)), (-1.0, BASELINES["wt"])),
                0.0,
                "0: at least as good, decided only when the interval excludes worse",
                PAPER,
                SETTING,
                Select.of(stage="branch", level=AtLeast(1), target_sparsity=HIGH),
                PER,
            )
        )
    return claims


CLAIMS = _claims()
