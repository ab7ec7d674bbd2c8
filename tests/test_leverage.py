"""Tests for heatmap.leverage: distribution functions, truncation, discretisation, fitting, presets, serialisation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize, stats

from heatmap.leverage import LEVERAGE_PRESETS, Leverage

CONTINUOUS = {
    "lognormal": Leverage.lognormal(median=12, sigma=0.9),
    "lognormal-narrow-window": Leverage.lognormal(median=12, sigma=0.9, max_leverage=30, min_leverage=2),
    "gamma": Leverage.gamma(mean=15, shape=1.5),
    "gamma-heavy": Leverage.gamma(mean=30, shape=0.5, max_leverage=100),
    "weibull": Leverage.from_scipy(stats.weibull_min(1.5, loc=1, scale=10)),
}
MIXED = Leverage.mixture([Leverage.lognormal(median=20, sigma=0.8), Leverage.tiers({125: 1.0})], [0.79, 0.21])
TIERS = Leverage.tiers({10: 0.35, 25: 0.25, 50: 0.25, 100: 0.15})
ALL = {
    **CONTINUOUS,
    "mixed": MIXED,
    "tiers": TIERS,
    "continuous-mixture": Leverage.mixture(
        [Leverage.lognormal(median=5, sigma=0.5), Leverage.gamma(mean=40, shape=3)], [0.6, 0.4]
    ),
}


# ---------------------------------------------------------------------------------------------- distribution functions
@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_pdf_integrates_to_cdf_differences(name: str) -> None:
    lev = CONTINUOUS[name]
    a, b = lev.min_leverage, lev.max_leverage
    xs = np.geomspace(a, b, 9)
    for lo, hi in zip(xs[:-1], xs[1:], strict=True):
        val, _ = integrate.quad(lambda z: float(lev.pdf(z)), lo, hi)
        assert val == pytest.approx(float(lev.cdf(hi) - lev.cdf(lo)), abs=1e-9)
    total, _ = integrate.quad(lambda z: float(lev.pdf(z)), a, b, limit=200)
    assert total == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize("name", sorted(ALL))
def test_cdf_bounds_monotone_and_sf_complement(name: str) -> None:
    lev = ALL[name]
    x = np.geomspace(0.5, 300, 400)
    c = lev.cdf(x)
    assert np.all(np.diff(c) >= -1e-15)
    assert lev.cdf(lev.min_leverage - 1e-9) == 0.0 or lev.kind != "continuous"
    assert float(lev.cdf(lev.max_leverage)) == pytest.approx(1.0, abs=1e-14)
    assert float(lev.cdf(0.999)) == 0.0
    np.testing.assert_allclose(lev.sf(x), 1.0 - c, atol=1e-12)


def test_truncated_lognormal_matches_independent_truncnorm() -> None:
    """log L of a truncated lognormal is a truncated normal: an independent derivation of F_T."""
    median, sigma, a, b = 12.0, 0.9, 2.0, 30.0
    lev = Leverage.lognormal(median=median, sigma=sigma, min_leverage=a, max_leverage=b)
    mu = np.log(median)
    ref = stats.truncnorm((np.log(a) - mu) / sigma, (np.log(b) - mu) / sigma, loc=mu, scale=sigma)
    x = np.linspace(a, b, 50)
    np.testing.assert_allclose(lev.cdf(x), ref.cdf(np.log(x)), atol=1e-12)
    np.testing.assert_allclose(lev.pdf(x), ref.pdf(np.log(x)) / x, rtol=1e-10)


def test_truncation_renormalises_and_zero_outside() -> None:
    base = stats.lognorm(0.9, scale=12)
    lev = Leverage.lognormal(median=12, sigma=0.9, max_leverage=25)
    mass = base.cdf(25) - base.cdf(1)
    assert mass < 0.85  # the window really cuts mass
    np.testing.assert_allclose(lev.pdf([5.0, 20.0]), base.pdf([5.0, 20.0]) / mass, rtol=1e-12)
    assert lev.pdf([0.5, 26.0, 200.0]).tolist() == [0.0, 0.0, 0.0]
    assert float(lev.cdf(25)) == 1.0
    assert float(lev.sample(2000, rng=3).max()) <= 25.0


def test_gamma_is_shifted_by_one_with_stated_mean() -> None:
    lev = Leverage.gamma(mean=15, shape=2.0, max_leverage=1e6)
    assert lev.mean() == pytest.approx(15.0, rel=1e-9)
    ref = stats.gamma(2.0, loc=1.0, scale=7.0)
    np.testing.assert_allclose(
        lev.cdf([2.0, 10.0, 30.0]), ref.cdf([2.0, 10.0, 30.0]) / ref.cdf(1e6), rtol=1e-12
    )
    assert float(lev.cdf(1.0)) == 0.0


def test_lognormal_mean_matches_closed_form() -> None:
    """E[L; a<L<b] = exp(mu + s^2/2) [Phi((ln b - mu - s^2)/s) - Phi((ln a - mu - s^2)/s)] / mass."""
    m, s, a, b = 12.0, 0.9, 1.0, 125.0
    mu = np.log(m)
    mass = stats.norm.cdf((np.log(b) - mu) / s) - stats.norm.cdf((np.log(a) - mu) / s)
    partial = np.exp(mu + s**2 / 2) * (
        stats.norm.cdf((np.log(b) - mu - s**2) / s) - stats.norm.cdf((np.log(a) - mu - s**2) / s)
    )
    assert Leverage.lognormal(median=m, sigma=s).mean() == pytest.approx(partial / mass, rel=1e-9)
    # E[1/L] for the untruncated-like window: exp(-mu + s^2/2)[...]/mass
    inv = np.exp(-mu + s**2 / 2) * (
        stats.norm.cdf((np.log(b) - mu + s**2) / s) - stats.norm.cdf((np.log(a) - mu + s**2) / s)
    )
    lev = Leverage.lognormal(median=m, sigma=s)
    assert lev.mean(of="margin_fraction") == pytest.approx(inv / mass, rel=1e-9)


@pytest.mark.parametrize("name", sorted(ALL))
@settings(max_examples=40, deadline=None)
@given(q=st.floats(min_value=1e-6, max_value=1 - 1e-6))
def test_quantile_inverts_cdf(name: str, q: float) -> None:
    lev = ALL[name]
    x = float(lev.quantile(q))
    assert lev.min_leverage <= x <= lev.max_leverage
    assert float(lev.cdf(x)) >= q - 1e-9  # generalised inverse: cdf(Q(q)) >= q
    if not lev.is_discrete and float(lev.pmf(x)) == 0:
        assert float(lev.cdf(x)) == pytest.approx(q, abs=1e-8)
    else:  # smallest such point: just below it the cdf is < q
        assert float(lev.cdf(x * (1 - 1e-7))) < q + 1e-9


def test_quantile_vectorised_and_edges() -> None:
    lev = CONTINUOUS["lognormal"]
    q = np.array([[0.0, 0.25], [0.75, 1.0]])
    out = lev.quantile(q)
    assert out.shape == (2, 2)
    assert out[0, 0] == pytest.approx(1.0) and out[1, 1] == pytest.approx(125.0)
    assert TIERS.quantile([0.0, 0.35, 0.36, 0.6, 0.85, 0.86, 1.0]).tolist() == [10, 10, 25, 25, 50, 100, 100]
    with pytest.raises(ValueError, match="q must be probabilities"):
        lev.quantile(1.5)


# ---------------------------------------------------------------------------------------------- tiers and mixtures
def test_tiers_pmf_cdf_mean() -> None:
    assert TIERS.is_discrete and TIERS.max_leverage == 100 and TIERS.min_leverage == 1
    assert TIERS.pmf([10, 25, 30, 100]).tolist() == [0.35, 0.25, 0.0, 0.15]
    np.testing.assert_allclose(TIERS.cdf([9.99, 10, 49.9, 50, 100]), [0, 0.35, 0.6, 0.85, 1.0])
    assert TIERS.mean() == pytest.approx(0.35 * 10 + 0.25 * 25 + 0.25 * 50 + 0.15 * 100)
    with pytest.raises(ValueError, match="discrete and has no density"):
        TIERS.pdf(10)


def test_mixture_is_weighted_sum_of_parts() -> None:
    p1, p2 = Leverage.lognormal(median=5, sigma=0.5), Leverage.tiers({50: 0.5, 100: 0.5})
    mix = Leverage.mixture([p1, p2], [0.7, 0.3])
    x = np.geomspace(1, 125, 37)
    np.testing.assert_allclose(mix.cdf(x), 0.7 * p1.cdf(x) + 0.3 * p2.cdf(x), atol=1e-15)
    np.testing.assert_allclose(mix.pdf(x), 0.7 * p1.pdf(x))
    assert mix.pmf([50, 100]).tolist() == pytest.approx([0.15, 0.15])
    assert mix.mean() == pytest.approx(0.7 * p1.mean() + 0.3 * 75)
    assert not mix.is_discrete
    assert Leverage.mixture([TIERS, p2], [0.5, 0.5]).is_discrete
    counts = np.isin(mix.sample(20_000, rng=5), [50.0, 100.0]).mean()
    assert counts == pytest.approx(0.3, abs=0.015)


# ---------------------------------------------------------------------------------------------- margin fraction
@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_margin_fraction_cdf_is_sf_of_inverse(name: str) -> None:
    lev = CONTINUOUS[name]
    u = np.linspace(0.001, 1.0, 300)
    np.testing.assert_allclose(lev.margin_fraction_cdf(u), lev.sf(1.0 / u), atol=1e-15)
    assert lev.margin_fraction_cdf(np.array([-0.1, 0.0])).tolist() == [0.0, 0.0]
    assert float(lev.margin_fraction_cdf(np.inf)) == 1.0


def test_margin_fraction_cdf_tiers_is_exact_step() -> None:
    u_atoms = 1.0 / np.array([100.0, 50.0, 25.0, 10.0])
    got = TIERS.margin_fraction_cdf(np.concatenate([u_atoms, u_atoms * (1 - 1e-9)]))
    np.testing.assert_allclose(got[:4], [0.15, 0.40, 0.65, 1.0])  # atom at u = 1/L included
    np.testing.assert_allclose(got[4:], [0.0, 0.15, 0.40, 0.65])  # just below it not
    u = np.linspace(0.001, 0.2, 101)
    np.testing.assert_allclose(TIERS.margin_fraction_cdf(u), TIERS.sf(1 / u) + TIERS.pmf(1 / u), atol=1e-15)


def test_margin_fraction_cdf_mixture_vectorised_shape_and_monte_carlo() -> None:
    u = np.linspace(0, 0.5, 24).reshape(4, 6)
    out = MIXED.margin_fraction_cdf(u)
    assert out.shape == (4, 6)
    assert np.all(np.diff(out.ravel()) >= 0)
    x = MIXED.sample(100_000, rng=11)
    for uu in (0.01, 0.03, 0.1):
        assert float(MIXED.margin_fraction_cdf(uu)) == pytest.approx(np.mean(1 / x <= uu), abs=0.005)
    assert np.isnan(MIXED.margin_fraction_cdf(np.nan))


# ---------------------------------------------------------------------------------------------- discretisation
@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_discretize_converges_to_mean(name: str) -> None:
    lev = CONTINUOUS[name]
    errors = []
    for n in (4, 16, 64, 256):
        nodes, w = lev.discretize(n)
        assert w.sum() == pytest.approx(1.0) and np.all(np.diff(nodes) > 0)
        errors.append(abs(float(nodes @ w) - lev.mean()))
    assert errors[-1] < 0.01 * lev.mean()
    assert errors[-1] < errors[0]


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_discretize_margin_mean_preserves_mean_margin_fraction(name: str) -> None:
    lev = CONTINUOUS[name]
    nodes, w = lev.discretize(12, method="margin-mean")
    assert float((1 / nodes) @ w) == pytest.approx(lev.mean(of="margin_fraction"), rel=1e-6)


def test_discretize_tiers_and_mixtures() -> None:
    nodes, w = TIERS.discretize(100)
    assert nodes.tolist() == [10, 25, 50, 100] and w.tolist() == [0.35, 0.25, 0.25, 0.15]
    nodes, w = MIXED.discretize(20)
    assert w.sum() == pytest.approx(1.0) and nodes.size == 21
    assert w[nodes == 125.0][0] == pytest.approx(0.21 + 0.79 / 20 * (nodes[-2] == 125.0))
    with pytest.raises(ValueError, match="n must be a positive integer"):
        TIERS.discretize(0)


# ---------------------------------------------------------------------------------------------- sampling
@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_sample_follows_cdf(name: str) -> None:
    lev = CONTINUOUS[name]
    x = lev.sample(5000, rng=np.random.default_rng(2))
    assert stats.kstest(x, lambda z: lev.cdf(z)).pvalue > 1e-3
    np.testing.assert_array_equal(x, lev.sample(5000, rng=2))  # int seed == Generator(seed)


# ---------------------------------------------------------------------------------------------- truncate
def test_truncate_continuous_renormalize_and_cap() -> None:
    lev = CONTINUOUS["lognormal"]
    t = lev.truncate(50)
    assert t.max_leverage == 50 and float(t.cdf(50)) == 1.0
    np.testing.assert_allclose(t.cdf([5, 20]), lev.cdf([5, 20]) / lev.cdf(50), rtol=1e-12)
    capped = lev.truncate(50, excess="cap")
    assert float(capped.pmf(50)) == pytest.approx(float(lev.sf(50)))
    assert capped.mean() < lev.mean()
    assert lev.truncate(500) == lev  # wider window: no change
    with pytest.raises(ValueError, match="empty"):
        lev.truncate(5, min_leverage=10)


def test_truncate_tiers_and_mixture() -> None:
    t = TIERS.truncate(50)
    assert t.nodes == (10, 25, 50) and sum(t.weights) == pytest.approx(1.0)
    assert t.weights[0] == pytest.approx(0.35 / 0.85)
    c = TIERS.truncate(40, excess="cap")
    assert c.nodes == (10, 25, 40) and c.weights[2] == pytest.approx(0.40)
    m = MIXED.truncate(100)  # the 125x atom is dropped, the body renormalised
    assert m.max_leverage == 100 and float(m.cdf(100)) == pytest.approx(1.0)
    np.testing.assert_allclose(m.cdf([10, 50]), MIXED.parts[0].cdf([10, 50]) / MIXED.parts[0].cdf(100))
    mc = MIXED.truncate(100, excess="cap")
    assert float(mc.pmf(100)) == pytest.approx(0.21 + 0.79 * float(MIXED.parts[0].sf(100)))
    with pytest.raises(ValueError, match="no tier"):
        Leverage.tiers({50: 1.0}).truncate(20)


# ---------------------------------------------------------------------------------------------- fitting
def test_fit_lognormal_recovers_parameters_from_truncated_samples() -> None:
    truth = Leverage.lognormal(median=12, sigma=0.9, max_leverage=50)
    x = truth.sample(10_000, rng=1)
    fit = Leverage.fit(x, "lognormal", max_leverage=50)
    p = dict(fit.params)
    assert p["median"] == pytest.approx(12, rel=0.03) and p["sigma"] == pytest.approx(0.9, rel=0.03)
    naive = np.exp(np.std(np.log(x)))  # the untruncated estimate is biased: truncation matters
    assert abs(np.log(naive) - 0.9) > 0.05


def test_fit_gamma_recovers_parameters() -> None:
    x = Leverage.gamma(mean=15, shape=1.5).sample(10_000, rng=4)
    p = dict(Leverage.fit(x, "gamma").params)
    assert p["mean"] == pytest.approx(15, rel=0.04) and p["shape"] == pytest.approx(1.5, rel=0.05)


def test_weighted_fit_recovers_target_by_importance_weights() -> None:
    proposal, target = Leverage.lognormal(median=12, sigma=1.3), Leverage.lognormal(median=12, sigma=0.9)
    x = proposal.sample(20_000, rng=6)
    w = target.pdf(x) / proposal.pdf(x)
    p = dict(Leverage.fit(x, "lognormal", weights=w).params)
    assert p["median"] == pytest.approx(12, rel=0.03) and p["sigma"] == pytest.approx(0.9, rel=0.03)


def test_integer_weights_equal_repeated_samples() -> None:
    x = Leverage.lognormal(median=8, sigma=0.7).sample(400, rng=7)
    k = np.random.default_rng(8).integers(1, 4, size=x.size)
    a = dict(Leverage.fit(x, "lognormal", weights=k).params)
    b = dict(Leverage.fit(np.repeat(x, k), "lognormal").params)
    assert a["median"] == pytest.approx(b["median"], rel=1e-4) and a["sigma"] == pytest.approx(
        b["sigma"], rel=1e-4
    )


def test_fit_generic_scipy_family() -> None:
    x = Leverage.from_scipy(stats.weibull_min(1.5, loc=1, scale=10)).sample(8000, rng=9)
    fit = Leverage.fit(x, "weibull_min")
    assert fit.dist == "weibull_min"
    assert fit.args[0] == pytest.approx(1.5, rel=0.06)
    assert dict(fit.kwds)["scale"] == pytest.approx(10, rel=0.06)


def test_fit_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"2 of 4 are not"):
        Leverage.fit([0.5, 10, 20, 200], "lognormal")
    with pytest.raises(ValueError, match="same length"):
        Leverage.fit([2, 10, 20], weights=[1, 2])
    with pytest.raises(ValueError, match="family must be"):
        Leverage.fit([2, 10, 20], "no-such-law")
    with pytest.raises(ValueError, match="weights must be finite"):
        Leverage.fit([2, 10, 20], weights=[1, -1, 1])


# ---------------------------------------------------------------------------------------------- presets
def test_presets_listed_and_loadable() -> None:
    names = Leverage.presets()
    assert (
        set(names)
        == set(LEVERAGE_PRESETS)
        >= {"default", "coinglass", "binance-2019-retail", "bitmex-2019", "hyperliquid-2025", "institutional"}
    )
    for name in names:
        lev = Leverage.preset(name)
        assert lev.name == name and repr(lev) == f"Leverage.preset({name!r})"
        assert name in lev.describe()
    with pytest.raises(ValueError, match="unknown leverage preset"):
        Leverage.preset("nope")


def test_preset_hyperliquid_matches_evidence() -> None:
    lev = Leverage.preset("hyperliquid-2025")
    assert float(lev.cdf(3)) == pytest.approx(2.77 / 7.63, abs=0.002)
    assert float(lev.cdf(7)) == pytest.approx((2.77 + 3.7) / 7.63, abs=0.002)  # ~85 % at <= 7x
    assert lev.max_leverage == 40


def test_preset_bitmex_matches_evidence() -> None:
    lev = Leverage.preset("bitmex-2019")
    assert 1 / lev.mean(of="margin_fraction") == pytest.approx(26, rel=0.002)  # inside the 22-30x range
    assert float(lev.cdf(54)) == pytest.approx(0.80, abs=0.002)
    assert lev.max_leverage == 100


def test_preset_binance_retail_matches_evidence() -> None:
    lev = Leverage.preset("binance-2019-retail")
    assert float(lev.sf(20) + lev.pmf(20)) == pytest.approx(0.60, abs=0.002)  # P(L >= 20)
    assert float(lev.pmf(125)) == pytest.approx(0.21)


def test_preset_institutional_coinglass_default() -> None:
    assert Leverage.preset("institutional").max_leverage == 20
    assert float(Leverage.preset("institutional").cdf(20)) == 1.0
    assert Leverage.preset("coinglass").nodes == (10, 25, 50, 100)
    d = Leverage.preset("default")
    assert float(d.quantile(0.5)) == pytest.approx(12, rel=0.01) and d.max_leverage == 125


# ---------------------------------------------------------------------------------------------- serialisation, repr
@pytest.mark.parametrize("name", sorted(ALL))
def test_to_dict_round_trip_through_json(name: str) -> None:
    lev = ALL[name]
    back = Leverage.from_dict(json.loads(json.dumps(lev.to_dict())))
    assert back == lev
    x = np.geomspace(1, 125, 11)
    np.testing.assert_array_equal(back.cdf(x), lev.cdf(x))


def test_to_dict_round_trip_presets_truncated_and_fitted() -> None:
    items = [Leverage.preset(n) for n in Leverage.presets()]
    items += [
        MIXED.truncate(100, excess="cap"),
        Leverage.fit(CONTINUOUS["weibull"].sample(300, rng=1), "weibull_min"),
    ]
    for lev in items:
        assert Leverage.from_dict(json.loads(json.dumps(lev.to_dict()))) == lev


def test_repr_is_constructor_form() -> None:
    lev = Leverage.lognormal(median=12, sigma=0.9, max_leverage=50)
    assert repr(lev) == "Leverage.lognormal(median=12, sigma=0.9, max_leverage=50)"
    assert eval(repr(lev), {"Leverage": Leverage}) == lev
    assert eval(repr(TIERS), {"Leverage": Leverage}) == TIERS
    assert eval(repr(MIXED), {"Leverage": Leverage}) == MIXED
    assert "scipy.stats.weibull_min(1.5, loc=1, scale=10)" in repr(CONTINUOUS["weibull"])


# ---------------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: Leverage.tiers({10: 0.5, 20: 0.4}), "must sum to 1"),
        (lambda: Leverage.tiers({10: 0.5, 20: -0.5, 30: 1.0}), "finite and > 0"),
        (lambda: Leverage.tiers({0.5: 1.0}), r"must lie in \[min_leverage"),
        (lambda: Leverage.tiers({}), "non-empty mapping"),
        (lambda: Leverage.lognormal(median=-1, sigma=0.5), "median"),
        (lambda: Leverage.lognormal(median=10, sigma=0), "sigma must be > 0"),
        (lambda: Leverage.lognormal(median=10, sigma=0.5, max_leverage=0.5), "max_leverage"),
        (lambda: Leverage.lognormal(median=1e9, sigma=0.1), "puts no mass"),
        (lambda: Leverage.gamma(mean=1.0, shape=2), "mean > 1"),
        (lambda: Leverage.from_scipy(stats.poisson(3)), "continuous scipy.stats"),
        (lambda: Leverage.mixture([TIERS], [0.5, 0.5]), "weights has 2 entries"),
        (lambda: Leverage.mixture([TIERS, "x"], [0.5, 0.5]), "parts must be"),  # type: ignore[list-item]
        (lambda: TIERS.truncate(50, excess="spread"), "excess must be"),  # type: ignore[arg-type]
    ],
)
def test_validation_errors_name_the_problem(build, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        build()


def test_normalize_is_explicit_opt_in() -> None:
    lev = Leverage.tiers({10: 1, 20: 1, 50: 2}, normalize=True)
    assert lev.weights == (0.25, 0.25, 0.5)
    mix = Leverage.mixture([TIERS, MIXED], [2, 2], normalize=True)
    assert mix.weights == (0.5, 0.5)


# ---------------------------------------------------------------------------------------------- documentation
def _preset_table() -> list[str]:
    rows = [
        "| preset | max | mean | 1/E[1/L] | median | 90 % | P(L <= 7x) | P(L >= 20x) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in Leverage.presets():
        lev = Leverage.preset(name)
        q = lev.quantile([0.5, 0.9])
        rows.append(
            f"| `{name}` | {lev.max_leverage:g} | {lev.mean():.1f} | {1 / lev.mean(of='margin_fraction'):.1f} | "
            f"{q[0]:.1f} | {q[1]:.1f} | {float(lev.cdf(7)):.3f} | {float(lev.sf(20) + lev.pmf(20)):.3f} |"
        )
    return rows


def test_docs_preset_table() -> None:
    path = Path(__file__).resolve().parents[1] / "docs" / "leverage.md"
    if not path.exists():
        pytest.skip("docs/leverage.md not present (installed package)")
    text = path.read_text(encoding="utf-8")
    block = text.split("<!-- preset-table:start -->")[1].split("<!-- preset-table:end -->")[0]
    assert block.strip().splitlines() == _preset_table()


def test_bitmex_arithmetic_mean_reading_is_impossible() -> None:
    """Documented claim: with P(L <= 54) = 0.8 on [1, 100], a lognormal's arithmetic mean exceeds 28.3x.

    The infimum is the sigma -> inf limit: a log-uniform law on [1, 100] tilted by L^t, solved independently.
    """

    def excess(log_median: float, sigma: float) -> float:
        try:
            lev = Leverage.lognormal(median=np.exp(log_median), sigma=sigma, max_leverage=100)
        except ValueError:  # median so far above 100x that the window holds no mass: P(L <= 54) ~ 0
            return -0.8
        return float(lev.cdf(54)) - 0.8

    means = []
    for sigma in (0.3, 0.6, 1.0, 2.0, 3.0, 4.0):
        lm = optimize.brentq(excess, 0.0, 20.0, args=(sigma,))
        means.append(Leverage.lognormal(median=np.exp(lm), sigma=sigma, max_leverage=100).mean())
    assert np.all(np.diff(means) < 0)  # decreasing in sigma towards the limit
    t = optimize.brentq(lambda t: (54**t - 1) / (100**t - 1) - 0.8, 0.01, 5)
    limit = t * (100 ** (t + 1) - 1) / ((t + 1) * (100**t - 1))
    assert limit == pytest.approx(28.30, abs=0.01)
    assert min(means) > limit > 26


# ---------------------------------------------------------------------------------------------- property tests
@settings(max_examples=40, deadline=None)
@given(
    median=st.floats(1.5, 60),
    sigma=st.floats(0.1, 2.0),
    top=st.floats(10, 200),
    family=st.sampled_from(["lognormal", "gamma"]),
    q=st.lists(st.floats(0.001, 0.999), min_size=1, max_size=20),
)
def test_property_continuous_laws(
    median: float, sigma: float, top: float, family: str, q: list[float]
) -> None:
    try:
        if family == "lognormal":
            lev = Leverage.lognormal(median=median, sigma=sigma, max_leverage=top)
        else:
            lev = Leverage.gamma(mean=median, shape=1 / sigma, max_leverage=top)
    except ValueError as exc:  # only legitimate refusal: no mass in the window
        assert "puts no mass" in str(exc)
        return
    qq = np.asarray(q)
    x = lev.quantile(qq)
    np.testing.assert_allclose(lev.cdf(x), qq, atol=1e-7)
    u = 1.0 / x
    np.testing.assert_allclose(lev.margin_fraction_cdf(u), 1.0 - qq, atol=1e-7)
    assert float(lev.cdf(top)) == 1.0 and float(lev.margin_fraction_cdf(1 / top)) == pytest.approx(
        0.0, abs=1e-12
    )


@settings(max_examples=60, deadline=None)
@given(
    tiers=st.dictionaries(st.integers(1, 125), st.floats(0.01, 1.0), min_size=1, max_size=8),
    u=st.lists(st.floats(0.0, 1.2), min_size=1, max_size=30),
)
def test_property_tiers_margin_fraction_brute_force(tiers: dict[int, float], u: list[float]) -> None:
    lev = Leverage.tiers(tiers, normalize=True)
    nodes, w = np.asarray(lev.nodes), np.asarray(lev.weights)
    uu = np.concatenate([np.asarray(u), 1.0 / nodes])  # include the atoms themselves
    brute = np.array([w[1.0 / nodes <= v].sum() for v in uu])
    np.testing.assert_allclose(lev.margin_fraction_cdf(uu), brute, atol=1e-12)
    assert float(lev.mean()) == pytest.approx(float(nodes @ w))


def test_leverage_is_frozen_and_hashable() -> None:
    import dataclasses

    lev = Leverage.lognormal(median=12, sigma=0.9)
    with pytest.raises(dataclasses.FrozenInstanceError):
        lev.max_leverage = 50  # type: ignore[misc]
    assert len({lev, Leverage.lognormal(median=12, sigma=0.9), TIERS, MIXED}) == 3


@pytest.mark.parametrize(("median", "a", "b"), [(19.0, 1.0, 10.0), (2.0, 3.0, 10.0), (12.0, 1.0, 125.0)])
def test_far_tail_windows_keep_precision(median: float, a: float, b: float) -> None:
    """Windows deep in one tail (mass ~1e-8 .. 1e-10) still match the truncated normal of log L."""
    sigma = 0.1 if median != 12.0 else 0.9
    lev = Leverage.lognormal(median=median, sigma=sigma, min_leverage=a, max_leverage=b)
    mu = np.log(median)
    ref = stats.truncnorm((np.log(a) - mu) / sigma, (np.log(b) - mu) / sigma, loc=mu, scale=sigma)
    x = np.geomspace(a, b, 25)
    np.testing.assert_allclose(lev.cdf(x), ref.cdf(np.log(x)), atol=1e-9)
    np.testing.assert_allclose(lev.sf(x), ref.sf(np.log(x)), atol=1e-9)
    q = np.array([0.01, 0.5, 0.99])
    np.testing.assert_allclose(np.log(lev.quantile(q)), ref.ppf(q), rtol=1e-6)
