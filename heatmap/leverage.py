"""Leverage distributions: discrete tiers, truncated ``scipy.stats`` families, mixtures, fitting and presets.

A heatmap needs to know, for every unit of new open interest, how far below (long) or above (short) the entry its
liquidation price lies. For a fresh isolated linear position that distance is set by the margin fraction
``u = 1/L`` (``LP/E ≈ (1 − u)/(1 − m)`` for a long with maintenance rate ``m``), so a leverage assumption is a
probability distribution of ``L`` on ``[min_leverage, max_leverage]`` — or, equivalently, of ``u`` on
``[1/max_leverage, 1/min_leverage]``.

:class:`Leverage` is one frozen value type with three kinds:

* ``tiers`` — a few leverage values with probabilities (``{10: .35, 25: .25, 50: .25, 100: .15}``), the
  assumption of the common commercial liquidation maps;
* ``continuous`` — a ``scipy.stats`` continuous family (lognormal, shifted gamma, or any frozen distribution)
  **truncated** to ``[min_leverage, max_leverage]`` and renormalised: ``F_T(L) = (F(L) − F(a)) / (F(b) − F(a))``;
* ``mixture`` — a weighted mixture of the above (e.g. a continuous body plus an atom at the venue maximum).

All evaluation methods are vectorised numpy/scipy calls. Weights are *notional* shares when the distribution is
used in the engine: a leverage distribution says which fraction of new open interest [base] carries each leverage.

Examples
--------
>>> lev = Leverage.lognormal(median=12, sigma=0.9)
>>> round(float(lev.cdf(12.0)), 2)   # the median of the untruncated law, nearly unchanged by truncation
0.5
>>> nodes, weights = Leverage.tiers({10: 0.35, 25: 0.25, 50: 0.25, 100: 0.15}).discretize(8)
>>> nodes.tolist(), weights.tolist()
([10.0, 25.0, 50.0, 100.0], [0.35, 0.25, 0.25, 0.15])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from scipy import integrate, optimize, special, stats

__all__ = ["Leverage", "LEVERAGE_PRESETS"]

Kind = Literal["tiers", "continuous", "mixture"]
Family = Literal["lognormal", "gamma"]

_SUM_TOL = 1e-6  # tolerance on "weights sum to 1"
_MIN_MASS = 1e-12  # smallest admissible probability mass inside the truncation window


def _fmt(x: float) -> str:
    return f"{float(x):.6g}"


def _check_bound(name: str, value: Any, *, lower: float = 1.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number >= {lower}, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < lower:
        raise ValueError(f"{name} must be finite and >= {lower}, got {value!r}")
    return v


def _check_weights(name: str, weights: Sequence[float], *, normalize: bool) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or w.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of probabilities, got {weights!r}")
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        bad = w[~(np.isfinite(w) & (w > 0))]
        raise ValueError(f"{name} must be finite and > 0, got {bad.tolist()} in {w.tolist()}")
    total = float(w.sum())
    if normalize:
        return w / total
    if abs(total - 1.0) > _SUM_TOL:
        raise ValueError(
            f"{name} must sum to 1 (within {_SUM_TOL:g}), got sum {total:.10g}; pass normalize=True to rescale"
        )
    return w / total


def _as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise ValueError(f"rng must be a numpy Generator, an int seed or None, got {rng!r}")


def _scipy_dist(name: str) -> stats.rv_continuous:
    dist = getattr(stats, name, None)
    if not isinstance(dist, stats.rv_continuous):
        raise ValueError(f"dist must name a continuous scipy.stats distribution, got {name!r}")
    return dist


@dataclass(frozen=True, repr=False)
class Leverage:
    """Distribution of position leverage ``L`` on ``[min_leverage, max_leverage]`` (dimensionless, ``L >= 1``).

    Build it with a constructor — :meth:`tiers`, :meth:`lognormal`, :meth:`gamma`, :meth:`from_scipy`,
    :meth:`mixture`, :meth:`fit` or :meth:`preset` — rather than from the raw fields below, which are the
    serialised description (see :meth:`to_dict`).

    Continuous families are **truncated** to ``[min_leverage, max_leverage]`` and renormalised (conditioning on
    the window): no mass piles up at the bounds. :meth:`truncate` with ``excess="cap"`` is the explicit
    alternative that moves the excess mass onto the bound instead.

    Parameters
    ----------
    kind : {"tiers", "continuous", "mixture"}
        Which representation the remaining fields describe.
    min_leverage, max_leverage : float
        Support bounds [dimensionless]. Tiers: ``1`` and the largest tier.
    nodes : tuple of float
        Tier leverages (``kind="tiers"``), strictly increasing.
    weights : tuple of float
        Tier probabilities or mixture weights, summing to 1.
    dist : str
        ``scipy.stats`` distribution name (``kind="continuous"``).
    args : tuple of float
        Positional shape arguments of ``dist``.
    kwds : tuple of (str, float)
        Keyword arguments of ``dist`` (``loc``, ``scale``, named shapes).
    parts : tuple of Leverage
        Mixture components (``kind="mixture"``).
    family : str
        Label of the constructor (``"lognormal"``, ``"gamma"``, ``"tiers"``, ``"mixture"`` or the scipy name).
    params : tuple of (str, float)
        The constructor's own parameters (e.g. ``median``, ``sigma``), for display and serialisation.
    name : str or None
        Preset name when built by :meth:`preset`.

    Examples
    --------
    >>> lev = Leverage.tiers({10: 0.5, 100: 0.5})
    >>> lev.cdf([5, 10, 50, 100]).tolist()
    [0.0, 0.5, 0.5, 1.0]
    >>> lev.margin_fraction_cdf([0.01, 0.05, 0.1]).tolist()   # P(1/L <= u)
    [0.5, 0.5, 1.0]
    """

    kind: Kind
    min_leverage: float = 1.0
    max_leverage: float = 125.0
    nodes: tuple[float, ...] = ()
    weights: tuple[float, ...] = ()
    dist: str = ""
    args: tuple[float, ...] = ()
    kwds: tuple[tuple[str, float], ...] = ()
    parts: tuple[Leverage, ...] = ()
    family: str = ""
    params: tuple[tuple[str, float], ...] = ()
    name: str | None = None
    _frozen: Any = field(default=None, init=False, compare=False, repr=False)
    # (F(a), F(b), S(a), S(b), mass) of the untruncated law and which tail the window lies in
    _mass: tuple[float, float, float, float, float] = field(
        default=(0.0, 1.0, 1.0, 0.0, 1.0), init=False, compare=False, repr=False
    )
    _tail: str = field(default="both", init=False, compare=False, repr=False)
    _lognormal: tuple[float, float] | None = field(default=None, init=False, compare=False, repr=False)

    # ------------------------------------------------------------------ validation
    def __post_init__(self) -> None:
        if self.kind not in ("tiers", "continuous", "mixture"):
            raise ValueError(f"kind must be one of 'tiers', 'continuous', 'mixture', got {self.kind!r}")
        a = _check_bound("min_leverage", self.min_leverage)
        b = _check_bound("max_leverage", self.max_leverage)
        if b < a:
            raise ValueError(f"max_leverage ({b:g}) must be >= min_leverage ({a:g})")
        object.__setattr__(self, "min_leverage", a)
        object.__setattr__(self, "max_leverage", b)
        if self.name is not None and not isinstance(self.name, str):
            raise ValueError(f"name must be a string or None, got {self.name!r}")
        if self.kind == "tiers":
            self._init_tiers()
        elif self.kind == "continuous":
            self._init_continuous()
        else:
            self._init_mixture()

    def _init_tiers(self) -> None:
        nodes = np.asarray(self.nodes, dtype=float)
        if nodes.ndim != 1 or nodes.size == 0:
            raise ValueError(f"nodes must be a non-empty sequence of leverages, got {self.nodes!r}")
        if (
            not np.all(np.isfinite(nodes))
            or np.any(nodes < self.min_leverage)
            or np.any(nodes > self.max_leverage)
        ):
            raise ValueError(
                f"tier leverages must lie in [min_leverage, max_leverage] = [{self.min_leverage:g}, "
                f"{self.max_leverage:g}], got {nodes.tolist()}"
            )
        if np.any(np.diff(nodes) <= 0):
            raise ValueError(f"tier leverages must be strictly increasing and distinct, got {nodes.tolist()}")
        w = _check_weights("weights", self.weights, normalize=False)
        if w.size != nodes.size:
            raise ValueError(f"weights has {w.size} entries but nodes has {nodes.size}")
        object.__setattr__(self, "nodes", tuple(float(x) for x in nodes))
        object.__setattr__(self, "weights", tuple(float(x) for x in w))
        object.__setattr__(self, "family", "tiers")

    def _init_continuous(self) -> None:
        dist = _scipy_dist(self.dist)
        kwds = dict(self.kwds)
        try:
            frozen = dist(*self.args, **kwds)
            lo, hi = frozen.support()
        except (TypeError, ValueError) as exc:
            raise ValueError(f"cannot build scipy.stats.{self.dist}{self.args} with {kwds}: {exc}") from exc
        if not (np.isfinite(lo) or lo == -np.inf) or np.isnan(hi):
            raise ValueError(f"scipy.stats.{self.dist}{self.args} {kwds} has invalid parameters")
        a, b = self.min_leverage, self.max_leverage
        if not b > a:
            raise ValueError(
                f"a continuous leverage needs max_leverage > min_leverage, got [{a:g}, {b:g}]; use tiers for a point"
            )
        object.__setattr__(self, "_frozen", frozen)
        if self.dist == "lognorm" and kwds.get("loc", 0.0) == 0.0 and len(self.args) + ("s" in kwds) == 1:
            # fast path (~5x): log L ~ N(log scale, s^2) evaluated with the normal CDF directly
            sigma = float(self.args[0]) if self.args else float(kwds["s"])
            object.__setattr__(self, "_lognormal", (math.log(float(kwds.get("scale", 1.0))), sigma))
        fa, fb = (float(self._raw(np.asarray(v), upper=False)) for v in (a, b))
        sa, sb = (float(self._raw(np.asarray(v), upper=True)) for v in (a, b))
        # evaluate in the tail that avoids cancellation when the window sits far out in one tail
        tail = "lower" if fb <= 0.5 else ("upper" if sa <= 0.5 else "both")
        mass = fb - fa if tail == "lower" else (sa - sb if tail == "upper" else 1.0 - fa - sb)
        if not np.isfinite(mass) or mass < _MIN_MASS:
            raise ValueError(
                f"scipy.stats.{self.dist}{self.args} {kwds} puts no mass (P = {mass:.3g}) on "
                f"[min_leverage, max_leverage] = [{a:g}, {b:g}]"
            )
        object.__setattr__(self, "args", tuple(float(x) for x in self.args))
        object.__setattr__(self, "kwds", tuple((str(k), float(v)) for k, v in self.kwds))
        object.__setattr__(self, "_mass", (fa, fb, sa, sb, mass))
        object.__setattr__(self, "_tail", tail)
        if not self.family:
            object.__setattr__(self, "family", self.dist)

    def _init_mixture(self) -> None:
        if len(self.parts) == 0 or not all(isinstance(p, Leverage) for p in self.parts):
            raise ValueError(f"parts must be a non-empty sequence of Leverage, got {self.parts!r}")
        w = _check_weights("weights", self.weights, normalize=False)
        if w.size != len(self.parts):
            raise ValueError(f"weights has {w.size} entries but parts has {len(self.parts)}")
        object.__setattr__(self, "parts", tuple(self.parts))
        object.__setattr__(self, "weights", tuple(float(x) for x in w))
        object.__setattr__(self, "min_leverage", min(p.min_leverage for p in self.parts))
        object.__setattr__(self, "max_leverage", max(p.max_leverage for p in self.parts))
        object.__setattr__(self, "family", "mixture")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def tiers(cls, tiers: Mapping[float, float], *, normalize: bool = False) -> Leverage:
        """Discrete leverage tiers ``{leverage: probability}``.

        Parameters
        ----------
        tiers : mapping of float to float
            Leverage [dimensionless, >= 1] -> probability (> 0). Probabilities must sum to 1.
        normalize : bool, default False
            Rescale probabilities that do not sum to 1 (explicit opt-in).

        Returns
        -------
        Leverage
            ``is_discrete`` is True; ``min_leverage`` is 1 and ``max_leverage`` the largest tier.

        Examples
        --------
        >>> Leverage.tiers({10: 0.35, 25: 0.25, 50: 0.25, 100: 0.15}).mean()
        37.25
        """
        if not isinstance(tiers, Mapping) or len(tiers) == 0:
            raise ValueError(f"tiers must be a non-empty mapping leverage -> probability, got {tiers!r}")
        items = sorted((float(k), v) for k, v in tiers.items())
        nodes = tuple(k for k, _ in items)
        if not all(math.isfinite(k) and k >= 1.0 for k in nodes):
            raise ValueError(
                f"tier leverages must lie in [min_leverage, max_leverage] = [1, inf), got {list(nodes)}"
            )
        w = _check_weights("tiers probabilities", [v for _, v in items], normalize=normalize)
        return cls(kind="tiers", nodes=nodes, weights=tuple(w), min_leverage=1.0, max_leverage=max(nodes))

    @classmethod
    def lognormal(
        cls, median: float, sigma: float, *, max_leverage: float = 125.0, min_leverage: float = 1.0
    ) -> Leverage:
        """Lognormal leverage, ``log L ~ Normal(log median, sigma²)``, truncated to ``[min_leverage, max_leverage]``.

        Parameters
        ----------
        median : float
            Median of the untruncated law [dimensionless, > 0].
        sigma : float
            Standard deviation of ``log L`` (> 0).
        max_leverage, min_leverage : float
            Truncation window; the law is renormalised to it.

        Examples
        --------
        >>> lev = Leverage.lognormal(median=12, sigma=0.9)
        >>> round(lev.mean(), 2)
        17.32
        """
        m = _check_bound("median", median, lower=0.0)
        s = _check_bound("sigma", sigma, lower=0.0)
        if m <= 0 or s <= 0:
            raise ValueError(f"median and sigma must be > 0, got median={median!r}, sigma={sigma!r}")
        return cls(
            kind="continuous",
            dist="lognorm",
            args=(s,),
            kwds=(("scale", m),),
            min_leverage=min_leverage,
            max_leverage=max_leverage,
            family="lognormal",
            params=(("median", m), ("sigma", s)),
        )

    @classmethod
    def gamma(
        cls, mean: float, shape: float, *, max_leverage: float = 125.0, min_leverage: float = 1.0
    ) -> Leverage:
        """Shifted gamma leverage ``L = 1 + X``, ``X ~ Gamma(shape, scale=(mean − 1)/shape)``, truncated.

        The shift by 1 makes ``L >= 1`` by construction; ``mean`` is the mean of the untruncated ``L``.

        Parameters
        ----------
        mean : float
            Mean of the untruncated law [dimensionless, > 1].
        shape : float
            Gamma shape ``k`` (> 0); small ``k`` (< 1) gives a heavy mass near 1x and a long right tail.
        max_leverage, min_leverage : float
            Truncation window; the law is renormalised to it.

        Examples
        --------
        >>> lev = Leverage.gamma(mean=15, shape=2.0, max_leverage=1000)
        >>> round(lev.mean(), 3)
        15.0
        """
        mu = _check_bound("mean", mean, lower=1.0)
        k = _check_bound("shape", shape, lower=0.0)
        if mu <= 1 or k <= 0:
            raise ValueError(f"gamma needs mean > 1 and shape > 0, got mean={mean!r}, shape={shape!r}")
        return cls(
            kind="continuous",
            dist="gamma",
            args=(k,),
            kwds=(("loc", 1.0), ("scale", (mu - 1.0) / k)),
            min_leverage=min_leverage,
            max_leverage=max_leverage,
            family="gamma",
            params=(("mean", mu), ("shape", k)),
        )

    @classmethod
    def from_scipy(
        cls, frozen_dist: Any, *, max_leverage: float = 125.0, min_leverage: float = 1.0
    ) -> Leverage:
        """Any frozen continuous ``scipy.stats`` distribution of ``L``, truncated to the window.

        Parameters
        ----------
        frozen_dist : scipy.stats frozen continuous distribution
            E.g. ``scipy.stats.weibull_min(1.5, loc=1, scale=10)``. Only built-in ``scipy.stats`` families
            (looked up by name) are accepted, so that the distribution serialises.
        max_leverage, min_leverage : float
            Truncation window; the law is renormalised to it.

        Examples
        --------
        >>> from scipy import stats
        >>> lev = Leverage.from_scipy(stats.weibull_min(1.5, loc=1, scale=10))
        >>> lev.family
        'weibull_min'
        """
        dist = getattr(frozen_dist, "dist", None)
        if not isinstance(dist, stats.rv_continuous) or not hasattr(frozen_dist, "args"):
            raise ValueError(
                f"frozen_dist must be a frozen continuous scipy.stats distribution, got {frozen_dist!r}"
                " (use Leverage.tiers for discrete leverage)"
            )
        name = dist.name
        if not isinstance(getattr(stats, name, None), type(dist)):
            raise ValueError(
                f"frozen_dist must be a built-in scipy.stats family (serialisable), got {name!r}"
            )
        return cls(
            kind="continuous",
            dist=name,
            args=tuple(frozen_dist.args),
            kwds=tuple(sorted(frozen_dist.kwds.items())),
            min_leverage=min_leverage,
            max_leverage=max_leverage,
        )

    @classmethod
    def mixture(
        cls, parts: Sequence[Leverage], weights: Sequence[float], *, normalize: bool = False
    ) -> Leverage:
        """Weighted mixture ``Σ w_i · part_i``.

        Parameters
        ----------
        parts : sequence of Leverage
            Components (each keeps its own truncation window).
        weights : sequence of float
            Mixture weights (> 0, summing to 1 unless ``normalize=True``).
        normalize : bool, default False
            Rescale weights that do not sum to 1 (explicit opt-in).

        Examples
        --------
        >>> body = Leverage.lognormal(median=20, sigma=0.8)
        >>> lev = Leverage.mixture([body, Leverage.tiers({125: 1.0})], [0.79, 0.21])
        >>> round(float(lev.pmf(125.0)), 2)
        0.21
        """
        parts = tuple(parts)
        w = _check_weights("weights", weights, normalize=normalize)
        return cls(kind="mixture", parts=parts, weights=tuple(w))

    @classmethod
    def fit(
        cls,
        samples: Any,
        family: str = "lognormal",
        *,
        weights: Any = None,
        max_leverage: float = 125.0,
        min_leverage: float = 1.0,
    ) -> Leverage:
        """Maximum-likelihood fit of a truncated family to (optionally weighted) leverage samples.

        The likelihood is the *truncated* one, ``Σ w_i [log f(L_i) − log(F(b) − F(a))]``, so samples drawn from a
        truncated law recover the parameters of the untruncated family. Weights (e.g. position notional, for a
        notional-weighted leverage distribution) multiply each sample's log-likelihood; they are rescaled to sum
        to the number of samples (which does not change the maximiser). The negative log-likelihood is minimised
        with :func:`scipy.optimize.minimize` (Nelder–Mead then L-BFGS-B polish) from a moment-based start.

        Parameters
        ----------
        samples : array_like
            Leverages [dimensionless], all in ``[min_leverage, max_leverage]`` (otherwise ``ValueError``).
        family : str, default "lognormal"
            ``"lognormal"`` (fits ``median``, ``sigma``), ``"gamma"`` (shifted by 1; fits ``mean``, ``shape``),
            or the name of any continuous ``scipy.stats`` family (fits its shapes, ``loc`` and ``scale``).
        weights : array_like, optional
            Non-negative sample weights, same length as ``samples``.
        max_leverage, min_leverage : float
            Truncation window of the fitted law.

        Returns
        -------
        Leverage

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> x = Leverage.lognormal(median=10, sigma=0.7).sample(20_000, rng)
        >>> fitted = Leverage.fit(x, "lognormal")
        >>> p = dict(fitted.params)
        >>> round(p["median"]), round(p["sigma"], 1)
        (10, 0.7)
        """
        a = _check_bound("min_leverage", min_leverage)
        b = _check_bound("max_leverage", max_leverage)
        if not b > a:
            raise ValueError(f"max_leverage ({b:g}) must be > min_leverage ({a:g}) for a continuous fit")
        x = np.asarray(samples, dtype=float).ravel()
        if x.size < 2:
            raise ValueError(f"samples must hold at least 2 leverages, got {x.size}")
        bad = ~np.isfinite(x) | (x < a) | (x > b)
        if bad.any():
            raise ValueError(
                f"samples must be finite and in [min_leverage, max_leverage] = [{a:g}, {b:g}]; "
                f"{int(bad.sum())} of {x.size} are not (e.g. {x[bad][:5].tolist()})"
            )
        if weights is None:
            w = np.ones_like(x)
        else:
            w = np.asarray(weights, dtype=float).ravel()
            if w.shape != x.shape:
                raise ValueError(f"weights must have the same length as samples ({x.size}), got {w.size}")
            if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
                raise ValueError("weights must be finite, >= 0 and not all zero")
            w = w * (x.size / w.sum())
        build, theta0 = _fit_family(family, x, w, a, b)

        def nll(theta: np.ndarray) -> float:
            try:
                frozen = build(theta)
                mass = 1.0 - float(frozen.cdf(a)) - float(frozen.sf(b))
                if not mass > 0:
                    return 1e300
                ll = frozen.logpdf(x)
            except (ValueError, OverflowError, FloatingPointError):
                return 1e300
            if not np.all(np.isfinite(ll)):
                return 1e300
            return float(-(np.dot(w, ll) - w.sum() * math.log(mass)))

        with np.errstate(all="ignore"):
            res = optimize.minimize(
                nll,
                theta0,
                method="Nelder-Mead",
                options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 600 * len(theta0)},
            )
            res2 = optimize.minimize(nll, res.x, method="L-BFGS-B", options={"maxiter": 200})
        theta = res2.x if res2.fun <= res.fun else res.x
        if not np.isfinite(nll(theta)) or nll(theta) >= 1e300:
            raise RuntimeError(f"maximum-likelihood fit of {family!r} did not converge")
        return _fit_result(family, theta, build, a, b)

    @classmethod
    def preset(cls, name: str) -> Leverage:
        """A named, evidence-based leverage assumption (see :data:`LEVERAGE_PRESETS` and :meth:`presets`).

        Examples
        --------
        >>> Leverage.preset("coinglass").nodes
        (10.0, 25.0, 50.0, 100.0)
        """
        if name not in LEVERAGE_PRESETS:
            raise ValueError(f"unknown leverage preset {name!r}; available: {sorted(LEVERAGE_PRESETS)}")
        factory, _ = LEVERAGE_PRESETS[name]
        return replace(factory(), name=name)

    @staticmethod
    def presets() -> dict[str, str]:
        """Preset names with a one-line summary of their evidence.

        Examples
        --------
        >>> "hyperliquid-2025" in Leverage.presets()
        True
        """
        return {k: v[1] for k, v in LEVERAGE_PRESETS.items()}

    # ------------------------------------------------------------------ properties
    @property
    def is_discrete(self) -> bool:
        """True when all mass sits on finitely many leverages (tiers, or mixtures of tiers)."""
        if self.kind == "tiers":
            return True
        if self.kind == "mixture":
            return all(p.is_discrete for p in self.parts)
        return False

    # ------------------------------------------------------------------ distribution functions
    def cdf(self, leverage: Any) -> np.ndarray:
        """``P(L' <= L)`` [probability], vectorised over ``leverage`` [dimensionless]."""
        x = np.asarray(leverage, dtype=float)
        if self.kind == "tiers":
            cum = np.concatenate([[0.0], np.cumsum(self.weights)])
            cum[-1] = 1.0
            out = cum[np.searchsorted(np.asarray(self.nodes), x, side="right")]
        elif self.kind == "continuous":
            fa, _, sa, _, mass = self._mass
            xc = np.clip(x, self.min_leverage, self.max_leverage)
            if self._tail == "upper":
                out = np.clip((sa - self._raw(xc, upper=True)) / mass, 0.0, 1.0)
            else:
                out = np.clip((self._raw(xc, upper=False) - fa) / mass, 0.0, 1.0)
            out = np.where(x >= self.max_leverage, 1.0, np.where(x <= self.min_leverage, 0.0, out))
        else:
            out = np.asarray(sum(w * p.cdf(x) for w, p in zip(self.weights, self.parts, strict=True)))
        return np.where(np.isnan(x), np.nan, out)

    def sf(self, leverage: Any) -> np.ndarray:
        """``P(L' > L)`` [probability], computed from the upper tail for accuracy."""
        x = np.asarray(leverage, dtype=float)
        if self.kind == "continuous":
            _, fb, _, sb, mass = self._mass
            xc = np.clip(x, self.min_leverage, self.max_leverage)
            if self._tail == "lower":
                out = np.clip((fb - self._raw(xc, upper=False)) / mass, 0.0, 1.0)
            else:
                out = np.clip((self._raw(xc, upper=True) - sb) / mass, 0.0, 1.0)
            out = np.where(x >= self.max_leverage, 0.0, np.where(x <= self.min_leverage, 1.0, out))
            return np.where(np.isnan(x), np.nan, out)
        if self.kind == "mixture":
            return np.asarray(sum(w * p.sf(x) for w, p in zip(self.weights, self.parts, strict=True)))
        return 1.0 - self.cdf(x)

    def _raw(self, x: np.ndarray, *, upper: bool) -> np.ndarray:
        """Untruncated CDF (``upper=False``) or survival function of the continuous law."""
        if self._lognormal is not None:
            mu, sigma = self._lognormal
            z = (np.log(x) - mu) / sigma
            return np.asarray(special.ndtr(-z if upper else z))
        return np.asarray(self._frozen.sf(x) if upper else self._frozen.cdf(x))

    def pdf(self, leverage: Any) -> np.ndarray:
        """Density of the continuous part [1/leverage]; zero outside the window.

        Tiers have no density (``ValueError``: use :meth:`pmf`); in a mixture, discrete parts contribute
        zero density and their atoms are reported by :meth:`pmf`.
        """
        x = np.asarray(leverage, dtype=float)
        if self.is_discrete:
            raise ValueError(f"{self.family} leverage is discrete and has no density; use pmf()")
        if self.kind == "continuous":
            inside = (x >= self.min_leverage) & (x <= self.max_leverage)
            return np.where(inside, self._frozen.pdf(x) / self._mass[4], 0.0)
        return np.asarray(
            sum(w * p.pdf(x) for w, p in zip(self.weights, self.parts, strict=True) if not p.is_discrete)
        )

    def pmf(self, leverage: Any) -> np.ndarray:
        """Probability of exactly ``leverage`` (atoms of tiers; zero for continuous parts)."""
        x = np.asarray(leverage, dtype=float)
        if self.kind == "tiers":
            nodes = np.asarray(self.nodes)
            idx = np.clip(np.searchsorted(nodes, x), 0, nodes.size - 1)
            hit = np.isclose(nodes[idx], x, rtol=1e-12, atol=0.0)
            return np.where(hit, np.asarray(self.weights)[idx], 0.0)
        if self.kind == "continuous":
            return np.zeros_like(x)
        return np.asarray(sum(w * p.pmf(x) for w, p in zip(self.weights, self.parts, strict=True)))

    def margin_fraction_cdf(self, u: Any) -> np.ndarray:
        """``P(1/L <= u)`` for margin fraction ``u`` [fraction], vectorised; exact (steps for tiers).

        Equals ``P(L >= 1/u)``: ``sf(1/u)`` for continuous laws, ``sf(1/u) + pmf(1/u)`` for tiers. ``u <= 0``
        gives 0; ``u >= 1/min_leverage`` gives 1. Tier atoms are compared in ``u`` space (``1/L_i``), so
        ``u = 1/L_i`` includes the atom exactly.

        Examples
        --------
        >>> lev = Leverage.lognormal(median=12, sigma=0.9)
        >>> u = np.array([0.0, 1 / 12, 1.0])
        >>> lev.margin_fraction_cdf(u).round(2).tolist()
        [0.0, 0.5, 1.0]
        """
        u = np.asarray(u, dtype=float)
        if self.kind == "tiers":
            atoms = 1.0 / np.asarray(self.nodes)[::-1]  # increasing in u
            cum = np.concatenate([[0.0], np.cumsum(np.asarray(self.weights)[::-1])])
            cum[-1] = 1.0
            out = cum[np.searchsorted(atoms, u, side="right")]
        elif self.kind == "continuous":
            pos = u > 0
            lev = np.divide(1.0, u, out=np.full(u.shape, np.inf), where=pos)
            out = np.where(pos, self.sf(lev), 0.0)
        else:
            out = np.asarray(
                sum(w * p.margin_fraction_cdf(u) for w, p in zip(self.weights, self.parts, strict=True))
            )
        return np.where(np.isnan(u), np.nan, out)

    def quantile(self, q: Any) -> np.ndarray:
        """Generalised inverse ``inf{L : cdf(L) >= q}`` [dimensionless], vectorised over ``q`` in [0, 1].

        Examples
        --------
        >>> lev = Leverage.lognormal(median=12, sigma=0.9)
        >>> float(np.round(lev.cdf(lev.quantile(0.8)), 12))
        0.8
        """
        q = np.asarray(q, dtype=float)
        if np.any(~np.isfinite(q) | (q < 0) | (q > 1)):
            raise ValueError(
                f"q must be probabilities in [0, 1], got {q[~((q >= 0) & (q <= 1))][:5].tolist()}"
            )
        if self.kind == "tiers":
            cum = np.cumsum(self.weights)
            cum[-1] = 1.0
            idx = np.searchsorted(cum, q - 1e-13, side="left")
            return np.asarray(self.nodes)[np.clip(idx, 0, len(self.nodes) - 1)]
        if self.kind == "continuous":
            fa, _, sa, sb, mass = self._mass
            with np.errstate(all="ignore"):
                if self._tail == "lower":
                    out = self._frozen.ppf(fa + q * mass)
                elif self._tail == "upper":
                    out = self._frozen.isf(sa - q * mass)
                else:
                    lower = self._frozen.ppf(fa + q * mass)
                    upper = self._frozen.isf(sb + (1.0 - q) * mass)
                    out = np.where(q <= 0.5, lower, upper)
            return np.clip(out, self.min_leverage, self.max_leverage)
        return self._bisect_quantile(q)

    def _bisect_quantile(self, q: np.ndarray) -> np.ndarray:
        """Vectorised bisection in log-leverage for mixtures (exact at tier atoms)."""
        lo = np.full(q.shape, math.log(self.min_leverage))
        hi = np.full(q.shape, math.log(self.max_leverage))
        for _ in range(64):
            mid = 0.5 * (lo + hi)
            ok = self.cdf(np.exp(mid)) >= q
            hi = np.where(ok, mid, hi)
            lo = np.where(ok, lo, mid)
        out = np.exp(hi)
        atoms = self._atoms()
        if atoms.size:
            j = np.clip(np.searchsorted(atoms, out), 0, atoms.size - 1)
            for k in (j, np.clip(j - 1, 0, atoms.size - 1)):
                near = np.isclose(atoms[k], out, rtol=1e-9, atol=0.0)
                out = np.where(near, atoms[k], out)
        low = min(float(p.quantile(0.0)) for p in self.parts)  # lower end of the support
        out = np.where(q <= 0, low, out)
        return np.clip(out, self.min_leverage, self.max_leverage)

    def _atoms(self) -> np.ndarray:
        if self.kind == "tiers":
            return np.asarray(self.nodes)
        if self.kind == "mixture":
            found = [p._atoms() for p in self.parts]
            return np.unique(np.concatenate(found)) if found else np.empty(0)
        return np.empty(0)

    def mean(self, *, of: Literal["leverage", "margin_fraction"] = "leverage") -> float:
        """Mean leverage ``E[L]`` [dimensionless], or ``E[1/L]`` [fraction] with ``of="margin_fraction"``.

        ``1 / mean(of="margin_fraction")`` is the aggregate (notional-weighted harmonic) leverage: total notional
        over total margin.

        Examples
        --------
        >>> round(Leverage.tiers({10: 0.5, 50: 0.5}).mean(of="margin_fraction"), 12)
        0.06
        """
        if of not in ("leverage", "margin_fraction"):
            raise ValueError(f"of must be 'leverage' or 'margin_fraction', got {of!r}")
        g: Callable[[Any], Any] = (lambda z: z) if of == "leverage" else (lambda z: 1.0 / z)
        if self.kind == "tiers":
            return float(np.dot(self.weights, g(np.asarray(self.nodes))))
        if self.kind == "mixture":
            return float(sum(w * p.mean(of=of) for w, p in zip(self.weights, self.parts, strict=True)))
        frozen, mass = self._frozen, self._mass[4]
        # integrate piecewise between quantiles so that wide windows and narrow bodies are both resolved
        cuts = np.unique(
            self.quantile(
                np.array(
                    [
                        0.0,
                        1e-4,
                        0.01,
                        0.1,
                        0.3,
                        0.5,
                        0.7,
                        0.9,
                        0.99,
                        0.9999,
                        1 - 1e-7,
                        1 - 1e-10,
                        1 - 1e-13,
                        1.0,
                    ]
                )
            )
        )
        val = sum(
            integrate.quad(lambda z: g(z) * frozen.pdf(z), lo, hi, limit=200)[0]
            for lo, hi in zip(cuts[:-1], cuts[1:], strict=True)
        )
        return float(val / mass)

    # ------------------------------------------------------------------ discretisation, sampling, truncation
    def discretize(
        self, n: int = 32, *, method: Literal["quantile", "margin-mean"] = "quantile"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Finite leverage nodes and weights approximating the distribution.

        Continuous laws are cut into ``n`` equal-probability bins. ``method="quantile"`` puts each node at the
        bin's probability midpoint (``quantile((i + 1/2)/n)``); ``method="margin-mean"`` puts it at
        ``1/E[1/L | bin]`` (adaptive quadrature per bin), which keeps the mean margin fraction — hence
        the mean liquidation distance — exact. Both converge to the law as ``n`` grows. Tiers return their tiers
        (``n`` ignored); mixtures discretise each continuous part with ``n`` nodes and merge equal nodes.

        Returns
        -------
        nodes : ndarray
            Increasing leverages [dimensionless].
        weights : ndarray
            Probabilities summing to 1.

        Examples
        --------
        >>> nodes, w = Leverage.lognormal(median=12, sigma=0.9).discretize(4)
        >>> len(nodes), float(w.sum())
        (4, 1.0)
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        if method not in ("quantile", "margin-mean"):
            raise ValueError(f"method must be 'quantile' or 'margin-mean', got {method!r}")
        if self.kind == "tiers":
            return np.asarray(self.nodes), np.asarray(self.weights)
        if self.kind == "continuous":
            if method == "quantile":
                nodes = self.quantile((np.arange(n) + 0.5) / n)
            else:
                edges = self.quantile(np.arange(n + 1) / n)
                frozen, mass = self._frozen, self._mass[4]
                eu = np.array(
                    [
                        integrate.quad(lambda z: frozen.pdf(z) / z, lo, hi, limit=100)[0]
                        for lo, hi in zip(edges[:-1], edges[1:], strict=True)
                    ]
                )
                nodes = 1.0 / (eu * n / mass)
            return np.asarray(nodes, dtype=float), np.full(n, 1.0 / n)
        all_n, all_w = [], []
        for w, part in zip(self.weights, self.parts, strict=True):
            pn, pw = part.discretize(n, method=method)
            all_n.append(pn)
            all_w.append(w * pw)
        nodes_all, inverse = np.unique(np.concatenate(all_n), return_inverse=True)
        weights_all = np.bincount(inverse, weights=np.concatenate(all_w))
        return nodes_all, weights_all / weights_all.sum()

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """``n`` independent leverages [dimensionless] (inverse-transform sampling for continuous laws).

        Examples
        --------
        >>> x = Leverage.tiers({10: 0.5, 100: 0.5}).sample(1000, rng=1)
        >>> sorted(set(x.tolist()))
        [10.0, 100.0]
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        gen = _as_rng(rng)
        if self.kind == "tiers":
            return gen.choice(np.asarray(self.nodes), size=n, p=np.asarray(self.weights))
        if self.kind == "continuous":
            return self.quantile(gen.random(n))
        labels = gen.choice(len(self.parts), size=n, p=np.asarray(self.weights))
        out = np.empty(n)
        for i, part in enumerate(self.parts):
            mask = labels == i
            out[mask] = part.sample(int(mask.sum()), gen)
        return out

    def truncate(
        self,
        max_leverage: float | None = None,
        *,
        min_leverage: float | None = None,
        excess: Literal["renormalize", "cap"] = "renormalize",
    ) -> Leverage:
        """The law restricted to ``[min_leverage, max_leverage]`` (e.g. a margin bracket's maximum leverage).

        Parameters
        ----------
        max_leverage, min_leverage : float, optional
            New bounds; ``None`` keeps the current one. Bounds wider than the current window change nothing.
        excess : {"renormalize", "cap"}, default "renormalize"
            ``"renormalize"`` conditions on the window (mass outside is dropped and the rest rescaled), the
            same truncation the continuous constructors use. ``"cap"`` moves the mass outside onto the nearest
            bound (traders who wanted more leverage than allowed take the maximum), which adds atoms.

        Returns
        -------
        Leverage
            A new object (``name`` dropped: it is no longer the named preset).

        Examples
        --------
        >>> Leverage.tiers({10: 0.5, 100: 0.5}).truncate(50).nodes
        (10.0,)
        >>> Leverage.tiers({10: 0.5, 100: 0.5}).truncate(50, excess="cap").nodes
        (10.0, 50.0)
        """
        if excess not in ("renormalize", "cap"):
            raise ValueError(f"excess must be 'renormalize' or 'cap', got {excess!r}")
        lo = self.min_leverage if min_leverage is None else _check_bound("min_leverage", min_leverage)
        hi = self.max_leverage if max_leverage is None else _check_bound("max_leverage", max_leverage)
        lo, hi = max(lo, self.min_leverage), min(hi, self.max_leverage)
        if hi < lo:
            raise ValueError(
                f"truncation window [{lo:g}, {hi:g}] is empty for a law on "
                f"[{self.min_leverage:g}, {self.max_leverage:g}]"
            )
        if lo == self.min_leverage and hi == self.max_leverage:
            return replace(self, name=None)
        if self.kind == "tiers":
            nodes, w = np.asarray(self.nodes), np.asarray(self.weights)
            if excess == "cap":
                capped = np.clip(nodes, lo, hi)
                uniq, inv = np.unique(capped, return_inverse=True)
                merged = np.bincount(inv, weights=w)
                return Leverage(
                    kind="tiers",
                    nodes=tuple(uniq),
                    weights=tuple(merged / merged.sum()),
                    max_leverage=float(uniq.max()),
                )
            keep = (nodes >= lo) & (nodes <= hi)
            if not keep.any():
                raise ValueError(
                    f"no tier lies in [{lo:g}, {hi:g}] (tiers {list(self.nodes)}); use excess='cap'"
                )
            return Leverage(
                kind="tiers",
                nodes=tuple(nodes[keep]),
                weights=tuple(w[keep] / w[keep].sum()),
                max_leverage=float(nodes[keep].max()),
            )
        if self.kind == "mixture":
            if excess == "cap":
                parts = [p.truncate(hi, min_leverage=lo, excess="cap") for p in self.parts]
                return Leverage(kind="mixture", parts=tuple(parts), weights=self.weights)
            masses = np.array([float(p.cdf(hi) - p.cdf(lo) + p.pmf(lo)) for p in self.parts])
            keep = masses * np.asarray(self.weights) > _MIN_MASS
            if not keep.any():
                raise ValueError(f"the mixture has no mass in [{lo:g}, {hi:g}]")
            parts = [p.truncate(hi, min_leverage=lo) for p, k in zip(self.parts, keep, strict=True) if k]
            w = (masses * np.asarray(self.weights))[keep]
            if len(parts) == 1:
                return parts[0]
            return Leverage(kind="mixture", parts=tuple(parts), weights=tuple(w / w.sum()))
        if hi == lo:
            if excess != "cap":
                raise ValueError(f"a continuous law truncated to the single point {lo:g} is degenerate")
            return Leverage.tiers({lo: 1.0})
        inner = replace(self, min_leverage=lo, max_leverage=hi, name=None)
        if excess == "renormalize":
            return inner
        below, above = float(self.cdf(lo)), float(self.sf(hi))
        comps: list[Leverage] = [inner]
        ws = [1.0 - below - above]
        if below > _MIN_MASS:
            comps.append(Leverage.tiers({lo: 1.0}))
            ws.append(below)
        if above > _MIN_MASS:
            comps.append(Leverage.tiers({hi: 1.0}))
            ws.append(above)
        if len(comps) == 1:
            return inner
        return Leverage.mixture(comps, ws, normalize=True)

    # ------------------------------------------------------------------ serialisation and display
    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable description; :meth:`from_dict` rebuilds an equal object.

        Examples
        --------
        >>> lev = Leverage.preset("binance-2019-retail")
        >>> Leverage.from_dict(lev.to_dict()) == lev
        True
        """
        d: dict[str, Any] = {"kind": self.kind}
        if self.name is not None:
            d["name"] = self.name
        if self.kind == "tiers":
            d.update(nodes=list(self.nodes), weights=list(self.weights))
        elif self.kind == "continuous":
            d.update(
                family=self.family,
                params=dict(self.params),
                dist=self.dist,
                args=list(self.args),
                kwds=dict(self.kwds),
                min_leverage=self.min_leverage,
                max_leverage=self.max_leverage,
            )
        else:
            d.update(parts=[p.to_dict() for p in self.parts], weights=list(self.weights))
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Leverage:
        """Rebuild a :class:`Leverage` from :meth:`to_dict` output (validated like any construction)."""
        if not isinstance(data, Mapping) or "kind" not in data:
            raise ValueError(f"leverage description must be a mapping with a 'kind', got {data!r}")
        kind = data["kind"]
        name = data.get("name")
        if kind == "tiers":
            nodes = tuple(float(x) for x in data["nodes"])
            return cls(
                kind="tiers", nodes=nodes, weights=tuple(data["weights"]), max_leverage=max(nodes), name=name
            )
        if kind == "continuous":
            return cls(
                kind="continuous",
                dist=data["dist"],
                args=tuple(data.get("args", ())),
                kwds=tuple(sorted(data.get("kwds", {}).items())),
                min_leverage=data.get("min_leverage", 1.0),
                max_leverage=data.get("max_leverage", 125.0),
                family=data.get("family", ""),
                params=tuple((str(k), float(v)) for k, v in data.get("params", {}).items()),
                name=name,
            )
        if kind == "mixture":
            parts = tuple(cls.from_dict(p) for p in data["parts"])
            return cls(kind="mixture", parts=parts, weights=tuple(data["weights"]), name=name)
        raise ValueError(f"kind must be 'tiers', 'continuous' or 'mixture', got {kind!r}")

    def _spec(self) -> str:
        if self.kind == "tiers":
            body = ", ".join(f"{_fmt(n)}: {_fmt(w)}" for n, w in zip(self.nodes, self.weights, strict=True))
            return f"Leverage.tiers({{{body}}})"
        if self.kind == "mixture":
            parts = ", ".join(p._spec() for p in self.parts)
            ws = ", ".join(_fmt(w) for w in self.weights)
            return f"Leverage.mixture([{parts}], [{ws}])"
        window = f"max_leverage={_fmt(self.max_leverage)}"
        if self.min_leverage != 1.0:
            window += f", min_leverage={_fmt(self.min_leverage)}"
        if self.family in ("lognormal", "gamma") and self.params:
            ps = ", ".join(f"{k}={_fmt(v)}" for k, v in self.params)
            return f"Leverage.{self.family}({ps}, {window})"
        if self.family != self.dist and self.params:  # fitted generic family keeps its label
            ps = ", ".join(f"{k}={_fmt(v)}" for k, v in self.params)
            return f"Leverage.{self.family}({ps}, {window})"
        args = [_fmt(x) for x in self.args] + [f"{k}={_fmt(v)}" for k, v in self.kwds]
        return f"Leverage.from_scipy(scipy.stats.{self.dist}({', '.join(args)}), {window})"

    def __repr__(self) -> str:
        if self.name is not None:
            return f"Leverage.preset({self.name!r})"
        return self._spec()

    def describe(self) -> str:
        """Human-readable multi-line summary: definition, window, mean, aggregate leverage and quantiles.

        Examples
        --------
        >>> print(Leverage.tiers({10: 1.0}).describe().splitlines()[0])
        Leverage.tiers({10: 1})
        """
        qs = self.quantile(np.array([0.1, 0.5, 0.9]))
        lines = [
            repr(self) if self.name is None else f"{self!r} = {self._spec()}",
            f"  support     [{_fmt(self.min_leverage)}, {_fmt(self.max_leverage)}]x"
            f" ({'discrete' if self.is_discrete else 'continuous part present'})",
            f"  mean        {self.mean():.4g}x; aggregate 1/E[1/L] = {1 / self.mean(of='margin_fraction'):.4g}x",
            f"  quantiles   10% {qs[0]:.4g}x, 50% {qs[1]:.4g}x, 90% {qs[2]:.4g}x",
        ]
        return "\n".join(lines)


# ---------------------------------------------------------------------- fitting helpers
def _weighted_log_moments(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    lx = np.log(x)
    m = float(np.average(lx, weights=w))
    s = float(np.sqrt(max(np.average((lx - m) ** 2, weights=w), 1e-12)))
    return m, s


def _fit_family(
    family: str, x: np.ndarray, w: np.ndarray, a: float, b: float
) -> tuple[Callable[[np.ndarray], Any], np.ndarray]:
    """Parametrisation (unconstrained ``theta`` -> frozen scipy law) and a moment-based start."""
    if family == "lognormal":
        m, s = _weighted_log_moments(x, w)
        return (lambda t: stats.lognorm(math.exp(t[1]), scale=math.exp(t[0]))), np.array([m, math.log(s)])
    if family == "gamma":
        y = x - 1.0
        mean = float(np.average(y, weights=w))
        var = float(np.average((y - mean) ** 2, weights=w))
        k0 = max(mean**2 / max(var, 1e-12), 1e-3)
        return (
            lambda t: stats.gamma(math.exp(t[1]), loc=1.0, scale=math.exp(t[0]) / math.exp(t[1]))
        ), np.array([math.log(max(mean, 1e-6)), math.log(k0)])
    dist = getattr(stats, family, None)
    if not isinstance(dist, stats.rv_continuous):
        raise ValueError(
            f"family must be 'lognormal', 'gamma' or a continuous scipy.stats distribution name, got {family!r}"
        )
    with np.errstate(all="ignore"):
        start = np.asarray(dist.fit(x), dtype=float)  # unweighted start: shapes..., loc, scale
    start[-1] = math.log(max(start[-1], 1e-9))
    nshape = dist.numargs

    def build(t: np.ndarray) -> Any:
        return dist(*t[:nshape], loc=t[nshape], scale=math.exp(t[nshape + 1]))

    return build, start


def _fit_result(
    family: str, theta: np.ndarray, build: Callable[[np.ndarray], Any], a: float, b: float
) -> Leverage:
    if family == "lognormal":
        return Leverage.lognormal(math.exp(theta[0]), math.exp(theta[1]), max_leverage=b, min_leverage=a)
    if family == "gamma":
        return Leverage.gamma(1.0 + math.exp(theta[0]), math.exp(theta[1]), max_leverage=b, min_leverage=a)
    return Leverage.from_scipy(build(theta), max_leverage=b, min_leverage=a)


# ---------------------------------------------------------------------- presets
def _coinglass() -> Leverage:
    return Leverage.tiers({10: 0.35, 25: 0.25, 50: 0.25, 100: 0.15})


def _binance_2019_retail() -> Leverage:
    # Body median solved so that P(L >= 20x) = 0.60 overall with 21 % at 125x (see docstring of LEVERAGE_PRESETS).
    body = Leverage.lognormal(median=19.97, sigma=0.8, max_leverage=125.0)
    return Leverage.mixture([body, Leverage.tiers({125: 1.0})], [0.79, 0.21])


def _bitmex_2019() -> Leverage:
    # Solved: aggregate leverage 1/E[1/L] = 26x and P(L <= 54x) = 0.80 on [1, 100].
    return Leverage.lognormal(median=33.85, sigma=0.6657, max_leverage=100.0)


def _hyperliquid_2025() -> Leverage:
    # Solved: P(L <= 3x) = 2.77/7.63 and P(L <= 7x) = 6.47/7.63 on [1, 40].
    return Leverage.lognormal(median=3.660, sigma=0.6237, max_leverage=40.0)


def _institutional() -> Leverage:
    return Leverage.lognormal(median=5.0, sigma=0.6, max_leverage=20.0)


def _default() -> Leverage:
    return Leverage.lognormal(median=12.0, sigma=0.9, max_leverage=125.0)


LEVERAGE_PRESETS: dict[str, tuple[Callable[[], Leverage], str]] = {
    "default": (
        _default,
        "lognormal median 12x, sigma 0.9, <= 125x: notional-weighted blend of BitMEX (aggregate ~22-30x), "
        "Binance institutions (<= 20x) and Hyperliquid (median ~4x); mean ~17x, 1/E[1/L] ~8x",
    ),
    "coinglass": (
        _coinglass,
        "tiers 10x/25x/50x/100x with 35/25/25/15 %: the fixed-tier assumption of commercial liquidation maps",
    ),
    "binance-2019-retail": (
        _binance_2019_retail,
        "Binance Futures 2019, trade-count weighted: 60 % of trades >= 20x, 21 % at 125x "
        "(79 % lognormal median ~20x sigma 0.8 + 21 % at 125x)",
    ),
    "bitmex-2019": (
        _bitmex_2019,
        "BitMEX XBTUSD 2018-19: weighted-average effective leverage 22-30x (read as 1/E[1/L] = 26x), "
        "80 % of longs <= 54x; lognormal median 33.85x sigma 0.666, <= 100x",
    ),
    "hyperliquid-2025": (
        _hyperliquid_2025,
        "Hyperliquid Dec 2025, OI weighted: of $7.63B, $2.77B at 0-3x and $3.7B at 3-7x (85 % <= 7x); "
        "lognormal median 3.66x sigma 0.624, <= 40x",
    ),
    "institutional": (
        _institutional,
        "institutions prefer <= 20x (Binance 2019: 81 % of volume); lognormal median 5x sigma 0.6, <= 20x",
    ),
}
"""Named leverage presets: name -> (factory, evidence summary).

Evidence (``REFERENCE.md`` §2.1 of the project's research notes; sources as cited there):

``default``
    Lognormal, median 12x, sigma 0.9, truncated to [1, 125]. A *notional-weighted effective* leverage blend:
    BitMEX's OI-weighted effective leverage was 22–30x (2018–19), Binance institutions — 81 % of volume — stay
    <= 20x, and Hyperliquid's 2025 book sits mostly at 0–7x. Mean ≈ 17.3x, aggregate ``1/E[1/L]`` ≈ 8x; 10 % of
    notional above ≈ 38x, keeping the 50–125x retail tail visible without letting it dominate notional.
``coinglass``
    Tiers {10x: .35, 25x: .25, 50x: .25, 100x: .15}: the small fixed tier set that commercial liquidation maps
    draw; for comparison with those tools, not as evidence of real leverage.
``binance-2019-retail``
    Binance Futures 2019 (via thecoinshark): 60 % of trades opened at >= 20x, 21 % at the 125x maximum. Mixture
    of 21 % at 125x and 79 % lognormal (median 19.97x, sigma 0.8, <= 125x), the median solved so that
    ``P(L >= 20) = 0.60`` exactly. Trade-count weighted: retail, not notional (institutions, 81 % of volume,
    use <= 20x).
``bitmex-2019``
    BitMEX CEO blog (May 2019, via Cointelegraph): weighted-average effective leverage on XBTUSD 29x/26x
    (long/short, May 2018) and 22x/30x (Apr 2019); over 12 months 80 % of longs <= 54x. We read "weighted
    average effective leverage" as total notional / total margin = ``1/E[1/L]`` (an arithmetic mean of 26x is
    incompatible with an 80 % quantile of 54x for any lognormal on [1, 100], whose mean is then > 28.3x). Lognormal median 33.85x,
    sigma 0.6657, <= 100x (BitMEX maximum): ``1/E[1/L] = 26x`` and ``P(L <= 54) = 0.80``.
``hyperliquid-2025``
    Hyperliquid, 15 Dec 2025 (analyst Ai Yi via Odaily/Phemex): of $7.63B OI, $2.77B at 0–3x and $3.7B at 3–7x,
    a sharp drop above 7x. Lognormal median 3.660x, sigma 0.6237, <= 40x (Hyperliquid BTC maximum), solved so
    that ``P(L <= 3) = 0.363`` and ``P(L <= 7) = 0.848``. OI (notional) weighted.
``institutional``
    Binance 2019: institutions (81 % of volume) prefer <= 20x. Lognormal median 5x, sigma 0.6, truncated at 20x.
"""
