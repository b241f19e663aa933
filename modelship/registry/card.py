"""The model card written beside every registered version (card.md, card.html): what the model
is, what it is for, what it was trained on, how it scored (beside the champion it was compared
with), what the gates decided, its drift profile, its limitations and runtime.

Everything on it is read from the manifest, the owner's description and, for a retrained
version, the run's evaluation and gates (`CardContext`); what nobody stated is "not stated".
A card renders the same bytes every time from the same inputs (no clock): a retried publish
finds its own card.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from modelship.names import PREDICTION_FEATURE
from modelship.registry.card_document import Bullets, Document, Paragraph, Section, Table
from modelship.registry.card_facts import limitations, number, runtime_table
from modelship.registry.manifest import CategoricalProfile, Manifest, NumericProfile

NOT_STATED = "not stated"
PREVIOUS_LABEL = "recorded on its own holdout, not compared on the same rows"
# Metrics in this order, then any others by name.
_METRIC_ORDER = (
    "accuracy",
    "roc_auc",
    "precision",
    "recall",
    "f1",
    "log_loss",
    "rmse",
    "mae",
    "r2",
    "holdout_rows",
    "unscorable_rows",
    "latency_ms_per_row",
    "single_row_latency_ms",
    "artifact_bytes",
)
_COUNTS = {"holdout_rows", "unscorable_rows", "artifact_bytes"}
_MAX_PARAMS = 16
_TOP_CATEGORIES = 5


class GateRecord(BaseModel):
    """One quality gate's check, as the retraining run's gate task recorded it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    passed: bool
    value: float | None
    threshold: float | None
    detail: str


class ChampionRecord(BaseModel):
    """The version a challenger was compared with, scored on the same holdout rows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    metrics: dict[str, float]


class CardContext(BaseModel):
    """What a retraining run knows about the version it registers, beyond its manifest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str = Field(min_length=1)
    data_uri: str
    # The challenger's scores on the rows the champion was scored on (the evaluation's).
    challenger_metrics: dict[str, float] = Field(default_factory=dict)
    champion: ChampionRecord | None = None
    gates: tuple[GateRecord, ...] = ()
    decision: str = ""


class ModelCard:
    """The card of one version. `previous` (a direct publish only) is the version registered
    before it, whose recorded metrics are shown, labelled as not compared on the same rows;
    `notice` is a line at the top (e.g. that no card was stored for this version)."""

    def __init__(
        self,
        manifest: Manifest,
        context: CardContext | None = None,
        previous: Manifest | None = None,
        notice: str | None = None,
    ) -> None:
        self.manifest = manifest
        self.context = context
        self.previous = previous if context is None else None
        self.notice = notice

    def markdown(self) -> str:
        return self.document().markdown()

    def html(self) -> str:
        return self.document().html()

    def document(self) -> Document:
        m = self.manifest
        lead: tuple[Paragraph, ...] = (Paragraph(self.notice),) if self.notice else ()
        summary = m.description.summary if m.description else None
        return Document(
            title=f"Model card: {m.name} {m.version}",
            sections=(
                Section("Summary", (*lead, Paragraph(summary or f"Summary: {NOT_STATED}."))),
                Section("What the model is", (self._identity(),)),
                Section("Intended use", self._intended_use()),
                Section("Training data and lineage", (self._lineage(),)),
                Section("Features", (self._features(),)),
                Section("Metrics", self._metrics()),
                Section("Gate decisions", self._gates()),
                Section("Drift profile", self._drift_profile()),
                Section("Limitations", (Bullets(tuple(limitations(m))),)),
                Section("Runtime", (runtime_table(m),)),
            ),
        )

    def _identity(self) -> Table:
        m = self.manifest
        estimator = m.estimator
        tree_class = str((estimator.tree or {}).get("class", ""))
        algorithm = estimator.algorithm
        if tree_class and tree_class != algorithm:
            algorithm = f"{algorithm} (final step of {tree_class})"
        origin = (
            "packaged: fitted elsewhere, packaged with modelship models package"
            if m.origin == "packaged"
            else "trained by modelship (modelship train or a retraining run)"
        )
        artifact = m.artifact
        rows = [
            ("Name", m.name),
            ("Version", m.version),
            ("Task", m.task),
            ("Classes", ", ".join(map(str, m.classes)) if m.classes else "-"),
            ("Estimator", algorithm),
            ("Key parameters", _params(estimator.params)),
            ("Origin", origin),
            ("Input format", m.input_format),
            ("Artifact", f"{artifact.file} ({artifact.format}, {artifact.size_bytes} bytes)"),
            ("Artifact sha256", artifact.sha256),
            ("Owner", (m.description.owner if m.description else None) or NOT_STATED),
        ]
        if m.task == "classification":
            rows.insert(4, ("Served labels", m.labels))
        if m.code is not None:
            rows.append(("Own code", f"{m.code.file}: {', '.join(m.code.modules)}"))
        return Table(("Field", "Value"), tuple(rows))

    def _intended_use(self) -> tuple[Paragraph, ...]:
        stated = self.manifest.description.intended_use if self.manifest.description else None
        if stated:
            return (Paragraph(stated),)
        return (
            Paragraph(
                f"Intended use: {NOT_STATED}. The model's owner gave none (--intended-use at "
                "modelship train or models package); no use is implied by this card."
            ),
        )

    def _lineage(self) -> Table:
        m = self.manifest
        data = m.training_data
        if data.holdout_fraction is not None:
            seed = f", seed {data.seed}" if data.seed is not None else ""
            holdout = f"{data.holdout_fraction:.0%} of the rows{seed}"
        else:
            holdout = "none: the metrics are on the sample given at packaging"
        rows = [
            ("Data URI", data.uri),
            ("ETag", data.etag or "not recorded"),
            ("Rows", str(data.rows)),
            ("Target", data.target or "none (unlabelled sample)"),
            ("Holdout", holdout),
            ("Parent version", m.parent_version or "none"),
            ("Created at", m.created_at.isoformat()),
        ]
        if self.context is not None:
            rows.append(("Retraining run", self.context.run_id))
        return Table(("Field", "Value"), tuple(rows))

    def _features(self) -> Table:
        rows = []
        for index, f in enumerate(self.manifest.features, start=1):
            if f.kind == "numeric":
                trained = f"{number(f.min)} to {number(f.max)}" if f.min is not None else "-"
            else:
                trained = "-"
            rows.append(
                (
                    str(index),
                    f.name,
                    f.kind,
                    f.dtype + (f" ({f.frame_dtype})" if f.frame_dtype else ""),
                    ", ".join(f.categories) if f.categories else "-",
                    trained,
                    "yes" if f.nullable else "no",
                )
            )
        header = ("#", "Name", "Kind", "Type", "Categories", "Training range", "Nullable")
        return Table(header, tuple(rows))

    def _metrics(self) -> tuple[Paragraph | Table, ...]:
        m = self.manifest
        context = self.context
        if context is not None:
            ours = context.challenger_metrics or m.metrics
            champion = context.champion
            if champion is None:
                note = (
                    f"Scored by retraining run {context.run_id} on its holdout; there was no "
                    "champion to compare with."
                )
                return (Paragraph(note), _metric_table(("This version",), (ours,)))
            note = (
                f"Scored by retraining run {context.run_id}: this version and the champion "
                f"{champion.version} on the same holdout rows."
            )
            return (
                Paragraph(note),
                _metric_table(
                    ("This version", f"Champion {champion.version}"), (ours, champion.metrics)
                ),
            )
        if not m.metrics:
            why = (
                "the sample given at packaging had no target"
                if m.origin == "packaged"
                else "none were recorded"
            )
            return (Paragraph(f"No holdout metrics: {why}."),)
        where = "the sample given at packaging" if m.origin == "packaged" else "its holdout"
        if self.previous is None:
            return (
                Paragraph(f"Recorded at training on {where}; no earlier version to show."),
                _metric_table(("This version",), (m.metrics,)),
            )
        previous = self.previous
        return (
            Paragraph(
                f"Recorded at training on {where}. Version {previous.version}, registered "
                f"before it, is shown with its own recorded metrics ({PREVIOUS_LABEL})."
            ),
            _metric_table(
                ("This version", f"{previous.version} ({PREVIOUS_LABEL})"),
                (m.metrics, previous.metrics),
            ),
        )

    def _gates(self) -> tuple[Paragraph | Table, ...]:
        context = self.context
        if context is None:
            return (
                Paragraph(
                    "Not gated: published directly (modelship models publish or the Python "
                    "API), not registered by a retraining run."
                ),
            )
        decision = Paragraph(f"Decision: {context.decision or NOT_STATED}.")
        if not context.gates:
            return (decision,)
        rows = tuple(
            (
                g.name,
                "passed" if g.passed else "failed",
                number(g.value),
                number(g.threshold),
                g.detail,
            )
            for g in context.gates
        )
        return (decision, Table(("Gate", "Result", "Value", "Threshold", "Detail"), rows))

    def _drift_profile(self) -> tuple[Paragraph | Table, ...]:
        m = self.manifest
        rows: dict[str, NumericProfile | CategoricalProfile] = dict(m.profile)
        if not rows:
            return (Paragraph("No training profile was recorded: drift cannot be judged."),)
        blocks: list[Paragraph | Table] = [
            Paragraph(
                "The training distribution the drift monitor compares traffic with (present "
                "values only; nulls are not profiled)."
            )
        ]
        if m.prediction_profile is not None:
            rows[PREDICTION_FEATURE] = m.prediction_profile
            where = "the sample given at packaging" if m.origin == "packaged" else "its holdout"
            blocks.append(
                Paragraph(
                    f"The row {PREDICTION_FEATURE} is the distribution of the model's own "
                    f"answers on {where}, which the monitor compares its live answers with."
                )
            )
        else:
            blocks.append(Paragraph("No prediction profile is recorded for this version."))
        numeric = [(n, p) for n, p in rows.items() if isinstance(p, NumericProfile)]
        categorical = [(n, p) for n, p in rows.items() if isinstance(p, CategoricalProfile)]
        if numeric:
            header = ("Feature", "Count", "Mean", "Std", "Min", "p5", "Median", "p95", "Max")
            blocks.append(
                Table((*header, "Values"), tuple(_numeric_row(name, p) for name, p in numeric))
            )
        if categorical:
            blocks.append(
                Table(
                    ("Feature", "Count", "Top categories"),
                    tuple(_categorical_row(name, p) for name, p in categorical),
                )
            )
        return tuple(blocks)


def _numeric_row(name: str, p: NumericProfile) -> tuple[str, ...]:
    """Count, moments, range and, when recorded, the 5th, 50th and 95th percentiles and a
    discrete feature's commonest values."""
    q = p.quantiles
    percentiles = (number(q[5]), number(q[50]), number(q[95])) if q else ("-", "-", "-")
    shares = sorted(zip(p.value_fractions, p.values, strict=True), key=lambda vf: (-vf[0], vf[1]))
    values = _top([(number(v), f) for f, v in shares])
    return (
        name,
        str(p.count),
        number(p.mean),
        number(p.std),
        number(p.min),
        *percentiles,
        number(p.max),
        values or "-",
    )


def _top(shares: list[tuple[str, float]]) -> str:
    shown = ", ".join(f"{value} {fraction:.1%}" for value, fraction in shares[:_TOP_CATEGORIES])
    if len(shares) > _TOP_CATEGORIES:
        shown += f", and {len(shares) - _TOP_CATEGORIES} more"
    return shown


def _categorical_row(name: str, p: CategoricalProfile) -> tuple[str, ...]:
    ranked = sorted(p.fractions.items(), key=lambda kv: (-kv[1], kv[0]))
    return (name, str(p.count), _top(ranked))


def _metric_table(columns: tuple[str, ...], values: tuple[dict[str, float], ...]) -> Table:
    keys = set().union(*values)
    ordered = [k for k in _METRIC_ORDER if k in keys] + sorted(keys - set(_METRIC_ORDER))
    rows = tuple((key, *(_metric(key, series.get(key)) for series in values)) for key in ordered)
    return Table(("Metric", *columns), rows)


def _metric(key: str, value: float | None) -> str:
    if value is None:
        return "-"
    if key in _COUNTS and float(value).is_integer():
        return str(int(value))
    return f"{value:.4f}"


def _params(params: dict[str, float | int | str | bool | None]) -> str:
    if not params:
        return "-"
    shown = [f"{k}={v}" for k, v in sorted(params.items())[:_MAX_PARAMS]]
    if len(params) > _MAX_PARAMS:
        shown.append(f"and {len(params) - _MAX_PARAMS} more")
    return ", ".join(shown)
