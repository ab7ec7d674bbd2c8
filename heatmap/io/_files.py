"""File plumbing shared by the readers: path/glob/list expansion, CSV-or-zip reading, epoch detection."""

from __future__ import annotations

import csv
import glob
import io
import os
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Literal, Union

import numpy as np
import pandas as pd

from heatmap._advice import advise
from heatmap.limits import MEMORY_LIMIT_ENV, memory_limit
from heatmap.market import MarketDataError

Source = Union[str, "os.PathLike[str]", Iterable[Union[str, "os.PathLike[str]"]]]

_GLOB_CHARS = set("*?[")


def expand_paths(source: Source, *, what: str = "source") -> list[Path]:
    """A path, a glob pattern or a list of them -> list of existing files (globs sorted by name).

    Raises ``FileNotFoundError`` naming the pattern when nothing matches.
    """
    if isinstance(source, (str, bytes, os.PathLike)):
        items: list[object] = [source]
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
        if not isinstance(item, (str, bytes, os.PathLike)):
            raise TypeError(f"{what}: {item!r} in the list is not a path ({type(item).__name__})")
        s = os.fsdecode(item)
        if not s.strip():
            raise FileNotFoundError(f"{what}: the file name is empty")
        if _GLOB_CHARS & set(s):
            hits = sorted(h for h in glob.glob(os.path.expanduser(s)) if os.path.isfile(h))
            if not hits:
                raise FileNotFoundError(f"{what}: no file matches the pattern {s!r}")
            out.extend(Path(h) for h in hits)
        else:
            p = Path(s).expanduser()
            if p.is_dir():
                raise FileNotFoundError(
                    f"{what}: {s!r} is a folder, not a file; give the files in it, e.g. {os.path.join(s, '*.csv')!r}"
                )
            if not p.is_file():
                if p.exists():
                    raise FileNotFoundError(
                        f"{what}: {s!r} is not a regular file (a device, pipe or socket); give a file"
                    )
                raise FileNotFoundError(f"{what}: no such file {s!r}")
            out.append(p)
    return out


#: Members of a ``.zip`` that the readers parse; anything else (``README``, ``.CHECKSUM``) is skipped.
TEXT_SUFFIXES = (".csv", ".json", ".jsonl", ".ndjson")


def _decode(data: bytes, where: str) -> str:
    """UTF-8 (optional BOM) bytes -> text; other encodings are an error naming the file, offset and line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise MarketDataError(
            f"{where}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}, line {line}); "
            "save the file as UTF-8"
        ) from None


def _zip_members(zf: zipfile.ZipFile, path: Path) -> list[zipfile.ZipInfo]:
    files = [
        i
        for i in zf.infolist()
        if not i.is_dir()
        and not i.filename.startswith("__MACOSX/")
        and not PurePosixPath(i.filename).name.startswith("._")
    ]
    members = [i for i in files if PurePosixPath(i.filename).suffix.lower() in TEXT_SUFFIXES]
    if not members:
        held = [i.filename for i in files][:10]
        raise MarketDataError(
            f"{path}: the zip archive holds no CSV or JSON file"
            + (f" (it holds {held})" if held else " (it is empty)")
        )
    limit = memory_limit()
    for i in members:
        if i.file_size > limit:
            raise MarketDataError(
                f"{path}!{i.filename}: expands to {i.file_size:,} bytes, over the memory limit of {limit:,} bytes "
                f"(set {MEMORY_LIMIT_ENV} to raise it)"
            )
    return members


def iter_texts(path: Path) -> Iterator[tuple[str, str]]:
    """Yield ``(name, text)`` for a plain text file or for every CSV / JSON member of a ``.zip``.

    Names are ``"file"`` or ``"archive.zip!member.csv"``. Other members of an archive (``README``,
    ``.CHECKSUM``) are skipped. A damaged or truncated archive, an archive without a CSV or JSON member and
    bytes that are not UTF-8 raise :class:`~heatmap.market.MarketDataError` naming the file (and member).
    """
    if path.suffix.lower() == ".zip":
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
            raise MarketDataError(
                f"{path}: not a readable zip archive ({exc}); the download may be truncated"
            ) from None
        with zf:
            for info in _zip_members(zf, path):
                where = f"{path}!{info.filename}"
                try:
                    data = zf.read(info)
                except (
                    zipfile.BadZipFile,
                    zlib.error,
                    EOFError,
                    NotImplementedError,
                    RuntimeError,
                    ValueError,
                ) as exc:
                    raise MarketDataError(
                        f"{where}: cannot be extracted ({exc}); the archive may be truncated or damaged"
                    ) from None
                yield where, _decode(data, where)
    else:
        limit = memory_limit()
        size = path.stat().st_size
        if size > limit:
            raise MarketDataError(
                f"{path}: {size:,} bytes, over the memory limit of {limit:,} bytes (set {MEMORY_LIMIT_ENV} to raise it)"
            )
        yield str(path), _decode(path.read_bytes(), str(path))


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?")


def _norm(name: object) -> str:
    return str(name).strip().strip('"').strip().lower().replace(" ", "_")


def has_header(text: str, names: Iterable[str] | None = None) -> bool:
    """True when the first non-empty line is a header row (Binance CSVs come with and without).

    A line naming any of ``names`` is a header; otherwise a first field that is neither a number nor a date
    is one.
    """
    known = {_norm(n) for n in names} if names is not None else set()
    for line in text.splitlines():
        if line.strip():
            fields = [_norm(f) for f in line.split(",")]
            if known & set(fields):
                return True
            first = line.split(",", 1)[0].strip().strip('"')
            return not (_is_number(first) or _DATE_RE.match(first))
    return False


def _read(text: str, where: str, *, skiprows: int = 0) -> pd.DataFrame:
    try:
        return pd.read_csv(io.StringIO(text), header=None, skiprows=skiprows, skip_blank_lines=True)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (pd.errors.ParserError, ValueError) as exc:
        detail = " ".join(str(exc).split())
        raise MarketDataError(f"{where}: not a readable CSV table ({detail})") from None


def read_csv_text(
    text: str,
    *,
    names: list[str],
    where: str,
    header: Literal["auto", True, False] = "auto",
    optional: Iterable[str] = (),
) -> pd.DataFrame:
    r"""Parse headerless-or-headed CSV text into the given column ``names``.

    With a header row the columns are taken **by name** (case, surrounding spaces and quotes ignored; the order
    in the file does not matter): every name of ``names`` not in ``optional`` must be present, and unknown or
    repeated names are an error (missing optional columns are NaN). Without a header the columns are taken by
    position and their number must be ``len(names)``. An empty file or a header without rows is an error
    naming the file (``where``).

    Examples
    --------
    >>> read_csv_text("b,a\n2,1\n", names=["a", "b"], where="x.csv").to_dict("records")
    [{'a': 1, 'b': 2}]
    """
    text = text.lstrip("\r\n\t ")
    if not text.strip():
        raise MarketDataError(f"{where}: the file is empty (expected rows of {', '.join(names)})")
    hdr = has_header(text, names) if header == "auto" else bool(header)
    if not hdr:
        df = _read(text, where)
        if df.shape[1] != len(names):
            raise MarketDataError(
                f"{where}: expected {len(names)} columns ({', '.join(names)}), found {df.shape[1]}"
            )
        df.columns = names
        return df
    found = [_norm(c) for c in next(csv.reader([text.splitlines()[0]]))]
    repeated = sorted({c for c in found if found.count(c) > 1})
    if repeated:
        raise MarketDataError(f"{where}: the header names columns {repeated} more than once")
    unknown = [c for c in found if c not in names]
    missing = [n for n in names if n not in found and n not in set(optional)]
    if unknown or missing:
        parts = ([f"missing {missing}"] if missing else []) + ([f"unknown {unknown}"] if unknown else [])
        raise MarketDataError(
            f"{where}: the header {found} does not match the expected columns ({', '.join(names)}): "
            + "; ".join(parts)
        )
    df = _read(text, where, skiprows=1)
    if df.empty:
        raise MarketDataError(f"{where}: the file has a header but no data rows")
    if df.shape[1] != len(found):
        raise MarketDataError(
            f"{where}: the header names {len(found)} columns but the rows have {df.shape[1]} fields"
        )
    df.columns = found
    for n in names:
        if n not in df.columns:
            df[n] = np.nan
    return df[names]


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
    with np.errstate(over="ignore", invalid="ignore"):
        out_of_range = ~(np.abs(a * scale) < 9.2e18)
    if out_of_range.any():
        i = int(np.argmax(out_of_range))
        raise MarketDataError(
            f"{where}: timestamp {float(a[i])!r} (row {i + 1}) is outside the range of dates (1677-2262) in any epoch unit"
        )
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
                guess = guess_time_format(sv)
                hint = advise("time_format", guess) if guess else advise("time_format", "%d-%m-%Y %H:%M")
                raise MarketDataError(
                    f"{where}: cannot parse times such as {sv.iloc[0]!r} (neither epoch numbers nor ISO 8601); "
                    + (hint if guess else hint + " or the pattern that matches")
                ) from exc
    else:
        sv = values.astype(str).str.strip()
        try:
            parsed = pd.DatetimeIndex(pd.to_datetime(sv, format=time_format))
        except (ValueError, TypeError) as exc:
            guess = guess_time_format(sv)
            raise MarketDataError(
                f"{where}: times such as {sv.iloc[0]!r} do not match time_format={time_format!r} ({exc})"
                + (f"; {advise('time_format', guess)}" if guess else "")
            ) from exc
    if parsed.tz is None:
        if not assume_utc:
            raise MarketDataError(
                f"{where}: timestamps have no time zone (e.g. {values.iloc[0]!r}); if they are UTC, "
                + advise("assume_utc", True)
            )
        parsed = parsed.tz_localize("UTC")
    else:
        parsed = parsed.tz_convert("UTC")
    return parsed.as_unit("ns")


#: day-first and month-first patterns tried by :func:`guess_time_format` (ISO 8601 is parsed without a pattern)
_TIME_PATTERNS = tuple(
    f"{d}{t}"
    for d in ("%d-%m-%Y", "%m-%d-%Y", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d")
    for t in (" %H:%M:%S", " %H:%M", "")
)


def guess_time_format(values: pd.Series) -> str | None:
    """The one ``strftime`` pattern among common day-first / month-first forms that parses every value, else None.

    When a day-first and a month-first pattern both parse every value (all days <= 12), the column is ambiguous
    and None is returned.

    Examples
    --------
    >>> guess_time_format(pd.Series(["31-01-2025 00:00", "01-02-2025 00:00"]))
    '%d-%m-%Y %H:%M'
    >>> guess_time_format(pd.Series(["01-02-2025"])) is None   # 1 Feb or 2 Jan
    True
    """
    sv = values.astype(str).str.strip()
    fits = []
    for pattern in _TIME_PATTERNS:
        try:
            pd.to_datetime(sv, format=pattern)
        except (ValueError, TypeError):
            continue
        fits.append(pattern)
    return fits[0] if len(fits) == 1 else None


def check_duplicates(
    df: pd.DataFrame,
    *,
    duplicates: Literal["error", "drop"],
    where: str,
    subset: list[str] | None = None,
    source_col: str | None = None,
) -> pd.DataFrame:
    """Exact duplicate rows (e.g. overlapping daily and monthly files) raise, or are dropped when asked.

    ``source_col`` names a column holding each row's file: it is left out of the comparison and the error names
    the files of the first duplicates.
    """
    if duplicates not in ("error", "drop"):
        raise ValueError(f"duplicates={duplicates!r}; allowed: 'error', 'drop'")
    if subset is None and source_col is not None:
        subset = [c for c in df.columns if c != source_col]
    dup = df.duplicated(subset=subset, keep="first")
    if dup.any():
        if duplicates == "drop":
            return df.loc[~dup]
        files = ""
        if source_col is not None:
            first = df.duplicated(subset=subset, keep=False)
            files = f" in {sorted(set(df.loc[first, source_col].astype(str)))[:4]}"
        raise MarketDataError(
            f"{where}: {int(dup.sum())} exact duplicate rows{files} (overlapping files?); "
            "pass duplicates='drop' to drop them"
        )
    return df
