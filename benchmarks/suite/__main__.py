"""``python -m benchmarks.suite``: the benchmark, a development tool kept off ``rotator --help``."""

from benchmarks.suite import bench

bench(prog_name="python -m benchmarks.suite")
