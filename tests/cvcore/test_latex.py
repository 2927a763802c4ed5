r"""Every LaTeX table cvlens exports compiles with pdflatex as exported and fits the page.

One minimal article (what a thesis adds to its preamble: booktabs and graphicx) holds every
table kind the project exports: each cvcore function that returns a Table, on real data,
and each ``--format latex`` output of the CLI. pdflatex's log is read per table: errors,
Overfull boxes (text past the margin), floats too large for a page, and how much a wide
table had to shrink (``\resizebox`` is redefined to log it).
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import os
import pkgutil
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest

import cvcore
from cvcore.formatting import Table
from cvcore.latex import REQUIRED_PACKAGES, latex_document, latex_escape, to_latex

PDFLATEX = shutil.which("pdflatex")
needs_pdflatex = pytest.mark.skipif(
    PDFLATEX is None, reason="pdflatex is not installed (apt-get install texlive-latex-recommended)"
)
MAX_SHRINK = 1.6  # natural width / line width: \small text scaled to no less than ~5.6 pt
SHRINK_LOG = r"""\let\cvlensresizebox\resizebox
\renewcommand\resizebox[3]{\typeout{cvlens-shrunk \the\wd0/\the\linewidth}\cvlensresizebox{#1}{#2}{#3}}
"""


def compile_parts(parts: dict[str, str], folder: Path) -> dict[str, list[str]]:
    """pdflatex on a document of the named LaTeX parts; the problems its log shows, per part."""
    body = [f"\\typeout{{cvlens-part: {i}}}\n{tex}" for i, tex in enumerate(parts.values())]
    document = latex_document(body).replace(r"\begin{document}", SHRINK_LOG + r"\begin{document}", 1)
    (folder / "doc.tex").write_text(document, encoding="ascii")  # ASCII: nothing for inputenc to get wrong
    env = {**os.environ, "max_print_line": "100000"}  # one log line per message
    run = subprocess.run(
        [PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=folder, env=env, capture_output=True, timeout=300
    )
    names = list(parts)
    problems: dict[str, list[str]] = {}
    current = "preamble"
    for line in (folder / "doc.log").read_text(encoding="latin-1").splitlines():
        if match := re.match(r"cvlens-part: (\d+)", line):
            current = names[int(match.group(1))]
        elif match := re.match(r"cvlens-shrunk ([\d.]+)pt\s*/\s*([\d.]+)pt", line):
            if float(match.group(1)) / float(match.group(2)) > MAX_SHRINK:
                problems.setdefault(current, []).append(f"shrunk by {float(match.group(1)) / float(match.group(2)):.2f}")
        elif line.startswith("!") or re.match(r"(Overfull|LaTeX Warning: Float too large|Missing character)", line):
            problems.setdefault(current, []).append(line)
    if run.returncode != 0:
        problems.setdefault(current, []).append(f"pdflatex exited with {run.returncode}")
    return problems


# --- text ---------------------------------------------------------------------------------------

SYMBOLS = "Δ ± × µ μ ≈ → ★ ÷ − ≤ ≥ ‖ … – — ‘’ “” · ² ° λ α ρ σ Ω ß é ü ñ ç ø ■ ↗ ⚠️ 🔥 Число параметров"


def test_symbols_become_latex_commands():
    assert latex_escape("Δ Top-1 ± 0.5 × 2 µs ≈ → ★") == (
        r"\ensuremath{\Delta} Top-1 \ensuremath{\pm} 0.5 \ensuremath{\times} 2 \ensuremath{\mu}s \ensuremath{\approx} "
        r"\ensuremath{\rightarrow} \ensuremath{\star}"
    )
    assert latex_escape("64x112x112 & 5% of $x_1$ #1 {a} ~b^") == (
        r"64\ensuremath{\times}112\ensuremath{\times}112 \& 5\% of \$x\_1\$ \#1 \{a\} \textasciitilde{}b\textasciicircum{}"
    )
    assert latex_escape("Число параметров") == "Chislo parametrov"  # pdflatex's default fonts have no Cyrillic
    assert latex_escape("top-1 [95% CI]") == r"top-1 {[}95\% CI{]}"  # never an optional argument of \\ or \caption[]


def test_every_character_becomes_ascii():
    text = "".join(chr(c) for c in range(0x20, 0x3000) if unicodedata.category(chr(c)) != "Cs")
    assert latex_escape(text).isascii()
    assert latex_escape(text, breakable=True).isascii()


def _toy(rows, **kwargs) -> Table:
    return Table(rows, caption=kwargs.pop("caption", "A table."), sources=kwargs.pop("sources", ["a source"]), **kwargs)


def test_prose_wraps_identifiers_do_not_and_long_tables_continue():
    note = "a long explanation of why the measured value differs from the paper's, " * 3
    wide = to_latex(_toy([{"model": "DeepLabV3-MobileNet-v3-large", "value": 1.5, "note": note}]))
    assert re.search(r"\\begin\{tabular\}\{lrp\{0\.\d+\\linewidth\}\}", wide)  # the note wraps, the name stays whole
    long = to_latex(_toy([{"layer": f"features.{i}", "params": i} for i in range(100)]), label="tab:layers")
    floats = long.count(r"\begin{table}")
    assert floats >= 3 and long.count(r"Table~\ref{tab:layers}, continued") == floats - 1
    assert long.count(r"\caption{") == 1 and long.count("Sources: a source.") == 1


def test_columns_left_out_of_print():
    t = _toy([{"model": "a", "here": True, "empty": None, "path": "/home/me", "gmacs": 0.5, "acc": -1.25}, {"model": "b", "acc": 2.0}],
             local_columns=("here", "path"))  # fmt: skip
    tex = to_latex(t)
    assert "here" not in tex and "/home/me" not in tex and "empty" not in tex  # machine-specific and empty columns
    assert r"\ensuremath{-}1.25" in tex and "2.00" in tex and "---" in tex  # a minus sign; one column, one decimal count
    assert to_latex(Table([{"x": 1}], latex_columns=["x"], caption="c"), label="tab:x").count(r"\label{tab:x}") == 1
    counts = to_latex(_toy([{"quantity": "parameters", "value": 1235496}, {"quantity": "GMACs", "value": 0.3492}]))
    assert "1,235,496 " in counts and "0.3492" in counts and ".0000" not in counts  # a count among floats stays whole


@needs_pdflatex
def test_any_text_compiles(tmp_path):
    every = "".join(chr(c) for c in range(0xA0, 0x3000, 11) if unicodedata.category(chr(c)) not in ("Cs", "Co", "Cn"))
    rows = [{"text": SYMBOLS, "n": 0}] + [{"text": every[i : i + 60], "n": i} for i in range(0, len(every), 60)]
    table = _toy(rows, caption=f"Caption with {SYMBOLS}", sources=[every[:300]])
    assert compile_parts({"every character": to_latex(table)}, tmp_path) == {}


# --- every table kind the project exports -------------------------------------------------------


def _catalogue():
    from cvcore.catalogue import catalogue_rows
    from cvcore.compare import catalogue_table, filter_catalogue

    rows = catalogue_rows()
    return {
        "Models: the whole catalogue": catalogue_table(rows),
        "Models: segmentation only": catalogue_table(filter_catalogue(rows, task="segmentation")),
    }


def _compare():
    from cvcore import compare
    from cvcore.latency import latency_table, measure_latency

    tables = {}
    for task in ("classification", "segmentation"):
        choice = compare.choose_weights(compare.default_selection(task))
        points = compare.model_points(choice.specs)
        keys = [*compare.Y_AXES_BY_TASK[task], "gmacs", "mparams"]  # what the page shows
        front = compare.chart_data(points, "gmacs", compare.Y_AXES_BY_TASK[task][0]).front
        tables[f"Compare: deltas, {task}"] = compare.delta_table(points, points[0].name, keys, front, note=choice.rule)
    latency = measure_latency("lenet5", warmup_runs=1, runs=2, device="cpu")
    tables["Compare: latency"] = latency_table([latency], {"lenet5": "LeNet-5"})
    tables["Compare: deltas, measured throughput"] = _compare_measured()
    return tables


def _compare_measured():
    """The deltas with a stored sweep's throughput (its long caption: machine, file, batch, mode), in a cvlens home of its own."""
    import tempfile

    from cvcore import compare
    from cvcore.benchmark.axes import ResultSelection, measured_models
    from cvcore.benchmark.store import load_sweep
    from tests.cvcore.benchmark.conftest import store_results

    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.setenv("CVLENS_HOME", folder)
        store_results()
        choice = compare.choose_weights(compare.DEFAULT_SEED)
        measured = measured_models(load_sweep("lab-sweep"), choice.specs, ResultSelection(4))
        axes = compare.benchmark_axes(measured)
        points = compare.model_points(choice.specs, benchmark=measured)
        keys = [*compare.Y_AXES_BY_TASK["classification"], "throughput", "mparams"]
        front = compare.chart_data(points, "throughput", axes=axes).front
        return compare.delta_table(points, points[0].name, keys, front, note=choice.rule, axes=axes)


def _architecture():
    from cvcore.analysis.stages import architecture, diff_stages, stage_diff_table, stage_layer_table, stage_summary_table
    from cvcore.analysis.tables import complexity_table, layer_table, reconciliation_table

    r18, r50, vgg = architecture("resnet18"), architecture("resnet50"), architecture("vgg16")
    stages = r50.stages()
    return {
        "Architecture: stages, ResNet-50": stage_summary_table(stages, "ResNet-50", (224, 224), family="ResNet"),
        "Architecture: stages, VGG-16 (merged)": stage_summary_table(vgg.stages(), "VGG-16", (224, 224), family="VGG"),
        "Architecture: one stage's layers": stage_layer_table(max(stages, key=lambda s: len(s.rows))),
        "Architecture: one stage's layers, expanded": stage_layer_table(
            max(stages, key=lambda s: len(s.rows)), expand_repeats=True
        ),
        "Architecture: every layer": layer_table(r50.layers, r50.complexity),
        "Architecture: totals": complexity_table(r50.complexity),
        "Architecture: fvcore vs torch": reconciliation_table(r50.complexity),
        "Architecture: diff ResNet-18 / ResNet-50": stage_diff_table(
            diff_stages(r18.stages(), stages), "ResNet-18", "ResNet-50", "ResNet", "ResNet"
        ),
        "Architecture: diff ResNet-50 / VGG-16": stage_diff_table(diff_stages(stages, vgg.stages()), "ResNet-50", "VGG-16"),
    }


def _papers():
    from cvcore.papers.registry import PAPERS, all_rows, get_paper, paper_rows
    from cvcore.papers.tables import claims_table, papers_table

    tables = {"Papers: the list": papers_table(), "Papers: every claim": claims_table(all_rows())}
    for key in PAPERS:
        rows = paper_rows(key)
        for table in dict.fromkeys(r.table for r in rows):
            caption = f"{get_paper(key).citation}, {table}: claim and measurement."
            in_table = [r for r in rows if r.table == table]
            tables[f"Papers: {key}, {table}"] = claims_table(in_table, caption, as_text=True, compact=True)
    return tables


def _segmentation():
    import numpy as np
    import torch
    from PIL import Image

    from cvcore.registry import build_model
    from cvcore.samples import get_sample
    from cvcore.segmentation import disagreement, segment
    from cvcore.segmentation_tables import class_iou_table, disagreement_table, legend_table, scores_table, timings_table
    from cvcore.voc import score
    from cvcore.weights import load_model

    photo = Image.open(get_sample("chelsea").path).convert("RGB").resize((320, 240))
    coarse = segment(photo, "efficientnet_lite0", model=load_model("efficientnet_lite0", device="cpu"))
    # A VOC segmenter with random weights: real pipeline and real scores, no download.
    voc = segment(photo, "lraspp_mobilenet_v3_large", model=build_model("lraspp_mobilenet_v3_large"))
    torch.manual_seed(1)  # a second VOC segmenter to disagree with: other random weights
    other = segment(photo, "lraspp_mobilenet_v3_large", model=build_model("lraspp_mobilenet_v3_large"))
    truth = voc.labels.astype(np.int64)
    truth[: truth.shape[0] // 2] = 8  # "cat" over the top half
    scored = [(voc, score(voc, truth))]
    return {
        "Segmentation: timings": timings_table([coarse, voc]),
        "Segmentation: legend (ImageNet classes)": legend_table(coarse),
        "Segmentation: legend (VOC classes)": legend_table(voc),
        "Segmentation: scores": scores_table(scored),
        "Segmentation: per-class IoU": class_iou_table(scored),
        "Segmentation: disagreement": disagreement_table(disagreement(voc, other), voc, other),
    }


def _saliency():
    from PIL import Image

    from cvcore.attribution import explain_photo
    from cvcore.attribution.tables import faithfulness_table, top5_table
    from cvcore.registry import get_spec
    from cvcore.samples import get_sample
    from cvcore.weights import load_model

    spec = get_spec("efficientnet_lite0")
    photo = Image.open(get_sample("chelsea").path)
    report = explain_photo(load_model(spec, device="cpu"), spec, photo, ["saliency", "grad_cam"], curve_steps=4, random_maps=3)
    return {
        "Saliency: top-5": top5_table(report.classification, report.display_name),
        "Saliency: faithfulness": faithfulness_table(report.results, report.display_name, report.target_label),
    }


def _graph():
    from cvcore.analysis.erf import catalogue_erf, erf_table
    from cvcore.analysis.graph import catalogue_graph
    from cvcore.analysis.graph_view import difference_table, fold, graph_differences, view_table
    from cvcore.registry import get_spec

    plain, resnet = catalogue_graph(get_spec("plain34")), catalogue_graph(get_spec("resnet34"))
    erf = catalogue_erf(get_spec("resnet18"), "layer1", weights=("random",), input_size=(64, 64))
    return {
        "Architecture: graph nodes, ResNet-34": view_table(fold(resnet, 1)),
        "Architecture: graph differences, plain-34 / ResNet-34": difference_table(
            graph_differences(plain, resnet), "plain-34", "ResNet-34"
        ),
        "Architecture: effective receptive field": erf_table(erf.results, "ResNet-18"),
    }


def _yours():
    """A user's ResNet-18 (random weights), evaluated on 8 photos of two classes, in a cvlens home of its own."""
    import tempfile

    import torch
    import torchvision
    from PIL import Image

    from cvcore.catalogue import catalogue_rows, mine_table
    from cvcore.evaluation import BootstrapSettings, evaluate, open_dataset, save_evaluation
    from cvcore.evaluation.report import class_table, headline_table
    from cvcore.papers.reproductions import reproduction_rows
    from cvcore.papers.tables import reproduction_table
    from cvcore.samples import get_sample
    from cvcore.user_models import ImportOptions, import_model
    from cvcore.weights import load_model

    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        root = Path(folder)
        patch.setenv("CVLENS_HOME", str(root / "home"))
        torch.manual_seed(0)
        torch.save(torchvision.models.resnet18().state_dict(), root / "r18.pth")
        spec = import_model(root / "r18.pth", "my_r18", ImportOptions(arch="resnet18", dataset="my ImageNet subset"))
        for sample, label in (("chelsea", "tabby"), ("coffee", "espresso")):
            (root / "val" / label).mkdir(parents=True)
            for i in range(4):
                Image.open(get_sample(sample).path).convert("RGB").rotate(5 * i).save(root / "val" / label / f"{i}.png")
        ev = evaluate(load_model(spec, device="cpu"), spec, open_dataset(root / "val", spec), bootstrap=BootstrapSettings(200))
        save_evaluation(ev)
        return {
            "Your models: the list": mine_table(catalogue_rows(mine=True)),
            "Papers: your reproductions": reproduction_table(reproduction_rows("resnet")),
            "Your models: evaluation": headline_table(ev),
            "Your models: per class": class_table(ev),
        }


CLI_LATEX = {
    "CLI: analyze --per-layer": ["--device", "cpu", "analyze", "lenet5", "--per-layer"],
    "CLI: analyze --stages --diff": ["analyze", "resnet18", "--stages", "--diff", "resnet50"],
    "CLI: compare": ["compare"],
    "CLI: compare --task segmentation": ["compare", "--task", "segmentation"],
    "CLI: papers": ["papers"],
    "CLI: papers resnet": ["papers", "resnet"],
    "CLI: papers all": ["papers", "all"],
    "CLI: graph --compare": ["graph", "plain34", "--compare", "resnet34"],
    "CLI: analyze --erf": ["analyze", "resnet18", "--erf", "layer1", "--input-size", "64", "64", "--weights", "random"],
}


def _cli():
    from cvcore.cli import main

    outputs = {}
    for name, argv in CLI_LATEX.items():
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main([*argv, "--format", "latex"]) == 0, name
        outputs[name] = out.getvalue()
    return outputs


# Which cvcore function each builder exercises: every function that returns a Table must be in one.
def _benchmark():
    """Two machines' rows (an ok and a skipped configuration) and the stored-sweeps list, as `benchmark` prints them.

    The values are inputs of the layout under test, not measurements."""
    from pathlib import Path

    from cvcore.benchmark.results import OK, SKIPPED, BenchmarkRow, Environment
    from cvcore.benchmark.store import StoredSweep
    from cvcore.benchmark.tables import rows_table, sweeps_table

    def env(host, gpu=""):
        return Environment(host, "Intel(R) Xeon(R) Processor", 2, 2, gpu, "550.54" if gpu else "", "12.8" if gpu else "",
                           "2.14.1", "0.29.1", "0.1.0", "3.11.7", "Linux", "2026-12-01T12:00:00+00:00")  # fmt: skip

    def row(host, batch, status=OK):
        ok = status == OK
        return BenchmarkRow(
            model="mobilenet_v3_large", display_name="MobileNet-v3-large", device="cpu", mode="fp32" if ok else "fp16",
            batch_size=batch, input_size=(224, 224), status=status, host=host,
            note="" if ok else "fp16 autocast cannot run here: this CPU has no native fp16 (torch.ops.mkldnn)",
            latency_median_ms=12.5 * batch if ok else None, latency_p10_ms=12.0 * batch if ok else None,
            latency_p90_ms=13.1 * batch if ok else None, images_per_s=80.0 if ok else None,
            peak_memory_mb=41.5 * batch if ok else None, memory_source="peak RSS growth of the measuring process",
            gmacs_per_image=0.217, achieved_gflops_per_s=34.7 if ok else None, peak_share=0.106 if ok else None,
        )  # fmt: skip

    rows = [row("laptop", 1), row("laptop", 8), row("lab", 1), row("lab", 1, SKIPPED)]
    environments = [env("laptop"), env("lab", "NVIDIA H200")]
    stored = StoredSweep(Path("bench-20261201-120000.jsonl"), {"models": ["mobilenet_v3_large"], "device": "cpu", "configurations": 4},
                         {e.host: e for e in environments}, rows, ["line 7: cut short"])  # fmt: skip
    return {
        "benchmark_rows": rows_table(rows, environments, machines=[r.host for r in rows]),
        "benchmark_sweeps": sweeps_table([stored]),
    }


BUILDERS = {
    _benchmark: {"cvcore.benchmark.tables.rows_table", "cvcore.benchmark.tables.sweeps_table"},
    _catalogue: {"cvcore.compare.catalogue_table"},
    _compare: {"cvcore.compare.delta_table", "cvcore.latency.latency_table"},
    _architecture: {
        "cvcore.analysis.stages.stage_summary_table", "cvcore.analysis.stages.stage_layer_table",
        "cvcore.analysis.stages.stage_diff_table", "cvcore.analysis.tables.complexity_table",
        "cvcore.analysis.tables.reconciliation_table", "cvcore.analysis.tables.layer_table",
    },
    _papers: {"cvcore.papers.tables.claims_table", "cvcore.papers.tables.papers_table"},
    _segmentation: {
        "cvcore.segmentation_tables.timings_table", "cvcore.segmentation_tables.legend_table",
        "cvcore.segmentation_tables.scores_table", "cvcore.segmentation_tables.class_iou_table",
        "cvcore.segmentation_tables.disagreement_table",
    },
    _saliency: {"cvcore.attribution.tables.top5_table", "cvcore.attribution.tables.faithfulness_table"},
    _graph: {"cvcore.analysis.graph_view.view_table", "cvcore.analysis.graph_view.difference_table", "cvcore.analysis.erf.erf_table"},
    _yours: {
        "cvcore.catalogue.mine_table", "cvcore.papers.tables.reproduction_table", "cvcore.evaluation.report.headline_table",
        "cvcore.evaluation.report.class_table",
    },
}  # fmt: skip


def table_functions() -> set[str]:
    """Every function in cvcore that builds a Table (returns one, by its annotation, from something that is not a Table)."""
    found = set()
    for info in pkgutil.walk_packages(cvcore.__path__, "cvcore."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isfunction(obj) and obj.__module__ == info.name and not name.startswith("_"):
                signature = inspect.signature(obj)
                first = next(iter(signature.parameters.values()), None)
                transforms = first is not None and first.annotation in ("Table", Table)  # sort_table: the same kind, reordered
                if signature.return_annotation in ("Table", Table) and not transforms:
                    found.add(f"{info.name}.{name}")
    return found


def test_every_table_kind_is_in_the_compile_test():
    covered = set().union(*BUILDERS.values())
    missing = table_functions() - covered
    assert not missing, f"add these to BUILDERS in {Path(__file__).name}: {sorted(missing)}"


def test_pages_build_their_tables_in_cvcore():
    """A page that built a Table itself would export a kind this test never compiles."""
    pages = Path(cvcore.__file__).parents[1] / "dashboard" / "app_pages"
    offenders = [p.name for p in pages.glob("*.py") if re.search(r"\bTable\(", p.read_text(encoding="utf-8"))]
    assert not offenders, offenders


@needs_pdflatex
def test_every_exported_table_compiles_and_fits_the_page(tmp_path):
    parts: dict[str, str] = {}
    for build in BUILDERS:
        parts.update({name: to_latex(t) for name, t in build().items()})
    parts.update(_cli())
    assert len(parts) > 40
    for name, tex in parts.items():
        assert tex.isascii(), name
        assert "Weights here" not in tex, name  # machine-specific: never exported
        assert all(rf"\usepackage{{{p}}}" in tex for p in REQUIRED_PACKAGES), name  # says what it needs
    problems = compile_parts(parts, tmp_path)
    assert not problems, "\n".join(f"{name}: {p}" for name, ps in problems.items() for p in ps[:3])
