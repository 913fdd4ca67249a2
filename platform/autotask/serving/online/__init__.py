"""Online scoring on Ray Serve (`autotask serve`): validation, the per-run model holder, the FastAPI app, deployment."""
