"""Corrections to moto while the emulator runs: Step Functions Wait states compressed by
`time_scale`, CloudWatch dimensions matched in any order, CloudWatch's extended statistics
(percentiles, percentile ranks, trimmed counts) computed over the stored values, and Lambda
alias revisions (UpdateAlias checks RevisionId and renews it)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from unittest import mock
from urllib.parse import unquote


@contextlib.contextmanager
def compressed_waits(time_scale: float) -> Iterator[None]:
    """Step Functions Wait states last 1/time_scale of their seconds."""
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
        WaitFunction,
    )

    def eval_body(self: Any, env: Any) -> None:
        seconds = self._get_wait_seconds(env=env)
        if seconds > 0:
            # Returns early when the execution is stopped, like the original.
            env.program_state_event.wait(seconds / time_scale)

    if time_scale == 1.0:
        yield
        return
    with mock.patch.object(WaitFunction, "_eval_body", eval_body):
        yield


@contextlib.contextmanager
def ordered_dimensions() -> Iterator[None]:
    """moto 5.2.5 matches metric dimensions with sorted(), but Dimension.__lt__ compares a
    value with a name, so the match depends on the order they were written in. CloudWatch
    ignores the order: sort by (name, value) while the emulator runs."""
    from moto.cloudwatch.models import Dimension

    def less_than(self: Any, other: Any) -> bool:
        return (str(self.name), str(self.value)) < (str(other.name), str(other.value))

    with mock.patch.object(Dimension, "__lt__", less_than):
        yield


@contextlib.contextmanager
def extended_statistics() -> Iterator[None]:
    """moto 5.2.5 answers only the five standard statistics: GetMetricData returns None for
    `p99` or `PR(:250)`, and GetMetricStatistics drops ExtendedStatistics. Compute them over
    the stored raw values (modelship.local.metric_statistics), refuse a statistic CloudWatch
    would not parse, and leave out the datapoints of a period that has no value for it.
    MetricStat queries are answered from an index of the data (modelship.local.metric_queries),
    not by moto's scan of every datum per query."""
    from moto.cloudwatch.exceptions import InvalidParameterCombination, InvalidParameterValue
    from moto.cloudwatch.models import CloudWatchBackend, Statistics
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.core.responses import ActionResult

    from modelship.local.metric_queries import metric_stat_results
    from modelship.local.metric_statistics import (
        InvalidStatistic,
        is_extended,
        parse_statistic,
        raw_values,
    )

    def parsed(text: str, where: str) -> Any:
        try:
            return parse_statistic(text)
        except InvalidStatistic as exc:
            raise InvalidParameterValue(f"{where}: {exc}") from None

    standard_statistic = Statistics.get_statistics_for_type
    standard_metric_data = CloudWatchBackend.get_metric_data

    def statistic_for_type(self: Any, stat: str) -> Any:
        if not is_extended(stat):
            return standard_statistic(self, stat)
        values = raw_values(self.metric_data)
        return None if values is None else parsed(stat, "Stat").of(values)

    def statistic_of(stat: str, data: list[Any], period_start: Any) -> Any:
        stats = Statistics([stat], period_start)
        stats.metric_data = data
        return stats.get_statistics_for_type(stat)

    def get_metric_data(
        self: Any,
        queries: list[dict[str, Any]],
        start_time: datetime,
        end_time: datetime,
        scan_by: str = "TimestampAscending",
    ) -> Any:
        for index, query in enumerate(queries, start=1):
            stat = query.get("MetricStat", {}).get("Stat", "")
            if is_extended(stat):
                parsed(stat, f"MetricDataQueries.member.{index}.MetricStat.Stat")
        start, end = start_time.replace(microsecond=0), end_time.replace(microsecond=0)
        if start < end and all("MetricStat" in query for query in queries):
            results = metric_stat_results(
                self.get_all_metrics(), queries, start, end, scan_by, statistic_of
            )
        else:  # metric math, Metrics Insights, or the time range moto refuses
            results = standard_metric_data(self, queries, start_time, end_time, scan_by)
        for result in results:
            kept = [
                (t, v)
                for t, v in zip(result["timestamps"], result["values"], strict=True)
                if v is not None
            ]
            result["timestamps"] = [t for t, _ in kept]
            result["values"] = [v for _, v in kept]
        return results

    def get_metric_statistics(self: Any) -> ActionResult:
        statistics = self._get_param("Statistics", [])
        extended = self._get_param("ExtendedStatistics", [])
        if bool(statistics) == bool(extended):
            # API reference: either Statistics or ExtendedStatistics, but not both.
            raise InvalidParameterCombination(
                "Must specify either Statistics or ExtendedStatistics, but not both"
            )
        wanted = [parsed(text, "ExtendedStatistics") for text in extended]
        metric_name = self._get_param("MetricName")
        datapoints = self.cloudwatch_backend.get_metric_statistics(
            self._get_param("Namespace"),
            metric_name,
            self._get_param("StartTime"),
            self._get_param("EndTime"),
            self._get_int_param("Period"),
            statistics,
            unit=self._get_param("Unit"),
            dimensions=self._get_param("Dimensions", []),
        )
        for point in datapoints:
            values = raw_values(point.metric_data)
            computed = {s.text: (None if values is None else s.of(values)) for s in wanted}
            if wanted:
                point.extended_statistics = {k: v for k, v in computed.items() if v is not None}
        return ActionResult({"Label": metric_name, "Datapoints": datapoints})

    with (
        mock.patch.object(Statistics, "get_statistics_for_type", statistic_for_type),
        mock.patch.object(CloudWatchBackend, "get_metric_data", get_metric_data),
        mock.patch.object(CloudWatchResponse, "get_metric_statistics", get_metric_statistics),
    ):
        yield


@contextlib.contextmanager
def alias_revisions() -> Iterator[None]:
    """moto 5.2.5 ignores UpdateAlias's RevisionId and never renews an alias's: two writers
    that read the same alias would both succeed. Lambda answers PreconditionFailed (412) to
    a RevisionId that is no longer the alias's, and every update gives it a new one; both
    under one lock here, as the check and the write are one step on AWS."""
    import json
    import threading
    import uuid

    from moto.awslambda.exceptions import PreconditionFailedException
    from moto.awslambda.models import LambdaAlias
    from moto.awslambda.responses import LambdaResponse

    lock = threading.Lock()
    original_response = LambdaResponse.update_alias
    original_update = LambdaAlias.update

    def update_alias(self: Any) -> Any:
        expected = (json.loads(self.body or "{}") or {}).get("RevisionId")
        with lock:
            if expected:
                function_name = unquote(self.path.rsplit("/")[-3])
                alias_name = unquote(self.path.rsplit("/", 2)[-1])
                alias = self.backend.get_alias(alias_name, function_name)
                if alias.revision_id != expected:
                    raise PreconditionFailedException(
                        "The Revision Id provided does not match the latest Revision Id. "
                        "Call the GetAlias API to retrieve the latest Revision Id"
                    )
            return original_response(self)

    def update(self: Any, *args: Any, **kwargs: Any) -> None:
        original_update(self, *args, **kwargs)
        self.revision_id = str(uuid.uuid4())

    with (
        mock.patch.object(LambdaResponse, "update_alias", update_alias),
        mock.patch.object(LambdaAlias, "update", update),
    ):
        yield
