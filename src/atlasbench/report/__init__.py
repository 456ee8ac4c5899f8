"""The study's report: one self-contained HTML page with figures and tidy tables.

:mod:`~atlasbench.report.page` writes the page from :mod:`~atlasbench.report.context`'s
settings and inputs; one module per group of sections (:mod:`~atlasbench.report.qc_accuracy`,
:mod:`~atlasbench.report.comparisons`, :mod:`~atlasbench.report.readouts`,
:mod:`~atlasbench.report.truth`), with :mod:`~atlasbench.report.plots` and
:mod:`~atlasbench.report.html` as their shared pieces.
"""

from atlasbench.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "page": ["write_report"],
        "context": ["ReportSettings", "ReportInputs"],
    },
)
