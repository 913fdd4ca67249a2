"""The issue's performance targets, checked against one run's rows."""

from __future__ import annotations

ARTEFACTS = ("torchscript", "onnx")


def _row(rows: list[dict], name: str) -> dict | None:
    return next((row for row in rows if row["name"] == name), None)


def check(rows: list[dict]) -> list[dict]:
    """[{target, measured, met}] for every target whose rows were measured."""
    results = []
    one, two = _row(rows, "Ray Train, 1 worker"), _row(rows, "Ray Train, 2 workers")
    if one:
        results.append({"target": "Ray Train 1 worker >= 0.85 x bare loop rows/s",
                        "measured": f"{one['ratio']:.2f} x", "met": one["ratio"] >= 0.85})
    if one and two:
        scaling = two["rows_per_s"] / one["rows_per_s"]
        results.append({"target": "Ray Train 2 workers >= 1.6 x 1 worker", "measured": f"{scaling:.2f} x",
                        "met": scaling >= 1.6})
    served = [row for row in rows if row["section"] == "inference" and row["name"] in ARTEFACTS]
    if served:
        fastest = min(served, key=lambda row: row["p99_ms"])
        results.append({"target": "single-row p99 < 1 ms, 1 thread (artefact)",
                        "measured": f"{fastest['p99_ms']:.3f} ms ({fastest['name']})", "met": fastest["p99_ms"] < 1.0})
        best = max(served, key=lambda row: row["rows_per_s"])
        results.append({"target": "batch > 100,000 rows/s, 2 threads (artefact)",
                        "measured": f"{best['rows_per_s']:,.0f} rows/s ({best['name']})",
                        "met": best["rows_per_s"] > 100_000})
        results.append({"target": "export matches eager within 1e-5",
                        "measured": ", ".join(f"{r['name']} {r['max_abs_diff']:.1e}" for r in served),
                        "met": all(r["max_abs_diff"] <= 1e-5 for r in served)})
    return results
