"""Training: framework-free steps (steps.py) and the Ray Train wiring around them."""
