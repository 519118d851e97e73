// Apollo Client's persisted-query link against the running hub: the not-found → register →
// hash-only round trip, then a fresh client that sends only the hash, over GET.
// Usage: node apq.mjs http://127.0.0.1:PORT/graphql  → prints one JSON object.
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client/core/index.js";
import { createPersistedQueryLink } from "@apollo/client/link/persisted-queries/index.js";
import { createHash } from "node:crypto";

const uri = process.argv[2];
const sent = [];

async function recordingFetch(target, options) {
  const url = new URL(String(target));
  const entry = {
    method: options.method,
    body: options.body ? JSON.parse(options.body) : null,
    params: Object.fromEntries(url.searchParams),
  };
  const response = await fetch(target, options);
  entry.status = response.status;
  entry.answer = await response.clone().json();
  sent.push(entry);
  return response;
}

function client(useGETForHashedQueries) {
  const persisted = createPersistedQueryLink({
    sha256: (text) => createHash("sha256").update(text).digest("hex"),
    useGETForHashedQueries,
  });
  return new ApolloClient({
    cache: new InMemoryCache(),
    link: persisted.concat(new HttpLink({ uri, fetch: recordingFetch })),
  });
}

const query = gql`
  query Categories {
    garbageSorting {
      categories {
        code
        name
      }
    }
  }
`;
const first = await client(false).query({ query });
const second = await client(true).query({ query, fetchPolicy: "network-only" });
console.log(JSON.stringify({ first: first.data, second: second.data, sent }));
