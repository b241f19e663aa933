"""modelship: ship scikit-learn models to AWS Lambda safely."""

__version__ = "0.1.0"
