"""`make demo`: modelship's main job on one machine, against the local emulator.

Starts the emulator from cdk.out (`make demo` runs `make synth` first; cdk.json ships two
models, `churn` and `churn-forest`), trains, releases and promotes a first version of each,
answers predictions over HTTP on each model's routes, uploads a new dataset that retrains,
canaries and promotes a challenger of `churn` while traffic flows, then canaries a broken
release of `churn-forest` whose alarm rolls it back automatically while `churn` keeps
serving, untouched (both models' traffic and alias states shown before and after), and
prints the release history, then shows what watches the models: the requests captured to
S3, the local dashboard page and the drift monitor's reports. Exits 0 only if every
expectation held; the emulator is stopped whatever happens.

Time is compressed (`--time-scale`, default 30): an alarm period of 60 s lasts 2 s and a
10-minute bake 20 s. See docs/local.md.

The broken canary gets 5% of its model's traffic: enough for its own alarm (its error rate is
100%, with the two failed requests in one period the alarm asks for). The model-wide
error-rate alarm (5%) may fire too; its event, handled after the canary's rollback, is
attributed to the canary (see docs/local.md, "Known behaviour").
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from modelship.demo_shadow import shadow_release
from modelship.demo_traffic import Traffic, get, post, print_traffic, reference_bodies
from modelship.registry.manifest import copy_as_version
from modelship.registry.registry import Registry
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
        for key in ("MODELSHIP_API_URL", "AWS_ENDPOINT_URL", "MODELSHIP_STACK"):
            print(f"   {key}={environment[key]}")
        yield environment
    finally:
        stop_detached(config.state_dir)
        print("\n== Emulator stopped")


def _story(story: Story, env: dict[str, str], work: Path) -> None:
    state_dir = work / "emulator"
    import boto3

    from modelship.local.activity import read_activity
    from modelship.releases.directory import ModelDirectory
    from modelship.training.churn import generate_churn
    from modelship.training.tables import table_to_csv_bytes

    api = env["MODELSHIP_API_URL"]
    s3 = boto3.client("s3")
    models = ModelDirectory(boto3.client("ssm"), env["MODELSHIP_STACK"]).models()
    names = [m.model for m in models]
    if not story.check(len(models) >= 2, f"the deployment serves two models: {names}"):
        return
    churn, forest = models[0], models[1]
    releases = {m.model: _releases(m) for m in (churn, forest)}
    body = str(load_event("predict_batch")["body"])

    story.step(f"1. Train {churn.model} (logistic regression) and {forest.model} (random forest)")
    algorithms = {churn.model: "logistic_regression", forest.model: "random_forest"}
    for model, algorithm in algorithms.items():
        out = str(work / f"{model}-v1")
        run_cli("train", "--name", model, "--algorithm", algorithm, "--out", out, "--version", "v1")
        run_cli("models", "publish", out)

    story.step("2. Release each: a Lambda version of ITS function, promoted to ITS live alias")
    for model, model_releases in releases.items():
        run_cli("release", "create", "v1", "--model", model, "--reason", "first model")
        first = model_releases.latest_created()
        run_cli("promote", "--model", model, "--version", first, "--reason", "first model")
        state = model_releases.alias_state()
        story.check(state.stable == first, f"{model}: live serves Lambda version {first}")
    run_cli("status")

    story.step("3. Predictions over HTTP: /predict (the default model) and /models/<name>/predict")
    for path, model in (
        ("/predict", churn.model),
        (f"/models/{churn.model}/predict", churn.model),
        (f"/models/{forest.model}/predict", forest.model),
    ):
        started = time.monotonic()
        status, version, answer = post(api, body.encode(), path)
        elapsed = time.monotonic() - started
        print(f"   POST {path} -> {status} {answer.get('model_name')} {version} ({elapsed:.2f} s)")
        print(f"     predictions {answer.get('predictions')}")
        story.check(
            (status, version, answer.get("model_name")) == (200, "v1", model),
            f"POST {path} answered 200 by {model} v1",
        )
    for path in ("/health", f"/models/{forest.model}/health"):
        status, health = get(api, path)
        story.check(status == 200 and health.get("status") == "ok", f"GET {path}: {health}")

    story.step(f"4. New {churn.model} data lands in S3: retraining, canary, promotion on their own")
    dataset = f"datasets/{churn.model}/{datetime.now():%Y%m%dT%H%M%S}.csv"
    bodies = reference_bodies()
    with Traffic(api, bodies) as traffic:
        s3.put_object(
            Bucket=churn.bucket,
            Key=dataset,
            Body=table_to_csv_bytes(generate_churn(drift=0.8, seed=21)),
        )
        print(f"   uploaded s3://{churn.bucket}/{dataset} (drifted churn data, 6000 rows)")
        sfn = boto3.client("stepfunctions")
        machine = churn.retrain_state_machine
        if not story.check(bool(machine), f"{churn.model} has a retraining state machine"):
            return
        execution = _finished_execution(sfn, machine, story)
        seen = traffic.reset()
    if execution is None:
        return
    print(f"   retraining execution {execution['name']}: {execution['status']}")
    story.check(execution["status"] == "SUCCEEDED", "retraining ran, canaried and promoted")
    print_traffic(seen)
    state = releases[churn.model].alias_state()
    challenger = releases[churn.model].version_info(state.stable).model_version
    story.check(challenger not in (None, "v1"), f"live now serves the challenger {challenger}")
    if challenger is not None:
        card = Registry(s3, churn.bucket).stored_card(churn.model, challenger) or ""
        story.check(
            "| Metric | This version | Champion v1 |" in card,
            f"its model card sets it beside the champion v1 on the same holdout, with the "
            f"gates (modelship models card {churn.model} {challenger})",
        )
    story.check(
        any(version == challenger for (_, version) in seen),
        "the challenger answered requests during its canary",
    )
    story.check(all(status == 200 for (status, _) in seen), "every request answered 200")
    verdicts = [r for r in releases[churn.model].history.records() if r.action == "verdict"]
    # A step is judged at look 0, then again after each extension while inconclusive.
    following = [*verdicts[1:], None]
    step_ends = [r for r, after in zip(verdicts, following, strict=True) if _look(after) == 0]
    for record in verdicts:
        print(f"   verdict, look {_look(record)}: {record.reason}")
    story.check(
        bool(step_ends) and all(r.reason.startswith("pass") for r in step_ends),
        "each canary step ended with a verdict of the challenger against the champion: pass",
    )

    story.step(f"5. A broken release of {forest.model}, canaried while both models serve")
    before = {model: r.alias_state() for model, r in releases.items()}
    _print_alias_states("before", before)
    broken_dir = copy_as_version(work / f"{forest.model}-v1", work / "broken", "v1-broken")
    run_cli("models", "publish", str(broken_dir))
    run_cli("release", "create", "v1-broken", "--model", forest.model, "--reason", "demo: broken")
    broken = releases[forest.model].latest_created()
    key = f"models/{forest.model}/v1-broken/model.joblib"
    s3.put_object(Bucket=forest.bucket, Key=key, Body=b"not a model")
    print(f"   overwrote s3://.../{key} with 11 bytes of garbage")
    with (
        Traffic(api, bodies, f"/models/{churn.model}/predict", threads=1) as churn_traffic,
        Traffic(api, bodies, f"/models/{forest.model}/predict", threads=2) as forest_traffic,
    ):
        time.sleep(1)  # both models answering before the canary starts
        run_cli(
            "canary", "start", "--model", forest.model, "--weight", "5%", "--version", broken,
            "--reason", "demo canary",
        )  # fmt: skip
        _print_alias_states("during", {forest.model: releases[forest.model].alias_state()})
        cleared = wait_for(
            "the rollback", lambda: releases[forest.model].alias_state().candidate is None
        )
        cleared_at = time.time()
        time.sleep(1)  # and after the rollback
        seen, untouched = forest_traffic.reset(), churn_traffic.reset()
    print_traffic(seen, f"{forest.model} traffic meanwhile")
    print_traffic(untouched, f"{churn.model} traffic meanwhile")
    after = {model: r.alias_state() for model, r in releases.items()}
    _print_alias_states("after", after)
    story.check(cleared, f"{forest.model}'s canary was rolled back automatically")
    story.check(
        any(status >= 500 and version == "v1-broken" for (status, version) in seen),
        "the broken candidate answered 5xx (model unavailable: artifact hash mismatch)",
    )
    story.check(
        after[forest.model].stable == before[forest.model].stable,
        f"{forest.model} still serves its stable Lambda version {before[forest.model].stable}",
    )
    story.check(
        bool(untouched) and set(untouched) == {(200, challenger)},
        f"{churn.model} answered all {sum(untouched.values())} requests 200 by {challenger}",
    )
    story.check(
        after[churn.model] == before[churn.model],
        f"{churn.model}'s alias is untouched (same version, weights and revision id)",
    )
    history = releases[forest.model].history
    rollback = wait_for("the rollback record", lambda: history.records()[-1].action == "rollback")
    record = history.records()[-1]
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
    story.check(
        forest.function in str(record.alarm), f"the alarm is {forest.model}'s own: {record.alarm}"
    )
    answers = [post(api, body.encode(), f"/models/{forest.model}/predict")[:2] for _ in range(30)]
    story.check(
        all(status == 200 and version == "v1" for status, version in answers),
        f"after the rollback all 30 {forest.model} requests are answered 200 by v1",
    )

    story.step("6. The release history and every model's status")
    run_cli("history", "--model", forest.model)
    run_cli("status")
    actions = [r.action for r in history.records()]
    story.check(actions[-1] == "rollback", f"the last recorded action is a rollback: {actions}")
    churn_actions = [r.action for r in releases[churn.model].history.records()]
    story.check("rollback" not in churn_actions, f"{churn.model} was never rolled back")

    story.step(f"7. Watching {churn.model}: captured requests, its dashboard, its drift monitor")
    captured = s3.list_objects_v2(Bucket=churn.bucket, Prefix=f"capture/{churn.model}/")
    objects = [o["Key"] for o in captured.get("Contents", [])]
    story.check(bool(objects), f"sampled requests were captured to S3: {len(objects)} object(s)")
    url = run_cli("dashboard", "--model", churn.model).strip().splitlines()[-1]
    with urllib.request.urlopen(url + "?minutes=60", timeout=30) as page:  # noqa: S310
        html = page.read().decode()
    story.check(
        challenger is not None and challenger in html, f"the dashboard page names {challenger}"
    )
    reports = s3.list_objects_v2(Bucket=churn.bucket, Prefix=f"monitoring/{churn.model}/drift/")
    count = len(reports.get("Contents", []))
    print(f"   drift reports so far: {count} (the monitor runs on its schedule, time-compressed)")

    shadow_release(story, run_cli, wait_for, releases[churn.model], api, bodies, challenger, s3)


def _look(record: Any) -> int:
    """A verdict record's look (0: right after the bake); 0 past the last record."""
    return 0 if record is None else int((record.details or {}).get("look", 0))


def _releases(model: Any) -> Any:
    """The release actions on one deployed model (a DeployedModel)."""
    import boto3

    from modelship.releases.models import ReleaseTarget
    from modelship.releases.releases import Releases

    return Releases(
        ReleaseTarget(model.function, model.alias, model.bucket),
        lambda_client=boto3.client("lambda"),
        s3=boto3.client("s3"),
        cloudwatch=boto3.client("cloudwatch"),
        sts=boto3.client("sts"),
    )


def _print_alias_states(when: str, states: dict[str, Any]) -> None:
    for model, state in states.items():
        weights = ", ".join(f"v{k} at {w:.0%}" for k, w in state.weights.items()) or "none"
        print(
            f"   {when:<6} {model:<14} live: stable {state.stable}, candidates {weights}, "
            f"revision {state.revision_id}"
        )


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


if __name__ == "__main__":
    sys.exit(main())
