"""What a fitted model is: whether it can be packaged at all, its task and classes, the tree of
estimators it is built from, and the library versions of the environment that fitted it."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import is_classifier, is_regressor
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.validation import check_is_fitted

from modelship.class_labels import LabelRule
from modelship.errors import PackagingError
from modelship.registry.manifest import EstimatorInfo, Task
from modelship.training.training import class_label

Scalar = float | int | str | bool | None

# Classifiers whose predict is the argmax of their predict_proba but at a tie, read in
# scikit-learn's source: the forests and the tree take the argmax of predict_proba itself;
# LogisticRegression and the gradient boosting classifiers take the argmax of the decision
# values (binary: > 0, or >= 0 for GradientBoostingClassifier) that predict_proba maps
# monotonically. The service decides near-ties with the model's own predict
# (modelship.class_labels.served_labels), so ties follow predict too. Exact classes only: a subclass
# may override predict. Left out: KNeighborsClassifier (weighted votes take another path),
# the naive Bayes classifiers (argmax of the joint log-likelihood), MLPClassifier
# (multi-label predict).
ARGMAX_CLASSIFIERS: frozenset[type] = frozenset(
    {
        LogisticRegression,
        RandomForestClassifier,
        ExtraTreesClassifier,
        DecisionTreeClassifier,
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
    }
)


@dataclass(frozen=True)
class TaskInfo:
    task: Task
    classes: tuple[int | str, ...] | None


def check_estimator(model: Any) -> None:
    """Refuses what is not a fitted scikit-learn estimator."""
    missing = [m for m in ("fit", "predict", "get_params") if not callable(getattr(model, m, None))]
    if isinstance(model, type) or missing:
        what = (
            "a class, not a fitted instance"
            if isinstance(model, type)
            else (f"a {_class_path(type(model))} without {', '.join(missing)}")
        )
        raise PackagingError(
            f"the model is {what}; package a fitted scikit-learn estimator or Pipeline",
            reason="not_an_estimator",
        )
    try:
        check_is_fitted(model)
    except NotFittedError:
        raise PackagingError(
            f"the {type(model).__name__} is not fitted; call fit(X, y) before packaging it",
            reason="not_fitted",
        ) from None
    except TypeError as exc:
        raise PackagingError(
            f"the model is not a scikit-learn estimator: {exc}", reason="not_an_estimator"
        ) from None


def describe_task(model: Any) -> TaskInfo:
    """Classification needs probabilities (a classifier without predict_proba is served as
    predict-only: its labels as they are); a regressor is regression; anything else (a
    clusterer, an outlier detector) is predict-only."""
    if is_classifier(model) and hasattr(model, "predict_proba") and hasattr(model, "classes_"):
        return TaskInfo("classification", tuple(class_label(c) for c in model.classes_))
    if is_regressor(model):
        return TaskInfo("regression", None)
    return TaskInfo("predict_only", None)


def label_rule(model: Any, sample_labels: np.ndarray, sample_proba: np.ndarray) -> LabelRule:
    """How the service computes a classifier's labels: "argmax" of the probabilities when the
    final estimator is one whose predict is that argmax and, on the sample, it is; otherwise
    its own "predict" (a threshold, a cost-sensitive rule, a custom classifier)."""
    if type(final_estimator(model)) not in ARGMAX_CLASSIFIERS:
        return "predict"
    argmax = np.asarray(model.classes_)[np.argmax(sample_proba, axis=1)]
    return "argmax" if np.array_equal(argmax, sample_labels) else "predict"


def final_estimator(model: Any) -> Any:
    """The last step of a Pipeline (of nested Pipelines), or the model itself."""
    final = model
    while isinstance(getattr(final, "steps", None), list) and _is_estimator(final.steps[-1][1]):
        final = final.steps[-1][1]
    return final


def describe_estimator(model: Any) -> EstimatorInfo:
    """The final estimator's class and scalar parameters, and the whole tree."""
    final = final_estimator(model)
    return EstimatorInfo(
        algorithm=_class_path(type(final)),
        params=_scalar_params(final),
        tree=estimator_tree(model),
    )


def estimator_tree(model: Any) -> dict[str, Any]:
    """{"class": ..., "params": {scalar params}, "children": {path: subtree}}: Pipeline steps
    as `steps.<name>`, ColumnTransformer transformers as `transformers.<name>`, estimator
    params (a meta-estimator's `estimator`) by their parameter name."""
    children: dict[str, Any] = {}
    for key, value in _own_params(model).items():
        if _is_estimator(value):
            children[key] = estimator_tree(value)
        elif (
            isinstance(value, list | tuple)
            and value
            and all(isinstance(item, tuple) and len(item) >= 2 for item in value)
        ):
            for item in value:
                name, child = item[0], item[1]
                if _is_estimator(child):
                    children[f"{key}.{name}"] = estimator_tree(child)
    node: dict[str, Any] = {"class": _class_path(type(model)), "params": _scalar_params(model)}
    if children:
        node["children"] = children
    return node


def _own_params(model: Any) -> dict[str, Any]:
    try:
        params: dict[str, Any] = model.get_params(deep=False)
    except Exception:  # a third-party get_params: the tree is descriptive only
        return {}
    return params


def _scalar_params(model: Any) -> dict[str, Scalar]:
    scalars: dict[str, Scalar] = {}
    for key, value in sorted(_own_params(model).items()):
        plain = _scalar(value)
        if plain is not _NOT_SCALAR:
            scalars[key] = plain  # type: ignore[assignment]
    return scalars


_NOT_SCALAR = object()


def _scalar(value: Any) -> object:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else str(number)
    if isinstance(value, type):
        return _class_path(value)
    if callable(value) and hasattr(value, "__qualname__") and not _is_estimator(value):
        return f"{getattr(value, '__module__', '?')}.{value.__qualname__}"
    return _NOT_SCALAR


def _is_estimator(value: Any) -> bool:
    return not isinstance(value, type) and callable(getattr(value, "get_params", None))


def _class_path(cls: type | Callable[..., Any]) -> str:
    """The shortest public path to a class: sklearn.ensemble.HistGradientBoostingClassifier,
    not the private module that defines it."""
    module, name = cls.__module__, cls.__qualname__
    parts = module.split(".")
    for depth in range(1, len(parts)):
        parent = sys.modules.get(".".join(parts[:depth]))
        if parent is not None and getattr(parent, name, None) is cls:
            return f"{parent.__name__}.{name}"
    return f"{module}.{name}"
