"""The demo's shadow release: the model's first release answers a sample of live requests
beside the stable one, unseen by users, and leaves an agreement report behind."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from modelship.demo_traffic import Traffic


def shadow_release(
    story: Any,
    run_cli: Callable[..., str],
    wait_for: Callable[..., bool],
    releases: Any,
    api: str,
    bodies: list[str],
    challenger: str | None,
    s3: Any,
) -> None:
    """Step 8 of the demo, on the model `releases` moves (a Releases)."""
    from modelship.releases.shadow import model_name

    model = model_name(releases)
    story.step(f"8. A shadow release: an earlier {model} answers beside {challenger}, unseen")
    stable = releases.alias_state().stable
    created = [r.to_version for r in releases.history.records() if r.action == "create"]
    others = sorted({v for v in created if v and v != stable}, key=int)
    if not story.check(bool(others), f"{model} has a release beside its stable v{stable}"):
        return
    first = others[0]
    run_cli(
        "shadow", "start", "--model", model, "--version", str(first), "--sample", "50%",
        "--reason", "demo shadow",
    )  # fmt: skip
    # Serving versions re-read the shadow state every 30 s (real time), then mirror.
    with Traffic(api, bodies, f"/models/{model}/predict", threads=2) as traffic:
        mirrored = wait_for(
            "mirrored requests",
            lambda: _shadow_requests(releases) >= 20,
            timeout=120,
        )
        seen = traffic.reset()
    run_cli("shadow", "status", "--model", model)
    story.check(mirrored, f"the shadow v{first} answered mirrored requests")
    story.check(
        bool(seen) and set(seen) == {(200, challenger)},
        f"every one of {sum(seen.values())} user answers came from {challenger}",
    )
    run_cli("shadow", "stop", "--model", model, "--reason", "demo: seen enough")
    kept = s3.list_objects_v2(Bucket=releases.target.bucket, Prefix=f"shadows/{model}/reports/")
    story.check(
        bool(kept.get("Contents")), "shadow stop kept the agreement report in S3 and the history"
    )


def _shadow_requests(releases: Any) -> float:
    from modelship.releases.shadow import current_shadow, shadow_report

    time.sleep(1)  # a report is a few GetMetricData calls: not ten times a second
    state = current_shadow(releases)
    return 0.0 if state is None else shadow_report(releases, state).requests
