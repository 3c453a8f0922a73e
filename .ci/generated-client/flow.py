"""The device and tenant flow, run with a Python client generated from the server's
/openapi.json by openapi-python-client (nothing hand-written talks HTTP here): tenant →
subscription → activation → refresh → heartbeat → usage upload → quotas → invoice
preview. Every answer is checked as a typed model, so a schema that does not match the
wire fails here.

Usage: flow.py <server URL> <admin token> <device public key> <fingerprint>
"""

import datetime
import sys

from licet_server_api_client import AuthenticatedClient, Client
from licet_server_api_client.api.devices import activate, heartbeat, refresh
from licet_server_api_client.api.invoices import preview
from licet_server_api_client.api.subscriptions import create_subscription
from licet_server_api_client.api.tenants import create_tenant
from licet_server_api_client.api.usage import quotas, upload
from licet_server_api_client.models import (
    ActivationRequest,
    ActivationResponse,
    HeartbeatRequest,
    HeartbeatResponse,
    QuotaStatusList,
    RefreshRequest,
    RefreshResponse,
    SubscriptionCreate,
    SubscriptionView,
    TenantCreate,
    TenantInvoices,
    TenantView,
    UsageUpload,
    UsageUploadEvent,
    UsageUploadResult,
)


def expect(response, status, model):
    """The answer has `status` and parsed as `model`."""
    assert response.status_code == status, (response.status_code, response.content)
    assert isinstance(response.parsed, model), (type(response.parsed), response.content)
    return response.parsed


def main(base, admin_token, device_public_key, fingerprint):
    admin = AuthenticatedClient(base_url=base, token=admin_token, raise_on_unexpected_status=True)
    anonymous = Client(base_url=base, raise_on_unexpected_status=True)

    tenant = expect(
        create_tenant.sync_detailed(client=admin, body=TenantCreate(name="Generated client")),
        201,
        TenantView,
    )
    subscription = expect(
        create_subscription.sync_detailed(
            tenant.id,
            client=admin,
            body=SubscriptionCreate(product_id="brinkbyte-vision", plan="base"),
        ),
        201,
        SubscriptionView,
    )
    assert subscription.license_key, "a new subscription shows its license key once"

    activated = expect(
        activate.sync_detailed(
            client=anonymous,
            body=ActivationRequest(
                license_key=subscription.license_key,
                fingerprint=fingerprint,
                device_public_key=device_public_key,
                name="generated-client box",
            ),
        ),
        201,
        ActivationResponse,
    )
    assert activated.license_.startswith("-----BEGIN LICET LICENSE-----"), activated.license_[:40]
    device = AuthenticatedClient(
        base_url=base, token=activated.device_token, raise_on_unexpected_status=True
    )

    refreshed = expect(
        refresh.sync_detailed(activated.device_id, client=device, body=RefreshRequest(sequence=1)),
        200,
        RefreshResponse,
    )
    # Above the sequence the device holds (1, its activation license).
    assert refreshed.sequence == 2, refreshed.sequence

    beat = expect(
        heartbeat.sync_detailed(
            activated.device_id,
            client=device,
            body=HeartbeatRequest(agent_version="generated", active_cameras=["cam-1"]),
        ),
        200,
        HeartbeatResponse,
    )
    assert beat.next_heartbeat_in_seconds > 0

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    uploaded = expect(
        upload.sync_detailed(
            activated.device_id,
            client=device,
            body=UsageUpload(
                events=[UsageUploadEvent(sequence=1, type_="api_call", quantity=7, time=now)]
            ),
        ),
        200,
        UsageUploadResult,
    )
    assert uploaded.acknowledged_through == 1, uploaded.to_dict()
    assert not uploaded.rejected, uploaded.to_dict()

    status = expect(quotas.sync_detailed(tenant.id, client=admin), 200, QuotaStatusList)
    api_calls = [q for q in status.quotas if q.feature == "api_calls"]
    assert len(api_calls) == 1 and api_calls[0].used == 7, status.to_dict()

    month = now[:7]
    invoices = expect(
        preview.sync_detailed(tenant.id, client=admin, period=month), 200, TenantInvoices
    )
    assert len(invoices.invoices) == 1, invoices.to_dict()
    print(
        f"generated client: tenant {tenant.id}, device {activated.device_id}, "
        f"{api_calls[0].used} api calls, invoice preview for {month} with "
        f"{len(invoices.invoices[0].lines)} lines"
    )


if __name__ == "__main__":
    main(*sys.argv[1:5])
