"""The results layout: every path the rules, the package and the benchmarks agree on, defined once.

Paths are relative to the working directory (Snakemake's ``--directory``). Names in braces are
Snakemake wildcards, filled with ``str.format`` outside a rule: ``{target}``, ``{bands}``,
``{res}`` (pixels), ``{fold}``, ``{shard}`` and ``{part}`` (zero-padded ids, :func:`shard_id`),
``{method}`` (a baseline) and ``{name}`` (an apply catalogue). These paths are a contract: the
report, the bundles and users' scripts read them.
"""

RESULTS = "results"

# ---- catalogue -------------------------------------------------------------------------------
CATALOG = f"{RESULTS}/catalog/galaxies.parquet"
CATALOG_SQL = f"{RESULTS}/catalog/query.sql"
CASJOBS_RECORD = f"{RESULTS}/catalog/casjobs.json"
QUERY_PART = f"{RESULTS}/catalog/partitions/part{{part}}.parquet"
MOCK_TRUTH = f"{RESULTS}/catalog/mock_truth.parquet"

# ---- cutout store: <root>/shard<id>/<objID>.jpg and <root>/shard<id>.manifest.parquet ----------
CUTOUT_ROOT = f"{RESULTS}/cutouts"
SHARD_DIR = "shard{shard}"
SHARD_MANIFEST = "shard{shard}.manifest.parquet"
CUTOUT_MANIFEST = f"{CUTOUT_ROOT}/{SHARD_MANIFEST}"

# ---- images and splits -----------------------------------------------------------------------
IMAGES = f"{RESULTS}/images/{{res}}px.npy"
IMAGE_INDEX = f"{RESULTS}/images/index.parquet"
IMAGE_EXCLUDED = f"{RESULTS}/images/excluded.parquet"
GALLERY = f"{RESULTS}/images/gallery.npz"
SPLITS = f"{RESULTS}/splits.parquet"
SPLIT_COUNTS = f"{RESULTS}/split_counts/{{target}}.csv"

# ---- models and predictions ------------------------------------------------------------------
MODEL_DIR = f"{RESULTS}/models/{{target}}/{{bands}}/{{res}}px/fold{{fold}}"
MODEL_PT = f"{MODEL_DIR}/model.pt"
MODEL_CONFIG = f"{MODEL_DIR}/config.json"
MODEL_HISTORY = f"{MODEL_DIR}/history.csv"
MODEL_METRICS = f"{MODEL_DIR}/metrics.json"
MODEL_PREDICTIONS = f"{MODEL_DIR}/predictions.parquet"
#: Beside the model while it trains (not a Snakemake output, so an interrupted job resumes from it).
CHECKPOINT = "checkpoint.pt"
PREDICTIONS = f"{RESULTS}/predictions/{{target}}/{{bands}}/{{res}}px.parquet"
PREDICTIONS_VAL = f"{RESULTS}/predictions/{{target}}/{{bands}}/{{res}}px_validation.parquet"
#: The predictions the figures, gallery and MMR show: one fold's model or the ensemble (config analysis).
HEADLINE = f"{RESULTS}/predictions/{{target}}/{{bands}}/{{res}}px_headline.parquet"
BASELINE = f"{RESULTS}/baselines/{{method}}/{{target}}.parquet"
CALIBRATION = f"{RESULTS}/calibration/{{target}}/{{bands}}/{{res}}px.json"

# ---- tables, figures, published record, bundles ----------------------------------------------
SUMMARY_CSV = f"{RESULTS}/tables/summary.csv"
SUMMARY_MD = f"{RESULTS}/tables/summary.md"
MMR_CSV = f"{RESULTS}/tables/mmr.csv"
UNCERTAINTY_CSV = f"{RESULTS}/tables/uncertainty.csv"
#: The README's results block as the run makes it (galcnn.report.readme).
README_RESULTS = f"{RESULTS}/tables/readme_results.md"
REFERENCE = f"{RESULTS}/reference/{{target}}/{{bands}}/{{res}}px.parquet"
REFERENCE_STATUS = f"{RESULTS}/reference/{{target}}/{{bands}}/status.json"
REFERENCE_COMPARISON = f"{RESULTS}/tables/reference_comparison.csv"
FIGURE_DIR = f"{RESULTS}/figures"
BUNDLE_DIR = f"{RESULTS}/bundle"
#: Written by a restore before its files move into place: results a later restore may replace.
RESTORE_MARKER = f"{RESULTS}/.restored-from-bundle.json"
#: The configuration identity of the run that made the results (galcnn.pipeline.workspace).
WORKSPACE = f"{RESULTS}/.workspace.json"

# ---- exported models and new galaxies --------------------------------------------------------
EXPORT_DIR = f"{RESULTS}/export/{{target}}/{{bands}}/{{res}}px"
#: Names inside an exported model's folder (also read by :mod:`galcnn.cnn.portable` outside Snakemake).
EXPORT_MANIFEST = "model.json"
EXPORT_FOLD = "fold{fold}.pt"
EXPORT_JSON = f"{EXPORT_DIR}/{EXPORT_MANIFEST}"
EXPORT_WEIGHTS = f"{EXPORT_DIR}/{EXPORT_FOLD}"
APPLY_ROOT = f"{RESULTS}/apply"
#: One apply catalogue's files (config apply.name): its own cutout store and packed images.
APPLY_DIR = f"{APPLY_ROOT}/{{name}}"
APPLY_CATALOG = f"{APPLY_DIR}/catalog.parquet"
APPLY_TRUTH = f"{APPLY_DIR}/mock_truth.parquet"
APPLY_CUTOUTS = f"{APPLY_DIR}/cutouts"
APPLY_MANIFEST = f"{APPLY_CUTOUTS}/{SHARD_MANIFEST}"
APPLY_IMAGES = f"{APPLY_DIR}/images/{{res}}px.npy"
APPLY_INDEX = f"{APPLY_DIR}/images/index.parquet"
APPLY_EXCLUDED = f"{APPLY_DIR}/images/excluded.parquet"
APPLY_PREDICTIONS = f"{APPLY_DIR}/predictions/{{target}}.parquet"
APPLY_TABLE = f"{APPLY_ROOT}/{{name}}.parquet"
APPLY_CSV = f"{APPLY_ROOT}/{{name}}.csv"

# ---- outside results/ ------------------------------------------------------------------------
WEIGHTS = "resources/weights/{arch}-imagenet.pth"


def shard_id(i: int) -> str:
    """The id of shard (or query partition) ``i`` in file names: zero-padded to three digits."""
    return f"{int(i):03d}"
