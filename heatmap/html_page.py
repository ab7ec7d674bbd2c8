"""The offline interactive HTML heatmap: one small self-contained file, drawn on a canvas by a few lines of script.

No plotting library is embedded (plotly.js alone is several MB): the page holds the displayed window of the heatmap as
compressed 16-bit codes and a short script that draws it with the same look as the PNG (black plot area,
``inferno``, linear scale from a floor at the 40th percentile of the visible cells, drawn as background, to a top at
their 99th percentile; :func:`heatmap.view.robust_limits`), the price path and the current price, a $ colour bar
from the floor, hover read-outs ("$606K", distance from price), a brightness slider (power-scale exponent), a
threshold slider (top of the scale), a floor slider (0 to 2 × the default floor; 0 colours every non-empty cell), a
side toggle (total / long / short) and a leverage-layer toggle (when the market is given; each layer on its own
floor and top). Six months of hourly snapshots × 1,000 bins stay well under 5 MB (sizes in docs/performance.md).

Encoding of a layer: ``q = 0`` for an empty cell, else ``1 + round(8192 · log(v / lo) / log(hi / lo))`` with
``lo = hi · 1e-6`` (relative resolution ``log(1e6) / 8192`` ≈ 0.17 %, finer than the 3 digits shown), as
little-endian uint16, zlib-compressed and base64-encoded; the
browser inflates it with ``DecompressionStream("deflate")``. :func:`read_html_data` decodes it back.

Examples
--------
>>> import heatmap as lh
>>> hm = lh.estimate(lh.synthetic_market(days=5, seed=1), bins=300)
>>> page = write_html(hm, "heatmap.html")  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import json
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from heatmap.view import SideView, heatmap_view, robust_limits

if TYPE_CHECKING:
    from heatmap.market import Market
    from heatmap.result import Heatmap

__all__ = ["write_html", "read_html_data", "encode_layer", "decode_layer", "FORMAT"]

FORMAT = "liquidation-heatmap/html-v2"
DATA_ID = "liquidation-heatmap-data"
_CODES = 8192
_LUT_STOPS = 64


def encode_layer(values: np.ndarray, lo: float, hi: float) -> str:
    """Log-quantised uint16 codes of ``values`` [quote] (0 = empty), zlib-compressed, base64.

    Examples
    --------
    >>> v = np.array([[0.0, 1.0], [10.0, 100.0]])
    >>> np.allclose(decode_layer(encode_layer(v, 0.5, 200.0), v.shape, 0.5, 200.0), v, rtol=1e-3)
    True
    """
    v = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.log(np.clip(v, lo, hi) / lo) / np.log(hi / lo)
    q = np.where(v > 0, 1 + np.rint(x * _CODES), 0).astype("<u2")
    return base64.b64encode(zlib.compress(q.tobytes(), 9)).decode("ascii")


def decode_layer(blob: str, shape: tuple[int, ...], lo: float, hi: float) -> np.ndarray:
    """Inverse of :func:`encode_layer` (to the quantisation step)."""
    q = np.frombuffer(zlib.decompress(base64.b64decode(blob)), dtype="<u2").reshape(shape).astype(float)
    return np.where(q > 0, lo * np.exp((q - 1) / _CODES * np.log(hi / lo)), 0.0)


def _lut() -> list[str]:
    """The PNG's colormap (:data:`heatmap.plot.HEATMAP_CMAP`) as hex stops; the first is the background."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    from heatmap.plot import HEATMAP_CMAP

    cmap = colormaps[HEATMAP_CMAP]
    return [to_hex(cmap(x)) for x in np.linspace(0.0, 1.0, _LUT_STOPS)]


def write_html(
    hm: Heatmap,
    path: str | Path,
    *,
    market: Market | None = None,
    side: SideView = "total",
    within: float | None = None,
    max_times: int = 1000,
    max_bins: int = 400,
    title: str | None = None,
    leverage_split: Callable[[np.ndarray], Mapping[str, np.ndarray]] | None = None,
) -> Path:
    """Write the offline interactive heatmap page (see the module notes); atomic.

    Parameters
    ----------
    hm : Heatmap
    path : str or Path
        Output ``.html`` file; its folder must exist.
    market : Market, optional
        The market ``hm`` was estimated from: adds the leverage-layer toggle (≤10x … >100x, from
        :func:`heatmap.layers.leverage_layers_over_time`; one extra estimate per bucket).
    side : {"total", "long", "short", "both"}, default "total"
        Layer shown first ("both" shows total).
    within : float, optional
        Half-width of the price window [fraction of price]; default from the model's leverage law.
    max_times : int, default 1000
        At most this many snapshots are embedded (every k-th and the last; the page says so).
    max_bins : int, default 400
        At most this many price bands inside the window (adjacent bands summed, mass preserved).
    title : str, optional
        Page title (default: symbol, venue, model, window).
    leverage_split : callable, optional
        Instead of ``market``: a function of the embedded snapshot positions returning the leverage split in the
        form of :func:`heatmap.layers.leverage_layers_over_time` (``MultiHeatmap.to_html`` passes
        :func:`heatmap.layers.aggregate_leverage_layers_over_time`).

    Returns
    -------
    Path
    """
    from heatmap.io.atomic import atomic_write
    from heatmap.plot import _heatmap_title

    if side not in ("total", "long", "short", "both"):
        raise ValueError(f"side: got {side!r}; allowed are 'total', 'long', 'short', 'both'")
    for name, n in (("max_times", max_times), ("max_bins", max_bins)):
        if not isinstance(n, (int, np.integer)) or n < 2:
            raise ValueError(f"{name}: got {n!r}; allowed is an integer >= 2")
    view = heatmap_view(hm, side="total", within=within)
    T = len(hm.times)
    step = max(1, int(np.ceil(T / max_times)))
    rows = np.arange(T - 1, -1, -step)[::-1]
    edges = np.asarray(hm.price_edges, dtype=float)
    inside = np.flatnonzero((edges[1:] > view.ylim[0]) & (edges[:-1] < view.ylim[1]))
    i0, i1 = int(inside[0]), int(inside[-1]) + 1
    factor = max(1, int(np.ceil((i1 - i0) / max_bins)))
    starts = np.arange(i0, i1, factor)
    win_edges = np.append(edges[starts], edges[min(starts[-1] + factor, i1)])

    def reduce(a: np.ndarray) -> np.ndarray:
        block = np.asarray(a, dtype=float)[..., i0:i1]
        return np.add.reduceat(block, starts - i0, axis=-1)

    layers = {s: reduce(getattr(hm, s)[rows]) for s in ("long", "short")}
    layers["total"] = layers["long"] + layers["short"]
    buckets: list[str] = []
    if market is not None and leverage_split is not None:
        raise ValueError("give market or leverage_split, not both")
    if market is not None:
        from heatmap.layers import leverage_layers_over_time

        def leverage_split(r: np.ndarray) -> Mapping[str, np.ndarray]:
            return leverage_layers_over_time(hm, market, r)

    if leverage_split is not None:
        split = leverage_split(rows)
        buckets = [str(x) for x in split["labels"]]
        for k, label in enumerate(buckets):
            layers[f"lev {label}"] = reduce(split["long"][k] + split["short"][k])
    positive = np.concatenate([v[v > 0] for v in layers.values()])
    floor, top = robust_limits(layers["total"])  # the PNG's limits, on the displayed (band-summed) cells
    hi = float(max(positive.max(), top)) * 1.0001 if positive.size else 1.0
    lo = hi * 1e-6
    times = pd.DatetimeIndex(hm.times[rows])
    bar = view.time_edges[-1] - view.time_edges[-2]
    price = hm.price.reindex(times, method="ffill").to_numpy(dtype=float)
    note = (
        f"every {step}th snapshot shown ({len(rows):,} of {T:,}); "
        if step > 1
        else f"all {T:,} snapshots shown; "
    ) + "relative scale: model notional, not calibrated to venue totals"
    payload: dict[str, Any] = {
        "format": FORMAT,
        "title": title if title is not None else _heatmap_title(hm, view),
        "note": note,
        "times": [t.isoformat() for t in times],
        "end": (times[-1] + bar).isoformat(),
        "price_edges": win_edges.tolist(),
        "price": [round(float(p), 6) for p in price],
        "ylim": list(view.ylim),
        "time_step": step,
        "bin_factor": factor,
        "shape": [len(rows), int(starts.size)],
        "lo": lo,
        "hi": hi,
        "codes": _CODES,
        "vmax": top,
        "vmin": floor,
        "limits": {name: list(robust_limits(v)) for name, v in layers.items() if name.startswith("lev ")},
        "side": "total" if side == "both" else side,
        "buckets": buckets,
        "layers": {name: encode_layer(v, lo, hi) for name, v in layers.items()},
        "lut": _lut(),
    }
    # every "<" as \u003c: no "</script>" or "<!--" (from a symbol in the title, say) can end or bend the block
    blob = json.dumps(payload, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")
    page = (
        _PAGE.replace("__TITLE__", html.escape(str(payload["title"])))
        .replace("__DATA_ID__", DATA_ID)
        .replace("__DATA__", blob)
        .replace("__SCRIPT__", _SCRIPT)
    )
    out = Path(path)
    with atomic_write(out, "w", encoding="utf-8") as fh:  # a failed write keeps an existing file
        fh.write(page)
    return out


def read_html_data(path: str | Path) -> dict[str, Any]:
    """The data embedded by :func:`write_html`, with every layer decoded to an array (times, bands) [quote]."""
    text = Path(path).read_text(encoding="utf-8")
    start_tag = f'<script type="application/json" id="{DATA_ID}">'
    i = text.find(start_tag)
    if i < 0:
        raise ValueError(f"{path} has no embedded liquidation-heatmap data")
    j = text.find("</script>", i)
    data: dict[str, Any] = json.loads(text[i + len(start_tag) : j])
    shape = tuple(int(x) for x in data["shape"])
    data["layers"] = {k: decode_layer(v, shape, data["lo"], data["hi"]) for k, v in data["layers"].items()}
    for k in ("long", "short", "total"):
        data[k] = data["layers"][k]
    return data


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
body{margin:0;background:#f7f7f9;font:13px system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#222}
#wrap{padding:10px 14px}#title{font-size:15px;font-weight:600;margin:0 0 6px}
#controls{display:flex;gap:18px;align-items:center;flex-wrap:wrap;margin-bottom:6px}
#controls label{display:flex;gap:6px;align-items:center}
#stage{position:relative;display:inline-block}canvas{display:block}
#tip{position:absolute;pointer-events:none;background:rgba(20,20,30,.92);color:#fff;padding:6px 8px;
border-radius:4px;font-size:12px;white-space:nowrap;display:none}
#note{color:#555;font-size:11px;margin-top:4px}
</style></head><body><div id="wrap">
<div id="title">__TITLE__</div>
<div id="controls">
<label>side <select id="side"><option value="total">total</option><option value="long">long</option>
<option value="short">short</option></select></label>
<label>leverage <select id="lev"><option value="">all</option></select></label>
<label>brightness <input id="gamma" type="range" min="0.15" max="2" step="0.05" value="1"></label>
<label>threshold <input id="top" type="range" min="-1.5" max="0.5" step="0.02" value="0">
<span id="topval"></span></label>
<label>floor <input id="floor" type="range" min="0" max="2" step="0.05" value="1">
<span id="floorval"></span></label>
</div>
<div id="stage"><canvas id="cv" width="1120" height="560"></canvas><div id="tip"></div></div>
<div id="note"></div></div>
<script type="application/json" id="__DATA_ID__">__DATA__</script>
<script>__SCRIPT__</script>
</body></html>
"""

# The page script: inflate the layers, draw the window as an image (nearest cell per pixel), overlays, colour
# bar and hover read-outs; redraw on every control change.
_SCRIPT = r"""
(async function () {
  const D = JSON.parse(document.getElementById('liquidation-heatmap-data').textContent);
  const [T, P] = D.shape, lnr = Math.log(D.hi / D.lo), K = D.codes;
  async function inflate(b64) {
    const bin = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
    const stream = new Blob([bin]).stream().pipeThrough(new DecompressionStream('deflate'));
    const q = new Uint16Array(await new Response(stream).arrayBuffer());
    const v = new Float64Array(q.length);
    for (let i = 0; i < q.length; i++) v[i] = q[i] ? D.lo * Math.exp((q[i] - 1) / K * lnr) : 0;
    return v;
  }
  const L = {};
  for (const k of Object.keys(D.layers)) L[k] = await inflate(D.layers[k]);
  const money = x => {
    const a = Math.abs(x), s = x < 0 ? '-' : '';
    for (const [u, n] of [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'K']])
      if (a >= u * 0.9995) return s + '$' + Number((a / u).toPrecision(3)) + n;
    return s + '$' + Math.round(a);
  };
  const priceFmt = p => p >= 1000 ? Math.round(p).toLocaleString('en-US') : p.toPrecision(4);
  // round tick values: 1, 2 or 5 times a power of ten, about n of them between lo and hi
  const nice = (lo, hi, n) => {
    const raw = (hi - lo) / n, p = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / p;
    const step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p, out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) out.push(v);
    return out;
  };
  const cv = document.getElementById('cv'), ctx = cv.getContext('2d');
  const W = cv.width, H = cv.height, m = {l: 70, r: 110, t: 8, b: 34};
  const pw = W - m.l - m.r, ph = H - m.t - m.b;
  const t0 = Date.parse(D.times[0]), t1 = Date.parse(D.end), tms = D.times.map(Date.parse);
  const [y0, y1] = D.ylim, E = D.price_edges;
  const lut = D.lut.map(h => [1, 3, 5].map(i => parseInt(h.substr(i, 2), 16)));
  const side = document.getElementById('side'), lev = document.getElementById('lev');
  const gamma = document.getElementById('gamma'), topIn = document.getElementById('top');
  const floorIn = document.getElementById('floor');
  side.value = D.side;
  for (const b of D.buckets) { const o = document.createElement('option'); o.value = 'lev ' + b; o.textContent = b; lev.appendChild(o); }
  lev.disabled = D.buckets.length === 0;
  document.getElementById('note').textContent = D.note;
  const colOf = new Int32Array(pw), rowOf = new Int32Array(ph);
  for (let x = 0; x < pw; x++) {
    const t = t0 + (x + 0.5) * (t1 - t0) / pw; let i = 0;
    while (i + 1 < T && tms[i + 1] <= t) i++;
    colOf[x] = i;
  }
  for (let y = 0; y < ph; y++) {
    const p = y1 - (y + 0.5) * (y1 - y0) / ph; let j = -1;
    let a = 0, b = E.length - 1;
    if (p >= E[0] && p < E[E.length - 1]) { while (b - a > 1) { const c = (a + b) >> 1; if (E[c] <= p) a = c; else b = c; } j = a; }
    rowOf[y] = j;
  }
  const X = t => m.l + (t - t0) / (t1 - t0) * pw, Y = p => m.t + (y1 - p) / (y1 - y0) * ph;
  function layer() { return lev.value ? lev.value : side.value; }
  // a leverage layer has its own floor and top (a thin bucket would sit under the total's floor)
  function lim() { return (D.limits && D.limits[layer()]) || [D.vmin, D.vmax]; }
  function top() { return lim()[1] * Math.pow(10, +topIn.value); }
  function draw() {
    const v = L[layer()], g = +gamma.value, vmax = top();
    // cells at or under the floor take the background (the colormap's first colour), as in the PNG
    const vmin = Math.min(lim()[0] * +floorIn.value, 0.999 * vmax), vspan = vmax - vmin;
    document.getElementById('topval').textContent = money(vmax);
    document.getElementById('floorval').textContent = money(vmin);
    ctx.fillStyle = '#ffffff'; ctx.fillRect(0, 0, W, H);
    const img = ctx.createImageData(pw, ph), d = img.data;
    for (let y = 0; y < ph; y++) {
      const j = rowOf[y];
      for (let x = 0; x < pw; x++) {
        const val = j < 0 ? 0 : v[colOf[x] * P + j];
        const f = val <= vmin ? 0 : Math.min((val - vmin) / vspan, 1);
        const c = lut[Math.min(lut.length - 1, Math.floor(Math.pow(f, g) * (lut.length - 1) + 0.5))];
        const o = (y * pw + x) * 4; d[o] = c[0]; d[o + 1] = c[1]; d[o + 2] = c[2]; d[o + 3] = 255;
      }
    }
    ctx.putImageData(img, m.l, m.t);
    ctx.save(); ctx.beginPath(); ctx.rect(m.l, m.t, pw, ph); ctx.clip();
    ctx.lineWidth = 3; ctx.strokeStyle = '#000'; ctx.beginPath();
    D.price.forEach((p, i) => { const x = X(i + 1 < T ? tms[i + 1] : t1), y = Y(p); i ? ctx.lineTo(x, y) : ctx.moveTo(x, y); });
    ctx.stroke(); ctx.lineWidth = 1.2; ctx.strokeStyle = '#fff'; ctx.stroke();
    const last = D.price[T - 1];
    ctx.setLineDash([5, 4]); ctx.strokeStyle = '#fff'; ctx.beginPath(); ctx.moveTo(m.l, Y(last)); ctx.lineTo(m.l + pw, Y(last)); ctx.stroke(); ctx.setLineDash([]);
    ctx.font = '12px sans-serif'; ctx.textAlign = 'right'; ctx.lineWidth = 3; ctx.strokeStyle = '#000';
    ctx.strokeText('price ' + priceFmt(last), m.l + pw - 4, Y(last) - 4); ctx.fillStyle = '#fff'; ctx.fillText('price ' + priceFmt(last), m.l + pw - 4, Y(last) - 4);
    ctx.restore();
    ctx.strokeStyle = '#333'; ctx.lineWidth = 1; ctx.strokeRect(m.l, m.t, pw, ph);
    ctx.fillStyle = '#222'; ctx.font = '11px sans-serif'; ctx.textAlign = 'right';
    for (const p of nice(y0, y1, 7)) { ctx.fillText(priceFmt(p), m.l - 4, Y(p) + 4); ctx.fillRect(m.l - 3, Y(p), 3, 1); }
    ctx.textAlign = 'center';
    const day = 864e5, span = (t1 - t0) / day;
    const step = [1 / 24, 1 / 6, 0.25, 0.5, 1, 2, 7, 14, 30, 61, 91, 182, 365].find(d => span / d <= 8) || 365;
    for (let t = Math.ceil(t0 / (step * day)) * step * day; t <= t1; t += step * day) {
      const iso = new Date(t).toISOString();
      ctx.fillText(step < 1 ? iso.slice(0, 16).replace('T', ' ') : iso.slice(0, 10), X(t), H - 16);
      ctx.fillRect(X(t), m.t + ph, 1, 3);
    }
    ctx.fillText('time (UTC)', m.l + pw / 2, H - 2);
    const cx = m.l + pw + 14, cw = 14;
    for (let y = 0; y < ph; y++) { const f = 1 - y / ph, c = lut[Math.floor(Math.pow(f, g) * (lut.length - 1) + 0.5)]; ctx.fillStyle = `rgb(${c})`; ctx.fillRect(cx, m.t + y, cw, 1); }
    ctx.fillStyle = '#222'; ctx.textAlign = 'left';
    for (let k = 0; k <= 5; k++) { const f = k / 5; ctx.fillText(money(vmin + f * vspan), cx + cw + 4, m.t + (1 - f) * ph + 4); }
    if (vmin > 0) ctx.fillText('floor', cx + cw + 4, m.t + ph + 16);
  }
  const tip = document.getElementById('tip');
  cv.addEventListener('mousemove', ev => {
    const r = cv.getBoundingClientRect(), x = Math.floor(ev.clientX - r.left - m.l), y = Math.floor(ev.clientY - r.top - m.t);
    if (x < 0 || y < 0 || x >= pw || y >= ph || rowOf[y] < 0) { tip.style.display = 'none'; return; }
    const i = colOf[x], j = rowOf[y], at = i * P + j, p = D.price[i];
    const mid = Math.sqrt(E[j] * E[j + 1]);
    let s = D.times[i].slice(0, 16).replace('T', ' ') + ' UTC<br>band ' + priceFmt(E[j]) + ' to ' + priceFmt(E[j + 1]) + ' (' + ((mid / p - 1) * 100).toFixed(2) + '% from price)';
    s += '<br><b>' + layer() + ' ' + money(L[layer()][at]) + '</b> &middot; long ' + money(L.long[at]) + ' &middot; short ' + money(L.short[at]);
    tip.innerHTML = s; tip.style.display = 'block';
    tip.style.left = Math.min(ev.clientX - r.left + 14, W - 330) + 'px'; tip.style.top = (ev.clientY - r.top + 14) + 'px';
  });
  cv.addEventListener('mouseleave', () => { tip.style.display = 'none'; });
  for (const el of [side, lev, gamma, topIn, floorIn]) el.addEventListener('input', draw);
  draw();
  // "#threshold=-1" (or "#brightness=1.2") in the address sets a slider through its own input event
  const h = new URLSearchParams(location.hash.slice(1));
  for (const [k, el] of [['threshold', topIn], ['brightness', gamma], ['floor', floorIn], ['side', side], ['leverage', lev]])
    if (h.has(k)) { el.value = h.get(k); el.dispatchEvent(new Event('input')); }
  document.body.dataset.ready = '1';
})();
"""
