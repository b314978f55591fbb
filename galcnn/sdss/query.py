"""The catalogue query: the paper's SQL, sent to SkyServer through astroquery.

The query (draft 002, section 3) is a template (``query.sql``) whose select list
is :data:`galcnn.catalog.SQL_COLUMNS` and whose ``WHERE`` clause is the config's
cuts rendered by :func:`galcnn.catalog.sql_where`, so the numbers in the SQL are
the numbers the merged catalogue is re-checked against. The sky is split into
right-ascension ranges so every partition stays far below SkyServer's limits on
rows and run time per query; the partitions are merged, de-duplicated and typed
by :func:`merge_partitions`.
"""

from __future__ import annotations

import logging
import re
import string
from pathlib import Path

import pandas as pd
import requests

from galcnn import catalog, storage
from galcnn.sdss import web

log = logging.getLogger(__name__)

TEMPLATE = Path(__file__).with_name("query.sql")


class QueryError(RuntimeError):
    """SkyServer refused or failed a query; the message carries the SQL."""


def ra_range(part: int, n_parts: int) -> tuple[float, float]:
    """Partition ``part`` of ``n_parts`` covers ``lo <= ra < hi`` with ``lo = 360 part / n``."""
    if not 0 <= part < n_parts:
        raise ValueError(f"partition {part} is outside 0..{n_parts - 1}")
    return 360.0 * part / n_parts, 360.0 * (part + 1) / n_parts


def render_sql(
    cuts: dict, part: int | None = None, n_parts: int = 1, into: str | None = None
) -> str:
    """The paper's SQL for config ``query.cuts``, optionally one RA partition and ``INTO`` a table.

    Every number goes through :func:`galcnn.catalog.sql_number`, which refuses
    anything that is not a finite number, and ``into`` must be a plain
    identifier (``mydb.Name``), so no config text reaches the SQL unchecked.
    """
    where = catalog.sql_where(catalog.quality_cuts(cuts))
    if part is not None:
        lo, hi = ra_range(part, n_parts)
        where += f"\n  AND (G.ra >= {catalog.sql_number(lo)} AND G.ra < {catalog.sql_number(hi)})"
    if into is not None and not re.fullmatch(r"(?:mydb\.)?[A-Za-z_][A-Za-z0-9_]*", into):
        raise ValueError(f"table name {into!r} is not an identifier like mydb.SDSSspecgalsDR14")
    columns = ",\n  ".join(catalog.SQL_COLUMNS.values())
    text = string.Template(TEMPLATE.read_text()).substitute(
        columns=columns, into=f"INTO {into}" if into else "", where=where
    )
    return "\n".join(line for line in text.splitlines() if line.strip()) + "\n"


def query_skyserver(
    sql: str,
    *,
    url: str,
    data_release: int,
    retries: int,
    timeout: float = 600.0,
    backoff: float = 10.0,
    max_backoff: float = 600.0,
) -> pd.DataFrame:
    """Run ``sql`` on SkyServer's SQL search (``{url}/dr{N}/en/tools/search/x_results.aspx``).

    Timeouts, dropped connections, 408, 429 and 5xx are retried up to ``retries``
    attempts in all by :func:`galcnn.sdss.web.retrying` (``backoff * 2**k`` seconds,
    jittered, at most ``max_backoff``, at least the server's Retry-After). A SkyServer
    error message (bad SQL, the server's own time limit) is not retried: it raises
    :class:`QueryError` with the SQL. An empty result is an empty frame with the catalogue's columns.
    """
    from astroquery.exceptions import RemoteServiceError
    from astroquery.sdss import SDSS, conf

    def attempt(n: int) -> pd.DataFrame:
        try:
            # The SQL URL is built from this root at call time (astroquery sdss/core.py
            # _get_query_url), so a mirror or a test server can stand in for SkyServer.
            with conf.set_temp("skyserver_baseurl", url.rstrip("/")):
                table = SDSS.query_sql(sql, data_release=data_release, timeout=timeout, cache=False)
        except RemoteServiceError as exc:
            raise QueryError(
                f"SkyServer refused the query: {_error_text(str(exc))}\nSQL:\n{sql}"
            ) from None
        except requests.HTTPError as exc:
            resp = exc.response
            status = resp.status_code if resp is not None else None
            if status not in web.RETRY_STATUS:
                raise QueryError(
                    f"SkyServer answered HTTP {status} to the query\nSQL:\n{sql}"
                ) from None
            raise web.Retry(f"HTTP {status}", web.Reply(status, resp.headers, b"")) from None
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise web.Retry(f"{type(exc).__name__}: {exc}") from None
        frame = _to_frame(table)
        log.info("query returned %d rows (attempt %d)", len(frame), n)
        return frame

    return web.retrying(
        attempt,
        retries=retries,
        backoff=backoff,
        max_backoff=max_backoff,
        what="SkyServer query",
        final=lambda last: QueryError(
            f"SkyServer query failed {retries} times, last: {last.reason}\nSQL:\n{sql}"
        ),
    )


def query_partition(
    cuts: dict, part: int, n_parts: int, out_parquet: str | Path, out_sql: str | Path, **kwargs
) -> pd.DataFrame:
    """Query one RA partition; write its rows and the exact SQL sent."""
    sql = render_sql(cuts, part, n_parts)
    lo, hi = ra_range(part, n_parts)
    log.info("partition %d of %d: %g <= ra < %g", part, n_parts, lo, hi)
    frame = query_skyserver(sql, **kwargs)
    storage.write_text(out_sql, sql)
    storage.write_parquet(out_parquet, frame)
    return frame


def merge_partitions(
    parts: list[str | Path],
    sqls: list[str | Path],
    cuts: dict,
    out_catalog: str | Path,
    out_sql: str | Path,
) -> pd.DataFrame:
    """Merge partition tables (and their SQL files, in the same order) into the typed
    catalogue and write the SQL that made it.

    A galaxy with several spectra appears once per spectrum; the one with the
    lowest specObjID is kept (the count dropped is logged). The cuts are re-checked
    on the returned rows, so a server that ignored part of the ``WHERE`` clause
    cannot slip galaxies in unnoticed. No galaxy left is an error, and nothing is written.
    """
    frames, sql_texts = [], []
    if len(sqls) != len(parts):
        raise ValueError(
            f"{len(parts)} partition tables but {len(sqls)} SQL files; give one SQL file per partition"
        )
    for i, (path, sql_path) in enumerate(zip(parts, sqls)):
        frame = pd.read_parquet(path)
        frames.append(frame)
        sql_texts.append(
            f"-- partition {i + 1} of {len(parts)}: {len(frame)} rows\n{Path(sql_path).read_text().rstrip()};\n"
        )
    merged = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=list(catalog.CATALOG_COLUMNS))
    )
    n_rows = len(merged)
    merged = merged.sort_values(["objID", "specObjID"], kind="stable").drop_duplicates(
        "objID", keep="first"
    )
    if len(merged) < n_rows:
        log.info(
            "dropped %d extra spectra of galaxies already in the catalogue", n_rows - len(merged)
        )
    typed = catalog.check_catalog(merged)
    kept = catalog.apply_cuts(typed, catalog.quality_cuts(cuts))
    if len(kept) < len(typed):
        log.warning(
            "%d returned rows fail the cuts the query asked for; they are removed",
            len(typed) - len(kept),
        )
    log.info("catalogue: %d galaxies from %d partitions", len(kept), len(parts))
    if kept.empty:
        raise ValueError(
            f"the query returned no galaxies passing the cuts ({n_rows} rows from {len(parts)} partitions); "
            "check sdss.url, sdss.data_release and query.cuts (the SQL sent is in each partition's .sql file)"
        )
    storage.write_parquet(out_catalog, kept)
    storage.write_text(out_sql, "\n".join(sql_texts))
    return kept


def _to_frame(table) -> pd.DataFrame:
    """An astropy table (or None, astroquery's empty result) as a frame with the catalogue's columns."""
    if table is None:
        return pd.DataFrame(
            {
                c: pd.Series(dtype="int64" if c in catalog.INTEGER_COLUMNS else "float64")
                for c in catalog.CATALOG_COLUMNS
            }
        )
    frame = table.to_pandas()
    # SQL Server names result columns as the tables spell them; match without regard to case.
    by_lower = {c.lower(): c for c in catalog.CATALOG_COLUMNS}
    frame = frame.rename(columns=lambda c: by_lower.get(c.lower(), c))
    missing = [c for c in catalog.CATALOG_COLUMNS if c not in frame.columns]
    if missing:
        raise QueryError(f"SkyServer result lacks columns {missing}; got {list(frame.columns)}")
    frame = frame.loc[:, list(catalog.CATALOG_COLUMNS)]
    for col in catalog.CATALOG_COLUMNS:
        frame[col] = pd.to_numeric(frame[col], errors="raise")
        frame[col] = frame[col].astype("int64" if col in catalog.INTEGER_COLUMNS else "float64")
    return frame


def _error_text(text: str, limit: int = 2000) -> str:
    """The readable part of a SkyServer error page (tags and runs of blanks removed)."""
    plain = re.sub(r"<script.*?</script>|<style.*?</style>", " ", text, flags=re.S | re.I)
    plain = re.sub(r"<[^>]+>", " ", plain)
    plain = re.sub(r"\s+", " ", plain).strip()
    return plain if len(plain) <= limit else plain[:limit] + " ..."
