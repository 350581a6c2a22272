"""``python -m rotator.bench``: the benchmark, a development tool kept off ``rotator --help``."""

from rotator.bench import bench

bench(prog_name="python -m rotator.bench")
