"""Reports from run directories: runs (reading), models (grouping by variant and score column), tables
(AUCs, seed mean ± std, bootstrap deltas), display (text panels), markdown, html, console, plots, report
(build and write a report folder atomically). Reads only run directories; never imports training."""
