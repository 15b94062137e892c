"""GraSP's declaration and hyperparameters (implementation: :mod:`prunelab.pruning.grasp`)."""

from prunelab.config.fragments import closed
from prunelab.pruning.base import Method

METHOD = Method(
    name="grasp",
    hparams=closed(
        {
            "temperature": {
                "type": "number",
                "exclusiveMinimum": 0,
                "default": 200.0,
                "description": "T: the logits are divided by T before the loss whose Hg is scored",
            },
            "samples_per_class": {
                "type": "integer",
                "minimum": 1,
                "default": 10,
                "description": "training examples drawn per class for the scoring batches",
            },
            "reinit": {
                "type": "boolean",
                "default": True,
                "description": "score a Xavier-normal re-initialised copy (the mask applies to the original net)",
            },
        }
    ),
    module="prunelab.pruning.grasp",
    scorer="score",
    needs_data=True,
    data_source="dataset",
    doc="removes the largest -θ⊙Hg (score +θ⊙Hg, normalised), Hg by double backward",
)
