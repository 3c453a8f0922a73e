"""A hosted back-end shaped like the smart-parking platform's API, licensed by Licet.

It serves many tenants (parking operators). For each request it asks Licet:

- whether the caller's API key may make one more request (Licet's rate-limit decision,
  `api_rate_per_minute` of the tenant's tier), passing Licet's RateLimit fields on;
- for a new parking space, for one unit of `max_spaces` (an atomic claim: two
  concurrent creations of the last space cannot both succeed), given back when the
  space is deleted;
- for flags and limits, through the stock OpenFeature SDK with the OFREP provider
  against Licet's server (`analytics` gates the occupancy report).

Configuration (environment):

- LICET_URL: the Licet server, e.g. http://127.0.0.1:8470
- LICET_TENANT_KEYS: JSON object, tenant id -> that tenant's Licet API key (scope
  subscriptions:write, which includes subscriptions:read)

Run: uvicorn app:app --port 8000

The platform's own API keys are taken from the X-Api-Key header as they come; a real
platform authenticates them first and passes the key's id as the rate-limit subject.
Spaces live in memory: this example is about licensing, not storage.
"""

import json
import os
import uuid

import httpx
from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from openfeature import api as openfeature
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext

LICET_URL = os.environ["LICET_URL"].rstrip("/")
TENANT_KEYS: dict[str, str] = json.loads(os.environ["LICET_TENANT_KEYS"])

app = FastAPI(title="Parking platform (Licet example)")
licet = httpx.Client(base_url=LICET_URL, timeout=5.0)
spaces: dict[str, dict[str, dict]] = {}

# One OpenFeature provider per tenant (an OpenFeature domain named after the tenant),
# each sending that tenant's own key; the context's targetingKey names the tenant.
for _tenant, _key in TENANT_KEYS.items():
    openfeature.set_provider(
        OFREPProvider(LICET_URL, headers_factory=lambda key=_key: {"Authorization": f"Bearer {key}"}),
        domain=_tenant,
    )


def licet_key(tenant: str) -> str:
    key = TENANT_KEYS.get(tenant)
    if key is None:
        raise HTTPException(status_code=404, detail=f"no tenant {tenant}")
    return key


RATE_FIELDS = ("ratelimit-policy", "ratelimit", "retry-after")


@app.middleware("http")
async def rate_limit(request: Request, call_next):
    """Every tenant route counts against the tenant's API rate, per API key."""
    parts = request.url.path.strip("/").split("/")
    if len(parts) < 2 or parts[0] != "tenants":
        return await call_next(request)
    tenant = parts[1]
    if tenant not in TENANT_KEYS:
        return JSONResponse({"detail": f"no tenant {tenant}"}, status_code=404)
    subject = request.headers.get("x-api-key")
    if not subject:
        return JSONResponse({"detail": "send your API key in X-Api-Key"}, status_code=401)
    decision = licet.post(
        f"/v1/tenants/{tenant}/rate-limit",
        headers={"Authorization": f"Bearer {TENANT_KEYS[tenant]}"},
        json={"limit": "api_rate_per_minute", "subject": subject},
    )
    passed = {k: v for k, v in decision.headers.items() if k.lower() in RATE_FIELDS}
    if decision.status_code == 429:
        return JSONResponse(
            {"detail": decision.json()["error"]["message"]}, status_code=429, headers=passed
        )
    if decision.status_code != 200:
        # Licet said no for another reason (a suspended subscription): so do we.
        error = decision.json()["error"]
        return JSONResponse({"detail": error["message"]}, status_code=403)
    response = await call_next(request)
    response.headers.update(passed)
    return response


@app.post("/tenants/{tenant}/spaces", status_code=201)
def create_space(tenant: str, body: dict, x_api_key: str = Header()):
    space_id = body.get("id") or f"space-{uuid.uuid4().hex[:8]}"
    claimed = licet.post(
        f"/v1/tenants/{tenant}/claims",
        headers={"Authorization": f"Bearer {licet_key(tenant)}"},
        json={"limit": "max_spaces", "resource": space_id},
    )
    if claimed.status_code == 409:
        error = claimed.json()["error"]
        raise HTTPException(status_code=403, detail={"code": error["code"], "message": error["message"]})
    claimed.raise_for_status()
    space = {"id": space_id, "name": body.get("name", space_id)}
    spaces.setdefault(tenant, {})[space_id] = space
    return space


@app.get("/tenants/{tenant}/spaces")
def list_spaces(tenant: str, x_api_key: str = Header()):
    return {"spaces": sorted(spaces.get(tenant, {}).values(), key=lambda s: s["id"])}


@app.delete("/tenants/{tenant}/spaces/{space_id}", status_code=204)
def delete_space(tenant: str, space_id: str, x_api_key: str = Header()):
    if spaces.get(tenant, {}).pop(space_id, None) is None:
        raise HTTPException(status_code=404, detail=f"no space {space_id}")
    released = licet.delete(
        f"/v1/tenants/{tenant}/claims/max_spaces/{space_id}",
        headers={"Authorization": f"Bearer {licet_key(tenant)}"},
    )
    released.raise_for_status()


@app.get("/tenants/{tenant}/analytics/occupancy")
def occupancy(tenant: str, x_api_key: str = Header()):
    flags = openfeature.get_client(domain=tenant)
    context = EvaluationContext(targeting_key=tenant)
    if not flags.get_boolean_value("analytics", False, context):
        raise HTTPException(status_code=403, detail="analytics is not in your plan")
    limit = flags.get_integer_value("max_spaces", 0, context)
    used = len(spaces.get(tenant, {}))
    return {"spaces": used, "max_spaces": limit, "occupancy": used / limit if limit else 0}
