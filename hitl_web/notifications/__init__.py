"""Reaching approvers where they are: notifiers (webhook, Slack, e-mail), signed one-click links, deliveries.

A worker's ``Notifications`` listener hears an ask open (``WorkflowMiddleware.ask_opened``), mints
each approver's links (``links.py``), writes each message (``messages.py``) and queues it as a
durable delivery job (``deliveries.py``); the web's ``/links/<token>`` decides through the one
decision path. Nothing here is imported by the engine.
"""
