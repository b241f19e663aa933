from datetime import UTC, datetime, timedelta

import pytest

from modelship.errors import InvalidVersion
from modelship.registry.versions import check_model_name, check_version_id, new_version_id


def test_generated_ids_sort_by_creation_time() -> None:
    start = datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC)
    ids = [new_version_id(start + timedelta(seconds=s)) for s in (0, 1, 61, 86400 * 40)]

    assert ids == sorted(ids)
    assert ids[0].startswith("20260131T235959Z-")


def test_generated_ids_differ_within_the_same_second() -> None:
    moment = datetime(2026, 5, 1, tzinfo=UTC)

    assert len({new_version_id(moment) for _ in range(50)}) == 50


@pytest.mark.parametrize("version", ["v1", "2026.11.27", "release_3-b", "A" * 64])
def test_user_versions_are_accepted(version: str) -> None:
    assert check_version_id(version) == version


@pytest.mark.parametrize(
    "version",
    ["", "latest", "../v1", "v 1", "-v1", "a/b", "A" * 65, "v1\n", "latest\n", "\nv1"],
)
def test_unsafe_versions_are_refused(version: str) -> None:
    with pytest.raises(InvalidVersion):
        check_version_id(version)


@pytest.mark.parametrize("name", ["churn\n", "churn\r\n", "", "a/b"])
def test_unsafe_model_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidVersion):
        check_model_name(name)
