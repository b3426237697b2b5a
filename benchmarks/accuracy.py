"""Accuracy on real photos: linear probe vs SVM vs fine-tuning, chosen by CV on the training part.

For each dataset folder (one sub-folder per class): a fixed stratified
train/test split (25 % test, seed 0; ``--splits 0,1,2,3,4`` repeats everything
on several such splits, each with its own fixed seed, to average out the
luck of one small test set). On the training part only, every
candidate recipe gets a stratified K-fold CV accuracy (folds shuffled with the
run's seed) and is then refit on the whole training part and scored on the
test part. The "selected" row is the candidate with the best CV accuracy: what
a user who picks by CV would get; "selected (1-SE)" is the simplest candidate
(in the order below, each ``+tta`` row after its own) within one standard error
of the best CV accuracy, as ``tune(select="one_se")`` picks. Every fine-tuning candidate is also scored
with test-time augmentation (``tta=True``, image + mirror averaged) from the
same fitted models, as the candidate's ``+tta`` row. Frozen activations are
computed one image at a time (``sktransfer.set_config(deterministic=True)``),
so that a row does not depend on which candidates ran before it and filled
the activation cache; ``--batched`` computes them in batches, as the library
does by default.

Candidates (``--candidates`` picks some):
  probe          standardised pooled embeddings + LogisticRegression (the floor)
  svm            embeddings + SVC, GridSearchCV over kernel and C, mirror averaging
                 (PretrainedEmbedder(tta=...)) and input size (--svm-sizes)
  classic        the usual notebook's head-only fine-tune: Adam at 0.001 for 10
                 epochs (sktransfer's defaults before these measurements)
  head           fine-tune the head only (Dense softmax on pooled features):
                 FineTunedClassifier() with the library defaults (Adam at 0.003,
                 30 epochs)
  head_aug       ... with augmentation (flip, rotation, zoom; cached views)
  top            fine-tune the top block + head from a random head (head_epochs=0),
                 backbone at lr x 0.1, --top-epochs
  top_aug        ... with augmentation
  lpft           two-stage: the head alone first (30 epochs, as head), then the top
                 block + head for --top-epochs (the default head_epochs=30)
  lpft_aug       ... with augmentation
  full           fine-tune everything from a random head, backbone at lr x 0.1,
                 --full-epochs
  full_aug       ... with augmentation
  vote           soft vote (mean probabilities) of probe and lpft (with TTA):
                 sklearn's VotingClassifier
  vote_ft        soft vote of the two fine-tunes lpft and top_aug (with TTA)
                 (a vote listed after its members combines their fitted models, frozen,
                 instead of fitting them again)
  head1024_svm   improved head (2 x 1024, batch norm, L2, dropout) trained,
                 then an SVC on its penultimate embeddings

Examples::

    python benchmarks/accuracy.py --backbone mobilenet_0.25 \\
        --weights ../shared/data/weights/mobilenet_2_5_224_tf_no_top.h5
    python benchmarks/accuracy.py --backbone efficientnet_lite0 \\
        --candidates probe,svm,classic,head,head_aug,head1024_svm
    # rerun one candidate into an earlier result file (its rows are replaced):
    python benchmarks/accuracy.py --backbone efficientnet_lite0 --candidates svm \\
        --update benchmarks/results/accuracy_efficientnet_lite0.json
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import dataset_parser, machine, parse_dataset_args, print_table, write_json

ALL = (
    "probe",
    "svm",
    "classic",
    "head",
    "head_aug",
    "top",
    "top_aug",
    "lpft",
    "lpft_aug",
    "full",
    "full_aug",
    "vote",
    "vote_ft",
    "head1024_svm",
)
VOTES = {"vote": ("probe", "lpft"), "vote_ft": ("lpft", "top_aug")}


def build(name, args, seed):
    """The estimator of candidate ``name`` for this run's backbone and seed."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from sktransfer import Augmentation, FineTunedClassifier, PretrainedEmbedder
    from sktransfer.tuning import SVM_GRID, top_block

    shared = dict(backbone=args.backbone, weights=args.weights, input_size=args.size)
    aug = Augmentation(flip="horizontal", rotation=0.05, zoom=0.1, n_views=args.n_views)
    tuned = dict(random_state=seed, **shared)
    if getattr(args, "keras_fit", False):  # an args namespace built without it (tests) trains as by default
        import keras

        # A user callback sends a fit through Keras' own loop instead of the in-graph one.
        tuned["callbacks"] = [keras.callbacks.Callback()]
    if args.epochs is not None:
        tuned["epochs"] = args.epochs
    top = top_block(args.backbone)
    if name == "probe":
        return make_pipeline(
            PretrainedEmbedder(**shared), StandardScaler(), LogisticRegression(max_iter=2000)
        )
    if name == "svm":
        pipe = make_pipeline(PretrainedEmbedder(**shared), StandardScaler(), SVC(random_state=seed))
        embedder = {
            "pretrainedembedder__tta": [False, True],
            "pretrainedembedder__input_size": args.svm_sizes,
        }
        grid = [{**g, **embedder} for g in SVM_GRID]
        return GridSearchCV(pipe, grid, cv=StratifiedKFold(3, shuffle=True, random_state=seed))
    if name == "classic":
        return FineTunedClassifier(learning_rate=0.001, epochs=10, random_state=seed, **shared)
    if name in VOTES:
        from sklearn.ensemble import VotingClassifier

        members = [(member, build(member, args, seed)) for member in VOTES[name]]
        return VotingClassifier(members, voting="soft")
    if name == "head1024_svm":
        ft = FineTunedClassifier(
            head=(1024, 1024), head_batchnorm=True, head_l2=1e-4, head_dropout=0.5, **tuned
        )
        return make_pipeline(ft, StandardScaler(), SVC(C=10, random_state=seed))
    base, _, with_aug = name.partition("_")
    # lpft is top with the library's default two-stage fit; top and full stay as first
    # measured, head and backbone layers together from a random head.
    if base == "lpft":
        base = "top"
    else:
        tuned["head_epochs"] = 0
    layers = {"head": 0, "top": top, "full": "all"}[base]
    scale = {"head": 1.0, "top": 0.1, "full": 0.1}[base]
    epochs = {"top": args.top_epochs, "full": args.full_epochs}.get(base)
    if epochs is not None:
        tuned["epochs"] = epochs
    return FineTunedClassifier(
        trainable_layers=layers, backbone_lr_scale=scale, augmentation=aug if with_aug else None, **tuned
    )


def scores(model, X, y):
    """(accuracy, macro F1) of a fitted model, and with TTA when it is a fine-tuner."""
    from sklearn.metrics import accuracy_score, f1_score

    from sktransfer import FineTunedClassifier

    out = {}
    if not isinstance(model, FineTunedClassifier):
        pred = model.predict(X)
        return {"": (accuracy_score(y, pred), f1_score(y, pred, average="macro"))}
    # Both explicitly: the model's own setting (the default is tta=True) must not leak.
    saved = model.tta
    for suffix, tta in [("", False), ("+tta", True)]:
        pred = model.set_params(tta=tta).predict(X)
        out[suffix] = (accuracy_score(y, pred), f1_score(y, pred, average="macro"))
    model.set_params(tta=saved)
    return out


def run_candidate(name, args, seed, X_train, y_train, X_test, y_test, fitted=None, keep=()):
    """The rows (plain and ``+tta``) of candidate ``name``: per-fold CV accuracy, test scores.

    ``fitted``, a dict shared by the candidates of one (split, seed), keeps the fitted
    models of the candidates in ``keep`` (the members of the run's votes) by (candidate,
    fold) (fold ``None``: the refit on the whole training part). A vote whose members
    all ran before it in this run then combines those very models, frozen (sklearn's
    ``FrozenEstimator`` inside its ``VotingClassifier``), instead of fitting them again:
    with activations computed one image at a time a refit would give the same models
    bitwise, at the cost of two top-block fine-tunes per fold. Its fit and CV seconds
    are then its members'.
    """
    from sklearn.base import clone
    from sklearn.ensemble import VotingClassifier
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import StratifiedKFold

    estimator = build(name, args, seed)
    members = VOTES.get(name, ())
    reuse = fitted is not None and bool(members) and all((m, None) in fitted for m in members)
    is_member = fitted is not None and name in keep

    def fit(fold, X, y):
        if reuse:
            frozen = [(m, FrozenEstimator(fitted[m, fold][0])) for m in members]
            model = VotingClassifier(frozen, voting="soft").fit(X, y)
            return model, sum(fitted[m, fold][1] for m in members)
        start = time.perf_counter()
        model = clone(estimator).fit(X, y)
        seconds = time.perf_counter() - start
        if is_member:
            fitted[name, fold] = model, seconds
        return model, seconds

    folds = StratifiedKFold(args.cv, shuffle=True, random_state=seed)
    cv, cv_seconds = {}, 0.0
    for fold, (train, val) in enumerate(folds.split(X_train, y_train)):
        model, seconds = fit(fold, X_train[train], y_train[train])
        cv_seconds += seconds
        for suffix, (acc, _) in scores(model, X_train[val], y_train[val]).items():
            cv.setdefault(suffix, []).append(acc)
    model, fit_seconds = fit(None, X_train, y_train)
    test = scores(model, X_test, y_test)
    chosen = {"inner_best_params": repr(model.best_params_)} if hasattr(model, "best_params_") else {}
    if reuse:
        chosen["members_reused"] = True
    return [
        {
            "candidate": name + suffix,
            "seed": seed,
            "cv_accuracy": float(sum(cv[suffix]) / len(cv[suffix])),
            "cv_folds": [float(a) for a in cv[suffix]],
            "test_accuracy": float(acc),
            "test_macro_f1": float(f1),
            "fit_seconds": fit_seconds,
            "cv_seconds": cv_seconds,
            **chosen,
        }
        for suffix, (acc, f1) in test.items()
    ]


def _run_key(row):
    return row["dataset"], row.get("split", 0), row["seed"], row["candidate"]


def merge_rows(rows, new):
    """``rows`` with ``new`` added; a row of ``rows`` for the same dataset, split, seed and
    candidate (its ``+tta`` row included) is replaced, keeping the order."""
    redone = {_run_key(r)[:3] + (r["candidate"].split("+")[0],) for r in new}
    kept = [r for r in rows if _run_key(r)[:3] + (r["candidate"].split("+")[0],) not in redone]
    return kept + list(new)


def _previous_rows(path):
    import json

    with open(path) as f:
        before = json.load(f)
    return before["runs"], before


def summarise(rows):
    """Mean and spread over runs (split x seed) per (dataset, candidate), and the CV-selected
    candidate per run."""
    import numpy as np

    table = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        mine = [r for r in rows if r["dataset"] == dataset]
        for cand in dict.fromkeys(r["candidate"] for r in mine):
            rs = [r for r in mine if r["candidate"] == cand]
            acc = np.array([r["test_accuracy"] for r in rs])
            table.append(
                {
                    "dataset": dataset,
                    "candidate": cand,
                    "seeds": len(rs),
                    "cv_acc": float(np.mean([r["cv_accuracy"] for r in rs])),
                    "test_acc": float(acc.mean()),
                    "test_acc_sd": float(acc.std()),
                    "macro_f1": float(np.mean([r["test_macro_f1"] for r in rs])),
                    "fit_s": float(np.mean([r["fit_seconds"] for r in rs])),
                }
            )
        picks = {"SELECTED": [], "SELECTED (1-SE)": []}
        for run in dict.fromkeys((r.get("split", 0), r["seed"]) for r in mine):
            per_seed = [r for r in mine if (r.get("split", 0), r["seed"]) == run]
            probe = next((r for r in per_seed if r["candidate"] == "probe"), None)
            picks["SELECTED"].append((max(per_seed, key=lambda r: r["cv_accuracy"]), probe))
            simple = one_se_choice(per_seed)
            if simple is not None:
                picks["SELECTED (1-SE)"].append((simple, probe))
        for label, selected in picks.items():
            if selected and len(selected) == len(picks["SELECTED"]):
                table.append(_selected_row(dataset, label, selected))
    return table


def simplicity(candidate):
    """Sort key: candidates in the order of ALL (simplest first), each ``+tta`` row after its own."""
    base, _, tta = candidate.partition("+")
    return ALL.index(base), bool(tta)


def one_se_choice(rows):
    """The row the one-standard-error rule picks (``sktransfer.tuning.one_standard_error``, the
    simplest candidate first), or None when a row has no per-fold CV scores (older runs)."""
    import numpy as np

    from sktransfer.tuning import one_standard_error

    rows = sorted(rows, key=lambda r: simplicity(r["candidate"]))
    folds = [r.get("cv_folds") for r in rows]
    if any(f is None or len(f) != len(folds[0]) for f in folds):
        return None
    folds = np.array(folds, dtype=float)
    results = {f"split{i}_test_score": folds[:, i] for i in range(folds.shape[1])}
    return rows[one_standard_error({"mean_test_score": folds.mean(axis=1), **results})]


def _selected_row(dataset, label, selected):
    import numpy as np

    acc = np.array([b["test_accuracy"] for b, _ in selected])
    gains = [b["test_accuracy"] - p["test_accuracy"] for b, p in selected if p is not None]
    return {
        "dataset": dataset,
        "candidate": f"{label}: " + ",".join(b["candidate"] for b, _ in selected),
        "seeds": len(selected),
        "test_acc": float(acc.mean()),
        "test_acc_sd": float(acc.std()),
        "macro_f1": float(np.mean([b["test_macro_f1"] for b, _ in selected])),
        "gain_over_probe": float(np.mean(gains)) if gains else None,
    }


def main():
    p = dataset_parser(__doc__)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--splits", default="0", help="seeds of the train/test splits (one run each)")
    p.add_argument(
        "--svm-sizes", default="224,288", help="input sizes searched by the svm candidate's inner grid"
    )
    p.add_argument(
        "--update",
        default=None,
        metavar="JSON",
        help="an earlier result file of the same backbone: keep its rows except those "
        "this run redoes (same dataset, split, seed, candidate) and write there",
    )
    p.add_argument("--cv", type=int, default=3)
    p.add_argument("--test-size", type=float, default=0.25)
    p.add_argument("--candidates", default=",".join(ALL))
    p.add_argument(
        "--epochs", type=int, default=None, help="epochs of the head-only candidates (default: the library's)"
    )
    p.add_argument("--top-epochs", type=int, default=10, help="epochs of the top-block fine-tunes")
    p.add_argument("--full-epochs", type=int, default=5, help="epochs of the full fine-tunes")
    p.add_argument("--n-views", type=int, default=3, help="cached augmented views per image")
    p.add_argument(
        "--batched",
        action="store_true",
        help="compute frozen activations in batches (the library's default) instead of "
        "one image at a time (sktransfer.set_config(deterministic=True)): faster, "
        "but a row can then depend in the last bits, and after a long training in "
        "its accuracy, on which candidates ran before it",
    )
    p.add_argument(
        "--keras-fit",
        action="store_true",
        help="fine-tunes train through Keras' own fit loop (a no-op callback), against the in-graph loop",
    )
    p.add_argument("--out", default=None)
    args = parse_dataset_args(p)
    deterministic = not args.batched
    candidates = args.candidates.split(",")
    unknown = sorted(set(candidates) - set(ALL))
    if unknown:
        p.error(f"unknown candidates {unknown}; choose from {ALL}")
    args.svm_sizes = [int(s) for s in args.svm_sizes.split(",")]
    previous = []
    if args.update:
        previous, header_before = _previous_rows(args.update)
        if header_before.get("backbone") != args.backbone or header_before.get("size") != args.size:
            p.error(
                f"--update {args.update!r} holds {header_before.get('backbone')} at "
                f"{header_before.get('size')} px, not {args.backbone} at {args.size} px"
            )
        if header_before.get("deterministic", False) != deterministic:
            p.error(
                f"--update {args.update!r} was computed "
                f"{'in batches (--batched)' if deterministic else 'one image at a time'}; "
                f"rerun it the same way or write a new file"
            )

    from sklearn.model_selection import train_test_split

    import sktransfer
    from sktransfer import load_image_folder

    sktransfer.set_cache(max_bytes=6 * 2**30)
    sktransfer.set_config(deterministic=deterministic)
    seeds = [int(s) for s in args.seeds.split(",")]
    splits = [int(s) for s in args.splits.split(",")]
    out = args.update or args.out or f"accuracy_{args.backbone}.json"
    header = dict(
        machine=machine(),
        command=" ".join(sys.argv),
        backbone=args.backbone,
        weights=str(args.weights),
        size=args.size,
        cv=args.cv,
        test_size=args.test_size,
        epochs=args.epochs,
        top_epochs=args.top_epochs,
        full_epochs=args.full_epochs,
        n_views=args.n_views,
        splits=splits,
        svm_sizes=args.svm_sizes,
        deterministic=deterministic,
    )
    if args.update:
        header["commands"] = header_before.get("commands", [header_before.get("command")]) + [
            header["command"]
        ]
    print(header["machine"])
    rows = list(previous)
    keep = {member for name in candidates for member in VOTES.get(name, ())}
    for folder in args.folders:
        X, y, _ = load_image_folder(folder)
        dataset = os.path.basename(os.path.normpath(folder))
        for split in splits:
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, test_size=args.test_size, stratify=y, random_state=split
            )
            print(
                f"\n{dataset} (split {split}): {len(X_train)} train / {len(X_test)} test "
                f"images, {len(set(y))} classes",
                flush=True,
            )
            for seed in seeds:
                fitted = {}  # the vote members' models, for the votes after them
                for name in candidates:
                    new = [
                        {"dataset": dataset, "split": split, **row}
                        for row in run_candidate(
                            name, args, seed, X_train, y_train, X_test, y_test, fitted, keep
                        )
                    ]
                    rows = merge_rows(rows, new)
                    for row in new:
                        print(
                            f"  split {split} seed {seed} {row['candidate']:<16} "
                            f"cv {row['cv_accuracy']:.3f}  test {row['test_accuracy']:.3f}  "
                            f"f1 {row['test_macro_f1']:.3f}  fit {row['fit_seconds']:.0f}s  "
                            f"cv {row['cv_seconds']:.0f}s",
                            flush=True,
                        )
                    write_json(out, {**header, "runs": rows, "summary": summarise(rows)}, quiet=True)
    table = summarise(rows)
    print()
    print_table(
        table,
        [
            "dataset",
            "candidate",
            "seeds",
            "cv_acc",
            "test_acc",
            "test_acc_sd",
            "macro_f1",
            "fit_s",
            "gain_over_probe",
        ],
    )
    write_json(out, {**header, "runs": rows, "summary": table})


if __name__ == "__main__":
    main()
