"""Galaxy metallicity from three-colour SDSS images with CNNs (Wu & Boada 2019).

One module per stage of the workflow; every function takes arrays, frames and
paths, so each stage is usable and testable without Snakemake.
"""

__version__ = "0.1.0"
