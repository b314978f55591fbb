# Calibrated uncertainties: per trained configuration, the factor that scales the spread of
# the folds × TTA predictions to a 68 % interval, fitted on the out-of-fold validation
# predictions; the test set's coverage before and after, as a table and a figure.


localrules:
    calibrate_uncertainty,
    uncertainty_table,


rule calibrate_uncertainty:
    input:
        test=PREDICTIONS,
        validation=PREDICTIONS_VAL,
    output:
        CALIBRATION,
    log:
        log_path("calibrate_uncertainty", "{target}/{bands}/{res}px"),
    conda:
        "../envs/analysis.yaml"
    threads: 1
    script:
        "../workflow/scripts/calibrate_uncertainty.py"


rule uncertainty_table:
    input:
        [CALIBRATION.format(target=t, bands=b, res=r) for t, b, r in cnn_keys()],
    output:
        report(
            UNCERTAINTY_CSV,
            caption="../report/uncertainty.rst",
            **report_placement("uncertainty", "csv"),
        ),
    log:
        log_path("uncertainty_table"),
    conda:
        "../envs/analysis.yaml"
    params:
        cnn_keys=cnn_keys(),
    script:
        "../workflow/scripts/uncertainty_table.py"


rule figure_fig_calibration:
    input:
        test=[PREDICTIONS.format(target=t, bands=b, res=r) for t, b, r in calibration_figure_keys()],
        validation=[
            PREDICTIONS_VAL.format(target=t, bands=b, res=r)
            for t, b, r in calibration_figure_keys()
        ],
        calibration=[
            CALIBRATION.format(target=t, bands=b, res=r) for t, b, r in calibration_figure_keys()
        ],
    output:
        **figure_outputs("fig_calibration"),
    log:
        log_path("figure_fig_calibration"),
    benchmark:
        bench_path("figure_fig_calibration")
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        configurations=calibration_figure_keys(),
    script:
        "../workflow/scripts/figure_fig_calibration.py"
