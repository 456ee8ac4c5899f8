"""The base class of every settings object, from a training recipe to a whole study.

A stage of the pipeline takes the few settings it needs as one small object (the
training recipe, say) rather than the whole study. Each such object is a pydantic model
built on :class:`Settings`, so the study schema (:mod:`atlasbench.study.schema`) can
compose them into its sections and validate a study file into them, while the layer that
uses a settings object defines it and never needs to know about studies.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Settings"]


class Settings(BaseModel):
    """Base of every settings object: frozen, unknown keys rejected, field docstrings kept.

    - ``frozen``: a settings object is a value; it is hashed to name the artefacts made
      from it, so it must not change once validated.
    - ``extra="forbid"``: a misspelt key is an error, not a silently ignored option.
    - ``use_attribute_docstrings``: the docstring under each field becomes its
      description (in the JSON schema, for documentation tools).
    - ``coerce_numbers_to_str``: YAML reads chromosome ``4`` or sample ``1`` as numbers;
      a text field takes them as the names they are.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        use_attribute_docstrings=True,
        coerce_numbers_to_str=True,
    )
