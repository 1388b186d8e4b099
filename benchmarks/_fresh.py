"""Times the first result of one benchmark call in this new process (see
``_harness.first_result``): ``python benchmarks/_fresh.py '<json spec>'``."""

from __future__ import annotations

import importlib
import json
import pathlib
import sys
import time


def main(spec_json: str) -> None:
    spec = json.loads(spec_json)
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    module = importlib.import_module(spec["module"])
    call = getattr(module, spec["builder"])(**spec["kwargs"])  # data creation: untimed
    import jax

    t0 = time.perf_counter()
    jax.block_until_ready(call())
    first = time.perf_counter() - t0
    print("FIRST_RESULT " + json.dumps({"first_s": first}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
