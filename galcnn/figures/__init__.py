"""The paper's figures, one module each; every ``plot_*`` function returns the
matplotlib Figure (built without pyplot, on the Agg canvas) so tests can inspect it,
and every ``make_*`` function reads stored predictions and writes PDF and PNG."""
