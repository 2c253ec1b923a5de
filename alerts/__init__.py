"""Alerts: tell staff that a case they own is about to breach or has breached.

Routing and escalation are pure (:mod:`alerts.routing`, :mod:`alerts.escalation`); dedupe,
the outbox, escalation timers and storm counters live in Redis; channels sit behind one
:class:`alerts.sinks.Sink` interface. Nothing here imports Faust: ``streams/alerting.py`` is
the glue.
"""
