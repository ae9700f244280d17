"""The hostile-input suite: Hypothesis draws landings the sources should never send."""
