"""Evaluates Licet entitlements with the stock OpenFeature OFREP provider.

Usage: evaluate.py AGENT_BASE_URL — prints one JSON object with each flag's details.
"""

import json
import sys

from openfeature import api
from openfeature.contrib.provider.ofrep import OFREPProvider


def details(result):
    return {
        "value": result.value,
        "reason": str(result.reason) if result.reason else None,
        "variant": result.variant,
        "error_code": result.error_code.value if result.error_code else None,
    }


def main():
    api.set_provider(OFREPProvider(sys.argv[1]))
    client = api.get_client()
    out = {
        "vehicle.color": details(client.get_boolean_details("vehicle.color", False)),
        "vehicle.make": details(client.get_boolean_details("vehicle.make", True)),
        "max_cameras": details(client.get_integer_details("max_cameras", 0)),
        "teleport": details(client.get_boolean_details("teleport", False)),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
