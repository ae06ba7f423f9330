"""其他风险: each test is what a partner might try — a model that runs code when loaded,
an ONNX graph that reaches outside itself, notebook code that phones home, shells out or
reads the secrets — and the clean submissions that must pass."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import pickle
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import onnx
import pytest
import yaml
from onnx import TensorProto, helper, numpy_helper

from shuyu.data.generate.identifiers import make_resident_ids
from shuyu.selfcheck.context import CheckContext
from shuyu.selfcheck.modelscan_report import modelscan_unavailable
from shuyu.selfcheck.other_risks import (
    code_stays_in_bounds,
    imports_are_approved,
    modelscan_finds_nothing,
    onnx_graph_is_closed,
    onnx_only,
)
from shuyu.selfcheck.registry import CHECKS
from shuyu.selfcheck.result import CheckResult, Status
from shuyu.selfcheck.serialised_code import is_pickle
from tests.unit.selfcheck_snapshot import (
    TRAINING_NOTEBOOK,
    code_cell,
    context,
    exported_model,
    notebook,
    thresholds_with,
)


class Malicious:
    """Unpickling this runs a shell command (here: `true`). Never loaded by the tests."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("true",))


EVIL = pickle.dumps(Malicious())
needs_modelscan = pytest.mark.skipif(
    modelscan_unavailable() is not None, reason="modelscan (the selfcheck extra) is not installed"
)


@pytest.fixture
def snapshot(tmp_path: Path) -> CheckContext:
    return context(tmp_path)


def wheres(result: CheckResult) -> str:
    return "\n".join(f"{e.where} | {e.what_en} | {e.value}" for e in result.evidence)


def test_the_four_checks_are_registered_once() -> None:
    ids = [c.id for c in CHECKS]
    for check_id in (
        "other.model_format",
        "other.onnx_graph",
        "other.modelscan",
        "other.static_code",
    ):
        assert ids.count(check_id) == 1


# ------------------------------------------------------------------ a clean submission


@needs_modelscan
def test_a_model_logged_by_mlflow_onnx_and_a_training_notebook_pass(snapshot: CheckContext) -> None:
    (snapshot.code_dir / "train.ipynb").write_text(TRAINING_NOTEBOOK)
    (snapshot.artifacts_dir / "preprocessing.json").write_text('{"features": []}')
    for check in (onnx_only, onnx_graph_is_closed, modelscan_finds_nothing, code_stays_in_bounds):
        result = check(snapshot)
        assert result.status is Status.PASS, (result.id, wheres(result))
        assert result.title_zh
        assert result.title_en
        assert result.summary_zh
        assert result.summary_en


def test_the_clean_model_folder_is_exactly_what_mlflow_onnx_writes(snapshot: CheckContext) -> None:
    written = sorted(p.name for p in snapshot.model_dir.iterdir())
    assert written == ["MLmodel", "conda.yaml", "model.onnx", "python_env.yaml", "requirements.txt"]
    flavors = yaml.safe_load((snapshot.model_dir / "MLmodel").read_text())["flavors"]
    assert flavors["python_function"]["loader_module"] == "mlflow.onnx"


# ------------------------------------------------------------------ executable model files


@needs_modelscan
def test_a_pickle_with_a_malicious_reduce_is_refused_by_format_and_by_modelscan(
    snapshot: CheckContext,
) -> None:
    (snapshot.artifacts_dir / "model.pkl").write_bytes(EVIL)
    fmt = onnx_only(snapshot)
    assert fmt.status is Status.FAIL
    assert "artifacts/model.pkl" in wheres(fmt)
    assert "pickle" in wheres(fmt)
    scan = modelscan_finds_nothing(snapshot)
    assert scan.status is Status.FAIL
    assert any("system" in e.value and e.where == "artifacts/model.pkl" for e in scan.evidence)


@needs_modelscan
def test_a_renamed_pickle_is_judged_by_its_bytes(snapshot: CheckContext) -> None:
    (snapshot.artifacts_dir / "notes.txt").write_bytes(EVIL)
    (snapshot.artifacts_dir / "weights").write_bytes(pickle.dumps(Malicious(), protocol=0))
    assert "artifacts/notes.txt" in wheres(onnx_only(snapshot))
    assert "artifacts/weights" in wheres(onnx_only(snapshot))
    scan = modelscan_finds_nothing(snapshot)  # modelscan alone skips both (it reads suffixes)
    assert scan.status is Status.FAIL
    assert {"artifacts/notes.txt", "artifacts/weights"} <= {e.where for e in scan.evidence}


@needs_modelscan
def test_a_pickle_in_a_tarball_or_a_zlib_stream_is_found(snapshot: CheckContext) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("inner/model.joblib")
        info.size = len(EVIL)
        tar.addfile(info, io.BytesIO(EVIL))
    (snapshot.artifacts_dir / "bundle.tar.gz").write_bytes(buffer.getvalue())
    (snapshot.artifacts_dir / "clf.z").write_bytes(zlib.compress(EVIL))  # joblib compress=zlib
    found = wheres(onnx_only(snapshot))
    assert "artifacts/bundle.tar.gz!bundle.tar!inner/model.joblib" in found
    assert "artifacts/clf.z!clf" in found
    assert modelscan_finds_nothing(snapshot).status is Status.FAIL


def test_a_pytorch_archive_and_a_numpy_object_array_are_executable(snapshot: CheckContext) -> None:
    with zipfile.ZipFile(snapshot.artifacts_dir / "net.pt", "w") as archive:
        archive.writestr("net/data.pkl", EVIL)
        archive.writestr("net/version", "3\n")
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (snapshot.artifacts_dir / "table.npy").write_bytes(buffer.getvalue())
    found = wheres(onnx_only(snapshot))
    assert "artifacts/net.pt!net/data.pkl" in found
    assert "artifacts/table.npy" in found
    assert "NumPy object array" in found


def test_pickle_sniffing_does_not_take_text_or_numbers_for_pickles() -> None:
    for data in (b"(a)\n", b"cat,dog\n1,2\n", b"Name,Id\n", b"]]>", b"\x80\x02", b"N", b""):
        assert not is_pickle(data), data
    for protocol in range(6):
        assert is_pickle(pickle.dumps({"a": [1, 2.5, "x"]}, protocol=protocol))
    buffer = io.BytesIO()
    np.save(buffer, np.arange(10.0))
    assert not is_pickle(buffer.getvalue())


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda f: f.update(sklearn={"pickled_model": "model.pkl"}), "flavour 'sklearn'"),
        (lambda f: f["python_function"].update(loader_module="mlflow.sklearn"), "loader is not mlflow.onnx"),
        (lambda f: f["python_function"].update(code="code"), "code paths"),
        (lambda f: f["python_function"].update(python_model="python_model.pkl"), "key not allowed"),
        (lambda f: f["onnx"].update(extra_files=[{"path": "extra_files/x"}]), "key not allowed"),
        (lambda f: f["onnx"].update(providers=[["TensorrtExecutionProvider", {"trt_extra_plugin_lib_paths": "/x.so"}]]), "execution providers"),
        (lambda f: f["onnx"].update(onnx_session_options={"extra_session_config": {}}), "session options"),
        (lambda f: f["onnx"].update(data="../../data/holdout.parquet"), "not model.onnx"),
        (lambda f: f.pop("onnx"), "no onnx flavour"),
    ],
)  # fmt: skip
def test_an_mlmodel_other_than_the_onnx_flavour_is_refused(
    snapshot: CheckContext, change: object, reason: str
) -> None:
    path = snapshot.model_dir / "MLmodel"
    document = yaml.safe_load(path.read_text())
    change(document["flavors"])  # type: ignore[operator]
    path.write_text(yaml.safe_dump(document))
    result = onnx_only(snapshot)
    assert result.status is Status.FAIL
    assert reason in wheres(result)


def test_files_the_onnx_flavour_does_not_write_are_refused(snapshot: CheckContext) -> None:
    (snapshot.model_dir / "code").mkdir()
    (snapshot.model_dir / "code" / "loader.py").write_text("import os\n")
    (snapshot.model_dir / "model.safetensors").write_bytes(b"\0" * 16)
    (snapshot.model_dir / "link.onnx").symlink_to(snapshot.model_dir / "model.onnx")
    found = wheres(onnx_only(snapshot))
    assert "model/code | no folders allowed" in found
    assert "model/code/loader.py" in found
    assert "model/model.safetensors" in found
    assert "model/link.onnx | a symbolic link" in found


def test_an_input_example_as_mlflow_writes_it_is_allowed(snapshot: CheckContext) -> None:
    (snapshot.model_dir / "input_example.json").write_text('{"total_assets": [1.0]}')
    (snapshot.model_dir / "serving_input_example.json").write_text('{"inputs": {}}')
    assert onnx_only(snapshot).status is Status.PASS


# ------------------------------------------------------------------ the ONNX graph


def external_model(location: str) -> onnx.ModelProto:
    weight = numpy_helper.from_array(np.zeros((4, 4), dtype=np.float32), "leak")
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    entry = weight.external_data.add()
    entry.key, entry.value = "location", location
    return exported_model(extra_initializers=[weight])


def test_an_onnx_file_with_an_external_data_path_fails(tmp_path: Path) -> None:
    snapshot = context(tmp_path, model=external_model("/data/bank_credit/holdout.parquet"))
    result = onnx_graph_is_closed(snapshot)
    assert result.status is Status.FAIL
    assert any(
        e.what_en == "tensor data in an external file" and "holdout.parquet" in e.value
        for e in result.evidence
    )


def test_a_custom_domain_operator_fails(tmp_path: Path) -> None:
    custom = helper.make_node("ReadFile", ["score"], ["leaked"], domain="com.evil", name="node_x")
    model = exported_model(
        nodes=[custom],
        opsets=[helper.make_opsetid("", 20), helper.make_opsetid("com.evil", 1)],
    )
    result = onnx_graph_is_closed(context(tmp_path, model=model))
    assert result.status is Status.FAIL
    found = wheres(result)
    assert "com.evil::ReadFile" in found
    assert "opset outside the standard domains" in found


def test_a_model_local_function_in_a_custom_domain_fails(tmp_path: Path) -> None:
    function = helper.make_function(
        "pkg.partner", "Leak", ["x"], ["y"], [helper.make_node("Identity", ["x"], ["y"])],
        opset_imports=[helper.make_opsetid("", 20)],
    )  # fmt: skip
    call = helper.make_node("Leak", ["score"], ["copy"], domain="pkg.partner", name="node_leak")
    model = exported_model(
        nodes=[call],
        functions=[function],
        opsets=[helper.make_opsetid("", 20), helper.make_opsetid("pkg.partner", 1)],
    )
    found = wheres(onnx_graph_is_closed(context(tmp_path, model=model)))
    assert "model-local function outside the standard domains" in found
    assert "pkg.partner::Leak" in found


def test_a_model_over_the_size_limit_or_not_onnx_fails(tmp_path: Path) -> None:
    big = numpy_helper.from_array(np.zeros(4096, dtype=np.float32), "padding")
    snapshot = context(
        tmp_path / "big",
        model=exported_model(extra_initializers=[big]),
        policies_=thresholds_with(model_max_bytes=4096),
    )
    assert "over the limit" in wheres(onnx_graph_is_closed(snapshot))
    broken = context(tmp_path / "broken")
    (broken.model_dir / "model.onnx").write_bytes(EVIL)
    result = onnx_graph_is_closed(broken)
    assert result.status is Status.FAIL


def test_fields_onnx_does_not_define_are_refused(tmp_path: Path) -> None:
    # field 99 (length-delimited) of ModelProto: preserved by protobuf, seen by nobody
    hidden = bytes([(99 << 3 | 2) & 0x7F | 0x80, (99 << 3 | 2) >> 7, 12]) + b"341302hidden"
    snapshot = context(tmp_path)
    path = snapshot.model_dir / "model.onnx"
    path.write_bytes(path.read_bytes() + hidden)
    assert "fields ONNX does not define" in wheres(onnx_graph_is_closed(snapshot))


def test_the_exported_model_shape_passes_the_graph_check(tmp_path: Path) -> None:
    result = onnx_graph_is_closed(context(tmp_path))
    assert result.status is Status.PASS, wheres(result)
    assert result.figures["model_bytes"] > 0


# ------------------------------------------------------------------ notebook code


def scan(tmp_path: Path, *cells: str, name: str = "attack.ipynb") -> CheckResult:
    snapshot = context(tmp_path, with_model=False)
    path = snapshot.code_dir / name
    if name.endswith(".py"):
        path.write_text(cells[0])
    else:
        path.write_text(notebook(*(code_cell(c) for c in cells)))
    return code_stays_in_bounds(snapshot)


@pytest.mark.parametrize(
    "source",
    [
        'm = __import__("so" + "cket")',
        'import importlib\nm = importlib.import_module("".join(["so", "ck", "et"]))',
        'm = __import__(bytes.fromhex("736f636b6574").decode())',
        'import codecs\nm = __import__(codecs.decode("fbpxrg", "rot13"))',
        'import base64\nm = __import__(base64.b64decode("c29ja2V0").decode())',
        'm = __import__("".join(map(chr, [115, 111, 99, 107, 101, 116])))',
        'm = __import__("tekcos"[::-1])',
    ],
)
def test_a_notebook_importing_socket_by_a_computed_name_fails(tmp_path: Path, source: str) -> None:
    result = scan(tmp_path, "import numpy as np", source)
    assert result.status is Status.FAIL
    dynamic = [e for e in result.evidence if "dynamic import" in e.what_en]
    assert dynamic, wheres(result)
    assert "'socket'" in dynamic[0].what_en  # what the name computes to
    assert dynamic[0].where.startswith("code/attack.ipynb cell 2 line")
    assert "__import__" in dynamic[0].value or "import_module" in dynamic[0].value


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import socket", "forbidden module socket"),
        ("from http import client", "forbidden module http"),
        ("import urllib.request as r", "forbidden module urllib"),
        ("from subprocess import run\nrun(['id'])", "forbidden module subprocess"),
        ("import os as o\no.system('id')", "forbidden call os.system"),
        ("from os import popen as p\np('id')", "forbidden call os.popen"),
        ("import os\nos.execv('/bin/sh', ['sh'])", "forbidden call os.exec"),
        ("import posix\nposix.system('id')", "forbidden call os.system"),
        ("run = eval\nrun('1 + 1')", "forbidden call eval"),
        ("exec(compile('1', 'x', 'exec'))", "forbidden call exec"),
        ("import pickle\npickle.loads(b'')", "forbidden call pickle.loads"),
        ("from pickle import load as l", "forbidden call pickle.load"),
        ("import ctypes", "forbidden module ctypes"),
        ("import os\ngetattr(os, 'sys' + 'tem')('id')", "forbidden call os.system by a computed name"),
        ("import os\ngetattr(os, 'system')('id')", "forbidden call os.system"),
        ("getattr(__builtins__, '__imp' + 'ort__')('socket')", "reaches __builtins__ directly"),
        ("globals()['__builtins__'].eval('1')", "forbidden call eval"),
        ("f = globals()['ev' + 'al']", "computed name"),
        ("import sys\nsys.modules['os'].system('id')", "forbidden call os.system"),
        ("().__class__.__bases__[0].__subclasses__()", "__subclasses__"),
        ("import runpy\nrunpy.run_path('payload.py')", "loads code from a file"),
        ("import marshal\nmarshal.loads(b'')", "loads code from a file or bytes"),
        ("get_ipython().system('curl http://198.51.100.1')", "through IPython (system)"),
        ("import importlib\nimportlib.import_module('numpy')", "forbidden call importlib.import_module"),
        ("from os import *\nsystem('id')", "forbidden call os.system"),
        ("import builtins\nbuiltins.exec('1')", "forbidden call exec"),
        ("import os\nvars(os)['system']('id')", "forbidden call os.system"),
        ("import os\nos.__dict__['popen']('id')", "forbidden call os.popen"),
        ("import operator, os\noperator.methodcaller('sys' + 'tem', 'id')(os)", "attribute looked up by a string 'system'"),
    ],
)  # fmt: skip
def test_forbidden_modules_and_calls_are_found_however_they_are_reached(
    tmp_path: Path, source: str, expected: str
) -> None:
    result = scan(tmp_path, source)
    assert result.status is Status.FAIL
    assert expected in wheres(result)


def test_forbidden_calls_are_found_across_cells(tmp_path: Path) -> None:
    result = scan(tmp_path, "import os as o", "x = 1", "o.system('id')")
    assert result.status is Status.FAIL
    assert any(
        e.where == "code/attack.ipynb cell 3 line 1" and e.value == "o.system('id')"
        for e in result.evidence
    ), wheres(result)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("!curl http://198.51.100.1/x", "a shell escape"),
        ("files = !ls /data", "a shell escape"),
        ("%%bash\ncurl http://198.51.100.1", "cell magic %%bash"),
        ("%%writefile /tmp/x.py\nprint(1)", "cell magic %%writefile"),
        ("%run other.py", "IPython magic %run"),
        ("import numpy\n%load_ext sql", "IPython magic %load_ext"),
        ("for i in range(2):\n    !id", "a shell escape"),
    ],
)
def test_shell_escapes_and_magics_fail(tmp_path: Path, cell: str, expected: str) -> None:
    result = scan(tmp_path, cell)
    assert result.status is Status.FAIL
    assert expected in wheres(result)


def test_timing_magics_pass_and_their_body_is_still_scanned(tmp_path: Path) -> None:
    assert (
        scan(tmp_path / "a", "%%time\nx = sum(range(10))", "%timeit sum(range(10))").status
        is Status.PASS
    )
    assert scan(tmp_path / "b", "%%time\nimport socket").status is Status.FAIL
    assert "eval" in wheres(scan(tmp_path / "c", "%time eval('1')"))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("open('/tmp/rows.csv', 'w').write('x')", "writes outside the working directory (open): '/tmp/rows.csv'"),
        ("import polars as pl\npl.DataFrame().write_csv('../../leak.csv')", "writes outside the working directory (write_csv)"),
        ("df.to_parquet('/home/partner/x.parquet')", "(to_parquet)"),
        ("from pathlib import Path\n(Path('/data') / 'x.txt').write_text('x')", "(write_text): '/data/x.txt'"),
        ("from pathlib import Path\nP = Path.home()\n(P / 'x').write_bytes(b'')", "(write_bytes): '~/x'"),
        ("import numpy as np\nnp.save('/mnt/x.npy', [1])", "(numpy.save)"),
        ("import os\nos.rename('outputs/a', '/tmp/a')", "(os.rename)"),
        ("import torch\ntorch.save({}, '../model.pt')", "(torch.save)"),
        ("from pathlib import Path\nPath('outputs/../../x').mkdir()", "(mkdir)"),
        ("import os\nos.open('/tmp/x', os.O_WRONLY | os.O_CREAT)", "(os.open)"),
    ],
)  # fmt: skip
def test_writes_outside_the_working_folder_fail(tmp_path: Path, source: str, expected: str) -> None:
    result = scan(tmp_path, source)
    assert result.status is Status.FAIL
    assert expected in wheres(result)


@pytest.mark.parametrize(
    "source",
    [
        "import os\nopen(os.environ['TARGET'], 'w')",
        "def save(df, path):\n    df.to_csv(path)",
        "name = input()\nopen(f'outputs/{name}.csv', 'w')",
        "import sys\nopen(sys.argv[1], 'w')",
    ],
)
def test_a_write_to_a_path_that_cannot_be_decided_is_a_warning(tmp_path: Path, source: str) -> None:
    result = scan(tmp_path, source)
    assert result.status is Status.WARN, wheres(result)
    assert "review" in wheres(result) or "partly unknown" in wheres(result)


def test_reads_and_relative_writes_pass(tmp_path: Path) -> None:
    result = scan(
        tmp_path,
        "import polars as pl\nfrom pathlib import Path\nout = Path('outputs')\n"
        "train = pl.read_parquet('/data/bank_credit/train.parquet')\n"
        "text = open('/data/bank_credit/view.json').read()\n"
        "train.head().write_csv(out / 'head.csv')\n"
        "open('outputs/log.txt', 'a').write('x')\n"
        "import re\nre.compile('x')\n"
        "'a,b'.replace(',', ';')\n",
    )
    assert result.status is Status.PASS, wheres(result)


@pytest.mark.parametrize(
    ("source", "marker"),
    [
        ("key = open('/run/shuyu-secrets/gate_password').read()", "/run/shuyu-secrets"),
        ("import os\nos.environ['SHUYU_MASKING_KEY_FILE']", "shuyu_masking_key"),
        ("path = 'var/secrets/masking.key'", "masking.key"),
        ("# the admin_password is in the hub's folder", "admin_password"),
        ("name = 'masking' + '.key'", "masking.key"),
        ("p = ''.join(['/run/', 'shuyu-', 'secrets'])", "/run/shuyu-secrets"),
    ],
)
def test_any_reference_to_the_masking_key_or_secrets_fails(
    tmp_path: Path, source: str, marker: str
) -> None:
    result = scan(tmp_path, source)
    assert result.status is Status.FAIL
    assert any("secret" in e.what_en and marker in e.what_en for e in result.evidence)


def test_python_files_are_scanned_as_well(tmp_path: Path) -> None:
    result = scan(
        tmp_path, "import requests\nrequests.get('http://198.51.100.1')\n", name="helpers.py"
    )
    assert result.status is Status.FAIL
    assert "code/helpers.py line 1" in wheres(result)


def test_a_notebook_that_does_not_parse_fails_with_the_reason(tmp_path: Path) -> None:
    broken = scan(tmp_path / "a", "def f(:\n    pass")
    assert broken.status is Status.FAIL
    assert "does not parse" in wheres(broken)
    assert "cell 1 line 1" in wheres(broken)
    snapshot = context(tmp_path / "b", with_model=False)
    (snapshot.code_dir / "x.ipynb").write_text("{not json")
    result = code_stays_in_bounds(snapshot)
    assert result.status is Status.FAIL
    assert "the notebook does not parse" in wheres(result)


def test_no_code_at_all_is_a_warning(tmp_path: Path) -> None:
    result = code_stays_in_bounds(context(tmp_path, with_model=False))
    assert result.status is Status.WARN


def test_evidence_shows_the_offending_text_with_identifiers_masked(tmp_path: Path) -> None:
    (person,) = make_resident_ids(
        np.random.default_rng(1), 1, ["341302"], dt.date(1980, 1, 1), dt.date(1990, 1, 1)
    )
    result = scan(tmp_path, f"import os\nos.system('echo {person}')")
    (finding,) = [e for e in result.evidence if "os.system" in e.what_en]
    assert finding.where == "code/attack.ipynb cell 1 line 2"
    assert "os.system" in finding.value
    assert person[:4] + "*" in finding.value
    assert person not in json.dumps(result.model_dump(mode="json"))


def test_a_notebook_with_chinese_text_in_calls_passes(tmp_path: Path) -> None:
    """Chart titles and labels in Chinese are ordinary text, not encoded payloads: the
    decoder folding once raised on them and the whole self-check errored."""
    result = scan(
        tmp_path,
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()",
        'ax.set_title("煤炭价格走势")\nax.set_xlabel("月份")\n"价格".encode("utf-8")',
    )
    assert result.status is Status.PASS, wheres(result)


# ------------------------------------------------------------ packages it imports


def test_an_import_that_is_neither_in_the_image_nor_approved_is_for_the_reviewer(
    tmp_path: Path,
) -> None:
    snapshot = context(tmp_path, with_model=False)
    (snapshot.code_dir / "train.ipynb").write_text(
        notebook(code_cell("import numpy, json\nfrom xgboost_shadow import XGB\nimport helpers"))
    )
    (snapshot.code_dir / "helpers.py").write_text("X = 1\n")  # the code's own module
    result = imports_are_approved(snapshot)
    assert result.status is Status.WARN
    ((found),) = result.evidence
    assert found.value == "xgboost_shadow"
    assert found.where == "code/train.ipynb cell 1 line 2"
    assert "/services/shuyu/packages" in result.remedy_en


def test_an_approved_package_the_image_lacks_passes_and_is_named(tmp_path: Path) -> None:
    snapshot = context(tmp_path, with_model=False, approved_modules=("tiny_stats",))
    (snapshot.code_dir / "train.py").write_text("import tiny_stats.core\nimport polars\n")
    result = imports_are_approved(snapshot)
    assert result.status is Status.PASS
    assert "from approved packages (tiny_stats)" in result.summary_en
