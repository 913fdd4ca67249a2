"""Reports from run directories: runs (reading), models (grouping by variant and score column), tables
(AUCs, seed mean ± std, bootstrap deltas), display (text panels), markdown, html, console, plots, report
(build and write a report folder atomically), checks (what a report refuses before computing or writing:
runs on different rows or datasets, a split they lack, an --out that cannot take a report). Reads only run
directories; never imports training."""
