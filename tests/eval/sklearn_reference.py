"""scikit-learn's values for the score/label sets that tests/eval/metrics_reference_test.cpp writes.

Usage: sklearn_reference.py CASES.json OUT.json. Exits 3 when scikit-learn cannot be imported, so
the C++ test can skip with a clear message instead of failing on a missing tool.
"""
import json
import math
import sys

try:
    import numpy as np
    from sklearn import metrics as skm
except ImportError as error:  # pragma: no cover - depends on the machine
    print(f"sklearn_reference.py: {error}", file=sys.stderr)
    sys.exit(3)


def both_classes(y):
    return len(set(y.tolist())) == 2


def reference(case):
    s = np.asarray(case["scores"], dtype=np.float64)
    y = np.asarray(case["labels"], dtype=np.int64)
    t = case["threshold"]
    pred = (s >= t).astype(np.int64)
    out = {
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred, pos_label=1, zero_division=0),
        "recall": skm.recall_score(y, pred, pos_label=1, zero_division=0),
        "f1": skm.f1_score(y, pred, pos_label=1, zero_division=0),
        "f1_real": skm.f1_score(y, pred, pos_label=0, zero_division=0),
        "macro_f1": skm.f1_score(y, pred, average="macro", labels=[0, 1], zero_division=0),
        "confusion": skm.confusion_matrix(y, pred, labels=[0, 1]).ravel().tolist(),
        "accuracy_real": skm.recall_score(y, pred, pos_label=0, zero_division=0) if (y == 0).any() else None,
        "accuracy_fake": skm.recall_score(y, pred, pos_label=1, zero_division=0) if (y == 1).any() else None,
    }
    # Best accuracy over every cut "score >= c" (c a distinct score, or above all scores).
    cuts = np.concatenate([np.unique(s), [np.inf]])
    out["best_accuracy"] = max(float(np.mean((s >= c).astype(np.int64) == y)) for c in cuts)
    if both_classes(y):
        out["roc_auc"] = skm.roc_auc_score(y, s)
        out["average_precision"] = skm.average_precision_score(y, s)
        fpr, tpr, thr = skm.roc_curve(y, s, drop_intermediate=False)
        out["roc_fpr"], out["roc_tpr"] = fpr.tolist(), tpr.tolist()
        out["roc_threshold"] = [None if math.isinf(v) else v for v in thr.tolist()]
        # EER: FNR - FPR falls strictly along the curve; interpolate FPR where it is zero.
        g = (1.0 - tpr) - fpr
        out["equal_error_rate"] = float(np.interp(0.0, g[::-1], fpr[::-1]))
    else:
        out.update(roc_auc=None, average_precision=None, equal_error_rate=None)
    if "sources" in case:
        src = np.asarray(case["sources"])
        real = s[y == 0]
        rows = {}
        for name in sorted(set(case["sources"])):
            m = src == name
            row = {"accuracy": skm.accuracy_score(y[m], pred[m]), "roc_auc_vs_real": None}
            if (y[m] == 1).all() and len(real) > 0:
                pooled = np.concatenate([real, s[m]])
                pooled_y = np.concatenate([np.zeros(len(real)), np.ones(m.sum())])
                row["roc_auc_vs_real"] = skm.roc_auc_score(pooled_y, pooled)
            rows[name] = row
        out["sources"] = rows
    return {k: (float(v) if isinstance(v, (np.floating, float)) else v) for k, v in out.items()}


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    result = {case["name"]: reference(case) for case in cases}
    with open(sys.argv[2], "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
