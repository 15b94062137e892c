"""The three SiPP variants' declarations and hyperparameters (implementation: :mod:`prunelab.pruning.sipp.method`)."""

from prunelab.config.fragments import closed
from prunelab.pruning.base import Method
from prunelab.pruning.catalog import PROPAGATE

CONSTANTS = {  # also size the set S of the propagation step of other methods (prunelab.pruning.propagate)
    "c_constant": {
        "type": "number",
        "exclusiveMinimum": 0,
        "default": 3.0,
        "description": "the constant C of the sample-set size and the error bounds",
    },
    "delta_failure": {
        "type": "number",
        "exclusiveMinimum": 0,
        "exclusiveMaximum": 1,
        "default": 1e-16,
        "description": "δ: the allowed failure probability of the bounds",
    },
}
_DET = {**CONSTANTS, "propagate": {**PROPAGATE, "default": True}}
_SEARCH = {
    **_DET,
    "tolerance": {
        "type": "number",
        "minimum": 0,
        "exclusiveMaximum": 1,
        "default": 0.005,
        "description": "the budget search stops once the kept count is this close to the target",
    },
    "search_iterations": {
        "type": "integer",
        "minimum": 1,
        "default": 20,
        "description": "evaluations of the budget search at most",
    },
}
_MODULE = "prunelab.pruning.sipp.method"

METHODS = [
    Method(
        name="sipp_det",
        hparams=closed(_DET),
        module=_MODULE,
        scorer="score_det",
        needs_data=True,
        data_source="dataset",
        doc="empirical sensitivity ŝ (mean over conv patches); keep the top",
    ),
    Method(
        name="sipp_rand",
        hparams=closed(_SEARCH),
        module=_MODULE,
        pruner="prune_rand",
        needs_data=True,
        data_source="dataset",
        updates_weights=True,
        propagates_in_search=True,
        doc="per-neuron importance sampling by ŝ with unbiased reweighting",
    ),
    Method(
        name="sipp_hybrid",
        hparams=closed(_SEARCH),
        module=_MODULE,
        pruner="prune_hybrid",
        needs_data=True,
        data_source="dataset",
        updates_weights=True,
        propagates_in_search=True,
        doc="per neuron side: deterministic top-m or sampling, the lower bound",
    ),
]
