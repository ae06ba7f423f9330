"""Registers of persons: household registration, medical insurance enrolment and the
chronic-disease (门诊慢特病) registrations."""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt
import polars as pl

from shuyu.data.generate import names
from shuyu.data.generate.population.codes import CHRONIC
from shuyu.data.generate.population.institutions import institutions, pick_institution
from shuyu.data.generate.sampling import Bools, day, expand, pick, sigmoid, stream
from shuyu.data.generate.world import World


def residents(world: World) -> pl.DataFrame:
    p = world.persons
    rng = stream(world.seed, "table.resident_population")
    n = p.n
    working = pick(
        rng,
        [
            "专业技术人员",
            "办事人员和有关人员",
            "社会生产服务和生活服务人员",
            "农林牧渔业生产及辅助人员",
            "生产制造及有关人员",
            "党的机关、国家机关、群众团体和社会组织、企事业单位负责人",
            "不便分类的其他从业人员",
        ],
        n,
        [0.15, 0.12, 0.25, 0.2, 0.18, 0.03, 0.07],
    )
    occupation = np.where(p.age < 22, "学生", np.where(p.age >= 62, "离退休人员", working))
    occupation = np.where((p.age >= 22) & (p.age < 62) & (rng.random(n) < 0.06), "无业", occupation)
    married = rng.random(n) < sigmoid((p.age - 27.0) / 2.5)
    marital = np.where(married, "已婚", "未婚")
    marital = np.where(married & (rng.random(n) < 0.06), "离婚", marital)
    marital = np.where(married & (rng.random(n) < sigmoid((p.age - 85.0) / 6.0)), "丧偶", marital)
    minority = np.where(
        p.ordos, pick(rng, ["蒙古族", "回族", "满族"], n, [0.85, 0.1, 0.05]), "回族"
    )
    ethnicity = np.where(rng.random(n) < np.where(p.ordos, 0.12, 0.01), minority, "汉族")
    alive = rng.random(n) >= sigmoid(-8.0 + 0.08 * (p.age - 40.0) + 0.5 * p.frailty)
    return pl.DataFrame(
        {
            "id_number": p.id_number,
            "name": p.name,
            "gender": np.where(p.male, "男", "女"),
            "birth_date": p.birth,
            "occupation": occupation,
            "marital_status": marital,
            "ethnicity": ethnicity,
            "alive": alive,
            "region_code": p.county,
            "address": p.address,
        }
    )


def enrolment(world: World, enrolled: Bools) -> pl.DataFrame:
    p = world.persons
    ent = world.enterprises
    rng = stream(world.seed, "table.medical_insurance_enrolment")
    idx = np.flatnonzero(enrolled)
    r = idx.size
    age = p.age[idx]
    employed = p.employer[idx] >= 0
    retired_worker = (age >= 60) & (rng.random(r) < 0.35)
    flexible = ~employed & (age >= 22) & (age < 60) & (rng.random(r) < 0.12)
    worker = employed | retired_worker | flexible
    category = np.where(
        employed,
        "在职职工",
        np.where(
            retired_worker,
            "退休人员",
            np.where(flexible, "灵活就业人员", np.where(age < 22, "学生", "城乡居民")),
        ),
    )
    status = np.where(
        rng.random(r) < 0.05, pick(rng, ["暂停缴费", "终止参保"], r, [0.8, 0.2]), "参保缴费"
    )
    employer = pl.Series(ent.name[np.maximum(p.employer[idx], 0)]).set(pl.Series(~employed), None)
    start = np.maximum(p.birth[idx], day(dt.date(1998, 1, 1)))
    span = (day(world.as_of) - start).astype(np.int64)
    first = start + (span * rng.random(r) ** 2).astype(np.int64).astype("timedelta64[D]")
    return pl.DataFrame(
        {
            "id_number": p.take("id_number", idx),
            "employer_name": employer,
            "insurance_type": np.where(worker, "职工基本医疗保险", "城乡居民基本医疗保险"),
            "enrolment_status": status,
            "person_category": category,
            "first_enrolled_on": first,
        }
    )


def chronic_registration(world: World, registered: npt.NDArray[np.bool_]) -> pl.DataFrame:
    p = world.persons
    inst = institutions()
    rng = stream(world.seed, "table.chronic_disease_registration")
    owner, _ = expand(registered.sum(axis=1))
    disease = np.broadcast_to(np.arange(len(CHRONIC)), registered.shape)[registered]
    m = owner.size
    started = day(world.as_of) - rng.integers(30, 10 * 365, m).astype("timedelta64[D]")
    started = np.maximum(started, p.birth[owner] + np.timedelta64(18 * 365, "D"))
    hospital = pick_institution(rng, inst, p.county[owner], pharmacy=False, tertiary=0.7)
    return pl.DataFrame(
        {
            "id_number": p.take("id_number", owner),
            "name": p.take("name", owner),
            "phone": p.take("mobile", owner),
            "disease_type": np.asarray([c[0] for c in CHRONIC])[disease],
            "started_on": started,
            "institution_code": inst.code[hospital],
            "doctor_name": np.asarray(list(names.person_names(rng, m)), dtype=np.str_),
        }
    )
