"""Consul's maintenance-mode check IDs and notes: written by the agent's local state, read by
the API (a service in maintenance aggregates to "maintenance"), so they live outside both."""

NODE_MAINT = "_node_maintenance"
SERVICE_MAINT_PREFIX = "_service_maintenance:"
MAINT_DEFAULT_NOTE = "Maintenance mode is enabled for this node, but no reason was provided. This is a default message."
SVC_MAINT_DEFAULT_NOTE = "Maintenance mode is enabled for this service, but no reason was provided. This is a default message."
