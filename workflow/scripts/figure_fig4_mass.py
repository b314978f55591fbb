"""Figure 4: CNN stellar masses, and metallicity inferred from them through the MMR."""

from galcnn import io as gio
from galcnn.figures.fig4_mass import make_mass

gio.setup_logging(snakemake.log[0])
make_mass(
    snakemake.input.mass, snakemake.input.metallicity, snakemake.output.pdf, snakemake.output.png
)
