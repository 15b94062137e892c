"""Measurements of models and masks: FLOPs/parameter accounting and Jacobian singular values."""
