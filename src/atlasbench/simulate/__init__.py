"""In-silico scATAC atlases with known ground truth.

- :mod:`~atlasbench.simulate.background`: background genomes of any size (a Markov chain
  fitted on a real genome);
- :mod:`~atlasbench.simulate.grammar`: regions and cell-type enhancers built from JASPAR motifs;
- :mod:`~atlasbench.simulate.motifs`: motif instances;
- :mod:`~atlasbench.simulate.platforms`: platform profiles (sensitivity, duplication, noise, cost);
- :mod:`~atlasbench.simulate.sequencing`: cells, fragments and Tn5 bias of one platform;
- :mod:`~atlasbench.simulate.atlas`: a whole atlas and its study file.
"""

from atlasbench.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "atlas": ["simulate_atlas", "simulated_study", "Preset"],
        "platforms": ["PlatformProfile"],
        "grammar": ["design_atlas"],
        "background": ["markov_genome", "fit_markov", "low_complexity_share"],
    },
)
