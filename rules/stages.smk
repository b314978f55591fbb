# The cutout and packing stages as a module that rules/apply.smk reuses with `use rule`: apply
# imports only the rules it names, so it parses in bundle mode too, where the Snakefile leaves
# these stages out (their outputs come from the bundle).


include: "common.smk"


if config["survey"] == "mock":

    include: "mock.smk"

else:

    include: "cutouts.smk"


# The user's own images (apply.images) go through the local survey's import whatever the survey.
include: "local.smk"
include: "images.smk"
