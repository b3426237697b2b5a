"""Embedding throughput: PretrainedEmbedder vs raw ``model.predict``, arrays and JPEG paths.

For each input size: (1) raw Keras ``model.predict`` on pre-decoded,
pre-processed arrays (the physical floor: one frozen forward pass), (2)
``PretrainedEmbedder.transform`` on the same uint8 arrays (preprocessing inside
the model), (3) the same from JPEG paths, decoding and resizing included, and
(4) a second ``transform`` on a warm cache. The embedder runs with
``cache=False`` for (2) and (3) so every image is really computed.
``--deterministic`` runs the embedder with
``sktransfer.set_config(deterministic=True)`` (one image per batch), on the
same random weights saved to a file (the mode applies to weights that are
cached, i.e. not ``weights=None``), to measure what that mode costs.
``--inference-batches 8,12,16,22,32`` adds (2) with each inference batch size
(``sktransfer.set_config(inference_batch_size=B)``, best of 3 rounds), the
measurement behind ``inference_batch_size="auto"``'s CPU cap.

Example::

    python benchmarks/throughput.py --sizes 96,160,224 --n 256
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import SHARED_DATA, Timer, machine, print_table, write_json


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.path.join(SHARED_DATA, "tf_flowers"))
    p.add_argument("--backbone", default="resnet50v2")
    p.add_argument("--sizes", default="96,160,224")
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument(
        "--deterministic",
        action="store_true",
        help="embedder rows with sktransfer.set_config(deterministic=True)",
    )
    p.add_argument(
        "--inference-batches",
        default="",
        help="comma-separated inference batch sizes to time the embedder with",
    )
    p.add_argument("--out", default="throughput.json")
    args = p.parse_args()

    import keras

    import sktransfer
    from sktransfer import ActivationCache, PretrainedEmbedder, load_image_folder
    from sktransfer.backbones import BackbonePreprocessing, build_backbone
    from sktransfer.images import load_images

    paths, _, _ = load_image_folder(args.data)
    paths = paths[:: max(1, len(paths) // args.n)][: args.n]
    print(
        f"{machine()}\n{len(paths)} JPEG images, backbone {args.backbone}, random weights"
        + (", deterministic" if args.deterministic else "")
    )
    sktransfer.set_config(deterministic=args.deterministic)
    batches = [int(b) for b in args.inference_batches.split(",") if b]
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        images = load_images(paths, size)
        model, spec = build_backbone(args.backbone, None, size)
        raw = keras.Sequential([model, keras.layers.GlobalAveragePooling2D()])
        x = keras.ops.convert_to_numpy(BackbonePreprocessing(spec.preprocessing)(images))
        warm = 3 * args.batch_size  # enough batches for the compiled path (see _frozen.run_model)
        raw.predict(
            x[:warm], batch_size=args.batch_size, verbose=0
        )  # trace once, as a user's second call would
        with Timer() as t_raw:
            raw.predict(x, batch_size=args.batch_size, verbose=0)
        weights_file = os.path.join(os.path.dirname(__file__), "results", f"tp_{size}.weights.h5")
        os.makedirs(os.path.dirname(weights_file), exist_ok=True)
        model.save_weights(weights_file)
        emb = PretrainedEmbedder(
            args.backbone,
            weights=weights_file if args.deterministic else None,
            input_size=size,
            batch_size=args.batch_size,
            cache=False,
        ).fit(images)
        emb.transform(images[:warm])
        with Timer() as t_arr:
            emb.transform(images)
        with Timer() as t_path:
            emb.transform(paths)
        cached = PretrainedEmbedder(
            args.backbone,
            weights=weights_file,
            input_size=size,
            batch_size=args.batch_size,
            cache=ActivationCache(),
        ).fit(paths)
        cached.transform(paths)
        with Timer() as t_warm:
            cached.transform(paths)
        n = len(paths)
        # best of 3 rounds, each round timing every batch size in turn (this machine's
        # speed drifts by tens of percent over minutes)
        times = {b: [] for b in batches}
        for b in batches * 3:
            with sktransfer.config_context(inference_batch_size=b):
                emb.set_params(batch_size=b)
                if not times[b]:
                    emb.transform(images[: 3 * b])  # untimed first pass at this batch size
                with Timer() as t:
                    emb.transform(images)
            times[b].append(t.seconds)
        sweep = {f"arrays_img_s_batch_{b}": n / min(times[b]) for b in batches}
        rows.append(
            {
                "size": size,
                "raw_predict_img_s": n / t_raw.seconds,
                "embedder_arrays_img_s": n / t_arr.seconds,
                "embedder_paths_img_s": n / t_path.seconds,
                "warm_cache_img_s": n / t_warm.seconds,
                "arrays_vs_raw": t_raw.seconds / t_arr.seconds,
                "paths_vs_arrays": t_arr.seconds / t_path.seconds,
                "floor_seconds": t_raw.seconds,
                **sweep,
            }
        )
        print_table(rows[-1:], list(rows[-1]))
        keras.backend.clear_session()
    print()
    print_table(rows, list(rows[0]))
    write_json(
        args.out,
        {
            "machine": machine(),
            "command": " ".join(sys.argv),
            "images": len(paths),
            "backbone": args.backbone,
            "deterministic": args.deterministic,
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
