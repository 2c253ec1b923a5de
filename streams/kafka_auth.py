"""Kafka security from the settings: Faust credentials and the admin client's arguments.

Both clients get the same TLS context and the same SASL user, so the topics the admin client
creates and the connections Faust opens are authenticated alike. The password is read from
``SLAWATCH_KAFKA_SASL_PASSWORD`` or its file when the clients are built and handed to them
only; Faust's credentials print just the user name, and nothing here logs.

Example:
    >>> from streams.settings import Settings
    >>> client_security(Settings.from_env({}))
    {'security_protocol': 'PLAINTEXT'}
    >>> broker_credentials(Settings.from_env({})) is None
    True
"""

from __future__ import annotations

import ssl
from typing import Any

from faust.auth import Credentials, SASLCredentials, SSLCredentials

from streams.settings import SASL_PROTOCOLS, SSL_PROTOCOLS, Settings

__all__ = ["broker_credentials", "client_security", "ssl_context"]


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for SSL and SASL_SSL: the CA file (else the system's CAs), client cert.

    None when the protocol does not use TLS. Hostnames are checked against the certificates.
    """
    if settings.kafka_security_protocol not in SSL_PROTOCOLS:
        return None
    cafile = settings.kafka_ssl_cafile
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=None if cafile is None else str(cafile)
    )
    if settings.kafka_ssl_certfile is not None:
        keyfile = settings.kafka_ssl_keyfile
        context.load_cert_chain(
            str(settings.kafka_ssl_certfile), None if keyfile is None else str(keyfile)
        )
    return context


def broker_credentials(settings: Settings) -> Credentials | None:
    """What ``faust.App(broker_credentials=...)`` needs; None for PLAINTEXT.

    SASL gives :class:`~faust.auth.SASLCredentials` (with the TLS context for SASL_SSL, which
    makes Faust use SASL_SSL), SSL gives :class:`~faust.auth.SSLCredentials` with the context.
    """
    protocol = settings.kafka_security_protocol
    context = ssl_context(settings)
    if protocol in SASL_PROTOCOLS:
        return SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_secret(),
            ssl_context=context,
            mechanism=settings.kafka_sasl_mechanism,
        )
    if context is not None:
        return SSLCredentials(context)
    return None


def client_security(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for kafka-python clients (``KafkaAdminClient``, ``KafkaConsumer``)."""
    protocol = settings.kafka_security_protocol
    kwargs: dict[str, Any] = {"security_protocol": protocol}
    context = ssl_context(settings)
    if context is not None:
        kwargs["ssl_context"] = context
    if protocol in SASL_PROTOCOLS:
        kwargs.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=settings.kafka_sasl_secret(),
        )
    return kwargs
