"""Curvature of the scoring loss with respect to the prunable weights (docs/methods.md §2.4–§2.6), via torch.func.

Everything here sees the network through :class:`FlatModel`: a deep copy in eval mode (or, when scoring at
initialisation, train-mode BatchNorm that normalises with batch statistics and updates nothing), written as
a pure function of one flat vector θ that concatenates the prunable weights in selection order. All other
parameters and buffers are held fixed. The model the caller passed is therefore never mutated, and every
quantity lives in the same coordinates as the selector's global flat index.

Averages are over *examples*: a batch of m examples weighs m/n in a scoring set of n, so unequal last
batches do not tilt the result, and with equal batches this equals Laurent et al.'s average of batch means.

Quantities (all returned as flat vectors or matrices over θ; ``FlatModel.as_dict`` maps back to names):

- mean gradient g, per-example and mini-batch gradients (``vmap`` over ``grad``);
- GGN diagonal and matrix, (1/n)Σ_i J_iᵀΛ_iJ_i, from the factorisation Λ_i = Σ_c u_ic u_icᵀ of the output
  Hessian: for softmax cross-entropy u_c = √p_c (e_c − p), so J_iᵀu_c is one pullback per class and the
  diagonal is the mean of their squares (C backward passes, squared per example);
- empirical Fisher diagonal (observed labels) and MC Fisher diagonal (labels drawn from the model with an
  explicit generator; its expectation is the GGN diagonal);

  these three diagonals sum squared per-example gradients layer by layer from recorded layer inputs and
  output cotangents (:func:`squared_gradient_sum`), which never materialises the n×P per-example
  gradients. For the GGN diagonal of LeNet-300-100 on 1000 digits (one CPU thread) that takes 0.2–0.4 s
  against 78 s for squaring ``vmap``-ed per-example pullbacks. The dense GGN and WoodFisher's gradients,
  which need whole rows, use ``vmap`` over ``vjp``/``grad``;
- Hessian-vector products (forward-over-reverse), the exact Hessian diagonal and matrix for tiny nets,
  and Hutchinson's estimator with seeded Rademacher probes;
- per-layer second moments of the layer inputs, the L-OBS layer-wise Hessian.

Dense P×P matrices (and the P Hessian-vector products of an exact Hessian diagonal) are refused for
P > ``MAX_DENSE`` with a one-line error that names the scalable variant.
"""

from __future__ import annotations

import copy
import functools
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd import forward_ad
from torch.func import functional_call, grad, jvp, replace_all_batch_norm_modules_, vjp, vmap

from prunelab.errors import ConfigError, PrunelabError
from prunelab.progress import tick
from prunelab.pruning.catalog.obd import DIAGONALS  # named with OBD's declaration, so planning needs no torch

MAX_DENSE = 10_000  # largest P for which a P×P matrix (800 MB in float64) is built
CHUNK_ELEMENTS = 2**25  # per-example rows materialised at once: 128 MiB of float32
Batches = list[tuple[torch.Tensor, torch.Tensor]]


# --------------------------------------------------------------------------------------------------
# Objectives: the per-example loss ℓ(z, y) and rows u_c with Σ_c u_c u_cᵀ = ∂²ℓ/∂z², its output Hessian
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Objective:
    """A per-example loss with its output-Hessian factor and its model-predictive label sampler.

    ``factor(z)`` returns, for logits z of shape (m, C), rows u_c (shape (m, C, C)) with Σ_c u_c u_cᵀ equal
    to ∂²ℓ/∂z², so the GGN is Σ_c (Jᵀu_c)(Jᵀu_c)ᵀ. ``sample(z, generator)`` draws targets from the model's
    own predictive distribution, which makes E[(∇ℓ)²] the GGN diagonal (the MC Fisher).
    """

    name: str
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    factor: Callable[[torch.Tensor], torch.Tensor]
    sample: Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def _ce_factor(z: torch.Tensor) -> torch.Tensor:
    p = torch.softmax(z, dim=-1)
    eye = torch.eye(z.shape[-1], dtype=z.dtype, device=z.device)
    return p.sqrt().unsqueeze(-1) * (eye - p.unsqueeze(-2))


def _ce_sample(z: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    p = torch.softmax(z.detach().double(), dim=-1).cpu()
    return torch.multinomial(p, 1, generator=generator).squeeze(-1).to(z.device)


def _targets(y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return F.one_hot(y, z.shape[-1]).to(z.dtype) if not y.is_floating_point() else y.to(z.dtype)


def _se_sample(z: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    noise = torch.randn(z.shape, generator=generator, dtype=torch.float64)
    return z.detach() + noise.to(device=z.device, dtype=z.dtype)


CROSS_ENTROPY = Objective(
    "cross_entropy",
    loss=lambda z, y: F.cross_entropy(z, y, reduction="none"),
    factor=_ce_factor,
    sample=_ce_sample,
)
# ½‖z − t‖² with t the one-hot label (or a float target): the output Hessian is I, so for a network that is
# linear in θ the loss is exactly quadratic and the GGN is the Hessian. Used by the exact OBS/OBD oracles.
SQUARED_ERROR = Objective(
    "squared_error",
    loss=lambda z, y: 0.5 * (z - _targets(y, z)).pow(2).sum(-1),
    factor=lambda z: torch.eye(z.shape[-1], dtype=z.dtype, device=z.device).expand(*z.shape, z.shape[-1]),
    sample=_se_sample,
)


# --------------------------------------------------------------------------------------------------
# The network as a function of its flattened prunable weights
# --------------------------------------------------------------------------------------------------
def weight_modules(model: nn.Module) -> dict[str, nn.Module]:
    """``{weight parameter name: module}`` for every Linear and Conv2d layer of ``model``."""
    return {
        f"{prefix}.weight" if prefix else "weight": m
        for prefix, m in model.named_modules()
        if isinstance(m, (nn.Linear, nn.Conv2d))
    }


def _check_unfoldable(name: str, module: nn.Module) -> None:
    if isinstance(module, nn.Conv2d) and (
        module.groups != 1 or module.padding_mode != "zeros" or isinstance(module.padding, str)
    ):
        raise PrunelabError(
            f"{name}: per-layer curvature supports Conv2d with groups=1 and zero padding given "
            f"as numbers; this layer has groups={module.groups}, padding={module.padding!r}, "
            f"padding_mode={module.padding_mode!r}"
        )


def _has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


class FlatModel:
    """A private copy of ``model`` whose loss is a pure function of the flat prunable weights θ.

    Eval mode for trained networks. With ``at_init`` the copy stays in train mode and its BatchNorm layers
    stop tracking running statistics, so they normalise with batch statistics and change nothing; the
    examples of a batch are then coupled, and per-example quantities are refused.
    """

    def __init__(
        self, model: nn.Module, names: list[str], *, at_init: bool = False, objective: Objective = CROSS_ENTROPY
    ):
        net = copy.deepcopy(model)
        net.train(at_init)
        if at_init:
            replace_all_batch_norm_modules_(net)
        params = dict(net.named_parameters())
        missing = [n for n in names if n not in params]
        if missing:
            raise ConfigError(f"curvature: parameters {missing} are not in the model")
        self.net = net
        self.names = list(names)
        self.shapes = [params[n].shape for n in self.names]
        self.sizes = [params[n].numel() for n in self.names]
        self.theta = torch.cat([params[n].detach().flatten() for n in self.names]).clone()
        self.fixed = {n: p.detach() for n, p in params.items() if n not in self.names}
        self.fixed.update({n: b for n, b in net.named_buffers()})
        self.objective = objective
        self.coupled = at_init and _has_batchnorm(net)

    @classmethod
    def from_context(cls, ctx, objective: Objective = CROSS_ENTROPY) -> FlatModel:
        """The view a pruning method needs: ``ctx.model``'s prunable weights, in ``ctx.params`` order."""
        return cls(ctx.model, list(ctx.params), at_init=ctx.at_init, objective=objective)

    @property
    def size(self) -> int:
        return self.theta.numel()

    def as_dict(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Split a flat vector over θ into ``{name: tensor}`` with the parameters' shapes (owning copies, so
        a saved mask does not drag the whole flat storage along)."""
        return {n: t.reshape(s).clone() for n, t, s in zip(self.names, flat.split(self.sizes), self.shapes)}

    def _views(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        return {n: t.view(s) for n, t, s in zip(self.names, flat.split(self.sizes), self.shapes)}

    def flatten(self, tensors: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([tensors[n].flatten() for n in self.names])

    def logits(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if x.is_floating_point():
            x = x.to(theta.dtype)
        return functional_call(self.net, {**self.fixed, **self._views(theta)}, (x,))

    def loss(self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean loss over the batch (x, y)."""
        return self.objective.loss(self.logits(theta, x), y).mean()

    def _one_example_loss(self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.loss(theta, x.unsqueeze(0), y.unsqueeze(0))

    def layers(self) -> dict[str, nn.Module]:
        """The Linear/Conv2d module of the copy that owns each prunable weight."""
        modules = weight_modules(self.net)
        missing = [n for n in self.names if n not in modules]
        if missing:
            raise ConfigError(f"curvature: {missing} are not weights of Linear or Conv2d layers")
        for name in self.names:
            _check_unfoldable(name, modules[name])
        return {name: modules[name] for name in self.names}

    def require_independent_examples(self, what: str) -> None:
        if self.coupled:
            raise ConfigError(
                f"{what}: train-mode BatchNorm at initialisation (at: 0it) couples the examples "
                f"of a batch, so per-example gradients are undefined; score a trained network or "
                f"use a batch-level curvature (hessian, hutchinson)"
            )


def _chunks(n: int, elements_per_example: int) -> Iterator[slice]:
    step = max(1, CHUNK_ELEMENTS // max(1, elements_per_example))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def _count(batches: Batches) -> int:
    n = sum(len(y) for _, y in batches)
    if n == 0:
        raise ConfigError("curvature needs scoring data, but the scoring batches are empty")
    return n


def _require_dense(size: int, what: str, alternative: str) -> None:
    if size > MAX_DENSE:
        raise ConfigError(
            f"{what}: {size} prunable weights exceed the {MAX_DENSE} for which a dense "
            f"{size}×{size} computation is done; use {alternative}"
        )


# --------------------------------------------------------------------------------------------------
# Gradients
# --------------------------------------------------------------------------------------------------
def mean_gradient(fm: FlatModel, batches: Batches) -> torch.Tensor:
    """g = ∇θ of the mean loss over all scoring examples."""
    n = _count(batches)
    total = torch.zeros(fm.size, dtype=torch.float64, device=fm.theta.device)
    for x, y in batches:
        total += grad(fm.loss)(fm.theta, x, y).double() * (len(y) / n)
    return total


def per_example_gradients(fm: FlatModel, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(m, P): row i is ∇θ ℓ(x_i, y_i). Materialises m×P numbers; callers chunk large batches."""
    fm.require_independent_examples("per-example gradients")
    return vmap(grad(fm._one_example_loss), in_dims=(None, 0, 0))(fm.theta, x, y)


def _example_chunks(
    fm: FlatModel, batches: Batches, rows_per_example: int = 1
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    for x, y in batches:
        for part in _chunks(len(y), rows_per_example * fm.size):
            yield x[part], y[part]


def output_gradients(fm: FlatModel, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(m, C): ∂ℓ(z_i, y_i)/∂z_i for each example (the cotangent whose pullback is ∇θ ℓ_i)."""
    z = z.detach().requires_grad_()
    return torch.autograd.grad(fm.objective.loss(z, y).sum(), z)[0]


def _accumulate_layer(total: torch.Tensor, module: nn.Module, a: torch.Tensor, delta: torch.Tensor) -> None:
    """Add Σ_i (per-example weight gradient)² of one layer, from its inputs a and output cotangents δ.

    Products run in the model's dtype (as a backward pass would); the squares are summed in float64."""
    if isinstance(module, nn.Linear) and a.dim() == 2:
        total += (delta.pow(2).T @ a.pow(2)).double()  # (δ_i a_iᵀ)² summed over i, never materialised
        return
    if isinstance(module, nn.Linear):
        rows, outs = a.reshape(len(a), -1, a.shape[-1]), delta.reshape(len(delta), -1, delta.shape[-1])
        total += (outs.transpose(1, 2) @ rows).pow(2).sum(0, dtype=torch.float64)
        return
    patches = F.unfold(a, module.kernel_size, dilation=module.dilation, padding=module.padding, stride=module.stride)
    total += (delta.flatten(2) @ patches.transpose(1, 2)).pow(2).sum(0, dtype=torch.float64)


def squared_gradient_sum(
    fm: FlatModel, x: torch.Tensor, cotangents: Callable[[torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """Σ_i Σ_k ([J_iᵀ v_ik]_q)² for every prunable weight q, with v = ``cotangents(z)`` of shape (m, K, C).

    J_iᵀv is the per-example gradient that the cotangent v on example i's logits pulls back. Instead of
    materialising it (m·K·P numbers), one forward pass records each prunable layer's input a and output,
    K backward passes give the output cotangents δ, and the squares are summed layer by layer: a linear
    layer's per-example gradient is the outer product δ_i a_iᵀ, so its squares sum to (δ²)ᵀ(a²); a conv
    layer's is δ_i P_iᵀ over its unfolded input patches P_i, formed per example and squared. Examples
    must be independent (eval mode), since every backward pass sums over the batch.
    """
    fm.require_independent_examples("the GGN and Fisher diagonals")
    layers = fm.layers()
    records: dict[str, list] = {name: [] for name in fm.names}

    def recorder(name: str):
        def record(module, inputs, output):
            records[name].append((inputs[0].detach(), output))
            return output.clone()  # later in-place ops act on the clone, not on the recorded output

        return record

    handles = [layers[name].register_forward_hook(recorder(name)) for name in fm.names]
    try:
        z = fm.logits(fm.theta.detach().requires_grad_(), x)
    finally:
        for handle in handles:
            handle.remove()
    for name, calls in records.items():
        if len(calls) != 1:
            raise PrunelabError(
                f"curvature: layer {name} ran {len(calls)} times in one forward pass; per-example "
                f"squares need each prunable layer to be applied once"
            )
    v = cotangents(z.detach())
    outputs = [records[name][0][1] for name in fm.names]
    totals = [
        torch.zeros(s[0], n // s[0], dtype=torch.float64, device=fm.theta.device) for s, n in zip(fm.shapes, fm.sizes)
    ]
    for k in range(v.shape[1]):
        deltas = torch.autograd.grad(
            z, outputs, grad_outputs=v[:, k], retain_graph=k + 1 < v.shape[1], allow_unused=True
        )
        for name, total, delta in zip(fm.names, totals, deltas):
            if delta is not None:
                _accumulate_layer(total, layers[name], records[name][0][0], delta)
    return torch.cat([t.flatten() for t in totals])


def _squares_over_batches(fm: FlatModel, batches: Batches, cotangents_of) -> torch.Tensor:
    """Σ over all examples of ``squared_gradient_sum``, in example chunks; ``cotangents_of(b, part, z)``."""
    total = torch.zeros(fm.size, dtype=torch.float64, device=fm.theta.device)
    for b, (x, _) in enumerate(batches):
        for part in _chunks(len(x), fm.size):
            tick(lambda: f"curvature diagonal: batch {b + 1}/{len(batches)}")
            total += squared_gradient_sum(fm, x[part], lambda z, b=b, part=part: cotangents_of(b, part, z))
    return total


def ggn_diagonal(fm: FlatModel, batches: Batches) -> torch.Tensor:
    """diag((1/n) Σ_i J_iᵀΛ_iJ_i), the exact GGN diagonal: Λ_i = U_iU_iᵀ (rows u_c = √p_c(e_c − p) for
    cross-entropy), C backward passes per batch, per-example squares."""
    total = _squares_over_batches(fm, batches, lambda b, part, z: fm.objective.factor(z))
    return total / _count(batches)


def empirical_fisher_diagonal(fm: FlatModel, batches: Batches) -> torch.Tensor:
    """(1/n) Σ_i (∂ℓ(x_i, y_i)/∂θ)² with the observed labels."""
    total = _squares_over_batches(
        fm, batches, lambda b, part, z: output_gradients(fm, z, batches[b][1][part]).unsqueeze(1)
    )
    return total / _count(batches)


def sample_labels(
    fm: FlatModel, batches: Batches, generator: torch.Generator, samples: int = 1
) -> list[list[torch.Tensor]]:
    """``samples`` draws ỹ from the model's predictive distribution per example: [batch][draw] → labels."""
    with torch.no_grad():
        logits = [fm.logits(fm.theta, x) for x, _ in batches]
    return [[fm.objective.sample(z, generator) for _ in range(samples)] for z in logits]


def mc_fisher_diagonal(fm: FlatModel, batches: Batches, generator: torch.Generator, samples: int = 1) -> torch.Tensor:
    """(1/(n·S)) Σ_i Σ_s (∂ℓ(x_i, ỹ_is)/∂θ)² with ỹ_is drawn from the model (:func:`sample_labels`, in that
    order from ``generator``); its expectation is the GGN diagonal."""
    labels = sample_labels(fm, batches, generator, samples)
    total = _squares_over_batches(
        fm, batches, lambda b, part, z: torch.stack([output_gradients(fm, z, draw[part]) for draw in labels[b]], 1)
    )
    return total / (_count(batches) * samples)


def minibatch_gradients(fm: FlatModel, batches: Batches, mini_batch: int, count: int) -> Iterator[torch.Tensor]:
    """The gradients of the mean loss over ``count`` consecutive mini-batches of ``mini_batch`` scoring
    examples (in scoring order), yielded as (k, P) chunks. ``mini_batch = 1`` gives per-example gradients."""
    if mini_batch == 1:
        fm.require_independent_examples("gradients of mini-batches of size 1")
    x = torch.cat([xb for xb, _ in batches])
    y = torch.cat([yb for _, yb in batches])
    needed = mini_batch * count
    if needed > len(y):
        raise ConfigError(
            f"{count} gradients of mini-batches of {mini_batch} need {needed} scoring examples, "
            f"but scoring.examples gives {len(y)}; raise scoring.examples or lower the counts"
        )
    x = x[:needed].reshape(count, mini_batch, *x.shape[1:])
    y = y[:needed].reshape(count, mini_batch, *y.shape[1:])
    batch_grad = vmap(grad(fm.loss), in_dims=(None, 0, 0))
    for part in _chunks(count, fm.size):
        yield batch_grad(fm.theta, x[part], y[part])


# --------------------------------------------------------------------------------------------------
# Gauss–Newton
# --------------------------------------------------------------------------------------------------
def ggn_rows(fm: FlatModel, x: torch.Tensor) -> torch.Tensor:
    """(m, C, P): row (i, c) is J_iᵀu_ic, so that J_iᵀΛ_iJ_i = Σ_c (J_iᵀu_ic)(J_iᵀu_ic)ᵀ.

    One forward per example and one vjp per class, vmapped over both; u_ic is computed from detached
    logits, since the GGN treats the output Hessian as fixed.
    """
    fm.require_independent_examples("the GGN")

    def rows(theta: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
        z, pullback = vjp(lambda t: fm.logits(t, xi.unsqueeze(0)).squeeze(0), theta)
        u = fm.objective.factor(z.detach().unsqueeze(0)).squeeze(0)
        return vmap(pullback)(u)[0]

    return vmap(rows, in_dims=(None, 0))(fm.theta, x)


def _classes(fm: FlatModel, batches: Batches) -> int:
    with torch.no_grad():
        return fm.logits(fm.theta, batches[0][0][:1]).shape[-1]


def ggn_matrix(fm: FlatModel, batches: Batches) -> torch.Tensor:
    """(1/n) Σ_i J_iᵀΛ_iJ_i as a dense float64 P×P matrix (tiny nets only)."""
    _require_dense(fm.size, "GGN matrix", "the GGN diagonal (ggn) or block-diagonal WoodFisher")
    total = torch.zeros(fm.size, fm.size, dtype=torch.float64, device=fm.theta.device)
    for done, (x, _) in enumerate(_example_chunks(fm, batches, _classes(fm, batches))):
        tick(lambda: f"GGN matrix: {done} example chunk(s) of {fm.size} weights")
        r = ggn_rows(fm, x).double().flatten(0, 1)
        total += r.T @ r
    return total / _count(batches)


# --------------------------------------------------------------------------------------------------
# Hessian
# --------------------------------------------------------------------------------------------------
@functools.cache
def _load_forward_ad_decompositions() -> None:
    """Load torch's forward-mode AD decompositions with its own deprecation warning silenced, once.

    torch loads them on the first dual tensor (the first ``jvp``) and registers them through
    ``torch.jit.script``, which warns that ``torch.jit.script`` is deprecated: torch's use, not ours, and
    nothing a prunelab user can act on. Making that first dual tensor here, under a filter for exactly that
    message, keeps every other warning, including the same one from anywhere else.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)
        with forward_ad.dual_level():
            forward_ad.make_dual(torch.zeros(1), torch.zeros(1))


def hessian_vector_product(fm: FlatModel, batches: Batches, v: torch.Tensor) -> torch.Tensor:
    """H v for the Hessian of the mean scoring loss, by forward-over-reverse differentiation.

    ``v`` may carry leading batch dimensions (k, P); the products are then vmapped.
    """
    _load_forward_ad_decompositions()
    n = _count(batches)

    def one(vec: torch.Tensor) -> torch.Tensor:
        out = torch.zeros_like(vec)
        for x, y in batches:
            out = out + jvp(lambda t: grad(fm.loss)(t, x, y), (fm.theta,), (vec,))[1] * (len(y) / n)
        return out

    v = v.to(fm.theta.dtype)
    return vmap(one)(v) if v.dim() == 2 else one(v)


def _unit_vector_chunks(fm: FlatModel) -> Iterator[tuple[int, torch.Tensor]]:
    step = max(1, min(fm.size, 256))
    for start in range(0, fm.size, step):
        k = min(step, fm.size - start)
        e = torch.zeros(k, fm.size, dtype=fm.theta.dtype, device=fm.theta.device)
        e[torch.arange(k), torch.arange(start, start + k)] = 1
        yield start, e


def hessian_matrix(fm: FlatModel, batches: Batches) -> torch.Tensor:
    """The dense float64 Hessian of the mean scoring loss, built from P Hessian-vector products."""
    _require_dense(fm.size, "Hessian matrix", "the GGN diagonal (ggn), hutchinson or block-diagonal WoodFisher")
    h = torch.empty(fm.size, fm.size, dtype=torch.float64, device=fm.theta.device)
    for start, e in _unit_vector_chunks(fm):
        tick(lambda: f"Hessian matrix: {start}/{fm.size} columns")
        h[start : start + len(e)] = hessian_vector_product(fm, batches, e).double()
    return 0.5 * (h + h.T)


def hessian_diagonal(fm: FlatModel, batches: Batches) -> torch.Tensor:
    """The exact Hessian diagonal, one Hessian-vector product per weight (tiny nets only)."""
    _require_dense(fm.size, "exact Hessian diagonal", "curvature: hutchinson (Rademacher estimate)")
    out = torch.empty(fm.size, dtype=torch.float64, device=fm.theta.device)
    for start, e in _unit_vector_chunks(fm):
        tick(lambda: f"Hessian diagonal: {start}/{fm.size} weights")
        hv = hessian_vector_product(fm, batches, e).double()
        out[start : start + len(e)] = hv[torch.arange(len(e)), torch.arange(start, start + len(e))]
    return out


def hutchinson_diagonal(
    fm: FlatModel, batches: Batches, samples: int, generator: torch.Generator, probes_at_once: int = 32
) -> torch.Tensor:
    """(1/S) Σ_s v_s ⊙ H v_s with Rademacher probes v_s drawn from ``generator``; unbiased for diag(H).

    Probes are drawn and multiplied ``probes_at_once`` at a time (vmapped Hessian-vector products)."""
    total = torch.zeros(fm.size, dtype=torch.float64, device=fm.theta.device)
    for start in range(0, samples, probes_at_once):
        tick(lambda: f"Hutchinson diagonal: {start}/{samples} probes")
        count = min(probes_at_once, samples - start)
        v = torch.randint(0, 2, (count, fm.size), generator=generator).to(fm.theta) * 2 - 1
        total += (v * hessian_vector_product(fm, batches, v)).double().sum(0)
    return total / samples


def curvature_diagonal(
    kind: str, fm: FlatModel, batches: Batches, generator: torch.Generator, samples: int = 1
) -> torch.Tensor:
    """The diagonal curvature named ``kind`` (one of ``DIAGONALS``); ``samples`` is the number of label
    draws per example (mc_fisher) or of Rademacher probes (hutchinson)."""
    if kind == "ggn":
        return ggn_diagonal(fm, batches)
    if kind == "empirical_fisher":
        return empirical_fisher_diagonal(fm, batches)
    if kind == "mc_fisher":
        return mc_fisher_diagonal(fm, batches, generator, samples)
    if kind == "hessian":
        return hessian_diagonal(fm, batches)
    if kind == "hutchinson":
        return hutchinson_diagonal(fm, batches, samples, generator)
    raise ConfigError(f"curvature={kind!r} is unknown (allowed: {', '.join(DIAGONALS)})")


# --------------------------------------------------------------------------------------------------
# Layer-wise input second moments (L-OBS)
# --------------------------------------------------------------------------------------------------
def _layer_rows(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The input rows a layer multiplies by its flattened weight: features (linear) or unfolded patches."""
    if isinstance(module, nn.Linear):
        return x.reshape(-1, module.in_features)
    patches = F.unfold(x, module.kernel_size, dilation=module.dilation, padding=module.padding, stride=module.stride)
    return patches.transpose(1, 2).reshape(-1, patches.shape[1])


def layer_input_moments(
    model: nn.Module, names: list[str], batches: Batches, *, at_init: bool = False
) -> dict[str, torch.Tensor]:
    """Ψ_l = (1/n_l) Σ x xᵀ (float64) over the inputs x of each layer whose weight is named in ``names``.

    For a conv layer each unfolded patch is one x (n_l = examples × output positions), ordered like the
    layer's weight flattened per output channel. Collected with forward pre-hooks on a private copy.
    """
    net = copy.deepcopy(model)
    net.train(at_init)
    if at_init:
        replace_all_batch_norm_modules_(net)
    layers = weight_modules(net)
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    hooks = []
    for name in names:
        if name not in layers:
            raise ConfigError(f"layer input moments: {name} is not the weight of a Linear or Conv2d layer")
        _check_unfoldable(name, layers[name])

        def record(module, inputs, name=name):
            rows = _layer_rows(module, inputs[0].detach()).double()
            sums[name] = sums.get(name, 0) + rows.T @ rows
            counts[name] = counts.get(name, 0) + rows.shape[0]

        hooks.append(layers[name].register_forward_pre_hook(record))
    try:
        with torch.no_grad():
            for x, _ in batches:
                dtype = next(net.parameters()).dtype
                net(x.to(dtype) if x.is_floating_point() else x)
    finally:
        for h in hooks:
            h.remove()
    if not counts:
        raise ConfigError("layer input moments need scoring data, but the scoring batches are empty")
    return {name: sums[name] / counts[name] for name in names}
