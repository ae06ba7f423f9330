"""The medical code lists the person tables draw from: chronic and acute diagnoses
(ICD-10), the departments that treat them and the settlement categories."""

from __future__ import annotations

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
