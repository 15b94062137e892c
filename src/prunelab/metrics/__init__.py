"""Measurements of models and masks: FLOPs/parameter accounting (and, later, Jacobian spectra)."""
