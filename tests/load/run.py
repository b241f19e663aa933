"""`make load`: load through a canary on the local emulator, figures into docs/performance.md.

    .venv/bin/python -m tests.load.run [--users 24] [--rate 40] [--phase-seconds 20]

Starts the emulator from cdk.out (`make load` synthesizes it first, with the stage's throttle
raised so the gateway does not limit the load), publishes a stable model (v1), a healthy
candidate (v2) and a broken one (v3-broken: its artifact is corrupted after its release, so
it answers 503), and runs locust (tests/load/locustfile.py) against /predict the whole time
while `live` goes: v1 alone, a canary of v2 at 10%, shifted to 50%, v2 promoted, a canary of
v3-broken at 10% until a guardrail alarm rolls it back (nothing here rolls it back), and
after. Then splits the requests by phase and version and writes section 14 of
docs/performance.md (between its markers). Exits 1, naming them, if any request failed other
than those the broken candidate answered, or if the story did not happen as told.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelship.local.handler_runner import REPO_ROOT
from tests.load.figures import (
    Record,
    describe_failures,
    peak_in_flight,
    phase_figures,
    phases,
    read_records,
    unexpected_failures,
    version_figures,
)
from tests.load.section import LoadRun, render, with_block

LOCUSTFILE = Path(__file__).resolve().with_name("locustfile.py")
STABLE, HEALTHY, BROKEN = "v1", "v2", "v3-broken"
ROLES = {STABLE: "stable", HEALTHY: "healthy candidate", BROKEN: "broken candidate"}
CANARY_WEIGHT, SHIFT_WEIGHT = 0.10, 0.50
TIME_SCALE = 30.0
ROLLBACK_TIMEOUT_SECONDS = 180.0
WARM_TIMEOUT_SECONDS = 300.0


class StoryFailed(Exception):
    """The release story did not go as told (a step refused, no automatic rollback)."""


def _progress(message: str) -> None:
    print(f"load: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cdk-out", type=Path, default=REPO_ROOT / "cdk.out")
    parser.add_argument("--users", type=int, default=24, help="locust users (concurrency)")
    parser.add_argument("--rate", type=float, default=30.0, help="requests/s of all users")
    parser.add_argument("--phase-seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=4, help="worker processes per version")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "performance.md")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args(argv)
    if args.users < 1 or args.rate <= 0 or args.phase_seconds <= 0 or args.workers < 1:
        parser.error("--users, --rate, --phase-seconds and --workers must be positive")
    if not any(args.cdk_out.glob("*.template.json")):
        parser.error(f"no template in {args.cdk_out}: run `make synth` (make load does) first")
    work = Path(tempfile.mkdtemp(prefix="modelship-load-"))
    try:
        return _run(args, work)
    except StoryFailed as exc:
        _progress(f"FAILED: {exc}")
        return 1
    finally:
        if args.keep:
            _progress(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, work: Path) -> int:
    from modelship.local.background import start_detached, stop_detached
    from modelship.local.emulator import EmulatorConfig
    from modelship.local.iam import enabled
    from tests.benchmarks.machine import describe_machine
    from tests.benchmarks.models import free_port

    started_at, started = datetime.now(UTC), time.monotonic()
    machine = describe_machine()
    config = EmulatorConfig(
        cdk_out=args.cdk_out,
        state_dir=work / "emulator",
        api_port=free_port(),
        aws_port=free_port(),
        time_scale=TIME_SCALE,
        max_workers_per_version=args.workers,
        seed_model=False,
        iam=enabled(),
    )
    _progress(f"starting the emulator from {args.cdk_out}")
    state = start_detached(config)
    try:
        environment: dict[str, str] = state["endpoints"]["environment"]
        os.environ.update(environment)
        story = Story(environment, work)
        marks, end, rollback = story.run(args)
        workers = story.workers_started(config.state_dir)
        timeout_s = int(
            story.lambda_client.get_function_configuration(FunctionName=story.function)["Timeout"]
        )
        alarm_at = _alarm_time(config.state_dir, rollback["alarm"], rollback["cleared"])
    finally:
        stop_detached(config.state_dir)
    records = read_records(work / "records.jsonl")
    run_phases = phases(marks, end)
    broken_failures = [r for r in records if r.failed and r.version == BROKEN]
    unexpected = unexpected_failures(records, BROKEN)
    load_run = LoadRun(
        when=f"{started_at:%Y-%m-%d %H:%M} UTC",
        minutes=(time.monotonic() - started) / 60,
        machine=machine.line(),
        load_average_end=" ".join(Path("/proc/loadavg").read_text().split()[:3]),
        users=args.users,
        rate=args.rate,
        workers_per_version=args.workers,
        time_scale=TIME_SCALE,
        throttle=_throttle(args.cdk_out),
        phases=phase_figures(records, run_phases),
        versions=version_figures(
            [r for r in records if r.started >= run_phases[1].start],
            end - run_phases[1].start,
        ),
        roles=ROLES,
        workers=workers,
        peaks=peak_in_flight(records),
        timeout_s=timeout_s,
        broken=BROKEN,
        alarm=rollback["alarm"],
        alarm_to_cleared_s=None if alarm_at is None else rollback["cleared"] - alarm_at,
        first_failure_to_cleared_s=(
            rollback["cleared"] - broken_failures[0].started if broken_failures else None
        ),
        unexpected=describe_failures(unexpected),
    )
    block = render(load_run)
    print(block)
    args.out.write_text(with_block(args.out.read_text(), block))
    _progress(f"wrote section 14 of {args.out}")
    return _verdict(records, unexpected, broken_failures)


def _verdict(records: list[Record], unexpected: list[Record], broken: list[Record]) -> int:
    if not records:
        _progress("FAILED: locust recorded no request")
        return 1
    if unexpected:
        _progress(f"FAILED: requests failed other than {BROKEN}'s: {describe_failures(unexpected)}")
        return 1
    if not broken:
        _progress(f"FAILED: {BROKEN} answered no request, so its rollback was not exercised")
        return 1
    _progress(f"passed: {len(records)} requests, the only failures {len(broken)} of {BROKEN}")
    return 0


class Story:
    """The release actions on the default model while locust runs."""

    def __init__(self, environment: dict[str, str], work: Path) -> None:
        import boto3

        from modelship.releases.models import ReleaseTarget
        from modelship.releases.releases import Releases

        self.environment = environment
        self.work = work
        self.function = environment["MODELSHIP_FUNCTION"]
        self.bucket = environment["MODELSHIP_BUCKET"]
        self.s3 = boto3.client("s3")
        self.lambda_client = boto3.client("lambda")
        self.releases = Releases(
            ReleaseTarget(self.function, environment["MODELSHIP_ALIAS"], self.bucket),
            lambda_client=self.lambda_client,
            s3=self.s3,
            cloudwatch=boto3.client("cloudwatch"),
            sts=boto3.client("sts"),
        )
        self.lambda_versions: dict[str, str] = {}

    def run(
        self, args: argparse.Namespace
    ) -> tuple[list[tuple[str, float]], float, dict[str, Any]]:
        """Runs the story under load: the phase marks, the end of the run and the rollback
        seen (alarm, when the alias was cleared)."""
        self._publish()
        releases = self.releases
        v1, v2, broken = (self.lambda_versions[v] for v in (STABLE, HEALTHY, BROKEN))
        # The broken version's workers first, before anything is released: their 503s are
        # then alone in their alarm periods, below the guardrails' minimum of requests.
        self._start_workers(broken, args.workers)
        time.sleep(3 * 60 / TIME_SCALE)
        releases.promote(candidate=v1, direct=True, reason="load: stable")
        for version in (v1, v2):
            self._start_workers(version, args.workers)
        seconds = args.phase_seconds
        marks: list[tuple[str, float]] = [("warm-up (users starting)", time.time())]
        with Locust(self.environment, self.work, args):
            time.sleep(max(5.0, args.users / _spawn_rate(args)) + 2)
            marks.append((f"{STABLE} stable", time.time()))
            time.sleep(seconds)
            marks.append((f"canary {HEALTHY} at {CANARY_WEIGHT:.0%}", time.time()))
            releases.start_canary(CANARY_WEIGHT, v2, reason="load: healthy canary")
            time.sleep(seconds)
            marks.append((f"shift {HEALTHY} to {SHIFT_WEIGHT:.0%}", time.time()))
            self._require_canary(v2, "the shift")
            releases.shift(SHIFT_WEIGHT, candidate=v2, reason="load: shift")
            time.sleep(seconds)
            marks.append((f"{HEALTHY} promoted", time.time()))
            self._require_canary(v2, "the promotion")
            releases.promote(candidate=v2, reason="load: promote")
            time.sleep(seconds)
            marks.append((f"canary {BROKEN} at {CANARY_WEIGHT:.0%} until rolled back", time.time()))
            releases.start_canary(CANARY_WEIGHT, broken, reason="load: broken canary")
            cleared = self._wait_for_rollback()
            marks.append(("after the automatic rollback", cleared))
            time.sleep(seconds)
            end = time.time()
        record = self._rollback_record()
        state = releases.alias_state()
        if state.stable != v2 or state.candidate is not None:
            raise StoryFailed(f"live should serve {HEALTHY} alone after the rollback: {state}")
        return marks, end, {"alarm": record.alarm, "cleared": cleared}

    def _publish(self) -> None:
        from modelship.registry.manifest import copy_as_version
        from modelship.registry.registry import Registry, artifact_key
        from modelship.training.churn import generate_churn
        from modelship.training.training import TrainingSpec, train, write_model

        _progress(f"training the reference model; publishing {STABLE}, {HEALTHY}, {BROKEN}")
        model = self.work / "model"
        write_model(train(generate_churn(), TrainingSpec(name="churn", version=STABLE)), model)
        registry = Registry(self.s3, self.bucket)
        for version in (STABLE, HEALTHY, BROKEN):
            copy = model if version == STABLE else self.work / version
            if version != STABLE:
                copy_as_version(model, copy, version)
            registry.publish(copy)
            info, _ = self.releases.create(version, reason=f"load: {ROLES[version]}")
            self.lambda_versions[version] = info.version
        self.s3.put_object(
            Bucket=self.bucket, Key=artifact_key("churn", BROKEN), Body=b"not a model"
        )

    def _start_workers(self, lambda_version: str, count: int) -> None:
        """Leaves the version with `count` warm workers, as provisioned concurrency would: 1,
        2, ... `count` invocations at once, so that each round starts one worker while the
        others answer warm (the emulator counts a cold start within the function timeout,
        and several at once on a busy machine can overrun it). A round with an invocation
        that failed (a worker timed out starting) is repeated."""
        import json
        from concurrent.futures import ThreadPoolExecutor

        from modelship.sample_events import load_event

        _progress(f"starting {count} workers of Lambda version {lambda_version}")
        payload = json.dumps(load_event("predict_valid")).encode()
        deadline = time.monotonic() + WARM_TIMEOUT_SECONDS

        def invoke(_: int) -> bool:
            answer = self.lambda_client.invoke(
                FunctionName=self.function, Qualifier=lambda_version, Payload=payload
            )
            answer["Payload"].read()
            return "FunctionError" not in answer

        with ThreadPoolExecutor(count) as pool:
            for at_once in range(1, count + 1):
                while not all(pool.map(invoke, range(at_once))):
                    if time.monotonic() > deadline:
                        raise StoryFailed(
                            f"Lambda version {lambda_version} did not start {count} workers "
                            f"in {WARM_TIMEOUT_SECONDS:.0f} s"
                        )

    def _require_canary(self, version: str, step: str) -> None:
        state = self.releases.alias_state()
        if state.candidate != version:
            raise StoryFailed(
                f"the canary of {HEALTHY} (Lambda version {version}) is gone before {step}: "
                f"a guardrail rolled the healthy candidate back ({state})"
            )

    def _wait_for_rollback(self) -> float:
        deadline = time.monotonic() + ROLLBACK_TIMEOUT_SECONDS
        while self.releases.alias_state().candidate is not None:
            if time.monotonic() > deadline:
                raise StoryFailed(f"{BROKEN} was not rolled back in {ROLLBACK_TIMEOUT_SECONDS} s")
            time.sleep(0.05)
        return time.time()

    def _rollback_record(self) -> Any:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            record = self.releases.history.records()[-1]
            if record.action == "rollback" and record.alarm:
                return record
            time.sleep(0.1)
        raise StoryFailed("the canary was cleared but no alarm's rollback was recorded")

    def workers_started(self, state_dir: Path) -> dict[str, int]:
        """Worker processes each model version's Lambda version started."""
        root = state_dir / "workers"
        return {
            version: len(list(root.glob(f"{self.function}-{lambda_version}-*")))
            for version, lambda_version in self.lambda_versions.items()
        }


def _spawn_rate(args: argparse.Namespace) -> float:
    return max(1.0, args.users / 5)


class Locust:
    """locust, headless, as a subprocess for as long as the `with` block lasts."""

    def __init__(self, environment: dict[str, str], work: Path, args: argparse.Namespace) -> None:
        self.records = work / "records.jsonl"
        self.log = work / "locust.log"
        self.command = [
            str(Path(sys.executable).with_name("locust")),
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--users",
            str(args.users),
            "--spawn-rate",
            f"{_spawn_rate(args):g}",
            "--run-time",
            "30m",
            "--stop-timeout",
            "10",
            "--host",
            environment["MODELSHIP_API_URL"],
            "--csv",
            str(work / "locust"),
            "--only-summary",
        ]
        self.env = {
            **os.environ,
            **environment,
            "LOAD_RECORDS": str(self.records),
            "LOAD_RATE_PER_USER": f"{args.rate / args.users:g}",
            "PYTHONPATH": str(REPO_ROOT),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Locust:
        _progress(f"starting locust: {' '.join(self.command[1:])}")
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT
            )
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        summary = self.log.read_text(errors="replace").splitlines()
        print("\n".join(summary[-40:]), file=sys.stderr)


def _alarm_time(state_dir: Path, alarm: str, before: float) -> float | None:
    """When `alarm` last went to ALARM (the emulator's activity log) before `before`, epoch
    seconds."""
    from modelship.local.activity import read_activity

    times = [
        datetime.fromisoformat(a["at"]).timestamp()
        for a in read_activity(state_dir)
        if a["kind"] == "alarm-state-change" and a["to"] == "ALARM" and a["alarm"] == alarm
    ]
    earlier = [t for t in times if t <= before]
    return max(earlier) if earlier else None


def _throttle(cdk_out: Path) -> str:
    """The stage throttle of the template the emulator runs."""
    import json

    for path in sorted(cdk_out.glob("*.template.json")):
        resources = json.loads(path.read_text()).get("Resources", {})
        for resource in resources.values():
            if resource.get("Type") == "AWS::ApiGatewayV2::Stage":
                limits = resource.get("Properties", {}).get("DefaultRouteSettings", {})
                rate, burst = limits.get("ThrottlingRateLimit"), limits.get("ThrottlingBurstLimit")
                if rate is not None:
                    return f"stage throttle {rate:g} requests/s, burst {burst}"
    return "no stage throttle in the template"


if __name__ == "__main__":
    raise SystemExit(main())
