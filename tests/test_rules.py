"""A newcomer finds a rule's code by its name: workflow/scripts/<rule>.py, and a figure's module
galcnn/figures/<figure>.py (rules/figures.smk). Read from the rule files' text, without Snakemake."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "workflow" / "scripts"
#: A rule or `use rule ... as NAME`, and the lines up to the next one.
RULE = re.compile(r"^\s*(?:rule (\w+)|rule|use rule \w+ from \w+ as (\w+)(?: with)?):\s*$", re.M)
SCRIPT = re.compile(r'^\s*script:\s*\n\s*"\.\./workflow/scripts/([\w{}.]+)\.py"', re.M)
#: Reused stage rules (rules/apply.smk, `use rule`) run the script of the rule they reuse.
REUSED = {
    "apply_cutouts_render": "cutouts_render",
    "apply_cutouts_download": "cutouts_download",
    "apply_cutouts_local": "cutouts_local",
    "apply_pack": "images_pack",
}


def rule_scripts() -> dict[str, str]:
    """Rule name -> script name (without .py) of every rule with a script."""
    found = {}
    figures = re.findall(
        r'^    "(\w+)": \{', (REPO / "rules" / "figures.smk").read_text(), re.MULTILINE
    )
    for smk in sorted((REPO / "rules").glob("*.smk")):
        text = smk.read_text()
        starts = list(RULE.finditer(text))
        for i, match in enumerate(starts):
            end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
            body = text[match.end() : end]
            script = SCRIPT.search(body)
            name = match.group(1) or match.group(2)
            if name in REUSED:
                found[name] = REUSED[name]
            elif script and name is None and smk.name == "figures.smk":  # one rule per figure
                assert 'f"figure_{figure}"' in body, f"{smk.name}: an unnamed rule"
                for figure in figures:
                    found[f"figure_{figure}"] = script.group(1).replace("{params.figure}", figure)
            elif script and name is None:  # a family of rules in a loop, e.g. table_html_{table}
                family = re.search(r'name:\s*\n\s*f"(\w+)_\{\w+\}"', body)
                assert family, f"{smk.name}: an unnamed rule"
                found[family.group(1)] = script.group(1)
            elif script:
                found[name] = script.group(1)
    return found


def test_every_script_is_named_after_its_rule():
    scripts = rule_scripts()
    assert len(scripts) >= 35 and "figure_fig1_gallery" in scripts and "catalog_mock" in scripts
    misnamed = {
        rule: script for rule, script in scripts.items() if rule != script and rule not in REUSED
    }
    assert misnamed == {}, "rename workflow/scripts/<script>.py after its rule"
    for rule, script in scripts.items():
        assert (SCRIPTS / f"{script}.py").is_file(), rule


def test_every_script_belongs_to_a_rule():
    assert sorted(p.stem for p in SCRIPTS.glob("*.py")) == sorted(set(rule_scripts().values()))


def test_each_figure_script_calls_the_module_named_after_its_figure():
    # fig2_published is Fig. 2 drawn from the published predictions: the same plot as ours.
    module_of = {"fig2_published": "fig2_predicted_vs_true"}
    for rule in rule_scripts():
        if rule.startswith("figure_"):
            figure = rule.removeprefix("figure_")
            module = module_of.get(figure, figure)
            assert (REPO / "galcnn" / "figures" / f"{module}.py").is_file(), figure
            assert f"galcnn.figures.{module} import" in (SCRIPTS / f"{rule}.py").read_text()
            assert (REPO / "report" / f"{figure}.rst").is_file(), figure
