"""SkyServer-like gri colour JPEG cutouts of the mock galaxies, rendered with GalSim.

The cutouts are made the way SkyServer makes them (and every step is checked against 500 of the
paper's own real cutouts by :mod:`galcnn.realism` and ``tests/benchmarks/mock_realism.py``):

1. **Frames.** Each band is drawn on SDSS's native 0.396" pixels in nanomaggies, as the
   sky-subtracted DR8+ frames are: a Sersic bulge plus an exponential disk (inclination and
   position angle from the truth table) through a Kolmogorov PSF, the stars and field galaxies
   around it at the sky's density, independent (per-band) sky noise at SDSS depth, and the
   sky-subtraction residuals and scattered light that real frames keep.
2. **Colour frame JPEG.** The photo pipeline's ``sdss_frame_jpg`` (idlutils' ``djs_rgb_make``,
   the Lupton et al. 2004 algorithm): i, r, g -> R, G, B scaled 0.4 × (5, 6.5, 9) per nanomaggy,
   each channel clipped at zero, the asinh nonlinearity 2.25 on their sum, colour-preserving
   saturation, 8 bits, a quality-75 JPEG at the native scale.
3. **ImgCutout.** That JPEG is resampled (bilinearly) to the cutout's scale around the target and
   saved as a JPEG again.

So colours, the chromatic noise speckle and its spatial correlation (the upsampled native pixels),
and the black patches (the per-channel clip at zero of the sky noise, flattened by two JPEGs) all
come out of the same steps as on the sky. Every galaxy is deterministic from ``(seed, objID)``.
"""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path

import galsim
import numpy as np
import pandas as pd
from PIL import Image
from scipy.ndimage import gaussian_filter, map_coordinates
from tqdm import tqdm

from galcnn import cutouts, storage
from galcnn.mock.catalog import DEPTH_5SIGMA, RENDER_BANDS, WAVELENGTH

log = logging.getLogger(__name__)

#: SDSS camera pixel (arcsec): the frames, their noise and their colour JPEGs are on it.
NATIVE_SCALE = 0.396
#: sdss_frame_jpg's scalings per nanomaggy, i, r, g -> R, G, B (photoop: 0.4 × [5, 6.5, 9]). They
#: make the colours: a galaxy with g - r = 0.7, r - i = 0.35 gets (R - B)/(R + G + B) ≈ 0.12 as on
#: real cutouts, and the sky noise, larger in i than in g, a reddish sky (border R - B ≈ 2 counts).
FRAME_SCALES = {"i": 0.4 * 5.0, "r": 0.4 * 6.5, "g": 0.4 * 9.0}
#: sdss_frame_jpg's asinh nonlinearity (djs_rgb_make's ``b``, on the sum of the three channels).
NONLINEARITY = 2.25
#: Quality of the frame JPEGs (djs_rgb_make's default) and of ImgCutout's cutouts.
FRAME_JPEG_QUALITY = 75
JPEG_QUALITY = 75
#: Seeing is worse in bluer bands (FWHM ∝ λ^-0.2 for Kolmogorov turbulence).
SEEING_EXPONENT = -0.2
GSPARAMS = galsim.GSParams(maximum_fft_size=16384)
#: Correlation length (Gaussian σ, native pixels) of what ends on a real cutout. The sky noise of
#: real cutouts at 0.4"/px, i.e. without upsampling, has a lag-1 autocorrelation of 0.78: the
#: frames' pixels are not independent by the time they are cut out (sdss_frame_jpg interpolates g
#: and i onto r's pixel grid, and the JPEGs drop the finest scales). σ = 0.8 px (exp(-1/4σ²) = 0.68,
#: raised to 0.76 by the JPEGs) matches it, and the per-cutout statistics best at the authors' scales.
#: Flux is kept, so the per-pixel noise falls, and the sky is as dark as on real cutouts.
NATIVE_SMOOTHING = 0.8
#: Native pixels drawn beyond the cutout's field on each side, so the resampling has neighbours.
NATIVE_MARGIN = 2

# Field content. Surface densities per arcmin² of sources that show on a cutout (r < 22.5):
# high-latitude star counts (about 1 per arcmin² to r = 22, e.g. Juric et al. 2008) and galaxy
# counts (about 3.6 per arcmin² to r = 22, Yasuda et al. 2001), the latter raised near a target
# by its companions (the galaxy correlation function at arcsec separations). Calibrated so that the
# cutouts show as many other sources as the real ones (measured by galcnn.realism).
#: Stars per arcmin² (r = 14 to 22.5); counts rise by dlogN/dm = 0.15 at high latitude.
STAR_DENSITY = 1.5
STAR_SLOPE = 0.15
#: Field galaxies and companions per arcmin² (r = 16 to 22.5), counts rising by dlogN/dm = 0.45.
GALAXY_DENSITY = 9.0
GALAXY_SLOPE = 0.45
#: Targets are at the field's centre; others are at least this far from it (arcsec).
MIN_SEPARATION = 4.0

# Sky structure. SDSS frames' sky is a smooth spline fit, subtracted; what is left over a 20-40"
# field is a small offset and gradient per band, of order the sky noise of a few pixels, and,
# near bright stars, scattered light (DR8+ frames' i band scatters most, so the glow is red).
#: Per-band residual sky offset and gradient across the field, in units of the band's noise σ.
SKY_OFFSET = 0.05
SKY_GRADIENT = 0.1
#: Share of fields with scattered light, its peak at the field's edge (units of σ, i band) and
#: its e-folding length (arcsec) from a source outside the field.
SCATTER_RATE = 0.1
SCATTER_PEAK = 1.0
SCATTER_LENGTH = 15.0
#: Relative scattered light per band: i, the band whose CCDs scatter most, the strongest.
SCATTER_COLOUR = {"g": 0.3, "r": 0.6, "i": 1.0}


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


def _magnitudes(rng: np.random.Generator, n: int, bright: float, faint: float, slope: float):
    """``n`` magnitudes from number counts N(< m) ∝ 10^(slope m) between ``bright`` and ``faint``."""
    lo, hi = 10 ** (slope * bright), 10 ** (slope * faint)
    return np.log10(lo + rng.random(n) * (hi - lo)) / slope


def _contaminants(
    rng: np.random.Generator, field: float
) -> list[tuple[galsim.GSObject, dict[str, float], tuple[float, float]]]:
    """Stars and other galaxies in a field of side ``field`` arcsec: (profile with unit flux,
    flux per band, offset in arcsec)."""
    area = (field / 60.0) ** 2
    out = []
    for r_mag in _magnitudes(rng, rng.poisson(GALAXY_DENSITY * area), 16.0, 22.5, GALAXY_SLOPE):
        # Fainter galaxies are smaller and, being further, redder in g - r.
        colour = rng.uniform(0.3, 1.1)
        fluxes = {
            b: 10 ** (-0.4 * (r_mag + off - 22.5))
            for b, off in (("g", colour), ("r", 0.0), ("i", -0.4 * colour))
        }
        hlr = float(np.clip(rng.lognormal(np.log(0.9 * 10 ** (-0.1 * (r_mag - 20))), 0.35), 0.2, 8))
        # Exponential profiles throughout: most field galaxies are faint and barely resolved in
        # 1.4" seeing, where the profile's shape does not show, and they draw 5x faster than n = 4.
        prof = galsim.Exponential(half_light_radius=hlr, gsparams=GSPARAMS)
        prof = prof.shear(q=rng.uniform(0.3, 1.0), beta=rng.uniform(0, 180) * galsim.degrees)
        out.append((prof, fluxes, _offset(rng, field / 2)))
    for r_mag in _magnitudes(rng, rng.poisson(STAR_DENSITY * area), 14.0, 22.5, STAR_SLOPE):
        # Halo and disk main-sequence stars: g - r from 0.3 (turn-off) to 1.4 (M dwarfs).
        g_r = rng.uniform(0.3, 1.4)
        fluxes = {
            b: 10 ** (-0.4 * (r_mag + off - 22.5))
            for b, off in (("g", g_r), ("r", 0.0), ("i", -0.45 * g_r))
        }
        out.append((galsim.DeltaFunction(gsparams=GSPARAMS), fluxes, _offset(rng, field / 2)))
    return out


def _offset(rng: np.random.Generator, half: float) -> tuple[float, float]:
    """A position in the field, away from the target (which SkyServer centres)."""
    while True:
        dx, dy = rng.uniform(-half, half, 2)
        if dx * dx + dy * dy > MIN_SEPARATION**2:
            return float(dx), float(dy)


def _sky_structure(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Residual sky per band on an n × n native grid, in units of each band's noise σ."""
    y, x = (np.mgrid[:n, :n] - (n - 1) / 2) / max(n / 2, 1)
    offset = rng.normal(0.0, SKY_OFFSET, 3)
    slope = rng.normal(0.0, SKY_GRADIENT, (3, 2))
    sky = {b: offset[k] + slope[k, 0] * x + slope[k, 1] * y for k, b in enumerate(RENDER_BANDS)}
    if rng.random() < SCATTER_RATE:
        # A source off the field: its light falls off exponentially from the nearest edge inwards.
        angle = rng.uniform(0, 2 * np.pi)
        distance = (np.cos(angle) * x + np.sin(angle) * y - 1.0) * n / 2 * NATIVE_SCALE
        glow = SCATTER_PEAK * rng.uniform(0.3, 1.0) * np.exp(distance / SCATTER_LENGTH)
        for b in RENDER_BANDS:
            sky[b] = sky[b] + SCATTER_COLOUR[b] * glow
    return sky


def native_side(size: int, scale: float) -> int:
    """Native pixels on a side of the frame region a size × size cutout at ``scale`` is cut from."""
    return int(np.ceil(size * scale / NATIVE_SCALE)) + 2 * NATIVE_MARGIN


def render_bands(
    row,
    size: int = 128,
    scale: float = 0.296,
    rng: np.random.Generator | None = None,
    field_sources: bool = True,
) -> dict[str, np.ndarray]:
    """The frames around one galaxy: noisy g, r, i images in nanomaggies per native pixel
    (float32, :func:`native_side` square, the galaxy at the centre). ``field_sources=False``
    leaves out the stars and other galaxies."""
    rng = rng if rng is not None else np.random.default_rng()
    n = native_side(size, scale)
    contaminants = _contaminants(rng, size * scale) if field_sources else []
    sky = _sky_structure(rng, n)
    images = {}
    for band in RENDER_BANDS:
        fwhm = _band_fwhm(float(row["psf_fwhm"]), band)
        scene = [_galaxy(row, band)]
        scene += [prof.withFlux(fluxes[band]).shift(*off) for prof, fluxes, off in contaminants]
        psf = galsim.Kolmogorov(fwhm=fwhm, gsparams=GSPARAMS)
        image = (
            galsim.Convolve(galsim.Add(scene), psf).drawImage(nx=n, ny=n, scale=NATIVE_SCALE).array
        )
        # Photon and read noise are independent per pixel and per band: the chromatic speckle.
        sigma = sky_sigma(band, fwhm)
        noisy = image + sigma * (rng.normal(0.0, 1.0, (n, n)) + sky[band])
        images[band] = gaussian_filter(noisy, NATIVE_SMOOTHING, mode="nearest").astype(np.float32)
    return images


def frame_rgb(images: dict[str, np.ndarray]) -> np.ndarray:
    """SDSS's colour frame image (sdss_frame_jpg via djs_rgb_make): uint8, rows north up.

    Each channel is scaled and clipped at zero *before* the nonlinearity, so the sky noise
    leaves about half of each channel's sky pixels black, as on the real frames.
    """
    rgb = np.stack([np.clip(images[b] * FRAME_SCALES[b], 0.0, None) for b in ("i", "r", "g")], -1)
    radius = NONLINEARITY * rgb.sum(axis=-1)
    factor = np.where(radius > 0, np.arcsinh(radius) / np.where(radius > 0, radius, 1.0), 1.0)
    # Saturation keeps the colour: the brightest channel goes to full scale, the others in ratio.
    brightest = rgb.max(axis=-1)
    factor = np.where(brightest * factor > 1.0, 1.0 / np.maximum(brightest, 1e-12), factor)
    out = np.clip(np.floor(rgb * factor[..., None] * 256), 0, 255).astype(np.uint8)
    # FITS-like arrays have y up; images are stored with north (y) up at the top.
    return np.ascontiguousarray(out[::-1])


def cut_out(frame: np.ndarray, size: int, scale: float) -> np.ndarray:
    """ImgCutout: the size × size cutout at ``scale`` around the frame's centre, bilinearly
    resampled from the native pixels (uint8)."""
    n = frame.shape[0]
    grid = (np.arange(size) - (size - 1) / 2) * (scale / NATIVE_SCALE) + (n - 1) / 2
    rows, cols = np.meshgrid(grid, grid, indexing="ij")
    out = np.stack(
        [
            map_coordinates(frame[..., c].astype(np.float32), [rows, cols], order=1, mode="nearest")
            for c in range(3)
        ],
        -1,
    )
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    """The pixels of ``rgb`` after a JPEG of ``quality``."""
    with Image.open(io.BytesIO(encode_jpeg(rgb, quality))) as img:
        return np.asarray(img.convert("RGB"))


def render_cutout(
    row,
    size: int = 128,
    scale: float = 0.296,
    rng: np.random.Generator | None = None,
    field_sources: bool = True,
) -> np.ndarray:
    """One galaxy of the truth table as a size × size × 3 uint8 RGB image (before ImgCutout's JPEG)."""
    frame = frame_rgb(render_bands(row, size, scale, rng, field_sources))
    return cut_out(jpeg_roundtrip(frame, FRAME_JPEG_QUALITY), size, scale)


def encode_jpeg(rgb: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buf, format="JPEG", quality=int(quality))
    return buf.getvalue()


def _scale_stamp(scales: pd.Series) -> str:
    """The shard's per-galaxy scales as one short digest: cutouts made at other scales are stale."""
    digest = hashlib.sha256(np.round(scales.to_numpy(float), 9).tobytes()).hexdigest()[:16]
    return f"per galaxy, sha256 {digest}"


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
    per_galaxy = "scale" in members.columns
    scales = (
        members["scale"].astype(float) if per_galaxy else pd.Series(float(scale), members.index)
    )
    cutouts.open_shard(
        root,
        int(shard),
        {
            "size": int(size),
            "scale": _scale_stamp(scales) if per_galaxy else float(scale),
            "seed": int(seed),
        },
    )
    records, counts = [], {"kept": 0, "rendered": 0}
    for index, row in tqdm(
        members.iterrows(), total=len(members), desc=f"rendering shard {int(shard):03d}", unit="img"
    ):
        objid = int(row["objID"])
        path = cutouts.cutout_path(root, int(shard), objid)
        status, reason = cutouts.check_file(path, size)
        if status == cutouts.OK:
            counts["kept"] += 1
        else:
            rgb = render_cutout(row, size, float(scales[index]), galaxy_rng(seed, objid))
            data = encode_jpeg(rgb)
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
