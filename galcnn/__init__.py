"""Galaxy metallicity from three-colour SDSS images with CNNs (Wu & Boada 2019).

One module per stage of the workflow; every function takes arrays, frames and
paths, so each stage is usable and testable without Snakemake.
"""

__version__ = "0.1.0"


def load(folder, device=None, threads=None):
    """An exported model folder (``snakemake export``), checked against its model.json:
    ``galcnn.load(folder).predict(rgb_uint8)``, under model.json's thread count unless
    ``threads`` is given. See :mod:`galcnn.cnn.portable`."""
    # Imported here: torch is needed only by those who predict.
    from galcnn.cnn.portable import load as _load

    return _load(folder, device, threads)
