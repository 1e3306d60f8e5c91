"""The mailkit_async benchmark harness: "fast" as measured ratios against stated contenders.

``python -m benchmarks`` runs every benchmark against a loopback emulator server in its own
process, prints a table (benchmark, contender, median, ratio, target, met?) and writes every sample
to ``benchmarks/results/latest.json``; ``python -m benchmarks chart`` draws ``benchmarks/chart.png``
from it. See ``benchmarks/README.md`` for what each benchmark measures and why.
"""
