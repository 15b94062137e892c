"""The three SiPP variants' declarations and hyperparameter checks (implementation: :mod:`prunelab.pruning.sipp`)."""

from prunelab.errors import ConfigError
from prunelab.pruning.base import Method


def check_constants(hp: dict, method: str) -> None:
    if not hp["c_constant"] > 0:
        raise ConfigError(f"{method} hparams.c_constant={hp['c_constant']} must be > 0")
    if not 0 < hp["delta_failure"] < 1:
        raise ConfigError(f"{method} hparams.delta_failure={hp['delta_failure']} must be in (0, 1)")


def _checker(method: str):
    def check(hp: dict) -> None:
        check_constants(hp, method)
        if "tolerance" in hp and not 0 <= hp["tolerance"] < 1:
            raise ConfigError(f"{method} hparams.tolerance={hp['tolerance']} must be in [0, 1)")
        if "search_iterations" in hp and (not isinstance(hp["search_iterations"], int)
                                          or hp["search_iterations"] < 1):
            raise ConfigError(f"{method} hparams.search_iterations={hp['search_iterations']} must be an integer ≥ 1")
    return check


_CONSTANTS = {"c_constant": 3.0, "delta_failure": 1e-16}
_SEARCH = {**_CONSTANTS, "tolerance": 0.005, "search_iterations": 20}
_MODULE = "prunelab.pruning.sipp"

METHODS = [
    Method(name="sipp_det", hparams=dict(_CONSTANTS), module=_MODULE, scorer="score_det", needs_data=True,
           data_source="dataset", check=_checker("sipp_det"),
           doc="empirical sensitivity ŝ (mean over conv patches); keep the top"),
    Method(name="sipp_rand", hparams=dict(_SEARCH), module=_MODULE, pruner="prune_rand", needs_data=True,
           data_source="dataset", updates_weights=True, check=_checker("sipp_rand"),
           doc="per-neuron importance sampling by ŝ with unbiased reweighting"),
    Method(name="sipp_hybrid", hparams=dict(_SEARCH), module=_MODULE, pruner="prune_hybrid", needs_data=True,
           data_source="dataset", updates_weights=True, check=_checker("sipp_hybrid"),
           doc="per neuron side: deterministic top-m or sampling, the lower bound"),
]
