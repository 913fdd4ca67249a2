"""The Ray shell: the only package that starts Ray (`session.ensure_ray`, called by `driver.start_cluster`).

The driver sequence every command runs (driver.py), the Ray Data readers (ray_data.py), the Ray Train wiring
(ray_trainer.py) and its in-process twin (local.py), scoring on Ray Data actors (scoring.py), LightGBM as a Ray task
(lightgbm_task.py), and one training run end to end (run.py). `autotask.training` keeps the framework-free loop,
steps, batches and configs these call.
"""
