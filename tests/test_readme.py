"""The README's code runs as written, and its Quickstart is the two commands."""

import pathlib
import re
import subprocess
import sys

README = (pathlib.Path(__file__).parent.parent / "README.md").read_text()


def test_quickstart_is_make_demo_and_make_test():
    quickstart = README.split("## Quickstart", 1)[1].split("##", 1)[0]
    block = re.search(r"```bash\n(.*?)```", quickstart, re.S).group(1)
    assert block.split("\n")[:-1] == ["make demo", "make test"]


def test_python_examples_run():
    # Run in a fresh interpreter: users' default JAX settings, not the suite's strict ones.
    code = "\n\n".join(re.findall(r"```python\n(.*?)```", README, re.S))
    assert "regjax.sweep.run" in code
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "regularized: 1 of 2 leaves" in done.stdout
