/**
 * The HTTP benchmark's design floor for start-up and idle memory: the users
 * service's two required libraries and nothing of ours. A Hono app on
 * `Deno.serve` answers `GET /users/:user_id` with a user invented by
 * `@faker-js/faker`'s English locale (name, e-mail, address, a paragraph),
 * as a cache miss does; no cache, no console, no metrics, no leak alarm.
 *
 * What the users service costs above this floor is what our code adds; what
 * the floor costs above an empty `Deno.serve` is the price of Hono and faker.
 *
 * Run: deno run --allow-net=127.0.0.1 bench/floor_server.ts --port 8000
 *
 * @module
 */

import { faker } from "@faker-js/faker/locale/en";
import { Hono } from "hono";

const portAt = Deno.args.indexOf("--port");
const port = portAt === -1 ? 0 : Number(Deno.args[portAt + 1]);
const app = new Hono();
app.get("/users/:user_id", (c) => {
  const firstName = faker.person.firstName();
  const lastName = faker.person.lastName();
  return c.json({
    user_id: c.req.param("user_id"),
    name: `${firstName} ${lastName}`,
    email: faker.internet.email({ firstName, lastName }),
    address: `${faker.location.streetAddress()}\n${faker.location.city()}, ${
      faker.location.state({ abbreviated: true })
    } ${faker.location.zipCode()}`,
    desc: faker.lorem.paragraph(),
  });
});

Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen: ({ port }) => console.log(`listening on http://127.0.0.1:${port}/`),
}, app.fetch);
