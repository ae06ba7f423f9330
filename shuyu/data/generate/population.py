"""Person tables: household registration, medical insurance enrolment, chronic-disease
registrations, insurance settlements and visits, hospital outpatient records, the
insurer's claims and the fund's audit findings.

Claims follow age, chronic disease and latent frailty; audit findings follow a small
group of anomalous claimants (many pharmacy purchases at many institutions, inflated
bills), so both labels can be learnt from the authorised fields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from shuyu.data import names, regions
from shuyu.data.generate.sampling import (
    Bools,
    Ints,
    day,
    expand,
    labels,
    numbered,
    pick,
    round_to,
    sigmoid,
    stream,
    uniform_days,
    uniform_times,
)
from shuyu.data.generate.world import Strings, World

Table = tuple[str, pl.DataFrame]

# 门诊慢特病 with their ICD-10 codes, and how common each is at 50 (logit)
CHRONIC: list[tuple[str, str, float]] = [
    ("高血压", "I10.x00", -1.6),
    ("糖尿病", "E11.900", -2.3),
    ("冠心病", "I25.103", -3.0),
    ("慢性阻塞性肺疾病", "J44.900", -3.6),
    ("脑卒中后遗症", "I69.300", -4.0),
    ("慢性肾功能衰竭（透析）", "N18.500", -5.2),
    ("恶性肿瘤（门诊放化疗）", "C34.900", -4.8),
    ("类风湿关节炎", "M06.900", -4.4),
    ("慢性心力衰竭", "I50.900", -4.4),
    ("帕金森病", "G20.x00", -5.0),
]
ACUTE: list[tuple[str, str]] = [
    ("急性上呼吸道感染", "J06.900"),
    ("急性支气管炎", "J20.900"),
    ("肺炎", "J18.900"),
    ("急性胃肠炎", "K52.900"),
    ("腰椎间盘突出", "M51.202"),
    ("股骨颈骨折", "S72.000"),
    ("急性阑尾炎", "K35.800"),
    ("胆囊结石", "K80.200"),
    ("老年性白内障", "H25.900"),
    ("皮炎", "L30.900"),
]
_DEPARTMENT = {
    "I": "心血管内科",
    "E": "内分泌科",
    "J": "呼吸内科",
    "C": "肿瘤科",
    "N": "肾内科",
    "M": "骨科",
    "G": "神经内科",
    "K": "消化内科",
    "S": "骨科",
    "H": "眼科",
    "L": "皮肤科",
}
CATEGORIES = ["普通门诊", "门诊慢特病", "住院", "定点药店购药"]
DIAGNOSES = [c[1] for c in CHRONIC] + [a[1] for a in ACUTE]
DEPARTMENTS = [_DEPARTMENT[code[0]] for code in DIAGNOSES]


@dataclass(frozen=True)
class _Institutions:
    code: Strings
    name: Strings
    level: Strings
    county: Strings
    pharmacy: Bools


def _institutions() -> _Institutions:
    """Hospitals and pharmacies of each county, with 国家医保 style codes
    (H/P + county code + a 4-digit serial: ten digits, so no code reads as an 11-digit
    mobile number to the PII scans); the city's big hospitals sit in its seat."""
    code: list[str] = []
    name: list[str] = []
    level: list[str] = []
    county: list[str] = []
    pharmacy: list[bool] = []
    for c in regions.COUNTIES:
        seat = c.code in {"341302", "150602"}
        hospitals = [(f"{c.name}人民医院", "二级甲等"), (f"{c.name}中医医院", "二级甲等")]
        hospitals += [(f"{c.name}第二人民医院", "二级乙等")]
        hospitals += [(f"{c.name}{t}镇卫生院", "一级") for t in ("城关", "新集", "柳林")]
        if seat:
            short = c.city.removesuffix("市")
            hospitals += [
                (f"{c.city}立医院" if short == "宿州" else f"{c.city}中心医院", "三级甲等"),
                (f"{c.city}第一人民医院", "三级乙等"),
                (f"{c.city}中医院", "三级乙等"),
            ]
        for i, (n, lv) in enumerate(hospitals, start=1):
            code.append(f"H{c.code}{i:04d}")
            name.append(n)
            level.append(lv)
            county.append(c.code)
            pharmacy.append(False)
        for i in range(1, 9):
            code.append(f"P{c.code}{i:04d}")
            name.append(f"{c.name}{('国大', '益丰', '百姓', '老百姓')[i % 4]}大药房第{i}分店")
            level.append("无")
            county.append(c.code)
            pharmacy.append(True)
    return _Institutions(
        np.asarray(code),
        np.asarray(name),
        np.asarray(level),
        np.asarray(county),
        np.asarray(pharmacy),
    )


def tables(world: World) -> Iterator[Table]:
    p = world.persons
    rng = stream(world.seed, "persons.health")
    n = p.n
    logits = np.asarray([c[2] for c in CHRONIC])
    chronic = rng.random((n, len(CHRONIC))) < sigmoid(
        logits[None, :] + 0.06 * (p.age[:, None] - 50.0) + 0.8 * p.frailty[:, None]
    )
    chronic &= (p.age >= 18)[:, None]
    n_chronic = chronic.sum(axis=1)
    # anomalous claimants: what the fund's auditors look for
    anomalous = rng.random(n) < 0.07
    enrolled = rng.random(n) < 0.95
    registered = chronic & (rng.random(chronic.shape) < 0.7) & enrolled[:, None]
    # a person's usual chronic conditions, for the diagnoses on their records
    order = np.where(chronic, rng.random(chronic.shape), -1.0)
    primary = np.argmax(order, axis=1)
    order[np.arange(n), primary] = np.where(n_chronic > 1, -0.5, order[np.arange(n), primary])
    secondary = np.where(n_chronic > 1, np.argmax(order, axis=1), primary)

    yield "resident_population", _residents(world)
    yield "medical_insurance_enrolment", _enrolment(world, enrolled)
    yield "chronic_disease_registration", _chronic(world, registered)
    settlements, visits = _settlements(
        world,
        enrolled=enrolled,
        registered=registered,
        n_chronic=n_chronic,
        anomalous=anomalous,
        primary=primary,
        secondary=secondary,
    )
    yield "medical_settlement", settlements
    del settlements
    yield "medical_visit", visits
    del visits
    yield "outpatient_visit", _outpatient(world, n_chronic, primary)
    yield "health_claim", _health_claims(world, n_chronic)
    yield "medical_audit_finding", _audit(world, enrolled, anomalous)


def _residents(world: World) -> pl.DataFrame:
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


def _enrolment(world: World, enrolled: Bools) -> pl.DataFrame:
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


def _chronic(world: World, registered: npt.NDArray[np.bool_]) -> pl.DataFrame:
    p = world.persons
    inst = _institutions()
    rng = stream(world.seed, "table.chronic_disease_registration")
    owner, _ = expand(registered.sum(axis=1))
    disease = np.broadcast_to(np.arange(len(CHRONIC)), registered.shape)[registered]
    m = owner.size
    started = day(world.as_of) - rng.integers(30, 10 * 365, m).astype("timedelta64[D]")
    started = np.maximum(started, p.birth[owner] + np.timedelta64(18 * 365, "D"))
    hospital = _pick_institution(rng, inst, p.county[owner], pharmacy=False, tertiary=0.7)
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


def _pick_institution(
    rng: np.random.Generator,
    inst: _Institutions,
    county: Strings,
    *,
    pharmacy: bool | Bools,
    tertiary: float = 0.3,
) -> Ints:
    """An institution for each row: a pharmacy or a hospital; hospitals in the county,
    or with probability `tertiary` a big hospital of the city seat."""
    m = county.size
    want_pharmacy = np.broadcast_to(np.asarray(pharmacy), (m,))
    city = county.astype("<U4")
    go_seat = ~want_pharmacy & (rng.random(m) < tertiary)
    target_county = np.where(go_seat, np.where(city == "1506", "150602", "341302"), county)
    out = np.empty(m, dtype=np.int64)
    for c in np.unique(target_county):
        for ph in (False, True):
            rows = np.flatnonzero((target_county == c) & (want_pharmacy == ph))
            if rows.size == 0:
                continue
            pool = np.flatnonzero((inst.county == c) & (inst.pharmacy == ph))
            if not ph and c in {"150602", "341302"}:
                levels = inst.level[pool]
                w = np.where(np.char.startswith(levels, "三级"), 4.0, 1.0)
            else:
                w = np.ones(pool.size)
            out[rows] = pool[rng.choice(pool.size, size=rows.size, p=w / w.sum())]
    return out


def _settlements(
    world: World,
    *,
    enrolled: Bools,
    registered: npt.NDArray[np.bool_],
    n_chronic: Ints,
    anomalous: Bools,
    primary: Ints,
    secondary: Ints,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    p = world.persons
    inst = _institutions()
    rng = stream(world.seed, "table.medical_settlement")
    n = p.n
    n_registered = registered.sum(axis=1)
    age_term = (p.age - 50.0) / 10.0
    counts = np.column_stack(
        [
            rng.poisson(np.exp(0.4 + 0.35 * p.frailty + 0.1 * age_term + 0.2 * n_chronic)),
            rng.poisson(3.5 * n_registered),
            rng.poisson(
                np.exp(
                    -2.6 + 0.55 * p.frailty + 0.3 * age_term + 0.35 * n_chronic + 1.2 * anomalous
                )
            ),
            rng.poisson(np.exp(0.6 + 0.3 * n_chronic + 1.6 * anomalous)),
        ]
    )
    counts = np.minimum(counts, 60) * enrolled[:, None]
    owner, _ = expand(counts.sum(axis=1))
    # rows are laid out person by person, and within a person category by category
    category_idx = np.repeat(np.tile(np.arange(4), n), counts.reshape(-1))
    m = owner.size
    is_pharmacy = category_idx == 3
    inpatient = category_idx == 2
    cheat = anomalous[owner]

    # regular patients keep to a home hospital and pharmacy; anomalous ones shop around
    home_h = _pick_institution(rng, inst, p.county, pharmacy=False)
    home_p = _pick_institution(rng, inst, p.county, pharmacy=True)
    wander = rng.random(m) < np.where(cheat, 0.9, np.where(inpatient, 0.6, 0.25))
    other = _pick_institution(rng, inst, p.county[owner], pharmacy=is_pharmacy)
    institution = np.where(wander, other, np.where(is_pharmacy, home_p[owner], home_h[owner]))

    median = np.asarray([180.0, 650.0, 9000.0, 120.0])[category_idx]
    total = median * np.exp(rng.normal(0.0, 0.6, m) + 0.1 * p.frailty[owner])
    total = round_to(total * np.where(cheat, 1.8, 1.0))
    self_pay = round_to(total * np.where(cheat, rng.beta(2.0, 6.0, m), rng.beta(1.0, 14.0, m)))
    worker = rng.random(n) < 0.4
    ratio = np.select(
        [inpatient, category_idx == 1, is_pharmacy],
        [np.where(worker[owner], 0.82, 0.65), 0.7, np.where(worker[owner], 0.9, 0.0)],
        0.5,
    )
    fund = round_to((total - self_pay) * ratio)
    personal = round_to(total - fund)

    # diagnoses index DIAGNOSES: a person's own chronic conditions (always, for 门诊慢特病)
    # or an acute illness
    has_chronic = n_chronic[owner] > 0
    chronic_row = has_chronic & (
        (category_idx == 1) | (rng.random(m) < np.where(is_pharmacy, 0.8, 0.45))
    )
    which = np.where(rng.random(m) < 0.6, primary[owner], secondary[owner])
    diagnosis = np.where(chronic_row, which, len(CHRONIC) + rng.integers(0, len(ACUTE), m))
    settled_day = uniform_days(rng, world.as_of - dt.timedelta(days=364), world.as_of, m)
    settled_at = uniform_times(rng, settled_day, 7, 21)
    days = np.where(
        inpatient,
        np.maximum(1, np.round(np.exp(rng.normal(1.9, 0.5, m)) * np.where(cheat, 1.5, 1.0))),
        0,
    ).astype(np.int64)
    codes = labels(DIAGNOSES, diagnosis)
    settlements = pl.DataFrame(
        {
            "settlement_id": numbered("JS", np.arange(1, m + 1), 14),
            "id_number": p.take("id_number", owner),
            "name": p.take("name", owner),
            "gender": labels(["女", "男"], p.male[owner].astype(np.int64)),
            "birth_date": p.birth[owner],
            "institution_code": labels(inst.code, institution),
            "hospital_level": labels(inst.level, institution),
            "medical_category": labels(CATEGORIES, category_idx),
            "settled_at": settled_at,
            "total_cost": total,
            "self_pay_full": self_pay,
            "fund_paid": fund,
            "personal_paid": personal,
            "disease_code": codes,
            "invoice_no": numbered(
                "", np.arange(m, dtype=np.int64) * 7 + 10_000_000_000 + int(rng.integers(0, 7)), 12
            ),
        }
    )
    # every settlement except a pharmacy purchase closes a visit
    v = np.flatnonzero(~is_pharmacy)
    k = v.size
    start = settled_at[v] - (days[v] * 86_400_000_000).astype("timedelta64[us]")
    start = start - (rng.integers(600, 4 * 3600, k) * 1_000_000).astype("timedelta64[us]")
    died = rng.random(k) < sigmoid(
        -7.0 + 0.6 * p.frailty[owner[v]] + 0.05 * (p.age[owner[v]] - 60.0)
    )
    discharge = np.where(died, 3, rng.choice(3, size=k, p=[0.92, 0.04, 0.04]))
    discharge = np.where(inpatient[v], discharge, 4)  # only a stay has a discharge
    visits = pl.DataFrame(
        {
            "visit_id": numbered("JZ", np.arange(1, k + 1), 14),
            "id_number": p.take("id_number", owner[v]),
            "name": p.take("name", owner[v]),
            "phone": p.take("mobile", owner[v]),
            "address": p.take("address", owner[v]),
            "medical_category": labels(CATEGORIES, category_idx[v]),
            "started_at": start,
            "main_diagnosis": codes.gather(v),
            "department": labels(DEPARTMENTS, diagnosis[v]),
            "inpatient_days": days[v],
            "discharge_method": labels(
                ["医嘱离院", "医嘱转院", "非医嘱离院", "死亡", None], discharge
            ),
        }
    )
    return settlements, visits


def _outpatient(world: World, n_chronic: Ints, primary: Ints) -> pl.DataFrame:
    p = world.persons
    inst = _institutions()
    rng = stream(world.seed, "table.outpatient_visit")
    counts = np.minimum(rng.poisson(np.exp(0.5 + 0.35 * p.frailty + 0.3 * n_chronic)), 60)
    owner, _ = expand(counts)
    m = owner.size
    hospital = _pick_institution(rng, inst, p.county[owner], pharmacy=False)
    chronic_row = (n_chronic[owner] > 0) & (rng.random(m) < 0.5)
    acute = rng.integers(0, len(ACUTE), m)
    code = np.where(
        chronic_row,
        np.asarray([c[1] for c in CHRONIC])[primary[owner]],
        np.asarray([a[1] for a in ACUTE])[acute],
    )
    name = np.where(
        chronic_row,
        np.asarray([c[0] for c in CHRONIC])[primary[owner]],
        np.asarray([a[0] for a in ACUTE])[acute],
    )
    visited = uniform_times(
        rng, uniform_days(rng, world.as_of - dt.timedelta(days=364), world.as_of, m), 8, 18
    )
    return pl.DataFrame(
        {
            "institution_code": inst.code[hospital],
            "institution_name": inst.name[hospital],
            "name": p.take("name", owner),
            "id_number": p.take("id_number", owner),
            "visited_at": visited,
            "diagnosis_code": code,
            "diagnosis_name": name,
        }
    )


def _health_claims(world: World, n_chronic: Ints) -> pl.DataFrame:
    p = world.persons
    rng = stream(world.seed, "table.health_claim")
    insured = (p.age >= 18) & (p.age <= 70) & (rng.random(p.n) < 0.6)
    idx = np.flatnonzero(insured)
    r = idx.size
    logit = (
        -2.5
        + 0.75 * n_chronic[idx]
        + 0.035 * (p.age[idx] - 45.0)
        + 0.5 * p.frailty[idx]
        + rng.normal(0.0, 0.4, r)
    )
    claimed = rng.random(r) < sigmoid(logit)
    amount = np.where(
        claimed, np.round(np.exp(rng.normal(8.5 + 0.2 * n_chronic[idx], 1.0)), 2), 0.0
    )
    return pl.DataFrame(
        {
            "policy_no": numbered("BD", np.arange(1, r + 1), 14),
            "id_number": p.take("id_number", idx),
            "consent_signed_on": uniform_days(
                rng, world.as_of - dt.timedelta(days=730), world.as_of - dt.timedelta(days=366), r
            ),
            "claimed_next_year": claimed,
            "claim_amount": amount,
        }
    )


def _audit(world: World, enrolled: Bools, anomalous: Bools) -> pl.DataFrame:
    p = world.persons
    rng = stream(world.seed, "table.medical_audit_finding")
    audited = enrolled & (rng.random(p.n) < np.where(anomalous, 0.9, 0.55))
    idx = np.flatnonzero(audited)
    r = idx.size
    found = rng.random(r) < np.where(anomalous[idx], 0.75, sigmoid(-4.2 + 0.3 * p.frailty[idx]))
    kind = pick(
        rng,
        ["串换药品", "虚假住院", "超量开药", "冒名就医", "分解住院"],
        r,
        [0.3, 0.15, 0.3, 0.1, 0.15],
    )
    return pl.DataFrame(
        {
            "id_number": p.take("id_number", idx),
            "audited_on": uniform_days(rng, world.as_of - dt.timedelta(days=180), world.as_of, r),
            "violation_found": found,
            "finding_type": pl.Series(kind).set(pl.Series(~found), None),
        }
    )
