"""Every session-state and widget key used by the dashboard, in one place.

Widget keys double as session-state keys, so a user's choices survive page switches and
reruns. Keep each page's keys in its own section; prefix them with the page name.
"""

# --- shared ----------------------------------------------------------------------
DEVICE = "device"
SESSION_LEDGER = "session.ledger"  # cvcore.memory.ByteLedger: the byte budget of this session's results and uploads

# --- Models page -----------------------------------------------------------------
MODELS_TASK = "models.task"
MODELS_FAMILIES = "models.families"
MODELS_YEARS = "models.years"
MODELS_SEARCH = "models.search"
MODELS_TABLE = "models.table"  # export widgets (dashboard.export) derive their keys from it
MODELS_MINE = "models.mine"  # the user's imported models with measured metrics
MODELS_KEPT = "models.kept"  # the filters; survive leaving the page (widget state does not)

# --- Compare page ----------------------------------------------------------------
COMPARE_TASK = "compare.task"
COMPARE_MODELS = "compare.models"
COMPARE_X = "compare.x"
COMPARE_Y = "compare.y"
COMPARE_LOG_X = "compare.log_x"
COMPARE_BASELINE = "compare.baseline"
COMPARE_CHART = "compare.chart"  # export widgets derive their keys from it
COMPARE_DELTAS = "compare.deltas"
COMPARE_NOT_PLOTTED = "compare.not_plotted"
COMPARE_MEASURE = "compare.measure"  # "measure latency" button
COMPARE_LATENCY = "compare.latency"  # dict name -> latency result, kept for the session
COMPARE_LATENCY_ERRORS = "compare.latency_errors"  # dict name -> message; shown after the rerun
COMPARE_LATENCY_TABLE = "compare.latency_table"
COMPARE_KEPT = "compare.kept"  # task -> selected models; survives leaving the page (widget state does not)
COMPARE_KEPT_AXES = "compare.kept_axes"  # task, axes, log x, baseline, like for like; survive leaving the page
COMPARE_LIKE_FOR_LIKE = "compare.like_for_like"  # toggle: the weights most selected models share, where they exist
COMPARE_WEIGHTS = "compare.weights"  # prefix: one weights selectbox per architecture ("compare.weights.resnet50")
COMPARE_WEIGHTS_CHOSEN = "compare.weights_chosen"  # arch -> weights id the user picked; survives leaving the page
COMPARE_WEIGHTS_RESET = "compare.weights_reset"
# Throughput, latency and memory axes from a stored benchmark sweep: which sweep, machine, device, mode, batch.
COMPARE_BENCH_SWEEP = "compare.bench_sweep"
COMPARE_BENCH_HOST = "compare.bench_host"
COMPARE_BENCH_DEVICE = "compare.bench_device"
COMPARE_BENCH_MODE = "compare.bench_mode"
COMPARE_BENCH_BATCH = "compare.bench_batch"

# --- Architecture page -----------------------------------------------------------
ARCH_MODEL = "architecture.model"
ARCH_INPUT_H = "architecture.input_h"
ARCH_INPUT_W = "architecture.input_w"
ARCH_DIFF_MODEL = "architecture.diff_model"
ARCH_EXPAND = "architecture.expand_repeats"
ARCH_MERGE = "architecture.merge_sequential"
ARCH_SUMMARY = "architecture.summary"  # export widgets derive their keys from these
ARCH_LAYERS = "architecture.layers"
ARCH_RECONCILIATION = "architecture.reconciliation"
ARCH_DIFF = "architecture.diff"
ARCH_KEPT = "architecture.kept"  # model and input size; survives leaving the page
# Topology graph and effective receptive field (issue 14)
ARCH_GRAPH_DEPTH = "architecture.graph.depth"
ARCH_GRAPH_REPEATS = "architecture.graph.expand_repeats"  # draw every copy of repeated blocks
ARCH_GRAPH_UNFOLDED = "architecture.graph.unfolded"  # multiselect: folded nodes the user opened
ARCH_GRAPH_UNFOLDED_BY_MODEL = "architecture.graph.unfolded_by_model"  # model -> [node keys]; survives leaving the page
ARCH_GRAPH_NODE = "architecture.graph.node"  # prefix, one per model: the node whose numbers are shown (click or picker)
ARCH_GRAPH_CHART = "architecture.graph.chart"
ARCH_GRAPH_INTERACTIVE = "architecture.graph.interactive"  # toggle: plotly chart instead of the (faster) SVG picture
ARCH_GRAPH_UNFOLD = "architecture.graph.unfold"  # button: open the selected folded node
ARCH_GRAPH_DOWNLOADS = "architecture.graph.downloads"  # prefix of the SVG/PNG/DOT/JSON download keys
ARCH_GRAPH_PAIR = "architecture.graph.pair"  # the two graphs side by side (chart, downloads, table)
ARCH_GRAPH_KEPT = "architecture.graph.kept"  # depth and repeats; survive leaving the page
ARCH_ERF_LAYER = "architecture.erf.layer"
ARCH_ERF_WEIGHTS = "architecture.erf.weights"
ARCH_ERF_SAMPLES = "architecture.erf.samples"
ARCH_ERF_UPLOADS = "architecture.erf.uploads"
ARCH_ERF_RUN = "architecture.erf.run"
ARCH_ERF_LOG = "architecture.erf.log_scale"
ARCH_ERF_RESULTS = "architecture.erf.results"  # (model, size, layer, weights, images digest) -> ErfReport | error message
ARCH_ERF_VIEW = "architecture.erf.view"  # figure and table export keys

# --- Segmentation page -----------------------------------------------------------
SEG_SOURCE = "segmentation.source"  # "sample" or "upload"
SEG_SAMPLE = "segmentation.sample"
SEG_UPLOADS = "segmentation.uploads"
SEG_PHOTO = "segmentation.photo"  # which of several uploaded photos is shown
SEG_MODELS = "segmentation.models"
SEG_OPACITY = "segmentation.opacity"
SEG_RESULTS = "segmentation.results"  # {(photo digest, model): SegmentationResult | error message}
SEG_WIPE_MODEL = "segmentation.wipe_model"
SEG_WIPE = "segmentation.wipe"
SEG_DIFF_A = "segmentation.diff_a"
SEG_DIFF_B = "segmentation.diff_b"
SEG_MASK_UPLOAD = "segmentation.mask_upload"
SEG_TABLES = "segmentation.tables"  # prefix for table download keys
SEG_KEPT = "segmentation.kept"  # copies of the choices above; survive leaving the page (widget state does not)
SEG_KEPT_UPLOADS = "segmentation.kept_uploads"  # [(name, bytes)]: a file uploader cannot be refilled
SEG_FORGET_UPLOADS = "segmentation.forget_uploads"

# --- Saliency page ---------------------------------------------------------------
SAL_SOURCE = "saliency.source"
SAL_SAMPLE = "saliency.sample"
SAL_UPLOAD = "saliency.upload"
SAL_MODELS = "saliency.models"
SAL_METHODS = "saliency.methods"
SAL_TARGET = "saliency.target"
SAL_LAYER = "saliency.layer"  # Grad-CAM layer override, a dotted module path
SAL_OPACITY = "saliency.opacity"
SAL_ABSOLUTE = "saliency.absolute"
SAL_RESULTS = "saliency.results"  # (photo digest, model, method, target, layer) -> (MethodResult, view) or error message
SAL_RANDOM_MAPS = "saliency.random_maps"  # slider: random maps per baseline (a verdict needs 5; 10 by default)
SAL_CLASSIFY = "saliency.classify"  # (photo digest, model) -> PhotoExplanation-free top-5 (Classification)
SAL_DOWNLOADS = "saliency.downloads"  # prefix of download-button keys
SAL_TABLES = "saliency.tables"  # prefix of table/figure export keys
SAL_FV_MODEL = "saliency.fv_model"
SAL_FV_CLASS = "saliency.fv_class"
SAL_FV_STEPS = "saliency.fv_steps"
SAL_FV_SIZE = "saliency.fv_size"
SAL_FV_RUN = "saliency.fv_run"
SAL_KEPT = "saliency.kept"  # widget values kept across page visits (widget state is dropped)
SAL_KEPT_UPLOAD = "saliency.kept_upload"  # (name, bytes) of the last upload: a file uploader cannot be refilled
SAL_FV_RESULTS = "saliency.fv_results"  # (model, class, steps, size) -> ClassMaximization

# --- Papers page -----------------------------------------------------------------
PAPERS_PAPER = "papers.paper"
PAPERS_WIDTH = "papers.width"
PAPERS_RESOLUTION = "papers.resolution"
PAPERS_TABLE = "papers.table"  # prefix: one exported table per paper table ("papers.table.0", ...)
PAPERS_ALL = "papers.all"
PAPERS_LAYERS = "papers.layers"
PAPERS_COMPUTE_LAYERS = "papers.compute_layers"
PAPERS_TRADEOFF = "papers.tradeoff"
PAPERS_REPRODUCTIONS = "papers.reproductions"  # the user's evaluated models beside the accuracy claims
PAPERS_KEPT = "papers.kept"  # paper and explorer sliders; survive leaving the page (widget state does not)
PAPERS_ERF_RUN = "papers.erf_run"  # one-click effective receptive fields of the dilated-convolution example
PAPERS_ERF_SHOWN = "papers.erf_shown"  # stays True once clicked, for the session
PAPERS_ERF = "papers.erf"  # its figure and table export keys

# --- Your models page ------------------------------------------------------------
MINE_FILE = "mine.file"
MINE_ARCH = "mine.arch"
MINE_NAME = "mine.name"
MINE_CLASSES = "mine.classes"  # "architecture", a known set ("voc", ...) or "file"
MINE_CLASS_FILE = "mine.class_file"
MINE_DATASET = "mine.dataset"
MINE_TASK = "mine.task"  # an ONNX file without an architecture
MINE_INPUT_H = "mine.input_h"
MINE_INPUT_W = "mine.input_w"
MINE_MEAN = "mine.mean"
MINE_STD = "mine.std"
MINE_FORM = "mine.form"
MINE_MESSAGE = "mine.message"  # (kind, text) of the last import or removal; shown after the rerun
MINE_TABLE = "mine.table"
MINE_REMOVE = "mine.remove"  # prefix of per-model remove buttons
MINE_EXPORT = "mine.export"  # prefix of per-model export downloads
MINE_EVAL_MODEL = "mine.eval_model"
MINE_EVAL_DATA = "mine.eval_data"
MINE_EVAL_LABELS = "mine.eval_labels"
MINE_EVAL_CLASSES = "mine.eval_classes"
MINE_EVAL_LIMIT = "mine.eval_limit"
MINE_EVAL_RESAMPLES = "mine.eval_resamples"
MINE_EVAL_RUN = "mine.eval_run"
MINE_EVAL_TABLE = "mine.eval_table"  # prefix of result table keys
MINE_EVAL_ERROR = "mine.eval_error"  # the last evaluation's error message, shown after the rerun

# --- Benchmark page --------------------------------------------------------------
BENCH_MODELS = "benchmark.models"
BENCH_BATCHES = "benchmark.batches"
BENCH_MODES = "benchmark.modes"
BENCH_SIDE = "benchmark.side"  # input side in pixels; 0 = each model's own input size
BENCH_REPEATS = "benchmark.repeats"
BENCH_RUN = "benchmark.run"
BENCH_SWEEPS = "benchmark.sweeps"  # stored sweep ids shown (several machines side by side)
BENCH_FIT_BATCH = "benchmark.fit_batch"
BENCH_FIT_MODE = "benchmark.fit_mode"
BENCH_TABLE = "benchmark.table"  # export widgets derive their keys from these
BENCH_FIGURE = "benchmark.figure"  # prefix: one per figure
BENCH_MESSAGE = "benchmark.message"  # (kind, text) of the last run; shown after the rerun
BENCH_KEPT = "benchmark.kept"  # the choices; survive leaving the page

# --- inference mode (sidebar; every page that runs a model reads it) ---------------
RUNTIME_PRECISION = "runtime.precision"  # "fp32" (exact, default), "bf16", "fp16"
RUNTIME_CHANNELS_LAST = "runtime.channels_last"
RUNTIME_COMPILE = "runtime.compile"
SEG_FAST_RESULTS = "segmentation.fast_results"  # {(photo digest, model, mode name): SegmentationResult | error}; fp32 stay in SEG_RESULTS
SAL_FAST_CLASSIFY = "saliency.fast_classify"  # {(photo digest, model, mode name): Classification | error}; fp32 stay in SAL_CLASSIFY

# --- Report page (defense report, cvcore.report) -------------------------------------
REPORT_CURRENT = "report.current"  # the report name this session adds to ("defense" until chosen)
REPORT_REVISION = "report.revision"  # the revision this session last saw: an edit based on an older one is refused
REPORT_MESSAGE = "report.message"  # (kind, text) of the last action (conflict, rename), shown after the rerun
REPORT_CHOOSE = "report.choose"
REPORT_NEW_NAME = "report.new_name"
REPORT_CREATE = "report.create"
REPORT_RENAME_TO = "report.rename_to"
REPORT_RENAME = "report.rename"
REPORT_DELETE = "report.delete"
REPORT_TITLE = "report.title"
REPORT_AUTHOR = "report.author"
REPORT_SAVE_DETAILS = "report.save_details"
REPORT_ITEM = "report.item"  # prefix of per-item widgets (up, down, remove, caption, save)
REPORT_NOTE = "report.note"
REPORT_ADD_NOTE = "report.add_note"
REPORT_HTML = "report.html"
REPORT_ZIP = "report.zip"
REPORT_PREVIEW = "report.preview"
