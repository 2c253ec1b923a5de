#!/usr/bin/env bash
# Create slawatch's topics with their retention, idempotently (runs in the apache/kafka image).
#
# Co-partitioned topics (slawatch.events, slawatch.due and the sla.* outputs) must all have
# PARTITIONS partitions, the workers' SLAWATCH_PARTITIONS. The table changelog
# (<app id>-cases-changelog) is left to the workers: Faust creates it compacted.
# Retention: docs/production.md, "Retention".
set -euo pipefail
: "${BOOTSTRAP:?set BOOTSTRAP, e.g. kafka:9092}"
: "${PARTITIONS:?set PARTITIONS to SLAWATCH_PARTITIONS of the workers}"
: "${REPLICATION_FACTOR:=1}"
DAY=86400000

create() {  # name retention_ms
  /opt/kafka/bin/kafka-topics.sh --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
    --topic "$1" --partitions "$PARTITIONS" --replication-factor "$REPLICATION_FACTOR" \
    --config "retention.ms=$2" --config cleanup.policy=delete
}

# Source topics (config/topics.yaml). In production their owners create them.
create complaints.lifecycle $((7 * DAY))
create shipments.lifecycle $((7 * DAY))
# slawatch's own topics (names: slawatch/settings.py TopicNames).
create slawatch.events $((7 * DAY))
create slawatch.due $((1 * DAY))
create sla.warnings $((30 * DAY))
create sla.breaches $((90 * DAY))
create sla.outcomes $((90 * DAY))
create sla.deadletter $((30 * DAY))
create slawatch.acks $((30 * DAY))
/opt/kafka/bin/kafka-topics.sh --bootstrap-server "$BOOTSTRAP" --list
