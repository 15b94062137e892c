"""SiPP-rand's sample allocation: how many weights each (neuron, sign side) keeps, under one global budget.

docs/methods.md §2.9 step 2. Each group g (an output neuron's positive or negative incoming weights) has the
error bound

    ε(m; α) = ½[√((α/3m)² + 2α/m) + α/3m],   α = 2·S_g·C·ln(8(P_l+1)κ_l/δ),

which is convex and decreasing in the sample count m. The allocation solves

    minimise Σ_g w_g ε(m_g; α_g)  subject to  Σ_g m_g ≤ B,  0 ≤ m_g ≤ u_g      (w_g = 1/n_l, u_g = nnz_g).

torchprune hands this to cvxpy. The problem is separable and convex, so its KKT conditions give each m_g as
a function of one Lagrange multiplier λ: −w_g ε'(m_g) = λ (clamped to [0, u_g]), and Σ_g m_g(λ) is
decreasing in λ; a bisection on log λ meets the budget. With t = α/(3m), −w ε'(m) = (3w/α)·φ(t) where
φ(t) = t²·h(t), h(t) = ½((t+3)/√(t²+6t) + 1); d log φ / d log t lies in (1.5, 2), so Newton's method in
log t converges from any start.
"""

from __future__ import annotations

import math

import numpy as np

LAMBDA_BISECTIONS = 200
NEWTON_STEPS = 100


def error_bound(m: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """ε(m; α); +inf where m = 0 < α, and 0 where α = 0."""
    m, alpha = np.asarray(m, dtype=np.float64), np.asarray(alpha, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = alpha / (3.0 * m)
        eps = 0.5 * (np.sqrt(t * t + 6.0 * t) + t)
    return np.where(alpha == 0, 0.0, np.where(m == 0, np.inf, eps))


def _h(t: np.ndarray) -> np.ndarray:
    return 0.5 * ((t + 3.0) / np.sqrt(t * t + 6.0 * t) + 1.0)


def _solve_phi(log_c: np.ndarray, log_t: np.ndarray) -> np.ndarray:
    """log t with log φ(t) = log c, by Newton's method in log t starting at ``log_t``."""
    for _ in range(NEWTON_STEPS):
        t = np.exp(log_t)
        h = _h(t)
        f = 2.0 * log_t + np.log(h) - log_c
        slope = 2.0 + t * (-4.5 * (t * t + 6.0 * t) ** -1.5) / h
        step = f / slope
        log_t = log_t - step
        if float(np.max(np.abs(step), initial=0.0)) < 1e-13:
            break
    return log_t


def allocate(alpha: np.ndarray, weight: np.ndarray, cap: np.ndarray, budget: float) -> np.ndarray:
    """The continuous optimum m of the program above (groups with α = 0 or u = 0 get 0)."""
    alpha, weight, cap = (np.asarray(a, dtype=np.float64) for a in (alpha, weight, cap))
    active = (alpha > 0) & (cap > 0)
    m = np.zeros_like(alpha)
    if not active.any() or budget <= 0:
        return m
    if cap[active].sum() <= budget:
        m[active] = cap[active]
        return m
    a, w, u = alpha[active], weight[active], cap[active]
    log_scale = np.log(a / (3.0 * w))
    state = {"log_t": 0.5 * (log_scale)}

    def counts(log_lam: float) -> np.ndarray:
        state["log_t"] = _solve_phi(log_lam + log_scale, state["log_t"])
        return np.minimum(a / (3.0 * np.exp(state["log_t"])), u)

    lo, hi = -1.0, 1.0  # bracket in log λ: Σm(lo) ≥ budget > Σm(hi)
    while counts(lo).sum() < budget:
        lo -= 2.0 * (hi - lo)
    while counts(hi).sum() >= budget:
        hi += 2.0 * (hi - lo)
    for _ in range(LAMBDA_BISECTIONS):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if counts(mid).sum() >= budget:
            lo = mid
        else:
            hi = mid
    m[active] = counts(hi)
    return m


def log_term(c_constant: float, delta_failure: float, patches: int, kernel: int) -> float:
    """C·ln(8(P+1)κ/δ), the layer's factor in α = 2·S·(this)."""
    return c_constant * math.log(8.0 * (patches + 1) * kernel / delta_failure)
