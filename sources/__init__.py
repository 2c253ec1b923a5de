"""Where events come from: topic configurations and the mapping of a source record to a
canonical event. Pure (no Kafka): the worker and offline replay read sources alike."""
