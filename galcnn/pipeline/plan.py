"""The run a config asks for: which models, resolutions, figures, comparisons and files, read
from the config alone (no Snakemake), so the rule files, the checks and the benchmarks share one
answer. rules/common.smk builds one :class:`Plan` and hands its answers to the rule files.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from galcnn import paths
from galcnn.apply import results_name
from galcnn.catalog import MASS, METALLICITY
from galcnn.local import apply_source, as_list, skipped_stages
from galcnn.mmr import CATALOG_COLUMNS

#: Figures of the metallicity results, in the order rules/figures.smk makes them.
METALLICITY_FIGURES = (
    "fig1_gallery",
    "fig2_predicted_vs_true",
    "fig3_resolution",
)


def canonical(obj):
    """A params value with keys sorted at every level, so the same settings always
    compare equal and only the settings a job uses can make it rerun."""
    if isinstance(obj, dict):
        return {k: canonical(obj[k]) for k in sorted(obj)}
    if isinstance(obj, (list, tuple)):
        return [canonical(v) for v in obj]
    return obj


@dataclass(frozen=True)
class ApplyPaths:
    """Where `snakemake apply` (rules/apply.smk) writes one catalogue's files: the patterns of
    :mod:`galcnn.paths` filled with its name, one cutout shard and the native resolution."""

    name: str
    bands: str
    res: int
    catalog: str
    truth: str
    cutouts: str
    manifest: str
    images: str
    index: str
    excluded: str
    predictions: str  # still holds {target}
    table: str
    csv: str
    #: Where the cutouts come from: "images" (the user's folders, apply.images), "mock" or "sdss".
    source: str
    image_folders: list[str]

    def model(self, target: str) -> str:
        """The exported model folder's model.json that predicts ``target``."""
        return paths.EXPORT_JSON.format(target=target, bands=self.bands, res=self.res)


class Plan:
    """Answers about one validated config (``config/schema.yaml``, defaults filled)."""

    def __init__(self, config: dict):
        self.config = config

    @cached_property
    def skipped(self) -> dict[str, str]:
        """Stages left out because a local catalogue lacks their inputs: {stage: why}
        (:func:`galcnn.local.skipped_stages`)."""
        return skipped_stages(self.config)

    @property
    def native_res(self) -> int:
        """The cutouts' size in pixels, from which every resolution is area-averaged."""
        return self.config["cutouts"]["size"]

    @property
    def main_bands(self) -> str:
        """The images of the headline results: the colour JPEG when configured."""
        return "gri" if "gri" in self.config["bands"] else self.config["bands"][0]

    # ---- what is trained -----------------------------------------------------------------
    def shard_ids(self) -> list[str]:
        return [paths.shard_id(i) for i in range(self.config["cutouts"]["shards"])]

    def part_ids(self) -> list[str]:
        return [paths.shard_id(i) for i in range(self.config["query"]["partitions"])]

    def folds(self) -> list[int]:
        return list(range(self.config["folds"]))

    def top_resolution(self) -> int:
        return max(self.config["resolutions"])

    def model_resolutions(self, target: str, bands: str) -> list[int]:
        """Every configured resolution for the pairs of the resolution study, else the top one."""
        study = self.config["resolution_study"]
        if target in study["targets"] and bands in study["bands"]:
            return sorted(self.config["resolutions"], reverse=True)
        return [self.top_resolution()]

    def cnn_keys(self) -> list[list]:
        """(target, bands, res) of every trained configuration, in one fixed order."""
        return [
            [t, b, r]
            for t in self.config["targets"]
            for b in self.config["bands"]
            for r in self.model_resolutions(t, b)
        ]

    def trained_models(self) -> list[dict]:
        """Every fold model: {target, bands, res, fold}, in cnn_keys() order."""
        return [
            {"target": t, "bands": b, "res": r, "fold": f}
            for t, b, r in self.cnn_keys()
            for f in self.folds()
        ]

    def baseline_methods(self) -> list[str]:
        """The baselines of the run: the random forest needs the catalogue's magnitudes."""
        return [m for m in ("rf", "mean") if m != "rf" or "baselines_rf" not in self.skipped]

    def baseline_keys(self) -> list[list[str]]:
        return [[m, t] for m in self.baseline_methods() for t in self.config["targets"]]

    def casjobs_targets(self) -> list[str]:
        """The CasJobs job's record, when the real survey is used and the config asks for it
        (not when restoring a results bundle: no query runs then)."""
        config = self.config
        casjobs = config["survey"] == "sdss" and config["query"]["casjobs"]["enabled"]
        return [paths.CASJOBS_RECORD] if casjobs and not config["bundle"]["source"] else []

    def split_settings(self) -> dict:
        """What the splits depend on. test_set appears only when it is not the default, so runs made
        before the key existed keep their splits (and their trained models)."""
        config = self.config
        settings = {
            "folds": config["folds"],
            "seed": config["seed"],
            "test_fraction": config["test_fraction"],
        }
        return settings | (
            {"test_set": config["test_set"]} if config["test_set"] != "random" else {}
        )

    def framing(self, source: str | None = None) -> dict:
        """How each galaxy is framed: the fixed scale, or per galaxy from its petroR90_r
        (:func:`galcnn.cutouts.cutout_scales`). The user's own images (``source``, default the
        survey: ``local``, or apply's ``images``) come framed as they are: nothing is reframed,
        and a catalogue without petroR90_r loses no galaxy."""
        cutouts = self.config["cutouts"]
        framing = {k: cutouts[k] for k in ("size", "scale", "framing", "framing_factor")}
        if (source or self.config["survey"]) in ("local", "images"):
            framing["framing"] = "fixed"
        return framing

    def cutout_service(self) -> dict:
        """What determines the downloaded cutouts: the server address and the politeness settings
        (cutouts.concurrency/rate_limit/retries/timeout/...) do not, so the download script reads
        them from the config and changing them reruns nothing."""
        config = self.config
        return canonical(
            self.framing()
            | {"data_release": config["sdss"]["data_release"], "opt": config["cutouts"]["opt"]}
        )

    def mock_render(self) -> dict:
        """What determines the rendered mock cutouts."""
        return canonical(self.framing() | {"seed": self.config["mock"]["seed"]})

    # ---- headline predictions ------------------------------------------------------------
    def headline_predictions(self, target: str, bands: str, res: int) -> str:
        """The test predictions the figures and the MMR show: one fold's model or the fold
        ensemble (config `analysis`), written by rule analysis_headline."""
        return paths.HEADLINE.format(target=target, bands=bands, res=res)

    def main_predictions(self, target: str, res: int | None = None) -> str:
        """The headline test predictions of the headline bands (top resolution by default)."""
        return self.headline_predictions(target, self.main_bands, res or self.top_resolution())

    def calibration_figure_keys(self) -> list[list]:
        """The configurations of the headline results: each target from the main bands at the top resolution."""
        return [[t, self.main_bands, self.top_resolution()] for t in self.config["targets"]]

    def has_mmr(self) -> bool:
        return METALLICITY in self.config["targets"] and "mmr" not in self.skipped

    # ---- the published predictions (rules/reference.smk) ---------------------------------
    def reference_enabled(self) -> bool:
        return self.config["reference"]["enabled"]

    def reference_resolutions(self) -> list[int]:
        """The resolutions with published predictions, largest first ([] when the stage is off)."""
        if not self.reference_enabled():
            return []
        return sorted((f["resolution"] for f in self.config["reference"]["files"]), reverse=True)

    def reference_tables(self) -> dict[int, str]:
        """{res: path} of the stored published predictions."""
        ref = self.config["reference"]
        return {
            r: paths.REFERENCE.format(target=ref["target"], bands=ref["bands"], res=r)
            for r in self.reference_resolutions()
        }

    def reference_status(self) -> str:
        ref = self.config["reference"]
        return paths.REFERENCE_STATUS.format(target=ref["target"], bands=ref["bands"])

    def reference_inputs(self) -> dict:
        """The reference stage's outputs as a rule's named inputs (none when it is off)."""
        if not self.reference_enabled():
            return {}
        return {
            "reference": list(self.reference_tables().values()),
            "reference_status": self.reference_status(),
        }

    def reference_matches(self, target: str, bands: str) -> bool:
        """Whether the published predictions are of this target from these images."""
        ref = self.config["reference"]
        return self.reference_enabled() and (ref["target"], ref["bands"]) == (target, bands)

    def compared_resolutions(self) -> list[int]:
        """Our trained resolutions of the published target and bands that also have published predictions."""
        config, ref = self.config, self.config["reference"]
        if (
            not self.reference_enabled()
            or ref["target"] not in config["targets"]
            or ref["bands"] not in config["bands"]
        ):
            return []
        published = self.reference_resolutions()
        return [r for r in self.model_resolutions(ref["target"], ref["bands"]) if r in published]

    def compared_predictions(self) -> list[str]:
        """Our fold-ensemble test predictions at :meth:`compared_resolutions`."""
        ref = self.config["reference"]
        return [
            paths.PREDICTIONS.format(target=ref["target"], bands=ref["bands"], res=r)
            for r in self.compared_resolutions()
        ]

    # ---- figures (rules/figures.smk) ------------------------------------------------------
    def figure_names(self) -> list[str]:
        """The figures the configured targets and bands allow."""
        config = self.config
        names = []
        if METALLICITY in config["targets"]:
            names += METALLICITY_FIGURES
            if self.has_mmr():
                names.append("fig_mmr")
            # The diagnostic compares the colour CNN with the r-band CNN and the random forest.
            if len(self.diagnostic_inputs()) > 1:
                names.append("fig_diagnostic")
            if MASS in config["targets"] and self.has_mmr():
                names.append("fig4_mass")
        names.append("fig_training")
        if self.reference_enabled():
            names.append("fig2_published")
            # Only real SDSS galaxies can be among the published test set.
            if config["survey"] == "sdss" and self.compared_resolutions():
                names.append("fig_reference_comparison")
        return names

    def resolution_inputs(self) -> dict:
        """Fig. 3's predictions and baselines, and the published curve when it is of the same target and images."""
        inputs = {
            "cnn": [
                self.main_predictions(METALLICITY, res)
                for res in self.model_resolutions(METALLICITY, self.main_bands)
            ],
        } | {
            m: paths.BASELINE.format(method=m, target=METALLICITY) for m in self.baseline_methods()
        }
        if self.reference_matches(METALLICITY, self.main_bands):
            inputs |= self.reference_inputs()
        return inputs

    def diagnostic_inputs(self) -> dict:
        models = {"cnn_gri": self.main_predictions(METALLICITY)}
        if "r" in self.config["bands"] and self.main_bands != "r":
            models["cnn_r"] = self.headline_predictions(METALLICITY, "r", self.top_resolution())
        if "rf" in self.baseline_methods():
            models["rf"] = paths.BASELINE.format(method="rf", target=METALLICITY)
        return models

    # ---- results bundles (rules/bundle.smk) -----------------------------------------------
    def bundle_inputs(self) -> dict[str, list[str]]:
        """Every file the analysis, figure and report rules read, by category: `bundle` packs
        them (with the run's tables) and `bundle_restore` writes them back. A stage whose
        outputs an analysis rule starts to read adds them here."""
        models = [paths.MODEL_CONFIG, paths.MODEL_HISTORY, paths.MODEL_METRICS] + (
            [paths.MODEL_PT] if self.config["bundle"]["include_models"] else []
        )
        images = [paths.IMAGE_INDEX]
        if "fig1_gallery" in self.figure_names():
            images.append(paths.GALLERY)
        return {
            "catalog": [paths.CATALOG] if self.has_mmr() else [],
            "splits": [paths.SPLITS],
            "images": images,
            "predictions": [
                p.format(target=t, bands=b, res=r)
                for t, b, r in self.cnn_keys()
                for p in (paths.PREDICTIONS, paths.PREDICTIONS_VAL)
            ],
            "baselines": [
                paths.BASELINE.format(method=m, target=t) for m, t in self.baseline_keys()
            ],
            "models": [
                p.format(target=t, bands=b, res=r, fold=f)
                for t, b, r in self.cnn_keys()
                for f in self.folds()
                for p in models
            ],
            "reference": (
                [*self.reference_tables().values(), self.reference_status()]
                if self.reference_enabled()
                else []
            ),
        }

    def bundle_tables(self) -> list[str]:
        """The run's own tables: packed for comparison, not restored (the analysis remakes them)."""
        return (
            [paths.SUMMARY_CSV, paths.SUMMARY_MD, paths.UNCERTAINTY_CSV]
            + ([paths.MMR_CSV] if self.has_mmr() else [])
            + ([paths.REFERENCE_COMPARISON] if self.reference_enabled() else [])
        )

    def bundle_columns(self) -> dict[str, list[str]]:
        """Tables of which the analysis reads only some columns: the bundle carries just those."""
        return {paths.CATALOG: list(CATALOG_COLUMNS)} if self.has_mmr() else {}

    def report_tables(self) -> dict[str, tuple[str, str]]:
        """{table: (html, csv)} of the result tables the run makes, shown in the report as HTML."""
        tables = {"summary": paths.SUMMARY_CSV, "uncertainty": paths.UNCERTAINTY_CSV}
        if self.has_mmr():
            tables["mmr"] = paths.MMR_CSV
        if self.reference_enabled():
            tables["reference_comparison"] = paths.REFERENCE_COMPARISON
        return {name: (csv.removesuffix(".csv") + ".html", csv) for name, csv in tables.items()}

    # ---- new galaxies (rules/apply.smk) ---------------------------------------------------
    def apply(self) -> ApplyPaths:
        """The apply catalogue's name, model configuration and files (config `apply`)."""
        apply = self.config["apply"]
        name = results_name(apply["catalog"], apply["name"])
        fill = {"name": name, "res": self.native_res, "shard": paths.shard_id(0)}
        return ApplyPaths(
            name=name,
            bands=apply["bands"] or self.main_bands,
            res=apply["resolution"] or self.top_resolution(),
            catalog=paths.APPLY_CATALOG.format(**fill),
            truth=paths.APPLY_TRUTH.format(**fill),
            cutouts=paths.APPLY_CUTOUTS.format(**fill),
            # One shard: a catalogue of new galaxies is small beside the training sample.
            manifest=paths.APPLY_MANIFEST.format(**fill),
            images=paths.APPLY_IMAGES.format(**fill),
            index=paths.APPLY_INDEX.format(**fill),
            excluded=paths.APPLY_EXCLUDED.format(**fill),
            predictions=paths.APPLY_PREDICTIONS.format(**fill, target="{target}"),
            table=paths.APPLY_TABLE.format(**fill),
            csv=paths.APPLY_CSV.format(**fill),
            source=apply_source(self.config),
            image_folders=as_list(apply["images"]),
        )

    # ---- what the schema cannot check ------------------------------------------------------
    def check(self) -> None:
        """The cross-key checks of the run; ``ValueError`` naming the keys and what to change."""
        config = self.config
        native = self.native_res
        bad_res = [r for r in config["resolutions"] if r > native or native % r]
        if bad_res:
            raise ValueError(
                f"config 'resolutions' has {bad_res}: every resolution must divide cutouts.size={native} px "
                f"(images are area-averaged from it), e.g. {[native // 2**i for i in range(4)]}"
            )
        ref = config["reference"]
        ref_res = [f["resolution"] for f in ref["files"]]
        if len(set(ref_res)) != len(ref_res):
            raise ValueError(
                f"config 'reference.files' lists a resolution twice ({ref_res}); give one file per resolution"
            )
        if config["test_set"] == "reference" and (config["survey"] != "sdss" or not ref["enabled"]):
            raise ValueError(
                "config 'test_set: reference' makes the test set the authors' published test galaxies, "
                f"real SDSS objIDs: it needs survey: sdss (here {config['survey']!r}) and reference.enabled: "
                f"true (here {ref['enabled']}); use test_set: random otherwise"
            )
        if config["analysis"]["fold"] >= config["folds"]:
            raise ValueError(
                f"config 'analysis.fold' is {config['analysis']['fold']} but there are only "
                f"{config['folds']} folds (0..{config['folds'] - 1}); "
                "pick one of them for the headline predictions"
            )
        if config["apply"]["catalog"]:
            apply = self.apply()
            trained = self.cnn_keys()
            untrained = [t for t in config["targets"] if [t, apply.bands, apply.res] not in trained]
            if untrained:
                raise ValueError(
                    f"config apply asks for models from {apply.bands} images at {apply.res} px, which are not "
                    f"trained for {untrained}; trained: {sorted(trained)}. "
                    "Set apply.bands and apply.resolution to one of those, or null"
                )
