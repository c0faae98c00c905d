"""Live notifications: typed events, an in-process hub, and the sinks that deliver them.

The :class:`~vigil.notify.watcher.EventWatcher` picks committed alerts, crowd samples and camera
status changes up from the system of record and the running system and publishes them on a
:class:`~vigil.notify.hub.Hub`; the hub fans them out to WebSocket subscribers (filtered by role
and camera), :class:`~vigil.notify.webhooks.WebhookSender` (HMAC-signed POSTs) and
:class:`~vigil.notify.mqtt.MqttPublisher` (topics under ``vigil/<camera>/...``).
"""
