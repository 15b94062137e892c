"""What planning knows of each pruning method: one torch-free module per implementation module.

Each module here exports ``METHOD = Method(...)`` (or ``METHODS`` for variants): the name, hyperparameter
defaults, their checks and what data the method needs. Planning, ``prunelab audit`` and ``prunelab methods``
read only these, so they run without importing torch; the scorer in ``prunelab.pruning.<module>`` is
imported when a job computes (:attr:`~prunelab.pruning.base.Method.score`).
"""
