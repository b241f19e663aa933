"""The reference dataset: a synthetic customer-churn table, optionally drifted."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from modelship.errors import DatasetError
from modelship.registry.manifest import FeatureKind
from modelship.training.tables import Table

CHURN_TARGET = "churned"
CHURN_FEATURES: dict[str, FeatureKind] = {
    "tenure_months": "numeric",
    "monthly_charges": "numeric",
    "total_charges": "numeric",
    "support_calls": "numeric",
    "num_products": "numeric",
    "senior_citizen": "numeric",
    "contract": "categorical",
    "payment_method": "categorical",
    "internet_service": "categorical",
    "paperless_billing": "categorical",
}
CONTRACTS = ("month_to_month", "one_year", "two_year")
PAYMENT_METHODS = ("electronic_check", "mailed_check", "bank_transfer", "credit_card")
INTERNET_SERVICES = ("dsl", "fiber_optic", "none")


def generate_churn(n_rows: int = 6000, seed: int = 7, drift: float = 0.0) -> Table:
    """Synthetic customer-churn table, identical for the same arguments.

    `drift` in [0, 1] shifts the population (pricier plans, more month-to-month contracts,
    more support calls) and weakens the tenure effect, so a model trained on drift=0 ages.
    """
    if n_rows < 10:
        raise DatasetError("n_rows must be at least 10")
    if not 0.0 <= drift <= 1.0:
        raise DatasetError("drift must be between 0 and 1")
    rng = np.random.default_rng(seed)
    contract = rng.choice(
        CONTRACTS, size=n_rows, p=_mix((0.55, 0.25, 0.20), (0.75, 0.15, 0.10), drift)
    )
    payment = rng.choice(PAYMENT_METHODS, size=n_rows, p=(0.34, 0.22, 0.22, 0.22))
    internet = rng.choice(INTERNET_SERVICES, size=n_rows, p=(0.34, 0.44, 0.22))
    paperless = rng.choice(("yes", "no"), size=n_rows, p=(0.6, 0.4))
    senior = (rng.random(n_rows) < 0.16).astype(float)

    tenure_scale = np.where(
        contract == "two_year", 40.0, np.where(contract == "one_year", 28.0, 14.0)
    )
    tenure = np.clip(np.round(rng.exponential(tenure_scale)), 0, 72)
    base_charge = np.where(internet == "fiber_optic", 85.0, np.where(internet == "dsl", 58.0, 24.0))
    monthly = np.clip(base_charge + rng.normal(0.0, 12.0, n_rows) + 15.0 * drift, 18.0, 120.0)
    monthly = np.round(monthly, 2)
    total = np.round(monthly * tenure * rng.uniform(0.95, 1.05, n_rows), 2)
    support_calls = np.clip(rng.poisson(1.4 + 1.2 * drift, n_rows), 0, 10).astype(float)
    products = np.clip(rng.poisson(1.6, n_rows) + 1, 1, 6).astype(float)

    tenure_effect = 0.07 * (1.0 - 0.6 * drift)
    logit = (
        -0.6
        + 1.7 * (contract == "month_to_month")
        - 1.1 * (contract == "two_year")
        - tenure_effect * tenure
        + 0.025 * (monthly - 65.0)
        + 0.55 * support_calls
        + 0.8 * (internet == "fiber_optic")
        + 0.7 * (payment == "electronic_check")
        + 0.4 * (paperless == "yes")
        + 0.5 * senior
        - 0.35 * products
    )
    churned = (rng.random(n_rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)

    columns: dict[str, np.ndarray] = {
        "tenure_months": tenure,
        "monthly_charges": monthly,
        "total_charges": total,
        "support_calls": support_calls,
        "num_products": products,
        "senior_citizen": senior,
        "contract": contract.astype(object),
        "payment_method": payment.astype(object),
        "internet_service": internet.astype(object),
        "paperless_billing": paperless.astype(object),
        CHURN_TARGET: churned,
    }
    return Table(columns=columns, kinds=dict(CHURN_FEATURES), target=CHURN_TARGET)


def _mix(base: Sequence[float], drifted: Sequence[float], drift: float) -> list[float]:
    mixed = [(1 - drift) * b + drift * d for b, d in zip(base, drifted, strict=True)]
    total = sum(mixed)
    return [m / total for m in mixed]
