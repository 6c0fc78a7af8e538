"""freeze_startup_heap in a fresh interpreter: what existed before is frozen, what requests allocate is not."""

import subprocess
import sys

CODE = """
import gc
from serve_app.heap import freeze_startup_heap
import pipeline.postprocess as post
post.warm()
frozen = freeze_startup_heap()
assert frozen == gc.get_freeze_count() > 10_000, frozen
garbage = [[i] for i in range(1000)]
assert gc.get_freeze_count() == frozen
tracked = len(gc.get_objects())  # frozen objects are not among the tracked ones
assert tracked < frozen, (tracked, frozen)
print(frozen, tracked)
"""


def test_startup_heap_is_frozen_and_request_garbage_is_not():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
