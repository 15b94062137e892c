"""Independent references for the curvature and OBS oracles: written with plain autograd and torch.func,
never with prunelab's own code, so that an error in prunelab cannot cancel out in a comparison."""

import copy
import hashlib

import torch
import torch.nn.functional as F
from torch.func import functional_call, jacrev, vmap

D = torch.float64


def reference_loss(model, names, x, y, loss="ce"):
    """Mean loss over all examples as a function of the flat weights, written without prunelab."""
    params = {n: p.detach() for n, p in model.named_parameters()}
    shapes = [params[n].shape for n in names]
    sizes = [params[n].numel() for n in names]

    def f(flat):
        weights = {n: t.view(s) for n, t, s in zip(names, flat.split(sizes), shapes)}
        z = functional_call(model, {**params, **weights}, (x,))
        if loss == "ce":
            return F.cross_entropy(z, y)
        return 0.5 * (z - F.one_hot(y, z.shape[-1])).pow(2).sum(-1).mean()

    return f, torch.cat([params[n].flatten() for n in names])


def reference_ggn(model, names, x, loss="ce"):
    """(1/n) Σ_i J_iᵀΛ_iJ_i from explicit per-example Jacobians (vmap over jacrev)."""
    params = {n: p.detach() for n, p in model.named_parameters()}
    weights = {n: params[n] for n in names}

    def logits(w, xi):
        return functional_call(model, {**params, **w}, (xi.unsqueeze(0),)).squeeze(0)

    jac = vmap(jacrev(logits), in_dims=(None, 0))(weights, x)
    j = torch.cat([jac[n].flatten(2) for n in names], dim=2)  # (n, C, P)
    z = functional_call(model, params, (x,))
    if loss == "ce":
        p = torch.softmax(z, -1)
        lam = torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)
    else:
        lam = torch.eye(z.shape[-1], dtype=D).expand(len(x), -1, -1)
    return torch.einsum("ncp,ncd,ndq->pq", j, lam, j) / len(x)


def loop_gradients(model, names, x, y):
    """Per-example gradients with ordinary autograd, one example at a time."""
    work = copy.deepcopy(model).eval()
    params = dict(work.named_parameters())
    rows = []
    for i in range(len(y)):
        work.zero_grad()
        F.cross_entropy(work(x[i : i + 1]), y[i : i + 1]).backward()
        rows.append(torch.cat([params[n].grad.flatten() for n in names]))
    return torch.stack(rows)


def state_hash(model):
    digest = hashlib.sha256()
    for k, v in model.state_dict().items():
        digest.update(k.encode())
        digest.update(v.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def kkt_argmin(h, theta, zeroed):
    """argmin_θ' ½(θ'−θ)ᵀH(θ'−θ) subject to θ'_q = 0 for q in ``zeroed``, from the KKT system."""
    n, q = len(theta), list(zeroed)
    e = torch.zeros(len(q), n, dtype=D)
    e[range(len(q)), q] = 1
    system = torch.cat([torch.cat([h, e.T], 1), torch.cat([e, torch.zeros(len(q), len(q), dtype=D)], 1)])
    rhs = torch.cat([h @ theta, torch.zeros(len(q), dtype=D)])
    return torch.linalg.solve(system, rhs)[:n]


def quadratic_increase(h, delta):
    return 0.5 * delta @ h @ delta


def brute_force_greedy(h, theta, group, quota, removed=()):
    """Greedy removal where each candidate's cost is the exact joint increase of the constrained problem;
    ``removed`` are entries already pruned (held at 0 throughout)."""
    removed, quota = list(removed), list(quota)
    for _ in range(sum(quota)):
        best = None
        for q in range(len(theta)):
            if q in removed or quota[group[q]] == 0:
                continue
            cost = float(quadratic_increase(h, kkt_argmin(h, theta, removed + [q]) - theta))
            if best is None or cost < best[0] - 1e-12:
                best = (cost, q)
        removed.append(best[1])
        quota[group[best[1]]] -= 1
    return removed, kkt_argmin(h, theta, removed)
