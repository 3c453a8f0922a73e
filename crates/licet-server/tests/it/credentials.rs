//! Credentials an operator can manage: API keys are listed and revoked (refused at
//! once), and the admin token is rotated (the old one refused at once).

use crate::support::TestServer;
use licet_client::Client;
use licet_client::wire::{AdminTokenRotated, ApiKeyCreate, ApiKeyView};

async fn keys_are_listed_and_revoked_at_once(server: &TestServer) {
    let (tenant, _) = server.tenant_with("brinkbyte-vision", "base").await;
    let create = |scopes: &[&str]| ApiKeyCreate {
        tenant_id: tenant.id.clone(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        expires_in_days: None,
    };
    let leaked = server
        .admin
        .create_api_key(&create(&["usage:read"]))
        .await
        .unwrap();
    let kept = server
        .admin
        .create_api_key(&create(&["usage:read"]))
        .await
        .unwrap();
    let as_key = |key: &str| Client::new(&server.base).with_token(key);
    as_key(&leaked.key).quotas(&tenant.id).await.unwrap();

    let list = |token: String| {
        let http = server.http();
        let url = format!("{}/v1/tenants/{}/api-keys", server.base, tenant.id);
        async move {
            let response = http.get(url).bearer_auth(token).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let (status, body) = list(server.admin_token.clone()).await;
    assert_eq!(status, 200, "{body}");
    let listed: Vec<ApiKeyView> = serde_json::from_str(&body).unwrap();
    assert_eq!(listed.len(), 2);
    assert!(
        !body.contains(&leaked.key[20..]),
        "no secret is ever listed"
    );
    let (status, _) = list(kept.key.clone()).await;
    assert_eq!(status, 403, "listing keys is the admin's");

    // The holder of a leaked key revokes it; it is refused on the next request.
    let revoke = |token: String, id: String| {
        let http = server.http();
        let url = format!("{}/v1/api-keys/{id}", server.base);
        async move {
            http.delete(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        revoke(kept.key.clone(), leaked.id.clone()).await,
        404,
        "a key cannot revoke another key"
    );
    assert_eq!(revoke(leaked.key.clone(), leaked.id.clone()).await, 204);
    let refused = as_key(&leaked.key).quotas(&tenant.id).await.unwrap_err();
    assert_eq!(refused.code(), Some("unauthorized"), "{refused}");
    as_key(&kept.key).quotas(&tenant.id).await.unwrap();
    // The admin revokes any key; twice is 404.
    assert_eq!(
        revoke(server.admin_token.clone(), kept.id.clone()).await,
        204
    );
    assert_eq!(
        revoke(server.admin_token.clone(), kept.id.clone()).await,
        404
    );
    assert!(as_key(&kept.key).quotas(&tenant.id).await.is_err());
    let (_, body) = list(server.admin_token.clone()).await;
    let listed: Vec<ApiKeyView> = serde_json::from_str(&body).unwrap();
    assert!(listed.iter().all(|k| k.revoked_at.is_some()), "{listed:?}");
}

async fn the_admin_token_rotates(server: &TestServer) {
    let response = server
        .http()
        .post(format!("{}/v1/admin-token/rotate", server.base))
        .bearer_auth(&server.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let rotated: AdminTokenRotated = response.json().await.unwrap();
    let old = server
        .admin
        .create_tenant("after rotation")
        .await
        .unwrap_err();
    assert_eq!(old.code(), Some("unauthorized"), "{old}");
    Client::new(&server.base)
        .with_token(&rotated.token)
        .create_tenant("after rotation")
        .await
        .unwrap();
}

crate::on_both!(keys_are_listed_and_revoked_at_once, the_admin_token_rotates);
