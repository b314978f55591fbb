"""SkyServer-like gri colour JPEG cutouts of the mock galaxies, rendered with GalSim.

Each galaxy is a Sersic bulge plus an exponential disk per band (inclination and
position angle from the truth table), seen through a Kolmogorov PSF, with sky
noise at SDSS depth and the occasional neighbouring galaxy or star. The noise is
drawn on SDSS's native 0.396" pixels and resampled to the cutout scale, so it is
correlated as in an ImgCutout mosaic. The sky is subtracted, as in SDSS frames,
and the bands are combined i, r, g -> R, G, B with the Lupton et al. (2004) asinh
stretch that SkyServer's images use, then saved as quality-75 JPEGs. The stretch's
scale and the sky's offset are set so that the mock sky looks like the real DR14
one: near black, with a few counts of noise, while the cores of the brightest
galaxies saturate (``tests/test_mock_images.py`` holds the rendered statistics to
the real ones). Every galaxy is deterministic from ``(seed, objID)``.
"""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path

import galsim
import numpy as np
import pandas as pd
from astropy.visualization import make_lupton_rgb
from PIL import Image
from scipy.ndimage import zoom
from tqdm import tqdm

from galcnn import cutouts, storage
from galcnn.mock.catalog import DEPTH_5SIGMA, RENDER_BANDS, WAVELENGTH

log = logging.getLogger(__name__)

#: SDSS camera pixel (arcsec); depths and the colour stretch are defined on it.
NATIVE_SCALE = 0.396
#: Band weights of SkyServer-like colour images, i, r, g -> R, G, B
#: (the ``sdss_rgb`` scalings of the Legacy Survey viewer).
RGB_WEIGHTS = {"i": 1.0, "r": 1.5, "g": 2.5}
# The asinh stretch of astropy's make_lupton_rgb maps the mean I of the weighted bands
# (nanomaggies per native pixel) to asinh(Q I / stretch) * 0.1 / asinh(0.1 Q) of full scale.
#: Softening: with Q = 4.62 the curve has the shape of the legacy viewer's sdss_rgb stretch,
#: asinh(20 I) / sqrt(20), which is this one at stretch 0.231; Q sets how far above the sky the
#: curve turns from linear to logarithmic, hence how many cores saturate.
LUPTON_Q = 4.62
#: Linear scale, nanomaggies (sdss_rgb's curve applied to images 4.8 times fainter): faint light
#: gets 0.1 Q / asinh(0.1 Q) * 255 / LUPTON_STRETCH ≈ 240 counts per nanomaggy, so the weighted
#: sky noise (σ ≈ 0.033 nmgy per channel after resampling) shows as ≈ 8 counts before the clip at
#: black, which leaves the 3–6 counts of scatter seen on real DR14 cutouts' borders. Intensities
#: above ≈ 10 nanomaggies per native pixel saturate: the cores of about a third of the galaxies
#: brighter than r ≈ 15.5, of almost none of the fainter ones, as on real cutouts.
LUPTON_STRETCH = 1.1
#: The frames' sky is subtracted, so with no offset half of the sky pixels would clip to black;
#: this offset (about half the sky σ) leaves 11–21 % of them black (every channel ≤ 3) and the
#: median of the brightest channel at 7–8 counts, as on real DR14 cutouts.
PEDESTAL = 0.016
JPEG_QUALITY = 75
#: Seeing is worse in bluer bands (FWHM ∝ λ^-0.2 for Kolmogorov turbulence).
SEEING_EXPONENT = -0.2
GSPARAMS = galsim.GSParams(maximum_fft_size=16384)


def sky_sigma(band: str, psf_fwhm: float = 1.4) -> float:
    """Sky noise per native 0.396" pixel in nanomaggies, from the 5σ point-source depth.

    For a Gaussian PSF the optimal aperture has an effective area 4πσ²; the 5σ flux
    is 5 σ_pix sqrt(n_eff).
    """
    f5 = 10 ** (-0.4 * (DEPTH_5SIGMA[band] - 22.5))
    sigma_psf = psf_fwhm / 2.3548 / NATIVE_SCALE
    return f5 / 5.0 / np.sqrt(4 * np.pi * sigma_psf**2)


def _band_fwhm(psf_fwhm: float, band: str) -> float:
    return psf_fwhm * (WAVELENGTH[band] / WAVELENGTH["r"]) ** SEEING_EXPONENT


def _galaxy(row, band: str) -> galsim.GSObject:
    """The bulge + disk of one truth row in one band (flux in nanomaggies)."""
    beta = float(row["beta"]) * galsim.degrees
    # Central dust reddens the disk centre: bluer bands have more extended disk light.
    grow = (WAVELENGTH["r"] / WAVELENGTH[band]) ** float(row["colour_gradient"])
    disk = galsim.Exponential(
        half_light_radius=float(row["disk_hlr"]) * grow,
        flux=float(row[f"flux_disk_{band}"]),
        gsparams=GSPARAMS,
    )
    disk = disk.shear(q=float(row["disk_q"]), beta=beta)
    bulge = galsim.Sersic(
        n=float(row["bulge_n"]),
        half_light_radius=float(row["bulge_hlr"]),
        flux=float(row[f"flux_bulge_{band}"]),
        gsparams=GSPARAMS,
    )
    return disk + bulge.shear(q=float(row["bulge_q"]), beta=beta)


def _contaminants(
    row, rng: np.random.Generator, field: float
) -> list[tuple[galsim.GSObject, dict[str, float], tuple[float, float]]]:
    """Neighbouring galaxies and stars: (profile with unit flux, flux per band, offset in arcsec)."""
    out = []
    half = field / 2
    for _ in range(int(row["n_neighbours"])):
        # Faint field galaxies (number counts rise steeply with magnitude).
        r_mag = 22.0 - 4.0 * rng.random() ** 2
        colour = rng.uniform(0.2, 1.0)
        fluxes = {
            b: 10 ** (-0.4 * (r_mag + off - 22.5))
            for b, off in (("g", colour), ("r", 0.0), ("i", -0.4 * colour))
        }
        prof = galsim.Sersic(
            n=rng.choice([1.0, 4.0]), half_light_radius=rng.uniform(0.4, 2.5), gsparams=GSPARAMS
        )
        prof = prof.shear(q=rng.uniform(0.3, 1.0), beta=rng.uniform(0, 180) * galsim.degrees)
        out.append((prof, fluxes, _offset(rng, half)))
    for _ in range(int(row["n_stars"])):
        r_mag = rng.uniform(15.0, 22.0)
        g_r = rng.uniform(0.3, 1.4)
        fluxes = {
            b: 10 ** (-0.4 * (r_mag + off - 22.5))
            for b, off in (("g", g_r), ("r", 0.0), ("i", -0.45 * g_r))
        }
        out.append((galsim.DeltaFunction(gsparams=GSPARAMS), fluxes, _offset(rng, half)))
    return out


def _offset(rng: np.random.Generator, half: float) -> tuple[float, float]:
    """A position in the field, away from the target (which SkyServer centres)."""
    while True:
        dx, dy = rng.uniform(-half, half, 2)
        if dx * dx + dy * dy > 16.0:
            return float(dx), float(dy)


def render_bands(
    row, size: int = 128, scale: float = 0.296, rng: np.random.Generator | None = None
) -> dict[str, np.ndarray]:
    """Noisy g, r, i images in nanomaggies per native pixel (float32, size × size)."""
    rng = rng if rng is not None else np.random.default_rng()
    contaminants = _contaminants(row, rng, size * scale)
    native = int(np.ceil(size * scale / NATIVE_SCALE)) + 2
    images = {}
    for band in RENDER_BANDS:
        fwhm = _band_fwhm(float(row["psf_fwhm"]), band)
        scene = [_galaxy(row, band)]
        scene += [prof.withFlux(fluxes[band]).shift(*off) for prof, fluxes, off in contaminants]
        psf = galsim.Kolmogorov(fwhm=fwhm, gsparams=GSPARAMS)
        image = (
            galsim.Convolve(galsim.Add(scene), psf).drawImage(nx=size, ny=size, scale=scale).array
        )
        noise = zoom(
            rng.normal(0.0, sky_sigma(band, fwhm), (native, native)), size / native * 1.0, order=1
        )[:size, :size]
        # Express everything per native pixel, the unit the stretch is defined in.
        images[band] = (image * (NATIVE_SCALE / scale) ** 2 + noise).astype(np.float32)
    return images


def to_rgb(images: dict[str, np.ndarray]) -> np.ndarray:
    """SkyServer-like colour composite: i, r, g -> R, G, B with an asinh stretch (uint8)."""
    r, g, b = (images[k] * RGB_WEIGHTS[k] for k in ("i", "r", "g"))
    rgb = make_lupton_rgb(r, g, b, minimum=-PEDESTAL, stretch=LUPTON_STRETCH, Q=LUPTON_Q)
    # FITS-like arrays have y up; images are stored with north (y) up at the top.
    return np.ascontiguousarray(rgb[::-1])


def render_cutout(
    row, size: int = 128, scale: float = 0.296, rng: np.random.Generator | None = None
) -> np.ndarray:
    """One galaxy of the truth table as a size × size × 3 uint8 RGB image."""
    return to_rgb(render_bands(row, size, scale, rng))


def encode_jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buf, format="JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def galaxy_rng(seed: int, objid: int) -> np.random.Generator:
    """The random stream of one galaxy: the same image whatever shard or order renders it."""
    return np.random.default_rng([int(seed), int(objid)])


def render_shard(
    truth: pd.DataFrame,
    root: str | Path,
    shard: int,
    n_shards: int,
    size: int,
    scale: float,
    seed: int,
) -> pd.DataFrame:
    """Render the shard's galaxies to JPEGs in the store at ``root`` and write its manifest there;
    returns the manifest. The arguments are :func:`galcnn.sdss.download.download_shard`'s: a
    ``scale`` column of ``truth`` (:func:`galcnn.cutouts.cutout_scales`) sets each galaxy's
    arcsec per pixel, as ImgCutout's ``scale`` does; without one every galaxy is at ``scale``.

    Files that already exist and pass :func:`galcnn.cutouts.check_jpeg` are kept
    (an interrupted job resumes); anything else is (re)rendered.
    """
    if not 0 <= int(shard) < int(n_shards):
        raise ValueError(
            f"shard {shard} is outside 0..{int(n_shards) - 1}; check cutouts.shards in the config"
        )
    members = cutouts.shard_members(truth, int(shard), int(n_shards))
    settings = {"size": int(size), "scale": float(scale), "seed": int(seed)}
    per_galaxy = "scale" in members.columns
    if per_galaxy:
        # Files made at other per-galaxy scales (another framing or factor) are not reused.
        digest = hashlib.sha256(
            members["objID"].to_numpy(np.int64).tobytes()
            + members["scale"].to_numpy(np.float64).tobytes()
        )
        settings["scales"] = digest.hexdigest()[:16]
    cutouts.open_shard(root, int(shard), settings)
    records, counts = [], {"kept": 0, "rendered": 0}
    for _, row in tqdm(
        members.iterrows(), total=len(members), desc=f"rendering shard {int(shard):03d}", unit="img"
    ):
        objid = int(row["objID"])
        path = cutouts.cutout_path(root, int(shard), objid)
        status, reason = cutouts.check_file(path, size)
        if status == cutouts.OK:
            counts["kept"] += 1
        else:
            at = float(row["scale"]) if per_galaxy else scale
            data = encode_jpeg(render_cutout(row, size, at, galaxy_rng(seed, objid)))
            storage.write_bytes(path, data)
            status, reason = cutouts.check_jpeg(data, size)
            counts["rendered"] += 1
        records.append({"objID": objid, "status": status, "reason": reason, "path": str(path)})
    manifest = cutouts.write_manifest(cutouts.manifest_path(root, int(shard)), records)
    by_status = manifest["status"].value_counts().to_dict()
    log.info(
        "shard %03d: %d galaxies, %d rendered, %d already there; status %s",
        int(shard),
        len(members),
        counts["rendered"],
        counts["kept"],
        by_status,
    )
    return manifest
