// Every JSON answer of the server written by stringifyJson (db/json.ts): a
// number a double cannot hold — a row's bigint over 2^53, a numeric of more
// than 15 digits, read from the engine store as a JsonNumber — is the JSON
// number with the same digits, where Hono's c.json (JSON.stringify) would
// write it as a string. One middleware for the routes, the error handler and
// the 404 alike: each answers through the request's own c.json.
import type { Context, MiddlewareHandler } from 'hono';
import { stringifyJson } from '../db/json.js';

export const exactJsonAnswers: MiddlewareHandler = async (c, next) => {
  // As Hono's own json(): `arg` a status or a ResponseInit, and a JSON
  // Content-Type unless the caller's headers set one.
  const json = (
    object: unknown,
    arg?: never,
    headers?: Record<string, string | string[]>,
  ): Response =>
    c.body(stringifyJson(object), arg, { 'content-type': 'application/json', ...headers });
  c.json = json as Context['json'];
  await next();
};
