"""Evaluates a hosted tenant's flags and limits on a Licet server with the stock
OpenFeature OFREP provider, authenticated by the tenant's API key.

Usage: tenant.py SERVER_BASE_URL API_KEY TENANT_ID — prints one JSON object.
"""

import json
import sys

from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.contrib.provider.ofrep import OFREPProvider


def details(result):
    return {
        "value": result.value,
        "reason": str(result.reason) if result.reason else None,
        "error_code": result.error_code.value if result.error_code else None,
    }


def main():
    base, key, tenant = sys.argv[1], sys.argv[2], sys.argv[3]
    api.set_provider(
        OFREPProvider(base, headers_factory=lambda: {"Authorization": f"Bearer {key}"})
    )
    client = api.get_client()
    context = EvaluationContext(targeting_key=tenant)
    out = {
        "analytics": details(client.get_boolean_details("analytics", True, context)),
        "max_spaces": details(client.get_integer_details("max_spaces", 0, context)),
        "custom_branding": details(client.get_boolean_details("custom_branding", True, context)),
        "teleport": details(client.get_boolean_details("teleport", False, context)),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
