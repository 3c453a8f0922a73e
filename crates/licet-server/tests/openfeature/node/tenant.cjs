// Evaluates a hosted tenant's flags and limits on a Licet server with the stock
// OpenFeature server SDK and OFREP provider from npm, authenticated by the tenant's
// API key.
//
// Usage: NODE_PATH=<dir>/node_modules node tenant.cjs SERVER_BASE_URL API_KEY TENANT_ID
// Prints one JSON object.

const { OpenFeature } = require("@openfeature/server-sdk");
const { OFREPProvider } = require("@openfeature/ofrep-provider");

function details(result) {
  return {
    value: result.value,
    reason: result.reason ?? null,
    error_code: result.errorCode ?? null,
  };
}

async function main() {
  const [base, key, tenant] = process.argv.slice(2);
  await OpenFeature.setProviderAndWait(
    new OFREPProvider({
      baseUrl: base,
      headersFactory: () => [["Authorization", `Bearer ${key}`]],
    }),
  );
  const client = OpenFeature.getClient();
  const context = { targetingKey: tenant };
  const out = {
    analytics: details(await client.getBooleanDetails("analytics", true, context)),
    max_spaces: details(await client.getNumberDetails("max_spaces", 0, context)),
    custom_branding: details(await client.getBooleanDetails("custom_branding", true, context)),
    teleport: details(await client.getBooleanDetails("teleport", false, context)),
  };
  console.log(JSON.stringify(out));
  await OpenFeature.close();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
