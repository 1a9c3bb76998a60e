"""How the CSV files beside this script were made (provenance, not part of the test suite).

Needs statsmodels and the vega_datasets and bokeh_sampledata wheels, none of which mlts depends
on: `pip download --no-deps vega_datasets bokeh_sampledata`, unzip them, and point VEGA_DATA and
BOKEH_DATA at their _data/ folders.
Run from the repository root: `python tests/data/series/extract.py`.
"""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm

HERE = Path(__file__).parent
VEGA_DATA = Path(os.environ.get("VEGA_DATA", "/tmp/dl/vega/vega_datasets/_data"))
BOKEH_DATA = Path(os.environ.get("BOKEH_DATA", "/tmp/dl/bokeh/x/bokeh_sampledata/_data"))
HALF_HOURLY_POINTS = 2016  # six weeks, ending before the record's last gap
HOURLY_POINTS = 1008  # the record's last six weeks: AutoARIMA with a 24-hour season takes minutes on more
WEEKLY_POINTS = 520  # the last ten years: AutoARIMA with a 52-week season takes minutes on more


def write(name: str, timestamps: pd.DatetimeIndex, values: np.ndarray) -> None:
    frame = pd.DataFrame({"timestamp": timestamps.strftime("%Y-%m-%dT%H:%M:%SZ"), "value": np.round(values, 6)})
    assert frame["value"].notna().all(), name
    frame.to_csv(HERE / f"{name}.csv", index=False)


def main() -> None:
    sst = pd.read_csv(BOKEH_DATA / "sea_surface_temperature.csv.gz", parse_dates=[0])
    sst = sst.iloc[: int(np.flatnonzero(sst.iloc[:, 0].diff() != pd.Timedelta("30min"))[-1])].tail(HALF_HOURLY_POINTS)
    assert (sst.iloc[:, 0].diff().dropna() == pd.Timedelta("30min")).all()
    write("half_hourly_gulf_of_maine_sst", pd.DatetimeIndex(sst.iloc[:, 0]).tz_convert(None), sst.iloc[:, 1].to_numpy())

    hourly = pd.read_csv(VEGA_DATA / "seattle-temps.csv", parse_dates=["date"]).tail(HOURLY_POINTS)
    assert (hourly["date"].diff().dropna() == pd.Timedelta("1h")).all()
    write("hourly_seattle_temperature", pd.DatetimeIndex(hourly["date"]), hourly["temp"].to_numpy())

    daily = pd.read_csv(VEGA_DATA / "seattle-weather.csv", parse_dates=["date"])
    write("daily_seattle_max_temperature", pd.DatetimeIndex(daily["date"]), daily["temp_max"].to_numpy())

    co2 = sm.datasets.co2.load_pandas().data["co2"].interpolate(method="linear").tail(WEEKLY_POINTS)
    write("weekly_mauna_loa_co2", pd.DatetimeIndex(co2.index), co2.to_numpy())

    elnino = sm.datasets.elnino.load_pandas().data
    sst = elnino.drop(columns="YEAR").to_numpy().ravel()
    write("monthly_nino12_sst", pd.date_range(f"{int(elnino['YEAR'].iloc[0])}-01-01", periods=len(sst), freq="MS"), sst)

    employment = pd.read_csv(VEGA_DATA / "us-employment.csv", parse_dates=["month"])
    write("monthly_us_nonfarm_employment", pd.DatetimeIndex(employment["month"]), employment["nonfarm"].to_numpy(float))

    unemployment = pd.read_csv(BOKEH_DATA / "unemployment1948.csv").drop(columns="Annual")
    rate = unemployment.drop(columns="Year").to_numpy(float).ravel()
    months = pd.date_range(f"{int(unemployment['Year'].iloc[0])}-01-01", periods=len(rate), freq="MS")
    write("monthly_us_unemployment_rate", months, rate)

    macro = sm.datasets.macrodata.load_pandas().data
    quarters = pd.date_range(f"{int(macro['year'].iloc[0])}-01-01", periods=len(macro), freq="QS")
    write("quarterly_us_real_gdp", quarters, macro["realgdp"].to_numpy())

    nile = sm.datasets.nile.load_pandas().data
    write(
        "yearly_nile_flow",
        pd.DatetimeIndex(pd.to_datetime(nile["year"].astype(int).astype(str), format="%Y")),
        nile["volume"].to_numpy(),
    )

    sunspots = sm.datasets.sunspots.load_pandas().data
    write(
        "yearly_sunspots",
        pd.DatetimeIndex(pd.to_datetime(sunspots["YEAR"].astype(int).astype(str), format="%Y")),
        sunspots["SUNACTIVITY"].to_numpy(),
    )

    fertility = sm.datasets.fertility.load_pandas().data
    usa = fertility.loc[fertility["Country Code"] == "USA"].iloc[0, 4:].astype(float).dropna()
    write("yearly_us_fertility", pd.DatetimeIndex(pd.to_datetime(usa.index, format="%Y")), usa.to_numpy())


if __name__ == "__main__":
    main()
