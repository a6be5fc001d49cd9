"""Hypothesis settings profiles, selected once for the whole suite.

A fresh clone starts with an empty ``.hypothesis/`` and cold caches: the first ``st.text()``
draw builds Hypothesis's Unicode tables, which a loaded CI machine can take seconds over. So
no profile has a deadline or the too-slow and data-too-large health checks; ``ci`` (chosen
when ``CI`` is set, as ``.ci/run`` runs) also derandomizes, so a CI run is the same run every
time, and prints the blob to reproduce a failure. ``dev`` keeps the random search.
Pick one by hand with ``HYPOTHESIS_PROFILE=dev|ci``.
"""

from __future__ import annotations

import os

import numpy  # noqa: F401 -- loaded once here: pytester's in-process runs cannot re-import it
from browser import chromium  # noqa: F401 -- the fixture, for every test that needs a browser
from hypothesis import HealthCheck, settings

_RELAXED = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

settings.register_profile(
    "ci",
    deadline=None,
    suppress_health_check=_RELAXED,
    derandomize=True,
    print_blob=True,
)
settings.register_profile("dev", deadline=None, suppress_health_check=_RELAXED)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)
