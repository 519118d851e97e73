// Hive Gateway (the MIT-licensed federation gateway, as a library) in front of a composed
// supergraph. It passes the caller's Authorization to the hub only (the other subgraph needs
// none) and sends its operations to the hub as automatic persisted queries (the hub stores
// what it validated; the ratings subgraph takes plain documents).
// GET /__sent lists what it sent each subgraph (query or hash only, Authorization or not).
// Usage: node gateway.mjs PORT SUPERGRAPH_FILE   (ready when GET /readiness answers 200)
import { createGatewayRuntime } from "@graphql-hive/gateway-runtime";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";

const [port, supergraphFile] = process.argv.slice(2);
const sent = [];

// On every fetch, not with `propagateHeaders`: that sets the header on the first fetch of an
// operation only, and the APQ retry (hash + query, after PERSISTED_QUERY_NOT_FOUND) went out
// without it (gateway-runtime 2.12.1), so the hub saw an anonymous caller.
const forwardAuthorization = {
  onFetch({ executionRequest, options }) {
    const authorization = executionRequest?.context?.request?.headers.get("authorization");
    if (executionRequest?.subgraphName === "hub" && authorization) {
      options.headers ||= {};
      options.headers.authorization = authorization;
    }
  },
};

const recordUpstream = {
  onFetch({ url, options }) {
    const body = typeof options.body === "string" ? JSON.parse(options.body) : {};
    const headers = new Headers(options.headers);
    sent.push({
      url: String(url),
      query: typeof body.query === "string" ? body.query : null,
      sha256Hash: body.extensions?.persistedQuery?.sha256Hash ?? null,
      authorization: headers.has("authorization"),
    });
  },
};

const gateway = createGatewayRuntime({
  supergraph: readFileSync(supergraphFile, "utf8"),
  transports: { http: await import("@graphql-mesh/transport-http") },
  transportEntries: { hub: { options: { apq: true } } },
  plugins: () => [forwardAuthorization, recordUpstream],
  graphiql: false,
  logging: "error",
});

createServer((request, response) => {
  if (request.url === "/__sent") {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify(sent.splice(0)));
    return;
  }
  gateway(request, response);
}).listen(Number(port), "127.0.0.1");
