"""Forward time of a cBN DCGAN generator (28×28×1, width 64, batch 64, no grad) in two gan_lab checkouts, e.g. before
and after a change to conditional batch norm; runs interleaved, median ms per forward.

    python benchmarks/cbn_overhead.py <checkout A> <checkout B> [repeats]
"""

import statistics
import subprocess
import sys

code = r"""
import sys, time, torch
sys.path.insert(0, sys.argv[1])
from functools import partial
from gan_lab.nets import ConditionalGenerator, DCGANGenerator
torch.manual_seed(0)
g = ConditionalGenerator(partial(DCGANGenerator, channels=1, image_size=28, width=64), 100, 10, "cbn", cbn_input=True)
z, y = torch.randn(64, 100), torch.randint(10, (64,))
with torch.no_grad():
    for _ in range(5): g(z, y)
    t = time.perf_counter()
    for _ in range(40): g(z, y)
print((time.perf_counter() - t) / 40 * 1000)
"""
roots = sys.argv[1:3]
res = {root: [] for root in roots}
for _ in range(int(sys.argv[3]) if len(sys.argv) > 3 else 5):
    for name, root in zip(roots, roots):
        out = subprocess.run(
            [sys.executable, "-c", code, root],
            capture_output=True,
            text=True,
            env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PATH": "/usr/bin"},
        )
        res[name].append(float(out.stdout.strip().splitlines()[-1]))
for name, v in res.items():
    print(name, f"median {statistics.median(v):.2f} ms", [round(x, 2) for x in v])
