"""Errors a handler raises to send a status code with Consul's message."""

from __future__ import annotations


class HTTPError(Exception):
    def __init__(self, status: int, message: str, content_type: str = "text/plain; charset=utf-8") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.content_type = content_type


def not_found(message: str = "") -> HTTPError:
    return HTTPError(404, message)
