"""`make demo`: modelship's main job on one machine, against the local emulator.

Starts the emulator from cdk.out (`make demo` runs `make synth` first), trains and releases
a first model, answers predictions over HTTP, uploads a new dataset that retrains, canaries
and promotes a challenger while traffic flows, then canaries a broken release whose alarm
rolls it back automatically, and prints the release history. Exits 0 only if every
expectation held; the emulator is stopped whatever happens.

Time is compressed (`--time-scale`, default 30): an alarm period of 60 s lasts 2 s and a
10-minute bake 20 s. See docs/local.md.

The broken canary gets 1% of the traffic: enough for its own alarm (its error rate is 100%),
too little for the function-wide error-rate alarm (5%), whose event, handled after the
canary's, would also undo the previous promotion (see docs/local.md, "Known behaviour").
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from modelship.registry.manifest import copy_as_version
from modelship.sample_events import load_event

DEMO_TIME_SCALE = 30.0
STEP_TIMEOUT_SECONDS = 240.0


class Story:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.started = time.monotonic()

    def step(self, title: str) -> None:
        print(f"\n== {title}   [{time.monotonic() - self.started:5.1f} s]", flush=True)

    def check(self, ok: bool, what: str) -> bool:
        print(f"   [{'ok' if ok else 'FAILED'}] {what}", flush=True)
        if not ok:
            self.failures.append(what)
        return ok


class Traffic:
    """Steady POST /predict traffic in the background, counting answers by model version."""

    def __init__(self, api_url: str, body: str) -> None:
        self.api_url = api_url
        self.body = body.encode()
        self.seen: Counter[tuple[int, str]] = Counter()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(2)]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status, version, _ = post(self.api_url, self.body)
            except OSError:
                status, version = 0, "connection failed"
            self.seen[(status, version)] += 1
            self._stop.wait(0.02)

    def reset(self) -> Counter[tuple[int, str]]:
        seen, self.seen = self.seen, Counter()
        return seen


def post(api_url: str, body: bytes, path: str = "/predict") -> tuple[int, str, dict[str, Any]]:
    """(status, X-Model-Version, JSON body) of one request to the local HTTP API."""
    request = urllib.request.Request(  # noqa: S310 - the emulator's loopback URL
        api_url + path, data=body, headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            return response.status, response.headers.get("X-Model-Version", "-"), _json(response)
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("X-Model-Version", "-"), _json(error)


def _json(response: Any) -> dict[str, Any]:
    try:
        body: dict[str, Any] = json.loads(response.read() or b"{}")
    except ValueError:
        return {}
    return body


def run_cli(*argv: str) -> str:
    """Runs a `modelship` command as a user would type it; prints and returns its output."""
    from modelship.cli import main

    print(f"   $ modelship {' '.join(argv)}")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    text = out.getvalue().rstrip()
    for line in text.splitlines():
        print(f"     {line}")
    if code != 0:
        raise RuntimeError(f"`modelship {' '.join(argv)}` exited {code}")
    return text


def wait_for(
    what: str, condition: Callable[[], bool], timeout: float = STEP_TIMEOUT_SECONDS
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    print(f"   gave up waiting for {what} after {timeout:.0f} s")
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelship.demo", description=__doc__)
    parser.add_argument("--cdk-out", type=Path, default=Path("cdk.out"))
    parser.add_argument("--time-scale", type=float, default=DEMO_TIME_SCALE)
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--aws-port", type=int, default=5000)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="modelship-demo-"))
    story = Story()
    try:
        with emulator(args, work) as environment:
            os.environ.update(environment)
            _story(story, environment, work)
    except Exception as exc:  # the story stops here; the emulator is already stopped
        story.check(False, f"the demo ran to the end ({type(exc).__name__}: {exc})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    if story.failures:
        print(f"demo FAILED: {len(story.failures)} expectation(s) did not hold:")
        for failure in story.failures:
            print(f"  - {failure}")
        return 1
    print(f"demo passed: every expectation held ({time.monotonic() - story.started:.0f} s)")
    return 0


@contextlib.contextmanager
def emulator(args: argparse.Namespace, work: Path) -> Iterator[dict[str, str]]:
    from modelship.local.background import start_detached, stop_detached
    from modelship.local.emulator import EmulatorConfig
    from modelship.local.iam import enabled

    config = EmulatorConfig(
        cdk_out=args.cdk_out,
        state_dir=work / "emulator",
        api_port=args.port,
        aws_port=args.aws_port,
        time_scale=args.time_scale,
        seed_model=False,
        iam=enabled(),
    )
    print(f"== Starting the local emulator from {args.cdk_out} (time scale {args.time_scale:g})")
    state = start_detached(config)
    try:
        environment: dict[str, str] = state["endpoints"]["environment"]
        for key in ("MODELSHIP_API_URL", "AWS_ENDPOINT_URL", "MODELSHIP_FUNCTION"):
            print(f"   {key}={environment[key]}")
        yield environment
    finally:
        stop_detached(config.state_dir)
        print("\n== Emulator stopped")


def _story(story: Story, env: dict[str, str], work: Path) -> None:
    state_dir = work / "emulator"
    import boto3

    from modelship.local.activity import read_activity
    from modelship.releases.models import ReleaseTarget
    from modelship.releases.releases import Releases
    from modelship.training.churn import generate_churn
    from modelship.training.tables import table_to_csv_bytes

    api = env["MODELSHIP_API_URL"]
    bucket, function = env["MODELSHIP_BUCKET"], env["MODELSHIP_FUNCTION"]
    s3, lambda_client = boto3.client("s3"), boto3.client("lambda")
    releases = Releases(
        ReleaseTarget(function, env["MODELSHIP_ALIAS"], bucket),
        lambda_client=lambda_client,
        s3=s3,
        cloudwatch=boto3.client("cloudwatch"),
        sts=boto3.client("sts"),
    )
    body = str(load_event("predict_batch")["body"])

    story.step("1. Train the first churn model and publish it to the registry")
    run_cli("train", "--out", str(work / "v1"), "--version", "v1")
    run_cli("models", "publish", str(work / "v1"))

    story.step("2. Release it: a Lambda version pinned to v1, promoted to the live alias")
    run_cli("release", "create", "v1", "--reason", "first model")
    first = releases.latest_created()
    run_cli("promote", "--version", first, "--reason", "first model")
    story.check(releases.alias_state().stable == first, f"live serves Lambda version {first}")

    story.step("3. Predictions over HTTP (cold start, then warm)")
    for label in ("cold", "warm"):
        started = time.monotonic()
        status, version, answer = post(api, body.encode())
        elapsed = time.monotonic() - started
        print(f"   POST {api}/predict -> {status} model {version} ({label}, {elapsed:.2f} s)")
        print(f"     predictions {answer.get('predictions')}")
        story.check(status == 200 and version == "v1", f"{label} request answered 200 by v1")
    status, health = _get(api, "/health")
    story.check(status == 200 and health.get("status") == "ok", f"GET /health: {health}")

    story.step("4. New data lands in S3: retraining, canary and promotion run on their own")
    dataset = f"datasets/churn/{datetime.now():%Y%m%dT%H%M%S}.csv"
    with Traffic(api, body) as traffic:
        s3.put_object(
            Bucket=bucket, Key=dataset, Body=table_to_csv_bytes(generate_churn(drift=0.8, seed=21))
        )
        print(f"   uploaded s3://{bucket}/{dataset} (drifted churn data, 6000 rows)")
        sfn = boto3.client("stepfunctions")
        machine = env.get("MODELSHIP_RETRAIN_STATE_MACHINE", "")
        if not story.check(bool(machine), "the template has a retraining state machine"):
            return
        execution = _finished_execution(sfn, machine, story)
        seen = traffic.reset()
    if execution is None:
        return
    print(f"   retraining execution {execution['name']}: {execution['status']}")
    story.check(execution["status"] == "SUCCEEDED", "retraining ran, canaried and promoted")
    _print_traffic(seen)
    state = releases.alias_state()
    challenger = releases.version_info(state.stable).model_version
    story.check(challenger not in (None, "v1"), f"live now serves the challenger {challenger}")
    story.check(
        any(version == challenger for (_, version) in seen),
        "the challenger answered requests during its canary",
    )
    story.check(all(status == 200 for (status, _) in seen), "every request answered 200")

    story.step("5. A broken release: its artifact is corrupted in S3 after the release")
    broken_dir = copy_as_version(work / "v1", work / "broken", "v1-broken")
    run_cli("models", "publish", str(broken_dir))
    run_cli("release", "create", "v1-broken", "--reason", "demo: will be corrupted")
    broken = releases.latest_created()
    s3.put_object(Bucket=bucket, Key="models/churn/v1-broken/model.joblib", Body=b"not a model")
    print("   overwrote s3://.../models/churn/v1-broken/model.joblib with 11 bytes of garbage")
    run_cli("canary", "start", "--weight", "1%", "--version", broken, "--reason", "demo canary")
    with Traffic(api, body) as traffic:
        cleared = wait_for("the rollback", lambda: releases.alias_state().candidate is None)
        cleared_at = time.time()
        seen = traffic.reset()
    _print_traffic(seen)
    story.check(cleared, "the canary was rolled back automatically")
    story.check(
        any(status >= 500 and version == "v1-broken" for (status, version) in seen),
        "the broken candidate answered 5xx (model unavailable: artifact hash mismatch)",
    )
    # Its own error-rate alarm, or the function-wide one when its few failed requests tip
    # the whole function over 5% first: the rollback names the alarm that acted.
    rollback = wait_for(
        "the rollback record",
        lambda: releases.history.records()[-1].action == "rollback",
    )
    record = releases.history.records()[-1]
    alarm = next(
        (
            a
            for a in read_activity(state_dir)
            if a["kind"] == "alarm-state-change"
            and a["to"] == "ALARM"
            and a["alarm"] == record.alarm
        ),
        None,
    )
    if story.check(
        rollback and alarm is not None, "a guardrail alarm went to ALARM and rolled it back"
    ):
        assert alarm is not None
        fired = datetime.fromisoformat(alarm["at"]).timestamp()
        print(f"   alarm {alarm['alarm']}")
        print(f"   {alarm['reason']}")
        print(f"   alarm -> alias cleared: {cleared_at - fired:.2f} s (observed by polling)")
    answers = [post(api, body.encode())[:2] for _ in range(30)]
    story.check(
        all(status == 200 and version == challenger for status, version in answers),
        f"after the rollback all 30 requests are answered 200 by {challenger}",
    )

    story.step("6. The release history")
    run_cli("history")
    run_cli("status")
    actions = [r.action for r in releases.history.records()]
    story.check(actions[-1] == "rollback", f"the last recorded action is a rollback: {actions}")


def _get(api_url: str, path: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(api_url + path, timeout=60) as response:  # noqa: S310
            return response.status, _json(response)
    except urllib.error.HTTPError as error:
        return error.code, _json(error)


def _finished_execution(sfn: Any, machine: str, story: Story) -> dict[str, Any] | None:
    found: dict[str, Any] = {}

    def finished() -> bool:
        executions = sfn.list_executions(stateMachineArn=machine).get("executions", [])
        if executions and executions[0]["status"] != "RUNNING":
            found.update(executions[0])
            return True
        return False

    if not story.check(wait_for("the retraining execution", finished), "retraining finished"):
        return None
    return found


def _print_traffic(seen: Counter[tuple[int, str]]) -> None:
    total = sum(seen.values())
    print(f"   traffic meanwhile: {total} requests")
    for (status, version), count in sorted(seen.items()):
        print(f"     {status} from {version:<28} {count:5d}  ({count / max(total, 1):.0%})")


if __name__ == "__main__":
    sys.exit(main())
