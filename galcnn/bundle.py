"""Results bundles: everything the analysis, figures and report read, in one verified archive.

A bundle is a gzipped tar whose first member is ``MANIFEST.json``: the format version, the
configuration's *layout* (the keys that decide which result files exist) and the size and
sha256 of every other member: ``config.yaml`` (the resolved configuration of the run),
``provenance.json`` (workflow and library versions, date) and the result files under their
paths in the workflow (``results/...``). The archive is named after a digest of the result
files' names and hashes, so the same results give the same name whenever and wherever they
are packed; the config and provenance are verified but do not enter the digest.

Restoring reads the archive once, in order, and refuses it at the first member that is not a
plain file listed in the manifest under a relative name, or whose bytes differ from it. Files
are staged outside the results folder and moved into place only once every member checked out.
"""

from __future__ import annotations

import datetime
import fnmatch
import gzip
import hashlib
import io
import json
import logging
import platform
import re
import shutil
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import IO
from urllib.parse import urlsplit

import pandas as pd
import yaml

from galcnn import __version__, storage
from galcnn.names import safe_relative_path
from galcnn.paths import MODEL_CONFIG, RESTORE_MARKER
from galcnn.sdss import web

log = logging.getLogger(__name__)

FORMAT = "galcnn-results"
#: Raised whenever a bundle's layout or meaning changes, so an old reader never misreads a new bundle.
FORMAT_VERSION = 1
MANIFEST = "MANIFEST.json"
CONFIG = "config.yaml"
PROVENANCE = "provenance.json"
NAME_PATTERN = re.compile(r"galcnn-results-([0-9a-f]+)\.tar\.gz")
#: Characters of the digest in the archive's name.
SHORT_DIGEST = 12
#: Python packages whose versions the provenance records.
PACKAGES = ("snakemake", "torch", "scikit-learn")
#: Every model's config.json, whose reproducibility record the provenance repeats.
MODEL_CONFIGS = re.sub(r"\{[^}]+\}", "*", MODEL_CONFIG)
#: Largest MANIFEST.json read (a paper-scale run lists a few hundred files: tens of kB).
MAX_MANIFEST_BYTES = 16 << 20
#: Without bundle.max_unpacked_mb, the listed files may total this many times the archive's size
#: (result files compress little; a gzip bomb compresses ~1000x).
DEFAULT_UNPACK_RATIO = 20


class BundleError(ValueError):
    """A bundle that cannot be restored into this configuration; the message names the file or key."""


def layout(config: Mapping) -> dict:
    """The configuration keys that decide which result files exist and what they mean; a bundle
    restores only into a configuration that agrees on every one (lists compared as sets)."""
    return {
        "survey": config["survey"],
        "targets": sorted(config["targets"]),
        "bands": sorted(config["bands"]),
        "resolutions": sorted(config["resolutions"]),
        "resolution_study.targets": sorted(config["resolution_study"]["targets"]),
        "resolution_study.bands": sorted(config["resolution_study"]["bands"]),
        "folds": config["folds"],
        "cutouts.size": config["cutouts"]["size"],
        # What a pixel is: one scale for all, or each galaxy framed by its petroR90_r.
        **_framing(config["cutouts"]),
    }


def _framing(cutouts: Mapping) -> dict:
    framing = cutouts.get("framing", "fixed")
    if framing == "fixed":
        return {"cutouts.framing": framing, "cutouts.scale": cutouts.get("scale")}
    return {"cutouts.framing": framing, "cutouts.framing_factor": cutouts["framing_factor"]}


def results_digest(files: Mapping[str, Mapping]) -> str:
    """sha256 over the format version and the names and hashes of the result files."""
    listing = {
        name: entry["sha256"] for name, entry in files.items() if name.startswith("results/")
    }
    return hashlib.sha256(
        json.dumps([FORMAT_VERSION, listing], sort_keys=True).encode()
    ).hexdigest()


def provenance(repo_dir: str | Path, config: Mapping, files: Iterable[str] = ()) -> dict:
    """Where the results came from: the workflow's release (``galcnn.__version__``) and its
    ``git describe`` ("unknown" outside git), the Python and library versions, the date the
    bundle was made, and the run's ``reproducibility`` mode with what each bundled model's
    config.json says its bits depend on (instruction set, threads, versions:
    :func:`galcnn.cnn.runtime.provenance`)."""
    try:
        version = (
            subprocess.run(
                ["git", "describe", "--always", "--tags", "--dirty"],
                cwd=repo_dir,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            or "unknown"
        )
    except (OSError, subprocess.CalledProcessError):
        version = "unknown"
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = "not installed"
    models = {
        name: json.loads(Path(name).read_text())["reproducibility"]
        for name in sorted(files)
        if fnmatch.fnmatchcase(name, MODEL_CONFIGS)
    }
    return {
        "galcnn_version": __version__,
        "workflow_version": version,
        "python": platform.python_version(),
        **packages,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "reproducibility": {"mode": config["reproducibility"], "models": models},
    }


def _entry(data: bytes) -> dict:
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _columns_only(path: str, columns: Sequence[str]) -> bytes:
    buffer = io.BytesIO()
    pd.read_parquet(path, columns=list(columns)).to_parquet(buffer, index=False)
    return buffer.getvalue()


def make_bundle(
    files: Iterable[str],
    config: Mapping,
    out_dir: str | Path,
    *,
    columns: Mapping[str, Sequence[str]] | None = None,
) -> Path:
    """Pack ``files`` (paths relative to the workflow's folder, stored under the same names)
    into ``out_dir/galcnn-results-<digest>.tar.gz`` and return its path.

    ``columns`` maps a Parquet file to the only columns the analysis reads from it (the
    catalogue): the bundle carries just those. Members get fixed times and owners and the
    gzip stream no timestamp, so two packings of the same files differ only in the date in
    ``provenance.json``. The working directory is the workflow's folder (as in a job).
    """
    columns = dict(columns or {})
    payload: dict[str, bytes | Path] = {}
    for name in sorted(set(files)):
        _check_name(name)
        payload[name] = _columns_only(name, columns[name]) if name in columns else Path(name)
    unknown = set(columns) - set(payload)
    if unknown:
        raise ValueError(f"columns given for files that are not bundled: {sorted(unknown)}")
    meta = {
        CONFIG: yaml.safe_dump(dict(config), sort_keys=True).encode(),
        PROVENANCE: (
            json.dumps(provenance(".", config, payload), indent=2, sort_keys=True) + "\n"
        ).encode(),
    }
    entries = {name: _entry(data) for name, data in meta.items()}
    for name, data in payload.items():
        if isinstance(data, bytes):
            entries[name] = _entry(data)
        else:
            with open(data, "rb") as stream:
                size, sha = storage.sha256_stream(stream)
            entries[name] = {"size": size, "sha256": sha}
    digest = results_digest(entries)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "digest": digest,
        "layout": layout(config),
        "files": entries,
    }
    out = Path(out_dir) / f"galcnn-results-{digest[:SHORT_DIGEST]}.tar.gz"
    with (
        storage.atomic_path(out) as tmp,
        open(tmp, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        _add(tar, MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
        for name, data in meta.items():
            _add(tar, name, data)
        for name, data in payload.items():
            if isinstance(data, bytes):
                _add(tar, name, data)
            else:
                with open(data, "rb") as stream:
                    tar.addfile(_member(name, entries[name]["size"]), stream)
    log.info(
        "bundle %s: %d result files, %.1f MB (layout %s)",
        out,
        len(payload),
        out.stat().st_size / 1e6,
        manifest["layout"],
    )
    return out


def _member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, 0
    return info


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(_member(name, len(data)), io.BytesIO(data))


def _check_name(name: str) -> None:
    """Relative POSIX names of plain parts only (:func:`galcnn.names.safe_relative_path`):
    no absolute path, no '..', nothing that would land outside the workflow's folder."""
    try:
        safe_relative_path(name, "bundle member")
    except ValueError:
        raise BundleError(
            f"{name!r}: not a plain relative path ('/'-separated names of letters, digits, '_', '-' "
            "and '.' inside); the bundle would write outside the workflow's folder or under an odd name"
        ) from None


def restore_bundle(
    source: str,
    outputs: Sequence[str],
    expected_layout: Mapping,
    *,
    max_unpacked_mb: float | None = None,
) -> dict:
    """Fetch (URL) or open (local path) the bundle ``source``, verify every member against its
    manifest and the manifest against ``expected_layout``, then write ``outputs`` (paths in the
    workflow, each of which the bundle must hold) from it. Returns the manifest.

    The files the manifest lists may total at most ``max_unpacked_mb`` MB (default
    :data:`DEFAULT_UNPACK_RATIO` × the archive's size). Raises :class:`BundleError` naming the
    member, file, key or size at fault; nothing is written then. Members the configuration does
    not need (e.g. model weights) are verified, not written. Before the files move into place,
    :data:`galcnn.paths.RESTORE_MARKER` records that the results come from this bundle.
    """
    if Path(source).is_dir():
        raise BundleError(
            f"{source} is a folder; config bundle takes one archive, galcnn-results-<digest>.tar.gz "
            "(`snakemake bundle` writes it into results/bundle/)"
        )
    with tempfile.TemporaryDirectory(prefix="galcnn-bundle-") as staging:
        staging = Path(staging)
        if urlsplit(source).scheme in ("http", "https"):
            archive = _fetch(source, staging / "bundle.tar.gz", max_unpacked_mb)
        else:
            archive = Path(source)
        limit = (
            int(max_unpacked_mb * 1e6)
            if max_unpacked_mb is not None
            else DEFAULT_UNPACK_RATIO * archive.stat().st_size
        )
        manifest = _verified_extract(
            archive, source, set(outputs), staging / "files", expected_layout, limit
        )
        storage.write_json(
            RESTORE_MARKER,
            {"source": source, "digest": manifest["digest"], "files": sorted(outputs)},
        )
        for name in outputs:
            with storage.atomic_path(name) as tmp:
                shutil.move(staging / "files" / name, tmp)
    log.info(
        "restored %d files from %s (digest %s, %d files verified)",
        len(outputs),
        source,
        manifest["digest"][:SHORT_DIGEST],
        len(manifest["files"]),
    )
    return manifest


def _fetch(url: str, dest: Path, max_unpacked_mb: float | None) -> Path:
    """Download a bundle, asking for it as stored (identity encoding; a server that gzips it
    anyway has it decoded, and :func:`_verified_extract` reads the plain tar too), refusing an
    HTML page. The decoded body is capped like the unpacked files (bundle.max_unpacked_mb)."""
    try:
        return web.download_file(
            url,
            dest,
            retries=5,
            headers={"Accept-Encoding": "identity"},
            check=_not_html,
            **({"max_bytes": int(max_unpacked_mb * 1e6)} if max_unpacked_mb else {}),
        )
    except ValueError as err:
        raise BundleError(f"{url}: {err}") from None


def _not_html(path: Path) -> None:
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head.lstrip().lower().startswith((b"<!doctype", b"<html")) or b"<html" in head.lower():
        raise ValueError(
            f"the server sent an HTML page ({path.stat().st_size} bytes), not a bundle; "
            "a login, error or download page: give the archive's direct URL"
        )


def _verified_extract(
    archive: Path,
    source: str,
    wanted: set[str],
    dest: Path,
    expected_layout: Mapping,
    max_unpacked: int,
) -> dict:
    """Stream ``archive`` once: check the manifest, then each member; stage ``wanted`` under ``dest``."""
    seen: set[str] = set()
    manifest = None
    # Over HTTP a server may have sent the archive with Content-Encoding: gzip, which the
    # client decoded: the body is then the plain tar. A local file must be the .tar.gz.
    mode = "r|*" if urlsplit(source).scheme in ("http", "https") else "r|gz"
    try:
        with tarfile.open(archive, mode=mode) as tar:
            for member in tar:
                if manifest is None:
                    if member.name != MANIFEST or not member.isfile():
                        raise BundleError(
                            f"{source}: the first member is {member.name!r}, "
                            f"not {MANIFEST}; not a galcnn results bundle"
                        )
                    if member.size > MAX_MANIFEST_BYTES:
                        raise BundleError(
                            f"{source}: {MANIFEST} is {member.size} bytes; a manifest is at most "
                            f"{MAX_MANIFEST_BYTES} bytes (a few hundred files need a few tens of kB)"
                        )
                    manifest = _read_manifest(tar.extractfile(member).read(), source)
                    _check_layout(manifest["layout"], expected_layout, source)
                    total = sum(e["size"] for e in manifest["files"].values())
                    if total > max_unpacked:
                        raise BundleError(
                            f"{source}: {MANIFEST} lists {total} bytes of files, more than the "
                            f"{max_unpacked} bytes accepted (config bundle.max_unpacked_mb; default "
                            f"{DEFAULT_UNPACK_RATIO} x the archive's size); raise it if the bundle is trusted"
                        )
                    continue
                name = member.name
                _check_name(name)
                if not member.isfile():
                    kind = "a link" if member.issym() or member.islnk() else "not a regular file"
                    raise BundleError(
                        f"{source}: member {name!r} is {kind}; a bundle holds plain files only"
                    )
                entry = manifest["files"].get(name)
                if entry is None:
                    raise BundleError(f"{source}: member {name!r} is not listed in {MANIFEST}")
                if name in seen:
                    raise BundleError(f"{source}: member {name!r} appears twice")
                # The header says how much follows: refuse before streaming a byte of it.
                if member.size != entry["size"]:
                    raise BundleError(
                        f"{source}: member {name!r} is {member.size} bytes, {MANIFEST} lists "
                        f"{entry['size']} bytes: the file was altered"
                    )
                seen.add(name)
                stream = tar.extractfile(member)
                if name in wanted:
                    target = dest / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with open(target, "wb") as out:
                        size, sha = storage.sha256_stream(_Tee(stream, out))
                else:
                    size, sha = storage.sha256_stream(stream)
                if (size, sha) != (entry["size"], entry["sha256"]):
                    raise BundleError(
                        f"{source}: {name} does not match {MANIFEST} ({size} bytes, sha256 {sha[:16]}…; "
                        f"listed {entry['size']} bytes, sha256 {entry['sha256'][:16]}…): the file was altered"
                    )
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise BundleError(
            f"{source}: truncated or not a .tar.gz archive ({err}); download it again"
        ) from err
    if manifest is None:
        raise BundleError(f"{source}: empty archive, no {MANIFEST}")
    missing = sorted(set(manifest["files"]) - seen)
    if missing:
        raise BundleError(
            f"{source}: {MANIFEST} lists {missing[:5]} ({len(missing)} files) that the archive does not hold"
        )
    lacking = sorted(wanted - seen)
    if lacking:
        raise BundleError(
            f"{source}: the configuration needs {lacking[:5]} ({len(lacking)} files) that the bundle does not hold "
            f"(model weights are bundled only with bundle.include_models: true)"
        )
    return manifest


class _Tee:
    """A readable stream that copies what is read from ``stream`` into ``sink``."""

    def __init__(self, stream: IO[bytes], sink: IO[bytes]):
        self.stream, self.sink = stream, sink

    def read(self, size: int = -1) -> bytes:
        block = self.stream.read(size)
        self.sink.write(block)
        return block


def _read_manifest(data: bytes, source: str) -> dict:
    try:
        manifest = json.loads(data)
        files = manifest["files"]
        kind, version, digest = manifest["format"], manifest["format_version"], manifest["digest"]
        # A negative size would offset a huge one in the unpacked total.
        bad = [
            n
            for n, e in files.items()
            if not (
                type(e.get("size")) is int and e["size"] >= 0 and isinstance(e.get("sha256"), str)
            )
        ]
        if not isinstance(manifest["layout"], dict) or bad:
            raise TypeError(f"entries without a size (bytes, 0 or more) and sha256: {bad[:5]}")
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise BundleError(
            f"{source}: {MANIFEST} is not a galcnn results manifest ({type(err).__name__}: {err})"
        ) from err
    if kind != FORMAT:
        raise BundleError(f"{source}: {MANIFEST} format is {kind!r}, not {FORMAT!r}")
    if version != FORMAT_VERSION:
        raise BundleError(
            f"{source}: {MANIFEST} format_version is {version!r}; this workflow reads format_version {FORMAT_VERSION}. "
            f"Use the workflow version that made the bundle (provenance.json) or make the bundle again"
        )
    for name in files:
        _check_name(name)
    if results_digest(files) != digest:
        raise BundleError(
            f"{source}: {MANIFEST} digest {digest[:SHORT_DIGEST]} does "
            "not match its own file list; the manifest was altered"
        )
    named = NAME_PATTERN.fullmatch(PurePosixPath(urlsplit(source).path).name)
    if named and not digest.startswith(named.group(1)):
        raise BundleError(
            f"{source}: the name says digest {named.group(1)} but {MANIFEST} has {digest[:SHORT_DIGEST]}"
        )
    return manifest


def _check_layout(found: Mapping, expected: Mapping, source: str) -> None:
    for key, want in expected.items():
        have = found.get(key, "(absent)")
        if have != want:
            raise BundleError(
                f"{source}: the bundle was made with {key} = {have}, the configuration asks for {want}"
            )
