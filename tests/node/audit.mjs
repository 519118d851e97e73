// The GraphQL-over-HTTP conformance audit (graphql-http's serverAudits) against the hub.
// Usage: node audit.mjs http://127.0.0.1:PORT/graphql → prints JSON [{id, name, status, reason}].
// Every request carries GraphQL-Require-Preflight, as any real client of the hub does: the
// hub's CSRF rule (not part of the spec) would otherwise refuse the audit's GET requests.
import { auditServer } from "graphql-http";

const url = process.argv[2];
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set("GraphQL-Require-Preflight", "1");
  return fetch(input, { ...init, headers });
};
const results = await auditServer({ url, fetchFn });
console.log(
  JSON.stringify(
    results.map((r) => ({ id: r.id, name: r.name, status: r.status, reason: r.reason ?? null })),
  ),
);
