"""The one job lifecycle: every job kind (dataset profile, training, prediction, …)
declares a ``JobKind`` and moves through the same claim / succeed / fail-with-refund /
cancel / sweep functions. See docs/ARCHITECTURE.md."""
