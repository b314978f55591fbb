"""What the pipeline needs around the science: the plan of a run, each rule's code digest and
environment closure, the cluster preflight, the workspace record and the reproducibility pins.
Imports no torch (the reproducibility pins must be set before torch is imported)."""
