"""Sends usage to a Licet server with the CloudEvents Python SDK (PyPI `cloudevents`),
in the SDK's default binary mode and in structured mode, and prints each answer.

Usage: send.py BASE TENANT_ID API_KEY TIME
"""

import json
import sys

import requests
from cloudevents.http import CloudEvent, to_binary, to_structured

base, tenant, key, when = sys.argv[1:5]
url = f"{base}/v1/tenants/{tenant}/usage/events"


def event(event_id, quantity):
    return CloudEvent(
        {
            "type": "api_call",
            "source": "https://backend.example/plates",
            "id": event_id,
            "time": when,
            "subject": "model-a",
        },
        {"quantity": quantity, "unit": "call"},
    )


def send(headers, body):
    # As the SDK's documentation sends them: `requests.post(url, data=body, headers=headers)`.
    headers = dict(headers)
    headers["Authorization"] = f"Bearer {key}"
    response = requests.post(url, data=body, headers=headers, timeout=10)
    return response.status_code, response.json()


answers = {}
# The SDK's default: binary mode (attributes in ce-* headers, the data as the body).
answers["binary"] = send(*to_binary(event("evt-binary-1", 3)))
answers["binary_replayed"] = send(*to_binary(event("evt-binary-1", 3)))
answers["structured"] = send(*to_structured(event("evt-structured-1", 4)))
print(json.dumps(answers))
