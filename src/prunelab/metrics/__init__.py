"""Measurements of models and masks: FLOPs/parameter accounting and Jacobian singular values.

Layer: may import ``training`` (masks) and everything below it; pruning, branch types and jobs use it.
"""
