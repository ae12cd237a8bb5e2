"""Performance before labels: a model version's AUC or accuracy estimated on live traffic.

The public API, kept stable for the autopilot and the pages::

    from mara.estimate import estimate_performance, estimate_windows

    found = estimate_performance(home, "phase-1", "prob-1", version="3",
                                 since_ns=None, until_ns=None)   # all captured traffic
    found.estimate, found.low, found.high   # the estimate and its 95% band
    found.baseline                          # the version's realized metric on its holdout
    found.in_region, found.reason           # False: the traffic left where the estimate holds
    found.below_baseline                    # in region and the whole band below the baseline
    estimate_windows(home, phase, prob, "3", window_s=3600)  # one per hour with traffic

`PerformanceEstimate` fields: `version`, `metric` ("auc" binary, "accuracy" multiclass),
`n_rows` (rows scored), `estimate`, `low`, `high`, `baseline`, `in_region`, `reason`,
`start_ns` / `end_ns` (the window asked, else its first and last batch; nanoseconds since
the epoch), `batches`, `method` (the calibration used), `realized` and `labelled_rows`
(the version's metric on the window's rows that have late labels, scored again by that
version; None without labels), `drift_share` (share of the window's batches the server
flagged), `domain_auc`, `outside_share` and `effective_share` (the region check). No
traffic in the window gives `n_rows=0`, a NaN estimate and a reason; an unknown version
raises RegistryError; a holdout of one class raises DataError. `served_by="2"` keeps only
batches served by v2 (the default: every batch in the window, whichever version answered
it, so a challenger is estimated on the champion's traffic).

How (NannyML's CBPE): the estimator is fitted once per version on the holdout of its
training table, rows it never trained on, and cached in `<home>/estimates/<phase>/<prob>/
v<N>.json`. There it calibrates the model's confidence (Platt, isotonic; temperature too
for multiclass; the one of lowest cross-validated Brier score is chosen). On a window, the
captured rows are scored again by the version (read through the one capture reader); the
expected accuracy is the mean calibrated probability that the top class is right, the
expected AUC the share of (positive, negative) pairs the scores rank right, each weighted
by the calibrated probabilities. The band draws labels from resampled calibrations. A
domain classifier of window rows against holdout rows flags windows where the holdout no
longer speaks for the traffic (`mara.estimate.region`). A change of P(y | x), a concept
shift, is invisible to any estimate without labels: compare with `realized` once they come.
"""

from mara.estimate.calibrate import Calibrator, fit_calibrator
from mara.estimate.estimator import Estimate, PerformanceEstimator
from mara.estimate.region import RegionCheck, check_region
from mara.estimate.traffic import PerformanceEstimate, estimate_performance, estimate_windows
from mara.estimate.version import ReadyVersion, ready_version

__all__ = [
    "Calibrator",
    "Estimate",
    "PerformanceEstimate",
    "PerformanceEstimator",
    "ReadyVersion",
    "RegionCheck",
    "check_region",
    "estimate_performance",
    "estimate_windows",
    "fit_calibrator",
    "ready_version",
]
