"""`python -m cvcore explain IMAGE --model M --method NAME`: top-5, one attribution map and its faithfulness.

Prints the top-5 classes, the method's time and its deletion/insertion AUCs next to
those of random maps at the map's own resolution, and for Integrated Gradients and Gradient
SHAP Captum's convergence delta (completeness); ``--out`` writes the map laid over the
model's view of the photo as a PNG. ``--faithfulness`` prints the Saliency page's
faithfulness table instead, for each ``--method`` given (each map alone, then every map's
curves and the random baselines in one batched ``score_results`` call, as the page does).
"""

from __future__ import annotations

import argparse
import json
import warnings

from cvcore.cli import add_format_argument, add_runtime_arguments, count, output_file, runtime_mode
from cvcore.errors import InvalidInputError
from cvcore.figures import figure_caption, standalone_html, with_caption
from cvcore.formatting import render
from cvcore.images import decode_image, encode_png
from cvcore.registry import Task, get_spec


def register(subparsers) -> None:
    parser = subparsers.add_parser("explain", help="attribution map (saliency) of a classifier for one photo")
    parser.add_argument("image", help="photo (jpg, png, webp, bmp, tiff, gif)")
    parser.add_argument("--model", default="efficientnet_lite0", help="a classifier with trained weights (default: %(default)s)")
    parser.add_argument(
        "--method", action="append",
        help="attribution method (default: grad_cam); a wrong name lists them all; several with --faithfulness",
    )  # fmt: skip
    parser.add_argument(
        "--faithfulness", action="store_true",
        help="print only the deletion/insertion scores table of every --method (the Saliency page's table)",
    )  # fmt: skip
    parser.add_argument("--target", help="class index or label (default: the top-1 class)")
    parser.add_argument("--layer", help="Grad-CAM layer, a dotted module path (default: the family's last conv stage)")
    parser.add_argument("--out", type=output_file, help="write the map over the photo to this PNG file")
    parser.add_argument(
        "--curves-html", type=output_file, help="write the deletion and insertion curves (random baselines too) as HTML"
    )
    parser.add_argument(
        "--steps",
        type=count(1, 1000),
        default=20,
        help="pixel shares on the deletion/insertion curves, 1..1000 (default: %(default)s)",
    )
    parser.add_argument(
        "--random-maps", type=count(0, 99), default=10,  # 99: cvcore.attribution.faithfulness.MAX_RANDOM_MAPS (no torch here)
        help="random maps of the map's resolution for the baseline, 0..99 (0: no baseline); a verdict needs 5 "
        "(default: %(default)s)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seed of the random maps (default: %(default)s)")
    add_format_argument(parser, ("table", "csv", "json"))
    add_runtime_arguments(parser)  # the top-5 and the curves; the maps are always eager fp32
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: every `python -m cvcore ...` registers this command, and these load torch and Captum.
    from cvcore.attribution import explain_photo, get_method, overlay, with_colorbar
    from cvcore.classify import resolve_target
    from cvcore.runtime import compile_in_this_thread
    from cvcore.storage import atomic_write
    from cvcore.weights import load_model

    # Captum announces the temporary ReLU hooks of Guided Backprop (removed again, on a copy): noise here.
    warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU activations", module="captum")
    spec = get_spec(args.model)
    if spec.task is not Task.CLASSIFICATION:  # before its weights are looked for
        raise InvalidInputError(
            f"{spec.display_name} is a {spec.task.value} model, not a classifier: explain needs a classifier."
        )
    methods = args.method or ["grad_cam"]
    for method in methods:
        get_method(method)  # a typo fails before the model loads
    _check_outputs(args, methods)
    mode = runtime_mode(args)
    if args.out is not None and args.out.suffix.lower() != ".png":
        raise InvalidInputError(f"--out must name a .png file; got {args.out}.")
    image = decode_image(args.image).image
    target = resolve_target(spec.categories, args.target) if args.target is not None else None
    model = load_model(spec.name, device=args.device)
    with compile_in_this_thread():  # a one-shot run: the curves must come from the mode asked for
        reports = [
            explain_photo(
                model, spec, image, [method], target=target, layer=args.layer, curves=not args.faithfulness,
                curve_steps=args.steps, random_maps=args.random_maps, seed=args.seed, mode=mode,
            )
            for method in methods
        ]  # fmt: skip
        if args.faithfulness:  # as the page does: the maps one by one, then all their curves in one batched stream
            from cvcore.attribution import score_results
            from cvcore.attribution.tables import faithfulness_table

            scored = score_results(
                model, reports[0].classification.inputs, [r.results[0] for r in reports], reports[0].target,
                steps=args.steps, random_maps=args.random_maps, seed=args.seed, mode=mode,
            )  # fmt: skip
            print(render(faithfulness_table(scored, reports[0].display_name), args.format))
            if args.curves_html is not None:  # the Saliency page's figure of these methods
                _write_curves(args.curves_html, reports[0], scored)
            return 0
    report = reports[0]
    result = report.results[0]
    if args.out is not None:
        sign = result.attribution.sign
        atomic_write(args.out, encode_png(with_colorbar(overlay(report.image, result.attribution.values, sign), sign)))
    if args.curves_html is not None:
        _write_curves(args.curves_html, report, [result])
    record = _record(report, result, args)
    print(json.dumps(record, indent=2) if args.format == "json" else _text(report, record))
    return 0


def _write_curves(path, report, results) -> None:
    from cvcore.attribution import faithfulness_figure
    from cvcore.storage import atomic_write

    title = f"{report.display_name}: deletion and insertion curves for '{report.target_label}'"
    caption = "AUCs in the legend; deletion: lower is better, insertion: higher is better; random baselines in grey."
    atomic_write(path, standalone_html(with_caption(faithfulness_figure(list(results), title), figure_caption(caption))))


def _check_outputs(args: argparse.Namespace, methods: list[str]) -> None:
    """Several methods and CSV belong to the scores table; the map and the record are one method's (checked before work)."""
    if args.faithfulness and args.format == "json":
        raise InvalidInputError("--faithfulness prints a table: use --format table or csv.")
    if not args.faithfulness and (len(methods) > 1 or args.format == "csv"):
        raise InvalidInputError("Several --method and --format csv go with --faithfulness (the scores table).")
    if args.faithfulness and args.out:
        raise InvalidInputError("--out draws one method's map: drop --faithfulness (--curves-html draws every method's curves).")


def _record(report, result, args) -> dict:
    attribution, scores, random = result.attribution, result.faithfulness, result.random
    return {
        "model": report.model,
        "image": str(args.image),
        "top5": [{"index": p.index, "label": p.label, "prob": round(p.prob, 6)} for p in report.classification.predictions],
        "method": attribution.method,
        "method_display_name": attribution.display_name,
        "target": report.target,
        "target_label": report.target_label,
        "target_prob": round(report.target_prob, 6),
        "layer": attribution.layer,
        "resolution": list(attribution.resolution),
        "time_ms": round(attribution.time_ms, 1),
        "deletion_auc": round(scores.deletion_auc, 4),
        "insertion_auc": round(scores.insertion_auc, 4),
        "random_deletion_auc": round(random.deletion_auc, 4) if random else None,
        "random_insertion_auc": round(random.insertion_auc, 4) if random else None,
        "random_maps": random.maps if random else 0,
        "random_deletion_auc_std": round(result.verdicts[0].random_std, 4) if random else None,
        "random_insertion_auc_std": round(result.verdicts[1].random_std, 4) if random else None,
        "deletion_p": round(result.verdicts[0].p_value, 4) if random else None,
        "insertion_p": round(result.verdicts[1].p_value, 4) if random else None,
        "deletion_verdict": result.verdicts[0].outcome if random else None,
        "insertion_verdict": result.verdicts[1].outcome if random else None,
        "curve_steps": args.steps,
        "completeness": _completeness(attribution.completeness),
        "out": str(args.out) if args.out else None,
        "notes": attribution.notes,
        "mode": report.mode,  # of the top-5 and the curves; the map is eager fp32
        "agreement_with_fp32": None
        if report.agreement is None
        else {"top1_equal": report.agreement.share == 1.0, "reference": report.agreement.reference},
    }


def _completeness(c) -> dict | None:
    """Captum's convergence delta of a path method's map, with what it is compared to."""
    from cvcore.attribution.core import COMPLETENESS_TOLERANCE

    if c is None:
        return None
    return {
        "convergence_delta": round(c.delta, 6),
        "attribution_sum": round(c.attribution_sum, 6),
        "output_difference": round(c.output_difference, 6),  # f(x) - f(baseline)
        "relative": round(c.relative, 6),
        "tolerance": COMPLETENESS_TOLERANCE,
        "within_tolerance": c.within_tolerance,
        "samples": c.samples,
        "text": c.describe(),
    }


def _text(report, record: dict) -> str:
    from cvcore.attribution.tables import faithfulness_table, top5_table

    top = top5_table(report.classification, f"{record['model']} on {record['image']}")
    layer = f", layer {record['layer']}" if record["layer"] else ""
    faith = faithfulness_table(report.results, report.display_name, report.target_label)
    faith.caption += (
        f" Target {record['target_label']} ({record['target']}), p={record['target_prob']:.3f}; "
        f"{record['method_display_name']} took {record['time_ms']:.0f} ms{layer}; curves over {record['curve_steps']} pixel shares."
    )
    return "\n".join([render(top, "table"), "", render(faith, "table"), *_record_lines(record)])


def _record_lines(record: dict) -> list[str]:
    """The lines under the tables that the JSON record alone gives: completeness, notes, files written."""
    lines = [record["completeness"]["text"]] if record["completeness"] else []
    lines += [f"note: {n}" for n in record["notes"]]
    if record["agreement_with_fp32"] is not None:
        agreement = record["agreement_with_fp32"]
        verdict = "top-1 equal to fp32" if agreement["top1_equal"] else "top-1 DIFFERS from fp32"
        lines.append(f"Top-5 and curves in {record['mode']} (map: eager fp32); {verdict} ({agreement['reference']}).")
    if record["out"]:
        lines.append(f"wrote {record['out']}")
    return lines
