"""The synthetic world: entities with latent state, created before any table.

Every table is derived from these entities, so keys agree across tables (an
enterprise's credit code is the same in its tax, court and loan rows) and outcomes
(defaults, claims, audit findings) follow from the same latent risk that shapes the
records a model sees. Half of every population lives in 宿州 (3413xx, 皖L), half in
鄂尔多斯 (1506xx, 蒙K).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl

from shuyu.data import regions
from shuyu.data.generate import identifiers, names
from shuyu.data.generate.sampling import (
    Bools,
    Days,
    Floats,
    Ints,
    day,
    lookup,
    pick,
    pick_rows,
    round_to,
    stream,
)
from shuyu.errors import InputError

Strings = npt.NDArray[np.str_]

PLATE_PREFIX = {False: "皖L", True: "蒙K"}
_BORN_FROM = dt.date(1940, 1, 1)
_BORN_TO = dt.date(2008, 12, 31)

# 国民经济行业门类 (GB/T 4754) with the share of enterprises in each, and how much
# each shifts latent default risk and innovation.
INDUSTRIES: dict[str, tuple[float, float, float]] = {
    "A": (0.06, 0.2, -0.5),  # 农、林、牧、渔业
    "B": (0.05, 0.1, -0.3),  # 采矿业
    "C": (0.20, 0.0, 0.4),  # 制造业
    "D": (0.02, -0.4, 0.0),  # 电力、热力、燃气及水生产和供应业
    "E": (0.12, 0.3, -0.2),  # 建筑业
    "F": (0.22, 0.1, -0.4),  # 批发和零售业
    "G": (0.08, 0.2, -0.4),  # 交通运输、仓储和邮政业
    "H": (0.07, 0.4, -0.6),  # 住宿和餐饮业
    "I": (0.06, -0.1, 1.2),  # 信息传输、软件和信息技术服务业
    "L": (0.07, 0.1, -0.2),  # 租赁和商务服务业
    "M": (0.05, -0.2, 1.0),  # 科学研究和技术服务业
}


@dataclass(frozen=True)
class _Entities:
    """Per-entity arrays; `take` repeats a string attribute for event rows as a polars
    column without converting numpy strings row by row (the slow part otherwise)."""

    _series: dict[str, pl.Series] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def take(self, attribute: str, rows: Ints | None = None) -> pl.Series:
        series = self._series.get(attribute)
        if series is None:
            series = pl.Series(attribute, getattr(self, attribute))
            self._series[attribute] = series
        return series if rows is None else series.gather(rows)


@dataclass(frozen=True)
class Enterprises(_Entities):
    uscc: Strings
    name: Strings
    legal_rep: Strings
    address: Strings
    county: Strings
    ordos: Bools
    established: Days
    industry: Strings
    employees: Ints
    revenue: Floats  # annual operating revenue, 万元
    risk: Floats  # latent: higher means more likely to default
    tech: Floats  # latent: innovation

    @property
    def n(self) -> int:
        return int(self.uscc.size)


@dataclass(frozen=True)
class Persons(_Entities):
    id_number: Strings
    name: Strings
    mobile: Strings
    address: Strings
    county: Strings
    ordos: Bools
    birth: Days
    male: Bools
    age: Floats  # at the reference date
    frailty: Floats  # latent: higher means sicker
    employer: Ints  # enterprise index, -1 for none

    @property
    def n(self) -> int:
        return int(self.id_number.size)


@dataclass(frozen=True)
class Vehicles(_Entities):
    vin: Strings
    plate: Strings
    owner: Ints  # enterprise index
    ordos: Bools
    risk: Floats  # latent: driving risk

    @property
    def n(self) -> int:
        return int(self.vin.size)


@dataclass(frozen=True)
class Mines(_Entities):
    name: Strings
    owner: Ints  # enterprise index of the operating company
    county: Strings
    ordos: Bools

    @property
    def n(self) -> int:
        return int(self.name.size)


@dataclass(frozen=True)
class World:
    seed: int
    scale: int
    as_of: dt.date  # the day the data is extracted; every record is on or before it
    enterprises: Enterprises
    persons: Persons
    vehicles: Vehicles
    mines: Mines


def county_codes(ordos: bool) -> list[str]:
    return [c.code for c in _counties(ordos)]


def county_name(codes: Strings) -> Strings:
    """The full name of each county code (省 + 市 + 县/区/旗)."""
    return lookup({c.code: c.province + c.city + c.name for c in regions.COUNTIES}, codes)


def _counties(ordos: bool) -> tuple[regions.County, ...]:
    return regions.counties("ordos" if ordos else "suzhou")


def _addresses(rng: np.random.Generator, county: Strings) -> Strings:
    """A street or village address in each row's own county."""
    out = np.empty(county.size, dtype=object)
    for code in np.unique(county):
        rows = np.flatnonzero(county == code)
        out[rows] = names.addresses(rng, rows.size, [regions.county(str(code))])
    return out.astype(np.str_)


def _enterprise_names(rng: np.random.Generator, county: Strings) -> Strings:
    """A name placed in each enterprise's own county (or its city or province), distinct
    over the whole register: a name drawn twice in different counties is drawn again."""
    out = np.empty(county.size, dtype=object)
    todo = np.arange(county.size)
    for _ in range(100):
        for code in np.unique(county[todo]):
            rows = todo[county[todo] == code]
            out[rows] = names.enterprise_names(rng, rows.size, [regions.county(str(code))])
        taken = pl.Series(out.astype(np.str_)).is_first_distinct().to_numpy()
        todo = np.flatnonzero(~taken)
        if todo.size == 0:
            return out.astype(np.str_)
    raise InputError(
        "scale", "too many enterprises to give each a distinct name", value=county.size
    )


def _halves(n: int) -> Bools:
    """First half 宿州, second half 鄂尔多斯: the split is exact and needs no draw."""
    return np.arange(n) >= n // 2


def build_world(seed: int, scale: int, as_of: dt.date) -> World:
    enterprises = _enterprises(seed, scale, as_of)
    persons = _persons(seed, scale, as_of, enterprises)
    vehicles = _vehicles(seed, max(scale // 4, 12), enterprises)
    mines = _mines(seed, min(300, max(60, scale // 500)), enterprises)
    return World(seed, scale, as_of, enterprises, persons, vehicles, mines)


def _enterprises(seed: int, n: int, as_of: dt.date) -> Enterprises:
    rng = stream(seed, "world.enterprises")
    ordos = _halves(n)
    uscc = np.empty(n, dtype=object)
    for flag in (False, True):
        rows = np.flatnonzero(ordos == flag)
        uscc[rows] = identifiers.make_usccs(rng, rows.size, county_codes(flag))
    uscc_s = uscc.astype(np.str_)
    # the registration authority's region is inside the code (characters 3-8)
    county = np.asarray(pl.Series(uscc_s).str.slice(2, 6).to_numpy(), dtype=np.str_)
    address = _addresses(rng, county)
    name = _enterprise_names(rng, county)

    keys = list(INDUSTRIES)
    share = [INDUSTRIES[k][0] for k in keys]
    industry = pick(rng, keys, n, share)
    risk_shift = lookup({k: v[1] for k, v in INDUSTRIES.items()}, industry)
    tech_shift = lookup({k: v[2] for k, v in INDUSTRIES.items()}, industry)

    # at least two years old: every firm has the full tax, contribution and loan history
    age_years = np.clip(2.0 + rng.gamma(2.0, 3.5, size=n), 2.0, 40.0)
    established = day(as_of) - (age_years * 365.25).astype("timedelta64[D]")
    employees = np.maximum(1, np.round(np.exp(rng.normal(2.3, 1.1, size=n)))).astype(np.int64)
    employees = np.minimum(employees, 5000)
    size = np.log(employees)
    revenue = round_to(np.exp(rng.normal(4.0 + 0.9 * (size - 2.3), 0.7, size=n)))
    # young, small firms in risky trades default more; the rest is idiosyncratic
    risk = (
        rng.normal(0.0, 1.0, size=n)
        + risk_shift
        - 0.15 * (size - 2.3)
        - 0.25 * np.log1p(age_years)
        + 0.45
    )
    tech = rng.normal(0.0, 1.0, size=n) + tech_shift + 0.1 * (size - 2.3)
    legal_rep = np.asarray(names.person_names(rng, n), dtype=np.str_)
    return Enterprises(
        uscc=uscc_s,
        name=name.astype(np.str_),
        legal_rep=legal_rep,
        address=address,
        county=county,
        ordos=ordos,
        established=established,
        industry=industry,
        employees=employees,
        revenue=revenue,
        risk=risk,
        tech=tech,
    )


def _persons(seed: int, n: int, as_of: dt.date, ent: Enterprises) -> Persons:
    rng = stream(seed, "world.persons")
    ordos = _halves(n)
    ids = np.empty(n, dtype=object)
    sexes = pick(rng, ["M", "F"], n)
    person_name = np.empty(n, dtype=object)
    for flag in (False, True):
        rows = np.flatnonzero(ordos == flag)
        ids[rows] = identifiers.make_resident_ids(
            rng, rows.size, county_codes(flag), _BORN_FROM, _BORN_TO, list(sexes[rows])
        )
        person_name[rows] = names.person_names(
            rng, rows.size, list(sexes[rows]), mongolian_share=0.08 if flag else 0.0
        )
    id_s = ids.astype(np.str_)
    parsed = pl.DataFrame({"id": id_s}).select(
        pl.col("id").str.slice(0, 6).alias("county"),
        pl.col("id").str.slice(6, 8).str.to_date("%Y%m%d").alias("birth"),
        (pl.col("id").str.slice(16, 1).cast(pl.Int64) % 2 == 1).alias("male"),
    )
    person_county = np.asarray(parsed["county"].to_numpy(), dtype=np.str_)
    birth = parsed["birth"].to_numpy().astype("datetime64[D]")
    age = (day(as_of) - birth).astype(np.int64) / 365.25
    frailty = rng.normal(0.0, 1.0, size=n) + 0.035 * (age - 45.0)
    # working-age people mostly work for an enterprise of their own city
    working = (age >= 18) & (age < 62) & (rng.random(n) < 0.55)
    employer = np.full(n, -1, dtype=np.int64)
    for flag in (False, True):
        rows = np.flatnonzero(working & (ordos == flag))
        pool = np.flatnonzero(ent.ordos == flag)
        employer[rows] = pool[pick_rows(rng, ent.employees[pool].astype(np.float64), rows.size)]
    return Persons(
        id_number=id_s,
        name=person_name.astype(np.str_),
        mobile=np.asarray(identifiers.make_mobiles(rng, n), dtype=np.str_),
        address=_addresses(rng, person_county),
        county=person_county,
        ordos=ordos,
        birth=birth,
        male=parsed["male"].to_numpy().astype(np.bool_),
        age=age,
        frailty=frailty,
        employer=employer,
    )


def _vehicles(seed: int, n: int, ent: Enterprises) -> Vehicles:
    rng = stream(seed, "world.vehicles")
    ordos = _halves(n)
    owner = np.empty(n, dtype=np.int64)
    plate = np.empty(n, dtype=object)
    # freight vehicles belong to freight, mining and construction firms, bigger ones more
    trade = np.isin(ent.industry, ["G", "B", "E"]) * 8.0 + 1.0
    weight = np.asarray(trade * np.sqrt(ent.employees), dtype=np.float64)
    for flag in (False, True):
        rows = np.flatnonzero(ordos == flag)
        pool = np.flatnonzero(ent.ordos == flag)
        owner[rows] = pool[pick_rows(rng, weight[pool], rows.size)]
        plate[rows] = identifiers.make_plates(rng, rows.size, PLATE_PREFIX[flag])
    vin = np.asarray(identifiers.make_vins(rng, n), dtype=np.str_)
    # a careless operator's trucks share some of its risk
    risk = rng.normal(0.0, 1.0, size=n) + 0.3 * ent.risk[owner]
    return Vehicles(vin=vin, plate=plate.astype(np.str_), owner=owner, ordos=ordos, risk=risk)


def _mines(seed: int, n: int, ent: Enterprises) -> Mines:
    rng = stream(seed, "world.mines")
    ordos = _halves(n)
    county = np.empty(n, dtype=object)
    owner = np.empty(n, dtype=np.int64)
    for flag in (False, True):
        rows = np.flatnonzero(ordos == flag)
        county[rows] = pick(rng, county_codes(flag), rows.size)
        pool = np.flatnonzero((ent.ordos == flag) & (ent.industry == "B"))
        if pool.size == 0:
            pool = np.flatnonzero(ent.ordos == flag)
        owner[rows] = pool[rng.integers(0, pool.size, size=rows.size)]
    county = county.astype(np.str_)
    # names start with their county's name, so names drawn county by county never collide
    name = np.empty(n, dtype=object)
    for code in np.unique(county):
        rows = np.flatnonzero(county == code)
        name[rows] = names.mine_names(rng, rows.size, [regions.county(str(code))])
    return Mines(
        name=name.astype(np.str_),
        owner=owner,
        county=county,
        ordos=ordos,
    )
