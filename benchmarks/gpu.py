"""One command for a GPU: the grid, throughput and memory benchmarks, float32 and mixed precision.

Runs ``grid_search.py`` (sktransfer side), ``throughput.py`` and ``memory.py``
at 224 px, each in a fresh process, once in float32 and once with
``SKTRANSFER_MIXED_PRECISION=1`` (``mixed_float16``), and writes one JSON,
``benchmarks/results/gpu.json``: the device, each run's own result file and
its wall time. Sized to finish in under 8 minutes on one H100 (estimated,
not yet run on one; the grid:
trainable layers 1 and 5 x batch sizes 32 and 64, 3-fold, 3 epochs, 200
photos). Without the flower photos (``--data``), it writes a folder of the
built-in sample images and runs on those.

``--quick`` is a smoke test that runs on a CPU in a few minutes: 32 px,
tiny grid, few images and cycles, MobileNet alpha 0.25. It writes
``gpu_quick.json`` unless ``--out`` says otherwise.

Examples
--------
::

    bash benchmarks/gpu.sh                # = python benchmarks/gpu.py
    python benchmarks/gpu.py --quick      # CPU smoke test of the whole chain
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import SHARED_DATA, machine, write_json  # noqa: E402

PRECISIONS = {"float32": "0", "mixed_float16": "1"}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.path.join(SHARED_DATA, "tf_flowers"))
    p.add_argument("--quick", action="store_true", help="CPU smoke test: tiny sizes")
    p.add_argument("--precisions", default="float32,mixed_float16")
    p.add_argument("--out", default=None, help="default: gpu.json (gpu_quick.json with --quick)")
    return p.parse_args()


def plan(args, data, classes, work):
    """``[(name, [script, args...])]`` of the benchmark runs."""
    if args.quick:
        size, backbone, grid, n_per_class, n, cycles = 32, "mobilenet_0.25", "2:8", 12, 32, 2
    else:
        size, backbone, grid, n_per_class, n, cycles = 224, "resnet50v2", "1,5:32,64", 100, 512, 4
    return [
        (
            "grid_search",
            ["grid_search.py", "--data", data, "--classes", classes, "--size", str(size)]
            + ["--backbone", backbone, "--subset", grid, "--n-per-class", str(n_per_class)]
            + ["--skip-naive", "--epochs", "3" if not args.quick else "1"],
        ),
        (
            "throughput",
            ["throughput.py", "--data", data, "--backbone", backbone, "--sizes", str(size)]
            + ["--n", str(n), "--batch-size", "32" if args.quick else "64"],
        ),
        (
            "memory",
            ["memory.py", "--backbone", backbone, "--weights", "none", "--size", str(size)]
            + ["--cycles", str(cycles), "--n-per-class", "4" if args.quick else "16"],
        ),
    ]


def sample_folder(directory, classes=("dahlia", "temple"), size=224, n_per_class=150):
    """A folder of the built-in sample images as JPEG files, one subfolder per class."""
    from PIL import Image

    from sktransfer.datasets import load_sample

    X, y = load_sample(size=size, n_per_class=n_per_class, random_state=0, return_X_y=True)
    for cls in classes:
        os.makedirs(os.path.join(directory, cls), exist_ok=True)
        for i, image in enumerate(X[y == cls]):
            Image.fromarray(image).save(os.path.join(directory, cls, f"{i:04d}.jpg"), quality=90)
    return directory, ",".join(classes)


def device():
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
    return {"gpus": names, "tensorflow": tf.__version__}


def main():
    args = parse_args()
    out = args.out or ("gpu_quick.json" if args.quick else "gpu.json")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        data, classes = args.data, "daisy,dandelion"
        if not os.path.isdir(data):
            size = 32 if args.quick else 224
            data, classes = sample_folder(os.path.join(work, "images"), size=size)
        runs = {}
        for precision in args.precisions.split(","):
            env = {**os.environ, "SKTRANSFER_MIXED_PRECISION": PRECISIONS[precision]}
            for name, command in plan(args, data, classes, work):
                result = os.path.join(work, f"{name}_{precision}.json")
                command = [sys.executable, os.path.join(HERE, command[0]), *command[1:], "--out", result]
                print(f"\n== {precision}: {' '.join(command[1:])}", flush=True)
                t0 = time.perf_counter()
                proc = subprocess.run(command, env=env, check=False)
                seconds = time.perf_counter() - t0
                entry = {"command": " ".join(["python", *command[1:]]), "seconds": seconds}
                entry["returncode"] = proc.returncode
                if proc.returncode == 0 and os.path.exists(result):
                    with open(result) as fh:
                        entry["result"] = json.load(fh)
                runs[f"{name}/{precision}"] = entry
        failed = [name for name, entry in runs.items() if entry["returncode"] != 0]
        write_json(
            out,
            {
                "machine": machine(),
                "device": device(),
                "quick": args.quick,
                "data": "tf_flowers" if data == args.data else "built-in sample images (no --data folder)",
                "total_seconds": time.perf_counter() - start,
                "failed": failed,
                "runs": runs,
            },
        )
    print(f"total {time.perf_counter() - start:.0f} s; failed: {failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
