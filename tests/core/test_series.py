import pytest

from core.series import SeriesSpec, SeriesSpecError, check_collection_name, check_filter, parse_filter_args


def test_model_name_rule() -> None:
    assert SeriesSpec("sensor_data").model_name == "sensor_data.value"
    spec = SeriesSpec("sensor_readings", filter={"additional_features.sensor_id": "temp office/1"})
    assert spec.model_name == "sensor_readings.value.sensor_id-temp_office_1"
    two = SeriesSpec("s", value_field="ph", filter={"b": 2, "a": "x"})
    assert two.model_name == "s.ph.a-x.b-2"
    assert (
        SeriesSpec("s", filter={"a": "x", "b": 2}).model_name == SeriesSpec("s", filter={"b": 2, "a": "x"}).model_name
    )


@pytest.mark.parametrize("name", ["a$b", "a.b", "a\x00b", "", "x" * 121, " lead", "$cmd", None, 5])
def test_collection_names_that_mongo_would_misread_are_refused(name: object) -> None:
    with pytest.raises(SeriesSpecError, match="collection_name must be"):
        check_collection_name(name)


@pytest.mark.parametrize(
    "filter_",
    [
        {"$where": "sleep(1000)"},
        {"value": {"$gt": 5}},
        {"a.$b": 1},
        {"a": [1, 2]},
        {"a": float("nan")},
        {"": 1},
    ],
)
def test_filters_carrying_operators_are_refused(filter_: dict) -> None:
    with pytest.raises(SeriesSpecError):
        check_filter(filter_)


def test_plain_filters_pass() -> None:
    assert check_filter({"additional_features.sensor_id": "s1", "n": 3, "ok": True, "gone": None}) == {
        "additional_features.sensor_id": "s1",
        "n": 3,
        "ok": True,
        "gone": None,
    }
    assert check_filter(None) == {}


def test_cli_filters_are_strings_unless_typed() -> None:
    assert parse_filter_args(["additional_features.sensor_id=001", "level:=3", "on:=true"]) == {
        "additional_features.sensor_id": "001",
        "level": 3,
        "on": True,
    }
    with pytest.raises(SeriesSpecError, match="key=value"):
        parse_filter_args(["nonsense"])
    with pytest.raises(SeriesSpecError, match="JSON"):
        parse_filter_args(["n:=oops"])
    with pytest.raises(SeriesSpecError, match="operators"):
        parse_filter_args(['v:={"$gt": 1}'])


def test_spec_round_trips_through_a_dict() -> None:
    spec = SeriesSpec("c", "temperatura", "fecha", {"site": "a"})
    assert SeriesSpec.from_dict(spec.to_dict()) == spec
    assert spec.describe() == "c.temperatura where site=a"
    with pytest.raises(SeriesSpecError, match="value_field"):
        SeriesSpec("c", value_field="$x")
