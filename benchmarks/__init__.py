"""Benchmarks: a load generator speaking standard FTP, scenarios, and side-by-side runs.

python -m benchmarks.runner            # full comparison -> benchmarks/results/latest.*
python -m benchmarks.runner --quick    # < 1 minute smoke run (ours + pyftpdlib)
python -m benchmarks.loadgen many_small --port 2121 --clients 500   # any server
"""
