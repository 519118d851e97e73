"""The hub's benchmarks: ``python -m bench --quick`` (≤ 2 min) or ``--full`` (≤ 15 min).

Every part runs in its own process group: one process per department mock, the hub under
uvicorn (1 and 2 workers), and an aiohttp load generator. Everything listens on 127.0.0.1 and
is stopped in ``finally``. Results go to ``bench/results/`` as Markdown and JSON.
"""
