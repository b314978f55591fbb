"""Results bundles: packing, restoring, and every way a bundle can be refused."""

from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from servers import FileServer

import galcnn
from galcnn import bundle as gb
from galcnn import paths

CONFIG = {
    "survey": "mock",
    "targets": ["oh_p50", "lgm_tot_p50"],
    "bands": ["gri"],
    "resolutions": [4, 1],
    "resolution_study": {"targets": ["oh_p50"], "bands": ["gri"]},
    "folds": 2,
    "reproducibility": "portable",
    "cutouts": {"size": 128, "framing": "petrosian", "framing_factor": 2},
    "mmr": {"step": 0.2},
}
CATALOG = "results/catalog/galaxies.parquet"
PREDICTIONS = "results/predictions/oh_p50/gri/4px.parquet"
SUMMARY = "results/tables/summary.csv"
#: What a restore into CONFIG writes (the table is bundled for comparison only).
RESTORED = [CATALOG, PREDICTIONS]
#: Beside them, the record that they come from a bundle (a later restore may replace them).
MARKER = "results/.restored-from-bundle.json"


def write_results(root: Path) -> None:
    rng = np.random.default_rng(0)
    for path in (CATALOG, PREDICTIONS, SUMMARY):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "objID": np.arange(50),
            "lgm_tot_p50": rng.normal(10, 0.5, 50),
            "ra": rng.uniform(0, 360, 50),
        }
    ).to_parquet(root / CATALOG)
    pd.DataFrame(
        {"objID": np.arange(10), "true": rng.normal(9, 0.1, 10), "pred": rng.normal(9, 0.1, 10)}
    ).to_parquet(root / PREDICTIONS)
    (root / SUMMARY).write_text("method,rmse\ncnn,0.1\n")


@pytest.fixture
def packed(tmp_path, monkeypatch) -> Path:
    """A bundle of a small results folder (catalogue reduced to the analysis' columns)."""
    src = tmp_path / "run"
    write_results(src)
    monkeypatch.chdir(src)
    return gb.make_bundle(
        [CATALOG, PREDICTIONS, SUMMARY],
        CONFIG,
        "results/bundle",
        columns={CATALOG: ["objID", "lgm_tot_p50"]},
    ).resolve()


@pytest.fixture
def fresh(tmp_path, monkeypatch) -> Path:
    """An empty workflow folder to restore into (the working directory from here on)."""
    dest = tmp_path / "fresh"
    dest.mkdir()
    monkeypatch.chdir(dest)
    return dest


def restore(source, outputs=RESTORED, config=CONFIG):
    return gb.restore_bundle(str(source), outputs, gb.layout(config))


def members(archive: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(archive, "r:gz") as tar:
        return [(m, tar.extractfile(m).read() if m.isfile() else b"") for m in tar.getmembers()]


def repack(archive: Path, dest: Path, items: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(dest, "w:gz") as tar:
        for info, data in items:
            if info.isfile():
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return dest


def edit(archive: Path, dest: Path, name: str, change) -> Path:
    """A copy of ``archive`` in which member ``name``'s bytes are ``change(bytes)``."""
    return repack(
        archive, dest, [(i, change(d) if i.name == name else d) for i, d in members(archive)]
    )


def edit_manifest(archive: Path, dest: Path, change) -> Path:
    def rewrite(data):
        manifest = json.loads(data)
        change(manifest)
        return json.dumps(manifest).encode()

    return edit(archive, dest, gb.MANIFEST, rewrite)


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_round_trip_restores_the_needed_files_verbatim(packed, fresh):
    src = packed.parents[2]
    assert gb.NAME_PATTERN.fullmatch(packed.name)
    manifest = restore(packed)
    assert (fresh / PREDICTIONS).read_bytes() == (src / PREDICTIONS).read_bytes()
    # the catalogue carries only the columns the analysis reads
    assert list(pd.read_parquet(fresh / CATALOG).columns) == ["objID", "lgm_tot_p50"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(fresh / CATALOG),
        pd.read_parquet(src / CATALOG, columns=["objID", "lgm_tot_p50"]),
    )
    # the table is verified and kept in the bundle, not written
    assert sorted(p.relative_to(fresh).as_posix() for p in files_under(fresh)) == sorted(
        [*RESTORED, MARKER]
    )
    assert set(manifest["files"]) == {gb.CONFIG, gb.PROVENANCE, CATALOG, PREDICTIONS, SUMMARY}
    assert manifest["layout"] == gb.layout(CONFIG)
    names = [m.name for m, _ in members(packed)]
    assert names[0] == gb.MANIFEST and len(names) == len(set(names)) == 6
    provenance = json.loads(dict((m.name, d) for m, d in members(packed))[gb.PROVENANCE])
    assert {"workflow_version", "python", "snakemake", "torch", "scikit-learn", "date"} <= set(
        provenance
    )
    assert provenance["galcnn_version"] == galcnn.__version__
    assert provenance["reproducibility"] == {"mode": "portable", "models": {}}


def test_provenance_repeats_each_bundled_models_reproducibility_record(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = "results/models/oh_p50/gri/4px/fold0/config.json"
    record = {"mode": "portable", "cpu_capability": "AVX2", "intra_op_threads": 1}
    Path(name).parent.mkdir(parents=True)
    Path(name).write_text(json.dumps({"fold": 0, "reproducibility": record}))
    Path("results/other.json").write_text("{}")
    found = gb.provenance(tmp_path, CONFIG, [name, "results/other.json"])
    assert found["reproducibility"] == {"mode": "portable", "models": {name: record}}


def test_same_results_give_the_same_name_and_other_results_another(packed):
    again = gb.make_bundle(
        [CATALOG, PREDICTIONS, SUMMARY],
        CONFIG,
        "elsewhere",
        columns={CATALOG: ["objID", "lgm_tot_p50"]},
    )
    assert again.name == packed.name  # the date in provenance.json does not enter the digest
    Path(SUMMARY).write_text("method,rmse\ncnn,0.2\n")
    other = gb.make_bundle(
        [CATALOG, PREDICTIONS, SUMMARY],
        CONFIG,
        "other",
        columns={CATALOG: ["objID", "lgm_tot_p50"]},
    )
    assert other.name != packed.name


def test_a_tampered_file_is_named_and_nothing_is_written(packed, fresh, tmp_path):
    bad = edit(packed, tmp_path / "bad.tar.gz", PREDICTIONS, lambda d: d[:-20] + bytes(20))
    with pytest.raises(
        gb.BundleError, match=f"{PREDICTIONS} does not match MANIFEST.json.*altered"
    ):
        restore(bad)
    assert files_under(fresh) == []


def test_a_truncated_archive_is_refused(packed, fresh, tmp_path):
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(packed.read_bytes()[: packed.stat().st_size // 2])
    with pytest.raises(gb.BundleError, match="cut.tar.gz: truncated or not a .tar.gz archive"):
        restore(cut)
    assert files_under(fresh) == []


def test_a_manifest_that_does_not_match_the_archive_is_refused(packed, fresh, tmp_path):
    dropped = repack(
        packed,
        tmp_path / "dropped.tar.gz",
        [(i, d) for i, d in members(packed) if i.name != SUMMARY],
    )
    with pytest.raises(gb.BundleError, match=f"lists \\['{SUMMARY}'\\].*does not hold"):
        restore(dropped)
    # a manifest edited to match an altered file no longer matches its own digest
    forged = edit_manifest(
        packed,
        tmp_path / "forged.tar.gz",
        lambda m: m["files"][PREDICTIONS].update(sha256="0" * 64),
    )
    with pytest.raises(gb.BundleError, match="digest .* does not match its own file list"):
        restore(forged)
    # a consistent manifest for other results under this archive's name
    renamed = tmp_path / f"galcnn-results-{'0' * gb.SHORT_DIGEST}.tar.gz"
    renamed.write_bytes(packed.read_bytes())
    with pytest.raises(gb.BundleError, match=f"name says digest {'0' * gb.SHORT_DIGEST}"):
        restore(renamed)
    assert files_under(fresh) == []


def test_a_bundle_lacking_a_file_the_configuration_needs_is_refused(packed, fresh):
    with pytest.raises(
        gb.BundleError, match="needs \\['results/predictions/oh_p50/gri/1px.parquet'\\]"
    ):
        restore(packed, outputs=[*RESTORED, "results/predictions/oh_p50/gri/1px.parquet"])
    assert files_under(fresh) == []


@pytest.mark.parametrize(
    ("key", "change"),
    [
        ("targets", {"targets": ["oh_p50"]}),
        ("bands", {"bands": ["gri", "r"]}),
        ("resolutions", {"resolutions": [8, 4, 1]}),
        ("cutouts.size", {"cutouts": {"size": 64, "framing": "petrosian", "framing_factor": 2}}),
        # Images framed per galaxy are not images at one fixed scale.
        ("cutouts.framing", {"cutouts": {"size": 128, "framing": "fixed", "scale": 0.296}}),
        (
            "cutouts.framing_factor",
            {"cutouts": {"size": 128, "framing": "petrosian", "framing_factor": 3}},
        ),
        ("survey", {"survey": "sdss"}),
    ],
)
def test_a_bundle_from_another_configuration_is_refused_naming_the_key(packed, fresh, key, change):
    with pytest.raises(gb.BundleError, match=f"made with {key} = .*configuration asks for"):
        restore(packed, config={**CONFIG, **change})
    assert files_under(fresh) == []


def test_an_analysis_setting_does_not_matter_to_the_bundle(packed, fresh):
    restore(packed, config={**CONFIG, "mmr": {"step": 0.1}, "seed": 3})
    assert (fresh / PREDICTIONS).exists()


def test_another_format_version_is_refused(packed, fresh, tmp_path):
    newer = edit_manifest(
        packed, tmp_path / "newer.tar.gz", lambda m: m.update(format_version=gb.FORMAT_VERSION + 1)
    )
    with pytest.raises(
        gb.BundleError,
        match=f"format_version is {gb.FORMAT_VERSION + 1}; this workflow reads format_version {gb.FORMAT_VERSION}",
    ):
        restore(newer)
    assert files_under(fresh) == []


def extra_member(packed: Path, dest: Path, info: tarfile.TarInfo, data: bytes = b"") -> Path:
    return repack(packed, dest, [*members(packed), (info, data)])


@pytest.mark.parametrize(
    ("name", "kind", "message"),
    [
        ("../outside.txt", tarfile.REGTYPE, "not a plain relative path"),
        ("/tmp/outside.txt", tarfile.REGTYPE, "not a plain relative path"),
        ("results/a/../../outside.txt", tarfile.REGTYPE, "not a plain relative path"),
        ("results/catalog/link.parquet", tarfile.SYMTYPE, "is a link"),
        ("results/catalog/hard.parquet", tarfile.LNKTYPE, "is a link"),
        ("results/extra.csv", tarfile.REGTYPE, "is not listed in MANIFEST.json"),
    ],
)
def test_unsafe_or_unlisted_members_are_refused(packed, fresh, tmp_path, name, kind, message):
    info = tarfile.TarInfo(name)
    info.type = kind
    if kind != tarfile.REGTYPE:
        info.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else CATALOG
    bad = extra_member(
        packed, tmp_path / "bad.tar.gz", info, b"x" if kind == tarfile.REGTYPE else b""
    )
    with pytest.raises(
        gb.BundleError,
        match=f"member {re.escape(repr(name))} .*{message}"
        if "relative" not in message
        else f"{re.escape(repr(name))}: {message}",
    ):
        restore(bad)
    assert files_under(fresh) == []
    assert not (tmp_path / "outside.txt").exists()


def test_an_archive_without_manifest_first_is_refused(packed, fresh, tmp_path):
    items = members(packed)
    shuffled = repack(packed, tmp_path / "late.tar.gz", items[1:] + items[:1])
    with pytest.raises(gb.BundleError, match="first member is 'config.yaml', not MANIFEST.json"):
        restore(shuffled)
    not_gzip = tmp_path / "plain.tar.gz"
    not_gzip.write_bytes(gzip.decompress(packed.read_bytes()))
    with pytest.raises(gb.BundleError, match="truncated or not a .tar.gz"):
        restore(not_gzip)


def test_a_bundle_url_is_fetched_with_retries_and_verified(packed, fresh):
    path = f"/files/{packed.name}"
    with FileServer({path: packed.read_bytes()}, faults={path: ["503", "truncated"]}) as server:
        restore(server.url + path)
        assert server.requests == [path] * 3  # a 503, a broken transfer, then the archive
        assert sorted(p.relative_to(fresh).as_posix() for p in files_under(fresh)) == sorted(
            [*RESTORED, MARKER]
        )
        with pytest.raises(OSError, match="404 Client Error"):
            restore(server.url + "/files/missing.tar.gz")


def test_a_bundle_served_with_content_encoding_gzip_restores(packed, fresh, caplog):
    """A store that keeps the .tar.gz with Content-Encoding: gzip has the client decode it."""
    path = f"/files/{packed.name}"
    with FileServer({path: packed.read_bytes()}, faults={path: "gzip"}) as server:
        restore(server.url + path)
        assert server.headers[0].get("Accept-Encoding") == "identity"
    assert (fresh / PREDICTIONS).is_file() and (fresh / MARKER).is_file()


def test_an_html_page_for_a_bundle_is_named_as_such(packed, fresh):
    path = f"/files/{packed.name}"
    with FileServer({path: packed.read_bytes()}, faults={path: "html"}) as server:
        with pytest.raises(gb.BundleError, match="the server sent an HTML page"):
            restore(server.url + path)
    assert files_under(fresh) == []


def test_redirects_are_logged_and_loops_or_file_urls_refused(packed, fresh, caplog):
    path = f"/files/{packed.name}"
    faults = {"/moved": f"elsewhere:{path}", "/loop": "loop", "/file": "file"}
    with FileServer({path: packed.read_bytes()}, faults=faults) as server:
        with caplog.at_level("INFO"):
            restore(server.url + "/moved")
        port = server.url.rsplit(":", 1)[1]
        assert f"redirected to http://localhost:{port}{path}" in caplog.text
        with pytest.raises(OSError, match="redirect not followed .*TooManyRedirects"):
            restore(server.url + "/loop")
        with pytest.raises(OSError, match="redirect not followed .*InvalidSchema"):
            restore(server.url + "/file")


def test_a_folder_given_as_the_bundle_is_refused(tmp_path, fresh):
    with pytest.raises(gb.BundleError, match="is a folder; config bundle takes one archive"):
        restore(tmp_path)


def test_a_member_larger_than_listed_is_refused_by_its_header(packed, fresh, tmp_path):
    grown = edit(packed, tmp_path / "grown.tar.gz", PREDICTIONS, lambda d: d + bytes(5000))
    size = (packed.parents[2] / PREDICTIONS).stat().st_size
    with pytest.raises(
        gb.BundleError,
        match=rf"member '{PREDICTIONS}' is {size + 5000} bytes, MANIFEST.json lists {size} bytes",
    ):
        restore(grown)
    assert files_under(fresh) == []


def test_an_oversized_manifest_is_refused_unread(packed, fresh, monkeypatch):
    monkeypatch.setattr(gb, "MAX_MANIFEST_BYTES", 100)
    with pytest.raises(
        gb.BundleError, match=r"MANIFEST.json is \d+ bytes; a manifest is at most 100"
    ):
        restore(packed)


def test_a_negative_size_cannot_offset_a_large_one(packed, fresh, tmp_path):
    forged = edit_manifest(
        packed, tmp_path / "negative.tar.gz", lambda m: m["files"][SUMMARY].update(size=-(1 << 40))
    )
    with pytest.raises(gb.BundleError, match=r"entries without a size \(bytes, 0 or more\)"):
        restore(forged)
    assert files_under(fresh) == []


def test_the_unpacked_total_is_capped(tmp_path, monkeypatch):
    src = tmp_path / "run"
    write_results(src)
    (src / SUMMARY).write_bytes(bytes(30 << 20))  # 30 MB that compress to ~30 kB
    monkeypatch.chdir(src)
    archive = gb.make_bundle([CATALOG, PREDICTIONS, SUMMARY], CONFIG, "results/bundle").resolve()
    dest = tmp_path / "fresh"
    dest.mkdir()
    monkeypatch.chdir(dest)
    with pytest.raises(
        gb.BundleError, match=r"lists 3\d{7} bytes of files, more than the \d+ bytes"
    ):
        restore(archive)
    with pytest.raises(gb.BundleError, match="more than the 1000000 bytes accepted"):
        gb.restore_bundle(str(archive), RESTORED, gb.layout(CONFIG), max_unpacked_mb=1)
    assert files_under(dest) == []
    gb.restore_bundle(str(archive), RESTORED, gb.layout(CONFIG), max_unpacked_mb=100)
    assert (dest / PREDICTIONS).is_file()


def test_a_decoded_body_over_the_cap_is_refused(fresh):
    with FileServer({}, faults={"/bomb.tar.gz": "gzip-bomb"}) as server:
        with pytest.raises(OSError, match="exceeds|body exceeds the 1000000 bytes"):
            gb.restore_bundle(
                server.url + "/bomb.tar.gz", RESTORED, gb.layout(CONFIG), max_unpacked_mb=1
            )
    assert files_under(fresh) == []


# ---- end to end: the tiny run's bundle, restored into a fresh copy of the workflow ------------

TINY_ARGS = ("--configfile", "tests/config/tiny.yaml")
#: What `figures` runs from a bundle of the tiny configuration: no upstream stage at all.
FIGURE_JOBS = {
    "bundle_restore": 1,
    "analysis_headline": 4,
    "analysis_mmr": 1,
    "figures": 1,
    **{
        f"figure_{name}": 1
        for name in (
            "fig1_gallery",
            "fig2_predicted_vs_true",
            "fig2_published",
            "fig3_resolution",
            "fig4_mass",
            "fig_mmr",
            "fig_diagnostic",
            "fig_training",
        )
    },
}


@pytest.fixture(scope="module")
def tiny_bundle(tiny_run, tmp_path_factory) -> Path:
    """`snakemake bundle` on a copy of the finished tiny run."""
    from conftest import copy_finished, snakemake

    run = copy_finished(tiny_run, tmp_path_factory.mktemp("bundled") / "wf")
    snakemake(run, *TINY_ARGS, "--cores", "1", "bundle")
    (archive,) = (run / "results" / "bundle").glob("galcnn-results-*.tar.gz")
    return archive


@pytest.mark.e2e
def test_a_bundle_rebuilds_the_tables_and_figures_with_analysis_jobs_only(
    tiny_run, tiny_bundle, tmp_path
):
    from conftest import copy_workflow, dry_run_jobs, snakemake

    fresh = copy_workflow(tmp_path / "wf")
    assert not (fresh / "results").exists()
    restore_config = ("--config", f"bundle={tiny_bundle}")
    assert (
        dry_run_jobs(fresh, "--cores", "1", "figures", *TINY_ARGS, *restore_config) == FIGURE_JOBS
    )
    snakemake(fresh, *TINY_ARGS, "--cores", "2", *restore_config)
    for table in ("summary.csv", "summary.md", "mmr.csv", "reference_comparison.csv"):
        assert (fresh / "results" / "tables" / table).read_bytes() == (
            tiny_run / "results" / "tables" / table
        ).read_bytes(), table
    figures = sorted(p.name for p in (tiny_run / "results" / "figures").iterdir())
    assert len(figures) == 18  # 9 figures (fig_training among them), PDF and PNG
    assert all((fresh / "results" / "figures" / name).stat().st_size > 10_000 for name in figures)
    snakemake(fresh, *TINY_ARGS, "--report", "results/report.html", *restore_config)
    html = (fresh / "results" / "report.html").read_text(errors="replace")
    assert (
        "fig1_gallery.png" in html
        and "restored from the results bundle" in html
        and tiny_bundle.name in html
    )

    assert dry_run_jobs(fresh, *TINY_ARGS, *restore_config) == {}
    (fresh / "changed.yaml").write_text("mmr: {step: 0.25}\n")
    assert dry_run_jobs(fresh, *TINY_ARGS, "changed.yaml", *restore_config) == {
        "analysis_mmr": 1,
        "analysis_summary": 1,
        "figure_fig_mmr": 1,
        "table_html_mmr": 1,
        "table_html_summary": 1,
        "all": 1,
    }
    # packed again from the restored files, the same results give the same archive name
    snakemake(fresh, *TINY_ARGS, "--cores", "1", "bundle", *restore_config)
    assert [p.name for p in (fresh / "results" / "bundle").glob("*.tar.gz")] == [tiny_bundle.name]


@pytest.mark.e2e
def test_a_tampered_bundle_stops_the_run_and_leaves_no_results(tiny_bundle, tmp_path):
    from conftest import copy_workflow, snakemake

    fresh = copy_workflow(tmp_path / "wf")
    victim = "results/baselines/rf/oh_p50.parquet"
    tampered = edit(
        tiny_bundle, tmp_path / "tampered.tar.gz", victim, lambda d: d.replace(b"PAR1", b"PAR2", 1)
    )
    proc = snakemake(
        fresh, "figures", *TINY_ARGS, "--cores", "1", "--config", f"bundle={tampered}", check=False
    )
    assert proc.returncode != 0
    assert f"{victim} does not match MANIFEST.json" in proc.stdout + proc.stderr
    # Nothing but the folder's record of the run that was refused (galcnn.pipeline.workspace).
    assert not (fresh / "results").exists() or files_under(fresh / "results") in (
        [],
        [fresh / paths.WORKSPACE],
    )


@pytest.mark.e2e
def test_model_weights_are_bundled_only_when_asked_for(tiny_run, tmp_path):
    from conftest import copy_finished, snakemake

    run = copy_finished(tiny_run, tmp_path / "wf")

    def bundle_inputs(*extra):
        out = snakemake(run, *TINY_ARGS, *extra, "-n", "bundle").stdout
        (line,) = [
            text
            for text in out.splitlines()
            if text.strip().startswith("input:") and "results/splits.parquet" in text
        ]
        return {p.strip() for p in line.split(":", 1)[1].split(",")}

    weights = {p for p in bundle_inputs() if p.endswith("model.pt")}
    assert weights == set()
    (run / "models.yaml").write_text("bundle: {source: '', include_models: true}\n")
    weights = {p for p in bundle_inputs("models.yaml") if p.endswith("model.pt")}
    assert (
        len(weights) == 10 and "results/models/oh_p50/gri/1px/fold1/model.pt" in weights
    )  # 5 configurations x 2 folds
