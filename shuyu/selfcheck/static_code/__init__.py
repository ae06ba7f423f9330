"""The static code scan behind `other.static_code`: a run's notebooks and Python files
read with `ast`, never run. What is decided statically, and what cannot be:

* imports of `forbidden_notebook_modules` (submodules and `from` imports too), and every
  dynamic import: `__import__`, `importlib.import_module` and their relatives whose
  argument is not a literal allowed name fail (a name built from strings is shown as
  far as it can be computed: ``"so" + "cket"``, ``"".join([...])``, ``bytes.fromhex``,
  ``codecs.decode(..., "rot13")``, base64, ``chr``); loaders of code from files
  (``runpy.run_path``, ``spec_from_file_location``, ``marshal.loads`` …) fail;
* any reference — a call, an alias, a value passed around — to `forbidden_notebook_calls`,
  through import aliases (``import os as o; o.system``), ``from`` imports, ``getattr``
  with a literal or computable name, ``from os import *``, ``sys.modules[...]``,
  ``globals()[...]``, ``vars(os)[...]``, ``__builtins__``; ``getattr`` with an
  incomputable name on a module or the builtins; ``operator.methodcaller`` and
  ``attrgetter`` naming a forbidden call or an incomputable name;
  the introspection attributes sandbox escapes use (``__subclasses__``, ``__globals__``…);
  IPython's ``get_ipython().system`` and kin;
* IPython shell escapes and magics (``!cmd``, ``x = !cmd``, ``%%bash``, ``%run``, …) fail;
  only ``%matplotlib`` and the timing magics (``%time``, ``%timeit``, ``%%time``,
  ``%%timeit``, ``%%capture``), whose body is scanned as Python, pass;
* writes (``open`` in w/a/x/+ mode, ``os.open`` with write flags, pathlib ``write_*``,
  ``touch``, ``mkdir``, …, DataFrame ``to_*``/``write_*``/``sink_*``, ``np.save*``,
  ``torch.save``, ``onnx.save``, ``savefig``, ``os.rename``/``remove``…) to a path that is
  absolute, starts at ``~`` or climbs out of the working directory with ``..`` fail; a
  path that cannot be computed (a variable from elsewhere, an f-string, an environment
  variable) is a warning for the reviewer, not a pass: only literals, ``Path``/
  ``os.path.join`` of literals and names bound once to those are followed, and only the
  writers listed here are recognised (a library's own save helper is not);
* any mention of the masking key or the secrets (file names from `shuyu.secrets`, the
  secrets mount, the key's environment variable), in code, strings or comments, or
  computed from strings, fails.

Each finding names the file, the cell and line, and the offending text. A notebook or
file that does not parse fails with the reason.

The parts: `units` (files and cells, and `scan_code` over a folder), `scanner` (the
`ast` visitor), `names` (what names and paths stand for), `folding` (strings computed
from literals), `writes`, `ipython` (shell escapes and magics), `secret_mentions`,
`findings`.
"""
