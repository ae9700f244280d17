"""Hypothesis profiles for the hostile-input suite, chosen by `HYPOTHESIS_PROFILE`.

Each example is a whole landing run through the pipeline (tens of seconds on two cores),
so the default profile, `ci` (what `make test` runs), draws two landings from a fixed
seed and does not shrink: a failure names every offending record and file itself.
`long` (`make hostile`) draws 25 fresh landings and shrinks a failure to a small one.
The test module applies the chosen profile to its own tests only (no global `load_profile`).
"""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, settings
from hypothesis.database import DirectoryBasedExampleDatabase

_SLOW_AND_LARGE = [
    HealthCheck.too_slow,
    HealthCheck.function_scoped_fixture,
    HealthCheck.data_too_large,
    HealthCheck.large_base_example,
]

settings.register_profile(
    "ci",
    max_examples=2,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=_SLOW_AND_LARGE,
    print_blob=True,
)
settings.register_profile(
    "long",
    max_examples=25,
    deadline=None,
    # Failing examples are kept for the next run to replay first; under the git-ignored cache.
    database=DirectoryBasedExampleDatabase(".pytest_cache/hypothesis-hostile"),
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=_SLOW_AND_LARGE,
    print_blob=True,
)
