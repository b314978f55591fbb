"""Figure 4: CNN stellar masses, and metallicity inferred from them through the MMR."""

from galcnn import storage
from galcnn.figures.fig4_mass import make_mass

storage.setup_logging(snakemake.log[0])
make_mass(
    snakemake.input.mass, snakemake.input.metallicity, snakemake.output.pdf, snakemake.output.png
)
