"""File plumbing shared by the readers: path/glob/list expansion, CSV-or-zip reading, epoch detection."""

from __future__ import annotations

import glob
import io
import os
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal, Union

import numpy as np
import pandas as pd

from heatmap.market import MarketDataError

Source = Union[str, "os.PathLike[str]", Iterable[Union[str, "os.PathLike[str]"]]]

_GLOB_CHARS = set("*?[")


def expand_paths(source: Source, *, what: str = "source") -> list[Path]:
    """A path, a glob pattern or a list of them -> list of existing files (globs sorted by name).

    Raises ``FileNotFoundError`` naming the pattern when nothing matches.
    """
    if isinstance(source, (str, os.PathLike)):
        items: list[str | os.PathLike[str]] = [source]
    elif isinstance(source, Iterable):
        items = list(source)
        if not items:
            raise ValueError(f"{what}: empty list of files")
    else:
        raise TypeError(
            f"{what} must be a path, a glob pattern or a list of them, got {type(source).__name__}"
        )
    out: list[Path] = []
    for item in items:
        s = os.fspath(item)
        if _GLOB_CHARS & set(s):
            hits = sorted(glob.glob(os.path.expanduser(s)))
            if not hits:
                raise FileNotFoundError(f"{what}: no file matches the pattern {s!r}")
            out.extend(Path(h) for h in hits)
        else:
            p = Path(s).expanduser()
            if not p.is_file():
                raise FileNotFoundError(f"{what}: no such file {s!r}")
            out.append(p)
    return out


def iter_texts(path: Path) -> Iterator[tuple[str, str]]:
    """Yield ``(name, text)`` for a plain text file or for every CSV / JSON member of a ``.zip``."""
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as zf:
            members = [n for n in zf.namelist() if not n.endswith("/") and not n.startswith("__MACOSX")]
            if not members:
                raise MarketDataError(f"{path}: the zip archive is empty")
            for name in members:
                yield f"{path}!{name}", zf.read(name).decode("utf-8-sig")
    else:
        yield str(path), path.read_text(encoding="utf-8-sig")


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def has_header(text: str) -> bool:
    """True when the first non-empty line's first field is not a number (Binance CSVs come with and without)."""
    for line in text.splitlines():
        if line.strip():
            first = line.split(",", 1)[0].strip().strip('"')
            return not _is_number(first)
    return False


def read_csv_text(
    text: str, *, names: list[str], where: str, header: Literal["auto", True, False] = "auto"
) -> pd.DataFrame:
    """Parse headerless-or-headed CSV text into the given column ``names`` (extra trailing columns are an error)."""
    if not text.strip():
        return pd.DataFrame(columns=names)
    hdr = has_header(text) if header == "auto" else bool(header)
    df = pd.read_csv(io.StringIO(text), header=None, skiprows=1 if hdr else 0, skip_blank_lines=True)
    if df.shape[1] != len(names):
        raise MarketDataError(
            f"{where}: expected {len(names)} columns ({', '.join(names)}), found {df.shape[1]}"
        )
    df.columns = names
    return df


def numeric(df: pd.DataFrame, cols: Iterable[str], *, where: str) -> pd.DataFrame:
    """Convert columns to float; unparsable cells are an error naming the column and the first bad values."""
    out = df.copy()
    for c in cols:
        if pd.api.types.is_numeric_dtype(out[c].dtype):
            out[c] = out[c].astype(float)
            continue
        v = pd.to_numeric(out[c], errors="coerce")
        bad = v.isna() & out[c].notna() & (out[c].astype(str).str.strip() != "")
        if bad.any():
            shown = out[c][bad].astype(str).unique()[:5].tolist()
            raise MarketDataError(
                f"{where}: column {c!r} has {int(bad.sum())} non-numeric values, e.g. {shown}"
            )
        out[c] = v.astype(float)
    return out


def epoch_to_utc(
    values: object, *, unit: Literal["auto", "s", "ms", "us", "ns"] = "auto", where: str = ""
) -> pd.DatetimeIndex:
    """Epoch numbers -> UTC ``DatetimeIndex``; ``unit="auto"`` decides per value by magnitude.

    Seconds < 1e11 <= milliseconds < 1e14 <= microseconds < 1e17 <= nanoseconds (valid for 1973-5138).
    """
    a = np.asarray(pd.to_numeric(pd.Series(np.asarray(values).ravel()), errors="coerce"), dtype=float)
    if np.isnan(a).any():
        raise MarketDataError(f"{where}: {int(np.isnan(a).sum())} timestamps are missing or not numbers")
    if unit == "auto":
        scale = np.select([a < 1e11, a < 1e14, a < 1e17], [1e9, 1e6, 1e3], 1.0)
    else:
        scale = np.full(a.shape, {"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1.0}[unit])
    whole = np.rint(a)
    if np.array_equal(whole, a) and np.abs(a).max(initial=0) < 2**53:
        # integer epochs: exact integer arithmetic (float64 products would lose sub-microsecond digits)
        ns = whole.astype("int64") * scale.astype("int64")
    else:
        ns = np.rint(a * scale).astype("int64")
    return pd.DatetimeIndex(pd.to_datetime(ns, unit="ns", utc=True)).as_unit("ns")


def parse_times(
    values: pd.Series,
    *,
    time_format: str = "auto",
    assume_utc: bool = False,
    where: str = "",
) -> pd.DatetimeIndex:
    """Parse a time column: epoch numbers (auto unit), ISO strings, or an explicit ``strftime`` format.

    ``time_format``: ``"auto"`` (numbers -> epoch by magnitude, otherwise ISO 8601), ``"s"``, ``"ms"``, ``"us"``,
    ``"ns"`` or a ``strftime`` pattern such as ``"%d-%m-%Y %H:%M"``. Naive datetimes are an error unless
    ``assume_utc=True``; other time zones are converted to UTC.
    """
    if time_format in ("s", "ms", "us", "ns"):
        return epoch_to_utc(values, unit=time_format, where=where)  # type: ignore[arg-type]
    if time_format == "auto":
        if pd.api.types.is_numeric_dtype(values.dtype):
            return epoch_to_utc(values, where=where)
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            parsed = pd.DatetimeIndex(values)
        else:
            sv = values.astype(str).str.strip()
            if sv.str.fullmatch(r"\d+(\.\d+)?").all():
                return epoch_to_utc(sv, where=where)
            try:
                parsed = pd.DatetimeIndex(pd.to_datetime(sv, format="ISO8601"))
            except (ValueError, TypeError) as exc:
                raise MarketDataError(
                    f"{where}: cannot parse times such as {sv.iloc[0]!r} as ISO 8601; pass time_format= "
                    "(e.g. '%d-%m-%Y %H:%M' or 'ms')"
                ) from exc
    else:
        try:
            parsed = pd.DatetimeIndex(pd.to_datetime(values.astype(str).str.strip(), format=time_format))
        except (ValueError, TypeError) as exc:
            raise MarketDataError(f"{where}: times do not match time_format={time_format!r}: {exc}") from exc
    if parsed.tz is None:
        if not assume_utc:
            raise MarketDataError(
                f"{where}: timestamps have no time zone (e.g. {values.iloc[0]!r}); pass assume_utc=True if they are UTC"
            )
        parsed = parsed.tz_localize("UTC")
    else:
        parsed = parsed.tz_convert("UTC")
    return parsed.as_unit("ns")


def check_duplicates(
    df: pd.DataFrame, *, duplicates: Literal["error", "drop"], where: str, subset: list[str] | None = None
) -> pd.DataFrame:
    """Exact duplicate rows (e.g. overlapping daily and monthly files) raise, or are dropped when asked."""
    if duplicates not in ("error", "drop"):
        raise ValueError(f"duplicates={duplicates!r}; allowed: 'error', 'drop'")
    dup = df.duplicated(subset=subset, keep="first")
    if dup.any():
        if duplicates == "drop":
            return df.loc[~dup]
        raise MarketDataError(
            f"{where}: {int(dup.sum())} exact duplicate rows (overlapping files?); pass duplicates='drop' to drop them"
        )
    return df
