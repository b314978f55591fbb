"""The paper's figures from small prediction fixtures, and the analysis rules end to end."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import yaml
from servers import PUBLISHED_NAMES, published_config, published_csvs

from galcnn.figures.fig1_gallery import (
    GROUPS,
    extract_gallery,
    plot_gallery,
    read_gallery,
    select_gallery,
)
from galcnn.figures.fig2_predicted_vs_true import make_predicted_vs_true, plot_predicted_vs_true
from galcnn.figures.fig3_resolution import plot_resolution, scores
from galcnn.figures.fig4_mass import plot_mass
from galcnn.figures.fig_diagnostic import plot_diagnostic
from galcnn.figures.fig_mmr import plot_mmr
from galcnn.figures.fig_training import make_training
from galcnn.metrics import nmad, rmse
from galcnn.mmr import mmr_edges, mmr_sample, mmr_table, tremonti_metallicity


def mock_galaxies(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Galaxies on the Tremonti relation with 0.1 dex scatter and colours that track metallicity."""
    rng = np.random.default_rng(seed)
    mass = np.clip(rng.normal(10.0, 0.5, n), 8.6, 11.4)
    z = tremonti_metallicity(mass) + rng.normal(0, 0.1, n)
    r = rng.uniform(14, 17.5, n)
    return pd.DataFrame(
        {
            "objID": np.arange(1000, 1000 + n, dtype=np.int64),
            "oh_p50": z,
            "lgm_tot_p50": mass,
            "modelMag_g": r + 0.5 + 2.0 * (z - 8.9) + rng.normal(0, 0.05, n),
            "modelMag_r": r,
            "modelMag_i": r - 0.3 - 1.0 * (z - 8.9) + rng.normal(0, 0.05, n),
        }
    )


def mock_predictions(
    truth, scatter: float, folds: int = 2, seed: int = 1, objid=None
) -> pd.DataFrame:
    """A prediction table like the predict stage writes: shrunk towards the mean, plus noise."""
    rng = np.random.default_rng(seed)
    truth = np.asarray(truth, dtype=float)
    frame = pd.DataFrame(
        {"objID": objid if objid is not None else np.arange(truth.size), "true": truth}
    )
    shrunk = truth.mean() + 0.7 * (truth - truth.mean())
    for k in range(folds):
        frame[f"pred_fold{k}"] = shrunk + rng.normal(0, scatter, truth.size)
        frame[f"pred_fold{k}_notta"] = frame[f"pred_fold{k}"] + rng.normal(
            0, scatter / 3, truth.size
        )
    frame["pred"] = frame[[f"pred_fold{k}" for k in range(folds)]].mean(axis=1)
    frame["pred_notta"] = frame[[f"pred_fold{k}_notta" for k in range(folds)]].mean(axis=1)
    return frame


@pytest.fixture(scope="module")
def galaxies():
    return mock_galaxies()


@pytest.fixture(scope="module")
def z_pred(galaxies):
    return mock_predictions(galaxies["oh_p50"], 0.07, objid=galaxies["objID"])


def test_predicted_vs_true_has_histogram_median_scatter_and_global_lines(z_pred, tmp_path):
    fig = plot_predicted_vs_true(z_pred["true"], z_pred["pred"])
    ax_top, ax, cax = fig.axes
    assert "Z" in ax.get_xlabel() and "dex" in ax.get_xlabel() and "dex" in ax.get_ylabel()
    labels = [line.get_label() for line in ax.get_lines()]
    assert {"median", "± RMSE", "± NMAD", "1:1"} <= set(labels)
    assert len(ax.collections) == 1  # the 2-D histogram
    assert len(ax_top.collections) == 2  # binned RMSE and NMAD markers
    sizes = ax_top.collections[0].get_sizes()
    assert sizes.max() > sizes.min() > 0  # marker area follows the bin counts
    rmse_line = ax_top.get_lines()[0].get_ydata()[0]
    assert rmse_line == pytest.approx(np.sqrt(np.mean((z_pred["pred"] - z_pred["true"]) ** 2)))
    legend = [t.get_text() for t in ax_top.get_legend().get_texts()]
    assert legend[0].startswith("RMSE = ") and legend[1].startswith("NMAD = ")

    path = tmp_path / "p.parquet"
    z_pred.to_parquet(path)
    make_predicted_vs_true(str(path), str(tmp_path / "f.pdf"), str(tmp_path / "f.png"))
    assert (tmp_path / "f.pdf").read_bytes()[:4] == b"%PDF"
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gallery_selects_extremes_and_labels_every_image(z_pred):
    sel = select_gallery(z_pred, n=5, seed=3)
    assert list(dict.fromkeys(sel["group"])) == list(GROUPS)
    assert len(sel) == 25
    lowest = sel[sel["group"] == GROUPS[0]]["pred"]
    assert lowest.max() <= z_pred["pred"].nsmallest(5).max()
    dz = sel["pred"] - sel["true"]
    assert (
        dz[sel["group"] == GROUPS[3]].min() >= (z_pred["pred"] - z_pred["true"]).nlargest(5).min()
    )
    assert select_gallery(z_pred, seed=3).equals(sel)  # seeded random row

    images = np.random.default_rng(0).integers(0, 255, (25, 16, 16, 3), dtype=np.uint8)
    fig = plot_gallery(images, sel)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(fig.axes) == 25 and len(shown) == 25
    texts = [t.get_text() for ax in shown for t in ax.texts]
    assert sum("pred" in t and "true" in t for t in texts) == 25
    with pytest.raises(ValueError, match="at least 5"):
        select_gallery(z_pred.head(3))


def test_gallery_file_holds_the_selected_galaxies_images(z_pred, tmp_path):
    """The gallery file carries each selected galaxy's own image (found through the index) and its labels."""
    n = len(z_pred)
    images = np.random.default_rng(1).integers(0, 255, (n, 8, 8, 3), dtype=np.uint8)
    rows = np.random.default_rng(2).permutation(n)  # the array's order is not the predictions'
    np.save(tmp_path / "8px.npy", images[rows])
    pd.DataFrame({"objID": z_pred["objID"].to_numpy()[rows], "row": np.arange(n)}).to_parquet(
        tmp_path / "index.parquet"
    )
    z_pred.to_parquet(tmp_path / "p.parquet")
    sel = extract_gallery(
        str(tmp_path / "p.parquet"),
        str(tmp_path / "8px.npy"),
        str(tmp_path / "index.parquet"),
        3,
        str(tmp_path / "g.npz"),
    )
    stored, shown = read_gallery(str(tmp_path / "g.npz"))
    pd.testing.assert_frame_equal(stored, sel, check_dtype=False)
    position = {objid: i for i, objid in enumerate(z_pred["objID"])}
    np.testing.assert_array_equal(shown, images[[position[o] for o in sel["objID"]]])
    assert "scale" not in stored  # an index from before the per-galaxy framing


def test_gallery_shows_each_galaxys_field_when_framed_per_galaxy(z_pred, tmp_path):
    n = len(z_pred)
    np.save(tmp_path / "8px.npy", np.zeros((n, 8, 8, 3), np.uint8))
    scale = np.linspace(0.1, 0.5, n)
    pd.DataFrame({"objID": z_pred["objID"], "row": np.arange(n), "scale": scale}).to_parquet(
        tmp_path / "index.parquet"
    )
    z_pred.to_parquet(tmp_path / "p.parquet")
    args = [str(tmp_path / f) for f in ("p.parquet", "8px.npy", "index.parquet")]
    extract_gallery(*args, 3, str(tmp_path / "g.npz"))
    stored, shown = read_gallery(str(tmp_path / "g.npz"))
    by_id = dict(zip(z_pred["objID"], scale))
    np.testing.assert_allclose(stored["scale"], [by_id[o] for o in stored["objID"]])
    texts = [t.get_text() for ax in plot_gallery(shown, stored).axes for t in ax.texts]
    assert f"{8 * stored['scale'].iloc[0]:.0f}″" in texts


def test_resolution_plots_each_resolution_and_both_baselines(galaxies):
    frames = {
        res: mock_predictions(galaxies["oh_p50"], s, seed=res)
        for res, s in ((1, 0.15), (8, 0.1), (32, 0.07))
    }
    table = scores(frames)
    assert table["resolution"].tolist() == [1, 8, 32]
    assert table["rmse"].is_monotonic_decreasing
    fig = plot_resolution(table, {"mean": (0.2, 0.18), "rf": (0.13, 0.11)})
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    assert "pixels" in ax.get_xlabel() and "dex" in ax.get_ylabel()
    curves = [line for line in ax.get_lines() if line.get_label().startswith("CNN")]
    assert len(curves) == 2 and all(len(c.get_xdata()) == 3 for c in curves)
    baselines = [
        line
        for line in ax.get_lines()
        if "mean" in line.get_label() or "forest" in line.get_label()
    ]
    assert len(baselines) == 4
    arrows = [c for c in ax.texts if getattr(c, "arrow_patch", None) is not None]
    assert len(arrows) == 4


def test_resolution_draws_the_published_curve_or_says_it_is_missing(galaxies):
    from galcnn.reference import Reference

    ours = scores(
        {
            res: mock_predictions(galaxies["oh_p50"], s, seed=res)
            for res, s in ((1, 0.15), (8, 0.1), (32, 0.07))
        }
    )
    published = {
        res: mock_predictions(galaxies["oh_p50"], s, seed=res + 1)
        for res, s in ((128, 0.08), (64, 0.085), (32, 0.09), (16, 0.1))
    }
    fig = plot_resolution(
        ours, {}, Reference(True, "o/r@abc1234", "oh_p50", "gri", frames=published)
    )
    (ax,) = fig.axes
    curves = {line.get_label(): line for line in ax.get_lines()}
    assert list(curves["published CNN RMSE (Wu & Boada 2019)"].get_xdata()) == [16, 32, 64, 128]
    assert curves["published CNN NMAD (Wu & Boada 2019)"].get_ydata()[-1] == pytest.approx(
        scores(published)["nmad"].iloc[-1]
    )
    assert [int(t) for t in ax.get_xticks()] == [1, 8, 16, 32, 64, 128]
    offline = plot_resolution(
        ours, {}, Reference(False, "o/r@abc1234", "oh_p50", "gri", reason="offline")
    )
    (ax,) = offline.axes
    assert not [line for line in ax.get_lines() if "published" in line.get_label()]
    assert any("published curve unavailable" in t.get_text() for t in ax.texts)


def test_mass_figure_has_two_labelled_panels(galaxies):
    m = mock_predictions(galaxies["lgm_tot_p50"], 0.2)
    z_from_m = tremonti_metallicity(np.clip(m["pred"], 8.6, 11.4))
    fig = plot_mass(m["true"], m["pred"], galaxies["oh_p50"], z_from_m)
    left_top, left, cax, right = fig.axes
    assert "M" in left.get_xlabel() and "Tremonti" in right.get_ylabel()
    # the left panel is Fig. 2's: median and scatter curves, binned scatter above with its global values
    assert {"median", "± RMSE", "± NMAD", "1:1"} <= {line.get_label() for line in left.get_lines()}
    assert len(left_top.collections) == 2 and left_top.get_legend().get_texts()[
        0
    ].get_text().startswith("RMSE = ")
    assert "RMSE" in right.texts[0].get_text()


def test_mmr_figure_shows_both_relations_and_the_ratio(galaxies, z_pred):
    sample = mmr_sample(z_pred, galaxies)
    table = mmr_table(sample, mmr_edges(8.5, 11.5, 0.2))
    bins = table[(table["comparison"] == "cnn_metallicity") & (table["kind"] == "bin")]
    fig = plot_mmr(sample, bins, 0.8, 0.05)
    ax_sdss, ax_cnn, ax_nmad = fig.axes
    assert ax_sdss.get_title().startswith("SDSS") and ax_cnn.get_title().startswith("CNN")
    # the ratio and the legend sit above the panel, where they cover no bin's marker
    assert "0.800 ± 0.050" in ax_nmad.get_title(loc="left") and not ax_nmad.texts
    fig.canvas.draw()
    legend_box = ax_nmad.get_legend().get_window_extent()
    assert legend_box.y0 >= ax_nmad.get_window_extent().y1 - 1
    assert len(ax_nmad.get_lines()) == 2


def test_colour_bar_counts_read_as_plain_numbers(z_pred):
    fig = plot_predicted_vs_true(z_pred["true"], z_pred["pred"])
    fig.canvas.draw()
    cax = fig.axes[2]
    labels = [t.get_text() for t in cax.get_yticklabels() + cax.get_yticklabels(minor=True)]
    shown = [label for label in labels if label]
    assert "1" in shown and not [label for label in shown if "10^" in label or "times" in label]


def test_rmse_lines_stay_visible_where_nmad_coincides(z_pred):
    fig = plot_predicted_vs_true(z_pred["true"], z_pred["pred"])
    ax_top, ax, _ = fig.axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    rmse_line, nmad_line = lines["± RMSE"], lines["± NMAD"]
    assert rmse_line.get_zorder() > nmad_line.get_zorder()
    assert rmse_line._unscaled_dash_pattern != nmad_line._unscaled_dash_pattern
    top_rmse, top_nmad = ax_top.get_lines()[:2]
    assert top_rmse.get_zorder() > top_nmad.get_zorder()
    assert top_rmse._unscaled_dash_pattern != top_nmad._unscaled_dash_pattern


def history(n_epochs=8, seed=0):
    """A history.csv of one stage-1 epoch, then SGDR cycles of 1, 2 and 4 epochs."""
    rng = np.random.default_rng(seed)
    lr = [0.002, 0.01, 0.01, 0.005, 0.01, 0.008, 0.005, 0.002]
    epochs = np.arange(n_epochs)
    return pd.DataFrame(
        {
            "epoch": epochs,
            "stage": [1] + [2] * (n_epochs - 1),
            "phase": ["stage1"] + ["sgdr"] * (n_epochs - 1),
            "train_loss": 0.3 * np.exp(-epochs / 3) + rng.uniform(0, 0.01, n_epochs),
            "val_loss": 0.3 * np.exp(-epochs / 4) + rng.uniform(0, 0.01, n_epochs),
            "lr": lr[:n_epochs],
            "seconds": 1.0,
        }
    )


def test_training_curves_show_each_fold_stage_and_cycle(tmp_path):
    models = [["oh_p50", "gri", 32, 0], ["oh_p50", "gri", 32, 1], ["lgm_tot_p50", "gri", 32, 0]]
    paths = []
    for i, _ in enumerate(models):
        paths.append(str(tmp_path / f"h{i}.csv"))
        history(seed=i).to_csv(paths[-1], index=False)
    fig = make_training(paths, models, str(tmp_path / "t.pdf"), str(tmp_path / "t.png"))
    panels = [ax for ax in fig.axes if ax.get_ylabel() == "RMSE [dex]"]
    assert [ax.get_title() for ax in panels] == ["oh_p50, gri, 32 px", "lgm_tot_p50, gri, 32 px"]
    curves = [line for line in panels[0].get_lines() if len(line.get_xdata()) == 8]
    assert len(curves) == 4  # training and validation of two folds
    np.testing.assert_allclose(curves[1].get_ydata(), history(seed=0)["val_loss"])
    vertical = sorted(
        line.get_xdata()[0] for line in panels[0].get_lines() if len(line.get_xdata()) == 2
    )
    # stage 2 from the second epoch on; SGDR cycles of 1, 2 and 4 epochs, new ones at the third and fifth
    assert vertical == [1.5, 2.5, 4.5]
    assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_training_curves_refuse_a_mismatched_list(tmp_path):
    with pytest.raises(ValueError, match="2 history files for 1 models"):
        make_training(["a.csv", "b.csv"], [["oh_p50", "gri", 32, 0]], "t.pdf", "t.png")


def test_diagnostic_compares_three_models(galaxies, z_pred):
    models = {
        "cnn_gri": z_pred,
        "cnn_r": mock_predictions(galaxies["oh_p50"], 0.1, seed=5),
        "rf": mock_predictions(galaxies["oh_p50"], 0.12, seed=6),
    }
    fig = plot_diagnostic(models)
    # three Fig. 2 panels (binned scatter above, histogram below), r-band CNN, forest, gri CNN; one colour bar
    axes = fig.axes
    assert len(axes) == 7
    tops, mains = axes[0:6:2], axes[1:6:2]
    assert [ax.get_title() for ax in tops] == [
        "CNN, r band only",
        "random forest, g r i mags",
        "CNN, gri image",
    ]
    for ax in mains:
        assert {"median", "± RMSE", "± NMAD", "1:1"} <= {
            line.get_label() for line in ax.get_lines()
        }
        assert ax.get_xlim() == mains[0].get_xlim() and ax.get_ylim() == mains[0].get_ylim()
    rmse_gri = tops[2].get_lines()[0].get_ydata()[0]
    assert rmse_gri == pytest.approx(np.sqrt(np.mean((z_pred["pred"] - z_pred["true"]) ** 2)))


ANALYSIS_SNAKEFILE = """
configfile: "config/config.yaml"
include: "rules/common.smk"
include: "rules/baselines.smk"
include: "rules/analysis.smk"
include: "rules/figures.smk"
include: "rules/reference.smk"
report: "report/workflow.rst"
wildcard_constraints:
    target="|".join(config["targets"]),
    bands="gri|r",
    res=r"\\d+",
rule all:
    input:
        rules.figures.input,
        SUMMARY_CSV,
"""


def write_stage_outputs(root, resolutions, folds=2, n=240, test_fraction=0.25, native=128):
    """What the upstream stages leave for the analysis: catalogue, splits, images, predictions."""
    galaxies = mock_galaxies(n, seed=11)
    catalog = galaxies.assign(
        lgm_tot_p50=galaxies["lgm_tot_p50"].where(galaxies.index != 5, -9999.0)
    )
    n_test = int(n * test_fraction)
    split = np.array(["test"] * n_test + ["train"] * (n - n_test))
    splits = pd.DataFrame(
        {
            "objID": catalog["objID"],
            "split": split,
            "fold": np.where(split == "test", -1, np.arange(n) % folds),
        }
    )
    (root / "results" / "catalog").mkdir(parents=True)
    (root / "results" / "images").mkdir(parents=True)
    catalog.to_parquet(root / "results" / "catalog" / "galaxies.parquet")
    splits.to_parquet(root / "results" / "splits.parquet")
    images = np.random.default_rng(0).integers(0, 255, (n, native, native, 3), dtype=np.uint8)
    np.save(root / "results" / "images" / f"{native}px.npy", images)
    pd.DataFrame({"objID": catalog["objID"], "row": np.arange(n)}).to_parquet(
        root / "results" / "images" / "index.parquet"
    )
    for target in ("oh_p50", "lgm_tot_p50"):
        test, train = (
            part[part[target] > 0] for part in (catalog[split == "test"], catalog[split == "train"])
        )
        for bands in ("gri", "r"):
            for res in resolutions:
                out = root / "results" / "predictions" / target / bands
                out.mkdir(parents=True, exist_ok=True)
                scale = 0.1 if target == "oh_p50" else 0.2
                seed = res + (bands == "r")
                mock_predictions(
                    test[target], scale * (1 + 1 / res), folds, seed, test["objID"]
                ).to_parquet(out / f"{res}px.parquet")
                val = mock_predictions(train[target], scale, 1, seed, train["objID"])[
                    ["objID", "true", "pred", "pred_notta"]
                ]
                val.assign(
                    fold=splits.set_index("objID").loc[train["objID"], "fold"].to_numpy()
                ).to_parquet(out / f"{res}px_validation.parquet")
                for fold in range(folds):  # each fold model's training history (fig_training)
                    model = (
                        root / "results" / "models" / target / bands / f"{res}px" / f"fold{fold}"
                    )
                    model.mkdir(parents=True, exist_ok=True)
                    history(seed=fold).to_csv(model / "history.csv", index=False)
    images_dir = root / "results" / "images"
    extract_gallery(
        str(root / "results" / "predictions" / "oh_p50" / "gri" / f"{max(resolutions)}px.parquet"),
        str(images_dir / f"{native}px.npy"),
        str(images_dir / "index.parquet"),
        0,
        str(images_dir / "gallery.npz"),
    )


@pytest.mark.e2e
def test_analysis_rules_build_tables_figures_and_report(workflow_copy):
    from conftest import snakemake

    (workflow_copy / "Snakefile").write_text(ANALYSIS_SNAKEFILE)
    write_stage_outputs(workflow_copy, resolutions=[4, 1])
    # The published files, put by hand where reference.local_dir points (nothing listens at tiny's URL).
    published = published_csvs(120)
    (workflow_copy / "resources" / "reference").mkdir(parents=True)
    for res, body in published.items():
        (workflow_copy / "resources" / "reference" / PUBLISHED_NAMES[res]).write_bytes(body)
    (workflow_copy / "published.yaml").write_text(
        yaml.safe_dump({"reference": {"files": published_config(published)}})
    )
    args = ("--configfile", "tests/config/tiny.yaml", "published.yaml", "--cores", "2")
    snakemake(workflow_copy, *args)
    figures = workflow_copy / "results" / "figures"
    names = [
        "fig1_gallery",
        "fig2_predicted_vs_true",
        "fig2_published",
        "fig3_resolution",
        "fig4_mass",
        "fig_mmr",
        "fig_diagnostic",
        "fig_training",
    ]
    assert sorted(p.name for p in figures.iterdir()) == sorted(
        f"{n}.{e}" for n in names for e in ("pdf", "png")
    )
    summary = pd.read_csv(workflow_copy / "results" / "tables" / "summary.csv")
    # 5 models (oh_p50/gri at 4 and 1 px, the other three pairs at 4 px) x (ensemble, ensemble_notta,
    # validation, 2 folds) + 2 targets x (rf, mean) + the published predictions at 4 resolutions
    assert len(summary) == 5 * 5 + 4 + 4
    rows = summary[summary["method"] == "published"].set_index("resolution")
    for res, body in published.items():
        frame = pd.read_csv(io.BytesIO(body))
        assert rows.loc[res, "rmse"] == pytest.approx(
            rmse(frame["prediction"], frame["oh_p50"]), rel=1e-9
        )
        assert rows.loc[res, "nmad"] == pytest.approx(
            nmad(frame["prediction"], frame["oh_p50"]), rel=1e-9
        )
    mmr = pd.read_csv(workflow_copy / "results" / "tables" / "mmr.csv")
    assert set(mmr["comparison"]) == {"cnn_metallicity", "cnn_mass"}
    snakemake(workflow_copy, *args, "--report", "results/report.html")
    html = (workflow_copy / "results" / "report.html").read_text(errors="replace")
    assert "fig2_predicted_vs_true.png" in html and "summary.csv" in html
