"""Release transitions and refusals against moto: create, canary, shift, promote, rollback."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from modelship import names
from modelship.errors import (
    CanaryInProgress,
    IncompatibleRelease,
    InvalidWeight,
    ModelNotFound,
    NoCanary,
    NotAnEarlierRelease,
    NothingToRollBack,
    ReleaseConflict,
    ReleaseNotFound,
)
from modelship.registry.registry import artifact_key
from modelship.releases.canary_alarms import canary_alarm_names
from modelship.releases.rollback import rollback
from tests.conftest import BUCKET
from tests.integration.release_world import (
    FUNCTION,
    World,
    released,
    stable_on,
)


def _env(world: World, version: str) -> dict[str, str]:
    config = world.lambda_.get_function_configuration(FunctionName=FUNCTION, Qualifier=version)
    return dict(config["Environment"]["Variables"])


def test_create_pins_the_model_keeps_other_env_and_names_the_model(world: World) -> None:
    info, record = world.releases().create("v1", reason="first model")

    env = _env(world, info.version)
    manifest = world.manifests["v1"]
    assert env[names.ENV_MODEL_VERSION] == "v1"
    assert env[names.ENV_MODEL_SHA256] == manifest.artifact.sha256
    assert env[names.ENV_MODEL_BUCKET] == BUCKET  # untouched
    assert names.ENV_LAYER_SKLEARN_VERSION in env
    config = world.lambda_.get_function_configuration(FunctionName=FUNCTION, Qualifier=info.version)
    assert "churn v1" in config["Description"]
    assert record.action == "create"
    assert record.to_version == info.version
    assert record.actor.startswith("arn:aws:")
    assert world.alias()["FunctionVersion"] == "1"  # a release takes no traffic by itself


def test_create_waits_until_the_published_version_is_active(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With SnapStart a new version is Pending while Lambda snapshots it; routing traffic to it
    # then fails with SnapStartNotReadyException. Here it reports Pending twice, then Active.
    monkeypatch.setattr("botocore.waiter.time.sleep", lambda seconds: None)
    seen: list[str] = []

    def pending_at_first(params: dict[str, Any], parsed: dict[str, Any], **_: Any) -> None:
        qualifier = params.get("Qualifier")
        if qualifier and qualifier.isdigit():
            parsed["State"] = "Pending" if seen.count(qualifier) < 2 else "Active"
            seen.append(qualifier)

    def remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["params"] = params

    world.lambda_.meta.events.register(
        "before-parameter-build.lambda.GetFunctionConfiguration", remember_params
    )
    world.lambda_.meta.events.register(
        "after-call.lambda.GetFunctionConfiguration",
        lambda http_response, parsed, model, context, **kw: pending_at_first(
            context.get("params", {}), parsed
        ),
    )

    info, _ = world.releases().create("v1")

    # Asked until Active: twice Pending, then Active (and once more for the release's info).
    assert seen.count(info.version) >= 3


def test_create_resolves_latest(world: World) -> None:
    info, _ = world.releases().create()

    assert info.model_version == "v3"


def test_create_refuses_a_missing_model_version(world: World) -> None:
    with pytest.raises(ModelNotFound):
        world.releases().create("v9")


def test_create_refuses_a_model_pickled_with_another_sklearn(world: World) -> None:
    world.publish_model("old", sklearn="0.24.2")

    with pytest.raises(IncompatibleRelease, match=r"scikit-learn 0\.24\.2") as caught:
        world.releases().create("old")

    assert caught.value.reason == "incompatible_sklearn"
    assert _env(world, "$LATEST").get(names.ENV_MODEL_VERSION) is None  # nothing changed


def test_create_refuses_when_the_function_does_not_declare_its_sklearn(world: World) -> None:
    env = _env(world, "$LATEST")
    del env[names.ENV_LAYER_SKLEARN_VERSION]
    world.lambda_.update_function_configuration(
        FunctionName=FUNCTION, Environment={"Variables": env}
    )

    with pytest.raises(IncompatibleRelease, match=names.ENV_LAYER_SKLEARN_VERSION):
        world.releases().create("v1")


def test_create_refuses_an_artifact_that_does_not_match_its_manifest(world: World) -> None:
    world.s3.put_object(
        Bucket=BUCKET,
        Key=artifact_key("churn", "v2"),
        Body=b"tampered",
        Metadata={"sha256": "0" * 64},
    )

    with pytest.raises(IncompatibleRelease, match="does not match its manifest"):
        world.releases().create("v2")


def test_create_refuses_an_unexpected_sha256(world: World) -> None:
    with pytest.raises(IncompatibleRelease, match="not the expected"):
        world.releases().create("v1", expected_sha256="f" * 64)


def test_create_refuses_a_schema_change_unless_allowed(world: World) -> None:
    stable_on(world, "v1")
    features = [f.model_dump() for f in world.manifests["v1"].features][:-1]
    world.publish_model("narrow", features=features)

    with pytest.raises(IncompatibleRelease, match="callers would break") as caught:
        world.releases().create("narrow")
    assert caught.value.reason == "schema_changed"

    info, _ = world.releases().create("narrow", allow_schema_change=True)
    assert info.model_version == "narrow"


def test_create_refuses_dropping_an_allowed_category(world: World) -> None:
    stable_on(world, "v1")
    features = [f.model_dump() for f in world.manifests["v1"].features]
    categorical = next(f for f in features if f["kind"] == "categorical")
    categorical["categories"] = categorical["categories"][:-1]
    world.publish_model("fewer", features=features)

    with pytest.raises(IncompatibleRelease, match="no longer accepts"):
        world.releases().create("fewer")


def test_create_maps_a_revision_conflict_to_release_conflict(world: World) -> None:
    # Lambda answers PreconditionFailed when the RevisionId we read is stale; moto does not
    # track revisions, so the answer is injected the way botocore would raise it.
    def stale(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "PreconditionFailedException", "Message": "stale revision"}},
            "UpdateFunctionConfiguration",
        )

    releases = world.releases()
    world.lambda_.meta.events.register(
        "before-call.lambda.UpdateFunctionConfiguration", lambda **kw: stale()
    )

    with pytest.raises(ReleaseConflict):
        releases.create("v1")
    assert world.history() == []


def test_create_passes_the_revision_ids_it_read(world: World) -> None:
    # moto does not report RevisionId for functions; give every read one, as Lambda does.
    issued: list[str] = []
    sent: dict[str, dict[str, Any]] = {}
    latest_read_at: dict[str, str] = {}

    def add_revision(parsed: dict[str, Any], **_: Any) -> None:
        issued.append(f"rev-{len(issued)}")
        parsed["RevisionId"] = issued[-1]

    def capture(params: dict[str, Any], model: Any, **_: Any) -> None:
        sent[model.name] = dict(params)
        if issued:
            latest_read_at[model.name] = issued[-1]

    events = world.lambda_.meta.events
    events.register("after-call.lambda.GetFunctionConfiguration", add_revision)
    events.register("before-parameter-build.lambda.*", capture)

    world.releases().create("v1")

    assert sent["UpdateFunctionConfiguration"]["RevisionId"] == "rev-0"
    # Publish names the revision read after the update, so a change in between is refused.
    assert sent["PublishVersion"]["RevisionId"] == latest_read_at["PublishVersion"] != "rev-0"
    assert sent["PublishVersion"]["Description"].startswith(names.RELEASE_DESCRIPTION_PREFIX)


def test_canary_start_routes_the_weight_and_creates_the_candidate_alarms(world: World) -> None:
    stable = stable_on(world, "v1")
    (candidate,) = released(world, "v2")

    outcome = world.releases().start_canary(0.1, reason="try v2")

    alias = world.alias()
    assert alias["FunctionVersion"] == stable
    assert world.weights() == {candidate: 0.1}
    assert set(canary_alarm_names(FUNCTION, candidate)) <= set(world.alarm_names())
    assert outcome.record is not None
    assert outcome.record.weights_after == {candidate: 0.1}
    error_alarm = world.cloudwatch.describe_alarms(
        AlarmNames=[canary_alarm_names(FUNCTION, candidate)[0]]
    )["MetricAlarms"][0]
    dims = error_alarm["Metrics"][0]["MetricStat"]["Metric"]["Dimensions"]
    assert sorted(dims, key=lambda d: d["Name"]) == [
        {"Name": "Model", "Value": "churn"},
        {"Name": "ModelVersion", "Value": "v2"},
        {"Name": "service", "Value": "predict"},
    ]


@pytest.mark.parametrize(
    "weight", [0.0, 1.0, -0.1, 1.5, 0.9999999, 0.0000001, float("nan"), float("inf")]
)
def test_canary_weight_must_be_strictly_between_0_and_1(world: World, weight: float) -> None:
    stable_on(world, "v1")
    released(world, "v2")

    with pytest.raises(InvalidWeight):
        world.releases().start_canary(weight)
    assert world.weights() == {}


def test_second_canary_is_refused_unless_forced(world: World) -> None:
    stable_on(world, "v1")
    first, second = released(world, "v2", "v3")
    releases = world.releases()
    releases.start_canary(0.05, first)

    with pytest.raises(CanaryInProgress):
        releases.start_canary(0.05, second)
    assert world.weights() == {first: 0.05}

    releases.start_canary(0.2, second, force=True)
    assert world.weights() == {second: 0.2}
    assert not set(canary_alarm_names(FUNCTION, first)) & set(world.alarm_names())


def test_canary_of_the_stable_release_or_a_non_release_is_refused(world: World) -> None:
    stable = stable_on(world, "v1")
    releases = world.releases()

    with pytest.raises(CanaryInProgress, match="already the stable"):
        releases.start_canary(0.1, stable)
    with pytest.raises(ReleaseNotFound, match="pins no model"):
        releases.start_canary(0.1, "1")  # the bootstrap version
    with pytest.raises(ReleaseNotFound):
        releases.start_canary(0.1, "42")


def test_canary_of_the_same_model_is_refused(world: World) -> None:
    stable_on(world, "v1")
    env = _env(world, "$LATEST")
    env["MAX_ROWS"] = "10"
    world.lambda_.update_function_configuration(
        FunctionName=FUNCTION, Environment={"Variables": env}
    )
    same = world.lambda_.publish_version(FunctionName=FUNCTION)["Version"]

    with pytest.raises(IncompatibleRelease, match="same model"):
        world.releases().start_canary(0.1, same)


def test_shift_changes_the_weight_and_needs_a_canary(world: World) -> None:
    stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    releases = world.releases()

    with pytest.raises(NoCanary):
        releases.shift(0.25)

    releases.start_canary(0.1)
    outcome = releases.shift(0.25)
    assert world.weights() == {candidate: 0.25}
    assert outcome.record is not None
    assert outcome.record.weights_before == {candidate: 0.1}
    assert releases.shift(0.25).changed is False


def test_promote_makes_the_candidate_stable_and_clears_weights_and_alarms(world: World) -> None:
    stable = stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    releases = world.releases()
    releases.start_canary(0.1)

    outcome = releases.promote(reason="looks good")

    assert world.alias()["FunctionVersion"] == candidate
    assert world.weights() == {}
    assert world.alarm_names() == []
    assert outcome.record is not None
    assert (outcome.record.from_version, outcome.record.to_version) == (stable, candidate)


def test_promote_without_a_canary_is_refused(world: World) -> None:
    stable_on(world, "v1")
    with pytest.raises(NoCanary):
        world.releases().promote()


def test_alias_conflict_is_a_release_conflict_and_changes_nothing(world: World) -> None:
    stable_on(world, "v1")
    released(world, "v2")
    releases = world.releases()
    before = world.history()

    def stale(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "PreconditionFailedException", "Message": "stale"}}, "UpdateAlias"
        )

    world.lambda_.meta.events.register("before-call.lambda.UpdateAlias", lambda **kw: stale())
    with pytest.raises(ReleaseConflict):
        releases.start_canary(0.1)
    assert world.history() == before
    assert world.weights() == {}
    assert world.alarm_names() == []  # no guardrails left for a canary that never started


def test_alias_updates_carry_the_revision_id_read(world: World) -> None:
    stable_on(world, "v1")
    released(world, "v2")
    sent: list[dict[str, Any]] = []
    world.lambda_.meta.events.register(
        "before-parameter-build.lambda.UpdateAlias", lambda params, **kw: sent.append(params)
    )
    revision = world.alias()["RevisionId"]

    world.releases().start_canary(0.1)

    assert sent[0]["RevisionId"] == revision


def test_rollback_clears_the_canary_and_keeps_the_stable_release(world: World) -> None:
    stable = stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    releases = world.releases()
    releases.start_canary(0.1)

    outcome = rollback(releases, reason="bad metrics")

    assert world.alias()["FunctionVersion"] == stable
    assert world.weights() == {}
    assert world.alarm_names() == []
    assert outcome.record is not None
    assert (outcome.record.from_version, outcome.record.to_version) == (candidate, stable)


def test_rollback_after_a_promotion_returns_to_the_previous_release(world: World) -> None:
    first = stable_on(world, "v1")
    (second,) = released(world, "v2")
    releases = world.releases()
    releases.start_canary(0.1)
    releases.promote()

    rollback(releases, reason="regression")

    assert world.alias()["FunctionVersion"] == first
    assert world.weights() == {}
    # A second rollback has no promotion to undo: v1 came back by a rollback.
    with pytest.raises(NothingToRollBack):
        rollback(releases)
    assert world.alias()["FunctionVersion"] == first
    assert second != first


def test_rollback_to_any_earlier_release(world: World) -> None:
    first = stable_on(world, "v1")
    second, third = released(world, "v2", "v3")
    releases = world.releases()
    for candidate in (second, third):
        releases.start_canary(0.1, candidate)
        releases.promote()

    outcome = rollback(releases, to=first)

    assert world.alias()["FunctionVersion"] == first
    assert outcome.record is not None
    assert outcome.record.from_version == third
    assert rollback(releases, to=first).changed is False


def test_rollback_to_a_newer_release_is_refused(world: World) -> None:
    # Going forward skips the canary and its guardrails: that is `promote --version`.
    stable = stable_on(world, "v1")
    (newer,) = released(world, "v2")

    with pytest.raises(NotAnEarlierRelease, match="promote"):
        rollback(world.releases(), to=newer)
    assert world.alias()["FunctionVersion"] == stable


def test_rollback_with_nothing_to_undo_is_refused(world: World) -> None:
    with pytest.raises(NothingToRollBack):
        rollback(world.releases())


def test_rollback_to_a_version_that_is_not_a_release_is_refused(world: World) -> None:
    stable_on(world, "v1")
    with pytest.raises(ReleaseNotFound):
        rollback(world.releases(), to="1")


def test_status_names_stable_candidate_weights_and_alarm_states(world: World) -> None:
    stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    releases = world.releases()
    releases.start_canary(0.1)

    status = releases.status().as_dict()

    assert status["stable"]["model_version"] == "v1"
    assert status["candidate"] == {
        "version": candidate,
        "model_name": "churn",
        "model_version": "v2",
        "model_sha256": world.manifests["v2"].artifact.sha256,
    }
    assert status["candidate_weight"] == 0.1
    assert status["stable_weight"] == 0.9
    assert {a["name"] for a in status["alarms"]} == set(canary_alarm_names(FUNCTION, candidate))
    assert all(a["state"] in {"OK", "INSUFFICIENT_DATA"} for a in status["alarms"])


def test_history_is_write_once_sortable_and_complete(world: World) -> None:
    stable_on(world, "v1")
    released(world, "v2")
    releases = world.releases()
    releases.start_canary(0.1)
    releases.shift(0.5)
    releases.promote()
    rollback(releases, reason="oops")

    records = world.history()
    keys = releases.history.keys()

    assert [r.action for r in records] == [
        "create",
        "promote",
        "create",
        "canary_start",
        "canary_shift",
        "promote",
        "rollback",
    ]
    assert keys == sorted(keys)
    assert all(k.startswith(f"releases/{FUNCTION}/") for k in keys)
    assert [r.time for r in records] == sorted(r.time for r in records)
    assert records[-1].reason == "oops"
    with pytest.raises(ClientError):
        world.s3.put_object(Bucket=BUCKET, Key=keys[0], Body=b"{}", IfNoneMatch="*")


def test_two_writers_of_one_alias_the_second_is_refused_on_its_stale_revision(
    world: World,
) -> None:
    # Given two operators who read the alias at the same revision
    stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    first, second = world.releases(), world.releases()
    read_by_first, read_by_second = first.alias_state(), second.alias_state()
    assert read_by_first.revision_id == read_by_second.revision_id

    # When the first routes 10% to the candidate: the alias gets a new revision
    after = first.alias.route(read_by_first, read_by_first.stable, {candidate: 0.1})
    assert after.revision_id not in (None, read_by_first.revision_id)

    # Then the second's write, made on what it read, is refused and changes nothing
    with pytest.raises(ReleaseConflict):
        second.alias.route(read_by_second, read_by_second.stable, {candidate: 0.5})
    assert world.weights() == {candidate: 0.1}
