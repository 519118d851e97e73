// A second subgraph beside the hub: course ratings, owned by another team. It extends the
// hub's Course entity with `rating`, and its own `featuredCourses` returns Course references
// the gateway completes from the hub. GET /stats counts the `_entities` calls it answered.
// Usage: node ratings-subgraph.mjs PORT COURSE_ID,COURSE_ID,…
import { buildSubgraphSchema } from "@apollo/subgraph";
import { parse } from "graphql";
import { createYoga } from "graphql-yoga";
import { createHash } from "node:crypto";
import { createServer } from "node:http";

const [port, featured = ""] = process.argv.slice(2);
const stats = { entityCalls: 0, representations: 0 };

const typeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])

  "A course of the hub's youth center, as the ratings team sees it."
  type Course @key(fields: "id") {
    id: ID!
    rating: CourseRating
  }

  "What families said about a course."
  type CourseRating {
    stars: Float!
    reviews: Int!
  }

  type Query {
    "Courses the ratings team features this week (references; the hub has the rest)."
    featuredCourses: [Course!]!
  }
`);

function ratingOf(id) {
  const digest = createHash("sha256").update(id).digest();
  return { stars: 3 + (digest[0] % 21) / 10, reviews: digest[1] };
}

const resolvers = {
  Query: {
    featuredCourses: () => featured.split(",").filter(Boolean).map((id) => ({ id })),
  },
  Course: {
    __resolveReference: ({ id }) => ({ id }),
    rating: ({ id }) => ratingOf(id),
  },
};

const yoga = createYoga({
  schema: buildSubgraphSchema([{ typeDefs, resolvers }]),
  graphiql: false,
  plugins: [
    {
      onExecute({ args }) {
        const variables = args.variableValues ?? {};
        if (Array.isArray(variables.representations)) {
          stats.entityCalls += 1;
          stats.representations += variables.representations.length;
        }
      },
    },
  ],
});

createServer((request, response) => {
  if (request.url === "/stats") {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify(stats));
    return;
  }
  yoga(request, response);
}).listen(Number(port), "127.0.0.1");
