"""The embedded mock survey: an SDSS-like spectroscopic galaxy catalogue from published relations.

:func:`simulate_catalog` draws galaxies, gives each the catalogue columns of the
real SkyServer query (:data:`galcnn.catalog.CATALOG_COLUMNS`) and passes them
through the same quality cuts (:func:`galcnn.catalog.apply_cuts`). Alongside it
returns the *truth*: the structural parameters the image renderer
(:mod:`galcnn.mock.images`) needs and that no catalogue column holds.

The point of the mock is the paper's claim: a three-colour image carries
metallicity information beyond the integrated g, r, i magnitudes. Here, as on
the sky, that information enters through

* angular size and surface brightness, which encode distance (magnitudes alone
  leave luminosity and distance degenerate), hence stellar mass, hence Z via the
  mass-metallicity relation;
* size at fixed mass: compact galaxies are metal-rich (Ellison et al. 2008);
* dust: the dust-to-gas ratio scales with metallicity, and the reddening it
  causes grows with inclination (the axis ratio disentangles the two);
* bulge fraction, which rises with mass;
* a colour gradient: the dust column, hence reddening, is highest in the centre;
* the observed colour of the old bulge, which tracks the K-correction (redshift)
  far better than the integrated colour, diluted by the disk's sSFR and dust.

Integrated g, r, i magnitudes alone are a genuinely ambiguous predictor: the
flux-limited sample spans z ≈ 0.02-0.2, so apparent brightness says little about
mass, and dust, inclination and star-formation history redden colours alike.

Relations used (each cited where it is implemented):
redshifts of a flux-limited survey (Schmidt 1968); the Baldry et al. (2012) stellar mass
function; the Speagle et al. (2014) star-forming main sequence and a quenched
fraction as in Peng et al. (2010); the Tremonti et al. (2004) mass-metallicity
relation with the SFR dependence of the Curti et al. (2020) fundamental
metallicity relation; the Shen et al. (2003) mass-size relations; the Bell et al.
(2003) colour-M/L relation; the Charlot & Fall (2000) attenuation curve with the
inclination dependence of Masters et al. (2010); the Kennicutt & Evans (2012)
Hα SFR calibration; the Pettini & Pagel (2004) strong-line relations; flat ΛCDM,
H0 = 70, Ωm = 0.3, AB magnitudes (docs/paper.md).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from astropy.cosmology import FlatLambdaCDM
from scipy.special import expit, gammainc

from galcnn import catalog as gcat
from galcnn.mmr import tremonti_metallicity

log = logging.getLogger(__name__)

COSMO = FlatLambdaCDM(H0=70.0, Om0=0.3)

#: Effective wavelengths of the SDSS filters in Å (Fukugita et al. 1996).
WAVELENGTH = {"u": 3551.0, "g": 4686.0, "r": 6166.0, "i": 7480.0, "z": 8932.0}
#: Bands the renderer draws (SkyServer's colour JPEG is i, r, g -> R, G, B).
RENDER_BANDS = ("g", "r", "i")
#: 5σ point-source depths (AB) in 1.4" seeing. SDSS quotes 95%-completeness limits
#: of 22.0/22.2/22.2/21.3/20.5 (York et al. 2000); those sit at S/N ≈ 10.
DEPTH_5SIGMA = {"u": 22.5, "g": 23.1, "r": 22.7, "i": 22.2, "z": 20.8}
#: Absolute magnitude of the Sun in SDSS r, AB (Willmer 2018).
M_SUN_R = 4.65
#: SDSS spectroscopic fibre radius in arcsec (3" diameter fibres).
FIBRE_RADIUS = 1.5

#: Columns of the truth table (besides objID), with what the renderer does with them.
TRUTH_COLUMNS = (
    "z",
    "logm",
    "logsfr",
    "quenched",
    "oh_true",
    "bulge_frac",  # r-band bulge-to-total flux ratio (after dust)
    "bulge_n",
    "bulge_hlr",
    "bulge_q",  # Sersic index, half-light radius (arcsec), axis ratio
    "disk_hlr",
    "disk_q",  # exponential disk: r-band half-light radius (arcsec), axis ratio
    "inclination",
    "beta",  # disk inclination and position angle, degrees
    "av_faceon",
    "av_disk",  # V-band attenuation of the disk: face-on, and at this inclination
    "colour_gradient",  # d ln(hlr_disk) / d ln(1/λ): bluer light more extended (central dust)
    "hlr",
    "size_resid",  # composite r-band half-light radius (arcsec); log size offset at fixed mass (dex)
    *(f"flux_{c}_{b}" for c in ("bulge", "disk") for b in RENDER_BANDS),  # nanomaggies
    "psf_fwhm",  # seeing FWHM in r, arcsec
)

#: Truth columns an image shows directly, for the image-information check; bulge_gr and
#: disk_gr are computed by :func:`visible_features`.
IMAGE_VISIBLE = ("disk_q", "hlr", "bulge_frac", "colour_gradient", "bulge_gr", "disk_gr")


# ---- published relations -------------------------------------------------------------
def curti_fmr(logm, logsfr):
    """Curti et al. (2020) FMR, eq. 5 with their Table 6 fit: Z(M, SFR).

    Only its SFR dependence at fixed mass is used (the normalisation is Tremonti's).
    """
    z0, m0, m1, gamma, beta = 8.779, 10.11, 0.56, 0.31, 2.1
    logm0 = m0 + m1 * np.asarray(logsfr)
    return z0 - gamma / beta * np.log10(1.0 + 10.0 ** (-beta * (np.asarray(logm) - logm0)))


def speagle_ms(logm, age_gyr):
    """Star-forming main sequence of Speagle et al. (2014) eq. 28: log SFR(M, t)."""
    return (0.84 - 0.026 * age_gyr) * logm - (6.51 - 0.11 * age_gyr)


def baldry_smf(logm):
    """Baldry et al. (2012) double Schechter stellar mass function, dN/dlogM (arbitrary norm)."""
    mstar, phi1, a1, phi2, a2 = 10.66, 3.96e-3, -0.35, 0.79e-3, -1.47
    x = 10.0 ** (np.asarray(logm) - mstar)
    return np.log(10) * np.exp(-x) * x * (phi1 * x**a1 + phi2 * x**a2)


def shen_size(logm, late):
    """Median r-band half-light radius in kpc, Shen et al. (2003) eqs. 17-18.

    Late types: R = γ M^α (1 + M/M0)^(β-α), α=0.14, β=0.39, γ=0.10 kpc, M0=3.98e10;
    early types: R = b M^a, a=0.56, b=2.88e-6 kpc. Returns (R, σ_lnR).
    """
    m = 10.0 ** np.asarray(logm)
    r_late = 0.10 * m**0.14 * (1 + m / 3.98e10) ** (0.39 - 0.14)
    r_early = 2.88e-6 * m**0.56
    sig_late = 0.34 + (0.47 - 0.34) / (1 + (m / 3.98e10) ** 2)
    return np.where(late, r_late, r_early), np.where(late, sig_late, 0.30)


def bell_ml_r(g_minus_r):
    """log(M/L_r) from rest-frame g - r, Bell et al. (2003) Table 7."""
    return -0.306 + 1.097 * g_minus_r


def sersic_bn(n):
    """b_n so that r_e encloses half the light (Ciotti & Bertin 1999)."""
    n = np.asarray(n, dtype=float)
    return 2 * n - 1 / 3 + 4 / (405 * n) + 46 / (25515 * n**2)


def enclosed_fraction(radius, hlr, n):
    """Fraction of a circular Sersic profile's light inside ``radius`` (broadcasting)."""
    n = np.asarray(n, dtype=float)
    x = sersic_bn(n) * (np.asarray(radius) / np.asarray(hlr)) ** (1 / n)
    return gammainc(2 * n, x)


# ---- drawing the population -----------------------------------------------------------
def sample_redshift(rng, n, zmin=0.017, zmax=0.3):
    """Redshifts of a flux-limited survey: dN/dz ∝ dV/dz × n(> M_lim(z)) (Schmidt 1968).

    The comoving volume of flat ΛCDM times the number density of Baldry et al.
    (2012) galaxies above :func:`mass_floor` gives the SDSS main sample's shape
    (a z² rise, an exponential fall, median ≈ 0.09 after petroMag_r < 18) and its
    low-redshift dwarfs.
    Drawn from 0.017 so that the paper's z > 0.02 cut removes a few, as on the sky.
    """
    grid = np.linspace(zmin, zmax, 600)
    pdf = COSMO.differential_comoving_volume(grid).value * _smf_above(mass_floor(grid))
    cdf = np.cumsum(pdf)
    cdf /= cdf[-1]
    return np.interp(rng.random(n), cdf, grid)


def _smf_above(logm_min, lo=7.5, hi=12.5):
    """Number density (arbitrary norm) of Baldry et al. (2012) galaxies above ``logm_min``."""
    grid = np.linspace(lo, hi, 2000)
    cum = np.cumsum(baldry_smf(grid)[::-1])[::-1] * (grid[1] - grid[0])
    return np.interp(logm_min, grid, cum)


def mass_floor(z, r_limit=17.9):
    """log M* of a galaxy at the spectroscopic flux limit at ``z``, for a low M/L_r at its mass.

    The observed log M/L_r (dust and K-correction included) rises from ≈ 0 for blue
    dwarfs to ≈ 0.5 for massive galaxies (Bell et al. 2003); the floor uses roughly
    its 10th percentile, solving M = L(z) × M/L(M) by fixed-point iteration.
    Galaxies far below it would never be SDSS spectroscopic targets; drawing above
    it (the limit sits beyond the paper's petroMag_r < 18) keeps the simulation
    cheap while the cut still trims the faint end.
    """
    abs_r = r_limit - COSMO.distmod(z).value - 0.1
    log_l = -0.4 * (abs_r - M_SUN_R)
    logm = log_l
    for _ in range(30):
        logm = log_l + 0.03 + 0.47 * expit((logm - 10.2) / 0.35)
    return logm


def sample_mass(rng, z, lo=7.8, hi=12.2):
    """Stellar masses from the Baldry et al. (2012) SMF, truncated below :func:`mass_floor`."""
    grid = np.linspace(lo, hi, 4000)
    cdf = np.cumsum(baldry_smf(grid))
    cdf /= cdf[-1]
    floor = np.clip(mass_floor(z), lo, hi - 0.5)
    u_lo = np.interp(floor, grid, cdf)
    return np.interp(u_lo + (1 - u_lo) * rng.random(len(z)), cdf, grid)


def _stellar_colours(log_ssfr, oh):
    """Dust-free rest-frame colours (u-r, g-r, r-i, i-z) of a population by its sSFR.

    An interpolation between a star-forming (log sSFR = -9) and a passive
    (-12) template with SDSS-like colours (Strateva et al. 2001; Blanton & Moustakas
    2009), plus a small metallicity term (metal-rich populations are redder).
    """
    w = expit((-10.6 - np.asarray(log_ssfr)) / 0.45)
    blue = np.array([1.10, 0.30, 0.10, 0.02])
    red = np.array([2.60, 0.78, 0.40, 0.32])
    cols = blue[None, :] + w[:, None] * (red - blue)[None, :]
    cols += 0.15 * (np.asarray(oh) - 8.9)[:, None] * np.array([1.0, 0.4, 0.15, 0.1])[None, :]
    return cols


def _band_offsets(colours):
    """m_band - m_r for u, g, r, i, z from (u-r, g-r, r-i, i-z)."""
    ur, gr, ri, iz = colours.T
    return {"u": ur, "g": gr, "r": np.zeros_like(gr), "i": -ri, "z": -ri - iz}


def _k_correction(band, z, g_minus_r):
    """Linear-in-z K-corrections, close to Chilingarian et al. (2010) for z < 0.3."""
    a, c = {"u": (0.4, 2.5), "g": (0.15, 3.0), "r": (0.0, 1.0), "i": (0.0, 0.5), "z": (0.0, 0.3)}[
        band
    ]
    return z * (a + c * g_minus_r)


def _attenuation(band, a_v):
    """A_λ from A_V with the Charlot & Fall (2000) power law τ ∝ λ^-0.7."""
    return a_v * (WAVELENGTH[band] / 5500.0) ** -0.7


def _objids(rng, n):
    """Unique SDSS-like photometric objIDs (skyVersion 2, rerun 301, run/camcol/field/id bits)."""
    out = np.empty(0, dtype=np.int64)
    while len(out) < n:
        k = n - len(out)
        run = rng.integers(94, 8163, k, dtype=np.int64)
        camcol = rng.integers(1, 7, k, dtype=np.int64)
        field = rng.integers(11, 800, k, dtype=np.int64)
        ident = rng.integers(1, 2000, k, dtype=np.int64)
        ids = (2 << 59) | (301 << 48) | (run << 32) | (camcol << 29) | (field << 16) | ident
        out = np.concatenate([out, ids])
        _, first = np.unique(out, return_index=True)
        out = out[np.sort(first)]
    return out[:n]


def _specobjids(rng, n):
    plate = rng.integers(266, 8000, n, dtype=np.int64)
    fiber = rng.integers(1, 1001, n, dtype=np.int64)
    mjd = rng.integers(51578, 58000, n, dtype=np.int64)
    # run2d (26) in bits 10-23; the low bits keep ids of the same plate/fibre/mjd distinct
    return (
        (plate << 50)
        | (fiber << 38)
        | ((mjd - 50000) << 24)
        | (26 << 10)
        | (np.arange(n, dtype=np.int64) % 1024)
    )


def _petrosian(bt, hlr_b, n_b, hlr_d, psf_fwhm):
    """SDSS Petrosian quantities of a bulge + exponential disk seen through the PSF.

    Returns (flux fraction inside 2 R_P, R50, R90, fibre fraction, composite hlr).
    Circular apertures on the circularised profile, the PSF added in quadrature to
    each half-light radius; Petrosian ratio 0.2 over an annulus 0.8-1.25 r
    (Blanton et al. 2001; Strauss et al. 2002).
    """
    radii = np.geomspace(0.05, 200.0, 240)[None, :]
    psf_hlr = psf_fwhm / 2.0  # a Gaussian's half-light radius is FWHM/2
    hb = np.sqrt(hlr_b**2 + psf_hlr**2)[:, None]
    hd = np.sqrt(hlr_d**2 + psf_hlr**2)[:, None]
    bt_ = bt[:, None]
    nb = n_b[:, None]

    def light(r, hb=hb, hd=hd):
        return bt_ * enclosed_fraction(r, hb, nb) + (1 - bt_) * enclosed_fraction(r, hd, 1.0)

    inside = light(radii)
    annulus = (light(1.25 * radii) - light(0.8 * radii)) / (1.25**2 - 0.8**2)
    ratio = annulus / np.maximum(inside, 1e-12)
    # first radius where the ratio falls below 0.2 (it decreases outwards)
    idx = np.argmax(ratio < 0.2, axis=1)
    r_p = radii[0, idx]
    petro_frac = light(2 * r_p[:, None])[:, 0]
    r50 = _radius_at(radii[0], inside, 0.5 * petro_frac)
    r90 = _radius_at(radii[0], inside, 0.9 * petro_frac)
    fibre = light(np.full((1, 1), FIBRE_RADIUS))[:, 0]
    intrinsic = bt_ * enclosed_fraction(radii, hlr_b[:, None], nb) + (1 - bt_) * enclosed_fraction(
        radii, hlr_d[:, None], 1.0
    )
    hlr = _radius_at(radii[0], intrinsic, np.full(len(bt), 0.5))
    return petro_frac, r50, r90, fibre, hlr


def _radius_at(radii, enclosed, level):
    """Per row, the radius where the (increasing) enclosed light reaches ``level``."""
    idx = np.clip((enclosed < level[:, None]).sum(axis=1), 1, len(radii) - 1)
    rows = np.arange(len(level))
    lo, hi = enclosed[rows, idx - 1], enclosed[rows, idx]
    t = np.clip((level - lo) / np.maximum(hi - lo, 1e-12), 0, 1)
    return np.exp(np.log(radii[idx - 1]) + t * (np.log(radii[idx]) - np.log(radii[idx - 1])))


def simulate_catalog(
    n_galaxies: int, seed: int, cuts: dict, image_z_terms: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw ``n_galaxies`` galaxies and apply the paper's quality cuts.

    ``cuts`` is the config's ``query.cuts`` mapping (see
    :func:`galcnn.catalog.quality_cuts`). Returns ``(catalog, truth)``: the
    catalogue has exactly :data:`galcnn.catalog.CATALOG_COLUMNS`; the truth has
    objID plus :data:`TRUTH_COLUMNS`, row for row the same galaxies. The same
    seed gives identical frames.

    ``image_z_terms=False`` is the negative control (:func:`control_metallicity`):
    the same galaxies and images, but a metallicity that depends on the galaxy
    only through its g, r, i magnitudes, so an image can tell nothing more about it.
    """
    if int(n_galaxies) < 1:
        raise ValueError(f"mock n_galaxies must be a positive integer, got {n_galaxies!r}")
    rng = np.random.default_rng(int(seed))
    n = int(n_galaxies)

    # The steps draw from one generator in a fixed order: the same seed, the same galaxies.
    z = sample_redshift(rng, n)
    logm = sample_mass(rng, z)
    ms, quenched, logsfr = _star_formation(rng, logm, COSMO.age(z).value)
    r_kpc, size_resid = _sizes(rng, logm, quenched)
    oh = _metallicity(rng, logm, logsfr, ms, size_resid)
    bt_mass, bulge_n = _bulges(rng, logm, quenched)
    cos_i, disk_q, bulge_q, beta = _orientation(rng, n)
    av_faceon, av_disk, colour_gradient = _dust(rng, oh, logsfr, ms, quenched, disk_q)
    flux = _component_fluxes(rng, z, logm, logsfr, bt_mass, oh, av_disk)
    bulge_frac = flux["bulge", "r"] / (flux["bulge", "r"] + flux["disk", "r"])

    disk_hlr = r_kpc / (COSMO.kpc_proper_per_arcmin(z).value / 60.0)
    bulge_hlr = disk_hlr * np.clip(rng.normal(0.3, 0.07, n), 0.12, 0.6)
    psf_fwhm = np.clip(rng.lognormal(np.log(1.35), 0.15, n), 0.9, 2.2)
    petro_frac, r50, r90, fibre, hlr = _petrosian(
        bulge_frac, bulge_hlr, bulge_n, disk_hlr, psf_fwhm
    )

    cat = _photometry(rng, z, logm, bt_mass, flux, petro_frac, r50, r90)
    if not image_z_terms:
        oh = control_metallicity(cat, oh, seed)
    _spectroscopy(cat, rng, z, logm, logsfr, ms, oh, quenched, av_disk, fibre)
    truth = pd.DataFrame(
        {
            "objID": cat["objID"],
            "z": z,
            "logm": logm,
            "logsfr": logsfr,
            "quenched": quenched,
            "oh_true": oh,
            "bulge_frac": bulge_frac,
            "bulge_n": bulge_n,
            "bulge_hlr": bulge_hlr,
            "bulge_q": bulge_q,
            "disk_hlr": disk_hlr,
            "disk_q": disk_q,
            "inclination": np.degrees(np.arccos(cos_i)),
            "beta": beta,
            "av_faceon": av_faceon,
            "av_disk": av_disk,
            "colour_gradient": colour_gradient,
            "hlr": hlr,
            "size_resid": size_resid,
            **{f"flux_{c}_{b}": flux[c, b] for c in ("bulge", "disk") for b in RENDER_BANDS},
            "psf_fwhm": psf_fwhm,
        }
    )

    cat = gcat.check_catalog(cat)
    log.info("simulated %d galaxies (seed %d); applying the quality cuts", n, seed)
    kept = gcat.apply_cuts(cat, gcat.quality_cuts(cuts))
    log.info(
        "mock catalogue: %d of %d galaxies pass the cuts (%d removed)", len(kept), n, n - len(kept)
    )
    truth = truth.set_index("objID").loc[kept["objID"]].reset_index()
    return kept, truth


def _star_formation(rng, logm, age):
    """Main sequence with 0.3 dex scatter (Speagle et al. 2014) and a quenched fraction
    rising with mass (Peng et al. 2010, Fig. 6; M_q ≈ 10^10.6). Returns (ms, quenched, logsfr)."""
    n = len(logm)
    ms = speagle_ms(logm, age)
    quenched = rng.random(n) < expit((logm - 10.45) / 0.35)
    logsfr = np.where(quenched, logm - 12.0 + rng.normal(0, 0.4, n), ms + rng.normal(0, 0.3, n))
    return ms, quenched, logsfr


def _sizes(rng, logm, quenched):
    """Sizes (Shen et al. 2003): late-type relation for star formers, early-type for quenched.

    Returns (r_e in kpc, log size offset at fixed mass in dex).
    """
    r_kpc, sig_ln = shen_size(logm, ~quenched)
    size_resid = rng.normal(0, 1, len(logm)) * sig_ln / np.log(10)
    return r_kpc * 10.0**size_resid, size_resid


def _metallicity(rng, logm, logsfr, ms, size_resid):
    """Tremonti MMR + Curti FMR's SFR term + compact-is-metal-rich + intrinsic scatter.

    Compact galaxies are metal-rich (Ellison et al. 2008): at fixed mass, Z rises with
    the stellar surface density, by ≈ 0.05 dex from the most extended to the most
    compact third (Barrera-Ballesteros et al. 2016 find ≤ 0.1 dex), here -0.3 dex per
    dex of size. The scatter at fixed mass, independent of anything an image shows, grows
    towards low mass (Tremonti et al. 2004; Zahid et al. 2012) and is skewed: metal-poor
    outliers make most of it (Zahid et al. 2012 find the lowest-Z galaxies dominate the
    SDSS scatter) while the metal-rich side is bounded, as strong-line abundances saturate
    near 12 + log(O/H) ≈ 9.2 (Kewley & Ellison 2008). Here a Gaussian core (σ 0.13 dex at
    log M = 8.5 to 0.07 at ≥ 10.5, 0.4 times that above the relation) minus a zero-mean
    exponential tail (scale 0.18 to 0.06 dex). With the AGN fraction of
    :func:`_emission_lines` this gives the oh_p50 distribution of the paper's cuts: the 500
    real cutouts of the paper's data set (jwuphysics/convnet-demo) have
    8.905 ± 0.197, median 8.95, skewness -1.2, 5th/95th percentiles 8.49/9.13; 20,000 mock
    galaxies (seed 2019) 8.926 ± 0.187, median 8.96, skewness -1.2, 8.57/9.17 (before this
    calibration 8.97 ± 0.15, skewness -0.9, 8.68/9.18).
    """
    n = len(logm)
    core = rng.normal(0, 1, n) * np.interp(logm, [8.5, 10.5], [0.13, 0.07])
    core = np.where(core > 0, 0.4 * core, core)  # bounded above: the calibrations saturate
    tail = (rng.exponential(1.0, n) - 1.0) * np.interp(logm, [8.5, 10.5], [0.18, 0.06])
    return (
        # Extrapolated beyond 8.5 < log M < 11.5; the cuts keep few galaxies out there.
        tremonti_metallicity(logm, extrapolate=True)
        + curti_fmr(logm, logsfr)
        - curti_fmr(logm, ms)
        - 0.3 * size_resid
        + core
        - tail
    )


def _bulges(rng, logm, quenched):
    """Bulge fraction (stellar mass) rising with mass, higher for quenched galaxies
    (e.g. Bluck et al. 2014; Lang et al. 2014), and its Sérsic index. Returns (bt_mass, n)."""
    n = len(logm)
    bt_mass = np.clip(
        expit((logm - 10.4) / 0.45) * 0.6 + 0.3 * quenched + rng.normal(0, 0.1, n), 0.02, 0.95
    )
    bulge_n = np.clip(np.round(2 * (2.5 + 1.5 * bt_mass + rng.normal(0, 0.5, n))) / 2, 1.5, 5.0)
    return bt_mass, bulge_n


def _orientation(rng, n):
    """Random orientation; disks have intrinsic thickness 0.15-0.25 (Padilla & Strauss
    2008), bulges are rounder. Returns (cos i, disk axis ratio, bulge axis ratio, PA)."""
    cos_i = rng.random(n)
    thick = rng.uniform(0.15, 0.25, n)
    disk_q = np.sqrt(cos_i**2 + thick**2 * (1 - cos_i**2))
    bulge_q = np.clip(rng.normal(0.8, 0.12, n), 0.4, 1.0)
    beta = rng.uniform(0, 180, n)
    return cos_i, disk_q, bulge_q, beta


def _dust(rng, oh, logsfr, ms, quenched, disk_q):
    """Face-on and inclined V-band attenuation and the central colour gradient.

    The dust-to-gas ratio ∝ metallicity, so the face-on attenuation rises with Z (and
    gas, via SFR; Garn & Best 2010 for the mass trend it implies), but the gas mass and
    the star/dust geometry vary far more: 0.3 mag of scatter at fixed Z and SFR (the
    A_V spread of star formers at fixed mass, e.g. Garn & Best 2010 Fig. 5), so colours
    confuse dust, age and Z; inclined disks are redder, A(i) = A_0 (1 + γ log10(1/q))
    (Masters et al. 2010; Unterborn & Ryden 2008). Central dust makes disk centres
    redder: blue light is more extended than red (Muñoz-Mateos et al. 2009 find A_FUV
    falling outwards); so do stellar age gradients, independent of the dust and of Z
    (inside-out growth, e.g. Sánchez-Blázquez et al. 2014), which dominate the scatter.
    Returns (A_V face-on, A_V of the disk, colour gradient).
    """
    n = len(oh)
    av_faceon = np.clip(
        0.3 + 1.0 * (oh - 8.9) + 0.15 * (logsfr - ms) + rng.normal(0, 0.3, n), 0.03, 1.5
    )
    av_faceon = np.where(quenched, np.clip(rng.normal(0.1, 0.05, n), 0.0, None), av_faceon)
    av_disk = av_faceon * (1 + 1.0 * np.log10(1 / disk_q))
    age_gradient = rng.normal(0.12, 0.12, n)
    colour_gradient = np.clip(0.3 * av_faceon + age_gradient, 0.0, None)
    return av_faceon, av_disk, colour_gradient


def _component_fluxes(rng, z, logm, logsfr, bt_mass, oh, av_disk):
    """Observed u..z fluxes (nanomaggies) of bulge and disk, keyed (component, band).

    The bulge is old (log sSFR ≈ -11.6 ± 0.4, as the pseudo-bulges of star formers hold
    some young stars); the disk holds the star formation. Its colours follow the sSFR
    with 0.3 dex of star-formation-history scatter (bursts, age spread). Each component
    is K-corrected with its own colour, so a resolved old bulge shows the redshift
    through its observed colour (the red-sequence photo-z of e.g. Rykoff et al. 2014)
    while the integrated colour mixes it with the disk's sSFR and dust.
    """
    n = len(z)
    ssfr_disk = logsfr - logm - np.log10(np.clip(1 - bt_mass, 0.05, 1)) + rng.normal(0, 0.3, n)
    bulge_col = _stellar_colours(rng.normal(-11.6, 0.4, n), oh)
    disk_col = _stellar_colours(ssfr_disk, oh)
    ml_b, ml_d = bell_ml_r(bulge_col[:, 1]), bell_ml_r(disk_col[:, 1])
    lum_b = bt_mass * 10**logm / 10**ml_b
    lum_d = (1 - bt_mass) * 10**logm / 10**ml_d
    dm = COSMO.distmod(z).value

    flux = {}
    for comp, lum, cols, a_v in (
        ("bulge", lum_b, bulge_col, 0.5 * av_disk),
        ("disk", lum_d, disk_col, av_disk),
    ):
        offsets = _band_offsets(cols)
        abs_r = M_SUN_R - 2.5 * np.log10(lum)
        for b in gcat.BANDS:
            m = abs_r + offsets[b] + dm + _k_correction(b, z, cols[:, 1]) + _attenuation(b, a_v)
            flux[comp, b] = 10 ** (-0.4 * (m - 22.5))
    return flux


def _photometry(rng, z, logm, bt_mass, flux, petro_frac, r50, r90):
    """The SkyServer query's imaging columns: ids, positions, redshifts, velocity dispersion,
    model magnitudes with SDSS-depth errors and Petrosian quantities."""
    n = len(z)
    cat = pd.DataFrame({"objID": _objids(rng, n), "specObjID": _specobjids(rng, n)})
    cat["ra"] = rng.uniform(120.0, 250.0, n)
    cat["dec"] = np.degrees(
        np.arcsin(rng.uniform(np.sin(np.radians(-5.0)), np.sin(np.radians(65.0)), n))
    )
    zerr = 10 ** rng.normal(-4.8, 0.3, n)
    zerr[rng.random(n) < 0.003] = -1.0  # failed redshift errors, as SpecObj flags them
    cat["z"] = z + rng.normal(0, 1, n) * np.abs(zerr) * (zerr > 0)
    cat["zErr"] = zerr
    veldisp = 10 ** (
        2.0 + 0.28 * (logm - 10.0) + 0.1 * bt_mass + rng.normal(0, 0.06, n)
    )  # Faber-Jackson-like
    cat["velDisp"] = veldisp
    cat["velDispErr"] = veldisp * rng.uniform(0.04, 0.15, n)
    for b in gcat.BANDS:
        total = flux["bulge", b] + flux["disk", b]
        mag = 22.5 - 2.5 * np.log10(total)
        err = np.hypot(0.2171 * 10 ** (0.4 * (mag - DEPTH_5SIGMA[b])), 0.01)
        cat[f"modelMag_{b}"] = mag + rng.normal(0, 1, n) * err
        cat[f"modelMagErr_{b}"] = err
    bad_phot = rng.random(n) < 0.002  # failed photometry is -9999 in PhotoObj, as on the sky
    cat.loc[bad_phot, "modelMag_u"] = gcat.SENTINEL
    cat.loc[bad_phot, "modelMagErr_u"] = gcat.SENTINEL
    cat["petroMag_r"] = cat["modelMag_r"] - 2.5 * np.log10(petro_frac) + rng.normal(0, 0.03, n)
    cat["petroR50_r"] = r50 * 10 ** rng.normal(0, 0.03, n)
    cat["petroR90_r"] = np.maximum(r90 * 10 ** rng.normal(0, 0.03, n), cat["petroR50_r"] * 1.2)
    return cat


def _spectroscopy(cat, rng, z, logm, logsfr, ms, oh, quenched, av_disk, fibre):
    """The spectroscopic columns, in place: emission lines, O/H, D4000, the MPA-JHU mass and SFR."""
    n = len(z)
    _emission_lines(cat, rng, logm, logsfr, ms, oh, quenched, av_disk, fibre, z)
    cat["d4000"] = 1.1 + 0.9 * expit((-10.6 - (logsfr - logm)) / 0.4) + rng.normal(0, 0.04, n)
    cat["d4000_err"] = rng.uniform(0.01, 0.05, n)
    cat["lgm_tot_p50"] = logm + rng.normal(0, 0.08, n)
    cat.loc[rng.random(n) < 0.001, "lgm_tot_p50"] = gcat.SENTINEL  # failed SED fits
    cat["sfr_tot_p50"] = (
        logsfr + rng.normal(0, 0.15, n) + np.where(quenched, rng.normal(0, 0.4, n), 0)
    )
    cat["rChi2"] = np.exp(rng.normal(0.0, 0.3, n))


def control_metallicity(cat: pd.DataFrame, oh: np.ndarray, seed: int) -> np.ndarray:
    """The negative control's metallicity: a function of the g, r, i magnitudes plus scatter
    independent of everything else.

    The least-squares fit of the simulated ``oh`` on the observed g − r, r − i and r
    (the part of Z that magnitudes carry linearly), plus Gaussian scatter with the fit's
    residual spread, drawn from a generator of its own so that every other property,
    and every image, is the standard mock's. Given the magnitudes, nothing in an image
    then says anything about Z: a CNN can at best match a regression on the magnitudes.
    """
    gr = cat["modelMag_g"].to_numpy() - cat["modelMag_r"].to_numpy()
    ri = cat["modelMag_r"].to_numpy() - cat["modelMag_i"].to_numpy()
    design = np.column_stack([np.ones(len(cat)), gr, ri, cat["modelMag_r"].to_numpy() - 17.0])
    # Fitted where the spectroscopic sample lies (petroMag_r < 18), so the control's Z spread there is the standard's.
    bright = cat["petroMag_r"].to_numpy() < 18.0
    coef, *_ = np.linalg.lstsq(design[bright], oh[bright], rcond=None)
    fitted = design @ coef
    scatter = np.std(oh[bright] - fitted[bright])
    return fitted + np.random.default_rng([int(seed), 1]).normal(0.0, scatter, len(cat))


def _emission_lines(cat, rng, logm, logsfr, ms, oh, quenched, a_v, fibre, z):
    """Fibre emission-line fluxes (1e-17 erg/s/cm², not dust-corrected, as MPA-JHU), BPT class and O/H.

    Hα from SFR (Kennicutt & Evans 2012: log SFR = log L_Hα - 41.27) in the fibre,
    attenuated with the nebular A_V ≈ A_V,stars / 0.44 (Calzetti 2000). [NII]/Hα and
    [OIII]/Hβ from O/H through the Pettini & Pagel (2004) N2 and O3N2 relations
    (Tremonti's scale sits ≈ 0.25 dex above PP04). AGN and composites have no O/H
    (−9999), nor do quenched galaxies (bptclass −1 or 5), following MPA-JHU. Their share of
    the emission-line galaxies rises steeply with mass (Kauffmann et al. 2003, Fig. 5: from a
    few per cent at 10^9.5 to about half at 10^10.5 and most above 10^11), so the
    star-forming sample with O/H peaks near 10^10 M☉ rather than at the mass function's knee.
    """
    n = len(cat)
    dl_cm = COSMO.luminosity_distance(z).to("cm").value
    a_neb = a_v / 0.44
    l_ha = 10 ** (logsfr + 41.27)
    ha = (
        l_ha / (4 * np.pi * dl_cm**2) * fibre * 10 ** (-0.4 * a_neb * (6563 / 5500) ** -0.7) / 1e-17
    )
    hb = ha / 2.86 * 10 ** (-0.4 * a_neb * ((4861 / 5500) ** -0.7 - (6563 / 5500) ** -0.7))
    agn = ~quenched & (rng.random(n) < 0.8 * expit((logm - 10.3) / 0.3))
    oh_pp04 = oh - 0.25
    n2 = np.clip((oh_pp04 - 8.90) / 0.57, -2.5, -0.2) + rng.normal(0, 0.05, n)
    o3n2 = np.clip((8.73 - oh_pp04) / 0.32, -1.0, 3.0) + rng.normal(0, 0.08, n)
    n2 = np.where(agn | quenched, rng.normal(0.0, 0.15, n), n2)
    o3hb = np.where(agn | quenched, rng.normal(0.4, 0.25, n), o3n2 + n2)
    lines = {
        "h_alpha": ha,
        "h_beta": hb,
        "nii_6584": ha * 10**n2,
        "oiii_5007": hb * 10**o3hb,
        "h_delta": hb * 0.26,
    }
    snr = {}
    for name, f in lines.items():
        err = np.hypot(2.5, 0.03 * f) * rng.uniform(0.8, 1.2, n)
        cat[f"{name}_flux"] = f + rng.normal(0, 1, n) * err
        cat[f"{name}_flux_err"] = err
        snr[name] = f / err
    strong = np.all([snr[k] > 3 for k in ("h_alpha", "h_beta", "nii_6584", "oiii_5007")], axis=0)
    bpt = np.where(strong, 1, 2)
    bpt = np.where(agn, np.where(rng.random(n) < 0.5, 3, 4), bpt)
    bpt = np.where(quenched, np.where(rng.random(n) < 0.6, -1, 5), bpt)
    cat["bptclass"] = bpt

    # Posterior of O/H: wider at low S/N (class 2), median scattered by part of its width.
    sigma = (0.03 + rng.exponential(0.02, n)) * np.where(bpt == 2, 2.0, 1.0)
    skew = rng.uniform(0.8, 1.25, n)
    p50 = oh + rng.normal(0, 0.3, n) * sigma
    has_oh = np.isin(bpt, (1, 2))
    for col, k in (
        ("oh_p2p5", -1.96),
        ("oh_p16", -1.0),
        ("oh_p50", 0.0),
        ("oh_p84", 1.0),
        ("oh_p97p5", 1.96),
    ):
        width = sigma * np.where(k < 0, skew, 1 / skew)
        cat[col] = np.where(has_oh, p50 + k * width, gcat.SENTINEL)


def visible_features(catalog: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """g, r, i modelMags plus the truth quantities an image shows (:data:`IMAGE_VISIBLE`).

    ``bulge_gr`` and ``disk_gr`` are the observed g - r of the two components (the
    colours of the centre and the outskirts of a resolved galaxy).
    """
    merged = catalog[["objID", "modelMag_g", "modelMag_r", "modelMag_i"]].merge(
        truth, on="objID", validate="1:1"
    )
    for comp in ("bulge", "disk"):
        merged[f"{comp}_gr"] = -2.5 * np.log10(merged[f"flux_{comp}_g"] / merged[f"flux_{comp}_r"])
    return merged[["modelMag_g", "modelMag_r", "modelMag_i", *IMAGE_VISIBLE]]
