"""The study's report: one self-contained HTML page with figures and tidy tables.

- :mod:`~atlasbench.report.page`: :func:`~atlasbench.report.page.write_report`, the page
  writer (runs the sections, assembles the head, summary, contents and body);
- :mod:`~atlasbench.report.context`: what the report is given
  (:class:`~atlasbench.report.context.ReportSettings`, the study as plain values, and
  :class:`~atlasbench.report.context.ReportInputs`) and what its sections share while it
  is written (tables, figures, the accuracy per design);
- :mod:`~atlasbench.report.qc_accuracy`: QC, accuracy against depth and cells, the grid
  heatmaps, cross-platform transfer;
- :mod:`~atlasbench.report.comparisons`: which differences hold, the ranking sentence;
- :mod:`~atlasbench.report.readouts`: cost, Tn5 bias, motifs, validated enhancers;
- :mod:`~atlasbench.report.truth`: the results against the simulation truth;
- :mod:`~atlasbench.report.plots`: plotting helpers and platform colours;
- :mod:`~atlasbench.report.html`: HTML pieces (tables, notes, styles, the image check).

The report reads the study's results and the public functions of the read-outs; it never
imports :mod:`atlasbench.study`.
"""
