"""What is read out of trained models and their data.

- :mod:`~atlasbench.readouts.evaluate`: accuracy against own, reference and true targets;
- :mod:`~atlasbench.readouts.comparisons`: paired comparisons of scenarios and platforms;
- :mod:`~atlasbench.readouts.power`: what those comparisons can detect, and rankings of what holds;
- :mod:`~atlasbench.readouts.contributions`: integrated-gradient contribution scores;
- :mod:`~atlasbench.readouts.motifs`: TF-MoDISco patterns matched to JASPAR;
- :mod:`~atlasbench.readouts.enhancers`: in vivo validated enhancers;
- :mod:`~atlasbench.readouts.tn5`: Tn5 insertion bias per platform;
- :mod:`~atlasbench.readouts.cost`: cost of each design, saturation and the cheapest design.
"""

from atlasbench.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "evaluate": ["evaluate_against", "tidy"],
        "comparisons": ["compare_scenarios", "compare_platforms", "paired_comparison", "holm"],
        "power": ["minimum_detectable_difference", "pairs_to_resolve", "resolve", "add_power", "platform_tiers"],
        "contributions": ["integrated_gradients", "contribution_agreement", "write_contributions"],
        "motifs": ["discover_motifs", "write_motifs"],
        "enhancers": ["read_enhancers", "score_enhancers", "write_enhancer_report"],
        "tn5": ["insertion_pfm", "compare_bias", "same_bias", "write_bias"],
        "cost": ["cost_report", "design_costs", "fit_saturation", "cheapest_designs"],
    },
)
