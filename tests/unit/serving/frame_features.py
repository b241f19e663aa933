"""Features of a DataFrame model: each kind of column a fitted frame can hold (integers with
bounds, nullable floats, object and str categories, a pandas category)."""

from modelship.registry.manifest import FeatureSpec

FEATURES = (
    FeatureSpec(name="tenure", kind="numeric", dtype="int", frame_dtype="int64", min=0, max=72),
    FeatureSpec(
        name="charges", kind="numeric", dtype="float", frame_dtype="float64", nullable=True
    ),
    FeatureSpec(
        name="plan",
        kind="categorical",
        dtype="str",
        categories=("basic", "pro"),
        frame_dtype="object",
        nullable=True,
    ),
    FeatureSpec(
        name="region", kind="categorical", dtype="str", categories=("eu", "us"), frame_dtype="str"
    ),
    FeatureSpec(
        name="tier",
        kind="categorical",
        dtype="str",
        categories=("gold", "silver"),
        frame_dtype="category",
    ),
)
