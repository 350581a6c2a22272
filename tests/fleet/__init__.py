"""Fleet fault tests, the slow ones: SIGKILLed workers, failovers, outages, whole-fleet runs,
with the shipped defaults. They run last."""
