"""The benchmark: workloads, the scenario runner, metrics, reports, sweeps and the Python API
(``edgekv.bench``/``edgekv.sweep``) over them."""
