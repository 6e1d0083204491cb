"""Webhooks: signed HTTP calls from the server to the integrator's backend.

* :mod:`~characters.webhooks.signing`: the signature (Standard Webhooks: HMAC-SHA256 over the
  message id, a timestamp and the body) and its check;
* :mod:`~characters.webhooks.client`: sending one signed POST, with the URL rules (HTTPS; plain
  HTTP to loopback only when a development setting allows it);
* :mod:`~characters.webhooks.rpc`: ``backend_rpc`` tool calls during a live call (a round trip
  within the tool's ``timeoutSeconds``);
* :mod:`~characters.webhooks.sessions`: session lifecycle events, stored before they are sent,
  retried with backoff, each delivery recorded;
* :mod:`~characters.webhooks.config`: an organisation's webhook URLs and secret.

``docs/actions.md`` describes the wire format for integrators.
"""
