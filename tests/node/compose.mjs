// Compose the hub with other subgraphs the way a platform team would: read each subgraph's
// SDL from `_service { sdl }`, then compose with BOTH Apollo's composition and The Guild's
// (Hive's); each must accept it. Writes The Guild's supergraph to OUT (the gateway's input).
// Usage: node compose.mjs OUT name=http://host:port/graphql …  → prints one JSON object.
import { composeServices as composeApollo } from "@apollo/composition";
import { composeServices as composeGuild } from "@theguild/federation-composition";
import { parse } from "graphql";
import { writeFileSync } from "node:fs";

const [out, ...named] = process.argv.slice(2);

async function sdlOf(url) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ query: "{ _service { sdl } }" }),
  });
  const body = await response.json();
  if (!body.data?._service?.sdl) throw new Error(`${url}: no SDL: ${JSON.stringify(body)}`);
  return body.data._service.sdl;
}

const services = [];
for (const entry of named) {
  const [name, url] = entry.split(/=(.*)/s);
  services.push({ name, url, typeDefs: parse(await sdlOf(url)) });
}

const apollo = composeApollo(services);
const guild = composeGuild(services);
if (guild.supergraphSdl) writeFileSync(out, guild.supergraphSdl);
const messages = (errors) => (errors ?? []).map((e) => e.message);
console.log(
  JSON.stringify({
    apollo: { errors: messages(apollo.errors), supergraph: Boolean(apollo.supergraphSdl) },
    guild: { errors: messages(guild.errors), supergraph: Boolean(guild.supergraphSdl) },
  }),
);
